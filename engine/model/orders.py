"""The order state machine and the table of our orders (venues.md §0.2).

The order manager is the only writer of order state, and this module is its functional core: no trio, no IO.
An `Order` moves through the common states on the venue's execution reports, on the outcome of our own
requests, and on what reconciliation finds at the venue:

    pending ──NEW──▶ submitted ──TRADE──▶ partially_filled ──TRADE──▶ filled
      (a TRADE before the NEW moves pending straight on to partially_filled or filled)
    working ──request_cancel──▶ cancelling ──CANCELED──▶ cancelled   (a cancelled order may have fills)
    cancelling ──cancel_refused──▶ back where it was;  ──TRADE of the rest──▶ filled
    pending ──outcome unknown (timeout, 5xx, lost reply, no ack in time)──▶ unknown ──any report or query──▶ …
    cancelling ──outcome unknown──▶ unknown ──a report or a query──▶ cancelled, filled, or back to working
    any non-terminal ──CANCELED / EXPIRED──▶ cancelled / expired;  ──REJECTED──▶ rejected, only before any ack
    unknown (of a create), not at the venue after its validity window ──▶ rejected: it never reached the venue

(working = pending, submitted or partially_filled.) An unknown outcome is never settled by a blind resend: the
venue's answer to a query, or its execution stream, settles it.

Fills are counted once each, by the venue's trade id: a duplicated, replayed or reordered TRADE report adds
nothing, and a fill reconciliation finds is booked only if no report booked it. Quantities never go past the
order's size, nor, once the venue has stated an order's final cumulative quantity (a cancel, an expiry, a
query), past that. A report without a trade id falls back on the increase of the venue's cumulative quantity.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import ParamSpec, TypeVar

from engine.messages import (
    CancelRequest,
    ChildOrder,
    ExecType,
    ExecutionReport,
    Fill,
    Liquidity,
    NewOrderRequest,
    OrderType,
    OrderUpdate,
    RequestKind,
    TimeInForce,
    VenueOrderState,
    VenueOrderStatus,
)
from engine.model.numbers import EXACT, Instrument, to_decimal

_P = ParamSpec("_P")
_R = TypeVar("_R")


CLIENT_ORDER_ID = re.compile(r"[a-zA-Z0-9_-]{1,36}")
"""Binance's `newClientOrderId` rule `^[a-zA-Z0-9-_]{1,36}$`; use it with `fullmatch`."""


class OrderState(enum.Enum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED})
_TERMINAL_BY_EXEC_TYPE = {
    ExecType.CANCELED: OrderState.CANCELLED,
    ExecType.EXPIRED: OrderState.EXPIRED,
    ExecType.REJECTED: OrderState.REJECTED,
}
_TERMINAL_BY_VENUE_STATUS = {
    VenueOrderStatus.FILLED: OrderState.FILLED,
    VenueOrderStatus.CANCELLED: OrderState.CANCELLED,
    VenueOrderStatus.EXPIRED: OrderState.EXPIRED,
    VenueOrderStatus.REJECTED: OrderState.REJECTED,
}
NEVER_PLACED = "not at the venue after its validity window: it never reached the venue"


class IllegalTransition(Exception):
    """An event that the order's current state does not allow: a bug in the caller or a contradictory venue."""

    def __init__(self, client_order_id: str, state: OrderState, event: str):
        super().__init__(f"order {client_order_id}: {event} is illegal in state {state.value}")
        self.client_order_id = client_order_id
        self.state = state
        self.event = event


class Order:
    """One child order on one venue, as the order manager knows it."""

    __slots__ = (
        "client_order_id", "child_id", "parent_id", "venue", "instrument", "side", "qty", "price", "limit_price",
        "order_type", "tif", "signal_mid_x2", "state", "acknowledged", "cum_qty", "venue_cum_qty", "final_cum_qty",
        "filled_value", "fees", "trade_ids", "created_ts_ns", "updated_ts_ns", "venue_order_id", "ignored_reports",
        "unknown_of", "before_cancel", "reason", "stop_price", "trailing_bps", "list_id", "reduce_only",
    )

    def __init__(self, client_order_id: str, child: ChildOrder, created_ts_ns: int | None = None):
        self.client_order_id = client_order_id
        self.child_id = child.child_id
        self.parent_id = child.parent_id
        self.venue = child.venue
        self.instrument = child.instrument
        self.side = child.side
        self.qty = child.qty
        self.price = child.price
        self.limit_price = child.limit_price or child.price
        self.order_type = child.order_type
        self.tif = child.tif
        self.signal_mid_x2 = child.signal_mid_x2
        self.state = OrderState.PENDING
        self.acknowledged = False          # the venue has shown it knows the order (NEW, a TRADE, a query)
        self.cum_qty = 0                   # filled quantity we hold fills for
        self.venue_cum_qty = 0             # highest cumulative quantity the venue has stated
        self.final_cum_qty: int | None = None  # the venue's cumulative quantity once the order ended there
        self.filled_value = 0              # sum of price * qty over our fills, in price×qty units
        self.fees: dict[str, Decimal] = {}  # by asset
        self.trade_ids: set[str] = set()
        self.created_ts_ns = child.ts_ns if created_ts_ns is None else created_ts_ns
        self.updated_ts_ns = self.created_ts_ns
        self.venue_order_id = ""
        self.ignored_reports = 0           # duplicates, stale reports and reports after a terminal state
        self.unknown_of: RequestKind | None = None  # which request's outcome is undetermined, in `unknown`
        self.before_cancel = OrderState.PENDING     # where a refused cancel returns the order
        self.reason = ""                   # why it ended, when the venue or the engine said
        self.stop_price = child.stop_price          # a native stop or take-profit: where the venue triggers it
        self.trailing_bps = child.trailing_bps      # a native trailing stop's distance
        self.list_id = child.list_id                # a native OCO leg: its order list
        self.reduce_only = child.reduce_only

    @property
    def open_qty(self) -> int:
        """Quantity still working at the venue (0 once terminal)."""
        return 0 if self.state.is_terminal else self.qty - self.cum_qty

    @property
    def missing_qty(self) -> int:
        """Fills the venue announced but that we hold no fill for; above 0 means reconcile."""
        return self.venue_cum_qty - self.cum_qty

    @property
    def is_working(self) -> bool:
        return self.state in (OrderState.PENDING, OrderState.SUBMITTED, OrderState.PARTIALLY_FILLED)

    def average_price(self, instrument: Instrument) -> Decimal | None:
        """Volume-weighted fill price, rounded half-even to `price_decimals + qty_decimals` places; None unfilled."""
        if self.cum_qty == 0:
            return None
        scaled = round(Fraction(self.filled_value * 10 ** instrument.qty_decimals, self.cum_qty))
        return to_decimal(scaled, instrument.price_decimals + instrument.qty_decimals)

    def new_request(self) -> NewOrderRequest:
        """The placement request; always the same for the same order, stamped with the order's creation time so
        that the venue refuses it once its validity window has passed."""
        return NewOrderRequest(
            client_order_id=self.client_order_id, venue=self.venue, instrument=self.instrument, side=self.side,
            qty=self.qty, price=self.price, order_type=self.order_type, tif=self.tif, ts_ns=self.created_ts_ns,
            stop_price=self.stop_price, trailing_bps=self.trailing_bps, list_id=self.list_id,
        )

    def as_update(self) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=self.client_order_id, parent_id=self.parent_id, instrument=self.instrument,
            side=self.side, state=self.state.value, qty=self.qty, cum_qty=self.cum_qty, ts_ns=self.updated_ts_ns,
            reduce_only=self.reduce_only,
        )

    # ------------------------------------------------------------ events from the venue

    def apply(self, report: ExecutionReport) -> Fill | None:
        """Apply one venue report; return the fill it adds, if any. Raises `IllegalTransition`."""
        if report.client_order_id != self.client_order_id:
            raise ValueError(f"report for {report.client_order_id} applied to order {self.client_order_id}")
        self._record(report.venue_order_id, report.cum_qty, report.ts_ns)
        kind = report.exec_type
        if kind is ExecType.TRADE:
            qty = report.last_qty if report.trade_id else report.cum_qty - self.cum_qty
            return self._trade(report.trade_id, qty, report.last_price, report.fee, report.fee_asset,
                               report.liquidity, report.ts_ns)
        if self.state.is_terminal:
            if kind is not ExecType.NEW:
                self._final(report.cum_qty)
            self.ignored_reports += 1
            return None
        if kind is ExecType.NEW:
            self.acknowledged = True
            if self.state is OrderState.PENDING or self.unknown_of is RequestKind.NEW:
                self.state = self._working_state()
                self.unknown_of = None
            else:
                self.ignored_reports += 1  # a duplicate, or an ack overtaken by a fill or a cancel request
            return None
        if kind is ExecType.REJECTED and self.acknowledged:
            raise IllegalTransition(self.client_order_id, self.state, "REJECTED after the venue acknowledged")
        self._final(report.cum_qty)
        self._end(_TERMINAL_BY_EXEC_TYPE[kind], report.reason)
        return None

    # ------------------------------------------------------------ our own requests

    def request_cancel(self, ts_ns: int) -> CancelRequest:
        """A cancel is being sent: the order enters `cancelling` (from working, or from an unknown create)."""
        if not (self.is_working or self.unknown_of is RequestKind.NEW):
            raise IllegalTransition(self.client_order_id, self.state, "request_cancel")
        self.before_cancel = self.state
        self.state = OrderState.CANCELLING
        self.unknown_of = None
        self.updated_ts_ns = ts_ns
        return CancelRequest(
            client_order_id=self.client_order_id, venue=self.venue, instrument=self.instrument, ts_ns=ts_ns,
        )

    def cancel_refused(self, ts_ns: int) -> None:
        """The venue refused our cancel (it knows no such open order): back to where the order was."""
        if self.state.is_terminal:
            self.ignored_reports += 1  # the cancel lost the race with a fill or an expiry
            return
        if self.state is not OrderState.CANCELLING and self.unknown_of is not RequestKind.CANCEL:
            raise IllegalTransition(self.client_order_id, self.state, "cancel_refused")
        self._back_from_cancel()
        self.updated_ts_ns = ts_ns

    def outcome_unknown(self, request: RequestKind, ts_ns: int) -> bool:
        """The outcome of our create (or cancel) is undetermined; True if that moved the order to `unknown`.

        A create whose order the venue has already shown, or a cancel that is no longer in flight, changes
        nothing: some report settled it first.
        """
        if request is RequestKind.NEW and self.state is OrderState.PENDING:
            self.state, self.unknown_of = OrderState.UNKNOWN, RequestKind.NEW
        elif request is RequestKind.CANCEL and self.state is OrderState.CANCELLING:
            self.state, self.unknown_of = OrderState.UNKNOWN, RequestKind.CANCEL
        else:
            return False
        self.updated_ts_ns = ts_ns
        return True

    # ------------------------------------------------------------ what the venue's records say

    def reconcile(self, venue: VenueOrderState, ts_ns: int) -> list[Fill]:
        """Bring the order to the venue's account of it; return the fills that account adds.

        The venue's trades are booked unless a report booked them already; its status then decides the state.
        An order the venue still has open comes back to working (`unknown` settled, a refused-for-lost order
        reopened); one it has ended takes its end, with its final quantity, once every trade of it is booked.
        """
        if venue.client_order_id != self.client_order_id:
            raise ValueError(f"venue state of {venue.client_order_id} applied to order {self.client_order_id}")
        self._record(venue.venue_order_id, venue.cum_qty, ts_ns)
        self.acknowledged = True
        fills = []
        for trade in venue.trades:
            fill = self._trade(trade.trade_id, trade.qty, trade.price, trade.fee, trade.fee_asset, trade.liquidity,
                               trade.ts_ns)
            if fill is not None:
                fills.append(fill)
        ended = _TERMINAL_BY_VENUE_STATUS.get(venue.status)
        if ended is None:
            if self.state.is_terminal:
                self.reason = ""
                self.state = self._working_state()
            elif self.state is OrderState.PENDING or self.unknown_of is RequestKind.NEW:
                self.state, self.unknown_of = self._working_state(), None
            elif self.unknown_of is RequestKind.CANCEL:
                self._back_from_cancel()
        elif self.cum_qty >= venue.cum_qty:
            self._final(venue.cum_qty)
            if not self.state.is_terminal:
                self._end(ended, "")
        return fills

    def inferred_fill(self, venue: VenueOrderState, ts_ns: int) -> Fill | None:
        """The fill for quantity the venue says it executed but cannot list trades for, at the order's price,
        under a deterministic id; None when nothing is missing. Only for an order the venue has ended."""
        missing = venue.cum_qty - self.cum_qty
        if missing <= 0 or venue.status is VenueOrderStatus.OPEN:
            return None
        trade_id = f"inferred-{self.client_order_id}-{venue.cum_qty}"
        fill = self._trade(trade_id, missing, self.price, Decimal(0), "", Liquidity.TAKER, ts_ns)
        self.reconcile(venue, ts_ns)
        return fill

    def never_placed(self, ts_ns: int) -> None:
        """The venue does not know the order and its validity window has passed: it never reached the venue."""
        if self.acknowledged or self.state.is_terminal:
            raise IllegalTransition(self.client_order_id, self.state, "never_placed")
        self._end(OrderState.REJECTED, NEVER_PLACED)
        self.updated_ts_ns = ts_ns

    # ------------------------------------------------------------ internals

    def _trade(self, trade_id: str, qty: int, price: int, fee: Decimal, fee_asset: str,
               liquidity: Liquidity | None, ts_ns: int) -> Fill | None:
        if qty <= 0 or (trade_id and trade_id in self.trade_ids):
            self.ignored_reports += 1  # a duplicate, or out of order: its quantity is already counted
            return None
        if self.final_cum_qty is not None and self.cum_qty + qty > self.final_cum_qty:
            self.ignored_reports += 1  # the venue's final quantity is already booked (an inferred fill covered it)
            return None
        if self.cum_qty + qty > self.qty:
            raise IllegalTransition(
                self.client_order_id, self.state, f"TRADE of {qty} with {self.cum_qty} filled, over qty={self.qty}")
        self.acknowledged = True
        if trade_id:
            self.trade_ids.add(trade_id)
        self.cum_qty += qty
        self.venue_cum_qty = max(self.venue_cum_qty, self.cum_qty)
        self.filled_value += price * qty
        self.updated_ts_ns = max(self.updated_ts_ns, ts_ns)
        if fee_asset:
            with localcontext(EXACT):
                self.fees[fee_asset] = self.fees.get(fee_asset, Decimal(0)) + fee
        if self.cum_qty == self.qty:
            self._final(self.qty)
            self._end(OrderState.FILLED, "")
        elif self.state is OrderState.PENDING or self.unknown_of is RequestKind.NEW or \
                self.state is OrderState.SUBMITTED:
            self.state, self.unknown_of = OrderState.PARTIALLY_FILLED, None
        return Fill(
            client_order_id=self.client_order_id, parent_id=self.parent_id, venue=self.venue,
            instrument=self.instrument, side=self.side, qty=qty, price=price, fee=fee, fee_asset=fee_asset,
            liquidity=liquidity or Liquidity.TAKER,  # a venue that does not say is counted as the costlier
            ts_ns=ts_ns, signal_mid_x2=self.signal_mid_x2, trade_id=trade_id,
        )

    def _record(self, venue_order_id: str, cum_qty: int, ts_ns: int) -> None:
        if venue_order_id and not self.venue_order_id:
            self.venue_order_id = venue_order_id
        if self.final_cum_qty is not None:  # the venue's last word on the order bounds what any report says
            cum_qty = min(cum_qty, self.final_cum_qty)
        self.venue_cum_qty = max(self.venue_cum_qty, cum_qty)
        self.updated_ts_ns = max(self.updated_ts_ns, ts_ns)

    def _final(self, cum_qty: int) -> None:
        cum_qty = max(cum_qty, self.cum_qty)
        if self.final_cum_qty is None or cum_qty > self.final_cum_qty:
            self.final_cum_qty = cum_qty

    def _end(self, state: OrderState, reason: str) -> None:
        self.state, self.unknown_of, self.reason = state, None, reason

    def _back_from_cancel(self) -> None:
        if self.before_cancel is OrderState.UNKNOWN:
            self.state, self.unknown_of = OrderState.UNKNOWN, RequestKind.NEW
        else:
            self.state, self.unknown_of = self._working_state(), None

    def _working_state(self) -> OrderState:
        if self.cum_qty:
            return OrderState.PARTIALLY_FILLED
        return OrderState.SUBMITTED if self.acknowledged else OrderState.PENDING


@dataclass(slots=True)
class OrderCounters:
    """What the order table saw besides its orders' states, for the run report."""
    ignored_reports: int = 0   # duplicates, stale reports, reports after a terminal state
    unknown_reports: int = 0   # reports for a client order id we never created

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class OrderTable:
    """All our orders by client order id, the open ones per instrument, and their counters.

    Client order ids are `<prefix>-<run>-<n>`: `run` is the journal's run id, so ids are never reused across
    runs on one account, and `n` counts this run's orders from 1, so a replay's ids are deterministic. An order
    keeps its id for every request about it. A child order is created once, whatever number of times it is
    handed over: its `child_id` is its key.
    """

    __slots__ = ("prefix", "run_id", "_next_seq", "_orders", "_by_child", "_open", "counters")

    def __init__(self, prefix: str, run_id: int = 1):
        if not prefix or not CLIENT_ORDER_ID.fullmatch(f"{prefix}-{run_id}-1"):
            raise ValueError(f"prefix {prefix!r} does not give valid client order ids")
        self.prefix = prefix
        self.run_id = run_id
        self._next_seq = 1
        self._orders: dict[str, Order] = {}
        self._by_child: dict[str, Order] = {}
        self._open: dict[str, dict[str, Order]] = {}  # instrument → client order id → order, in creation order
        self.counters = OrderCounters()

    def begin_run(self, run_id: int) -> None:
        """Give the orders created from now on the ids of run `run_id`, counting from 1."""
        self.run_id = run_id
        self._next_seq = 1

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        return len(self._orders)

    def owns(self, client_order_id: str) -> bool:
        """Whether the id has the shape of ours (any run), known here or not."""
        if not client_order_id.startswith(f"{self.prefix}-"):
            return False
        run, dash, n = client_order_id[len(self.prefix) + 1:].partition("-")
        return bool(dash) and run.isdigit() and n.isdigit()

    def states(self) -> dict[str, int]:
        """How many orders are in each state, by state name, sorted."""
        counts: dict[str, int] = {}
        for order in self._orders.values():
            counts[order.state.value] = counts.get(order.state.value, 0) + 1
        return dict(sorted(counts.items()))

    def find_child(self, child_id: str) -> Order | None:
        return self._by_child.get(child_id) if child_id else None

    def create(self, child: ChildOrder, ts_ns: int) -> Order:
        """A new pending order for `child`, under the next client order id of this run."""
        client_order_id = f"{self.prefix}-{self.run_id}-{self._next_seq}"
        if not CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise ValueError(f"client order id {client_order_id!r} breaks the venue's rule")
        self._next_seq += 1
        order = Order(client_order_id, child, created_ts_ns=ts_ns)
        self._add(order)
        if child.child_id:
            self._by_child[child.child_id] = order
        return order

    def adopt(self, venue: VenueOrderState, ts_ns: int) -> Order:
        """An order of ours the venue holds and this table did not (its record was lost): take the venue's.

        The venue's account carries no order type: it is kept as a limit order, which only matters for display.
        """
        child = ChildOrder(parent_id="", venue="", instrument=venue.instrument, side=venue.side, qty=venue.qty,
                           price=venue.price, order_type=OrderType.LIMIT, tif=TimeInForce.GTC, ts_ns=ts_ns,
                           signal_mid_x2=0)
        order = Order(venue.client_order_id, child, created_ts_ns=ts_ns)
        self._add(order)
        return order

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def apply(self, report: ExecutionReport) -> Fill | None:
        """Apply a venue report to its order; return the fill it adds, if any. Raises `IllegalTransition`."""
        order = self._orders.get(report.client_order_id)
        if order is None:
            self.counters.unknown_reports += 1
            return None
        return self.changed(order, order.apply, report)

    def changed(self, order: Order, step: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run `step(*args)` on `order` and keep the open set and the counters in line with what it did."""
        ignored_before = order.ignored_reports
        try:
            return step(*args, **kwargs)
        finally:
            self.counters.ignored_reports += order.ignored_reports - ignored_before
            self._reindex(order)

    def open_orders(self, instrument: str | None = None) -> list[Order]:
        """Non-terminal orders (of `instrument`, or of all), oldest first."""
        if instrument is not None:
            return list(self._open.get(instrument, {}).values())
        return [order for orders in self._open.values() for order in orders.values()]

    def instruments(self) -> list[str]:
        return sorted({order.instrument for order in self._orders.values()})

    def _add(self, order: Order) -> None:
        if order.client_order_id in self._orders:
            raise ValueError(f"order {order.client_order_id} exists already")
        self._orders[order.client_order_id] = order
        self._open.setdefault(order.instrument, {})[order.client_order_id] = order

    def _reindex(self, order: Order) -> None:
        open_here = self._open.setdefault(order.instrument, {})
        was_open = order.client_order_id in open_here
        if order.state.is_terminal and was_open:
            del open_here[order.client_order_id]
        elif not order.state.is_terminal and not was_open:
            open_here[order.client_order_id] = order   # reopened: the venue still had it
