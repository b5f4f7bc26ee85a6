"""Actors that journal first and send second: what they decide leaves them only once the journal holds it.

The order manager and the risk gate own truths a crash must not lose (orders; the decisions on signals). Each
of their batches is decided message by message into a `Staged` record: the journal rows (what came in, what
it made), then the messages to send and the timers to set. At the end of the batch the rows are written in one
group and, once they are durable, the messages go out. If a message crashes the actor, what it decided is
dropped with it (it is the dead letter) while everything decided before it in the batch is still journaled
and sent: a crash costs one message, never the work of its neighbours.
"""
from __future__ import annotations

from typing import Any

import trio

from engine.runtime import Actor, ActorContext, Batch


class Staged:
    """What one batch decided, held until the journal has it."""
    __slots__ = ("rows", "sends", "timers", "restore_deferred")

    def __init__(self) -> None:
        self.rows: list[tuple[int, Any]] = []      # (ts_ns, message) to journal, in order
        self.sends: list[tuple[str, Any]] = []     # (output, message)
        self.timers: list[Any] = []                # TimerFired, delivered to the actor's own inbox when due
        self.restore_deferred = False


class JournaledActor(Actor):
    """A receive-decide-send loop whose decisions are journaled before they are sent."""

    def __init__(self, journal: Any):
        self.journal = journal

    def decide(self, msg: Any, ctx: ActorContext, staged: Staged) -> None:
        """Decide what `msg` calls for, into `staged` (pure: no awaits)."""
        raise NotImplementedError

    async def handle(self, batch: Batch, ctx: ActorContext) -> None:
        staged = Staged()
        try:
            for msg in batch:
                self.decide(msg, ctx, staged)
        finally:
            await self.commit(staged, ctx)

    async def commit(self, staged: Staged, ctx: ActorContext) -> None:
        """Journal what `staged` holds, then send it, set its timers and take back deferred messages."""
        if staged.rows:
            with trio.CancelScope(shield=True):   # what was decided is journaled even by a stopping actor
                await self.journal.write(ctx.name, staged.rows)
        for output, msg in staged.sends:
            ctx.emit_on_return(output, (msg,))   # sent as the batch ends, in order
        clock, inbox = ctx.clock, ctx.inbox
        for timer in staged.timers:
            clock.deliver_at(timer.due_ns, inbox, timer)
        if staged.restore_deferred:
            inbox.restore_deferred()
        self.after_batch(ctx)

    def after_batch(self, ctx: ActorContext) -> None:
        """What to adjust once a batch is sent (default: nothing)."""
