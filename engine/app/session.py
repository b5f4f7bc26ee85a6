"""One run of a scenario: open its journal, build the supervision tree, drive its feed (a replay or a live
connection), end it cleanly, and make the report from the journal.

The tree, every actor under it, started from the sinks to the source so that nobody sends into an actor
that is not there yet:

    root (one_for_one)
    ├── execution (one_for_one): ledger, venue, orders, control [, user_stream]
    ├── decision (rest_for_one): router, risk, strategy (one per [[strategy]]: strategy.<name> when several)
    └── market (rest_for_one): book, feed (a replay's one driver; live, one per connection: feed.<venue>)

and the edges between them, each with its policy when the receiver is behind:

    feed ─block─▶ book ─views─▶ strategy ─block─▶ risk ─block─▶ router ─block─▶ orders ─link─▶ venue
                  book ─latest─▶ risk, router, venue (views);  book ─latest─▶ risk (status)
                  book ─block─▶ feed (resync requests: a REST snapshot live, one rebuilt from the recording in a replay)
                  (a strategy gets the views of the instruments it names: every one in order (block) for a cadence
                  that follows events, the newest (latest) for a timed one; a live feed the requests of its connection's)
                  venue ─link─▶ orders;  orders ─block─▶ session (settled, run failures)
                  orders ─journal─▶ ledger (fills, order updates, once durable) ─latest─▶ risk, control (exposure)
                  orders ─journal─▶ control (failed requests, reconciliation findings);  book ─latest─▶ control (views)
                  book ─block─▶ control (data-quality alarms, rate-limited)
                  ledger ─latest─▶ risk, ─conflate─▶ control (portfolio valuations, each mark tick, at the book's
                  touch path as it stood: the ticks cut no replay window; control only where a loss limit is set)
                  control ─latest─▶ risk (trading mode);  control ─block─▶ orders (cancel all), risk (flatten signals)
                  clock ─▶ control (the scenario's [[operator]] commands, at their market times)

Each truth has one owner that rebuilds it on restart: the order manager its orders (from the journal, then
reconciled with the venue), the ledger positions and cash (folded from the journal), the book its book (from a
fresh snapshot, each instrument kept by its venue's sync), the venue its own records (the simulated venue belongs
to the session, as an exchange outlives its clients). A link is the scenario's latency on the clock when the venue is the in-process simulated
one, and a plain blocking edge when the venue is reached over HTTP through the Binance order gateway.

A run ends when its feed does (a replay) or its duration has passed (a live feed). With `[execution]
cancel_on_exit` (the default) the order manager then cancels every working order and the run waits, on the run's
clock, until every order has settled; a run whose orders do not settle, or that an actor says cannot go on
(the venue refused our credentials), ends with `RunFailed` and its report, never quietly.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import trio

from adapters.binance.orders import NATIVE_ORDER_TYPES as BINANCE_NATIVE_TYPES
from adapters.registry import SIMULATED, live_market_data, recorded_market_data
from adapters.simulated.faults import FaultKind, FaultPlan, FaultRule
from adapters.simulated.inprocess import InProcessVenue
from adapters.simulated.matching import NATIVE_TYPES as SIMULATED_NATIVE_TYPES
from adapters.simulated.matching import MatchingEngine
from adapters.synthetic import SyntheticConnection, write_synthetic_market
from adapters.ws import Backoff, FeedStats, WebSocketFeed
from engine.actors.book import BookActor, BookStats
from engine.actors.control import CONTROL, WATCHED, ControlActor
from engine.actors.feed import ReplayFeed
from engine.actors.ledger import MARK_KEY, LedgerActor
from engine.actors.orders import OrderManagerActor
from engine.actors.risk import RiskActor
from engine.actors.router import RouterActor
from engine.actors.strategy import StrategyActor
from engine.app.gateway import order_gateway
from engine.contracts import OrderGateway
from engine.journal import Journal, JournalError
from engine.messages import (BookSnapshot, CancelAll, DepthDiff, Fill, OperatorCommand, OrdersSettled,
                             ReconcileReply, RunFailure, TimerFired, TopOfBook, Trade, TradingMode, TradingStateChanged,
                             Urgency)
from engine.model.kill_switch import KillSwitch
from engine.model.data_quality import DataQualityMonitor
from engine.model.ledger import FOLDED
from engine.model.order_manager import ExecutionSettings, OrderManager
from engine.model.protection import ProtectionPolicy
from engine.model.orders import OrderTable
from engine.model.risk import RiskGate, RiskLimits
from engine.model.routing import SingleVenueRouter
from engine.replay import synthetic
from engine.replay.merged import MergedFeed
from engine.replay.shadow_books import ShadowBooks
from engine.replay.source import RecordedFeed
from engine.report import html as report_html
from engine.report import quality
from engine.report.quoting import KINDS as QUOTING_KINDS, quoting_section
from engine.report.run import REPORTED, journal_section, venue_truth_section
from engine.runtime import (BlockingEdge, ChildSpec, ConflatingEdge, CrashPlan, CrashRule, DelayedEdge,
                            InjectedCrash, LatestValueEdge, Lifecycle, LifecycleKind, LiveClock, Mailbox,
                            Ports, Quiescence, Restart, Strategy, Supervisor, VirtualClock, actor_runner)
from engine.app.contact import ACTOR as CONTACT, WATCHED as CONTACT_WATCHED, FeedWatch, FirstContact
from engine.app.edges import ForInstruments
from engine.app import observe
from engine.app.observe.activity import Activity
from engine.app.observe.server import EndpointSettings
from engine.app.observe.watched import Watched
from engine.app.scenario import Scenario, StrategySpec
from engine.app.pace import Pace
from engine.app.progress import ProgressLine
from engine.app.stopping import StopRequest
from engine.strategies.cadence import TIMER_KEY
from engine.app.schema import STRATEGY_KINDS
from engine.model.sizing import Sizing
from engine.strategies.api import Strategy as StrategyObject, overrides
from engine.strategies.registry import StrategySetup

MAILBOX_CAPACITY = 4096
JOURNAL_FILE = "journal.sqlite"


@dataclass
class Evidence:
    """What a check of the run against its venue needs beyond the report (the chaos command reads it)."""
    fill_trade_ids: list[str]               # every fill the journal holds, by the venue's trade id
    venue_trades: dict[str, dict[str, int]]  # the venue's own trades of ours: instrument → trade id → signed qty
    received: dict[str, int]                 # messages each actor took in hand
    reconciliations: int                     # the venue's answers to reconciliation requests


@dataclass
class RunOutcome:
    report: dict[str, Any]
    frames: int
    wall_s: float
    evidence: Evidence | None = None
    files: dict[str, bytes] = field(default_factory=dict)   # written next to report.json: fills.csv, report.html


class RunFailed(Exception):
    """The run could not do what its scenario asked; `report` is what it did."""

    def __init__(self, reason: str, report: dict[str, Any], evidence: Evidence | None = None):
        super().__init__(reason)
        self.report = report
        self.evidence = evidence


def _by_instrument(msg: Any) -> tuple[str, str]:
    return type(msg).__name__, msg.instrument


def _by_kind(msg: Any) -> str:
    return type(msg).__name__


def feed_files(scenario: Scenario, out_dir: Path, progress: ProgressLine | None = None) -> list[list[Path]]:
    """The recording of each feed connection: the scenario's files, or the synthetic market written into
    `out_dir` as each connection's venue sends it (its generation told to `progress`)."""
    spec = scenario.feed
    if spec.kind == "recording":
        return [list(connection.files) for connection in spec.connections]
    paths = []
    for connection in spec.connections:
        inst = scenario.instruments[connection.instruments[0]]
        crashed = f"-crash{spec.crash.at_s}s{spec.crash.drop_bps}bps{spec.crash.over_s}s" if spec.crash else ""
        paths.append(out_dir / f"synthetic-{inst.venue}-{inst.venue_symbol.lower()}-seed{spec.seed}-"
                               f"{spec.duration_s}s{crashed}.capture")
    watch = None
    if progress is not None:
        progress.start("synthetic", synthetic.DEFAULT_START_NS,
                       synthetic.DEFAULT_START_NS + int(spec.duration_s * 1_000_000_000))
        watch = progress.update
    if [conn.venue for conn in spec.connections] == ["binance"] and not spec.connections[0].delay_ns:
        synthetic.generate(paths[0], seed=spec.seed, duration_s=spec.duration_s,
                           symbol=scenario.instruments[spec.instruments[0]].venue_symbol, progress=watch,
                           crash=spec.crash)
    else:
        write_synthetic_market([
            SyntheticConnection(path, scenario.instruments[conn.instruments[0]], conn.depth, conn.delay_ns)
            for path, conn in zip(paths, spec.connections)], seed=spec.seed, duration_s=spec.duration_s,
            progress=watch, crash=spec.crash)
    return [[path] for path in paths]


def journal_path(scenario: Scenario, out_dir: Path, given: Path | None) -> Path:
    """Where the run journals: `--journal`, else `[journal] path`, else its output folder."""
    return given or scenario.journal.path or out_dir / JOURNAL_FILE


def _loss_limited(scenario: Scenario) -> bool:
    """Whether the kill switch judges the portfolio's valuations (a drawdown or daily loss limit)."""
    limits = scenario.kill_switch
    return limits.max_drawdown is not None or limits.max_daily_loss is not None


def open_journal(scenario: Scenario, out_dir: Path, given: Path | None, kill_at_write: int | None) -> Journal:
    """Create or resume the run's journal. A replay's own journal (in its output folder, none named) is its
    record of that run alone, so a new run of the replay starts it afresh; a named journal is always resumed."""
    path = journal_path(scenario, out_dir, given)
    live = scenario.feed.kind == "live"
    if not live and given is None and scenario.journal.path is None:
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    sync = scenario.journal.sync or ("full" if live else "normal")
    # a replay waits for every commit anyway (inline); one whose venue is the in-process simulator has nobody
    # outside the process to be consistent with, and is never resumed: it commits now and then (deferred)
    deferred = not live and not scenario.venue.url and kill_at_write is None
    return Journal.open(path, sync=sync, scenario=scenario.name, started_ns=time.time_ns(),
                        kill_at_write=kill_at_write, inline=not live, deferred=deferred)


@dataclass
class _Market:
    """Where a run's market data comes from: a replay (virtual time) or live feeds (wall time)."""
    feeds: dict[str, tuple[Any, Mailbox]]  # feed actor → its run function and inbox (resync requests, timed crashes)
    ports: Ports                         # the feeds' declared wiring
    restart: Restart
    until_done: Any                      # awaitable factory: returns when the feed is over
    summary: Any                         # callable: the report's account of the market data
    first_ts_ns: int = 0                 # the first event's time (a replay): timed faults count from it
    watches: dict[str, FeedWatch] = field(default_factory=dict)   # live: each feed actor's connection and stats


def _replay(scenario: Scenario, out_dir: Path, clock: VirtualClock, stop: StopRequest,
            speed: float | None = None, progress: ProgressLine | None = None) -> tuple[_Market, Any]:
    """One replay driver over the recordings of every connection, merged by receive time; the book sync of
    each instrument is its venue's. A stop ends the recording where the driver stands: the replay then ends as
    at the end of its data, and the driver keeps the virtual clock to itself until then."""
    sources, syncs = [], {}
    for connection, files in zip(scenario.feed.connections, feed_files(scenario, out_dir, progress)):
        carried = [scenario.instruments[symbol] for symbol in connection.instruments]
        # a bare REST snapshot in a capture names no symbol: it is the one instrument's of its connection
        codec, sync_factory = recorded_market_data(carried, carried[0].venue_symbol if len(carried) == 1 else None)
        sources.append(RecordedFeed(files, codec))
        syncs.update(dict.fromkeys(connection.instruments, sync_factory))
    source = sources[0] if len(sources) == 1 else MergedFeed(sources)
    first_ts = next(iter(source.independent_events()), (0, None))[0]
    sync_of = _sync_of(syncs)
    rebuilder = ShadowBooks(source.independent_events, sync_of, scenario.feed.instruments)
    finished = trio.Event()
    # a venue over the network is no link on the replay's clock: nothing to bound a batch by
    decides = decision_events(scenario) if not scenario.venue.url else None
    horizon_ns = decision_horizon_ns(scenario) if decides is not None else 0
    feed = ReplayFeed(source, clock, scenario.feed.batch_ns, finished, rebuilder, decides, horizon_ns,
                      Pace(speed, stop) if speed else None, _watched(source, first_ts, progress),
                      stopped=lambda: stop.reason is not None)
    inbox = Mailbox("feed", MAILBOX_CAPACITY, Quiescence())   # read between steps, once the pipeline is idle
    return _Market({"feed": (feed.run, inbox)}, ReplayFeed.ports, Restart.TRANSIENT, finished.wait, lambda: {
        "events": source.frames, "malformed_frames": source.malformed,
        "replay": {"first_ts_ns": source.first_ts_ns, "last_ts_ns": source.last_ts_ns,
                   "snapshots_rebuilt": feed.snapshots_served},
        "runtime": {"batches": feed.batches, "window_ms": scenario.feed.batch_ns / 1_000_000,
                    "decision_horizon_ms": horizon_ns / 1_000_000}}, first_ts), sync_of


def _watched(source: Any, first_ts: int, progress: ProgressLine | None) -> Callable[[int, int], None] | None:
    """The replay's progress line over its span (to the recording's end where that is known before reading)."""
    if progress is None:
        return None
    progress.start("replay", first_ts, source.end_ns())
    return progress.update


def decides_inside_windows(scenario: Scenario) -> bool:
    """Whether anything decides on single market events, inside a replay window: a strategy whose cadence follows
    events, or the venue filling orders that rest on it (passive ones), or the order manager chasing them. Then the
    book publishes a view per change, and the feed bounds each batch by the decision horizon (`decision_events`)."""
    return bool(decided_kinds(scenario))


def decided_kinds(scenario: Scenario) -> frozenset[type]:
    """The kinds of market events something may decide on inside a batch (none: nothing decides inside one).

    Orders resting at the venue (passive ones and quotes, which it fills from every change and trade) make every kind
    one;
    otherwise a strategy on every book change decides on the events that change a book, one on trades on trades,
    and the order manager's chasing on book changes. A strategy on a timer decides on its ticks, which the clock
    delivers between batches anyway.
    """
    if any(strat.rests_orders or strat.protected for strat in scenario.strategies):
        return frozenset((DepthDiff, BookSnapshot, Trade, TopOfBook))
    kinds: set[type] = set()
    for strat in scenario.strategies:
        if strat.cadence.kind == "book":
            kinds |= {DepthDiff, BookSnapshot}
        elif strat.cadence.kind == "trades":
            kinds.add(Trade)
    if scenario.execution.chase_ticks > 0:
        kinds |= {DepthDiff, BookSnapshot}
    return frozenset(kinds)


def decision_events(scenario: Scenario) -> Callable[[Any], bool] | None:
    """Whether an event may be decided on inside a batch, as the replay feed asks it; None if none may."""
    kinds = decided_kinds(scenario)
    return (lambda event: type(event) in kinds) if kinds else None


def decides_on_trades(scenario: Scenario) -> bool:
    """Whether anything decides on single trades: a strategy on trades, or the venue filling resting orders from
    the tape. Where nothing does, a book publishing every change leaves trades out (they change no book)."""
    return Trade in decided_kinds(scenario)


def decision_horizon_ns(scenario: Scenario) -> int:
    """The soonest a decision made on an event reaches anyone: the order latency (at least 1 ns). An order decided
    on an event at t reaches the venue at t + latency, and a venue's fill at t reaches the order manager at
    t + latency: a batch that ends before its first decided-on event's time plus this holds neither, so the clock
    delivers each in its place and the batching changes no result."""
    return max(scenario.venue.latency_ns, 1)


def _sync_of(factories: dict[str, Any]) -> Any:
    """One sync factory for every instrument of the run: each instrument's is its own venue's."""
    if len(set(factories.values())) == 1:
        return next(iter(factories.values()))
    return lambda symbol: factories[symbol](symbol)


def _live(scenario: Scenario, clock: LiveClock, quiescence: Quiescence,
          stop: StopRequest) -> tuple[_Market, Any, list[Any]]:
    """One live feed per connection, each with the stream plan, codec and resync of its venue; the market is over
    after the feed's duration, or when a stop is asked for."""
    spec = scenario.feed
    feeds, syncs, rests, all_stats, watches = {}, {}, [], [], {}
    for name, connection in zip(scenario.feed_actors, spec.connections):
        carried = [scenario.instruments[symbol] for symbol in connection.instruments]
        venue = live_market_data(connection.venue, carried, connection.stream_url, connection.rest_url,
                                 spec.silence_s, clock.now_ns)
        stats = FeedStats()
        feed = WebSocketFeed(venue.plan, venue.feed.decode, venue.feed.resync, Backoff(), stats,
                             on_connect=venue.on_connect)
        feeds[name] = (feed.run, Mailbox(name, MAILBOX_CAPACITY, quiescence))
        syncs.update(dict.fromkeys(connection.instruments, venue.sync))
        rests.append(venue.rest)
        all_stats.append(stats)
        watches[name] = FeedWatch(connection.venue, connection.stream_url, stats)

    def total(field: str) -> int:
        return sum(getattr(stats, field) for stats in all_stats)

    market = _Market(feeds, WebSocketFeed.ports, Restart.PERMANENT, lambda: stop.within(spec.duration_s), lambda: {
        "events": total("frames"), "malformed_frames": total("malformed"),
        "live": {"connects": total("connects"), "disconnects": total("disconnects"),
                 "silent_drops": total("silent_drops"), "resyncs_requested": total("resyncs_requested")}},
        clock.now_ns(), watches)
    return market, _sync_of(syncs), [rest for rest in rests if rest is not None]


def _crash_plan(scenario: Scenario) -> CrashPlan:
    rules = []
    for fault in scenario.faults:
        rules.append(CrashRule(fault.actor, after_events=fault.after_events, at_ns=fault.at_ns,
                               rate_ppm=fault.rate_ppm, seed=fault.seed, times=fault.times))
    return CrashPlan(rules)


def _in_process_venue(scenario: Scenario) -> InProcessVenue:
    venue = scenario.venue
    faults = FaultPlan(venue.seed, [
        FaultRule(FaultKind(f.kind), frozenset(f.at), f.rate_ppm, retry_after_s=f.retry_after_s, status=f.status,
                  executed=f.executed, delay_ms=f.delay_ms, duration_ms=f.duration_ms) for f in venue.faults])
    matching = MatchingEngine(scenario.instruments, venue.maker_fee, venue.taker_fee, venue.name)
    return SIMULATED.in_process(matching, faults, venue.recv_window_ns)


def _settings(scenario: Scenario) -> ExecutionSettings:
    spec = scenario.execution
    return ExecutionSettings(ack_timeout_ns=spec.ack_timeout_ns, recv_window_ns=scenario.venue.recv_window_ns,
                             requery_ns=spec.requery_ns, reconcile_timeout_ns=spec.reconcile_timeout_ns,
                             order_ttl_ns=spec.order_ttl_ns, chase_ticks=spec.chase_ticks,
                             tick_size={s: i.tick_size for s, i in scenario.instruments.items()},
                             protection=_protection(scenario))


def _protection(scenario: Scenario) -> ProtectionPolicy:
    """Native or emulated protective orders: the in-process simulated venue and, over HTTP, the Binance order gateway
    both carry Binance spot's post-only, stop and take-profit types and its OCO lists."""
    native = BINANCE_NATIVE_TYPES if scenario.venue.url else SIMULATED_NATIVE_TYPES
    return ProtectionPolicy(scenario.execution.protection, native, native_oco=True)


async def run(scenario: Scenario, out_dir: Path, *, journal: Path | None = None,
              kill_at_write: int | None = None, stop: StopRequest | None = None,
              speed: float | None = None, progress: ProgressLine | None = None,
              endpoint: EndpointSettings | None = None) -> RunOutcome:
    """Run `scenario` to the end of its feed (a replay) or its duration (a live feed), or until `stop` is asked
    for, and report it.

    A stopped run ends as a finished one does, early: its strategies are heard no more (the risk gate's kill
    switch), its orders are cancelled per `[execution] cancel_on_exit` and waited for, and its report says
    `"partial": true` and why (`"stopped"`).

    The journal (`journal`, else the scenario's, else `out_dir/journal.sqlite`) is created or resumed first: a
    resumed run rebuilds its orders and positions from it and reconciles with the venue before it trades, and
    its report covers every run the journal holds. Raises `RunFailed` (with the report) when the run could not
    do what the scenario asked.

    A replay runs as fast as it can, or with `speed` at that many times the recorded pace (its driver waits on
    the wall clock; no figure but the wall time changes); `progress` is told how far it has got after each batch.
    With `endpoint`, the run serves its metrics, health and operator control on that port while it runs.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stop = stop or StopRequest()
    live = scenario.feed.kind == "live"
    clock: Any = LiveClock() if live else VirtualClock()
    quiescence = Quiescence() if live else clock.quiescence
    if live:
        market, sync_factory, rests = _live(scenario, clock, quiescence, stop)
    else:
        (market, sync_factory), rests = _replay(scenario, out_dir, clock, stop, speed, progress), []
    book = open_journal(scenario, out_dir, journal, kill_at_write)
    if not scenario.venue.url and len(book.runs) > 1:
        book.close()
        raise JournalError(f"{book.path}: holds {len(book.runs) - 1} earlier run(s), and this scenario trades with "
                           "the in-process simulated venue, whose account of them ended with their process: it "
                           "cannot be reconciled with. Give a run of it a journal of its own (a new --journal, or "
                           "none); a journal is resumed by runs whose venue outlives the engine (paper, live)")
    try:
        return await _run(scenario, book, clock, quiescence, market, sync_factory, rests, live, stop, endpoint)
    finally:
        book.close()


async def _run(scenario: Scenario, journal: Journal, clock: Any, quiescence: Quiescence, market: _Market,
               sync_factory: Any, rests: list[Any], live: bool, stop: StopRequest,
               endpoint: EndpointSettings | None = None) -> RunOutcome:
    instruments = scenario.instruments
    lifecycle = Lifecycle(clock.now_ns)
    crashes = _crash_plan(scenario)
    feeds = market.feeds
    box = {name: Mailbox(name, MAILBOX_CAPACITY, quiescence) for name in scenario.actors if name not in feeds}
    box.update({name: inbox for name, (_, inbox) in feeds.items()})
    # the session reads it; it holds no replay up
    control = Mailbox("session", MAILBOX_CAPACITY, Quiescence(), accepts=(OrdersSettled, RunFailure))
    prefix = _order_prefix(scenario.name)
    gateway = order_gateway(scenario, clock, prefix) if scenario.venue.url else None
    simulated = None if gateway else _in_process_venue(scenario)
    settings = _settings(scenario)
    journal.subscribe(FOLDED, box["ledger"].deliver)
    journal.subscribe(WATCHED, box[CONTROL].deliver)
    if scenario.risk.checks.needs_fills:   # the gate's cash and round trips follow every durable fill
        journal.subscribe((Fill,), box["risk"].deliver)
    strategies = dict(zip(scenario.strategy_actors, scenario.strategies))
    built = {name: _strategy(strat, instruments) for name, strat in strategies.items()}   # what each one hears
    for name in strategies:   # a strategy is shown its fills (of its instruments) once durable
        if overrides(built[name], "on_fill"):
            journal.subscribe((Fill,), box[name].deliver)

    def latest(name: str) -> LatestValueEdge:
        return LatestValueEdge(box[name], _by_instrument)

    def link(name: str) -> Any:
        """An order link to or from the venue: the scenario's latency in process, the network's otherwise."""
        return BlockingEdge(box[name]) if gateway else DelayedEdge(box[name], clock, scenario.venue.latency_ns)

    everything = set(scenario.feed.instruments)
    # a cadence that follows events gets every view, in order; a timer's the newest, read on its tick
    views = [_for(BlockingEdge(box[name]) if strat.cadence.follows_events else latest(name), strat.instruments,
                  everything) for name, strat in strategies.items()]
    views += [latest("risk"), latest("router"), latest("venue"), latest(CONTROL)]
    if settings.chase_ticks or any(strat.protected for strat in scenario.strategies):
        views.append(latest("orders"))   # chasing, and emulated protective legs, decide on the book
    connections = scenario.feed.connections if live else [scenario.feed]   # a replay has one driver
    outputs = {
        **{name: {"market": [BlockingEdge(box["book"])]} for name in feeds},
        "book": {"views": views, "status": [latest("risk")],
                 "resync": [_for(BlockingEdge(box[name]), conn.instruments, everything)
                            for name, conn in zip(feeds, connections)],
                 "alarms": [BlockingEdge(box[CONTROL])]},   # data quality: rare (rate-limited), and able to halt
        **{name: {"signals": [BlockingEdge(box["risk"])]} for name in strategies},
        "risk": {"orders": [BlockingEdge(box["router"])]},
        "router": {"orders": [BlockingEdge(box["orders"])]},
        "orders": {"venue": [link("venue")], "control": [BlockingEdge(control)]},
        "venue": {"reports": [link("orders")]},
        "ledger": {"exposure": [latest("risk"), latest(CONTROL),
                                *(_for(latest(name), strat.instruments, everything)
                                  for name, strat in strategies.items() if overrides(built[name], "on_position"))],
                   # the control actor must look at each valuation where a loss limit is set (and only then: it
                   # would wake for every one), the risk gate only at the newest
                   "portfolio": [LatestValueEdge(box["risk"], _by_kind),
                                 *([ConflatingEdge(box[CONTROL], _by_kind)] if _loss_limited(scenario) else [])]},
        CONTROL: {"state": [LatestValueEdge(box["risk"], _by_kind)], "orders": [BlockingEdge(box["orders"])],
                  "signals": [BlockingEdge(box["risk"])]},
        "user_stream": {"reports": [BlockingEdge(box["orders"])], "control": [BlockingEdge(control)]},
    }
    book_stats = BookStats()
    data_quality = DataQualityMonitor(scenario.feed.instruments, scenario.data_quality,
                                      {symbol: inst.price_decimals for symbol, inst in scenario.instruments.items()})
    run_id = journal.run_id
    since_ns = journal.runs[0].started_ns if live else 0

    def child(name: str, run: Any, restart: Restart = Restart.PERMANENT, ports: Ports | None = None) -> ChildSpec:
        return ChildSpec(name, run, restart=restart, inbox=box.get(name), outputs=outputs[name], ports=ports)

    runners = {
        "ledger": actor_runner(LedgerActor, lambda: LedgerActor(journal, instruments, book_stats.mids_before,
                                                                dict(scenario.portfolio.cash),
                                                                scenario.portfolio.currency)),
        "venue": (_gateway_runner(gateway) if gateway
                  else actor_runner(SIMULATED.actor, lambda: SIMULATED.actor(simulated))),
        "orders": actor_runner(OrderManagerActor, lambda: OrderManagerActor(journal, lambda: OrderManager(
            OrderTable(prefix, run_id), sorted(instruments), scenario.venue.name, settings, since_ns))),
        "router": actor_runner(RouterActor, lambda: RouterActor(SingleVenueRouter(scenario.venue.name))),
        "risk": actor_runner(RiskActor, lambda: RiskActor(journal, RiskGate(
            RiskLimits(scenario.risk.max_order_notional, scenario.risk.max_position, scenario.risk.price_band_bps,
                       scenario.risk.max_slippage_bps), instruments, parent_prefix=f"P{run_id}-",
            checks=scenario.risk.checks,
            sizing=Sizing({strat.name: strat.sizing for strat in scenario.strategies if strat.sizing})))),
        CONTROL: actor_runner(ControlActor, lambda: ControlActor(journal, KillSwitch(scenario.kill_switch))),
        **{name: actor_runner(StrategyActor, _strategy_factory(strat, instruments))
           for name, strat in strategies.items()},
        "book": actor_runner(BookActor, lambda: BookActor(
            list(scenario.feed.instruments), scenario.book_depth, book_stats, sync_factory=sync_factory,
            stale_after_ns=scenario.book_stale_after_ns, every_change=decides_inside_windows(scenario),
            trade_views=decides_on_trades(scenario), quality=data_quality)),
    }
    spec = {name: child(name, run, ports=gateway.actor_ports if gateway and name == "venue" else None)
            for name, run in runners.items()}
    spec.update({name: child(name, run, market.restart, market.ports) for name, (run, _) in feeds.items()})
    execution = ["ledger", "venue", "orders", CONTROL]
    if gateway:  # what happens to our orders after their REST answer: the venue's user data stream
        spec["user_stream"] = child("user_stream", gateway.order_stream, ports=gateway.order_stream_ports)
        execution.append("user_stream")

    def supervisor(name: str, names: list[str], strategy: Strategy) -> Supervisor:
        return Supervisor(name, [spec[n] for n in names], clock=clock, lifecycle=lifecycle, strategy=strategy,
                          max_restarts=5, period_s=60, quiescence=quiescence, crashes=crashes)

    root = Supervisor("root", [
        supervisor("execution", execution, Strategy.ONE_FOR_ONE).as_child(),
        supervisor("decision", ["router", "risk", *strategies], Strategy.REST_FOR_ONE).as_child(),
        supervisor("market", ["book", *feeds], Strategy.REST_FOR_ONE).as_child(),
    ], clock=clock, lifecycle=lifecycle, max_restarts=3, period_s=60, quiescence=quiescence, crashes=crashes)
    for actor, at_ns in crashes.timed():
        due = market.first_ts_ns + at_ns
        clock.deliver_at(due, box[actor], InjectedCrash(actor, due))
    for command in scenario.operator:
        due = market.first_ts_ns + command.at_ns
        clock.deliver_at(due, box[CONTROL], OperatorCommand(command.action, due, "scenario", command.reason))
    ticks = [clock.deliver_every(strat.cadence.first_tick_ns(market.first_ts_ns), strat.cadence.period_ns, box[name],
                                 lambda due: TimerFired(TIMER_KEY, due), rides=True)   # with the batch before them
             for name, strat in strategies.items() if not strat.cadence.follows_events]
    mark_ns = scenario.portfolio.mark_ns   # the portfolio valued at the mids, on the period's grid of market time
    ticks.append(clock.deliver_every((market.first_ts_ns // mark_ns + 1) * mark_ns, mark_ns, box["ledger"],
                                     lambda due: TimerFired(MARK_KEY, due),   # (as the replay's windows and cadences are)
                                     cuts=False,   # valued at the touch path as it stood: no window is cut for it
                                     # with the batch before it, beside a strategy's look, unless the kill switch acts
                                     # on the valuation (its halt must reach the risk gate before the look's signal)
                                     rides=journal.inline and not _loss_limited(scenario)))

    ending = _Ending(scenario, clock, live, control)
    contact = None
    if live:   # a live run must reach its venue, or fail saying which part it never reached
        contact = FirstContact(market.watches.values(), scenario.venue.name, scenario.venue.url or "in process",
                               instruments)
        journal.subscribe(CONTACT_WATCHED, contact.take)
    started = time.perf_counter()
    # What exists before the run (modules, the scenario, the recording's lines) lives as long as it does: out of the
    # collector's passes while it runs, a full pass looks only at what the run made. Handed back after, so that a
    # process that runs again (the tests, a benchmark) can collect it.
    gc.freeze()
    try:
        async with trio.open_nursery() as services:
            await services.start(journal.run)
            if live:
                services.start_soon(clock.run)
            if endpoint is not None:
                watched = Watched(scenario.venue.name, clock, lifecycle, box, book_stats,
                                  {name: (w.venue, w.stats) for name, w in market.watches.items()}, gateway, stop)
                await services.start(observe.serve, endpoint, watched,
                                     Activity(scenario.venue.name, instruments, journal.run_id), journal,
                                     box.get(CONTROL))
            if contact is not None:   # with the services: a run over before its deadline does not wait for it
                services.start_soon(contact.watch, scenario.venue.connect_timeout_s, control, clock.now_ns)
            async with trio.open_nursery() as tree:
                root_ctx = await tree.start(root.serve)
                tree.start_soon(ending.watch)
                await ending.until(market.until_done())
                if contact is not None and ending.failure is None and contact.missing():
                    ending.failure = f"{CONTACT}: {contact.missing()}"   # its duration ended before the deadline
                stopped = stop.reason if stop.asked else None   # asked once the market was over: not cut short
                for tick in ticks:   # the market is over: nothing new to look at
                    tick.cancel()
                if stopped:   # the strategies may still be at a view in hand: what they say now goes nowhere
                    box["risk"].deliver(TradingStateChanged(TradingMode.HALTED, clock.now_ns(), stopped))
                if scenario.execution.cancel_on_exit and ending.failure is None:
                    await ending.settle(box["orders"], stopped or "end of run")
                ending.stop_watching()
                root_ctx.stop_requested.set()
            truth = simulated.truth() if simulated else await gateway.truth(since_ns)
            services.cancel_scope.cancel()
    finally:
        gc.unfreeze()
        with trio.CancelScope(shield=True):
            for client in (*rests, gateway):
                if client is not None:
                    await client.aclose()
    wall_s = time.perf_counter() - started

    entries = list(journal.entries(kinds=(*REPORTED, ReconcileReply)))   # one read serves report and evidence
    mids = {symbol: book_stats.mid_x2(symbol) for symbol in instruments}
    report = {
        "scenario": scenario.name,
        **market.summary(),
        **journal_section(entries, instruments, mids, dict(scenario.portfolio.cash), scenario.portfolio.currency),
        "book": {**book_stats.as_dict(), **_liveness(book_stats, clock.now_ns())},
        "data_quality": data_quality.as_dict(),
        "actor_restarts": _per_actor(lifecycle, LifecycleKind.RESTARTED, scenario.actors),
        "dead_letters": _per_actor(lifecycle, LifecycleKind.DEAD_LETTER, scenario.actors),
        "crashes_injected": dict(sorted(crashes.injected.items())),
        "journal": {"run_id": journal.run_id, "runs": len(journal.runs)},
        "venue_truth": venue_truth_section(truth, instruments),
    }
    report["runtime"] = {**report.get("runtime", {}), "book_views": book_stats.views,
                         "conflations": {name: box[name].conflated for name in sorted(box)}}
    quoting = {strat.name: (strat.instruments[0], getattr(strat.params, "max_inventory", scenario.risk.max_position))
               for strat in scenario.strategies if strat.quotes}
    if quoting:
        report["quoting"] = quoting_section(journal.entries(kinds=QUOTING_KINDS), quoting, instruments)
    if simulated is not None:
        report["venue_faults"] = simulated.faults_fired()
    if gateway:
        report["gateway"] = gateway.stats_dict()
    evidence = Evidence(
        fill_trade_ids=[entry.msg.trade_id for entry in entries if type(entry.msg) is Fill],
        venue_trades={symbol: dict(account.get("trades", {})) for symbol, account in truth.items()},
        received=dict(crashes.received),
        reconciliations=sum(1 for entry in entries if type(entry.msg) is ReconcileReply))
    orders, fills = quality.fold(entries, book_stats.tops)
    report["execution_quality"] = quality.quality_section(orders, fills, instruments)
    report["partial"] = stopped is not None
    if stopped:
        report["stopped"] = stopped
    failure = ending.failure or _unsettled(report, scenario, stopped is not None)
    if failure:
        report["failure"] = failure
        raise RunFailed(failure, report, evidence)
    files = {"fills.csv": quality.fills_csv(fills, instruments),
             "report.html": report_html.render(report, orders, fills, instruments, book_stats.tops)}
    return RunOutcome(report, report["events"], wall_s, evidence, files)


class _Ending:
    """How a run ends: when its feed is over, after its orders settle, or at once when an actor says it cannot
    go on (`RunFailure` on the session's mailbox)."""

    def __init__(self, scenario: Scenario, clock: Any, live: bool, control: Mailbox):
        self.scenario, self.clock, self.live, self.control = scenario, clock, live, control
        self.failure: str | None = None
        self.settled = trio.Event()
        self._settle_from: int | None = None   # the end's cancel-all: what settled before it (a halt's) is not the end
        self._failed = trio.Event()
        self._watching = trio.CancelScope()

    async def watch(self) -> None:
        """Read the session's mailbox until the run stops."""
        with self._watching:
            while True:
                for msg in await self.control.receive_batch():
                    self._take(msg)

    def stop_watching(self) -> None:
        self._watching.cancel()

    def _take(self, msg: Any) -> None:
        if type(msg) is OrdersSettled:
            if self._settle_from is not None and msg.ts_ns >= self._settle_from:
                self.settled.set()
        elif type(msg) is RunFailure and self.failure is None:
            self.failure = f"{msg.actor}: {msg.reason}"
            self._failed.set()

    async def until(self, done: Any) -> None:
        """Wait for `done` (the feed's end) or a failure, whichever comes first."""
        async with trio.open_nursery() as nursery:
            async def finish() -> None:
                await done
                nursery.cancel_scope.cancel()

            async def fail() -> None:
                await self._failed.wait()
                nursery.cancel_scope.cancel()
            nursery.start_soon(finish)
            nursery.start_soon(fail)

    async def settle(self, orders: Mailbox, reason: str) -> None:
        """Cancel every working order and wait, on the run's clock, until the order manager says all is settled."""
        timeout_ns = self.scenario.execution.settle_timeout_ns
        self._settle_from = self.clock.now_ns()
        orders.deliver(CancelAll(self._settle_from, reason))
        if self.live:
            with trio.move_on_after(timeout_ns / 1e9):
                await self.until(self.settled.wait())
            return
        clock = self.clock
        deadline = clock.now_ns() + timeout_ns
        await clock.quiescence.wait_idle()
        while not self.settled.is_set() and self.failure is None:
            for msg in self.control.take_waiting():
                self._take(msg)
            if self.settled.is_set():
                break
            due = clock.next_due_ns()
            if due is None or due > deadline:
                break
            await clock.advance_to(due)
        for msg in self.control.take_waiting():
            self._take(msg)


def _unsettled(report: dict[str, Any], scenario: Scenario, partial: bool) -> str | None:
    """Why the run did not end as asked: orders left open or unresolved after its cancel-all, or a replayed
    book that never came back (at the end of its data: a replay stopped early may stop before a book is whole)."""
    dead = [symbol for symbol, live in report["book"]["live_at_end"].items() if not live]
    if dead and scenario.feed.kind != "live" and not partial:
        return f"the book of {', '.join(dead)} was not live at the end of the replay: its market data stopped"
    if not scenario.execution.cancel_on_exit:
        return None
    left = report["open_orders"]
    if left:
        return (f"{len(left)} order(s) still open or unresolved at the end of the run after cancelling "
                f"({', '.join(left[:10])}); the venue did not settle them within [execution] settle_timeout_ms")
    return None


def _liveness(stats: BookStats, end_ns: int) -> dict[str, dict[str, Any]]:
    per = stats.liveness(end_ns)
    return {key: {symbol: values[key] for symbol, values in per.items()}
            for key in ("live_at_end", "not_live_ms", "longest_outage_ms")}


def _per_actor(lifecycle: Lifecycle, kind: LifecycleKind, actors: tuple[str, ...]) -> dict[str, int]:
    counts = lifecycle.per_actor(kind)
    return {name: counts.get(name, 0) for name in sorted(set(actors) | set(counts))}


def _for(edge: Any, instruments: tuple[str, ...], everything: set[str]) -> Any:
    """`edge`, carrying only the messages of `instruments` when they are not all the run's."""
    return edge if everything <= set(instruments) else ForInstruments(edge, instruments)


def _gateway_runner(gateway: OrderGateway) -> Any:
    """The venue child's run function over a network: a fresh gateway actor on every start and restart."""
    async def run(ctx: Any) -> None:
        await gateway.actor().run(ctx)
    return run


def _strategy(spec: StrategySpec, instruments: dict[str, Any]) -> StrategyObject:
    """The strategy of one [[strategy]], built by its kind (engine.strategies.registry)."""
    setup = StrategySetup(spec.name, tuple(instruments[symbol] for symbol in spec.instruments), Urgency(spec.urgency))
    return STRATEGY_KINDS[spec.kind].build(setup, spec.params)


def _strategy_factory(spec: StrategySpec, instruments: dict[str, Any]) -> Any:
    """The strategy actor of one [[strategy]]: a fresh strategy on every start and restart."""
    window = spec.sizing.window if spec.sizing is not None and spec.sizing.method == "volatility" else 0
    return lambda: StrategyActor(lambda: _strategy(spec, instruments), spec.cadence, window)


def _order_prefix(name: str) -> str:
    cleaned = "".join(c for c in name if c.isalnum())[:20]
    return cleaned or "engine"

