"""The README's examples say what the code does: its scenario example is the quickstart, every key it shows
read as the code reads it, and the commands it lists exist."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from engine.app import cli
from engine.app.scenario import load

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
