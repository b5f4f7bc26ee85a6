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
                             Protection, ProtectionEvent, ProtectionTrail, ProtectionTrigger, Side, TimeInForce,
                             TopOfBook)
from engine.model.order_manager import Decisions, ExecutionSettings, OrderManager
from engine.model.orders import OrderTable
from engine.model.protection import (Effects, LegKind, ProtectionPolicy, Protector, post_only_crosses,
                                     reduce_only_qty, trailing_level)

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


# ------------------------------------------------------------------ the protector alone: exact effects, by hand

P_TICK = 10
EMULATED = ProtectionPolicy("emulated")
NATIVE = ProtectionPolicy("native", frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT,
                                               OrderType.TAKE_PROFIT_LIMIT}), native_oco=True)


def armed(protection: Protection, policy: ProtectionPolicy = EMULATED, side: Side = Side.BUY, filled: int = 5,
          avg: int = 1_000, position: int = 5, ticks: dict | None = None, cid: str = "e", symbol: str = SYMBOL,
          protector: Protector | None = None):
    """An entry `cid` on `side` asking for `protection`, ended having filled `filled` at `avg` (at ts 7)."""
    protector = protector or Protector(policy, {SYMBOL: P_TICK} if ticks is None else ticks)
    protector.expect(cid, protection)
    return protector, protector.entry_ended(cid, symbol, "binance", "P", side, filled, avg, position, 7, halted=False)


def ev(event: str, kind: str, detail: str, ts: int = 7, mode: str = "emulated", cid: str = "",
       group: str = "e") -> ProtectionEvent:
    return ProtectionEvent(group, SYMBOL, ts, kind, event, mode, cid, detail)


def bid_view(bid: int, ask: int | None = None, symbol: str = SYMBOL) -> BookView:
    return BookView(symbol, 1, 1, ((bid, 1),), ((bid + 10 if ask is None else ask, 1),))


def test_native_bracket_legs_round_away_from_the_market_and_go_out_as_one_reduce_only_list():
    """Exit a sell: stop 955 and limit 947 round down (950, 940), the take-profit 1043 up (1050); sized to the
    position (3) though the entry filled 5."""
    protector, fx = armed(Protection(stop_price=955, stop_limit_price=947, take_profit_price=1_043), NATIVE,
                          position=3)
    assert fx.events == [ev("armed", "stop_limit", "3 at 950", mode="native"),
                         ev("armed", "take_profit", "3 at 1050", mode="native")]
    assert [child for _, _, child in fx.place] == [
        ChildOrder("P", "binance", SYMBOL, Side.SELL, 3, 940, OrderType.STOP_LOSS_LIMIT, TimeInForce.GTC, 7, 0,
                   child_id="e.stop", limit_price=940, stop_price=950, list_id="e", reduce_only=True),
        ChildOrder("P", "binance", SYMBOL, Side.SELL, 3, 1_050, OrderType.TAKE_PROFIT_LIMIT, TimeInForce.GTC, 7, 0,
                   child_id="e.take_profit", limit_price=1_050, stop_price=1_050, list_id="e", reduce_only=True)]
    assert [(g.group_id, g.venue, g.parent_id, g.qty, leg.name) for g, leg, _ in fx.place] == [
        ("e", "binance", "P", 3, "stop"), ("e", "binance", "P", 3, "take_profit")]
    assert list(protector.groups["e"].legs) == ["stop", "take_profit"] and not protector.watching()


def test_a_short_s_legs_round_the_other_way_and_without_native_oco_are_separate_orders():
    ocoless = ProtectionPolicy("native", NATIVE.native_types, native_oco=False)
    _, fx = armed(Protection(stop_price=1_043, stop_limit_price=1_051, take_profit_price=955), ocoless,
                  side=Side.SELL, position=-5)
    assert [(c.side, c.price, c.stop_price, c.list_id) for _, _, c in fx.place] == [
        (Side.BUY, 1_060, 1_050, ""), (Side.BUY, 950, 950, "")]
    assert [e.detail for e in fx.events] == ["5 at 1050", "5 at 950"]


def test_a_lone_native_stop_or_trailing_stop_is_no_list_and_carries_only_its_own_fields():
    _, fx = armed(Protection(stop_price=955), NATIVE)
    assert [c for _, _, c in fx.place] == [ChildOrder("P", "binance", SYMBOL, Side.SELL, 5, 0, OrderType.STOP_LOSS,
                                                      TimeInForce.GTC, 7, 0, child_id="e.stop", limit_price=0,
                                                      stop_price=950, reduce_only=True)]
    _, fx = armed(Protection(trailing_bps=50), NATIVE)     # 1000 less 0.5 %: 995, the tick below 990
    assert fx.events == [ev("armed", "trailing_stop", "5 at 990", mode="native")]
    assert [c for _, _, c in fx.place] == [ChildOrder("P", "binance", SYMBOL, Side.SELL, 5, 0, OrderType.STOP_LOSS,
                                                      TimeInForce.GTC, 7, 0, child_id="e.stop", trailing_bps=50,
                                                      reduce_only=True)]


def test_an_entry_arms_nothing_when_halted_flat_or_never_protected_and_arms_a_single_unit():
    protector = Protector(EMULATED, {SYMBOL: P_TICK})
    protector.expect("h", Protection(stop_price=950))
    assert protector.entry_ended("h", SYMBOL, "binance", "P", Side.BUY, 5, 1_000, 5, 7, halted=True) == Effects()
    assert protector.entry_ended("h", SYMBOL, "binance", "P", Side.BUY, 5, 1_000, 5, 7, halted=False) == Effects()
    assert protector.entry_ended("never", SYMBOL, "binance", "P", Side.BUY, 5, 1_000, 5, 7, halted=False) == Effects()
    _, fx = armed(Protection(stop_price=950), position=0)
    assert fx == Effects()
    _, fx = armed(Protection(stop_price=950), filled=1, position=1)
    assert fx.events == [ev("armed", "stop_market", "1 at 950")]


def test_with_no_tick_known_prices_stay_as_asked():
    _, fx = armed(Protection(stop_price=955, take_profit_price=1_043), ticks={})
    assert [e.detail for e in fx.events] == ["5 at 955", "5 at 1043"]


def test_an_emulated_stop_limit_triggers_at_its_level_becomes_a_limit_for_the_position_left_and_ends_its_pair():
    protector, _ = armed(Protection(stop_price=950, stop_limit_price=940, take_profit_price=1_050))
    assert protector.watching()
    assert protector.on_view(bid_view(960), 20) == []
    [trig] = protector.on_view(bid_view(950, 970), 20)
    assert trig == ProtectionTrigger("e", "stop", 20, 950, 1_920)
    fx = protector.trigger(trig, position=3, now=21)
    assert fx.events == [ev("triggered", "stop_limit", "touch 950 at level 950", ts=21),
                         ev("cancelled", "take_profit", "oco", ts=21)]
    assert fx.cancel == []       # neither emulated leg had an order yet
    assert [c for _, _, c in fx.place] == [ChildOrder("P", "binance", SYMBOL, Side.SELL, 3, 940, OrderType.LIMIT,
                                                      TimeInForce.GTC, 21, 1_920, child_id="e.stop", limit_price=940,
                                                      reduce_only=True)]
    assert not protector.watching() and protector.on_view(bid_view(900), 22) == []
    assert protector.trigger(trig, position=3, now=23) == Effects()   # replayed after it triggered
    [(group, leg, _)] = fx.place
    protector.bind("c-9", group, leg)
    assert protector.is_leg("c-9") and not protector.is_leg("c-8")
    done = protector.leg_order_changed("c-9", "filled", 3, 24)
    assert done.events == [ev("filled", "stop_limit", "3 filled", ts=24, cid="c-9")] and protector.groups == {}


def test_a_short_s_emulated_take_profit_triggers_on_the_ask_and_trades_what_is_left_down_to_one_unit():
    protector, _ = armed(Protection(take_profit_price=955), side=Side.SELL, position=-5)
    assert protector.on_view(bid_view(940, 960), 30) == []
    [trig] = protector.on_view(bid_view(940, 950), 30)
    assert trig == ProtectionTrigger("e", "take_profit", 30, 950, 1_890)
    [(_, _, child)] = protector.trigger(trig, position=-1, now=31).place
    assert (child.side, child.qty, child.price, child.order_type, child.tif) == (Side.BUY, 1, 950, OrderType.LIMIT,
                                                                                 TimeInForce.GTC)


def test_a_trigger_with_nothing_left_is_refused_with_its_reason_and_unknown_or_native_legs_are_ignored():
    protector, _ = armed(Protection(stop_price=950))
    fx = protector.trigger(ProtectionTrigger("e", "stop", 40, 950, 1_900), position=0, now=41)
    assert fx.events == [ev("triggered", "stop_market", "touch 950 at level 950", ts=41),
                         ev("refused", "stop_market", "no position left to reduce", ts=41)]
    assert protector.groups == {}
    protector, _ = armed(Protection(stop_price=950))
    assert protector.trigger(ProtectionTrigger("x", "stop", 40, 950, 0), 5, 41) == Effects()
    assert protector.trigger(ProtectionTrigger("e", "take_profit", 40, 950, 0), 5, 41) == Effects()
    protector, _ = armed(Protection(stop_price=950), NATIVE)
    assert protector.trigger(ProtectionTrigger("e", "stop", 40, 950, 0), 5, 41) == Effects()


def test_an_emulated_trailing_stop_journals_a_move_only_when_its_level_moves_a_tick_and_triggers_there():
    """1 % behind the best bid on a 10 grid: from 1000 the level is 990; a best of 1010 still gives 990 (999.9),
    1011 gives 1000 (1000.89)."""
    protector, fx = armed(Protection(trailing_bps=100))
    assert fx.events == [ev("armed", "trailing_stop", "5 at 990")]
    assert protector.on_view(bid_view(1_005), 50) == []
    assert protector.on_view(bid_view(1_010), 51) == []
    assert protector.on_view(bid_view(1_011), 52) == [ProtectionTrail("e", "stop", 52, 1_011)]
    assert protector.on_view(bid_view(1_019), 53) == []                # 1008.81: the level stays 1000
    assert protector.on_view(bid_view(1_001), 53) == []
    [trig] = protector.on_view(bid_view(1_000), 54)
    assert trig == ProtectionTrigger("e", "stop", 54, 1_000, 2_010)
    fx = protector.trigger(trig, position=5, now=55)
    assert fx.events[0].detail == "touch 1000 at level 1000"
    assert [(c.order_type, c.tif, c.price) for _, _, c in fx.place] == [(OrderType.MARKET, TimeInForce.IOC, 0)]


def test_a_trailing_stop_with_no_tick_known_trails_on_a_grid_of_one():
    protector, _ = armed(Protection(trailing_bps=100), ticks={})
    assert protector.on_view(bid_view(1_001), 1) == []                         # 990.99: still 990
    assert protector.on_view(bid_view(1_002), 2) == [ProtectionTrail("e", "stop", 2, 1_002)]   # 991
    assert protector.on_view(bid_view(1_020), 3) == [ProtectionTrail("e", "stop", 3, 1_020)]   # 1009
    [trig] = protector.on_view(bid_view(1_009), 4)
    assert protector.trigger(trig, 5, 5).events[0].detail == "touch 1009 at level 1009"


def test_a_short_s_trailing_stop_trails_the_lowest_ask_and_rounds_its_level_up():
    protector, fx = armed(Protection(trailing_bps=100), side=Side.SELL, position=-5)
    assert fx.events[0].detail == "5 at 1010"
    assert protector.on_view(bid_view(970, 981), 1) == [ProtectionTrail("e", "stop", 1, 981)]   # 990.81: 1000
    assert protector.on_view(bid_view(990, 1_000), 2) == [ProtectionTrigger("e", "stop", 2, 1_000, 1_990)]


def test_a_journaled_trail_sets_the_best_price_of_a_rebuilt_trailing_stop_and_never_backs_it_off():
    protector, _ = armed(Protection(trailing_bps=100))
    protector.trail(ProtectionTrail("e", "stop", 1, 1_020))            # 1009.8: level 1000
    protector.trail(ProtectionTrail("e", "stop", 2, 1_015))            # a worse best: ignored
    assert protector.groups["e"].legs["stop"].level(P_TICK) == 1_000
    assert protector.on_view(bid_view(1_010), 3) == []                 # no move to journal again
    assert [type(m) for m in protector.on_view(bid_view(1_000), 4)] == [ProtectionTrigger]
    short, _ = armed(Protection(trailing_bps=100), side=Side.SELL, position=-5)
    short.trail(ProtectionTrail("e", "stop", 1, 980))                  # 989.8: the tick above 990
    assert short.groups["e"].legs["stop"].level(P_TICK) == 990
    assert short.on_view(bid_view(970, 985), 2) == []
    for unknown in (ProtectionTrail("x", "stop", 1, 1), ProtectionTrail("e", "take_profit", 1, 1)):
        short.trail(unknown)                                           # another group, a leg it does not have
    tickless, _ = armed(Protection(trailing_bps=100), ticks={})
    tickless.trail(ProtectionTrail("e", "stop", 1, 1_020))             # on a grid of one: 1009
    assert tickless.on_view(bid_view(1_010), 2) == []
    assert [type(m) for m in tickless.on_view(bid_view(1_009), 3)] == [ProtectionTrigger]
    fixed, _ = armed(Protection(stop_price=950))
    fixed.trail(ProtectionTrail("e", "stop", 1, 2_000))                # a fixed stop does not trail
    assert fixed.groups["e"].legs["stop"].level(P_TICK) == 950


def test_views_reach_every_group_of_their_instrument_and_only_the_emulated_armed_legs():
    mixed = ProtectionPolicy("native", frozenset({OrderType.STOP_LOSS}))   # a stop native, a take-profit not
    protector, _ = armed(Protection(take_profit_price=950), mixed, symbol="ETH/USDT", cid="o")
    armed(Protection(stop_price=950, take_profit_price=1_050), mixed, protector=protector)
    assert protector.on_view(bid_view(950), 60) == []                 # the native stop is the venue's business
    assert protector.on_view(bid_view(1_050), 61) == [ProtectionTrigger("e", "take_profit", 61, 1_050, 2_110)]


def test_a_native_list_leg_that_trades_ends_its_pair_as_the_venue_expires_it_and_ends_filled():
    protector, fx = armed(Protection(stop_price=950, take_profit_price=1_050), NATIVE)
    (group, stop, _), (_, take, _) = fx.place
    protector.bind("c-s", group, stop)
    protector.bind("c-t", group, take)
    assert protector.leg_order_changed("c-t", "new", 0, 70) == Effects()
    part = protector.leg_order_changed("c-t", "partially_filled", 1, 71)
    assert part == Effects(events=[ev("cancelled", "stop_market", "oco: the venue expires it", ts=71,
                                      mode="native", cid="c-s")])
    done = protector.leg_order_changed("c-t", "cancelled", 2, 72)      # cancelled after a fill: it filled
    assert done.events == [ev("filled", "take_profit", "2 filled", ts=72, mode="native", cid="c-t")]
    assert protector.groups == {} and protector.leg_order_changed("c-t", "filled", 5, 73) == Effects()
    assert protector.leg_order_changed("c-unknown", "filled", 5, 73) == Effects()


def bound_pair(native_oco: bool = False):
    protector, fx = armed(Protection(stop_price=950, take_profit_price=1_050),
                          ProtectionPolicy("native", NATIVE.native_types, native_oco=native_oco))
    (group, stop, _), (_, take, _) = fx.place
    protector.bind("c-s", group, stop)
    protector.bind("c-t", group, take)
    return protector


def test_separate_leg_orders_cancel_their_pair_on_the_first_unit_traded():
    protector = bound_pair()
    fx = protector.leg_order_changed("c-s", "partially_filled", 1, 80)
    assert fx == Effects(cancel=["c-t"], events=[ev("cancelled", "take_profit", "oco", ts=80, mode="native",
                                                    cid="c-t")])
    assert protector.leg_order_changed("c-s", "expired", 1, 81).events == [
        ev("filled", "stop_market", "1 filled", ts=81, mode="native", cid="c-s")]


@pytest.mark.parametrize("state, event, detail", [
    ("cancelled", "cancelled", "the venue cancelled it"),
    ("expired", "cancelled", "the venue expired it"),
    ("rejected", "rejected", "the venue refused it"),
])
def test_a_leg_order_ended_with_nothing_traded_ends_only_that_leg(state, event, detail):
    protector = bound_pair()
    fx = protector.leg_order_changed("c-s", state, 0, 90)
    assert fx == Effects(events=[ev(event, "stop_market", detail, ts=90, mode="native", cid="c-s")])
    assert list(protector.groups) == ["e"] and not protector.groups["e"].legs["take_profit"].state.ended
    assert protector.leg_order_changed("c-s", "filled", 1, 91) == Effects()   # it ended: nothing more


def test_a_new_order_supersedes_only_the_groups_exiting_its_side_of_its_instrument():
    protector = bound_pair()
    armed(Protection(stop_price=1_050), side=Side.SELL, position=-5, cid="short", protector=protector)
    armed(Protection(stop_price=950), cid="eth", symbol="ETH/USDT", protector=protector)
    fx = protector.supersede(SYMBOL, Side.SELL, 100)
    assert fx == Effects(cancel=["c-s", "c-t"], events=[
        ev("cancelled", "stop_market", "superseded", ts=100, mode="native", cid="c-s"),
        ev("cancelled", "take_profit", "superseded", ts=100, mode="native", cid="c-t")])
    assert list(protector.groups) == ["short", "eth"]


def test_ending_all_forgets_the_protection_wanted_and_cancels_only_the_legs_still_open():
    protector = bound_pair()
    protector.leg_order_changed("c-s", "rejected", 0, 110)
    armed(Protection(stop_price=950), cid="eth", symbol="ETH/USDT", protector=protector)
    protector.expect("later", Protection(stop_price=950))
    fx = protector.end_all(111, "halt")
    assert fx.cancel == ["c-t"]
    assert [(e.group_id, e.kind, e.event, e.ts_ns, e.detail) for e in fx.events] == [
        ("e", "take_profit", "cancelled", 111, "halt"), ("eth", "stop_market", "cancelled", 111, "halt")]
    assert protector.groups == {}
    assert protector.entry_ended("later", SYMBOL, "binance", "P", Side.BUY, 5, 1_000, 5, 112, False) == Effects()


def test_a_missing_exit_touch_never_triggers_and_a_trigger_on_a_one_sided_book_carries_no_mid():
    protector, _ = armed(Protection(stop_price=950))
    assert protector.on_view(BookView(SYMBOL, 1, 1, (), ((900, 1),)), 120) == []     # no bid to sell at
    assert protector.on_view(BookView(SYMBOL, 1, 1, ((940, 1),), ()), 121) == [
        ProtectionTrigger("e", "stop", 121, 940, 0)]
