"""`python -m engine chaos SCENARIO --runs N --seed S`: break the engine on purpose, many times, and check it
against the venue, which holds the truth.

Run `i` draws its whole schedule from its own seed, `S + 1009 i`, alone, so `--runs 1 --seed <its seed>` replays
it (the stride keeps the runs of seeds 1, 2, 3... apart). A run is one of two kinds:

- **in process** (a replay on the virtual clock): crashes of random actors (every kind) at random moments (the
  N-th message an actor receives, or a time of the market), and the simulated venue's faults (5xx before and
  after carrying a request out, lost replies, rate limits, duplicated and reordered execution reports, a dropped
  order stream), at seeded rates;
- **killed**: the engine trades on paper against `python -m engine venue` in a process of its own (the scenario's
  market replayed at speed, the venue's faults on), kills itself with SIGKILL at a drawn journal write, and is
  started again on the same journal, which it resumes: rebuild, reconcile, trade on.

After each run the engine's account is held against the venue's: the position per instrument equals the venue's
net traded quantity; every venue fill is counted exactly once (by trade id); no client order id was sent twice
as a new order; no order is open at the venue that the engine thinks closed, or the reverse; every book was
live again within `[book] resync_within_ms` of each crash, and at the end. The command prints the faults by
kind and one line `runs=N faults=F kills=K reconciliations=R dead_letters=D violations=V`, and exits 1 naming
the seed of each run that broke an invariant.
"""
from __future__ import annotations

import dataclasses
import random
import shutil
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import trio

from adapters.simulated.faults import FaultKind
from engine.app import session
from engine.app.chaos_checks import RunResult, violations
from engine.app.scenario import FaultSpec, Scenario, SimFaultSpec

CRASHABLE = ("feed", "book", "strategy", "risk", "router", "orders", "venue", "ledger")
"""Every kind of actor a replay runs."""
IN_PROCESS_FAULTS = (FaultKind.SERVER_ERROR, FaultKind.LOST_REPLY, FaultKind.RATE_LIMIT,
                     FaultKind.DUPLICATE_REPORT, FaultKind.REORDERED_REPORTS, FaultKind.DROP_CONNECTION)
RATES = (Decimal("0.02"), Decimal("0.05"), Decimal("0.1"))
RUN_SEED_STRIDE = 1009
"""Run `i` of `--seed S` has the seed `S + 1009 i`: run 0 is `S` itself, and nearby `S` share no run."""
KILL_SHARE = 0.3
"""The share of runs, drawn, that kill the engine process and restart it from its journal."""


@dataclass
class Baseline:
    """What a run of the scenario without faults looks like: the scale the schedules are drawn on."""
    received: dict[str, int]
    events: int
    span_ns: int


# ---------------------------------------------------------------- the schedule

def draw_in_process(scenario: Scenario, baseline: Baseline, seed: int) -> tuple[Scenario, list[str]]:
    """The scenario with a seeded schedule of crashes and venue faults; a line per fault, to print."""
    rng = random.Random(seed)
    crashes, said = [], []
    for _ in range(rng.randint(1, 3)):
        actor = rng.choice(CRASHABLE)
        if rng.random() < 0.5:
            count = baseline.events if actor == "feed" else baseline.received.get(actor, 0)
            n = rng.randint(1, max(count, 1))
            crashes.append(FaultSpec(actor, after_events=n))
            said.append(f"crash {actor} at its message {n}")
        else:
            at = rng.randint(0, max(baseline.span_ns, 1))
            crashes.append(FaultSpec(actor, at_ns=at))
            said.append(f"crash {actor} at {at / 1e9:.3f} s")
    venue_faults = []
    for kind in IN_PROCESS_FAULTS:
        if rng.random() < 0.5:
            rate = rng.choice(RATES)
            executed = kind is FaultKind.SERVER_ERROR and rng.random() < 0.5
            venue_faults.append(SimFaultSpec(kind.value, rate_ppm=int(rate * 1_000_000), executed=executed,
                                             retry_after_s=1))
            said.append(f"venue {kind.value}{' (executed)' if executed else ''} at rate {rate}")
    venue = dataclasses.replace(scenario.venue, faults=tuple(venue_faults), seed=seed)
    return dataclasses.replace(scenario, faults=tuple(crashes), venue=venue), said


# ---------------------------------------------------------------- the runs

async def baseline(scenario: Scenario, out_dir: Path) -> Baseline:
    outcome = await session.run(dataclasses.replace(scenario, faults=()), out_dir)
    report = outcome.report
    span = (report["replay"]["last_ts_ns"] or 0) - (report["replay"]["first_ts_ns"] or 0)
    return Baseline(outcome.evidence.received, report["events"], span)


async def run_in_process(scenario: Scenario, base: Baseline, index: int, seed: int, out_dir: Path) -> RunResult:
    chaotic, said = draw_in_process(scenario, base, seed)
    result = RunResult(index, seed, "in-process")
    try:
        outcome = await session.run(chaotic, out_dir)
        report, evidence = outcome.report, outcome.evidence
    except session.RunFailed as failed:
        report, evidence = failed.report, failed.evidence
    (out_dir / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    result.faults.update({kind: n for kind, n in report.get("venue_faults", {}).items() if n})
    result.faults.update({f"crash_{actor}": n for actor, n in report["crashes_injected"].items() if n})
    result.reconciliations = evidence.reconciliations
    result.dead_letters = sum(report["dead_letters"].values())
    result.violations = violations(report, evidence, scenario.resync_within_ns)
    if result.violations:
        (out_dir / "schedule.txt").write_text("\n".join(said) + "\n")
    return result


def main(scenario: Scenario, runs: int, seed: int, out_dir: Path, kills: bool = True) -> int:
    """Run the chaos; print the faults by kind and the summary line; 0 when no run broke an invariant."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = trio.run(baseline, scenario, out_dir / "baseline")
    results = []
    for index in range(runs):
        run_seed = seed + RUN_SEED_STRIDE * index
        rng = random.Random(f"kill:{run_seed}")
        run_dir = out_dir / f"run-{run_seed}"
        shutil.rmtree(run_dir, ignore_errors=True)
        if kills and rng.random() < KILL_SHARE:
            from engine.app.chaos_kill import run_killed   # subprocesses and sockets: only for the runs that kill
            result = run_killed(scenario, index, run_seed, run_dir)
        else:
            result = trio.run(run_in_process, scenario, base, index, run_seed, run_dir)
        results.append(result)
        if result.violations:
            print(f"run {index} (seed {run_seed}, {result.kind}): {len(result.violations)} violation(s)")
            for line in result.violations:
                print(f"  {line}")
    faults: Counter[str] = Counter()
    for result in results:
        faults.update(result.faults)
    for kind, n in sorted(faults.items()):
        print(f"{kind:24} {n}")
    bad = [r for r in results if r.violations]
    print(f"runs={len(results)} faults={sum(faults.values())} kills={sum(r.kills for r in results)} "
          f"reconciliations={sum(r.reconciliations for r in results)} "
          f"dead_letters={sum(r.dead_letters for r in results)} violations={sum(len(r.violations) for r in results)}")
    if bad:
        print(f"violating runs, by seed: {' '.join(str(r.seed) for r in bad)}")
        return 1
    return 0
