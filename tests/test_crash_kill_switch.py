"""The must-show of the kill switch: `scenarios/crash_kill_switch.toml`, a seeded synthetic collapse, trips the
drawdown limit; after the trip nothing that adds exposure is approved, every order is settled, the strategy's
signals are refused, and two runs give the same bytes."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import trio

from engine.app import scenario as scenario_file
from engine.app import session

ROOT = Path(__file__).resolve().parents[1]


def test_the_crash_trips_the_drawdown_limit_and_the_engine_stops_adding_exposure(tmp_path):
    scenario = scenario_file.load(ROOT / "scenarios" / "crash_kill_switch.toml")
    reports = [trio.run(session.run, scenario, tmp_path / str(i)).report for i in range(2)]
    assert orjson.dumps(reports[0]) == orjson.dumps(reports[1])   # deterministic
    report = reports[0]
    switch = report["kill_switch"]
    assert switch["tripped"] is True and switch["cause"].startswith("max_drawdown: ")
    crash_starts = report["replay"]["first_ts_ns"] + 75 * 1_000_000_000
    assert crash_starts < switch["ts_ns"] < crash_starts + 10 * 1_000_000_000   # during the fall, not before
    assert switch["orders_after_trip"] == 0
    assert switch["reducing_orders_after_trip"] == 1                  # the operator's flatten, and nothing else
    assert switch["open_orders_at_end"] == 0 and report["open_orders"] == []
    assert report["risk_rejections"]["kill_switch"] > 0
    assert Decimal(report["max_drawdown"]["amount"]) > Decimal(200)
    assert report["position"] == {"BTC/USDT": "0.00000000"}
    equity = report["equity"]
    # flat at the end: the equity's change is the net P&L (the equity is reported to the asset's 8 places)
    assert Decimal(equity["end"]) - Decimal(equity["start"]) == Decimal(report["net_pnl"]["USDT"]).quantize(
        Decimal("0.00000001"))


def _market_maker_with(tmp_path: Path, action: str) -> dict:
    text = (ROOT / "scenarios" / "market_maker.toml").read_text()
    path = tmp_path / f"mm_{action}.toml"
    path.write_text(text + f'\n[[operator]]\nat_ms = 120000\naction = "{action}"\n')
    return trio.run(session.run, scenario_file.load(path), tmp_path / action).report


def test_the_market_maker_s_quotes_obey_the_kill_switch_and_are_counted_after_a_trip(tmp_path):
    # REDUCING: the gate approves only the side that takes the inventory toward flat; those quotes are orders that
    # reduce, counted apart (they were not counted at all: the fold saw parent orders only)
    reduced = _market_maker_with(tmp_path, "reduce")
    switch = reduced["kill_switch"]
    assert switch["tripped"] is True and switch["mode_at_end"] == "reducing"
    assert switch["orders_after_trip"] == 0 and switch["reducing_orders_after_trip"] > 0
    assert reduced["position"] == {"BTC/USDT": "0.00000000"} and switch["open_orders_at_end"] == 0
    # HALTED: every quote refused, the resting ones cancelled, nothing approved
    halted = _market_maker_with(tmp_path, "halt")
    switch = halted["kill_switch"]
    assert switch["mode_at_end"] == "halted" and switch["open_orders_at_end"] == 0
    assert switch["orders_after_trip"] == 0 and switch["reducing_orders_after_trip"] == 0
    assert halted["risk_rejections"]["kill_switch"] > 0
