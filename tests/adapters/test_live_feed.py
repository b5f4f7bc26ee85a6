"""The live feed over real sockets: a loopback Binance (WebSocket streams + REST depth) that misbehaves.

The venue here replays recorded Binance spot frames of two markets (hftbacktest's BTCUSDT and ETHUSDT
captures) and keeps the true book of each, from the capture's own snapshot and diffs.
It skips one ETH diff, corrupts one BTC bookTicker, and drops the connection mid-stream (the market moves
on while the client is away). The engine's own connection actor and book actor must reconnect, resync
exactly the instrument each fault touched, and end with books equal to the venue's.
"""
from __future__ import annotations

import heapq
import random
from decimal import Decimal
from functools import partial
from pathlib import Path

import orjson
import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from trio_websocket import ConnectionClosed, serve_websocket

from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.feed import BinanceMarketFeed, stream_plan
from adapters.binance.market_data import binance_spot_instrument
from adapters.http import RestClient
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.actors.book import BookActor, BookStats
from engine.messages import BookState, BookView
from engine.model.numbers import parse_fixed
from engine.replay.formats import read_capture
from engine.runtime import (
    BlockingEdge,
    ChildSpec,
    LatestValueEdge,
    Lifecycle,
    LiveClock,
    Mailbox,
    Restart,
    Supervisor,
    actor_runner,
)

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples"
SYMBOLS = {"BTCUSDT": CAPTURES / "spot" / "btcusdt_20240808.gz", "ETHUSDT": CAPTURES / "spot" / "ethusdt_20240808.gz"}
FRAMES_PER_MARKET = 4000
pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason=f"recorded captures not found at {CAPTURES}")


class LoopbackBinance:
    """Streams the merged synthetic frames to whoever connects, and answers REST depth with the true book."""

    def __init__(self, skip_eth_diff_at: int, corrupt_btc_ticker_at: int, drop_at: int, lost_on_drop: int):
        streams = [self._frames(symbol, path) for symbol, path in SYMBOLS.items()]
        self.frames = [frame for _, frame in heapq.merge(*streams, key=lambda item: item[0])]
        self.diff_ids = {msg["data"]["u"] for _, msg in self.frames if msg.get("data", {}).get("e") == "depthUpdate"}
        self.books: dict[str, dict[str, dict[str, str]]] = {}
        self.last_id: dict[str, int] = {}
        self.early: dict[str, list[dict]] = {}
        self.position = 0
        self.faults = {"skip": skip_eth_diff_at, "corrupt": corrupt_btc_ticker_at, "drop": drop_at}
        self.lost_on_drop = lost_on_drop
        self.done = trio.Event()

    @staticmethod
    def _frames(symbol: str, path: Path):
        for ts, frame in list(read_capture(path))[:FRAMES_PER_MARKET]:
            yield ts, (symbol, orjson.loads(frame))

    def _apply(self, symbol: str, msg: dict) -> bool:
        """Advance the true book by one frame; False for frames before the venue's first snapshot.

        The recorded snapshot lies inside the range of the diff recorded just before it, so diffs seen
        before it are held and those reaching past it applied on top, as Binance's own rules say.
        """
        if "lastUpdateId" in msg:
            self.books[symbol] = {"b": {p: q for p, q in msg["bids"]}, "a": {p: q for p, q in msg["asks"]}}
            self.last_id[symbol] = msg["lastUpdateId"]
            for data in self.early.pop(symbol, []):
                if data["u"] > self.last_id[symbol]:
                    self._diff(symbol, data)
            return False
        data = msg["data"]
        if symbol not in self.books:
            if data.get("e") == "depthUpdate":
                self.early.setdefault(symbol, []).append(data)
            return False
        if data.get("e") == "depthUpdate":
            self._diff(symbol, data)
        return True

    def _diff(self, symbol: str, data: dict) -> None:
        for side in ("b", "a"):
            for price, qty in data[side]:
                if Decimal(qty):
                    self.books[symbol][side][price] = qty
                else:
                    self.books[symbol][side].pop(price, None)
        self.last_id[symbol] = data["u"]

    def next_frame(self) -> tuple[str, bytes] | None:
        while self.position < len(self.frames):
            symbol, msg = self.frames[self.position]
            self.position += 1
            if not self._apply(symbol, msg):
                continue
            data = msg["data"]
            if self.position >= self.faults["skip"] and symbol == "ETHUSDT" and data.get("e") == "depthUpdate":
                self.faults["skip"] = 10 ** 9
                continue  # the venue lost it: a sequence gap for ETH alone
            if (self.position >= self.faults["corrupt"] and symbol == "BTCUSDT" and "e" not in data
                    and data["u"] in self.diff_ids):
                # a bookTicker the book will compare with itself (its id is a diff's): alter the best bid
                self.faults["corrupt"] = 10 ** 9
                data = dict(data, B=str(Decimal(data["B"]) + Decimal("1.5")))
                msg = dict(msg, data=data)
            return symbol, orjson.dumps(msg)
        return None

    async def websocket(self, request) -> None:
        ws = await request.accept()
        try:
            await self._stream(ws)
        except ConnectionClosed:
            pass  # the client went away: the next connection picks up where the stream is

    async def _stream(self, ws) -> None:
        while True:
            if self.position >= self.faults["drop"]:
                self.faults["drop"] = 10 ** 9
                for _ in range(self.lost_on_drop):  # the market moves on while the client is away
                    self.next_frame()
                await ws.aclose()
                return
            item = self.next_frame()
            if item is None:
                self.done.set()
                await trio.sleep_forever()
            await ws.send_message(item[1].decode())

    async def rest(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        query = dict(pair.split("=") for pair in scope["query_string"].decode().split("&") if pair)
        symbol = query.get("symbol", "")
        if scope["path"] != "/api/v3/depth" or symbol not in self.books:
            status, body = 400, orjson.dumps({"code": -1121, "msg": "Invalid symbol."})
        else:
            book = self.books[symbol]
            status, body = 200, orjson.dumps({
                "lastUpdateId": self.last_id[symbol],
                "bids": sorted(book["b"].items(), key=lambda level: -Decimal(level[0])),
                "asks": sorted(book["a"].items(), key=lambda level: Decimal(level[0]))})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    def true_book(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        return tuple({parse_fixed(p, 8): parse_fixed(q, 8) for p, q in self.books[symbol][side].items()}
                     for side in ("b", "a"))


@pytest.mark.trio
async def test_feed_reconnects_and_resyncs_only_the_instrument_each_fault_touched():
    venue = LoopbackBinance(skip_eth_diff_at=300, corrupt_btc_ticker_at=600, drop_at=900, lost_on_drop=300)
    instruments = [binance_spot_instrument(symbol, symbol[:3], "USDT") for symbol in SYMBOLS]
    async with trio.open_nursery() as nursery:
        ws_server = await nursery.start(partial(serve_websocket, venue.websocket, "127.0.0.1", 0, ssl_context=None))
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = config.errorlog = None
        [rest_url] = await nursery.start(partial(serve, venue.rest, config))

        clock = LiveClock()
        nursery.start_soon(clock.run)
        lifecycle = Lifecycle(clock.now_ns)
        feed_box, book_box = Mailbox("feed"), Mailbox("book")
        stats, book_stats = FeedStats(), BookStats()
        rest = RestClient(rest_url)
        binance = BinanceMarketFeed(instruments, rest, clock.now_ns)
        plan = stream_plan(instruments, base_url=f"ws://127.0.0.1:{ws_server.port}", silence_s=5)
        feed = WebSocketFeed(plan, binance.decode, binance.resync, Backoff(0.01, 0.1, random.Random(7)), stats)
        symbols = [inst.symbol for inst in instruments]
        root = Supervisor("root", [
            ChildSpec("book", actor_runner(BookActor, lambda: BookActor(symbols, 10, book_stats, BinanceBookSync)), inbox=book_box,
                      outputs={"resync": [BlockingEdge(feed_box)], "views": [unread_views()]}),
            ChildSpec("feed", feed.run, inbox=feed_box, outputs={"market": [BlockingEdge(book_box)]}, ports=WebSocketFeed.ports,
                      restart=Restart.PERMANENT),
        ], clock=clock, lifecycle=lifecycle)
        await nursery.start(root.serve)

        with trio.fail_after(60):
            await venue.done.wait()
            while any(book_stats.syncs[s].last_update_id != venue.last_id[i.venue_symbol]
                      for s, i in zip(symbols, instruments)):
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()

    assert (stats.connects, stats.disconnects) == (2, 1)
    btc, eth = (book_stats.syncs[s] for s in symbols)
    assert eth.resyncs == {"gap": 2}, "the skipped ETH diff, then the dropped connection"
    assert btc.resyncs == {"top_mismatch": 1, "gap": 1}, "the corrupted BTC ticker, then the drop"
    assert btc.top_mismatches == 1 and btc.tops_checked > 50
    for sync, inst in zip((btc, eth), instruments):
        assert sync.state is BookState.LIVE
        bids, asks = venue.true_book(inst.venue_symbol)
        ours = sync.book.top(10 ** 6)
        assert dict(ours[0]) == bids and dict(ours[1]) == asks
    # one snapshot each to start, one for the ETH gap, one for the BTC ticker, one each after the drop
    assert stats.malformed == 0 and stats.resyncs_requested == 6


@pytest.mark.trio
async def test_the_recorder_captures_a_live_feed_that_then_verifies_and_replays(tmp_path):
    from engine.app.record import record
    from engine.app.scenario import load
    from engine.app.verify import verify

    venue = LoopbackBinance(skip_eth_diff_at=10 ** 9, corrupt_btc_ticker_at=10 ** 9, drop_at=400, lost_on_drop=300)
    async with trio.open_nursery() as nursery:
        ws_server = await nursery.start(partial(serve_websocket, venue.websocket, "127.0.0.1", 0, ssl_context=None))
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = config.errorlog = None
        [rest_url] = await nursery.start(partial(serve, venue.rest, config))
        scenario = tmp_path / "live.toml"
        scenario.write_text(QUICKSTART.read_text().replace(
            '[feed]\nkind = "synthetic"', f'[feed]\nkind = "live"\nstream_url = "ws://127.0.0.1:{ws_server.port}"\n'
            f'rest_url = "{rest_url}"\nsilence_s = 5').replace("seed = 7\n", "", 1))  # a live feed has no seed
        outcome = await record(load(scenario), tmp_path / "capture.gz", duration_s=1.5)
        nursery.cancel_scope.cancel()

    assert outcome.feed.connects == 2 and outcome.snapshots == 2 and outcome.frames > 500
    summary = verify([outcome.path], "binance")
    assert summary.consistent and summary.malformed == 0
    assert summary.events["BookSnapshot"] == 2 and summary.sequence_gaps == 0
    assert summary.resyncs == {"reconnect": 1}  # the drop, repaired by the snapshot taken on reconnecting
    assert summary.top_of_book_checked > 10


QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.toml"


def unread_views() -> LatestValueEdge:
    """Where the book's views go when nothing here trades on them: kept as latest values, never read."""
    return LatestValueEdge(Mailbox("strategy", accepts=(BookView,)), lambda view: view.instrument)
