"""Logs as JSON lines (`--log-format json`) and secrets kept out of every log line.

The paper-trading check runs the engine against the simulated venue on loopback with DEBUG logs, so the HTTP
library logs every signed request it sends (URL with its `signature=`), and with a wrong secret, so the venue
refuses the credentials and the engine logs why: neither the API key, nor the secret, nor any signature may be
in what was logged.
"""
from __future__ import annotations

import dataclasses
import io
import logging
from functools import partial

import orjson
import pytest
import trio

from engine.app import logs, session
from engine.app.scenario import load, load_venue
from engine.app.venue import serve_venue
from tests.test_pace import short_quickstart  # noqa: F401 - the fixture
from tests.test_paper_trading import ROOT, paper_scenario
from tests.test_run_command import run_engine

FAKE_KEY, FAKE_SECRET = "fake-key-5d1e0c", "fake-secret-9a7b3f"


@pytest.fixture
def log_to():
    """Configure the logs as `run` does, into a string; restore the root logger afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]

    def configure(log_format: str) -> tuple[logs.Redactor, io.StringIO]:
        out = io.StringIO()
        return logs.configure("DEBUG", log_format, out), out
    yield configure
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_a_json_line_has_ts_level_logger_message_and_the_caller_s_fields(log_to):
    _, out = log_to("json")
    logging.getLogger("engine.test").warning("order %s rejected", "c-1", extra={"venue": "binance", "code": -2010})
    line = orjson.loads(out.getvalue().splitlines()[0])
    assert line["level"] == "WARNING" and line["logger"] == "engine.test"
    assert line["message"] == "order c-1 rejected" and line["venue"] == "binance" and line["code"] == -2010
    assert line["ts"].endswith("+00:00") and "T" in line["ts"]


def test_secrets_are_redacted_wherever_they_appear_in_either_format(log_to, monkeypatch):
    monkeypatch.setenv("K", FAKE_KEY)
    monkeypatch.setenv("S", FAKE_SECRET)
    for log_format in logs.FORMATS:
        redact, out = log_to(log_format)
        redact.hide_credentials(type("Venue", (), {"api_key_env": "K", "secret_env": "S"}))
        log = logging.getLogger("engine.test")
        log.info("signed with %s", FAKE_SECRET, extra={"headers": {"X-MBX-APIKEY": FAKE_KEY}})
        log.info("POST /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=0f3a9c22 200")
        log.info('logon {"apiKey": "other-key", "signature": "b7e4"}')
        try:
            raise RuntimeError(f"refused {FAKE_KEY}")
        except RuntimeError:
            log.exception("failed")
        text = out.getvalue()
        for secret in (FAKE_KEY, FAKE_SECRET, "0f3a9c22", "other-key", "b7e4"):
            assert secret not in text, (log_format, text)
        assert text.count(logs.REDACTED) >= 5 and "symbol=BTCUSDT" in text


@pytest.mark.trio
async def test_a_paper_run_logs_no_key_secret_or_signature(tmp_path, monkeypatch, log_to):
    monkeypatch.setenv("PAPER_KEY", "demo-key")          # the venue's demo account, with a wrong secret
    monkeypatch.setenv("PAPER_SECRET", FAKE_SECRET)
    redact, out = log_to("json")
    venue = dataclasses.replace(load_venue(ROOT / "scenarios" / "sim_binance.toml"), speed=10)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_venue, venue))
        scenario = load(paper_scenario(tmp_path, port))
        redact.hide_credentials(scenario.venue)
        with pytest.raises(session.RunFailed):           # the venue refuses the credentials: the run fails
            with trio.fail_after(30):
                await session.run(scenario, tmp_path / "out")
        nursery.cancel_scope.cancel()
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert any("signature=" + logs.REDACTED in line["message"] for line in lines)   # a signed request was logged
    text = out.getvalue()
    assert "demo-key" not in text and FAKE_SECRET not in text


def test_run_logs_json_lines_on_stderr(short_quickstart, tmp_path):  # noqa: F811 - the fixture
    done = run_engine("--log-level", "INFO", "--log-format", "json", "run", str(short_quickstart),
                      "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(line) for line in done.stderr.splitlines()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["message"] == "actor ledger started" for line in lines)
