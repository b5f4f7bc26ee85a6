"""The journal's file: its schema version, what is refused as not a journal, append-only in the database
itself (for any tool that opens it with raw sqlite3), and the owner lock across processes."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from engine.journal import SCHEMA_VERSION, Journal, JournalError, JournalLocked
from engine.messages import TradingMode, TradingStateChanged

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("journal_child.py")


def open_journal(path: Path) -> Journal:
    return Journal.open(path, sync="normal", scenario="test", started_ns=0)


@pytest.fixture
def path(tmp_path) -> Path:
    """A journal with three events, closed."""
    path = tmp_path / "journal.sqlite"

    async def write(journal: Journal) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            await journal.write("risk", [(k, TradingStateChanged(TradingMode.HALTED, k, "r")) for k in range(3)])
            nursery.cancel_scope.cancel()

    with open_journal(path) as journal:
        trio.run(write, journal)
    return path


def test_another_schema_version_is_refused_naming_the_file_and_both_versions(path):
    for stored in (SCHEMA_VERSION + 1, 0):
        with sqlite3.connect(path) as raw:
            raw.execute(f"PRAGMA user_version={stored}")
        with pytest.raises(JournalError) as refused:
            open_journal(path)
        assert str(path) in str(refused.value)
        assert f"version {stored}" in str(refused.value) and f"version {SCHEMA_VERSION}" in str(refused.value)
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    with open_journal(path) as journal:  # the refusals left the file and the lock as they were
        assert journal.last_seq == 3


def test_a_file_that_is_not_a_journal_is_refused_and_left_untouched(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to have a header " * 4)
    with pytest.raises(JournalError, match=f"{text}: not a journal"):
        open_journal(text)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE prices (p INTEGER)")
    with pytest.raises(JournalError, match=f"{other}: not a journal"):
        open_journal(other)
    with sqlite3.connect(other) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # not switched to WAL
    with pytest.raises(JournalError, match="cannot take the lock"):
        open_journal(tmp_path / "no such directory" / "journal.sqlite")


@pytest.mark.parametrize("statement", [
    "UPDATE events SET body = x'00' WHERE seq = 2",
    "DELETE FROM events WHERE seq = 3",
    "INSERT INTO events VALUES (2, 0, 1, 1, 'risk', 'TradingStateChanged', x'00')",
    "INSERT OR REPLACE INTO events VALUES (3, 0, 1, 1, 'risk', 'TradingStateChanged', x'00')",
    "UPDATE runs SET scenario = 'rewritten'",
    "DELETE FROM runs",
])
def test_the_database_refuses_to_rewrite_history(path, statement):
    with sqlite3.connect(path) as raw:
        before = raw.execute("SELECT * FROM events").fetchall()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
        raw.rollback()
        assert raw.execute("SELECT * FROM events").fetchall() == before
        raw.execute("INSERT INTO events VALUES (4, 0, 1, 1, 'risk', 'TradingStateChanged', x'00')")  # appending is fine


# ---------------------------------------------------------------- the owner lock

def start_holder(path: Path) -> tuple[subprocess.Popen, int]:
    holder = subprocess.Popen([sys.executable, str(CHILD), "hold", str(path)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = holder.stdout.readline().split()
    assert ready[:1] == ["ready"], ready
    return holder, int(ready[1])


def assert_locked_by(path: Path, pid: int) -> None:
    with pytest.raises(JournalLocked) as refused:
        open_journal(path)
    assert str(path) in str(refused.value) and f"pid {pid}" in str(refused.value)


def test_a_second_open_in_the_same_process_is_locked_out_until_the_first_closes(path):
    first = open_journal(path)
    assert_locked_by(path, os.getpid())
    first.close()
    with open_journal(path) as second:
        assert second.last_seq == 3


def test_another_process_is_locked_out_while_this_one_holds_the_journal(path):
    def try_open() -> str:
        return subprocess.run([sys.executable, str(CHILD), "try-open", str(path)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    with open_journal(path):
        refused = try_open()
        assert refused.startswith(f"JournalLocked: {path}: in use by pid {os.getpid()} ")
    assert try_open() == "opened"


def test_a_live_holder_process_locks_the_journal_until_it_closes(path):
    holder, pid = start_holder(path)
    try:
        assert_locked_by(path, pid)
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    with open_journal(path) as journal:
        assert len(journal.runs) == 3


def test_a_stopped_holder_still_holds_and_a_sigkilled_one_releases(path):
    holder, pid = start_holder(path)
    try:
        os.kill(pid, signal.SIGSTOP)  # not quite dead: it may wake up and write again
        assert_locked_by(path, pid)
    finally:
        holder.kill()  # SIGKILL: no close(), no clean-up; the kernel drops the lock
        assert holder.wait(timeout=30) == -signal.SIGKILL
    with open_journal(path) as journal:
        assert journal.last_seq == 3
