"""Native protection over a real loopback socket: our Binance client places a stop-limit and an OCO pair on the
simulated exchange's HTTP server, the market moves, the venue triggers one leg and expires the other, and the
venue's own records (orders, trades, balances) say so."""
from __future__ import annotations

from decimal import Decimal

from adapters.binance.orders import OrderStatus
from adapters.simulated.server import serve_exchange
from engine.messages import ExecType, NewOrderRequest, OrderType, Side, TimeInForce
from tests.adapters.test_simulated_server import BTC, T0_NS, Clock, client, exchange, view


def leg(client_order_id: str, order_type: OrderType, price: str = "0", stop: str = "0",
        list_id: str = "") -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "binance", "BTC/USDT", Side.SELL, BTC.qty("0.1"), BTC.price(price),
                           order_type, TimeInForce.GTC, T0_NS, stop_price=BTC.price(stop), list_id=list_id)


async def test_a_native_stop_limit_and_an_oco_pair_trigger_on_the_venues_book(nursery) -> None:
    clock = Clock()
    venue = exchange(clock.now_ns)
    venue.on_book(view(1))        # bid 60000, ask 60001
    port = await nursery.start(serve_exchange, venue)
    async with client(port, clock.now_ns) as ours:
        placed = await ours.place_order(leg("sl-1", OrderType.STOP_LOSS_LIMIT, "59500", "59600"))
        assert [r.exec_type for r in placed] == [ExecType.NEW]
        listed = await ours.place_oco((leg("b-1-stop", OrderType.STOP_LOSS, stop="59800", list_id="b-1"),
                                       leg("b-1-tp", OrderType.TAKE_PROFIT_LIMIT, "60300", "60300", "b-1")))
        assert sorted((r.client_order_id, r.exec_type) for r in listed) == [("b-1-stop", ExecType.NEW),
                                                                            ("b-1-tp", ExecType.NEW)]
        balances = await ours.balances()
        assert balances["BTC"].locked == Decimal("0.2")    # 0.1 for the stop-limit, 0.1 once for the pair

        clock.ns += 1_000_000_000     # the bid falls to 59700: the pair's stop triggers, not the stop-limit
        venue.on_book(view(2, bids=((BTC.price("59700"), BTC.qty("1")),), asks=((BTC.price("59701"), BTC.qty("1")),)))
        stop = await ours.query_order("BTC/USDT", "b-1-stop")
        take = await ours.query_order("BTC/USDT", "b-1-tp")
        assert (stop.status, stop.cum_qty, take.status) == (OrderStatus.FILLED, BTC.qty("0.1"), OrderStatus.EXPIRED)
        assert (await ours.query_order("BTC/USDT", "sl-1")).status is OrderStatus.NEW

        clock.ns += 1_000_000_000     # the bid falls to 59550: the stop-limit triggers and sells at its limit
        venue.on_book(view(3, bids=((BTC.price("59550"), BTC.qty("1")),), asks=((BTC.price("59551"), BTC.qty("1")),)))
        assert (await ours.query_order("BTC/USDT", "sl-1")).status is OrderStatus.FILLED
        trades = await ours.my_trades("BTC/USDT")
        assert [(t.trade.price, t.trade.qty) for t in trades] == [(BTC.price("59700"), BTC.qty("0.1")),
                                                                  (BTC.price("59550"), BTC.qty("0.1"))]
        balances = await ours.balances()
        assert balances["BTC"] == type(balances["BTC"])(Decimal("0.8"), Decimal(0))   # sold 0.2, nothing held
        assert await ours.open_orders("BTC/USDT") == []

        # a list cancelled as one: both legs end in the answer
        await ours.place_oco((leg("b-2-stop", OrderType.STOP_LOSS, stop="59000", list_id="b-2"),
                              leg("b-2-tp", OrderType.TAKE_PROFIT_LIMIT, "60000", "60000", "b-2")))
        cancelled = await ours.cancel_order_list("BTC/USDT", "b-2")
        assert sorted((r.client_order_id, r.exec_type) for r in cancelled) == [("b-2-stop", ExecType.CANCELED),
                                                                               ("b-2-tp", ExecType.CANCELED)]
        assert (await ours.balances())["BTC"].locked == 0
