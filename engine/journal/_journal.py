"""The journal as the engine uses it: durable writes from many actors, group commit, subscribers, reads.

Actors call `write()` in the trio thread. Their items get their seqs at once and join the batch being
gathered. While the writer service (`run()`) runs, a dedicated writer thread takes whatever is gathered the
moment it is free, commits it as one transaction, and takes the next: what actors append while a commit is
in progress goes together into the next one (group commit: under load a commit carries many actors' writes
for the price of one fsync, and the trio thread's work on one batch overlaps the fsync of another). Each
commit is handed back to the trio thread in commit order: the subscribers get its entries, then its writers
wake with their seqs. So an entry reaches a subscriber only once it is durable, and before its writer can
act on it.

A journal opened `inline` has no writer thread: each write commits at once in the trio thread, then hands its
entries to the subscribers. That is for a replay on virtual time, where every actor waits for the commit
anyway (nothing moves until the pipeline is idle) and the hand-off to a thread and back costs several times
the commit itself; the entries, their seqs and what the subscribers see are the same.

An inline journal opened `deferred` also holds its writes' rows and commits them together, every
`DEFERRED_ROWS` rows, before every read and at the end: for a replay whose venue is the in-process simulated
one, where nothing outside the process ever sees what an actor sends (the venue's account dies with the
process, and such a journal is never resumed), so a commit per write buys nothing and costs the most of any
step. The entries, their seqs, their order and what the subscribers see are the same; a killed process leaves
the journal whole up to its last commit.
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import trio

from engine.messages import JournalEntry, fast_constructor

from ._codec import MESSAGE_TYPES, encode
from ._errors import JournalError, JournalLocked
from ._lock import LockHeld, OwnerLock
from ._store import SCHEMA_VERSION, SYNC_MODES, Row, RunInfo, Store


_make_entry = fast_constructor(JournalEntry)

DEFERRED_ROWS = 4096
"""A deferred journal commits at least this often (rows), so that no transaction grows without bound."""


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
    """An open journal: this process's run, its lock, the batch being gathered and the writer service."""

    def __init__(self, store: Store, lock: OwnerLock, run: RunInfo, kill_at_write: int | None, inline: bool = False,
                 deferred: bool = False):
        self.path = store.path
        self.run_id = run.run_id
        self.runs: tuple[RunInfo, ...] = store.runs()
        self.last_seq: int = store.last_seq()
        self.commits = 0
        """Transactions committed by this process: fewer than writes when group commit works."""
        self._store = store
        self._lock = lock
        self._kill_at_write = kill_at_write
        self._inline = inline                      # commit in the trio thread, no writer thread
        self._deferred = deferred                  # inline, with commits only now and then (see the docstring)
        self._uncommitted: list[Row] = []          # rows a deferred journal holds for its next commit
        self._appended = 0                         # rows this process committed (for kill_at_write)
        self._next_seq = self.last_seq + 1
        self._work = threading.Condition()         # guards `_gathering` and `_stopping` across the two threads
        self._gathering = _Batch()                 # what write() appends to and the writer thread takes
        self._stopping = False                     # the writer thread ends once nothing is gathered
        self._last_queued: _Batch | None = None    # the batch holding the last seq handed out
        self._subscribers: list[tuple[frozenset[type], Callable[[JournalEntry], None]]] = []
        self._failure: JournalError | None = None
        self._subscriber_error: Exception | None = None
        self._attention = trio.Event()             # the service must end: a failed commit or a subscriber raised
        self._running = False
        self._stopped = False                      # the writer service ran and returned: writes would wait forever
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike, *, sync: str, scenario: str, started_ns: int,
             kill_at_write: int | None = None, inline: bool = False, deferred: bool = False) -> "Journal":
        """Create or resume the journal at `path`, lock it for this process and start a run.

        `sync="full"`: every commit is fsynced (durable across a power loss); `"normal"`: durable across a
        crash of the process. `kill_at_write=N` (chaos tests): SIGKILL this process right after the commit
        that makes its N-th appended row durable, before any writer of that commit wakes. `inline`: commit each
        write in the trio thread, with no writer thread (a replay: see the module's docstring); `deferred` (with
        `inline`, never with `kill_at_write`): leave the writes uncommitted until a read, `DEFERRED_ROWS` rows or
        the end. Synchronous: call it before trio starts, or from a thread.
        """
        path = Path(path)
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {sorted(SYNC_MODES)}, got {sync!r}")
        if kill_at_write is not None and kill_at_write < 1:
            raise ValueError(f"kill_at_write counts rows from 1, got {kill_at_write}")
        if deferred and (not inline or kill_at_write is not None):
            raise ValueError("deferred commits are for an inline journal that no chaos run kills")
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
                return cls(store, lock, store.start_run(started_ns, scenario), kill_at_write, inline, deferred)
            except BaseException:
                store.close()
                raise
        except BaseException:
            lock.release()
            raise

    # ------------------------------------------------------------ the writer service

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the writer thread until cancelled; then let it commit what is already queued, and return.
        Raises JournalError once a commit failed (every waiting writer gets it too), and the exception of a
        subscriber that raised (the entries stay durable; the subscriber missed them).

        Writes made before it starts wait for it; writes made after it returned are refused (they would
        wait forever) until it runs again.
        """
        self._check_usable()
        if self._running:
            raise RuntimeError(f"{self.path}: the journal's writer service is already running")
        self._running, self._stopped, self._stopping = True, False, False
        self._attention = trio.Event()
        if self._inline:
            try:
                task_status.started()
                await self._attention.wait()
            finally:
                self._stopped, self._running = True, False
            if self._failure is not None:
                raise JournalError(str(self._failure)) from self._failure
            raise self._subscriber_error
        thread_done = trio.Event()
        writer = threading.Thread(target=self._writer_thread, args=(trio.lowlevel.current_trio_token(), thread_done),
                                  name=f"journal writer {self.path.name}", daemon=True)
        writer.start()
        try:
            task_status.started()
            await self._attention.wait()
        finally:
            self._stopped = True  # refuse new writes, or a steady stream would keep the thread going forever
            with self._work:
                self._stopping = True
                self._work.notify()
            with trio.CancelScope(shield=True):
                await thread_done.wait()  # every queued row committed and handed back
            self._running = False
        if self._failure is not None:
            raise JournalError(str(self._failure)) from self._failure
        raise self._subscriber_error

    def _writer_thread(self, token: trio.lowlevel.TrioToken, done: trio.Event) -> None:
        """The writer thread: commit the gathered batch, hand it to the trio thread, take the next."""
        batch = None
        try:
            while (batch := self._take_batch()) is not None:
                self._append(batch)
                token.run_sync_soon(self._committed, batch)
        except Exception as exc:
            token.run_sync_soon(self._fail, exc, batch)
        finally:
            token.run_sync_soon(done.set)

    def _take_batch(self) -> _Batch | None:
        """The gathered batch, once there is one; None when the service stops and nothing is left."""
        with self._work:
            while not self._gathering.rows and not self._stopping:
                self._work.wait()
            if not self._gathering.rows:
                return None
            batch, self._gathering = self._gathering, _Batch()
            return batch

    def _append(self, batch: _Batch) -> None:
        """Commit `batch` (in the writer thread; deferred: append it to the open transaction); the chaos kill
        happens here, before anything else."""
        if self._deferred:
            self._uncommitted += batch.rows
            if len(self._uncommitted) >= DEFERRED_ROWS:
                self._commit_deferred()
            return
        self._store.append(batch.rows)
        self._appended += len(batch.rows)
        if self._kill_at_write is not None and self._appended >= self._kill_at_write:
            os.kill(os.getpid(), signal.SIGKILL)

    def _commit_deferred(self) -> None:
        """Commit, in one transaction, the rows a deferred journal has held since its last commit."""
        if self._uncommitted:
            rows, self._uncommitted = self._uncommitted, []
            self._store.append(rows)
            self.commits += 1

    def _committed(self, batch: _Batch) -> None:
        """In the trio thread: hand the durable entries to the subscribers, then wake the batch's writers."""
        if not self._deferred:
            self.commits += 1
        try:
            if self._subscribers:
                self._publish(batch)
        except Exception as exc:  # raising here would crash trio itself: the service raises it instead
            if self._subscriber_error is None:
                self._subscriber_error = exc
            self._attention.set()
        finally:
            batch.done.set()

    def _publish(self, batch: _Batch) -> None:
        run_id, subscribers = self.run_id, self._subscribers
        for (seq, ts_ns, _, _, actor, _, _), msg in zip(batch.rows, batch.msgs):
            kind, entry = type(msg), None
            for kinds, deliver in subscribers:
                if kind in kinds:
                    if entry is None:
                        entry = _make_entry(seq, ts_ns, run_id, actor, msg)
                    deliver(entry)

    def _fail(self, exc: Exception, batch: _Batch | None) -> None:
        """In the trio thread: a commit failed. Its writers, everything queued after it and every later write
        get the error, and the service ends."""
        failure = exc if isinstance(exc, JournalError) else JournalError(f"{self.path}: commit failed: {exc!r}")
        self._failure = failure
        with self._work:
            queued, self._gathering = self._gathering, _Batch()
        for failed in (batch, queued):
            if failed is not None:
                failed.error = failure
                failed.done.set()
        self._attention.set()

    # ------------------------------------------------------------ actors' side

    async def write(self, actor: str, items: Sequence[tuple[int, Any]]) -> list[int]:
        """Append `(ts_ns, msg)` items as one group; return their seqs, in order, once they are durable.

        The seqs are taken now, before the first checkpoint, so the order of calls is the order of seqs and
        two writers' items never interleave. A caller cancelled while it waits still has its items committed.
        Raises JournalError if the commit failed (or an earlier one did), TypeError for an item the journal
        cannot hold (then nothing of the call is appended).
        """
        rows, msgs = self._rows(actor, items)
        if not rows:
            await trio.lowlevel.checkpoint()
            return []
        if self._inline:
            self._commit_inline(rows, msgs)
            await trio.lowlevel.checkpoint()
            return [row[0] for row in rows]
        with self._work:
            batch = self._gathering
            if not batch.rows:
                self._work.notify()  # the writer thread waits only for an empty batch to fill
            batch.rows += rows
            batch.msgs += msgs
        self._next_seq = rows[-1][0] + 1
        self._last_queued = batch
        await batch.done.wait()
        _raise_failure(batch)
        return [row[0] for row in rows]

    @property
    def inline(self) -> bool:
        """Whether a write commits at once in the trio thread (`write_nowait` can be used)."""
        return self._inline

    def write_nowait(self, actor: str, items: Sequence[tuple[int, Any]]) -> list[int]:
        """`write` without its checkpoint, for an inline journal only: committed (and handed to the subscribers) when
        it returns. For a writer that must send what it wrote within the same step of the scheduler (the ledger's
        valuation riding with a batch, see `engine.runtime.VirtualClock.take_riders`); its next receive is its
        schedule point."""
        if not self._inline:
            raise JournalError(f"{self.path}: write_nowait needs an inline journal; this one commits in a thread")
        rows, msgs = self._rows(actor, items)
        if rows:
            self._commit_inline(rows, msgs)
        return [row[0] for row in rows]

    def _rows(self, actor: str, items: Sequence[tuple[int, Any]]) -> tuple[list[Row], list[Any]]:
        """The rows of a write (seqs from the next one on), checked; nothing is taken yet."""
        self._check_usable()
        if self._stopped:
            raise JournalError(f"{self.path}: the journal's writer service has stopped; nothing can be written")
        run_id = self.run_id
        rows = [(seq, ts_ns, run_id, SCHEMA_VERSION, actor, *encode(msg))
                for seq, (ts_ns, msg) in enumerate(items, self._next_seq)]
        for row in rows:
            if type(row[1]) is not int:
                raise TypeError(f"ts_ns must be an int of nanoseconds, got {row[1]!r}")
        return rows, [msg for _, msg in items]

    def _commit_inline(self, rows: list[Row], msgs: list[Any]) -> None:
        """Commit `rows` now, in the trio thread, and hand them to the subscribers."""
        if not self._running:
            raise JournalError(f"{self.path}: the journal's writer service is not running; nothing can be written")
        batch = _Batch()
        batch.rows, batch.msgs = rows, msgs
        self._next_seq = rows[-1][0] + 1
        self._last_queued = batch
        try:
            self._append(batch)
        except Exception as exc:
            self._fail(exc, batch)
        else:
            self._committed(batch)
        _raise_failure(batch)

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
        pending = self._last_queued  # commits happen in order: once it is done, so is everything before it
        if pending is None:
            await trio.lowlevel.checkpoint()
        else:
            await pending.done.wait()
            _raise_failure(pending)
        self._commit_deferred_for_reading()
        return await trio.to_thread.run_sync(
            lambda: list(self._store.select(after_seq=after_seq, upto_seq=upto_seq, actors=actors, kinds=names)))

    def entries(self, *, actors: Iterable[str] | None = None, kinds: Iterable[type] | None = None,
                after_seq: int = 0) -> Iterator[JournalEntry]:
        """Every durable entry matching, in seq order, read lazily in the caller's thread (tools, the report,
        the rebuild); it blocks, so not from the trio thread while the writer service runs."""
        self._check_open()
        self._commit_deferred_for_reading()
        names = None if kinds is None else [kind.__name__ for kind in _message_types(kinds)]
        return self._store.select(after_seq=after_seq, actors=actors, kinds=names)

    def _commit_deferred_for_reading(self) -> None:
        """A read sees committed rows only: a deferred journal commits first (unless a commit failed: then
        nothing of it is left to commit)."""
        if self._deferred and self._failure is None:
            try:
                self._commit_deferred()
            except JournalError as exc:
                self._failure = exc   # the open transaction was rolled back: no later write may pretend otherwise
                raise

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Commit anything still queued (a write made while no writer service ran; its subscribers are not
        called), release the database and the lock. Idempotent."""
        if self._closed:
            return
        if self._running:
            raise JournalError(f"{self.path}: close() while the writer service runs; cancel it first")
        try:
            if self._gathering.rows and self._failure is None:
                batch, self._gathering = self._gathering, _Batch()
                self._append(batch)  # no trio run is left to serve subscribers: only the rows count now
                self.commits += 1
                batch.done.set()
            if self._deferred and self._failure is None:
                self._commit_deferred()
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
