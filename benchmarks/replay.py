"""Replay throughput of the whole pipeline, against the bare work, in one run.

The quickstart scenario's synthetic feed is generated once; then, in alternating rounds so that the
machine's drift hits both alike:
- the engine replays it through every actor (feed, book, strategy, risk, router, orders, venue, ledger),
  reading the gzip capture as a run does;
- a bare loop takes the same messages, already read into memory, parses each with orjson and applies its
  levels to two sortedcontainers `SortedDict`s keyed by float price (the fastest bare form; the engine's
  books stay exact).
It prints both rates (the best round of each, the least disturbed by the machine, and the median) and,
as its last line, `ratio=R` = best engine rate / best bare rate.

Run: python benchmarks/replay.py [--rounds N] [--scenario scenarios/quickstart.toml]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine.app import scenario as scenario_file  # noqa: E402
from engine.app import session  # noqa: E402
from baseline import bare_loop  # noqa: E402
from engine.replay.formats import read_capture  # noqa: E402



def engine_replay(scenario: scenario_file.Scenario, out_dir: Path) -> tuple[float, dict]:
    outcome = trio.run(session.run, scenario, out_dir)
    return outcome.frames / outcome.wall_s, outcome.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "quickstart.toml"))
    args = parser.parse_args()

    base = scenario_file.load(args.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        files = session.feed_files(base, out_dir)   # one recording per feed connection
        connections = tuple(dataclasses.replace(connection, files=tuple(paths))
                            for connection, paths in zip(base.feed.connections, files))
        recorded = dataclasses.replace(base, feed=dataclasses.replace(base.feed, kind="recording",
                                                                      connections=connections))
        frames = [raw for paths in files for path in paths for _, raw in read_capture(path)]
        engine_rates, bare_rates = [], []
        report = None
        for _ in range(args.rounds):
            rate, report = engine_replay(recorded, out_dir)
            engine_rates.append(rate)
            bare_rates.append(bare_loop(frames))
    engine_rate, bare_rate = max(engine_rates), max(bare_rates)
    print(f"scenario {base.name}: {len(frames)} feed messages, batch window {base.feed.batch_ns // 1_000_000} ms, "
          f"{report['runtime']['batches']} batches, {report['orders']} orders, {report['fills']} fills")
    for name, best, rates in (("engine replay, whole pipeline", engine_rate, engine_rates),
                              ("bare loop, orjson + SortedDict[float]", bare_rate, bare_rates)):
        print(f"{name}: {best:,.0f} msg/s best, {statistics.median(rates):,.0f} median of {args.rounds} "
              f"({', '.join(f'{r:,.0f}' for r in rates)})")
    print(f"median ratio {statistics.median(engine_rates) / statistics.median(bare_rates):.3f}")
    print(f"ratio={engine_rate / bare_rate:.3f}")


if __name__ == "__main__":
    main()
