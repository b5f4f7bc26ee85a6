"""One run of a scenario: build the supervision tree, drive its feed (a replay or a live connection), and
make the report.

The tree, every actor under it, started from the sinks to the source so that nobody sends into an actor
that is not there yet:

    root (one_for_one)
    ├── execution (one_for_all): ledger, venue, orders
    ├── decision (rest_for_one): router, risk, strategy
    └── market (rest_for_one): book, feed

and the edges between them, each with its policy when the receiver is behind:

    feed ─block─▶ book ─conflate─▶ strategy ─block─▶ risk ─block─▶ router ─block─▶ orders ─link─▶ venue
                  book ─latest─▶ risk, router, venue (views);  book ─block─▶ risk (status)
                  book ─block─▶ feed (resync requests, live feeds only)
                  venue ─link─▶ orders ─block─▶ ledger (updates, fills);  orders ─latest─▶ risk (exposure)

A link is the scenario's latency on the clock when the venue is the in-process simulated one, and a plain
blocking edge when the venue is reached over HTTP through the Binance order gateway (the network is the
latency then).

A hop costs about ten book updates, so views reach only the strategy as events: the others keep the
latest view as state and read it when an order wakes them (the venue is woken by views only while one
of our orders rests on its book).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

from adapters.binance.client import BinanceClient
from adapters.binance.gateway import GatewayStats, OrderGateway
from adapters.binance.orders import BinanceOrderCodec
from adapters.binance.signing import Credentials
from adapters.binance.user_stream import UserStream
from adapters.simulated.inprocess import InProcessVenue
from adapters.simulated.matching import MatchingEngine
from adapters.simulated.venue import SimulatedVenueActor
from adapters.venues import LiveMarketData, live_market_data, recorded_market_data
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.actors.book import BookActor, BookStats
from engine.actors.feed import ReplayFeed
from engine.actors.ledger import Ledger, LedgerActor
from engine.actors.orders import OrderManagerActor
from engine.actors.risk import RiskActor
from engine.actors.router import RouterActor
from engine.actors.strategy import StrategyActor
from engine.messages import Urgency
from engine.model.numbers import format_decimal, format_fixed
from engine.model.orders import OrderTable
from engine.model.risk import RiskGate, RiskLimits
from engine.model.routing import SingleVenueRouter
from engine.replay import synthetic
from engine.replay.source import RecordedFeed
from engine.runtime import (BlockingEdge, ChildSpec, ConflatingEdge, DelayedEdge, CrashPlan, CrashRule, LatestValueEdge,
                            Lifecycle, LifecycleKind, LiveClock, Mailbox, Quiescence, Restart, Strategy,
                            Supervisor, VirtualClock, actor_runner)
from engine.scenario import ACTORS, Scenario, ScenarioError
from engine.strategies.ema_cross import EmaCross

MAILBOX_CAPACITY = 4096


@dataclass
class RunOutcome:
    report: dict[str, Any]
    frames: int
    wall_s: float


def _by_instrument(msg: Any) -> tuple[str, str]:
    return type(msg).__name__, msg.instrument


def feed_files(scenario: Scenario, out_dir: Path) -> list[Path]:
    """The recording to replay: the scenario's files, or the synthetic feed written into `out_dir`."""
    spec = scenario.feed
    if spec.kind == "recording":
        return list(spec.files)
    inst = scenario.instruments[spec.instrument]
    path = out_dir / f"synthetic-{inst.venue_symbol.lower()}-seed{spec.seed}-{spec.duration_s}s.capture"
    synthetic.generate(path, seed=spec.seed, duration_s=spec.duration_s, symbol=inst.venue_symbol)
    return [path]


@dataclass
class _Market:
    """Where a run's market data comes from: a replay (virtual time) or a live feed (wall time)."""
    feed: Any                            # the feed child's run function
    restart: Restart
    inbox: Mailbox | None                # resync requests, for a live feed
    until_done: Any                      # awaitable factory: returns when the run is over
    summary: Any                         # callable: the report's account of the market data


def _replay(scenario: Scenario, out_dir: Path, clock: VirtualClock) -> tuple[_Market, Any]:
    traded = scenario.instruments[scenario.feed.instrument]
    codec, sync_factory = recorded_market_data([traded], traded.venue_symbol)
    source = RecordedFeed(feed_files(scenario, out_dir), codec)
    finished = trio.Event()
    feed = ReplayFeed(iter(source), clock, scenario.feed.batch_ns, finished)
    return _Market(feed.run, Restart.TRANSIENT, None, finished.wait, lambda: {
        "events": source.frames, "malformed_frames": source.malformed,
        "replay": {"batches": feed.batches, "first_ts_ns": source.first_ts_ns, "last_ts_ns": source.last_ts_ns}}
    ), sync_factory


def _live(scenario: Scenario, clock: LiveClock, quiescence: Quiescence) -> tuple[_Market, LiveMarketData]:
    spec = scenario.feed
    instrument = scenario.instruments[spec.instrument]
    venue = live_market_data(instrument.venue, [instrument], spec.stream_url, spec.rest_url, spec.silence_s,
                             clock.now_ns)
    stats = FeedStats()
    feed = WebSocketFeed(venue.plan, venue.feed.decode, venue.feed.resync, Backoff(), stats,
                         on_connect=venue.on_connect)
    market = _Market(feed.run, Restart.PERMANENT, Mailbox("feed", MAILBOX_CAPACITY, quiescence),
                     lambda: trio.sleep(spec.duration_s), lambda: {
                         "events": stats.frames, "malformed_frames": stats.malformed,
                         "live": {"connects": stats.connects, "disconnects": stats.disconnects,
                                  "silent_drops": stats.silent_drops, "resyncs_requested": stats.resyncs_requested}})
    return market, venue


async def run(scenario: Scenario, out_dir: Path) -> RunOutcome:
    """Run `scenario` to the end of its feed (a replay) or its duration (a live feed).

    A replay's report holds no wall-clock figure: the same scenario and recording give the same bytes.
    Orders go to the in-process simulated venue, or with `[venue] url` to a Binance-protocol venue over
    HTTP (the simulated one served by `python -m engine venue`, for paper trading), with the API key and
    secret read from the environment variables the scenario names.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    instruments = scenario.instruments
    live = scenario.feed.kind == "live"
    clock: Any = LiveClock() if live else VirtualClock()
    quiescence = Quiescence() if live else clock.quiescence
    if live:
        market, venue_data = _live(scenario, clock, quiescence)
        rest, sync_factory = venue_data.rest, venue_data.sync
    else:
        (market, sync_factory), rest = _replay(scenario, out_dir, clock), None
    lifecycle = Lifecycle(clock.now_ns)
    crashes = CrashPlan(CrashRule(f.actor, after_events=f.after_events) for f in scenario.faults)
    box = {name: Mailbox(name, MAILBOX_CAPACITY, quiescence) for name in ACTORS if name != "feed"}
    if market.inbox is not None:
        box["feed"] = market.inbox
    gateway = _gateway(scenario, clock) if scenario.venue.url else None

    def conflate(name: str) -> ConflatingEdge:
        return ConflatingEdge(box[name], _by_instrument)

    def latest(name: str) -> LatestValueEdge:
        return LatestValueEdge(box[name], _by_instrument)

    def link(name: str) -> Any:
        """An order link to or from the venue: the scenario's latency in process, the network's otherwise."""
        return BlockingEdge(box[name]) if gateway else DelayedEdge(box[name], clock, scenario.venue.latency_ns)

    outputs = {
        "feed": {"market": [BlockingEdge(box["book"])]},
        "book": {"views": [conflate("strategy"), latest("risk"), latest("router"), latest("venue")],
                 "status": [BlockingEdge(box["risk"])],
                 "resync": [BlockingEdge(box["feed"])] if "feed" in box else []},
        "strategy": {"signals": [BlockingEdge(box["risk"])]},
        "risk": {"orders": [BlockingEdge(box["router"])]},
        "router": {"orders": [BlockingEdge(box["orders"])]},
        "orders": {"venue": [link("venue")],
                   "updates": [BlockingEdge(box["ledger"])], "fills": [BlockingEdge(box["ledger"])],
                   "exposure": [latest("risk")]},
        "venue": {"reports": [link("orders")]},
        "ledger": {},
    }

    # State that outlives restarts of its actor: the session owns it (until a journal rebuilds it).
    book_stats = BookStats()
    ledger = Ledger(instruments)
    order_table = OrderTable(prefix=_order_prefix(scenario.name))
    positions: dict[str, int] = {}
    simulated_venue = InProcessVenue(MatchingEngine(instruments, scenario.venue.maker_fee, scenario.venue.taker_fee,
                                                    scenario.venue.name))
    gate = RiskGate(RiskLimits(scenario.risk.max_order_notional, scenario.risk.max_position,
                               scenario.risk.price_band_bps, scenario.risk.max_slippage_bps), instruments)
    strat = scenario.strategy

    def child(name: str, run: Any, restart: Restart = Restart.PERMANENT) -> ChildSpec:
        return ChildSpec(name, run, restart=restart, inbox=box.get(name), outputs=outputs[name])

    factories = {
        "ledger": lambda: LedgerActor(ledger),
        "venue": (lambda: OrderGateway(gateway[0], instruments, gateway[1])) if gateway
        else (lambda: SimulatedVenueActor(simulated_venue)),
        "orders": lambda: OrderManagerActor(order_table, positions),
        "router": lambda: RouterActor(SingleVenueRouter(scenario.venue.name)),
        "risk": lambda: RiskActor(gate),
        "strategy": lambda: StrategyActor(lambda: EmaCross(
            "ema_cross", strat.instrument, strat.fast, strat.slow, strat.position, Urgency(strat.urgency),
            strat.long_only)),
        "book": lambda: BookActor([scenario.feed.instrument], scenario.book_depth, book_stats,
                                  sync_factory=sync_factory, stale_after_ns=scenario.book_stale_after_ns),
    }
    spec = {name: child(name, actor_runner(make)) for name, make in factories.items()}
    spec["feed"] = child("feed", market.feed, market.restart)
    execution = ["ledger", "venue", "orders"]
    if gateway:  # what happens to our orders after their REST answer: the venue's user data stream
        spec["user_stream"] = ChildSpec("user_stream", gateway[2].run,
                                        outputs={"reports": [BlockingEdge(box["orders"])]})
        execution.append("user_stream")

    def supervisor(name: str, names: list[str], strategy: Strategy) -> Supervisor:
        return Supervisor(name, [spec[n] for n in names], clock=clock, lifecycle=lifecycle, strategy=strategy,
                          max_restarts=5, period_s=60, quiescence=quiescence, crashes=crashes)

    root = Supervisor("root", [
        supervisor("execution", execution, Strategy.ONE_FOR_ALL).as_child(),
        supervisor("decision", ["router", "risk", "strategy"], Strategy.REST_FOR_ONE).as_child(),
        supervisor("market", ["book", "feed"], Strategy.REST_FOR_ONE).as_child(),
    ], clock=clock, lifecycle=lifecycle, max_restarts=3, period_s=60, quiescence=quiescence, crashes=crashes)

    started = time.perf_counter()
    try:
        async with trio.open_nursery() as nursery:
            if live:
                nursery.start_soon(clock.run)
            async with trio.open_nursery() as tree:
                root_ctx = await tree.start(root.serve)
                await market.until_done()
                root_ctx.stop_requested.set()
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            for client in (rest, gateway[0] if gateway else None):
                if client is not None:
                    await client.aclose()
    wall_s = time.perf_counter() - started

    report = _report(scenario, market.summary(), book_stats, ledger, order_table, gate, lifecycle, box)
    if gateway:
        report["gateway"] = {**dataclasses.asdict(gateway[1]), "user_stream_reports": gateway[2].events}
    return RunOutcome(report, report["events"], wall_s)


def _gateway(scenario: Scenario, clock: Any) -> tuple[BinanceClient, GatewayStats, UserStream]:
    """The HTTP client of a Binance-protocol venue and its user data stream, with the credentials the
    scenario names in the environment."""
    venue = scenario.venue
    try:
        credentials = Credentials.from_env(key_var=venue.api_key_env, secret_var=venue.secret_env)
    except KeyError as exc:
        raise ScenarioError(f"{scenario.path}: [venue] needs its credentials: {exc.args[0]}") from None
    codec = BinanceOrderCodec(credentials, scenario.instruments.values(), venue=venue.name)
    ws_url = "ws" + venue.url.removeprefix("http").rstrip("/") + "/ws-api/v3"
    return (BinanceClient(codec, base_url=venue.url, now_ns=clock.now_ns), GatewayStats(),
            UserStream(ws_url, credentials, scenario.instruments, venue.name))


def _order_prefix(name: str) -> str:
    cleaned = "".join(c for c in name if c.isalnum())[:20]
    return cleaned or "engine"


def _report(scenario: Scenario, market: dict[str, Any], book_stats: BookStats, ledger: Ledger,
            order_table: OrderTable, gate: RiskGate, lifecycle: Lifecycle, box: dict[str, Mailbox]) -> dict[str, Any]:
    execution = ledger.stats.as_dict()
    portfolio = ledger.portfolio
    positions, realized, unrealized = {}, {}, {}
    for symbol, inst in sorted(scenario.instruments.items()):
        positions[symbol] = format_fixed(portfolio.position(symbol), inst.qty_decimals)
        realized[symbol] = format_decimal(portfolio.realized(symbol), inst.price_decimals)
        mid_x2 = book_stats.mid_x2(symbol)
        mark_value = portfolio.unrealized(symbol, mid_x2 // 2) if mid_x2 is not None else Decimal(0)
        unrealized[symbol] = format_decimal(mark_value, inst.price_decimals)
    restarts = lifecycle.per_actor(LifecycleKind.RESTARTED)
    return {
        "scenario": scenario.name,
        **market,
        "orders": execution["orders"],
        "fills": execution["fills"],
        "fill_ratio": execution["fill_ratio"],
        "avg_slippage_bps": execution["avg_slippage_bps"],
        "fees": execution["fees"],
        "orders_by_state": execution["orders_by_state"],
        "instruments": execution["instruments"],
        "realized_pnl": realized,
        "unrealized_pnl": unrealized,
        "position": positions,
        "risk_rejections": dict(sorted(gate.rejections.items())),
        "book": book_stats.as_dict(),
        "conflations": {name: box[name].conflated for name in sorted(box)},
        "actor_restarts": {name: restarts.get(name, 0) for name in sorted(set(ACTORS) | set(restarts))},
    }

