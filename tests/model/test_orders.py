"""The order state machine: every transition, idempotent fills, and the order table."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.messages import (
    ChildOrder,
    ExecType,
    ExecutionReport,
    Liquidity,
    NewOrderRequest,
    OrderType,
    RequestKind,
    Side,
    TimeInForce,
    VenueOrderState,
    VenueOrderStatus,
    VenueTrade,
)
from engine.model.numbers import Instrument
from engine.model.orders import CLIENT_ORDER_ID, NEVER_PLACED, IllegalTransition, Order, OrderState, OrderTable

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
QTY = 10


def child(qty: int = QTY, side: Side = Side.BUY, instrument: str = "BTC/USDT", ts_ns: int = 1,
          child_id: str = "") -> ChildOrder:
    return ChildOrder(parent_id="P1", venue="binance", instrument=instrument, side=side, qty=qty, price=6_000_000,
                      order_type=OrderType.LIMIT, tif=TimeInForce.GTC, ts_ns=ts_ns, signal_mid_x2=11_999_000,
                      child_id=child_id)


def report(exec_type: ExecType, cum_qty: int = 0, last_qty: int = 0, last_price: int = 0,
           fee: Decimal = Decimal(0), client_order_id: str = "c-1", ts_ns: int = 2,
           trade_id: str = "") -> ExecutionReport:
    return ExecutionReport(venue="binance", client_order_id=client_order_id, venue_order_id="77",
                           exec_type=exec_type, ts_ns=ts_ns, cum_qty=cum_qty, last_qty=last_qty,
                           last_price=last_price, fee=fee, fee_asset="USDT" if last_qty else "",
                           liquidity=Liquidity.TAKER if last_qty else None, trade_id=trade_id)


def trade(cum_qty: int, last_qty: int, price: int = 6_000_000, fee: str = "0", trade_id: str | None = None,
          **kw) -> ExecutionReport:
    """A TRADE report; its trade id is `T<cum_qty>` unless given ("" for a venue that sends none)."""
    return report(ExecType.TRADE, cum_qty, last_qty, price, Decimal(fee),
                  trade_id=f"T{cum_qty}" if trade_id is None else trade_id, **kw)


def venue_state(status: VenueOrderStatus, cum_qty: int, trades: tuple = (), complete: bool = True,
                client_order_id: str = "c-1") -> VenueOrderState:
    return VenueOrderState(client_order_id, "77", "BTC/USDT", Side.BUY, QTY, 6_000_000, status, cum_qty,
                           tuple(trades), complete)


def venue_trade(trade_id: str, qty: int, price: int = 6_000_000) -> VenueTrade:
    return VenueTrade(trade_id, qty, price, Decimal("0.01"), "USDT", Liquidity.MAKER, 5)


# ---------------------------------------------------------------- every transition

def order_in(name: str) -> Order:
    """A fresh order driven into the named starting state."""
    order = Order("c-1", child())
    setups = {
        "pending": [],
        "submitted": [report(ExecType.NEW)],
        "partially_filled": [report(ExecType.NEW), trade(4, 4)],
        "cancelling": [report(ExecType.NEW), "cancel"],
        "cancelling_partial": [report(ExecType.NEW), trade(4, 4), "cancel"],
        "cancelling_unacked": ["cancel"],
        "unknown_new": ["unknown_new"],
        "unknown_cancel": [report(ExecType.NEW), "cancel", "unknown_cancel"],
        "filled": [report(ExecType.NEW), trade(QTY, QTY)],
        "cancelled": [report(ExecType.NEW), trade(4, 4), report(ExecType.CANCELED, 4)],
        "rejected": [report(ExecType.REJECTED)],
        "expired": [report(ExecType.NEW), report(ExecType.EXPIRED)],
    }
    for step in setups[name]:
        if step == "cancel":
            order.request_cancel(ts_ns=2)
        elif step == "unknown_new":
            assert order.outcome_unknown(RequestKind.NEW, 2)
        elif step == "unknown_cancel":
            assert order.outcome_unknown(RequestKind.CANCEL, 2)
        else:
            order.apply(step)
    return order


def fire(order: Order, event: str) -> None:
    if event == "request_cancel":
        order.request_cancel(ts_ns=3)
    elif event == "cancel_refused":
        order.cancel_refused(ts_ns=3)
    elif event == "TRADE_part":
        order.apply(trade(order.cum_qty + 2, 2))
    elif event == "TRADE_rest":
        order.apply(trade(QTY, QTY - order.cum_qty))
    elif event == "unknown_new":
        order.outcome_unknown(RequestKind.NEW, 3)
    elif event == "unknown_cancel":
        order.outcome_unknown(RequestKind.CANCEL, 3)
    else:
        order.apply(report(ExecType[event], order.cum_qty))


ILLEGAL = "illegal"
IGNORED = "ignored"      # the state stays and the report is counted as ignored
UNCHANGED = "unchanged"  # the state stays and nothing is counted (a request outcome some report settled first)
EVENTS = ("NEW", "TRADE_part", "TRADE_rest", "CANCELED", "EXPIRED", "REJECTED", "request_cancel", "cancel_refused",
          "unknown_new", "unknown_cancel")
WORKING = {
    "pending": ("submitted", "partially_filled", "filled", "cancelled", "expired", "rejected", "cancelling", ILLEGAL,
                "unknown", UNCHANGED),
    "submitted": (IGNORED, "partially_filled", "filled", "cancelled", "expired", ILLEGAL, "cancelling", ILLEGAL,
                  UNCHANGED, UNCHANGED),
    "partially_filled": (IGNORED, "partially_filled", "filled", "cancelled", "expired", ILLEGAL, "cancelling",
                         ILLEGAL, UNCHANGED, UNCHANGED),
    "cancelling": (IGNORED, "cancelling", "filled", "cancelled", "expired", ILLEGAL, ILLEGAL, "submitted",
                   UNCHANGED, "unknown"),
    "cancelling_partial": (IGNORED, "cancelling", "filled", "cancelled", "expired", ILLEGAL, ILLEGAL,
                           "partially_filled", UNCHANGED, "unknown"),
    "cancelling_unacked": (IGNORED, "cancelling", "filled", "cancelled", "expired", "rejected", ILLEGAL, "pending",
                           UNCHANGED, "unknown"),
    "unknown_new": ("submitted", "partially_filled", "filled", "cancelled", "expired", "rejected", "cancelling",
                    ILLEGAL, UNCHANGED, UNCHANGED),
    "unknown_cancel": (IGNORED, "unknown", "filled", "cancelled", "expired", ILLEGAL, ILLEGAL, "submitted",
                       UNCHANGED, UNCHANGED),
}
TERMINAL = {name: (IGNORED,) * 6 + (ILLEGAL, IGNORED, UNCHANGED, UNCHANGED)
            for name in ("filled", "cancelled", "rejected", "expired")}
TABLE = [(start, event, outcome) for start, outcomes in (WORKING | TERMINAL).items()
         for event, outcome in zip(EVENTS, outcomes, strict=True)]


@pytest.mark.parametrize(("start", "event", "outcome"), TABLE, ids=[f"{s}-{e}" for s, e, _ in TABLE])
def test_transition(start: str, event: str, outcome: str) -> None:
    order = order_in(start)
    state, ignored, cum_qty = order.state, order.ignored_reports, order.cum_qty
    if outcome == ILLEGAL:
        with pytest.raises(IllegalTransition):
            fire(order, event)
        assert order.state is state and order.cum_qty == cum_qty
        return
    fire(order, event)
    if outcome in (IGNORED, UNCHANGED):
        assert order.state is state
        assert order.ignored_reports == ignored + (outcome == IGNORED)
        assert order.cum_qty == cum_qty
    else:
        assert order.state is OrderState(outcome)


def test_setups_reach_the_states_they_name() -> None:
    for name in WORKING | TERMINAL:
        expected = name.removesuffix("_partial").removesuffix("_unacked").removesuffix("_new").removesuffix("_cancel")
        assert order_in(name).state is OrderState(expected)
    assert order_in("unknown_new").unknown_of is RequestKind.NEW
    assert order_in("unknown_cancel").unknown_of is RequestKind.CANCEL


def test_terminal_states() -> None:
    assert {s for s in OrderState if s.is_terminal} == {
        OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED}


def test_illegal_transition_names_order_state_and_event() -> None:
    order = order_in("submitted")
    with pytest.raises(IllegalTransition) as caught:
        order.apply(report(ExecType.REJECTED))
    error = caught.value
    assert (error.client_order_id, error.state) == ("c-1", OrderState.SUBMITTED)
    assert "REJECTED" in error.event
    assert "c-1" in str(error) and "submitted" in str(error) and "REJECTED" in str(error)


def test_overfill_is_illegal() -> None:
    order = order_in("partially_filled")
    with pytest.raises(IllegalTransition, match="TRADE of 7 with 4 filled, over qty=10"):
        order.apply(trade(QTY + 1, 7))


def test_report_for_another_order_is_refused() -> None:
    with pytest.raises(ValueError):
        order_in("submitted").apply(report(ExecType.NEW, client_order_id="c-2"))


def test_a_rejection_keeps_the_venues_reason() -> None:
    order = order_in("pending")
    order.apply(ExecutionReport("binance", "c-1", "", ExecType.REJECTED, 2, 0, reason="Filter failure: LOT_SIZE"))
    assert (order.state, order.reason) == (OrderState.REJECTED, "Filter failure: LOT_SIZE")


# ---------------------------------------------------------------- fills, once each, by trade id

def test_duplicate_trades_add_nothing_and_reordered_ones_each_count_once() -> None:
    order = order_in("submitted")
    later = order.apply(trade(7, 4, price=6_000_100, fee="0.24", trade_id="B"))   # arrives first
    assert later is not None and (later.qty, later.price, later.trade_id) == (4, 6_000_100, "B")
    earlier = order.apply(trade(3, 3, fee="0.18", trade_id="A"))
    assert earlier is not None and (earlier.qty, earlier.price) == (3, 6_000_000)
    assert order.apply(trade(3, 3, fee="0.18", trade_id="A")) is None             # duplicate
    assert order.apply(trade(7, 4, trade_id="B")) is None
    assert order.cum_qty == 7 and order.trade_ids == {"A", "B"}
    assert order.fees == {"USDT": Decimal("0.42")}
    assert order.ignored_reports == 2
    assert order.state is OrderState.PARTIALLY_FILLED


def test_a_report_without_a_trade_id_fills_the_increase_of_the_cumulative_quantity() -> None:
    order = order_in("submitted")
    fill = order.apply(trade(8, 3, trade_id=""))   # the report for the first 5 never came: cum_qty is authoritative
    assert fill is not None and fill.qty == 8
    assert order.apply(trade(8, 3, trade_id="")) is None
    assert order.cum_qty == order.venue_cum_qty == 8


def test_fill_carries_the_order_and_the_report() -> None:
    order = order_in("submitted")
    fill = order.apply(trade(2, 2, price=5_999_900, fee="0.0011999800"))
    assert fill is not None
    assert (fill.client_order_id, fill.parent_id, fill.venue, fill.instrument, fill.side) == (
        "c-1", "P1", "binance", "BTC/USDT", Side.BUY)
    assert (fill.qty, fill.price, fill.fee, fill.fee_asset, fill.trade_id) == (
        2, 5_999_900, Decimal("0.0011999800"), "USDT", "T2")
    assert (fill.liquidity, fill.ts_ns, fill.signal_mid_x2) == (Liquidity.TAKER, 2, 11_999_000)
    assert order.venue_order_id == "77"


def test_late_trade_announced_by_the_cancel_is_still_counted_up_to_the_final_quantity() -> None:
    order = order_in("cancelling")
    order.apply(report(ExecType.CANCELED, cum_qty=4))
    assert order.state is OrderState.CANCELLED
    assert order.missing_qty == 4 and order.final_cum_qty == 4
    assert order.apply(trade(5, 5)) is None                       # more than the venue announced: ignored
    late = order.apply(trade(4, 4))
    assert late is not None and late.qty == 4
    assert order.apply(trade(4, 4)) is None                       # and only once
    assert (order.state, order.cum_qty, order.missing_qty, order.open_qty) == (OrderState.CANCELLED, 4, 0, 0)


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8), st.data())
def test_fills_sum_to_the_distinct_trades_delivered_whatever_the_order_and_repeats(parts: list[int], data) -> None:
    qty = sum(parts)
    order = Order("c-1", child(qty=qty))
    reports, cum = [], 0
    for number, part in enumerate(parts):
        cum += part
        reports.append(trade(cum, part, fee=f"0.{part}", trade_id=f"t{number}"))
    delivered = data.draw(st.lists(st.sampled_from(reports), min_size=1, max_size=3 * len(reports)))
    fills = [f for f in (order.apply(r) for r in delivered) if f is not None]
    distinct = {r.trade_id: r.last_qty for r in delivered}
    assert sum(f.qty for f in fills) == order.cum_qty == sum(distinct.values())
    assert sorted(f.trade_id for f in fills) == sorted(distinct)
    assert order.state is (OrderState.FILLED if order.cum_qty == qty else OrderState.PARTIALLY_FILLED)


def test_in_order_partial_fills_sum_to_the_order_with_exact_fees() -> None:
    order = order_in("submitted")
    fills = [order.apply(trade(cum, last, price=price, fee=fee)) for cum, last, price, fee in (
        (3, 3, 6_000_000, "0.0018"), (4, 1, 6_000_100, "0.00060001"), (10, 6, 5_999_900, "0.00359994"))]
    assert sum(f.qty for f in fills) == QTY
    assert order.state is OrderState.FILLED
    assert order.fees == {"USDT": Decimal("0.00599995")}     # 0.1% of 1.8 + 0.60001 + 3.59994
    assert order.average_price(BTC) == Decimal("59999.5000000")  # (3*60000 + 60001 + 6*59999) / 10


def test_average_price_rounds_half_even_and_is_none_unfilled() -> None:
    order = order_in("submitted")
    assert order.average_price(BTC) is None
    order.apply(trade(1, 1, price=1))
    order.apply(trade(3, 2, price=2))
    assert order.average_price(BTC) == Decimal("0.0166667")   # 5/3 price units at 2+5 places


def test_new_request_is_the_same_for_every_request_and_carries_the_creation_time() -> None:
    order = Order("c-1", child(), created_ts_ns=7)
    assert order.new_request() == order.new_request() == NewOrderRequest(
        "c-1", "binance", "BTC/USDT", Side.BUY, QTY, 6_000_000, OrderType.LIMIT, TimeInForce.GTC, 7)


def test_as_update() -> None:
    order = order_in("partially_filled")
    update = order.as_update()
    assert (update.state, update.qty, update.cum_qty, update.parent_id, update.ts_ns) == (
        "partially_filled", QTY, 4, "P1", 2)


# ---------------------------------------------------------------- what the venue's records say

def test_reconcile_settles_an_unknown_create_the_venue_holds_and_books_its_trades() -> None:
    order = order_in("unknown_new")
    fills = order.reconcile(venue_state(VenueOrderStatus.OPEN, 3, [venue_trade("9", 3)]), 8)
    assert [(f.trade_id, f.qty, f.liquidity) for f in fills] == [("9", 3, Liquidity.MAKER)]
    assert (order.state, order.unknown_of, order.acknowledged) == (OrderState.PARTIALLY_FILLED, None, True)


def test_reconcile_books_only_the_trades_no_report_booked_and_takes_the_venues_end() -> None:
    order = order_in("partially_filled")            # holds trade T4 (4)
    venue = venue_state(VenueOrderStatus.FILLED, QTY, [venue_trade("T4", 4), venue_trade("T10", 6)])
    fills = order.reconcile(venue, 9)
    assert [(f.trade_id, f.qty) for f in fills] == [("T10", 6)]
    assert order.state is OrderState.FILLED and order.cum_qty == QTY
    assert order.reconcile(venue, 10) == []         # a second answer adds nothing


def test_an_ended_order_whose_trades_the_venue_cannot_list_waits_then_gets_one_inferred_fill() -> None:
    order = order_in("cancelling")
    venue = venue_state(VenueOrderStatus.CANCELLED, 4, complete=False)
    assert order.reconcile(venue, 9) == [] and order.state is OrderState.CANCELLING
    fill = order.inferred_fill(venue, 10)
    assert fill is not None and (fill.qty, fill.price, fill.trade_id) == (4, 6_000_000, "inferred-c-1-4")
    assert (order.state, order.cum_qty) == (OrderState.CANCELLED, 4)
    assert order.inferred_fill(venue, 11) is None
    assert order.apply(trade(4, 4, trade_id="real")) is None   # the real trade, late: its quantity is booked


def test_an_unknown_cancel_the_venue_did_not_carry_out_returns_the_order_to_work() -> None:
    order = order_in("unknown_cancel")
    order.reconcile(venue_state(VenueOrderStatus.OPEN, 0), 9)
    assert (order.state, order.unknown_of) == (OrderState.SUBMITTED, None)


def test_a_cancel_in_flight_stays_in_flight_when_the_venue_still_holds_the_order() -> None:
    order = order_in("cancelling")
    order.reconcile(venue_state(VenueOrderStatus.OPEN, 0), 9)
    assert order.state is OrderState.CANCELLING


def test_an_order_concluded_lost_that_the_venue_holds_after_all_is_reopened() -> None:
    order = order_in("unknown_new")
    order.never_placed(9)
    assert (order.state, order.reason) == (OrderState.REJECTED, NEVER_PLACED)
    order.reconcile(venue_state(VenueOrderStatus.OPEN, 0), 10)
    assert (order.state, order.reason) == (OrderState.SUBMITTED, "")


def test_only_an_order_the_venue_never_showed_can_be_concluded_never_placed() -> None:
    with pytest.raises(IllegalTransition):
        order_in("submitted").never_placed(9)
    with pytest.raises(IllegalTransition):
        order_in("rejected").never_placed(9)
    order = order_in("cancelling_unacked")
    order.never_placed(9)
    assert order.state is OrderState.REJECTED and order.updated_ts_ns == 9


def test_reconcile_refuses_another_orders_account() -> None:
    with pytest.raises(ValueError):
        order_in("submitted").reconcile(venue_state(VenueOrderStatus.OPEN, 0, client_order_id="c-2"), 9)


# ---------------------------------------------------------------- the table

def test_client_order_ids_carry_the_run_and_count_from_one() -> None:
    table = OrderTable("run", run_id=7)
    ids = [table.create(child(), ts_ns=1).client_order_id for _ in range(3)]
    assert ids == ["run-7-1", "run-7-2", "run-7-3"]
    assert all(CLIENT_ORDER_ID.fullmatch(i) for i in ids)
    assert OrderTable("run", run_id=7).create(child(), ts_ns=1).client_order_id == "run-7-1"  # deterministic
    assert [table.owns(i) for i in ("run-3-9", "run-7-1", "run-x-1", "runs-1-1", "run-1", "other-1-1")] == [
        True, True, False, False, False, False]


@pytest.mark.parametrize("prefix", ["", "bad prefix", "x" * 33, "a.b", "ok\n"])
def test_prefix_that_breaks_the_venue_rule_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        OrderTable(prefix)


def test_id_that_grows_past_36_characters_is_refused() -> None:
    table = OrderTable("x" * 32, run_id=1)
    for _ in range(9):
        assert len(table.create(child(), ts_ns=1).client_order_id) == 36
    with pytest.raises(ValueError):
        table.create(child(), ts_ns=1)


def test_a_child_order_is_found_by_its_id() -> None:
    table = OrderTable("t")
    order = table.create(child(child_id="P1.1"), ts_ns=1)
    assert table.find_child("P1.1") is order and table.find_child("P1.2") is None and table.find_child("") is None


def test_an_order_the_venue_holds_and_the_table_lost_is_adopted() -> None:
    table = OrderTable("t")
    venue = venue_state(VenueOrderStatus.OPEN, 0, client_order_id="t-1-5")
    order = table.adopt(venue, ts_ns=4)
    assert table.get("t-1-5") is order and table.open_orders("BTC/USDT") == [order]
    assert (order.qty, order.price, order.side, order.created_ts_ns) == (QTY, 6_000_000, Side.BUY, 4)
    with pytest.raises(ValueError):
        table.adopt(venue, ts_ns=5)


def test_table_tracks_open_orders_states_and_counters() -> None:
    table = OrderTable("t")
    buy = table.create(child(qty=10), ts_ns=1)
    sell = table.create(child(qty=5, side=Side.SELL), ts_ns=1)
    other = table.create(child(qty=1, instrument="ETH/USDT"), ts_ns=1)
    assert table.get("t-1-1") is buy and table.get("nope") is None
    assert table.open_orders("BTC/USDT") == [buy, sell] and table.open_orders() == [buy, sell, other]
    fill = table.apply(trade(4, 4, client_order_id="t-1-1"))
    assert fill is not None and fill.qty == 4
    assert table.apply(trade(4, 4, client_order_id="t-1-1")) is None

    cancel = table.changed(sell, sell.request_cancel, 5)
    assert (cancel.client_order_id, cancel.venue, cancel.instrument, cancel.ts_ns) == (
        "t-1-2", "binance", "BTC/USDT", 5)
    table.apply(report(ExecType.CANCELED, client_order_id="t-1-2"))
    table.apply(report(ExecType.REJECTED, client_order_id="t-1-3"))
    table.apply(trade(10, 6, client_order_id="t-1-1"))
    table.changed(sell, sell.cancel_refused, 6)   # arrives after the cancel: ignored, counted
    assert table.apply(report(ExecType.NEW, client_order_id="stranger")) is None

    assert table.open_orders("BTC/USDT") == [] and table.open_orders("ETH/USDT") == []
    assert other.state is OrderState.REJECTED
    assert table.states() == {"cancelled": 1, "filled": 1, "rejected": 1}
    assert table.counters.as_dict() == {"ignored_reports": 2, "unknown_reports": 1}
    assert len(table) == 3 and list(table) == [buy, sell, other]
    assert table.instruments() == ["BTC/USDT", "ETH/USDT"]

    other.reconcile(venue_state(VenueOrderStatus.OPEN, 0, client_order_id="t-1-3"), 7)
    table.changed(other, lambda: None)
    assert table.open_orders("ETH/USDT") == [other]   # reopened: the venue still had it


# ---------------------------------------------------------------- every field of what it says

@pytest.mark.parametrize(("start", "event", "name"), [
    ("filled", "request_cancel", "request_cancel"), ("submitted", "cancel_refused", "cancel_refused"),
    ("submitted", "never_placed", "never_placed"), ("submitted", "REJECTED", "REJECTED after the venue acknowledged"),
])
def test_an_illegal_event_names_the_order_and_itself(start, event, name):
    order = order_in(start)
    with pytest.raises(IllegalTransition) as caught:
        order.never_placed(9) if event == "never_placed" else fire(order, event)
    assert (caught.value.client_order_id, caught.value.event) == ("c-1", name)


def test_ignored_reports_add_up():
    order = order_in("filled")
    for count in range(1, 4):
        order.apply(report(ExecType.NEW))
        assert order.ignored_reports == count
    order.cancel_refused(9)
    assert order.ignored_reports == 4


def test_an_adopted_order_is_a_limit_order_of_no_parent_created_when_found():
    table = OrderTable("t")
    order = table.adopt(venue_state(VenueOrderStatus.OPEN, 0, client_order_id="t-1-9"), ts_ns=44)
    assert (order.parent_id, order.venue, order.order_type, order.tif, order.signal_mid_x2) == (
        "", "", OrderType.LIMIT, TimeInForce.GTC, 0)
    assert (order.created_ts_ns, order.child_id, order.state, order.reason) == (44, "", OrderState.PENDING, "")
    assert order.as_update().instrument == "BTC/USDT" and order.as_update().side is Side.BUY


def test_an_inferred_fill_books_exactly_the_missing_quantity_without_a_fee():
    order = order_in("partially_filled")                       # 4 booked
    venue = venue_state(VenueOrderStatus.CANCELLED, 5, complete=False)
    fill = order.inferred_fill(venue, 10)
    assert (fill.qty, fill.fee, fill.fee_asset, fill.liquidity, fill.ts_ns) == (1, Decimal(0), "", Liquidity.TAKER, 10)
    assert order.fees == {"USDT": Decimal(0)} and order.state is OrderState.CANCELLED
    assert order_in("submitted").inferred_fill(venue_state(VenueOrderStatus.OPEN, 3), 10) is None


def test_a_fill_ends_the_order_with_no_reason_and_a_new_order_knows_nothing_yet():
    order = Order("c-1", child(child_id="P1.1"))
    assert (order.child_id, order.acknowledged, order.unknown_of, order.reason, order.venue_order_id) == (
        "P1.1", False, None, "", "")
    assert order.before_cancel is OrderState.PENDING and order.limit_price == 6_000_000
    order.apply(trade(QTY, QTY))
    assert (order.state, order.reason, order.final_cum_qty) == (OrderState.FILLED, "", QTY)


def test_the_venue_order_id_is_kept_from_its_first_mention():
    order = order_in("pending")
    order.apply(ExecutionReport("binance", "c-1", "", ExecType.NEW, 2, 0))
    assert order.venue_order_id == ""
    order.apply(trade(2, 2))
    order.apply(ExecutionReport("binance", "c-1", "other", ExecType.TRADE, 3, 4, 2, 1, trade_id="x"))
    assert order.venue_order_id == "77"


def test_reconcile_books_the_venues_fee_asset_and_ends_with_no_reason():
    order = order_in("unknown_new")
    order.reconcile(venue_state(VenueOrderStatus.FILLED, QTY, [venue_trade("9", QTY)]), 8)
    assert order.fees == {"USDT": Decimal("0.01")} and (order.state, order.reason) == (OrderState.FILLED, "")
