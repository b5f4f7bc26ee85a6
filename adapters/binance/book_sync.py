"""Keeping one Binance order book in step with its feed: the sync state machine of venues.md §1.1.

It exists apart from the book actor so that the rules that decide whether a book can be trusted are pure
code, checked against real captures: the actor only feeds it events and asks for a snapshot when told.

Spot (diffs without `pu`):
  diffs are buffered until a REST snapshot arrives; buffered diffs with `u <= lastUpdateId` are dropped;
  the first remaining one must satisfy `U <= lastUpdateId + 1 <= u`, else the snapshot is too old and
  another is needed (the buffer is kept). Once live, a diff with `u` below the book's id is ignored (one
  with `u` equal to it changes nothing: levels carry absolute quantities), and a diff with
  `U > book_id + 1` is a gap.
Futures (diffs carry `pu`):
  buffered diffs with `u < lastUpdateId` are dropped; the first applied must satisfy
  `U <= lastUpdateId <= u`; after it every diff must have `pu` equal to the previous diff's `u`.

On a gap (or when the first diff after a snapshot does not reach back to it) the book is cleared, the
state becomes STALE, and diffs are buffered again until the next snapshot: never patched.

The venue's own top of book (`bookTicker`) shares the depth update-id space, which makes it an oracle:
where its id equals the book's last applied `u`, best bid and ask (price and quantity) must be equal.
A bookTicker usually arrives before the depth diff with the same `u` (depth is batched every 100 ms), so
one that is ahead of the book is held and compared when the book reaches its id. A mismatch proves the
book wrong: it is dropped and resynchronised like a gap, with its own cause.
"""
from __future__ import annotations

from collections import deque

from adapters.base import BookSyncBase
from engine.contracts import SyncResult
from engine.messages import BookSnapshot, BookState, DepthDiff, TopOfBook

_LIVE = BookState.LIVE


_APPLIED = SyncResult.APPLIED
_IGNORED = SyncResult.IGNORED
_GAP = SyncResult.GAP
_TOP_MISMATCH = SyncResult.TOP_MISMATCH


class BinanceBookSync(BookSyncBase):
    """The book of one instrument and the rules that keep it in step with Binance's depth stream.

    Counters for metrics: `gaps`, `resyncs` (by cause: "gap", "snapshot_too_old", "top_mismatch", or
    whatever `invalidate` was given), `buffer_overflows` (diffs dropped while waiting too long for a
    snapshot), `tops_checked` and `top_mismatches`.
    """

    def __init__(self, instrument: str, *, max_buffered_diffs: int = 10_000, max_pending_tops: int = 1_024):
        super().__init__(instrument)
        self.buffer_overflows = 0
        self._first_after_snapshot = False
        self._buffer: deque[DepthDiff] = deque(maxlen=max_buffered_diffs)
        self._pending_tops: deque[TopOfBook] = deque(maxlen=max_pending_tops)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Load a REST snapshot if it connects to the buffered diffs, then apply those after it."""
        self._check_instrument(snapshot.instrument)
        if self.state is _LIVE:
            return _IGNORED
        snapshot_id = snapshot.last_update_id
        pending = [diff for diff in self._buffer if not _older_than_snapshot(diff, snapshot_id)]
        if pending and not _reaches_back_to(pending[0], snapshot_id):
            self._count_resync("snapshot_too_old")
            return SyncResult.SNAPSHOT_TOO_OLD
        self._buffer.clear()
        self.book.load(snapshot.bids, snapshot.asks)
        self._book_id = snapshot_id
        self._first_after_snapshot = True
        self.state = _LIVE
        if self._pending_tops and self._check_pending_tops() is False:
            self._buffer.extend(pending)
            return _TOP_MISMATCH
        for index, diff in enumerate(pending):
            result = self.on_diff(diff)
            if result is _GAP or result is _TOP_MISMATCH:
                self._buffer.extend(pending[index + 1:])
                return result
        return SyncResult.LOADED

    def on_diff(self, diff: DepthDiff) -> SyncResult:
        """Apply a depth diff to the live book, or buffer it while waiting for a snapshot."""
        if self.state is not _LIVE:
            self._check_instrument(diff.instrument)
            self._buffer_diff(diff)
            return SyncResult.BUFFERED
        if diff.instrument != self.instrument:
            self._check_instrument(diff.instrument)
        book_id = self._book_id
        last_id = diff.last_id
        prev_last_id = diff.prev_last_id
        if prev_last_id < 0:  # spot: ids are contiguous
            if last_id <= book_id:
                return _IGNORED
            connected = diff.first_id <= book_id + 1
        elif self._first_after_snapshot:  # futures, first diff: must span the snapshot's id
            if last_id < book_id:
                return _IGNORED
            connected = diff.first_id <= book_id
        else:  # futures: each diff names the previous diff's u
            if last_id <= book_id:
                return _IGNORED
            connected = prev_last_id == book_id
        if not connected:
            self.invalidate("gap")
            self._buffer_diff(diff)
            return _GAP
        self.book.apply(diff.bids, diff.asks)
        self._book_id = last_id
        self._first_after_snapshot = False
        if self._pending_tops and self._check_pending_tops() is False:
            return _TOP_MISMATCH
        return _APPLIED

    def check_top(self, top: TopOfBook) -> bool | None:
        """Compare the venue's top of book with the book's, if both are at the same update id.

        Returns True/False when they are; None when they are not, in which case a top that is ahead of
        the book is held and compared once the book reaches its id. A mismatch drops the book.
        """
        update_id = top.update_id
        if update_id == self._book_id and self.state is _LIVE:
            return self._compare_top(top)
        if update_id > self._book_id or self.state is not _LIVE:
            self._pending_tops.append(top)
        return None

    def invalidate(self, cause: str) -> None:
        """Drop the book and the diffs buffered for it, and wait for a new snapshot; counted by cause."""
        self._buffer.clear()
        super().invalidate(cause)

    def _check_pending_tops(self) -> bool | None:
        """Compare the held top whose id the book has just reached; forget those it went past."""
        pending = self._pending_tops
        book_id = self._book_id
        while pending and pending[0].update_id < book_id:
            pending.popleft()
        if pending and pending[0].update_id == book_id:
            return self._compare_top(pending.popleft())
        return None

    def _compare_top(self, top: TopOfBook) -> bool:
        self.tops_checked += 1
        book = self.book
        if (book.best_bid() == (top.bid_price, top.bid_qty)
                and book.best_ask() == (top.ask_price, top.ask_qty)):
            return True
        self.top_mismatches += 1
        self._pending_tops.clear()
        self.invalidate("top_mismatch")
        return False

    def _buffer_diff(self, diff: DepthDiff) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.buffer_overflows += 1
        self._buffer.append(diff)

    def _count_resync(self, cause: str) -> None:
        self.resyncs[cause] = self.resyncs.get(cause, 0) + 1


def _older_than_snapshot(diff: DepthDiff, snapshot_id: int) -> bool:
    """Whether a buffered diff is already contained in a snapshot taken at `snapshot_id`."""
    if diff.prev_last_id < 0:
        return diff.last_id <= snapshot_id
    return diff.last_id < snapshot_id


def _reaches_back_to(diff: DepthDiff, snapshot_id: int) -> bool:
    """Whether the first diff after a snapshot starts early enough to continue it without a hole."""
    if diff.prev_last_id < 0:
        return diff.first_id <= snapshot_id + 1
    return diff.first_id <= snapshot_id
