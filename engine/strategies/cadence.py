"""When a strategy looks at the market: its cadence, declared by the strategy, never implied by batching.

A strategy that counted the views the engine happened to publish would change its answer with the replay
window (`[feed] batch_ms`): 15 orders at 500 ms windows, 375 at 1 ms. So each strategy says when it wants
to see the market, and gets exactly that, in a replay and live alike:

- `"book"`: every change of the books of the instruments it names (each applied diff or snapshot);
- `"trades"`: every public trade of those instruments, with the book as it stood at that trade;
- `"<N>ms"`: every N ms of market time, on the injected clock, with the book as of that instant (a timer
  due on the clock, so it cuts a replay window like any other due message).

A cadence that follows events ("book", "trades") decides inside a replay window; the session then bounds the
window by the smallest order latency, so that no order it decides can reach a venue within the window.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.messages import BookView

_PERIOD = re.compile(r"([1-9][0-9]*)ms")
CADENCES = ('"book"', '"trades"', '"<N>ms" (N a whole number of milliseconds, at least 1)')

TIMER_KEY = "cadence"
"""The key of the `TimerFired` a periodic cadence delivers to its strategy's inbox."""


@dataclass(frozen=True, slots=True)
class Cadence:
    kind: str              # "book", "trades" or "timer"
    period_ns: int = 0     # "timer": the period, in ns of market time

    @property
    def follows_events(self) -> bool:
        """Whether the strategy decides on market events (inside a replay window) rather than on a timer."""
        return self.kind != "timer"

    def wants(self, view: BookView) -> bool:
        """Whether a view published for one event is one this cadence looks at (a timer reads the newest view)."""
        if self.kind == "trades":
            return bool(view.trades)
        return self.kind == "book" and not view.trades

    def first_tick_ns(self, start_ns: int) -> int:
        """The first tick of a periodic cadence after `start_ns`, on the period's grid of market time."""
        return (start_ns // self.period_ns + 1) * self.period_ns

    def __str__(self) -> str:
        return f"{self.period_ns // 1_000_000}ms" if self.kind == "timer" else self.kind


def parse_cadence(text: object) -> Cadence:
    """The cadence a scenario names; ValueError saying what is allowed otherwise."""
    if text in ("book", "trades"):
        return Cadence(str(text))
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"must be one of {', '.join(CADENCES)}; got {text!r}")
    return Cadence("timer", int(match.group(1)) * 1_000_000)
