"""A run stopped by a signal ends cleanly: nothing left open at the venue, the journal whole, a partial report.

The engine paper-trades in a process of its own against `python -m engine venue` in another, over loopback, as
an operator runs it headless; the test sends the signals a supervisor (systemd, a container runtime, a shell)
sends. One SIGTERM: the engine stops taking signals, cancels its open orders, waits for them, writes its report
marked partial and exits 0. A second one during that stop: the process ends at once, non-zero, and the journal
it leaves opens and reads as any other. `record`, stopped by either signal, leaves a capture that reads to its
end.
"""
from __future__ import annotations

import gzip
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
import trio

from engine.app import chaos_kill
from engine.app.chaos_kill import engine_command, journal_fills, venue_account, venue_process
from engine.app.scenario import load
from engine.journal import Journal
from engine.report.run import REPORTED, journal_section

ROOT = Path(__file__).resolve().parents[1]
PATIENCE_S = 20   # a bound on waiting for the engine to trade, not a figure under test


def _journal_rows(path: Path, kind: str) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]
    except sqlite3.OperationalError:   # the engine has not made its tables yet
        return 0


def _wait_until_trading(engine: subprocess.Popen, journal: Path) -> None:
    """Until the engine has journaled an order to the venue (it trades), or give up saying what it printed."""
    deadline = time.monotonic() + PATIENCE_S
    while _journal_rows(journal, "ChildOrder") == 0:
        if engine.poll() is not None or time.monotonic() > deadline:
            engine.kill()
            pytest.fail(f"the engine never traded (exit {engine.poll()}): {engine.communicate()[1][-2000:]}")
        time.sleep(0.05)


def reopened(journal: Path, scenario) -> dict:
    """The journal opened again as the engine opens it (its lock free, its schema read), and the trading folded
    from it; SQLite checks the file on the way."""
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = Journal.open(journal, sync="normal", scenario="check", started_ns=0)
    try:
        return journal_section(list(again.entries(kinds=REPORTED)), scenario.instruments, {})
    finally:
        again.close()


@pytest.mark.parametrize("stop_with", ["SIGTERM", "SIGINT", "--duration"])
def test_a_stopped_run_ends_cleanly_with_a_partial_report(tmp_path, stop_with):
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    journal, out = tmp_path / "journal.sqlite", tmp_path / "out"
    with venue_process(scenario, seed=3, faults=[], run_dir=tmp_path) as url:
        command, env = engine_command(scenario, out, url, journal, duration_s=120)
        if stop_with == "--duration":
            command += ["--duration", "4"]
        engine = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if stop_with != "--duration":
            _wait_until_trading(engine, journal)
            engine.send_signal(signal.Signals[stop_with])
        stdout, stderr = engine.communicate(timeout=60)
        [(orders, trades)] = trio.run(venue_account, scenario, url).values()

    assert engine.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr and "run failed" not in stderr
    why = "stopped after --duration 4 s" if stop_with == "--duration" else f"stopped by {stop_with}"
    assert f"partial: {why}" in stdout
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["partial"] is True and report["stopped"] == why
    assert report["orders"] > 0 or stop_with == "--duration"   # a signal came once it traded
    assert [order.client_order_id for order in orders if order.status.is_open] == []
    assert report["open_orders"] == [] == report["venue_truth"]["BTC/USDT"]["open_orders"]
    folded = reopened(journal, scenario)
    assert folded["open_orders"] == [] and folded["orders"] == report["orders"]
    # every fill the venue made for us is in the journal, once
    assert Counter(journal_fills(journal)) == Counter(item.trade.trade_id for item in trades)


def test_a_second_sigterm_ends_the_stop_at_once_and_the_journal_reopens(tmp_path, monkeypatch):
    # every REST request waits at the venue, so the stop (cancel, wait, ask the venue) is still under way
    # when the second signal comes
    monkeypatch.setitem(chaos_kill.RATES, "latency_spike", "1")
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    journal, out = tmp_path / "journal.sqlite", tmp_path / "out"
    with venue_process(scenario, seed=3, faults=[("latency_spike", "delay_ms = 500")], run_dir=tmp_path) as url:
        command, env = engine_command(scenario, out, url, journal, duration_s=120)
        engine = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_until_trading(engine, journal)
        engine.send_signal(signal.SIGTERM)
        for said in engine.stderr:   # until it says it took the first signal, and is stopping
            if said.startswith("engine: SIGTERM"):
                break
        engine.send_signal(signal.SIGTERM)
        stdout, stderr = engine.communicate(timeout=30)

    assert said.startswith("engine: SIGTERM: stopping"), said
    assert engine.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "Traceback" not in stderr and "stopped at once by a second SIGTERM" in stderr
    assert not (out / "report.json").exists()
    folded = reopened(journal, scenario)
    assert folded["orders"] > 0


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_record_stopped_by_a_signal_leaves_a_capture_that_reads_to_its_end(tmp_path, stop_with):
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    capture = tmp_path / "capture.gz"
    with venue_process(scenario, seed=3, faults=[], run_dir=tmp_path) as url:
        engine_command(scenario, tmp_path, url, tmp_path / "unused.sqlite", duration_s=120)   # its live scenario
        recorder = subprocess.Popen([sys.executable, "-m", "engine", "record", str(tmp_path / "paper.toml"),
                                     "--out", str(capture)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        deadline = time.monotonic() + PATIENCE_S
        while not capture.exists() or capture.stat().st_size < 4096:   # frames on disk: it records
            if recorder.poll() is not None or time.monotonic() > deadline:
                recorder.kill()
                pytest.fail(f"nothing recorded (exit {recorder.poll()}): {recorder.communicate()[1][-2000:]}")
            time.sleep(0.05)
        recorder.send_signal(stop_with)
        stdout, stderr = recorder.communicate(timeout=30)

    assert recorder.returncode == 0, stderr[-2000:]
    assert f"stopped by {stop_with.name}" in stdout and "Traceback" not in stderr
    with gzip.open(capture, "rb") as file:
        lines = file.read().splitlines()   # a truncated gzip raises EOFError here
    assert len(lines) > 10 and b'"open"' in lines[0]
