"""Exact numbers: instruments and their fixed-point units.

The book, the orders and the matching engine work in integers: a price is a count of `10**-price_decimals`
of the quote asset, a quantity a count of `10**-qty_decimals` of the base asset. Venue strings are turned
into those integers exactly (never through a binary float), and money that mixes the two (notional, fees,
P&L) is `Decimal`. Reading venue strings is a replay's hottest path, so its two functions have compiled forms
(`_numbers_compiled.pyx`), used where they were built.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from pathlib import Path
from typing import Any, Callable

from engine.model import compiled

_POW10: tuple[int, ...] = tuple(10 ** k for k in range(40))

EXACT = Context(prec=100, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
"""The context of money that must never round (sums of fees, cash, positions' values): a result that would need
rounding, an invalid operation, a division by zero or an overflow raises instead."""


class NumberFormatError(ValueError):
    """A venue sent a number that is not a plain decimal, or finer than the instrument's units."""


def parse_fixed(text: str, decimals: int) -> int:
    """Exact integer count of `10**-decimals` in the decimal string `text` ("61737.63000000" → 6173763000000 at 8).

    Digits beyond `decimals` must be zeros; anything else is refused rather than rounded.
    """
    dot = text.find(".")
    if dot < 0:
        whole, frac = text, ""
    else:
        whole, frac = text[:dot], text[dot + 1:]
    n = len(frac)
    if n > decimals:
        extra = frac[decimals:]
        if extra.strip("0"):
            raise NumberFormatError(f"{text!r} has more than {decimals} decimals")
        frac, n = frac[:decimals], decimals
    negative = whole.startswith("-")
    digits = (whole[1:] if negative else whole) + frac
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise NumberFormatError(f"{text!r} is not a decimal number")
    value = int(digits) * _POW10[decimals - n]
    return -value if negative else value


def increment_precision(increment: str) -> tuple[int, int]:
    """(decimals, units) of a venue's tick or lot increment: "0.01" → (2, 1), "0.5" → (1, 5), "10" → (0, 10)."""
    try:
        exponent = Decimal(increment).normalize().as_tuple().exponent
    except InvalidOperation:
        raise ValueError(f"increment {increment!r} is not a decimal number") from None
    if not isinstance(exponent, int):  # NaN or Infinity: the exponent is a letter
        raise ValueError(f"increment {increment!r} is not a finite decimal number")
    decimals = max(0, -exponent)
    units = parse_fixed(increment, decimals)
    if units <= 0:
        raise ValueError(f"increment {increment!r} is not positive")
    return decimals, units


def to_decimal(value: int, decimals: int) -> Decimal:
    """The Decimal a fixed-point integer stands for."""
    return Decimal(value).scaleb(-decimals)


def format_fixed(value: int, decimals: int) -> str:
    """A fixed-point integer as a plain decimal string with exactly `decimals` places (venue wire form)."""
    sign = "-" if value < 0 else ""
    digits = str(abs(value)).rjust(decimals + 1, "0")
    if decimals == 0:
        return sign + digits
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


class FixedParser(dict[str, int]):
    """`parse_fixed` for one precision, as a dictionary that fills itself: `parser[text]`.

    Venue feeds repeat the same price and quantity strings again and again. A hit is a plain dictionary
    look-up, with no Python call at all (the cost that matters on the hot path); a miss parses the string
    exactly in `__missing__`. The cache is cleared whole when it reaches `max_entries`. Negative numbers
    are refused: no venue sends a negative price or quantity.
    """

    __slots__ = ("decimals", "_max", "_width")

    def __init__(self, decimals: int, max_entries: int = 200_000):
        super().__init__()
        self.decimals = decimals
        self._max = max_entries
        self._width = decimals + 1  # "." and the fraction, in the venue's usual form

    def __missing__(self, text: str) -> int:
        if type(text) is str:
            dot = text.find(".")
            if dot > 0 and len(text) - dot == self._width:  # exactly our number of decimals
                digits = text.replace(".", "", 1)
                if digits.isascii() and digits.isdigit():
                    # kept inline, not through `_keep`: most quantities are misses, each a Python call already
                    if len(self) >= self._max:
                        self.clear()
                    value = self[text] = int(digits)
                    return value
            value = parse_fixed(text, self.decimals)
            if value >= 0 and not text.startswith("-"):
                return self._keep(text, value)
            raise NumberFormatError(f"{text!r} is negative")
        raise NumberFormatError(f"{text!r} is not a decimal string")

    def _keep(self, text: str, value: int) -> int:
        if len(self) >= self._max:
            self.clear()
        self[text] = value
        return value


def _fixed_levels(levels: Iterable[Sequence[str]], price: FixedParser,
                  qty: FixedParser) -> tuple[tuple[int, int], ...]:
    return tuple([(price[p], qty[q]) for p, q in levels])


_SOURCE = Path(__file__).with_name("_numbers_compiled.pyx")


def _compiled_kernel(source: Path = _SOURCE) -> Any:
    """The compiled forms (`_numbers_compiled.pyx`), if they were built from `source` (see `engine.model.compiled`),
    bound to this module's Python forms; None otherwise."""
    kernel = compiled.load("engine.model._numbers_compiled", source)
    if kernel is not None:
        kernel.bind(FixedParser, _fixed_levels, _python_missing)
    return kernel


_python_missing = FixedParser.__missing__
_kernel = _compiled_kernel()
if _kernel is not None:   # the same method, compiled: every venue's parsers read their misses in C
    FixedParser.__missing__ = _kernel.missing  # type: ignore[method-assign]

fixed_levels: Callable[[Any, FixedParser, FixedParser], tuple[tuple[int, int], ...]] = (
    _kernel.fixed_levels if _kernel is not None else _fixed_levels)
"""The exact levels of a venue's `[[price, qty], ...]` list: `tuple([(price[p], qty[q]) for p, q in levels])`.

A depth diff's levels are most of a replay's decoding, so where a C compiler was at hand when the engine was
installed this is the compiled form of the same function (same results and errors, several times faster), and
`FixedParser`'s misses are read by the compiled form of its `__missing__`; the Python forms otherwise."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument on one venue, normalised from the venue's metadata (never by splitting strings)."""
    symbol: str            # canonical "BTC/USDT"
    venue: str             # "binance"
    venue_symbol: str      # "BTCUSDT"
    base: str
    quote: str
    price_decimals: int
    qty_decimals: int
    tick_size: int = 1     # in price units
    lot_size: int = 1      # in quantity units

    def price(self, text: str) -> int:
        return parse_fixed(text, self.price_decimals)

    def qty(self, text: str) -> int:
        return parse_fixed(text, self.qty_decimals)

    def price_decimal(self, value: int) -> Decimal:
        return to_decimal(value, self.price_decimals)

    def qty_decimal(self, value: int) -> Decimal:
        return to_decimal(value, self.qty_decimals)

    def notional(self, price: int, qty: int) -> Decimal:
        """Exact quote-asset value of `qty` at `price`."""
        return to_decimal(price * qty, self.price_decimals + self.qty_decimals)


def format_decimal(value: Decimal, places: int) -> str:
    """`value` rounded half-even to exactly `places` decimals, as a plain string (never exponent notation)."""
    return format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
