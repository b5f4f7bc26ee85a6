"""The order manager's decisions: the whole order lifecycle, as a pure object the actor feeds and journals.

Every message the order manager acts on goes through `handle(msg, now, out)`, which changes the order table
and writes into `out` what must follow: requests for the venue, facts for the journal (order updates, fills,
reconciliation findings), timers, and news for the session. Because the decisions depend on nothing but the
messages and their times, the journal of the messages is enough to rebuild the table after a crash or a
kill: `rebuild` hands them over again and drops what they would send.

What it decides, besides applying the venue's reports:

- **Nothing before reconciliation.** At start (`OrderManagerStarted`), and after the order stream (re)starts
  (`VenueSession`), it asks the venue for its account of our orders of each instrument; child orders wait (the
  actor defers them in its mailbox) until the answer is in and applied. A cancel its predecessor decided may
  never have left: at start every cancel in flight becomes unknown, and one the venue did not carry out is
  sent again.
- **Unknown outcomes are asked about, never resent.** A create without an ack in time, or any request whose
  outcome the venue did not state, moves the order to `unknown`, and the venue is asked about it by client
  order id, again every `requery` interval, until its answer or its stream settles it. A create the venue
  does not know once its validity window (`recv_window`) has passed never reached it: it is rejected.
- **Fills found by reconciliation are booked once**, under the venue's trade id; the rest of a terminal order's
  quantity that the venue executed but cannot list is booked as one inferred fill under a deterministic id.
- **Orders that outlived their purpose are cancelled**: a working order on the other side of a newer parent (the
  strategy changed its mind), a resting order past its time to live, and a passive order the market has left
  (cancelled, then its remainder placed again at the touch, never beyond the parent's limit). A cancel whose
  answer does not come is asked about like a create.
- **Protective orders** (`engine.model.protection`): an entry asking for protection arms it once it has filled;
  native legs are placed as the venue's own stop and take-profit orders, emulated ones are watched on the views
  and, triggered (`ProtectionTrigger`, journaled as an input), placed as market or limit orders (a trailing stop's
  moves are journaled too, `ProtectionTrail`, so that a rebuild trails on from where it was); a leg that
  fills or triggers ends its OCO pair. Any child order may be reduce-only (refused with no position to reduce,
  shrunk to it) or post-only (`LIMIT_MAKER`: the venue's own where it has it, else refused here if it would
  take and sent as a resting limit).
- **Quotes kept working.** A quoting strategy's approved quotes (`QuoteIntent`) are kept as one post-only order
  per side, cancelled and placed again as the wanted quotes change, never crossing our own orders
  (`engine.model.quoting`); a side that had to wait is placed once what was in its way has ended.
- **A clean end.** `CancelAll` cancels every working order with the venue's cancel-all, refuses new ones when
  it halts, and says `OrdersSettled` once no order is working or unresolved. An authentication error stops
  order entry and tells the session the run cannot go on (`RunFailure`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from engine.messages import (
    BookView,
    CancelAll,
    CancelAllRequest,
    CancelOrder,
    ChildOrder,
    ExecType,
    OrderType,
    ProtectionTrail,
    ProtectionTrigger,
    ExecutionReport,
    QuoteIntent,
    FailureClass,
    Fill,
    OrderManagerStarted,
    OrdersSettled,
    ProtectionEvent,
    ReconcileFinding,
    ReconcileReply,
    ReconcileRequest,
    RequestFailed,
    RequestKind,
    RunFailure,
    Side,
    TimeInForce,
    TimerFired,
    VenueOrderState,
    VenueOrderStatus,
    VenueSession,
)
from engine.model.orders import IllegalTransition, Order, OrderState, OrderTable
from engine.model.protection import Effects, ProtectionPolicy, Protector, post_only_crosses, reduce_only_qty
from engine.model.quoting import plan_quotes

_P = ParamSpec("_P")
_R = TypeVar("_R")

log = logging.getLogger("engine.orders")

_MS = 1_000_000
_CHASED = (OrderType.LIMIT, OrderType.LIMIT_MAKER)
"""Order types a passive order's chase re-places (a stop waits for its trigger, not the touch)."""
INFER_AFTER_QUERIES = 3
"""A venue that still cannot list an ended order's trades after this many answers gets its quantity inferred."""


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    """The order manager's timings and policies (`[execution]` in a scenario), in nanoseconds of the clock."""
    ack_timeout_ns: int = 5_000 * _MS
    recv_window_ns: int = 5_000 * _MS
    requery_ns: int = 1_000 * _MS
    reconcile_timeout_ns: int = 5_000 * _MS
    order_ttl_ns: int = 0     # cancel a resting order older than this (0: never)
    chase_ticks: int = 0      # re-place a passive order once the touch is this many ticks past it (0: never)
    tick_size: dict[str, int] = field(default_factory=dict)
    protection: ProtectionPolicy = ProtectionPolicy()   # native or emulated protective orders, and post-only


class Decisions:
    """What handling one message decided; the actor journals `journal` and then sends the rest."""
    __slots__ = ("venue", "journal", "timers", "control", "restore_deferred")

    def __init__(self) -> None:
        self.venue: list[Any] = []
        self.journal: list[Any] = []
        self.timers: list[TimerFired] = []
        self.control: list[Any] = []
        self.restore_deferred = False


class _Nowhere(list[Any]):
    """A list that keeps nothing: where a rebuild's decisions go (they were sent when first decided)."""

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


class _Discarded(Decisions):
    __slots__ = ()

    def __init__(self) -> None:
        self.venue = self.journal = self.timers = self.control = _Nowhere()
        self.restore_deferred = False


INPUTS = (ChildOrder, QuoteIntent, ExecutionReport, RequestFailed, ReconcileReply, VenueSession, TimerFired, CancelOrder,
          CancelAll, OrderManagerStarted, ProtectionTrigger, ProtectionTrail)
"""The messages the order manager journals as it takes them: replayed in order, they rebuild its table."""


@dataclass(slots=True)
class _Query:
    instrument: str
    client_order_ids: tuple[str, ...]     # empty: a full reconciliation of the instrument


class OrderManager:
    """The order table and every decision about it."""

    def __init__(self, table: OrderTable, instruments: list[str], venue: str, settings: ExecutionSettings,
                 since_ns: int = 0):
        self.table = table
        self.instruments = list(instruments)
        self.venue = venue
        self.settings = settings
        self.since_ns = since_ns                   # the journal's first run began here
        self.halted = False
        self.settling = False
        self.refused_children = 0
        self.illegal_reports = 0
        self.foreign_reports = 0
        self._ready: dict[str, bool] = dict.fromkeys(self.instruments, False)
        self._queries: dict[str, _Query] = {}
        self._next_request = 1
        self._asked: dict[str, int] = {}           # client order id → answers that could not list its trades
        self._replacing: dict[str, str] = {}       # client order id being cancelled → why it will be re-placed
        self._settled_said = False
        self._touch: dict[str, BookView] = {}
        self._cancel_again: set[str] = set()       # cancels a predecessor decided: sent again if still open
        self.positions: dict[str, int] = {}        # instrument → net filled quantity of our orders
        self.protector = Protector(settings.protection, settings.tick_size)
        self._quotes_wanted: dict[str, QuoteIntent] = {}       # instrument → the quotes to keep working
        self._quote_orders: dict[str, dict[Side, Order]] = {}  # instrument → the last quote order of each side
        self.quotes_held = 0                                   # sides held back by self-trade prevention
        self._filled_at_quotes: dict[str, int] = {}   # instrument → its position when the wanted quotes came

    # ------------------------------------------------------------ the actor's entry points

    def must_wait(self, msg: Any) -> bool:
        """A child order (or quotes) waits while its instrument's account is being reconciled."""
        return (type(msg) is ChildOrder or type(msg) is QuoteIntent) and not self._ready.get(msg.instrument, True)

    def handle(self, msg: Any, now: int, out: Decisions) -> None:
        kind = type(msg)
        if kind is ExecutionReport:
            self._on_report(msg, now, out)
        elif kind is ChildOrder:
            self._on_child(msg, now, out)
        elif kind is TimerFired:
            self._on_timer(msg, now, out)
        elif kind is ReconcileReply:
            self._on_reply(msg, now, out)
        elif kind is RequestFailed:
            self._on_failure(msg, now, out)
        elif kind is VenueSession:
            self.reconcile_all(now, out)
        elif kind is OrderManagerStarted:
            self._on_started(now, out)
        elif kind is CancelOrder:
            order = self.table.get(msg.client_order_id)
            if order is not None:
                self._cancel(order, now, out, msg.reason)
        elif kind is CancelAll:
            self._cancel_all(msg, now, out)
        elif kind is ProtectionTrigger:
            if not self.halted:
                self._apply(self.protector.trigger(msg, self._position_of_group(msg.group_id), now), now, out)
        elif kind is ProtectionTrail:
            self.protector.trail(msg)
        elif kind is QuoteIntent:
            self._on_quotes(msg, now, out)
        if self._quotes_wanted and kind is not QuoteIntent:   # an order may have ended: a held side may go now
            for instrument in sorted(self._quotes_wanted):
                self._requote(instrument, now, out)
        self._say_if_settled(now, out)

    def on_view(self, view: BookView, now: int) -> list[CancelOrder | ProtectionTrail | ProtectionTrigger]:
        """What a new view calls for: the emulated protective legs it triggers, and the cancels of passive orders
        the touch has left by `chase_ticks` or more."""
        self._touch[view.instrument] = view
        if self.halted:
            return []
        decided: list[CancelOrder | ProtectionTrail | ProtectionTrigger] = []
        if self.protector.groups:
            decided.extend(self.protector.on_view(view, now))
        ticks = self.settings.chase_ticks
        if not ticks:
            return decided
        step = ticks * self.settings.tick_size.get(view.instrument, 1)
        cancels = decided
        for order in self.table.open_orders(view.instrument):
            if order.tif is not TimeInForce.GTC or not order.is_working or order.client_order_id in self._replacing \
                    or order.order_type not in _CHASED or self.protector.is_leg(order.client_order_id):
                continue
            touch = view.best_bid if order.side is Side.BUY else view.best_ask
            if touch is None:
                continue
            left = touch - order.price if order.side is Side.BUY else order.price - touch
            if left >= step:
                cancels.append(CancelOrder(order.client_order_id, now, "chase"))
        return cancels

    def wants_views(self) -> bool:
        """Whether a new view could call for a decision: an emulated protective leg waits for its trigger, or a
        passive order rests and chasing is on."""
        return self.protector.watching() or bool(self.settings.chase_ticks) and any(
            order.tif is TimeInForce.GTC and order.is_working for order in self.table.open_orders())

    def reconcile_all(self, now: int, out: Decisions) -> None:
        """Ask the venue for its account of every instrument; child orders wait until it is applied."""
        for instrument in self.instruments:
            self._ready[instrument] = False
            self._ask(instrument, (), now, out)

    def _on_started(self, now: int, out: Decisions) -> None:
        """A new incarnation: its predecessor's cancels in flight are unknown; then reconcile everything."""
        for order in self.table.open_orders():
            if order.state is OrderState.CANCELLING:
                self._step(order, now, out, order.outcome_unknown, RequestKind.CANCEL, now)
                self._cancel_again.add(order.client_order_id)
        self.reconcile_all(now, out)

    def new_run(self) -> None:
        """Forget what belonged to the previous run (its halt, its requests in flight): its orders stay."""
        self.halted = self.settling = self._settled_said = False
        self._quotes_wanted.clear()
        self._queries.clear()
        self._replacing.clear()
        self._ready = dict.fromkeys(self.instruments, False)

    def rebuild(self, entries: Any, run_id: int) -> int:
        """Replay journaled inputs (oldest first), each under its own run; returns how many. The table is left
        in run `run_id`, and nothing counts as reconciled: the caller reconciles before it trades."""
        table = self.table
        count = 0
        nowhere = _Discarded()
        for entry in entries:
            if entry.run_id != table.run_id:
                self.new_run()
                table.begin_run(entry.run_id)
            self.handle(entry.msg, entry.ts_ns, nowhere)
            count += 1
        if table.run_id != run_id:
            self.new_run()
            table.begin_run(run_id)
        self._ready = dict.fromkeys(self.instruments, False)
        self._queries.clear()
        return count

    # ------------------------------------------------------------ orders

    def _on_child(self, child: ChildOrder, now: int, out: Decisions, protective: bool = False) -> Order | None:
        """Create and place `child` (a protective leg's order with `protective`); the order, or None if it was
        not created (halted, or handed over again)."""
        if self.halted:
            self.refused_children += 1
            log.warning("child order %s refused: order entry is halted", child.child_id or child.parent_id)
            return None
        if self.table.find_child(child.child_id) is not None:
            return None  # handed over again after a restart: it is one order
        child, refusal = self._rules(child)
        if not protective and refusal is None:   # a refused order supersedes nothing
            for order in self.table.open_orders(child.instrument):
                if order.side is not child.side and order.parent_id != child.parent_id and \
                        not self.protector.is_leg(order.client_order_id):
                    self._cancel(order, now, out, "superseded")
            self._apply(self.protector.supersede(child.instrument, child.side, now), now, out)
        return self._place(child, refusal, now, out, protective)

    def _place(self, child: ChildOrder, refusal: tuple[str, str] | None, now: int, out: Decisions,
               protective: bool = False) -> Order:
        """Create the order of `child` as the rules left it (`_rules`): refused before it leaves, or sent."""
        order = self.table.create(child, now)
        out.journal.append(order.as_update())
        if refusal:
            out.journal.append(ProtectionEvent(order.client_order_id, order.instrument, now, refusal[0], "refused",
                                               "emulated", order.client_order_id, refusal[1]))
            refused = ExecutionReport(order.venue, order.client_order_id, "", ExecType.REJECTED, now, 0,
                                      reason=refusal[1])
            self._step(order, now, out, order.apply, refused)
            return order
        if child.protection is not None and not protective:
            self.protector.expect(order.client_order_id, child.protection)
        out.venue.append(order.new_request())
        out.timers.append(TimerFired(f"ack:{order.client_order_id}", now + self.settings.ack_timeout_ns))
        if self.settings.order_ttl_ns and order.tif is TimeInForce.GTC and not protective:
            out.timers.append(TimerFired(f"ttl:{order.client_order_id}", now + self.settings.order_ttl_ns))
        return order

    def _rules(self, child: ChildOrder) -> tuple[ChildOrder, tuple[str, str] | None]:
        """Reduce-only and emulated post-only: the child as it may be sent (shrunk to the position it reduces, a
        post-only one as a resting limit where the venue has no post-only type), or why it is refused."""
        if child.reduce_only:
            qty = reduce_only_qty(child.qty, child.side, self.positions.get(child.instrument, 0))
            if qty <= 0:
                return child, ("reduce_only", "reduce-only: no position to reduce")
            if qty < child.qty:
                child = replace(child, qty=qty)
        if child.order_type is OrderType.LIMIT_MAKER and not self.settings.protection.post_only_native():
            view = self._touch.get(child.instrument)
            if view is not None and post_only_crosses(child.side, child.price, view.best_bid, view.best_ask):
                return child, ("post_only", "post-only: would take")
            child = replace(child, order_type=OrderType.LIMIT, tif=TimeInForce.GTC)
        return child, None

    def _position_of_group(self, group_id: str) -> int:
        group = self.protector.groups.get(group_id)
        return 0 if group is None else self.positions.get(group.instrument, 0)

    def _apply(self, effects: Effects, now: int, out: Decisions) -> None:
        """Carry out what the protector asked: journal its events, cancel leg orders, place leg orders."""
        out.journal.extend(effects.events)
        for client_order_id in effects.cancel:
            order = self.table.get(client_order_id)
            if order is not None:
                self._cancel(order, now, out, "protection")
        for group, leg, child in effects.place:
            order = self._on_child(child, now, out, protective=True)
            if order is not None:
                self.protector.bind(order.client_order_id, group, leg)
                if order.state.is_terminal:   # refused before it left
                    self._apply(self.protector.leg_order_changed(order.client_order_id, order.state.value,
                                                                 order.cum_qty, now), now, out)

    def _protect(self, order: Order, now: int, out: Decisions) -> None:
        """An order changed: an entry that ended arms its protection; a leg's order moves its leg on."""
        client_order_id = order.client_order_id
        protector = self.protector
        if client_order_id in protector.wanted:
            if order.state.is_terminal:
                avg = order.filled_value // order.cum_qty if order.cum_qty else order.price
                self._apply(protector.entry_ended(
                    client_order_id, order.instrument, order.venue, order.parent_id, order.side, order.cum_qty, avg,
                    self.positions.get(order.instrument, 0), now, self.halted), now, out)
        elif protector.is_leg(client_order_id):
            self._apply(protector.leg_order_changed(client_order_id, order.state.value, order.cum_qty, now), now,
                        out)

    def _on_quotes(self, intent: QuoteIntent, now: int, out: Decisions) -> None:
        if self.halted:
            self.refused_children += 1
            log.warning("quotes %s refused: order entry is halted", intent.quote_id)
            return
        self._quotes_wanted[intent.instrument] = intent
        self._filled_at_quotes[intent.instrument] = self.positions.get(intent.instrument, 0)
        self._requote(intent.instrument, now, out)

    def _requote(self, instrument: str, now: int, out: Decisions) -> None:
        """Cancel the quote orders that are no longer wanted, and place the wanted ones that can go now."""
        if self.halted or not self._ready.get(instrument, True):
            return
        sides = self._quote_orders.setdefault(instrument, {})
        # what filled since the quotes were sized was not in the inventory they were sized for: a side that would
        # add to it is that much smaller, so a side placed late never takes the position past the strategy's limit
        moved = self.positions.get(instrument, 0) - self._filled_at_quotes[instrument]
        wanted = self._quotes_wanted[instrument]
        wanted = replace(wanted, bid_qty=max(0, wanted.bid_qty - max(moved, 0)),
                         ask_qty=max(0, wanted.ask_qty + min(moved, 0)))
        plan = plan_quotes(wanted, sides, self.table.open_orders(instrument),
                           lambda child_id: self.table.find_child(child_id) is not None, self.venue, now)
        for order in plan.cancel:
            self._cancel(order, now, out, "requote")
        for child in plan.place:
            child, refusal = self._rules(child)
            sides[child.side] = self._place(child, refusal, now, out)
        self.quotes_held += plan.held

    def _on_report(self, report: ExecutionReport, now: int, out: Decisions) -> None:
        order = self.table.get(report.client_order_id)
        if order is None:
            if self.table.owns(report.client_order_id):  # ours, and not in the table: its record was lost
                out.journal.append(ReconcileFinding("", report.client_order_id, now, "unknown_order_report",
                                                    report.exec_type.value))
                for instrument in self.instruments:
                    self._ask_all_of(instrument, now, out)
            else:
                self.foreign_reports += 1
            return
        self._step(order, now, out, order.apply, report)
        if order.state.is_terminal and order.missing_qty > 0:
            self._ask(order.instrument, (order.client_order_id,), now, out)  # fetch the trades the stream lost
        self._after_cancel(order, now, out)

    def _on_failure(self, failure: RequestFailed, now: int, out: Decisions) -> None:
        order = self.table.get(failure.client_order_id)
        if failure.failure is FailureClass.AUTH:
            self.halted = True
            out.control.append(RunFailure("orders", now, f"{failure.venue} refused our credentials on a "
                                                          f"{failure.request.value} request: {failure.reason}"))
            if order is not None and failure.request is RequestKind.NEW and order.state is OrderState.PENDING:
                refused = ExecutionReport(failure.venue, order.client_order_id, "", ExecType.REJECTED, now, 0,
                                          reason=failure.reason)
                self._step(order, now, out, order.apply, refused)
            return
        if order is None:
            return
        if failure.failure is FailureClass.NOT_FOUND:
            self._step(order, now, out, order.cancel_refused, now)
        elif not self._step(order, now, out, order.outcome_unknown, failure.request, now):
            return
        self._ask(order.instrument, (order.client_order_id,), now, out)

    def _cancel(self, order: Order, now: int, out: Decisions, reason: str) -> None:
        if not (order.is_working or order.state is OrderState.UNKNOWN and order.unknown_of is RequestKind.NEW):
            return
        request = self._step(order, now, out, order.request_cancel, now)
        if reason == "chase":
            self._replacing[order.client_order_id] = reason
        out.venue.append(request)
        out.timers.append(TimerFired(f"cancel:{order.client_order_id}", now + self.settings.ack_timeout_ns))

    def _cancel_all(self, command: CancelAll, now: int, out: Decisions) -> None:
        self.halted = self.halted or command.halt
        self._quotes_wanted.clear()
        self.settling = True
        self._settled_said = False
        for instrument in self.instruments:
            cancelled = False
            for order in self.table.open_orders(instrument):
                if order.is_working or order.unknown_of is RequestKind.NEW:
                    self._step(order, now, out, order.request_cancel, now)
                    out.timers.append(TimerFired(f"cancel:{order.client_order_id}",
                                                 now + self.settings.ack_timeout_ns))
                    cancelled = True
            if cancelled:
                out.venue.append(CancelAllRequest(self.venue, instrument, now))
        self._apply(self.protector.end_all(now, command.reason or "cancel_all"), now, out)

    def _after_cancel(self, order: Order, now: int, out: Decisions) -> None:
        """A passive order cancelled because the market left it is placed again, for its remainder, at the touch."""
        if self._replacing.get(order.client_order_id) is None or not order.state.is_terminal:
            return
        del self._replacing[order.client_order_id]
        remainder = order.qty - order.cum_qty
        view = self._touch.get(order.instrument)
        touch = None if view is None else view.best_bid if order.side is Side.BUY else view.best_ask
        if remainder <= 0 or touch is None or self.halted:
            return
        price = min(touch, order.limit_price) if order.side is Side.BUY else max(touch, order.limit_price)
        replaces = sum(1 for o in self.table if o.parent_id == order.parent_id)
        child = ChildOrder(order.parent_id, order.venue, order.instrument, order.side, remainder, price,
                           order.order_type, order.tif, now, order.signal_mid_x2,
                           child_id=f"{order.parent_id}.r{replaces}", limit_price=order.limit_price)
        self._on_child(child, now, out)

    # ------------------------------------------------------------ timers

    def _on_timer(self, timer: TimerFired, now: int, out: Decisions) -> None:
        what, _, subject = timer.key.partition(":")
        if what == "reconcile":
            instrument, _, request_id = subject.rpartition(":")
            if request_id in self._queries:   # unanswered: ask again
                del self._queries[request_id]
                self._ask(instrument, (), now, out)
            return
        order = self.table.get(subject)
        if order is None:
            return
        if what == "ack" and order.state is OrderState.PENDING:
            self._step(order, now, out, order.outcome_unknown, RequestKind.NEW, now)
            self._ask(order.instrument, (order.client_order_id,), now, out)
        elif what == "cancel" and order.state is OrderState.CANCELLING:
            self._step(order, now, out, order.outcome_unknown, RequestKind.CANCEL, now)
            self._ask(order.instrument, (order.client_order_id,), now, out)
        elif what == "requery" and self._unresolved(order):
            self._ask(order.instrument, (order.client_order_id,), now, out)
        elif what == "ttl" and order.is_working:
            self._cancel(order, now, out, "ttl")

    # ------------------------------------------------------------ reconciliation

    def _ask(self, instrument: str, client_order_ids: tuple[str, ...], now: int, out: Decisions) -> None:
        request_id = f"{self.table.run_id}-{self._next_request}"
        self._next_request += 1
        self._queries[request_id] = _Query(instrument, client_order_ids)
        since = self._since(instrument) if not client_order_ids else 0
        out.venue.append(ReconcileRequest(request_id, self.venue, instrument, client_order_ids, since, now))
        if client_order_ids:
            for client_order_id in client_order_ids:
                out.timers.append(TimerFired(f"requery:{client_order_id}", now + self.settings.requery_ns))
        else:
            out.timers.append(TimerFired(f"reconcile:{instrument}:{request_id}",
                                         now + self.settings.reconcile_timeout_ns))

    def _ask_all_of(self, instrument: str, now: int, out: Decisions) -> None:
        if not any(q.instrument == instrument and not q.client_order_ids for q in self._queries.values()):
            self._ask(instrument, (), now, out)

    def _since(self, instrument: str) -> int:
        """Where a full reconciliation starts: the oldest order still open, or the journal's first run."""
        open_orders = self.table.open_orders(instrument)
        oldest = min((order.created_ts_ns for order in open_orders), default=self.since_ns)
        return min(oldest, self.since_ns) if self.since_ns else oldest

    def _on_reply(self, reply: ReconcileReply, now: int, out: Decisions) -> None:
        query = self._queries.pop(reply.request_id, None)
        if query is None:
            return  # an answer to a request already asked again, or from before a restart
        if reply.error:
            log.warning("the venue could not answer reconciliation %s: %s", reply.request_id, reply.error)
            if not query.client_order_ids:
                out.timers.append(TimerFired(f"reconcile:{query.instrument}:{reply.request_id}",
                                             now + self.settings.requery_ns))
                self._queries[reply.request_id] = query
            return
        found = {state.client_order_id: state for state in reply.orders}
        if query.client_order_ids:
            for client_order_id in query.client_order_ids:
                order = self.table.get(client_order_id)
                if order is not None:
                    self._bring_to(order, found.get(client_order_id), now, out)
            return
        for state in reply.orders:
            order = self.table.get(state.client_order_id)
            if order is None:
                if not self.table.owns(state.client_order_id):
                    continue  # an order of the account's that is not ours
                order = self.table.adopt(state, now)   # its record was lost: the venue's is all there is
                out.journal.append(ReconcileFinding(order.instrument, order.client_order_id, now, "adopted",
                                                    f"the venue holds it {state.status.value}"))
                out.journal.append(order.as_update())
                self._bring_to(order, state, now, out, adopted=True)
                continue
            self._bring_to(order, state, now, out)
        for order in self.table.open_orders(query.instrument):
            if order.client_order_id not in found:
                self._bring_to(order, None, now, out)
        self._ready[query.instrument] = True
        out.restore_deferred = True

    def _bring_to(self, order: Order, venue: VenueOrderState | None, now: int, out: Decisions,
                  adopted: bool = False) -> None:
        """Apply the venue's account of `order` (None: the venue does not know it); an order just `adopted` from
        that account is found once, as such, not as fills and a state the table missed."""
        before = order.state
        if venue is None:
            if order.acknowledged or order.state.is_terminal:
                if not order.state.is_terminal:
                    out.journal.append(ReconcileFinding(order.instrument, order.client_order_id, now,
                                                        "missing_at_venue", f"held {order.state.value}"))
                return
            if now - order.created_ts_ns >= self.settings.recv_window_ns:
                self._step(order, now, out, order.never_placed, now)
                out.journal.append(ReconcileFinding(order.instrument, order.client_order_id, now, "never_placed"))
            else:  # it may still be on its way: ask again once its window has passed
                out.timers.append(TimerFired(f"requery:{order.client_order_id}", now + self.settings.requery_ns))
            return
        fills = self._step(order, now, out, order.reconcile, venue, now) or []
        for fill in () if adopted else fills:
            out.journal.append(ReconcileFinding(order.instrument, order.client_order_id, now, "missed_fill",
                                                f"trade {fill.trade_id}: {fill.qty} at {fill.price}"))
        if venue.status is not VenueOrderStatus.OPEN and order.cum_qty < venue.cum_qty:
            asked = self._asked[order.client_order_id] = self._asked.get(order.client_order_id, 0) + 1
            if asked >= INFER_AFTER_QUERIES or venue.trades_complete:
                inferred = self._step(order, now, out, order.inferred_fill, venue, now)
                if inferred is not None:
                    out.journal.append(ReconcileFinding(order.instrument, order.client_order_id, now,
                                                        "inferred_fill", f"{inferred.qty} at {inferred.price}"))
        if order.state is not before and not adopted:
            out.journal.append(ReconcileFinding(order.instrument, order.client_order_id, now, "state_corrected",
                                                f"{before.value} -> {order.state.value}"))
        if order.state.is_terminal:
            self._cancel_again.discard(order.client_order_id)
        elif order.is_working and (self.settling or order.client_order_id in self._cancel_again):
            self._cancel_again.discard(order.client_order_id)
            self._cancel(order, now, out, "settling" if self.settling else "again, after a restart")
        self._after_cancel(order, now, out)

    # ------------------------------------------------------------ internals

    def _step(self, order: Order, now: int, out: Decisions, step: Callable[_P, _R], *args: _P.args,
              **kwargs: _P.kwargs) -> _R | None:
        """Run one transition of `order`; journal its fills and, if it changed, its update. None when the
        transition was refused (an illegal one, counted and logged)."""
        before = (order.state, order.cum_qty)
        try:
            result = self.table.changed(order, step, *args, **kwargs)
        except IllegalTransition as exc:
            self.illegal_reports += 1
            log.error("refused: %s", exc)
            return None
        fills = result if isinstance(result, list) else [result] if isinstance(result, Fill) else []
        for fill in fills:
            self.positions[fill.instrument] = self.positions.get(fill.instrument, 0) + fill.side.sign * fill.qty
        out.journal.extend(fills)
        if (order.state, order.cum_qty) != before:
            out.journal.append(order.as_update())
            self._protect(order, now, out)
        return result

    def _unresolved(self, order: Order) -> bool:
        return order.state in (OrderState.UNKNOWN, OrderState.PENDING) or \
            (order.state.is_terminal and order.missing_qty > 0)

    def _say_if_settled(self, now: int, out: Decisions) -> None:
        if self.settling and not self._settled_said and not self.table.open_orders() and not any(
                self._unresolved(order) for order in self.table):
            self._settled_said = True
            self.settling = self.halted   # a cancel-all that does not halt (the kill switch's) is over once settled
            out.control.append(OrdersSettled(now, len(self.table)))
