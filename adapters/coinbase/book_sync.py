"""Keeping one Coinbase order book in step with its `level2` channel (venues.md §2.1, §0.4).

It exists apart from the book actor so that the rules that decide whether a book can be trusted are pure
code. The snapshot arrives on the same stream as the updates, so there is nothing to buffer or bracket:
the snapshot (re)starts the book, and each update must continue it.

- Continuity: the connection-wide `sequence_num` is checked by the codec, which links each level-2
  event to the previous one of its product (`prev_last_id`) and breaks every link after a lost frame.
  So here an update continues the book when `prev_last_id` is the book's id, else it is a gap.
  The legacy feed has no sequence (ids all -1) and always continues.
- Crossing: Coinbase sends no checksum, so a crossed book (best bid at or above best ask) is the one
  check of the book's content: a book no venue can hold is dropped as `CROSSED`. A book crossed during
  an opening auction (new listings) is reported the same way: it is not a book to trade on either.

On a gap or a crossed book the book is cleared and STALE, and updates are ignored until the next
snapshot (which the actor obtains by resubscribing to `level2`): never patched.
"""
from __future__ import annotations

from adapters.base import BookSyncBase
from engine.contracts import SyncResult
from engine.messages import BookSnapshot, BookState, DepthDiff

_LIVE = BookState.LIVE


class CoinbaseBookSync(BookSyncBase):
    """The book of one instrument and the rules that keep it in step with Coinbase's `level2` channel.

    Counters for metrics: `resyncs` (by cause: "gap", "crossed", or whatever `invalidate` was given).
    """

    @property
    def last_update_id(self) -> int | None:
        """The `sequence_num` of the last level-2 event in the live book (-1 on the legacy feed), None
        while not live."""
        return self._book_id if self.state is _LIVE else None

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Replace the book with a snapshot, whatever state it was in."""
        self._load(snapshot)
        if self.book.is_crossed():
            self.invalidate("crossed")
            return SyncResult.CROSSED
        return SyncResult.LOADED

    def on_diff(self, diff: DepthDiff) -> SyncResult:
        """Apply an update to the live book if it continues it; ignored while there is no live book."""
        if diff.instrument != self.instrument:
            self._check_instrument(diff.instrument)
        if self.state is not _LIVE:
            return SyncResult.IGNORED
        if diff.prev_last_id != self._book_id:
            self.invalidate("gap")
            return SyncResult.GAP
        book = self.book
        book.apply(diff.bids, diff.asks)
        self._book_id = diff.last_id
        if book.is_crossed():
            self.invalidate("crossed")
            return SyncResult.CROSSED
        return SyncResult.APPLIED
