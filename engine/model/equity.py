"""Equity over time: the peak, the day's start and the drawdown, from the portfolio valued at instants of market time.

The ledger values the portfolio at a fixed cadence of market time (`[portfolio] mark_ms`), never at the replay's
batch boundaries, so every figure here (and the kill switch's loss limits, which read them) is the same at any
`batch_ms`. A day is a UTC day of market time: the daily loss counts from the first valuation of the day.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.messages import PortfolioView

DAY_NS = 86_400 * 1_000_000_000


class EquityTracker:
    """The running peak and day-start equity that turn a valuation into a `PortfolioView`."""

    def __init__(self) -> None:
        self.peak: Decimal | None = None
        self.day = -1
        self.day_start = Decimal(0)

    def restore(self, view: PortfolioView) -> None:
        """Go on from a view a previous incarnation published (its peak and day are kept)."""
        self.peak, self.day, self.day_start = view.peak_equity, view.ts_ns // DAY_NS, view.day_start_equity

    def view(self, ts_ns: int, equity: Decimal, gross_exposure: Decimal,
             cash: Mapping[str, Decimal]) -> PortfolioView:
        day = ts_ns // DAY_NS
        if day != self.day:
            self.day, self.day_start = day, equity
        self.peak = equity if self.peak is None else max(self.peak, equity)
        return PortfolioView(ts_ns, equity, self.peak, self.day_start, gross_exposure, tuple(sorted(cash.items())))


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest fall of equity below its running peak: how much, from which peak, and when it was deepest."""
    amount: Decimal
    peak: Decimal
    ts_ns: int

    @property
    def fraction(self) -> Decimal:
        return self.amount / self.peak if self.peak > 0 else Decimal(0)


def max_drawdown(views: Iterable[PortfolioView]) -> Drawdown:
    """The deepest drawdown over `views` (oldest first), each measured from the peak the view carries."""
    deepest: Drawdown | None = None
    for view in views:
        amount = view.peak_equity - view.equity
        if deepest is None or amount > deepest.amount:
            deepest = Drawdown(amount, view.peak_equity, view.ts_ns)
    return deepest or Drawdown(Decimal(0), Decimal(0), 0)
