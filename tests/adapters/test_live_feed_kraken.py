"""The live feed of Kraken WS v2 over real sockets: a loopback Kraken replaying recorded `book` frames.

The venue replays two recorded v2 sessions on one connection (ccxt's BTC/USD case with a repeated snapshot,
and its DOGE/USDT case with a thin snapshot first), as JSON numbers, with Kraken's own checksums. It says
`status` on connect, acks every subscription per symbol, sends `heartbeat` frames between book frames and
answers pings, and keeps each book as Kraken would show it at depth 10. One BTC/USD update carries a
corrupted checksum; the BTC/USD market then waits until the client has subscribed again, when the venue
sends a snapshot of the book as it stands, checksummed by venues.md's rule written here independently. The
engine's connection and book actors must resubscribe exactly that book, then verify every later checksum
Kraken recorded, and end with both books equal to the venue's.
"""
from __future__ import annotations

import dataclasses
import json
import random
import zlib
from decimal import Decimal
from functools import partial
from itertools import chain, zip_longest
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, serve_websocket

from adapters.kraken.book_sync import KrakenBookSync
from adapters.kraken.feed import KrakenMarketFeed, stream_plan
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.actors.book import BookActor, BookStats
from engine.messages import BookState, BookView
from engine.model.numbers import Instrument
from engine.runtime import (
    BlockingEdge,
    ChildSpec,
    LatestValueEdge,
    Lifecycle,
    LiveClock,
    Mailbox,
    Supervisor,
    actor_runner,
)

RECORDING = (Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "ccxt+ccxt" / "ts" / "src" / "test"
             / "static" / "ws" / "kraken.json.watchOrderBook.excerpt.jsonl")
pytestmark = pytest.mark.skipif(not RECORDING.is_file(), reason=f"Kraken v2 recording not found at {RECORDING}")

DEPTH = 10
INSTRUMENTS = [  # INDEX.md §4: precisions 1/8 and 5/8
    Instrument("BTC/USD", "kraken", "XBT/USD", "BTC", "USD", price_decimals=1, qty_decimals=8),
    Instrument("DOGE/USDT", "kraken", "XDG/USDT", "DOGE", "USDT", price_decimals=5, qty_decimals=8),
]
CASES = {"BTC/USD": "orderbook reset in place on repeated snapshot",
         "DOGE/USDT": "orderbook depth kept when a deeper snapshot follows a thin one"}
CORRUPTED = ("BTC/USD", 2)  # the second update of BTC/USD (after its snapshot and one update)
TIMES = {"time_in": "2026-10-06T08:04:55.791872Z", "time_out": "2026-10-06T08:04:55.791930Z"}


class Number(str):
    """A JSON number kept as the text it was written with ("5.1e-05"), so that it is sent back as written."""


def dumps(value: Any) -> str:
    """JSON text with `Number`s written as numbers, as Kraken writes prices and quantities."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(key)}:{dumps(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(dumps, value)) + "]"
    return json.dumps(value)


def recorded_book_frames() -> list[tuple[str, dict]]:
    """The two cases' `book` frames, one symbol's then the other's in turn, each as (symbol, frame)."""
    by_symbol: dict[str, list[tuple[str, dict]]] = {symbol: [] for symbol in CASES}
    with open(RECORDING, "rb") as file:
        for line in file:
            row = json.loads(line, parse_float=Number, parse_int=Number)
            msg = row["msg"]
            if row["dir"] == "in" and msg.get("channel") == "book":
                symbol = msg["data"][0]["symbol"]
                if CASES.get(symbol) == row["case"]:
                    by_symbol[symbol].append((symbol, msg))
    return [frame for frame in chain.from_iterable(zip_longest(*by_symbol.values())) if frame is not None]


def wire_digits(text: str, decimals: int) -> str:
    """venues.md §3.1 `fmt`: the value at the pair's precision, '.' removed, leading zeros stripped."""
    return format(Decimal(text).quantize(Decimal(1).scaleb(-decimals)), "f").replace(".", "").lstrip("0") or "0"


class LoopbackKraken:
    def __init__(self) -> None:
        self.frames = recorded_book_frames()
        self.instruments = {inst.symbol: inst for inst in INSTRUMENTS}
        self.books: dict[str, dict[str, dict[Decimal, tuple[str, str]]]] = {}
        self.requests: list[dict] = []
        self.pings = 0
        self.subscribed: set[str] = set()
        self.corrupted = False
        self.repaired = trio.Event()
        self.done = trio.Event()

    def _apply(self, symbol: str, frame: dict) -> None:
        """Kraken's view of the book at the subscribed depth: levels set in order, then the worst cut off."""
        data = frame["data"][0]
        if frame["type"] == "snapshot":
            self.books[symbol] = {"bids": {}, "asks": {}}
        book = self.books[symbol]
        for side in ("bids", "asks"):
            for level in data[side]:
                price = Decimal(level["price"])
                if Decimal(level["qty"]):
                    book[side][price] = (level["price"], level["qty"])
                else:
                    book[side].pop(price, None)
            for price in self._sorted(side, book[side])[DEPTH:]:
                del book[side][price]

    @staticmethod
    def _sorted(side: str, levels: dict[Decimal, tuple[str, str]]) -> list[Decimal]:
        return sorted(levels, reverse=side == "bids")

    def snapshot(self, symbol: str) -> str:
        book, inst = self.books[symbol], self.instruments[symbol]
        levels = {side: [book[side][price] for price in self._sorted(side, book[side])] for side in ("bids", "asks")}
        text = "".join(wire_digits(price, inst.price_decimals) + wire_digits(qty, inst.qty_decimals)
                       for price, qty in levels["asks"][:10] + levels["bids"][:10])
        return dumps({"channel": "book", "type": "snapshot", "data": [{
            "symbol": symbol,
            **{side: [{"price": Number(p), "qty": Number(q)} for p, q in levels[side]] for side in ("bids", "asks")},
            "checksum": Number(zlib.crc32(text.encode())), "timestamp": "2026-10-06T08:04:56.200000Z"}]})

    def true_book(self, symbol: str) -> tuple[dict[int, int], dict[int, int]]:
        inst = self.instruments[symbol]
        return tuple({int(Decimal(p).scaleb(inst.price_decimals)): int(Decimal(q).scaleb(inst.qty_decimals))
                      for p, q in self.books[symbol][side].values()} for side in ("bids", "asks"))

    async def websocket(self, request) -> None:
        ws = await request.accept()
        try:
            status = {"version": "2.0.10", "system": "online", "api_version": "v2", "connection_id": 1718169515898658}
            await ws.send_message(dumps({"channel": "status", "type": "update", "data": [status]}))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._listen, ws)
                await self._stream(ws)
        except* ConnectionClosed:
            pass

    async def _listen(self, ws) -> None:
        while True:
            request = orjson.loads(await ws.get_message())
            method = request["method"]
            if method == "ping":
                self.pings += 1
                await ws.send_message(dumps({"method": "pong", **TIMES}))
                continue
            self.requests.append(request)
            params = request["params"]
            for symbol in params["symbol"]:
                result = {"channel": "book", "depth": params["depth"], "symbol": symbol}
                await ws.send_message(dumps({"method": method, "result": result, "success": True, **TIMES}))
                if method == "unsubscribe":
                    self.subscribed.discard(symbol)
                    continue
                self.subscribed.add(symbol)
                if symbol in self.books:  # a subscription mid-stream: the book as it stands
                    await ws.send_message(self.snapshot(symbol))
                if symbol == CORRUPTED[0] and self.corrupted:
                    self.repaired.set()

    async def _stream(self, ws) -> None:
        while len(self.subscribed) < len(CASES):
            await trio.sleep(0.001)
        sent = {symbol: 0 for symbol in CASES}
        for symbol, frame in self.frames:
            if symbol == CORRUPTED[0] and sent[symbol] > CORRUPTED[1]:
                await self.repaired.wait()  # this market holds still until the client has resubscribed
            self._apply(symbol, frame)
            if (symbol, sent[symbol]) == CORRUPTED:
                data = frame["data"][0]
                frame = dict(frame, data=[dict(data, checksum=Number(int(data["checksum"]) ^ 0x5A5A))])
                self.corrupted = True
            sent[symbol] += 1
            await ws.send_message(dumps(frame))
            await ws.send_message('{"channel":"heartbeat"}')
            await trio.sleep(0.002)
        self.done.set()
        await trio.sleep_forever()


async def test_a_corrupted_checksum_resubscribes_only_its_book_and_every_later_checksum_verifies():
    venue = LoopbackKraken()
    by_symbol = {inst.symbol: inst for inst in INSTRUMENTS}
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_websocket, venue.websocket, "127.0.0.1", 0, ssl_context=None))
        clock = LiveClock()
        nursery.start_soon(clock.run)
        kraken = KrakenMarketFeed(INSTRUMENTS, DEPTH)
        plan = dataclasses.replace(stream_plan(INSTRUMENTS, DEPTH, f"ws://127.0.0.1:{server.port}", silence_s=5),
                                   heartbeat_s=0.005)  # pings every few ms, so that pongs arrive mid-stream
        stats, book_stats = FeedStats(), BookStats()
        feed = WebSocketFeed(plan, kraken.decode, kraken.resync, Backoff(0.01, 0.1, random.Random(3)), stats)
        feed_box, book_box = Mailbox("feed"), Mailbox("book")
        book = lambda: BookActor(list(by_symbol), DEPTH, book_stats,
                                 sync_factory=lambda s: KrakenBookSync(by_symbol[s], DEPTH))
        root = Supervisor("root", [
            ChildSpec("book", actor_runner(BookActor, book), inbox=book_box, outputs={"resync": [BlockingEdge(feed_box)], "views": [unread_views()]}),
            ChildSpec("feed", feed.run, inbox=feed_box, outputs={"market": [BlockingEdge(book_box)]}, ports=WebSocketFeed.ports),
        ], clock=clock, lifecycle=Lifecycle(clock.now_ns))
        await nursery.start(root.serve)
        syncs = book_stats.syncs
        with trio.fail_after(10):
            await venue.done.wait()
            while venue.pings < 3 or any(
                    syncs[s].state is not BookState.LIVE
                    or tuple(map(dict, syncs[s].book.top(10 ** 6))) != venue.true_book(s) for s in CASES):
                await trio.sleep(0.01)
            await trio.sleep(0.05)
        nursery.cancel_scope.cancel()

    btc, doge = syncs["BTC/USD"], syncs["DOGE/USDT"]
    assert btc.resyncs == {"checksum_mismatch": 1} and doge.resyncs == {}
    # BTC/USD: its first snapshot and update, the corrupted update (failed), the resync snapshot, two updates,
    # Kraken's repeated snapshot and three more updates. DOGE/USDT: a deep snapshot and two updates (the thin
    # snapshot before them has no checksum).
    assert (btc.checksums_ok, btc.checksums_failed) == (9, 1)
    assert (doge.checksums_ok, doge.checksums_failed) == (3, 0)
    for symbol in CASES:
        assert syncs[symbol].state is BookState.LIVE
        assert tuple(map(dict, syncs[symbol].book.top(10 ** 6))) == venue.true_book(symbol)
    book_request = {"channel": "book", "symbol": ["BTC/USD"], "depth": DEPTH}
    assert venue.requests == [
        {"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD", "DOGE/USDT"], "depth": DEPTH,
                                           "snapshot": True}},
        {"method": "unsubscribe", "params": book_request},
        {"method": "subscribe", "params": {**book_request, "snapshot": True}},
    ]
    assert (stats.connects, stats.disconnects, stats.silent_drops) == (1, 0, 0)
    assert stats.malformed == 0 and stats.resyncs_requested == 1 and kraken.refusals == 0


def unread_views() -> LatestValueEdge:
    """Where the book's views go when nothing here trades on them: kept as latest values, never read."""
    return LatestValueEdge(Mailbox("strategy", accepts=(BookView,)), lambda view: view.instrument)
