"""Exact fixed-point numbers: parsing refuses what it cannot represent, formatting round-trips."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from engine.model.numbers import (FixedParser, Instrument, NumberFormatError, format_decimal, format_fixed,
                                  increment_precision, parse_fixed, to_decimal)


@pytest.mark.parametrize("text, decimals, value", [
    ("61737.63000000", 8, 6_173_763_000_000),
    ("0.00000001", 8, 1),
    ("5", 2, 500),
    (".5", 2, 50),
    ("1.2300", 2, 123),     # trailing zeros beyond the precision are fine
    ("-1.5", 1, -15),
])
def test_parse_fixed(text, decimals, value):
    assert parse_fixed(text, decimals) == value


@pytest.mark.parametrize("text", ["1.234", "abc", "", ".", "1e5", "1.2.3", "١٢", "+-1", "--1"])
def test_parse_fixed_refuses_what_is_not_an_exact_decimal_at_that_precision(text):
    with pytest.raises(NumberFormatError):
        parse_fixed(text, 2)


@given(st.integers(min_value=-10**20, max_value=10**20), st.integers(min_value=0, max_value=12))
def test_format_then_parse_round_trips_and_agrees_with_decimal(value, decimals):
    text = format_fixed(value, decimals)
    assert parse_fixed(text, decimals) == value
    assert Decimal(text) == to_decimal(value, decimals)


def test_fixed_parser_caches_refuses_negatives_and_bounds_its_size():
    parser = FixedParser(8, max_entries=2)
    assert parser["1.5"] == 150_000_000 and "1.5" in parser
    with pytest.raises(NumberFormatError, match="negative"):
        parser["-1"]
    with pytest.raises(NumberFormatError):
        parser[5]
    parser["2"], parser["3"]
    assert len(parser) <= 2


def test_notional_and_format_decimal_are_exact():
    inst = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5)
    assert inst.notional(inst.price("60000.01"), inst.qty("0.00003")) == Decimal("1.8000003")
    assert format_decimal(Decimal("2.5"), 0) == "2" and format_decimal(Decimal("1E-7"), 8) == "0.00000010"


@pytest.mark.parametrize("increment, expected", [("0.01", (2, 1)), ("0.5", (1, 5)), ("10", (0, 10)),
                                                 ("0.00100", (3, 1))])
def test_increment_precision(increment, expected):
    assert increment_precision(increment) == expected


@pytest.mark.parametrize("increment, says", [("x", "is not a decimal number"), ("NaN", "is not a finite decimal"),
                                             ("Infinity", "is not a finite decimal"), ("0", "is not positive"),
                                             ("-0.1", "is not positive")])
def test_increment_precision_refuses_what_is_not_a_positive_finite_number_naming_it(increment, says):
    with pytest.raises(ValueError, match=f"increment {increment!r} {says}"):
        increment_precision(increment)
