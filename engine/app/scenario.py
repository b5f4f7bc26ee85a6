"""Scenario files: what a run is made of, read from TOML and checked before anything starts.

A scenario names its instruments, its market data (a synthetic feed made from a seed, recorded files, or
live venues), its strategies, the risk limits, the simulated venue and any faults to inject. Every problem
is reported as a `ScenarioError` naming the file and the key, so that a bad scenario fails before a single
actor runs: a strategy naming an instrument no feed carries would trade nothing and still exit 0.

One run holds many instruments of any venue. An instrument's id is its `[[instruments]] symbol`, unique in
the run: `BASE/QUOTE`, or `BASE/QUOTE@venue` where the same pair is listed on several venues (BTC/USDT on
Binance and `BTC/USDT@okx`). Market data comes over venue connections (`[[feed.connections]]`, or the
`[feed]` table itself for one connection), each carrying instruments of one venue; a replay merges them by
receive time. Strategies are an array (`[[strategy]]`), each seeing the views of the instruments it names.

A simulated venue served on its own (`python -m engine venue`) is read by `load_venue`: its instruments, the
market that drives it (`[feed]`, replayed `speed` times real time) and the venue itself (`[venue]`: fees,
seed, queue model, latency, rate limits, demo accounts and faults).
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from adapters.simulated.faults import FaultKind
from adapters.simulated.latency import LATENCY_MODELS
from adapters.simulated.queue import QUEUE_MODELS
from adapters.synthetic import synthetic_problem
from engine.model.numbers import Instrument, NumberFormatError, parse_fixed
from engine.strategies.cadence import Cadence, parse_cadence


class ScenarioError(ValueError):
    """The scenario cannot be run as written; the message names the file and the key."""


@dataclass(frozen=True)
class ConnectionSpec:
    """One venue connection of the feed: the instruments it carries (all of one venue) and where its frames
    come from (recorded files, a live venue's URLs, or the synthetic market as this venue would send it)."""
    venue: str
    instruments: tuple[str, ...]
    files: tuple[Path, ...] = ()   # recording
    stream_url: str = ""           # live: the venue's WebSocket base URL
    rest_url: str = ""             # live: the venue's REST base URL
    depth: int = 0                 # synthetic: levels a side the venue sends (0: its default)
    delay_ns: int = 0              # synthetic: how late the venue's frames arrive


@dataclass(frozen=True)
class FeedSpec:
    kind: str                      # "synthetic", "recording" or "live": the whole run replays or is live
    connections: tuple[ConnectionSpec, ...]
    batch_ns: int
    seed: int = 0
    duration_s: int = 0
    silence_s: int = 60            # live: a connection silent this long is dead

    @property
    def instruments(self) -> tuple[str, ...]:
        """Every instrument the feed carries, in the order of its connections."""
        return tuple(symbol for connection in self.connections for symbol in connection.instruments)


@dataclass(frozen=True)
class StrategySpec:
    name: str                      # unique in the run; defaults to `kind`
    kind: str
    instruments: tuple[str, ...]   # the instruments whose views it receives
    fast: int
    slow: int
    position: int                  # target absolute position, in quantity units
    urgency: str
    long_only: bool
    cadence: Cadence = Cadence("book")   # when it looks at the market (see engine.strategies.cadence)


@dataclass(frozen=True)
class RiskSpec:
    max_order_notional: Decimal
    max_position: int
    price_band_bps: int
    max_slippage_bps: int


@dataclass(frozen=True)
class VenueSpec:
    name: str
    maker_fee: Decimal
    taker_fee: Decimal
    latency_ns: int
    url: str = ""                             # a Binance-protocol venue's REST base URL; "" = in process
    api_key_env: str = "BINANCE_API_KEY"      # the environment variables holding its credentials
    secret_env: str = "BINANCE_API_SECRET"
    ws_api_url: str = ""                      # its WebSocket API (the user data stream), a setting of its own
    timeout_s: float = 10.0                   # an HTTP request unanswered this long has an unknown outcome
    recv_window_ns: int = 5_000_000_000       # the in-process venue refuses requests older than this
    seed: int = 0                             # the in-process venue's fault draws
    faults: tuple["SimFaultSpec", ...] = ()   # the in-process venue's faults


@dataclass(frozen=True)
class FaultSpec:
    """One `[[faults]]` entry: crash `actor` at its N-th message, at a time of the run, or at seeded random."""
    actor: str
    after_events: int | None = None
    at_ns: int | None = None                  # from the run's first event
    rate_ppm: int = 0
    seed: int = 0
    times: int = 1


@dataclass(frozen=True)
class ExecutionSpec:
    """`[execution]`: how the order manager treats orders (times in ns of the run's clock)."""
    cancel_on_exit: bool = True
    ack_timeout_ns: int = 5_000_000_000
    requery_ns: int = 1_000_000_000
    reconcile_timeout_ns: int = 5_000_000_000
    order_ttl_ns: int = 0
    chase_ticks: int = 0
    settle_timeout_ns: int = 60_000_000_000


@dataclass(frozen=True)
class JournalSpec:
    """`[journal]`: where the run's journal is (None: in its output folder) and how durable each write is."""
    path: Path | None = None
    sync: str | None = None                   # "full" or "normal"; None: normal for replays, full for live


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    instruments: dict[str, Instrument]
    feed: FeedSpec
    strategies: tuple[StrategySpec, ...]
    risk: RiskSpec
    venue: VenueSpec
    book_depth: int
    faults: tuple[FaultSpec, ...] = field(default=())
    book_stale_after_ns: int | None = None  # a book silent this long is dropped and resynced
    execution: ExecutionSpec = ExecutionSpec()
    journal: JournalSpec = JournalSpec()
    resync_within_ns: int = 5_000_000_000   # a crashed book must be live again within this (chaos checks it)

    @property
    def feed_actors(self) -> tuple[str, ...]:
        """The names of the feed actors: one replay driver, or one live feed per connection."""
        if self.feed.kind != "live" or len(self.feed.connections) == 1:
            return ("feed",)
        return _labels("feed", [connection.venue for connection in self.feed.connections])

    @property
    def strategy_actors(self) -> tuple[str, ...]:
        """The names of the strategy actors, in `strategies` order: `strategy` alone, or one per strategy."""
        if len(self.strategies) == 1:
            return ("strategy",)
        return tuple(f"strategy.{strategy.name}" for strategy in self.strategies)

    @property
    def actors(self) -> tuple[str, ...]:
        """Every actor of the run's tree (`user_stream` only runs with a venue over HTTP)."""
        return (*self.feed_actors, *(a for a in ACTORS if a not in ("feed", "strategy")), *self.strategy_actors)


ACTORS = ("feed", "book", "strategy", "risk", "router", "orders", "venue", "ledger", "user_stream")


def _labels(prefix: str, names: list[str]) -> tuple[str, ...]:
    """`prefix.name` for each name, numbered where a name repeats (`feed.binance.1`, `feed.binance.2`)."""
    seen: dict[str, int] = {}
    repeated = {name for name in names if names.count(name) > 1}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{prefix}.{name}.{seen[name]}" if name in repeated else f"{prefix}.{name}")
    return tuple(out)


class _Reader:
    """Typed access to one table of the TOML document, with errors that say where."""

    def __init__(self, path: Path, table: dict[str, Any], where: str):
        self.path, self.table, self.where = path, table, where

    def error(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.path}: [{self.where}] {key}: {problem}")

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], kind_name: str) -> Any:
        if key not in self.table:
            if default is _REQUIRED:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise self.error(key, f"must be {kind_name}, got {value!r}")
        return value

    def str(self, key: str, default: Any = None, choices: tuple[str, ...] | None = None) -> str:
        value = self._get(key, _REQUIRED if default is None else default, (str,), "a string")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def int(self, key: str, default: Any = None, minimum: int | None = None) -> int:
        value = self._get(key, _REQUIRED if default is None else default, (int,), "an integer")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    def bool(self, key: str, default: bool) -> bool:
        return self._get(key, default, (bool,), "true or false")

    def decimal(self, key: str, default: Any = None) -> Decimal:
        value = self._get(key, _REQUIRED if default is None else default, (str, int), "a decimal string")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(key, f"is not a decimal number: {value!r}") from None
        if not number.is_finite() or number < 0:
            raise self.error(key, f"must be a finite, non-negative number, got {value!r}")
        return number

    def fixed(self, key: str, decimals: int) -> int:
        value = self._get(key, _REQUIRED, (str, int), "a decimal string")
        try:
            return parse_fixed(str(value), decimals)
        except NumberFormatError as exc:
            raise self.error(key, str(exc)) from None

    def table_(self, key: str) -> "_Reader":
        value = self._get(key, _REQUIRED, (dict,), "a table")
        return _Reader(self.path, value, f"{self.where}.{key}" if self.where else key)


_REQUIRED = object()


def _read(path: Path) -> tuple[dict[str, Any], _Reader, str]:
    """The TOML document of a scenario file, a reader of its top level, and the scenario's name."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return doc, _Reader(path, doc, ""), _Reader(path, doc.get("engine", {}), "engine").str("name", path.stem)


def load(path: str | Path) -> Scenario:
    """Read and check the scenario at `path`."""
    path = Path(path)
    doc, root, name = _read(path)

    instruments = _instruments(path, doc)
    feed = _feed(path, root.table_("feed"), instruments)
    venue_table = root.table_("venue")
    strategies = _strategies(path, doc, instruments, feed)
    risk_table = root.table_("risk")
    risk = RiskSpec(
        max_order_notional=risk_table.decimal("max_order_notional"),
        max_position=risk_table.fixed("max_position", _traded_qty_decimals(risk_table, strategies, instruments)),
        price_band_bps=risk_table.int("price_band_bps", minimum=0),
        max_slippage_bps=risk_table.int("max_slippage_bps", minimum=0),
    )
    venue_faults = venue_table._get("faults", [], (list,), "a list of [[venue.faults]] tables")
    venue = VenueSpec(
        name=venue_table.str("name", "binance"),
        maker_fee=venue_table.decimal("maker_fee"),
        taker_fee=venue_table.decimal("taker_fee"),
        latency_ns=venue_table.int("latency_us", 0, minimum=0) * 1000,
        url=venue_table.str("url", ""),
        api_key_env=venue_table.str("api_key_env", "BINANCE_API_KEY"),
        secret_env=venue_table.str("secret_env", "BINANCE_API_SECRET"),
        ws_api_url=venue_table.str("ws_api_url", ""),
        timeout_s=venue_table.int("timeout_ms", 10_000, minimum=1) / 1000,
        recv_window_ns=venue_table.int("recv_window_ms", 5_000, minimum=1) * 1_000_000,
        seed=venue_table.int("seed", 0),
        faults=tuple(_sim_fault(path, i, table, tuple(k.value for k in FaultKind))
                     for i, table in enumerate(venue_faults)),
    )
    if venue.url and not venue.url.startswith(("http://", "https://")):
        raise venue_table.error("url", f"must start with http:// or https://, got {venue.url!r}")
    if venue.url and not venue.ws_api_url:
        raise venue_table.error("ws_api_url", "is required with url: the venue's WebSocket API address "
                                              "(Binance: wss://ws-api.binance.com:443/ws-api/v3)")
    if venue.ws_api_url and not venue.ws_api_url.startswith(("ws://", "wss://")):
        raise venue_table.error("ws_api_url", f"must start with ws:// or wss://, got {venue.ws_api_url!r}")
    book = _Reader(path, doc.get("book", {}), "book")
    stale_after_ms = book.int("stale_after_ms", 0, minimum=0)
    scenario = Scenario(name, path, instruments, feed, strategies, risk, venue,
                    book.int("depth", 20, minimum=1), (), stale_after_ms * 1_000_000 or None,
                    _execution(_Reader(path, doc.get("execution", {}), "execution")),
                    _journal(path, _Reader(path, doc.get("journal", {}), "journal")),
                    book.int("resync_within_ms", 5_000, minimum=1) * 1_000_000)
    faults = tuple(_fault(path, i, table, scenario.actors) for i, table in enumerate(doc.get("faults", [])))
    return dataclasses.replace(scenario, faults=faults)


def _execution(r: _Reader) -> ExecutionSpec:
    ms = 1_000_000
    return ExecutionSpec(
        cancel_on_exit=r.bool("cancel_on_exit", True),
        ack_timeout_ns=r.int("ack_timeout_ms", 5_000, minimum=1) * ms,
        requery_ns=r.int("requery_ms", 1_000, minimum=1) * ms,
        reconcile_timeout_ns=r.int("reconcile_timeout_ms", 5_000, minimum=1) * ms,
        order_ttl_ns=r.int("order_ttl_ms", 0, minimum=0) * ms,
        chase_ticks=r.int("chase_ticks", 0, minimum=0),
        settle_timeout_ns=r.int("settle_timeout_ms", 60_000, minimum=1) * ms)


def _journal(path: Path, r: _Reader) -> JournalSpec:
    where = r.table.get("path")
    if where is not None and not isinstance(where, str):
        raise r.error("path", f"must be a file path, got {where!r}")
    return JournalSpec(path=(path.parent / where).resolve() if where else None,
                       sync=r.str("sync", choices=("full", "normal")) if "sync" in r.table else None)


def _instruments(path: Path, doc: dict[str, Any]) -> dict[str, Instrument]:
    tables = doc.get("instruments")
    if not isinstance(tables, list) or not tables:
        raise ScenarioError(f"{path}: [[instruments]]: at least one instrument is required")
    out: dict[str, Instrument] = {}
    for i, table in enumerate(tables):
        r = _Reader(path, table, f"instruments[{i}]")
        price_decimals = r.int("price_decimals", minimum=0)
        qty_decimals = r.int("qty_decimals", minimum=0)
        inst = Instrument(
            symbol=r.str("symbol"), venue=r.str("venue"), venue_symbol=r.str("venue_symbol"),
            base=r.str("base"), quote=r.str("quote"),
            price_decimals=price_decimals, qty_decimals=qty_decimals,
            tick_size=r.fixed("tick_size", price_decimals), lot_size=r.fixed("lot_size", qty_decimals))
        pair = f"{inst.base}/{inst.quote}"
        if inst.symbol not in (pair, f"{pair}@{inst.venue}"):
            raise r.error("symbol", f"must be BASE/QUOTE ({pair}), or {pair}@{inst.venue} where the pair is listed "
                                    f"on several venues, got {inst.symbol!r}")
        if inst.tick_size <= 0 or inst.lot_size <= 0:
            raise r.error("tick_size", "tick_size and lot_size must be positive")
        if inst.symbol in out:
            raise r.error("symbol", f"{inst.symbol!r} is listed twice: an instrument's symbol is its id in the run "
                                    f"(the same pair on another venue is {pair}@<venue>)")
        out[inst.symbol] = inst
    return out


def _instrument_refs(r: _Reader, instruments: dict[str, Instrument]) -> tuple[str, ...]:
    """The `instruments = [...]` of a table: a non-empty list of [[instruments]] symbols, none twice."""
    if "instrument" in r.table:
        raise r.error("instrument", "is not read: name them as a list, instruments = [...]")
    symbols = r._get("instruments", _REQUIRED, (list,), "a list of [[instruments]] symbols")
    if not symbols or not all(isinstance(symbol, str) for symbol in symbols):
        raise r.error("instruments", f"must be a non-empty list of [[instruments]] symbols, got {symbols!r}")
    for symbol in symbols:
        if symbol not in instruments:
            raise r.error("instruments", f"{symbol!r} is not one of the [[instruments]] ({', '.join(instruments)})")
        if symbols.count(symbol) > 1:
            raise r.error("instruments", f"{symbol!r} is named twice")
    return tuple(symbols)


_CONNECTION_KEYS = ("instruments", "instrument", "files", "stream_url", "rest_url", "depth", "delay_ms")


def _feed(path: Path, r: _Reader, instruments: dict[str, Instrument]) -> FeedSpec:
    """`[feed]`: what kind of market data, its batching, and its connections (`[[feed.connections]]`, or the
    `[feed]` table itself for a feed of one connection)."""
    kind = r.str("kind", choices=("synthetic", "recording", "live"))
    batch_ns = r.int("batch_ms", 100, minimum=1) * 1_000_000
    if "connections" in r.table:
        tables = r._get("connections", _REQUIRED, (list,), "a list of [[feed.connections]] tables")
        inline = [key for key in _CONNECTION_KEYS if key in r.table]
        if inline:
            raise r.error(inline[0], "belongs in each [[feed.connections]] table once the feed has connections")
        if not tables or not all(isinstance(table, dict) for table in tables):
            raise r.error("connections", "must be one or more [[feed.connections]] tables")
        readers = [_Reader(path, table, f"feed.connections[{i}]") for i, table in enumerate(tables)]
    else:
        readers = [r]
    connections = tuple(_connection(path, kind, reader, instruments) for reader in readers)
    carried: dict[str, str] = {}
    for reader, connection in zip(readers, connections):
        for symbol in connection.instruments:
            if symbol in carried:
                raise reader.error("instruments", f"{symbol!r} is carried by two connections ({carried[symbol]} too)")
            carried[symbol] = f"[{reader.where}]"
    if kind == "synthetic":
        return FeedSpec(kind, connections, batch_ns, seed=r.int("seed"), duration_s=r.int("duration_s", minimum=1))
    if kind == "live":
        return FeedSpec(kind, connections, batch_ns, duration_s=r.int("duration_s", 60, minimum=1),
                        silence_s=r.int("silence_s", 60, minimum=1))
    return FeedSpec(kind, connections, batch_ns)


def _connection(path: Path, kind: str, r: _Reader, instruments: dict[str, Instrument]) -> ConnectionSpec:
    symbols = _instrument_refs(r, instruments)
    venues = sorted({instruments[symbol].venue for symbol in symbols})
    if len(venues) > 1:
        raise r.error("instruments", f"a connection is to one venue; these are of {', '.join(venues)}")
    venue = venues[0]
    if kind == "synthetic":
        if len(symbols) > 1:
            raise r.error("instruments", "a synthetic connection writes the one synthetic market: name one instrument")
        depth = r.int("depth", 0, minimum=0)
        problem = synthetic_problem(instruments[symbols[0]], depth)
        if problem:
            raise r.error("depth" if depth and "depth" in problem else "instruments", problem)
        return ConnectionSpec(venue, symbols, depth=depth, delay_ns=r.int("delay_ms", 0, minimum=0) * 1_000_000)
    if kind == "live":
        urls = {}
        for key, schemes in (("stream_url", ("ws://", "wss://")), ("rest_url", ("http://", "https://"))):
            urls[key] = r.str(key)
            if not urls[key].startswith(schemes):
                raise r.error(key, f"must start with {' or '.join(schemes)}, got {urls[key]!r}")
        return ConnectionSpec(venue, symbols, **urls)
    files = r._get("files", _REQUIRED, (list,), "a list of file paths")
    if not files or not all(isinstance(f, str) for f in files):
        raise r.error("files", "must be a non-empty list of file paths")
    return ConnectionSpec(venue, symbols, files=tuple((path.parent / f).resolve() for f in files))


def _strategies(path: Path, doc: dict[str, Any], instruments: dict[str, Instrument],
                feed: FeedSpec) -> tuple[StrategySpec, ...]:
    tables = doc.get("strategy")
    if isinstance(tables, dict):
        raise ScenarioError(f"{path}: [strategy]: is a single table; write [[strategy]] (an array of tables, one "
                            "per strategy)")
    if not isinstance(tables, list) or not tables or not all(isinstance(table, dict) for table in tables):
        raise ScenarioError(f"{path}: [[strategy]]: at least one strategy is required")
    out: list[StrategySpec] = []
    for i, table in enumerate(tables):
        strategy = _strategy(_Reader(path, table, f"strategy[{i}]"), instruments, feed)
        if any(strategy.name == other.name for other in out):
            raise _Reader(path, table, f"strategy[{i}]").error(
                "name", f"{strategy.name!r} is the name of another strategy: give each a name of its own")
        out.append(strategy)
    return tuple(out)


def _strategy(r: _Reader, instruments: dict[str, Instrument], feed: FeedSpec) -> StrategySpec:
    kind = r.str("kind", choices=("ema_cross",))
    name = r.str("name", kind)
    symbols = _instrument_refs(r, instruments)
    for symbol in symbols:
        if symbol not in feed.instruments:
            raise r.error("instruments", f"{symbol!r} has no feed: no [feed] connection carries it "
                                         f"(the feed carries {', '.join(feed.instruments)})")
    if len(symbols) != 1:
        raise r.error("instruments", f"{kind} trades one instrument, got {len(symbols)}")
    instrument = instruments[symbols[0]]
    fast, slow = r.int("fast", minimum=1), r.int("slow", minimum=2)
    if fast >= slow:
        raise r.error("fast", f"must be shorter than slow ({slow}), got {fast}")
    position = r.fixed("position", instrument.qty_decimals)
    if position <= 0:
        raise r.error("position", "must be positive")
    return StrategySpec(name, kind, symbols, fast, slow, position,
                        r.str("urgency", "aggressive", choices=("aggressive", "passive")),
                        r.bool("long_only", False), _cadence(r))


def _cadence(r: _Reader) -> Cadence:
    """`cadence`: when the strategy looks at the market; every book change unless the scenario says otherwise."""
    try:
        return parse_cadence(r.str("cadence", "book"))
    except ValueError as exc:
        raise r.error("cadence", str(exc)) from None


def _traded_qty_decimals(r: _Reader, strategies: tuple[StrategySpec, ...], instruments: dict[str, Instrument]) -> int:
    """The quantity precision of every traded instrument: `[risk] max_position` is one limit for them all."""
    decimals = {instruments[symbol].qty_decimals for strategy in strategies for symbol in strategy.instruments}
    if len(decimals) > 1:
        raise r.error("max_position", "is one limit for every traded instrument, and theirs have different "
                                      f"qty_decimals ({', '.join(map(str, sorted(decimals)))})")
    return decimals.pop()


def _fault(path: Path, i: int, table: Any, actors: tuple[str, ...]) -> FaultSpec:
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: [[faults]] entry {i} must be a table")
    r = _Reader(path, table, f"faults[{i}]")
    actor = r.str("actor", choices=actors)
    given = [key for key in ("after_events", "at_ms", "rate") if key in table]
    if len(given) != 1:
        raise r.error("after_events", "give exactly one of after_events (the N-th message the actor receives), "
                                      f"at_ms (a time from the run's first event) or rate; got {given or 'none'}")
    times = r.int("times", 1, minimum=1)
    if "after_events" in table:
        return FaultSpec(actor, after_events=r.int("after_events", minimum=1), times=times)
    if "at_ms" in table:
        return FaultSpec(actor, at_ns=r.int("at_ms", minimum=0) * 1_000_000, times=times)
    rate = r.decimal("rate")
    ppm = rate * 1_000_000
    if rate > 1 or ppm != ppm.to_integral_value():
        raise r.error("rate", f"must be a probability from 0 to 1 with at most 6 decimals, got {table['rate']!r}")
    return FaultSpec(actor, rate_ppm=int(ppm), seed=r.int("seed", 0), times=times)


# ---------------------------------------------------------------- a simulated venue served on its own

@dataclass(frozen=True)
class AccountSpec:
    """A demo account of the simulated venue; the secret stays out of reprs."""
    api_key: str
    secret: str = field(repr=False)
    balances: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class LatencySpec:
    model: str                     # "constant" or "lognormal"
    entry_ns: int                  # constant: the delay; lognormal: the median
    response_ns: int
    sigma: Decimal = Decimal(0)    # lognormal: the shape


@dataclass(frozen=True)
class SimFaultSpec:
    """One `[[venue.faults]]` entry: which counted events it hits, and how the fault looks."""
    kind: str
    at: tuple[int, ...] = ()
    rate_ppm: int = 0
    retry_after_s: int = 10
    status: int = 503
    executed: bool = False
    delay_ms: int = 0
    duration_ms: int = 0


@dataclass(frozen=True)
class SimVenueSpec:
    """What `python -m engine venue` serves: instruments, the market that drives them, the venue's rules."""
    name: str
    path: Path
    instruments: dict[str, Instrument]
    feed: FeedSpec
    speed: int                     # the replayed market runs this many times faster than real time
    venue: str
    maker_fee: Decimal
    taker_fee: Decimal
    seed: int
    queue_model: str
    queue_power: int
    latency: LatencySpec
    request_weight_per_minute: int
    orders_per_10s: int
    orders_per_day: int
    accounts: tuple[AccountSpec, ...]
    faults: tuple[SimFaultSpec, ...] = ()


def load_venue(path: str | Path) -> SimVenueSpec:
    """Read and check a simulated venue's scenario at `path`: `[[instruments]]`, `[feed]` and `[venue]`."""
    path = Path(path)
    doc, root, name = _read(path)
    instruments = _instruments(path, doc)
    feed_table = root.table_("feed")
    feed = _feed(path, feed_table, instruments)
    if len(feed.instruments) != 1:
        raise feed_table.error("instruments", "the simulated venue's book follows one instrument's market, "
                                              f"got {', '.join(feed.instruments)}")
    speed = feed_table.int("speed", 1, minimum=1)

    r = root.table_("venue")
    latency = _Reader(path, r._get("latency", {}, (dict,), "a table"), "venue.latency")
    limits = _Reader(path, r._get("rate_limits", {}, (dict,), "a table"), "venue.rate_limits")
    accounts = r._get("accounts", _REQUIRED, (list,), "a list of [[venue.accounts]] tables")
    if not accounts:
        raise r.error("accounts", "at least one account is required")
    faults = r._get("faults", [], (list,), "a list of [[venue.faults]] tables")
    spec = SimVenueSpec(
        name=name, path=path, instruments=instruments, feed=feed, speed=speed,
        venue=r.str("name", "binance"),
        maker_fee=r.decimal("maker_fee"),
        taker_fee=r.decimal("taker_fee"),
        seed=r.int("seed", 0),
        queue_model=r.str("queue_model", "conservative", choices=QUEUE_MODELS),
        queue_power=r.int("queue_power", 2, minimum=1),
        latency=LatencySpec(
            model=latency.str("model", "constant", choices=LATENCY_MODELS),
            entry_ns=latency.int("entry_us", 0, minimum=0) * 1000,
            response_ns=latency.int("response_us", 0, minimum=0) * 1000,
            sigma=latency.decimal("sigma", "0")),
        request_weight_per_minute=limits.int("request_weight_per_minute", 6_000, minimum=1),
        orders_per_10s=limits.int("orders_per_10s", 100, minimum=1),
        orders_per_day=limits.int("orders_per_day", 200_000, minimum=1),
        accounts=tuple(_account(path, i, table, instruments) for i, table in enumerate(accounts)),
        faults=tuple(_sim_fault(path, i, table, tuple(k.value for k in FaultKind))
                     for i, table in enumerate(faults)),
    )
    keys = [account.api_key for account in spec.accounts]
    if len(set(keys)) != len(keys):
        raise r.error("accounts", "two accounts have the same api_key")
    kinds = [fault.kind for fault in spec.faults]
    if len(set(kinds)) != len(kinds):
        raise r.error("faults", "at most one entry per kind")
    return spec


def _account(path: Path, i: int, table: Any, instruments: dict[str, Instrument]) -> AccountSpec:
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: [[venue.accounts]] entry {i} must be a table")
    r = _Reader(path, table, f"venue.accounts[{i}]")
    api_key, secret = r.str("api_key"), r.str("secret")
    if not api_key or not secret:
        raise r.error("api_key", "api_key and secret must not be empty")
    balances_table = r.table_("balances")
    assets = {inst.base for inst in instruments.values()} | {inst.quote for inst in instruments.values()}
    balances = {}
    for asset in balances_table.table:
        if asset not in assets:
            raise balances_table.error(asset, f"is not an asset of the [[instruments]] ({', '.join(sorted(assets))})")
        balances[asset] = balances_table.decimal(asset)
    return AccountSpec(api_key, secret, balances)


def _sim_fault(path: Path, i: int, table: Any, kinds: tuple[str, ...]) -> SimFaultSpec:
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: [[venue.faults]] entry {i} must be a table")
    r = _Reader(path, table, f"venue.faults[{i}]")
    kind = r.str("kind", choices=kinds)
    at = r._get("at", [], (list,), "a list of event numbers")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in at):
        raise r.error("at", f"must list event numbers from 1, got {at!r}")
    rate = r.decimal("rate", "0")
    ppm = rate * 1_000_000
    if rate > 1 or ppm != ppm.to_integral_value():
        raise r.error("rate", f"must be a probability from 0 to 1 with at most 6 decimals, got {table['rate']!r}")
    if not at and not rate:
        raise r.error("at", "a fault needs `at` (event numbers) or a `rate`")
    status = r.int("status", 503)
    if not 500 <= status <= 599:
        raise r.error("status", f"must be a 5xx status, got {status}")
    return SimFaultSpec(kind, tuple(sorted(set(at))), int(ppm), retry_after_s=r.int("retry_after_s", 10, minimum=1),
                        status=status, executed=r.bool("executed", False), delay_ms=r.int("delay_ms", 0, minimum=0),
                        duration_ms=r.int("duration_ms", 0, minimum=0))
