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


def assert_same_outside_runtime(reports: list[dict]) -> None:
    results = [orjson.dumps({key: value for key, value in r.items() if key != "runtime"}) for r in reports]
    for batch_ms, result in zip(WINDOWS_MS[1:], results[1:]):
        assert result == results[0], f"the report at batch_ms={batch_ms} differs from the one at {WINDOWS_MS[0]}"


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
