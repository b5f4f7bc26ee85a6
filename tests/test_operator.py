"""Operator commands in a replay (`[[operator]]`): HALT cancels what works and refuses every new order until RESUME,
CANCEL_ALL cancels what works and leaves the mode alone, FLATTEN goes reducing and brings the position to zero
through the risk gate. Driven at market times through the control actor, on the seeded synthetic market."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import trio

from engine.app import scenario as scenario_file
from engine.app import session
from engine.app.scenario import OperatorSpec
from engine.journal import Journal
from engine.messages import (CancelAll, OperatorAction, OperatorCommand, ParentOrder, RiskRejection, TradingMode,
                             TradingStateChanged)

ROOT = Path(__file__).resolve().parents[1]
S = 1_000_000_000


def run_with(tmp_path: Path, commands: list[tuple[float, str]], duration_s: int = 120, **strategy):
    base = scenario_file.load(ROOT / "scenarios" / "quickstart.toml")
    scenario = dataclasses.replace(
        base, feed=dataclasses.replace(base.feed, duration_s=duration_s),
        strategies=tuple(dataclasses.replace(spec, **strategy) for spec in base.strategies),
        operator=tuple(OperatorSpec(int(at_s * S), OperatorAction(action)) for at_s, action in commands))
    outcome = trio.run(session.run, scenario, tmp_path)
    journal = Journal.open(tmp_path / "journal.sqlite", sync="normal", scenario="read", started_ns=0)
    try:
        entries = list(journal.entries(kinds=(ParentOrder, RiskRejection, TradingStateChanged, CancelAll,
                                              OperatorCommand)))
    finally:
        journal.close()
    return outcome.report, entries


def at(entries, kind, actor=None):
    return [entry for entry in entries if type(entry.msg) is kind and (actor is None or entry.actor == actor)]


def test_halt_refuses_every_order_until_resume_and_cancels_what_works(tmp_path):
    report, entries = run_with(tmp_path, [(30.25, "halt"), (90.25, "resume")])
    first = report["replay"]["first_ts_ns"]
    halt_ns, resume_ns = first + int(30.25 * S), first + int(90.25 * S)
    changes = [(e.msg.mode, e.msg.cause) for e in at(entries, TradingStateChanged, "control")]
    assert changes == [(TradingMode.HALTED, "operator:halt"), (TradingMode.ACTIVE, "operator:resume")]
    cancels = at(entries, CancelAll, "control")
    assert [(c.msg.ts_ns, c.msg.halt) for c in cancels] == [(halt_ns, False)]   # the halt's: trading may resume
    approved = [e.msg.ts_ns for e in at(entries, ParentOrder)]
    assert not [ts for ts in approved if halt_ns <= ts < resume_ns]
    assert [ts for ts in approved if ts < halt_ns] and [ts for ts in approved if ts >= resume_ns]
    refused = [e.msg for e in at(entries, RiskRejection) if e.msg.rule == "kill_switch"]
    assert refused and all(halt_ns <= r.ts_ns < resume_ns for r in refused)
    assert report["risk_rejections"]["kill_switch"] == len(refused)
    assert report["open_orders"] == []


def test_cancel_all_cancels_resting_orders_and_trading_goes_on(tmp_path):
    report, entries = run_with(tmp_path, [(60.25, "cancel_all")], urgency="passive")
    first = report["replay"]["first_ts_ns"]
    assert at(entries, TradingStateChanged, "control") == []           # the mode is left as it was
    [cancel] = at(entries, CancelAll, "control")
    assert cancel.msg.ts_ns == first + int(60.25 * S)
    assert [e for e in at(entries, ParentOrder) if e.msg.ts_ns > cancel.msg.ts_ns]   # still trading after it
    assert "kill_switch" not in report["risk_rejections"]
    assert report["orders_by_state"].get("cancelled", 0) > 0


def test_flatten_reduces_to_a_flat_position_and_refuses_new_exposure(tmp_path):
    report, entries = run_with(tmp_path, [(60.25, "flatten")])
    first = report["replay"]["first_ts_ns"]
    flatten_ns = first + int(60.25 * S)
    [change] = at(entries, TradingStateChanged, "control")
    assert (change.msg.mode, change.msg.cause) == (TradingMode.REDUCING, "operator:flatten")
    after = [e.msg for e in at(entries, ParentOrder) if e.msg.ts_ns >= flatten_ns]
    assert len(after) == 1 and after[0].ts_ns == flatten_ns            # the flatten's own order, nothing else
    assert report["position"] == {"BTC/USDT": "0.00000000"}
    assert report["risk_rejections"].get("kill_switch", 0) > 0        # the strategy wanted back in, and was refused
