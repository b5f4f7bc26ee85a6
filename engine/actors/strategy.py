"""The strategy actor: shows a pure strategy the market at the strategy's own cadence, and sends on what it wants.

A cadence that follows events ("book", "trades") gets every view the book publishes for one event, in order,
and hands the strategy those its cadence looks at. A periodic cadence keeps the newest view of each instrument
and, on each tick the clock delivers, hands the strategy the book as it stood at that instant: the newest view,
stamped with the tick's time (the book has not changed since that view, or a newer one would have come before
the tick). Either way what the strategy sees, and when, is the market's and its own, never the replay's batching.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from engine.messages import BookView, Signal, TimerFired
from engine.runtime import Actor, ActorContext, Ports
from engine.strategies.cadence import TIMER_KEY, Cadence


class StrategyActor(Actor):
    ports = Ports(accepts=(BookView, TimerFired), outputs={"signals": Signal})

    def __init__(self, strategy_factory: Callable[[], Any], cadence: Cadence = Cadence("book")):
        self.strategy = strategy_factory()
        self.cadence = cadence
        self.latest: dict[str, BookView] = {}

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        strategy, cadence = self.strategy, self.cadence
        for msg in batch:
            kind = type(msg)
            if kind is BookView:
                if cadence.follows_events:
                    if cadence.wants(msg):
                        await self._decide(strategy.on_view(msg), msg, ctx)
                else:
                    self.latest[msg.instrument] = msg
            elif kind is TimerFired and msg.key == TIMER_KEY:
                for symbol in sorted(self.latest):
                    view = replace(self.latest[symbol], ts_ns=msg.due_ns)
                    await self._decide(strategy.on_view(view), view, ctx)

    @staticmethod
    async def _decide(signal: Signal | None, view: BookView, ctx: ActorContext) -> None:
        """Send `signal` on, with the touch of the book it was decided on."""
        if signal is not None:
            await ctx.emit("signals", replace(signal, bid=view.best_bid or 0, ask=view.best_ask or 0))
