"""An EMA crossover on the mid price: long when the fast average is above the slow one, short (or flat) below.

The averages are kept in exact integer arithmetic (the mid scaled by 2**16), so that a replay gives the
same signals on every machine. The strategy says which way it wants to be; it never sizes or prices orders
(its `position` key is the `fixed` sizing it gets where its table names no other).

With a bracket (`stop_bps`, `take_profit_bps`, or `trailing_bps` instead of a fixed stop) each signal that opens a
position asks for its protection, priced from the mid it decided on: a stop that far against the position, a
take-profit that far in its favour (both: an OCO pair). Whether the legs are the venue's own orders or the engine's
is the order manager's choice. All three default to 0: no protection, the signals of before.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from engine.messages import BookView, Protection, Side, Signal, Urgency
from engine.model.numbers import Instrument
from engine.model.sizing import SizingRule
from engine.strategies.api import Strategy
from engine.strategies.kind import ParamError, StrategyKind, StrategySetup

_SCALE_BITS = 16
_LONG, _SHORT, _FLAT = (Side.BUY, Decimal(1)), (Side.SELL, Decimal(1)), (Side.SELL, Decimal(0))
"""What the strategy can want: a side, and how much of its position (1 all of it, 0 none)."""
_BPS = 10_000


class EmaCross(Strategy):
    """Signals a side on each crossing of the fast and slow EMAs of the mid, after warm-up."""

    def __init__(self, name: str, instrument: str, fast: int, slow: int,
                 urgency: Urgency = Urgency.AGGRESSIVE, long_only: bool = False, *, stop_bps: int = 0,
                 take_profit_bps: int = 0, trailing_bps: int = 0):
        if not 1 <= fast < slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast} slow={slow}")
        super().__init__(name, (instrument,), urgency)
        self.instrument = instrument
        self.fast, self.slow = fast, slow
        self.long_only = long_only
        self.stop_bps, self.take_profit_bps, self.trailing_bps = stop_bps, take_profit_bps, trailing_bps
        self._fast_ema: int | None = None
        self._slow_ema: int | None = None
        self._seen = 0
        self._wanted: tuple[Side, Decimal] | None = None

    def on_view(self, view: BookView) -> Signal | None:
        mid_x2 = view.mid_x2
        if mid_x2 is None or view.instrument != self.instrument:
            return None
        x = mid_x2 << _SCALE_BITS
        if self._fast_ema is None:
            self._fast_ema = self._slow_ema = x
        else:
            self._fast_ema += (x - self._fast_ema) * 2 // (self.fast + 1)
            self._slow_ema += (x - self._slow_ema) * 2 // (self.slow + 1)
        self._seen += 1
        if self._seen < self.slow:
            return None
        if self._fast_ema > self._slow_ema:
            wanted = _LONG
        elif self._fast_ema < self._slow_ema:
            wanted = _FLAT if self.long_only else _SHORT
        else:
            return None
        if wanted is self._wanted:   # (one of the three wants above: compared by identity, as often as it looks)
            return None
        self._wanted = wanted
        direction = "above" if wanted[0] is Side.BUY else "below"
        signal = self.signal(view, *wanted, reason=f"fast EMA({self.fast}) crossed {direction} slow EMA({self.slow})")
        protection = self._bracket(wanted, mid_x2)
        return signal if protection is None else replace(signal, protection=protection)

    def _bracket(self, wanted: tuple[Side, Decimal], mid_x2: int) -> Protection | None:
        """The protection of the position `wanted` opens, from the mid it was decided on (None: flat, or none
        asked for). Prices are exact; the order manager puts them on the tick grid the cautious way."""
        side, strength = wanted
        if not strength or not (self.stop_bps or self.take_profit_bps or self.trailing_bps):
            return None
        sign = side.sign

        def away(bps: int) -> int:
            return mid_x2 * (_BPS + sign * bps) // (2 * _BPS) if bps else 0

        return Protection(stop_price=0 if self.trailing_bps else away(-self.stop_bps),
                          take_profit_price=away(self.take_profit_bps), trailing_bps=self.trailing_bps)


@dataclass(frozen=True)
class EmaCrossParams:
    fast: int = field(metadata={"doc": "the fast EMA's length, in looks at the market", "ge": 1, "le": 1_000_000})
    slow: int = field(metadata={"doc": "the slow EMA's length, longer than fast", "ge": 2, "le": 1_000_000})
    position: int = field(default=0, metadata={"doc": "the absolute position it holds, in the base asset (its fixed "
                                                      "sizing, needed where the table names no sizing)",
                                               "unit": "quantity", "lots": True})
    long_only: bool = field(default=False, metadata={"doc": "never hold a short position"})
    stop_bps: int = field(default=0, metadata={"doc": "a stop this far from the mid against each position it opens, "
                                                      "in bps (0: none)", "ge": 0, "le": 10_000})
    take_profit_bps: int = field(default=0, metadata={"doc": "a take-profit this far from the mid in its favour, in "
                                                             "bps (0: none; with a stop: an OCO bracket)",
                                                      "ge": 0, "le": 10_000})
    trailing_bps: int = field(default=0, metadata={"doc": "a trailing stop this far behind the best price since "
                                                          "entry, in bps (0: none; replaces stop_bps)",
                                                   "ge": 0, "le": 10_000})

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ParamError("fast", f"must be shorter than slow ({self.slow}), got {self.fast}")
        if self.position < 0:
            raise ParamError("position", "must be positive")
        if self.trailing_bps and self.stop_bps:
            raise ParamError("stop_bps", f"give stop_bps or trailing_bps, not both: the trailing stop replaces the "
                                         f"fixed one (got stop_bps = {self.stop_bps}, trailing_bps = "
                                         f"{self.trailing_bps})")


def _build(setup: StrategySetup, params: EmaCrossParams) -> EmaCross:
    return EmaCross(setup.name, setup.instruments[0].symbol, params.fast, params.slow, setup.urgency,
                    params.long_only, stop_bps=params.stop_bps, take_profit_bps=params.take_profit_bps,
                    trailing_bps=params.trailing_bps)


def _sizing(params: EmaCrossParams, _inst: Instrument) -> SizingRule:
    if not params.position:
        raise ParamError("position", "required where the table names no sizing: the absolute position it holds")
    return SizingRule("fixed", quantity=params.position)


KIND = StrategyKind("ema_cross", "an EMA crossover on the mid", EmaCrossParams, _build, sizing=_sizing)
