"""`run --speed X` and the progress line: a paced replay holds each batch until its market time is due at X
times real time, and reports exactly what an unpaced one does; the progress line is drawn only on a terminal.

The pace is checked on trio's autojumping clock (no wall-clock waits, no timing asserts); the whole command
is run as a user runs it, on the quickstart shortened to 20 s of market time.
"""
from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import trio

from adapters.registry import recorded_market_data
from engine.app import scenario as scenario_file
from engine.app import session
from engine.app.pace import Pace
from engine.app.progress import ProgressLine, on_terminal
from engine.app.stopping import StopRequest
from engine.replay.source import RecordedFeed
from tests.test_run_command import ROOT, SPOT_CAPTURE, run_engine

QUICKSTART = ROOT / "scenarios" / "quickstart.toml"


@pytest.fixture
def short_quickstart(tmp_path) -> Path:
    """The quickstart with 20 s of market time: 0.4 s of wall time at --speed 50."""
    text = QUICKSTART.read_text()
    assert "duration_s = 600" in text
    path = tmp_path / "short.toml"
    path.write_text(text.replace("duration_s = 600", "duration_s = 20"))
    return path


def _without_runtime(raw: bytes) -> dict:
    report = orjson.loads(raw)
    report.pop("runtime")
    return report


def test_a_paced_replay_reports_what_an_unpaced_one_does_and_prints_no_progress_off_a_terminal(
        short_quickstart, tmp_path):
    fast = run_engine("run", str(short_quickstart), "--out", str(tmp_path / "fast"))
    paced = run_engine("run", str(short_quickstart), "--out", str(tmp_path / "paced"), "--speed", "50")
    assert fast.returncode == 0, fast.stderr
    assert paced.returncode == 0, paced.stderr
    fast_report = _without_runtime((tmp_path / "fast" / "report.json").read_bytes())
    assert fast_report["fills"] > 0
    assert _without_runtime((tmp_path / "paced" / "report.json").read_bytes()) == fast_report
    assert fast.stderr == paced.stderr == ""   # stderr is a pipe here: no progress line


@pytest.mark.parametrize("speed", ["0", "-2", "fast", "inf"])
def test_a_speed_that_is_not_a_positive_number_exits_2(short_quickstart, speed):
    done = run_engine("run", str(short_quickstart), "--speed", speed)
    assert done.returncode == 2
    assert "--speed" in done.stderr and "Traceback" not in done.stderr


async def test_the_pace_holds_each_instant_until_it_is_due_at_speed_times_real_time(autojump_clock):
    pace = Pace(4.0, StopRequest())
    start = trio.current_time()
    await pace.reach(1_000_000_000)            # the first instant starts the pace: no wait
    assert trio.current_time() == start
    await pace.reach(9_000_000_000)            # 8 s of market time at 4x: 2 s later
    assert trio.current_time() == pytest.approx(start + 2.0)
    await pace.reach(5_000_000_000)            # already past: no wait
    assert trio.current_time() == pytest.approx(start + 2.0)


async def test_a_stop_ends_the_pace_s_wait_at_once(autojump_clock):
    stop = StopRequest()
    pace = Pace(1.0, stop)
    await pace.reach(0)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pace.reach, 3600 * 1_000_000_000)
        await trio.sleep(5)
        stop.ask("stopped by SIGTERM")
    assert trio.current_time() == pytest.approx(start + 5)


def test_the_progress_line_says_share_done_rate_and_eta():
    line = ProgressLine(io.StringIO())
    line.start("replay", 0, 600_000_000_000)
    assert line.line(150_000_000_000, 5000, 2.0) == "replay:  25% (2:30 of 10:00), 5,000 msgs, 2,500 msg/s, ETA 0:06"
    unknown_end = ProgressLine(io.StringIO())
    unknown_end.start("replay", 0, None)
    assert unknown_end.line(90_000_000_000, 100, 4.0) == "replay: 1:30 of market time, 100 msgs, 25 msg/s"


def test_the_progress_line_is_redrawn_in_place_a_few_times_a_second_and_ended():
    wall = [0.0]
    out = io.StringIO()
    line = ProgressLine(out, now=lambda: wall[0])
    line.start("replay", 0, 10_000_000_000)
    for step in range(1, 11):
        wall[0] = step * 0.0625                # 16 batches a second: drawn at most every 0.2 s
        line.update(step * 1_000_000_000, step)
    line.finish()
    drawn = out.getvalue()
    assert drawn.count("\r") == 3              # at steps 1, 5 and 9
    assert drawn.endswith("\n") and "100%" not in drawn and "50%" in drawn


def test_a_progress_line_only_on_a_terminal():
    assert on_terminal(io.StringIO()) is None          # a StringIO is no terminal
    assert on_terminal(io.StringIO(), is_tty=False) is None
    assert isinstance(on_terminal(io.StringIO(), is_tty=True), ProgressLine)


def test_a_synthetic_run_on_a_terminal_draws_the_generation_then_the_replay(short_quickstart, tmp_path):
    out = io.StringIO()
    progress = on_terminal(out, is_tty=True)
    scenario = scenario_file.load(short_quickstart)
    trio.run(lambda: session.run(scenario, tmp_path / "out", progress=progress))
    progress.finish()
    generation, replay, after = out.getvalue().split("\n")
    assert generation.startswith("\rsynthetic: ") and "of 0:20" in generation and "ETA" in generation
    # the replay's span is its generated file's, first event to last: just under the 20 s generated
    assert replay.startswith("\rreplay: ") and "of 0:19" in replay and "msg/s" in replay and "ETA" in replay
    assert after == ""


def test_run_with_stderr_on_a_terminal_draws_the_progress_line(short_quickstart, tmp_path):
    """A real terminal (a pseudo-terminal as stderr), as a user at a shell has it."""
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "engine", "run", str(short_quickstart), "--out", str(tmp_path)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120)
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:   # the terminal's other end is closed and everything written was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    text = drawn.decode()
    assert "synthetic: " in text and "replay: " in text and "msg/s" in text
    assert "report:" in done.stdout   # the summary is on stdout, untouched


def test_a_capture_recording_s_end_is_known_before_it_is_read_for_the_eta():
    if not SPOT_CAPTURE.exists():
        pytest.skip(f"the recorded capture is absent: {SPOT_CAPTURE}")
    instrument = scenario_file.load(ROOT / "scenarios" / "binance_spot_recorded.toml").instruments["BTC/USDT"]
    codec, _ = recorded_market_data([instrument], instrument.venue_symbol)
    feed = RecordedFeed([SPOT_CAPTURE], codec)
    end = feed.end_ns()
    for _ in feed.events():
        pass
    assert end == feed.last_ts_ns and end > feed.first_ts_ns
