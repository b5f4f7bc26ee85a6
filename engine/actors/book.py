"""The book actor: keeps one exact book per instrument from the feed's batches and publishes views.

Each batch is applied whole; then one view per instrument the batch touched goes out on `views`, so a hop
carries a batch and never a price level. A book whose sync state changes (live, stale after a gap, a
checksum or top-of-book mismatch, or silent for too long) is announced on `status`, and a book that needs
a fresh snapshot asks the feed for one on `resync`: that instrument alone is repaired while the others go on.
"""
from __future__ import annotations

from typing import Any, Callable

from adapters.base import SyncResult
from adapters.binance.book_sync import BinanceBookSync
from engine.messages import (BookSnapshot, BookState, BookStatus, BookView, DepthDiff, MarketBatch, ResyncRequest,
                             TimerFired, TopOfBook, Trade)
from engine.runtime import Actor, ActorContext, Ports

_STALENESS = "stale"


class BookStats:
    """Counters that outlive restarts of the book actor, for the run report.

    A restarted book actor starts fresh syncs; what the ones it replaces counted is kept (`adopt`). It also
    keeps, per instrument, how long the book was not live (from the first event it saw until the run's end,
    an outage that is still open at the end included) and the longest single outage, so that a run can tell
    how long a crash or a gap cost.
    """

    def __init__(self) -> None:
        self.syncs: dict[str, Any] = {}
        self.views = 0
        self._retired: list[Any] = []
        self._down_since: dict[str, int] = {}    # instrument → when its book last stopped being live
        self._first_sync: dict[str, int] = {}    # instrument → when its first sync began, until it is live
        self._not_live_ns: dict[str, int] = {}
        self._longest_ns: dict[str, int] = {}

    def adopt(self, syncs: dict[str, Any]) -> bool:
        """Count `syncs` from now on, keeping the counts of those they replace; True if they replace any (a
        restarted book)."""
        replaced = [symbol for symbol in syncs if symbol in self.syncs]
        self._retired.extend(self.syncs[symbol] for symbol in replaced)
        self.syncs.update(syncs)
        return bool(replaced)

    def first_sync(self, symbol: str, ts_ns: int) -> None:
        """The book of `symbol` began its first sync: not an outage, unless it never ends."""
        self._first_sync.setdefault(symbol, ts_ns)

    def went(self, symbol: str, state: BookState, ts_ns: int) -> None:
        """The book of `symbol` changed state at `ts_ns`."""
        if state is BookState.LIVE:
            self._first_sync.pop(symbol, None)
            since = self._down_since.pop(symbol, None)
            if since is not None:
                self._outage(symbol, max(ts_ns - since, 0))
        else:
            self._down_since.setdefault(symbol, ts_ns)

    def liveness(self, end_ns: int) -> dict[str, dict[str, int | bool]]:
        """Per instrument: live at `end_ns`, the time not live in ms, and the longest outage in ms."""
        out = {}
        for symbol in sorted(self.syncs):
            since = self._down_since.get(symbol, self._first_sync.get(symbol))
            total, longest = self._not_live_ns.get(symbol, 0), self._longest_ns.get(symbol, 0)
            if since is not None:
                total += max(end_ns - since, 0)
                longest = max(longest, end_ns - since)
            out[symbol] = {"live_at_end": self.syncs[symbol].state is BookState.LIVE,
                           "not_live_ms": total // 1_000_000, "longest_outage_ms": longest // 1_000_000}
        return out

    def _outage(self, symbol: str, span_ns: int) -> None:
        self._not_live_ns[symbol] = self._not_live_ns.get(symbol, 0) + span_ns
        self._longest_ns[symbol] = max(self._longest_ns.get(symbol, 0), span_ns)

    def mid_x2(self, symbol: str) -> int | None:
        """Twice the mid of the book as it stands (None unless live with both sides)."""
        sync = self.syncs.get(symbol)
        if sync is None or sync.state is not BookState.LIVE:
            return None
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        return bid[0] + ask[0] if bid and ask else None

    def as_dict(self) -> dict[str, int | dict[str, int]]:
        """Every integrity count the venues' syncs kept (a count a venue has no signal for stays 0)."""
        resyncs: dict[str, int] = {}
        counts = dict.fromkeys(("sequence_gaps", "checksums_ok", "checksums_failed", "top_of_book_checked",
                                "top_of_book_mismatched"), 0)
        for sync in [*self._retired, *self.syncs.values()]:
            counts["sequence_gaps"] += sync.gaps
            counts["checksums_ok"] += sync.checksums_ok
            counts["checksums_failed"] += sync.checksums_failed
            counts["top_of_book_checked"] += sync.tops_checked
            counts["top_of_book_mismatched"] += sync.top_mismatches
            for cause, n in sync.resyncs.items():
                resyncs[cause] = resyncs.get(cause, 0) + n
        return {"views": self.views, **counts, "resyncs": dict(sorted(resyncs.items()))}


class BookActor(Actor):
    """Applies batches to one sync per instrument; asks the feed (`resync`) for a snapshot when a book needs one.

    A request stays outstanding until a snapshot arrives, so a book that buffers many diffs asks once. With
    `stale_after_ns`, a live book that has heard nothing from its venue for that long is dropped as stale
    (cause "stale") and resynced, and a request unanswered for that long is made again: the clock's timer
    checks every half of that time.
    """
    ports = Ports(accepts=(MarketBatch,),
                  outputs={"views": BookView, "status": BookStatus, "resync": ResyncRequest},
                  optional={"status": "whoever trades on the views wires it (the risk gate holds a stale book's "
                                      "orders); a simulated venue serving the views to its clients trades nothing",
                            "resync": "a market whose recording brings its own snapshots (the simulated venue's "
                                      "paced replay) has nobody to ask"})

    def __init__(self, instruments: list[str], depth: int, stats: BookStats,
                 sync_factory: Callable[[str], Any] = BinanceBookSync, stale_after_ns: int | None = None):
        self.depth = depth
        self.stats = stats
        self.syncs = {symbol: sync_factory(symbol) for symbol in instruments}
        self.restarted = stats.adopt(self.syncs)
        self.stale_after_ns = stale_after_ns
        self._states = {symbol: BookState.SYNCING for symbol in instruments}
        self._asked: dict[str, int] = {}  # instrument → when its snapshot was asked for
        self._heard: dict[str, int] = {}  # instrument → when its venue last sent a book event

    async def start(self, ctx: ActorContext) -> None:
        """Tell downstream the books are not live yet; a restarted book asks at once for fresh snapshots."""
        now = ctx.clock.now_ns()
        for symbol in self.syncs:
            await ctx.emit("status", BookStatus(symbol, now, BookState.SYNCING, "book started"))
            if self.restarted:   # the crash began an outage: it lasts until the book is live again
                self.stats.went(symbol, BookState.SYNCING, now)
                self._asked[symbol] = now
                await ctx.emit("resync", ResyncRequest(symbol, now, "restart"))
            else:
                self.stats.first_sync(symbol, now)
        if self.stale_after_ns:
            self._heard = dict.fromkeys(self.syncs, now)
            self._check_staleness_at(ctx, now)

    def _check_staleness_at(self, ctx: ActorContext, now: int) -> None:
        due = now + self.stale_after_ns // 2
        ctx.clock.deliver_at(due, ctx.inbox, TimerFired(_STALENESS, due))

    async def handle(self, batch: list[MarketBatch | TimerFired], ctx: ActorContext) -> None:
        syncs = self.syncs
        applied = SyncResult.APPLIED
        heard = self._heard
        touched: dict[str, list[Trade]] = {}  # instrument → its trades in this batch
        wanted: dict[str, str] = {}           # instrument → why it needs a snapshot
        ts = 0
        for market in batch:
            if type(market) is TimerFired:
                ts = ctx.clock.now_ns()
                self._drop_silent_books(ts, wanted)
                self._check_staleness_at(ctx, ts)
                continue
            ts = market.ts_ns
            for event in market.events:
                kind = type(event)
                if kind is Trade:
                    trades = touched.get(event.instrument)
                    if trades is None:
                        trades = touched[event.instrument] = []
                    trades.append(event)
                elif kind is DepthDiff:
                    heard[event.instrument] = ts
                    result = syncs[event.instrument].on_diff(event)
                    if result is applied:
                        if event.instrument not in touched:
                            touched[event.instrument] = []
                    elif result is SyncResult.BUFFERED or result.needs_snapshot:
                        wanted[event.instrument] = result.value
                elif kind is TopOfBook:
                    if syncs[event.instrument].check_top(event) is False:
                        wanted[event.instrument] = SyncResult.TOP_MISMATCH.value
                elif kind is BookSnapshot:
                    heard[event.instrument] = ts
                    result = syncs[event.instrument].on_snapshot(event)
                    self._asked.pop(event.instrument, None)
                    if result.needs_snapshot:
                        wanted[event.instrument] = result.value
                    touched.setdefault(event.instrument, [])
        for symbol, sync in syncs.items():
            if sync.state is not self._states[symbol]:
                self._states[symbol] = sync.state
                self.stats.went(symbol, sync.state, ts)
                await ctx.emit("status", BookStatus(symbol, ts, sync.state))
            if sync.state is not BookState.LIVE and symbol in wanted and symbol not in self._asked:
                self._asked[symbol] = ts
                await ctx.emit("resync", ResyncRequest(symbol, ts, wanted[symbol]))
        for symbol, trades in touched.items():
            sync = syncs[symbol]
            if sync.state is not BookState.LIVE:
                continue
            bids, asks = sync.book.top(self.depth)
            self.stats.views += 1
            await ctx.emit("views", BookView(symbol, ts, sync.last_update_id, bids, asks, tuple(trades)))

    def _drop_silent_books(self, now: int, wanted: dict[str, str]) -> None:
        """Drop the live books whose venue went silent; ask again for snapshots asked too long ago."""
        for symbol, sync in self.syncs.items():
            if sync.state is BookState.LIVE and now - self._heard.get(symbol, now) >= self.stale_after_ns:
                sync.invalidate(_STALENESS)
                wanted[symbol] = _STALENESS
            elif symbol in self._asked and now - self._asked[symbol] >= self.stale_after_ns:
                del self._asked[symbol]  # the request or its answer was lost: ask again
                wanted[symbol] = "resync_timeout"
