"""The risk gate: sizing from exposure, each rule refusing by name, prices on the tick grid inside the band."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.messages import Exposure, ParentOrder, QuoteIntent, RiskRejection, Side, Signal, TradingMode, Urgency
from engine.model.numbers import Instrument
from engine.model.risk import RiskGate, RiskLimits
from engine.model.risk_checks import CheckLimits
from engine.model.sizing import Sizing, SizingRule

FULL = 1_000_000
SIZING = Sizing({"s": SizingRule("fixed", quantity=FULL)})   # a target t is a signal of strength |t| / FULL

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, tick_size=1, lot_size=1)
MID_X2 = 2 * 6_000_000  # mid 60000.00


def gate(**kw) -> RiskGate:
    limits = dict(max_order_notional=Decimal("10000"), max_position=10_000, price_band_bps=50, max_slippage_bps=10)
    limits.update(kw)
    g = RiskGate(RiskLimits(**limits), {"BTC/USDT": BTC}, sizing=SIZING)
    g.on_mid("BTC/USDT", MID_X2)
    return g


def signal(target: int, mid_x2: int = MID_X2) -> Signal:
    side = Side.BUY if target > 0 else Side.SELL
    return Signal("s", "BTC/USDT", 1, side, Decimal(abs(target)) / FULL, Urgency.AGGRESSIVE, mid_x2)


def test_buy_is_sized_to_the_target_and_priced_at_the_mid_plus_slippage():
    order = gate().decide(signal(5_000))  # 0.05 BTC
    assert isinstance(order, ParentOrder)
    assert (order.side, order.qty) == (Side.BUY, 5_000)
    assert order.limit_price == 6_006_000  # 60000 * 1.001 = 60060.00


def test_sell_price_rounds_up_to_the_tick_so_it_stays_inside_the_band():
    g = gate(max_slippage_bps=7)
    order = g.decide(signal(-3_000, mid_x2=2 * 6_000_001))  # mid 60000.01, 7 bps below = 59958.0099...
    assert order.side is Side.SELL and order.limit_price == 5_995_801


def test_sizing_counts_position_and_open_orders():
    g = gate()
    g.on_exposure(Exposure("BTC/USDT", 1, position=2_000, open_buy_qty=1_000, open_sell_qty=0))
    order = g.decide(signal(5_000))
    assert order.qty == 2_000
    assert g.decide(signal(3_000)) is None  # already there, counting what is working


@pytest.mark.parametrize("kwargs, target, mid_x2, rule", [
    (dict(max_position=4_000), 5_000, MID_X2, "max_position"),
    (dict(max_order_notional=Decimal("1000")), 5_000, MID_X2, "max_order_notional"),
    (dict(price_band_bps=50), 5_000, MID_X2 * 10_060 // 10_000, "price_band"),
])
def test_each_rule_refuses_by_name(kwargs, target, mid_x2, rule):
    g = gate(**kwargs)
    decision = g.decide(signal(target, mid_x2))
    assert isinstance(decision, RiskRejection) and decision.rule == rule
    assert g.rejections[rule] == 1


def test_position_limit_counts_orders_already_working_on_that_side():
    g = gate(max_position=6_000)
    g.on_exposure(Exposure("BTC/USDT", 1, position=-5_000, open_buy_qty=0, open_sell_qty=1_000))
    decision = g.decide(signal(-6_000))
    assert decision is None  # -5000 held and -1000 working: already at the target
    g.on_exposure(Exposure("BTC/USDT", 2, position=0, open_buy_qty=5_000, open_sell_qty=0))
    decision = g.decide(signal(6_000))
    assert decision.qty == 1_000


def test_kill_switch_and_missing_market_refuse_everything():
    g = gate()
    g.mode = TradingMode.HALTED
    g.on_exposure(Exposure("BTC/USDT", 1, 3_000, 0, 0))
    assert g.decide(signal(1_000)).rule == "kill_switch"
    assert g.decide(signal(0)).rule == "kill_switch"          # even an order that would reduce: halted is halted
    fresh = RiskGate(g.limits, {"BTC/USDT": BTC}, sizing=SIZING)
    assert fresh.decide(signal(1_000)).rule == "no_market"


def test_the_price_band_is_checked_against_the_book_as_of_the_signal_s_decision():
    g = gate()
    far = MID_X2 * 102 // 100                       # 2% above the book: outside the 50 bps band
    g.on_mid("BTC/USDT", MID_X2, ts_ns=1)            # a view no newer than the decision: it is the book then
    assert g.decide(signal(5_000, far)).rule == "price_band"
    g.on_mid("BTC/USDT", MID_X2, ts_ns=2)            # newer than the decision (at 1): the signal's own book
    order = g.decide(signal(5_000, far))
    assert isinstance(order, ParentOrder) and order.signal_mid_x2 == far


def reducing(position: int, open_buy: int = 0, open_sell: int = 0) -> RiskGate:
    g = gate()
    g.mode = TradingMode.REDUCING
    g.on_exposure(Exposure("BTC/USDT", 1, position, open_buy, open_sell))
    return g


def test_reducing_lets_through_an_order_that_brings_the_position_toward_flat():
    order = reducing(3_000).decide(signal(0))
    assert isinstance(order, ParentOrder) and (order.side, order.qty) == (Side.SELL, 3_000)
    order = reducing(-3_000).decide(signal(-1_000))
    assert isinstance(order, ParentOrder) and (order.side, order.qty) == (Side.BUY, 2_000)


def test_reducing_refuses_an_order_that_grows_or_opens_exposure():
    assert reducing(3_000).decide(signal(5_000)).rule == "kill_switch"    # adds to a long
    assert reducing(0).decide(signal(1_000)).rule == "kill_switch"        # opens one
    assert reducing(-3_000).decide(signal(-4_000)).rule == "kill_switch"  # adds to a short


def test_reducing_shrinks_a_flip_to_the_part_that_only_closes():
    order = reducing(3_000).decide(signal(-5_000))       # long 0.03 wants short 0.05: only the 0.03 sale passes
    assert isinstance(order, ParentOrder) and (order.side, order.qty) == (Side.SELL, 3_000)


def test_reducing_counts_what_already_works_to_close():
    assert reducing(3_000, open_sell=3_000).decide(signal(-2_000)).rule == "kill_switch"  # the close is working
    order = reducing(3_000, open_sell=1_000).decide(signal(-2_000))
    assert isinstance(order, ParentOrder) and (order.side, order.qty) == (Side.SELL, 2_000)


def quotes(bid_qty=3_000, ask_qty=3_000, bid=5_999_900, ask=6_000_100) -> QuoteIntent:
    return QuoteIntent("mm", "BTC/USDT", 1, bid, bid_qty, ask, ask_qty, MID_X2)


def test_quotes_are_approved_under_a_quote_id_and_shrunk_to_the_position_limit():
    g = gate()
    g.on_exposure(Exposure("BTC/USDT", 1, 8_000, 0, 0))   # long 0.08 of a 0.1 limit
    approved = g.decide_quotes(quotes())
    assert isinstance(approved, QuoteIntent) and approved.quote_id == "P1"
    assert (approved.bid_qty, approved.ask_qty) == (2_000, 3_000)   # a full bid fill would reach exactly 0.1
    assert g.quotes_shrunk == 1
    assert g.decide_quotes(quotes(bid_qty=2_000)).quote_id == "P2" and g.quotes_shrunk == 1


def test_quotes_whose_bid_reaches_their_ask_are_refused():
    rejected = gate().decide_quotes(quotes(bid=6_000_100))
    assert isinstance(rejected, RiskRejection) and rejected.rule == "crossed_quotes"


def test_quotes_are_shrunk_to_the_order_notional_limit():
    approved = gate(max_order_notional=Decimal("1200")).decide_quotes(quotes())
    assert (approved.bid_qty, approved.ask_qty) == (2_000, 1_999)   # 1200 / 59999.00 = 0.0200003..; / 60001.00


def test_reducing_quotes_keep_only_the_side_that_brings_the_position_toward_flat():
    g = reducing(2_000)                          # long 0.02: only an ask, of no more than the position
    approved = g.decide_quotes(quotes())
    assert (approved.bid_qty, approved.ask_qty) == (0, 2_000)
    g.mode = TradingMode.HALTED
    assert g.decide_quotes(quotes()).rule == "kill_switch"


def test_each_side_of_the_quotes_is_held_to_the_pre_trade_checks_as_an_order_of_its_own():
    g = RiskGate(gate().limits, {"BTC/USDT": BTC}, sizing=SIZING,
                 checks=CheckLimits(max_orders_total=1, order_rate_window_ns=10**12))
    g.on_mid("BTC/USDT", MID_X2)
    first = g.decide_quotes(quotes())            # the bid is the one order the rate allows; the ask is refused
    assert isinstance(first, QuoteIntent) and (first.bid_qty, first.ask_qty) == (3_000, 0)
    [ask_refused] = g.take_refused_sides()
    assert ask_refused.rule == "order_rate_total" and g.take_refused_sides() == []
    second = g.decide_quotes(quotes())           # nothing passes: a refusal is the decision, the other one kept
    assert isinstance(second, RiskRejection) and second.rule == "order_rate_total"
    assert [r.rule for r in g.take_refused_sides()] == ["order_rate_total"]
    assert g.rejections["order_rate_total"] == 3 and g.approved == 1
