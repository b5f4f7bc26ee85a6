"""Before and after: the replay benchmark's two runs timed in this tree and in another revision, alternating.

A change to the runtime moves the replay's time by a few per cent, less than this shared machine's drift over a
minute; only runs that alternate, each in a fresh process, can tell the two apart. For each round, for each tree
(this one, then a temporary git worktree of `--against`), a child process replays the quickstart's synthetic
feed as `benchmarks/replay.py` does (at its 500 ms cadence, then with a strategy on every book change) and times
the bare loop over the same messages. It prints, per run and tree, the wall time of one replay in ms (the best
round and the median), and the change of the medians. The other revision's compiled parts (setup.py) are built in
its worktree first, as `pip install` builds this tree's. With `--against python`, the other tree is this one with the
Python forms instead of the compiled ones (`ENGINE_PURE_PYTHON`).

Run: python benchmarks/compare.py --against REV|python [--rounds N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_BUILT = {key: value for key, value in os.environ.items() if key != "ENGINE_PURE_PYTHON"}
"""The environment of a tree timed as built: its compiled parts in use, whatever this shell asks for."""

# Self-contained rather than `replay.recorded`: it runs against the other revision's code, which may lack it.
CHILD = """
import dataclasses, sys, tempfile, trio
from pathlib import Path
sys.path[:0] = [".", "benchmarks"]
from baseline import bare_loop
from engine.app import scenario as scenario_file, session
from engine.replay.formats import read_capture
from replay import every_book_change
base = scenario_file.load("scenarios/quickstart.toml")
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp)
    files = session.feed_files(base, out)
    connections = tuple(dataclasses.replace(c, files=tuple(p)) for c, p in zip(base.feed.connections, files))
    recorded = dataclasses.replace(base, feed=dataclasses.replace(base.feed, kind="recording", connections=connections))
    for name, scenario in (("cadence", recorded), ("every_change", every_book_change(recorded))):
        print(name, trio.run(session.run, scenario, out / name).wall_s * 1e3)
    frames = [raw for paths in files for path in paths for _, raw in read_capture(path)]
    print("bare", len(frames) / bare_loop(frames) * 1e3)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--against", required=True, help="the revision to compare this tree with, or `python`")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    if args.against == "python":
        python = {**os.environ, "ENGINE_PURE_PYTHON": "1"}
        report(args.against, alternate({"this tree": (ROOT, AS_BUILT), "python": (ROOT, python)}, args.rounds))
        return
    known = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{args.against}^{{commit}}"],
                           capture_output=True, text=True)
    if known.returncode:
        parser.exit(2, f"compare.py: --against {args.against!r} is no commit of this repository\n")
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(other), args.against],
                       check=True)
        try:
            if (other / "setup.py").exists():
                subprocess.run([sys.executable, "setup.py", "--quiet", "build_ext", "--inplace"], cwd=other, check=True,
                               capture_output=True)
            times = alternate({"this tree": (ROOT, AS_BUILT), args.against: (other, AS_BUILT)}, args.rounds)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=True)
    report(args.against, times)


def alternate(trees: dict[str, tuple[Path, dict[str, str]]], rounds: int) -> dict[tuple[str, str], list[float]]:
    """The child's times in each tree (its directory and environment), the trees taking turns, `rounds` times."""
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for label, (tree, env) in trees.items():
            printed = subprocess.run([sys.executable, "-c", CHILD], cwd=tree, env=env, check=True, capture_output=True,
                                     text=True).stdout
            for line in printed.splitlines():
                name, ms = line.split()
                times.setdefault((name, label), []).append(float(ms))
    return times


def report(against: str, times: dict[tuple[str, str], list[float]]) -> None:
    for name in ("cadence", "every_change", "bare"):
        medians = {}
        for label in (against, "this tree"):
            values = times[(name, label)]
            medians[label] = statistics.median(values)
            print(f"{name:13} {label:12} best {min(values):7.1f} ms, median {medians[label]:7.1f} ms of {len(values)}")
        change = medians["this tree"] / medians[against] - 1
        print(f"{name:13} median change {change:+.1%}")


if __name__ == "__main__":
    main()
