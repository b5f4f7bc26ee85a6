"""The journal's SQLite file: schema, runs, batched appends and reads. Synchronous and trio-free: the trio
layer (`_journal.py`) appends from its writer thread and reads from worker threads.

One table of events, one of runs. `PRAGMA user_version` holds the schema version and `application_id` marks
the file as a journal, so that a file of another kind is refused before anything is written to it. The
database itself refuses UPDATE and DELETE of any row and an event whose seq is not past the last one
(triggers), so append-only holds even for a tool that opens the file with raw sqlite3.

Appends go through one connection, a transaction per batch (`BEGIN IMMEDIATE ... COMMIT`), in WAL mode:
`synchronous=FULL` makes every commit durable across a power loss (an fsync of the WAL per commit),
`NORMAL` across a process crash only. Reads open their own read-only connection, so they see committed rows
only and never block the writer.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from engine.messages import JournalEntry, fast_constructor

from ._codec import DECODERS
from ._errors import JournalError

SCHEMA_VERSION = 1

APPLICATION_ID = 0x54524A4E
"""'TRJN' in the SQLite header: this file is a journal of this engine."""

SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}

Row = tuple[int, int, int, int, str, str, bytes]
"""An events row as inserted: (seq, ts_ns, run_id, schema_version, actor, kind, body)."""

_SCHEMA = """
CREATE TABLE runs (
    run_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    started_ns INTEGER NOT NULL,
    scenario   TEXT NOT NULL
);
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    ts_ns          INTEGER NOT NULL,
    run_id         INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    body           BLOB NOT NULL
);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events cannot be updated'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events cannot be deleted'); END;
CREATE TRIGGER events_in_order BEFORE INSERT ON events
WHEN NEW.seq <= (SELECT max(seq) FROM events)
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: an event must come after the last one'); END;
CREATE TRIGGER runs_no_update BEFORE UPDATE ON runs
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: runs cannot be updated'); END;
CREATE TRIGGER runs_no_delete BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'the journal is append-only: runs cannot be deleted'); END;
"""

_INSERT = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"

_make_entry = fast_constructor(JournalEntry)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One engine run that opened the journal: its id (in client order ids), start time and scenario."""
    run_id: int
    started_ns: int
    scenario: str


class Store:
    """An open journal file: creates or checks its schema, then appends batches and reads rows back."""

    def __init__(self, path: Path, sync: str):
        self.path = path
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(f"{path}: cannot open: {exc}") from exc
        try:
            self._prepare(sync)
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self, sync: str) -> None:
        conn = self._conn
        try:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a journal ({exc})") from exc
        if application_id != APPLICATION_ID and (tables or version):
            raise JournalError(f"{self.path}: not a journal (an SQLite database of another application)")
        if application_id == APPLICATION_ID and version != SCHEMA_VERSION:
            raise JournalError(f"{self.path}: journal schema version {version}; this engine reads version "
                               f"{SCHEMA_VERSION} only")
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise JournalError(f"{self.path}: cannot use WAL mode (journal_mode stays {mode})")
            conn.execute(f"PRAGMA synchronous={SYNC_MODES[sync]}")
            if application_id != APPLICATION_ID:
                conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA application_id={APPLICATION_ID};"
                                   f"PRAGMA user_version={SCHEMA_VERSION};COMMIT;")
        except sqlite3.Error as exc:
            self._rollback()
            raise JournalError(f"{self.path}: cannot set up the journal: {exc}") from exc

    def start_run(self, started_ns: int, scenario: str) -> RunInfo:
        """Record a new run (durably, before any of its events) and return it."""
        try:
            run_id = self._conn.execute("INSERT INTO runs (started_ns, scenario) VALUES (?, ?)",
                                        (started_ns, scenario)).lastrowid
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot start a run: {exc}") from exc
        return RunInfo(run_id, started_ns, scenario)

    def runs(self) -> tuple[RunInfo, ...]:
        rows = self._conn.execute("SELECT run_id, started_ns, scenario FROM runs ORDER BY run_id").fetchall()
        return tuple(RunInfo(*row) for row in rows)

    def last_seq(self) -> int:
        return self._conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def append(self, rows: list[Row]) -> None:
        """Insert `rows` in one transaction; durable (as the sync mode says) when this returns."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise JournalError(f"{self.path}: commit of {len(rows)} events (seq {rows[0][0]} to {rows[-1][0]}) "
                               f"failed: {exc}") from exc

    def select(self, *, after_seq: int = 0, upto_seq: int | None = None, actors: Iterable[str] | None = None,
               kinds: Iterable[str] | None = None) -> Iterator[JournalEntry]:
        """Committed entries with `after_seq < seq <= upto_seq`, of those actors and kinds (all when None), in
        seq order, decoded; read through a read-only connection of their own."""
        sql = ["SELECT seq, ts_ns, run_id, actor, kind, body FROM events WHERE seq > ?"]
        params: list = [after_seq]
        if upto_seq is not None:
            sql.append("AND seq <= ?")
            params.append(upto_seq)
        for column, values in (("actor", actors), ("kind", kinds)):
            if values is not None:
                values = list(values)
                sql.append(f"AND {column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        sql.append("ORDER BY seq")
        try:
            reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open for reading: {exc}") from exc
        try:
            yield from _decoded(self.path, reader.execute(" ".join(sql), params))
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: read failed: {exc}") from exc
        finally:
            reader.close()

    def close(self) -> None:
        self._conn.close()

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the connection is broken; the failure being reported says why


def _decoded(path: Path, rows: Iterable[tuple[int, int, int, str, str, bytes]]) -> Iterator[JournalEntry]:
    """The rebuild's hot path: one look-up, one parse and one generated decoder per row, and nothing else."""
    make, decoders, loads = _make_entry, DECODERS, orjson.loads
    seq = kind = None
    try:
        for seq, ts_ns, run_id, actor, kind, body in rows:
            yield make(seq, ts_ns, run_id, actor, decoders[kind](loads(body)))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise JournalError(f"{path}: event seq {seq} ({kind}) cannot be decoded: {exc!r}") from exc
