"""The live feed of a checksum venue over real sockets: a loopback OKX replaying the recorded `books` frames.

The venue keeps each book as the recording builds it, sends a fresh snapshot (with its checksum) whenever a
book is subscribed, answers "ping" with "pong", and misbehaves: one BTC-USDT update carries a corrupted
checksum, one UNI-USD-SWAP update is lost (the next checksum cannot match), and the connection is dropped
mid-stream while the market moves on. The engine's connection and book actors must resubscribe exactly the
book each fault touched, reconnect after the drop, and end with every book equal to the venue's.
"""
from __future__ import annotations

import random
from decimal import Decimal
from functools import partial
from pathlib import Path

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, serve_websocket

from adapters.okx.book_sync import CHECKSUM_DEPTH, OkxBookSync, okx_checksum
from adapters.okx.feed import OkxMarketFeed, stream_plan
from adapters.okx.market_data import okx_instrument
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.actors.book import BookActor, BookStats
from engine.messages import BookState, BookView
from engine.model.numbers import parse_fixed
from engine.replay.cryptofeed import LineKind, read_cryptofeed
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

RECORDING = (Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "bmoscon+cryptofeed"
             / "sample_data" / "OKX.ws.1.0")
pytestmark = pytest.mark.skipif(not RECORDING.is_file(), reason=f"OKX recording not found at {RECORDING}")

METADATA = [  # GET /api/v5/public/instruments, for the three books of the recording
    {"instType": "SPOT", "instId": "BTC-USDT", "baseCcy": "BTC", "quoteCcy": "USDT", "settleCcy": "",
     "ctValCcy": "", "ctType": "", "expTime": "", "tickSz": "0.1", "lotSz": "0.00000001"},
    {"instType": "FUTURES", "instId": "BTC-USD-220527", "baseCcy": "", "quoteCcy": "", "settleCcy": "BTC",
     "ctValCcy": "USD", "ctType": "inverse", "expTime": "1653638400000", "tickSz": "0.1", "lotSz": "1"},
    {"instType": "SWAP", "instId": "UNI-USD-SWAP", "baseCcy": "", "quoteCcy": "", "settleCcy": "UNI",
     "ctValCcy": "USD", "ctType": "inverse", "expTime": "", "tickSz": "0.001", "lotSz": "1"},
]


class LoopbackOkx:
    def __init__(self, corrupt_at: int, lose_at: int, drop_at: int, lost_on_drop: int, subscribers: int = 3):
        frames = [orjson.loads(line.payload) for line in read_cryptofeed(RECORDING)
                  if line.kind is LineKind.RECEIVED and b'"channel":"books"' in line.payload
                  and b'"action"' in line.payload]
        self.books: dict[str, dict[str, dict[str, list[str]]]] = {}
        self.updates = []
        for frame in frames:  # the recording's snapshots start the true books; its updates are streamed
            if frame["action"] == "snapshot":
                self._apply(frame, snapshot=True)
            else:
                self.updates.append(frame)
        self.position = 0
        self.touched_top = False
        self.faults = {"corrupt": corrupt_at, "lose": lose_at, "drop": drop_at}
        self.lost_on_drop = lost_on_drop
        self.subscribers = subscribers  # the stream starts once that many books are subscribed
        self.done = trio.Event()

    def _apply(self, frame: dict, snapshot: bool = False) -> None:
        inst = frame["arg"]["instId"]
        data = frame["data"][0]
        if snapshot:
            self.books[inst] = {"bids": {}, "asks": {}}
        for side in ("bids", "asks"):
            for level in data[side]:
                if Decimal(level[1]):
                    self.books[inst][side][level[0]] = level
                else:
                    self.books[inst][side].pop(level[0], None)

    def snapshot(self, inst: str) -> str:
        book = self.books[inst]
        bids = sorted(book["bids"].values(), key=lambda level: -Decimal(level[0]))
        asks = sorted(book["asks"].values(), key=lambda level: Decimal(level[0]))
        checksum = okx_checksum([(p, s) for p, s, *_ in bids[:CHECKSUM_DEPTH]],
                                [(p, s) for p, s, *_ in asks[:CHECKSUM_DEPTH]])
        return orjson.dumps({"arg": {"channel": "books", "instId": inst}, "action": "snapshot",
                             "data": [{"asks": asks, "bids": bids, "ts": "0", "checksum": checksum}]}).decode()

    def next_update(self) -> dict | None:
        if self.position >= len(self.updates):
            return None
        frame = self.updates[self.position]
        self.position += 1
        self.touched_top = self._touches_top(frame)
        self._apply(frame)
        return frame

    def _touches_top(self, frame: dict) -> bool:
        """Whether an update changes a level among the top 25 a checksum covers (others it cannot see)."""
        book, data = self.books[frame["arg"]["instId"]], frame["data"][0]
        for side, best_first in (("bids", lambda p: -Decimal(p)), ("asks", Decimal)):
            top = sorted(book[side], key=best_first)[:CHECKSUM_DEPTH]
            worst = best_first(top[-1]) if top else None
            if any(worst is None or best_first(level[0]) <= worst for level in data[side]):
                return True
        return False

    async def websocket(self, request) -> None:
        ws = await request.accept()
        subscribed: set[str] = set()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._listen, ws, subscribed)
                await self._stream(ws, subscribed)
                nursery.cancel_scope.cancel()
        except* ConnectionClosed:
            pass  # the client went away: the next connection picks up where the stream is

    async def _listen(self, ws, subscribed: set[str]) -> None:
        while True:
            message = await ws.get_message()
            if message == "ping":
                await ws.send_message("pong")
                continue
            request = orjson.loads(message)
            for arg in request["args"]:
                if request["op"] == "subscribe":
                    subscribed.add(arg["instId"])
                    await ws.send_message(self.snapshot(arg["instId"]))
                else:
                    subscribed.discard(arg["instId"])

    async def _stream(self, ws, subscribed: set[str]) -> None:
        while len(subscribed) < self.subscribers:
            await trio.sleep(0.001)
        while True:
            if self.position >= self.faults["drop"]:
                self.faults["drop"] = 10 ** 9
                for _ in range(self.lost_on_drop):  # the market moves on while the client is away
                    self.next_update()
                await ws.aclose()
                return
            frame = self.next_update()
            if frame is None:
                self.done.set()
                await trio.sleep_forever()
            inst = frame["arg"]["instId"]
            if inst not in subscribed:
                continue
            if self.position >= self.faults["lose"] and inst == "UNI-USD-SWAP" and self.touched_top:
                self.faults["lose"] = 10 ** 9
                continue  # lost on the way: the next UNI checksum will not match
            if self.position >= self.faults["corrupt"] and inst == "BTC-USDT":
                self.faults["corrupt"] = 10 ** 9
                data = dict(frame["data"][0], checksum=frame["data"][0]["checksum"] ^ 0x5A5A)
                frame = dict(frame, data=[data])
            await ws.send_message(orjson.dumps(frame).decode())
            await trio.sleep(0)

    def true_book(self, inst: str, instrument) -> tuple[dict[int, int], dict[int, int]]:
        return tuple({parse_fixed(p, instrument.price_decimals): parse_fixed(s, instrument.qty_decimals)
                      for p, s, *_ in self.books[inst][side].values()} for side in ("bids", "asks"))


@pytest.mark.trio
async def test_checksum_failures_and_a_drop_resubscribe_only_the_books_they_touched():
    venue = LoopbackOkx(corrupt_at=60, lose_at=120, drop_at=180, lost_on_drop=20)
    instruments = [okx_instrument(meta) for meta in METADATA]
    by_symbol = {inst.symbol: inst for inst in instruments}
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_websocket, venue.websocket, "127.0.0.1", 0, ssl_context=None))
        clock = LiveClock()
        nursery.start_soon(clock.run)
        okx = OkxMarketFeed(instruments)
        stats, book_stats = FeedStats(), BookStats()
        feed = WebSocketFeed(stream_plan(instruments, f"ws://127.0.0.1:{server.port}", silence_s=5), okx.decode,
                             okx.resync, Backoff(0.01, 0.1, random.Random(3)), stats)
        feed_box, book_box = Mailbox("feed"), Mailbox("book")
        book = lambda: BookActor(list(by_symbol), 25, book_stats, sync_factory=lambda s: OkxBookSync(by_symbol[s]))
        root = Supervisor("root", [
            ChildSpec("book", actor_runner(BookActor, book), inbox=book_box, outputs={"resync": [BlockingEdge(feed_box)], "views": [unread_views()]}),
            ChildSpec("feed", feed.run, inbox=feed_box, outputs={"market": [BlockingEdge(book_box)]}, ports=WebSocketFeed.ports),
        ], clock=clock, lifecycle=Lifecycle(clock.now_ns))
        await nursery.start(root.serve)
        with trio.fail_after(60):
            await venue.done.wait()
            while any(sync.state is not BookState.LIVE or len(sync.book) != sum(map(len, venue.books[i.venue_symbol].values()))
                      for i in instruments for sync in [book_stats.syncs[i.symbol]]):
                await trio.sleep(0.01)
            await trio.sleep(0.05)
        nursery.cancel_scope.cancel()

    assert (stats.connects, stats.disconnects) == (2, 1)
    syncs = {inst.venue_symbol: book_stats.syncs[inst.symbol] for inst in instruments}
    assert syncs["BTC-USDT"].resyncs == {"checksum_mismatch": 1}
    assert syncs["UNI-USD-SWAP"].resyncs == {"checksum_mismatch": 1}
    assert syncs["BTC-USD-220527"].resyncs == {}
    assert sum(s.checksums_failed for s in syncs.values()) == 2 and sum(s.checksums_ok for s in syncs.values()) > 200
    for inst in instruments:
        sync = syncs[inst.venue_symbol]
        assert sync.state is BookState.LIVE
        bids, asks = venue.true_book(inst.venue_symbol, inst)
        ours = sync.book.top(10 ** 6)
        assert dict(ours[0]) == bids and dict(ours[1]) == asks
    assert stats.malformed == 0 and stats.resyncs_requested == 2


@pytest.mark.trio
async def test_the_recorder_captures_okx_books_that_then_verify(tmp_path):
    from engine.app.record import record
    from engine.app.scenario import load
    from engine.app.verify import verify

    venue = LoopbackOkx(corrupt_at=10 ** 9, lose_at=10 ** 9, drop_at=10 ** 9, lost_on_drop=0, subscribers=1)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_websocket, venue.websocket, "127.0.0.1", 0, ssl_context=None))
        scenario = tmp_path / "okx.toml"
        scenario.write_text(QUICKSTART.read_text()
                            .replace('venue = "binance"\nvenue_symbol = "BTCUSDT"', 'venue = "okx"\nvenue_symbol = "BTC-USDT"')
                            .replace('[feed]\nkind = "synthetic"', f'[feed]\nkind = "live"\n'
                                     f'stream_url = "ws://127.0.0.1:{server.port}"\nrest_url = "http://127.0.0.1:1"')
                            .replace("seed = 7\n", "", 1))  # a live feed has no seed
        outcome = await record(load(scenario), tmp_path / "okx.gz", duration_s=1.0)
        nursery.cancel_scope.cancel()
    summary = verify([outcome.path], "okx")
    assert outcome.snapshots == 0 and outcome.frames > 50
    assert summary.consistent and summary.events["BookSnapshot"] == 1 and summary.checksums_ok > 50


QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.toml"


@pytest.mark.trio
async def test_a_scenario_trades_live_on_okx_books(tmp_path):
    from engine.app import session
    from engine.app.scenario import load

    venue = LoopbackOkx(corrupt_at=10 ** 9, lose_at=10 ** 9, drop_at=10 ** 9, lost_on_drop=0, subscribers=1)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(serve_websocket, venue.websocket, "127.0.0.1", 0, ssl_context=None))
        scenario = tmp_path / "okx_live.toml"
        scenario.write_text(QUICKSTART.read_text()
                            .replace('venue = "binance"\nvenue_symbol = "BTCUSDT"', 'venue = "okx"\nvenue_symbol = "BTC-USDT"')
                            .replace('[feed]\nkind = "synthetic"', f'[feed]\nkind = "live"\n'
                                     f'stream_url = "ws://127.0.0.1:{server.port}"\nrest_url = "http://127.0.0.1:1"')
                            .replace("seed = 7\n", "", 1)  # a live feed has no seed
                            .replace("duration_s = 600", "duration_s = 1")
                            .replace("fast = 8\nslow = 40", "fast = 2\nslow = 5"))
        outcome = await session.run(load(scenario), tmp_path / "out")
        nursery.cancel_scope.cancel()
    report = outcome.report
    assert report["events"] > 50 and report["malformed_frames"] == 0 and report["live"]["connects"] == 1
    assert report["runtime"]["book_views"] > 20 and report["book"]["checksums_ok"] > 50
    assert report["book"]["checksums_failed"] == 0 and report["book"]["resyncs"] == {}


def unread_views() -> LatestValueEdge:
    """Where the book's views go when nothing here trades on them: kept as latest values, never read."""
    return LatestValueEdge(Mailbox("strategy", accepts=(BookView,)), lambda view: view.instrument)
