"""The front door, as a user runs it: `python -m engine run SCENARIO --out DIR` in a subprocess.

Determinism, fills, crash recovery and bad input are checked on the real scenario files.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT.parent / "shared" / "recorded"
SPOT_CAPTURE = RECORDED / "nkaz001+hftbacktest" / "examples" / "spot" / "btcusdt_20240808.gz"


def run_engine(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def run_report(scenario: Path, out: Path) -> tuple[bytes, dict]:
    done = run_engine("run", str(scenario), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "msg/s" in done.stdout
    raw = (out / "report.json").read_bytes()
    return raw, orjson.loads(raw)


def test_quickstart_twice_gives_byte_identical_reports_with_fills(tmp_path):
    raw_a, report = run_report(ROOT / "scenarios" / "quickstart.toml", tmp_path / "A")
    raw_b, _ = run_report(ROOT / "scenarios" / "quickstart.toml", tmp_path / "B")
    assert raw_a == raw_b
    assert report["fills"] > 0 and report["orders"] > 0
    for key in ("events", "orders", "fills", "fill_ratio", "avg_slippage_bps", "fees", "realized_pnl",
                "position", "actor_restarts"):
        assert key in report
    assert report["book"]["sequence_gaps"] == 0 and report["book"]["top_of_book_mismatched"] == 0
    assert report["book"]["top_of_book_checked"] > 1000
    assert sum(report["actor_restarts"].values()) == 0


@pytest.mark.skipif(not SPOT_CAPTURE.is_file(), reason=f"recorded data not found at {SPOT_CAPTURE}")
def test_recorded_binance_spot_twice_gives_byte_identical_reports_with_fills(tmp_path):
    scenario = ROOT / "scenarios" / "binance_spot_recorded.toml"
    raw_a, report = run_report(scenario, tmp_path / "A")
    raw_b, _ = run_report(scenario, tmp_path / "B")
    assert raw_a == raw_b
    assert report["fills"] > 0
    assert report["events"] > 40_000
    assert report["book"]["sequence_gaps"] == 0 and report["book"]["top_of_book_mismatched"] == 0


def test_a_crash_injected_into_the_strategy_is_restarted_and_the_run_completes(tmp_path):
    scenario = tmp_path / "crash.toml"
    scenario.write_text((ROOT / "scenarios" / "quickstart.toml").read_text()
                        + '\n[[faults]]\nactor = "strategy"\nafter_events = 1000\n')
    done = run_engine("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "InjectedFault" in done.stderr
    report = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert report["actor_restarts"]["strategy"] >= 1
    assert report["fills"] > 0


@pytest.mark.parametrize("edit, complaint", [
    (("fast = 8", "fast = 200"), "strategy[0].fast: must be shorter than slow"),
    (('position = "0.05"', 'position = "0.000000001"'),
     "strategy[0].position: '0.000000001' has more than 8 decimals"),
    (('kind = "synthetic"', 'kind = "telepathy"'), "feed.kind: expected 'synthetic', 'recording' or 'live', found 'telepathy'"),
    (("duration_s = 600", 'duration_s = "ten"'), "feed.duration_s: expected a valid integer, found 'ten'"),
    (('cadence = "500ms"', 'cadence = "now and then"'), 'strategy[0].cadence: expected one of "book", "trades"'),
])
def test_a_bad_scenario_exits_2_naming_the_key(tmp_path, edit, complaint):
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    assert edit[0] in text
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text.replace(edit[0], edit[1], 1))
    done = run_engine("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert str(scenario) in done.stderr and complaint in done.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_missing_recording_exits_2_naming_the_file(tmp_path):
    text = (ROOT / "scenarios" / "binance_spot_recorded.toml").read_text()
    scenario = tmp_path / "missing.toml"
    scenario.write_text(text.replace("btcusdt_20240808.gz", "no_such_day.gz"))
    done = run_engine("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "no_such_day.gz" in done.stderr


def test_not_toml_exits_2(tmp_path):
    scenario = tmp_path / "garbage.toml"
    scenario.write_text("[feed\nkind = ")
    done = run_engine("run", str(scenario))
    assert done.returncode == 2 and "not valid TOML" in done.stderr


OKX_RECORDING = RECORDED / "bmoscon+cryptofeed" / "sample_data" / "OKX.ws.1.0"


@pytest.mark.skipif(not OKX_RECORDING.is_file(), reason=f"recorded data not found at {OKX_RECORDING}")
def test_a_recording_of_another_venue_replays_through_its_own_codec_twice_alike(tmp_path):
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    for old, new in [('venue = "binance"\nvenue_symbol = "BTCUSDT"', 'venue = "okx"\nvenue_symbol = "BTC-USDT"'),
                     ('price_decimals = 8\nqty_decimals = 8\ntick_size = "0.01"\nlot_size = "0.00001"',
                      'price_decimals = 1\nqty_decimals = 8\ntick_size = "0.1"\nlot_size = "0.00000001"'),
                     ('kind = "synthetic"\ninstruments = ["BTC/USDT"]\nseed = 7\nduration_s = 600',
                      f'kind = "recording"\ninstruments = ["BTC/USDT"]\nfiles = ["{OKX_RECORDING}"]'),
                     ("fast = 8\nslow = 40", "fast = 2\nslow = 5")]:
        assert old in text
        text = text.replace(old, new)
    scenario = tmp_path / "okx.toml"
    scenario.write_text(text)
    raw_a, report = run_report(scenario, tmp_path / "A")
    raw_b, _ = run_report(scenario, tmp_path / "B")
    assert raw_a == raw_b
    assert report["events"] == 411 and report["malformed_frames"] == 0
    assert report["book"]["checksums_ok"] > 50 and report["book"]["checksums_failed"] == 0
    assert report["orders"] > 0


def test_a_journal_held_by_another_engine_is_refused_with_exit_2(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom engine.journal import Journal\n"
        f"Journal.open({str(tmp_path / 'held.sqlite')!r}, sync='normal', scenario='x', started_ns=0)\n"
        "print('held', flush=True)\ntime.sleep(60)")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = run_engine("run", "scenarios/quickstart.toml", "--out", str(tmp_path / "out"),
                          "--journal", str(tmp_path / "held.sqlite"))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2
    assert f"in use by pid {holder.pid}" in done.stderr and not (tmp_path / "out" / "report.json").exists()


def test_a_replay_refuses_to_resume_a_journal_its_in_process_venue_cannot_account_for(tmp_path):
    journal = str(tmp_path / "replay.sqlite")
    assert run_engine("run", "scenarios/quickstart.toml", "--out", str(tmp_path / "a"), "--journal",
                      journal).returncode == 0
    again = run_engine("run", "scenarios/quickstart.toml", "--out", str(tmp_path / "b"), "--journal", journal)
    assert again.returncode == 2 and "holds 1 earlier run(s)" in again.stderr
