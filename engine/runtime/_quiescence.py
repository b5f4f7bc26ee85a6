"""Knowing when the whole actor tree has nothing left to do.

A replay is deterministic only if each recorded event, and each timer, is handled to the end by every
actor it reaches before the next one is delivered. Instead of guessing from the scheduler, every message
put into a mailbox counts as pending work until the receiving actor comes back for more (or crashes and
its supervisor has restarted it). When the count falls to zero the pipeline is quiescent.
"""
from __future__ import annotations

from typing import Any

import trio


class Quiescence:
    """A count of messages sent and not yet handled, with a way to wait for it to reach zero.

    Senders add to `pending` directly on the hot path (a mailbox's append); `done` is the one way down.
    """

    __slots__ = ("pending", "_waiting")

    def __init__(self) -> None:
        self.pending = 0
        self._waiting: list[trio.lowlevel.Task] = []   # the tasks waiting for the count to reach zero

    def add(self, n: int = 1) -> None:
        self.pending += n

    def done(self, n: int = 1) -> None:
        if n:
            self.pending -= n
            if self.pending <= 0:
                if self.pending < 0:
                    raise RuntimeError("more messages handled than sent: a mailbox released twice")
                if self._waiting:
                    waiting, self._waiting = self._waiting, []
                    for task in waiting:
                        trio.lowlevel.reschedule(task)

    async def wait_idle(self) -> None:
        """Return once no message is pending anywhere (at once if none is)."""
        while self.pending:
            task = trio.lowlevel.current_task()
            self._waiting.append(task)

            def abort(_: Any, task: trio.lowlevel.Task = task) -> trio.lowlevel.Abort:
                self._waiting.remove(task)
                return trio.lowlevel.Abort.SUCCEEDED
            await trio.lowlevel.wait_task_rescheduled(abort)
        await trio.lowlevel.checkpoint_if_cancelled()
