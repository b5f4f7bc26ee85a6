"""The risk gate actor: every signal becomes an approved order or a named rejection here, nowhere else.

It learns mids from book views, exposures from the ledger, book health from the book (all three as latest values
its mailbox keeps, so a restarted gate is handed them again), equity from the portfolio (what sizing risks a share
of), and the kill switch's mode from the control actor; a stale book blocks new orders for its instrument until the
book is live again. Where its checks follow cash and round trips, the journal hands it every durable fill (a
restarted gate folds the journal's fills first and counts each fill once, by its seq); the portfolio's view, once
published, stands in for the cash it tracks. Each signal (or a quoting strategy's wanted quotes) and the decision on
it are journaled before an approved order leaves (`JournaledActor`); a restarted gate counts the orders and quotes
its run already approved, so ids are never given twice, and refills its order-rate window.
"""
from __future__ import annotations

from typing import Any

from engine.actors.journaled import JournaledActor, Staged
from engine.messages import (BookState, BookStatus, BookView, Exposure, Fill, JournalEntry, ParentOrder, PortfolioView,
                             QuoteIntent, RiskRejection, Signal, TradingStateChanged)
from engine.model.risk import RiskGate
from engine.runtime import ActorContext, Ports


class RiskActor(JournaledActor):
    ports = Ports(accepts=(Signal, QuoteIntent, BookView, BookStatus, Exposure, TradingStateChanged, JournalEntry,
                           PortfolioView),
                  outputs={"orders": (ParentOrder, QuoteIntent)})

    def __init__(self, journal: Any, gate: RiskGate):
        super().__init__(journal)
        self.gate = gate
        self.stale: set[str] = set()

    async def start(self, ctx: ActorContext) -> None:
        run_id = self.journal.run_id
        entries = await self.journal.read(actors=[ctx.name], kinds=[ParentOrder, QuoteIntent])
        ours = [entry.msg for entry in entries if entry.run_id == run_id
                and (type(entry.msg) is ParentOrder or entry.msg.quote_id)]   # approved quotes carry their id
        self.gate.approved = len(ours)
        checks = self.gate.checks
        for order in ours:   # the order rate window, and what working buys hold
            if type(order) is ParentOrder:
                checks.on_approved(order, self.gate.instruments[order.instrument].venue)
        if checks.limits.needs_fills:
            for entry in await self.journal.read(kinds=[Fill]):
                checks.on_fill(entry.msg, entry.seq)

    def decide(self, msg: Any, ctx: ActorContext, staged: Staged) -> None:
        gate = self.gate
        kind = type(msg)
        if kind is BookView:
            gate.on_view(msg)
        elif kind is Signal or kind is QuoteIntent:
            if msg.instrument in self.stale:
                gate.rejections["book_stale"] += 1
                decision = RiskRejection(msg.instrument, msg.ts_ns, "book_stale", "the book is not live")
            else:
                decision = gate.decide(msg) if kind is Signal else gate.decide_quotes(msg)
            now = msg.ts_ns   # the decision's time: the signal's, however the replay batched the market
            staged.rows.append((now, msg))
            staged.rows.extend((now, refused) for refused in gate.take_refused_sides())   # a quote's refused sides
            if decision is not None:
                staged.rows.append((now, decision))
            if isinstance(decision, (ParentOrder, QuoteIntent)):
                staged.sends.append(("orders", decision))
            elif decision is not None:
                ctx.log.info("rejected %s: %s (%s)", msg.instrument, decision.rule, decision.detail)
        elif kind is Exposure:
            gate.on_exposure(msg)
        elif kind is JournalEntry:
            gate.checks.on_fill(msg.msg, msg.seq)
        elif kind is PortfolioView:
            gate.on_portfolio(msg)
        elif kind is BookStatus:
            if msg.state is BookState.LIVE:
                self.stale.discard(msg.instrument)
            else:
                self.stale.add(msg.instrument)
        elif kind is TradingStateChanged:
            gate.mode = msg.mode
            staged.rows.append((msg.ts_ns, msg))   # the mode each later decision was made under, in journal order
            ctx.log.warning("trading %s: %s", msg.mode.value, msg.cause)
