"""The live WebSocket feed: one actor per venue connection, shared by every venue.

The venue's codec and a `StreamPlan` (where to connect, what to send, how the venue keeps a connection
alive) are all it needs to know about a venue. It connects, subscribes, turns every frame into market
events stamped with the injected clock's receive time, and keeps the connection honest:

- a connection silent for `silence_s` is dead, whatever the socket says: it is dropped and reopened;
- where the venue wants application pings (OKX, Bybit, Kraken), one goes out every `heartbeat_s`;
  WebSocket-level pings from the venue (Binance) are answered by trio-websocket itself;
- a venue that ends connections after a fixed lifetime (Binance: 24 h) is left just before it does;
- every failure is followed by a reconnect after an exponential backoff with full jitter, reset by the
  first frame of a healthy connection, and the subscription is sent again.

Resynchronisation requests from the book arrive in the actor's mailbox and are passed to a venue-specific
`resync` function (a REST snapshot for Binance, a resubscription elsewhere), so one instrument is repaired
while the others go on; a recorder asks for every instrument's snapshot on each connection itself
(`resync_on_connect`). A malformed frame is counted and logged and never stops the feed.

Timeouts here use trio's timers: this actor exists only where there is a real network.
"""
from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from engine.contracts import MalformedFrame
from engine.messages import FeedConnected, MarketBatch, ResyncRequest
from engine.runtime import ActorContext, Ports

log = logging.getLogger("adapters.ws")

_LOGGED_MALFORMED = 20
_CONNECTION_ERRORS = (OSError, HandshakeError, ConnectionClosed, trio.TooSlowError)


class Backoff:
    """Exponential backoff with full jitter: the n-th wait is uniform in [0, min(cap, base * 2**n)]."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None):
        self.base_s, self.cap_s = base_s, cap_s
        self.rng = rng or random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True)
class StreamPlan:
    """How to hold one venue connection: sans-IO, made by each venue's market_data module."""
    url: str
    subscribe: tuple[str, ...] = ()
    heartbeat: str | None = None        # application ping text, where the venue wants one
    heartbeat_s: float = 20.0
    silence_s: float = 30.0             # no frame for this long: the connection is dead
    max_lifetime_s: float | None = None  # leave before the venue's forced rollover


@dataclass
class FeedStats:
    """Counters of one connection actor; they outlive its restarts."""
    connects: int = 0
    disconnects: int = 0
    silent_drops: int = 0
    rollovers: int = 0
    frames: int = 0
    malformed: int = 0
    resyncs_requested: int = 0
    last_error: str = ""       # why the last connection attempt or connection failed (a run that never connects says)


Decode = Callable[[bytes | str, int], Any]
Resync = Callable[[WebSocketConnection, ResyncRequest], Awaitable[list[Any]]]


class WebSocketFeed:
    """The connection actor: frames in, `MarketBatch`es out on `market`, `FeedConnected` on `status`;
    resync requests in its mailbox."""
    ports = Ports(accepts=(ResyncRequest,), outputs={"market": MarketBatch, "status": FeedConnected},
                  optional={"status": "only a recorder keeps connections (it writes them into the capture); a run "
                                      "counts them in FeedStats, and its books learn what a dropped connection "
                                      "lost from their venue's sequence and checksum checks"})

    def __init__(self, plan: StreamPlan, decode: Decode, resync: Resync, backoff: Backoff, stats: FeedStats,
                 resync_on_connect: tuple[str, ...] = (), on_connect: Callable[[], None] | None = None):
        self.plan = plan
        self.on_connect = on_connect
        self.resync_on_connect = resync_on_connect
        self.decode = decode
        self.resync = resync
        self.backoff = backoff
        self.stats = stats
        self._ws: WebSocketConnection | None = None
        self._connected = trio.Event()

    async def run(self, ctx: ActorContext) -> None:
        ctx.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._serve_resyncs, ctx)
            while True:
                lost: BaseException | None = None
                try:
                    await self._connection(ctx)
                except* _CONNECTION_ERRORS as group:
                    lost = group.exceptions[0]
                finally:
                    self._ws = None
                    if self._connected.is_set():
                        self._connected = trio.Event()
                if lost is None:
                    self.stats.rollovers += 1
                    continue  # a planned rollover: reconnect at once
                self.stats.disconnects += 1
                self.stats.last_error = _described(lost)
                log.warning("%s: connection lost (%s: %s)", ctx.name, type(lost).__name__, lost)
                await trio.sleep(self.backoff.next_delay())

    async def _connection(self, ctx: ActorContext) -> None:
        plan = self.plan
        async with open_websocket_url(plan.url) as ws:
            self.stats.connects += 1
            if self.on_connect is not None:
                self.on_connect()  # per-connection decoding state (Coinbase's sequence) starts afresh
            for message in plan.subscribe:
                await ws.send_message(message)
            self._ws = ws
            self._connected.set()
            await ctx.emit("status", FeedConnected(plan.url, ctx.clock.now_ns()))
            for instrument in self.resync_on_connect:
                ctx.inbox.deliver(ResyncRequest(instrument, ctx.clock.now_ns(), "connected"))
            with trio.move_on_after(plan.max_lifetime_s if plan.max_lifetime_s else math.inf):
                async with trio.open_nursery() as nursery:
                    if plan.heartbeat:
                        nursery.start_soon(self._heartbeat, ws)
                    await self._read(ctx, ws)

    async def _read(self, ctx: ActorContext, ws: WebSocketConnection) -> None:
        decode, clock, stats = self.decode, ctx.clock, self.stats
        first = True
        while True:
            try:
                with trio.fail_after(self.plan.silence_s):
                    frame = await ws.get_message()
            except trio.TooSlowError:
                stats.silent_drops += 1
                raise
            if first:
                self.backoff.reset()
                first = False
            ts = clock.now_ns()
            stats.frames += 1
            try:
                events = decode(frame, ts)
            except MalformedFrame as exc:
                stats.malformed += 1
                if stats.malformed <= _LOGGED_MALFORMED:
                    log.warning("%s: malformed frame %d: %s", ctx.name, stats.frames, exc)
                continue
            if events:
                await ctx.emit("market", MarketBatch(ts, tuple(events)))

    async def _heartbeat(self, ws: WebSocketConnection) -> None:
        while True:
            await trio.sleep(self.plan.heartbeat_s)
            await ws.send_message(self.plan.heartbeat)

    async def _serve_resyncs(self, ctx: ActorContext) -> None:
        """Repair books one at a time, in the order asked; a request made while disconnected waits for one.

        A failed repair is tried again after a backoff of its own, until it succeeds: the book keeps
        buffering (and counting) meanwhile, and trades on nothing.
        """
        while True:
            for request in await ctx.inbox.receive_batch():
                if not isinstance(request, ResyncRequest):
                    continue
                self.stats.resyncs_requested += 1
                retry = Backoff(self.backoff.base_s, self.backoff.cap_s, self.backoff.rng)
                while True:
                    await self._connected.wait()
                    try:
                        events = await self.resync(self._ws, request)
                        break
                    except (OSError, ConnectionClosed, MalformedFrame, trio.TooSlowError) as exc:
                        log.warning("%s: resync of %s failed (%s: %s)", ctx.name, request.instrument,
                                    type(exc).__name__, exc)
                        await trio.sleep(retry.next_delay())
                if events:
                    await ctx.emit("market", MarketBatch(ctx.clock.now_ns(), tuple(events)))


def _described(error: BaseException) -> str:
    """An error in a line, through a wrapper that says nothing itself (trio-websocket's empty HandshakeError)."""
    cause = error.__cause__ or error.__context__
    text = str(error) or (f"{type(cause).__name__}: {cause}" if cause is not None else "")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
