"""The simulated venue as an in-process actor: the venue's rules and records behind a link with latency.

It sees the replayed book through views and our orders through the order manager's link, and answers
with what the `InProcessVenue` says; both links carry the scenario's latency on the injected clock. Views
arrive as latest values: read with the next order, and waking the venue only while one of our orders rests.
The `InProcessVenue` belongs to the session, as an exchange outlives its clients' crashes: each incarnation of
this actor opens a new order stream and says so, so that the order manager reconciles after a restart.
"""
from __future__ import annotations

from adapters.simulated.inprocess import InProcessVenue, VenueOutput
from engine.messages import VENUE_ANSWERS, VENUE_REQUESTS, BookView
from engine.runtime import Actor, ActorContext, Ports


class SimulatedVenueActor(Actor):
    ports = Ports(accepts=(*VENUE_REQUESTS, BookView), outputs={"reports": VENUE_ANSWERS})

    def __init__(self, venue: InProcessVenue):
        self.venue = venue

    async def start(self, ctx: ActorContext) -> None:
        await self._act_on(self.venue.start(ctx.clock.now_ns()), ctx)

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        venue = self.venue
        now = ctx.clock.now_ns()
        for msg in batch:
            await self._act_on(venue.handle(msg, now), ctx)
        ctx.inbox.watch_state = venue.has_resting_orders

    @staticmethod
    async def _act_on(output: VenueOutput, ctx: ActorContext) -> None:
        for msg in output.send:
            await ctx.emit("reports", msg)
        for later in output.redeliver:
            ctx.clock.deliver_at(later.due_ns, ctx.inbox, later.request)
        if output.withheld:
            ctx.log.info("%d execution reports withheld, as the fault plan says", len(output.withheld))
