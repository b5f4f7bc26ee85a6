"""The journal as the engine uses it: durable writes from many actors, group commit, subscribers, reads.

Actors call `write()` in the trio thread. Their items get their seqs at once and join the batch being
gathered; the writer service (`run()`) hands each gathered batch to a worker thread as one transaction, and
whatever actors append while that transaction commits gathers into the next one (group commit: under load a
commit carries many actors' writes, at the price of one fsync). After a commit, still in the trio thread,
the subscribers get the committed entries, then the writers of that batch wake with their seqs. So an entry
reaches a subscriber only once it is durable, and before its writer can act on it.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import trio

from engine.messages import JournalEntry

from ._codec import MESSAGE_TYPES, encode
from ._errors import JournalError, JournalLocked
from ._lock import LockHeld, OwnerLock
from ._store import SCHEMA_VERSION, SYNC_MODES, Row, RunInfo, Store


class _Batch:
    """Rows gathered for one transaction, their messages (for the subscribers), and the event their writers
    wait on; `error` is set when the commit failed."""

    __slots__ = ("rows", "msgs", "done", "error")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.msgs: list[Any] = []
        self.done = trio.Event()
        self.error: JournalError | None = None


class Journal:
    """An open journal: this process's run, its lock, and the writer service's queue."""

    def __init__(self, store: Store, lock: OwnerLock, run: RunInfo, kill_at_write: int | None):
        self.path = store.path
        self.run_id = run.run_id
        self.runs: tuple[RunInfo, ...] = store.runs()
        self.last_seq: int = store.last_seq()
        self.commits = 0
        """Transactions committed by this process: fewer than writes when group commit works."""
        self._store = store
        self._lock = lock
        self._kill_at_write = kill_at_write
        self._appended = 0                         # rows this process committed (for kill_at_write)
        self._next_seq = self.last_seq + 1
        self._gathering = _Batch()                 # what write() appends to
        self._committing: _Batch | None = None     # the batch in the worker thread
        self._wakeup = trio.Event()
        self._subscribers: list[tuple[frozenset[type], Callable[[JournalEntry], None]]] = []
        self._failure: JournalError | None = None
        self._running = False
        self._stopped = False                      # the writer service ran and returned: writes would wait forever
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike, *, sync: str, scenario: str, started_ns: int,
             kill_at_write: int | None = None) -> "Journal":
        """Create or resume the journal at `path`, lock it for this process and start a run.

        `sync="full"`: every commit is fsynced (durable across a power loss); `"normal"`: durable across a
        crash of the process. `kill_at_write=N` (chaos tests): SIGKILL this process right after the commit
        that makes its N-th appended row durable, before any writer of that commit wakes.
        Synchronous: call it before trio starts, or from a thread.
        """
        path = Path(path)
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {sorted(SYNC_MODES)}, got {sync!r}")
        if kill_at_write is not None and kill_at_write < 1:
            raise ValueError(f"kill_at_write counts rows from 1, got {kill_at_write}")
        lock_path = Path(f"{path}.lock")
        try:
            lock = OwnerLock(lock_path)
        except LockHeld as held:
            holder = "a process that has not written its pid yet" if held.pid is None else f"pid {held.pid}"
            raise JournalLocked(f"{path}: in use by {holder} (lock file {lock_path}); one engine at a time "
                                f"may hold a journal") from None
        except OSError as exc:
            raise JournalError(f"{path}: cannot take the lock {lock_path}: {exc}") from exc
        try:
            store = Store(path, sync)
            try:
                return cls(store, lock, store.start_run(started_ns, scenario), kill_at_write)
            except BaseException:
                store.close()
                raise
        except BaseException:
            lock.release()
            raise

    # ------------------------------------------------------------ the writer service

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit what actors write, batch after batch, until cancelled; then commit what is already queued
        and return. Raises JournalError once a commit failed (every waiting writer gets it too).

        Writes made before it starts wait for it; writes made after it returned are refused (they would
        wait forever) until it runs again.
        """
        self._check_usable()
        if self._running:
            raise RuntimeError(f"{self.path}: the journal's writer service is already running")
        self._running, self._stopped = True, False
        limiter = trio.CapacityLimiter(1)
        try:
            task_status.started()
            while True:
                self._wakeup = trio.Event()
                if not self._gathering.rows:
                    await self._wakeup.wait()
                    continue
                await trio.lowlevel.checkpoint_if_cancelled()  # under steady load, the only place to stop
                with trio.CancelScope(shield=True):  # a batch taken from the queue is always committed
                    await self._commit_next(limiter)
        finally:
            self._stopped = True  # refuse new writes, or a steady stream would keep the drain going forever
            try:
                with trio.CancelScope(shield=True):
                    while self._gathering.rows and self._failure is None:
                        await self._commit_next(limiter)
            finally:
                self._running = False

    async def _commit_next(self, limiter: trio.CapacityLimiter) -> None:
        batch = self._gathering
        self._gathering = _Batch()
        self._committing = batch
        try:
            await trio.to_thread.run_sync(self._append, batch, limiter=limiter)
        except Exception as exc:
            failure = self._fail(exc, batch)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            self._committing = None
        self._committed(batch)

    def _append(self, batch: _Batch) -> None:
        """Commit `batch` (in the worker thread); the chaos kill happens here, before anything else."""
        self._store.append(batch.rows)
        self._appended += len(batch.rows)
        if self._kill_at_write is not None and self._appended >= self._kill_at_write:
            os.kill(os.getpid(), signal.SIGKILL)

    def _committed(self, batch: _Batch) -> None:
        """In the trio thread: hand the durable entries to the subscribers, then wake the batch's writers."""
        self.commits += 1
        try:
            if self._subscribers:
                self._publish(batch)
        finally:
            batch.done.set()

    def _publish(self, batch: _Batch) -> None:
        run_id, subscribers = self.run_id, self._subscribers
        for (seq, ts_ns, _, _, actor, _, _), msg in zip(batch.rows, batch.msgs):
            kind, entry = type(msg), None
            for kinds, deliver in subscribers:
                if kind in kinds:
                    if entry is None:
                        entry = JournalEntry(seq, ts_ns, run_id, actor, msg)
                    deliver(entry)

    def _fail(self, exc: Exception, batch: _Batch) -> JournalError:
        """A commit failed: its writers, everything queued after it and every later write get the error."""
        failure = exc if isinstance(exc, JournalError) else JournalError(f"{self.path}: commit failed: {exc!r}")
        self._failure = failure
        for failed in (batch, self._gathering):
            failed.error = failure
            failed.done.set()
        return failure

    # ------------------------------------------------------------ actors' side

    async def write(self, actor: str, items: Sequence[tuple[int, Any]]) -> list[int]:
        """Append `(ts_ns, msg)` items as one group; return their seqs, in order, once they are durable.

        The seqs are taken now, before the first checkpoint, so the order of calls is the order of seqs and
        two writers' items never interleave. A caller cancelled while it waits still has its items committed.
        Raises JournalError if the commit failed (or an earlier one did), TypeError for an item the journal
        cannot hold (then nothing of the call is appended).
        """
        self._check_usable()
        if self._stopped:
            raise JournalError(f"{self.path}: the journal's writer service has stopped; nothing can be written")
        first = self._next_seq
        rows = []
        for offset, (ts_ns, msg) in enumerate(items):
            if type(ts_ns) is not int:
                raise TypeError(f"ts_ns must be an int of nanoseconds, got {ts_ns!r}")
            kind, body = encode(msg)
            rows.append((first + offset, ts_ns, self.run_id, SCHEMA_VERSION, actor, kind, body))
        if not rows:
            await trio.lowlevel.checkpoint()
            return []
        batch = self._gathering
        batch.rows += rows
        batch.msgs += [msg for _, msg in items]
        self._next_seq = first + len(rows)
        self._wakeup.set()
        await batch.done.wait()
        _raise_failure(batch)
        return list(range(first, first + len(rows)))

    def subscribe(self, kinds: Iterable[type], deliver: Callable[[JournalEntry], None]) -> None:
        """After each commit, in the trio thread and before that commit's writers wake, call `deliver` with
        every committed entry whose message type is in `kinds`, in seq order."""
        self._subscribers.append((_message_types(kinds), deliver))

    async def read(self, *, actors: Iterable[str] | None = None, kinds: Iterable[type] | None = None,
                   after_seq: int = 0) -> list[JournalEntry]:
        """Every entry of `actors` and `kinds` (all when None) with seq past `after_seq`, in seq order, up to
        the last write queued before this call: waits for those writes to commit, then reads off the trio
        thread. An actor restarted after a crash sees everything its predecessor appended."""
        self._check_usable()
        names = None if kinds is None else [kind.__name__ for kind in _message_types(kinds)]
        actors = None if actors is None else list(actors)
        upto_seq = self._next_seq - 1
        pending = self._gathering if self._gathering.rows else self._committing
        if pending is None:
            await trio.lowlevel.checkpoint()
        else:
            await pending.done.wait()
            _raise_failure(pending)
        return await trio.to_thread.run_sync(
            lambda: list(self._store.select(after_seq=after_seq, upto_seq=upto_seq, actors=actors, kinds=names)))

    def entries(self, *, actors: Iterable[str] | None = None, kinds: Iterable[type] | None = None,
                after_seq: int = 0) -> Iterator[JournalEntry]:
        """Every durable entry matching, in seq order, read lazily in the caller's thread (tools, the report,
        the rebuild); it blocks, so not from the trio thread while the writer service runs."""
        self._check_open()
        names = None if kinds is None else [kind.__name__ for kind in _message_types(kinds)]
        return self._store.select(after_seq=after_seq, actors=actors, kinds=names)

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Commit anything still queued (a write made while no writer service ran), release the database and
        the lock. Idempotent."""
        if self._closed:
            return
        if self._running:
            raise JournalError(f"{self.path}: close() while the writer service runs; cancel it first")
        try:
            if self._gathering.rows and self._failure is None:
                batch, self._gathering = self._gathering, _Batch()
                try:
                    self._append(batch)
                except JournalError as exc:
                    self._fail(exc, batch)
                    raise
                self._committed(batch)
        finally:
            self._closed = True
            self._store.close()
            self._lock.release()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed")

    def _check_usable(self) -> None:
        self._check_open()
        if self._failure is not None:
            raise JournalError(f"{self.path}: unusable after a failed commit ({self._failure})")


def _raise_failure(batch: _Batch) -> None:
    """The failure of `batch`'s commit, raised anew in each waiting task (one exception object must not be
    raised in several tasks at once: each would rewrite its traceback)."""
    if batch.error is not None:
        raise JournalError(str(batch.error)) from batch.error


def _message_types(kinds: Iterable[type]) -> frozenset[type]:
    kinds = frozenset(kinds)
    unknown = kinds - set(MESSAGE_TYPES)
    if unknown:
        raise ValueError(f"not message types of engine.messages: {sorted(map(repr, unknown))}")
    return kinds
