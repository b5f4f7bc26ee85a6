"""Scenario files: what a run is made of, read from TOML and checked before anything starts.

A scenario names its instruments, its market data (a synthetic feed made from a seed, or recorded files),
the strategy, the risk limits, the simulated venue and any faults to inject. Every problem is reported
as a `ScenarioError` naming the file and the key, so that a bad scenario fails before a single actor runs.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from engine.model.numbers import Instrument, NumberFormatError, parse_fixed


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


@dataclass(frozen=True)
class FaultSpec:
    actor: str
    after_events: int


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


ACTORS = ("feed", "book", "strategy", "risk", "router", "orders", "venue", "ledger")


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


def load(path: str | Path) -> Scenario:
    """Read and check the scenario at `path`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    root = _Reader(path, doc, "")
    name = _Reader(path, doc.get("engine", {}), "engine").str("name", path.stem)

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
    venue = VenueSpec(
        name=venue_table.str("name", "binance"),
        maker_fee=venue_table.decimal("maker_fee"),
        taker_fee=venue_table.decimal("taker_fee"),
        latency_ns=venue_table.int("latency_us", 0, minimum=0) * 1000,
    )
    book = _Reader(path, doc.get("book", {}), "book")
    faults = tuple(_fault(path, i, table) for i, table in enumerate(doc.get("faults", [])))
    stale_after_ms = book.int("stale_after_ms", 0, minimum=0)
    return Scenario(name, path, instruments, feed, strategy, risk, venue,
                    book.int("depth", 20, minimum=1), faults, stale_after_ms * 1_000_000 or None)


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
                        r.bool("long_only", False))


def _fault(path: Path, i: int, table: Any) -> FaultSpec:
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: [[faults]] entry {i} must be a table")
    r = _Reader(path, table, f"faults[{i}]")
    return FaultSpec(r.str("actor", choices=ACTORS), r.int("after_events", minimum=1))
