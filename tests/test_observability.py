"""A headless engine seen from outside while it runs: /metrics, /health and the operator control on one port.

The engine paper-trades in a process of its own against `python -m engine venue` over loopback, as an operator
runs it; the test scrapes it as Prometheus would, probes it as an orchestrator would, sends operator commands
as a person with (and without) the token would, then stops it with SIGTERM and checks what is left: nothing
open at the venue, the journal whole, the report written, no secret anywhere. The quickstart replay, paced in
real time, is watched the same way.
"""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from engine.app.chaos_kill import KEY, SECRET, engine_command, venue_account, venue_process
from engine.app.scenario import load
from tests.test_stopping import reopened

ROOT = Path(__file__).resolve().parents[1]
PATIENCE_S = 30    # a bound on waiting for the engine to reach a state, not a figure under test
TOKEN = "obs-control-token-5f1c"
FAMILIES = {"engine_order_ack_latency_seconds", "engine_orders", "engine_fills", "engine_fill_ratio",
            "engine_book_age_seconds", "engine_book_live", "engine_book_resyncs", "engine_feed_reconnects",
            "engine_errors", "engine_mailbox_depth", "engine_mailbox_conflations", "engine_actor_restarts",
            "engine_dead_letters", "engine_actor_gave_up", "engine_trading_mode", "engine_kill_switch_tripped"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _until(what: str, engine: subprocess.Popen, check) -> object:
    """Poll `check()` until it returns something, or fail saying what the engine printed."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        if engine.poll() is not None or time.monotonic() > deadline:
            engine.kill()
            pytest.fail(f"{what}: never (exit {engine.poll()}): {engine.communicate()[1][-3000:]}")
        time.sleep(0.02)


def _health(base: str) -> tuple[int, dict]:
    answer = httpx.get(f"{base}/health", timeout=5)
    return answer.status_code, answer.json()


def _metrics(base: str) -> dict[str, dict[tuple, float]]:
    """Every sample of /metrics: family → {(sample name, sorted labels): value}."""
    text = httpx.get(f"{base}/metrics", timeout=5).text
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        samples = out.setdefault(family.name, {})
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _journal_rows(path: Path, kind: str) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _post(base: str, action: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(f"{base}/control/{action}", headers=headers, json={"reason": "test"}, timeout=5)


def test_a_paper_run_is_watched_controlled_and_stopped_over_http(tmp_path):
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    journal, out, port = tmp_path / "journal.sqlite", tmp_path / "out", free_port()
    base = f"http://127.0.0.1:{port}"
    with venue_process(scenario, seed=3, faults=[], run_dir=tmp_path) as url:
        command, env = engine_command(scenario, out, url, journal, duration_s=120)
        with open(out / "paper.toml", "a") as paper:
            paper.write('\n[control]\ntoken_env = "ENGINE_CONTROL_TOKEN"\n')
        command[3:3] = ["--log-level", "INFO"]   # every log line is checked for secrets below
        command += ["--metrics-port", str(port)]
        engine = subprocess.Popen(command, env={**env, "ENGINE_CONTROL_TOKEN": TOKEN}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # asked before its books are live and its orders reconciled, it says it is not ready and why; how soon
        # the endpoint first answers is the machine's, so a run already ready by then is no failure (the rules
        # themselves are tested in test_observe_parts.py, and "halted" below is asked at a known moment)
        status, first = _until("the endpoint answers", engine, lambda: _health(base))
        if status == 503:
            assert first["status"] == "not_ready" and first["reasons"], first
            assert any("book BTC/USDT" in r or "not reconciled" in r for r in first["reasons"]), first
        else:
            assert (status, first) == (200, {"status": "ready", "reasons": []})
        _until("ready", engine, lambda: _health(base)[0] == 200)
        assert _health(base) == (200, {"status": "ready", "reasons": []})
        _until("it trades", engine, lambda: _journal_rows(journal, "OrderUpdate"))
        metrics = _until("an acknowledged order on /metrics", engine, lambda: (
            m := _metrics(base))["engine_order_ack_latency_seconds"].get(
                ("engine_order_ack_latency_seconds_count", (("venue", "binance"),))) and m)

        assert FAMILIES <= set(metrics) and all(name.startswith("engine_") for name in metrics)
        assert metrics["engine_orders"][("engine_orders_total", (("instrument", "BTC/USDT"), ("venue", "binance")))] > 0
        assert metrics["engine_book_live"][("engine_book_live", (("instrument", "BTC/USDT"),))] == 1
        assert metrics["engine_feed_connects"][("engine_feed_connects_total", (("feed", "feed"), ("venue", "binance")))] >= 1
        assert metrics["engine_trading_mode"][("engine_trading_mode", (("mode", "active"),))] == 1

        # the control: refused without the token, or with another one
        assert _post(base, "halt", None).status_code == 401
        assert _post(base, "halt", "not-the-token").status_code == 401
        assert _post(base, "explode", TOKEN).status_code == 404
        halted = _post(base, "halt", TOKEN)
        if halted.status_code == 503:
            engine.send_signal(signal.SIGTERM)
            engine.communicate(timeout=60)
            pytest.skip(f"no control actor in this build yet (branch guard): {halted.json()['error']}")
        assert halted.status_code == 202, halted.text
        status, body = _until("halted on /health", engine, lambda: (h := _health(base))[0] == 503 and any(
            "kill switch halted" in r for r in h[1]["reasons"]) and h)
        assert _post(base, "cancel-all", TOKEN).status_code == 202
        _until("nothing open at the venue", engine, lambda: not [
            o for orders, _ in trio.run(venue_account, scenario, url).values() for o in orders if o.status.is_open])
        assert _metrics(base)["engine_kill_switch_tripped"][("engine_kill_switch_tripped", ())] == 1

        engine.send_signal(signal.SIGTERM)
        stdout, stderr = engine.communicate(timeout=60)
        [(orders, _)] = trio.run(venue_account, scenario, url).values()

    assert engine.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr and "partial: stopped by SIGTERM" in stdout
    assert [order.client_order_id for order in orders if order.status.is_open] == []
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["partial"] is True and report["open_orders"] == []
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    folded = reopened(journal, scenario)
    assert folded["open_orders"] == [] and folded["orders"] == report["orders"]
    commands = _journal_rows(journal, "OperatorCommand")
    assert commands >= 2   # halt and cancel-all, each journaled
    for secret in (SECRET, TOKEN):
        assert secret not in stdout and secret not in stderr
        assert secret.encode() not in journal.read_bytes()
    assert KEY not in stderr


def test_the_quickstart_paced_in_real_time_serves_metrics_and_health_and_stops_on_sigterm(tmp_path):
    out, port = tmp_path / "out", free_port()
    base = f"http://127.0.0.1:{port}"
    engine = subprocess.Popen([sys.executable, "-m", "engine", "run", str(ROOT / "scenarios" / "quickstart.toml"),
                               "--speed", "1", "--metrics-port", str(port), "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    _until("ready", engine, lambda: _health(base)[0] == 200)
    metrics = _until("the book's age on /metrics", engine, lambda: (
        m := _metrics(base))["engine_book_age_seconds"] and m)
    assert FAMILIES - {"engine_feed_reconnects"} <= set(metrics)   # a replay has no connection to lose
    assert metrics["engine_book_live"][("engine_book_live", (("instrument", "BTC/USDT"),))] == 1
    assert httpx.post(f"{base}/control/halt", timeout=5).status_code == 404   # no [control]: no control
    engine.send_signal(signal.SIGTERM)
    stdout, stderr = engine.communicate(timeout=60)

    assert engine.returncode == 0, stderr[-3000:]
    assert "partial: stopped by SIGTERM" in stdout and "Traceback" not in stderr
    report = orjson.loads((out / "report.json").read_bytes())
    assert report["partial"] is True and report["open_orders"] == []
    assert (out / "report.html").exists() and (out / "fills.csv").exists()
    folded = reopened(out / "journal.sqlite", load(ROOT / "scenarios" / "quickstart.toml"))
    assert folded["open_orders"] == [] and folded["orders"] == report["orders"]


def test_a_paper_run_whose_venue_refuses_connections_exits_1_saying_what_it_never_reached(tmp_path):
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    dead = f"http://127.0.0.1:{free_port()}"   # nothing listens there: every connection is refused
    command, env = engine_command(scenario, tmp_path / "out", dead, tmp_path / "journal.sqlite", duration_s=300)
    paper = tmp_path / "out" / "paper.toml"
    paper.write_text(paper.read_text().replace("timeout_ms = 1000", "timeout_ms = 1000\nconnect_timeout_ms = 1000"))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)   # not its 300 s

    assert done.returncode == 1, done.stderr[-3000:]
    assert "run failed: connect: no contact within 1 s" in done.stderr
    assert f"the market data at ws://{dead.removeprefix('http://')} never connected" in done.stderr
    assert f"binance at {dead} never answered the reconciliation of BTC/USDT" in done.stderr
    assert "Traceback" not in done.stderr


def test_metrics_port_with_a_control_whose_token_is_unset_is_refused_before_anything_starts(tmp_path, capsys):
    from engine.app import cli
    scenario = tmp_path / "watched.toml"
    scenario.write_text((ROOT / "scenarios" / "quickstart.toml").read_text()
                        + '\n[control]\ntoken_env = "OBS_TEST_TOKEN_UNSET"\n')
    os.environ.pop("OBS_TEST_TOKEN_UNSET", None)
    assert cli.main(["run", str(scenario), "--metrics-port", str(free_port()), "--out", str(tmp_path)]) == 2
    said = capsys.readouterr().err
    assert "control.token_env" in said and "OBS_TEST_TOKEN_UNSET is not set" in said
    assert not (tmp_path / "report.json").exists()
