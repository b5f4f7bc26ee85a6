"""The order gateway against a simulated venue that fails on purpose, over real sockets.

A door refusal (429 with Retry-After) is retried and the order placed once; an error after the venue
carried the order out is reconciled by asking the venue, never guessed and never resent; a refusal is
REJECTED and not resent.
"""
from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest
import trio

from adapters.binance.client import BinanceClient
from adapters.binance.gateway import GatewayStats, OrderGateway
from adapters.binance.market_data import binance_spot_instrument
from adapters.binance.orders import BinanceOrderCodec
from adapters.binance.signing import Credentials
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.faults import FaultKind, FaultPlan, FaultRule
from adapters.simulated.server import serve_exchange
from engine.messages import (
    BookView,
    ExecType,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from engine.replay.synthetic import LOT, TICK
from engine.runtime import ActorContext, VirtualClock

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)
KEY, SECRET = "gateway-key", "gateway-secret"
T0_NS = 1_700_000_020_000_000_000


class Capture:
    def __init__(self):
        self.sent = []

    async def send(self, msg):
        self.sent.append(msg)


def buy(client_order_id: str, qty: str = "0.1", price: str = "60001") -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "binance", "BTC/USDT", Side.BUY, BTC.qty(qty), BTC.price(price),
                           OrderType.LIMIT, TimeInForce.IOC, ts_ns=0)


async def gateway_run(rules: list[FaultRule], orders: list[NewOrderRequest], usdt: str = "1000000"):
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: T0_NS, maker_fee=Decimal("0.001"),
                                taker_fee=Decimal("0.001"))
    exchange.open_account(KEY, SECRET, {"USDT": Decimal(usdt), "BTC": Decimal(0)})
    exchange.on_book(BookView("BTC/USDT", T0_NS, 1, ((BTC.price("60000"), BTC.qty("1")),),
                              ((BTC.price("60001"), BTC.qty("1")),)))
    stats, reports = GatewayStats(), Capture()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_exchange, exchange, port=0, faults=FaultPlan(1, rules)))
        codec = BinanceOrderCodec(Credentials(KEY, SECRET), [BTC])
        async with BinanceClient(codec, base_url=f"http://127.0.0.1:{port}", now_ns=lambda: T0_NS) as client:
            gateway = OrderGateway(client, {"BTC/USDT": BTC}, stats, backoff_s=0.01)
            ctx = ActorContext("venue", VirtualClock(T0_NS), outputs={"reports": [reports]})
            await gateway.handle(orders, ctx)
        nursery.cancel_scope.cancel()
    return stats, [(r.client_order_id, r.exec_type, r.cum_qty) for r in reports.sent], exchange


@pytest.mark.trio
async def test_a_rate_limited_order_is_retried_and_placed_once():
    rule = FaultRule(FaultKind.RATE_LIMIT, frozenset({1}), retry_after_s=0)
    stats, reports, _ = await gateway_run([rule], [buy("g-1")])
    assert (stats.requests, stats.retries) == (2, 1)
    assert reports == [("g-1", ExecType.NEW, 0), ("g-1", ExecType.TRADE, BTC.qty("0.1"))]


@pytest.mark.trio
async def test_an_order_carried_out_behind_a_server_error_is_reconciled_not_resent():
    rule = FaultRule(FaultKind.SERVER_ERROR, frozenset({1}), executed=True)
    stats, reports, exchange = await gateway_run([rule], [buy("g-1")])
    assert stats.requests == 1 and stats.reconciled == 1 and stats.unresolved == 0
    assert reports == [("g-1", ExecType.TRADE, BTC.qty("0.1"))]  # the venue's own account: filled, once


@pytest.mark.trio
async def test_a_refused_order_is_rejected_and_not_resent():
    stats, reports, _ = await gateway_run([], [buy("g-1", qty="0.5")], usdt="100")
    assert stats.requests == 1 and stats.retries == 0
    assert reports == [("g-1", ExecType.REJECTED, 0)]
