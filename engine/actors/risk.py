"""The risk gate actor: every signal becomes an approved order or a named rejection here, nowhere else.

It learns mids from book views, exposures from the order manager, book health from the book, and the kill
switch from control; a stale book blocks new orders for its instrument until the book is live again.
"""
from __future__ import annotations

from engine.messages import BookState, BookStatus, BookView, Exposure, KillSwitch, ParentOrder, RiskRejection, Signal
from engine.model.risk import RiskGate
from engine.runtime import Actor, ActorContext


class RiskActor(Actor):
    def __init__(self, gate: RiskGate):
        self.gate = gate
        self.stale: set[str] = set()

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        gate = self.gate
        for msg in batch:
            kind = type(msg)
            if kind is BookView:
                gate.on_mid(msg.instrument, msg.mid_x2)
            elif kind is Signal:
                if msg.instrument in self.stale:
                    gate.rejections["book_stale"] += 1
                    decision = RiskRejection(msg.instrument, msg.ts_ns, "book_stale", "the book is not live")
                else:
                    decision = gate.decide(msg)
                if isinstance(decision, ParentOrder):
                    await ctx.emit("orders", decision)
                elif decision is not None:
                    ctx.log.info("rejected %s: %s (%s)", msg.instrument, decision.rule, decision.detail)
            elif kind is Exposure:
                gate.on_exposure(msg)
            elif kind is BookStatus:
                if msg.state is BookState.LIVE:
                    self.stale.discard(msg.instrument)
                else:
                    self.stale.add(msg.instrument)
            elif kind is KillSwitch:
                gate.kill_switch = msg.engaged
                ctx.log.warning("kill switch %s: %s", "engaged" if msg.engaged else "released", msg.reason)
