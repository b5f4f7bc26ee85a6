"""The kill switch's transitions, each trigger by hand: what trips it, from which mode, what each trip asks for, and
that only RESUME leaves HALTED (no timer: nothing but a command moves it back)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engine.messages import (DataQualityAlarm, FailureClass, OperatorAction, OperatorCommand, PortfolioView,
                             ReconcileFinding, RequestFailed, RequestKind, TradingMode)
from engine.model.kill_switch import KillSwitch, KillSwitchLimits

S = 1_000_000_000
HALTED, REDUCING, ACTIVE = TradingMode.HALTED, TradingMode.REDUCING, TradingMode.ACTIVE


def view(ts: int, equity: str, peak: str = "1000", day_start: str = "1000") -> PortfolioView:
    return PortfolioView(ts, Decimal(equity), Decimal(peak), Decimal(day_start), Decimal(0))


def command(action: str, ts: int = 1) -> OperatorCommand:
    return OperatorCommand(OperatorAction(action), ts, "test")


def failed(ts: int) -> RequestFailed:
    return RequestFailed("binance", "BTC/USDT", f"c{ts}", RequestKind.NEW, FailureClass.UNKNOWN, ts, "503")


def test_drawdown_trips_just_beyond_the_limit_and_halts_with_a_cancel_of_everything():
    switch = KillSwitch(KillSwitchLimits(max_drawdown=Decimal(100)))
    assert switch.on_portfolio(view(1, "900")).state is None            # exactly at the limit: not beyond it
    outcome = switch.on_portfolio(view(2, "899.99"))
    assert outcome.state.mode is HALTED and outcome.cancel_all
    assert outcome.state.cause == "max_drawdown: 100.01000000 from a peak of 1000.00000000, beyond 100"
    assert switch.trips == [outcome.state] and switch.mode is HALTED


def test_daily_loss_counts_from_the_day_s_start_not_the_peak():
    switch = KillSwitch(KillSwitchLimits(max_daily_loss=Decimal(50)))
    assert switch.on_portfolio(view(1, "960", peak="2000", day_start="1000")).state is None  # 40 lost today
    outcome = switch.on_portfolio(view(2, "949", peak="2000", day_start="1000"))
    assert outcome.state.mode is HALTED and outcome.state.cause.startswith("max_daily_loss: 51.00000000")


def test_venue_errors_trip_at_n_within_the_window_of_market_time():
    switch = KillSwitch(KillSwitchLimits(venue_errors=3, venue_error_window_ns=10 * S))
    assert switch.on_request_failed(failed(0), 0).state is None
    assert switch.on_request_failed(failed(5 * S), 5 * S).state is None
    assert switch.on_request_failed(failed(10 * S), 10 * S).state is None   # the first fell out of the window
    outcome = switch.on_request_failed(failed(12 * S), 12 * S)
    assert outcome.state.mode is HALTED and outcome.state.cause.startswith("venue_errors: 3 failed requests")


def test_a_reconciliation_finding_trips_only_when_named():
    switch = KillSwitch(KillSwitchLimits(reconcile_findings=frozenset({"missed_fill"})))
    assert switch.on_finding(ReconcileFinding("BTC/USDT", "c1", 1, "state_corrected")).state is None
    outcome = switch.on_finding(ReconcileFinding("BTC/USDT", "c1", 2, "missed_fill", "trade 7"))
    assert outcome.state.mode is HALTED and outcome.state.cause.startswith("position_mismatch: missed_fill")


def test_a_data_quality_alarm_trips_only_for_the_kinds_named():
    switch = KillSwitch(KillSwitchLimits(data_quality=frozenset({"crossed_book"})))
    assert switch.on_alarm(DataQualityAlarm("BTC/USDT", 1, "abnormal_spread", "40 bps")).state is None
    outcome = switch.on_alarm(DataQualityAlarm("BTC/USDT", 2, "crossed_book", "bid 101 > ask 100"))
    assert outcome.state.mode is HALTED and outcome.state.cause == "data_quality: crossed_book on BTC/USDT " \
                                                                    "(bid 101 > ask 100)"


def test_triggers_that_are_not_set_never_trip():
    switch = KillSwitch(KillSwitchLimits())
    assert switch.on_portfolio(view(1, "1")).state is None
    assert switch.on_request_failed(failed(1), 1).state is None
    assert switch.on_finding(ReconcileFinding("BTC/USDT", "c1", 1, "missed_fill")).state is None
    assert switch.on_alarm(DataQualityAlarm("BTC/USDT", 1, "crossed_book", "")).state is None
    assert switch.mode is ACTIVE and switch.trips == []


def test_only_resume_leaves_halted_and_nothing_else_does():
    switch = KillSwitch(KillSwitchLimits(max_drawdown=Decimal(100)))
    switch.on_command(command("halt"))
    assert switch.mode is HALTED
    for action in ("reduce", "flatten", "halt"):
        outcome = switch.on_command(command(action))
        assert outcome.state is None and outcome.refused and not outcome.flatten
    assert switch.on_portfolio(view(10 ** 6 * S, "2000", peak="2000")).state is None   # recovered, much later
    assert switch.mode is HALTED                                                        # still halted: no timer
    outcome = switch.on_command(command("resume", 5))
    assert outcome.state.mode is ACTIVE and outcome.state.cause == "operator:resume" and not outcome.cancel_all
    assert switch.on_command(command("resume")).refused == "already active"


def test_resume_re_arms_the_loss_limits_from_the_equity_then():
    switch = KillSwitch(KillSwitchLimits(max_drawdown=Decimal(100)))
    switch.on_portfolio(view(1, "850"))                       # 150 down: halted
    assert switch.mode is HALTED
    switch.on_command(command("resume"))
    assert switch.on_portfolio(view(3, "800")).state is None  # 50 below the equity at the resume
    assert switch.on_portfolio(view(4, "749")).state.mode is HALTED


def test_reduce_and_flatten_go_reducing_without_cancelling_and_limits_wait_while_reducing():
    switch = KillSwitch(KillSwitchLimits(max_drawdown=Decimal(100), data_quality=frozenset({"price_jump"})))
    outcome = switch.on_command(command("flatten"))
    assert outcome.state.mode is REDUCING and outcome.flatten and not outcome.cancel_all
    assert switch.on_portfolio(view(2, "1")).state is None    # already getting out: a loss does not halt it
    assert switch.on_command(command("reduce")).refused == "already reducing"
    assert switch.on_command(command("flatten")).flatten      # flatten again while reducing: signals again
    outcome = switch.on_alarm(DataQualityAlarm("BTC/USDT", 3, "price_jump", ""))
    assert outcome.state.mode is HALTED and outcome.cancel_all


@pytest.mark.parametrize("mode_action", [None, "reduce", "halt"])
def test_cancel_all_cancels_and_leaves_the_mode_as_it_was(mode_action):
    switch = KillSwitch(KillSwitchLimits())
    if mode_action:
        switch.on_command(command(mode_action))
    before = switch.mode
    outcome = switch.on_command(command("cancel_all"))
    assert outcome.cancel_all and outcome.state is None and switch.mode is before


def test_a_restarted_switch_takes_back_its_mode():
    first = KillSwitch(KillSwitchLimits())
    changes = [first.on_command(command("halt")).state]
    again = KillSwitch(KillSwitchLimits())
    again.restore(changes)
    assert again.mode is HALTED and again.trips == changes


def test_each_trip_carries_the_market_time_of_what_tripped_it():
    limits = KillSwitchLimits(max_drawdown=Decimal(100), max_daily_loss=Decimal(50), venue_errors=1,
                              reconcile_findings=frozenset({"missed_fill"}), data_quality=frozenset({"crossed_book"}))
    trips = []
    for trip in (lambda s: s.on_portfolio(view(11, "850")),                       # drawdown 150
                 lambda s: s.on_portfolio(view(12, "940", peak="940")),           # daily loss 60
                 lambda s: s.on_request_failed(failed(13), 13),
                 lambda s: s.on_finding(ReconcileFinding("BTC/USDT", "c1", 14, "missed_fill")),
                 lambda s: s.on_alarm(DataQualityAlarm("BTC/USDT", 15, "crossed_book", "")),
                 lambda s: s.on_command(command("halt", 16)),
                 lambda s: s.on_command(command("reduce", 17))):
        trips.append(trip(KillSwitch(limits)).state)
    assert [t.ts_ns for t in trips] == [11, 12, 13, 14, 15, 16, 17]
    assert [t.cause for t in trips[-2:]] == ["operator:halt", "operator:reduce"]
    switch = KillSwitch(limits)
    switch.on_command(command("halt"))
    assert switch.on_command(command("resume", 18)).state.ts_ns == 18


def test_an_operator_s_reason_is_part_of_the_cause():
    switch = KillSwitch(KillSwitchLimits())
    outcome = switch.on_command(OperatorCommand(OperatorAction.HALT, 3, "http", "runaway fills"))
    assert outcome.state.cause == "operator:halt (runaway fills)"


def test_venue_errors_name_the_window_in_milliseconds_and_the_last_failure():
    switch = KillSwitch(KillSwitchLimits(venue_errors=2))          # the default window: 60 s
    switch.on_request_failed(failed(1), 1)
    outcome = switch.on_request_failed(failed(2), 2)
    assert outcome.state.cause == "venue_errors: 2 failed requests within 60000 ms (last: new c2 on binance, " \
                                  "unknown: 503)"


def test_a_daily_loss_exactly_at_the_limit_does_not_trip():
    switch = KillSwitch(KillSwitchLimits(max_daily_loss=Decimal(50)))
    assert switch.on_portfolio(view(1, "950", peak="2000")).state is None
    assert switch.on_portfolio(view(2, "949.99", peak="2000")).state.mode is HALTED


def test_after_a_resume_the_daily_loss_counts_from_the_resume_until_the_next_day_starts():
    switch = KillSwitch(KillSwitchLimits(max_daily_loss=Decimal(50)))
    switch.on_portfolio(view(1, "940", peak="2000"))                  # 60 lost today: halted
    switch.on_command(command("resume", 2))
    # the same day: 10 below the equity at the resume (940), though 70 below the day's start (1000)
    assert switch.on_portfolio(view(3, "930", peak="2000")).state is None
    assert switch.mode is ACTIVE
    # the next day starts at 1200: its loss counts from there, no longer from the resume
    outcome = switch.on_portfolio(view(4, "1140", peak="2000", day_start="1200"))
    assert outcome.state.mode is HALTED and outcome.state.cause.startswith("max_daily_loss: 60.00000000 since 1200")


def test_a_resume_before_any_valuation_leaves_the_limits_on_the_portfolio_s_own_figures():
    switch = KillSwitch(KillSwitchLimits(max_drawdown=Decimal(100)))
    switch.on_command(command("halt"))
    switch.on_command(command("resume"))
    assert switch.on_portfolio(view(2, "850")).state.mode is HALTED   # 150 below the portfolio's peak of 1000


def test_refusals_say_why():
    switch = KillSwitch(KillSwitchLimits())
    switch.on_command(command("reduce"))
    assert switch.on_command(command("reduce")).refused == "already reducing"
    flatten = switch.on_command(command("flatten"))
    assert flatten.flatten and flatten.refused == "" and flatten.state is None
    switch.on_command(command("halt"))
    assert switch.on_command(command("halt")).refused == "already halted"
    assert switch.on_command(command("flatten")).refused == "halted: only resume leaves a halt"
