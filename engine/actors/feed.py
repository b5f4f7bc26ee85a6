"""The replay feed: the source of a replay, and the driver of its virtual clock.

It reads recorded (or synthetic) frames already decoded by the venue codec, groups them into batches that
follow the data and the clock (a batch never spans a `batch_ns` window, what the clock has due before a
batch's first event is delivered before it, and a batch is cut before any message the clock has due within
it), moves the clock to each batch's last event, hands the batch to the book in one hop, and
waits until the whole pipeline has handled it.

Where something decides on single events inside a batch (a strategy on every book change, a venue filling
orders that rest on it), a batch also ends before its first such event's time plus the decision horizon (the
smallest order latency): whatever is decided on an event at t reaches anyone at t + horizon at the soonest, so
it falls after the whole batch, and the clock delivers it in its own place. Events nobody decides on (trades,
for a strategy that looks at book changes) do not start that count, so a sparse market travels in as few
steps as the decisions allow, and no result depends on where batches end. Batches therefore never depend on the scheduler's timing,
and the same recording gives the same run.

It also serves what a venue's REST snapshot serves live: a book that asks for a resync (after a gap, a
checksum failure, its own restart) gets the book rebuilt from the recording as it stands at the feed's
position, in the next step. Requests are read only once the pipeline is idle, so they are served at the
same point of the data in every run.

A crash costs the feed one event. Its position is a count of the events it handed over (`delivered`), not a
half-read generator: a restarted feed reopens the recording there, and skips the event that was in hand when
it crashed (a dead letter, as for any actor).
"""
from __future__ import annotations

from typing import Any, Callable

import trio

from engine.messages import MarketBatch, MarketEvent, ResyncRequest, fast_constructor
from engine.runtime import ActorContext, InjectedCrash, InjectedFault, Ports, VirtualClock


_make_batch = fast_constructor(MarketBatch)   # a batch per step: the cheaper constructor of the same object


class ReplayFeed:
    ports = Ports(accepts=(ResyncRequest,), outputs={"market": MarketBatch})

    def __init__(self, source: Any, clock: VirtualClock, batch_ns: int, finished: trio.Event,
                 rebuilder: Any = None, decides: Callable[[MarketEvent], bool] | None = None,
                 horizon_ns: int = 0, pace: Any = None, progress: Callable[[int, int], None] | None = None,
                 stopped: Callable[[], bool] = lambda: False):
        self.source = source            # events(skip=n): a fresh reading (a generator) of the recording from event n
        self.clock = clock
        self.batch_ns = batch_ns
        self.decides = decides          # whether an event may be decided on inside a batch (None: none may)
        self.horizon_ns = horizon_ns    # the soonest a decision can reach anyone: the smallest order latency
        self.finished = finished
        self.rebuilder = rebuilder      # snapshot(instrument, upto, ts_ns): the book rebuilt from the recording
        self.pace = pace                # await pace.reach(ts_ns): holds a batch until its time is due (None: no wait)
        self.progress = progress        # progress(ts_ns, delivered) after each batch (None: nobody watches)
        self.stopped = stopped          # asked before each batch: True ends the recording there, as if its data did
        self.delivered = 0              # events handed to the book, dead letters included
        self.batches = 0
        self.snapshots_served = 0
        self.dead: set[int] = set()     # positions of the events set aside as dead letters

    async def run(self, ctx: ActorContext) -> None:
        ctx.started()
        position = self.delivered
        reading = self.source.events(skip=position)
        try:
            await self._read(ctx, reading, position)
        finally:
            reading.close()   # the recording counts what it read when its reading closes
        self.finished.set()

    async def _read(self, ctx: ActorContext, reading: Any, position: int) -> None:
        clock, batch_ns, dead = self.clock, self.batch_ns, self.dead
        decides, horizon_ns, stopped = self.decides, self.horizon_ns, self.stopped
        crashes = ctx.crashes if ctx.crashes is not None and ctx.crashes.watches(ctx.name) else None
        pending: list[MarketEvent] = []
        window_end = first_ts = last_ts = 0
        cut_at = 0  # the batch ends before this time: its window's end, a message due on the clock, or the horizon
        undecided = True   # no event of the batch may be decided on yet
        for ts, event in reading:
            if position in dead:
                position += 1
                continue
            if pending and ts >= cut_at:
                await self._deliver(ctx, first_ts, last_ts, pending, position, ts)
                pending = []
            if not pending:
                if stopped():
                    break
                due = clock.next_due_ns()  # only a delivery can schedule: read it once per batch
                if due is not None and due < ts:
                    await clock.advance_to(ts - 1)   # what falls due before the batch's first event, first
                    due = clock.next_due_ns()
                first_ts = ts
                window_end = (ts // batch_ns + 1) * batch_ns
                cut_at = window_end if due is None or due > window_end else max(due, ts + 1)
                undecided = True
            if undecided and decides is not None and decides(event):
                undecided = False   # what is decided on it reaches anyone at ts + horizon at the soonest
                cut_at = min(cut_at, ts + max(horizon_ns, 1))
            if crashes is not None:
                try:
                    crashes.on_message(ctx.name)
                except InjectedFault as error:
                    dead.add(position)
                    ctx.dead_letter(event, error)
                    raise
            pending.append(event)
            last_ts = ts
            position += 1
        if pending:
            await self._deliver(ctx, first_ts, last_ts, pending, position, last_ts + 1)
        await clock.advance_to(last_ts)
        await self._serve_requests(ctx)

    async def _deliver(self, ctx: ActorContext, first_ts: int, ts: int, events: list[MarketEvent],
                       position: int, next_ts: int) -> None:
        """Hand the batch of `events` (from `first_ts` to `ts`; the next event is at `next_ts`) to the book and wait
        until it is handled. What the clock has due by its first event goes first; the ticks that ride, due before
        the next event, go with it (delivered once the book has handled it); an observer's delivery due inside it
        (which cuts no window) follows it, once the market up to its time has been handled."""
        if self.pace is not None:
            await self.pace.reach(ts)   # the batch is delivered at its last event's time, paced or not
        clock = self.clock
        await clock.advance_to(ts, delivered_upto_ns=first_ts)
        await ctx.emit_and_settle("market", _make_batch(ts, tuple(events)), clock.quiescence,
                                  lambda: self._handed_over(position), clock.take_riders(next_ts))
        await clock.advance_to(ts)
        await self._serve_requests(ctx)
        if self.progress is not None:
            self.progress(ts, position)

    def _handed_over(self, position: int) -> None:
        """The book has the events before `position`: a restart of the feed, even while the pipeline handles
        them, goes on from there."""
        self.delivered = position
        self.batches += 1

    async def _serve_requests(self, ctx: ActorContext) -> None:
        """Answer the books' resync requests with the book rebuilt from the recording at this position."""
        inbox = ctx.inbox
        if inbox is None or not len(inbox):
            return
        wanted: dict[str, ResyncRequest] = {}
        for msg in inbox.take_waiting():
            if type(msg) is InjectedCrash:
                ctx.crashes.fired(ctx.name)
                raise InjectedFault(f"fault injected into {ctx.name!r} at {msg.due_ns} ns")
            if type(msg) is ResyncRequest:
                wanted.setdefault(msg.instrument, msg)
        if self.rebuilder is None:
            return
        now = self.clock.now_ns()
        snapshots = []
        for instrument in sorted(wanted):
            snapshot = self.rebuilder.snapshot(instrument, self.delivered, now)
            if snapshot is not None:
                snapshots.append(snapshot)
        if snapshots:
            self.snapshots_served += len(snapshots)
            await ctx.emit_and_settle("market", MarketBatch(now, tuple(snapshots)), self.clock.quiescence)
