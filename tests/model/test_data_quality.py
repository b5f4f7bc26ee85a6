"""The data-quality checks on hand-made touches and clocks, each at its threshold (no finding) and one beyond."""
from __future__ import annotations

import json

import pytest

from engine.messages import DataQualityAlarm
from engine.model.data_quality import (ABNORMAL_SPREAD, CROSSED_BOOK, KINDS, PRICE_JUMP, SILENT_FEED,
                                       DataQualityLimits, DataQualityMonitor)

S = "BTC/USDT"


def monitor(**limits) -> DataQualityMonitor:
    return DataQualityMonitor([S], DataQualityLimits(**limits))


def counts(quality: DataQualityMonitor) -> dict[str, int]:
    return {kind: n for kind, n in quality.as_dict()["by_instrument"][S]["counts"].items() if n}


# ---------------------------------------------------------------- spread

def test_a_spread_exactly_at_the_limit_is_normal_and_one_tick_wider_is_abnormal():
    quality = monitor(max_spread_bps=200)
    assert not quality.touch(S, 1, 9_900, 10_100)          # 200 over a mid of 10 000: exactly 200 bps
    assert counts(quality) == {}
    [alarm] = quality.touch(S, 2, 9_900, 10_101)             # 201 over 10 000.5: just above 200 bps
    assert (alarm.kind, alarm.ts_ns) == (ABNORMAL_SPREAD, 2)
    assert alarm.detail == "spread 201 is 200.98 bps of the mid (bid 9900, ask 10101)"
    assert counts(quality) == {ABNORMAL_SPREAD: 1}



def test_the_alarms_write_prices_in_the_instrument_s_decimals_and_a_half_tick_mid_exactly():
    quality = DataQualityMonitor([S], DataQualityLimits(max_spread_bps=200, alarm_every_ns=1), {S: 2})
    [wide] = quality.touch(S, 1, 9_900, 10_101)
    assert wide.detail == "spread 2.01 is 200.98 bps of the mid (bid 99.00, ask 101.01)"
    [crossed] = quality.touch(S, 2, 10_001, 10_000)
    assert crossed.detail == "bid 100.01 >= ask 100.00"
    assert quality.crossed_top(S, 3, 10_000, 9_999).detail == "the venue's top of book is crossed: bid 100.00 >= ask 99.99"


# ---------------------------------------------------------------- crossed

def test_a_touch_one_tick_apart_is_not_crossed_and_a_locked_or_crossed_one_is():
    quality = monitor()
    assert not quality.touch(S, 1, 9_999, 10_000)
    [locked] = quality.touch(S, 2, 10_000, 10_000)
    assert (locked.kind, locked.detail) == (CROSSED_BOOK, "bid 10000 >= ask 10000")
    assert not quality.touch(S, 3, 10_001, 10_000)         # counted, but within the alarm interval
    assert counts(quality) == {CROSSED_BOOK: 2}


def test_a_crossed_touch_is_no_mid_to_measure_the_next_move_from():
    quality = monitor(jump_window=2, jump_sigmas=1, jump_min_bps=0)
    for ts, (bid, ask) in enumerate([(4_999, 5_001), (5_000, 5_002), (4_999, 5_001), (6_000, 5_000),
                                     (9_000, 9_002)]):
        quality.touch(S, ts, bid, ask)
    assert counts(quality) == {CROSSED_BOOK: 1}


# ---------------------------------------------------------------- jump

WARM_UP = [(4_999, 5_001), (5_000, 5_002), (4_999, 5_001), (5_000, 5_002), (4_999, 5_001)]
"""Twice the mid: 10 000, then moves +2, -2, +2, -2: a mean of 0 and a standard deviation of 2."""


def warmed(**limits) -> DataQualityMonitor:
    quality = monitor(jump_window=4, **limits)
    for ts, (bid, ask) in enumerate(WARM_UP):
        assert not quality.touch(S, ts, bid, ask)
    return quality


def test_a_move_exactly_at_the_sigmas_is_no_jump_and_one_beyond_is():
    at = warmed(jump_sigmas=2, jump_min_bps=0)
    assert not at.touch(S, 10, 5_001, 5_003)               # +4: exactly 2 standard deviations
    beyond = warmed(jump_sigmas=2, jump_min_bps=0)
    [alarm] = beyond.touch(S, 10, 5_001, 5_004)              # +5
    assert alarm.kind == PRICE_JUMP and alarm.ts_ns == 10
    assert alarm.detail.startswith("mid moved 5.00 bps (from 5000 to 5002.5)")


def test_a_move_beyond_the_sigmas_is_no_jump_unless_it_also_passes_the_floor():
    at_floor = warmed(jump_sigmas=2, jump_min_bps=5)
    assert not at_floor.touch(S, 10, 5_001, 5_004)         # +5 of 10 000: exactly 5 bps
    beyond = warmed(jump_sigmas=2, jump_min_bps=4)
    assert [a.kind for a in beyond.touch(S, 10, 5_001, 5_004)] == [PRICE_JUMP]


def test_no_jump_is_judged_before_the_window_is_full_and_a_move_across_an_outage_is_none():
    quality = monitor(jump_window=4, jump_sigmas=1, jump_min_bps=0)
    for ts, (bid, ask) in enumerate(WARM_UP[:4]):
        quality.touch(S, ts, bid, ask)
    assert not quality.touch(S, 5, 6_000, 6_002)           # three moves known: the window is not full
    full = warmed(jump_sigmas=1, jump_min_bps=0)
    full.book_down(S)
    assert not full.touch(S, 10, 9_000, 9_002)             # the first touch after the outage
    assert [a.kind for a in full.touch(S, 11, 12_000, 12_002)] == [PRICE_JUMP]


def test_the_window_slides_so_a_new_regime_stops_being_a_jump():
    quality = warmed(jump_sigmas=3, jump_min_bps=0)
    mids = [(5_000 + 50 * i, 5_002 + 50 * i) for i in range(1, 8)]   # a steady climb of 100 a move
    kinds = [[a.kind for a in quality.touch(S, 10 + i, bid, ask)] for i, (bid, ask) in enumerate(mids)]
    assert kinds[0] == [PRICE_JUMP] and kinds[-1] == []


# ---------------------------------------------------------------- silence

def silence_monitor(newest: int) -> DataQualityMonitor:
    quality = monitor(silent_after_ns=10)
    assert quality.arm(90) == 105                             # first when silence could be, then every half limit
    quality.newest_ts[S] = newest
    assert quality.silent(105) == ([], 110)
    return quality


def test_a_feed_silent_exactly_its_limit_is_not_silent_and_one_ns_more_is():
    assert silence_monitor(newest=100).silent(110) == ([], 115)
    alarms, next_due = silence_monitor(newest=99).silent(110)
    assert [(a.kind, a.ts_ns, a.detail) for a in alarms] == [(SILENT_FEED, 110, "no event for 0 ms (limit 0 ms)")]
    assert next_due is None                                   # every instrument silent: no timer until data


def test_a_silence_is_reported_once_until_the_feed_speaks_again():
    quality = DataQualityMonitor(["A", "B"], DataQualityLimits(silent_after_ns=10, alarm_every_ns=1))
    quality.arm(90)
    quality.newest_ts.update(A=100, B=100)
    assert quality.silent(105)[1] == 110
    quality.newest_ts["B"] = 110
    assert quality.silent(110) == ([], 115)
    alarms, due = quality.silent(115)
    assert [a.instrument for a in alarms] == ["A"] and due == 120
    assert quality.silent(120) == ([], 125)              # A already reported; B heard 10 ns ago
    quality.newest_ts["A"] = 121                              # A speaks again
    assert [a.instrument for a in quality.silent(125)[0]] == ["B"]
    assert quality.silent(130) == ([], 135)
    assert [a.instrument for a in quality.silent(135)[0]] == ["A"]
    assert quality.as_dict()["counts"][SILENT_FEED] == 3


def test_an_instrument_never_heard_is_silent_from_the_first_event_and_a_stale_timer_is_ignored():
    quality = monitor(silent_after_ns=10)
    assert quality.arm(1_000) == 1_015                        # the first check that could find a silence
    assert quality.arm(1_003) is None                         # one check is due already
    assert quality.silent(999) == ([], None)                  # a timer of an earlier incarnation
    [alarm] = quality.silent(1_015)[0]                        # never heard in the 15 ns since the first event
    assert alarm.kind == SILENT_FEED and alarm.ts_ns == 1_015 and quality.timer_due is None
    assert quality.arm(2_001) == 2_015                        # all silent: the next batch starts the checks again


def test_a_restarted_book_asks_again_for_a_check_its_crashed_predecessor_may_have_lost():
    quality = monitor(silent_after_ns=10)
    quality.arm(990)
    assert quality.rearm(1_004) is None                       # the check due at 1 005 is still to come
    assert quality.rearm(1_007) == 1_010                      # due at 1 005 and not handled: asked again
    assert quality.silent(1_005) == ([], None)                # the old timer, if it comes after all


def test_silence_is_never_checked_with_a_limit_of_0():
    assert monitor(silent_after_ns=0).arm(1_000) is None


# ---------------------------------------------------------------- alarms and the report

def test_alarms_are_rate_limited_per_instrument_and_kind_while_every_finding_is_counted():
    quality = DataQualityMonitor(["A", "B"], DataQualityLimits(alarm_every_ns=100, examples=2))
    assert isinstance(quality.found("A", SILENT_FEED, 1_000, "x"), DataQualityAlarm)
    assert quality.found("A", SILENT_FEED, 1_099, "y") is None   # within the interval: held back
    assert quality.found("A", CROSSED_BOOK, 1_099, "z") is not None   # another kind
    assert quality.found("B", SILENT_FEED, 1_099, "w") is not None    # another instrument
    assert quality.found("A", SILENT_FEED, 1_100, "v") is not None    # exactly one interval later
    report = quality.as_dict()
    a = report["by_instrument"]["A"]
    assert a["counts"][SILENT_FEED] == 3 and (a["alarms"], a["alarms_held_back"]) == (3, 1)
    assert a["examples"] == {CROSSED_BOOK: [{"ts_ns": 1_099, "detail": "z"}],
                             SILENT_FEED: [{"ts_ns": 1_000, "detail": "x"}, {"ts_ns": 1_099, "detail": "y"}]}
    assert report["counts"] == {**dict.fromkeys(KINDS, 0), SILENT_FEED: 4, CROSSED_BOOK: 1}
    assert (report["alarms"], report["alarms_held_back"]) == (4, 1)
    assert list(report["counts"]) == list(KINDS)


@pytest.mark.parametrize("limits", [DataQualityLimits(), DataQualityLimits(max_spread_bps=1, jump_sigmas=1)])
def test_the_report_echoes_its_limits(limits):
    echoed = DataQualityMonitor([S], limits).as_dict()["limits"]
    assert echoed["max_spread_bps"] == limits.max_spread_bps and echoed["jump_sigmas"] == limits.jump_sigmas
    assert echoed["silent_after_ms"] == limits.silent_after_ns // 1_000_000


# ---------------------------------------------------------------- what the book actor reports

def test_the_suspect_events_the_book_actor_finds_are_counted_by_kind_with_their_detail():
    quality = monitor(alarm_every_ns=1)
    quality.newest_ts[S] = 1_500
    found = [quality.time_backwards(S, 1_200), quality.duplicate(S, 1_501, "trade", 7, 9),
             quality.crossed_update(S, 1_502), quality.crossed_top(S, 1_503, 101, 100)]
    assert [(a.instrument, a.ts_ns, a.kind, a.detail) for a in found] == [
        (S, 1_200, "time_backwards", "event at 1200 ns is 300 ns older than the newest at 1500 ns"),
        (S, 1_501, "duplicate", "trade id 7 already seen (newest 9)"),
        (S, 1_502, "crossed_book", "an update would cross the book: dropped and resynced"),
        (S, 1_503, "crossed_book", "the venue's top of book is crossed: bid 101 >= ask 100")]
    assert counts(quality) == {"time_backwards": 1, "duplicate": 1, "crossed_book": 2}


def test_a_snapshot_starts_the_diff_ids_afresh_and_leaves_the_others():
    quality = DataQualityMonitor(["A", "B"])
    fresh = {"A": -1, "B": -1}                     # no id seen: any id (from 0) is new
    assert quality.diff_ids == quality.top_ids == quality.trade_ids == fresh
    assert quality.newest_ts == {"A": 0, "B": 0}   # no event seen
    quality.diff_ids.update(A=500, B=600)
    quality.top_ids["A"], quality.trade_ids["A"] = 70, 80
    quality.snapshot("A")
    assert quality.diff_ids == {"A": -1, "B": 600}
    assert (quality.top_ids["A"], quality.trade_ids["A"]) == (70, 80)


# ---------------------------------------------------------------- jump, more exactly

def to(mid_x2: int) -> tuple[int, int]:
    """A touch two (or three) ticks wide around twice the mid `mid_x2`."""
    bid = mid_x2 // 2 - 1
    return bid, mid_x2 - bid


def moved(*moves: int, **limits) -> DataQualityMonitor:
    """`warmed` (moves +2, -2, +2, -2 from twice the mid 10 000), then `moves`, any alarm let through."""
    quality = warmed(alarm_every_ns=1, **limits)
    mid_x2 = 10_000
    for ts, move in enumerate(moves, 10):
        mid_x2 += move
        quality.touch(S, ts, *to(mid_x2))
    return quality


def jumps(moves: tuple[int, ...], move: int, **limits) -> bool:
    """Whether `move` is a jump after `moved(*moves)`."""
    mid_x2 = 10_000 + sum(moves) + move
    return [a.kind for a in moved(*moves, **limits).touch(S, 100, *to(mid_x2))] == [PRICE_JUMP]


def test_a_fall_is_judged_like_a_rise():
    assert not jumps((), -4, jump_sigmas=2, jump_min_bps=0)          # exactly 2 standard deviations down
    [alarm] = moved(jump_sigmas=2, jump_min_bps=0).touch(S, 10, *to(9_995))
    assert alarm.detail.startswith("mid moved -5.00 bps (from 5000 to 4997.5)")
    assert not jumps((), -5, jump_sigmas=2, jump_min_bps=5)          # -5 of 10 000: at the floor of 5 bps
    assert jumps((), -5, jump_sigmas=2, jump_min_bps=4)


def test_the_sigmas_are_squared_not_doubled():
    # 3 standard deviations of 2: a move of 6 is at the limit, 7 beyond it
    assert not jumps((), 6, jump_sigmas=3, jump_min_bps=0)
    assert jumps((), 7, jump_sigmas=3, jump_min_bps=0)


def test_after_the_window_slides_its_mean_and_deviation_are_those_of_the_moves_in_it():
    # +6 then +2 push out the first +2 and -2: the window is +2, -2, +6, +2: mean 2, variance 48/4 - 2^2 = 8;
    # 2 standard deviations: |move - 2| > 2 sqrt 8 = 5.66
    for move, jump in ((7, False), (8, True), (-3, False), (-4, True)):
        assert jumps((6, 2), move, jump_sigmas=2, jump_min_bps=0) is jump, move
    # -4 next pushes out the second +2: the window is -2, +6, +2, -4: mean 0.5, variance 60/4 - 0.25 = 14.75;
    # 1 standard deviation: |move - 0.5| > 3.84
    for move, jump in ((4, False), (5, True), (-3, False), (-4, True)):
        assert jumps((6, 2, -4), move, jump_sigmas=1, jump_min_bps=0) is jump, move


def test_on_a_steady_climb_the_usual_step_is_no_jump_and_one_tick_more_is():
    # four moves of +2 while the window fills: mean 2, no deviation at all
    climb = [(4_999 + i, 5_001 + i) for i in range(5)]
    for move, jump in ((2, False), (3, True), (1, True)):
        quality = monitor(jump_window=4, jump_sigmas=2, jump_min_bps=0)
        for ts, (bid, ask) in enumerate(climb):
            assert not quality.touch(S, ts, bid, ask)
        assert bool(quality.touch(S, 10, 5_003, 5_005 + move)) is jump, move


def test_a_move_of_one_tick_on_a_still_market_is_a_jump_in_truncated_hundredths_of_a_bps():
    quality = monitor(jump_window=4, jump_sigmas=1, jump_min_bps=0)
    for ts, (bid, ask) in enumerate([(4_950, 4_951), (4_949, 4_952)] * 2 + [(4_950, 4_951)]):
        assert not quality.touch(S, ts, bid, ask)        # twice the mid 9 901 throughout: four moves of 0
    [alarm] = quality.touch(S, 10, 4_950, 4_952)
    # 1 of 9 901 is 1.00999.. bps: truncated, 1.00
    assert alarm.detail.startswith("mid moved 1.00 bps (from 4950.5 to 4951)")


# ---------------------------------------------------------------- silence and alarms, more exactly

def test_silence_is_told_in_whole_milliseconds_from_the_first_event_when_never_heard():
    quality = monitor(silent_after_ns=10_000_000_000)
    assert quality.arm(10_000_000_000) == 25_000_000_000
    [alarm] = quality.silent(25_000_000_000)[0]
    assert alarm.detail == "no event for 15000 ms (limit 10000 ms)"


def test_an_instrument_last_heard_at_1_ns_is_reported_silent():
    quality = monitor(silent_after_ns=10)
    assert quality.arm(1) == 15
    quality.newest_ts[S] = 1
    assert [a.detail for a in quality.silent(15)[0]] == ["no event for 0 ms (limit 0 ms)"]


def test_a_restarted_book_asks_again_for_a_check_due_exactly_now():
    quality = monitor(silent_after_ns=10)
    quality.arm(990)
    assert quality.rearm(1_005) == 1_010


def test_every_alarm_held_back_is_counted():
    quality = monitor(alarm_every_ns=100)
    for ts in (1_000, 1_001, 1_002):
        quality.found(S, SILENT_FEED, ts, "")
    assert quality.as_dict()["by_instrument"][S]["alarms_held_back"] == 2


def test_the_report_echoes_every_limit_in_whole_milliseconds():
    limits = DataQualityLimits(max_spread_bps=150, jump_sigmas=9, jump_window=50, jump_min_bps=25,
                               silent_after_ns=20_000_000_000, alarm_every_ns=45_000_000_000)
    assert json.dumps(DataQualityMonitor([S], limits).as_dict()["limits"]) == (
        '{"max_spread_bps": 150, "jump_sigmas": 9, "jump_window": 50, "jump_min_bps": 25, '
        '"silent_after_ms": 20000, "alarm_every_ms": 45000}')
