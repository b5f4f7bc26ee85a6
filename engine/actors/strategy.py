"""The strategy actor: hands each (conflated) book view to a pure strategy and sends on what it wants."""
from __future__ import annotations

from typing import Callable

from engine.messages import BookView, Signal
from engine.runtime import Actor, ActorContext, Ports


class StrategyActor(Actor):
    ports = Ports(accepts=(BookView,), outputs={"signals": Signal})

    def __init__(self, strategy_factory: Callable[[], object]):
        self.strategy = strategy_factory()

    async def handle(self, batch: list[BookView], ctx: ActorContext) -> None:
        for view in batch:
            signal = self.strategy.on_view(view)
            if signal is not None:
                await ctx.emit("signals", signal)
