"""The strategy actor: shows a strategy (`engine.strategies.api.Strategy`) the market at its own cadence, its fills,
its position and its timers, and sends on what it wants.

A cadence that follows events ("book", "trades") gets every view the book publishes for one event, in order,
and hands the strategy those its cadence looks at. A periodic cadence keeps the newest view of each instrument
and, on each tick the clock delivers, hands the strategy the book as it stood at that instant: the newest view,
stamped with the tick's time (the book has not changed since that view, or a newer one would have come before
the tick). Either way what the strategy sees, and when, is the market's and its own, never the replay's batching.

Each signal leaves stamped with the book it was decided on (its touch and the quantity shown there) and, where
its sizing measures volatility, the realized volatility of the mid over the strategy's own looks: what sizing
reads is what the strategy saw, however late the risk gate sees newer views. A timer the strategy asks for is set
on the run's clock and comes back to `on_timer`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from engine.messages import BookView, Exposure, Fill, JournalEntry, QuoteIntent, Signal, TimerFired, fast_constructor
from engine.model.sizing import RealizedVolatility
from engine.runtime import Actor, ActorContext, Ports
from engine.strategies.cadence import TIMER_KEY, Cadence


_make_view = fast_constructor(BookView)   # a view restamped for each tick: the cheaper constructor of the same object


class StrategyActor(Actor):
    ports = Ports(accepts=(BookView, TimerFired, Exposure, JournalEntry), outputs={"signals": (Signal, QuoteIntent)})

    def __init__(self, strategy_factory: Callable[[], Any], cadence: Cadence = Cadence("book"),
                 volatility_window: int = 0):
        self.strategy = strategy_factory()
        self.cadence = cadence
        self.latest: dict[str, BookView] = {}
        self.volatility_window = volatility_window
        self.volatility: dict[str, RealizedVolatility] = {}

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        strategy, cadence = self.strategy, self.cadence
        for msg in batch:
            kind = type(msg)
            if kind is BookView:
                self.latest[msg.instrument] = msg
                if cadence.follows_events and cadence.wants(msg):
                    await self._look(msg, ctx)
            elif kind is TimerFired:
                if msg.key == TIMER_KEY:
                    for symbol in sorted(self.latest) if not cadence.follows_events else ():
                        view = self.latest[symbol]   # as of the tick: the book has not changed since this view
                        await self._look(_make_view(view.instrument, msg.due_ns, view.update_id, view.bids, view.asks,
                                                    view.trades), ctx)
                else:
                    await self._send(strategy.on_timer(msg.key, msg.due_ns), ctx)
            elif kind is Exposure:
                await self._send(strategy.on_position(msg), ctx)
            elif kind is JournalEntry and type(msg.msg) is Fill and msg.msg.instrument in strategy.instruments:
                await self._send(strategy.on_fill(msg.msg), ctx)

    async def _look(self, view: BookView, ctx: ActorContext) -> None:
        """Show the strategy one view (and the trades it carries)."""
        if self.volatility_window and view.mid_x2 is not None:
            measure = self.volatility.get(view.instrument)
            if measure is None:
                measure = self.volatility[view.instrument] = RealizedVolatility(self.volatility_window)
            measure.look(view.mid_x2)
        decided = self.strategy.on_view(view)
        if decided is not None:   # (most looks decide nothing: no send to make)
            await self._send(decided, ctx, view)
        for trade in view.trades:
            decided = self.strategy.on_trade(trade)
            if decided is not None:
                await self._send(decided, ctx, view)

    async def _send(self, decided: Any, ctx: ActorContext, view: BookView | None = None) -> None:
        """Send on what the strategy decided: signals stamped with the book they were decided on (`view`, else the
        newest of their instrument), quotes as they are, timers set on the clock."""
        if decided is None:
            return
        for msg in decided if isinstance(decided, (list, tuple)) else (decided,):
            kind = type(msg)
            if kind is TimerFired:
                ctx.clock.deliver_at(msg.due_ns, ctx.inbox, msg)
            elif kind is Signal:
                seen = view if view is not None and view.instrument == msg.instrument else self.latest.get(msg.instrument)
                await ctx.emit("signals", self._stamped(msg, seen))
            else:
                await ctx.emit("signals", msg)

    def _stamped(self, signal: Signal, view: BookView | None) -> Signal:
        if view is None:
            return signal
        measure = self.volatility.get(signal.instrument)
        return replace(signal, bid=view.best_bid or 0, ask=view.best_ask or 0,
                       bid_qty=view.bids[0][1] if view.bids else 0, ask_qty=view.asks[0][1] if view.asks else 0,
                       volatility_x2=measure.volatility_x2 if measure is not None else 0)
