"""The ledger actor: accounts fills into the portfolio and execution statistics.

Its state belongs to the session (it is what the run report is made from) and outlives restarts.
"""
from __future__ import annotations

from engine.messages import Fill, OrderUpdate
from engine.model.numbers import Instrument
from engine.model.portfolio import Portfolio
from engine.report.tca import ExecutionStats
from engine.runtime import Actor, ActorContext


class Ledger:
    def __init__(self, instruments: dict[str, Instrument]):
        self.instruments = instruments
        self.portfolio = Portfolio()
        self.stats = ExecutionStats()


class LedgerActor(Actor):
    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        ledger = self.ledger
        for msg in batch:
            kind = type(msg)
            if kind is Fill:
                instrument = ledger.instruments[msg.instrument]
                ledger.portfolio.apply_fill(msg, instrument)
                ledger.stats.on_fill(msg, instrument)
            elif kind is OrderUpdate:
                ledger.stats.on_order(msg, ledger.instruments[msg.instrument])
