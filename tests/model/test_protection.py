"""Protective orders on a recorded market: each type, native (the simulated venue's matching engine) and emulated
(the engine's protector), triggering at its boundary and not one tick short of it.

The market is Binance spot BTCUSDT's own `bookTicker` stream (hftbacktest's capture, read in place): the first
views of the recording, each the venue's top of book. A level is chosen from the recording itself (the lowest bid
or highest ask of the window), so the trigger falls on a known view, and the level one tick further never triggers.
"""
from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from adapters.simulated.matching import NATIVE_TYPES, MatchingEngine
from engine.messages import (BookView, ChildOrder, ExecType, ExecutionReport, NewOrderRequest, OrderType,
                             Protection, ProtectionEvent, ProtectionTrigger, Side, TimeInForce, TopOfBook)
from engine.model.order_manager import Decisions, ExecutionSettings, OrderManager
from engine.model.orders import OrderTable
from engine.model.protection import (LegKind, ProtectionPolicy, Protector, post_only_crosses, reduce_only_qty,
                                     trailing_level)

CAPTURE = (Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples"
           / "spot" / "btcusdt_20240808.gz")
TICK = 1_000_000          # 0.01 in 8-decimal fixed point
LOT = 1_000               # 0.00001
SYMBOL = "BTC/USDT"
WINDOW = 2_000
needs_capture = pytest.mark.skipif(not CAPTURE.is_file(), reason=f"recorded data not found at {CAPTURE}")


def recorded_views(n: int = WINDOW) -> list[BookView]:
    """The first `n` top-of-book views of the recording, decoded by the Binance codec."""
    instrument = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)
    codec = BinanceMarketDataCodec([instrument])
    views: list[BookView] = []
    with gzip.open(CAPTURE, "rb") as lines:
        for line in lines:
            stamp, _, frame = line.partition(b" ")
            if b"bookTicker" not in frame:
                continue
            event = codec.decode(orjson.loads(frame), int(stamp))
            if isinstance(event, TopOfBook):
                views.append(BookView(SYMBOL, event.ts_ns, event.update_id, ((event.bid_price, event.bid_qty),),
                                      ((event.ask_price, event.ask_qty),)))
                if len(views) == n:
                    break
    return views


@pytest.fixture(scope="module")
def views() -> list[BookView]:
    if not CAPTURE.is_file():
        pytest.skip(f"recorded data not found at {CAPTURE}")
    return recorded_views()


def first(views: list[BookView], test) -> int | None:
    return next((i for i, v in enumerate(views) if test(v)), None)


# ------------------------------------------------------------------ the boundaries, from the recording

def stop_case(views: list[BookView], exit_side: Side) -> tuple[int, int]:
    """A stop level the market reaches (the worst exit touch after the first view) and the view where it does."""
    rest = views[1:]
    if exit_side is Side.SELL:
        level = min(v.best_bid for v in rest)
        return level, 1 + first(rest, lambda v: v.best_bid <= level)
    level = max(v.best_ask for v in rest)
    return level, 1 + first(rest, lambda v: v.best_ask >= level)


def take_profit_case(views: list[BookView], exit_side: Side) -> tuple[int, int]:
    rest = views[1:]
    if exit_side is Side.SELL:
        level = max(v.best_bid for v in rest)
        return level, 1 + first(rest, lambda v: v.best_bid >= level)
    level = min(v.best_ask for v in rest)
    return level, 1 + first(rest, lambda v: v.best_ask <= level)


def beyond(level: int, exit_side: Side, kind: LegKind) -> int:
    """One tick past the level the market reached: never touched in the window."""
    away = -TICK if (exit_side is Side.SELL) != (kind is LegKind.TAKE_PROFIT) else TICK
    return level + away


# ------------------------------------------------------------------ native: the simulated venue

def venue_trigger_index(views: list[BookView], req: NewOrderRequest) -> int | None:
    """The view at which the simulated venue triggers `req` (placed on the first view): its first TRADE or EXPIRED."""
    engine = MatchingEngine({SYMBOL: binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)},
                            Decimal("0.001"), Decimal("0.001"), "binance")
    engine.on_book(views[0])
    placed = engine.submit(req, views[0].ts_ns)
    assert [r.exec_type for r in placed] == [ExecType.NEW], placed
    for i, view in enumerate(views[1:], 1):
        if any(r.exec_type in (ExecType.TRADE, ExecType.EXPIRED) for r in engine.on_book(view)):
            return i
    return None


def request(order_type: OrderType, side: Side, price: int = 0, stop: int = 0, trailing: int = 0,
            cid: str = "t-1-1", list_id: str = "") -> NewOrderRequest:
    return NewOrderRequest(cid, "binance", SYMBOL, side, 10 * LOT, price, order_type, TimeInForce.GTC, 0,
                           stop_price=stop, trailing_bps=trailing, list_id=list_id)


# ------------------------------------------------------------------ emulated: the protector

def protector_trigger_index(views: list[BookView], protection: Protection, exit_side: Side,
                            entry_price: int) -> int | None:
    protector = Protector(ProtectionPolicy("emulated"), {SYMBOL: TICK})
    protector.expect("e-1", protection)
    position = 10 * LOT * (1 if exit_side is Side.SELL else -1)
    effects = protector.entry_ended("e-1", SYMBOL, "binance", "P1", exit_side.opposite, 10 * LOT, entry_price,
                                    position, views[0].ts_ns, halted=False)
    assert effects.place == [] and [e.event for e in effects.events] == ["armed"] * len(protector.groups["e-1"].legs)
    for i, view in enumerate(views[1:], 1):
        if any(type(m) is ProtectionTrigger for m in protector.on_view(view, view.ts_ns)):
            return i
    return None


@needs_capture
@pytest.mark.parametrize("exit_side", [Side.SELL, Side.BUY])
@pytest.mark.parametrize("kind", [LegKind.STOP_MARKET, LegKind.STOP_LIMIT, LegKind.TAKE_PROFIT])
def test_a_fixed_level_triggers_at_the_view_that_reaches_it_natively_and_emulated_and_not_a_tick_beyond(
        views, kind, exit_side):
    level, at = (take_profit_case if kind is LegKind.TAKE_PROFIT else stop_case)(views, exit_side)
    far = beyond(level, exit_side, kind)
    limit = level - 5 * TICK if exit_side is Side.SELL else level + 5 * TICK
    for stop, expected in ((level, at), (far, None)):
        if kind is LegKind.TAKE_PROFIT:
            native = request(OrderType.TAKE_PROFIT_LIMIT, exit_side, price=stop, stop=stop)
            protection = Protection(take_profit_price=stop)
        elif kind is LegKind.STOP_LIMIT:
            native = request(OrderType.STOP_LOSS_LIMIT, exit_side, price=limit, stop=stop)
            protection = Protection(stop_price=stop, stop_limit_price=limit)
        else:
            native = request(OrderType.STOP_LOSS, exit_side, stop=stop)
            protection = Protection(stop_price=stop)
        entry = views[0].best_ask if exit_side is Side.SELL else views[0].best_bid
        assert venue_trigger_index(views, native) == expected, ("native", stop)
        assert protector_trigger_index(views, protection, exit_side, entry) == expected, ("emulated", stop)


@needs_capture
@pytest.mark.parametrize("exit_side", [Side.SELL, Side.BUY])
def test_a_trailing_stop_trails_the_best_price_and_triggers_when_the_market_gives_back_its_distance(views, exit_side):
    """Both trail from the touch at placement (the entry, for the emulated one) and trigger at the same view."""
    sign = 1 if exit_side is Side.SELL else -1
    touch0 = views[0].best_bid if exit_side is Side.SELL else views[0].best_ask
    expected = {}
    for bps in (1, 2, 5, 50):   # the widest never triggers in the window
        best, at = touch0, None
        for i, view in enumerate(views[1:], 1):
            touch = view.best_bid if exit_side is Side.SELL else view.best_ask
            best = max(best, touch) if sign > 0 else min(best, touch)
            level = trailing_level(exit_side, best, bps, TICK)
            if (touch <= level) if sign > 0 else (touch >= level):
                at = i
                break
        expected[bps] = at
        native = venue_trigger_index(views, request(OrderType.STOP_LOSS, exit_side, trailing=bps))
        emulated = protector_trigger_index(views, Protection(trailing_bps=bps), exit_side, touch0)
        assert native == emulated == at, (bps, native, emulated, at)
    assert expected[50] is None and any(v is not None for v in expected.values())


@needs_capture
def test_a_stop_that_would_trigger_at_once_is_refused_by_the_venue(views):
    engine = MatchingEngine({SYMBOL: binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)},
                            Decimal("0.001"), Decimal("0.001"), "binance")
    engine.on_book(views[0])
    refused = engine.submit(request(OrderType.STOP_LOSS, Side.SELL, stop=views[0].best_bid), views[0].ts_ns)
    assert [r.exec_type for r in refused] == [ExecType.REJECTED] and "trigger immediately" in refused[0].reason
    placed = engine.submit(request(OrderType.STOP_LOSS, Side.SELL, stop=views[0].best_bid - TICK), views[0].ts_ns)
    assert [r.exec_type for r in placed] == [ExecType.NEW]


@needs_capture
def test_a_native_oco_list_ends_the_other_leg_when_one_triggers(views):
    level, at = take_profit_case(views, Side.SELL)
    engine = MatchingEngine({SYMBOL: binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)},
                            Decimal("0.001"), Decimal("0.001"), "binance")
    engine.on_book(views[0])
    stop = views[0].best_bid - 10_000 * TICK
    engine.submit(request(OrderType.STOP_LOSS, Side.SELL, stop=stop, cid="t-1-1", list_id="L"), 0)
    engine.submit(request(OrderType.TAKE_PROFIT_LIMIT, Side.SELL, price=level, stop=level, cid="t-1-2", list_id="L"), 0)
    for i, view in enumerate(views[1:], 1):
        reports = engine.on_book(view)
        if reports:
            assert i == at
            ended = {(r.client_order_id, r.exec_type) for r in reports}
            assert ("t-1-1", ExecType.EXPIRED) in ended and ("t-1-2", ExecType.TRADE) in ended
            break
    assert not engine.has_resting_orders or engine.is_open("t-1-2")
    assert not engine.is_open("t-1-1")


# ------------------------------------------------------------------ the order manager: arming, triggering, OCO

def manager(mode: str) -> OrderManager:
    policy = ProtectionPolicy(mode, NATIVE_TYPES, native_oco=True)
    om = OrderManager(OrderTable("t"), [SYMBOL], "binance", ExecutionSettings(tick_size={SYMBOL: TICK},
                                                                              protection=policy))
    om._ready[SYMBOL] = True
    return om


def entry_filled(om: OrderManager, view: BookView, protection: Protection) -> Decisions:
    """A buy entry asking for `protection`, placed and filled at the ask of `view`."""
    out = Decisions()
    om.handle(ChildOrder("P1", "binance", SYMBOL, Side.BUY, 10 * LOT, view.best_ask, OrderType.LIMIT,
                         TimeInForce.IOC, view.ts_ns, view.mid_x2, child_id="P1.1", protection=protection),
              view.ts_ns, out)
    cid = out.venue[0].client_order_id
    out = Decisions()
    om.handle(ExecutionReport("binance", cid, "1", ExecType.TRADE, view.ts_ns, 10 * LOT, 10 * LOT, view.best_ask,
                              trade_id="1"), view.ts_ns, out)
    return out


@needs_capture
def test_emulated_bracket_arms_on_the_fill_triggers_on_the_book_and_cancels_its_pair(views):
    level, at = stop_case(views, Side.SELL)
    om = manager("emulated")
    out = entry_filled(om, views[0], Protection(stop_price=level, take_profit_price=views[0].best_ask + 10_000 * TICK))
    assert out.venue == [] and [e.event for e in out.journal if type(e) is ProtectionEvent] == ["armed", "armed"]
    assert om.wants_views()
    triggers = []
    for i, view in enumerate(views[1:], 1):
        triggers = om.on_view(view, view.ts_ns)
        if triggers:
            assert i == at
            break
    assert [type(t) for t in triggers] == [ProtectionTrigger] and triggers[0].leg == "stop"
    out = Decisions()
    om.handle(triggers[0], views[at].ts_ns, out)
    [placed] = out.venue
    assert (placed.order_type, placed.side, placed.qty) == (OrderType.MARKET, Side.SELL, 10 * LOT)
    events = [(e.kind, e.event) for e in out.journal if type(e) is ProtectionEvent]
    assert events == [("stop_market", "triggered"), ("take_profit", "cancelled")]
    assert not om.wants_views()   # nothing left to watch


@needs_capture
def test_native_bracket_is_placed_as_an_oco_list_of_the_venues_own_orders(views):
    om = manager("native")
    out = entry_filled(om, views[0], Protection(stop_price=views[0].best_bid - 100 * TICK,
                                                take_profit_price=views[0].best_ask + 100 * TICK))
    stop, take = out.venue
    assert (stop.order_type, stop.stop_price, stop.side) == (OrderType.STOP_LOSS, views[0].best_bid - 100 * TICK,
                                                             Side.SELL)
    assert (take.order_type, take.price, take.stop_price) == (OrderType.TAKE_PROFIT_LIMIT,
                                                              views[0].best_ask + 100 * TICK,
                                                              views[0].best_ask + 100 * TICK)
    assert stop.list_id == take.list_id != ""
    assert not om.wants_views()   # the venue watches them
    # the take-profit fills: the stop, expired by the venue as its pair, ends cancelled
    done = Decisions()
    om.handle(ExecutionReport("binance", take.client_order_id, "3", ExecType.TRADE, 1, 10 * LOT, 10 * LOT, take.price,
                              trade_id="9"), 1, done)
    om.handle(ExecutionReport("binance", stop.client_order_id, "2", ExecType.EXPIRED, 1, 0), 1, done)
    events = [(e.kind, e.event) for e in done.journal if type(e) is ProtectionEvent]
    assert ("take_profit", "filled") in events and ("stop_market", "cancelled") in events
    assert om.positions[SYMBOL] == 0


def test_a_trigger_with_no_position_left_is_refused_reduce_only():
    protector = Protector(ProtectionPolicy("emulated"), {SYMBOL: 1})
    protector.expect("e", Protection(stop_price=90))
    protector.entry_ended("e", SYMBOL, "binance", "P", Side.BUY, 5, 100, 5, 0, halted=False)
    view = BookView(SYMBOL, 1, 1, ((90, 1),), ((91, 1),))
    [trigger] = protector.on_view(view, 1)
    effects = protector.trigger(trigger, position=0, now=1)
    assert effects.place == [] and [e.event for e in effects.events] == ["triggered", "refused"]


def test_reduce_only_never_increases_a_position_and_post_only_never_takes():
    assert reduce_only_qty(10, Side.SELL, 4) == 4 and reduce_only_qty(3, Side.SELL, 4) == 3
    assert reduce_only_qty(10, Side.SELL, -4) == 0 and reduce_only_qty(10, Side.BUY, -4) == 4
    assert post_only_crosses(Side.BUY, 101, 100, 101) and not post_only_crosses(Side.BUY, 100, 100, 101)
    assert post_only_crosses(Side.SELL, 100, 100, 101) and not post_only_crosses(Side.SELL, 101, 100, 101)


def test_order_manager_refuses_a_crossing_post_only_order_when_emulated_and_sends_it_native_otherwise():
    view = BookView(SYMBOL, 1, 1, ((100 * TICK, LOT),), ((101 * TICK, LOT),))

    def place(mode: str, price: int) -> tuple[Decisions, OrderManager]:
        om = manager(mode)
        om.on_view(view, 1)
        out = Decisions()
        om.handle(ChildOrder("P1", "binance", SYMBOL, Side.BUY, LOT, price, OrderType.LIMIT_MAKER, TimeInForce.GTC,
                             1, 0, child_id="P1.1"), 1, out)
        return out, om

    out, om = place("emulated", 101 * TICK)
    assert out.venue == [] and om.table.states() == {"rejected": 1}
    assert any(type(e) is ProtectionEvent and e.kind == "post_only" for e in out.journal)
    out, _ = place("emulated", 100 * TICK)
    assert [(r.order_type, r.tif) for r in out.venue] == [(OrderType.LIMIT, TimeInForce.GTC)]
    out, _ = place("native", 101 * TICK)
    assert [r.order_type for r in out.venue] == [OrderType.LIMIT_MAKER]   # the venue refuses it itself


def test_a_reduce_only_child_is_shrunk_to_the_position_or_refused():
    om = manager("native")
    om.positions[SYMBOL] = 3 * LOT
    out = Decisions()
    om.handle(ChildOrder("P1", "binance", SYMBOL, Side.SELL, 10 * LOT, 0, OrderType.MARKET, TimeInForce.IOC, 1, 0,
                         child_id="P1.1", reduce_only=True), 1, out)
    assert [r.qty for r in out.venue] == [3 * LOT]
    out = Decisions()
    om.handle(ChildOrder("P2", "binance", SYMBOL, Side.BUY, 10 * LOT, 0, OrderType.MARKET, TimeInForce.IOC, 1, 0,
                         child_id="P2.1", reduce_only=True), 1, out)
    assert out.venue == [] and "rejected" in om.table.states()
