"""The risk gate actor: every signal becomes an approved order or a named rejection here, nowhere else.

It learns mids from book views, exposures from the ledger, book health from the book (all three as latest values
its mailbox keeps, so a restarted gate is handed them again), equity from the portfolio (what sizing risks a share
of), and the kill switch from control; a stale book
blocks new orders for its instrument until the book is live again. Each signal and the decision on it are
journaled before an approved order leaves (`JournaledActor`); a restarted gate counts the orders its run already
approved, so parent ids are never given twice.
"""
from __future__ import annotations

from typing import Any

from engine.actors.journaled import JournaledActor, Staged
from engine.messages import (BookState, BookStatus, BookView, Exposure, KillSwitch, ParentOrder, PortfolioView,
                             QuoteIntent, RiskRejection, Signal)
from engine.model.risk import RiskGate
from engine.runtime import ActorContext, Ports


class RiskActor(JournaledActor):
    ports = Ports(accepts=(Signal, QuoteIntent, BookView, BookStatus, Exposure, PortfolioView, KillSwitch),
                  outputs={"orders": (ParentOrder, QuoteIntent)})

    def __init__(self, journal: Any, gate: RiskGate):
        super().__init__(journal)
        self.gate = gate
        self.stale: set[str] = set()

    async def start(self, ctx: ActorContext) -> None:
        run_id = self.journal.run_id
        entries = await self.journal.read(actors=[ctx.name], kinds=[ParentOrder, QuoteIntent])
        self.gate.approved = sum(1 for entry in entries if entry.run_id == run_id
                                 and (type(entry.msg) is ParentOrder or entry.msg.quote_id))

    def decide(self, msg: Any, ctx: ActorContext, staged: Staged) -> None:
        gate = self.gate
        kind = type(msg)
        if kind is BookView:
            gate.on_mid(msg.instrument, msg.mid_x2, msg.ts_ns)
        elif kind is Signal or kind is QuoteIntent:
            if msg.instrument in self.stale:
                gate.rejections["book_stale"] += 1
                decision = RiskRejection(msg.instrument, msg.ts_ns, "book_stale", "the book is not live")
            else:
                decision = gate.decide(msg) if kind is Signal else gate.decide_quotes(msg)
            now = msg.ts_ns   # the decision's time: the signal's, however the replay batched the market
            staged.rows.append((now, msg))
            if decision is not None:
                staged.rows.append((now, decision))
            if isinstance(decision, (ParentOrder, QuoteIntent)):
                staged.sends.append(("orders", decision))
            elif decision is not None:
                ctx.log.info("rejected %s: %s (%s)", msg.instrument, decision.rule, decision.detail)
        elif kind is Exposure:
            gate.on_exposure(msg)
        elif kind is PortfolioView:
            gate.on_portfolio(msg)
        elif kind is BookStatus:
            if msg.state is BookState.LIVE:
                self.stale.discard(msg.instrument)
            else:
                self.stale.add(msg.instrument)
        elif kind is KillSwitch:
            gate.kill_switch = msg.engaged
            ctx.log.warning("kill switch %s: %s", "engaged" if msg.engaged else "released", msg.reason)
