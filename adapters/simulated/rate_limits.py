"""The request-weight and order-count limits of the simulated exchange, counted over fixed windows as Binance
counts its interval limits."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The `rateLimits` of exchangeInfo; Binance documents 6000 weight a minute, the order counts are examples."""
    request_weight_per_minute: int = 6_000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000


class Window:
    """A counter over fixed windows aligned to multiples of their length, like Binance's interval limits."""

    __slots__ = ("length_ms", "start_ms", "used")

    def __init__(self, length_ms: int):
        self.length_ms, self.start_ms, self.used = length_ms, -1, 0

    def add(self, now_ms: int, amount: int) -> int:
        """Count `amount` at `now_ms`; the total used in the current window."""
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms, self.used = start, 0
        self.used += amount
        return self.used

    def retry_after_s(self, now_ms: int) -> int:
        """Whole seconds until the current window ends."""
        return max(1, math.ceil((self.start_ms + self.length_ms - now_ms) / 1000))
