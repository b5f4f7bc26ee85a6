"""The replay feed: the source of a replay, and the driver of its virtual clock.

It reads recorded (or synthetic) frames already decoded by the venue codec, groups them into batches that
follow the data and the clock (a batch never spans a `batch_ns` window, and is cut before any message the
clock has due), moves the clock to each batch's last event, hands the batch to the book in one hop, and
waits until the whole pipeline has handled it. Batches therefore never depend on the scheduler's timing,
and the same recording gives the same run.

The event source outlives the actor: a restarted feed goes on where its predecessor stopped (the batch the
crashed one held is lost, and the book sees the gap).
"""
from __future__ import annotations

from typing import Iterator

import trio

from engine.messages import MarketBatch, MarketEvent
from engine.runtime import ActorContext, VirtualClock


class ReplayFeed:
    def __init__(self, events: Iterator[tuple[int, MarketEvent]], clock: VirtualClock, batch_ns: int,
                 finished: trio.Event):
        self.events = events
        self.clock = clock
        self.batch_ns = batch_ns
        self.finished = finished
        self.batches = 0

    async def run(self, ctx: ActorContext) -> None:
        ctx.started()
        clock, batch_ns = self.clock, self.batch_ns
        pending: list[MarketEvent] = []
        window_end = last_ts = 0
        cut_at = None  # the batch ends before this time: its window's end, or a message due on the clock
        for ts, event in self.events:
            if pending and ts >= cut_at:
                await self._deliver(ctx, last_ts, pending)
                pending = []
            if not pending:
                window_end = (ts // batch_ns + 1) * batch_ns
                due = clock.next_due_ns()  # only a delivery can schedule: read it once per batch
                cut_at = window_end if due is None or due > window_end else max(due, ts + 1)
            pending.append(event)
            last_ts = ts
        if pending:
            await self._deliver(ctx, last_ts, pending)
        await clock.advance_to(last_ts)
        self.finished.set()

    async def _deliver(self, ctx: ActorContext, ts: int, events: list[MarketEvent]) -> None:
        if ctx.crashes is not None:
            for _ in events:
                ctx.crashes.on_message(ctx.name)
        await self.clock.advance_to(ts)
        await ctx.emit("market", MarketBatch(ts, tuple(events)))
        self.batches += 1
        await self.clock.quiescence.wait_idle()
