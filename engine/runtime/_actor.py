"""What an actor is given, and the receive-decide-send loop most actors are.

An actor is an async function of an `ActorContext`: its mailbox, its named outputs, the clock, a logger,
and a way to say it has started. The `Actor` base class is the usual shape: rebuild what must be rebuilt
in `start`, then take batches from the mailbox and hand them to `handle`, where the pure state object
decides and the outputs send.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Sequence

import trio

from ._mailbox import Mailbox


class InjectedFault(RuntimeError):
    """A crash a scenario asked for, to show that supervision recovers from it."""


class FaultPlan:
    """Crash named actors once, after they have handled a given number of messages.

    The plan outlives restarts, so each fault fires exactly once however often the actor is restarted.
    """

    def __init__(self, after_events: Mapping[str, int] | None = None):
        self._after = dict(after_events or {})
        self._seen: dict[str, int] = {}

    def tick(self, actor: str, n: int) -> None:
        threshold = self._after.get(actor)
        if threshold is None:
            return
        seen = self._seen.get(actor, 0) + n
        self._seen[actor] = seen
        if seen >= threshold:
            del self._after[actor]
            raise InjectedFault(f"fault injected into {actor!r} after {seen} events")


@dataclass
class ActorContext:
    """Everything an actor may touch: nothing else is shared between actors."""
    name: str
    clock: Any
    inbox: Mailbox | None = None
    outputs: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    faults: FaultPlan | None = None
    stop_requested: trio.Event = field(default_factory=trio.Event)
    _on_started: Callable[[], None] = lambda: None

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"engine.actor.{self.name}")

    def started(self) -> None:
        """Tell the supervisor this actor is ready; the next sibling starts only after this."""
        self._on_started()

    async def emit(self, output: str, msg: Any) -> None:
        """Send `msg` on every edge of the named output (each edge applies its own when-full policy)."""
        for edge in self.outputs.get(output, ()):
            await edge.send(msg)


class Actor:
    """A receive-decide-send loop. Subclasses implement `handle`, and `start` where they rebuild state."""

    batch_limit = 1024

    async def start(self, ctx: ActorContext) -> None:
        """Rebuild what a fresh incarnation needs before it takes messages (default: nothing)."""

    async def handle(self, batch: list[Any], ctx: ActorContext) -> None:
        raise NotImplementedError

    async def run(self, ctx: ActorContext) -> None:
        await self.start(ctx)
        ctx.started()
        inbox = ctx.inbox
        if inbox is None:
            raise RuntimeError(f"actor {ctx.name!r} has no mailbox to receive from")
        faults = ctx.faults
        while True:
            batch = await inbox.receive_batch(self.batch_limit)
            if faults is not None:
                faults.tick(ctx.name, len(batch))
            await self.handle(batch, ctx)


def actor_runner(factory: Callable[[], Actor]) -> Callable[[ActorContext], Awaitable[None]]:
    """A child's run function that builds a fresh actor (fresh state) for every start and restart."""
    async def run(ctx: ActorContext) -> None:
        await factory().run(ctx)
    return run
