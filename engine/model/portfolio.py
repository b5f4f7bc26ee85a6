"""Positions, cash and P&L from our fills, exactly.

The portfolio is the one place where fills become positions and money. Positions are integer quantities in
instrument units; money (cash, fees, P&L) is Decimal in an exact context where any rounding raises.

Realized P&L is computed first-in first-out over open lots: a reduction closes the oldest lots at their own
prices, so every realized amount is an integer count of price×qty units and no division (which average-cost
accounting needs, and which cannot be exact) ever happens. The average entry price is still reported, as a
display figure rounded half-even. Realized P&L is gross: fees are kept apart, per asset, and taken out of cash.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from fractions import Fraction

from engine.messages import Fill, Side
from engine.model.numbers import Instrument, to_decimal

_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
"""Money here must never round: a result that would need rounding raises instead."""
_ZERO = Decimal(0)


class _Holding:
    """The open lots of one instrument: all long or all short, oldest first."""

    __slots__ = ("instrument", "position", "lots", "entry_value", "realized_value")

    def __init__(self, instrument: Instrument):
        self.instrument = instrument
        self.position = 0                      # signed, in quantity units
        self.lots: deque[list[int]] = deque()  # [price, remaining qty], same sign as `position`
        self.entry_value = 0                   # sum of price * qty over the open lots (unsigned)
        self.realized_value = 0                # realized P&L in price×qty units

    def trade(self, side: Side, price: int, qty: int) -> int:
        """Apply one fill; return the P&L it realized, in price×qty units."""
        sign = side.sign
        realized = 0
        remaining = qty
        while remaining and self.position * sign < 0:
            lot = self.lots[0]
            closed = min(lot[1], remaining)
            realized += (price - lot[0]) * closed * -sign
            self.entry_value -= lot[0] * closed
            self.position += sign * closed
            remaining -= closed
            lot[1] -= closed
            if lot[1] == 0:
                self.lots.popleft()
        if remaining:
            self.lots.append([price, remaining])
            self.entry_value += price * remaining
            self.position += sign * remaining
        self.realized_value += realized
        return realized


class Portfolio:
    """Position, entry, realized P&L per instrument; fees paid and cash per asset."""

    __slots__ = ("_holdings", "cash", "fees")

    def __init__(self, cash: Mapping[str, Decimal] | None = None):
        self._holdings: dict[str, _Holding] = {}
        self.cash: dict[str, Decimal] = dict(cash or {})   # by asset, starting balances plus every fill
        self.fees: dict[str, Decimal] = {}                  # by asset, paid since start

    def apply_fill(self, fill: Fill, instrument: Instrument) -> Decimal:
        """Account one fill; return the P&L it realized, in the quote asset."""
        if fill.instrument != instrument.symbol:
            raise ValueError(f"fill of {fill.instrument} accounted with instrument {instrument.symbol}")
        holding = self._holdings.get(instrument.symbol)
        if holding is None:
            holding = self._holdings[instrument.symbol] = _Holding(instrument)
        realized = holding.trade(fill.side, fill.price, fill.qty)
        sign, add, cash = fill.side.sign, _EXACT.add, self.cash
        base, quote = instrument.base, instrument.quote   # context methods: exact, and cheaper than a `with`
        scaled = _EXACT.scaleb
        cash[base] = add(cash.get(base, _ZERO), scaled(sign * fill.qty, -instrument.qty_decimals))
        cash[quote] = add(cash.get(quote, _ZERO), scaled(-sign * fill.price * fill.qty,
                                                          -(instrument.price_decimals + instrument.qty_decimals)))
        if fill.fee_asset:
            asset, fee = fill.fee_asset, fill.fee
            cash[asset] = _EXACT.subtract(cash.get(asset, _ZERO), fee)
            self.fees[asset] = add(self.fees.get(asset, _ZERO), fee)
        return _money(realized, instrument)

    def position(self, symbol: str) -> int:
        holding = self._holdings.get(symbol)
        return holding.position if holding else 0

    def average_entry_price(self, symbol: str) -> Decimal | None:
        """Average price of the open lots, half-even to `price_decimals + qty_decimals` places; None when flat."""
        holding = self._holdings.get(symbol)
        if holding is None or holding.position == 0:
            return None
        instrument = holding.instrument
        scaled = round(Fraction(holding.entry_value * 10 ** instrument.qty_decimals, abs(holding.position)))
        return to_decimal(scaled, instrument.price_decimals + instrument.qty_decimals)

    def realized(self, symbol: str) -> Decimal:
        """Realized P&L of `symbol` since start, in its quote asset, gross of fees."""
        holding = self._holdings.get(symbol)
        return _money(holding.realized_value, holding.instrument) if holding else Decimal(0)

    def unrealized(self, symbol: str, mark: int) -> Decimal:
        """P&L of the open position of `symbol` if it were closed at `mark` (price units), in its quote asset."""
        holding = self._holdings.get(symbol)
        if holding is None:
            return Decimal(0)
        direction = 1 if holding.position > 0 else -1
        value = direction * (mark * abs(holding.position) - holding.entry_value)
        return _money(value, holding.instrument)


def _money(value: int, instrument: Instrument) -> Decimal:
    """A count of price×qty units as the quote-asset amount it stands for."""
    return _EXACT.scaleb(value, -(instrument.price_decimals + instrument.qty_decimals))

