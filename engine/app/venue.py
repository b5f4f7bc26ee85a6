"""`python -m engine venue SCENARIO --port P`: one simulated venue, served on loopback until stopped.

It exists so that paper trading, the project's own adapters and any Binance client have a counterparty
that behaves like Binance without a network. The scenario's `[venue]` makes the exchange (listings, fees,
demo accounts, rate limits, queue model), its latency and its faults; its `[feed]` is the market that
drives the exchange's books: the seeded synthetic feed or a recording, replayed in real time (or `speed`
times faster), or a live venue's streams for paper trading. The market goes through the same pieces as a
run's (the Binance codec, the book actor and its sync), and every book view it makes reaches the exchange.

    market (rest_for_one): exchange ◀─views── book ◀─batches── feed   (book ─resync─▶ feed, live only)

The exchange's clock is the wall clock: clients sign their requests with theirs. Nothing here decides
anything: it wires the pieces of `adapters.simulated` together and serves them.
"""
from __future__ import annotations

import logging
import random
import signal
from collections.abc import Callable, Iterator
from functools import partial

import trio

from adapters.binance.feed import BinanceMarketFeed, stream_plan
from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.http import RestClient
from adapters.registry import venue
from adapters.simulated.rate_limits import RateLimits
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.faults import FaultKind, FaultPlan, FaultRule
from adapters.simulated.latency import ConstantLatency, Latency, LognormalLatency
from adapters.simulated.queue import queue_model
from adapters.simulated.server import serve_exchange
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.actors.book import BookActor, BookStats
from engine.messages import BookView, MarketBatch, MarketEvent
from engine.replay import synthetic
from engine.replay.source import RecordedFeed
from engine.runtime import (
    Actor,
    ActorContext,
    BlockingEdge,
    ChildSpec,
    Lifecycle,
    LiveClock,
    Mailbox,
    Ports,
    Restart,
    Strategy,
    Supervisor,
    actor_runner,
)
from engine.app.scenario import SimVenueSpec

log = logging.getLogger("engine.venue")

VIEW_DEPTH = 5_000
"""Binance's deepest snapshot: the exchange sees the whole book its market shows, not a top-N window."""


def build_exchange(spec: SimVenueSpec, now_ns: Callable[[], int]) -> SimulatedBinance:
    """The exchange a scenario describes, with its accounts open."""
    exchange = SimulatedBinance(
        [Listing(instrument) for instrument in spec.instruments.values()], now_ns=now_ns,
        maker_fee=spec.maker_fee, taker_fee=spec.taker_fee, venue=spec.venue,
        rate_limits=RateLimits(spec.request_weight_per_minute, spec.orders_per_10s, spec.orders_per_day),
        queue=queue_model(spec.queue_model, spec.queue_power))
    for account in spec.accounts:
        exchange.open_account(account.api_key, account.secret, account.balances)
    return exchange


def fault_plan(spec: SimVenueSpec) -> FaultPlan:
    return FaultPlan(spec.seed, [
        FaultRule(FaultKind(f.kind), frozenset(f.at), f.rate_ppm, retry_after_s=f.retry_after_s, status=f.status,
                  executed=f.executed, delay_ms=f.delay_ms, duration_ms=f.duration_ms) for f in spec.faults])


def latency_model(spec: SimVenueSpec) -> Latency:
    latency = spec.latency
    if latency.model == "lognormal":
        return LognormalLatency(latency.entry_ns, latency.response_ns, float(latency.sigma), spec.seed)
    return ConstantLatency(latency.entry_ns, latency.response_ns)


async def serve_venue(spec: SimVenueSpec, *, host: str = "127.0.0.1", port: int = 0,
                      task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the scenario's venue on `host:port` until cancelled; `nursery.start` returns the bound port."""
    clock = LiveClock()
    exchange = build_exchange(spec, clock.now_ns)
    rest = RestClient(spec.feed.connections[0].rest_url) if spec.feed.kind == "live" else None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(clock.run)
            bound = await nursery.start(partial(serve_exchange, exchange, host=host, port=port,
                                                faults=fault_plan(spec), latency=latency_model(spec)))
            await nursery.start(_market(spec, exchange, clock, rest).serve)
            task_status.started(bound)
    finally:
        if rest is not None:
            with trio.CancelScope(shield=True):
                await rest.aclose()


async def run(spec: SimVenueSpec, host: str, port: int) -> None:
    """The command: serve, say where, and stop cleanly on SIGINT or SIGTERM."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            bound = await nursery.start(partial(serve_venue, spec, host=host, port=port))
            base = f"{host}:{bound}"
            print(f"{spec.name}: simulated {spec.venue} spot venue on http://{base}", flush=True)
            print(f"market streams ws://{base}/stream?streams=..., WebSocket API ws://{base}/ws-api/v3; "
                  f"accounts: {', '.join(a.api_key for a in spec.accounts)}", flush=True)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


# ---------------------------------------------------------------- the market that drives the exchange

class ExchangeFeeder(Actor):
    """Hands every book view to the exchange: resting orders fill against it, depth and streams show it."""

    ports = Ports(accepts=(BookView,))

    def __init__(self, exchange: SimulatedBinance):
        self.exchange = exchange

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        for view in batch:
            if type(view) is BookView:
                self.exchange.on_book(view)


class PacedReplay:
    """A recorded or synthetic market replayed against the wall clock, `speed` times faster than recorded.

    Whatever is due is sent as one batch, then the feed sleeps until the next event is. The events and the
    origin of the pacing outlive a restart, which goes on where the crashed feed stopped. When the
    events run out the feed ends, and the market stands still.
    """

    ports = Ports(outputs={"market": MarketBatch})

    def __init__(self, events: Iterator[tuple[int, MarketEvent]], speed: int):
        self.events = events
        self.speed = speed
        self._origin: tuple[int, int] | None = None   # (clock time, event time) of the first event, in ns

    async def run(self, ctx: ActorContext) -> None:
        ctx.started()
        clock = ctx.clock
        pending: list[MarketEvent] = []
        last_ts = 0
        for ts, event in self.events:
            if self._origin is None:
                self._origin = (clock.now_ns(), ts)
            start, first_ts = self._origin
            due_ns = start + (ts - first_ts) // self.speed
            wait_ns = due_ns - clock.now_ns()
            if wait_ns > 0:
                if pending:
                    await ctx.emit("market", MarketBatch(last_ts, tuple(pending)))
                    pending = []
                await trio.sleep(wait_ns / 1e9)  # a live clock's timer: this actor runs only against the wall
            pending.append(event)
            last_ts = ts
        if pending:
            await ctx.emit("market", MarketBatch(last_ts, tuple(pending)))
        log.info("%s: the market's events ran out; it stands still from now on", ctx.name)


def _market(spec: SimVenueSpec, exchange: SimulatedBinance, clock: LiveClock, rest: RestClient | None) -> Supervisor:
    feed = spec.feed
    [connection] = feed.connections   # one instrument's market: `load_venue` checked it
    traded = spec.instruments[connection.instruments[0]]
    exchange_box, book_box, feed_box = Mailbox("exchange"), Mailbox("book"), Mailbox("feed")
    book_outputs = {"views": [BlockingEdge(exchange_box)]}
    syncs = venue("binance").sync_factory([traded])   # the venue serves Binance's protocol, so its market is Binance's
    if rest is not None:
        book_outputs["resync"] = [BlockingEdge(feed_box)]   # a replay brings its own snapshots
        live = BinanceMarketFeed([traded], rest, clock.now_ns)
        source = WebSocketFeed(stream_plan([traded], connection.stream_url, feed.silence_s), live.decode, live.resync,
                               Backoff(rng=random.Random(spec.seed)), FeedStats())
        run_feed, restart, feed_ports = source.run, Restart.PERMANENT, WebSocketFeed.ports
    else:
        codec = BinanceMarketDataCodec(spec.instruments.values(), snapshot_symbol=traded.venue_symbol)
        if feed.kind == "synthetic":
            frames = synthetic.synthetic_frames(seed=feed.seed, duration_s=feed.duration_s, symbol=traded.venue_symbol,
                                                crash=feed.crash)
            events = _decoded(frames, codec)
        else:
            events = iter(RecordedFeed(list(connection.files), codec))
        run_feed, restart, feed_ports = PacedReplay(events, spec.speed).run, Restart.TRANSIENT, PacedReplay.ports
    return Supervisor("market", [
        ChildSpec("exchange", actor_runner(ExchangeFeeder, lambda: ExchangeFeeder(exchange)), inbox=exchange_box),
        ChildSpec("book", actor_runner(BookActor, lambda: BookActor([traded.symbol], VIEW_DEPTH, BookStats(), syncs)),
                  inbox=book_box, outputs=book_outputs),
        ChildSpec("feed", run_feed, restart=restart, inbox=feed_box, outputs={"market": [BlockingEdge(book_box)]},
                  ports=feed_ports),
    ], clock=clock, lifecycle=Lifecycle(clock.now_ns), strategy=Strategy.REST_FOR_ONE, max_restarts=5, period_s=60)


def _decoded(frames: Iterator[tuple[int, bytes]], codec: BinanceMarketDataCodec) -> Iterator[tuple[int, MarketEvent]]:
    for ts, frame in frames:
        event = codec.decode_raw(frame, ts)
        if event is not None:
            yield ts, event
