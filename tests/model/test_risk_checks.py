"""The risk gate's checks, each allowed exactly at its limit and refused one unit beyond, and their composition."""
from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pytest

from engine.messages import (BookView, Exposure, Fill, Liquidity, ParentOrder, PortfolioView, RiskRejection, Side,
                             Signal, Urgency)
from engine.model.numbers import Instrument
from engine.model.risk import RiskGate, RiskLimits
from engine.model.sizing import Sizing, SizingRule
from engine.model.risk_checks import (AvailableBalance, Balances, Candidate, CheckLimits, CorrelatedExposure,
                                      DisplayedLiquidity, GrossExposure, InstrumentFilters, InstrumentRules, Leverage,
                                      LossCooldown, Market, MidSampler, OrderRate, PreTradeChecks, SignalAge,
                                      SpreadLimit, StaleData, VolatilityHalt)

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, tick_size=1, lot_size=1)
ETH = Instrument("ETH/USDT", "okx", "ETH-USDT", "ETH", "USDT", 2, 5, tick_size=1, lot_size=1)
INSTRUMENTS = {"BTC/USDT": BTC, "ETH/USDT": ETH}
MID_X2 = 2 * 6_000_000          # BTC at 60000.00
ETH_MID_X2 = 2 * 300_000        # ETH at 3000.00
MS = 1_000_000


def market(**exposures: tuple[int, int, int]) -> Market:
    """A market with both mids known and the given (position, open buy, open sell) per instrument (BTC=..., ETH=...)."""
    m = Market(INSTRUMENTS, {"BTC/USDT": MID_X2, "ETH/USDT": ETH_MID_X2}, {})
    for base, (position, buy, sell) in exposures.items():
        symbol = f"{base}/USDT"
        m.exposures[symbol] = Exposure(symbol, 0, position, buy, sell)
    return m


def cand(qty: int = 1_000, side: Side = Side.BUY, limit: int = 6_000_000, ts: int = 0, position: int = 0,
         open_buy: int = 0, open_sell: int = 0, bid: int = 0, ask: int = 0, inst: Instrument = BTC,
         urgency: Urgency = Urgency.AGGRESSIVE) -> Candidate:
    sig = Signal("s", inst.symbol, ts, Side.SELL, Decimal(0), urgency, MID_X2, bid=bid, ask=ask)
    return Candidate(sig, inst, side, qty, limit, inst.notional(limit, qty), position, open_buy, open_sell)


def rule(refusal) -> str | None:
    return None if refusal is None else refusal[0]


def fill(side: Side, qty: int, price: int, ts: int = 0, fee: str = "0", inst: Instrument = BTC) -> Fill:
    return Fill("c", "P", inst.venue, inst.symbol, side, qty, price, Decimal(fee), inst.quote, Liquidity.TAKER, ts, 0)


# ---------------------------------------------------------------- which orders reduce

@pytest.mark.parametrize("position, buy, sell, side, qty, reduces", [
    (1_000, 0, 0, Side.SELL, 1_000, True),      # to flat
    (1_000, 0, 0, Side.SELL, 1_001, False),     # one unit past flat
    (1_000, 0, 500, Side.SELL, 500, True),      # counting what is working
    (1_000, 0, 500, Side.SELL, 501, False),
    (-1_000, 0, 0, Side.BUY, 1_000, True),
    (1_000, 0, 0, Side.BUY, 1, False),
    (0, 0, 0, Side.SELL, 1, False),
])
def test_an_order_reduces_only_toward_flat_counting_working_orders(position, buy, sell, side, qty, reduces):
    assert cand(qty, side, position=position, open_buy=buy, open_sell=sell).reduces is reduces


# ---------------------------------------------------------------- market data

def test_stale_data_allows_a_view_exactly_at_the_age_limit_and_refuses_one_ns_older():
    m = market()
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, ((5_999_000, 1),), ((6_001_000, 1),))
    check = StaleData(100 * MS, m)
    m.newest_ns = 100 * MS                  # another instrument's view: the market has moved on to here
    assert check(cand(ts=50 * MS)) is None
    m.newest_ns = 100 * MS + 1
    assert rule(check(cand(ts=50 * MS))) == "stale_data"
    assert rule(check(cand(ts=0, inst=ETH))) == "stale_data"   # no view at all


def test_signal_age_allows_exactly_the_limit_and_refuses_one_ns_more():
    m = market()
    check = SignalAge(100 * MS, m)
    m.newest_ns = 100 * MS
    assert check(cand(ts=0)) is None
    m.newest_ns += 1
    assert rule(check(cand(ts=0))) == "signal_age"
    assert check(cand(ts=m.newest_ns)) is None      # a signal as new as the market


def test_spread_allows_exactly_the_limit_from_the_signal_s_own_book_and_refuses_one_tick_wider():
    check = SpreadLimit(10, market())                # 10 bps of 60000.00 is 60.00
    assert check(cand(bid=5_997_000, ask=6_003_000)) is None
    assert rule(check(cand(bid=5_997_000, ask=6_003_001))) == "spread"


def test_spread_falls_back_to_the_gate_s_view_and_refuses_a_one_sided_book():
    m = market()
    check = SpreadLimit(10, m)
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, ((5_997_000, 1),), ((6_003_000, 1),))
    assert check(cand()) is None
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, ((5_997_000, 1),), ((6_003_001, 1),))
    assert rule(check(cand())) == "spread"
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, ((5_997_000, 1),), ())
    assert rule(check(cand())) == "spread"


def test_displayed_liquidity_counts_the_other_side_within_the_limit_price():
    m = market()
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, ((5_999_000, 800), (5_990_000, 9_000)),
                                   ((6_001_000, 1_000), (6_002_000, 1_000), (6_010_000, 9_000)))
    check = DisplayedLiquidity(50, m)
    assert check(cand(1_000, limit=6_002_000)) is None        # 2000 shown up to the limit: half of it
    assert rule(check(cand(1_001, limit=6_002_000))) == "displayed_liquidity"
    assert check(cand(400, Side.SELL, limit=5_999_000)) is None
    assert check(cand(401, Side.SELL, limit=5_999_000)) == (
        "displayed_liquidity", "qty 0.00401 is more than 50% of the 0.00800 displayed")
    assert check(cand(10_000, limit=6_002_000, urgency=Urgency.PASSIVE)) is None   # it rests, it takes nothing


# ---------------------------------------------------------------- sampled mids

SECOND = 1_000 * MS


def sampled(sampler: MidSampler, rows: list[dict[str, int]], start: int = 0) -> None:
    """Show the sampler one row of mids per second from second `start`, then cross the next boundary so that the
    last row is taken too (BTC's mid must be among them)."""
    for k, row in enumerate(rows):
        for symbol, mid in row.items():
            sampler.on_mid(symbol, mid, (start + k) * SECOND)
    sampler.on_mid("BTC/USDT", sampler.latest[sampler.index["BTC/USDT"]] or 0, (start + len(rows)) * SECOND)


def test_the_sampler_takes_the_newest_mid_before_each_boundary_and_repeats_it_over_a_quiet_spell():
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=10)
    sampler.on_mid("BTC/USDT", 100, 0)
    sampler.on_mid("BTC/USDT", 101, 999 * MS)
    sampler.on_mid("BTC/USDT", 102, 1_000 * MS)      # the boundary: the row holds 101
    sampler.on_mid("ETH/USDT", 50, 3_500 * MS)       # two boundaries crossed at once (2 s, 3 s): 102 twice
    assert list(sampler.rows) == [(101, None), (102, None), (102, None)]
    assert sampler.returns((0,), 2) == [(Decimal(1) / Decimal(101),), (Decimal(0),)]
    assert sampler.returns((0, 1), 1) is None        # ETH's mid not yet known on a row


def test_volatility_halt_at_exactly_the_limit_passes_and_one_bps_lower_limit_halts_until_it_calms():
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=3)
    sampled(sampler, [{"BTC/USDT": 10_000}, {"BTC/USDT": 10_010}])      # one return of 10 bps
    assert VolatilityHalt(10, 1, sampler)(cand()) is None
    halt = VolatilityHalt(9, 1, sampler)
    assert rule(halt(cand())) == "volatility_halt"
    assert halt(cand(1_000, Side.SELL, position=1_000)) is None          # reducing is never halted
    assert VolatilityHalt(9, 2, sampler)(cand()) is None                 # not measured yet over two returns
    sampled(sampler, [{"BTC/USDT": 10_010}], start=2)                   # calm: a return of 0
    assert halt(cand()) is None


# ---------------------------------------------------------------- exposure

def test_gross_exposure_allows_exactly_the_limit_and_refuses_a_unit_beyond_unless_the_order_does_not_raise_it():
    m = market(BTC=(1_000, 0, 0), ETH=(-10_000, 0, 0))          # 600 + 300 USDT
    check = GrossExposure(Decimal("1500"), m)
    assert check(cand(1_000, position=1_000)) is None            # BTC to 0.02: 1200 + 300
    assert rule(check(cand(1_001, position=1_000))) == "gross_exposure"   # 1200.60 + 300
    over = GrossExposure(Decimal("100"), m)
    assert over(cand(2_000, Side.SELL, position=1_000)) is None  # already beyond, not raised: worst stays 0.01
    assert rule(over(cand(2_001, Side.SELL, position=1_000))) == "gross_exposure"


def test_gross_exposure_counts_working_orders_on_the_worse_side():
    m = market(BTC=(0, 1_000, 3_000))                            # could reach -0.03 BTC: 1800 USDT
    assert m.exposures_quote(None) == {"BTC/USDT": Decimal("-1800")}
    assert rule(GrossExposure(Decimal("1799.99"), m)(cand(1, Side.SELL, open_buy=1_000, open_sell=3_000))) \
        == "gross_exposure"


def correlated(eth_moves: list[int]) -> MidSampler:
    """BTC rises 10 bps then stays; ETH moves as given (in its mid units): two returns each."""
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=3)
    sampled(sampler, [{"BTC/USDT": 10_000, "ETH/USDT": eth_moves[0]}, {"BTC/USDT": 10_010, "ETH/USDT": eth_moves[1]},
                      {"BTC/USDT": 10_010, "ETH/USDT": eth_moves[2]}])
    return sampler


def test_correlated_exposure_counts_an_unmeasured_pair_at_its_worst_gross_exposure():
    m = market(ETH=(-20_000, 0, 0))                              # short 600 USDT of ETH
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=3)
    assert CorrelatedExposure(Decimal("1200"), 2, sampler, m)(cand(1_000)) is None     # long 600 BTC: 1200
    assert rule(CorrelatedExposure(Decimal("1199.99"), 2, sampler, m)(cand(1_000))) == "correlated_exposure"


def test_correlated_exposure_nets_a_hedge_of_correlated_instruments_and_adds_anticorrelated_ones():
    hedged = market(BTC=(1_000, 0, 0), ETH=(-20_000, 0, 0))       # long 600 USDT of BTC, short 600 of ETH
    together = correlated([3_000, 3_003, 3_003])                  # ETH moves as BTC: rho = 1, netting to 0
    check = CorrelatedExposure(Decimal("0.60"), 2, together, hedged)
    assert check.correlation("BTC/USDT", "ETH/USDT") == 1
    assert check(cand(1, position=1_000)) is None                 # 0.60 USDT left unhedged
    assert rule(check(cand(2, position=1_000))) == "correlated_exposure"   # 1.20
    m = market(ETH=(-20_000, 0, 0))
    apart = correlated([3_000, 3_000, 3_003])                     # ETH moves when BTC does not: rho = -1
    check = CorrelatedExposure(Decimal("1200"), 2, apart, m)
    assert check.correlation("BTC/USDT", "ETH/USDT") == -1
    assert check(cand(1_000)) is None                             # the short ETH adds to the long BTC: 1200
    assert rule(CorrelatedExposure(Decimal("1199.99"), 2, apart, m)(cand(1_000))) == "correlated_exposure"


# ---------------------------------------------------------------- cash, equity, leverage

def test_balances_follow_fills_and_value_equity_at_the_mids():
    m = market()
    balances = Balances({"USDT": Decimal("1000")}, INSTRUMENTS, m)
    balances.on_fill(fill(Side.BUY, 1_000, 6_000_000, fee="0.60"))   # 0.01 BTC for 600 USDT and 0.60 of fee
    assert balances.cash == {"USDT": Decimal("399.40"), "BTC": Decimal("0.01000")}
    assert balances.equity() == Decimal("999.40")
    balances.portfolio = PortfolioView(5, Decimal("950"), Decimal("1000"), Decimal("1000"), Decimal("600"),
                                       (("USDT", Decimal("350")),))
    assert (balances.equity(), balances.available("USDT")) == (Decimal("950"), Decimal("350"))


def test_leverage_allows_exactly_the_limit_and_refuses_a_unit_beyond():
    m = market()
    balances = Balances({"USDT": Decimal("600")}, INSTRUMENTS, m)
    assert Leverage(Decimal("2"), balances, m)(cand(2_000)) is None          # 1200 over 600
    assert rule(Leverage(Decimal("2"), balances, m)(cand(2_001))) == "leverage"
    broke = Balances({"USDT": Decimal("0")}, INSTRUMENTS, m)
    assert rule(Leverage(Decimal("2"), broke, m)(cand(1))) == "leverage"
    m.exposures["BTC/USDT"] = Exposure("BTC/USDT", 0, 5_000, 0, 0)
    assert Leverage(Decimal("2"), broke, m)(cand(1_000, Side.SELL, position=5_000)) is None   # it lowers it


def test_balance_counts_what_working_orders_hold_at_exactly_the_amount_and_one_unit_more():
    m = market()
    balances = Balances({"USDT": Decimal("1000"), "BTC": Decimal("0.01")}, INSTRUMENTS, m)
    check = AvailableBalance(balances, m)
    check.on_approved(ParentOrder("P1", "BTC/USDT", Side.BUY, 1_000, 6_000_000, Urgency.AGGRESSIVE, 0, MID_X2))
    m.exposures["BTC/USDT"] = Exposure("BTC/USDT", 0, 0, 1_000, 0)     # 600 USDT held by the working buy
    assert check(cand(1_000, limit=4_000_000)) is None                  # 400.00 of the 400.00 free
    assert rule(check(cand(1_000, limit=4_000_001))) == "balance"       # 400.0001
    assert check(cand(1_000, Side.SELL)) is None                        # 0.01 BTC held
    assert rule(check(cand(1_001, Side.SELL))) == "balance"
    assert check(cand(10, Side.SELL, inst=ETH)) is None                 # ETH has no balance listed: not modelled


def test_balance_hold_price_restarts_once_no_buy_is_working():
    m = market(BTC=(0, 0, 0))
    check = AvailableBalance(Balances({"USDT": Decimal("1000")}, INSTRUMENTS, m), m)
    check.on_approved(ParentOrder("P1", "BTC/USDT", Side.BUY, 1_000, 7_000_000, Urgency.AGGRESSIVE, 0, MID_X2))
    check.on_approved(ParentOrder("P2", "BTC/USDT", Side.BUY, 1_000, 6_000_000, Urgency.AGGRESSIVE, 0, MID_X2))
    assert check.hold_price["BTC/USDT"] == 6_000_000     # the first was done when the second was approved


def test_loss_cooldown_starts_at_the_n_th_losing_round_trip_and_ends_exactly_on_time():
    cooldown = LossCooldown(2, 1_000, INSTRUMENTS)
    cooldown.on_fill(fill(Side.BUY, 100_000, 10_000, ts=1))
    cooldown.on_fill(fill(Side.SELL, 100_000, 9_999, ts=2))             # lost 0.01
    assert cooldown(cand(ts=3)) is None and cooldown.losses == 1
    cooldown.on_fill(fill(Side.BUY, 100_000, 10_000, ts=4))
    cooldown.on_fill(fill(Side.SELL, 100_000, 10_000, ts=5, fee="0.01"))   # even, less the fee: a loss
    assert rule(cooldown(cand(ts=1_004))) == "loss_cooldown"
    assert cooldown(cand(100_000, Side.SELL, ts=1_004, position=100_000)) is None   # reducing passes
    assert cooldown(cand(ts=1_005)) is None


def test_a_flip_closes_the_round_trip_at_flat_sharing_the_fee_and_a_win_resets_the_count():
    cooldown = LossCooldown(2, 1_000, INSTRUMENTS)
    cooldown.on_fill(fill(Side.BUY, 100_000, 10_000, ts=1))
    cooldown.on_fill(fill(Side.SELL, 200_000, 9_999, ts=2, fee="0.02"))   # closes 1 at a loss, opens a short of 1
    assert cooldown.losses == 1 and cooldown.trip_pnl["BTC/USDT"] == Decimal("99.98")
    cooldown.on_fill(fill(Side.BUY, 100_000, 9_000, ts=3))               # the short wins
    assert cooldown.losses == 0 and cooldown.until_ns == 0


# ---------------------------------------------------------------- instrument rules and rate

def test_instrument_filters_at_each_bound_and_one_unit_past():
    lot = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, tick_size=5, lot_size=10)
    rules = {"BTC/USDT": InstrumentRules(min_qty=100, max_qty=1_000, min_notional=Decimal("60"),
                                         max_notional=Decimal("600"))}
    check = InstrumentFilters(rules)
    assert check(cand(100, limit=6_000_000, inst=lot)) is None               # 60.00: min qty, min notional
    assert rule(check(cand(100, limit=6_000_001, inst=lot))) == "tick_size"
    assert rule(check(cand(105, limit=6_000_000, inst=lot))) == "lot_size"
    assert rule(check(cand(90, limit=6_000_000, inst=lot))) == "lot_size"
    assert check(cand(1_000, limit=6_000_000, inst=lot)) is None             # 600.00: max qty, max notional
    assert rule(check(cand(1_010, limit=6_000_000, inst=lot))) == "lot_size"
    assert rule(check(cand(100, limit=5_999_995, inst=lot))) == "min_notional"
    assert rule(check(cand(1_000, limit=6_000_005, inst=lot))) == "max_notional"
    assert InstrumentFilters({})(cand(1, limit=1)) is None                   # no filters: tick and lot only
    # the reasons write prices and quantities as the venue does, in the instrument's decimals
    assert check(cand(100, limit=6_000_001, inst=lot)) == ("tick_size", "price 60000.01 is not a multiple of the tick 0.05")
    assert check(cand(90, limit=6_000_000, inst=lot)) == (
        "lot_size", "qty 0.00090 is off the lot 0.00010 or outside 0.00100..0.01000")
    assert InstrumentFilters({})(cand(5, limit=6_000_000, inst=lot)) == (
        "lot_size", "qty 0.00005 is off the lot 0.00010 or outside 0.00000..no maximum")


def test_order_rate_per_venue_and_in_total_over_a_window_ending_at_the_signal():
    rate = OrderRate(1_000, per_venue=2, total=3)
    rate.on_approved_at("binance", 0)
    rate.on_approved_at("binance", 500)
    assert rule(rate(cand(ts=999))) == "order_rate_venue"     # two in (−1, 999]
    assert rate(cand(ts=1_000)) is None                       # the one at 0 is a window old: out
    rate.on_approved_at("binance", 1_000)
    rate.on_approved_at("okx", 1_200)
    assert rule(rate(cand(ts=1_400, inst=ETH))) == "order_rate_total"   # 500, 1000, 1200 in the window
    assert rate(cand(ts=1_500, inst=ETH)) is None                      # 500 left it


# ---------------------------------------------------------------- the gate with its checks

FULL = 1_000_000
SIZING = Sizing({"s": SizingRule("fixed", quantity=FULL)})   # a target t is a signal of strength |t| / FULL


def gate(**checks) -> RiskGate:
    g = RiskGate(RiskLimits(Decimal("1000000"), 1_000_000, 50, 10), dict(INSTRUMENTS), checks=CheckLimits(**checks),
                 sizing=SIZING)
    for symbol, mid in (("BTC/USDT", MID_X2), ("ETH/USDT", ETH_MID_X2)):
        g.on_view(BookView(symbol, 0, 1, ((mid // 2 - 1_000, 10**9),), ((mid // 2 + 1_000, 10**9),)))
    return g


def signal(target: int, ts: int = 0, symbol: str = "BTC/USDT") -> Signal:
    mid_x2 = MID_X2 if symbol == "BTC/USDT" else ETH_MID_X2
    side = Side.BUY if target > 0 else Side.SELL
    return Signal("s", symbol, ts, side, Decimal(abs(target)) / FULL, Urgency.AGGRESSIVE, mid_x2)


def test_a_gate_without_limits_builds_only_the_venue_filters():
    assert [type(c).__name__ for c in gate().checks.checks] == ["InstrumentFilters"]
    assert not CheckLimits().needs_fills


def test_the_first_check_in_the_fixed_order_names_the_rejection_and_it_is_counted():
    g = gate(max_signal_age_ns=1, max_gross_exposure=Decimal("1"), max_orders_total=1)
    assert [type(c).__name__ for c in g.checks.checks] == ["SignalAge", "InstrumentFilters", "GrossExposure",
                                                            "OrderRate"]
    g.on_view(BookView("ETH/USDT", 10, 2, ((299_000, 10**9),), ((301_000, 10**9),)))
    decision = g.decide(signal(1_000, ts=0))            # too old and too large: the age is checked first
    assert isinstance(decision, RiskRejection) and decision.rule == "signal_age"
    assert g.decide(signal(1_000, ts=10)).rule == "gross_exposure"
    assert g.rejections == {"signal_age": 1, "gross_exposure": 1}


def test_approved_orders_fill_the_rate_window_through_the_gate():
    g = gate(max_orders_per_venue=1, order_rate_window_ns=1_000)
    assert isinstance(g.decide(signal(1_000, ts=0)), ParentOrder)
    g.on_exposure(Exposure("BTC/USDT", 0, 0, 1_000, 0))
    assert g.decide(signal(2_000, ts=999)).rule == "order_rate_venue"
    assert isinstance(g.decide(signal(1_000, ts=999, symbol="ETH/USDT")), ParentOrder)   # another venue
    assert isinstance(g.decide(signal(2_000, ts=1_000)), ParentOrder)


def test_each_fill_is_followed_once_by_its_journal_seq():
    checks = PreTradeChecks(CheckLimits(balance_check=True, cash={"USDT": Decimal("1000")}), market())
    f = fill(Side.BUY, 1_000, 6_000_000)
    for seq in (3, 3, 2):
        checks.on_fill(f, seq)
    assert checks.balances.cash["USDT"] == Decimal("400")


def test_the_views_are_followed_only_where_a_check_reads_them():
    quiet, watching = gate(), gate(max_spread_bps=10)
    assert not quiet.checks.watches_views and quiet.checks.market.views == {}
    assert watching.checks.watches_views and set(watching.checks.market.views) == {"BTC/USDT", "ETH/USDT"}


def test_a_fill_of_an_instrument_the_run_does_not_list_is_passed_over():
    checks = PreTradeChecks(CheckLimits(balance_check=True, cash={"USDT": Decimal("1000")}), market())
    other = Instrument("SOL/USDT", "binance", "SOLUSDT", "SOL", "USDT", 2, 5)
    checks.on_fill(fill(Side.BUY, 1_000, 10_000, inst=other), 1)
    assert checks.balances.cash == {"USDT": Decimal("1000")}


EVERY_CHECK = dict(max_data_age_ns=1_000, max_signal_age_ns=1_000, max_spread_bps=10, max_volatility_bps=10_000,
                   loss_streak=3, loss_cooldown_ns=1_000, max_displayed_share_pct=100,
                   max_gross_exposure=Decimal("100000"), max_correlated_exposure=Decimal("100000"),
                   max_leverage=Decimal("10"), balance_check=True, cash={"USDT": Decimal("100000")},
                   max_orders_total=5)


def test_every_check_enabled_stands_in_the_fixed_order_and_passes_an_order_within_every_limit():
    g = gate(**EVERY_CHECK)
    assert [type(c).__name__ for c in g.checks.checks] == [
        "StaleData", "SignalAge", "SpreadLimit", "VolatilityHalt", "LossCooldown", "InstrumentFilters",
        "DisplayedLiquidity", "GrossExposure", "CorrelatedExposure", "Leverage", "AvailableBalance", "OrderRate"]
    # a buy of 0.01 BTC (600 USDT) on a fresh book: within every limit, so every check is asked and passes it
    assert isinstance(g.decide(signal(1_000, ts=0)), ParentOrder)


@pytest.mark.parametrize("limits, names", [
    (dict(max_volatility_bps=100), ["VolatilityHalt", "InstrumentFilters"]),
    (dict(max_correlated_exposure=Decimal("1")), ["InstrumentFilters", "CorrelatedExposure"]),
])
def test_the_sampled_checks_stand_alone_though_they_share_the_sampler(limits, names):
    assert [type(c).__name__ for c in gate(**limits).checks.checks] == names


# ---------------------------------------------------------------- sharper edges: what the tests above left open

ETH_BTC = Instrument("ETH/BTC", "binance", "ETHBTC", "ETH", "BTC", 5, 4, tick_size=1, lot_size=1)


def test_stale_data_measures_from_the_view_s_own_time_and_says_how_old_it_is():
    m = market()
    m.views["BTC/USDT"] = BookView("BTC/USDT", 50 * MS, 1, ((5_999_000, 1),), ((6_001_000, 1),))
    check = StaleData(100 * MS, m)
    m.newest_ns = 150 * MS
    assert check(cand(ts=150 * MS)) is None
    m.newest_ns = 150 * MS + 1
    assert check(cand(ts=150 * MS)) == ("stale_data", "newest book view is 100000001 ns old, limit 100000000 ns")


def test_spread_with_a_one_sided_touch_on_the_signal_falls_back_to_the_book_and_says_what_is_missing():
    m = market()
    check = SpreadLimit(10, m)
    assert check(cand(bid=5_997_000)) == ("spread", "the book shows no two-sided market")     # and no view either
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, (), ((6_003_000, 1),))
    assert check(cand(bid=5_997_000)) == ("spread", "the book shows no two-sided market")
    m.views["BTC/USDT"] = BookView("BTC/USDT", 0, 1, ((5_997_000, 1),), ((6_003_000, 1),))
    assert check(cand(bid=5_997_000)) is None
    assert check(cand(bid=5_997_000, ask=6_003_001)) == ("spread", "spread 60.01 is more than 10 bps of the mid")


def test_displayed_liquidity_with_no_view_shows_nothing_to_take():
    assert rule(DisplayedLiquidity(100, market())(cand(1))) == "displayed_liquidity"


def test_balances_start_every_asset_not_yet_held_at_zero():
    m = market()
    balances = Balances({"BTC": Decimal("0.02")}, INSTRUMENTS, m)      # no USDT, no BNB listed
    f = Fill("c", "P", "binance", "BTC/USDT", Side.BUY, 1_000, 6_000_000, Decimal("0.001"), "BNB", Liquidity.TAKER,
             0, 0)
    balances.on_fill(f)
    assert balances.cash == {"BTC": Decimal("0.03000"), "USDT": Decimal("-600.00000"), "BNB": Decimal("-0.001")}
    assert balances.available("ETH") == 0 and balances.available("ETH") is not None
    balances.portfolio = PortfolioView(5, Decimal("950"), Decimal("1000"), Decimal("1000"), Decimal("600"),
                                       (("USDT", Decimal("350")),))
    assert balances.available("BTC") == 0 and balances.available("BTC") is not None


def test_equity_counts_a_shared_quote_once_values_each_base_at_its_mid_and_skips_a_base_without_one():
    m = market()
    both = Balances({"USDT": Decimal("1000"), "BTC": Decimal("0.01"), "ETH": Decimal("0.1")}, INSTRUMENTS, m)
    assert both.equity() == Decimal("1900")                           # 1000 + 600 + 300
    no_quote = Balances({"BTC": Decimal("0.01")}, INSTRUMENTS, m)
    assert no_quote.equity() == Decimal("600")
    del m.mids_x2["ETH/USDT"]
    assert both.equity() == Decimal("1600")                           # ETH has no mid yet: not valued


def test_the_gate_s_equity_follows_the_portfolio_once_published():
    checks = PreTradeChecks(CheckLimits(max_leverage=Decimal("1"), cash={"USDT": Decimal("1000")}), market())
    checks.on_portfolio(PortfolioView(5, Decimal("300"), Decimal("1000"), Decimal("1000"), Decimal("0"), ()))
    assert checks.balances.equity() == Decimal("300")
    assert checks.refuse(cand(500)) is None                           # 300 USDT of BTC over 300 of equity
    assert rule(checks.refuse(cand(501))) == "leverage"


def test_leverage_refuses_zero_equity_as_not_positive_but_holds_an_equity_of_one_to_the_ratio():
    m = market()
    refusal = Leverage(Decimal("2"), Balances({"USDT": Decimal(0)}, INSTRUMENTS, m), m)(cand(1))
    assert rule(refusal) == "leverage" and refusal[1].endswith("is not positive")
    one = Balances({"USDT": Decimal("1")}, INSTRUMENTS, m)
    assert Leverage(Decimal("2"), one, m)(cand(3)) is None            # 1.80 over 1
    assert rule(Leverage(Decimal("2"), one, m)(cand(4))) == "leverage"   # 2.40


def test_what_working_orders_hold_adds_up_across_instruments_spending_the_same_asset():
    instruments = {**INSTRUMENTS, "ETH/BTC": ETH_BTC}
    m = Market(instruments, {"BTC/USDT": MID_X2, "ETH/USDT": ETH_MID_X2, "ETH/BTC": 10_000}, {})
    check = AvailableBalance(Balances({"USDT": Decimal("1000"), "BTC": Decimal("0.02")}, instruments, m), m)
    for symbol, price in (("BTC/USDT", 6_000_000), ("ETH/USDT", 300_000), ("ETH/BTC", 5_000)):
        check.on_approved(ParentOrder("P", symbol, Side.BUY, 1, price, Urgency.AGGRESSIVE, 0, 0))
    m.exposures["ETH/BTC"] = Exposure("ETH/BTC", 0, 0, 1_000, 0)       # buying 0.1 ETH at 0.05: 0.005 BTC
    m.exposures["BTC/USDT"] = Exposure("BTC/USDT", 0, 0, 1_000, 1_000)  # 600 USDT and 0.01 BTC
    m.exposures["ETH/USDT"] = Exposure("ETH/USDT", 0, 0, 10_000, 0)    # 300 USDT
    assert (check.held("USDT"), check.held("BTC"), check.held("ETH")) == (Decimal("900"), Decimal("0.015"), 0)
    assert check(cand(500, Side.SELL)) is None                          # 0.005 BTC of the 0.005 free
    assert rule(check(cand(501, Side.SELL))) == "balance"
    m.exposures["ETH/USDT"] = Exposure("ETH/USDT", 0, 0, 0, 50_000)     # selling ETH holds no BTC nor USDT
    assert (check.held("USDT"), check.held("BTC")) == (Decimal("600"), Decimal("0.015"))


def test_a_working_buy_whose_price_the_gate_never_approved_holds_nothing_until_one_is():
    m = market(BTC=(0, 1_000, 0))                                      # working since before a restart
    check = AvailableBalance(Balances({"USDT": Decimal("1000")}, INSTRUMENTS, m), m)
    assert check.held("USDT") == 0
    check.on_approved(ParentOrder("P1", "BTC/USDT", Side.BUY, 1_000, 7_000_000, Urgency.AGGRESSIVE, 0, MID_X2))
    check.on_approved(ParentOrder("P2", "BTC/USDT", Side.BUY, 1_000, 6_000_000, Urgency.AGGRESSIVE, 0, MID_X2))
    assert check.hold_price == {"BTC/USDT": 7_000_000}                 # still working: the higher price holds
    assert check.held("USDT") == Decimal("700")


def test_an_order_toward_flat_leaves_the_worst_case_at_the_position_not_a_unit_beyond():
    m = market()                                                        # it may never fill: 3000 USDT either way
    assert m.exposures_quote(cand(1_000, position=-5_000)) == {"BTC/USDT": Decimal("-3000")}
    assert m.exposures_quote(cand(1_000, Side.SELL, position=5_000)) == {"BTC/USDT": Decimal("3000")}


def pearson_half() -> MidSampler:
    """BTC returns +1/4, -1/5, 0 and ETH 0, +1/4, -1/5: by hand (deviations from the mean 1/60: 14, -13, -1 and
    -1, 14, -13 sixtieths) rho = (-14 - 182 + 13) / (196 + 169 + 1) = -1/2."""
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=4)
    sampled(sampler, [{"BTC/USDT": 10_000, "ETH/USDT": 1_000}, {"BTC/USDT": 12_500, "ETH/USDT": 1_000},
                      {"BTC/USDT": 10_000, "ETH/USDT": 1_250}, {"BTC/USDT": 10_000, "ETH/USDT": 1_000}])
    return sampler


def test_correlation_is_centred_on_the_means_and_weights_the_pair_by_it():
    m = market(ETH=(20_000, 0, 0))                                     # long 600 USDT of ETH
    check = CorrelatedExposure(Decimal("1039.24"), 3, pearson_half(), m)
    assert abs(check.correlation("BTC/USDT", "ETH/USDT") + Decimal("0.5")) < Decimal("1e-20")
    # buying 1200 USDT of BTC: 1200² + 600² - 1200·600 = 1080000, its root 1039.2305
    assert check(cand(2_000)) is None
    assert CorrelatedExposure(Decimal("1039.23"), 3, pearson_half(), m)(cand(2_000)) == (
        "correlated_exposure", "correlation-weighted exposure 1039.23 beyond 1039.23")


def test_a_pair_one_side_of_which_never_moved_is_unmeasured_and_a_measure_follows_new_samples():
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=3)
    check = CorrelatedExposure(Decimal("1"), 2, sampler, market())
    assert check.correlation("BTC/USDT", "ETH/USDT") is None           # nothing sampled yet
    sampled(sampler, [{"BTC/USDT": 10_000, "ETH/USDT": 3_000}, {"BTC/USDT": 10_010, "ETH/USDT": 3_000},
                      {"BTC/USDT": 10_010, "ETH/USDT": 3_000}])
    assert check.correlation("BTC/USDT", "ETH/USDT") is None           # ETH never moved
    sampled(sampler, [{"BTC/USDT": 10_020, "ETH/USDT": 3_003}], start=3)
    assert check.correlation("BTC/USDT", "ETH/USDT") == 1


def test_an_order_leaving_the_correlated_exposure_exactly_where_it_was_passes_beyond_the_limit():
    m = market(BTC=(0, 0, 3_000))                                      # could be short 1800 USDT
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=3)
    check = CorrelatedExposure(Decimal("100"), 2, sampler, m)
    assert check(cand(1_000, open_sell=3_000)) is None                 # worst case still the short 1800
    assert rule(check(cand(3_001, open_sell=3_000))) == "correlated_exposure"


def lossy(cooldown: LossCooldown, price_out: int, ts: int, fee: str = "0", fee_asset: str = "USDT") -> None:
    """A long round trip of 1 BTC-unit lot (100000) bought at 10000 and sold at `price_out`."""
    cooldown.on_fill(fill(Side.BUY, 100_000, 10_000, ts=ts))
    cooldown.on_fill(Fill("c", "P", "binance", "BTC/USDT", Side.SELL, 100_000, price_out, Decimal(fee), fee_asset,
                          Liquidity.TAKER, ts, 0))


def test_a_round_trip_counts_as_a_loss_only_below_even_net_of_quote_fees():
    cooldown = LossCooldown(1, 1_000, INSTRUMENTS)
    lossy(cooldown, 10_000, 1)                                         # even: no loss
    lossy(cooldown, 10_001, 2)                                         # won 0.01: no loss
    lossy(cooldown, 10_000, 3, fee="0.5", fee_asset="BNB")             # a fee not in the quote is not counted
    assert cooldown.losses == 0 and cooldown.until_ns == 0
    lossy(cooldown, 9_999, 4)
    assert cooldown.until_ns == 1_004


def test_the_count_starts_again_after_a_cooldown_and_a_win_resets_it():
    cooldown = LossCooldown(2, 1_000, INSTRUMENTS)
    lossy(cooldown, 9_999, 1)
    lossy(cooldown, 9_999, 2)
    assert (cooldown.until_ns, cooldown.losses) == (1_002, 0)
    lossy(cooldown, 9_999, 3)
    assert (cooldown.until_ns, cooldown.losses) == (1_002, 1)          # one loss: no new cooldown yet
    lossy(cooldown, 10_002, 4)
    assert cooldown.losses == 0


def test_adding_to_a_position_closes_nothing_and_a_one_unit_flip_closes_the_trip():
    cooldown = LossCooldown(1, 1_000, INSTRUMENTS)
    cooldown.on_fill(fill(Side.BUY, 100_000, 10_000, ts=1))
    cooldown.on_fill(fill(Side.BUY, 100_000, 10_001, ts=2))            # adds: no round trip yet
    assert cooldown.until_ns == 0 and cooldown.losses == 0
    cooldown.on_fill(fill(Side.SELL, 200_001, 9_000, ts=3))            # to short 1: closes at a loss
    assert cooldown.until_ns == 1_003
    flip = LossCooldown(1, 1_000, INSTRUMENTS)
    flip.on_fill(fill(Side.SELL, 1, 10_000, ts=1))
    flip.on_fill(fill(Side.BUY, 2, 20_000, ts=2))                      # short 1 to long 1: a losing trip closed
    assert flip.until_ns == 1_002
    flip = LossCooldown(1, 1_000, INSTRUMENTS)
    flip.on_fill(fill(Side.BUY, 1, 20_000, ts=1))
    flip.on_fill(fill(Side.SELL, 2, 10_000, ts=2))                     # long 1 to short 1
    assert flip.until_ns == 1_002


def test_the_gate_s_cooldown_follows_the_fills_it_is_sent_from_the_first_seq():
    checks = PreTradeChecks(CheckLimits(loss_streak=1, loss_cooldown_ns=1_000), market())
    checks.on_fill(fill(Side.BUY, 100_000, 10_000, ts=1), 1)
    checks.on_fill(fill(Side.SELL, 100_000, 9_999, ts=2), 2)
    assert rule(checks.refuse(cand(ts=1_001))) == "loss_cooldown"
    assert checks.refuse(cand(ts=1_002)) is None


def test_the_gate_samples_mids_from_its_views_keeping_enough_rows_for_the_longer_window():
    """Window 2 of one-second samples: a 1 % move, then a quiet spell across two boundaries (two rows of it)."""
    checks = PreTradeChecks(CheckLimits(max_volatility_bps=99, volatility_window=2, correlation_window=1), market())
    assert checks.watches_views
    for ts, bid in ((0, 10_000), (SECOND, 10_100), (3 * SECOND + SECOND // 2, 10_100)):
        checks.on_view(BookView("BTC/USDT", ts, 1, ((bid - 1, 1),), ((bid + 1, 1),)))
    assert rule(checks.refuse(cand())) == "volatility_halt"            # returns 1 %, 0: 100 bps


def test_the_gate_holds_both_rate_limits_when_both_are_set():
    checks = PreTradeChecks(CheckLimits(max_orders_per_venue=5, max_orders_total=1), market())
    checks.on_approved(ParentOrder("P1", "BTC/USDT", Side.BUY, 1, 1, Urgency.AGGRESSIVE, 10, 0), "binance")
    assert rule(checks.refuse(cand(ts=20, inst=ETH))) == "order_rate_total"


def test_the_gate_s_correlated_exposure_measures_over_its_own_window():
    checks = PreTradeChecks(CheckLimits(max_correlated_exposure=Decimal("1039.24"), correlation_window=3,
                                        sample_ns=SECOND), market(ETH=(20_000, 0, 0)))
    mids = [(10_000, 1_000), (12_500, 1_000), (10_000, 1_250), (10_000, 1_000), (10_000, 1_000)]
    for k, (btc, eth) in enumerate(mids):
        for symbol, mid in (("BTC/USDT", btc), ("ETH/USDT", eth)):
            checks.on_view(BookView(symbol, k * SECOND, 1, ((mid - 1, 1),), ((mid + 1, 1),)))
    assert checks.refuse(cand(2_000)) is None
    assert rule(checks.refuse(cand(2_001))) == "correlated_exposure"


def test_the_figures_do_not_depend_on_the_caller_s_decimal_context():
    """A return of 100.00001 bps squares to 10000.0020000001 bps², beyond 100²; six digits would round it to the
    limit exactly. The correlation likewise comes out the same to the last digit."""
    sampler = MidSampler(["BTC/USDT", "ETH/USDT"], 1_000 * MS, keep=2)
    sampled(sampler, [{"BTC/USDT": 1_000_000_000}, {"BTC/USDT": 1_010_000_001}])
    order = cand()
    rho = CorrelatedExposure(Decimal(1), 3, pearson_half(), market()).correlation("BTC/USDT", "ETH/USDT")
    with localcontext(Context(prec=6)):
        assert rule(VolatilityHalt(100, 1, sampler)(order)) == "volatility_halt"
        assert CorrelatedExposure(Decimal(1), 3, pearson_half(), market()).correlation("BTC/USDT", "ETH/USDT") == rho
