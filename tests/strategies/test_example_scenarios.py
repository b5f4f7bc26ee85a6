"""The example strategies' scenarios: each replays deterministically (three files byte-identical run to run), the
market maker fills on both sides and keeps its inventory within its limit, and the mean reversion trades sized by
its stop."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from engine.app import cli

ROOT = Path(__file__).resolve().parents[2]


def run_twice(name: str, tmp_path: Path) -> dict:
    outputs = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt
        assert cli.main(["run", str(ROOT / "scenarios" / f"{name}.toml"), "--out", str(out)]) == 0
        outputs.append({f: (out / f).read_bytes() for f in ("report.json", "fills.csv", "report.html")})
    assert outputs[0] == outputs[1]
    return orjson.loads(outputs[0]["report.json"])


def test_the_market_maker_fills_both_sides_within_its_inventory_limit_and_replays_the_same(tmp_path):
    report = run_twice("market_maker", tmp_path)
    quoting = report["quoting"]["market_maker"]
    assert quoting["fills"]["buy"] > 0 and quoting["fills"]["sell"] > 0
    assert quoting["within_limit"] is True
    assert max(float(quoting["max_long"]), float(quoting["max_short"])) <= float(quoting["inventory_limit"]) == 0.03
    assert quoting["quotes_approved"] == quoting["quotes_stated"] > 0
    assert report["open_orders"] == [] and report["venue_truth"]["BTC/USDT"]["position"] == report["position"]["BTC/USDT"]


def test_mean_reversion_trades_sized_by_its_stop_and_replays_the_same(tmp_path):
    report = run_twice("mean_reversion", tmp_path)
    assert report["parent_orders"] > 0 and report["fills"] > 0
    assert report["risk_rejections"] == {}   # every signal had a stop to size over


@pytest.mark.parametrize("name", ["market_maker", "mean_reversion"])
def test_an_example_scenario_is_one_the_schema_reads(name):
    from engine.app.scenario import load
    assert load(ROOT / "scenarios" / f"{name}.toml").strategies[0].kind == name
