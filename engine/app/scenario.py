"""Scenario files: what a run is made of, read from TOML and checked before anything starts.

A scenario names its instruments, its market data (a synthetic feed made from a seed, or recorded files),
the strategy, the risk limits, the simulated venue and any faults to inject. Every problem is reported
as a `ScenarioError` naming the file and the key, so that a bad scenario fails before a single actor runs.

A simulated venue served on its own (`python -m engine venue`) is read by `load_venue`: its instruments, the
market that drives it (`[feed]`, replayed `speed` times real time) and the venue itself (`[venue]`: fees,
seed, queue model, latency, rate limits, demo accounts and faults).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from adapters.simulated.faults import FaultKind
from adapters.simulated.latency import LATENCY_MODELS
from adapters.simulated.queue import QUEUE_MODELS
from engine.model.numbers import Instrument, NumberFormatError, parse_fixed
from engine.strategies.cadence import Cadence, parse_cadence


class ScenarioError(ValueError):
    """The scenario cannot be run as written; the message names the file and the key."""


@dataclass(frozen=True)
class FeedSpec:
    kind: str                      # "synthetic", "recording" or "live"
    instrument: str
    batch_ns: int
    files: tuple[Path, ...] = ()
    seed: int = 0
    duration_s: int = 0
    stream_url: str = ""           # live: the venue's WebSocket base URL
    rest_url: str = ""             # live: the venue's REST base URL
    silence_s: int = 60            # live: a connection silent this long is dead


@dataclass(frozen=True)
class StrategySpec:
    kind: str
    instrument: str
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
    strategy: StrategySpec
    risk: RiskSpec
    venue: VenueSpec
    book_depth: int
    faults: tuple[FaultSpec, ...] = field(default=())
    book_stale_after_ns: int | None = None  # a book silent this long is dropped and resynced
    execution: ExecutionSpec = ExecutionSpec()
    journal: JournalSpec = JournalSpec()
    resync_within_ns: int = 5_000_000_000   # a crashed book must be live again within this (chaos checks it)


ACTORS = ("feed", "book", "strategy", "risk", "router", "orders", "venue", "ledger", "user_stream")


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
    strategy = _strategy(root.table_("strategy"), instruments)
    risk_table = root.table_("risk")
    traded = instruments[strategy.instrument]
    risk = RiskSpec(
        max_order_notional=risk_table.decimal("max_order_notional"),
        max_position=risk_table.fixed("max_position", traded.qty_decimals),
        price_band_bps=risk_table.int("price_band_bps", minimum=0),
        max_slippage_bps=risk_table.int("max_slippage_bps", minimum=0),
    )
    venue_table = root.table_("venue")
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
    faults = tuple(_fault(path, i, table) for i, table in enumerate(doc.get("faults", [])))
    stale_after_ms = book.int("stale_after_ms", 0, minimum=0)
    return Scenario(name, path, instruments, feed, strategy, risk, venue,
                    book.int("depth", 20, minimum=1), faults, stale_after_ms * 1_000_000 or None,
                    _execution(_Reader(path, doc.get("execution", {}), "execution")),
                    _journal(path, _Reader(path, doc.get("journal", {}), "journal")),
                    book.int("resync_within_ms", 5_000, minimum=1) * 1_000_000)


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
        if inst.symbol != f"{inst.base}/{inst.quote}":
            raise r.error("symbol", f"must be BASE/QUOTE ({inst.base}/{inst.quote}), got {inst.symbol!r}")
        if inst.tick_size <= 0 or inst.lot_size <= 0:
            raise r.error("tick_size", "tick_size and lot_size must be positive")
        if inst.symbol in out:
            raise r.error("symbol", f"{inst.symbol!r} is listed twice")
        out[inst.symbol] = inst
    return out


def _instrument_ref(r: _Reader, instruments: dict[str, Instrument]) -> str:
    symbol = r.str("instrument")
    if symbol not in instruments:
        raise r.error("instrument", f"{symbol!r} is not one of the [[instruments]] ({', '.join(instruments)})")
    return symbol


def _feed(path: Path, r: _Reader, instruments: dict[str, Instrument]) -> FeedSpec:
    kind = r.str("kind", choices=("synthetic", "recording", "live"))
    instrument = _instrument_ref(r, instruments)
    batch_ns = r.int("batch_ms", 100, minimum=1) * 1_000_000
    if kind == "synthetic":
        return FeedSpec(kind, instrument, batch_ns, seed=r.int("seed"), duration_s=r.int("duration_s", minimum=1))
    if kind == "live":
        urls = {}
        for key, schemes in (("stream_url", ("ws://", "wss://")), ("rest_url", ("http://", "https://"))):
            urls[key] = r.str(key)
            if not urls[key].startswith(schemes):
                raise r.error(key, f"must start with {' or '.join(schemes)}, got {urls[key]!r}")
        return FeedSpec(kind, instrument, batch_ns, duration_s=r.int("duration_s", 60, minimum=1),
                        silence_s=r.int("silence_s", 60, minimum=1), **urls)
    files = r._get("files", _REQUIRED, (list,), "a list of file paths")
    if not files or not all(isinstance(f, str) for f in files):
        raise r.error("files", "must be a non-empty list of file paths")
    resolved = tuple((path.parent / f).resolve() for f in files)
    return FeedSpec(kind, instrument, batch_ns, files=resolved)


def _strategy(r: _Reader, instruments: dict[str, Instrument]) -> StrategySpec:
    kind = r.str("kind", choices=("ema_cross",))
    instrument = _instrument_ref(r, instruments)
    fast, slow = r.int("fast", minimum=1), r.int("slow", minimum=2)
    if fast >= slow:
        raise r.error("fast", f"must be shorter than slow ({slow}), got {fast}")
    position = r.fixed("position", instruments[instrument].qty_decimals)
    if position <= 0:
        raise r.error("position", "must be positive")
    return StrategySpec(kind, instrument, fast, slow, position,
                        r.str("urgency", "aggressive", choices=("aggressive", "passive")),
                        r.bool("long_only", False), _cadence(r))


def _cadence(r: _Reader) -> Cadence:
    """`cadence`: when the strategy looks at the market; every book change unless the scenario says otherwise."""
    try:
        return parse_cadence(r.str("cadence", "book"))
    except ValueError as exc:
        raise r.error("cadence", str(exc)) from None


def _fault(path: Path, i: int, table: Any) -> FaultSpec:
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: [[faults]] entry {i} must be a table")
    r = _Reader(path, table, f"faults[{i}]")
    actor = r.str("actor", choices=ACTORS)
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
