"""Mean reversion on the mid: it goes against a move that took the mid more than `band` standard deviations from
its mean over the last `window` looks, with a stop `stop_bps` away, and is flat again once the mid is back at the
mean. It says side and stop, never a quantity: sized by the stop distance (`fixed_fraction`), the position risks
the same share of equity whatever the stop.

Mean and deviation are exact: the comparison (n x mid - sum)^2 against band^2 x (n x sum of squares - sum^2) is
done in integers, so a replay gives the same signals on every machine.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from engine.messages import BookView, Side, Signal, Urgency
from engine.strategies.api import Strategy
from engine.strategies.kind import ParamError, StrategyKind, StrategySetup

_BPS = 10_000


class MeanReversion(Strategy):
    def __init__(self, name: str, instrument: str, tick: int, window: int, band: Decimal, stop_bps: int,
                 urgency: Urgency = Urgency.AGGRESSIVE):
        super().__init__(name, (instrument,), urgency)
        self.tick = tick
        self.window = window
        self.band = band
        self.stop_bps = stop_bps
        self._mids: deque[int] = deque(maxlen=window)
        self._held: Side | None = None   # the side it is on; None: flat

    def on_view(self, view: BookView) -> Signal | None:
        mid_x2 = view.mid_x2
        if mid_x2 is None:
            return None
        mids = self._mids
        mids.append(mid_x2)
        if len(mids) < self.window:
            return None
        n, total = len(mids), sum(mids)
        away = n * mid_x2 - total                      # n x (mid - mean), in x2 units
        if self._held is not None:
            if (self._held is Side.BUY and away >= 0) or (self._held is Side.SELL and away <= 0):
                self._held = None
                return self.flat(view, "the mid is back at its mean")
            return None
        num, den = self.band.as_integer_ratio()
        spread = n * sum(m * m for m in mids) - total * total   # n^2 x variance
        if away * away * den * den <= num * num * spread:
            return None
        side = Side.SELL if away > 0 else Side.BUY
        self._held = side
        return self.signal(view, side, Decimal(1), f"the mid is more than {self.band} deviations from its mean",
                           stop_price=self._stop(mid_x2, side))

    def _stop(self, mid_x2: int, side: Side) -> int:
        """The stop `stop_bps` from the mid on the losing side, on the tick grid, outside that distance."""
        tick = self.tick
        if side is Side.BUY:
            return mid_x2 * (_BPS - self.stop_bps) // (2 * _BPS) // tick * tick
        raw = -(-mid_x2 * (_BPS + self.stop_bps) // (2 * _BPS))
        return -(-raw // tick) * tick


@dataclass(frozen=True)
class MeanReversionParams:
    window: int = field(default=40, metadata={"doc": "looks at the market the mean and deviation are taken over",
                                              "ge": 2, "le": 1_000_000})
    band: Decimal = field(default=Decimal(2), metadata={"doc": "enter when the mid is this many standard "
                                                                "deviations from its mean"})
    stop_bps: int = field(default=20, metadata={"doc": "the stop's distance from the entry mid, in bps",
                                                "ge": 1, "le": 5_000})

    def __post_init__(self) -> None:
        if self.band <= 0:
            raise ParamError("band", "must be positive")


def _build(setup: StrategySetup, params: MeanReversionParams) -> MeanReversion:
    inst = setup.instruments[0]
    return MeanReversion(setup.name, inst.symbol, inst.tick_size, params.window, params.band, params.stop_bps,
                         setup.urgency)


KIND = StrategyKind("mean_reversion", "against moves of the mid beyond a band, with a stop", MeanReversionParams,
                    _build)
