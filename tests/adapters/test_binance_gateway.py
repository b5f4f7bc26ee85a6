"""The order gateway against a simulated venue that fails on purpose, over real sockets.

A door refusal (429 with Retry-After) is retried and the order placed once; an error after the venue carried
the order out is told to the order manager as UNKNOWN, never guessed and never resent, and the venue's records
then say what happened; a refusal is REJECTED and not resent; a refused key stops order entry; a cancel of an
order the venue no longer holds open is NOT_FOUND.
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
    CancelRequest,
    ExecType,
    FailureClass,
    NewOrderRequest,
    OrderType,
    ReconcileReply,
    ReconcileRequest,
    RequestFailed,
    RequestKind,
    Side,
    TimeInForce,
    VenueOrderStatus,
    VenueSession,
)
from engine.replay.synthetic import LOT, TICK
from engine.runtime import ActorContext, VirtualClock

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)
KEY, SECRET = "gateway-key", "gateway-secret"
T0_NS = 1_700_000_020_000_000_000


class Capture:
    def __init__(self):
        self.sent = []

    def send_nowait(self, msg):
        self.sent.append(msg)
        return True


def buy(client_order_id: str, qty: str = "0.1", price: str = "60001") -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "binance", "BTC/USDT", Side.BUY, BTC.qty(qty), BTC.price(price),
                           OrderType.LIMIT, TimeInForce.IOC, ts_ns=T0_NS)


async def gateway_run(rules: list[FaultRule], requests: list, usdt: str = "1000000", secret: str = SECRET,
                      start: bool = False):
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: T0_NS, maker_fee=Decimal("0.001"),
                                taker_fee=Decimal("0.001"))
    exchange.open_account(KEY, SECRET, {"USDT": Decimal(usdt), "BTC": Decimal(0)})
    exchange.on_book(BookView("BTC/USDT", T0_NS, 1, ((BTC.price("60000"), BTC.qty("1")),),
                              ((BTC.price("60001"), BTC.qty("1")),)))
    stats, reports = GatewayStats(), Capture()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_exchange, exchange, port=0, faults=FaultPlan(1, rules)))
        codec = BinanceOrderCodec(Credentials(KEY, secret), [BTC])
        async with BinanceClient(codec, base_url=f"http://127.0.0.1:{port}", now_ns=lambda: T0_NS) as client:
            gateway = OrderGateway(client, stats, "binance", backoff_s=0.01)
            ctx = ActorContext("venue", VirtualClock(T0_NS), outputs={"reports": [reports]})
            if start:
                await gateway.start(ctx)
            for request in requests:
                await gateway.handle([request], ctx)
        nursery.cancel_scope.cancel()
    return stats, reports.sent, exchange


def brief(answers) -> list:
    return [(r.client_order_id, r.exec_type, r.cum_qty) for r in answers]


@pytest.mark.trio
async def test_a_rate_limited_order_is_retried_and_placed_once():
    rule = FaultRule(FaultKind.RATE_LIMIT, frozenset({1}), retry_after_s=0)
    stats, answers, _ = await gateway_run([rule], [buy("g-1")])
    assert (stats.requests, stats.retries) == (2, 1)
    assert brief(answers) == [("g-1", ExecType.NEW, 0), ("g-1", ExecType.TRADE, BTC.qty("0.1"))]
    assert answers[1].trade_id != ""


@pytest.mark.trio
async def test_an_order_carried_out_behind_a_server_error_is_unknown_and_the_venues_records_say_it_filled():
    rule = FaultRule(FaultKind.SERVER_ERROR, frozenset({1}), executed=True)
    query = ReconcileRequest("1-1", "binance", "BTC/USDT", ("g-1",), 0, T0_NS)
    stats, answers, exchange = await gateway_run([rule], [buy("g-1"), query])
    failed, reply = answers
    assert type(failed) is RequestFailed
    assert (failed.request, failed.failure, failed.client_order_id) == (RequestKind.NEW, FailureClass.UNKNOWN, "g-1")
    assert stats.unknown == 1
    assert type(reply) is ReconcileReply and reply.error == ""
    [state] = reply.orders
    assert (state.status, state.cum_qty, state.trades_complete) == (VenueOrderStatus.FILLED, BTC.qty("0.1"), True)
    assert [t.qty for t in state.trades] == [BTC.qty("0.1")]   # one order at the venue, filled once: never resent


@pytest.mark.trio
async def test_the_venues_records_of_every_order_since_a_time_answer_a_full_reconciliation():
    query = ReconcileRequest("1-2", "binance", "BTC/USDT", (), T0_NS - 1_000_000_000, T0_NS)
    _, answers, _ = await gateway_run([], [buy("g-1"), buy("g-2", qty="0.2"), query])
    reply = answers[-1]
    assert [(s.client_order_id, s.status, len(s.trades)) for s in reply.orders] == [
        ("g-1", VenueOrderStatus.FILLED, 1), ("g-2", VenueOrderStatus.FILLED, 1)]


@pytest.mark.trio
async def test_an_order_the_venue_never_saw_is_absent_from_its_answer():
    query = ReconcileRequest("1-3", "binance", "BTC/USDT", ("never",), 0, T0_NS)
    _, [reply], _ = await gateway_run([], [query])
    assert reply.orders == () and reply.error == ""


@pytest.mark.trio
async def test_a_refused_order_is_rejected_and_not_resent():
    stats, answers, _ = await gateway_run([], [buy("g-1", qty="0.5")], usdt="100")
    assert stats.requests == 1 and stats.retries == 0
    assert brief(answers) == [("g-1", ExecType.REJECTED, 0)]


@pytest.mark.trio
async def test_a_refused_key_is_an_authentication_failure_not_an_unknown_outcome():
    stats, [failed], _ = await gateway_run([], [buy("g-1")], secret="wrong")
    assert (type(failed), failed.failure) == (RequestFailed, FailureClass.AUTH)
    assert "-1022" in failed.reason and stats.requests == 1


@pytest.mark.trio
async def test_a_cancel_of_an_order_the_venue_no_longer_holds_open_is_not_found():
    cancel = CancelRequest("g-1", "binance", "BTC/USDT", T0_NS)
    _, answers, _ = await gateway_run([], [buy("g-1"), cancel])
    failed = answers[-1]
    assert (type(failed), failed.request, failed.failure) == (RequestFailed, RequestKind.CANCEL, FailureClass.NOT_FOUND)


@pytest.mark.trio
async def test_the_gateway_says_at_start_that_the_order_stream_began():
    _, [session], _ = await gateway_run([], [], start=True)
    assert type(session) is VenueSession and session.reason == "order gateway started"
