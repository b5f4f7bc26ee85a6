"""The compiled parts are a performance setting only: a run gives the same files with them and without them.

`python -m engine run` is run twice on each scenario, as a user runs it: once as installed (the compiled parts in use
where they were built) and once with `ENGINE_PURE_PYTHON=1` (the Python forms). report.json, fills.csv and
report.html must be the same bytes.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import importlib.util

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPILED_PARTS = ("engine.model._numbers_compiled", "engine.replay._capture_compiled",
                  "adapters.binance._frames_compiled")
BUILT = [name for name in COMPILED_PARTS if importlib.util.find_spec(name) is not None]
SPOT_CAPTURE = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "spot" / "btcusdt_20240808.gz"


def run(scenario: str, out: Path, *, pure: bool) -> dict[str, bytes]:
    env = {**os.environ, "ENGINE_PURE_PYTHON": "1"} if pure else {k: v for k, v in os.environ.items()
                                                                   if k != "ENGINE_PURE_PYTHON"}
    done = subprocess.run([sys.executable, "-m", "engine", "run", scenario, "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "changed since it was compiled" not in done.stderr
    return {name: (out / name).read_bytes() for name in ("report.json", "fills.csv", "report.html")}


@pytest.mark.skipif(not BUILT, reason="no compiled part was built here (no C compiler at install): nothing to compare")
@pytest.mark.parametrize("scenario", [
    "scenarios/quickstart.toml",
    pytest.param("scenarios/binance_spot_recorded.toml", marks=pytest.mark.skipif(
        not SPOT_CAPTURE.is_file(), reason=f"the recorded capture is not here ({SPOT_CAPTURE})")),
])
def test_a_run_gives_the_same_files_with_the_compiled_parts_and_without_them(scenario, tmp_path):
    with_compiled = run(scenario, tmp_path / "compiled", pure=False)
    python_only = run(scenario, tmp_path / "python", pure=True)
    for name, content in with_compiled.items():
        assert content == python_only[name], f"{name} of {scenario} differs without the compiled parts"
    assert b'"fills"' in with_compiled["report.json"] and len(BUILT) == len(COMPILED_PARTS)
