"""The single-venue router: aggressive orders go IOC at the risk price, passive ones rest at the touch."""
from __future__ import annotations

from engine.messages import BookView, OrderType, ParentOrder, Side, TimeInForce, Urgency
from engine.model.routing import SingleVenueRouter


def parent(side: Side, urgency: Urgency, limit: int) -> ParentOrder:
    return ParentOrder("P1", "BTC/USDT", side, 100, limit, urgency, 5, 2 * 1000)


def test_aggressive_becomes_an_ioc_limit_at_the_risk_price():
    [child] = SingleVenueRouter("binance").route(parent(Side.BUY, Urgency.AGGRESSIVE, 1010))
    assert (child.order_type, child.tif, child.price, child.qty, child.venue) == (
        OrderType.LIMIT, TimeInForce.IOC, 1010, 100, "binance")


def test_passive_rests_at_our_touch_never_through_the_risk_price():
    router = SingleVenueRouter("binance")
    router.on_view(BookView("BTC/USDT", 1, 1, ((999, 5),), ((1001, 5),)))
    [buy] = router.route(parent(Side.BUY, Urgency.PASSIVE, 1010))
    [sell] = router.route(parent(Side.SELL, Urgency.PASSIVE, 1005))
    assert (buy.tif, buy.price) == (TimeInForce.GTC, 999)
    assert sell.price == 1005  # the ask (1001) is through the risk price: stay at 1005


def test_passive_rests_at_the_touch_as_of_the_decision_not_at_a_newer_one():
    router = SingleVenueRouter("binance")
    decided = ParentOrder("P1", "BTC/USDT", Side.BUY, 100, 1010, Urgency.PASSIVE, 5, 2 * 1000, bid=998, ask=1002)
    router.on_view(BookView("BTC/USDT", 5, 1, ((999, 5),), ((1001, 5),)))   # as of the decision: this one
    assert router.route(decided)[0].price == 999
    router.on_view(BookView("BTC/USDT", 6, 2, ((1_000, 5),), ((1001, 5),)))  # after it: the parent's own touch
    assert router.route(decided)[0].price == 998
