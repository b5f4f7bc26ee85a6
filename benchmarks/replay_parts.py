"""Where a replay's time goes: the parts of `benchmarks/replay.py`'s runs measured apart, against the bare loop.

Over the quickstart's synthetic feed (generated once), in alternating rounds, the best round of each:
- `bare`: the bare loop of `benchmarks/replay.py` (orjson + two `SortedDict[float]`, messages in memory);
- `read + decode`: the feed's source alone, the capture read and every frame decoded to exact events;
- `feed actor`: the replay feed as a run drives it (batches of the quickstart's 500 ms windows, the clock, each
  batch handed over and waited for), into a mailbox a bare task empties: read, decode, batch, hand over;
- `book, a view per batch` and `book, a view per change`: the book actor's steps over those batches, already
  decoded, its views sent nowhere (sync, exact book, data-quality checks, the touch path, the views);
- the whole engine: at the quickstart's cadence, with a strategy on every book change, and the same with a strategy
  that never signals (no orders: the market's part of that run).
Each line gives µs per feed message and the share of the bare loop's rate it reaches (1 / that ratio is how many
bare loops the part costs). The last line, `ratio=R`, is the share the feed actor and the book (a view per batch)
reach together: the most a replay at the quickstart's cadence could reach if everything else cost nothing.

Run: python benchmarks/replay_parts.py [--rounds N]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from adapters.registry import recorded_market_data  # noqa: E402
from baseline import bare_loop  # noqa: E402
from engine.actors.book import BookActor, BookStats  # noqa: E402
from engine.actors.feed import ReplayFeed  # noqa: E402
from engine.app import scenario as scenario_file  # noqa: E402
from engine.app import session  # noqa: E402
from engine.messages import MarketBatch  # noqa: E402
from engine.model import compiled  # noqa: E402
from engine.replay.formats import read_capture  # noqa: E402
from engine.replay.source import RecordedFeed  # noqa: E402
from engine.runtime import ActorContext, BlockingEdge, Mailbox, VirtualClock  # noqa: E402
from replay import every_book_change, recorded  # noqa: E402


class _Sink:
    """An edge that takes everything and keeps nothing."""

    def send_nowait(self, msg: Any) -> bool:
        return True


def _timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _feed_actor(files: list[Path], codec: Any, batch_ns: int) -> float:
    async def main() -> float:
        clock = VirtualClock()
        book, inbox = Mailbox("book", quiescence=clock.quiescence), Mailbox("feed", quiescence=clock.quiescence)

        async def empty() -> None:
            while True:
                await book.receive_batch()

        feed = ReplayFeed(RecordedFeed(files, codec), clock, batch_ns, trio.Event())
        async with trio.open_nursery() as nursery:
            nursery.start_soon(empty)
            started = time.perf_counter()
            await feed.run(ActorContext("feed", clock, inbox, {"market": [BlockingEdge(book)]}))
            elapsed = time.perf_counter() - started
            nursery.cancel_scope.cancel()
        return elapsed
    return trio.run(main)


def _book_steps(batches: list[MarketBatch], instruments: list[str], depth: int, sync_factory: Any,
                every_change: bool) -> float:
    async def main() -> float:
        book = BookActor(instruments, depth, BookStats(), sync_factory, every_change=every_change, trade_views=False)
        ctx = ActorContext("book", VirtualClock(), None, {out: [_Sink()] for out in ("views", "status", "resync",
                                                                                      "alarms")})
        started = time.perf_counter()
        for batch in batches:
            await book.step([batch], ctx)
        return time.perf_counter() - started
    return trio.run(main)


def _windows(events: list[tuple[int, Any]], batch_ns: int) -> list[MarketBatch]:
    batches, pending, end = [], [], 0
    for ts, event in events:
        if pending and ts >= end:
            batches.append(MarketBatch(pending[-1].ts_ns, tuple(pending)))
            pending = []
        if not pending:
            end = (ts // batch_ns + 1) * batch_ns
        pending.append(event)
    batches.append(MarketBatch(pending[-1].ts_ns, tuple(pending)))
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = scenario_file.load(ROOT / "scenarios" / "quickstart.toml")
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        replayed, [files] = recorded(base, out_dir)
        [connection] = base.feed.connections
        carried = [base.instruments[symbol] for symbol in connection.instruments]
        codec, sync_factory = recorded_market_data(carried, carried[0].venue_symbol)
        frames = [raw for path in files for _, raw in read_capture(path)]
        batches = _windows(list(RecordedFeed(files, codec).events()), base.feed.batch_ns)
        every_change = every_book_change(replayed)
        [strategy] = every_change.strategies
        silent = dataclasses.replace(every_change, strategies=(dataclasses.replace(
            strategy, params=dataclasses.replace(strategy.params, slow=10**9)),))   # never warm: never signals
        instruments = list(base.feed.instruments)

        def engine(scenario: scenario_file.Scenario) -> Callable[[], float]:
            return lambda: trio.run(session.run, scenario, out_dir / "run").wall_s

        parts: dict[str, Callable[[], float]] = {
            "bare": lambda: len(frames) / bare_loop(frames),
            "read + decode": lambda: _timed(lambda: sum(1 for _ in RecordedFeed(files, codec).events())),
            "feed actor": lambda: _feed_actor(files, codec, base.feed.batch_ns),
            "book, a view per batch": lambda: _book_steps(batches, instruments, base.book_depth, sync_factory, False),
            "book, a view per change": lambda: _book_steps(batches, instruments, base.book_depth, sync_factory, True),
            "engine, cadence": engine(replayed),
            "engine, every change": engine(every_change),
            "engine, every change, no signals": engine(silent),
        }
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, part in parts.items():
                seconds = part()
                best[name] = min(best.get(name, seconds), seconds)
    print(f"quickstart feed: {len(frames)} messages, {len(batches)} windows of {base.feed.batch_ns // 1_000_000} ms; "
          f"best of {args.rounds} rounds; compiled parts in use: {', '.join(compiled.LOADED) or 'none'}")
    for name, seconds in best.items():
        print(f"  {name:34} {seconds / len(frames) * 1e6:6.2f} us/msg   {best['bare'] / seconds:5.3f} of the bare rate")
    print(f"ratio={best['bare'] / (best['feed actor'] + best['book, a view per batch']):.3f}")


if __name__ == "__main__":
    main()
