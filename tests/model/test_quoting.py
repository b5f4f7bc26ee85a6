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


def _other(table: OrderTable, side: Side, price: int, child_id: str):
    """A resting limit order of ours that is not a quote."""
    return _resting(table, ChildOrder("P", "binance", "BTC/USDT", side, 1, price, OrderType.LIMIT, TimeInForce.GTC,
                                      1, 200, child_id=child_id))


def test_a_side_is_tried_once_per_intent():
    plan = plan_quotes(intent(), {}, [], lambda child_id: child_id == "Q1.b", "binance", 5)
    assert [c.child_id for c in plan.place] == ["Q1.a"]


def test_a_placed_quote_carries_the_intent_it_answers():
    plan = plan_quotes(intent("Q7", bid_qty=1, ask_qty=0), {}, [], unused, "binance", 5)
    [bid] = plan.place
    # a wanted size of one unit is placed; a size of 0 is no quote on that side
    assert (bid.parent_id, bid.venue, bid.instrument, bid.qty, bid.ts_ns, bid.signal_mid_x2, bid.limit_price) == (
        "Q7", "binance", "BTC/USDT", 1, 5, 200, 99)


def test_a_partly_filled_quote_is_kept_while_what_is_left_is_no_more_than_wanted():
    table = OrderTable("t")
    bid = _resting(table, plan_quotes(intent(ask_qty=0), {}, [], unused, "binance", 5).place[0])
    table.apply(ExecutionReport("binance", bid.client_order_id, "v", ExecType.TRADE, 2, 6, last_qty=6, last_price=99))
    # 10 ordered, 6 filled: 4 left
    assert plan_quotes(intent("Q2", bid_qty=4, ask_qty=0), {Side.BUY: bid}, table.open_orders(), unused,
                       "binance", 7).cancel == []
    assert plan_quotes(intent("Q3", bid_qty=3, ask_qty=0), {Side.BUY: bid}, table.open_orders(), unused,
                       "binance", 8).cancel == [bid]
    table.apply(ExecutionReport("binance", bid.client_order_id, "v", ExecType.TRADE, 3, 9, last_qty=3, last_price=99))
    # one unit left, one wanted: kept
    assert plan_quotes(intent("Q4", bid_qty=1, ask_qty=0), {Side.BUY: bid}, table.open_orders(), unused,
                       "binance", 9).cancel == []


def test_an_ask_at_our_own_bid_is_held_and_both_sides_held_count_twice():
    table = OrderTable("t")
    bid = _resting(table, plan_quotes(intent(ask_qty=0), {}, [], unused, "binance", 5).place[0])
    # the ask now wanted is exactly at our resting bid (99): it could trade with it
    at = plan_quotes(intent("Q2", bid=97, ask=99), {Side.BUY: bid}, table.open_orders(), unused, "binance", 6)
    assert at.cancel == [bid] and at.place == [] and at.held == 1
    above = plan_quotes(intent("Q3", bid=97, ask=100), {Side.BUY: bid}, table.open_orders(), unused, "binance", 7)
    assert [c.side for c in above.place] == [Side.SELL] and above.held == 0
    # other orders of ours (not quotes) in the way of both sides: a buy at 101 and a sell at 99
    others = OrderTable("o")
    buy, sell = _other(others, Side.BUY, 101, "P.1"), _other(others, Side.SELL, 99, "P.2")
    both = plan_quotes(intent("Q4", bid=99, ask=101), {}, [buy, sell], unused, "binance", 8)
    assert both.place == [] and both.held == 2


def test_our_orders_on_the_same_side_are_no_obstacle_whatever_comes_after_them():
    others = OrderTable("o")
    buy, sell = _other(others, Side.BUY, 100, "P.1"), _other(others, Side.SELL, 99, "P.2")
    # the bid at 99 passes our buy at 100 (same side) but reaches our sell at 99, listed after it: held
    plan = plan_quotes(intent("Q5", ask_qty=0), {}, [buy, sell], unused, "binance", 9)
    assert plan.place == [] and plan.held == 1
