"""Each fault the simulated venue injects happens exactly where the seed schedules it, and nowhere else.

A plan lists its hits before a run starts (`FaultPlan.scheduled`); every test compares what a client saw with
that list. REST faults and dropped connections are watched over real loopback sockets; depth gaps and user
data events are counted by the stream hub itself, whose depth windows the tests close by hand.
"""
from __future__ import annotations

import time
from decimal import Decimal

import httpx
import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from adapters.binance.client import BinanceClient
from adapters.binance.market_data import binance_spot_instrument
from adapters.binance.orders import (
    BinanceOrderCodec,
    ErrorClass,
    OrderStatus,
    VenueError,
)
from adapters.binance.signing import Credentials, sign
from adapters.simulated.exchange import USER, Listing, SimulatedBinance, VenueEvent
from adapters.simulated.faults import PPM, FaultKind, FaultPlan, FaultRule, Stall
from adapters.simulated.requests import HttpRequest
from adapters.simulated.server import serve_exchange
from adapters.simulated.streams import Connection, StreamHub
from engine.messages import (
    BookView,
    ExecType,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from engine.replay.synthetic import LOT, TICK

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)
KEY, SECRET = "fault-key", "fault-secret"
T0_NS = 1_700_000_020_000_000_000
ASKS = ((BTC.price("60001"), BTC.qty("0.2")), (BTC.price("60002"), BTC.qty("1")))
BIDS = ((BTC.price("60000"), BTC.qty("0.5")),)


def rate(fraction: str) -> int:
    return int(Decimal(fraction) * PPM)


def venue() -> SimulatedBinance:
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: T0_NS, maker_fee=Decimal("0.001"),
                                taker_fee=Decimal("0.001"))
    exchange.open_account(KEY, SECRET, {"USDT": Decimal(1_000_000), "BTC": Decimal(10)})
    exchange.on_book(BookView("BTC/USDT", T0_NS, 1, BIDS, ASKS))
    return exchange


def signed(**params: str) -> tuple[str, dict[str, str]]:
    query = str(httpx.QueryParams({**params, "timestamp": str(T0_NS // 1_000_000)}))
    return f"{query}&signature={sign(SECRET, query)}", {"X-MBX-APIKEY": KEY}


def resting_buy(client_order_id: str) -> tuple[str, dict[str, str]]:
    return signed(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="50000",
                  newClientOrderId=client_order_id)


def our_client(port: int, timeout_s: float = 5.0) -> BinanceClient:
    return BinanceClient(BinanceOrderCodec(Credentials(KEY, SECRET), [BTC]), base_url=f"http://127.0.0.1:{port}",
                         now_ns=lambda: T0_NS, timeout_s=timeout_s)


def order(client_order_id: str) -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "binance", "BTC/USDT", Side.BUY, BTC.qty("0.01"), BTC.price("50000"),
                           OrderType.LIMIT, TimeInForce.GTC, ts_ns=T0_NS)


# ---------------------------------------------------------------- the plan

def test_a_plan_hits_what_it_lists_and_draws_the_rest_from_its_seed() -> None:
    listed = FaultPlan(1, [FaultRule(FaultKind.RATE_LIMIT, frozenset({3, 7}))])
    assert listed.scheduled(FaultKind.RATE_LIMIT, 10) == [3, 7]
    assert listed.scheduled(FaultKind.SERVER_ERROR, 10) == []

    drawn = FaultPlan(1, [FaultRule(FaultKind.RATE_LIMIT, rate_ppm=rate("0.2"))])
    schedule = drawn.scheduled(FaultKind.RATE_LIMIT, 1_000)
    assert 150 < len(schedule) < 250
    assert [n for n in reversed(range(1, 1_001)) if drawn.hit(FaultKind.RATE_LIMIT, n)] == schedule[::-1]
    assert FaultPlan(1, [FaultRule(FaultKind.RATE_LIMIT, rate_ppm=rate("0.2"))]).scheduled(
        FaultKind.RATE_LIMIT, 1_000) == schedule
    assert FaultPlan(2, [FaultRule(FaultKind.RATE_LIMIT, rate_ppm=rate("0.2"))]).scheduled(
        FaultKind.RATE_LIMIT, 1_000) != schedule
    # kinds draw independently: adding a rule for another kind moves nothing
    both = FaultPlan(1, [FaultRule(FaultKind.RATE_LIMIT, rate_ppm=rate("0.2")),
                         FaultRule(FaultKind.SERVER_ERROR, rate_ppm=rate("0.2"))])
    assert both.scheduled(FaultKind.RATE_LIMIT, 1_000) == schedule
    assert both.scheduled(FaultKind.SERVER_ERROR, 1_000) != schedule
    assert FaultPlan(1, [FaultRule(FaultKind.STALL, rate_ppm=PPM)]).scheduled(FaultKind.STALL, 5) == [1, 2, 3, 4, 5]

    with pytest.raises(ValueError, match="two rules"):
        FaultPlan(1, [FaultRule(FaultKind.STALL, frozenset({1})), FaultRule(FaultKind.STALL, frozenset({2}))])
    with pytest.raises(ValueError, match="rate_ppm"):
        FaultPlan(1, [FaultRule(FaultKind.STALL, rate_ppm=PPM + 1)])


# ---------------------------------------------------------------- REST faults, over loopback

async def test_rate_limit_faults_answer_429_with_retry_after_where_the_seed_says(nursery) -> None:
    plan = FaultPlan(11, [FaultRule(FaultKind.RATE_LIMIT, rate_ppm=rate("0.25"), retry_after_s=7)])
    port = await nursery.start(lambda task_status: serve_exchange(venue(), faults=plan, task_status=task_status))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answers = [await http.get("/api/v3/time") for _ in range(30)]
    limited = [n for n, answer in enumerate(answers, 1) if answer.status_code == 429]
    assert limited == plan.scheduled(FaultKind.RATE_LIMIT, 30) and limited
    assert all(answers[n - 1].headers["Retry-After"] == "7" for n in limited)
    assert {answers[n - 1].json()["code"] for n in limited} == {-1003}
    assert [int(a.headers["X-MBX-USED-WEIGHT-1M"]) for a in answers] == list(range(1, 31))   # 429s weigh too
    assert all(a.status_code == 200 for n, a in enumerate(answers, 1) if n not in limited)


async def test_server_errors_refuse_the_scheduled_requests_without_carrying_them_out(nursery) -> None:
    plan = FaultPlan(5, [FaultRule(FaultKind.SERVER_ERROR, rate_ppm=rate("0.3"), status=503)])
    exchange = venue()
    port = await nursery.start(lambda task_status: serve_exchange(exchange, faults=plan, task_status=task_status))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        answers = [await http.post("/api/v3/order", params=query, headers=headers)
                   for query, headers in (resting_buy(f"e-{n}") for n in range(1, 21))]
        failed = [n for n, answer in enumerate(answers, 1) if answer.status_code == 503]
        assert failed == plan.scheduled(FaultKind.SERVER_ERROR, 20) and failed
        assert {answers[n - 1].json()["code"] for n in failed} == {-1001}
    query, _ = signed(symbol="BTCUSDT")       # asked of the exchange itself, behind the faulty door
    open_orders = exchange.handle(HttpRequest("GET", "/api/v3/openOrders", query, headers={"x-mbx-apikey": KEY}))
    open_ids = [o["clientOrderId"] for o in orjson.loads(open_orders.body)]
    assert open_ids == [f"e-{n}" for n in range(1, 21) if n not in failed]


async def test_a_server_error_after_the_order_was_carried_out_leaves_it_unknown_but_placed(nursery) -> None:
    plan = FaultPlan(0, [FaultRule(FaultKind.SERVER_ERROR, frozenset({2}), status=500, executed=True)])
    port = await nursery.start(lambda task_status: serve_exchange(venue(), faults=plan, task_status=task_status))
    async with our_client(port) as ours:
        first = await ours.place_order(order("x-1"))       # request 1
        second = await ours.place_order(order("x-2"))      # request 2: carried out, answered 500
        found = await ours.query_order("BTC/USDT", "x-2")
    assert [r.exec_type for r in first] == [ExecType.NEW]
    assert isinstance(second, VenueError) and (second.error_class, second.http_status, second.code) == (
        ErrorClass.UNKNOWN, 500, -1007)
    assert found.status is OrderStatus.NEW


async def test_a_lost_reply_hits_the_scheduled_accepted_order_which_exists_all_the_same(nursery) -> None:
    plan = FaultPlan(0, [FaultRule(FaultKind.LOST_REPLY, frozenset({2}))])
    port = await nursery.start(lambda task_status: serve_exchange(venue(), faults=plan, task_status=task_status))
    async with our_client(port, timeout_s=0.5) as ours:
        first = await ours.place_order(order("l-1"))                       # accepted order 1
        refused = await ours.place_order(order("l-1"))                     # a duplicate: refused, not counted
        lost = await ours.place_order(order("l-2"))                        # accepted order 2: no reply
        after = await ours.place_order(order("l-3"))                       # accepted order 3
        found = await ours.query_order("BTC/USDT", "l-2")
    assert [r.exec_type for r in first] == [ExecType.NEW] and [r.exec_type for r in after] == [ExecType.NEW]
    assert [(r.exec_type, r.reason) for r in refused] == [(ExecType.REJECTED, "Duplicate order sent.")]
    assert isinstance(lost, VenueError) and lost.error_class is ErrorClass.UNKNOWN and "ReadTimeout" in lost.message
    assert found.status is OrderStatus.NEW and found.client_order_id == "l-2"


async def test_latency_spikes_delay_exactly_the_scheduled_requests(nursery) -> None:
    plan = FaultPlan(3, [FaultRule(FaultKind.LATENCY_SPIKE, rate_ppm=rate("0.3"), delay_ms=300)])
    port = await nursery.start(lambda task_status: serve_exchange(venue(), faults=plan, task_status=task_status))
    durations = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        await http.get("/api/v3/ping")                                       # request 1 opens the connection
        for _ in range(12):
            started = time.perf_counter()
            await http.get("/api/v3/ping")
            durations.append(time.perf_counter() - started)
    slow = [n for n, seconds in enumerate(durations, 2) if seconds >= 0.3]
    assert slow == [n for n in plan.scheduled(FaultKind.LATENCY_SPIKE, 13) if n >= 2] and slow
    assert max(seconds for n, seconds in enumerate(durations, 2) if n not in slow) < 0.2


async def test_a_stall_stops_every_answer_from_the_scheduled_request_on_for_its_duration(nursery) -> None:
    plan = FaultPlan(0, [FaultRule(FaultKind.STALL, frozenset({3}), duration_ms=600)])
    port = await nursery.start(lambda task_status: serve_exchange(venue(), faults=plan, task_status=task_status))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=0.25) as http:
        assert [(await http.get("/api/v3/ping")).status_code for _ in range(2)] == [200, 200]
        started = time.perf_counter()
        for _ in range(2):                                   # requests 3 and 4: the venue says nothing
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/api/v3/ping")
        await trio.sleep(max(0.0, 0.65 - (time.perf_counter() - started)))
        assert (await http.get("/api/v3/ping")).status_code == 200


# ---------------------------------------------------------------- stream faults

def trade_view(update_id: int) -> BookView:
    """A view whose book differs from the last one's and which carries one public trade."""
    bids = ((BTC.price("60000"), BTC.qty("0.5") + update_id * LOT),)
    trade = Trade("BTC/USDT", T0_NS, update_id, BTC.price("60001"), LOT, Side.BUY)
    return BookView("BTC/USDT", T0_NS, update_id, bids, ASKS, (trade,))


def frames(connection: Connection) -> list[dict]:
    out = []
    while True:
        try:
            out.append(orjson.loads(connection.receive_frames.receive_nowait()))
        except trio.WouldBlock:
            return out


def test_sequence_gaps_drop_exactly_the_scheduled_depth_messages() -> None:
    plan = FaultPlan(8, [FaultRule(FaultKind.SEQUENCE_GAP, rate_ppm=rate("0.25"))])
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: T0_NS, maker_fee=Decimal(0), taker_fee=Decimal(0))
    hub = StreamHub(exchange, plan, Stall(lambda: 0.0))
    fast, slow = Connection(combined=True), Connection(combined=False)
    hub.subscribe(fast, ["btcusdt@depth@100ms"])
    hub.subscribe(slow, ["btcusdt@depth"])
    for tick in range(1, 31):
        exchange.on_book(trade_view(tick))                   # one change of the shown book: update id `tick`
        hub.close_windows(tick)
    skipped = plan.scheduled(FaultKind.SEQUENCE_GAP, 30)
    received = [(f["data"]["U"], f["data"]["u"]) for f in frames(fast)]
    assert received == [(n, n) for n in range(1, 31) if n not in skipped] and skipped
    # the 1000 ms stream batches ten changes a message and counts its own messages: 1..3
    assert [(f["U"], f["u"]) for f in frames(slow)] == [
        (10 * k - 9, 10 * k) for k in range(1, 4) if k not in plan.scheduled(FaultKind.SEQUENCE_GAP, 3)]


async def test_a_stream_connection_is_dropped_after_exactly_its_scheduled_frame(nursery) -> None:
    plan = FaultPlan(4, [FaultRule(FaultKind.DROP_CONNECTION, rate_ppm=rate("0.1"))])
    first_hit = plan.scheduled(FaultKind.DROP_CONNECTION, 40)[0]
    exchange = venue()
    port = await nursery.start(lambda task_status: serve_exchange(exchange, faults=plan, task_status=task_status))
    async with open_websocket_url(f"ws://127.0.0.1:{port}/ws/btcusdt@trade") as one, \
            open_websocket_url(f"ws://127.0.0.1:{port}/stream?streams=btcusdt@trade") as two:
        await trio.sleep(0.1)
        for update_id in range(2, 42):
            exchange.on_book(trade_view(update_id))          # one public trade each: one frame per connection
        for ws in (one, two):
            received = 0
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(5):
                while True:
                    await ws.get_message()
                    received += 1
            assert received == first_hit                     # each connection counts its own frames
            assert closed.value.reason.code == 1001


def test_duplicate_and_reordered_reports_hit_exactly_the_scheduled_user_events() -> None:
    plan = FaultPlan(21, [FaultRule(FaultKind.DUPLICATE_REPORT, rate_ppm=rate("0.2")),
                          FaultRule(FaultKind.REORDERED_REPORTS, rate_ppm=rate("0.2"))])
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: T0_NS, maker_fee=Decimal(0), taker_fee=Decimal(0))
    hub = StreamHub(exchange, plan, Stall(lambda: 0.0))
    connection = Connection(combined=False)
    subscription = hub.subscribe_user(connection, KEY)
    for n in range(1, 41):
        hub.on_event(VenueEvent(USER, {"n": n}, KEY))
        hub.on_event(VenueEvent(USER, {"n": -n}, "someone-else"))   # another account's events count apart
    duplicated = set(plan.scheduled(FaultKind.DUPLICATE_REPORT, 40))
    reordered = set(plan.scheduled(FaultKind.REORDERED_REPORTS, 40))
    assert duplicated and reordered
    expected, held = [], []
    for n in range(1, 41):                  # each event once (twice if duplicated); a reordered one after the next
        copies = [n, n] if n in duplicated else [n]
        expected += held if n in reordered else copies + held
        held = copies if n in reordered else []
    got = frames(connection)
    assert {f["subscriptionId"] for f in got} == {subscription}
    assert [f["event"]["n"] for f in got] == expected


async def test_duplicated_and_reordered_execution_reports_over_the_websocket_api(nursery) -> None:
    plan = FaultPlan(0, [FaultRule(FaultKind.DUPLICATE_REPORT, frozenset({2})),
                         FaultRule(FaultKind.REORDERED_REPORTS, frozenset({3}))])
    port = await nursery.start(lambda task_status: serve_exchange(venue(), faults=plan, task_status=task_status))
    async with open_websocket_url(f"ws://127.0.0.1:{port}/ws-api/v3") as api:
        timestamp = T0_NS // 1_000_000
        await api.send_message(orjson.dumps({"id": 1, "method": "userDataStream.subscribe.signature", "params": {
            "apiKey": KEY, "timestamp": timestamp,
            "signature": sign(SECRET, f"apiKey={KEY}&timestamp={timestamp}")}}).decode())
        assert orjson.loads(await api.get_message())["result"] == {"subscriptionId": 0}
        async with our_client(port) as ours:   # a market buy taking two levels: NEW, TRADE, TRADE, balances
            await ours.place_order(NewOrderRequest("m-1", "binance", "BTC/USDT", Side.BUY, BTC.qty("0.3"), 0,
                                                   OrderType.MARKET, TimeInForce.GTC, ts_ns=T0_NS))
        with trio.fail_after(5):
            events = [orjson.loads(await api.get_message())["event"] for _ in range(5)]
    assert [(e["e"], e.get("x"), e.get("I")) for e in events] == [
        ("executionReport", "NEW", 1), ("executionReport", "TRADE", 2), ("executionReport", "TRADE", 2),
        ("outboundAccountPosition", None, None), ("executionReport", "TRADE", 3)]


def test_while_the_venue_stalls_the_streams_send_nothing() -> None:
    now = [0.0]
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: T0_NS, maker_fee=Decimal(0), taker_fee=Decimal(0))
    hub = StreamHub(exchange, FaultPlan(0), Stall(lambda: now[0]))
    connection = Connection(combined=False)
    hub.subscribe(connection, ["btcusdt@trade"])
    hub.stall.begin(500)
    exchange.on_book(trade_view(1))
    now[0] = 0.6
    exchange.on_book(trade_view(2))
    assert [f["t"] for f in frames(connection)] == [2]
