"""Keeping one Bybit order book in step with its `orderbook.{depth}.{symbol}` topic (venues.md §4.1, §0.4).

It exists apart from the book actor so that the rules that decide whether a book can be trusted are pure
code, checked against Bybit's own order-book dump. The snapshot arrives on the same stream as the deltas,
so there is nothing to buffer or bracket:

- Any snapshot replaces the book, live or not: Bybit re-sends one after trouble on its side, and a
  delta with `u == 1` (a service restart) reaches the sync as a snapshot already (see the codec).
  Depth-1 streams re-send an unchanged snapshot every 3 s; loading it again is harmless.
- A delta must carry the next update id, `u == book's u + 1`. One at or below the book's id is old
  (ignored); one further on is a gap. Bybit does not document gap detection; `u` continuity is common
  practice (3p) and holds on every delta of the recorded dump.

On a gap the book is cleared and STALE and deltas are ignored until the next snapshot (which the actor
obtains by resubscribing): never patched. Bybit sends no checksum, and a crossed book is not checked here
(call auctions of pre-launch contracts may cross).
"""
from __future__ import annotations

from adapters.base import BookSyncBase
from engine.contracts import SyncResult
from engine.messages import BookSnapshot, BookState, DepthDiff

_LIVE = BookState.LIVE


class BybitBookSync(BookSyncBase):
    """The book of one instrument and the rules that keep it in step with Bybit's order-book topic.

    Counters for metrics: `resyncs` (by cause: "gap", or whatever `invalidate` was given).
    """

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Replace the book with a snapshot, whatever state it was in."""
        self._load(snapshot)
        return SyncResult.LOADED

    def on_diff(self, diff: DepthDiff) -> SyncResult:
        """Apply a delta to the live book if it is the next one; ignored while there is no live book."""
        if diff.instrument != self.instrument:
            self._check_instrument(diff.instrument)
        if self.state is not _LIVE or diff.last_id <= self._book_id:
            return SyncResult.IGNORED
        if diff.first_id != self._book_id + 1:
            self.invalidate("gap")
            return SyncResult.GAP
        self.book.apply(diff.bids, diff.asks)
        self._book_id = diff.last_id
        return SyncResult.APPLIED
