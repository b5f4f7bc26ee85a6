"""The EMA crossover with a bracket (`scenarios/ema_bracket.toml`), as a user runs it: deterministic, and its report
counts the protective orders by type and end; native and emulated legs trade the same quiet market alike."""
from __future__ import annotations

from tests.test_run_command import ROOT, run_report


def test_ema_bracket_twice_gives_byte_identical_reports_that_count_its_protective_orders(tmp_path):
    raw_a, report = run_report(ROOT / "scenarios" / "ema_bracket.toml", tmp_path / "A")
    raw_b, _ = run_report(ROOT / "scenarios" / "ema_bracket.toml", tmp_path / "B")
    assert raw_a == raw_b
    protective = report["protective_orders"]
    assert protective["brackets"] == protective["oco_pairs"] == report["parent_orders"] > 0
    assert protective["legs_by_mode"] == {"native": 2 * protective["brackets"]}
    for kind in ("stop_market", "take_profit"):
        counts = protective["by_type"][kind]
        assert counts["armed"] == protective["brackets"]
        assert sum(n for event, n in counts.items() if event in ("filled", "cancelled")) == counts["armed"]
    assert report["open_orders"] == []


def test_the_same_bracket_emulated_triggers_on_the_engines_book(tmp_path):
    text = (ROOT / "scenarios" / "ema_bracket.toml").read_text()
    scenario = tmp_path / "ema_bracket_emulated.toml"
    scenario.write_text(text.replace('protection = "native"', 'protection = "emulated"'))
    _, report = run_report(scenario, tmp_path / "E")
    protective = report["protective_orders"]
    assert protective["legs_by_mode"] == {"emulated": 2 * protective["brackets"]}
    take = protective["by_type"]["take_profit"]
    assert take["triggered"] == take["filled"] > 0 and report["open_orders"] == []
