"""The simulated exchange over real loopback sockets: our client and a standard Binance client trade against it."""
from __future__ import annotations

import time
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
import trio
import trio.testing

from engine.contracts import SyncResult
from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.client import BinanceClient
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from adapters.binance.orders import (
    Balance,
    BinanceOrderCodec,
    ErrorClass,
    OrderStatus,
    VenueError,
    venue_order_states,
)
from adapters.binance.signing import Credentials
from adapters.simulated.rate_limits import RateLimits
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.requests import HttpRequest, HttpResponse
from adapters.simulated.server import feed_views, serve_exchange
from engine.messages import (
    BookSnapshot,
    BookState,
    BookView,
    CancelRequest,
    DepthDiff,
    ExecType,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
    VenueOrderStatus,
)
from engine.replay.synthetic import LOT, TICK, synthetic_frames

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)
KEY, SECRET = "loopback-key", "loopback-secret"
T0_NS = 1_700_000_000_000_000_000
ASKS = ((BTC.price("60001"), BTC.qty("0.2")), (BTC.price("60002"), BTC.qty("1")))
BIDS = ((BTC.price("60000"), BTC.qty("0.5")),)
FEE = Decimal("0.001")


class Clock:
    """One clock for the exchange and our client, moved by the test: no flakiness at minute boundaries."""

    def __init__(self) -> None:
        self.ns = T0_NS

    def now_ns(self) -> int:
        return self.ns


def exchange(now_ns, rate_limits: RateLimits | None = None) -> SimulatedBinance:
    venue = SimulatedBinance([Listing(BTC)], now_ns=now_ns, maker_fee=FEE, taker_fee=FEE,
                             rate_limits=rate_limits or RateLimits())
    venue.open_account(KEY, SECRET, {"USDT": Decimal(100_000), "BTC": Decimal(1)})
    return venue


def client(port: int, clock, secret: str = SECRET, **kw) -> BinanceClient:
    codec = BinanceOrderCodec(Credentials(KEY, secret), [BTC])
    return BinanceClient(codec, base_url=f"http://127.0.0.1:{port}", now_ns=clock, timeout_s=5.0, **kw)


def order(client_order_id: str, side: Side, qty: str, price: str = "0", order_type: OrderType = OrderType.LIMIT,
          tif: TimeInForce = TimeInForce.GTC) -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "binance", "BTC/USDT", side, BTC.qty(qty), BTC.price(price), order_type,
                           tif, ts_ns=T0_NS)  # created at the clock's time: the venue checks its timestamp


def view(update_id: int, bids=BIDS, asks=ASKS) -> BookView:
    return BookView("BTC/USDT", T0_NS, update_id, bids, asks)


# ---------------------------------------------------------------- our client

async def test_our_client_places_queries_cancels_and_reads_balances(nursery) -> None:
    clock = Clock()
    venue = exchange(clock.now_ns)
    venue.on_book(view(1))
    port = await nursery.start(serve_exchange, venue)
    async with client(port, clock.now_ns) as ours:
        assert await ours.instruments() == [BTC]
        assert await ours.server_time_ms() == T0_NS // 1_000_000

        taken = await ours.place_order(order("take-1", Side.BUY, "0.3", order_type=OrderType.MARKET))
        assert [(r.exec_type, r.last_price, r.cum_qty) for r in taken] == [
            (ExecType.NEW, 0, 0), (ExecType.TRADE, BTC.price("60001"), BTC.qty("0.2")),
            (ExecType.TRADE, BTC.price("60002"), BTC.qty("0.3"))]
        assert taken[1].fee == Decimal("0.0002") and taken[1].fee_asset == "BTC"
        assert taken[1].liquidity is Liquidity.TAKER

        resting = await ours.place_order(order("rest-1", Side.BUY, "0.5", "59000"))
        assert [r.exec_type for r in resting] == [ExecType.NEW]
        [working] = await ours.open_orders("BTC/USDT")
        assert (working.client_order_id, working.status, working.qty) == ("rest-1", OrderStatus.NEW, BTC.qty("0.5"))
        balances = await ours.balances()
        assert balances["USDT"] == Balance(Decimal("52499.60"), Decimal("29500"))
        assert balances["BTC"] == Balance(Decimal("1.2997"), Decimal(0))

        clock.ns += 1_000_000_000
        venue.on_book(view(2, asks=((BTC.price("58999"), BTC.qty("0.2")),)))   # crosses: 0.2 fills as maker
        partly = await ours.query_order("BTC/USDT", "rest-1")
        assert (partly.status, partly.cum_qty, partly.cum_quote) == (
            OrderStatus.PARTIALLY_FILLED, BTC.qty("0.2"), Decimal("11800"))

        [cancelled] = await ours.cancel_order(CancelRequest("rest-1", "binance", "BTC/USDT", ts_ns=0))
        assert (cancelled.exec_type, cancelled.cum_qty) == (ExecType.CANCELED, BTC.qty("0.2"))
        again = await ours.cancel_order(CancelRequest("rest-1", "binance", "BTC/USDT", ts_ns=0))
        assert isinstance(again, VenueError) and (again.error_class, again.code) == (ErrorClass.NOT_FOUND, -2011)
        assert await ours.open_orders("BTC/USDT") == []
        missing = await ours.query_order("BTC/USDT", "never-sent")
        assert isinstance(missing, VenueError) and missing.code == -2013

        [refused] = await ours.place_order(order("big-1", Side.BUY, "100", "60000"))
        assert (refused.exec_type, refused.reason) == (
            ExecType.REJECTED, "Account has insufficient balance for requested action.")
        assert ours.used_weight_1m is not None and ours.used_weight_1m > 0


def recorded(venue: SimulatedBinance) -> list[tuple[HttpRequest, HttpResponse]]:
    """Every request the exchange handles from now on, with its answer, in order."""
    seen: list[tuple[HttpRequest, HttpResponse]] = []
    handle = venue.handle

    def record(request: HttpRequest) -> HttpResponse:
        seen.append((request, handle(request)))
        return seen[-1][1]
    venue.handle = record
    return seen


async def test_auth_refusals_are_fatal_and_never_sent_again(nursery) -> None:
    clock = Clock()
    venue = exchange(clock.now_ns)
    port = await nursery.start(serve_exchange, venue)
    seen = recorded(venue)
    async with client(port, clock.now_ns, secret="not-the-secret") as ours:
        placed = await ours.place_order(order("x-1", Side.BUY, "0.1", "50000"))
        cancelled = await ours.cancel_open_orders("BTC/USDT")
    for error in (placed, cancelled):
        assert isinstance(error, VenueError)
        assert (error.error_class, error.http_status, error.code) == (ErrorClass.FATAL_AUTH, 400, -1022)
    assert [(r.method, r.path) for r, _ in seen] == [("POST", "/api/v3/order"), ("DELETE", "/api/v3/openOrders")]


# ---------------------------------------------------------------- the venue's clock

@pytest.mark.parametrize(("venue_ahead_ns", "recv_window_ms", "refusal"), [
    (3_000_000_000, 2_000, "Timestamp for this request is outside of the recvWindow."),
    (-3_000_000_000, 5_000, "Timestamp for this request was 1000ms ahead of the server's time."),
])
async def test_a_request_refused_for_its_timestamp_is_sent_again_after_the_clock_is_synced(
        nursery, venue_ahead_ns: int, recv_window_ms: int, refusal: str) -> None:
    clock = Clock()
    venue = exchange(lambda: clock.ns + venue_ahead_ns)
    port = await nursery.start(serve_exchange, venue)
    seen = recorded(venue)
    codec = BinanceOrderCodec(Credentials(KEY, SECRET), [BTC], recv_window_ms=recv_window_ms)
    async with BinanceClient(codec, base_url=f"http://127.0.0.1:{port}", now_ns=clock.now_ns) as ours:
        assert isinstance(await ours.balances(), dict)
        assert ours.clock_offset_ns == venue_ahead_ns
        assert isinstance(await ours.balances(), dict)                   # the offset is kept: right first time
    assert [r.path for r, _ in seen] == ["/api/v3/account", "/api/v3/time", "/api/v3/account", "/api/v3/account"]
    stamps = [dict(parse_qsl(r.query))["timestamp"] for r, _ in seen if r.path == "/api/v3/account"]
    assert stamps == [str(clock.ns // 1_000_000)] + [str((clock.ns + venue_ahead_ns) // 1_000_000)] * 2
    assert orjson.loads(seen[0][1].body) == {"code": -1021, "msg": refusal}


async def test_sync_clock_takes_the_midpoint_of_the_round_trip(nursery) -> None:
    clock = Clock()

    def ticking() -> int:
        """The one clock of the test, 2 ms later at every read: ours before sending, the venue's, ours after."""
        clock.ns += 2_000_000
        return clock.ns

    port = await nursery.start(serve_exchange, exchange(lambda: ticking() + 3_000_000_000))
    async with client(port, ticking) as ours:
        assert await ours.sync_clock() == 3_000_000_000 == ours.clock_offset_ns


@pytest.mark.parametrize(("time_status", "time_body"), [(200, b'{"serverTime":1700000000000}'),
                                                        (503, b"Service Unavailable")])
async def test_a_timestamp_refused_again_or_a_failed_sync_ends_the_retry(time_status: int, time_body: bytes) -> None:
    paths: list[str] = []

    def venue(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/api/v3/time":
            return httpx.Response(time_status, content=time_body)
        return httpx.Response(400, content=b'{"code":-1021,"msg":"Timestamp for this request is outside of the '
                                           b'recvWindow."}')

    async with client(1, Clock().now_ns, transport=httpx.MockTransport(venue)) as ours:
        error = await ours.cancel_open_orders("BTC/USDT")
    assert isinstance(error, VenueError) and (error.error_class, error.code) == (ErrorClass.RETRY_SAFE, -1021)
    assert paths == ["/api/v3/openOrders", "/api/v3/time"] + (["/api/v3/openOrders"] if time_status == 200 else [])


# ---------------------------------------------------------------- reconciliation

async def test_the_venues_records_of_our_orders_and_fills_and_cancel_all(nursery) -> None:
    clock = Clock()
    venue = exchange(clock.now_ns)
    venue.on_book(view(1))
    port = await nursery.start(serve_exchange, venue)
    async with client(port, clock.now_ns) as ours:
        taken = await ours.place_order(order("r-take", Side.BUY, "0.3", order_type=OrderType.MARKET))
        await ours.place_order(order("r-rest", Side.BUY, "0.5", "59000"))
        await ours.place_order(order("r-sell", Side.SELL, "0.2", "61000"))
        clock.ns += 1_000_000_000
        venue.on_book(view(2, asks=((BTC.price("58999"), BTC.qty("0.2")),)))    # 0.2 of r-rest fills as maker

        orders = await ours.all_orders("BTC/USDT", start_ms=T0_NS // 1_000_000)
        assert [(o.client_order_id, o.status, o.cum_qty) for o in orders] == [
            ("r-take", OrderStatus.FILLED, BTC.qty("0.3")), ("r-rest", OrderStatus.PARTIALLY_FILLED, BTC.qty("0.2")),
            ("r-sell", OrderStatus.NEW, 0)]
        trades = await ours.my_trades("BTC/USDT")
        assert [t.trade.trade_id for t in trades] == [r.trade_id for r in taken if r.exec_type is ExecType.TRADE] + [
            "3"]
        maker = trades[-1]
        assert (maker.venue_order_id, maker.trade.liquidity, maker.trade.price, maker.trade.fee) == (
            orders[1].venue_order_id, Liquidity.MAKER, BTC.price("59000"), Decimal("0.0002"))
        assert maker.trade.ts_ns == T0_NS + 1_000_000_000
        assert await ours.my_trades("BTC/USDT", order_id=int(orders[1].venue_order_id)) == [maker]
        states = venue_order_states(orders, trades)
        assert [(s.status, len(s.trades), s.trades_complete) for s in states] == [
            (VenueOrderStatus.FILLED, 2, True), (VenueOrderStatus.OPEN, 1, True), (VenueOrderStatus.OPEN, 0, True)]

        cancelled = await ours.cancel_open_orders("BTC/USDT")
        assert [(r.client_order_id, r.exec_type, r.cum_qty) for r in cancelled] == [
            ("r-rest", ExecType.CANCELED, BTC.qty("0.2")), ("r-sell", ExecType.CANCELED, 0)]
        assert await ours.cancel_open_orders("BTC/USDT") == []                  # nothing left open: no report
        assert await ours.open_orders("BTC/USDT") == []
        assert all(balance.locked == 0 for balance in (await ours.balances()).values())


async def test_histories_longer_than_a_page_are_read_page_after_page(nursery) -> None:
    clock = Clock()
    venue = exchange(clock.now_ns, RateLimits(orders_per_10s=2_000))
    venue.on_book(view(1, asks=tuple((BTC.price("60001") + n * TICK, LOT) for n in range(1_200))))
    port = await nursery.start(serve_exchange, venue)
    async with client(port, clock.now_ns) as ours:
        taken = await ours.place_order(order("p-take", Side.BUY, "0.012", order_type=OrderType.MARKET))
        for n in range(1_000):      # straight to the exchange: a thousand orders need no thousand round trips
            request = ours.codec.new_order(order(f"p-{n}", Side.BUY, "0.001", "50000"), T0_NS // 1_000_000)
            placed = venue.handle(HttpRequest(request.method, request.path, request.query, request.body,
                                              {name.lower(): value for name, value in request.headers}))
            assert placed.status == 200
        seen = recorded(venue)
        trades = await ours.my_trades("BTC/USDT")
        orders = await ours.all_orders("BTC/USDT", start_ms=T0_NS // 1_000_000)
    fills = [r for r in taken if r.exec_type is ExecType.TRADE]
    assert len(fills) == 1_200 and [t.trade.trade_id for t in trades] == [f.trade_id for f in fills]
    assert [o.client_order_id for o in orders] == ["p-take"] + [f"p-{n}" for n in range(1_000)]
    asked = [(r.path, {k: v for k, v in parse_qsl(r.query) if k in ("fromId", "orderId", "startTime")})
             for r, _ in seen]
    assert asked == [("/api/v3/myTrades", {"fromId": "0"}), ("/api/v3/myTrades", {"fromId": "1001"}),
                     ("/api/v3/allOrders", {"startTime": str(T0_NS // 1_000_000)}),
                     ("/api/v3/allOrders", {"orderId": "1001"})]


async def test_past_the_weight_limit_the_venue_answers_429_with_retry_after(nursery) -> None:
    clock = Clock()   # 20 s into a minute
    port = await nursery.start(serve_exchange, exchange(clock.now_ns, RateLimits(request_weight_per_minute=40)))
    async with client(port, clock.now_ns) as ours:
        assert isinstance(await ours.balances(), dict) and isinstance(await ours.balances(), dict)
        assert ours.used_weight_1m == 40
        limited = await ours.balances()
        assert isinstance(limited, VenueError)
        assert (limited.error_class, limited.http_status, limited.code, limited.retry_after_s) == (
            ErrorClass.RETRY_SAFE, 429, -1003, 40)
        assert ours.used_weight_1m == 60
        clock.ns += 40_000_000_000
        assert isinstance(await ours.balances(), dict) and ours.used_weight_1m == 20


async def test_concurrent_clients_each_get_their_own_answer(nursery) -> None:
    clock = Clock()
    port = await nursery.start(serve_exchange, exchange(clock.now_ns))
    results = {}
    async with client(port, clock.now_ns) as ours:
        async def place(n: int) -> None:
            results[n] = await ours.place_order(order(f"par-{n}", Side.BUY, "0.001", "50000"))

        async with trio.open_nursery() as senders:
            for n in range(20):
                senders.start_soon(place, n)
        assert len(await ours.open_orders("BTC/USDT")) == 20
    assert all(reports[0].client_order_id == f"par-{n}" for n, reports in results.items())
    assert sorted(int(reports[0].venue_order_id) for reports in results.values()) == list(range(1, 21))


async def test_the_server_refuses_oversized_bodies_and_unknown_paths(nursery) -> None:
    port = await nursery.start(serve_exchange, exchange(Clock().now_ns))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.post("/api/v3/order", content=b"x" * 70_000)).status_code == 413
        assert (await http.get("/api/v3/nothing")).status_code == 404
        time_response = await http.get("/api/v3/time")
    assert time_response.json() == {"serverTime": T0_NS // 1_000_000}
    assert time_response.headers["x-mbx-used-weight-1m"] == "1"


async def test_views_from_the_synthetic_feed_reach_the_exchange_through_a_channel(nursery) -> None:
    clock = Clock()
    venue = exchange(clock.now_ns)
    port = await nursery.start(serve_exchange, venue)
    send_views, receive_views = trio.open_memory_channel[BookView](0)
    nursery.start_soon(feed_views, venue, receive_views)
    last = None
    async with send_views:
        for last in synthetic_views(seconds=2):
            await send_views.send(last)
    await trio.testing.wait_all_tasks_blocked()
    async with client(port, clock.now_ns) as ours:
        reports = await ours.place_order(order("syn-1", Side.BUY, "0.001", order_type=OrderType.MARKET))
    assert last is not None and [r.exec_type for r in reports] == [ExecType.NEW, ExecType.TRADE]
    assert reports[1].last_price == last.best_ask


def synthetic_views(seconds: int):
    """The project's synthetic Binance feed, through the codec and the book sync, as book views."""
    codec = BinanceMarketDataCodec([BTC], snapshot_symbol="BTCUSDT")
    sync = BinanceBookSync("BTC/USDT")
    for ts, frame in synthetic_frames(seed=7, duration_s=seconds):
        event = codec.decode_raw(frame, ts)
        if isinstance(event, DepthDiff):
            result = sync.on_diff(event)
        elif isinstance(event, BookSnapshot):
            result = sync.on_snapshot(event)
        else:
            continue
        if sync.state is BookState.LIVE and result in (SyncResult.APPLIED, SyncResult.LOADED):
            bids, asks = sync.book.top(20)
            yield BookView("BTC/USDT", ts, sync.last_update_id, bids, asks)


# ---------------------------------------------------------------- when no answer comes

async def test_a_timeout_leaves_a_mutation_unknown_and_a_read_retry_safe(nursery) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()   # reads nothing, answers nothing

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    nursery.start_soon(trio.serve_listeners, silent, listeners)
    codec = BinanceOrderCodec(Credentials(KEY, SECRET), [BTC])
    async with BinanceClient(codec, base_url=f"http://127.0.0.1:{port}", now_ns=Clock().now_ns,
                             timeout_s=0.2) as ours:
        placed = await ours.place_order(order("t-1", Side.BUY, "0.1", "50000"))
        cancelled = await ours.cancel_order(CancelRequest("t-1", "binance", "BTC/USDT", ts_ns=0))
        read = await ours.query_order("BTC/USDT", "t-1")
    assert isinstance(placed, VenueError) and placed.error_class is ErrorClass.UNKNOWN
    assert placed.http_status == 0 and "ReadTimeout" in placed.message
    assert isinstance(cancelled, VenueError) and cancelled.error_class is ErrorClass.UNKNOWN
    assert isinstance(read, VenueError) and read.error_class is ErrorClass.RETRY_SAFE


async def test_a_refused_connection_sent_nothing_so_it_is_retry_safe() -> None:
    closed = trio.socket.socket()
    await closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    async with client(port, Clock().now_ns) as ours:
        placed = await ours.place_order(order("r-1", Side.BUY, "0.1", "50000"))
    assert isinstance(placed, VenueError) and placed.error_class is ErrorClass.RETRY_SAFE
    assert placed.message.startswith("not sent")


@pytest.mark.parametrize(("status", "body", "error_class"), [
    (503, b"Service Unavailable", ErrorClass.UNKNOWN),
    (500, b'{"code":-1000,"msg":"An unknown error occurred while processing the request."}', ErrorClass.UNKNOWN),
    (503, b'{"code":-1008,"msg":"Server is currently overloaded with other requests."}', ErrorClass.RETRY_SAFE),
])
async def test_a_5xx_on_a_new_order_is_unknown_unless_the_venue_says_it_was_refused(status, body, error_class) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    async with client(1, Clock().now_ns, transport=transport) as ours:
        placed = await ours.place_order(order("u-1", Side.BUY, "0.1", "50000"))
    assert isinstance(placed, VenueError) and (placed.error_class, placed.http_status) == (error_class, status)


# ---------------------------------------------------------------- a standard Binance client

async def test_the_official_binance_sdk_does_the_same_round_trip(nursery) -> None:
    spot = pytest.importorskip("binance_sdk_spot.spot",
                               reason="binance-sdk-spot (Binance's official Python SDK) is not installed")
    errors = pytest.importorskip("binance_common.errors", reason="binance-common (binance-sdk-spot's) is missing")
    venue = exchange(time.time_ns)        # the SDK stamps requests with the wall clock
    venue.on_book(view(1))
    port = await nursery.start(serve_exchange, venue)

    def round_trip() -> dict:
        def sdk(secret: str):
            config = spot.ConfigurationRestAPI(api_key=KEY, api_secret=secret, base_path=f"http://127.0.0.1:{port}",
                                               retries=0, timeout=5_000)
            return spot.Spot(config_rest_api=config).rest_api

        rest = sdk(SECRET)
        seen = {"symbols": [s.symbol for s in rest.exchange_info(symbol="BTCUSDT").data().symbols]}
        placed = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                                quantity=Decimal("0.3"), price=Decimal("60001.50"),
                                new_client_order_id="sdk-1").data()
        seen["placed"] = (placed.status, placed.executed_qty, [f.price for f in placed.fills])
        seen["queried"] = rest.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-1").data().status
        seen["open"] = [o.client_order_id for o in rest.get_open_orders(symbol="BTCUSDT").data()]
        seen["balances"] = {b.asset: (b.free, b.locked) for b in rest.get_account().data().balances}
        seen["cancelled"] = rest.delete_order(symbol="BTCUSDT", orig_client_order_id="sdk-1").data().status
        for n in (2, 3):
            rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=Decimal("0.1"),
                           price=Decimal("59000"), new_client_order_id=f"sdk-{n}")
        seen["cancelled_all"] = [(o.orig_client_order_id, o.status)
                                 for o in rest.delete_open_orders(symbol="BTCUSDT").data()]
        seen["all_orders"] = [(o.client_order_id, o.status) for o in rest.all_orders(symbol="BTCUSDT").data()]
        seen["my_trades"] = [(t.id, t.price, t.is_maker, t.commission_asset)
                             for t in rest.my_trades(symbol="BTCUSDT", from_id=0).data()]
        seen["depth"] = rest.depth(symbol="BTCUSDT", limit=5).data().asks
        try:
            rest.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-1-never")
        except errors.BadRequestError as exc:
            seen["missing"] = exc.status_code
        try:
            sdk("wrong-secret").get_account()
        except errors.BadRequestError as exc:
            seen["bad_signature"] = exc.status_code
        return seen

    seen = await trio.to_thread.run_sync(round_trip)
    assert seen == {
        "symbols": ["BTCUSDT"],
        "placed": ("PARTIALLY_FILLED", "0.20000000", ["60001.00000000"]),
        "queried": "PARTIALLY_FILLED",
        "open": ["sdk-1"],
        "balances": {"BTC": ("1.19980000", "0.00000000"), "USDT": ("81999.65000000", "6000.15000000")},
        "cancelled": "CANCELED",
        "cancelled_all": [("sdk-2", "CANCELED"), ("sdk-3", "CANCELED")],
        "all_orders": [("sdk-1", "CANCELED"), ("sdk-2", "CANCELED"), ("sdk-3", "CANCELED")],
        "my_trades": [(1, "60001.00000000", False, "BTC")],
        "depth": [["60002.00000000", "1.00000000"]],
        "missing": -2013,
        "bad_signature": -1022,
    }
