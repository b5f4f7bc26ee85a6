"""The ledger actor: folds the order manager's journaled fills and order updates, tells the risk gate and the control
actor each instrument's exposure, and values the portfolio for them at a cadence of market time.

It receives journal entries (the journal hands them over once they are durable), never fills sent by hand,
so nothing between the order manager's journal and its sends can make it miss one. A fresh incarnation folds
the journal from the start, then skips what its mailbox hands it again (`Ledger` counts each entry once).

On each mark tick (`[portfolio] mark_ms` of market time, from the clock) it values what it holds at the book mids as
they stood just before the tick (`mids_before`: the book's touch path, read, never written, so the ticks are an
observer's that cut no replay window) and publishes a `PortfolioView` (equity, peak, day start, gross exposure,
cash), journaled first so that the report's equity curve is the one the kill switch saw, and so that a restarted
ledger keeps its peak and day start. A tick whose portfolio holds an asset no mid can value yet publishes nothing.
In a replay the valuation is journaled and sent within the one step that takes its tick: a tick may ride with a
batch (`engine.runtime.VirtualClock.take_riders`), its step beside a strategy's, and what it sends must not race
with what the strategy's signal wakes.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from engine.messages import Exposure, JournalEntry, PortfolioView, TimerFired
from engine.model.equity import EquityTracker
from engine.model.ledger import FOLDED, Ledger
from engine.model.numbers import Instrument
from engine.runtime import Actor, ActorContext, Ports

MARK_KEY = "mark"
"""The key of the ledger's valuation ticks."""


class LedgerActor(Actor):
    ports = Ports(accepts=(JournalEntry,), outputs={"exposure": Exposure, "portfolio": PortfolioView})

    def __init__(self, journal: Any, instruments: Mapping[str, Instrument],
                 mids_before: Callable[[int], Mapping[str, int]], cash: Mapping[str, Any] | None = None,
                 currency: str = ""):
        self.journal = journal
        self.instruments = instruments
        self.mids_before = mids_before   # ts → twice each instrument's mid just before it
        self.ledger = Ledger(instruments, stats=False, cash=cash)   # exposure is its job; the report folds its own
        self.currency = currency or next(iter(instruments.values())).quote
        self.equity = EquityTracker()

    async def start(self, ctx: ActorContext) -> None:
        entries = await self.journal.read(kinds=FOLDED)
        self.ledger.fold(entries)
        run_id = self.journal.run_id
        published = await self.journal.read(actors=[ctx.name], kinds=[PortfolioView])
        mine = [entry.msg for entry in published if entry.run_id == run_id]
        if mine:
            self.equity.restore(mine[-1])
        now = ctx.clock.now_ns()
        for instrument in self.ledger.instruments:
            await ctx.emit("exposure", self.ledger.exposure(instrument, now))

    async def handle(self, batch, ctx: ActorContext) -> None:
        entries, ticks = [], []
        for msg in batch:
            if type(msg) is TimerFired:
                if msg.key == MARK_KEY:
                    ticks.append(msg.due_ns)
            else:
                entries.append(msg)
        touched = self.ledger.fold(entries)
        now = self.ledger.folded_ts_ns   # the time of what it folded, not of the replay's step
        for instrument in sorted(touched):
            await ctx.emit("exposure", self.ledger.exposure(instrument, now))
        for due in ticks:
            await self._value(due, ctx)

    async def _value(self, ts_ns: int, ctx: ActorContext) -> None:
        portfolio = self.ledger.portfolio
        marks = self.mids_before(ts_ns)
        equity = portfolio.equity(marks, self.instruments, self.currency)
        if equity is None:
            return
        view = self.equity.view(ts_ns, equity, portfolio.gross_exposure(marks, self.instruments), portfolio.cash)
        if self.journal.inline:   # committed now: journaled and sent in one step (a tick that rode with a batch)
            self.journal.write_nowait(ctx.name, [(ts_ns, view)])
        else:
            await self.journal.write(ctx.name, [(ts_ns, view)])
        ctx.emit_on_return("portfolio", [view])
