"""The simulated venue's WebSocket side over loopback: Binance's market streams and its user data stream.

The strongest check of the depth stream is the project's own Binance book sync: fed the venue's diffs and
its REST snapshot by Binance's rules, it must rebuild exactly the book the venue shows, with every
`bookTicker` agreeing. Paper trading is a venue whose market is another venue's streams.
"""
from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from functools import partial
from pathlib import Path

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from engine.contracts import SyncResult
from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from adapters.binance.signing import sign
from adapters.simulated.rate_limits import RateLimits
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.server import serve_exchange
from engine.messages import (
    BookSnapshot,
    BookState,
    BookView,
    DepthDiff,
    Side,
    TopOfBook,
    Trade,
)
from engine.replay.synthetic import LOT, TICK, synthetic_frames
from engine.app.scenario import load_venue
from engine.app.venue import serve_venue

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)
KEY, SECRET = "stream-key", "stream-secret"
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "sim_binance.toml"


def exchange() -> SimulatedBinance:
    venue = SimulatedBinance([Listing(BTC)], now_ns=time.time_ns, maker_fee=Decimal("0.001"),
                             taker_fee=Decimal("0.001"))
    venue.open_account(KEY, SECRET, {"USDT": Decimal(100_000), "BTC": Decimal(1)})
    return venue


def synthetic_views(seconds: int, seed: int = 3):
    codec = BinanceMarketDataCodec([BTC], snapshot_symbol="BTCUSDT")
    sync = BinanceBookSync("BTC/USDT")
    trades: list[Trade] = []
    for ts, frame in synthetic_frames(seed=seed, duration_s=seconds):
        event = codec.decode_raw(frame, ts)
        if isinstance(event, Trade):
            trades.append(event)
            continue
        result = sync.on_diff(event) if isinstance(event, DepthDiff) else (
            sync.on_snapshot(event) if isinstance(event, BookSnapshot) else None)
        if sync.state is BookState.LIVE and result in (SyncResult.APPLIED, SyncResult.LOADED):
            bids, asks = sync.book.top(5_000)
            yield BookView("BTC/USDT", ts, sync.last_update_id, bids, asks, tuple(trades))
            trades = []


def signed_order(**params: str) -> tuple[str, dict[str, str]]:
    query = str(httpx.QueryParams({**params, "timestamp": str(time.time_ns() // 1_000_000)}))
    return f"{query}&signature={sign(SECRET, query)}", {"X-MBX-APIKEY": KEY}


async def test_the_projects_book_sync_rebuilds_the_venues_book_from_its_streams(nursery) -> None:
    venue = exchange()
    port = await nursery.start(serve_exchange, venue)
    codec = BinanceMarketDataCodec([BTC], snapshot_symbol="BTCUSDT")
    sync = BinanceBookSync("BTC/USDT")
    views = synthetic_views(seconds=6)
    venue.on_book(next(views))
    streams = "btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade"
    seen = {"depthUpdate": 0, "trade": 0, "bookTicker": 0}
    async with open_websocket_url(f"ws://127.0.0.1:{port}/stream?streams={streams}") as ws, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

        async def read() -> None:
            while True:
                frame = orjson.loads(await ws.get_message())
                kind = frame["data"].get("e", "bookTicker")
                seen[kind] += 1
                event = codec.decode(frame, 0)
                if isinstance(event, DepthDiff):
                    assert sync.on_diff(event) is not SyncResult.GAP, "a gap in the stream"
                elif isinstance(event, TopOfBook):
                    assert sync.check_top(event) is not False, "the bookTicker disagrees with the diffs"

        async with trio.open_nursery() as reading:
            reading.start_soon(read)
            for n, view in enumerate(views):
                venue.on_book(view)
                if n == 3:        # the snapshot is taken while diffs flow, as Binance's sync rules want
                    snapshot = (await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000})).json()
                    assert sync.on_snapshot(codec.decode_snapshot(snapshot, 0, "BTCUSDT")) is SyncResult.LOADED
                if n == 10:       # our own orders show in the book too
                    query, headers = signed_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                                                  quantity="0.5", price=f"{Decimal(view.bids[0][0]) / 10**8 - 1}")
                    assert (await http.post("/api/v3/order", params=query, headers=headers)).status_code == 200
                    query, headers = signed_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
                    assert (await http.post("/api/v3/order", params=query, headers=headers)).status_code == 200
                await trio.sleep(0.02)
            await trio.sleep(0.3)   # the last window closes
            reading.cancel_scope.cancel()
        final = (await http.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000})).json()
    assert sync.state is BookState.LIVE and sync.last_update_id == final["lastUpdateId"]
    bids, asks = sync.book.top(5_000)
    assert bids == codec.decode_snapshot(final, 0, "BTCUSDT").bids and asks == codec.decode_snapshot(
        final, 0, "BTCUSDT").asks
    assert sync.tops_checked > 10 and sync.top_mismatches == 0 and sync.gaps == 0
    assert seen["depthUpdate"] > 10 and seen["trade"] > 5 and seen["bookTicker"] > 5


async def test_raw_and_combined_streams_and_live_subscriptions(nursery) -> None:
    venue = exchange()
    port = await nursery.start(serve_exchange, venue)
    trade = Trade("BTC/USDT", 0, 1, BTC.price("60001"), BTC.qty("0.002"), aggressor=Side.SELL)
    async with open_websocket_url(f"ws://127.0.0.1:{port}/ws/btcusdt@trade") as raw, \
            open_websocket_url(f"ws://127.0.0.1:{port}/stream") as combined:
        await combined.send_message('{"method":"SUBSCRIBE","params":["btcusdt@trade","btcusdt@bookTicker"],"id":1}')
        assert orjson.loads(await combined.get_message()) == {"result": None, "id": 1}
        await combined.send_message('{"method":"SUBSCRIBE","params":["ethusdt@trade"],"id":2}')
        assert orjson.loads(await combined.get_message())["error"]["code"] == 2
        await combined.send_message('{"method":"LIST_SUBSCRIPTIONS","id":3}')
        assert orjson.loads(await combined.get_message()) == {"result": ["btcusdt@bookTicker", "btcusdt@trade"],
                                                              "id": 3}
        await combined.send_message('{"method":"UNSUBSCRIBE","params":["btcusdt@bookTicker"],"id":4}')
        assert orjson.loads(await combined.get_message()) == {"result": None, "id": 4}
        venue.on_book(BookView("BTC/USDT", 0, 1, ((BTC.price("60000"), BTC.qty("1")),),
                               ((BTC.price("60001"), BTC.qty("1")),), (trade,)))
        with trio.fail_after(5):
            raw_trade = orjson.loads(await raw.get_message())
            wrapped = orjson.loads(await combined.get_message())
    assert wrapped == {"stream": "btcusdt@trade", "data": raw_trade}
    assert {k: raw_trade[k] for k in ("e", "s", "t", "p", "q", "m", "M")} == {
        "e": "trade", "s": "BTCUSDT", "t": 1, "p": "60001.00000000", "q": "0.00200000", "m": True, "M": True}


async def test_the_websocket_api_checks_keys_signatures_and_time_like_rest(nursery) -> None:
    port = await nursery.start(serve_exchange, exchange())

    async def ask(ws, method: str, **params) -> dict:
        await ws.send_message(orjson.dumps({"id": method, "method": method, "params": params}).decode())
        return orjson.loads(await ws.get_message())

    def subscribe_params(key: str = KEY, secret: str = SECRET, skew_ms: int = 0) -> dict:
        timestamp = time.time_ns() // 1_000_000 - skew_ms
        return {"apiKey": key, "timestamp": timestamp,
                "signature": sign(secret, f"apiKey={key}&timestamp={timestamp}")}

    async with open_websocket_url(f"ws://127.0.0.1:{port}/ws-api/v3") as ws:
        assert (await ask(ws, "ping"))["result"] == {}
        assert abs((await ask(ws, "time"))["result"]["serverTime"] - time.time_ns() // 1_000_000) < 5_000
        refusals = [await ask(ws, "userDataStream.subscribe.signature", **params) for params in (
            subscribe_params(secret="wrong"), subscribe_params(skew_ms=60_000), subscribe_params(key="nobody"))]
        assert [(r["status"], r["error"]["code"]) for r in refusals] == [(400, -1022), (400, -1021), (401, -2015)]
        ok = await ask(ws, "userDataStream.subscribe.signature", **subscribe_params())
        again = await ask(ws, "userDataStream.subscribe.signature", **subscribe_params())
        assert (ok["result"], again["result"]) == ({"subscriptionId": 0}, {"subscriptionId": 1})
        assert (await ask(ws, "userDataStream.unsubscribe", subscriptionId=0))["result"] == {}
        assert (await ask(ws, "order.place"))["error"]["code"] == -1100


async def test_paper_trading_a_venue_whose_market_is_another_venues_streams(nursery, tmp_path: Path) -> None:
    """Venue A replays the synthetic market; venue B takes A's streams as its live market data (the
    `live` feed kind, through the project's Binance feed, book actor and sync) and fills B's orders on it."""
    source = load_venue(SCENARIO)
    short = replace(source, feed=replace(source.feed, duration_s=3), speed=10)
    market = await nursery.start(partial(serve_venue, short))
    text = SCENARIO.read_text()
    live = tmp_path / "paper.toml"
    live.write_text(text[:text.index("[feed]")] + f'''[feed]
kind = "live"
instruments = ["BTC/USDT"]
stream_url = "ws://127.0.0.1:{market}"
rest_url = "http://127.0.0.1:{market}"
''' + text[text.index("[venue]"):])
    paper = await nursery.start(partial(serve_venue, load_venue(live)))
    async with httpx.AsyncClient() as http:
        async def depth(port: int) -> dict:
            return (await http.get(f"http://127.0.0.1:{port}/api/v3/depth",
                                   params={"symbol": "BTCUSDT", "limit": 5000})).json()

        with trio.fail_after(10):
            await trio.sleep(0.5)                            # A's market ends after 0.3 s; B catches up
            while True:
                a, b = await depth(market), await depth(paper)
                if b["bids"] and (a["bids"], a["asks"]) == (b["bids"], b["asks"]):
                    break
                await trio.sleep(0.1)
        query = str(httpx.QueryParams({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
                                       "timestamp": str(time.time_ns() // 1_000_000)}))
        placed = await http.post(f"http://127.0.0.1:{paper}/api/v3/order", headers={"X-MBX-APIKEY": "demo-key"},
                                 params=f"{query}&signature={sign('demo-secret', query)}")
    assert placed.status_code == 200, placed.text
    assert [fill["price"] for fill in placed.json()["fills"]] == [a["asks"][0][0]]


@pytest.mark.parametrize("path", ["/ws/nosuch@trade", "/stream?streams=btcusdt@kline_1m", "/elsewhere"])
async def test_unknown_streams_and_paths_are_refused(nursery, path: str) -> None:
    port = await nursery.start(serve_exchange, exchange())
    with pytest.raises(Exception):
        async with open_websocket_url(f"ws://127.0.0.1:{port}{path}") as ws:
            await ws.get_message()


async def test_the_websocket_api_counts_weight_with_rest_and_reports_it(nursery) -> None:
    now_ns = 1_700_000_020_000_000_000                       # 20 s into a minute, and it stays there
    venue = SimulatedBinance([Listing(BTC)], now_ns=lambda: now_ns, maker_fee=Decimal(0), taker_fee=Decimal(0),
                             rate_limits=RateLimits(request_weight_per_minute=4))
    port = await nursery.start(serve_exchange, venue)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http, \
            open_websocket_url(f"ws://127.0.0.1:{port}/ws-api/v3") as ws:
        assert (await http.get("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"] == "1"
        answers = []
        for params in ({}, {"returnRateLimits": False}, {}):
            await ws.send_message(orjson.dumps({"id": len(answers), "method": "ping", "params": params}).decode())
            answers.append(orjson.loads(await ws.get_message()))
        await ws.send_message('{"id":"late","method":"time"}')
        limited = orjson.loads(await ws.get_message())
    assert answers[0]["rateLimits"] == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                         "limit": 4, "count": 2}]
    assert "rateLimits" not in answers[1] and answers[2]["rateLimits"][0]["count"] == 4
    assert (limited["status"], limited["error"]["code"], limited["rateLimits"][0]["count"]) == (429, -1003, 5)
