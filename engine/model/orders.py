"""The order state machine and the table of our orders (venues.md §0.2).

The order manager is the only writer of order state, and this module is its functional core: no trio, no IO.
An `Order` moves through the common states on the venue's execution reports and on two local events (a cancel
was sent, a cancel was refused):

    pending ──NEW──▶ submitted ──TRADE──▶ partially_filled ──TRADE──▶ filled
      (a TRADE before the NEW moves pending straight on to partially_filled or filled)
    working ──request_cancel──▶ cancelling ──CANCELED──▶ cancelled   (a cancelled order may have fills)
    cancelling ──cancel_rejected──▶ back to its working state;  ──TRADE of the rest──▶ filled
    any non-terminal ──CANCELED / EXPIRED──▶ cancelled / expired;  ──REJECTED──▶ rejected, only before any ack

(working = pending, submitted or partially_filled.)

Fills are derived only from increases of the venue's cumulative filled quantity (`cum_qty`, authoritative), so a
duplicated, replayed or out-of-order report can never count a fill twice. A report that arrives after a terminal
state is ignored and counted, with one exception: a cancel or expiry report can announce fills whose TRADE report
has not arrived yet (two sources racing, e.g. a REST response and the user stream), and that late TRADE is still
accepted up to the quantity the venue announced, because cumulative fills are what position accounting trusts.
"""
from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from fractions import Fraction

from engine.messages import (
    CancelRequest,
    ChildOrder,
    ExecType,
    ExecutionReport,
    Exposure,
    Fill,
    Liquidity,
    NewOrderRequest,
    OrderUpdate,
    Side,
)
from engine.model.numbers import Instrument, to_decimal

_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
"""Money sums here must never round: a result that would need rounding raises instead."""

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

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED})


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
        "client_order_id", "parent_id", "venue", "instrument", "side", "qty", "price", "order_type", "tif",
        "signal_mid_x2", "state", "acknowledged", "cum_qty", "venue_cum_qty", "filled_value", "fees",
        "created_ts_ns", "updated_ts_ns", "venue_order_id", "ignored_reports",
    )

    def __init__(self, client_order_id: str, child: ChildOrder):
        self.client_order_id = client_order_id
        self.parent_id = child.parent_id
        self.venue = child.venue
        self.instrument = child.instrument
        self.side = child.side
        self.qty = child.qty
        self.price = child.price
        self.order_type = child.order_type
        self.tif = child.tif
        self.signal_mid_x2 = child.signal_mid_x2
        self.state = OrderState.PENDING
        self.acknowledged = False          # the venue has shown it knows the order (NEW or a TRADE)
        self.cum_qty = 0                   # filled quantity we hold fills for
        self.venue_cum_qty = 0             # highest cumulative quantity the venue has stated
        self.filled_value = 0              # sum of price * qty over our fills, in price×qty units
        self.fees: dict[str, Decimal] = {}  # by asset
        self.created_ts_ns = child.ts_ns
        self.updated_ts_ns = child.ts_ns
        self.venue_order_id = ""
        self.ignored_reports = 0           # duplicates, stale reports and reports after a terminal state

    @property
    def open_qty(self) -> int:
        """Quantity still working at the venue (0 once terminal)."""
        return 0 if self.state.is_terminal else self.qty - self.cum_qty

    @property
    def missing_qty(self) -> int:
        """Fills the venue announced but whose TRADE report we have not seen; above 0 means reconcile."""
        return self.venue_cum_qty - self.cum_qty

    def average_price(self, instrument: Instrument) -> Decimal | None:
        """Volume-weighted fill price, rounded half-even to `price_decimals + qty_decimals` places; None unfilled."""
        if self.cum_qty == 0:
            return None
        scaled = round(Fraction(self.filled_value * 10 ** instrument.qty_decimals, self.cum_qty))
        return to_decimal(scaled, instrument.price_decimals + instrument.qty_decimals)

    def new_request(self) -> NewOrderRequest:
        """The placement request; always the same for the same order, so a resend is idempotent."""
        return NewOrderRequest(
            client_order_id=self.client_order_id, venue=self.venue, instrument=self.instrument, side=self.side,
            qty=self.qty, price=self.price, order_type=self.order_type, tif=self.tif, ts_ns=self.created_ts_ns,
        )

    def as_update(self) -> OrderUpdate:
        return OrderUpdate(
            client_order_id=self.client_order_id, parent_id=self.parent_id, instrument=self.instrument,
            side=self.side, state=self.state.value, qty=self.qty, cum_qty=self.cum_qty, ts_ns=self.updated_ts_ns,
        )

    # ------------------------------------------------------------ events

    def apply(self, report: ExecutionReport) -> Fill | None:
        """Apply one venue report; return the fill it adds, if any. Raises `IllegalTransition`."""
        if report.client_order_id != self.client_order_id:
            raise ValueError(f"report for {report.client_order_id} applied to order {self.client_order_id}")
        kind = report.exec_type
        if self.state.is_terminal:
            if kind is ExecType.TRADE and self.cum_qty < report.cum_qty <= self.venue_cum_qty:
                return self._fill(report)
            self.ignored_reports += 1
            return None
        if kind is ExecType.TRADE:
            return self._trade(report)
        if kind is ExecType.NEW:
            self.acknowledged = True
            self._record(report)
            if self.state is OrderState.PENDING:
                self.state = OrderState.SUBMITTED
            else:
                self.ignored_reports += 1  # a duplicate, or an ack overtaken by a fill or a cancel request
            return None
        if kind is ExecType.REJECTED and self.acknowledged:
            raise IllegalTransition(self.client_order_id, self.state, "REJECTED after the venue acknowledged")
        self._record(report)
        self.state = _TERMINAL_BY_EXEC_TYPE[kind]
        return None

    def request_cancel(self, ts_ns: int) -> CancelRequest:
        """A cancel is being sent: the order enters `cancelling`."""
        if self.state is OrderState.CANCELLING or self.state.is_terminal:
            raise IllegalTransition(self.client_order_id, self.state, "request_cancel")
        self.state = OrderState.CANCELLING
        self.updated_ts_ns = ts_ns
        return CancelRequest(
            client_order_id=self.client_order_id, venue=self.venue, instrument=self.instrument, ts_ns=ts_ns,
        )

    def cancel_rejected(self, ts_ns: int) -> None:
        """The venue refused our cancel: back to the working state, unless the order already ended."""
        if self.state.is_terminal:
            self.ignored_reports += 1  # the cancel lost the race with a fill or an expiry
            return
        if self.state is not OrderState.CANCELLING:
            raise IllegalTransition(self.client_order_id, self.state, "cancel_rejected")
        self.state = self._working_state()
        self.updated_ts_ns = ts_ns

    # ------------------------------------------------------------ internals

    def _trade(self, report: ExecutionReport) -> Fill | None:
        if report.cum_qty <= self.cum_qty:
            self.ignored_reports += 1  # duplicate or out of order: its quantity is already counted
            return None
        if report.cum_qty > self.qty:
            raise IllegalTransition(
                self.client_order_id, self.state, f"TRADE cum_qty={report.cum_qty} over qty={self.qty}")
        self.acknowledged = True
        fill = self._fill(report)
        if self.cum_qty == self.qty:
            self.state = OrderState.FILLED
        elif self.state is not OrderState.CANCELLING:
            self.state = OrderState.PARTIALLY_FILLED
        return fill

    def _fill(self, report: ExecutionReport) -> Fill:
        """The fill for this report's increase of cum_qty.

        In order, the increase is the report's own quantity. If an earlier report was lost or arrives later, the
        increase covers it too, at this report's price and fee: quantities stay exact, that price and fee approximate.
        """
        qty = report.cum_qty - self.cum_qty
        self._record(report)
        self.cum_qty = report.cum_qty
        self.filled_value += report.last_price * qty
        if report.fee_asset:
            with localcontext(_EXACT):
                self.fees[report.fee_asset] = self.fees.get(report.fee_asset, Decimal(0)) + report.fee
        return Fill(
            client_order_id=self.client_order_id, parent_id=self.parent_id, venue=self.venue,
            instrument=self.instrument, side=self.side, qty=qty, price=report.last_price, fee=report.fee,
            fee_asset=report.fee_asset,
            liquidity=report.liquidity or Liquidity.TAKER,  # a venue that does not say is counted as the costlier
            ts_ns=report.ts_ns, signal_mid_x2=self.signal_mid_x2,
        )

    def _record(self, report: ExecutionReport) -> None:
        if report.venue_order_id and not self.venue_order_id:
            self.venue_order_id = report.venue_order_id
        self.venue_cum_qty = max(self.venue_cum_qty, report.cum_qty)
        self.updated_ts_ns = report.ts_ns

    def _working_state(self) -> OrderState:
        if not self.acknowledged:
            return OrderState.PENDING
        return OrderState.PARTIALLY_FILLED if self.cum_qty else OrderState.SUBMITTED


_TERMINAL_BY_EXEC_TYPE = {
    ExecType.CANCELED: OrderState.CANCELLED,
    ExecType.EXPIRED: OrderState.EXPIRED,
    ExecType.REJECTED: OrderState.REJECTED,
}



@dataclass(slots=True)
class OrderCounters:
    """What happened to our orders since start, for the metrics endpoint and the run report."""
    created: int = 0
    filled: int = 0
    cancelled: int = 0
    rejected: int = 0
    expired: int = 0
    fills: int = 0
    ignored_reports: int = 0   # duplicates, stale reports, reports after a terminal state
    unknown_reports: int = 0   # reports for a client order id we never created

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_OUTCOME_COUNTER = {
    OrderState.FILLED: "filled",
    OrderState.CANCELLED: "cancelled",
    OrderState.REJECTED: "rejected",
    OrderState.EXPIRED: "expired",
}


class OrderTable:
    """All our orders by client order id, the open ones per instrument, and their counters.

    Client order ids are `<prefix>-<n>` with `n` counting from `first_seq`: deterministic in a replay, and
    idempotent because an order keeps its id for every resend. Give each session its own prefix (or a
    `first_seq` past the journal's last) so that ids are never reused across restarts.
    """

    __slots__ = ("prefix", "_next_seq", "_orders", "_open", "counters")

    def __init__(self, prefix: str, first_seq: int = 1):
        if not prefix or not CLIENT_ORDER_ID.fullmatch(f"{prefix}-{first_seq}"):
            raise ValueError(f"prefix {prefix!r} does not give valid client order ids")
        self.prefix = prefix
        self._next_seq = first_seq
        self._orders: dict[str, Order] = {}
        self._open: dict[str, dict[str, Order]] = {}  # instrument → client order id → order, in creation order
        self.counters = OrderCounters()

    def create(self, child: ChildOrder) -> Order:
        """A new pending order for `child`, under the next client order id."""
        client_order_id = f"{self.prefix}-{self._next_seq}"
        if not CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise ValueError(f"client order id {client_order_id!r} breaks the venue's rule")
        self._next_seq += 1
        order = Order(client_order_id, child)
        self._orders[client_order_id] = order
        self._open.setdefault(child.instrument, {})[client_order_id] = order
        self.counters.created += 1
        return order

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def apply(self, report: ExecutionReport) -> Fill | None:
        """Apply a venue report to its order; return the fill it adds, if any. Raises `IllegalTransition`."""
        order = self._orders.get(report.client_order_id)
        if order is None:
            self.counters.unknown_reports += 1
            return None
        was_terminal = order.state.is_terminal
        ignored_before = order.ignored_reports
        fill = order.apply(report)
        self.counters.ignored_reports += order.ignored_reports - ignored_before
        if fill is not None:
            self.counters.fills += 1
        if order.state.is_terminal and not was_terminal:
            self._close(order)
        return fill

    def request_cancel(self, client_order_id: str, ts_ns: int) -> CancelRequest:
        """Move the order to `cancelling` and return the request to send. Raises KeyError, `IllegalTransition`."""
        return self._orders[client_order_id].request_cancel(ts_ns)

    def cancel_rejected(self, client_order_id: str, ts_ns: int) -> None:
        order = self._orders[client_order_id]
        ignored_before = order.ignored_reports
        order.cancel_rejected(ts_ns)
        self.counters.ignored_reports += order.ignored_reports - ignored_before

    def open_orders(self, instrument: str) -> list[Order]:
        """Non-terminal orders of `instrument`, oldest first."""
        return list(self._open.get(instrument, {}).values())

    def exposure(self, instrument: str, position: int, ts_ns: int) -> Exposure:
        """The exposure message for `instrument`: the caller's position plus our open quantity per side."""
        open_buy = open_sell = 0
        for order in self._open.get(instrument, {}).values():
            if order.side is Side.BUY:
                open_buy += order.open_qty
            else:
                open_sell += order.open_qty
        return Exposure(instrument=instrument, ts_ns=ts_ns, position=position,
                        open_buy_qty=open_buy, open_sell_qty=open_sell)

    def _close(self, order: Order) -> None:
        del self._open[order.instrument][order.client_order_id]
        name = _OUTCOME_COUNTER[order.state]
        setattr(self.counters, name, getattr(self.counters, name) + 1)

