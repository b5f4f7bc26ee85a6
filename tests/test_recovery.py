"""Restart is recovery: every actor of the quickstart crashed early and late, and the run still comes out right.

For each actor, a crash on the 5th message it receives and one about halfway through the messages it receives
in the quickstart. After each run: it completed (no `RunFailed`), every order ended filled, cancelled, rejected
or expired, the book was live at the end, and the engine's fills and position equal the simulated venue's own
account of the run (`venue_truth`), fill for fill by trade id. The README's table of these runs is checked
against them, row by row.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
import trio

from engine.app import session
from engine.app.scenario import FaultSpec, load

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ACTORS = ("feed", "book", "strategy", "risk", "router", "orders", "venue", "ledger")
TERMINAL = {"filled", "cancelled", "rejected", "expired"}


@pytest.fixture(scope="module")
def quickstart():
    return load(ROOT / "scenarios" / "quickstart.toml")


@pytest.fixture(scope="module")
def received(quickstart, tmp_path_factory) -> dict[str, int]:
    """How many messages each actor takes in hand in the quickstart without faults (the feed: its events)."""
    outcome = trio.run(session.run, quickstart, tmp_path_factory.mktemp("baseline"))
    return {**outcome.evidence.received, "feed": outcome.report["events"]}


@pytest.mark.parametrize("when", ["early", "late"])
@pytest.mark.parametrize("actor", ACTORS)
def test_a_crashed_actor_comes_back_right(quickstart, received, tmp_path, actor, when):
    after = 5 if when == "early" else received[actor] // 2
    assert after >= 5, f"{actor} receives too few messages to crash halfway: {received[actor]}"
    scenario = dataclasses.replace(quickstart, faults=(FaultSpec(actor, after_events=after),))
    outcome = trio.run(session.run, scenario, tmp_path)
    report, evidence = outcome.report, outcome.evidence

    assert report["actor_restarts"][actor] >= 1 and report["dead_letters"][actor] <= 1
    assert report["orders"] > 0 and set(report["orders_by_state"]) <= TERMINAL
    assert report["open_orders"] == []
    assert report["book"]["live_at_end"] == {"BTC/USDT": True}
    venue = report["venue_truth"]["BTC/USDT"]
    assert report["position"]["BTC/USDT"] == venue["position"]
    assert report["fills"] == venue["fills"] and venue["open_orders"] == []
    assert Counter(evidence.fill_trade_ids) == Counter(evidence.venue_trades["BTC/USDT"].keys())  # each fill once
    row = readme_row(actor, after, report)
    assert row in README, f"README's recovery table should have the row:\n{row}"


def readme_row(actor: str, after: int, report: dict) -> str:
    venue = report["venue_truth"]["BTC/USDT"]
    found = ", ".join(f"{kind} {n}" for kind, n in report["reconciliation"].items()) or "none"
    return (f"| {actor} | {after} | {report['orders']} | {report['fills']} | {report['position']['BTC/USDT']} | "
            f"{venue['fills']}, {venue['position']} | {report['dead_letters'][actor]} | "
            f"{report['book']['longest_outage_ms']['BTC/USDT']} | {found} |")
