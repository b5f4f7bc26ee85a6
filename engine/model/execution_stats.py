"""Execution quality (transaction cost analysis) of a run, accumulated from fills and order updates.

The run report needs a few numbers that say how well the engine executed: how many child orders and fills,
how much of what it ordered got filled, what it paid against the mid at the moment the strategy signalled
(slippage), and the fees. They must come out byte-identical from two runs of the same replay, so every
figure is computed without floats and `as_dict` renders each Decimal as a string with a fixed number of
places, rounded half-even:

- quantities: exact, at the instrument's `qty_decimals`;
- fill ratios: `RATIO_PLACES`;
- slippage in basis points: `BPS_PLACES`; per fill it is worked out in a 50-digit half-even context;
- fees: per asset, at the finest notional precision (`price_decimals + qty_decimals`) of the instruments
  that charged in that asset.

Figures over all instruments weight each fill by its quantity in base-asset units; the per-instrument
figures are the ones to compare across instruments.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from typing import Any

from engine.messages import Fill, OrderUpdate
from engine.model.numbers import EXACT, Instrument

BPS_PLACES = 4
RATIO_PLACES = 6

WORKING = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Ratios cannot be exact; this fixed context makes their rounding the same in every run."""


class _Totals:
    """Counts and sums over one instrument, or over all of them (quantities then in base-asset units)."""

    __slots__ = ("orders", "fills", "ordered", "filled", "slippage_weighted", "slippage_qty")

    def __init__(self) -> None:
        self.orders = 0
        self.fills = 0
        self.ordered = Decimal(0)            # base-asset quantity of the child orders
        self.filled = Decimal(0)             # base-asset quantity of the fills
        self.slippage_weighted = Decimal(0)  # sum of qty * slippage bps over fills with a signal mid
        self.slippage_qty = Decimal(0)       # sum of qty over those fills

    def fill_ratio(self) -> str:
        if not self.ordered:
            return fixed(Decimal(0), RATIO_PLACES)
        with localcontext(WORKING):
            return fixed(self.filled / self.ordered, RATIO_PLACES)

    def avg_slippage_bps(self) -> str | None:
        if not self.slippage_qty:
            return None
        with localcontext(WORKING):
            return fixed(self.slippage_weighted / self.slippage_qty, BPS_PLACES)


class ExecutionStats:
    """Feed it every `OrderUpdate` and `Fill` of a run; `as_dict()` is the execution section of the report."""

    __slots__ = ("_total", "_by_instrument", "_instruments", "_order_states", "_fees", "_fee_places")

    def __init__(self) -> None:
        self._total = _Totals()
        self._by_instrument: dict[str, _Totals] = {}
        self._instruments: dict[str, Instrument] = {}
        self._order_states: dict[str, str] = {}  # client order id → latest state
        self._fees: dict[str, Decimal] = {}      # by asset
        self._fee_places: dict[str, int] = {}    # by asset

    def on_order(self, update: OrderUpdate, instrument: Instrument) -> None:
        """Count a child order (rejected ones too) and its quantity the first time it is seen; track its state."""
        first_sight = update.client_order_id not in self._order_states
        self._order_states[update.client_order_id] = update.state
        if not first_sight:
            return
        with localcontext(EXACT):
            qty = instrument.qty_decimal(update.qty)
            for totals in (self._total, self._totals(instrument)):
                totals.orders += 1
                totals.ordered += qty

    def on_fill(self, fill: Fill, instrument: Instrument) -> None:
        bps = slippage_bps(fill, fill.signal_mid_x2) if fill.signal_mid_x2 > 0 else None  # no mid at the signal: no slippage
        with localcontext(EXACT):
            qty = instrument.qty_decimal(fill.qty)
            if fill.fee_asset:
                self._fees[fill.fee_asset] = self._fees.get(fill.fee_asset, Decimal(0)) + fill.fee
                self._fee_places[fill.fee_asset] = max(self._fee_places.get(fill.fee_asset, 0),
                                                       instrument.price_decimals + instrument.qty_decimals)
            for totals in (self._total, self._totals(instrument)):
                totals.fills += 1
                totals.filled += qty
                if bps is not None:
                    with localcontext(WORKING):
                        totals.slippage_weighted += qty * bps
                    totals.slippage_qty += qty

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures: ints, strings and None, every dict's keys sorted."""
        instruments = {}
        for symbol in sorted(self._by_instrument):
            totals = self._by_instrument[symbol]
            qty_decimals = self._instruments[symbol].qty_decimals
            instruments[symbol] = {
                "avg_slippage_bps": totals.avg_slippage_bps(),
                "fill_ratio": totals.fill_ratio(),
                "filled_qty": fixed(totals.filled, qty_decimals),
                "fills": totals.fills,
                "ordered_qty": fixed(totals.ordered, qty_decimals),
                "orders": totals.orders,
            }
        states: dict[str, int] = {}
        for state in self._order_states.values():
            states[state] = states.get(state, 0) + 1
        return {
            "avg_slippage_bps": self._total.avg_slippage_bps(),
            "fees": {asset: fixed(self._fees[asset], self._fee_places[asset]) for asset in sorted(self._fees)},
            "fill_ratio": self._total.fill_ratio(),
            "fills": self._total.fills,
            "instruments": instruments,
            "orders": self._total.orders,
            "orders_by_state": {state: states[state] for state in sorted(states)},
        }

    def _totals(self, instrument: Instrument) -> _Totals:
        totals = self._by_instrument.get(instrument.symbol)
        if totals is None:
            totals = self._by_instrument[instrument.symbol] = _Totals()
            self._instruments[instrument.symbol] = instrument
        return totals


def slippage_bps(fill: Fill, mid_x2: int) -> Decimal:
    """What the fill paid against the mid `mid_x2 / 2` in basis points, positive when we paid more than the mid
    (bought above it, sold below it).

    (price - mid) / mid = (2 * price - mid_x2) / mid_x2, so it stays in integers until the one division.
    """
    with localcontext(WORKING):
        return Decimal(fill.side.sign * (2 * fill.price - mid_x2) * 10_000) / Decimal(mid_x2)


def fixed(value: Decimal, places: int) -> str:
    """`value` rounded half-even to exactly `places` decimals, as a plain string (no exponent, no "-0")."""
    with localcontext(WORKING):
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        return format(rounded if rounded else abs(rounded), "f")
