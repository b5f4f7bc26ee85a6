"""Sizing against hand-computed cases: each method, the strength, the lot rounding and the liquidity cap boundary."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.messages import Protection, Side, Signal, Urgency
from engine.model.numbers import Instrument
from engine.model.sizing import RealizedVolatility, Sizing, SizingRefused, SizingRule, target_position

# prices in cents, quantities in 0.00001 BTC, traded in lots of 0.0001 BTC
BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, tick_size=1, lot_size=10)
MID_X2 = 2 * 6_000_000   # mid 60000.00
EQUITY = Decimal("100000")


def signal(side=Side.BUY, strength="1", stop=0, vol_x2=0, bid_qty=0, ask_qty=0) -> Signal:
    return Signal("s", "BTC/USDT", 1, side, Decimal(strength), Urgency.AGGRESSIVE, MID_X2,
                  protection=Protection(stop_price=stop) if stop else None, bid_qty=bid_qty, ask_qty=ask_qty,
                  volatility_x2=vol_x2)


def size(rule: SizingRule, sig: Signal, current: int = 0) -> int:
    return target_position(rule, sig, BTC, EQUITY, current)


def test_fixed_is_the_quantity_times_the_strength_rounded_down_to_the_lot():
    rule = SizingRule("fixed", quantity=5_000)
    assert size(rule, signal()) == 5_000
    assert size(rule, signal(Side.SELL)) == -5_000
    assert size(rule, signal(strength="0.5")) == 2_500
    assert size(rule, signal(strength="0.333")) == 1_660    # 1665 is not a whole lot of 10
    assert size(rule, signal(strength="0")) == 0             # flat, whichever side


def test_fixed_fraction_risks_that_share_of_equity_over_the_stop_distance():
    rule = SizingRule("fixed_fraction", risk_fraction=Decimal("0.01"))
    # 1% of 100000 = 1000 USDT over a stop 600.00 below the mid: 1.666666.. BTC, down to the lot: 1.6666 BTC
    assert size(rule, signal(stop=5_940_000)) == 166_660
    # short, stop 300.00 above: 3.333333.. BTC, down to 3.3333
    assert size(rule, signal(Side.SELL, stop=6_030_000)) == -333_330
    assert size(rule, signal(stop=5_940_000, strength="0.5")) == 83_330


def test_fixed_fraction_refuses_a_signal_without_a_stop_or_with_one_on_the_winning_side():
    rule = SizingRule("fixed_fraction", risk_fraction=Decimal("0.01"))
    with pytest.raises(SizingRefused) as refused:
        size(rule, signal())
    assert refused.value.rule == "sizing_no_stop"
    with pytest.raises(SizingRefused) as refused:
        size(rule, signal(stop=6_010_000))     # a buy's stop above the mid
    assert refused.value.rule == "sizing_stop_side"
    with pytest.raises(SizingRefused):
        size(rule, signal(stop=6_000_000))     # at the mid: no distance to risk over


def test_volatility_sizes_the_target_risk_over_the_realized_volatility():
    rule = SizingRule("volatility", target_risk=Decimal("50"), window=20)
    # volatility 10.00 USDT (volatility_x2 2000 cents): 50 / 10 = 5 BTC
    assert size(rule, signal(vol_x2=2_000)) == 500_000
    # 50 / 30.00 = 1.666.. BTC
    assert size(rule, signal(Side.SELL, vol_x2=6_000)) == -166_660
    with pytest.raises(SizingRefused) as refused:
        size(rule, signal())
    assert refused.value.rule == "sizing_no_volatility"


def test_realized_volatility_is_the_integer_root_mean_square_change_over_the_window():
    measure = RealizedVolatility(2)
    for mid in (100, 104):
        measure.look(mid)
        assert measure.volatility_x2 == 0          # fewer than 2 changes seen
    measure.look(101)
    assert measure.volatility_x2 == 3              # changes 4, -3: sqrt((16 + 9) // 2) = sqrt(12) -> 3
    measure.look(101)
    assert measure.volatility_x2 == 2              # the window slides: changes -3, 0: sqrt(9 // 2) -> 2


def test_the_liquidity_cap_limits_the_change_to_a_share_of_the_touch_it_would_take():
    rule = SizingRule("fixed", quantity=5_000, liquidity_fraction=Decimal("0.5"))
    assert size(rule, signal(ask_qty=10_000)) == 5_000          # room 5000: exactly at the boundary, not capped
    assert size(rule, signal(ask_qty=9_990)) == 4_990           # room 4995, down to the lot
    assert size(rule, signal(ask_qty=9_990), current=1_000) == 5_000   # the change (4000) is within the room
    assert size(rule, signal(Side.SELL, bid_qty=2_000), current=1_000) == 0   # a sell takes the bid: 1000 of room
    assert size(rule, signal(ask_qty=0)) == 0                    # nothing shown: nothing taken


def test_sizing_by_strategy_refuses_a_strategy_it_does_not_know():
    sizing = Sizing({"s": SizingRule("fixed", quantity=5_000)})
    assert sizing.target(signal(), BTC, EQUITY, 0) == 5_000
    other = Signal("other", "BTC/USDT", 1, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, MID_X2)
    with pytest.raises(SizingRefused) as refused:
        sizing.target(other, BTC, EQUITY, 0)
    assert refused.value.rule == "no_sizing"


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="sizing method"):
        SizingRule("kelly")


def test_every_refusal_says_why_in_its_detail_and_its_message():
    fraction = SizingRule("fixed_fraction", risk_fraction=Decimal("0.01"))
    cases = [(fraction, signal(), "sizing_no_stop", "fixed_fraction sizing needs the signal's stop price"),
             (fraction, signal(stop=6_010_000), "sizing_stop_side",
              "the stop 6010000 is not on the losing side of the mid"),
             (SizingRule("volatility", target_risk=Decimal("50"), window=20), signal(), "sizing_no_volatility",
              "no realized volatility measured yet")]
    for rule, sig, name, detail in cases:
        with pytest.raises(SizingRefused) as refused:
            size(rule, sig)
        assert (refused.value.rule, refused.value.detail, str(refused.value)) == (name, detail, detail)
    other = Signal("other", "BTC/USDT", 1, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, MID_X2)
    with pytest.raises(SizingRefused) as refused:
        Sizing({}).target(other, BTC, EQUITY, 0)
    assert refused.value.detail == "strategy 'other' has no sizing"
    with pytest.raises(ValueError, match="^sizing method must be one of fixed, fixed_fraction, volatility, "
                                         "got 'kelly'$"):
        SizingRule("kelly")


def test_sizes_are_whole_units_never_floats():
    # quantities are fixed-point integers: every method and every path through the cap answers an int
    capped = SizingRule("fixed", quantity=5_000, liquidity_fraction=Decimal("0.5"))
    sizes = [size(SizingRule("fixed", quantity=5_000), signal(Side.SELL, strength="0.333")),
             size(SizingRule("fixed_fraction", risk_fraction=Decimal("0.01")), signal(Side.SELL, stop=6_030_000)),
             size(SizingRule("volatility", target_risk=Decimal("50"), window=20), signal(vol_x2=6_000)),
             size(capped, signal(Side.SELL, bid_qty=2_000)), size(capped, signal(ask_qty=9_990))]
    assert sizes == [-1_660, -333_330, 166_660, -1_000, 4_990]
    assert [type(s) for s in sizes] == [int] * 5


def test_the_smallest_stop_distance_and_volatility_still_size():
    # a mid of 60000.005 (mid_x2 odd) and a stop at 60000.00: half a cent of distance;
    # 1000 USDT / 0.005 = 200000 BTC
    half_cent = Signal("s", "BTC/USDT", 1, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, MID_X2 + 1,
                       protection=Protection(stop_price=6_000_000))
    assert size(SizingRule("fixed_fraction", risk_fraction=Decimal("0.01")), half_cent) == 20_000_000_000
    # volatility_x2 1: a volatility of half a cent; 50 / 0.005 = 10000 BTC
    assert size(SizingRule("volatility", target_risk=Decimal("50"), window=20), signal(vol_x2=1)) == 1_000_000_000


def test_a_strength_above_one_is_the_full_position():
    assert size(SizingRule("fixed", quantity=5_000), signal(strength="1.5")) == 5_000


def test_a_signal_of_no_strength_is_flat_before_any_rule_or_cap_is_asked():
    # no stop needed to go flat, and the liquidity cap does not hold back getting out
    assert size(SizingRule("fixed_fraction", risk_fraction=Decimal("0.01")), signal(strength="0")) == 0
    capped = SizingRule("fixed", quantity=5_000, liquidity_fraction=Decimal("0.5"))
    assert size(capped, signal(strength="0", bid_qty=10), current=5_000) == 0
    # nor is a sizing rule needed at all (the kill switch's flatten comes from no strategy with one)
    flatten = Signal("kill_switch", "BTC/USDT", 1, Side.SELL, Decimal(0), Urgency.AGGRESSIVE, MID_X2)
    assert Sizing({}).target(flatten, BTC, EQUITY, 5_000) == 0


def test_a_buy_of_a_single_unit_is_capped_by_the_ask_not_the_bid():
    rule = SizingRule("fixed", quantity=5_000, liquidity_fraction=Decimal("0.5"))
    # one unit short of the target, nothing shown at the ask (plenty at the bid): nothing more is bought
    assert size(rule, signal(ask_qty=0, bid_qty=100_000), current=4_999) == 4_999


def test_sizing_by_strategy_sizes_on_the_equity_and_the_position_it_is_given():
    sizing = Sizing({"s": SizingRule("fixed_fraction", risk_fraction=Decimal("0.01"),
                                     liquidity_fraction=Decimal("0.5"))})
    # 1% of 50000 = 500 USDT over 600.00: 0.8333 BTC; the cap (half of 1 BTC at the ask) leaves room for 0.5 BTC
    # beyond the 0.4 BTC held
    assert sizing.target(signal(stop=5_940_000, ask_qty=100_000), BTC, Decimal(50_000), 40_000) == 83_330
    assert sizing.target(signal(stop=5_940_000, ask_qty=60_000), BTC, Decimal(50_000), 40_000) == 70_000


def test_a_volatility_window_of_one_look_is_allowed_and_none_is_refused():
    measure = RealizedVolatility(1)
    measure.look(100)
    measure.look(103)
    assert measure.volatility_x2 == 3
    with pytest.raises(ValueError, match="^a volatility window needs at least one look, got 0$"):
        RealizedVolatility(0)
