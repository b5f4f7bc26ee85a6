"""The order manager's decisions, without trio: reconciliation first, unknown outcomes asked about and never
resent, fills found once, orders cancelled when they outlive their purpose, a clean end, and a table rebuilt
from its journaled inputs exactly as it was."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.messages import (BookView, CancelAll, CancelAllRequest, CancelOrder, CancelRequest, ChildOrder, ExecType,
                             ExecutionReport, FailureClass, Fill, JournalEntry, Liquidity, NewOrderRequest,
                             OrderManagerStarted, OrdersSettled, OrderType, OrderUpdate, ReconcileFinding,
                             ReconcileReply,
                             ReconcileRequest, RequestFailed, RequestKind, RunFailure, Side, TimeInForce, TimerFired,
                             VenueOrderState, VenueOrderStatus, VenueSession, VenueTrade)
from engine.model.order_manager import INPUTS, Decisions, ExecutionSettings, OrderManager
from engine.model.orders import NEVER_PLACED, OrderState, OrderTable

MS = 1_000_000
BTC = "BTC/USDT"
SETTINGS = ExecutionSettings(ack_timeout_ns=100 * MS, recv_window_ns=500 * MS, requery_ns=50 * MS,
                             reconcile_timeout_ns=200 * MS, tick_size={BTC: 10})


class Harness:
    """An order manager, the decisions it made, and every input it took (as its journal would hold them)."""

    def __init__(self, settings: ExecutionSettings = SETTINGS, run_id: int = 1, ready: bool = True):
        self.core = OrderManager(OrderTable("q", run_id=run_id), [BTC], "binance", settings)
        self.inputs: list[JournalEntry] = []
        self.out = Decisions()
        self.now = 1_000 * MS
        if ready:
            self.reconcile_clean()

    def take(self, msg, at: int | None = None) -> Decisions:
        if at is not None:
            self.now = at
        out = Decisions()
        self.core.handle(msg, self.now, out)
        self.inputs.append(JournalEntry(len(self.inputs) + 1, self.now, self.core.table.run_id, "orders", msg))
        self.out = out
        return out

    def reconcile_clean(self) -> None:
        out = self.take(VenueSession("binance", self.now, "started"))
        [request] = out.venue
        self.take(ReconcileReply(request.request_id, "binance", BTC, self.now))

    def child(self, side=Side.BUY, qty=10, parent="P1", tif=TimeInForce.IOC, price=6_000_000, n=1) -> ChildOrder:
        return ChildOrder(parent, "binance", BTC, side, qty, price, OrderType.LIMIT, tif, self.now, 12_000_000,
                          child_id=f"{parent}.{n}", limit_price=price + 1_000 if side is Side.BUY else price - 1_000)

    def place(self, **kw) -> str:
        out = self.take(self.child(**kw))
        [request] = [r for r in out.venue if type(r) is NewOrderRequest]
        return request.client_order_id

    def state(self, client_order_id: str) -> OrderState:
        return self.core.table.get(client_order_id).state


def report(coid, exec_type, cum=0, last=0, trade_id="", ts=1) -> ExecutionReport:
    return ExecutionReport("binance", coid, "v1", exec_type, ts, cum, last, 6_000_000 if last else 0,
                           Decimal("0.06") if last else Decimal(0), "USDT" if last else "",
                           Liquidity.TAKER if last else None, trade_id=trade_id)


def account(coid, status, cum=0, trades=(), complete=True, qty=10) -> VenueOrderState:
    return VenueOrderState(coid, "v1", BTC, Side.BUY, qty, 6_000_000, status, cum,
                           tuple(VenueTrade(tid, q, 6_000_000, Decimal("0.06"), "USDT", Liquidity.TAKER, 5)
                                 for tid, q in trades), complete)


def kinds(items) -> list[str]:
    return [type(item).__name__ for item in items]


def findings(out: Decisions) -> list[str]:
    return [f.finding for f in out.journal if type(f) is ReconcileFinding]


# ---------------------------------------------------------------- orders in, requests out

def test_a_child_order_becomes_one_pending_order_a_request_and_an_ack_timer():
    h = Harness()
    out = h.take(h.child())
    [update] = out.journal
    [request] = out.venue
    assert type(request) is NewOrderRequest and request.client_order_id == "q-1-1" and request.ts_ns == h.now
    assert (update.state, update.client_order_id) == ("pending", "q-1-1")
    assert out.timers == [TimerFired("ack:q-1-1", h.now + 100 * MS)]


def test_a_child_order_handed_over_twice_is_one_order():
    h = Harness()
    h.take(h.child())
    again = h.take(h.child())
    assert again.venue == [] and again.journal == [] and len(h.core.table) == 1


def test_child_orders_wait_until_the_venues_account_is_applied():
    h = Harness(ready=False)
    assert h.core.must_wait(h.child())
    out = h.take(VenueSession("binance", h.now, "started"))
    [request] = out.venue
    assert type(request) is ReconcileRequest and request.client_order_ids == () and request.instrument == BTC
    assert h.core.must_wait(h.child())
    out = h.take(ReconcileReply(request.request_id, "binance", BTC, h.now))
    assert out.restore_deferred and not h.core.must_wait(h.child())


# ---------------------------------------------------------------- unknown outcomes

def test_no_ack_in_time_makes_the_create_unknown_and_asks_the_venue_without_resending():
    h = Harness()
    coid = h.place()
    out = h.take(TimerFired(f"ack:{coid}", h.now + 100 * MS), at=h.now + 100 * MS)
    assert h.state(coid) is OrderState.UNKNOWN
    assert kinds(out.venue) == ["ReconcileRequest"] and out.venue[0].client_order_ids == (coid,)
    assert not any(type(r) is NewOrderRequest for r in out.venue)


def test_an_unknown_create_the_venue_never_saw_is_rejected_once_its_window_has_passed():
    h = Harness()
    created = h.now
    coid = h.place()
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.NEW, FailureClass.UNKNOWN, h.now, "503"))
    [query] = out.venue
    out = h.take(ReconcileReply(query.request_id, "binance", BTC, h.now + 10 * MS), at=h.now + 10 * MS)
    assert h.state(coid) is OrderState.UNKNOWN                     # it may still be on its way
    assert out.timers == [TimerFired(f"requery:{coid}", h.now + 50 * MS)]
    out = h.take(TimerFired(f"requery:{coid}", created + 600 * MS), at=created + 600 * MS)
    [query] = out.venue
    out = h.take(ReconcileReply(query.request_id, "binance", BTC, h.now))
    order = h.core.table.get(coid)
    assert (order.state, order.reason) == (OrderState.REJECTED, NEVER_PLACED)
    assert findings(out) == ["never_placed"]


def test_an_unknown_create_the_venue_carried_out_gets_its_fills_once_from_the_venues_records():
    h = Harness()
    coid = h.place()
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.NEW, FailureClass.UNKNOWN, h.now, "timeout"))
    [query] = out.venue
    filled = account(coid, VenueOrderStatus.FILLED, 10, [("7", 4), ("8", 6)])
    out = h.take(ReconcileReply(query.request_id, "binance", BTC, h.now, (filled,)))
    assert [(f.trade_id, f.qty) for f in out.journal if type(f) is Fill] == [("7", 4), ("8", 6)]
    assert h.state(coid) is OrderState.FILLED
    assert findings(out) == ["missed_fill", "missed_fill", "state_corrected"]
    out = h.take(report(coid, ExecType.TRADE, 4, 4, trade_id="7"))   # the stream's copy, late: nothing new
    assert [f for f in out.journal if type(f) is Fill] == []


def test_a_stream_report_settles_an_unknown_create_and_a_stale_reply_changes_nothing():
    h = Harness()
    coid = h.place()
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.NEW, FailureClass.UNKNOWN, h.now, "timeout"))
    [query] = out.venue
    h.take(report(coid, ExecType.NEW))
    assert h.state(coid) is OrderState.SUBMITTED
    h.take(TimerFired(f"requery:{coid}", h.now + 50 * MS))
    assert h.out.venue == []                                          # settled: nothing more to ask
    h.take(ReconcileReply("no-such-request", "binance", BTC, h.now))
    assert h.state(coid) is OrderState.SUBMITTED


def test_a_cancel_refused_because_the_order_filled_ends_filled():
    h = Harness()
    coid = h.place(tif=TimeInForce.GTC)
    h.take(report(coid, ExecType.NEW))
    out = h.take(CancelOrder(coid, h.now, "test"))
    assert kinds(out.venue) == ["CancelRequest"] and h.state(coid) is OrderState.CANCELLING
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.CANCEL, FailureClass.NOT_FOUND, h.now,
                               "Unknown order sent."))
    assert h.state(coid) is OrderState.SUBMITTED                     # back where it was
    [query] = out.venue
    h.take(ReconcileReply(query.request_id, "binance", BTC, h.now,
                          (account(coid, VenueOrderStatus.FILLED, 10, [("5", 10)]),)))
    assert h.state(coid) is OrderState.FILLED and h.core.table.get(coid).cum_qty == 10


def test_a_cancel_whose_answer_never_comes_is_asked_about():
    h = Harness()
    coid = h.place(tif=TimeInForce.GTC)
    h.take(report(coid, ExecType.NEW))
    out = h.take(CancelOrder(coid, h.now, "test"))
    [timer] = out.timers
    out = h.take(timer, at=timer.due_ns)
    assert h.state(coid) is OrderState.UNKNOWN and kinds(out.venue) == ["ReconcileRequest"]
    h.take(ReconcileReply(out.venue[0].request_id, "binance", BTC, h.now,
                          (account(coid, VenueOrderStatus.CANCELLED, 0),)))
    assert h.state(coid) is OrderState.CANCELLED


def test_an_authentication_error_stops_order_entry_and_fails_the_run():
    h = Harness()
    coid = h.place()
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.NEW, FailureClass.AUTH, h.now,
                               "-2015 Invalid API-key, IP, or permissions for action."))
    [failure] = out.control
    assert type(failure) is RunFailure and "-2015" in failure.reason and "refused our credentials" in failure.reason
    assert h.state(coid) is OrderState.REJECTED
    out = h.take(h.child(parent="P2"))
    assert out.venue == [] and h.core.refused_children == 1


# ---------------------------------------------------------------- reconciliation of the whole account

def test_a_full_reconciliation_adopts_ours_ignores_others_and_settles_what_the_venue_does_not_hold():
    h = Harness()
    young, old = h.place(), h.place(parent="P2")
    h.core.table.get(old).created_ts_ns = h.now - 600 * MS       # its window has passed
    out = h.take(VenueSession("binance", h.now, "stream reconnected"))
    [request] = out.venue
    assert h.core.must_wait(h.child(parent="P3"))
    ours = account("q-0-9", VenueOrderStatus.OPEN, 2, [("3", 2)])
    theirs = account("manual-1", VenueOrderStatus.OPEN)
    out = h.take(ReconcileReply(request.request_id, "binance", BTC, h.now, (ours, theirs)))
    assert h.core.table.get("manual-1") is None
    adopted = h.core.table.get("q-0-9")
    assert adopted.state is OrderState.PARTIALLY_FILLED and adopted.cum_qty == 2
    assert h.state(old) is OrderState.REJECTED and h.state(young) is OrderState.PENDING
    assert sorted(findings(out)) == ["adopted", "never_placed"]   # an adopted order's fills come with it
    assert out.restore_deferred and not h.core.must_wait(h.child(parent="P3"))


def test_an_unanswered_reconciliation_is_asked_again():
    h = Harness(ready=False)
    out = h.take(VenueSession("binance", h.now, "started"))
    [request] = out.venue
    [timer] = out.timers
    out = h.take(timer, at=timer.due_ns)
    [again] = out.venue
    assert again.request_id != request.request_id and again.client_order_ids == ()
    h.take(ReconcileReply(request.request_id, "binance", BTC, h.now))   # the old answer, late: ignored
    assert h.core.must_wait(h.child())
    h.take(ReconcileReply(again.request_id, "binance", BTC, h.now))
    assert not h.core.must_wait(h.child())


def test_a_venue_that_cannot_answer_is_asked_again_later():
    h = Harness(ready=False)
    out = h.take(VenueSession("binance", h.now, "started"))
    [request] = out.venue
    out = h.take(ReconcileReply(request.request_id, "binance", BTC, h.now, error="503"))
    assert h.core.must_wait(h.child())
    [timer] = out.timers
    out = h.take(timer, at=timer.due_ns)
    assert kinds(out.venue) == ["ReconcileRequest"]


def test_a_report_for_an_order_of_ours_the_table_does_not_hold_starts_a_reconciliation():
    h = Harness()
    out = h.take(report("q-0-3", ExecType.NEW))
    assert findings(out) == ["unknown_order_report"] and kinds(out.venue) == ["ReconcileRequest"]
    out = h.take(report("someone-else", ExecType.NEW))
    assert out.venue == [] and h.core.foreign_reports == 1


def test_an_ended_order_whose_trades_the_venue_cannot_list_gets_one_inferred_fill_after_three_answers():
    h = Harness()
    coid = h.place()
    h.take(report(coid, ExecType.NEW))
    out = h.take(report(coid, ExecType.CANCELED, 4))              # 4 executed, and no trade report came
    short = account(coid, VenueOrderStatus.CANCELLED, 4, complete=False)
    for attempt in range(3):
        if attempt:
            out = h.take(TimerFired(f"requery:{coid}", h.now))
        [query] = out.venue
        assert query.client_order_ids == (coid,)
        h.take(ReconcileReply(query.request_id, "binance", BTC, h.now, (short,)))
        assert [f for f in h.out.journal if type(f) is Fill] == [] or attempt == 2
    fills = [f for f in h.out.journal if type(f) is Fill]
    assert [(f.qty, f.trade_id) for f in fills] == [(4, f"inferred-{coid}-4")]
    assert h.state(coid) is OrderState.CANCELLED


# ---------------------------------------------------------------- orders that outlived their purpose

def test_a_newer_parent_on_the_other_side_cancels_the_older_working_orders():
    h = Harness()
    buy = h.place(tif=TimeInForce.GTC)
    h.take(report(buy, ExecType.NEW))
    out = h.take(h.child(side=Side.SELL, parent="P2"))
    assert kinds(out.venue) == ["CancelRequest", "NewOrderRequest"] and out.venue[0].client_order_id == buy
    assert h.state(buy) is OrderState.CANCELLING


def test_a_resting_order_past_its_time_to_live_is_cancelled():
    h = Harness(ExecutionSettings(order_ttl_ns=300 * MS))
    coid = h.place(tif=TimeInForce.GTC)
    assert TimerFired(f"ttl:{coid}", h.now + 300 * MS) in h.out.timers
    h.take(report(coid, ExecType.NEW))
    out = h.take(TimerFired(f"ttl:{coid}", h.now + 300 * MS), at=h.now + 300 * MS)
    assert kinds(out.venue) == ["CancelRequest"]


def test_a_passive_order_the_market_left_is_cancelled_and_its_remainder_placed_again_at_the_touch():
    h = Harness(ExecutionSettings(chase_ticks=3, tick_size={BTC: 10}))
    coid = h.place(tif=TimeInForce.GTC, price=6_000_000)
    h.take(report(coid, ExecType.NEW))
    h.take(report(coid, ExecType.TRADE, 4, 4, trade_id="1"))
    assert h.core.wants_views()
    near = BookView(BTC, h.now, 1, ((6_000_020, 5),), ((6_000_100, 5),))
    assert h.core.on_view(near, h.now) == []                      # two ticks away: it waits
    far = BookView(BTC, h.now, 2, ((6_000_030, 5),), ((6_000_100, 5),))
    [cancel] = h.core.on_view(far, h.now)
    out = h.take(cancel)
    assert kinds(out.venue) == ["CancelRequest"]
    assert h.core.on_view(far, h.now) == []                       # asked once
    out = h.take(report(coid, ExecType.CANCELED, 4))
    [again] = [r for r in out.venue if type(r) is NewOrderRequest]
    assert (again.qty, again.price, again.side) == (6, 6_000_030, Side.BUY)
    assert h.core.table.get(again.client_order_id).parent_id == "P1"


def test_the_replacement_never_goes_beyond_the_parents_limit():
    h = Harness(ExecutionSettings(chase_ticks=1, tick_size={BTC: 10}))
    coid = h.place(tif=TimeInForce.GTC, price=6_000_000)          # limit 6_001_000
    h.take(report(coid, ExecType.NEW))
    [cancel] = h.core.on_view(BookView(BTC, h.now, 1, ((6_005_000, 5),), ((6_005_100, 5),)), h.now)
    h.take(cancel)
    out = h.take(report(coid, ExecType.CANCELED, 0))
    [again] = [r for r in out.venue if type(r) is NewOrderRequest]
    assert again.price == 6_001_000


# ---------------------------------------------------------------- the end of a run

def test_cancel_all_cancels_every_working_order_halts_and_says_when_all_is_settled():
    h = Harness()
    a, b = h.place(tif=TimeInForce.GTC), h.place(tif=TimeInForce.GTC, parent="P2")
    h.take(report(a, ExecType.NEW))
    out = h.take(CancelAll(h.now, "end of run"))
    assert kinds(out.venue) == ["CancelAllRequest"] and out.control == []
    assert h.state(a) is OrderState.CANCELLING and h.state(b) is OrderState.CANCELLING
    h.take(report(a, ExecType.CANCELED))
    assert h.out.control == []
    h.take(report(b, ExecType.CANCELED))
    assert h.out.control == [OrdersSettled(h.now, 2)]
    assert h.take(h.child(parent="P3")).venue == []               # halted: no new orders


def test_cancel_all_with_nothing_open_is_settled_at_once():
    h = Harness()
    out = h.take(CancelAll(h.now, "end of run"))
    assert out.venue == [] and out.control == [OrdersSettled(h.now, 0)]


def test_an_unknown_cancel_found_still_open_while_settling_is_cancelled_again():
    h = Harness()
    coid = h.place(tif=TimeInForce.GTC)
    h.take(report(coid, ExecType.NEW))
    out = h.take(CancelAll(h.now, "end"))
    [timer] = [t for t in out.timers if t.key.startswith("cancel:")]
    out = h.take(timer, at=timer.due_ns)
    out = h.take(ReconcileReply(out.venue[0].request_id, "binance", BTC, h.now,
                                (account(coid, VenueOrderStatus.OPEN),)))
    assert kinds(out.venue) == ["CancelRequest"] and h.state(coid) is OrderState.CANCELLING


# ---------------------------------------------------------------- rebuilt from the journal

def test_replaying_the_journaled_inputs_rebuilds_the_same_table():
    h = Harness()
    a = h.place(tif=TimeInForce.GTC)
    h.take(report(a, ExecType.NEW))
    h.take(report(a, ExecType.TRADE, 3, 3, trade_id="1"))
    b = h.place(parent="P2", side=Side.SELL)
    out = h.take(TimerFired(f"ack:{b}", h.now + 100 * MS), at=h.now + 100 * MS)
    rebuilt = OrderManager(OrderTable("q", run_id=1), [BTC], "binance", SETTINGS)
    assert rebuilt.rebuild(h.inputs, run_id=1) == len(h.inputs)
    assert all(type(e.msg) in INPUTS for e in h.inputs)
    for original, copy in zip(h.core.table, rebuilt.table, strict=True):
        assert (copy.client_order_id, copy.state, copy.cum_qty, copy.trade_ids, copy.unknown_of) == (
            original.client_order_id, original.state, original.cum_qty, original.trade_ids, original.unknown_of)
    next_out = Decisions()
    rebuilt.reconcile_all(h.now, next_out)
    assert next_out.venue[0].request_id not in {r.request_id for r in out.venue}
    assert rebuilt.must_wait(h.child(parent="P9"))                # a rebuilt manager reconciles before it trades


def test_a_new_run_keeps_the_orders_but_not_the_previous_runs_halt():
    h = Harness()
    coid = h.place(tif=TimeInForce.GTC)
    h.take(report(coid, ExecType.NEW))
    h.take(CancelAll(h.now, "end of run 1"))
    core = OrderManager(OrderTable("q", run_id=2), [BTC], "binance", SETTINGS)
    core.rebuild(h.inputs, run_id=2)
    assert core.table.get(coid).state is OrderState.CANCELLING and not core.halted
    out = Decisions()
    core.reconcile_all(h.now, out)
    core.handle(ReconcileReply(out.venue[0].request_id, "binance", BTC, h.now,
                               (account(coid, VenueOrderStatus.CANCELLED),)), h.now, Decisions())
    out = Decisions()
    core.handle(ChildOrder("P1", "binance", BTC, Side.BUY, 5, 6_000_000, OrderType.LIMIT, TimeInForce.IOC, h.now,
                           0, child_id="P2-1.1"), h.now, out)
    [request] = out.venue
    assert request.client_order_id == "q-2-1"


def test_a_cancel_decided_before_a_restart_is_sent_again_if_the_venue_still_holds_the_order():
    h = Harness()
    sent, never_sent = h.place(tif=TimeInForce.GTC), h.place(tif=TimeInForce.GTC, parent="P2")
    h.take(report(sent, ExecType.NEW))
    h.take(CancelAll(h.now, "end of run 1"))          # decided and journaled; the process dies before sending
    core = OrderManager(OrderTable("q", run_id=2), [BTC], "binance", SETTINGS)
    core.rebuild(h.inputs, run_id=2)
    later = h.now + 600 * MS                          # past the window of the create that never left
    out = Decisions()
    core.handle(OrderManagerStarted(later), later, out)
    assert core.table.get(sent).state is OrderState.UNKNOWN and core.must_wait(h.child(parent="P3"))
    [request] = out.venue
    out = Decisions()
    core.handle(ReconcileReply(request.request_id, "binance", BTC, later, (account(sent, VenueOrderStatus.OPEN),)),
                later, out)
    [again] = [r for r in out.venue if type(r) is CancelRequest]
    assert again.client_order_id == sent and core.table.get(sent).state is OrderState.CANCELLING
    assert core.table.get(never_sent).state is OrderState.REJECTED
    assert "never_placed" in findings(out)


# ---------------------------------------------------------------- every field of what it decides

def test_a_refused_key_is_said_exactly_and_rejects_the_create_with_the_venues_words():
    h = Harness()
    coid = h.place()
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.NEW, FailureClass.AUTH, h.now, "401 -2015: no"))
    assert out.control == [RunFailure("orders", h.now, "binance refused our credentials on a new request: "
                                                        "401 -2015: no")]
    order = h.core.table.get(coid)
    assert (order.state, order.reason, order.venue_order_id) == (OrderState.REJECTED, "401 -2015: no", "")
    assert out.journal == [order.as_update()] and out.venue == []


def test_a_refused_key_on_a_cancel_stops_entry_but_leaves_the_order_to_the_venue():
    h = Harness()
    coid = h.place(tif=TimeInForce.GTC)
    h.take(report(coid, ExecType.NEW))
    h.take(CancelOrder(coid, h.now, "test"))
    out = h.take(RequestFailed("binance", BTC, coid, RequestKind.CANCEL, FailureClass.AUTH, h.now, "-1022"))
    assert h.state(coid) is OrderState.CANCELLING and h.core.halted and len(out.control) == 1
    out = h.take(RequestFailed("binance", BTC, "nobody", RequestKind.NEW, FailureClass.AUTH, h.now, "-1022"))
    assert len(out.control) == 1 and out.journal == []


def test_what_reconciliation_finds_is_journaled_in_full():
    h = Harness()
    coid = h.place()
    h.take(report(coid, ExecType.NEW))
    h.core.table.get(coid).created_ts_ns = h.now - 600 * MS
    young = h.place(parent="P2")
    out = h.take(VenueSession("binance", h.now, "reconnected"))
    [request] = out.venue
    assert request == ReconcileRequest(request.request_id, "binance", BTC, (), h.now - 600 * MS, h.now)
    assert out.timers == [TimerFired(f"reconcile:{BTC}:{request.request_id}", h.now + 200 * MS)]
    out = h.take(ReconcileReply(request.request_id, "binance", BTC, h.now))
    assert [f for f in out.journal if type(f) is ReconcileFinding] == [
        ReconcileFinding(BTC, coid, h.now, "missing_at_venue", "held submitted")]
    assert out.timers == [TimerFired(f"requery:{young}", h.now + 50 * MS)]
    assert h.state(coid) is OrderState.SUBMITTED


def test_a_named_query_asks_by_client_id_and_is_asked_again_on_its_timer():
    h = Harness()
    coid = h.place()
    out = h.take(TimerFired(f"ack:{coid}", h.now))
    assert out.venue == [ReconcileRequest("1-2", "binance", BTC, (coid,), 0, h.now)]
    assert out.timers == [TimerFired(f"requery:{coid}", h.now + 50 * MS)]
    assert out.journal == [h.core.table.get(coid).as_update()]
    h.take(ReconcileReply("1-2", "binance", BTC, h.now, (account(coid, VenueOrderStatus.OPEN),)))
    assert h.state(coid) is OrderState.SUBMITTED


def test_a_full_reconciliation_starts_at_the_oldest_open_order_or_the_journals_first_run():
    core = OrderManager(OrderTable("q"), [BTC], "binance", SETTINGS, since_ns=5_000)
    out = Decisions()
    core.reconcile_all(9_000, out)
    assert [r.since_ns for r in out.venue] == [5_000]
    core.handle(ReconcileReply(out.venue[0].request_id, "binance", BTC, 9_000), 9_000, Decisions())
    core.handle(ChildOrder("P1", "binance", BTC, Side.BUY, 5, 100, OrderType.LIMIT, TimeInForce.GTC, 3_000, 0,
                           child_id="P1.1"), 3_000, Decisions())
    out = Decisions()
    core.reconcile_all(9_000, out)
    assert [r.since_ns for r in out.venue] == [3_000]
    fresh = OrderManager(OrderTable("q"), [BTC], "binance", SETTINGS)
    out = Decisions()
    fresh.reconcile_all(9_000, out)
    assert [r.since_ns for r in out.venue] == [0]


def test_the_replacement_of_a_sell_the_market_left_is_a_child_of_the_same_parent_at_the_touch():
    h = Harness(ExecutionSettings(chase_ticks=2, tick_size={BTC: 10}))
    coid = h.place(side=Side.SELL, tif=TimeInForce.GTC, price=6_000_100)     # limit 5_999_100
    h.take(report(coid, ExecType.NEW))
    assert h.core.on_view(BookView(BTC, h.now, 1, ((6_000_000, 5),), ((6_000_090, 5),)), h.now) == []
    [cancel] = h.core.on_view(BookView(BTC, h.now, 2, ((6_000_000, 5),), ((6_000_080, 5),)), h.now)
    assert cancel == CancelOrder(coid, h.now, "chase")
    h.take(cancel)
    out = h.take(report(coid, ExecType.CANCELED))
    [update, placed] = [x for x in out.journal if type(x) is OrderUpdate][-2:]
    again = h.core.table.get(placed.client_order_id)
    assert (again.parent_id, again.child_id, again.side, again.qty, again.price, again.limit_price) == (
        "P1", "P1.r1", Side.SELL, 10, 6_000_080, 5_999_100)
    assert (again.tif, again.order_type, again.signal_mid_x2, again.venue, again.instrument) == (
        TimeInForce.GTC, OrderType.LIMIT, 12_000_000, "binance", BTC)
    assert again.created_ts_ns == h.now and update.state == "cancelled"


def test_only_a_working_passive_order_is_chased_and_nothing_is_replaced_once_halted():
    h = Harness(ExecutionSettings(chase_ticks=1, tick_size={BTC: 10}))
    ioc = h.place(parent="P1")                                        # IOC: never chased
    h.take(report(ioc, ExecType.NEW))
    gtc = h.place(parent="P2", tif=TimeInForce.GTC, n=2)
    view = BookView(BTC, h.now, 1, ((6_001_000, 5),), ((6_002_000, 5),))
    [cancel] = h.core.on_view(view, h.now)
    assert cancel.client_order_id == gtc
    h.take(cancel)
    h.take(CancelAll(h.now, "end"))
    out = h.take(report(gtc, ExecType.CANCELED))
    assert [r for r in out.venue if type(r) is NewOrderRequest] == []
    assert h.core.on_view(view, h.now) == []
    assert not h.core.wants_views()


def test_cancel_all_cancels_with_the_venues_cancel_all_and_a_timer_per_order():
    h = Harness()
    a = h.place(tif=TimeInForce.GTC)
    h.take(report(a, ExecType.NEW))
    out = h.take(CancelAll(h.now, "end"))
    assert out.venue == [CancelAllRequest("binance", BTC, h.now)]
    assert out.timers == [TimerFired(f"cancel:{a}", h.now + 100 * MS)]
    assert h.core.halted and h.core.settling


def test_cancel_all_that_does_not_halt_lets_new_orders_in():
    h = Harness()
    h.take(CancelAll(h.now, "flatten", halt=False))
    assert not h.core.halted
    assert [type(r) for r in h.take(h.child(parent="P9")).venue] == [NewOrderRequest]


def test_reports_of_others_and_refused_children_are_counted_each():
    h = Harness()
    h.take(report("someone-1", ExecType.NEW))
    h.take(report("someone-2", ExecType.NEW))
    assert h.core.foreign_reports == 2
    h.take(CancelAll(h.now, "end"))
    h.take(h.child(parent="P8"))
    h.take(h.child(parent="P9"))
    assert h.core.refused_children == 2


def test_an_unknown_order_of_ours_reported_is_found_in_full_and_asked_about_once():
    h = Harness()
    out = h.take(report("q-0-3", ExecType.NEW))
    assert [f for f in out.journal] == [ReconcileFinding("", "q-0-3", h.now, "unknown_order_report", "NEW")]
    [request] = out.venue
    assert (request.instrument, request.client_order_ids) == (BTC, ())
    again = h.take(report("q-0-4", ExecType.NEW))            # a full reconciliation is already asked
    assert again.venue == []
    h.take(h.child())                                        # a named query does not count as one
    h.take(ReconcileReply(request.request_id, "binance", BTC, h.now))
    assert kinds(h.take(report("q-0-5", ExecType.NEW)).venue) == ["ReconcileRequest"]


def test_an_ended_order_missing_even_one_unit_of_fills_is_asked_about():
    h = Harness()
    coid = h.place()
    h.take(report(coid, ExecType.NEW))
    h.take(report(coid, ExecType.TRADE, 9, 9, trade_id="a"))
    out = h.take(report(coid, ExecType.CANCELED, 10))
    [query] = out.venue
    assert (query.instrument, query.client_order_ids) == (BTC, (coid,))
    other = h.place(parent="P2", side=Side.SELL)
    h.take(report(other, ExecType.NEW))
    out = h.take(report(other, ExecType.CANCELED, 0))
    assert out.venue == []


def test_a_time_to_live_is_set_only_on_resting_orders_and_only_when_asked():
    h = Harness(ExecutionSettings(order_ttl_ns=300 * MS))
    ioc = h.place()
    assert [t.key for t in h.out.timers] == [f"ack:{ioc}"]
    h2 = Harness(ExecutionSettings())
    gtc = h2.place(tif=TimeInForce.GTC)
    assert [t.key for t in h2.out.timers] == [f"ack:{gtc}"]


def test_a_superseded_order_gets_a_cancel_timer_and_an_unknown_create_can_be_cancelled():
    h = Harness()
    buy = h.place(tif=TimeInForce.GTC)
    h.take(RequestFailed("binance", BTC, buy, RequestKind.NEW, FailureClass.UNKNOWN, h.now, "timeout"))
    out = h.take(h.child(side=Side.SELL, parent="P2"))
    assert TimerFired(f"cancel:{buy}", h.now + 100 * MS) in out.timers
    assert h.state(buy) is OrderState.CANCELLING
    h.take(RequestFailed("binance", BTC, buy, RequestKind.CANCEL, FailureClass.UNKNOWN, h.now, "timeout"))
    out = h.take(h.child(side=Side.SELL, parent="P3", n=3))  # an unknown cancel is not cancelled again
    assert [r.client_order_id for r in out.venue if type(r) is CancelRequest] == []


def test_a_passive_remainder_of_one_unit_is_still_placed_again():
    h = Harness(ExecutionSettings(chase_ticks=1, tick_size={BTC: 10}))
    coid = h.place(tif=TimeInForce.GTC, qty=10)
    h.take(report(coid, ExecType.NEW))
    h.take(report(coid, ExecType.TRADE, 9, 9, trade_id="a"))
    [cancel] = h.core.on_view(BookView(BTC, h.now, 1, ((6_000_010, 5),), ((6_000_100, 5),)), h.now)
    h.take(cancel)
    out = h.take(report(coid, ExecType.CANCELED, 9))
    [again] = [r for r in out.venue if type(r) is NewOrderRequest]
    assert again.qty == 1


def test_a_new_run_must_reconcile_again_before_it_trades():
    h = Harness()
    assert not h.core.must_wait(h.child())
    h.core.new_run()
    assert h.core.must_wait(h.child())


def test_every_finding_says_which_order_when_and_what_in_full():
    h = Harness()
    lost = h.place()
    h.core.table.get(lost).created_ts_ns = h.now - 500 * MS          # exactly its window ago
    unknown = h.place(parent="P2")
    h.take(RequestFailed("binance", BTC, unknown, RequestKind.NEW, FailureClass.UNKNOWN, h.now, "503"))
    short = h.place(parent="P3", n=3)
    h.take(report(short, ExecType.NEW))
    h.take(report(short, ExecType.CANCELED, 2))
    out = h.take(VenueSession("binance", h.now, "reconnected"))
    [request] = out.venue
    reply = ReconcileReply(request.request_id, "binance", BTC, h.now, (
        account(unknown, VenueOrderStatus.FILLED, 10, [("t9", 10)]),
        account(short, VenueOrderStatus.CANCELLED, 2, (), complete=True),   # it lists no trade: inferred at once
        account("q-0-7", VenueOrderStatus.OPEN)))
    out = h.take(reply)
    assert [f for f in out.journal if type(f) is ReconcileFinding] == [
        ReconcileFinding(BTC, unknown, h.now, "missed_fill", "trade t9: 10 at 6000000"),
        ReconcileFinding(BTC, unknown, h.now, "state_corrected", "unknown -> filled"),
        ReconcileFinding(BTC, short, h.now, "inferred_fill", "2 at 6000000"),
        ReconcileFinding(BTC, "q-0-7", h.now, "adopted", "the venue holds it open"),
        ReconcileFinding(BTC, lost, h.now, "never_placed", ""),
    ]
    assert h.state(lost) is OrderState.REJECTED and h.state(short) is OrderState.CANCELLED


def test_an_order_adopted_while_settling_is_cancelled_like_any_other():
    h = Harness()
    h.take(CancelAll(h.now, "end"))
    out = h.take(VenueSession("binance", h.now, "reconnected"))
    out = h.take(ReconcileReply(out.venue[0].request_id, "binance", BTC, h.now,
                                (account("q-0-2", VenueOrderStatus.OPEN),)))
    assert findings(out) == ["adopted"]
    assert [r.client_order_id for r in out.venue if type(r) is CancelRequest] == ["q-0-2"]
