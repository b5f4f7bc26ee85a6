"""`python -m engine chaos`: seeded runs that break the engine on purpose and hold it against the venue.

A few in-process runs in CI (the 200-run figures are in the README, with the command that printed them); a
run replays exactly from its seed; and the checks themselves name each invariant a run could break.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from engine.app.chaos_checks import violations
from engine.app.session import Evidence

ROOT = Path(__file__).resolve().parents[1]


def chaos(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "chaos", "scenarios/quickstart.toml", "--out",
                           str(tmp_path), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_seeded_chaos_runs_break_no_invariant_and_say_so_in_one_line(tmp_path):
    done = chaos(tmp_path, "--runs", "5", "--seed", "11", "--no-kills")
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    *_, last = done.stdout.strip().splitlines()
    summary = dict(part.split("=") for part in last.split())
    assert summary["runs"] == "5" and summary["violations"] == "0" and summary["kills"] == "0"
    assert int(summary["faults"]) > 0 and int(summary["reconciliations"]) >= 5
    assert re.search(r"^crash_\w+ +\d+$", done.stdout, re.M)


def test_a_run_replays_exactly_from_its_seed(tmp_path):
    for name in ("a", "b"):
        assert chaos(tmp_path / name, "--runs", "1", "--seed", "1020", "--no-kills").returncode == 0
    first, again = ((tmp_path / name / "run-1020" / "report.json").read_bytes() for name in ("a", "b"))
    assert first == again


def report(position="0.05000000", venue_position="0.05000000", open_engine=(), open_venue=(), reused=None,
           outage=0, failure=None) -> dict:
    return {"position": {"BTC/USDT": position}, "open_orders": list(open_engine),
            "venue_truth": {"BTC/USDT": {"position": venue_position, "open_orders": list(open_venue),
                                         "reused_client_order_ids": reused or {}, "fills": 2}},
            "book": {"longest_outage_ms": {"BTC/USDT": outage}, "live_at_end": {"BTC/USDT": True}},
            **({"failure": failure} if failure else {})}


def evidence(ours=("1", "2"), venue=("1", "2")) -> Evidence:
    return Evidence(list(ours), {"BTC/USDT": {trade: 1 for trade in venue}}, {}, 0)


def test_each_invariant_a_run_can_break_is_named():
    assert violations(report(), evidence(), 5_000_000_000) == []
    cases = [
        (report(position="0.04000000"), evidence(), "the engine holds 0.04000000, the venue's trades net 0.05"),
        (report(reused={"q-1-1": 2}), evidence(), "client order ids sent twice"),
        (report(open_venue=["q-1-3"]), evidence(), "open at the venue ['q-1-3']"),
        (report(), evidence(ours=("1", "1", "2")), "fills counted more than once: ['1']"),
        (report(), evidence(ours=("1",)), "venue fills the engine never counted: ['2']"),
        (report(), evidence(ours=("1", "2", "9")), "fills the engine counted that the venue does not have"),
        (report(outage=5_001), evidence(), "not live for 5001 ms, more than 5000 ms"),
        (report(failure="orders did not settle"), evidence(), "the run failed: orders did not settle"),
    ]
    for bad, proof, said in cases:
        found = violations(bad, proof, 5_000_000_000)
        assert len(found) == 1 and said in found[0], (said, found)
