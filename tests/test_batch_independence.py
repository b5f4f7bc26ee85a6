"""No result may depend on how the replay batches events: `[feed] batch_ms` is a performance setting only.

Each scenario is replayed at windows of 1, 50 and 500 ms; the reports must be the same bytes outside their
`runtime` section (batches, conflations, views published: the one section allowed to differ). The quickstart
and the recorded Binance spot day look at the market every 500 ms of market time; the event-driven variants
(a strategy on every book change, one on every trade resting passive orders at the venue) show that deciding
inside a window is exact too, since the session bounds the window by the order latency.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
import trio

from engine.app import scenario as scenario_file
from engine.app import session
from engine.runtime import VirtualClock
from engine.strategies.cadence import parse_cadence

ROOT = Path(__file__).resolve().parents[1]
SPOT_CAPTURE = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "spot" / "btcusdt_20240808.gz"
WINDOWS_MS = (500, 50, 1)


def variant(base: scenario_file.Scenario, batch_ms: int, **strategy) -> scenario_file.Scenario:
    feed = dataclasses.replace(base.feed, batch_ns=batch_ms * 1_000_000)
    strategies = tuple(dataclasses.replace(spec, **strategy) for spec in base.strategies)
    return dataclasses.replace(base, feed=feed, strategies=strategies)


def reports_at_each_window(base: scenario_file.Scenario, tmp_path: Path, **strategy) -> list[dict]:
    reports = []
    for batch_ms in WINDOWS_MS:
        outcome = trio.run(session.run, variant(base, batch_ms, **strategy), tmp_path / f"{batch_ms}ms")
        reports.append(outcome.report)
    return reports


def assert_same_outside_runtime(reports: list[dict],
                                 runs: tuple[str, ...] = tuple(f"at batch_ms={ms}" for ms in WINDOWS_MS)) -> None:
    """The reports (of the `runs` named) are the same bytes outside their `runtime` sections."""
    results = [orjson.dumps({key: value for key, value in r.items() if key != "runtime"}) for r in reports]
    for run, result in zip(runs[1:], results[1:]):
        assert result == results[0], f"the report {run} differs from the one {runs[0]}"


def shortened(path: Path, duration_s: int) -> scenario_file.Scenario:
    base = scenario_file.load(path)
    return dataclasses.replace(base, feed=dataclasses.replace(base.feed, duration_s=duration_s))


def test_the_quickstart_gives_the_same_report_at_every_replay_window(tmp_path):
    reports = reports_at_each_window(scenario_file.load(ROOT / "scenarios" / "quickstart.toml"), tmp_path)
    assert_same_outside_runtime(reports)
    assert reports[0]["orders"] > 0 and reports[0]["fills"] > 0
    batches = [r["runtime"]["batches"] for r in reports]
    assert batches[0] < batches[1] < batches[2]   # the windows did batch differently


@pytest.mark.skipif(not SPOT_CAPTURE.is_file(), reason=f"recorded data not found at {SPOT_CAPTURE}")
def test_the_recorded_binance_spot_day_gives_the_same_report_at_every_replay_window(tmp_path):
    reports = reports_at_each_window(scenario_file.load(ROOT / "scenarios" / "binance_spot_recorded.toml"), tmp_path)
    assert_same_outside_runtime(reports)
    assert reports[0]["fills"] > 0 and reports[0]["events"] > 40_000
    assert reports[0]["runtime"]["batches"] < reports[2]["runtime"]["batches"]


def test_a_strategy_on_every_book_change_gives_the_same_report_at_every_replay_window(tmp_path):
    base = shortened(ROOT / "scenarios" / "quickstart.toml", 120)
    reports = reports_at_each_window(base, tmp_path, cadence=parse_cadence("book"))
    assert_same_outside_runtime(reports)
    assert reports[0]["orders"] > 0 and reports[0]["fills"] > 0
    latency_ms = base.venue.latency_ns / 1_000_000
    assert [r["runtime"]["decision_horizon_ms"] for r in reports] == [latency_ms] * 3   # batches end by then
    batches = [r["runtime"]["batches"] for r in reports]
    assert batches[0] < batches[1] < batches[2]   # the windows still batched differently


def test_passive_orders_filled_by_the_market_on_every_trade_give_the_same_report_at_every_replay_window(tmp_path):
    base = shortened(ROOT / "scenarios" / "quickstart.toml", 120)
    reports = reports_at_each_window(base, tmp_path, cadence=parse_cadence("trades"), urgency="passive")
    assert_same_outside_runtime(reports)
    assert reports[0]["orders_by_state"].get("filled", 0) > 0   # resting orders the venue filled from the tape


def test_two_recorded_instruments_give_the_same_report_at_every_replay_window(tmp_path):
    if not SPOT_CAPTURE.is_file():
        pytest.skip(f"recorded data not found at {SPOT_CAPTURE}")
    reports = reports_at_each_window(scenario_file.load(ROOT / "scenarios" / "two_instruments.toml"), tmp_path)
    assert_same_outside_runtime(reports)
    assert all(reports[0]["instruments"][symbol]["fills"] for symbol in ("BTC/USDT", "ETH/USDT"))


class _Passes(trio.abc.Instrument):
    """Counts trio's scheduler passes."""

    def __init__(self) -> None:
        self.passes = 0

    def before_io_wait(self, timeout: float) -> None:
        self.passes += 1


RIDING = ("with ticks riding", "with each tick on its own")


def _with_and_without_riders(base: scenario_file.Scenario, tmp_path: Path, monkeypatch) -> list[dict]:
    """The reports of `base` with its ticks riding with the batches before them, then with each tick delivered on its
    own (the driver takes no riders); each also asserts that riding saved trips through the scheduler."""
    riding, alone = _Passes(), _Passes()
    reports = [trio.run(session.run, base, tmp_path / "riding", instruments=[riding]).report]
    with monkeypatch.context() as patched:
        patched.setattr(VirtualClock, "take_riders", lambda self, before_ns: [])
        reports.append(trio.run(session.run, base, tmp_path / "alone", instruments=[alone]).report)
    assert riding.passes < alone.passes, (riding.passes, alone.passes)
    return reports


@pytest.mark.parametrize("scenario", ["quickstart", "crash_kill_switch"])
def test_ticks_riding_with_a_batch_change_no_result(scenario, tmp_path, monkeypatch):
    """A strategy's cadence ticks, and the ledger's valuations unless the kill switch acts on them, ride with the
    batch before them (no trip of their own through the pipeline): a performance matter only."""
    reports = _with_and_without_riders(shortened(ROOT / "scenarios" / f"{scenario}.toml", 120), tmp_path, monkeypatch)
    assert reports[0]["orders"] > 0 and reports[0]["equity"]["marks"] > 100
    assert_same_outside_runtime(reports, RIDING)


def test_two_strategies_looking_at_one_instant_still_decide_one_after_the_other(tmp_path, monkeypatch):
    """Two strategies with the same signals at the same instants: one tick rides with the batch, the other follows
    once the first has been handled, as if neither rode; so the first to signal (the one the position goes to) is the
    same in every run, and the report with it."""
    base = shortened(ROOT / "scenarios" / "quickstart.toml", 120)
    [ema] = base.strategies
    second = dataclasses.replace(ema, name="ema_quick")   # the same signals at the same instants
    reports = _with_and_without_riders(dataclasses.replace(base, strategies=(ema, second)), tmp_path, monkeypatch)
    assert_same_outside_runtime(reports, RIDING)
    assert reports[0]["orders"] > 0

