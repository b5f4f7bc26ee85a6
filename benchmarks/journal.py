"""The journal: durable append rate, write-to-durable latency and rebuild time, against raw SQLite, in one run.

In alternating rounds, so that the machine's drift hits both alike:
- the engine: `Journal` with `sync="full"` under a steady stream, several trio tasks (think actors) each
  writing small groups of order events (ChildOrder, NEW, 1-3 TRADE reports per order) as fast as durability
  allows, the journal grouping them into transactions by itself;
- raw SQLite: the same rows (read back from the engine's file) inserted with `executemany`, one transaction
  per batch of the sizes the engine's commits had, into the same table with the same sync setting.
It prints durable appends per second (best round and median of each), the p99 time from a `write()` call to
its durability, then the time to rebuild state from a journal of a million events of the same mix, as a
restarted engine does: the order manager replays its journaled inputs into its order table
(`OrderManager.rebuild`) and the ledger folds the journaled fills and order updates (`Ledger.fold`), best of
up to 3 rebuilds, each checked against what was written. The rows are the order manager's own: its inputs
(child orders, execution reports) and what it derived from them (order updates, fills), made by running it.
Last line: `ratio=R` = best engine rate / best raw rate.

Run: python benchmarks/journal.py [--rounds N] [--writers W] [--group G] [--quick] [--dir DIR]
(`--quick`: a few thousand rows a round and a small rebuild, for a smoke test.)
"""
from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.journal import Journal  # noqa: E402
from engine.messages import (  # noqa: E402
    ChildOrder, ExecType, ExecutionReport, Fill, JournalEntry, Liquidity, OrderType, OrderUpdate, Side, TimeInForce,
)
from engine.model.ledger import FOLDED, Ledger  # noqa: E402
from engine.model.numbers import Instrument, to_decimal  # noqa: E402
from engine.model.order_manager import INPUTS, Decisions, ExecutionSettings, OrderManager  # noqa: E402
from engine.model.orders import OrderTable  # noqa: E402

INSTRUMENT = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=8, qty_decimals=8,
                        tick_size=1_000_000, lot_size=1_000)
PREFIX = "r1"
FEE_RATE = Decimal("0.001")


def order_inputs(orders: int, seed: int, first_ts_ns: int = 1_700_000_000_000_000_000) -> Iterator[tuple[int, Any]]:
    """`(ts_ns, msg)` of `orders` order lifecycles as the order manager receives them: a ChildOrder, its NEW
    report, then 1 to 3 TRADE reports filling it (client order ids `PREFIX-1-n`, as its table names them)."""
    rng = random.Random(seed)
    ts = first_ts_ns
    mid = 6_000_000_000_000  # 60,000.00000000
    for n in range(1, orders + 1):
        ts += rng.randrange(1_000_000, 50_000_000)
        mid += rng.randrange(-5, 6) * INSTRUMENT.tick_size
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = rng.randrange(1, 200) * INSTRUMENT.lot_size
        price = mid + side.sign * 2 * INSTRUMENT.tick_size
        client_id = f"{PREFIX}-1-{n}"
        yield ts, ChildOrder(f"p{n}", "binance", INSTRUMENT.symbol, side, qty, price, OrderType.LIMIT,
                             TimeInForce.IOC, ts, 2 * mid, child_id=f"p{n}-1", limit_price=price)
        ts += 300_000
        yield ts, ExecutionReport("binance", client_id, f"v{n}", ExecType.NEW, ts, 0)
        cuts = sorted(rng.sample(range(1, qty), min(rng.randrange(0, 3), qty - 1)))
        cum = 0
        for i, upto in enumerate([*cuts, qty]):
            ts += 100_000
            last_price = price - side.sign * rng.randrange(0, 3) * INSTRUMENT.tick_size
            fee = to_decimal(last_price * (upto - cum), 16) * FEE_RATE
            yield ts, ExecutionReport("binance", client_id, f"v{n}", ExecType.TRADE, ts, upto, upto - cum,
                                      last_price, fee, "USDT", Liquidity.TAKER, trade_id=f"t{n}-{i}")
            cum = upto


def manager() -> OrderManager:
    core = OrderManager(OrderTable(PREFIX), [INSTRUMENT.symbol], "binance", ExecutionSettings())
    core.new_run()
    core._ready[INSTRUMENT.symbol] = True   # noqa: SLF001 - the journal's rows need no venue to be made
    return core


def order_events(rows: int, seed: int) -> Iterator[tuple[int, Any]]:
    """About `rows` journal rows as the order manager writes them: each input it takes, then the order updates
    and fills it derived from it, by running one."""
    core = manager()
    made = 0
    for ts, msg in order_inputs(rows, seed):
        out = Decisions()
        core.handle(msg, ts, out)
        for item in ((ts, msg), *((ts, fact) for fact in out.journal)):
            yield item
            made += 1
            if made >= rows:
                return


def fold(journal: Journal) -> tuple[int, int, int]:
    """What a restarted engine rebuilds: the order manager's table from its journaled inputs, the ledger's
    positions and cash from the journaled fills and updates; (orders, fills, position)."""
    core = OrderManager(OrderTable(PREFIX), [INSTRUMENT.symbol], "binance", ExecutionSettings())
    core.rebuild(journal.entries(kinds=INPUTS), journal.run_id)
    ledger = Ledger({INSTRUMENT.symbol: INSTRUMENT}, stats=False)   # as the ledger actor rebuilds
    ledger.fold(journal.entries(kinds=FOLDED))
    if len(ledger.fills) != sum(len(order.trade_ids) for order in core.table):
        raise SystemExit("rebuild wrong: the ledger's fills and the order table's trades disagree")
    return len(core.table), len(ledger.fills), ledger.portfolio.position(INSTRUMENT.symbol)


# ---------------------------------------------------------------- appends

async def engine_appends(journal: Journal, streams: list[list[tuple[int, Any]]], group: int,
                         latencies: list[float]) -> list[int]:
    """Each stream written by its own task in groups of `group`; returns the rows of each commit."""
    sizes: list[int] = []
    commits_seen = [0]

    def count(entry: JournalEntry) -> None:
        if journal.commits != commits_seen[0]:
            commits_seen[0] = journal.commits
            sizes.append(0)
        sizes[-1] += 1

    journal.subscribe((ChildOrder, ExecutionReport, OrderUpdate, Fill), count)

    async def actor(name: str, items: list[tuple[int, Any]]) -> None:
        clock = time.perf_counter
        for i in range(0, len(items), group):
            t0 = clock()
            await journal.write(name, items[i:i + group])
            latencies.append(clock() - t0)

    async with trio.open_nursery() as service:
        await service.start(journal.run)
        async with trio.open_nursery() as actors:
            for k, items in enumerate(streams):
                actors.start_soon(actor, f"actor{k}", items)
        service.cancel_scope.cancel()
    return sizes


def engine_round(path: Path, streams: list[list[tuple[int, Any]]], group: int,
                 latencies: list[float]) -> tuple[float, list[int]]:
    with Journal.open(path, sync="full", scenario="benchmark", started_ns=0) as journal:
        t0 = time.perf_counter()
        sizes = trio.run(engine_appends, journal, streams, group, latencies)
        elapsed = time.perf_counter() - t0
    return sum(sizes) / elapsed, sizes


def raw_round(path: Path, rows: list[tuple], sizes: list[int]) -> float:
    """Rows per second of bare `executemany`, one transaction per batch of `sizes`, same table, sync=FULL."""
    Journal.open(path, sync="full", scenario="benchmark", started_ns=0).close()  # the same schema
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    insert = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
    t0 = time.perf_counter()
    start = 0
    for size in sizes:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, rows[start:start + size])
        conn.execute("COMMIT")
        start += size
    elapsed = time.perf_counter() - t0
    conn.close()
    return start / elapsed


def rows_of(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- rebuild

def build_journal(path: Path, events: int) -> tuple[int, int, int]:
    """A journal of `events` rows as the order manager writes them, in large groups; returns what a correct
    rebuild must find: (orders, fills, position)."""
    orders = fills = position = 0

    async def write_all(journal: Journal) -> None:
        nonlocal orders, fills, position
        async with trio.open_nursery() as service:
            await service.start(journal.run)
            chunk: list[tuple[int, Any]] = []
            for item in order_events(events, seed=11):
                msg = item[1]
                if type(msg) is ChildOrder:
                    orders += 1
                elif type(msg) is Fill:
                    fills += 1
                    position += msg.side.sign * msg.qty
                chunk.append(item)
                if len(chunk) == 10_000:
                    await journal.write("orders", chunk)
                    chunk = []
            await journal.write("orders", chunk)
            service.cancel_scope.cancel()

    with Journal.open(path, sync="normal", scenario="rebuild", started_ns=0) as journal:
        trio.run(write_all, journal)
    return orders, fills, position


def rebuild(path: Path) -> tuple[float, float, int, tuple[int, int, int]]:
    """(seconds to read + decode, seconds to read + decode + fold, entries, (orders, fills, position) of the
    state) of the journal at `path`: two passes, the first without the fold, to show what the fold costs."""
    with Journal.open(path, sync="normal", scenario="rebuild", started_ns=0) as journal:
        t0 = time.perf_counter()
        count = sum(1 for _ in journal.entries())
        t1 = time.perf_counter()
        state = fold(journal)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, count, state


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--writers", type=int, default=8, help="concurrent writing tasks (actors)")
    parser.add_argument("--group", type=int, default=8, help="events per write() call")
    parser.add_argument("--rows", type=int, default=200_000, help="events appended per round")
    parser.add_argument("--rebuild-events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a smoke test: few rows, one round, small rebuild")
    parser.add_argument("--dir", default=None, help="where the journal files go (default: the system temp dir)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.rows, args.rebuild_events = 1, 4_000, 20_000

    events = list(order_events(args.rows, seed=7))
    per_writer = -(-len(events) // args.writers)
    streams = [events[k * per_writer:(k + 1) * per_writer] for k in range(args.writers)]
    engine_rates, raw_rates, latencies, batches = [], [], [], []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp_dir = Path(tmp)
        for r in range(args.rounds):
            engine_path, raw_path = tmp_dir / f"engine{r}.sqlite", tmp_dir / f"raw{r}.sqlite"
            rate, sizes = engine_round(engine_path, streams, args.group, latencies)
            engine_rates.append(rate)
            batches.extend(sizes)
            raw_rates.append(raw_round(raw_path, rows_of(engine_path), sizes))
        rebuild_path = tmp_dir / "rebuild.sqlite"
        t0 = time.perf_counter()
        expected = build_journal(rebuild_path, args.rebuild_events)
        built_s = time.perf_counter() - t0
        read_times, total_times = [], []
        for _ in range(min(args.rounds, 3)):
            read_s, total_s, count, state = rebuild(rebuild_path)
            if state != expected:
                raise SystemExit(f"rebuild wrong: (orders, fills, position) {state}, written {expected}")
            read_times.append(read_s)
            total_times.append(total_s)

    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{len(events):,} order events a round, {args.writers} writers, {args.group} events per write(), "
          f"sync=full: {len(batches) // args.rounds:,} commits a round, {statistics.mean(batches):.1f} "
          f"events per commit (max {max(batches)})")
    for name, rates in (("engine journal, durable appends", engine_rates),
                        ("raw sqlite3 executemany, same batches", raw_rates)):
        print(f"{name}: {max(rates):,.0f} events/s best, {statistics.median(rates):,.0f} median of "
              f"{args.rounds} ({', '.join(f'{r:,.0f}' for r in rates)})")
    print(f"write() to durable: p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms over {len(latencies):,} writes")
    print(f"rebuild of {count:,} events ({expected[0]:,} orders, {expected[1]:,} fills; written in {built_s:.1f} s), "
          f"best of {len(total_times)}: read + decode {min(read_times):.2f} s, read + decode + the order "
          f"manager's and the ledger's folds {min(total_times):.2f} s (medians {statistics.median(read_times):.2f} s, "
          f"{statistics.median(total_times):.2f} s)")
    print(f"median ratio {statistics.median(engine_rates) / statistics.median(raw_rates):.3f}")
    print(f"ratio={max(engine_rates) / max(raw_rates):.3f}")


if __name__ == "__main__":
    main()
