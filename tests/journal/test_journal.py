"""The journal on real SQLite files: seqs, runs, group commit, subscribers, reads, cancellation, failures."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import trio
import trio.testing

from engine.journal import SCHEMA_VERSION, Journal, JournalError, RunInfo
from engine.messages import ExecType, ExecutionReport, Fill, JournalEntry, Liquidity, Side

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("journal_child.py")


def open_journal(path: Path, **kw) -> Journal:
    return Journal.open(path, **{"sync": "full", "scenario": "test", "started_ns": 1_000, **kw})


def report(n: int) -> ExecutionReport:
    return ExecutionReport("binance", f"r1-{n}", f"v{n}", ExecType.NEW, n, 0)


def fill(n: int) -> Fill:
    return Fill(f"r1-{n}", f"p{n}", "binance", "BTC/USDT", Side.BUY, 5, 100 + n, Decimal("0.0010"), "USDT",
                Liquidity.TAKER, n, 200)


def run_child(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHILD), *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def journal(path):
    with open_journal(path) as journal:
        yield journal


async def test_seqs_increase_across_concurrent_writers_and_name_what_each_wrote(journal):
    written: dict[int, tuple[str, int, object]] = {}

    async def actor(name: str, groups: list[int]) -> None:
        for size in groups:
            items = [(len(written) * 10 + k, report(k)) for k in range(size)]
            seqs = await journal.write(name, items)
            assert seqs == list(range(seqs[0], seqs[0] + size))  # one call's items are never interleaved
            written.update({seq: (name, ts, msg) for seq, (ts, msg) in zip(seqs, items)})

    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        async with trio.open_nursery() as actors:
            for k in range(5):
                actors.start_soon(actor, f"actor{k}", [1 + (k + j) % 4 for j in range(12)])
        entries = await journal.read()
        nursery.cancel_scope.cancel()

    assert sorted(written) == list(range(1, len(written) + 1))
    assert [e.seq for e in entries] == sorted(written)
    assert all((e.actor, e.ts_ns, e.msg) == written[e.seq] and e.run_id == journal.run_id for e in entries)


async def test_group_commit_puts_concurrent_writes_into_fewer_transactions(journal):
    async def actor(name: str) -> None:
        for n in range(20):
            await journal.write(name, [(n, report(n))])

    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        async with trio.open_nursery() as actors:
            for k in range(8):
                actors.start_soon(actor, f"actor{k}")
        nursery.cancel_scope.cancel()
    assert len(list(journal.entries())) == 160
    assert 0 < journal.commits < 160


async def test_resume_continues_the_seqs_and_starts_a_new_run(path):
    async def write(journal: Journal, n: int) -> list[int]:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            seqs = await journal.write("orders", [(k, report(k)) for k in range(n)])
            nursery.cancel_scope.cancel()
        return seqs

    with open_journal(path, scenario="first", started_ns=10) as first:
        assert (first.last_seq, first.runs) == (0, (RunInfo(first.run_id, 10, "first"),))
        assert await write(first, 3) == [1, 2, 3]
    with open_journal(path, scenario="second", started_ns=20) as second:
        assert second.last_seq == 3 and second.run_id > first.run_id
        assert second.runs == (RunInfo(first.run_id, 10, "first"), RunInfo(second.run_id, 20, "second"))
        assert await write(second, 2) == [4, 5]
        assert [(e.seq, e.run_id) for e in second.entries(after_seq=2)] == [
            (3, first.run_id), (4, second.run_id), (5, second.run_id)]


async def test_subscribers_get_their_kinds_once_durable_and_before_the_writer_wakes(journal):
    fills: list[JournalEntry] = []
    everything: list[JournalEntry] = []
    journal.subscribe([Fill], fills.append)
    journal.subscribe([Fill, ExecutionReport], everything.append)

    async def actor(name: str, offset: int) -> None:
        for n in range(offset, offset + 10):
            seqs = await journal.write(name, [(n, report(n)), (n, fill(n))])
            assert seqs[1] in {e.seq for e in fills}  # already delivered when write() returns
            assert seqs[0] not in {e.seq for e in fills}

    async with trio.open_nursery() as service:
        async with trio.open_nursery() as actors:
            actors.start_soon(actor, "a", 0)
            actors.start_soon(actor, "b", 100)
            await trio.testing.wait_all_tasks_blocked()
            assert fills == [] and everything == []  # queued, not durable: no service yet
            await service.start(journal.run)
        service.cancel_scope.cancel()

    assert fills == list(journal.entries(kinds=[Fill])) and len(fills) == 20
    assert everything == list(journal.entries()) and len(everything) == 40
    assert [e.seq for e in everything] == sorted(e.seq for e in everything)


async def test_read_filters_and_sees_a_cancelled_writers_rows(journal):
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        await journal.write("ledger", [(1, fill(1))])
        with trio.CancelScope() as scope:
            scope.cancel()  # the writer gives up waiting at once: its rows were appended all the same
            await journal.write("orders", [(2, report(2)), (3, fill(3))])
        assert scope.cancelled_caught
        orders = await journal.read(actors=["orders"])
        fills = await journal.read(kinds=[Fill], after_seq=1)
        nursery.cancel_scope.cancel()
    assert [(e.seq, e.msg) for e in orders] == [(2, report(2)), (3, fill(3))]
    assert [(e.seq, e.actor) for e in fills] == [(3, "orders")]
    with pytest.raises(ValueError, match="not message types"):
        await journal.read(kinds=[int])


async def test_the_service_cancelled_under_load_commits_every_row_it_accepted(journal):
    accepted: list[int] = []
    refused = 0

    async def actor(name: str) -> None:
        nonlocal refused
        for n in range(200):
            try:
                accepted.extend(await journal.write(name, [(n, report(n))] * 3))
            except JournalError as exc:
                assert "writer service has stopped" in str(exc)
                refused += 1
                return
            await trio.sleep(0)

    with trio.fail_after(30):
        async with trio.open_nursery() as actors:
            for k in range(6):
                actors.start_soon(actor, f"actor{k}")
            async with trio.open_nursery() as service:
                await service.start(journal.run)
                while journal.commits < 5:
                    await trio.sleep(0)
                service.cancel_scope.cancel()
    assert refused > 0, (journal.commits, len(accepted))  # the service did stop under load
    assert sorted(accepted) == [e.seq for e in journal.entries()] == list(range(1, len(accepted) + 1))


async def test_rows_queued_before_the_service_starts_are_committed_even_if_it_is_cancelled_at_once(journal):
    done: list[list[int]] = []

    async def actor() -> None:
        done.append(await journal.write("orders", [(1, report(1)), (2, report(2))]))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(actor)
        await trio.testing.wait_all_tasks_blocked()
        with trio.CancelScope() as scope:
            scope.cancel()
            await journal.run()
    assert done == [[1, 2]] and len(list(journal.entries())) == 2


async def test_close_commits_rows_no_service_was_left_to_commit(path):
    with open_journal(path) as journal:
        with trio.CancelScope() as scope:
            scope.cancel()
            await journal.write("orders", [(1, report(1))])
    with open_journal(path) as reopened:
        assert [(e.seq, e.msg) for e in reopened.entries()] == [(1, report(1))]


def test_a_commit_failure_reaches_the_writer_and_every_later_write(path):
    done = run_child("disk-full", str(path))
    assert done.returncode == 0, done.stderr
    said = {" ".join(line.split()[:2]): line for line in done.stdout.splitlines()}
    assert said.keys() == {"first write", "second write", "service raised", "third write"}
    assert said["first write"] == "first write durable"
    assert said["second write"].startswith(f"second write raised JournalError: {path}: commit of 50 events "
                                           f"(seq 2 to 51) failed")
    assert said["service raised"].startswith(f"service raised JournalError: {path}: commit of 50 events")
    assert said["third write"].startswith(f"third write raised JournalError: {path}: unusable after a failed commit")
    with open_journal(path) as reopened:
        assert [e.msg.cause for e in reopened.entries()] == ["fits"]


@pytest.mark.parametrize("earlier, kill_at, durable, acknowledged", [
    (0, 7, 9, 6),   # groups of 3: the third commit holds row 7; its writer never wakes
    (0, 1, 3, 0),
    (4, 6, 4 + 6, 3),  # rows of an earlier run do not count: N counts this process's rows
])
def test_kill_at_write_kills_right_after_the_commit_of_the_nth_row(path, earlier, kill_at, durable,
                                                                   acknowledged):
    if earlier:
        with open_journal(path) as journal:
            trio.run(_write_rows, journal, earlier)
    done = run_child("kill-at", str(path), str(kill_at))
    assert done.returncode == -9, done.stderr  # SIGKILL
    wrote = [int(s) for line in done.stdout.splitlines() if line.startswith("wrote") for s in line.split()[1:]]
    subscribed = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("subscribed")]
    assert wrote == subscribed == list(range(earlier + 1, earlier + acknowledged + 1))
    with open_journal(path) as journal:
        assert [e.seq for e in journal.entries()] == list(range(1, durable + 1))


async def _write_rows(journal: Journal, n: int) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        await journal.write("setup", [(k, report(k)) for k in range(n)])
        nursery.cancel_scope.cancel()


async def test_misuse_is_refused_clearly(journal, path):
    with pytest.raises(TypeError, match="ts_ns must be an int"):
        await journal.write("orders", [(1.5, report(1))])
    with pytest.raises(TypeError, match="not a message"):
        await journal.write("orders", [(1, report(1)), (2, object())])
    assert await journal.write("orders", []) == []
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        with pytest.raises(RuntimeError, match="already running"):
            await journal.run()
        with pytest.raises(JournalError, match="while the writer service runs"):
            journal.close()
        nursery.cancel_scope.cancel()
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(JournalError, match="closed"):
        await journal.write("orders", [(1, report(1))])
    with pytest.raises(ValueError, match="sync"):
        Journal.open(path, sync="sometimes", scenario="x", started_ns=0)
    with open_journal(path) as reopened:
        assert list(reopened.entries()) == []  # nothing of the refused writes was appended


def test_rows_carry_the_schema_version(path):
    with open_journal(path) as journal:
        trio.run(_write_rows, journal, 2)
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT DISTINCT schema_version, run_id FROM events").fetchall() == [(SCHEMA_VERSION, 1)]


async def test_a_subscriber_that_raises_ends_the_service_loudly_and_loses_no_row(journal):
    class Broken(Exception):
        pass

    def deliver(entry: JournalEntry) -> None:
        raise Broken(f"subscriber refused seq {entry.seq}")

    journal.subscribe([Fill], deliver)
    with pytest.raises(ExceptionGroup) as raised:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            assert await journal.write("ledger", [(1, report(1)), (2, fill(2))]) == [1, 2]
    assert raised.group_contains(Broken, match="refused seq 2")
    assert [e.seq for e in journal.entries()] == [1, 2]
    with pytest.raises(JournalError, match="writer service has stopped"):
        await journal.write("ledger", [(3, fill(3))])


async def test_an_inline_journal_commits_each_write_at_once_and_serves_subscribers_first(path):
    """A replay's journal commits in the trio thread: the same entries and seqs, durable and delivered to the
    subscribers before `write` returns, one transaction per write (there is no thread to gather them)."""
    with open_journal(path, sync="normal", inline=True) as journal:
        fills: list[JournalEntry] = []
        journal.subscribe([Fill], fills.append)
        with pytest.raises(JournalError, match="writer service is not running"):
            await journal.write("orders", [(1, fill(1))])
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            assert await journal.write("orders", [(1, report(1)), (1, fill(1))]) == [1, 2]
            assert [e.seq for e in fills] == [2]
            assert [e.seq for e in journal.entries()] == [1, 2]   # committed: another connection reads them
            with trio.CancelScope() as scope:
                scope.cancel()   # a cancelled writer's rows are committed all the same
                await journal.write("ledger", [(3, fill(3))])
            assert scope.cancelled_caught and [e.seq for e in fills] == [2, 3]
            assert [(e.seq, e.actor) for e in await journal.read(actors=["ledger"])] == [(3, "ledger")]
            nursery.cancel_scope.cancel()
        assert journal.commits == 2


async def test_write_nowait_commits_and_serves_subscribers_before_it_returns_on_an_inline_journal_only(path, tmp_path):
    """For a writer that sends what it wrote within one step of the scheduler (the ledger's valuation riding with a
    batch): no checkpoint, the same seqs, subscribers and durability as `write`."""
    with open_journal(path, sync="normal", inline=True) as journal:
        fills: list[JournalEntry] = []
        journal.subscribe([Fill], fills.append)
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            with trio.CancelScope() as scope:
                scope.cancel()
                assert journal.write_nowait("ledger", [(1, report(1)), (1, fill(1))]) == [1, 2]   # no checkpoint
            assert not scope.cancelled_caught
            assert [e.seq for e in fills] == [2] and [e.seq for e in journal.entries()] == [1, 2]
            assert await journal.write("orders", [(2, fill(2))]) == [3]   # seqs go on in the order of the calls
            assert journal.write_nowait("ledger", []) == []
            nursery.cancel_scope.cancel()
    with open_journal(tmp_path / "threaded.sqlite", sync="normal") as threaded:
        with pytest.raises(JournalError, match="needs an inline journal"):
            threaded.write_nowait("ledger", [(1, fill(1))])


def _committed_seqs(path: Path) -> list[int]:
    """What another process would find in the file: the committed rows only."""
    reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [seq for (seq,) in reader.execute("SELECT seq FROM events ORDER BY seq")]
    finally:
        reader.close()


async def test_a_deferred_journal_serves_writes_at_once_and_commits_before_reads_and_at_the_end(path):
    """A replay against the in-process venue: the subscribers and the seqs are as with an inline journal, but the
    rows stay in one open transaction until a read, `DEFERRED_ROWS` rows or the close commits them."""
    with open_journal(path, sync="normal", inline=True, deferred=True) as journal:
        fills: list[JournalEntry] = []
        journal.subscribe([Fill], fills.append)
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            assert await journal.write("orders", [(1, report(1)), (1, fill(1))]) == [1, 2]
            assert await journal.write("ledger", [(3, fill(3))]) == [3]
            assert [e.seq for e in fills] == [2, 3]       # delivered at once, as by any inline journal
            assert _committed_seqs(path) == [] and journal.commits == 0
            assert [e.seq for e in await journal.read(actors=["ledger"])] == [3]   # a read commits first
            assert _committed_seqs(path) == [1, 2, 3] and journal.commits == 1
            await journal.write("orders", [(4, report(4))])
            nursery.cancel_scope.cancel()
        assert _committed_seqs(path) == [1, 2, 3]
    assert _committed_seqs(path) == [1, 2, 3, 4] and journal.commits == 2   # the close commits the rest


async def test_a_deferred_journal_commits_every_so_many_rows(path, monkeypatch):
    monkeypatch.setattr("engine.journal._journal.DEFERRED_ROWS", 3)
    with open_journal(path, sync="normal", inline=True, deferred=True) as journal:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            for k in range(1, 8):
                await journal.write("orders", [(k, report(k))])
            assert _committed_seqs(path) == list(range(1, 7)) and journal.commits == 2
            nursery.cancel_scope.cancel()


def test_deferred_commits_are_refused_where_a_commit_must_be_durable(path):
    for kw in (dict(deferred=True), dict(deferred=True, inline=True, kill_at_write=1)):
        with pytest.raises(ValueError, match="deferred commits are for an inline journal"):
            open_journal(path, sync="normal", **kw)
