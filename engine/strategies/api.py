"""The strategy API: what a strategy is shown and what it may say.

A strategy is a plain object, subclassing `Strategy`; the strategy actor (`engine.actors.strategy`) does all its IO,
so a strategy is tested by calling its methods. It is shown:

- `on_view(view)`: the book of one of its instruments, at its cadence (`[[strategy]] cadence`: every change, every
  public trade, or every N ms of market time);
- `on_trade(trade)`: each public trade of its instruments that reaches it (the trades a view carries);
- `on_fill(fill)`: each fill of our orders in its instruments;
- `on_position(exposure)`: its instrument's position and working order quantities, whenever they change;
- `on_timer(key, ts_ns)`: a timer it asked for is due.

Each returns what it wants, or None: a `Signal` (a direction and a strength, never a quantity: the run's sizing
turns it into a target position and the risk gate into an order), a `QuoteIntent` (a quoting strategy's wanted
two-sided quotes), a `TimerFired` (a timer to set: `key` delivered back to `on_timer` at `due_ns` of market time),
or a list of them. Time is the market's: a strategy reads it from what it is shown, never from a clock.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence, Union

from engine.messages import (BookView, Exposure, Fill, Protection, QuoteIntent, Side, Signal, TimerFired, Trade,
                             Urgency)

Output = Union[Signal, QuoteIntent, TimerFired]
Decision = Union[Output, Sequence[Output], None]


class Strategy:
    """A strategy's surface, every hook saying nothing by default: a strategy overrides the ones it needs."""

    def __init__(self, name: str, instruments: Sequence[str], urgency: Urgency = Urgency.AGGRESSIVE):
        self.name = name
        self.instruments = tuple(instruments)
        self.urgency = urgency

    def on_view(self, view: BookView) -> Decision:
        return None

    def on_trade(self, trade: Trade) -> Decision:
        return None

    def on_fill(self, fill: Fill) -> Decision:
        return None

    def on_position(self, exposure: Exposure) -> Decision:
        return None

    def on_timer(self, key: str, ts_ns: int) -> Decision:
        return None

    def signal(self, view: BookView, side: Side, strength: Decimal = Decimal(1), reason: str = "",
               stop_price: int = 0) -> Signal:
        """A signal decided on `view`: `side` at `strength` (0: flat), with a stop where the strategy has one."""
        protection = Protection(stop_price=stop_price) if stop_price else None
        return Signal(self.name, view.instrument, view.ts_ns, side, strength, self.urgency, view.mid_x2 or 0,
                      reason=reason, protection=protection)

    def flat(self, view: BookView, reason: str = "") -> Signal:
        """A signal for no position at all."""
        return self.signal(view, Side.SELL, Decimal(0), reason)


def overrides(strategy: Strategy, hook: str) -> bool:
    """Whether `strategy` does anything with `hook` (`"on_fill"`, `"on_position"`): only then is it wired to hear
    it, so a strategy that ignores its fills costs the run nothing for them."""
    return getattr(type(strategy), hook) is not getattr(Strategy, hook)
