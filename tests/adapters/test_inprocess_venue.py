"""The in-process venue: its records, its door (recvWindow, rate limits, server errors), its order stream's
faults, reconciliation and its account of the run; and its actor in virtual time.

Every fault test compares what the venue did with `FaultPlan.scheduled`, the list of hits a seed gives before a
run starts; the property test checks the venue's account against every report it produced, faults or not.
"""
from __future__ import annotations

import dataclasses
import heapq
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.simulated.faults import PPM, FaultKind, FaultPlan, FaultRule
from adapters.simulated.inprocess import (
    CARRIED_OUT,
    DEFAULT_RECV_WINDOW_NS,
    NOT_CARRIED_OUT,
    InProcessVenue,
    Redelivery,
    VenueOutput,
)
from adapters.simulated.matching import DUPLICATE_ORDER, OUTSIDE_RECV_WINDOW, UNKNOWN_ORDER, MatchingEngine
from adapters.simulated.venue import SimulatedVenueActor
from engine.messages import (
    VENUE_ANSWERS,
    BookView,
    CancelAllRequest,
    CancelRequest,
    ExecType,
    ExecutionReport,
    FailureClass,
    Liquidity,
    NewOrderRequest,
    OrderType,
    ReconcileReply,
    ReconcileRequest,
    RequestFailed,
    RequestKind,
    Side,
    TimeInForce,
    VenueOrderStatus,
    VenueSession,
    VenueTrade,
)
from engine.model.numbers import Instrument
from engine.runtime import (ChildSpec, CrashPlan, CrashRule, DelayedEdge, Lifecycle, Mailbox, Supervisor, VirtualClock,
                            actor_runner)

BTC = Instrument("BTC/USDT", "sim", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
ETH = Instrument("ETH/USDT", "sim", "ETHUSDT", "ETH", "USDT", price_decimals=2, qty_decimals=4)
MAKER, TAKER = Decimal("0.0001"), Decimal("0.001")
ASKS = ((6_000_100, 3_000), (6_000_200, 5_000))
BIDS = ((6_000_000, 4_000), (5_999_900, 6_000))
T0 = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def rate(fraction: str) -> int:
    return int(Decimal(fraction) * PPM)


def view(update_id: int = 100, bids=BIDS, asks=ASKS, instrument: str = "BTC/USDT") -> BookView:
    return BookView(instrument, T0 + update_id, update_id, bids, asks)


def venue(*rules: FaultRule, seed: int = 0, **kw) -> InProcessVenue:
    """A venue with a BTC book showing BIDS and ASKS, and the faults `rules` list."""
    made = InProcessVenue(MatchingEngine({"BTC/USDT": BTC, "ETH/USDT": ETH}, MAKER, TAKER, "sim"),
                          FaultPlan(seed, rules), **kw)
    made.handle(view(), T0)
    return made


def new(client_order_id: str, side: Side = Side.BUY, qty: int = 1_000, price: int = 0,
        order_type: OrderType = OrderType.MARKET, tif: TimeInForce = TimeInForce.GTC, ts_ns: int = T0,
        instrument: str = "BTC/USDT") -> NewOrderRequest:
    return NewOrderRequest(client_order_id, "sim", instrument, side, qty, price, order_type, tif, ts_ns)


def resting(client_order_id: str, side: Side = Side.BUY, price: int = 5_000_000, ts_ns: int = T0,
            instrument: str = "BTC/USDT") -> NewOrderRequest:
    """A GTC limit far from the book: one NEW report, and it rests."""
    return new(client_order_id, side, 1_000, price, OrderType.LIMIT, ts_ns=ts_ns, instrument=instrument)


def cancel(client_order_id: str, instrument: str = "BTC/USDT") -> CancelRequest:
    return CancelRequest(client_order_id, "sim", instrument, T0)


def sent_reports(output: VenueOutput) -> list[tuple[str, str]]:
    return [(m.client_order_id, m.exec_type.value) for m in output.send if isinstance(m, ExecutionReport)]


def trades_of(reports) -> list[VenueTrade]:
    """The venue trades the TRADE reports among `reports` state."""
    return [VenueTrade(r.trade_id, r.last_qty, r.last_price, r.fee, r.fee_asset, r.liquidity, r.ts_ns)
            for r in reports if isinstance(r, ExecutionReport) and r.exec_type is ExecType.TRADE]


def everything(sim: InProcessVenue, now_ns: int, instrument: str = "BTC/USDT", since_ns: int = 0) -> ReconcileReply:
    [reply] = sim.handle(ReconcileRequest("q", "sim", instrument, (), since_ns, now_ns), now_ns).send
    return reply


def named(sim: InProcessVenue, *ids: str, instrument: str = "BTC/USDT") -> ReconcileReply:
    [reply] = sim.handle(ReconcileRequest("q", "sim", instrument, ids, 0, T0), T0).send
    return reply


# ---------------------------------------------------------------- records

def test_records_keep_every_accepted_order_with_its_status_quantity_and_trades() -> None:
    sim = venue()
    taken = sim.handle(new("take", qty=5_000), T0 + 1)                                   # two taker fills
    rests = sim.handle(new("rest", qty=1_000, price=6_000_050, order_type=OrderType.LIMIT), T0 + 2)
    ioc = sim.handle(new("ioc", Side.SELL, 1_000, 6_500_000, OrderType.LIMIT, TimeInForce.IOC), T0 + 3)
    refused = sim.handle(new("bad", qty=0), T0 + 4)
    crossing = sim.handle(view(101, asks=((6_000_000, 400), (6_000_200, 5_000))), T0 + 5)   # a maker fill
    cancelled = sim.handle(cancel("rest"), T0 + 6)
    assert sent_reports(taken) == [("take", "NEW"), ("take", "TRADE"), ("take", "TRADE")]
    assert sent_reports(ioc) == [("ioc", "NEW"), ("ioc", "EXPIRED")]
    assert sent_reports(refused) == [("bad", "REJECTED")]
    assert sent_reports(crossing) == [("rest", "TRADE")] and sent_reports(cancelled) == [("rest", "CANCELED")]

    states = {s.client_order_id: s for s in everything(sim, T0 + 7).orders}
    assert list(states) == ["take", "rest", "ioc"]                       # in the order accepted; "bad" never was
    assert [(s.status, s.cum_qty, s.qty, s.side) for s in states.values()] == [
        (VenueOrderStatus.FILLED, 5_000, 5_000, Side.BUY), (VenueOrderStatus.CANCELLED, 400, 1_000, Side.BUY),
        (VenueOrderStatus.EXPIRED, 0, 1_000, Side.SELL)]
    assert states["take"].trades == tuple(trades_of(taken.send))
    assert states["rest"].trades == tuple(trades_of(crossing.send))
    assert [t.liquidity for t in states["take"].trades + states["rest"].trades] == [
        Liquidity.TAKER, Liquidity.TAKER, Liquidity.MAKER]
    assert [s.venue_order_id for s in states.values()] == [taken.send[0].venue_order_id,
                                                           rests.send[0].venue_order_id, ioc.send[0].venue_order_id]
    assert all(s.trades_complete for s in states.values())


def test_a_request_older_than_the_recv_window_is_refused_and_leaves_no_record() -> None:
    sim = venue()
    edge = sim.handle(resting("edge", ts_ns=T0), T0 + DEFAULT_RECV_WINDOW_NS)           # exactly 5 s old: in time
    late = sim.handle(resting("late", ts_ns=T0), T0 + DEFAULT_RECV_WINDOW_NS + 1)
    assert sent_reports(edge) == [("edge", "NEW")]
    [refusal] = late.send
    assert (refusal.exec_type, refusal.reason, refusal.venue_order_id) == (ExecType.REJECTED, OUTSIDE_RECV_WINDOW, "")
    assert OUTSIDE_RECV_WINDOW == "Timestamp for this request is outside of the recvWindow."
    assert [s.client_order_id for s in named(sim, "edge", "late").orders] == ["edge"]
    assert "late" not in sim.records.new_orders and not sim.matching.is_open("late")

    narrow = venue(recv_window_ns=1_000)
    assert sent_reports(narrow.handle(resting("a", ts_ns=T0), T0 + 1_000)) == [("a", "NEW")]
    assert sent_reports(narrow.handle(resting("b", ts_ns=T0), T0 + 1_001)) == [("b", "REJECTED")]


def test_a_client_order_id_is_accepted_again_once_its_order_is_closed_and_counted() -> None:
    sim = venue()
    first = sim.handle(new("dup"), T0)                                     # filled at once: no longer open
    second = sim.handle(resting("dup"), T0 + 1)                            # Binance accepts the id again
    third = sim.handle(resting("dup"), T0 + 2)                             # but not while that one is open
    assert sent_reports(first)[0] == sent_reports(second)[0] == ("dup", "NEW")
    assert [(r.exec_type, r.reason) for r in third.send] == [(ExecType.REJECTED, DUPLICATE_ORDER)]
    assert sim.records.new_orders == {"dup": 2}
    orders = named(sim, "dup").orders
    assert [(s.venue_order_id, s.status) for s in orders] == [
        (first.send[0].venue_order_id, VenueOrderStatus.FILLED), (second.send[0].venue_order_id, VenueOrderStatus.OPEN)]
    assert orders[0].venue_order_id != orders[1].venue_order_id
    assert sim.truth()["BTC/USDT"]["reused_client_order_ids"] == {"dup": 2}


def test_a_cancel_of_an_order_that_is_not_open_fails_as_not_found() -> None:
    sim = venue()
    sim.handle(resting("r"), T0)
    assert sent_reports(sim.handle(cancel("r"), T0 + 1)) == [("r", "CANCELED")]
    for client_order_id in ("r", "never"):                                 # cancelled already; never placed
        [failed] = sim.handle(cancel(client_order_id), T0 + 2).send
        assert failed == RequestFailed("sim", "BTC/USDT", client_order_id, RequestKind.CANCEL,
                                       FailureClass.NOT_FOUND, T0 + 2, UNKNOWN_ORDER)
    assert UNKNOWN_ORDER == "Unknown order sent."


def test_cancel_all_cancels_every_open_order_of_ours_on_that_instrument_only() -> None:
    sim = venue()
    for n in range(3):
        sim.handle(resting(f"b{n}"), T0 + n)
    sim.handle(new("filled"), T0 + 3)
    sim.handle(resting("eth", instrument="ETH/USDT"), T0 + 4)
    everything_on = CancelAllRequest("sim", "BTC/USDT", T0 + 5)
    cancelled = sim.handle(everything_on, T0 + 6)
    assert sent_reports(cancelled) == [("b0", "CANCELED"), ("b1", "CANCELED"), ("b2", "CANCELED")]
    assert all(r.ts_ns == T0 + 6 for r in cancelled.send)
    assert sim.handle(everything_on, T0 + 7) == VenueOutput()              # nothing left: nothing said
    assert sim.matching.is_open("eth") and sim.records.open_orders("ETH/USDT") == ["eth"]
    assert sim.records.open_orders("BTC/USDT") == []


def test_reconcile_answers_for_the_named_orders_or_every_order_since_a_time() -> None:
    sim = venue()
    sim.handle(resting("a"), T0 + 10)
    sim.handle(new("b", qty=4_000), T0 + 20)                               # two fills, oldest first
    sim.handle(resting("c"), T0 + 30)
    sim.handle(resting("eth", instrument="ETH/USDT"), T0 + 40)
    reply = named(sim, "c", "ghost", "a", "eth", "c")                      # asked on BTC/USDT
    assert (reply.request_id, reply.venue, reply.instrument, reply.error) == ("q", "sim", "BTC/USDT", "")
    assert [s.client_order_id for s in reply.orders] == ["c", "a"]         # absent: unknown, other instrument
    [b] = named(sim, "b").orders
    assert [(t.trade_id, t.qty, t.price) for t in b.trades] == [("1", 3_000, 6_000_100), ("2", 1_000, 6_000_200)]
    assert [s.client_order_id for s in everything(sim, T0 + 50, since_ns=T0 + 20).orders] == ["b", "c"]
    assert [s.client_order_id for s in everything(sim, T0 + 50, since_ns=T0 + 31).orders] == []
    assert [s.client_order_id for s in everything(sim, T0 + 50, "ETH/USDT").orders] == ["eth"]
    assert everything(sim, T0 + 50).ts_ns == T0 + 50


def test_the_truth_is_the_venues_account_of_the_run_per_instrument() -> None:
    sim = venue()
    sim.handle(view(7, bids=((300_000, 100),), asks=((300_010, 100),), instrument="ETH/USDT"), T0)
    bought = sim.handle(new("buy", qty=4_000), T0 + 1)
    sold = sim.handle(new("sell", Side.SELL, 1_500), T0 + 2)
    eth = sim.handle(new("eth", Side.SELL, 60, instrument="ETH/USDT"), T0 + 3)
    sim.handle(resting("rest"), T0 + 4)
    again = sim.handle(new("buy", qty=500), T0 + 5)                         # the id again, its order closed
    truth = sim.truth()
    assert json.loads(json.dumps(truth)) == truth
    assert list(truth) == ["BTC/USDT", "ETH/USDT"]
    assert truth["ETH/USDT"] == {"fills": 1, "position": -60, "open_orders": [], "reused_client_order_ids": {},
                                 "trades": {t.trade_id: -t.qty for t in trades_of(eth.send)}}
    btc = truth["BTC/USDT"]
    assert (btc["fills"], btc["position"]) == (4, 4_000 - 1_500 + 500)
    assert btc["trades"] == {**{t.trade_id: t.qty for t in trades_of(bought.send) + trades_of(again.send)},
                             **{t.trade_id: -t.qty for t in trades_of(sold.send)}}
    assert btc["open_orders"] == ["rest"] and btc["reused_client_order_ids"] == {"buy": 2}


# ---------------------------------------------------------------- faults at the door

def run_requests(sim: InProcessVenue, requests) -> list[VenueOutput]:
    return [sim.handle(request, T0 + n) for n, request in enumerate(requests, 1)]


def test_server_errors_fail_the_scheduled_requests_without_carrying_them_out() -> None:
    plan_rule = FaultRule(FaultKind.SERVER_ERROR, rate_ppm=rate("0.3"))
    sim = venue(plan_rule, seed=5)
    requests = [resting(f"o{n}") for n in range(1, 21)] + [cancel(f"o{n}") for n in range(1, 21)]
    outputs = run_requests(sim, requests)
    scheduled = FaultPlan(5, [plan_rule]).scheduled(FaultKind.SERVER_ERROR, 40)
    failed = [n for n, out in enumerate(outputs, 1) if out.send and isinstance(out.send[0], RequestFailed)
              and out.send[0].failure is FailureClass.UNKNOWN]
    assert failed == scheduled and any(n <= 20 for n in failed) and any(n > 20 for n in failed)
    assert all(outputs[n - 1].send[0].reason == NOT_CARRIED_OUT and not outputs[n - 1].withheld for n in failed)
    assert [outputs[n - 1].send[0].request for n in failed] == [
        RequestKind.NEW if n <= 20 else RequestKind.CANCEL for n in failed]
    placed = {f"o{n}" for n in range(1, 21) if n not in failed}
    assert {s.client_order_id for s in everything(sim, T0 + 50).orders} == placed
    still_open = {f"o{n - 20}" for n in failed if n > 20} & placed             # cancels that never happened
    assert set(sim.records.open_orders("BTC/USDT")) == still_open
    assert sim.faults_fired() == {"server_error": len(scheduled)}


def test_a_server_error_after_the_request_was_carried_out_withholds_its_reports() -> None:
    sim = venue(FaultRule(FaultKind.SERVER_ERROR, frozenset({2, 4}), executed=True),
                FaultRule(FaultKind.LOST_REPLY, frozenset({2})))
    first, placed, third, cancelled = run_requests(sim, [resting("a"), new("b", qty=4_000), resting("c"),
                                                         cancel("a")])
    for out, request, client_order_id in ((placed, RequestKind.NEW, "b"), (cancelled, RequestKind.CANCEL, "a")):
        [failed] = out.send
        assert (failed.client_order_id, failed.request, failed.failure, failed.reason) == (
            client_order_id, request, FailureClass.UNKNOWN, CARRIED_OUT)
    assert [r.exec_type.value for r in placed.withheld] == ["NEW", "TRADE", "TRADE"]
    assert [r.exec_type.value for r in cancelled.withheld] == ["CANCELED"]
    states = {s.client_order_id: s for s in everything(sim, T0 + 9).orders}
    assert (states["b"].status, states["b"].cum_qty) == (VenueOrderStatus.FILLED, 4_000)
    assert states["a"].status is VenueOrderStatus.CANCELLED
    # accepted orders are counted only when answered: "b" was not, so the second accepted order is "c"
    assert sent_reports(first) == [("a", "NEW")] and third.send == () and sim.accepted_orders == 2


def test_a_lost_reply_hits_the_scheduled_accepted_orders_which_exist_all_the_same() -> None:
    rule = FaultRule(FaultKind.LOST_REPLY, rate_ppm=rate("0.3"))
    sim = venue(rule, seed=3)
    requests = [new(f"t{n}", qty=100) if n % 4 else new(f"bad{n}", qty=0) for n in range(1, 41)]
    outputs = run_requests(sim, requests)
    accepted = [out for out in outputs if not out.send or out.send[0].exec_type is not ExecType.REJECTED]
    assert len(accepted) == 30                                          # every fourth was refused, and not counted
    lost = [n for n, out in enumerate(accepted, 1) if not out.send]
    assert lost == FaultPlan(3, [rule]).scheduled(FaultKind.LOST_REPLY, 30) and lost
    for n in lost:
        assert [r.exec_type.value for r in accepted[n - 1].withheld] == ["NEW", "TRADE"]
    assert {s.client_order_id for s in everything(sim, T0 + 99).orders} == {f"t{n}" for n in range(1, 41) if n % 4}
    assert sim.truth()["BTC/USDT"]["position"] == 30 * 100


def test_rate_limited_requests_are_carried_out_retry_after_later_and_counted_again() -> None:
    rule = FaultRule(FaultKind.RATE_LIMIT, rate_ppm=rate("0.25"), retry_after_s=3)
    sim = venue(rule, seed=11)
    requests = [resting(f"r{n}") for n in range(1, 31)]
    outputs = run_requests(sim, requests)
    limited = [n for n, out in enumerate(outputs, 1) if out.redeliver]
    assert limited == FaultPlan(11, [rule]).scheduled(FaultKind.RATE_LIMIT, 30) and limited
    for n in limited:
        assert outputs[n - 1] == VenueOutput(redeliver=(Redelivery(T0 + n + 3 * SECOND, requests[n - 1]),))
        assert not sim.matching.is_open(f"r{n}")
    assert sim.requests == 30
    redelivered = [sim.handle(outputs[n - 1].redeliver[0].request, outputs[n - 1].redeliver[0].due_ns)
                   for n in limited]
    assert sim.requests == 30 + len(limited)                               # a retry is a request again
    again = [k for k, out in enumerate(redelivered, 31) if out.redeliver]
    assert again == [k for k in FaultPlan(11, [rule]).scheduled(FaultKind.RATE_LIMIT, 30 + len(limited)) if k > 30]


def test_a_retry_after_longer_than_the_recv_window_refuses_the_order() -> None:
    for retry_after_s, outcome in ((4, "NEW"), (6, "REJECTED")):
        sim = venue(FaultRule(FaultKind.RATE_LIMIT, frozenset({1}), retry_after_s=retry_after_s))
        [later] = sim.handle(resting("r"), T0).redeliver
        assert later.due_ns == T0 + retry_after_s * SECOND
        assert sent_reports(sim.handle(later.request, later.due_ns)) == [("r", outcome)]


def test_fault_kinds_that_need_a_network_are_refused() -> None:
    for kind in (FaultKind.LATENCY_SPIKE, FaultKind.STALL, FaultKind.SEQUENCE_GAP):
        with pytest.raises(ValueError, match=f"cannot inject {kind.value}"):
            venue(FaultRule(kind, frozenset({1})))
    with pytest.raises(ValueError, match="recv_window_ns"):
        venue(recv_window_ns=0)


# ---------------------------------------------------------------- faults on the order stream

def stream_of(sim: InProcessVenue, count: int) -> tuple[list, list[ExecutionReport]]:
    """`count` resting orders, one NEW report each: report n is order n's. What was sent, and what was lost."""
    sent, lost = [], []
    for n in range(1, count + 1):
        out = sim.handle(resting(f"s{n}"), T0 + n)
        sent += out.send
        lost += out.withheld
    return sent, lost


def test_duplicated_and_reordered_reports_hit_exactly_the_scheduled_reports() -> None:
    rules = [FaultRule(FaultKind.DUPLICATE_REPORT, rate_ppm=rate("0.2")),
             FaultRule(FaultKind.REORDERED_REPORTS, rate_ppm=rate("0.2"))]
    sent, lost = stream_of(venue(*rules, seed=21), 40)
    duplicated = set(FaultPlan(21, rules).scheduled(FaultKind.DUPLICATE_REPORT, 40))
    reordered = set(FaultPlan(21, rules).scheduled(FaultKind.REORDERED_REPORTS, 40))
    assert duplicated and reordered and not lost
    expected, held = [], []
    for n in range(1, 41):               # each report once (twice if duplicated); a reordered one after the next
        copies = [n, n] if n in duplicated else [n]
        expected += held if n in reordered else copies + held
        held = copies if n in reordered else []
    assert [int(r.client_order_id[1:]) for r in sent] == expected


def test_a_dropped_stream_loses_exactly_the_scheduled_report_and_says_it_is_back() -> None:
    rule = FaultRule(FaultKind.DROP_CONNECTION, rate_ppm=rate("0.1"))
    sent, lost = stream_of(venue(rule, seed=4), 40)
    dropped = FaultPlan(4, [rule]).scheduled(FaultKind.DROP_CONNECTION, 40)
    assert dropped and [int(r.client_order_id[1:]) for r in lost] == dropped
    assert [m.reason if isinstance(m, VenueSession) else int(m.client_order_id[1:]) for m in sent] == [
        "stream dropped" if n in dropped else n for n in range(1, 41)]


def test_a_report_held_back_for_reordering_is_lost_with_a_dropped_stream() -> None:
    sim = venue(FaultRule(FaultKind.REORDERED_REPORTS, frozenset({3})),
                FaultRule(FaultKind.DROP_CONNECTION, frozenset({4})))
    sent, lost = stream_of(sim, 5)
    assert [m.reason if isinstance(m, VenueSession) else m.client_order_id for m in sent] == [
        "s1", "s2", "stream dropped", "s5"]
    assert [r.client_order_id for r in lost] == ["s4", "s3"]
    assert sim.faults_fired() == {"drop_connection": 1, "reordered_reports": 1}


def test_each_start_opens_a_new_stream_and_says_so_losing_what_the_old_one_held_back() -> None:
    sim = venue(FaultRule(FaultKind.REORDERED_REPORTS, frozenset({1})))
    assert sim.start(T0) == VenueOutput(send=(VenueSession("sim", T0, "started"),))
    held = sim.handle(resting("h"), T0 + 1)
    assert held.send == () and held.withheld == ()
    restarted = sim.start(T0 + 2)
    assert restarted.send == (VenueSession("sim", T0 + 2, "restarted"),)
    assert [r.client_order_id for r in restarted.withheld] == ["h"]
    assert sent_reports(sim.handle(resting("next"), T0 + 3)) == [("next", "NEW")]   # nothing held any more
    assert sim.starts == 2


# ---------------------------------------------------------------- the venue's account holds whatever happens

SIDES = {"b": Side.BUY, "s": Side.SELL}
INSTRUMENTS = {"B": "BTC/USDT", "E": "ETH/USDT"}
CLIENT_IDS = [f"{side}{inst}{k}" for side in SIDES for inst in INSTRUMENTS for k in range(3)]


@st.composite
def books(draw) -> BookView:
    mid = draw(st.integers(9_000, 11_000))
    sides = []
    for direction in (-1, 1):
        price, levels = mid, []
        for step in draw(st.lists(st.integers(1, 50), min_size=1, max_size=4)):
            price += direction * step
            levels.append((price, draw(st.integers(1, 500))))
        sides.append(tuple(levels))
    return BookView(INSTRUMENTS[draw(st.sampled_from("BE"))], 0, 0, *sides)


@st.composite
def requests(draw) -> NewOrderRequest:
    client_order_id = draw(st.sampled_from(CLIENT_IDS))            # a few ids, so that some are used again
    order_type, tif = draw(st.sampled_from([(OrderType.MARKET, TimeInForce.GTC), (OrderType.LIMIT, TimeInForce.GTC),
                                            (OrderType.LIMIT, TimeInForce.IOC), (OrderType.LIMIT_MAKER,
                                                                                 TimeInForce.GTC)]))
    return NewOrderRequest(client_order_id, "sim", INSTRUMENTS[client_order_id[1]], SIDES[client_order_id[0]],
                           draw(st.integers(1, 600)), draw(st.integers(9_000, 11_000)), order_type, tif, 0)


@st.composite
def plans(draw) -> FaultPlan:
    rules = []
    for kind in (FaultKind.SERVER_ERROR, FaultKind.LOST_REPLY, FaultKind.RATE_LIMIT, FaultKind.DUPLICATE_REPORT,
                 FaultKind.REORDERED_REPORTS, FaultKind.DROP_CONNECTION):
        chance = draw(st.sampled_from(["0", "0.2", "0.5"]))
        if chance != "0":
            rules.append(FaultRule(kind, rate_ppm=rate(chance), retry_after_s=draw(st.integers(1, 8)),
                                   executed=draw(st.booleans())))
    return FaultPlan(draw(st.integers(0, 1_000)), rules)


events = st.one_of(books(), requests(), requests(), requests(), st.sampled_from(CLIENT_IDS),
                   st.sampled_from(sorted(INSTRUMENTS.values())))


@settings(max_examples=150)
@given(plans(), st.lists(books(), min_size=2, max_size=2),
       st.lists(st.tuples(events, st.integers(0, 3 * SECOND)), min_size=1, max_size=40))
def test_the_truth_equals_every_trade_the_venue_produced_whatever_fails(plan, first_views, timeline) -> None:
    sim = InProcessVenue(MatchingEngine({"BTC/USDT": BTC, "ETH/USDT": ETH}, MAKER, TAKER, "sim"), plan)
    for instrument, first in zip(INSTRUMENTS.values(), first_views):       # both books show something at once
        sim.handle(BookView(instrument, T0, 0, first.bids, first.asks), T0)
    produced: list[ExecutionReport] = []
    due: list[tuple[int, int, object]] = []                        # the actor's clock: redeliveries by due time
    now, update_id = T0, 0

    def take(msg, at: int) -> None:
        out = sim.handle(msg, at)
        produced.extend(m for m in out.send if isinstance(m, ExecutionReport))
        produced.extend(out.withheld)
        for later in out.redeliver:
            assert later.due_ns > at and later.request is msg
            heapq.heappush(due, (later.due_ns, id(later), later.request))

    for event, pause in timeline:
        now += pause
        while due and due[0][0] <= now:
            at, _, msg = heapq.heappop(due)
            take(msg, at)
        if isinstance(event, BookView):
            update_id += 1
            event = BookView(event.instrument, now, update_id, event.bids, event.asks)
        elif isinstance(event, NewOrderRequest):
            event = dataclasses.replace(event, ts_ns=now)
        elif event in INSTRUMENTS.values():
            event = CancelAllRequest("sim", event, now)
        else:
            event = CancelRequest(event, "sim", INSTRUMENTS[event[1]], now)
        take(event, now)
    for _ in range(1_000):                                          # the clock runs on until nothing is due
        if not due:
            break
        at, _, msg = heapq.heappop(due)
        take(msg, at)
    produced.extend(sim.start(now + 1).withheld)                   # what the stream still held back

    trades: dict[str, ExecutionReport] = {}
    for report in produced:
        if report.exec_type is ExecType.TRADE:
            assert trades.setdefault(report.trade_id, report) == report   # a trade id names one fill only
    truth = sim.truth()
    for symbol in INSTRUMENTS.values():
        ours = [r for r in trades.values() if INSTRUMENTS[r.client_order_id[1]] == symbol]
        account = truth.get(symbol, {"fills": 0, "position": 0, "trades": {}, "open_orders": []})
        assert account["position"] == sum(SIDES[r.client_order_id[0]].sign * r.last_qty for r in ours)
        assert account["fills"] == len(ours) == len(account["trades"])
        assert set(account["trades"]) == {r.trade_id for r in ours}
        assert set(account["open_orders"]) == {c for c in CLIENT_IDS if sim.matching.is_open(c)
                                               and INSTRUMENTS[c[1]] == symbol}


# ---------------------------------------------------------------- the actor, in virtual time

LATENCY = 5_000_000


class Sink:
    """The order manager's end of the link: takes whatever arrives, as a receiving actor would."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox
        self.received: list = []

    async def run(self) -> None:
        while True:
            self.received.extend(await self.mailbox.receive_batch())


async def test_the_venue_actor_announces_each_start_and_carries_out_rate_limited_requests_later(nursery) -> None:
    clock = VirtualClock(start_ns=T0)
    inbox = Mailbox("venue", quiescence=clock.quiescence)
    orders = Mailbox("orders", quiescence=clock.quiescence, accepts=VENUE_ANSWERS)
    sink = Sink(orders)
    nursery.start_soon(sink.run)
    sim = venue(FaultRule(FaultKind.RATE_LIMIT, frozenset({2}), retry_after_s=3))
    spec = ChildSpec("venue", actor_runner(SimulatedVenueActor, lambda: SimulatedVenueActor(sim)), inbox=inbox,
                     outputs={"reports": [DelayedEdge(orders, clock, LATENCY)]})
    tree = Supervisor("execution", [spec], clock=clock, lifecycle=Lifecycle(clock.now_ns),
                      quiescence=clock.quiescence, crashes=CrashPlan([CrashRule("venue", after_events=3)]))
    await nursery.start(tree.serve)
    await clock.advance_to(T0 + LATENCY)
    assert sink.received == [VenueSession("sim", T0, "started")]

    for msg in (resting("a"), resting("b"), "crash"):              # request 1; request 2, rate limited for 3 s;
        inbox.deliver(msg)                                         # then the third message crashes the actor
        await clock.quiescence.wait_idle()
    await clock.advance_to(T0 + 2 * LATENCY)
    assert [(type(m), m.ts_ns) for m in sink.received[1:]] == [(ExecutionReport, T0 + LATENCY),
                                                               (VenueSession, T0 + LATENCY)]
    assert (sink.received[1].client_order_id, sink.received[2].reason) == ("a", "restarted")

    retry_ns = T0 + LATENCY + 3 * SECOND
    await clock.advance_to(retry_ns - 1)
    assert not sim.matching.is_open("b") and len(sink.received) == 3
    await clock.advance_to(retry_ns)                               # the retry reaches the restarted venue
    assert sim.matching.is_open("b") and sim.requests == 3
    await clock.advance_to(retry_ns + LATENCY)
    [late] = sink.received[3:]
    assert (late.client_order_id, late.exec_type, late.ts_ns) == ("b", ExecType.NEW, retry_ns)
    assert inbox.watch_state                                       # orders rest: the venue watches the book
