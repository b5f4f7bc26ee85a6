"""`record`: capture a venue's live market data, as received, into the project's own capture format.

Every WebSocket frame is written verbatim with its local receive time (`<local_ns> <json>`, gzip), each
(re)connection as a `{"open": url}` line (what the venue sent while it was down is lost, and a verifier
must know), and each REST depth snapshot the recorder fetches (Binance only: one per instrument on every connection,
after the stream is open, as its sync rules want) as a `{"rest": url, "body": ...}` line. Kraken, OKX,
Bybit and Coinbase send their snapshots on the stream when a subscription starts. The file replays through
the same codecs as any recording: `verify-feed` checks it, a scenario with `kind = "recording"` trades on it.
"""
from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import trio

from adapters.registry import live_market_data
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.messages import FeedConnected, MarketBatch, RawFrame, ResyncRequest
from engine.replay.recording import WEBSOCKET, open_line, rest_line
from engine.runtime import (Actor, ActorContext, BlockingEdge, ChildSpec, Lifecycle, LiveClock, Mailbox, Ports,
                            Supervisor, actor_runner)
from engine.app.scenario import Scenario
from engine.app.stopping import StopRequest


@dataclass
class RecordOutcome:
    path: Path
    frames: int
    snapshots: int
    feed: FeedStats
    stopped: str | None = None   # why it ended before its duration (`stopped by SIGTERM`)


class CaptureWriter(Actor):
    """Appends every raw frame to the capture; the file is flushed after each batch."""

    ports = Ports(accepts=(MarketBatch, FeedConnected))

    def __init__(self, file: Any, counts: dict[str, int]):
        self.file = file
        self.counts = counts

    async def handle(self, batch: list[MarketBatch | FeedConnected], ctx: ActorContext) -> None:
        for market in batch:
            if type(market) is FeedConnected:
                self.file.write(open_line(market.ts_ns, market.url))
                continue
            for frame in market.events:
                if frame.source == WEBSOCKET:
                    self.file.write(b"%d %s\n" % (frame.ts_ns, frame.payload))
                    self.counts["frames"] += 1
                else:
                    self.file.write(rest_line(frame.ts_ns, frame.source, frame.payload))
                    self.counts["snapshots"] += 1
        self.file.flush()


async def record(scenario: Scenario, out_path: Path, duration_s: float,
                 stop: StopRequest | None = None) -> RecordOutcome:
    """Record `scenario`'s live feed into `out_path` for `duration_s`, or until `stop` is asked for; the file is
    closed whole either way (a gzip that reads to its end), and also when the recording is cancelled."""
    spec = scenario.feed
    if spec.kind != "live":
        raise ValueError(f"{scenario.path}: [feed] kind must be \"live\" to record, got {spec.kind!r}")
    if len(spec.connections) != 1:
        raise ValueError(f"{scenario.path}: [feed] connections: a capture records one connection, "
                         f"got {len(spec.connections)}: record each in a scenario of its own")
    [connection] = spec.connections
    instruments = [scenario.instruments[symbol] for symbol in connection.instruments]
    stop = stop or StopRequest()
    clock = LiveClock()
    live = live_market_data(connection.venue, instruments, connection.stream_url, connection.rest_url,
                            spec.silence_s, clock.now_ns)
    rest, snapshot_request = live.rest, live.snapshot_request  # Binance's; the others snapshot on the stream

    def raw(frame: bytes | str, ts_ns: int) -> list[RawFrame]:
        return [RawFrame(ts_ns, WEBSOCKET, frame.encode() if isinstance(frame, str) else frame)]

    async def snapshot(_ws: Any, request: ResyncRequest) -> list[RawFrame]:
        assert rest is not None and snapshot_request is not None  # asked for only where the venue has them
        path, params = snapshot_request(scenario.instruments[request.instrument])
        body = await rest.get_json(path, params)
        return [RawFrame(clock.now_ns(), f"{connection.rest_url}{path}?{urlencode(params)}", orjson.dumps(body))]

    snapshots = tuple(i.symbol for i in instruments) if snapshot_request is not None else ()
    stats = FeedStats()
    feed = WebSocketFeed(live.plan, raw, snapshot, Backoff(rng=random.Random()), stats, resync_on_connect=snapshots,
                         on_connect=live.on_connect)
    counts = {"frames": 0, "snapshots": 0}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out_path, "wb") as file:
        writer_box, feed_box = Mailbox("writer"), Mailbox("feed")
        root = Supervisor("recorder", [
            ChildSpec("writer", actor_runner(CaptureWriter, lambda: CaptureWriter(file, counts)), inbox=writer_box),
            ChildSpec("feed", feed.run, inbox=feed_box, ports=WebSocketFeed.ports,
                      outputs={"market": [BlockingEdge(writer_box)], "status": [BlockingEdge(writer_box)]}),
        ], clock=clock, lifecycle=Lifecycle(clock.now_ns))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(clock.run)
            async with trio.open_nursery() as tree:
                root_ctx = await tree.start(root.serve)
                await stop.within(duration_s)
                root_ctx.stop_requested.set()  # children stop in reverse order: the feed, then the writer
            nursery.cancel_scope.cancel()
    if rest is not None:
        await rest.aclose()
    return RecordOutcome(out_path, counts["frames"], counts["snapshots"], stats, stop.reason)
