"""A two-sided market maker with inventory skew: it quotes a bid and an ask around the mid, shifted against what it
holds, and never lets its inventory pass its limit.

On each look it states the quotes it wants (`QuoteIntent`): half a spread of `half_spread_ticks` each side of a
reservation price, the mid moved `skew_ticks` against a full inventory (in proportion to the inventory held), each
side kept off the other side's touch so that a post-only order rests rather than takes; sized `quote_size`, each
side no more than what keeps the position within `max_inventory` if it fills whole. The order manager keeps them
working as post-only orders and never lets our bid cross our own ask; the risk gate may shrink them further.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.messages import BookView, Exposure, QuoteIntent
from engine.strategies.api import Strategy
from engine.strategies.kind import ParamError, StrategyKind, StrategySetup


class MarketMaker(Strategy):
    def __init__(self, name: str, instrument: str, tick: int, lot: int, half_spread_ticks: int, quote_size: int,
                 max_inventory: int, skew_ticks: int):
        super().__init__(name, (instrument,))
        self.tick, self.lot = tick, lot
        self.half_spread_ticks = half_spread_ticks
        self.quote_size = quote_size
        self.max_inventory = max_inventory
        self.skew_ticks = skew_ticks
        self.inventory = 0

    def on_position(self, exposure: Exposure) -> None:
        self.inventory = exposure.position

    def on_view(self, view: BookView) -> QuoteIntent | None:
        mid_x2, best_bid, best_ask = view.mid_x2, view.best_bid, view.best_ask
        if mid_x2 is None or best_bid is None or best_ask is None:
            return None
        tick, inventory = self.tick, self.inventory
        shift = abs(inventory) * self.skew_ticks // self.max_inventory * (1 if inventory > 0 else -1)
        centre_x2 = mid_x2 - 2 * shift * tick
        spread_x2 = 2 * self.half_spread_ticks * tick
        bid = min((centre_x2 - spread_x2) // (2 * tick) * tick, best_ask - tick)
        ask = max(-(-(centre_x2 + spread_x2) // (2 * tick)) * tick, best_bid + tick)
        bid_qty = max(0, min(self.quote_size, self.max_inventory - inventory)) // self.lot * self.lot
        ask_qty = max(0, min(self.quote_size, self.max_inventory + inventory)) // self.lot * self.lot
        return QuoteIntent(self.name, view.instrument, view.ts_ns, bid, bid_qty, ask, ask_qty, mid_x2,
                           reason=f"inventory {inventory}, skew {shift} ticks")


@dataclass(frozen=True)
class MarketMakerParams:
    quote_size: int = field(metadata={"doc": "the size of each quote, in the base asset (whole lots)",
                                      "unit": "quantity", "lots": True})
    max_inventory: int = field(metadata={"doc": "the largest position it may hold either way, in the base asset",
                                         "unit": "quantity"})
    half_spread_ticks: int = field(default=2, metadata={
        "doc": "how far each quote is from the reservation price, in ticks", "ge": 1, "le": 1_000_000})
    skew_ticks: int = field(default=2, metadata={
        "doc": "how far both quotes move against a full inventory, in ticks", "ge": 0, "le": 1_000_000})

    def __post_init__(self) -> None:
        if self.quote_size <= 0:
            raise ParamError("quote_size", "must be positive")
        if self.max_inventory < self.quote_size:
            raise ParamError("max_inventory", f"must be at least quote_size, got {self.max_inventory}")


def _build(setup: StrategySetup, params: MarketMakerParams) -> MarketMaker:
    inst = setup.instruments[0]
    return MarketMaker(setup.name, inst.symbol, inst.tick_size, inst.lot_size, params.half_spread_ticks,
                       params.quote_size, params.max_inventory, params.skew_ticks)


KIND = StrategyKind("market_maker", "two-sided post-only quotes skewed by inventory", MarketMakerParams, _build,
                    quotes=True)
