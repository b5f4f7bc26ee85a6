"""Knowing when the whole actor tree has nothing left to do.

A replay is deterministic only if each recorded event, and each timer, is handled to the end by every
actor it reaches before the next one is delivered. Instead of guessing from the scheduler, every message
put into a mailbox counts as pending work until the receiving actor comes back for more (or crashes and
its supervisor has restarted it). When the count falls to zero the pipeline is quiescent.
"""
from __future__ import annotations

import trio


class Quiescence:
    """A count of messages sent and not yet handled, with a way to wait for it to reach zero."""

    __slots__ = ("pending", "_idle")

    def __init__(self) -> None:
        self.pending = 0
        self._idle: trio.Event | None = None

    def add(self, n: int = 1) -> None:
        self.pending += n

    def done(self, n: int = 1) -> None:
        if n:
            self.pending -= n
            if self.pending < 0:
                raise RuntimeError("more messages handled than sent: a mailbox released twice")
            if self.pending == 0 and self._idle is not None:
                self._idle.set()
                self._idle = None

    async def wait_idle(self) -> None:
        """Return once no message is pending anywhere (at once if none is)."""
        while self.pending:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()
        await trio.lowlevel.checkpoint_if_cancelled()
