"""The journal's owner lock: one engine process at a time, released by the kernel when the holder dies.

An OS advisory lock (`flock`) on `<journal>.lock`, not a flag in the database: a flag outlives a process
killed with SIGKILL, and would have to be guessed stale; the kernel drops a `flock` as soon as the last
descriptor of its open file is closed, which process death does whatever the signal. The file holds the
holder's pid, so that the refusal can say who holds it. A second open in the same process is refused too:
`flock` locks belong to open files, not to processes.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


class LockHeld(Exception):
    """Another open file holds the lock; `pid` is the holder's, as it wrote it (None if not written yet)."""

    def __init__(self, lock_path: Path, pid: int | None):
        super().__init__(f"{lock_path} is held by pid {pid}")
        self.lock_path = lock_path
        self.pid = pid


_PID_WAIT_S = 0.5
"""How long a refused opener waits for a holder that has just taken the lock to write its pid."""


class OwnerLock:
    """The held lock on `path`; `release()` (idempotent) lets the next engine in."""

    def __init__(self, path: Path):
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            raise LockHeld(path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor of the open file drops the flock


def _holder_pid(fd: int) -> int | None:
    """The pid the holder wrote, waiting briefly if it took the lock a moment ago and has not written it yet."""
    deadline = time.monotonic() + _PID_WAIT_S
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
