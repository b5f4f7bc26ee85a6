"""The benchmark scripts still run and end with their `ratio=R` line (their figures are not asserted:
timing lives in benchmarks/, not in tests)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "usdm" / "btcusdt_20240808.gz"


@pytest.mark.parametrize("script, args", [
    ("replay.py", ["--rounds", "1"]),
    pytest.param("feed.py", ["--rounds", "1"],
                 marks=pytest.mark.skipif(not CAPTURE.is_file(), reason=f"capture not found at {CAPTURE}")),
    ("journal.py", ["--quick"]),
    ("resync.py", ["--rounds", "1", "--synthetic-s", "60"]),
])
def test_benchmark_prints_its_ratio_last(script, args):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"ratio=\d+\.\d{3}", done.stdout.strip().splitlines()[-1])
