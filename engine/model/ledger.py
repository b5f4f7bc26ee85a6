"""The ledger: positions, cash, P&L and execution statistics, folded from the journal, and the exposure the risk
gate trades against.

Position, cash and P&L have one owner, and this is it. It learns nothing from anyone's memory: it folds the
order manager's journaled order updates and fills, in journal order, whether it starts with an empty journal,
rebuilds after a crash, or makes the report at the end of a run (the same fold, so the report and the live
exposure can never disagree). Every journal entry has a sequence number; an entry at or below the last one
folded is skipped, so an entry that reaches the ledger twice (once by the rebuild, once from its mailbox) is
counted once.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from engine.messages import Exposure, Fill, JournalEntry, OrderUpdate, Side
from engine.model.numbers import Instrument
from engine.model.portfolio import Portfolio
from engine.model.execution_stats import ExecutionStats

TERMINAL_STATES = frozenset({"filled", "cancelled", "rejected", "expired"})
FOLDED = (Fill, OrderUpdate)
"""The journal entries the ledger folds."""


class Ledger:
    """The fold of the order manager's updates and fills, and what it says per instrument.

    With `stats`, it also keeps the execution statistics a report shows; the ledger actor, which only has to
    say each instrument's exposure, leaves them out of its rebuild.
    """

    def __init__(self, instruments: Mapping[str, Instrument], stats: bool = True,
                 cash: Mapping[str, Decimal] | None = None):
        self.instruments = instruments
        self.portfolio = Portfolio(cash)   # the starting balances (`[portfolio] cash`), then every fill
        self.strategy_of: dict[str, str] | None = None   # parent id → strategy, where the fold keeps books by strategy
        self.stats = ExecutionStats() if stats else None
        self.fills: list[Fill] = []
        self.high_seq = 0
        self.folded_ts_ns = 0                      # the time of the newest entry folded
        self._open: dict[str, OrderUpdate] = {}   # client order id → latest update of an order still open

    def fold(self, entries: Iterable[JournalEntry]) -> set[str]:
        """Fold `entries` in order; the instruments whose exposure they changed."""
        touched = set()
        for entry in entries:
            instrument = self.apply(entry)
            if instrument is not None:
                touched.add(instrument)
        return touched

    def apply(self, entry: JournalEntry) -> str | None:
        """Fold one entry; its instrument, or None if it was folded before (or is not the ledger's)."""
        if entry.seq <= self.high_seq:
            return None
        self.high_seq = entry.seq
        self.folded_ts_ns = entry.ts_ns
        msg = entry.msg
        if type(msg) is Fill:
            instrument = self.instruments[msg.instrument]
            strategies = self.strategy_of
            self.portfolio.apply_fill(msg, instrument, None if strategies is None else strategies.get(msg.parent_id, ""))
            if self.stats is not None:
                self.stats.on_fill(msg, instrument)
            self.fills.append(msg)
            return msg.instrument
        if type(msg) is OrderUpdate:
            if self.stats is not None:
                self.stats.on_order(msg, self.instruments[msg.instrument])
            if msg.state in TERMINAL_STATES:
                self._open.pop(msg.client_order_id, None)
            else:
                self._open[msg.client_order_id] = msg
            return msg.instrument
        return None

    def exposure(self, instrument: str, ts_ns: int) -> Exposure:
        """Position and open quantity per side of `instrument` (orders whose outcome is unknown count as open).

        Reduce-only orders (protective legs) are left out: they can only bring the position back towards zero, so
        counting a working stop as a pending sale would make the risk gate size the next order short of its target.
        """
        open_buy = open_sell = 0
        for update in self._open.values():
            if update.instrument != instrument or update.reduce_only:
                continue
            if update.side is Side.BUY:
                open_buy += update.qty - update.cum_qty
            else:
                open_sell += update.qty - update.cum_qty
        return Exposure(instrument, ts_ns, self.portfolio.position(instrument), open_buy, open_sell)

    def open_orders(self) -> list[str]:
        """Client order ids of the orders the ledger last saw open, sorted."""
        return sorted(self._open)
