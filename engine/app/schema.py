"""The scenario and venue file formats as a schema: every table and key, its type, its range and what it means.

The models here say what a well-formed file looks like, one key at a time: a key nobody reads is refused with
the closest known name suggested (`max_positon` → max_position), a value of the wrong type or out of range is
refused naming the key, what was expected and what was found. Rules that relate keys to each other (a
strategy's instruments have a feed, faults name real actors) are `engine.app.scenario`'s, which turns a
validated document into the dataclasses a run is made of. `python -m engine schema` prints these models as
JSON Schema, and the README's scenario section is held to them by a test.
"""
from __future__ import annotations

import dataclasses
import difflib
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_type_hints

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema,
                      create_model, model_validator)
from pydantic_core import PydanticCustomError

from adapters.simulated.faults import FaultKind
from adapters.simulated.latency import LATENCY_MODELS
from adapters.simulated.queue import QUEUE_MODELS
from engine.model.sizing import METHODS as SIZING_METHODS
from engine.strategies.cadence import parse_cadence
from engine.strategies.registry import StrategyKind, strategy_kinds


class ScenarioError(ValueError):
    """The scenario cannot be run as written; each line of the message names the file and the key."""


# ---------------------------------------------------------------- value types

def _decimal_text(value: Any) -> str:
    """A decimal number as the file writes it: a string ("0.01") or an integer, never a float, whose binary
    value would not be the number written."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PydanticCustomError("decimal_text", 'expected a decimal number written as a string, like "0.01"')
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PydanticCustomError("decimal_text", 'expected a decimal number written as a string, like "0.01"') \
            from None
    if not number.is_finite() or number < 0:
        raise PydanticCustomError("decimal_text", "expected a finite, non-negative decimal number")
    return text


DecimalText = Annotated[str, PlainValidator(_decimal_text), WithJsonSchema(
    {"type": ["string", "integer"], "pattern": r"^\s*[+]?(\d+(\.\d*)?|\.\d+)\s*$",
     "description": 'a non-negative decimal number, written as a string ("0.01") so that it stays exact'})]


def _probability(text: str) -> str:
    ppm = Decimal(text) * 1_000_000
    if Decimal(text) > 1 or ppm != ppm.to_integral_value():
        raise PydanticCustomError("probability", "expected a probability from 0 to 1 with at most 6 decimals")
    return text


Probability = Annotated[DecimalText, AfterValidator(_probability)]


def _cadence(text: str) -> str:
    try:
        parse_cadence(text)
    except ValueError as exc:
        problem = str(exc).split(";")[0].removeprefix("must be ")
        raise PydanticCustomError("cadence", "expected {problem}", {"problem": problem}) from None
    return text


SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
"""A name that is also a file or folder name under the output folder: no separator, no `..`, not hidden."""

Name = Annotated[str, Field(pattern=SAFE_NAME)]
Text = Annotated[str, Field(min_length=1)]
Ms = Annotated[int, Field(ge=0, le=86_400_000)]           # at most a day
PositiveMs = Annotated[int, Field(ge=1, le=86_400_000)]
Decimals = Annotated[int, Field(ge=0, le=12, description=(
    "digits after the point of the fixed-point integers (0 to 12: prices times quantities stay exact)"))]


class Table(BaseModel):
    """A TOML table: its keys typed, exact (no coercion: "5" is not 5), and nothing it does not know."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """Refuse a key no one reads, suggesting the known one it most looks like: a typo must not be ignored."""
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                    hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
                    raise PydanticCustomError("unknown_key", "unknown key ({hint})", {"key": str(key), "hint": hint})
        return data


# ---------------------------------------------------------------- tables of both files

class EngineTable(Table):
    name: Name | None = None
    """the run's name: its output folder out/<name>/ and its client order id prefix (default: the file's name);
    letters, digits, '_', '.', '-' only, so the output stays inside the output folder"""


class InstrumentTable(Table):
    symbol: Text
    """the instrument's id in the run: BASE/QUOTE, or BASE/QUOTE@venue where the pair is on several venues"""
    venue: Text
    """the venue that lists it (a registered venue: binance, okx, kraken, bybit, coinbase, ...)"""
    venue_symbol: Text
    """the venue's own name of it (BTCUSDT, BTC-USDT, XBT/USD)"""
    base: Text
    """the base asset (BTC)"""
    quote: Text
    """the quote asset (USDT)"""
    price_decimals: Decimals
    """digits after the point of prices, as exact integers (0 to 12)"""
    qty_decimals: Decimals
    """digits after the point of quantities, as exact integers (0 to 12)"""
    tick_size: DecimalText
    """the price increment, positive, at most price_decimals digits"""
    lot_size: DecimalText
    """the quantity increment, positive, at most qty_decimals digits"""


class TradedInstrumentTable(InstrumentTable):
    """A scenario's instrument: its venue's metadata, with the order filters the risk gate holds orders to."""
    min_qty: DecimalText = "0"
    """the smallest order quantity the venue takes (Binance LOT_SIZE minQty; 0: none)"""
    max_qty: DecimalText = "0"
    """the largest order quantity the venue takes (Binance LOT_SIZE maxQty; 0: none)"""
    min_notional: DecimalText = "0"
    """the smallest order value at its price, in the quote asset (Binance NOTIONAL minNotional; 0: none)"""
    max_notional: DecimalText = "0"
    """the largest order value at its price, in the quote asset (Binance NOTIONAL maxNotional; 0: none)"""


class ConnectionTable(Table):
    instruments: list[Text] | None = None
    """the [[instruments]] symbols the connection carries, all of one venue"""
    files: list[Text] | None = Field(None, min_length=1)
    """recording: the connection's recorded files (any format verify-feed reads), relative to the scenario file"""
    stream_url: Text | None = None
    """live: the venue's WebSocket base URL (ws:// or wss://)"""
    rest_url: Text | None = None
    """live: the venue's REST base URL (http:// or https://)"""
    depth: int = Field(0, ge=0, le=5000)
    """synthetic: levels a side the venue sends (0: the venue's default)"""
    delay_ms: Ms = 0
    """synthetic: how late the venue's frames arrive, in ms"""


class FeedTable(ConnectionTable):
    kind: Literal["synthetic", "recording", "live"]
    """where market data comes from: a seeded synthetic market, recorded files, or live venues"""
    batch_ms: PositiveMs = 100
    """replay windows: how many ms of events travel together (a performance setting only)"""
    seed: int | None = Field(None, ge=0)
    """synthetic: the market's seed (same seed, same bytes)"""
    duration_s: int | None = Field(None, ge=1, le=604_800)
    """synthetic: seconds of market to generate (at most 86400); live: seconds to run (default 60, at most 604800)"""
    silence_s: int | None = Field(None, ge=1, le=3600)
    """live: a connection silent this many seconds is dead (default 60)"""
    connections: list[ConnectionTable] | None = Field(None, min_length=1)
    """the venue connections ([[feed.connections]]), where there is more than one"""
    crash_at_s: int | None = Field(None, ge=1, le=86_400)
    """synthetic: a crash starts this many seconds in (with crash_bps and crash_over_s)"""
    crash_bps: int | None = Field(None, ge=1, le=9_999)
    """synthetic: how far the crash takes the fair value down, in bps of its level when it starts"""
    crash_over_s: int | None = Field(None, ge=1, le=86_400)
    """synthetic: how many seconds the fall takes, in equal steps"""


class SimFaultTable(Table):
    kind: Literal[tuple(kind.value for kind in FaultKind)]  # type: ignore[valid-type]
    """what goes wrong (see adapters/simulated/faults.py)"""
    at: list[Annotated[int, Field(ge=1)]] = []
    """the counted events (from 1) it hits"""
    rate: Probability = "0"
    """the probability each counted event is hit, 0 to 1, at most 6 decimals"""
    retry_after_s: int = Field(10, ge=1, le=3600)
    """rate_limit: the Retry-After it sends"""
    status: int = Field(503, ge=500, le=599)
    """server_error: the 5xx status it answers"""
    executed: bool = False
    """server_error: the request is carried out before the error is sent"""
    delay_ms: Ms = 0
    """latency_spike: how long the request waits"""
    duration_ms: Ms = 0
    """stall: how long nothing is answered (0: for good)"""

    @model_validator(mode="after")
    def _hits_something(self) -> SimFaultTable:
        if not self.at and not Decimal(self.rate):
            raise PydanticCustomError("fault_target", "expected `at` (event numbers) or a `rate`: without either "
                                                      "the fault never happens")
        return self


# ---------------------------------------------------------------- a scenario (python -m engine run)

class BookTable(Table):
    depth: int = Field(20, ge=1, le=5000)
    """levels per side in the views strategies and the venue see"""
    stale_after_ms: Ms = 0
    """a book whose venue sends nothing this long is dropped and resynced (0: never)"""
    resync_within_ms: PositiveMs = 5_000
    """chaos holds every outage of a book (a crash's included) to this"""


class SizingTable(Table):
    method: Literal[SIZING_METHODS]  # type: ignore[valid-type]
    """how a signal becomes a position: fixed, fixed_fraction (of equity, risked over the stop) or volatility"""
    quantity: DecimalText | None = None
    """fixed: the full position, in the base asset"""
    risk_fraction: DecimalText | None = None
    """fixed_fraction: the share of equity lost if the signal's stop is hit (0 to 1)"""
    target_risk: DecimalText | None = None
    """volatility: what one realized-volatility move of the mid may cost, in the quote asset"""
    window: int = Field(20, ge=1, le=1_000_000)
    """volatility: the looks at the market the realized volatility is measured over"""
    liquidity_fraction: DecimalText | None = None
    """cap each order at this share of the quantity displayed at the touch it would take (0 to 1; none: no cap)"""


class StrategyCommon(Table):
    """The keys of every [[strategy]] table; each kind adds its own (engine.strategies.registry)."""
    name: Name | None = None
    """unique in the run (the actor is strategy.<name>); defaults to kind"""
    instruments: list[Text]
    """the [[instruments]] whose views it sees (ema_cross trades one)"""
    urgency: Literal["aggressive", "passive"] = "aggressive"
    """aggressive: IOC at the risk price; passive: GTC at our touch"""
    cadence: Annotated[str, AfterValidator(_cadence)] = "book"
    """when it looks at the market: "book" (every change), "trades" (every public trade) or "<N>ms" (a timer)"""
    sizing: SizingTable | None = None
    """how its signals are sized ({method = "fixed_fraction", risk_fraction = "0.01"}; default: the kind's own)"""


def _param_field(name: str, annotation: Any, spec: dataclasses.Field) -> tuple[Any, Any]:
    """The pydantic field of one key a strategy kind declares (see engine.strategies.registry)."""
    meta = spec.metadata
    default = ... if spec.default is dataclasses.MISSING else spec.default
    if meta.get("unit") or annotation is Decimal:
        kind: Any = DecimalText
    elif annotation is int:
        kind = Annotated[int, Field(ge=meta.get("ge"), le=meta.get("le"))]
    elif annotation is bool:
        kind = bool
    elif annotation is str:
        kind = Text
    else:
        raise TypeError(f"strategy key {name!r}: {annotation!r} is not int, bool, str or Decimal")
    return kind, Field(default, description=meta.get("doc"))


def _strategy_table(kind: StrategyKind) -> type[StrategyCommon]:
    """The [[strategy]] table of one kind: the common keys and the kind's own."""
    hints = get_type_hints(kind.params)
    own = {f.name: _param_field(f.name, hints[f.name], f) for f in dataclasses.fields(kind.params)}
    title = "".join(part.title() for part in kind.name.split("_")) + "Strategy"
    return create_model(title, __base__=StrategyCommon, __doc__=f"[[strategy]] kind = \"{kind.name}\": {kind.doc}",
                        kind=(Literal[kind.name], Field(description=f"the strategy: {kind.name}, {kind.doc}")),
                        **own)


STRATEGY_KINDS = strategy_kinds()
STRATEGY_TABLES = {name: _strategy_table(kind) for name, kind in STRATEGY_KINDS.items()}
StrategyTable = Annotated[Union[tuple(STRATEGY_TABLES.values())], Field(discriminator="kind")]  # type: ignore[misc]


class RiskTable(Table):
    max_order_notional: DecimalText
    """the largest order, in the quote asset"""
    max_position: DecimalText
    """the largest position per instrument, in the base asset, counting orders still working"""
    price_band_bps: int = Field(ge=0, le=10_000)
    """refuse a signal whose mid is this far from the book mid, in bps"""
    max_slippage_bps: int = Field(ge=0, le=10_000)
    """the worst price an order may take, from the mid, in bps"""
    # the checks of engine.model.risk_checks, in the order they run; each is off at 0 (the default)
    max_data_age_ms: Ms = 0
    """refuse an order for an instrument whose newest book view is this old (from the newest market time known)"""
    max_signal_age_ms: Ms = 0
    """refuse a signal this old (from the newest market time the gate knows)"""
    max_spread_bps: int = Field(0, ge=0, le=10_000)
    """refuse when the spread of the book the signal was decided on is wider than this, in bps of the mid"""
    sample_ms: PositiveMs = 1_000
    """the period the mids are sampled at for the volatility halt and the correlation, in ms of market time"""
    volatility_window: int = Field(60, ge=2, le=100_000)
    """the samples the realized volatility is measured over"""
    max_volatility_bps: int = Field(0, ge=0, le=1_000_000)
    """halt orders adding risk while the realized volatility (root of the summed squared returns) is beyond this"""
    loss_streak: int = Field(0, ge=0, le=1_000_000)
    """after this many losing round trips in a row (net of fees), a cooldown"""
    loss_cooldown_ms: Ms = 0
    """how long the cooldown refuses orders adding risk"""
    max_displayed_share_pct: int = Field(0, ge=0, le=100)
    """refuse an aggressive order larger than this share of the quantity displayed within its limit price"""
    max_gross_exposure: DecimalText = "0"
    """the most the positions across instruments may be worth, counting working orders, in the quote asset"""
    correlation_window: int = Field(60, ge=2, le=100_000)
    """the samples the correlation between instruments is measured over"""
    max_correlated_exposure: DecimalText = "0"
    """the most the exposure netted by the instruments' correlation may be, in the quote asset"""
    max_leverage: DecimalText = "0"
    """the most gross exposure may be, as a multiple of equity"""
    balance_check: bool = False
    """refuse an order the asset it spends cannot cover, less what working orders hold ([portfolio] cash)"""
    order_rate_window_ms: PositiveMs = 1_000
    """the sliding window the order rates count in, in ms of market time"""
    max_orders_per_venue: int = Field(0, ge=0, le=1_000_000)
    """the most orders approved for one venue within the window"""
    max_orders_total: int = Field(0, ge=0, le=1_000_000)
    """the most orders approved within the window, every venue together"""


class DataQualityTable(Table):
    max_spread_bps: int = Field(200, ge=1, le=10_000)
    """a touch wider than this, in bps of the mid, is an abnormal spread"""
    jump_sigmas: int = Field(12, ge=1, le=1_000)
    """a mid change more than this many standard deviations from the mean of the last jump_window changes is a
    price jump ..."""
    jump_window: int = Field(100, ge=2, le=100_000)
    """... the touch changes the mean and deviation are taken over (no jump is judged before it is full) ..."""
    jump_min_bps: int = Field(30, ge=0, le=10_000)
    """... and only a change larger than this, in bps of the mid, is one"""
    silent_after_ms: Ms = 30_000
    """an instrument with no event for longer than this is a silent feed, in ms of the run's clock (0: never)"""
    alarm_every_ms: PositiveMs = 60_000
    """at most one alarm (log line, kill switch) per instrument and kind this often; every finding is counted"""
    examples: int = Field(3, ge=0, le=100)
    """findings kept per instrument and kind in the report, with their market time"""


class VenueTable(Table):
    name: Text = "binance"
    """the venue orders go to (in process: the simulated venue, named so)"""
    maker_fee: DecimalText
    """fee rate of a resting order's fill (0.001 = 10 bps)"""
    taker_fee: DecimalText
    """fee rate of a taking order's fill"""
    latency_us: int = Field(0, ge=0, le=60_000_000)
    """in process: the venue's latency each way, in µs of the virtual clock"""
    url: str = ""
    """a Binance-protocol venue's REST base URL (http:// or https://) to send orders to; empty: in process"""
    api_key_env: Text = "BINANCE_API_KEY"
    """with url: the environment variable holding the API key (it must be set)"""
    secret_env: Text = "BINANCE_API_SECRET"
    """with url: the environment variable holding the secret (it must be set)"""
    ws_api_url: str = ""
    """with url: the venue's WebSocket API for the user data stream (ws:// or wss://)"""
    timeout_ms: PositiveMs = 10_000
    """with url: an HTTP request unanswered this long has an unknown outcome"""
    connect_timeout_ms: PositiveMs = 15_000
    """with a live feed: a run whose market data has not connected, or whose venue has not answered the start-up
    reconciliation, by then fails (exit 1) saying which"""
    recv_window_ms: PositiveMs = 5_000
    """the venue refuses a new order older than this"""
    seed: int = Field(0, ge=0)
    """in process: the seed of the venue's fault draws"""
    faults: list[SimFaultTable] = []
    """in process: the simulated venue's faults ([[venue.faults]])"""


class ExecutionTable(Table):
    cancel_on_exit: bool = True
    """at the end: cancel what works, wait until every order settled"""
    ack_timeout_ms: PositiveMs = 5_000
    """a create not acknowledged by then is unknown: asked about, never resent"""
    requery_ms: PositiveMs = 1_000
    """an unresolved order is asked about again this often"""
    reconcile_timeout_ms: PositiveMs = 5_000
    """a reconciliation unanswered this long is asked again"""
    order_ttl_ms: Ms = 0
    """cancel a resting order older than this (0: never)"""
    chase_ticks: int = Field(0, ge=0, le=1_000_000)
    """cancel a passive order the touch has left by this many ticks and place it again at the touch (0: never)"""
    protection: Literal["native", "emulated"] = "native"
    """protective orders (stops, take-profits, OCO) and post-only: "native" (the venue's own order types where it
    has them) or "emulated" (watched and triggered by the engine on its book)"""
    settle_timeout_ms: PositiveMs = 60_000
    """how long the end of a run waits for every order to settle"""


class JournalTable(Table):
    path: Text | None = None
    """the journal file, relative to the scenario file (default: journal.sqlite in the output folder)"""
    sync: Literal["full", "normal"] | None = None
    """"full" (fsync every commit) or "normal"; default normal for replays, full live"""


class ControlTable(Table):
    token_env: Text
    """the environment variable holding the bearer token of the operator control (POST /control/<action> on
    --metrics-port); it must be set when the port is served"""


class FaultTable(Table):
    actor: Text
    """the actor to crash: feed, book, strategy (strategy.<name> with several), risk, router, orders, venue,
    ledger, user_stream"""
    after_events: int | None = Field(None, ge=1)
    """crash it at the N-th message it receives (one of after_events, at_ms, rate)"""
    at_ms: int | None = Field(None, ge=0)
    """crash it at this time from the run's first event, in ms"""
    rate: Probability | None = None
    """crash it at each message with this probability, drawn from seed"""
    seed: int = Field(0, ge=0)
    """with rate: the draws' seed"""
    times: int = Field(1, ge=1, le=1_000_000)
    """the most crashes the rule may cause"""


class OperatorTable(Table):
    at_ms: int = Field(ge=0, le=604_800_000)
    """when: milliseconds of market time after the run's first event (as [[faults]] at_ms)"""
    action: Literal["halt", "reduce", "resume", "flatten", "cancel_all"]
    """halt (cancel every order, refuse new ones), reduce (only orders that reduce exposure), resume (the only way
    out of halt), flatten (reduce, and bring every position to zero), cancel_all (cancel every working order)"""
    reason: str = ""
    """said in the journal and the log beside the command"""


class KillSwitchTable(Table):
    max_drawdown: DecimalText | None = None
    """halt when equity falls this far below its peak, in the portfolio's currency (default: never)"""
    max_daily_loss: DecimalText | None = None
    """halt when equity falls this far below the UTC day's start, in the portfolio's currency (default: never)"""
    venue_errors: int = Field(0, ge=0, le=1_000_000)
    """halt after this many failed venue requests within venue_error_window_ms of market time (0: never)"""
    venue_error_window_ms: PositiveMs = 60_000
    """the window venue_errors are counted in"""
    reconcile_findings: list[Literal["missed_fill", "state_corrected", "never_placed", "inferred_fill", "adopted",
                                     "missing_at_venue", "unknown_order_report"]] = []
    """reconciliation findings that halt, as a position the engine did not see move (e.g. missed_fill)"""
    data_quality: list[Literal["duplicate", "time_backwards", "abnormal_spread", "price_jump", "crossed_book",
                               "silent_feed"]] = []
    """data-quality alarm kinds that halt"""


class PortfolioTable(Table):
    cash: dict[str, DecimalText] | None = None
    """starting balances by asset, like { USDT = "100000" } (default: 100000 of the currency)"""
    currency: Text | None = None
    """the asset equity, drawdown and P&L are valued in (default: the first instrument's quote asset)"""
    mark_ms: PositiveMs = 1_000
    """how often, in ms of market time, the portfolio is valued at the book mids (the equity curve, the loss limits)"""


class ScenarioFile(Table):
    """A scenario: what `python -m engine run` (and chaos, record) runs."""
    engine: EngineTable = EngineTable()
    """the run's name"""
    instruments: list[TradedInstrumentTable] = Field(min_length=1)
    """[[instruments]]: one table per instrument, from the venue's metadata"""
    feed: FeedTable
    """[feed]: the market data"""
    book: BookTable = BookTable()
    """[book]: the order books"""
    strategy: list[StrategyTable] = Field(min_length=1)  # type: ignore[valid-type]
    """[[strategy]]: one table per strategy"""
    risk: RiskTable
    """[risk]: the limits every order is held to"""
    venue: VenueTable
    """[venue]: where orders go"""
    data_quality: DataQualityTable = DataQualityTable()
    """[data_quality]: the market-data checks' thresholds"""
    execution: ExecutionTable = ExecutionTable()
    """[execution]: how the order manager treats orders"""
    journal: JournalTable = JournalTable()
    """[journal]: where the run journals, how durably"""
    faults: list[FaultTable] = []
    """[[faults]]: actors to crash on purpose"""
    operator: list[OperatorTable] = []
    """[[operator]]: operator commands delivered at market times (a replay)"""
    kill_switch: KillSwitchTable = KillSwitchTable()
    """[kill_switch]: what halts trading"""
    portfolio: PortfolioTable = PortfolioTable()
    """[portfolio]: starting cash and how equity is valued"""
    control: ControlTable | None = None
    """[control]: the operator control served with --metrics-port (off without it)"""


# ---------------------------------------------------------------- a simulated venue (python -m engine venue)

class VenueFeedTable(FeedTable):
    speed: int = Field(1, ge=1, le=1000)
    """the replayed market runs this many times faster than real time"""


class LatencyTable(Table):
    model: Literal[LATENCY_MODELS] = "constant"  # type: ignore[valid-type]
    """constant, or lognormal (entry_us and response_us are then medians)"""
    entry_us: int = Field(0, ge=0, le=60_000_000)
    """a request's delay before the venue reads it, in µs"""
    response_us: int = Field(0, ge=0, le=60_000_000)
    """a response's delay, in µs"""
    sigma: DecimalText = "0"
    """lognormal: the shape"""


class RateLimitsTable(Table):
    request_weight_per_minute: int = Field(6_000, ge=1)
    """REST request weight allowed per minute"""
    orders_per_10s: int = Field(100, ge=1)
    """new orders allowed per 10 s"""
    orders_per_day: int = Field(200_000, ge=1)
    """new orders allowed per day"""


class AccountTable(Table):
    api_key: Text
    """the demo account's API key"""
    secret: Text
    """its secret"""
    balances: dict[str, DecimalText]
    """its starting balance per asset of the [[instruments]]"""


class SimVenueTable(Table):
    name: Text = "binance"
    """the protocol it speaks (binance)"""
    maker_fee: DecimalText
    """fee rate of a resting order's fill"""
    taker_fee: DecimalText
    """fee rate of a taking order's fill"""
    seed: int = Field(0, ge=0)
    """every draw the venue makes: latencies, faults"""
    queue_model: Literal[QUEUE_MODELS] = "conservative"  # type: ignore[valid-type]
    """where a resting order stands in its level's queue: conservative, or probabilistic"""
    queue_power: int = Field(2, ge=1, le=100)
    """probabilistic: the power of its queue position model"""
    latency: LatencyTable = LatencyTable()
    """[venue.latency]"""
    rate_limits: RateLimitsTable = RateLimitsTable()
    """[venue.rate_limits]"""
    accounts: list[AccountTable] = Field(min_length=1)
    """[[venue.accounts]]: the demo accounts"""
    faults: list[SimFaultTable] = []
    """[[venue.faults]]: faults, each on its own counter, drawn from the seed"""


class VenueFile(Table):
    """A simulated venue served on its own: what `python -m engine venue` serves."""
    engine: EngineTable = EngineTable()
    """the venue's name"""
    instruments: list[InstrumentTable] = Field(min_length=1)
    """[[instruments]]: what it lists"""
    feed: VenueFeedTable
    """[feed]: the market that drives its book (one instrument)"""
    venue: SimVenueTable
    """[venue]: its rules, accounts and faults"""


# ---------------------------------------------------------------- reading a file

File = TypeVar("File", ScenarioFile, VenueFile)


def read(path: Path, model: type[File]) -> File:
    """The file at `path`, validated against `model`; `ScenarioError` naming the file (and the line, the key,
    what was expected and what was found) for anything else."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, not a scenario file") from None
    except PermissionError:
        raise ScenarioError(f"{path}: not readable (permission denied)") from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"{path}: not UTF-8 text (line {line}: byte {exc.object[exc.start]:#04x})") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise ScenarioError("\n".join(f"{path}: {line}" for line in describe(exc))) from None


def is_venue_file(path: Path) -> bool:
    """Whether the file at `path` describes a simulated venue (its [venue] has accounts) rather than a run;
    False for anything unreadable, which the scenario reader then explains."""
    try:
        venue = tomllib.loads(path.read_text(encoding="utf-8")).get("venue")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(venue, dict) and "accounts" in venue


def dotted(loc: tuple[int | str, ...]) -> str:
    """A key's place in the document as `strategy[0].cadence`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _untagged(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A key's place without the strategy kind pydantic puts in it (`strategy[0].ema_cross.fast` is `strategy[0].fast`)."""
    if len(loc) >= 3 and loc[0] == "strategy" and isinstance(loc[1], int) and loc[2] in STRATEGY_TABLES:
        return (*loc[:2], *loc[3:])
    return loc


def _found(value: Any) -> str:
    if isinstance(value, (dict, BaseModel)):
        return "a table"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def describe(exc: ValidationError) -> list[str]:
    """One line per problem: the key (dotted), what was expected, what was found."""
    lines = []
    for error in exc.errors(include_url=False):
        loc, kind, message = _untagged(tuple(error["loc"])), error["type"], error["msg"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            found = error["input"].get("kind") if isinstance(error["input"], dict) else None
            lines.append(f"{dotted((*loc, 'kind'))}: expected one of the strategy kinds "
                         f"({', '.join(STRATEGY_TABLES)}), found {'nothing' if found is None else repr(found)}")
            continue
        if kind == "unknown_key":
            ctx = error.get("ctx", {})
            where = dotted((*loc, ctx["key"]))
            lines.append(f"{where}: unknown {'table' if not loc else 'key'} ({ctx['hint']})")
            continue
        where = dotted(loc) or "(top level)"
        if kind == "missing":
            lines.append(f"{where}: required, and missing")
            continue
        if kind in ("model_type", "dict_type"):
            message = "expected a table"
        elif kind == "list_type" and isinstance(error["input"], dict):
            message = f"expected an array of tables [[{where}]], one per entry (not a single [{where}])"
        elif kind == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == SAFE_NAME:
            message = ("expected a name of letters, digits, '_', '.' and '-' (at most 64), so that what is written "
                       "under it stays inside the output folder")
        elif message.startswith("Input should be "):
            message = "expected " + message.removeprefix("Input should be ")
        elif message.startswith(("String should", "List should", "Value should")):
            message = "expected a value that should" + message.split("should", 1)[1]
        elif not message.startswith("expected"):
            message = message[0].lower() + message[1:]
        lines.append(f"{where}: {message}, found {_found(error['input'])}")
    return lines


def json_schema(model: type[Table]) -> dict[str, Any]:
    """The JSON Schema of a file format (`python -m engine schema`)."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema

