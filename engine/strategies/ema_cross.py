"""An EMA crossover on the mid price: long when the fast average is above the slow one, short (or flat) below.

The averages are kept in exact integer arithmetic (the mid scaled by 2**16), so that a replay gives the
same signals on every machine. The strategy says what position it wants; it never sizes or prices orders.
"""
from __future__ import annotations

from engine.messages import BookView, Signal, Urgency

_SCALE_BITS = 16


class EmaCross:
    """Signals a target position on each crossing of the fast and slow EMAs of the mid, after warm-up."""

    def __init__(self, name: str, instrument: str, fast: int, slow: int, position: int,
                 urgency: Urgency = Urgency.AGGRESSIVE, long_only: bool = False):
        if not 1 <= fast < slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast} slow={slow}")
        self.name = name
        self.instrument = instrument
        self.fast, self.slow = fast, slow
        self.position = position
        self.urgency = urgency
        self.long_only = long_only
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
                      reason=f"fast EMA({self.fast}) crossed {direction} slow EMA({self.slow})")
