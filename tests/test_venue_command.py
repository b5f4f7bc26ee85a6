"""`python -m engine venue scenarios/sim_binance.toml --port 0` in a subprocess, driven over real sockets.

Binance's official SDK and the project's own order adapter each place, query and cancel orders and read the
demo account's balances; the venue's market is the synthetic feed replayed in real time, so prices are read
from the venue's own depth before they are used.
"""
from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from adapters.binance.client import BinanceClient
from adapters.binance.orders import Balance, BinanceOrderCodec, ErrorClass, OrderStatus, VenueError
from adapters.binance.signing import Credentials, sign
from engine.messages import CancelRequest, ExecType, Liquidity, NewOrderRequest, OrderType, Side, TimeInForce
from engine.model.numbers import format_fixed
from engine.app.scenario import ScenarioError, load_venue

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "sim_binance.toml"
KEY, SECRET = "demo-key", "demo-secret"
BTC = load_venue(SCENARIO).instruments["BTC/USDT"]


class Venue:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process, self.port = process, port
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def venue() -> Iterator[Venue]:
    process = subprocess.Popen([sys.executable, "-m", "engine", "venue", str(SCENARIO), "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert found, f"no address in {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        running = Venue(process, int(found.group(1)))
        deadline = time.monotonic() + 20
        while not httpx.get(f"{running.url}/api/v3/depth", params={"symbol": "BTCUSDT"}).json()["bids"]:
            assert time.monotonic() < deadline, "the venue's book never filled"
            time.sleep(0.05)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def touch(venue: Venue) -> tuple[Decimal, Decimal]:
    depth = httpx.get(f"{venue.url}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5}).json()
    return Decimal(depth["bids"][0][0]), Decimal(depth["asks"][0][0])


def test_binance_official_sdk_places_queries_cancels_and_reads_balances(venue: Venue) -> None:
    spot = pytest.importorskip("binance_sdk_spot.spot", reason="binance-sdk-spot (Binance's official SDK) is missing")
    errors = pytest.importorskip("binance_common.errors", reason="binance-common (binance-sdk-spot's) is missing")

    def sdk(secret: str):
        config = spot.ConfigurationRestAPI(api_key=KEY, api_secret=secret, base_path=venue.url, retries=0,
                                           timeout=5_000)
        return spot.Spot(config_rest_api=config).rest_api

    def balances(rest) -> dict[str, tuple[str, str]]:
        return {b.asset: (b.free, b.locked) for b in rest.get_account().data().balances}

    rest = sdk(SECRET)
    assert balances(rest) == {"BTC": ("2.00000000", "0.00000000"), "USDT": ("100000.00000000", "0.00000000")}
    [symbol] = rest.exchange_info(symbol="BTCUSDT").data().symbols
    assert (symbol.symbol, symbol.base_asset, symbol.quote_asset) == ("BTCUSDT", "BTC", "USDT")

    bid, _ = touch(venue)
    price = bid - 1000                                   # far below the market: it rests
    placed = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC",
                            quantity=Decimal("0.01"), price=price, new_client_order_id="sdk-rest-1").data()
    assert (placed.status, placed.executed_qty, placed.fills) == ("NEW", "0.00000000", [])
    assert rest.get_order(symbol="BTCUSDT", orig_client_order_id="sdk-rest-1").data().status == "NEW"
    assert [o.client_order_id for o in rest.get_open_orders(symbol="BTCUSDT").data()] == ["sdk-rest-1"]
    locked = price * Decimal("0.01")
    assert balances(rest)["USDT"] == (f"{100000 - locked:.8f}", f"{locked:.8f}")
    cancelled = rest.delete_order(symbol="BTCUSDT", orig_client_order_id="sdk-rest-1").data()
    assert (cancelled.status, cancelled.orig_client_order_id) == ("CANCELED", "sdk-rest-1")
    assert rest.get_open_orders(symbol="BTCUSDT").data() == []
    assert balances(rest)["USDT"] == ("100000.00000000", "0.00000000")

    bought = rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.001"),
                            new_client_order_id="sdk-take-1").data()
    assert (bought.status, bought.executed_qty) == ("FILLED", "0.00100000")
    spent = Decimal(bought.cummulative_quote_qty)
    assert spent == sum(Decimal(f.price) * Decimal(f.qty) for f in bought.fills)
    assert sum(Decimal(f.commission) for f in bought.fills) == Decimal("0.000001")   # 0.1 % of the BTC bought
    assert balances(rest) == {"BTC": ("2.00099900", "0.00000000"), "USDT": (f"{100000 - spent:.8f}", "0.00000000")}

    with pytest.raises(errors.BadRequestError) as missing:
        rest.get_order(symbol="BTCUSDT", orig_client_order_id="never-placed")
    assert missing.value.status_code == -2013   # the SDK reports Binance's error code there
    with pytest.raises(errors.BadRequestError) as forged:
        sdk("not-the-secret").get_account()
    assert forged.value.status_code == -1022


async def test_the_projects_order_adapter_does_the_same_over_real_sockets(venue: Venue) -> None:
    codec = BinanceOrderCodec(Credentials(KEY, SECRET), [BTC])
    async with BinanceClient(codec, base_url=venue.url, now_ns=time.time_ns, timeout_s=5.0) as ours:
        assert await ours.instruments() == [BTC]
        assert abs(await ours.server_time_ms() - time.time_ns() // 1_000_000) < 5_000
        assert await ours.balances() == {"BTC": Balance(Decimal(2), Decimal(0)),
                                         "USDT": Balance(Decimal(100_000), Decimal(0))}

        bid, _ = touch(venue)
        price = BTC.price(str(bid - 1000))
        resting = await ours.place_order(order("ours-rest-1", Side.BUY, "0.01", price))
        assert [r.exec_type for r in resting] == [ExecType.NEW]
        queried = await ours.query_order("BTC/USDT", "ours-rest-1")
        assert (queried.status, queried.qty, queried.price) == (OrderStatus.NEW, BTC.qty("0.01"), price)
        assert [o.client_order_id for o in await ours.open_orders("BTC/USDT")] == ["ours-rest-1"]
        [cancelled] = await ours.cancel_order(CancelRequest("ours-rest-1", "binance", "BTC/USDT", ts_ns=0))
        assert (cancelled.exec_type, cancelled.cum_qty) == (ExecType.CANCELED, 0)
        again = await ours.cancel_order(CancelRequest("ours-rest-1", "binance", "BTC/USDT", ts_ns=0))
        assert isinstance(again, VenueError) and (again.error_class, again.code) == (ErrorClass.NOT_FOUND, -2011)

        sold = await ours.place_order(order("ours-take-1", Side.SELL, "0.002", order_type=OrderType.MARKET))
        fills = [r for r in sold if r.exec_type is ExecType.TRADE]
        assert sold[0].exec_type is ExecType.NEW and fills and fills[-1].cum_qty == BTC.qty("0.002")
        assert all(f.liquidity is Liquidity.TAKER and f.fee_asset == "USDT" for f in fills)
        proceeds = sum(BTC.notional(f.last_price, f.last_qty) for f in fills)
        fees = sum(f.fee for f in fills)
        assert fees == (proceeds * Decimal("0.001")).quantize(Decimal("0.00000001"))
        assert await ours.balances() == {"BTC": Balance(Decimal("1.998"), Decimal(0)),
                                         "USDT": Balance(Decimal(100_000) + proceeds - fees, Decimal(0))}

    forged = BinanceOrderCodec(Credentials(KEY, "not-the-secret"), [BTC])
    async with BinanceClient(forged, base_url=venue.url, now_ns=time.time_ns) as bad:
        refused = await bad.balances()
    assert isinstance(refused, VenueError) and (refused.error_class, refused.code) == (ErrorClass.FATAL_AUTH, -1022)
    async with BinanceClient(codec, base_url=venue.url, now_ns=lambda: time.time_ns() - 60_000_000_000) as late:
        assert isinstance(await late.balances(), dict)   # refused for its timestamp (-1021), synced, sent again
    assert abs(late.clock_offset_ns - 60_000_000_000) < 5_000_000_000


async def test_market_streams_and_the_user_data_stream_over_websockets(venue: Venue) -> None:
    ws_url = f"ws://127.0.0.1:{venue.port}"
    async with open_websocket_url(f"{ws_url}/stream?streams=btcusdt@depth@100ms/btcusdt@trade") as market, \
            open_websocket_url(f"{ws_url}/ws-api/v3") as api:
        timestamp = time.time_ns() // 1_000_000
        signature = sign(SECRET, f"apiKey={KEY}&timestamp={timestamp}")
        await api.send_message(orjson.dumps({"id": "sub-1", "method": "userDataStream.subscribe.signature",
                                             "params": {"apiKey": KEY, "timestamp": timestamp,
                                                        "signature": signature}}).decode())
        subscribed = orjson.loads(await api.get_message())
        assert (subscribed["id"], subscribed["status"], subscribed["result"]) == ("sub-1", 200, {"subscriptionId": 0})
        assert subscribed["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        with trio.fail_after(5):
            frame = orjson.loads(await market.get_message())
        assert frame["stream"] in ("btcusdt@depth@100ms", "btcusdt@trade")

        bid, _ = touch(venue)
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                  "price": f"{bid - 500:.2f}", "newClientOrderId": "ws-1", "timestamp": str(time.time_ns() // 10**6)}
        query = httpx.QueryParams(params)
        async with httpx.AsyncClient(base_url=venue.url) as http:
            placed = await http.post("/api/v3/order", params=f"{query}&signature={sign(SECRET, str(query))}",
                                     headers={"X-MBX-APIKEY": KEY})
        assert placed.status_code == 200, placed.text
        with trio.fail_after(5):
            report = orjson.loads(await api.get_message())
            position = orjson.loads(await api.get_message())
    assert report["subscriptionId"] == 0
    assert {k: report["event"][k] for k in ("e", "s", "c", "S", "o", "x", "X", "q", "p", "i")} == {
        "e": "executionReport", "s": "BTCUSDT", "c": "ws-1", "S": "BUY", "o": "LIMIT", "x": "NEW", "X": "NEW",
        "q": "0.01000000", "p": format_fixed(BTC.price(f"{bid - 500:.2f}"), 8), "i": placed.json()["orderId"]}
    assert position["event"]["e"] == "outboundAccountPosition"


def test_binance_official_sdk_follows_the_user_data_stream_over_the_websocket_api(venue: Venue) -> None:
    spot = pytest.importorskip("binance_sdk_spot.spot", reason="binance-sdk-spot (Binance's official SDK) is missing")
    events: list = []

    async def follow() -> tuple[int, list]:
        config = spot.ConfigurationWebSocketAPI(api_key=KEY, api_secret=SECRET, reconnect_attempts=1,
                                                stream_url=f"ws://127.0.0.1:{venue.port}/ws-api/v3")
        connection = await spot.Spot(config_ws_api=config).websocket_api.create_connection()
        try:
            subscribed = await connection.user_data_stream_subscribe_signature()
            subscribed.stream.on("message", events.append)
            query = f"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&timestamp={time.time_ns() // 1_000_000}"
            async with httpx.AsyncClient() as http:
                placed = await http.post(f"{venue.url}/api/v3/order?{query}&signature={sign(SECRET, query)}",
                                         headers={"X-MBX-APIKEY": KEY})
            for _ in range(100):
                if len(events) >= 3:
                    break
                await asyncio.sleep(0.05)
            return subscribed.response.data().result.subscription_id, placed.json()
        finally:
            await connection.close_connection()

    subscription, placed = asyncio.run(follow())
    assert subscription == 0
    reports = [event.actual_instance for event in events]
    assert [(type(r).__name__, getattr(r, "x", None), getattr(r, "X", None)) for r in reports[:3]] == [
        ("ExecutionReport", "NEW", "NEW"), ("ExecutionReport", "TRADE", "FILLED"),
        ("OutboundAccountPosition", None, None)]
    assert reports[1].i == placed["orderId"] and reports[1].z == "0.00100000"


def test_sigterm_stops_the_venue_cleanly(venue: Venue) -> None:
    venue.process.terminate()
    assert venue.process.wait(10) == 0


def test_a_port_in_use_is_refused_with_the_reason() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "engine", "venue", str(SCENARIO), "--port",
                               str(taken.getsockname()[1])], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "engine: venue:" in done.stderr and "in use" in done.stderr


def test_a_bad_scenario_is_refused_with_the_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(SCENARIO.read_text().replace('secret = "demo-secret"', 'secret = 7'))
    done = subprocess.run([sys.executable, "-m", "engine", "venue", str(broken)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"engine: {broken}: venue.accounts[0].secret: expected a valid string, found 7"


def test_the_venue_scenario_reads_accounts_latency_queue_and_faults(tmp_path: Path) -> None:
    spec = load_venue(SCENARIO)
    assert (spec.feed.kind, spec.feed.seed, spec.speed, spec.queue_model, spec.latency.model) == (
        "synthetic", 7, 1, "conservative", "constant")
    [account] = spec.accounts
    assert (account.api_key, account.balances) == ("demo-key", {"USDT": Decimal(100_000), "BTC": Decimal(2)})
    assert "demo-secret" not in repr(spec) and spec.faults == ()
    faulty = tmp_path / "faulty.toml"
    faulty.write_text(SCENARIO.read_text() + """
[[venue.faults]]
kind = "rate_limit"
at = [9, 3, 3]
rate = "0.000125"
retry_after_s = 4
""")
    [fault] = load_venue(faulty).faults
    assert (fault.kind, fault.at, fault.rate_ppm, fault.retry_after_s) == ("rate_limit", (3, 9), 125, 4)


FIRST_FAULT = '# [[venue.faults]]\n# kind = "rate_limit"'
"""The first commented-out fault of the scenario file, to be replaced by a live one."""


@pytest.mark.parametrize(("change", "message"), [
    (('queue_model = "conservative"', 'queue_model = "optimistic"'),
     "venue.queue_model: expected 'conservative' or 'probabilistic', found 'optimistic'"),
    (('model = "constant"', 'model = "gaussian"'),
     "venue.latency.model: expected 'constant' or 'lognormal', found 'gaussian'"),
    (('USDT = "100000"', 'ETH = "1"'),
     "venue.accounts[0].balances.ETH: is not an asset of the [[instruments]] (BTC, USDT)"),
    (('[[venue.accounts]]', '[[venue.other]]'), "venue.other: unknown key (known: name, maker_fee, taker_fee, seed, queue_model, "
     "queue_power, latency, rate_limits, accounts, faults)"),
    (('[[venue.accounts]]\napi_key = "demo-key"\nsecret = "demo-secret"\nbalances = { USDT = "100000", BTC = "2" }\n',
      ''), "venue.accounts: required, and missing"),
    ((FIRST_FAULT, '[[venue.faults]]\nkind = "meteor"'),
     "venue.faults[0].kind: expected 'drop_connection', 'sequence_gap', 'rate_limit', 'server_error', "
     "'lost_reply', 'duplicate_report', 'reordered_reports', 'latency_spike' or 'stall', found 'meteor'"),
    ((FIRST_FAULT, '[[venue.faults]]\nkind = "stall"\nrate = "1.5"'),
     "venue.faults[0].rate: expected a probability from 0 to 1 with at most 6 decimals, found '1.5'"),
    ((FIRST_FAULT, '[[venue.faults]]\nkind = "stall"'),
     "venue.faults[0]: expected `at` (event numbers) or a `rate`: without either the fault never happens, found a table"),
    ((FIRST_FAULT, '[[venue.faults]]\nkind = "server_error"\nat = [1]\nstatus = 404'),
     "venue.faults[0].status: expected greater than or equal to 500, found 404"),
])
def test_a_bad_venue_scenario_names_the_file_and_the_key(tmp_path: Path, change, message) -> None:
    old, new = change
    text = SCENARIO.read_text()
    assert old in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(ScenarioError) as refused:
        load_venue(broken)
    assert str(refused.value) == f"{broken}: {message}"


def order(client_order_id: str, side: Side, qty: str, price: int = 0,
          order_type: OrderType = OrderType.LIMIT) -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "binance", "BTC/USDT", side, BTC.qty(qty), price, order_type,
                           TimeInForce.GTC, ts_ns=time.time_ns())  # created now: the venue checks its timestamp
