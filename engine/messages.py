"""The one message vocabulary of the engine.

Every message that crosses a channel between actors is defined here, as a frozen, slotted dataclass,
so that what flows through the pipeline can be read in one place. Prices and quantities are exact
fixed-point integers in the units of their instrument (see `engine.model.numbers.Instrument`); money
that mixes instruments or rates (fees, P&L) is `Decimal`. Timestamps are integer nanoseconds of the
injected clock (`ts_ns`).
"""
from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, fields
from decimal import Decimal
from typing import Any, Callable

Level = tuple[int, int]
"""One book level: (price, quantity) in the instrument's fixed-point units."""


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


# ---------------------------------------------------------------- market data (venue codecs → book)

@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A full depth snapshot: the book as of venue update `last_update_id` (Binance REST `/api/v3/depth`).

    `checksum` is the venue's checksum of the book after it, where the venue sends one (Kraken, OKX).
    """
    instrument: str
    ts_ns: int
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    checksum: int | None = None


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """An incremental depth update covering venue update ids `first_id..last_id`.

    `prev_last_id` is the venue's link to the previous diff where it sends one (Binance futures `pu`),
    else -1. A level with quantity 0 deletes that price. `checksum` is the venue's checksum of the book
    after the diff, where the venue sends one (Kraken's CRC32, OKX's legacy CRC32), else None.
    """
    instrument: str
    ts_ns: int
    first_id: int
    last_id: int
    prev_last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    checksum: int | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade. `aggressor` is the side of the taker (Binance `m:true` means a selling taker)."""
    instrument: str
    ts_ns: int
    trade_id: int
    price: int
    qty: int
    aggressor: Side


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """The venue's own best bid/ask stream (Binance `bookTicker`), sharing the depth update-id space."""
    instrument: str
    ts_ns: int
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


MarketEvent = BookSnapshot | DepthDiff | Trade | TopOfBook


def fast_constructor(cls: type) -> Callable[..., Any]:
    """A constructor for the frozen, slotted dataclass `cls` that builds the same object at half the cost.

    A frozen dataclass's `__init__` stores each field through `object.__setattr__`; on a feed's hot path
    (every depth diff, trade and ticker) storing through the slots' own descriptors is twice as cheap.
    Same fields, same order, same defaults: `make(*args) == cls(*args)`.
    """
    names = [f.name for f in fields(cls)]
    params = ", ".join(n if f.default is MISSING else f"{n}=_default_{n}" for n, f in zip(names, fields(cls)))
    body = "".join(f"    _set_{n}(obj, {n})\n" for n in names)
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for f in fields(cls):
        namespace[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
    exec(f"def make({params}):\n    obj = _new(_cls)\n{body}    return obj\n", namespace)
    make = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    make.__doc__ = f"Build a {cls.__name__} (see `fast_constructor`)."
    return make


make_depth_diff = fast_constructor(DepthDiff)
make_trade = fast_constructor(Trade)
make_top_of_book = fast_constructor(TopOfBook)


@dataclass(frozen=True, slots=True)
class RawFrame:
    """A frame or REST response as the venue sent it, for the recorder: `source` is "ws" or the REST URL."""
    ts_ns: int
    source: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class FeedConnected:
    """A venue connection opened (or reopened): what was sent while it was down is lost."""
    url: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class MarketBatch:
    """What the feed hands the book in one hop: the events of one replay step (or whatever was waiting);
    raw frames when the feed records instead of decoding."""
    ts_ns: int
    events: tuple[MarketEvent, ...] | tuple[RawFrame, ...]


# ---------------------------------------------------------------- book → strategy / venue

@dataclass(frozen=True, slots=True)
class BookView:
    """An immutable picture of the top of one book, as of update `update_id` at `ts_ns`.

    `bids` are best first (descending), `asks` best first (ascending), at most the configured depth.
    `trades` are the public trades seen since the previous view of this instrument.
    """
    instrument: str
    ts_ns: int
    update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    trades: tuple[Trade, ...] = ()

    @property
    def best_bid(self) -> int | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> int | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid_x2(self) -> int | None:
        """Twice the mid price, so that it stays an exact integer."""
        if not self.bids or not self.asks:
            return None
        return self.bids[0][0] + self.asks[0][0]


class BookState(enum.Enum):
    SYNCING = "syncing"
    LIVE = "live"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class BookStatus:
    """A change of a book's health, told downstream so that nobody trades on a stale book."""
    instrument: str
    ts_ns: int
    state: BookState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    """The book of `instrument` cannot be trusted (or has not started): the feed must bring a fresh snapshot
    (Binance: the REST depth; Kraken, OKX, Bybit, Coinbase: a resubscription)."""
    instrument: str
    ts_ns: int
    reason: str


# ---------------------------------------------------------------- strategy → risk → router

class Urgency(enum.Enum):
    PASSIVE = "passive"      # rest at the touch
    AGGRESSIVE = "aggressive"  # take liquidity now


@dataclass(frozen=True, slots=True)
class Protection:
    """The protection a strategy asks for on the position an order opens; prices in the instrument's fixed-point
    units, 0 meaning none. The order manager decides whether each leg is sent natively or emulated by the engine.

    `stop_price` alone is a stop-market; with `stop_limit_price` a stop-limit. `take_profit_price` is a
    take-profit limit; both together make an OCO pair (one filled or triggered cancels the other).
    `trailing_bps` makes the stop trail the best price seen since entry by that distance.
    """
    stop_price: int = 0
    stop_limit_price: int = 0
    take_profit_price: int = 0
    trailing_bps: int = 0


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy wants in `instrument`: a direction (`side`) and a `strength` from 0 to 1 (the share of the
    full position its sizing allows; 0 is flat), never a quantity: sizing turns it into a target position
    (`engine.model.sizing`), the risk gate into an order. `protection.stop_price`, where the strategy has a stop, is
    what a stop-distance sizing risks over.

    The strategy actor stamps the book the strategy decided on: its touch (`bid`, `ask`) and the quantity shown
    there (`bid_qty`, `ask_qty`), so that the risk gate and the router decide on the book as of the decision however
    late they see newer views, and where the strategy's sizing asks for it the realized volatility of the mid over
    its recent looks (`volatility_x2`: twice the root mean square change of the mid between looks, in price units;
    0 when not measured).
    """
    strategy: str
    instrument: str
    ts_ns: int
    side: Side
    strength: Decimal
    urgency: Urgency
    mid_x2: int
    reason: str = ""
    bid: int = 0     # the touch of the book the strategy decided on (0: no such side)
    ask: int = 0
    protection: Protection | None = None
    bid_qty: int = 0    # the quantity displayed at that touch
    ask_qty: int = 0
    volatility_x2: int = 0


@dataclass(frozen=True, slots=True)
class QuoteIntent:
    """The two-sided quotes a quoting strategy wants working in `instrument`: prices and sizes per side (a size of
    0: no quote on that side), as of the book whose mid is `mid_x2`. The risk gate checks them and may shrink the
    sizes; the one it approves carries its `quote_id`, and the order manager keeps post-only orders working at those
    prices, cancelling and replacing them as the wanted quotes change."""
    strategy: str
    instrument: str
    ts_ns: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
    mid_x2: int
    reason: str = ""
    quote_id: str = ""


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """An order the risk gate approved: the router decides where and how it is worked."""
    parent_id: str
    instrument: str
    side: Side
    qty: int
    limit_price: int
    urgency: Urgency
    ts_ns: int
    signal_mid_x2: int
    bid: int = 0     # the touch of the book the signal was decided on (see `Signal`)
    ask: int = 0
    protection: Protection | None = None


@dataclass(frozen=True, slots=True)
class RiskRejection:
    """A signal the risk gate refused, with the rule that refused it."""
    instrument: str
    ts_ns: int
    rule: str
    detail: str


# ---------------------------------------------------------------- router → order manager → venue

class OrderType(enum.Enum):
    """Binance spot's order types. LIMIT_MAKER is post-only (refused by the venue if it would take). The stop and
    take-profit types wait at the venue until the market reaches `stop_price` (or trails by `trailing_bps`), then
    work as a market order (STOP_LOSS, TAKE_PROFIT) or a limit at `price` (the _LIMIT forms)."""
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIMIT_MAKER = "LIMIT_MAKER"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"


class TimeInForce(enum.Enum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """One order for one venue, as the router decided it. The order manager gives it its client order id.

    `child_id` names it uniquely (its parent's id and its place among the parent's children), so that a child
    order handed over twice (a restarted order manager sees its predecessor's unfinished batch again) becomes
    one order. `limit_price` is the parent's worst acceptable price: an order replaced after the market left
    it is never re-placed beyond it.
    """
    parent_id: str
    venue: str
    instrument: str
    side: Side
    qty: int
    price: int
    order_type: OrderType
    tif: TimeInForce
    ts_ns: int
    signal_mid_x2: int
    child_id: str = ""
    limit_price: int = 0
    stop_price: int = 0        # the stop and take-profit types: where the venue triggers it
    trailing_bps: int = 0      # a trailing stop: the distance it trails the best price by (Binance `trailingDelta`)
    list_id: str = ""          # the legs of one OCO order list share it: one filled or triggered ends the others
    reduce_only: bool = False  # never increase the position: refused with none to reduce, shrunk to what there is
    protection: Protection | None = None  # what to place once this order has filled (a bracket's stop, take-profit)


@dataclass(frozen=True, slots=True)
class NewOrderRequest:
    """The order manager asks a venue to place an order under an idempotent client order id."""
    client_order_id: str
    venue: str
    instrument: str
    side: Side
    qty: int
    price: int
    order_type: OrderType
    tif: TimeInForce
    ts_ns: int
    stop_price: int = 0
    trailing_bps: int = 0
    list_id: str = ""


@dataclass(frozen=True, slots=True)
class CancelRequest:
    client_order_id: str
    venue: str
    instrument: str
    ts_ns: int


class ExecType(enum.Enum):
    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class Liquidity(enum.Enum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What a venue says about one order (Binance `executionReport` shape, normalised).

    For `TRADE`, `last_qty`/`last_price` are this fill, `fee` its commission in `fee_asset`.
    `cum_qty` is the venue's cumulative filled quantity, authoritative for the order's fills.
    """
    venue: str
    client_order_id: str
    venue_order_id: str
    exec_type: ExecType
    ts_ns: int
    cum_qty: int
    last_qty: int = 0
    last_price: int = 0
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    liquidity: Liquidity | None = None
    reason: str = ""
    trade_id: str = ""


class RequestKind(enum.Enum):
    NEW = "new"
    CANCEL = "cancel"


class FailureClass(enum.Enum):
    """What a failed request leaves the order manager to do (venues.md §0.3)."""
    UNKNOWN = "unknown"      # it may or may not have happened: resolve by query and the execution stream
    NOT_FOUND = "not_found"  # the venue does not know the order as open (a cancel of a filled order): query it
    AUTH = "auth"            # key, signature or permissions refused: order entry must stop


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request the venue did not carry out as asked, or whose outcome it did not state.

    A definitive refusal of a new order is a REJECTED `ExecutionReport`, not this; a request refused at the
    door (rate limit, clock) is retried by the venue adapter and never reaches the order manager.
    """
    venue: str
    instrument: str
    client_order_id: str
    request: RequestKind
    failure: FailureClass
    ts_ns: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CancelAllRequest:
    """Cancel every open order of ours on `instrument` at the venue (Binance `DELETE /api/v3/openOrders`)."""
    venue: str
    instrument: str
    ts_ns: int


class VenueOrderStatus(enum.Enum):
    """An order's status in the venue's own records, in the common words of venues.md §0.2."""
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One fill of one of our orders as the venue recorded it (Binance `myTrades`); `trade_id` is the venue's."""
    trade_id: str
    qty: int
    price: int
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    ts_ns: int


@dataclass(frozen=True, slots=True)
class VenueOrderState:
    """One of our orders as the venue's records show it: reconciliation's source of truth.

    `trades` are its fills, oldest first; `trades_complete` is False when the venue stated the cumulative
    quantity but could not list every trade (the missing quantity is then booked as one inferred fill).
    """
    client_order_id: str
    venue_order_id: str
    instrument: str
    side: Side
    qty: int
    price: int
    status: VenueOrderStatus
    cum_qty: int
    trades: tuple[VenueTrade, ...] = ()
    trades_complete: bool = True


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    """Ask the venue for its account of our orders of `instrument`: the ones named, or, with no names, every
    order it holds for us that was created since `since_ns`."""
    request_id: str
    venue: str
    instrument: str
    client_order_ids: tuple[str, ...]
    since_ns: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class ReconcileReply:
    """The venue's account of the orders a `ReconcileRequest` asked about.

    A named order absent from `orders` is not known to the venue. With `error` set the venue could not
    answer, and nothing may be concluded from the (empty) `orders`.
    """
    request_id: str
    venue: str
    instrument: str
    ts_ns: int
    orders: tuple[VenueOrderState, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class VenueSession:
    """The venue's order stream started, or came back after a break: what it sent meanwhile may be lost, so
    the order manager reconciles before it trusts its order table again."""
    venue: str
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReconcileFinding:
    """Something reconciliation found in the venue's account that the order table did not hold (a missed fill,
    a state corrected, an order that never reached the venue, one adopted): journaled and reported."""
    instrument: str
    client_order_id: str
    ts_ns: int
    finding: str
    detail: str = ""


# ---------------------------------------------------------------- order manager → portfolio / risk / report

@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of one of our orders, as the order manager accounted it."""
    client_order_id: str
    parent_id: str
    venue: str
    instrument: str
    side: Side
    qty: int
    price: int
    fee: Decimal
    fee_asset: str
    liquidity: Liquidity
    ts_ns: int
    signal_mid_x2: int
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order's state after the order manager applied an event to it."""
    client_order_id: str
    parent_id: str
    instrument: str
    side: Side
    state: str
    qty: int
    cum_qty: int
    ts_ns: int
    reduce_only: bool = False   # a protective leg (or any reduce-only order): it can only shrink the position


@dataclass(frozen=True, slots=True)
class Exposure:
    """Position and open order quantity of one instrument; conflated: only the newest matters."""
    instrument: str
    ts_ns: int
    position: int
    open_buy_qty: int
    open_sell_qty: int


# ---------------------------------------------------------------- control

@dataclass(frozen=True, slots=True)
class PortfolioView:
    """The portfolio as of `ts_ns`, in the quote asset (exact): what sizing, the risk gate and the kill switch
    read. Conflated: only the newest matters. `cash` holds (asset, amount) pairs in asset order."""
    ts_ns: int
    equity: Decimal
    peak_equity: Decimal
    day_start_equity: Decimal
    gross_exposure: Decimal
    cash: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True, slots=True)
class TimerFired:
    """Delivered by the clock to the inbox that asked for it, at (virtual or wall) time `due_ns`."""
    key: str
    due_ns: int


class TradingMode(enum.Enum):
    """The kill switch's states: ACTIVE trades; REDUCING accepts only orders that reduce exposure; HALTED cancels
    every open order and refuses every new one. Leaving HALTED takes an operator command, never a timer."""
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class OperatorAction(enum.Enum):
    HALT = "halt"
    REDUCE = "reduce"
    RESUME = "resume"
    FLATTEN = "flatten"
    CANCEL_ALL = "cancel_all"


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """An operator's command to the engine: from the scenario's `[[operator]]` table (at a market time) or from
    the live control endpoint. `source` says which (`"scenario"`, `"http"`); journaled like every decision."""
    action: OperatorAction
    ts_ns: int
    source: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TradingStateChanged:
    """The kill switch moved to `mode`, for `cause` (a limit's name, `"operator:halt"`, a data-quality alarm...)."""
    mode: TradingMode
    ts_ns: int
    cause: str


@dataclass(frozen=True, slots=True)
class DataQualityAlarm:
    """A data-quality check found a problem with an instrument's market data (`kind`: duplicate, time_backwards,
    abnormal_spread, price_jump, crossed_book, silent_feed), counted, reported, and able to trip the kill switch."""
    instrument: str
    ts_ns: int
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """A command to the order manager: cancel this order (it outlived its purpose, or the market left it)."""
    client_order_id: str
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class CancelAll:
    """A command to the order manager: cancel every working order; with `halt`, accept no new ones after it
    (the end of a run, a shutdown)."""
    ts_ns: int
    reason: str
    halt: bool = True


@dataclass(frozen=True, slots=True)
class OrderManagerStarted:
    """The order manager (re)started: a request its predecessor decided may never have left, so every cancel
    it had in flight is unknown until the venue says."""
    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrdersSettled:
    """The order manager, after a `CancelAll`, has no order left working or unresolved at any venue."""
    ts_ns: int
    orders: int


@dataclass(frozen=True, slots=True)
class RunFailure:
    """Something the run cannot go on with (the venue refused our credentials): it must end, non-zero, saying
    why."""
    actor: str
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A message as the journal holds it: handed to the journal's subscribers once it is durable.

    `seq` orders every entry of a journal; `run_id` is the engine run that wrote it; `actor` the writer.
    """
    seq: int
    ts_ns: int
    run_id: int
    actor: str
    msg: Any


@dataclass(frozen=True, slots=True)
class ProtectionTrigger:
    """An emulated protective leg's trigger, seen on the engine's book: an input of the order manager (journaled
    before it places the leg's order), so that a rebuilt order manager replays the trigger it decided."""
    group_id: str
    leg: str
    ts_ns: int
    touch: int
    mid_x2: int


@dataclass(frozen=True, slots=True)
class ProtectionTrail:
    """An emulated trailing stop's level moved (by a tick or more): its best exit price since entry, an input of the
    order manager journaled like a trigger, so that a rebuilt order manager trails on from where its predecessor
    had got to instead of from the entry (views are not journaled; only the moves of a level that matter are)."""
    group_id: str
    leg: str
    ts_ns: int
    best: int


@dataclass(frozen=True, slots=True)
class ProtectionEvent:
    """A protective order's lifecycle (`event`: armed, triggered, filled, cancelled, refused, rejected), journaled
    by the order manager and counted in the report. `kind` is the leg's (stop_market, stop_limit, take_profit,
    trailing_stop) or the post-only / reduce-only rule; `mode` native or emulated."""
    group_id: str
    instrument: str
    ts_ns: int
    kind: str
    event: str
    mode: str
    client_order_id: str = ""
    detail: str = ""


VENUE_REQUESTS = (NewOrderRequest, CancelRequest, CancelAllRequest, ReconcileRequest)
"""What the order manager sends a venue on its order link (the actors' declared wiring names them)."""

VENUE_ANSWERS = (ExecutionReport, RequestFailed, ReconcileReply, VenueSession)
"""What a venue sends back on the order link: its order gateway, its in-process actor, its user data stream."""
