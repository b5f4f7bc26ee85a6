"""Keeping quotes working: place both sides, keep what is still wanted, cancel and wait before replacing, and
never let our bid reach our own ask."""
from __future__ import annotations

from engine.messages import ChildOrder, ExecType, ExecutionReport, OrderType, QuoteIntent, Side, TimeInForce
from engine.model.orders import OrderTable
from engine.model.quoting import plan_quotes


def intent(quote_id="Q1", bid=99, bid_qty=10, ask=101, ask_qty=10) -> QuoteIntent:
    return QuoteIntent("mm", "BTC/USDT", 1, bid, bid_qty, ask, ask_qty, 200, quote_id=quote_id)


def unused(_child_id: str) -> bool:
    return False


def test_both_sides_are_placed_post_only_when_nothing_rests():
    plan = plan_quotes(intent(), {}, [], unused, "binance", 5)
    assert [(c.side, c.price, c.qty, c.order_type, c.tif, c.child_id) for c in plan.place] == [
        (Side.BUY, 99, 10, OrderType.LIMIT_MAKER, TimeInForce.GTC, "Q1.b"),
        (Side.SELL, 101, 10, OrderType.LIMIT_MAKER, TimeInForce.GTC, "Q1.a")]
    assert plan.cancel == [] and plan.held == 0


def _resting(table: OrderTable, child: ChildOrder):
    order = table.create(child, 1)
    table.apply(ExecutionReport("binance", order.client_order_id, "v", ExecType.NEW, 1, 0))
    return order


def test_a_quote_still_wanted_is_kept_and_one_that_moved_is_cancelled_before_it_is_replaced():
    table = OrderTable("t")
    first = plan_quotes(intent(), {}, [], unused, "binance", 5)
    bid, ask = (_resting(table, child) for child in first.place)
    quotes = {Side.BUY: bid, Side.SELL: ask}
    same = plan_quotes(intent("Q2"), quotes, table.open_orders(), unused, "binance", 6)
    assert same.place == [] and same.cancel == []
    moved = plan_quotes(intent("Q3", bid=98), quotes, table.open_orders(), unused, "binance", 7)
    assert moved.cancel == [bid] and moved.place == []     # the new bid waits until the old one has ended
    smaller = plan_quotes(intent("Q4", ask_qty=5), quotes, table.open_orders(), unused, "binance", 8)
    assert smaller.cancel == [ask]                         # more left than now wanted: cancelled


def test_self_trade_prevention_holds_a_bid_that_would_reach_our_own_ask():
    table = OrderTable("t")
    ask = _resting(table, plan_quotes(intent(bid_qty=0), {}, [], unused, "binance", 5).place[0])
    # the market moved up: the bid now wanted is at our resting ask, whose replacement is not placed yet
    plan = plan_quotes(intent("Q2", bid=101, ask=103), {Side.SELL: ask}, table.open_orders(), unused, "binance", 6)
    assert plan.cancel == [ask] and plan.place == [] and plan.held == 1
    below = plan_quotes(intent("Q3", bid=100, ask=103), {Side.SELL: ask}, table.open_orders(), unused, "binance", 7)
    assert [c.side for c in below.place] == [Side.BUY] and below.held == 0


def test_a_side_is_tried_once_per_intent():
    plan = plan_quotes(intent(), {}, [], lambda child_id: child_id == "Q1.b", "binance", 5)
    assert [c.child_id for c in plan.place] == ["Q1.a"]
