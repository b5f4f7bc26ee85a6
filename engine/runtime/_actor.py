"""What an actor is given, and the receive-decide-send loop most actors are.

An actor is an async function of an `ActorContext`: its mailbox, its named outputs, the clock, a logger,
and a way to say it has started. The `Actor` base class is the usual shape: rebuild what must be rebuilt
in `start`, then take batches from the mailbox and hand them to `handle`, where the pure state object
decides and the outputs send.

A crash must not take more with it than the message that caused it (OTP's rule). `handle` iterates its
batch, and the iteration knows which message is in hand; when `handle` raises, the message in hand is set
aside as a counted, logged dead letter and the rest of the batch goes back to the front of the mailbox for
the next incarnation. A stop (cancellation) is not the message's fault: the message in hand goes back too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator, Mapping, Sequence

import trio

from ._crashes import CrashPlan, InjectedCrash, InjectedFault
from ._mailbox import Mailbox


@dataclass
class ActorContext:
    """Everything an actor may touch: nothing else is shared between actors."""
    name: str
    clock: Any
    inbox: Mailbox | None = None
    outputs: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    crashes: CrashPlan | None = None
    stop_requested: trio.Event = field(default_factory=trio.Event)
    _on_started: Callable[[], None] = lambda: None
    _on_dead_letter: Callable[[Any, BaseException], None] = lambda msg, error: None

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"engine.actor.{self.name}")

    def started(self) -> None:
        """Tell the supervisor this actor is ready; the next sibling starts only after this."""
        self._on_started()

    def dead_letter(self, msg: Any, error: BaseException) -> None:
        """Set `msg` aside: it was in hand when the actor crashed with `error`. Counted and logged."""
        self._on_dead_letter(msg, error)

    async def emit(self, output: str, msg: Any) -> None:
        """Send `msg` on every edge of the named output (each edge applies its own when-full policy)."""
        for edge in self.outputs.get(output, ()):
            await edge.send(msg)


class Batch:
    """The messages of one receive, iterated once and in order by `handle`, knowing which one is in hand.

    Iterating it also takes each message in hand for the crash plan (a scheduled crash strikes there) and
    turns an `InjectedCrash` into the crash it stands for.
    """
    __slots__ = ("msgs", "at", "_ctx")

    def __init__(self, msgs: list[Any], ctx: ActorContext):
        self.msgs = msgs
        self.at = -1          # index of the message in hand; len(msgs) once every message was taken
        self._ctx = ctx

    def __len__(self) -> int:
        return len(self.msgs)

    def __iter__(self) -> Iterator[Any]:
        crashes, name = self._ctx.crashes, self._ctx.name
        for index, msg in enumerate(self.msgs):
            self.at = index
            if crashes is not None:
                crashes.on_message(name)
                if type(msg) is InjectedCrash:
                    crashes.fired(name)
                    raise InjectedFault(f"fault injected into {name!r} at {msg.due_ns} ns")
            yield msg
        self.at = len(self.msgs)

    def recover(self, error: BaseException) -> None:
        """After `handle` raised `error`: set the message in hand aside if it caused a crash, and put back what
        was not handled (the message in hand too, if the actor was only stopped)."""
        msgs, at = self.msgs, self.at
        if at >= len(msgs):
            return
        if isinstance(error, Exception) and at >= 0:
            if type(msgs[at]) is not InjectedCrash:
                self._ctx.dead_letter(msgs[at], error)
            unhandled = msgs[at + 1:]
        else:
            unhandled = msgs[max(at, 0):]
        assert self._ctx.inbox is not None  # a batch comes from the actor's inbox
        self._ctx.inbox.requeue(unhandled)


class Actor:
    """A receive-decide-send loop. Subclasses implement `handle`, and `start` where they rebuild state."""

    batch_limit = 1024

    async def start(self, ctx: ActorContext) -> None:
        """Rebuild what a fresh incarnation needs before it takes messages (default: nothing)."""

    async def handle(self, batch: Batch, ctx: ActorContext) -> None:
        """Handle every message of `batch`, iterating it once, in order."""
        raise NotImplementedError

    async def run(self, ctx: ActorContext) -> None:
        await self.start(ctx)
        ctx.started()
        inbox = ctx.inbox
        if inbox is None:
            raise RuntimeError(f"actor {ctx.name!r} has no mailbox to receive from")
        while True:
            batch = Batch(await inbox.receive_batch(self.batch_limit), ctx)
            try:
                await self.handle(batch, ctx)
            except BaseException as error:
                batch.recover(error)
                raise


def actor_runner(factory: Callable[[], Actor]) -> Callable[[ActorContext], Awaitable[None]]:
    """A child's run function that builds a fresh actor (fresh state) for every start and restart."""
    async def run(ctx: ActorContext) -> None:
        await factory().run(ctx)
    return run
