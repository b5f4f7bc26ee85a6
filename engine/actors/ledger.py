"""The ledger actor: folds the order manager's journaled fills and order updates, and tells the risk gate each
instrument's exposure.

It receives journal entries (the journal hands them over once they are durable), never fills sent by hand,
so nothing between the order manager's journal and its sends can make it miss one. A fresh incarnation folds
the journal from the start, then skips what its mailbox hands it again (`Ledger` counts each entry once).
"""
from __future__ import annotations

from typing import Any, Mapping

from engine.model.ledger import FOLDED, Ledger
from engine.model.numbers import Instrument
from engine.messages import Exposure, JournalEntry
from engine.runtime import Actor, ActorContext, Ports


class LedgerActor(Actor):
    ports = Ports(accepts=(JournalEntry,), outputs={"exposure": Exposure})   # entries come from the journal

    def __init__(self, journal: Any, instruments: Mapping[str, Instrument]):
        self.journal = journal
        self.ledger = Ledger(instruments, stats=False)   # exposure is its job; the report folds its own

    async def start(self, ctx: ActorContext) -> None:
        entries = await self.journal.read(kinds=FOLDED)
        self.ledger.fold(entries)
        now = ctx.clock.now_ns()
        for instrument in self.ledger.instruments:
            await ctx.emit("exposure", self.ledger.exposure(instrument, now))

    async def handle(self, batch, ctx: ActorContext) -> None:
        touched = self.ledger.fold(batch)
        now = self.ledger.folded_ts_ns   # the time of what it folded, not of the replay's step
        for instrument in sorted(touched):
            await ctx.emit("exposure", self.ledger.exposure(instrument, now))
