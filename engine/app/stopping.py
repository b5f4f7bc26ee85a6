"""Stopping a command on request: SIGTERM, SIGINT (Ctrl-C) or the end of `--duration`.

A headless engine is stopped by its supervisor (systemd, a container runtime, a shell's Ctrl-C) with a signal,
and a stop that was asked for is no failure: the first signal asks the command to end the way it ends anyway
(a run stops taking signals, cancels what is open and writes its report, marked partial; a recording closes
its file), and the command exits 0. Whoever sends a second signal wants the process gone now: it ends at once,
cancelling whatever the stop was waiting for, with the exit code a shell gives a process a signal killed
(128 + the signal's number); what the journal committed stays committed, since SQLite's WAL keeps a commit
whole whether the process closes it or dies.

The signals are read in the trio thread (`trio.open_signal_receiver`); the actors never see them, and keep
taking their time from the run's clock.
"""
from __future__ import annotations

import signal
import sys
from typing import Any, Awaitable, Callable, TypeVar

import trio

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
T = TypeVar("T")


class StopRequest:
    """Whether the command was asked to stop early, and why (`stopped by SIGTERM`); asked once, never withdrawn."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._asked = trio.Event()

    @property
    def asked(self) -> bool:
        return self._asked.is_set()

    def ask(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self._asked.set()

    async def within(self, seconds: float) -> None:
        """Return after `seconds`, or as soon as a stop is asked for."""
        with trio.move_on_after(seconds):
            await self._asked.wait()


class Interrupted(Exception):
    """A second signal: the process must end at once, with the shell's code for a death by that signal."""

    def __init__(self, signum: int):
        self.signal = signal.Signals(signum)
        super().__init__(f"stopped at once by a second {self.signal.name}")

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signal)


async def _watch(stop: StopRequest, duration_s: float | None,
                 task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Turn the first signal (or the end of `duration_s`) into a stop request, and the second signal into
    `Interrupted`."""
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        task_status.started()
        async with trio.open_nursery() as nursery:
            if duration_s is not None:
                async def after() -> None:
                    await trio.sleep(duration_s)
                    stop.ask(f"stopped after --duration {duration_s:g} s")
                nursery.start_soon(after)
            seen = 0
            async for signum in signals:
                seen += 1
                name = signal.Signals(signum).name
                if seen > 1:
                    raise Interrupted(signum)
                stop.ask(f"stopped by {name}")
                print(f"engine: {name}: stopping ({name} again to stop at once)", file=sys.stderr, flush=True)


async def run_stoppable(work: Callable[[StopRequest], Awaitable[T]], duration_s: float | None = None) -> T:
    """Run `work(stop)` with the stop signals watched for it: it is handed the request to honour; a second signal
    cancels it and raises `Interrupted`. Any other error of `work` is raised as it was, not in a group."""
    stop = StopRequest()
    done: list[Any] = []
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(_watch, stop, duration_s)
            done.append(await work(stop))
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        leaves = flatten(group)
        interrupted = [leaf for leaf in leaves if isinstance(leaf, Interrupted)]
        if interrupted:
            raise interrupted[0] from None
        if len(leaves) == 1:
            raise leaves[0] from None
        raise
    return done[0]


def flatten(exc: BaseException) -> list[BaseException]:
    """The exceptions inside `exc`, however deep its groups nest."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in flatten(sub)]
    return [exc]
