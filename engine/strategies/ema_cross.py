"""An EMA crossover on the mid price: long when the fast average is above the slow one, short (or flat) below.

The averages are kept in exact integer arithmetic (the mid scaled by 2**16), so that a replay gives the
same signals on every machine. The strategy says what position it wants; it never sizes or prices orders.

With a bracket (`stop_bps`, `take_profit_bps`, or `trailing_bps` instead of a fixed stop) each signal that opens a
position asks for its protection, priced from the mid it decided on: a stop that far against the position, a
take-profit that far in its favour (both: an OCO pair). Whether the legs are the venue's own orders or the engine's
is the order manager's choice. All three default to 0: no protection, the signals of before.
"""
from __future__ import annotations

from engine.messages import BookView, Protection, Signal, Urgency

_SCALE_BITS = 16
_BPS = 10_000


class EmaCross:
    """Signals a target position on each crossing of the fast and slow EMAs of the mid, after warm-up."""

    def __init__(self, name: str, instrument: str, fast: int, slow: int, position: int,
                 urgency: Urgency = Urgency.AGGRESSIVE, long_only: bool = False, *, stop_bps: int = 0,
                 take_profit_bps: int = 0, trailing_bps: int = 0):
        if not 1 <= fast < slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast} slow={slow}")
        self.name = name
        self.instrument = instrument
        self.fast, self.slow = fast, slow
        self.position = position
        self.urgency = urgency
        self.long_only = long_only
        self.stop_bps, self.take_profit_bps, self.trailing_bps = stop_bps, take_profit_bps, trailing_bps
        self._fast_ema: int | None = None
        self._slow_ema: int | None = None
        self._seen = 0
        self._target: int | None = None

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
            target = self.position
        elif self._fast_ema < self._slow_ema:
            target = 0 if self.long_only else -self.position
        else:
            return None
        if target == self._target:
            return None
        self._target = target
        direction = "above" if self._fast_ema > self._slow_ema else "below"
        return Signal(self.name, self.instrument, view.ts_ns, target, self.urgency, mid_x2,
                      reason=f"fast EMA({self.fast}) crossed {direction} slow EMA({self.slow})",
                      protection=self._bracket(target, mid_x2))

    def _bracket(self, target: int, mid_x2: int) -> Protection | None:
        """The protection of the position `target` opens, from the mid it was decided on (None: flat, or none
        asked for). Prices are exact; the order manager puts them on the tick grid the cautious way."""
        if target == 0 or not (self.stop_bps or self.take_profit_bps or self.trailing_bps):
            return None
        sign = 1 if target > 0 else -1

        def away(bps: int) -> int:
            return mid_x2 * (_BPS + sign * bps) // (2 * _BPS) if bps else 0

        return Protection(stop_price=0 if self.trailing_bps else away(-self.stop_bps),
                          take_profit_price=away(self.take_profit_bps), trailing_bps=self.trailing_bps)
