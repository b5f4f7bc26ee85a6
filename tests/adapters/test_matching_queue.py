"""Queue position of resting orders in the pure matching engine: it advances only as the queue model says.

A resting order joins behind what the view displays at its price; public trades at its price move it
forward and, once the queue ahead is gone, fill it; trades through its price fill it up to their size;
cancellations move it as the model says (never, beyond the level's size, for the conservative model).
"""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from math import ceil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.simulated.matching import MatchingEngine
from adapters.simulated.queue import ConservativeQueue, ProbabilisticQueue, queue_model
from engine.messages import (
    BookView,
    ExecType,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from engine.model.numbers import Instrument

BTC = Instrument("BTC/USDT", "sim", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
MAKER, TAKER = Decimal("0.0002"), Decimal("0.001")
BID, ASK = 6_000_000, 6_000_100          # 60000.00 and 60001.00


def engine(queue=None) -> MatchingEngine:
    return MatchingEngine({"BTC/USDT": BTC}, maker_fee=MAKER, taker_fee=TAKER, venue="sim", queue=queue)


def view(update_id: int, bid_qty: int, trades: tuple[Trade, ...] = (), bid: int = BID) -> BookView:
    bids = ((bid, bid_qty), (bid - 100, 9_000)) if bid_qty else ((bid - 100, 9_000),)
    return BookView("BTC/USDT", update_id, update_id, bids, ((ASK, 5_000),), trades)


def sold(qty: int, price: int = BID) -> Trade:
    """A public trade whose taker sold: it hit the bids, where our buys rest."""
    return Trade("BTC/USDT", 0, 0, price, qty, Side.SELL)


def buy(client_order_id: str, qty: int, price: int = BID) -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "sim", "BTC/USDT", Side.BUY, qty, price, OrderType.LIMIT,
                           TimeInForce.GTC, ts_ns=0)


def fills(reports) -> list[tuple[str, int, int]]:
    return [(r.client_order_id, r.last_price, r.last_qty) for r in reports if r.exec_type is ExecType.TRADE]


def test_an_order_joins_behind_the_displayed_quantity_and_trades_at_its_price_move_it_forward() -> None:
    sim = engine()
    sim.on_book(view(1, bid_qty=4_000))
    assert [r.exec_type for r in sim.submit(buy("q", 3_000), now_ns=1)] == [ExecType.NEW]   # 4000 ahead of it
    assert fills(sim.on_book(view(1, 4_000, (sold(3_000),)))) == []                  # 1000 still ahead
    assert fills(sim.on_book(view(1, 4_000, (sold(2_500),)))) == [("q", BID, 1_500)]  # 1000 queue, 1500 ours
    reports = sim.on_book(view(2, 4_000, (sold(9_000),)))
    assert fills(reports) == [("q", BID, 1_500)] and reports[-1].cum_qty == 3_000       # partial fills sum up
    assert not sim.is_open("q")
    assert all(r.liquidity is Liquidity.MAKER and r.fee == MAKER * BTC.notional(BID, r.last_qty)
               for r in reports if r.exec_type is ExecType.TRADE)


def test_conservative_cancellations_never_move_the_order_except_when_the_level_shrinks_below_it() -> None:
    sim = engine()
    sim.on_book(view(1, bid_qty=4_000))
    sim.submit(buy("q", 1_000), now_ns=1)
    sim.on_book(view(2, bid_qty=6_000))          # others join behind: nothing changes for us
    sim.on_book(view(3, bid_qty=5_000))          # 1000 cancelled, maybe behind us: we stay at 4000
    assert fills(sim.on_book(view(3, 5_000, (sold(4_000),)))) == []
    sim.on_book(view(4, bid_qty=1_000))          # 4000 traded; the level shows 1000: ahead of us at most 0
    sim.on_book(view(5, bid_qty=300))            # 700 more cancelled
    assert fills(sim.on_book(view(5, 300, (sold(300),)))) == [("q", BID, 300)]


def test_a_trade_through_the_price_fills_up_to_its_size_at_the_orders_own_price() -> None:
    sim = engine()
    sim.on_book(view(1, bid_qty=4_000))
    sim.submit(buy("q", 5_000), now_ns=1)
    assert fills(sim.on_book(view(2, 0, (sold(2_000, price=BID - 100),)))) == [("q", BID, 2_000)]
    assert fills(sim.on_book(view(2, 0, (Trade("BTC/USDT", 0, 0, ASK, 7_000, Side.BUY),)))) == []   # other side
    assert fills(sim.on_book(view(2, 0, (sold(50_000, price=BID + 100),)))) == []   # above our bid: not us


def test_a_trades_size_is_shared_once_among_our_orders_best_price_then_oldest_first() -> None:
    sim = engine()
    sim.on_book(view(1, bid_qty=0))                           # nobody else at 60000
    sim.submit(buy("first", 1_000), now_ns=1)
    sim.submit(buy("second", 1_000), now_ns=2)
    sim.submit(buy("better", 500, price=BID + 1), now_ns=3)
    assert fills(sim.on_book(view(1, 0, (sold(1_800, price=BID),)))) == [
        ("better", BID + 1, 500), ("first", BID, 1_000), ("second", BID, 300)]


def test_a_price_beyond_the_views_levels_is_unknown_until_it_comes_into_view() -> None:
    sim = engine()
    shallow = BookView("BTC/USDT", 1, 1, ((BID, 1_000),), ((ASK, 5_000),))    # a view one level deep
    sim.on_book(shallow)
    sim.submit(buy("deep", 1_000, price=BID - 300), now_ns=1)                # below what the view shows
    sim.on_book(BookView("BTC/USDT", 2, 2, ((BID, 800),), ((ASK, 5_000),)))   # still unseen: not "empty"
    deeper = BookView("BTC/USDT", 3, 3, ((BID, 800), (BID - 300, 2_500)), ((ASK, 5_000),))
    sim.on_book(deeper)                                                      # seen: 2500 ahead of it
    assert fills(sim.on_book(replace(deeper, trades=(sold(2_500, price=BID - 300),)))) == []
    assert fills(sim.on_book(replace(deeper, trades=(sold(400, price=BID - 300),)))) == [("deep", BID - 300, 400)]


def test_the_probabilistic_model_follows_hftbacktests_power_law_exactly() -> None:
    model = ProbabilisticQueue(power=2)
    # 3000 ahead, 1000 behind; 2000 cancelled: in front with probability 3000² / (3000² + 1000²) = 0.9
    assert model.on_depth(3_000, prev_qty=4_000, new_qty=2_000, traded=0) == 3_000 - 1_800
    # a decrease that trades explain moves nothing more
    assert model.on_depth(3_000, prev_qty=4_000, new_qty=3_000, traded=1_000) == 3_000
    # what the back cannot have lost comes off the front: 500 behind, 1500 cancelled
    in_front = Fraction(3_000 ** 2, 3_000 ** 2 + 500 ** 2)
    expected = 3_000 - in_front * 1_500 + min(500 - (1 - in_front) * 1_500, 0)
    assert model.on_depth(3_000, prev_qty=3_500, new_qty=2_000, traded=0) == ceil(expected)   # rounded up
    assert ConservativeQueue().on_depth(3_000, prev_qty=4_000, new_qty=2_000, traded=0) == 2_000
    assert model.on_depth(0, prev_qty=0, new_qty=0, traded=0) == 0
    assert queue_model("probabilistic", 3).power == 3
    with pytest.raises(ValueError, match="unknown queue model"):
        queue_model("optimistic")


def test_with_cancellations_ahead_the_probabilistic_model_fills_sooner_than_the_conservative_one() -> None:
    def run(model) -> list[tuple[str, int, int]]:
        sim = engine(model)
        sim.on_book(view(1, bid_qty=4_000))
        sim.submit(buy("q", 1_000), now_ns=1)            # 4000 ahead
        sim.on_book(view(2, bid_qty=6_000))              # 2000 join behind it
        sim.on_book(view(3, bid_qty=3_000))              # 3000 cancelled: 0.8 of it in front, by 4000² : 2000²
        return fills(sim.on_book(view(3, 3_000, (sold(2_000),))))
    assert run(ConservativeQueue()) == []                # 3000 still ahead: the trade does not reach it
    assert run(ProbabilisticQueue()) == [("q", BID, 400)]   # 4000 - 2400 = 1600 ahead: 400 of the trade reach it


# ---------------------------------------------------------------- properties: the engine against the model

levels = st.integers(min_value=0, max_value=6_000)
steps = st.lists(st.tuples(st.integers(0, 3_000), levels), min_size=1, max_size=30)   # (trade at price, level)


@given(st.integers(0, 6_000), st.integers(1, 6_000), steps)
def test_conservative_fills_are_exactly_what_the_queue_lets_through(start, qty, events) -> None:
    """Replayed: the level shows `start`, our buy of `qty` joins, then each step a trade at its price and a
    new level size. The fills must be what hftbacktest's risk-averse model lets through, at the order's own
    price, as maker, summing to at most the order (to all of it once filled)."""
    sim = engine()
    sim.on_book(view(1, start))
    sim.submit(buy("q", qty), now_ns=1)
    ahead, expected, got = start, 0, 0
    for n, (traded, level) in enumerate(events, 2):
        if traded:
            reached = max(traded - ahead, 0)
            ahead = max(ahead - traded, 0)
            expected += min(reached, qty - expected)
        ahead = min(ahead, level)
        reports = sim.on_book(view(n, level, (sold(traded),) if traded else ()))
        for report in reports:
            assert report.exec_type is ExecType.TRADE and report.last_price == BID
            assert report.liquidity is Liquidity.MAKER and report.fee == MAKER * BTC.notional(BID, report.last_qty)
            got += report.last_qty
            assert report.cum_qty == got <= qty
        assert got == expected
    assert sim.is_open("q") is (got < qty)
