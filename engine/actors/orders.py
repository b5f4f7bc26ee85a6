"""The order manager actor: the only writer of order state.

Child orders from the router become orders under idempotent client order ids and go to their venue;
execution reports from the venue move the orders' state machines. Every change goes out as an order
update and, for fills, a fill; the exposure of each instrument it touched goes to the risk gate.
The order table is owned by the session and outlives restarts of this actor (a journal will rebuild it).
"""
from __future__ import annotations

from engine.messages import ChildOrder, ExecutionReport
from engine.model.orders import IllegalTransition, OrderTable
from engine.runtime import Actor, ActorContext


class OrderManagerActor(Actor):
    def __init__(self, table: OrderTable, positions: dict[str, int]):
        self.table = table
        self.positions = positions
        self.illegal_reports = 0

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        table = self.table
        touched: dict[str, None] = {}
        for msg in batch:
            if type(msg) is ChildOrder:
                order = table.create(msg)
                touched[order.instrument] = None
                await ctx.emit("updates", order.as_update())
                await ctx.emit("venue", order.new_request())
            elif type(msg) is ExecutionReport:
                order = table.get(msg.client_order_id)
                try:
                    fill = table.apply(msg)
                except IllegalTransition as exc:
                    self.illegal_reports += 1
                    ctx.log.error("report refused: %s", exc)
                    continue
                if order is None:
                    ctx.log.warning("report for unknown order %s", msg.client_order_id)
                    continue
                touched[order.instrument] = None
                if fill is not None:
                    self.positions[fill.instrument] = self.positions.get(fill.instrument, 0) + fill.side.sign * fill.qty
                    await ctx.emit("fills", fill)
                await ctx.emit("updates", order.as_update())
        now = ctx.clock.now_ns()
        for instrument in touched:
            await ctx.emit("exposure", table.exposure(instrument, self.positions.get(instrument, 0), now))
