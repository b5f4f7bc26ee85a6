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

The file's shape (tables, keys, types, ranges) is `engine.app.schema`'s; this module holds the rules that
relate keys to each other and the files they name, and builds the dataclasses a run is made of.

A simulated venue served on its own (`python -m engine venue`) is read by `load_venue`: its instruments, the
market that drives it (`[feed]`, replayed `speed` times real time) and the venue itself (`[venue]`: fees,
seed, queue model, latency, rate limits, demo accounts and faults).
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.registry import venues
from adapters.synthetic import synthetic_problem
from engine.app import schema
from engine.app.schema import ScenarioError
from engine.messages import OperatorAction
from engine.model.kill_switch import KillSwitchLimits
from engine.model.data_quality import DataQualityLimits
from engine.model.numbers import Instrument, NumberFormatError, format_fixed, parse_fixed
from engine.model.risk_checks import CheckLimits, InstrumentRules
from engine.replay.synthetic import Crash
from engine.model.sizing import SizingRule
from engine.strategies.cadence import Cadence, parse_cadence
from engine.strategies.registry import ParamError

__all__ = ["ScenarioError", "Scenario", "SimVenueSpec", "load", "load_venue", "check_environment"]


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
    crash: Crash | None = None     # synthetic: a collapse of the market (`engine.replay.synthetic.Crash`)

    @property
    def instruments(self) -> tuple[str, ...]:
        """Every instrument the feed carries, in the order of its connections."""
        return tuple(symbol for connection in self.connections for symbol in connection.instruments)


@dataclass(frozen=True)
class StrategySpec:
    name: str                      # unique in the run; defaults to `kind`
    kind: str                      # a registered strategy kind (engine.strategies.registry)
    instruments: tuple[str, ...]   # the instruments whose views it receives
    urgency: str
    cadence: Cadence = Cadence("book")   # when it looks at the market (see engine.strategies.cadence)
    params: Any = None             # the kind's own keys, as its params dataclass (amounts in fixed-point units)
    sizing: SizingRule | None = None     # how its signals are sized (None: it quotes, and signals nothing)
    written: Mapping[str, Any] = field(default_factory=dict)   # its table as the file wrote it

    @property
    def quotes(self) -> bool:
        """Whether it states quotes (post-only orders that rest at the venue) rather than signalling."""
        return schema.STRATEGY_KINDS[self.kind].quotes

    @property
    def rests_orders(self) -> bool:
        """Whether its orders rest at the venue (quotes, or passive orders), to be filled from the tape."""
        return self.quotes or self.urgency == "passive"

    @property
    def protected(self) -> bool:
        """Whether its kind's keys ask for protection on the positions it opens (a stop, a take-profit, a
        trailing stop): then what it trades is watched on the book for the legs the engine emulates."""
        return any(getattr(self.params, key, 0) for key in ("stop_bps", "take_profit_bps", "trailing_bps"))


@dataclass(frozen=True)
class RiskSpec:
    max_order_notional: Decimal
    max_position: int
    price_band_bps: int
    max_slippage_bps: int
    checks: CheckLimits = CheckLimits()   # the gate's other checks, each off unless its key sets it


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
    connect_timeout_s: float = 15.0           # live: market data connected and the venue answered by then, or fail
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
    protection: str = "native"      # protective orders: "native" where the venue has them, or "emulated"


@dataclass(frozen=True)
class JournalSpec:
    """`[journal]`: where the run's journal is (None: in its output folder) and how durable each write is."""
    path: Path | None = None
    sync: str | None = None                   # "full" or "normal"; None: normal for replays, full for live


@dataclass(frozen=True)
class OperatorSpec:
    """One `[[operator]]` entry: an operator command delivered `at_ns` after the run's first event."""
    at_ns: int
    action: OperatorAction
    reason: str = ""


@dataclass(frozen=True)
class PortfolioSpec:
    """`[portfolio]`: starting balances by asset, the asset equity is valued in ("": the first instrument's quote),
    and how often (ns of market time) the portfolio is valued."""
    cash: tuple[tuple[str, Decimal], ...] = ()
    currency: str = ""
    mark_ns: int = 1_000_000_000


DEFAULT_CASH = Decimal(100_000)
"""The starting balance of the valuation currency where `[portfolio] cash` names none."""


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
    operator: tuple[OperatorSpec, ...] = ()
    kill_switch: KillSwitchLimits = KillSwitchLimits()
    portfolio: PortfolioSpec = PortfolioSpec()
    control_token_env: str | None = None    # [control] token_env: the operator control's bearer token variable
    data_quality: DataQualityLimits = DataQualityLimits()   # the market-data checks' thresholds

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


ACTORS = ("feed", "book", "strategy", "risk", "router", "orders", "venue", "ledger", "control", "user_stream")


def _labels(prefix: str, names: list[str]) -> tuple[str, ...]:
    """`prefix.name` for each name, numbered where a name repeats (`feed.binance.1`, `feed.binance.2`)."""
    seen: dict[str, int] = {}
    repeated = {name for name in names if names.count(name) > 1}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(f"{prefix}.{name}.{seen[name]}" if name in repeated else f"{prefix}.{name}")
    return tuple(out)



MS = 1_000_000
SYNTHETIC_MAX_S = 86_400
"""A synthetic feed is generated before the run: a day of market at most, so a typo cannot fill the disk."""


def _refuse(path: Path, where: str, problem: str) -> ScenarioError:
    return ScenarioError(f"{path}: {where}: {problem}")


def _fixed(path: Path, where: str, text: str, decimals: int) -> int:
    try:
        return parse_fixed(text, decimals)
    except NumberFormatError as exc:
        raise _refuse(path, where, str(exc)) from None


def load(path: str | Path) -> Scenario:
    """Read and check the scenario at `path`: its shape against the schema, then the rules between its keys."""
    path = Path(path)
    if schema.is_venue_file(path):   # its own mistakes first, then the mistake of giving it here
        load_venue(path)
        raise ScenarioError(f"{path}: is a simulated venue's file (its [venue] has accounts), which "
                            "`python -m engine venue` serves; this command takes a scenario")
    doc = schema.read(path, schema.ScenarioFile)
    instruments = _instruments(path, doc.instruments)
    feed = _feed(path, doc.feed, instruments)
    strategies = _strategies(path, doc.strategy, instruments, feed)
    risk = RiskSpec(
        max_order_notional=Decimal(doc.risk.max_order_notional),
        max_position=_fixed(path, "risk.max_position", doc.risk.max_position,
                            _traded_qty_decimals(path, strategies, instruments)),
        price_band_bps=doc.risk.price_band_bps,
        max_slippage_bps=doc.risk.max_slippage_bps,
        checks=_checks(path, doc, instruments, strategies),
    )
    book = doc.book
    scenario = Scenario(doc.engine.name or path.stem, path, instruments, feed, strategies, risk,
                        _venue(path, doc.venue), book.depth, (), book.stale_after_ms * MS or None,
                        _execution(doc.execution), _journal(path, doc.journal), book.resync_within_ms * MS,
                        data_quality=_data_quality(doc.data_quality))
    faults = tuple(_fault(path, i, table, scenario.actors) for i, table in enumerate(doc.faults))
    operator = tuple(OperatorSpec(table.at_ms * MS, OperatorAction(table.action), table.reason)
                     for table in doc.operator)
    portfolio = _portfolio(doc.portfolio, instruments)
    _valuable(path, doc, portfolio, instruments, strategies)
    return dataclasses.replace(scenario, faults=faults, operator=operator,
                               kill_switch=_kill_switch(doc.kill_switch), portfolio=portfolio,
                               control_token_env=doc.control.token_env if doc.control else None)


def _kill_switch(table: schema.KillSwitchTable) -> KillSwitchLimits:
    return KillSwitchLimits(
        max_drawdown=None if table.max_drawdown is None else Decimal(table.max_drawdown),
        max_daily_loss=None if table.max_daily_loss is None else Decimal(table.max_daily_loss),
        venue_errors=table.venue_errors, venue_error_window_ns=table.venue_error_window_ms * MS,
        reconcile_findings=frozenset(table.reconcile_findings), data_quality=frozenset(table.data_quality))


def _portfolio(table: schema.PortfolioTable, instruments: dict[str, Instrument]) -> PortfolioSpec:
    currency = table.currency or next(iter(instruments.values())).quote
    cash = {currency: DEFAULT_CASH} if table.cash is None else {asset: Decimal(v) for asset, v in table.cash.items()}
    return PortfolioSpec(tuple(sorted(cash.items())), currency, table.mark_ms * MS)


def _valuable(path: Path, doc: schema.ScenarioFile, portfolio: PortfolioSpec, instruments: dict[str, Instrument],
              strategies: tuple[StrategySpec, ...]) -> None:
    """The portfolio's currency prices what the run holds: an asset is valued at the mid of an instrument of the run
    that pairs it with the currency, and the ledger publishes no valuation it cannot make. A currency no instrument
    has, or starting cash in an asset none prices, leaves the run without an equity (curve, drawdown) from the
    start; a traded asset none prices, from its first fill, which is refused where something judges the equity
    (the loss limits, the leverage check, sizing by a fraction of equity), since that would go blind."""
    currency = portfolio.currency
    paired = {inst.base for inst in instruments.values() if inst.quote == currency} | {
        inst.quote for inst in instruments.values() if inst.base == currency} | {currency}

    def refuse(where: str, assets: set[str]) -> ScenarioError:
        return _refuse(path, where, f"equity is valued in {currency}, and no instrument of the run pairs "
                                    f"{', '.join(sorted(assets))} with it (expected a quote asset of the traded "
                                    "instruments, or an asset an instrument of the run prices them in)")

    if len(paired) == 1:
        raise refuse("portfolio.currency",
                     {asset for inst in instruments.values() for asset in (inst.base, inst.quote)})
    unpriced_cash = {asset for asset, _ in portfolio.cash} - paired
    if unpriced_cash:
        raise refuse("portfolio.cash", unpriced_cash)
    traded = {asset for strategy in strategies for symbol in strategy.instruments
              for asset in (instruments[symbol].base, instruments[symbol].quote)} - paired
    judges = [key for key, on in (("kill_switch.max_drawdown", doc.kill_switch.max_drawdown is not None),
                                  ("kill_switch.max_daily_loss", doc.kill_switch.max_daily_loss is not None),
                                  ("risk.max_leverage", Decimal(doc.risk.max_leverage) > 0)) if on]
    judges += [f"strategy[{i}].sizing" for i, strategy in enumerate(strategies)
               if strategy.sizing is not None and strategy.sizing.method == "fixed_fraction"]
    if traded and judges:
        raise refuse(judges[0], traded)


def _checks(path: Path, doc: schema.ScenarioFile, instruments: dict[str, Instrument],
            strategies: tuple[StrategySpec, ...]) -> CheckLimits:
    """The `[risk]` keys of the gate's checks, the instruments' order filters and the starting balances."""
    risk = doc.risk
    cash = dict(_portfolio(doc.portfolio, instruments).cash)   # the starting balances, the default's included
    quotes = sorted({instruments[symbol].quote for strategy in strategies for symbol in strategy.instruments})
    for key in ("max_gross_exposure", "max_correlated_exposure", "max_leverage"):
        if Decimal(getattr(risk, key)) > 0 and len(quotes) > 1:
            raise _refuse(path, f"risk.{key}", f"sums exposure in one quote asset, and the traded instruments' are "
                                               f"several ({', '.join(quotes)})")
    rules = {}
    for i, table in enumerate(doc.instruments):
        inst = instruments[table.symbol]
        where = f"instruments[{i}]"
        rules[inst.symbol] = InstrumentRules(
            min_qty=_fixed(path, f"{where}.min_qty", table.min_qty, inst.qty_decimals),
            max_qty=_fixed(path, f"{where}.max_qty", table.max_qty, inst.qty_decimals),
            min_notional=Decimal(table.min_notional), max_notional=Decimal(table.max_notional))
    return CheckLimits(
        max_data_age_ns=risk.max_data_age_ms * MS, max_signal_age_ns=risk.max_signal_age_ms * MS,
        max_spread_bps=risk.max_spread_bps, sample_ns=risk.sample_ms * MS, volatility_window=risk.volatility_window,
        max_volatility_bps=risk.max_volatility_bps, loss_streak=risk.loss_streak,
        loss_cooldown_ns=risk.loss_cooldown_ms * MS, instrument_rules=rules,
        max_displayed_share_pct=risk.max_displayed_share_pct, max_gross_exposure=Decimal(risk.max_gross_exposure),
        correlation_window=risk.correlation_window, max_correlated_exposure=Decimal(risk.max_correlated_exposure),
        max_leverage=Decimal(risk.max_leverage), balance_check=risk.balance_check, cash=cash,
        order_rate_window_ns=risk.order_rate_window_ms * MS, max_orders_per_venue=risk.max_orders_per_venue,
        max_orders_total=risk.max_orders_total)


def check_environment(scenario: Scenario, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse a run whose venue over HTTP would find no credentials: before anything starts, naming the key
    that names the variable (its value is never said)."""
    if not scenario.venue.url:
        return
    for key, variable in (("api_key_env", scenario.venue.api_key_env), ("secret_env", scenario.venue.secret_env)):
        if not environ.get(variable):
            raise _refuse(scenario.path, f"venue.{key}", f"the environment variable {variable} is not set "
                                                         "(it holds the credential of the venue at [venue] url)")


def control_token(scenario: Scenario, environ: Mapping[str, str] = os.environ) -> str | None:
    """The operator control's bearer token (None: the scenario has no [control]); refused, naming the key, when
    the variable it names is unset, so that a control is never served without one."""
    variable = scenario.control_token_env
    if variable is None:
        return None
    token = environ.get(variable)
    if not token:
        raise _refuse(scenario.path, "control.token_env", f"the environment variable {variable} is not set (it "
                                                          "holds the operator control's bearer token)")
    return token


def _venue(path: Path, table: schema.VenueTable) -> VenueSpec:
    if table.name not in venues():
        raise _refuse(path, "venue.name", f"expected a venue ({', '.join(venues())}), found {table.name!r}")
    if table.url and not table.url.startswith(("http://", "https://")):
        raise _refuse(path, "venue.url", f"must start with http:// or https://, got {table.url!r}")
    if table.url and not table.ws_api_url:
        raise _refuse(path, "venue.ws_api_url", "is required with url: the venue's WebSocket API address "
                                                "(Binance: wss://ws-api.binance.com:443/ws-api/v3)")
    if table.ws_api_url and not table.ws_api_url.startswith(("ws://", "wss://")):
        raise _refuse(path, "venue.ws_api_url", f"must start with ws:// or wss://, got {table.ws_api_url!r}")
    return VenueSpec(
        name=table.name, maker_fee=Decimal(table.maker_fee), taker_fee=Decimal(table.taker_fee),
        latency_ns=table.latency_us * 1000, url=table.url, api_key_env=table.api_key_env,
        secret_env=table.secret_env, ws_api_url=table.ws_api_url, timeout_s=table.timeout_ms / 1000,
        connect_timeout_s=table.connect_timeout_ms / 1000,
        recv_window_ns=table.recv_window_ms * MS, seed=table.seed,
        faults=tuple(_sim_fault(table) for table in table.faults))


def _data_quality(table: schema.DataQualityTable) -> DataQualityLimits:
    return DataQualityLimits(
        max_spread_bps=table.max_spread_bps, jump_sigmas=table.jump_sigmas, jump_window=table.jump_window,
        jump_min_bps=table.jump_min_bps, silent_after_ns=table.silent_after_ms * MS,
        alarm_every_ns=table.alarm_every_ms * MS, examples=table.examples)


def _execution(table: schema.ExecutionTable) -> ExecutionSpec:
    return ExecutionSpec(
        cancel_on_exit=table.cancel_on_exit, ack_timeout_ns=table.ack_timeout_ms * MS,
        requery_ns=table.requery_ms * MS, reconcile_timeout_ns=table.reconcile_timeout_ms * MS,
        order_ttl_ns=table.order_ttl_ms * MS, chase_ticks=table.chase_ticks,
        settle_timeout_ns=table.settle_timeout_ms * MS, protection=table.protection)


def _journal(path: Path, table: schema.JournalTable) -> JournalSpec:
    where = (path.parent / table.path).resolve() if table.path else None
    if where is not None and where.is_dir():
        raise _refuse(path, "journal.path", f"is a directory, not a journal file: {where}")
    return JournalSpec(path=where, sync=table.sync)


def _instruments(path: Path, tables: list[schema.InstrumentTable]) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    known_venues = venues()
    for i, table in enumerate(tables):
        where = f"instruments[{i}]"
        if table.venue not in known_venues:
            raise _refuse(path, f"{where}.venue", f"expected a venue ({', '.join(known_venues)}), "
                                                 f"found {table.venue!r}")
        inst = Instrument(
            symbol=table.symbol, venue=table.venue, venue_symbol=table.venue_symbol, base=table.base,
            quote=table.quote, price_decimals=table.price_decimals, qty_decimals=table.qty_decimals,
            tick_size=_fixed(path, f"{where}.tick_size", table.tick_size, table.price_decimals),
            lot_size=_fixed(path, f"{where}.lot_size", table.lot_size, table.qty_decimals))
        pair = f"{inst.base}/{inst.quote}"
        if inst.symbol not in (pair, f"{pair}@{inst.venue}"):
            raise _refuse(path, f"{where}.symbol", f"must be BASE/QUOTE ({pair}), or {pair}@{inst.venue} where the "
                                                   f"pair is listed on several venues, got {inst.symbol!r}")
        if inst.tick_size <= 0 or inst.lot_size <= 0:
            raise _refuse(path, f"{where}.tick_size", "tick_size and lot_size must be positive")
        if inst.symbol in out:
            raise _refuse(path, f"{where}.symbol", f"{inst.symbol!r} is listed twice: an instrument's symbol is its "
                                                   f"id in the run (the same pair on another venue is {pair}@<venue>)")
        out[inst.symbol] = inst
    return out


def _instrument_refs(path: Path, where: str, symbols: list[str] | None,
                     instruments: dict[str, Instrument]) -> tuple[str, ...]:
    """The `instruments = [...]` of a table: a non-empty list of [[instruments]] symbols, none twice."""
    if not symbols:
        raise _refuse(path, f"{where}.instruments", "expected a non-empty list of [[instruments]] symbols, "
                                                    f"found {symbols!r}")
    for symbol in symbols:
        if symbol not in instruments:
            raise _refuse(path, f"{where}.instruments",
                          f"{symbol!r} is not one of the [[instruments]] ({', '.join(instruments)})")
        if symbols.count(symbol) > 1:
            raise _refuse(path, f"{where}.instruments", f"{symbol!r} is named twice")
    return tuple(symbols)


_CONNECTION_KEYS = tuple(schema.ConnectionTable.model_fields)
_KINDS_OF_KEY = {"seed": ("synthetic",), "duration_s": ("synthetic", "live"), "silence_s": ("live",),
                 "files": ("recording",), "stream_url": ("live",), "rest_url": ("live",), "depth": ("synthetic",),
                 "delay_ms": ("synthetic",), "crash_at_s": ("synthetic",), "crash_bps": ("synthetic",),
                 "crash_over_s": ("synthetic",)}
"""The feed kinds a key of `[feed]` or of a connection means something to: elsewhere it is refused, not ignored."""


def _feed(path: Path, table: schema.FeedTable, instruments: dict[str, Instrument]) -> FeedSpec:
    """`[feed]`: what kind of market data, its batching, and its connections (`[[feed.connections]]`, or the
    `[feed]` table itself for a feed of one connection)."""
    kind = table.kind
    if table.connections is not None:
        inline = [key for key in _CONNECTION_KEYS if key in table.model_fields_set]
        if inline:
            raise _refuse(path, f"feed.{inline[0]}",
                          "belongs in each [[feed.connections]] table once the feed has connections")
        tables = [(f"feed.connections[{i}]", connection) for i, connection in enumerate(table.connections)]
    else:
        tables = [("feed", table)]
    for where, connection in [("feed", table), *tables]:
        for key in connection.model_fields_set & _KINDS_OF_KEY.keys():
            if kind not in _KINDS_OF_KEY[key]:
                raise _refuse(path, f"{where}.{key}", f"applies to a {' or '.join(_KINDS_OF_KEY[key])} feed only, "
                                                      f"and this one is {kind}")
    connections = tuple(_connection(path, kind, where, connection, instruments) for where, connection in tables)
    carried: dict[str, str] = {}
    for (where, _), spec in zip(tables, connections):
        for symbol in spec.instruments:
            if symbol in carried:
                raise _refuse(path, f"{where}.instruments",
                              f"{symbol!r} is carried by two connections ([{carried[symbol]}] too)")
            carried[symbol] = where
    batch_ns = table.batch_ms * MS
    if kind == "synthetic":
        for key in ("seed", "duration_s"):
            if getattr(table, key) is None:
                raise _refuse(path, f"feed.{key}", "required by a synthetic feed, and missing")
        assert table.seed is not None and table.duration_s is not None
        if table.duration_s > SYNTHETIC_MAX_S:
            raise _refuse(path, "feed.duration_s", f"expected at most {SYNTHETIC_MAX_S} s of synthetic market (it is "
                                                   f"generated before the run), found {table.duration_s}")
        return FeedSpec(kind, connections, batch_ns, seed=table.seed, duration_s=table.duration_s,
                        crash=_crash(path, table))
    if kind == "live":
        return FeedSpec(kind, connections, batch_ns, duration_s=table.duration_s or 60,
                        silence_s=table.silence_s or 60)
    return FeedSpec(kind, connections, batch_ns)


def _crash(path: Path, table: schema.FeedTable) -> Crash | None:
    """The synthetic market's crash: all three of its keys, or none."""
    keys = ("crash_at_s", "crash_bps", "crash_over_s")
    given = [key for key in keys if getattr(table, key) is not None]
    if not given:
        return None
    if len(given) < len(keys):
        missing = [key for key in keys if key not in given]
        raise _refuse(path, f"feed.{missing[0]}", f"a crash needs {', '.join(keys)}; missing {', '.join(missing)}")
    assert table.crash_at_s is not None and table.crash_bps is not None and table.crash_over_s is not None
    return Crash(table.crash_at_s, table.crash_bps, table.crash_over_s)


def _connection(path: Path, kind: str, where: str, table: schema.ConnectionTable,
                instruments: dict[str, Instrument]) -> ConnectionSpec:
    symbols = _instrument_refs(path, where, table.instruments, instruments)
    venue_names = sorted({instruments[symbol].venue for symbol in symbols})
    if len(venue_names) > 1:
        raise _refuse(path, f"{where}.instruments", f"a connection is to one venue; these are of "
                                                    f"{', '.join(venue_names)}")
    venue = venue_names[0]
    if kind == "synthetic":
        if len(symbols) > 1:
            raise _refuse(path, f"{where}.instruments",
                          "a synthetic connection writes the one synthetic market: name one instrument")
        problem = synthetic_problem(instruments[symbols[0]], table.depth)
        if problem:
            raise _refuse(path, f"{where}.depth" if table.depth and "depth" in problem else f"{where}.instruments",
                          problem)
        return ConnectionSpec(venue, symbols, depth=table.depth, delay_ns=table.delay_ms * MS)
    if kind == "live":
        urls = {}
        for key, schemes in (("stream_url", ("ws://", "wss://")), ("rest_url", ("http://", "https://"))):
            url = getattr(table, key)
            if url is None:
                raise _refuse(path, f"{where}.{key}", "required by a live feed, and missing")
            if not url.startswith(schemes):
                raise _refuse(path, f"{where}.{key}", f"must start with {' or '.join(schemes)}, got {url!r}")
            urls[key] = url
        return ConnectionSpec(venue, symbols, **urls)
    if table.files is None:
        raise _refuse(path, f"{where}.files", "required by a recording feed (a list of file paths), and missing")
    return ConnectionSpec(venue, symbols, files=tuple(_readable(path, f"{where}.files[{i}]", name)
                                                      for i, name in enumerate(table.files)))


def _readable(path: Path, where: str, name: str) -> Path:
    """The file `name` (relative to the scenario) if it is one that can be read; refused, saying why, if not."""
    file = (path.parent / name).resolve()
    if not file.exists():
        raise _refuse(path, where, f"no such file: {file}")
    if not file.is_file():
        raise _refuse(path, where, f"not a file: {file}")
    if not os.access(file, os.R_OK):
        raise _refuse(path, where, f"not readable (permission denied): {file}")
    return file


def _strategies(path: Path, tables: list[schema.StrategyTable], instruments: dict[str, Instrument],
                feed: FeedSpec) -> tuple[StrategySpec, ...]:
    out: list[StrategySpec] = []
    for i, table in enumerate(tables):
        strategy = _strategy(path, f"strategy[{i}]", table, instruments, feed)
        if any(strategy.name == other.name for other in out):
            raise _refuse(path, f"strategy[{i}].name", f"{strategy.name!r} is the name of another strategy: give "
                                                       "each a name of its own")
        out.append(strategy)
    return tuple(out)


def _strategy(path: Path, where: str, table: schema.StrategyCommon, instruments: dict[str, Instrument],
              feed: FeedSpec) -> StrategySpec:
    kind = schema.STRATEGY_KINDS[table.kind]   # type: ignore[attr-defined]
    symbols = _instrument_refs(path, where, table.instruments, instruments)
    for symbol in symbols:
        if symbol not in feed.instruments:
            raise _refuse(path, f"{where}.instruments", f"{symbol!r} has no feed: no [feed] connection carries it "
                                                        f"(the feed carries {', '.join(feed.instruments)})")
    if kind.instruments and len(symbols) != kind.instruments:
        count = "one instrument" if kind.instruments == 1 else f"{kind.instruments} instruments"
        raise _refuse(path, f"{where}.instruments", f"{kind.name} trades {count}, got {len(symbols)}")
    traded = instruments[symbols[0]]
    values = {}
    for spec in dataclasses.fields(kind.params):
        value = getattr(table, spec.name)
        unit = spec.metadata.get("unit")
        if unit and isinstance(value, str):   # written in the file (a default is already in fixed-point units)
            decimals = traded.qty_decimals if unit == "quantity" else traded.price_decimals
            if spec.metadata.get("lots"):   # an order's size: sent as it is written
                value = _lots(path, f"{where}.{spec.name}", value, traded)
            else:
                value = _fixed(path, f"{where}.{spec.name}", value, decimals)
        elif isinstance(value, str) and spec.type in (Decimal, "Decimal"):
            value = Decimal(value)
        values[spec.name] = value
    try:
        params = kind.params(**values)
    except ParamError as exc:
        raise _refuse(path, f"{where}.{exc.key}", exc.message) from None
    if table.sizing and kind.quotes:
        raise _refuse(path, f"{where}.sizing", f"{kind.name} states its quotes' sizes itself and signals nothing to "
                                               "size: remove sizing")
    try:
        sizing = _sizing(path, f"{where}.sizing", table.sizing, traded) if table.sizing else (
            kind.sizing(params, traded) if kind.sizing else None)
    except ParamError as exc:
        raise _refuse(path, f"{where}.{exc.key}", exc.message) from None
    if sizing is None and not kind.quotes:
        raise _refuse(path, f"{where}.sizing", f"required: {kind.name} names no sizing of its own")
    return StrategySpec(table.name or table.kind, table.kind, symbols, table.urgency,   # type: ignore[attr-defined]
                        parse_cadence(table.cadence), params, sizing, table.model_dump(exclude_none=True))


def _sizing(path: Path, where: str, table: schema.SizingTable, inst: Instrument) -> SizingRule:
    """A strategy's `sizing = {method = ...}`, with the keys its method needs, in the instrument's units."""
    needs = {"fixed": "quantity", "fixed_fraction": "risk_fraction", "volatility": "target_risk"}[table.method]
    own = {needs, "method", "liquidity_fraction"} | ({"window"} if table.method == "volatility" else set())
    for key in sorted(table.model_fields_set - own):
        raise _refuse(path, f"{where}.{key}", f"means nothing to method {table.method!r} (its keys: "
                                              f"{', '.join(sorted(own - {'method'}))})")
    if getattr(table, needs) is None:
        raise _refuse(path, f"{where}.{needs}", f"required by method {table.method!r}, and missing")
    fraction = _fraction(path, f"{where}.liquidity_fraction", table.liquidity_fraction)
    if table.method == "fixed":
        quantity = _lots(path, f"{where}.quantity", table.quantity, inst, positive=True)
        return SizingRule("fixed", quantity=quantity, liquidity_fraction=fraction)
    if table.method == "fixed_fraction":
        return SizingRule("fixed_fraction", risk_fraction=_fraction(path, f"{where}.risk_fraction",
                                                                    table.risk_fraction),
                          liquidity_fraction=fraction)
    return SizingRule("volatility", target_risk=Decimal(table.target_risk), window=table.window,
                      liquidity_fraction=fraction)


def _lots(path: Path, where: str, text: str, inst: Instrument, *, positive: bool = False) -> int:
    """An order size written in base-asset units, in fixed-point units; refused unless it is a whole number
    (`positive`: and above zero) of the instrument's lots: an order of it would go out as written."""
    quantity = _fixed(path, where, text, inst.qty_decimals)
    if quantity % inst.lot_size or (positive and quantity <= 0):
        what = "a positive whole number" if positive else "a whole number"
        lot = format_fixed(inst.lot_size, inst.qty_decimals)
        raise _refuse(path, where, f"{text!r} is not {what} of lots of {lot}")
    return quantity


def _fraction(path: Path, where: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    value = Decimal(text)
    if not 0 < value <= 1:
        raise _refuse(path, where, f"must be above 0 and at most 1, got {text}")
    return value


def _traded_qty_decimals(path: Path, strategies: tuple[StrategySpec, ...], instruments: dict[str, Instrument]) -> int:
    """The quantity precision of every traded instrument: `[risk] max_position` is one limit for them all."""
    decimals = {instruments[symbol].qty_decimals for strategy in strategies for symbol in strategy.instruments}
    if len(decimals) > 1:
        raise _refuse(path, "risk.max_position", "is one limit for every traded instrument, and theirs have "
                                                 f"different qty_decimals ({', '.join(map(str, sorted(decimals)))})")
    return decimals.pop()


def _fault(path: Path, i: int, table: schema.FaultTable, actors: tuple[str, ...]) -> FaultSpec:
    where = f"faults[{i}]"
    if table.actor not in actors:
        close = difflib.get_close_matches(table.actor, actors, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise _refuse(path, f"{where}.actor", f"expected one of {', '.join(actors)}, found {table.actor!r}{hint}")
    given = [key for key in ("after_events", "at_ms", "rate") if getattr(table, key) is not None]
    if len(given) != 1:
        raise _refuse(path, f"{where}.after_events", "give exactly one of after_events (the N-th message the actor "
                      f"receives), at_ms (a time from the run's first event) or rate; got {given or 'none'}")
    if table.after_events is not None:
        return FaultSpec(table.actor, after_events=table.after_events, times=table.times)
    if table.at_ms is not None:
        return FaultSpec(table.actor, at_ns=table.at_ms * MS, times=table.times)
    assert table.rate is not None
    return FaultSpec(table.actor, rate_ppm=_ppm(table.rate), seed=table.seed, times=table.times)


def _ppm(probability: str) -> int:
    return int(Decimal(probability) * 1_000_000)


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
    doc = schema.read(path, schema.VenueFile)
    instruments = _instruments(path, doc.instruments)
    feed = _feed(path, doc.feed, instruments)
    if len(feed.instruments) != 1:
        raise _refuse(path, "feed.instruments", "the simulated venue's book follows one instrument's market, "
                                                f"got {', '.join(feed.instruments)}")
    table = doc.venue
    latency = table.latency
    limits = table.rate_limits
    spec = SimVenueSpec(
        name=doc.engine.name or path.stem, path=path, instruments=instruments, feed=feed, speed=doc.feed.speed,
        venue=table.name, maker_fee=Decimal(table.maker_fee), taker_fee=Decimal(table.taker_fee), seed=table.seed,
        queue_model=table.queue_model, queue_power=table.queue_power,
        latency=LatencySpec(model=latency.model, entry_ns=latency.entry_us * 1000,
                            response_ns=latency.response_us * 1000, sigma=Decimal(latency.sigma)),
        request_weight_per_minute=limits.request_weight_per_minute, orders_per_10s=limits.orders_per_10s,
        orders_per_day=limits.orders_per_day,
        accounts=tuple(_account(path, i, account, instruments) for i, account in enumerate(table.accounts)),
        faults=tuple(_sim_fault(fault) for fault in table.faults),
    )
    keys = [account.api_key for account in spec.accounts]
    if len(set(keys)) != len(keys):
        raise _refuse(path, "venue.accounts", "two accounts have the same api_key")
    kinds = [fault.kind for fault in spec.faults]
    if len(set(kinds)) != len(kinds):
        raise _refuse(path, "venue.faults", "at most one entry per kind")
    return spec


def _account(path: Path, i: int, table: schema.AccountTable, instruments: dict[str, Instrument]) -> AccountSpec:
    assets = {inst.base for inst in instruments.values()} | {inst.quote for inst in instruments.values()}
    for asset in table.balances:
        if asset not in assets:
            raise _refuse(path, f"venue.accounts[{i}].balances.{asset}",
                          f"is not an asset of the [[instruments]] ({', '.join(sorted(assets))})")
    return AccountSpec(table.api_key, table.secret, {asset: Decimal(v) for asset, v in table.balances.items()})


def _sim_fault(table: schema.SimFaultTable) -> SimFaultSpec:
    """One `[[venue.faults]]` entry; the schema has checked each key, and that it names events or a rate."""
    return SimFaultSpec(table.kind, tuple(sorted(set(table.at))), _ppm(table.rate), retry_after_s=table.retry_after_s,
                        status=table.status, executed=table.executed, delay_ms=table.delay_ms,
                        duration_ms=table.duration_ms)
