"""Data quality in a whole run: the report's `data_quality` section, its `[data_quality]` thresholds read from the
scenario (and refused out of range, exit 2), its findings logged no more often than the alarm interval, the same
bytes run after run."""
from __future__ import annotations

from engine.model.data_quality import KINDS, PRICE_JUMP
from tests.test_pace import short_quickstart  # noqa: F401 - the fixture
from tests.test_run_command import run_engine, run_report


def test_the_quickstart_reports_its_data_quality_clean(tmp_path, short_quickstart):
    _, report = run_report(short_quickstart, tmp_path / "out")
    section = report["data_quality"]
    assert section["counts"] == dict.fromkeys(KINDS, 0) and section["alarms"] == 0
    assert section["by_instrument"]["BTC/USDT"]["counts"] == dict.fromkeys(KINDS, 0)
    assert section["limits"] == {"max_spread_bps": 200, "jump_sigmas": 12, "jump_window": 100, "jump_min_bps": 30,
                                 "silent_after_ms": 30_000, "alarm_every_ms": 60_000}


def test_tight_thresholds_find_jumps_logged_once_an_interval_and_reported_alike_twice(tmp_path, short_quickstart):
    scenario = tmp_path / "tight.toml"
    scenario.write_text(short_quickstart.read_text() + "\n[data_quality]\njump_sigmas = 1\njump_window = 2\n"
                                                       "jump_min_bps = 0\nalarm_every_ms = 5000\nexamples = 2\n")
    raw_a, report = run_report(scenario, tmp_path / "A")
    raw_b, _ = run_report(scenario, tmp_path / "B")
    assert raw_a == raw_b
    btc = report["data_quality"]["by_instrument"]["BTC/USDT"]
    jumps = btc["counts"][PRICE_JUMP]
    assert jumps > 10 and btc["alarms"] + btc["alarms_held_back"] == jumps
    assert 1 <= btc["alarms"] <= 5   # 20 s of market, one alarm per 5 s at most
    [first, second] = btc["examples"][PRICE_JUMP]
    assert first["ts_ns"] < second["ts_ns"] and first["detail"].startswith("mid moved ")
    done = run_engine("run", str(scenario), "--out", str(tmp_path / "C"))
    assert done.stderr.count("data quality: BTC/USDT price_jump") == btc["alarms"]


def test_a_threshold_out_of_range_exits_2_naming_the_key(tmp_path, short_quickstart):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(short_quickstart.read_text() + "\n[data_quality]\njump_sigmas = 0\n")
    done = run_engine("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "data_quality.jump_sigmas: expected greater than or equal to 1, found 0" in done.stderr
