"""The README's examples say what the code does: its scenario example is the quickstart, every key it shows
read as the code reads it, and the commands it lists exist."""
from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from engine.app import cli
from engine.app.scenario import load
from engine.app.schema import ScenarioFile, VenueFile, json_schema

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_scenario_example_is_the_quickstart_with_every_optional_key_at_its_default(tmp_path):
    block = README.split("`scenarios/quickstart.toml`:", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    example = tmp_path / "quickstart.toml"
    example.write_text(block)
    shown, real = load(example), load(ROOT / "scenarios" / "quickstart.toml")
    [fault] = shown.faults
    assert (fault.actor, fault.after_events) == ("strategy", 1000)
    assert dataclasses.replace(shown, path=real.path, faults=()) == real


def test_every_command_the_readme_lists_is_one_the_engine_has(capsys):
    listed = set(re.findall(r"`python -m engine ([a-z][a-z-]*)", README))
    assert listed >= {"run", "chaos", "verify-feed", "record", "venue"}
    for command in sorted(listed):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0, command
        assert f"usage: python -m engine {command}" in capsys.readouterr().out


SCENARIO_SECTION = README.split("## Scenario files", 1)[1].split("\n## ", 1)[0]


def _table(schema: dict, node: dict) -> dict:
    """The object schema a property holds, through references, optional values and arrays of tables (a table of
    several kinds, `[[strategy]]`, holds the keys of every kind)."""
    while True:
        if "oneOf" in node:
            return {"properties": {key: value for option in node["oneOf"]
                                   for key, value in _table(schema, option).get("properties", {}).items()}}
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in node:
            node = next(option for option in node["anyOf"] if option.get("type") != "null")
        elif node.get("type") == "array":
            node = node["items"]
        else:
            return node


def _has_key(schema: dict, dotted: str) -> bool:
    node = schema
    for part in dotted.split("."):
        properties = _table(schema, node).get("properties", {})
        if part not in properties:
            return False
        node = properties[part]
    return True


def _documented_keys(toml: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in toml.items():
        out.append(prefix + key)
        tables = value if isinstance(value, list) and value and isinstance(value[0], dict) else [value]
        for table in tables:
            if isinstance(table, dict):
                out += _documented_keys(table, f"{prefix}{key}.")
    return out


def test_the_readme_documents_the_scenario_schema_and_only_keys_it_has():
    schema, venue_schema = json_schema(ScenarioFile), json_schema(VenueFile)
    block = README.split("`scenarios/quickstart.toml`:", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    shown = set(_documented_keys(tomllib.loads(block)))
    # the keys the prose names: `[table] key`, `[[table]] key`, `[table]`
    named = {f"{table}.{key}" if key else table
             for table, key in re.findall(r"`\[\[?([a-z_.]+)\]\]?(?: ([a-z_]+))?", SCENARIO_SECTION)}
    assert len(shown) > 50 and len(named) > 10
    assert [key for key in sorted(shown) if not _has_key(schema, key)] == []
    assert [key for key in sorted(named) if not (_has_key(schema, key) or _has_key(venue_schema, key))] == []
    assert set(schema["properties"]) | set(venue_schema["properties"]) <= {key.split(".")[0] for key in shown | named}


def test_the_readme_strategy_example_builds_a_strategy_the_schema_and_the_engine_take():
    from decimal import Decimal

    from engine.app.schema import _strategy_table
    from engine.messages import BookView, Side
    from engine.model.numbers import Instrument
    from engine.strategies.registry import StrategyKind, StrategySetup

    code = README.split("## Writing a strategy", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    kind = namespace["KIND"]
    assert isinstance(kind, StrategyKind) and kind.name == "breakout"
    table = _strategy_table(kind).model_validate({"kind": "breakout", "instruments": ["BTC/USDT"], "lookback": 3})
    inst = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, tick_size=1, lot_size=1)
    strategy = kind.build(StrategySetup("b", (inst,)), kind.params(lookback=table.lookback))
    signals = [strategy.on_view(BookView("BTC/USDT", ts, ts, ((mid - 1, 1),), ((mid + 1, 1),)))
               for ts, mid in enumerate([100, 101, 100, 105, 103, 90])]
    assert [None if s is None else (s.side, s.strength) for s in signals] == [
        None, None, None, (Side.BUY, Decimal(1)), None, (Side.SELL, Decimal(0))]


def test_the_layout_names_every_module_of_the_app_model_strategies_and_report_packages():
    # the layout is where a reader finds a module: issue 9 and 10 added sizing, quoting, data_quality, the
    # strategy API, the report's portfolio and quoting folds, the schema, the stop, the pace, the logs, observe/...
    layout = README.split("## Layout", 1)[1].split("```", 2)[1]
    words = set(re.findall(r"[A-Za-z_]+", layout))
    missing = [str(path.relative_to(ROOT)) for package in ("app", "model", "strategies", "report")
               for path in sorted((ROOT / "engine" / package).rglob("*.py"))
               if path.stem != "__init__" and path.stem not in words]
    assert missing == []
