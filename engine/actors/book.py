"""The book actor: keeps one exact book per instrument from the feed's batches and publishes views.

Each batch is applied whole; then one view per instrument the batch touched goes out on `views`, so a hop
carries a batch and never a price level. With `every_change` (a strategy that looks at every change or every
trade, or orders that may rest at the venue, which must see every change to fill them as the market did), a
view goes out for each change instead, in the order of the events, and for each trade too where something
decides on trades (`trade_views`: a strategy on trades, orders resting at the venue); the views of one batch
go out as one send. Either way a view, a state change and a resync request carry the time of the event that
caused them, never the batch's. A book whose sync state changes (live, stale after a gap, a
checksum or top-of-book mismatch, or silent for too long) is announced on `status`, and a book that needs
a fresh snapshot asks the feed for one on `resync`: that instrument alone is repaired while the others go on.

It also keeps the run's data-quality checks (`engine.model.data_quality`) on the events it handles anyway, so
they cost no channel hop: per event a few integer compares (time going backwards, a message id not new), per
touch change the crossed, spread and jump checks, and on the clock the silence check. What they find is counted
for the report and raised, rate-limited, as a `DataQualityAlarm` on `alarms` (for the kill switch) and in the
log.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Any

from engine.contracts import BookSync, BookSyncFactory, SyncResult
from engine.messages import (BookSnapshot, BookState, BookStatus, BookView, DataQualityAlarm, DepthDiff, MarketBatch,
                             ResyncRequest, TimerFired, TopOfBook, Trade, fast_constructor)
from engine.model.data_quality import SILENCE_TIMER, DataQualityLimits, DataQualityMonitor
from engine.runtime import Actor, ActorContext, Ports

_STALENESS = "stale"
_make_view = fast_constructor(BookView)  # a view per book change: the cheaper constructor of the same object


class BookStats:
    """Counters that outlive restarts of the book actor, for the run report.

    A restarted book actor starts fresh syncs; what the ones it replaces counted is kept (`adopt`). It also
    keeps, per instrument, how long the book was not live (from the first event it saw until the run's end,
    an outage that is still open at the end included) and the longest single outage, so that a run can tell
    how long a crash or a gap cost.
    """

    def __init__(self) -> None:
        self.syncs: dict[str, BookSync] = {}
        self.views = 0
        self._retired: list[BookSync] = []
        self._down_since: dict[str, int] = {}    # instrument → when its book last stopped being live
        self._first_sync: dict[str, int] = {}    # instrument → when its first sync began, until it is live
        self._not_live_ns: dict[str, int] = {}
        self._longest_ns: dict[str, int] = {}
        self.heard: dict[str, int] = {}          # instrument → when its venue last sent a book event (freshness)
        self.tops: dict[str, list[tuple[int, int, int]]] = {}
        """instrument → (ts_ns, best bid, best ask) each time a book event moved the live touch: the path of the
        book's mids that the execution-quality report reads for arrival prices and markouts."""

    def adopt(self, syncs: dict[str, BookSync]) -> bool:
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

    def saw_touch(self, symbol: str, ts_ns: int, book: Any) -> tuple[int, int, int] | None:
        """The live book of `symbol` took an event at `ts_ns`: keep its touch if both sides stand and it moved,
        and return it (None: it did not move). Per event, not per published view, so that the path is the same
        whatever the replay's batching."""
        bid, ask = book.best_bid(), book.best_ask()
        if not bid or not ask:
            return None
        path = self.tops.setdefault(symbol, [])
        if not path or path[-1][1] != bid[0] or path[-1][2] != ask[0]:
            touch = (ts_ns, bid[0], ask[0])
            path.append(touch)
            return touch
        return None

    def mids_before(self, ts_ns: int) -> dict[str, int]:
        """Twice each instrument's mid as its live book last stood before `ts_ns` (from the touch path; an
        instrument whose book was never live by then has none): what a valuation at `ts_ns` marks to."""
        mids = {}
        for symbol, path in self.tops.items():
            at = bisect_left(path, (ts_ns,))
            if at:
                _, bid, ask = path[at - 1]
                mids[symbol] = bid + ask
        return mids

    def mid_x2(self, symbol: str) -> int | None:
        """Twice the mid of the book as it stands (None unless live with both sides)."""
        sync = self.syncs.get(symbol)
        if sync is None or sync.state is not BookState.LIVE:
            return None
        bid, ask = sync.book.best_bid(), sync.book.best_ask()
        return bid[0] + ask[0] if bid and ask else None

    def as_dict(self) -> dict[str, Any]:
        """Every integrity count the venues' syncs kept (a count a venue has no signal for stays 0), over the run
        and per instrument (`by_instrument`: each instrument's from its own venue's sync)."""
        per: dict[str, dict[str, Any]] = {}
        for sync in [*self._retired, *self.syncs.values()]:
            counts = per.setdefault(sync.instrument, _no_counts())
            _add(counts, {"sequence_gaps": sync.gaps,
                          "checksums_ok": sync.checksums_ok,
                          "checksums_failed": sync.checksums_failed,
                          "top_of_book_checked": sync.tops_checked,
                          "top_of_book_mismatched": sync.top_mismatches,
                          "resyncs": sync.resyncs})
        total = _no_counts()
        for counts in per.values():
            _add(total, counts)
        return {**total, "by_instrument": dict(sorted(per.items()))}


def _no_counts() -> dict[str, Any]:
    return {**dict.fromkeys(("sequence_gaps", "checksums_ok", "checksums_failed", "top_of_book_checked",
                             "top_of_book_mismatched"), 0), "resyncs": {}}


def _add(into: dict[str, Any], counts: dict[str, Any]) -> None:
    """Add `counts` to `into`, resyncs by cause (kept sorted)."""
    for key, value in counts.items():
        if key == "resyncs":
            merged = dict(into["resyncs"])
            for cause, n in value.items():
                merged[cause] = merged.get(cause, 0) + n
            into["resyncs"] = dict(sorted(merged.items()))
        else:
            into[key] += value


class BookActor(Actor):
    """Applies batches to one sync per instrument; asks the feed (`resync`) for a snapshot when a book needs one.

    A request stays outstanding until a snapshot arrives, so a book that buffers many diffs asks once. With
    `stale_after_ns`, a live book that has heard nothing from its venue for that long is dropped as stale
    (cause "stale") and resynced, and a request unanswered for that long is made again: the clock's timer
    checks every half of that time.
    """
    ports = Ports(accepts=(MarketBatch,),
                  outputs={"views": BookView, "status": BookStatus, "resync": ResyncRequest,
                           "alarms": DataQualityAlarm},
                  optional={"alarms": "the kill switch takes data-quality alarms where a run has one; they are "
                                      "counted and reported (report.json `data_quality`) and logged either way",
"status": "whoever trades on the views wires it (the risk gate holds a stale book's "
                                      "orders); a simulated venue serving the views to its clients trades nothing",
                            "resync": "a market whose recording brings its own snapshots (the simulated venue's "
                                      "paced replay) has nobody to ask"})

    def __init__(self, instruments: list[str], depth: int, stats: BookStats, sync_factory: BookSyncFactory,
                 stale_after_ns: int | None = None,
                 every_change: bool = False, trade_views: bool = True, quality: DataQualityMonitor | None = None):
        self.depth = depth
        self.every_change = every_change
        self.trade_views = trade_views     # with every_change: a view for each trade too
        self._views: list[BookView] = []   # the batch's views, sent together as it ends (or at a state change)
        self.stats = stats
        self.syncs = {symbol: sync_factory(symbol) for symbol in instruments}
        self.restarted = stats.adopt(self.syncs)
        self.stale_after_ns = stale_after_ns
        self._states = {symbol: BookState.SYNCING for symbol in instruments}
        self._asked: dict[str, int] = {}  # instrument → when its snapshot was asked for
        self._heard = stats.heard         # instrument → when its venue last sent a book event
        # the run's checks outlive restarts, as `stats` does; without them (a simulated venue serving views, whose
        # events keep the recording's times while its clock is the wall's) silence is not checked
        self._alarms: list[DataQualityAlarm] = []   # the batch's alarms, sent as it ends (`_alarm`)
        self.quality = quality or DataQualityMonitor(instruments, DataQualityLimits(silent_after_ns=0))

    async def start(self, ctx: ActorContext) -> None:
        """Tell downstream the books are not live yet; a restarted book asks at once for fresh snapshots."""
        now = ctx.clock.now_ns()
        for symbol in self.syncs:
            self.quality.book_down(symbol)
            await ctx.emit("status", BookStatus(symbol, now, BookState.SYNCING, "book started"))
            if self.restarted:   # the crash began an outage: it lasts until the book is live again
                self.stats.went(symbol, BookState.SYNCING, now)
                self._asked[symbol] = now
                await ctx.emit("resync", ResyncRequest(symbol, now, "restart"))
            else:
                self.stats.first_sync(symbol, now)
        if self.restarted:
            self._silence_at(ctx, self.quality.rearm(now))
        if self.stale_after_ns:
            self._heard.update(dict.fromkeys(self.syncs, now))
            self._check_staleness_at(ctx, now)

    def _check_staleness_at(self, ctx: ActorContext, now: int) -> None:
        due = now + self.stale_after_ns // 2
        ctx.clock.deliver_at(due, ctx.inbox, TimerFired(_STALENESS, due))

    async def handle(self, batch: list[MarketBatch | TimerFired], ctx: ActorContext) -> None:
        syncs = self.syncs
        applied = SyncResult.APPLIED
        live = BookState.LIVE
        heard = self._heard
        states = self._states
        every_change, trade_views = self.every_change, self.trade_views
        quality = self.quality
        newest, diff_ids, top_ids, trade_ids = quality.newest_ts, quality.diff_ids, quality.top_ids, quality.trade_ids
        touched: dict[str, list[Trade]] = {}  # instrument → its trades in this batch
        last_ts: dict[str, int] = {}          # instrument → the time of its newest event in this batch
        wanted: dict[str, tuple[str, int]] = {}  # instrument → why it needs a snapshot, and since when
        if quality.timer_due is None:
            self._arm_silence(ctx, batch)
        for market in batch:
            if type(market) is TimerFired:
                ts = ctx.clock.now_ns()
                if market.key == SILENCE_TIMER:
                    self._check_silence(ctx, market.due_ns)
                    continue
                self._drop_silent_books(ts, wanted)
                self._check_staleness_at(ctx, ts)
                await self._states_changed(ctx, ts)
                continue
            for event in market.events:
                kind = type(event)
                symbol = event.instrument
                ts = event.ts_ns
                if ts < newest[symbol]:
                    self._alarm(ctx, quality.time_backwards(symbol, ts))
                else:
                    newest[symbol] = ts
                if kind is Trade:
                    if event.trade_id > trade_ids[symbol]:
                        trade_ids[symbol] = event.trade_id
                    else:
                        self._alarm(ctx, quality.duplicate(symbol, ts, "trade", event.trade_id,
                                                                 trade_ids[symbol]))
                    if every_change:
                        if trade_views and syncs[symbol].state is live:
                            self._publish(symbol, ts, (event,))
                        continue
                    trades = touched.get(symbol)
                    if trades is None:
                        trades = touched[symbol] = []
                    trades.append(event)
                    last_ts[symbol] = ts
                    continue
                if kind is DepthDiff:
                    update_id = event.last_id
                    if update_id > diff_ids[symbol]:
                        diff_ids[symbol] = update_id
                    elif update_id >= 0 and (update_id < diff_ids[symbol] or event.prev_last_id != update_id):
                        self._alarm(ctx, quality.duplicate(symbol, ts, "depth diff update", update_id,
                                                                 diff_ids[symbol]))
                    heard[symbol] = ts
                    result = syncs[symbol].on_diff(event)
                    if result is not applied:
                        if result is SyncResult.BUFFERED or result.needs_snapshot:
                            wanted[symbol] = (result.value, ts)
                            if result is SyncResult.CROSSED:
                                self._alarm(ctx, quality.crossed_update(symbol, ts))
                        if syncs[symbol].state is not states[symbol]:
                            await self._state_changed(ctx, symbol, ts)
                        continue
                elif kind is TopOfBook:
                    update_id = event.update_id
                    if update_id > top_ids[symbol]:
                        top_ids[symbol] = update_id
                    elif update_id >= 0:
                        self._alarm(ctx, quality.duplicate(symbol, ts, "top of book update", update_id,
                                                                 top_ids[symbol]))
                    if event.bid_price >= event.ask_price:
                        self._alarm(ctx, quality.crossed_top(symbol, ts, event.bid_price, event.ask_price))
                    if syncs[symbol].check_top(event) is False:
                        wanted[symbol] = (SyncResult.TOP_MISMATCH.value, ts)
                        await self._state_changed(ctx, symbol, ts)
                    continue
                elif kind is BookSnapshot:
                    quality.snapshot(symbol)
                    heard[symbol] = ts
                    result = syncs[symbol].on_snapshot(event)
                    self._asked.pop(symbol, None)
                    if result.needs_snapshot:
                        wanted[symbol] = (result.value, ts)
                        if result is SyncResult.CROSSED:
                            self._alarm(ctx, quality.crossed_update(symbol, ts))
                else:
                    continue
                sync = syncs[symbol]
                if sync.state is not states[symbol]:
                    await self._state_changed(ctx, symbol, ts)
                if sync.state is live:
                    moved = self.stats.saw_touch(symbol, ts, sync.book)
                    if moved is not None:
                        alarms = quality.touch(symbol, ts, moved[1], moved[2])
                        if alarms:
                            for alarm in alarms:
                                self._alarm(ctx, alarm)
                    if every_change:
                        self._publish(symbol, ts, ())
                if not every_change:
                    if symbol not in touched:
                        touched[symbol] = []
                    last_ts[symbol] = ts
        for symbol, trades in touched.items():
            if syncs[symbol].state is live:
                self._publish(symbol, last_ts[symbol], tuple(trades))
        views, self._views = self._views, []
        ctx.emit_on_return("views", views)   # the batch's views, then its resync requests, as the batch ends
        requests = []
        for symbol, (reason, ts) in wanted.items():
            if syncs[symbol].state is not BookState.LIVE and symbol not in self._asked:
                self._asked[symbol] = ts
                requests.append(ResyncRequest(symbol, ts, reason))
        ctx.emit_on_return("resync", requests)
        alarms, self._alarms = self._alarms, []
        ctx.emit_on_return("alarms", alarms)

    def _alarm(self, ctx: ActorContext, alarm: DataQualityAlarm | None) -> None:
        """Raise a data-quality alarm the monitor let through its rate limit: logged now, and sent on `alarms` as the
        batch ends, after its views, so that whoever acts on it has seen the book it was raised on."""
        if alarm is not None:
            ctx.log.warning("data quality: %s %s at %d ns: %s", alarm.instrument, alarm.kind, alarm.ts_ns,
                            alarm.detail)
            self._alarms.append(alarm)

    def _arm_silence(self, ctx: ActorContext, batch: list[MarketBatch | TimerFired]) -> None:
        """Start the silence checks on the clock from the batch's first event (see `DataQualityMonitor.arm`)."""
        for market in batch:
            if type(market) is MarketBatch and market.events:
                self._silence_at(ctx, self.quality.arm(market.events[0].ts_ns))
                return

    def _silence_at(self, ctx: ActorContext, due: int | None) -> None:
        if due is not None:
            ctx.clock.deliver_at(due, ctx.inbox, TimerFired(SILENCE_TIMER, due))

    def _check_silence(self, ctx: ActorContext, due_ns: int) -> None:
        alarms, next_due = self.quality.silent(due_ns)
        self._silence_at(ctx, next_due)
        for alarm in alarms:
            self._alarm(ctx, alarm)

    def _publish(self, symbol: str, ts: int, trades: tuple[Trade, ...]) -> None:
        """The view of `symbol`'s book as it stands, as of the event at `ts`: sent with the batch's other views,
        in order, before anything the book sends after them."""
        sync = self.syncs[symbol]
        bids, asks = sync.book.top(self.depth)
        self.stats.views += 1
        self._views.append(_make_view(symbol, ts, sync.last_update_id, bids, asks, trades))

    async def _flush(self, ctx: ActorContext) -> None:
        """Send the views made so far, in order, as one send: a view per change costs its receivers one wake-up
        per batch, not one per change."""
        if self._views:
            views, self._views = self._views, []
            await ctx.emit_many("views", views)

    async def _state_changed(self, ctx: ActorContext, symbol: str, ts: int) -> None:
        """Tell downstream that `symbol`'s book changed state at the event at `ts` (if it did)."""
        state = self.syncs[symbol].state
        if state is not self._states[symbol]:
            await self._flush(ctx)   # the views made before the change go first
            self._states[symbol] = state
            if state is not BookState.LIVE:
                self.quality.book_down(symbol)
            self.stats.went(symbol, state, ts)
            await ctx.emit("status", BookStatus(symbol, ts, state))

    async def _states_changed(self, ctx: ActorContext, ts: int) -> None:
        for symbol in self.syncs:
            await self._state_changed(ctx, symbol, ts)

    def _drop_silent_books(self, now: int, wanted: dict[str, tuple[str, int]]) -> None:
        """Drop the live books whose venue went silent; ask again for snapshots asked too long ago."""
        for symbol, sync in self.syncs.items():
            if sync.state is BookState.LIVE and now - self._heard.get(symbol, now) >= self.stale_after_ns:
                sync.invalidate(_STALENESS)
                wanted[symbol] = (_STALENESS, now)
            elif symbol in self._asked and now - self._asked[symbol] >= self.stale_after_ns:
                del self._asked[symbol]  # the request or its answer was lost: ask again
                wanted[symbol] = ("resync_timeout", now)
