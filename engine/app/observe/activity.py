"""What the engine did, folded from its journal as it happens: the figures of the metrics endpoint and its health
that no runtime counter holds (orders, fills, acknowledgement latency, venue errors, reconciliation, the kill
switch).

The journal hands every durable entry to its subscribers; the metrics task folds them here a batch at a time, so
nothing on the trading path waits for a figure. Pure: entries in, counts out, no clock and no IO. Latencies are
differences of the journal's own times (the run's clock), so a replay's are in market time.
"""
from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Mapping

from engine.messages import (ExecType, ExecutionReport, Fill, JournalEntry, OperatorCommand, OrderUpdate,
                             ReconcileReply, RequestFailed, RiskRejection, TradingMode, TradingStateChanged,
                             VenueSession)
from engine.model.orders import OrderState

WATCHED = (OrderUpdate, ExecutionReport, Fill, RequestFailed, ReconcileReply, VenueSession, TradingStateChanged,
           OperatorCommand, RiskRejection)
"""The journal entries the fold reads."""

ACK_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the order-ack latency histogram, in seconds: from a loopback venue's sub-millisecond answer
to a venue that takes its `ack_timeout`."""

_TERMINAL = frozenset(state.value for state in OrderState if state.is_terminal)


class AckLatency:
    """One venue's order-ack latencies as a cumulative histogram (Prometheus' shape): counts per upper bound."""

    def __init__(self) -> None:
        self.buckets = [0] * len(ACK_BUCKETS_S)
        self.count = 0
        self.sum_ns = 0

    def add(self, latency_ns: int) -> None:
        self.count += 1
        self.sum_ns += latency_ns
        seconds = latency_ns / 1e9
        for i, bound in enumerate(ACK_BUCKETS_S):
            if seconds <= bound:
                self.buckets[i] += 1

    def cumulative(self) -> list[tuple[str, int]]:
        return [*((repr(bound), n) for bound, n in zip(ACK_BUCKETS_S, self.buckets)), ("+Inf", self.count)]


class Activity:
    """The fold of one run's journal entries (`take`); `run_id` tells this run's entries from a resumed journal's
    earlier ones, which the journal does not hand out again anyway."""

    def __init__(self, venue: str, instruments: Mapping[str, Any], run_id: int):
        self.venue = venue
        self.instruments = instruments
        self.run_id = run_id
        self.orders: Counter[tuple[str, str]] = Counter()          # (venue, instrument) → orders created
        self.ordered: Counter[str] = Counter()                     # instrument → quantity ordered (fixed-point)
        self.filled: Counter[str] = Counter()                      # instrument → quantity filled (fixed-point)
        self.fills: Counter[tuple[str, str, str]] = Counter()      # (venue, instrument, liquidity) → fills
        self.errors: Counter[tuple[str, str]] = Counter()          # (venue, class) → errors
        self.rejections: Counter[str] = Counter()                  # risk rule → signals refused
        self.operator: Counter[tuple[str, str]] = Counter()        # (action, source) → commands
        self.ack: dict[str, AckLatency] = {}                       # venue → its ack latencies
        self.mode = TradingMode.ACTIVE
        self.mode_cause = ""
        self.reconciled: dict[str, bool] = dict.fromkeys(instruments, False)
        self.last_venue_error = ""
        self._created: dict[str, int] = {}                         # open client order id → when it was created
        self._acked: set[str] = set()                              # open orders the venue has acknowledged

    @property
    def open_orders(self) -> int:
        return len(self._created)

    def fill_ratio(self, instrument: str) -> float:
        """Quantity filled over quantity ordered (0 before any order): a figure for a gauge, not an account."""
        ordered = self.ordered[instrument]
        return float(Decimal(self.filled[instrument]) / Decimal(ordered)) if ordered else 0.0

    def take(self, entries: list[JournalEntry]) -> None:
        for entry in entries:
            msg = entry.msg
            kind = type(msg)
            if kind is OrderUpdate:
                self._order(msg, entry.ts_ns)
            elif kind is ExecutionReport:
                self._report(msg, entry.ts_ns)
            elif kind is Fill:
                self.fills[msg.venue, msg.instrument, msg.liquidity.value] += 1
                self.filled[msg.instrument] += msg.qty
            elif kind is RequestFailed:
                self.errors[msg.venue, f"request_{msg.failure.value}"] += 1
            elif kind is ReconcileReply:
                self._reconciled(msg)
            elif kind is VenueSession:   # the order stream (re)started: the order manager reconciles again
                self.reconciled = dict.fromkeys(self.instruments, False)
            elif kind is TradingStateChanged:
                self.mode, self.mode_cause = msg.mode, msg.cause
            elif kind is OperatorCommand:
                self.operator[msg.action.value, msg.source] += 1
            elif kind is RiskRejection:
                self.rejections[msg.rule] += 1

    def _order(self, msg: OrderUpdate, ts_ns: int) -> None:
        coid = msg.client_order_id
        if coid not in self._created and msg.state not in _TERMINAL:
            self._created[coid] = ts_ns
            self.orders[self.venue, msg.instrument] += 1
            self.ordered[msg.instrument] += msg.qty
        elif msg.state in _TERMINAL:
            self._created.pop(coid, None)
            self._acked.discard(coid)

    def _report(self, msg: ExecutionReport, ts_ns: int) -> None:
        coid = msg.client_order_id
        if msg.exec_type is ExecType.REJECTED:
            self.errors[msg.venue, "order_rejected"] += 1
        if msg.exec_type in (ExecType.NEW, ExecType.TRADE) and coid not in self._acked:
            created = self._created.get(coid)
            if created is not None:   # a fill with no NEW before it is its own ack, as the report counts it
                self._acked.add(coid)
                self.ack.setdefault(msg.venue, AckLatency()).add(max(ts_ns - created, 0))

    def _reconciled(self, msg: ReconcileReply) -> None:
        if msg.error:
            self.errors[msg.venue, "reconcile_unanswered"] += 1
            self.last_venue_error = msg.error
        elif msg.instrument in self.reconciled:
            self.reconciled[msg.instrument] = True
