"""The portfolio: positions, FIFO realized P&L, cash and fees, exact to the last unit."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.messages import Fill, Liquidity, Side
from engine.model.numbers import Instrument
from engine.model.portfolio import Portfolio

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)


def fill(side: Side, qty: int, price: int, fee: str = "0", fee_asset: str = "USDT",
         instrument: str = "BTC/USDT") -> Fill:
    return Fill(client_order_id="c-1", parent_id="P1", venue="binance", instrument=instrument, side=side, qty=qty,
                price=price, fee=Decimal(fee), fee_asset=fee_asset, liquidity=Liquidity.TAKER, ts_ns=1,
                signal_mid_x2=0)


def test_hand_computed_round_trip_through_a_flip() -> None:
    book = Portfolio(cash={"USDT": Decimal("10000")})
    # buy 0.1 @ 60000 (fee 6 USDT), buy 0.05 @ 61000
    assert book.apply_fill(fill(Side.BUY, 10_000, 6_000_000, fee="6"), BTC) == 0
    assert book.apply_fill(fill(Side.BUY, 5_000, 6_100_000), BTC) == 0
    assert book.position("BTC/USDT") == 15_000
    assert book.average_entry_price("BTC/USDT") == Decimal("60333.3333333")  # 9050 / 0.15, half-even
    assert book.unrealized("BTC/USDT", 6_200_000) == Decimal("250")          # 0.15*62000 - 9050

    # sell 0.12 @ 62000: FIFO closes 0.1 @ 60000 (+200) and 0.02 @ 61000 (+20); fee 0.001 BNB
    assert book.apply_fill(fill(Side.SELL, 12_000, 6_200_000, fee="0.001", fee_asset="BNB"), BTC) == Decimal("220")
    assert (book.position("BTC/USDT"), book.average_entry_price("BTC/USDT")) == (3_000, Decimal("61000"))

    # sell 0.05 @ 59000: closes 0.03 @ 61000 (-60), opens a 0.02 short @ 59000
    assert book.apply_fill(fill(Side.SELL, 5_000, 5_900_000), BTC) == Decimal("-60")
    assert (book.position("BTC/USDT"), book.average_entry_price("BTC/USDT")) == (-2_000, Decimal("59000"))
    assert book.unrealized("BTC/USDT", 5_800_000) == Decimal("20")           # a short gains as the price falls
    assert book.unrealized("BTC/USDT", 6_000_000) == Decimal("-20")

    # buy 0.02 @ 60000 closes the short (-20): flat
    assert book.apply_fill(fill(Side.BUY, 2_000, 6_000_000), BTC) == Decimal("-20")
    assert book.position("BTC/USDT") == 0
    assert book.average_entry_price("BTC/USDT") is None
    assert book.unrealized("BTC/USDT", 7_000_000) == 0
    assert book.realized("BTC/USDT") == Decimal("140")
    assert book.fees == {"USDT": Decimal("6"), "BNB": Decimal("0.001")}
    # 10000 - 6000 - 6 - 3050 + 7440 + 2950 - 1200 = 10134; base bought and sold back to zero
    assert book.cash == {"USDT": Decimal("10134"), "BTC": Decimal("0"), "BNB": Decimal("-0.001")}


def test_fee_in_the_base_asset_reduces_base_cash_not_the_position() -> None:
    book = Portfolio()
    book.apply_fill(fill(Side.BUY, 100_000, 6_000_000, fee="0.001", fee_asset="BTC"), BTC)
    assert book.position("BTC/USDT") == 100_000
    assert book.cash == {"BTC": Decimal("0.999"), "USDT": Decimal("-60000")}


def test_unknown_instrument_is_flat_and_a_mismatched_fill_is_refused() -> None:
    book = Portfolio()
    assert (book.position("ETH/USDT"), book.realized("ETH/USDT"), book.unrealized("ETH/USDT", 1)) == (0, 0, 0)
    assert book.average_entry_price("ETH/USDT") is None
    with pytest.raises(ValueError):
        book.apply_fill(fill(Side.BUY, 1, 1, instrument="ETH/USDT"), BTC)


def test_money_is_exact_beyond_the_default_decimal_precision() -> None:
    fine = Instrument("X/Y", "sim", "XY", "X", "Y", price_decimals=18, qty_decimals=18)
    book = Portfolio()
    book.apply_fill(fill(Side.BUY, 10**18 + 1, 10**18 + 1, instrument="X/Y"), fine)
    assert book.cash["Y"] == Decimal("-1.000000000000000002000000000000000001")  # 37 digits, not rounded to 28
    book.apply_fill(fill(Side.SELL, 10**18 + 1, 10**18 + 3, instrument="X/Y"), fine)
    assert book.realized("X/Y") == Decimal("2.000000000000000002E-18")   # 2e-18 * 1.000000000000000001
    assert book.cash["Y"] == book.realized("X/Y")


lots = st.tuples(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**8))


@given(st.lists(lots, min_size=1, max_size=12).flatmap(lambda buys: st.tuples(st.just(buys), st.permutations(buys))))
def test_buying_and_selling_the_same_lots_realizes_nothing(trades) -> None:
    buys, sells = trades
    book = Portfolio()
    for qty, price in buys:
        book.apply_fill(fill(Side.BUY, qty, price), BTC)
    for qty, price in sells:
        book.apply_fill(fill(Side.SELL, qty, price), BTC)
    assert book.position("BTC/USDT") == 0
    assert book.realized("BTC/USDT") == 0
    assert book.cash["USDT"] == 0 and book.cash["BTC"] == 0


@given(st.lists(st.tuples(st.sampled_from(Side), st.integers(1, 10**6), st.integers(1, 10**8),
                          st.integers(0, 10**4)), min_size=1, max_size=25),
       st.integers(min_value=1, max_value=10**8))
def test_realized_plus_unrealized_is_cash_change_plus_position_value(fills, mark: int) -> None:
    book = Portfolio()
    realized_sum = Decimal(0)
    for side, qty, price, fee_units in fills:
        realized_sum += book.apply_fill(fill(side, qty, price, fee=f"{fee_units}E-6"), BTC)
    position_value = BTC.notional(mark, book.position("BTC/USDT"))
    fees = book.fees.get("USDT", Decimal(0))
    assert realized_sum == book.realized("BTC/USDT")
    assert book.realized("BTC/USDT") + book.unrealized("BTC/USDT", mark) - fees == (
        book.cash["USDT"] + position_value)
    assert book.cash["BTC"] == BTC.qty_decimal(book.position("BTC/USDT"))
