"""The simulated venue as an in-process actor: the matching engine behind a link with latency.

It sees the replayed book through views and our orders through the order manager's link, and answers
with execution reports; both links carry the scenario's latency on the injected clock. Views arrive as
latest values: read with the next order, and waking the venue only while one of our orders rests. The matching
engine belongs to the session, as an exchange outlives its clients' crashes.
"""
from __future__ import annotations

from adapters.simulated.matching import CancelRejected, MatchingEngine
from engine.messages import BookView, CancelRequest, NewOrderRequest
from engine.runtime import Actor, ActorContext


class SimulatedVenueActor(Actor):
    def __init__(self, matching: MatchingEngine):
        self.matching = matching

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        matching = self.matching
        now = ctx.clock.now_ns()
        for msg in batch:
            kind = type(msg)
            if kind is BookView:
                reports = matching.on_book(msg)
            elif kind is NewOrderRequest:
                reports = matching.submit(msg, now)
            elif kind is CancelRequest:
                try:
                    reports = matching.cancel(msg, now)
                except CancelRejected as exc:
                    ctx.log.info("cancel rejected: %s", exc)
                    continue
            else:
                continue
            for report in reports:
                await ctx.emit("reports", report)
        ctx.inbox.watch_state = matching.has_resting_orders
