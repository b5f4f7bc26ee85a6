"""Replay throughput of the whole pipeline, against the bare work, in one run: at the quickstart's cadence and
with a strategy that sees every book change.

The quickstart scenario's synthetic feed is generated once; then, in alternating rounds so that the
machine's drift hits all three alike:
- the engine replays it through every actor (feed, book, strategy, risk, router, orders, venue, ledger),
  reading the gzip capture as a run does, as the quickstart is written (its strategy sees the market every
  500 ms of market time);
- the engine replays it again with a strategy that sees every book change (`every_book_change`);
- a bare loop takes the same messages, already read into memory, parses each with orjson and applies its
  levels to two sortedcontainers `SortedDict`s keyed by float price (the fastest bare form; the engine's
  books stay exact).
It prints the rates (the best round of each, the least disturbed by the machine, and the median), the
quickstart's ratio, and, as its last line, `ratio=R` = best every-change rate / best bare rate.

Run: python benchmarks/replay.py [--rounds N] [--scenario scenarios/quickstart.toml]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine.app import scenario as scenario_file  # noqa: E402
from engine.model import compiled  # noqa: E402
from engine.app import session  # noqa: E402
from baseline import bare_loop  # noqa: E402
from engine.replay.formats import read_capture  # noqa: E402
from engine.strategies.cadence import parse_cadence  # noqa: E402


def every_book_change(scenario: scenario_file.Scenario) -> scenario_file.Scenario:
    """The same run with strategies that see every book change (`cadence = "book"`): the book publishes a view
    per change, and the replay window is bounded by the order latency."""
    every_change = parse_cadence("book")
    return dataclasses.replace(scenario, strategies=tuple(dataclasses.replace(spec, cadence=every_change)
                                                          for spec in scenario.strategies))


def recorded(base: scenario_file.Scenario, out_dir: Path) -> tuple[scenario_file.Scenario, list[list[Path]]]:
    """`base` replaying its feed as recorded: the synthetic market written once into `out_dir` (one recording per
    feed connection), and those files."""
    files = session.feed_files(base, out_dir)
    connections = tuple(dataclasses.replace(connection, files=tuple(paths))
                        for connection, paths in zip(base.feed.connections, files))
    return dataclasses.replace(base, feed=dataclasses.replace(base.feed, kind="recording",
                                                              connections=connections)), files


def engine_replay(scenario: scenario_file.Scenario, out_dir: Path) -> tuple[float, dict[str, Any]]:
    outcome = trio.run(session.run, scenario, out_dir)
    return outcome.frames / outcome.wall_s, outcome.report


class _Passes(trio.abc.Instrument):
    """Counts trio's scheduler passes (each polls epoll once): a step of the replay costs about three."""

    def __init__(self) -> None:
        self.passes = 0

    def before_io_wait(self, timeout: float) -> None:
        self.passes += 1


def scheduler_passes(scenario: scenario_file.Scenario, out_dir: Path) -> int:
    """The passes one more run of `scenario` takes (untimed: the count costs a call a pass)."""
    counter = _Passes()
    trio.run(session.run, scenario, out_dir, instruments=[counter])
    return counter.passes


def _summary(name: str, best: float, rates: list[float]) -> str:
    return (f"{name}: {best:,.0f} msg/s best, {statistics.median(rates):,.0f} median of {len(rates)} "
            f"({', '.join(f'{r:,.0f}' for r in rates)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "quickstart.toml"))
    args = parser.parse_args()

    base = scenario_file.load(args.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        replayed, files = recorded(base, out_dir)
        runs = {"cadence": replayed, "every change": every_book_change(replayed)}
        frames = [raw for paths in files for path in paths for _, raw in read_capture(path)]
        rates: dict[str, list[float]] = {name: [] for name in (*runs, "bare")}
        reports: dict[str, dict[str, Any]] = {}
        for _ in range(args.rounds):
            for name, scenario in runs.items():
                rate, reports[name] = engine_replay(scenario, out_dir / name.replace(" ", "_"))
                rates[name].append(rate)
            rates["bare"].append(bare_loop(frames))
        passes = {name: scheduler_passes(scenario, out_dir / "passes") for name, scenario in runs.items()}
    best = {name: max(values) for name, values in rates.items()}
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"scenario {base.name}: {len(frames)} feed messages; compiled parts in use: "
          f"{', '.join(compiled.LOADED) or 'none (the Python forms)'}")
    for name, report in reports.items():
        runtime = report["runtime"]
        print(f"  {name}: {runtime['window_ms']} ms replay window, {runtime['batches']} batches, "
              f"{runtime['book_views']} views, {passes[name]} scheduler passes, {report['orders']} orders, "
              f"{report['fills']} fills")
    print(_summary("engine, quickstart cadence", best["cadence"], rates["cadence"]))
    print(_summary("engine, every book change", best["every change"], rates["every change"]))
    print(_summary("bare loop, orjson + SortedDict[float]", best["bare"], rates["bare"]))
    print(f"median ratios: cadence {median['cadence'] / median['bare']:.3f}, "
          f"every change {median['every change'] / median['bare']:.3f}")
    print(f"cadence ratio={best['cadence'] / best['bare']:.3f}")
    print(f"ratio={best['every change'] / best['bare']:.3f}")


if __name__ == "__main__":
    main()
