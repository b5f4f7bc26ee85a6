"""Positions, cash and P&L from our fills, exactly.

The portfolio is the one place where fills become positions and money. Positions are integer quantities in
instrument units; money (cash, fees, P&L) is Decimal in an exact context where any rounding raises.

Realized P&L is computed first-in first-out over open lots: a reduction closes the oldest lots at their own
prices, so every realized amount is an integer count of price×qty units and no division (which average-cost
accounting needs, and which cannot be exact) ever happens. The average entry price is still reported, as a
display figure rounded half-even. Realized P&L is gross: fees are kept apart, per asset, and taken out of cash.

Each fill's fee is also converted to the instrument's quote asset at the fill's own price (a fee in the base asset
is worth the fill price per unit; one in the quote asset is itself; one in a third asset is left unconverted and
counted apart), so net P&L can be stated per instrument, and per venue, instrument and strategy (`books`). A round
trip (flat, to a position, back to flat or through it) is a win when its realized P&L net of its fees is positive.

Equity is every asset held valued in one currency at the book mids (`equity`); an asset that cannot be valued
(no mid of an instrument pairing it with the currency) makes the equity unknown rather than wrong.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from fractions import Fraction

from engine.messages import Fill, Side
from engine.model.numbers import EXACT, Instrument, to_decimal

_ZERO = Decimal(0)
_HALF = Decimal("0.5")
_EXACT_DIV = Context(prec=40, traps=[InvalidOperation, DivisionByZero, Overflow])
"""The one inexact step: the price of a quote asset in a base asset (1 / mid), to 40 significant digits."""


class _Holding:
    """The open lots of one instrument: all long or all short, oldest first."""

    __slots__ = ("instrument", "position", "lots", "entry_value", "realized_value", "fees_quote", "trip_value",
                 "trip_fees", "trips", "wins")

    def __init__(self, instrument: Instrument):
        self.instrument = instrument
        self.position = 0                      # signed, in quantity units
        self.lots: deque[list[int]] = deque()  # [price, remaining qty], same sign as `position`
        self.entry_value = 0                   # sum of price * qty over the open lots (unsigned)
        self.realized_value = 0                # realized P&L in price×qty units
        self.fees_quote = _ZERO                # fees converted to the quote asset at each fill's price
        self.trip_value = 0                    # realized P&L of the round trip under way, price×qty units
        self.trip_fees = _ZERO                 # its fees, in the quote asset
        self.trips = 0                         # round trips closed, and how many of them won
        self.wins = 0

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

    def account(self, before: int, realized: int, fee_quote: Decimal) -> None:
        """Book one fill's realized P&L and its fee (in the quote asset) to the net figures and the round trip; a
        trip closes when the position, `before` the fill, is flat after it or on the other side (the flipping fill's
        whole fee is the closing trip's)."""
        self.fees_quote = EXACT.add(self.fees_quote, fee_quote)
        self.trip_value += realized
        self.trip_fees = EXACT.add(self.trip_fees, fee_quote)
        after = self.position
        if before and (after == 0 or (before > 0) != (after > 0)):
            self.trips += 1
            self.wins += _money(self.trip_value, self.instrument) > self.trip_fees
            self.trip_value, self.trip_fees = 0, _ZERO


Book = tuple[str, str, str]
"""Where a position is kept apart: (venue, instrument, strategy)."""


class Portfolio:
    """Position, entry, realized P&L per instrument (and per book, where fills name their strategy); fees paid and
    cash per asset."""

    __slots__ = ("_holdings", "_books", "cash", "fees", "unconverted_fees")

    def __init__(self, cash: Mapping[str, Decimal] | None = None):
        self._holdings: dict[str, _Holding] = {}
        self._books: dict[Book, _Holding] = {}
        self.cash: dict[str, Decimal] = dict(cash or {})   # by asset, starting balances plus every fill
        self.fees: dict[str, Decimal] = {}                  # by asset, paid since start
        self.unconverted_fees: dict[str, Decimal] = {}      # by asset: fees in neither asset of their instrument

    def apply_fill(self, fill: Fill, instrument: Instrument, strategy: str | None = None) -> Decimal:
        """Account one fill (to the book of `strategy` too, where it is known); return the P&L it realized, in the
        quote asset."""
        if fill.instrument != instrument.symbol:
            raise ValueError(f"fill of {fill.instrument} accounted with instrument {instrument.symbol}")
        holding = self._holdings.get(instrument.symbol)
        if holding is None:
            holding = self._holdings[instrument.symbol] = _Holding(instrument)
        fee_quote = self._fee_in_quote(fill, instrument)
        before = holding.position
        realized = holding.trade(fill.side, fill.price, fill.qty)
        holding.account(before, realized, fee_quote)
        if strategy is not None:
            key = (fill.venue, instrument.symbol, strategy)
            book = self._books.get(key)
            if book is None:
                book = self._books[key] = _Holding(instrument)
            before = book.position
            book.account(before, book.trade(fill.side, fill.price, fill.qty), fee_quote)
        sign, add, cash = fill.side.sign, EXACT.add, self.cash
        base, quote = instrument.base, instrument.quote   # context methods: exact, and cheaper than a `with`
        scaled = EXACT.scaleb
        cash[base] = add(cash.get(base, _ZERO), scaled(sign * fill.qty, -instrument.qty_decimals))
        cash[quote] = add(cash.get(quote, _ZERO), scaled(-sign * fill.price * fill.qty,
                                                          -(instrument.price_decimals + instrument.qty_decimals)))
        if fill.fee_asset:
            asset, fee = fill.fee_asset, fill.fee
            cash[asset] = EXACT.subtract(cash.get(asset, _ZERO), fee)
            self.fees[asset] = add(self.fees.get(asset, _ZERO), fee)
        return _money(realized, instrument)

    def _fee_in_quote(self, fill: Fill, instrument: Instrument) -> Decimal:
        """The fill's fee in the quote asset at the fill's price; a fee in a third asset is counted apart, as 0."""
        if not fill.fee_asset or fill.fee_asset == instrument.quote:
            return fill.fee
        if fill.fee_asset == instrument.base:
            return EXACT.multiply(fill.fee, to_decimal(fill.price, instrument.price_decimals))
        self.unconverted_fees[fill.fee_asset] = EXACT.add(self.unconverted_fees.get(fill.fee_asset, _ZERO), fill.fee)
        return _ZERO

    def symbols(self) -> list[str]:
        """The instruments traded, sorted."""
        return sorted(self._holdings)

    def books(self) -> list[Book]:
        """The (venue, instrument, strategy) books traded, sorted."""
        return sorted(self._books)

    def book(self, key: Book) -> "Figures":
        """The figures of one book (see `figures`)."""
        return _figures(self._books[key])

    def figures(self, symbol: str) -> "Figures":
        """Position, fees in the quote asset and round trips of one instrument."""
        return _figures(self._holdings[symbol])

    def equity(self, marks_x2: Mapping[str, int], instruments: Mapping[str, Instrument], currency: str) -> Decimal | None:
        """Every asset held, valued in `currency` at the mids (`marks_x2`: twice the mid per instrument); None when
        an asset held cannot be valued (no mid of an instrument pairing it with `currency`)."""
        total = _ZERO
        for asset, amount in self.cash.items():
            if asset == currency:
                total = EXACT.add(total, amount)
            elif amount:
                price = _price_in(asset, currency, marks_x2, instruments)
                if price is None:
                    return None
                total = EXACT.add(total, EXACT.multiply(amount, price))
        return total

    def gross_exposure(self, marks_x2: Mapping[str, int], instruments: Mapping[str, Instrument]) -> Decimal:
        """The sum of every open position's absolute value at its mid, in its quote asset (instruments without a
        mid count nothing)."""
        total = _ZERO
        for symbol, holding in self._holdings.items():
            mid_x2 = marks_x2.get(symbol)
            if holding.position and mid_x2 is not None:
                total = EXACT.add(total, EXACT.multiply(to_decimal(abs(holding.position), holding.instrument.qty_decimals),
                                                          _mid(mid_x2, instruments[symbol])))
        return total

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


@dataclass(frozen=True, slots=True)
class Figures:
    """What the report says of one instrument or book: its position and P&L in its quote asset."""
    instrument: Instrument
    position: int
    entry_value: int          # price×qty units of the open lots
    realized: Decimal         # gross of fees
    fees: Decimal             # converted to the quote asset at each fill's price
    trips: int                # round trips closed
    wins: int                 # those that gained net of their fees

    def unrealized(self, mid_x2: int | None) -> Decimal:
        """The open position's P&L if closed at the mid (0 without one)."""
        if mid_x2 is None or not self.position:
            return _ZERO
        value = EXACT.multiply(to_decimal(self.position, self.instrument.qty_decimals), _mid(mid_x2, self.instrument))
        return EXACT.subtract(value, _money(self.entry_value * (1 if self.position > 0 else -1), self.instrument))


def _figures(holding: _Holding) -> Figures:
    return Figures(holding.instrument, holding.position, holding.entry_value,
                   _money(holding.realized_value, holding.instrument), holding.fees_quote, holding.trips, holding.wins)


def _mid(mid_x2: int, instrument: Instrument) -> Decimal:
    """Half of twice the mid, exactly, as a price."""
    return EXACT.multiply(to_decimal(mid_x2, instrument.price_decimals), _HALF)


def _price_in(asset: str, currency: str, marks_x2: Mapping[str, int],
              instruments: Mapping[str, Instrument]) -> Decimal | None:
    """The price of one `asset` in `currency` at the mid of an instrument pairing them (either way round)."""
    for symbol, inst in instruments.items():
        mid_x2 = marks_x2.get(symbol)
        if mid_x2 is None or mid_x2 <= 0:
            continue
        if (inst.base, inst.quote) == (asset, currency):
            return _mid(mid_x2, inst)
        if (inst.base, inst.quote) == (currency, asset):
            return _EXACT_DIV.divide(1, _mid(mid_x2, inst))
    return None


def _money(value: int, instrument: Instrument) -> Decimal:
    """A count of price×qty units as the quote-asset amount it stands for."""
    return EXACT.scaleb(value, -(instrument.price_decimals + instrument.qty_decimals))

