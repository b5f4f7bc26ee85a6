"""The recording's own books, rebuilt on request: how a replay answers a book that asks for a resync.

A live book that loses its way (a gap, a checksum failure, its own restart) gets a REST snapshot from its
venue. A replay has no venue to ask, but it has the recording: the book of an instrument as it stands after
the first `upto` events of the recording is what the venue would have sent. `ShadowBooks` keeps that
book in shadow syncs of its own, fed a reading of the recording apart from the feed's, event for event as
the book actor applies them (snapshots, diffs and their checks). Nothing is read until the first request
(the steady state pays nothing), and each request goes on from where the previous one stopped, so a run
that resyncs many times reads the recording once more in all.

The rebuilt snapshot must be one the venue's own sync takes, followed by the recording's next diffs without
a gap. Most venues' syncs take the book at the id of the last diff it holds (Binance spot `U = id + 1`,
OKX and Coinbase `prev = id`, Bybit `u = id + 1`; Kraken has no ids). Binance futures' does not: the first
diff after a snapshot must span its id (`U <= id <= u`), as a REST snapshot taken while the venue was
in the middle of that diff would. There the snapshot is the book after the instrument's next diff, stamped
with that diff's last id: the sync then takes that diff again, which changes nothing (levels carry
absolute quantities), and the venue's own top of book, which shares those ids, agrees with it. Which of the
two shapes a venue takes is not written down per venue here: a throwaway sync of the venue is asked.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

from engine.contracts import BookSync, BookSyncFactory, SyncResult
from engine.messages import BookSnapshot, BookState, DepthDiff, MarketEvent, TopOfBook
from engine.model.book import OrderBook

LOOKAHEAD_EVENTS = 10_000
"""How far past the requested event the shadow reads for the instrument's next diff (held, not applied)."""


class ShadowBooks:
    """The recording's book of each instrument after any number of its events, as a snapshot on request.

    `open_events` opens a reading of the recording's events numbered as the feed's (e.g.
    `RecordedFeed.independent_events`), `sync_factory(symbol)` makes the venue's book sync of an instrument
    (as the book actor's), `instruments` are the symbols to keep books of.
    """

    def __init__(self, open_events: Callable[[], Iterable[tuple[int, MarketEvent]]],
                 sync_factory: BookSyncFactory, instruments: Iterable[str]):
        self._open_events = open_events
        self._sync_factory = sync_factory
        self._instruments = tuple(instruments)
        self._events: Iterator[tuple[int, MarketEvent]] | None = None
        self._syncs: dict[str, BookSync] = {}
        self._applied = 0  # events of the recording the shadow syncs have been given
        self._asked = 0    # the `upto` of the latest request
        self._ahead: deque[MarketEvent] = deque()  # read past `_applied`, looking for a next diff

    def snapshot(self, instrument: str, upto: int, ts_ns: int) -> BookSnapshot | None:
        """The book of `instrument` after the recording's first `upto` events, full depth, stamped `ts_ns`.

        None when the shadow book is not live there (the recording itself has a gap, or has not yet
        shown the book): a book then waits for the recording's next snapshot. Requests come with
        non-decreasing `upto`; `ValueError` for one that goes back, or for an instrument not kept.
        """
        if instrument not in self._instruments:
            raise ValueError(f"no shadow book of {instrument}; kept: {', '.join(self._instruments)}")
        if upto < self._asked:
            raise ValueError(f"snapshot asked after event {upto}, having been asked after event {self._asked}: "
                             "requests must not go back")
        self._asked = upto
        if self._events is None:
            self._events = iter(self._open_events())
            self._syncs = {symbol: self._sync_factory(symbol) for symbol in self._instruments}
        self._advance(upto)
        sync = self._syncs[instrument]
        if sync.state is not BookState.LIVE:
            return None
        at_last_diff = _snapshot(instrument, ts_ns, sync.last_update_id, sync.book)
        following = self._next_diff(instrument)
        if following is None or self._takes(at_last_diff, following):
            return at_last_diff
        book = OrderBook()
        book.load(at_last_diff.bids, at_last_diff.asks)
        book.apply(following.bids, following.asks)
        after_next_diff = _snapshot(instrument, ts_ns, following.last_id, book)
        return after_next_diff if self._takes(after_next_diff, following) else at_last_diff

    def _advance(self, upto: int) -> None:
        """Give the shadow syncs the recording's events up to the `upto`th (fewer if it ends before)."""
        syncs, ahead, events = self._syncs, self._ahead, self._events
        applied = self._applied
        while applied < upto:
            if ahead:
                event = ahead.popleft()
            else:
                item = next(events, None)
                if item is None:
                    break
                event = item[1]
            applied += 1
            sync = syncs.get(event.instrument)
            if sync is not None:
                apply_event(sync, event)
        self._applied = applied

    def _next_diff(self, instrument: str) -> DepthDiff | None:
        """The instrument's next diff in the recording, read ahead and held; None if its next book event
        is a snapshot (which restarts the book anyway), or none comes within `LOOKAHEAD_EVENTS`."""
        ahead = self._ahead
        for index in range(LOOKAHEAD_EVENTS):
            if index == len(ahead):
                item = next(self._events, None)
                if item is None:
                    return None
                ahead.append(item[1])
            event = ahead[index]
            if event.instrument == instrument:
                kind = type(event)
                if kind is DepthDiff:
                    return event
                if kind is BookSnapshot:
                    return None
        return None

    def _takes(self, snapshot: BookSnapshot, following: DepthDiff) -> bool:
        """Whether a fresh sync of the venue loads `snapshot` and applies `following` right after it."""
        probe = self._sync_factory(snapshot.instrument)
        return probe.on_snapshot(snapshot) is SyncResult.LOADED and probe.on_diff(following) is SyncResult.APPLIED


def apply_event(sync: BookSync, event: MarketEvent) -> SyncResult | bool | None:
    """Give one event to the sync of its instrument's book, as the book actor does: a diff, a snapshot, or
    the venue's top of book to check the book against (a trade does not touch the book). Returns what
    the sync said (None for a trade)."""
    kind = type(event)
    if kind is DepthDiff:
        return sync.on_diff(event)
    if kind is TopOfBook:
        return sync.check_top(event)
    if kind is BookSnapshot:
        return sync.on_snapshot(event)
    return None


def _snapshot(instrument: str, ts_ns: int, update_id: int, book: OrderBook) -> BookSnapshot:
    bids, asks = book.top(max(book.bid_levels, book.ask_levels))
    return BookSnapshot(instrument, ts_ns, update_id, bids, asks)
