"""Equity, drawdown, fees in the quote asset, round trips and net P&L against hand-computed cases."""
from __future__ import annotations

from decimal import Decimal

from engine.messages import Fill, Liquidity, Side
from engine.model.equity import DAY_NS, EquityTracker, max_drawdown
from engine.model.numbers import Instrument
from engine.model.portfolio import Portfolio

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
ETH = Instrument("ETH/BTC", "binance", "ETHBTC", "ETH", "BTC", price_decimals=5, qty_decimals=4)
INSTRUMENTS = {"BTC/USDT": BTC}


def fill(side: Side, qty: int, price: int, fee: str, fee_asset: str, parent: str = "P1") -> Fill:
    return Fill("c", parent, "binance", "BTC/USDT", side, qty, price, Decimal(fee), fee_asset, Liquidity.TAKER, 1, 0)


def test_equity_values_every_asset_at_the_mid_and_fees_in_base_are_converted_at_the_fill_price():
    book = Portfolio({"USDT": Decimal("10000")})
    # buy 0.1 BTC @ 60000 = 6000 USDT, fee 0.0001 BTC (worth 6 USDT at the fill's price)
    book.apply_fill(fill(Side.BUY, 10_000, 6_000_000, "0.0001", "BTC"), BTC, "ema")
    assert book.cash == {"USDT": Decimal("4000"), "BTC": Decimal("0.0999")}
    # mid 61000.005 (mid_x2 odd): 4000 + 0.0999 * 61000.005 = 10093.9004995, exactly
    assert book.equity({"BTC/USDT": 12_200_001}, INSTRUMENTS, "USDT") == Decimal("10093.9004995")
    assert book.gross_exposure({"BTC/USDT": 12_200_001}, INSTRUMENTS) == Decimal("6100.0005")
    figures = book.figures("BTC/USDT")
    assert figures.fees == Decimal("6")                                 # 0.0001 * 60000
    # unrealized at the mid on the whole 0.1 BTC bought: 0.1 * (61000.005 - 60000) = 100.0005
    assert figures.unrealized(12_200_001) == Decimal("100.0005")


def test_equity_is_unknown_while_an_asset_held_has_no_mid():
    book = Portfolio({"USDT": Decimal("1"), "ETH": Decimal("2")})
    assert book.equity({"BTC/USDT": 12_000_000}, {"BTC/USDT": BTC, "ETH/BTC": ETH}, "USDT") is None
    assert Portfolio({"USDT": Decimal("5"), "ETH": Decimal(0)}).equity({}, INSTRUMENTS, "USDT") == Decimal(5)


def test_a_fee_in_a_third_asset_is_counted_apart():
    book = Portfolio()
    book.apply_fill(fill(Side.BUY, 1_000, 6_000_000, "0.01", "BNB"), BTC)
    assert book.figures("BTC/USDT").fees == 0 and book.unconverted_fees == {"BNB": Decimal("0.01")}


def test_round_trips_and_wins_are_net_of_fees_and_books_are_kept_by_strategy():
    book = Portfolio({"USDT": Decimal("100000")})
    # trip 1 (strategy a): buy 0.1 @ 60000, sell 0.1 @ 60010: +1 gross, fees 2 USDT: a loss net
    book.apply_fill(fill(Side.BUY, 10_000, 6_000_000, "1", "USDT"), BTC, "a")
    book.apply_fill(fill(Side.SELL, 10_000, 6_001_000, "1", "USDT"), BTC, "a")
    # trip 2 (strategy b): buy 0.1 @ 60000, sell 0.2 @ 60100 (flips short 0.1): +10 gross, fees 1 + 2: a win;
    # the flip's whole fee is the closing trip's, and a short trip opens
    book.apply_fill(fill(Side.BUY, 10_000, 6_000_000, "1", "USDT"), BTC, "b")
    book.apply_fill(fill(Side.SELL, 20_000, 6_010_000, "2", "USDT"), BTC, "b")
    figures = book.figures("BTC/USDT")
    assert (figures.trips, figures.wins, figures.position) == (2, 1, -10_000)
    assert (figures.realized, figures.fees) == (Decimal("11"), Decimal("5"))
    assert book.books() == [("binance", "BTC/USDT", "a"), ("binance", "BTC/USDT", "b")]
    a, b = book.book(("binance", "BTC/USDT", "a")), book.book(("binance", "BTC/USDT", "b"))
    assert (a.realized, a.fees, a.trips, a.wins, a.position) == (Decimal("1"), Decimal("2"), 1, 0, 0)
    assert (b.realized, b.fees, b.trips, b.wins, b.position) == (Decimal("10"), Decimal("3"), 1, 1, -10_000)
    # the short at 60100 marked at a mid of 60000: +10 unrealized
    assert b.unrealized(12_000_000) == Decimal("10")


def test_the_tracker_keeps_the_peak_and_starts_each_utc_day_afresh():
    tracker = EquityTracker()
    views = [tracker.view(ts, Decimal(equity), Decimal(0), {})
             for ts, equity in ((1, "1000"), (2, "1100"), (3, "990"), (DAY_NS, "1050"), (DAY_NS + 1, "900"))]
    assert [(v.peak_equity, v.day_start_equity) for v in views] == [
        (1000, 1000), (1100, 1000), (1100, 1000), (1100, 1050), (1100, 1050)]
    deepest = max_drawdown(views)
    assert (deepest.amount, deepest.peak, deepest.ts_ns) == (Decimal(200), Decimal(1100), DAY_NS + 1)
    assert deepest.fraction == Decimal(200) / Decimal(1100)
    restarted = EquityTracker()
    restarted.restore(views[-1])
    assert restarted.view(DAY_NS + 2, Decimal("950"), Decimal(0), {}).peak_equity == Decimal(1100)


def test_the_first_valuation_starts_the_day_whatever_day_it_falls_on():
    # a tracker whose first valuation is on day 1 (not day 0) still takes it as the day's start
    tracker = EquityTracker()
    first = tracker.view(DAY_NS + 7, Decimal("500"), Decimal("120"), {"USDT": Decimal(380), "BTC": Decimal("0.002")})
    assert (first.equity, first.peak_equity, first.day_start_equity) == (Decimal(500), Decimal(500), Decimal(500))
    # the view carries the exposure and the cash, the cash in asset order
    assert first.gross_exposure == Decimal("120")
    assert first.cash == (("BTC", Decimal("0.002")), ("USDT", Decimal(380)))


def test_a_restored_tracker_keeps_the_day_it_restored_and_its_start():
    tracker = EquityTracker()
    tracker.view(DAY_NS + 5, Decimal("1000"), Decimal(0), {})
    before = tracker.view(DAY_NS + 9, Decimal("1200"), Decimal(0), {})
    restarted = EquityTracker()
    restarted.restore(before)
    # still the same UTC day: the day's start is the restored one, not the first valuation after the restart
    same_day = restarted.view(DAY_NS + 11, Decimal("900"), Decimal(0), {})
    assert (same_day.peak_equity, same_day.day_start_equity) == (Decimal(1200), Decimal(1000))
    next_day = restarted.view(2 * DAY_NS, Decimal("950"), Decimal(0), {})
    assert next_day.day_start_equity == Decimal(950)


def test_of_two_equally_deep_drawdowns_the_first_is_reported():
    tracker = EquityTracker()
    views = [tracker.view(ts, Decimal(equity), Decimal(0), {})
             for ts, equity in ((1, "1000"), (2, "900"), (3, "1100"), (4, "1000"))]
    # 100 below the peak of 1000 at ts 2, then 100 below the peak of 1100 at ts 4: the first one stands
    deepest = max_drawdown(views)
    assert (deepest.amount, deepest.peak, deepest.ts_ns) == (Decimal(100), Decimal(1000), 2)
    assert deepest.fraction == Decimal("0.1")


def test_no_valuation_is_no_drawdown():
    deepest = max_drawdown([])
    assert (deepest.amount, deepest.peak, deepest.ts_ns) == (Decimal(0), Decimal(0), 0)
    assert deepest.fraction == Decimal(0)
