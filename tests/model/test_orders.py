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
    Side,
    TimeInForce,
)
from engine.model.numbers import Instrument
from engine.model.orders import CLIENT_ORDER_ID, IllegalTransition, Order, OrderState, OrderTable

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
QTY = 10


def child(qty: int = QTY, side: Side = Side.BUY, instrument: str = "BTC/USDT", ts_ns: int = 1) -> ChildOrder:
    return ChildOrder(parent_id="P1", venue="binance", instrument=instrument, side=side, qty=qty, price=6_000_000,
                      order_type=OrderType.LIMIT, tif=TimeInForce.GTC, ts_ns=ts_ns, signal_mid_x2=11_999_000)


def report(exec_type: ExecType, cum_qty: int = 0, last_qty: int = 0, last_price: int = 0,
           fee: Decimal = Decimal(0), client_order_id: str = "c-1", ts_ns: int = 2) -> ExecutionReport:
    return ExecutionReport(venue="binance", client_order_id=client_order_id, venue_order_id="77",
                           exec_type=exec_type, ts_ns=ts_ns, cum_qty=cum_qty, last_qty=last_qty,
                           last_price=last_price, fee=fee, fee_asset="USDT" if last_qty else "",
                           liquidity=Liquidity.TAKER if last_qty else None)


def trade(cum_qty: int, last_qty: int, price: int = 6_000_000, fee: str = "0", **kw) -> ExecutionReport:
    return report(ExecType.TRADE, cum_qty, last_qty, price, Decimal(fee), **kw)


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
        "filled": [report(ExecType.NEW), trade(QTY, QTY)],
        "cancelled": [report(ExecType.NEW), trade(4, 4), report(ExecType.CANCELED, 4)],
        "rejected": [report(ExecType.REJECTED)],
        "expired": [report(ExecType.NEW), report(ExecType.EXPIRED)],
    }
    for step in setups[name]:
        if step == "cancel":
            order.request_cancel(ts_ns=2)
        else:
            order.apply(step)
    return order


def fire(order: Order, event: str) -> None:
    if event == "request_cancel":
        order.request_cancel(ts_ns=3)
    elif event == "cancel_rejected":
        order.cancel_rejected(ts_ns=3)
    elif event == "TRADE_part":
        order.apply(trade(order.cum_qty + 2, 2))
    elif event == "TRADE_rest":
        order.apply(trade(QTY, QTY - order.cum_qty))
    else:
        order.apply(report(ExecType[event], order.cum_qty))


ILLEGAL = "illegal"
IGNORED = "ignored"
EVENTS = ("NEW", "TRADE_part", "TRADE_rest", "CANCELED", "EXPIRED", "REJECTED", "request_cancel", "cancel_rejected")
WORKING = {
    "pending": ("submitted", "partially_filled", "filled", "cancelled", "expired", "rejected", "cancelling", ILLEGAL),
    "submitted": (IGNORED, "partially_filled", "filled", "cancelled", "expired", ILLEGAL, "cancelling", ILLEGAL),
    "partially_filled": (IGNORED, "partially_filled", "filled", "cancelled", "expired", ILLEGAL, "cancelling",
                         ILLEGAL),
    "cancelling": (IGNORED, "cancelling", "filled", "cancelled", "expired", ILLEGAL, ILLEGAL, "submitted"),
    "cancelling_partial": (IGNORED, "cancelling", "filled", "cancelled", "expired", ILLEGAL, ILLEGAL,
                           "partially_filled"),
    "cancelling_unacked": (IGNORED, "cancelling", "filled", "cancelled", "expired", "rejected", ILLEGAL, "pending"),
}
TERMINAL = {name: (IGNORED,) * 6 + (ILLEGAL, IGNORED) for name in ("filled", "cancelled", "rejected", "expired")}
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
    if outcome == IGNORED:
        assert order.state is state
        assert order.ignored_reports == ignored + 1
        assert order.cum_qty == cum_qty
    else:
        assert order.state is OrderState(outcome)


def test_setups_reach_the_states_they_name() -> None:
    for name in WORKING | TERMINAL:
        assert order_in(name).state is OrderState(name.removesuffix("_partial").removesuffix("_unacked"))


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
    with pytest.raises(IllegalTransition, match="cum_qty=11"):
        order.apply(trade(QTY + 1, 7))


def test_report_for_another_order_is_refused() -> None:
    with pytest.raises(ValueError):
        order_in("submitted").apply(report(ExecType.NEW, client_order_id="c-2"))


# ---------------------------------------------------------------- fills from cum_qty only

def test_duplicate_and_stale_trades_add_nothing() -> None:
    order = order_in("submitted")
    first = order.apply(trade(3, 3, fee="0.18"))
    assert first is not None and first.qty == 3
    assert order.apply(trade(3, 3, fee="0.18")) is None           # duplicate
    second = order.apply(trade(7, 4, price=6_000_100, fee="0.24"))
    assert second is not None and (second.qty, second.price) == (4, 6_000_100)
    assert order.apply(trade(3, 3, fee="0.18")) is None           # older, out of order
    assert order.cum_qty == 7
    assert order.fees == {"USDT": Decimal("0.42")}
    assert order.ignored_reports == 2
    assert order.state is OrderState.PARTIALLY_FILLED


def test_fill_carries_the_order_and_the_report() -> None:
    order = order_in("submitted")
    fill = order.apply(trade(2, 2, price=5_999_900, fee="0.0011999800"))
    assert fill is not None
    assert (fill.client_order_id, fill.parent_id, fill.venue, fill.instrument, fill.side) == (
        "c-1", "P1", "binance", "BTC/USDT", Side.BUY)
    assert (fill.qty, fill.price, fill.fee, fill.fee_asset) == (2, 5_999_900, Decimal("0.0011999800"), "USDT")
    assert (fill.liquidity, fill.ts_ns, fill.signal_mid_x2) == (Liquidity.TAKER, 2, 11_999_000)
    assert order.venue_order_id == "77"


def test_a_trade_that_skips_a_lost_report_fills_the_whole_increase() -> None:
    order = order_in("submitted")
    fill = order.apply(trade(8, 3))   # the report for the first 5 never came: cum_qty is authoritative
    assert fill is not None and fill.qty == 8
    assert order.cum_qty == order.venue_cum_qty == 8


def test_late_trade_announced_by_the_cancel_is_still_counted() -> None:
    order = order_in("cancelling")
    order.apply(report(ExecType.CANCELED, cum_qty=4))
    assert order.state is OrderState.CANCELLED
    assert order.missing_qty == 4
    assert order.apply(trade(5, 5)) is None                       # more than the venue announced: ignored
    late = order.apply(trade(4, 4))
    assert late is not None and late.qty == 4
    assert order.apply(trade(4, 4)) is None                       # and only once
    assert (order.state, order.cum_qty, order.missing_qty, order.open_qty) == (OrderState.CANCELLED, 4, 0, 0)


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8), st.data())
def test_partial_fills_sum_to_the_largest_cum_qty_whatever_the_delivery(parts: list[int], data) -> None:
    qty = sum(parts)
    order = Order("c-1", child(qty=qty))
    reports, cum = [], 0
    for part in parts:
        cum += part
        reports.append(trade(cum, part, fee=f"0.{part}"))
    delivered = data.draw(st.lists(st.sampled_from(reports), min_size=1, max_size=3 * len(reports)))
    fills = [f for f in (order.apply(r) for r in delivered) if f is not None]
    best = max(r.cum_qty for r in delivered)
    assert sum(f.qty for f in fills) == order.cum_qty == best
    assert all(f.qty > 0 for f in fills)
    assert order.state is (OrderState.FILLED if best == qty else OrderState.PARTIALLY_FILLED)


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


def test_new_request_is_the_same_for_every_resend() -> None:
    order = order_in("pending")
    assert order.new_request() == order.new_request() == NewOrderRequest(
        "c-1", "binance", "BTC/USDT", Side.BUY, QTY, 6_000_000, OrderType.LIMIT, TimeInForce.GTC, 1)


def test_as_update() -> None:
    order = order_in("partially_filled")
    update = order.as_update()
    assert (update.state, update.qty, update.cum_qty, update.parent_id, update.ts_ns) == (
        "partially_filled", QTY, 4, "P1", 2)


# ---------------------------------------------------------------- the table

def test_client_order_ids_are_sequential_and_valid() -> None:
    table = OrderTable("run7", first_seq=41)
    ids = [table.create(child()).client_order_id for _ in range(3)]
    assert ids == ["run7-41", "run7-42", "run7-43"]
    assert all(CLIENT_ORDER_ID.fullmatch(i) for i in ids)
    assert OrderTable("run7", first_seq=41).create(child()).client_order_id == "run7-41"  # deterministic


@pytest.mark.parametrize("prefix", ["", "bad prefix", "x" * 35, "a.b", "ok\n"])
def test_prefix_that_breaks_the_venue_rule_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        OrderTable(prefix)


def test_id_that_grows_past_36_characters_is_refused() -> None:
    table = OrderTable("x" * 33, first_seq=99)
    assert table.create(child()).client_order_id == "x" * 33 + "-99"
    with pytest.raises(ValueError):
        table.create(child())


def test_table_tracks_open_orders_exposure_and_counters() -> None:
    table = OrderTable("t")
    buy = table.create(child(qty=10))
    sell = table.create(child(qty=5, side=Side.SELL))
    other = table.create(child(qty=1, instrument="ETH/USDT"))
    assert table.get("t-1") is buy and table.get("nope") is None
    assert table.open_orders("BTC/USDT") == [buy, sell]
    fill = table.apply(trade(4, 4, client_order_id="t-1"))
    assert fill is not None and fill.qty == 4
    assert table.apply(trade(4, 4, client_order_id="t-1")) is None
    exposure = table.exposure("BTC/USDT", position=4, ts_ns=9)
    assert (exposure.position, exposure.open_buy_qty, exposure.open_sell_qty, exposure.ts_ns) == (4, 6, 5, 9)

    cancel = table.request_cancel("t-2", ts_ns=5)
    assert (cancel.client_order_id, cancel.venue, cancel.instrument, cancel.ts_ns) == ("t-2", "binance", "BTC/USDT", 5)
    table.apply(report(ExecType.CANCELED, client_order_id="t-2"))
    table.apply(report(ExecType.REJECTED, client_order_id="t-3"))
    table.apply(trade(10, 6, client_order_id="t-1"))
    table.cancel_rejected("t-2", ts_ns=6)   # arrives after the cancel: ignored, counted
    assert table.apply(report(ExecType.NEW, client_order_id="stranger")) is None

    assert table.open_orders("BTC/USDT") == [] and table.open_orders("ETH/USDT") == []
    assert other.state is OrderState.REJECTED
    assert table.counters.as_dict() == {
        "created": 3, "filled": 1, "cancelled": 1, "rejected": 1, "expired": 0, "fills": 2,
        "ignored_reports": 2, "unknown_reports": 1}
    assert table.exposure("BTC/USDT", position=10, ts_ns=10).open_buy_qty == 0
