"""How long a request takes to reach the simulated venue's matching engine, and its answer to come back.

A real venue is a few milliseconds away, more on a bad day, and an order placed against a book that has
moved meanwhile fills differently: the latency belongs in the simulation, not only in the network. Two
models, as in hftbacktest: a constant one, and one drawn from a log-normal distribution around a median
(the long right tail real order entry shows). Draws are seeded by (seed, leg, n) for the n-th request,
so the same scenario sees the same delays whatever the order in which concurrent requests ask.
"""
from __future__ import annotations

import math
import random

LATENCY_MODELS = ("constant", "lognormal")


class ConstantLatency:
    """The same delay on every request: `entry_ns` before it is handled, `response_ns` before it is answered."""

    def __init__(self, entry_ns: int = 0, response_ns: int = 0):
        if entry_ns < 0 or response_ns < 0:
            raise ValueError("latencies cannot be negative")
        self._entry, self._response = entry_ns, response_ns

    def __bool__(self) -> bool:
        return bool(self._entry or self._response)

    def entry_ns(self, n: int) -> int:
        return self._entry

    def response_ns(self, n: int) -> int:
        return self._response


class LognormalLatency:
    """Delays drawn from log-normal distributions with the given medians and shape `sigma` (0: constant)."""

    def __init__(self, entry_median_ns: int, response_median_ns: int, sigma: float, seed: int):
        if entry_median_ns < 0 or response_median_ns < 0 or sigma < 0:
            raise ValueError("medians and sigma cannot be negative")
        self._medians = {"entry": entry_median_ns, "response": response_median_ns}
        self._sigma = sigma
        self._seed = seed

    def __bool__(self) -> bool:
        return any(self._medians.values())

    def entry_ns(self, n: int) -> int:
        return self._draw("entry", n)

    def response_ns(self, n: int) -> int:
        return self._draw("response", n)

    def _draw(self, leg: str, n: int) -> int:
        median = self._medians[leg]
        if median == 0:
            return 0
        z = random.Random(f"{self._seed}:{leg}:{n}").gauss(0.0, 1.0)
        return round(median * math.exp(self._sigma * z))


Latency = ConstantLatency | LognormalLatency
NO_LATENCY = ConstantLatency()
