"""What an actor is given, and the receive-decide-send loop most actors are.

An actor is an async function of an `ActorContext`: its mailbox, its named outputs, the clock, a logger,
and a way to say it has started. The `Actor` base class is the usual shape: rebuild what must be rebuilt
in `start`, then take batches from the mailbox and hand them to `handle`, where the pure state object
decides and the outputs send.

A crash must not take more with it than the message that caused it (OTP's rule). `handle` iterates its
batch, and the iteration knows which message is in hand; when `handle` raises, the message in hand is set
aside as a counted, logged dead letter and the rest of the batch goes back to the front of the mailbox for
the next incarnation. A stop (cancellation) is not the message's fault: the message in hand goes back too.

Every actor declares its wiring (`Ports`: its outputs with their message types, what its inbox accepts): an
`Actor` subclass as its `ports` class attribute, which `actor_runner` hands to its `ChildSpec`. Sending on an
output the actor did not declare raises, and every send is a trio checkpoint (a cancellation point and a
schedule point), whatever the edges behind the output do when their receiver is behind.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Generic, Iterator, Mapping, Sequence, TypeVar

import trio

from ._clock import Clock
from ._crashes import CrashPlan, InjectedCrash, InjectedFault
from ._mailbox import Edge, Mailbox
from ._ports import NO_PORTS, Ports, UndeclaredOutput
from ._quiescence import Quiescence


@dataclass
class ActorContext:
    """Everything an actor may touch: nothing else is shared between actors."""
    name: str
    clock: Clock
    inbox: Mailbox | None = None
    outputs: Mapping[str, Sequence[Edge]] = field(default_factory=dict)   # every declared output, wired or not
    crashes: CrashPlan | None = None
    stop_requested: trio.Event = field(default_factory=trio.Event)
    _on_started: Callable[[], None] = lambda: None
    _on_dead_letter: Callable[[Any, BaseException], None] = lambda msg, error: None
    _closing: list[tuple[Sequence[Edge], Sequence[Any]]] = field(default_factory=list)

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
        """Send `msg` on every edge of the named output (each edge applies its own when-full policy).

        A checkpoint, as trio's own sends are: a cancelled actor sends nothing, and the send is a schedule point
        even when no edge behind the output ever waits (conflating, latest-value and delayed edges), so that a
        busy sender cannot starve the tasks it feeds. `UndeclaredOutput` on an output the actor did not declare.
        """
        edges = self.outputs.get(output)
        if edges is None:
            raise self._undeclared(output, type(msg).__name__)
        await trio.lowlevel.checkpoint_if_cancelled()
        await _send_all(edges, (msg,))
        await trio.lowlevel.cancel_shielded_checkpoint()

    def emit_on_return(self, output: str, msgs: Sequence[Any]) -> None:
        """Send `msgs`, in order, on the named output as `handle` returns (or raises), after whatever it sent with
        `emit`: the sends an actor ends its batch with.

        The receive that follows at once is their schedule point (it always is one: it waits, or checkpoints when
        a message is already there), so a batch that ends by sending costs its actor one trip through the
        scheduler, not two; each send is still a checkpoint. `UndeclaredOutput` at once on an undeclared output.
        """
        edges = self.outputs.get(output)
        if edges is None:
            raise self._undeclared(output, f"{len(msgs)} message(s)")
        if msgs:
            self._closing.append((edges, msgs))

    async def send_closing(self) -> None:
        """Send what `emit_on_return` held, in order: a cancellation point first; the schedule point is the
        caller's next receive."""
        closing, self._closing = self._closing, []
        await trio.lowlevel.checkpoint_if_cancelled()
        for edges, msgs in closing:
            await _send_all(edges, msgs)

    async def emit_and_settle(self, output: str, msg: Any, quiescence: Quiescence,
                              on_sent: Callable[[], None] | None = None,
                              then: Sequence[Callable[[], None]] = ()) -> None:
        """Send `msg` on the named output, call `on_sent`, then wait until `quiescence` has nothing pending: that
        wait is the send's schedule point (a plain checkpoint when nothing is pending). The replay feed hands the
        pipeline a batch and waits for it to be handled, in one trip through the scheduler; `on_sent` records
        the handover before the wait, which a restart may cut short. `then` are deliveries made once the receiver
        has handled `msg` (`Mailbox.after_handled`): an output with one edge only."""
        edges = self.outputs.get(output)
        if edges is None:
            raise self._undeclared(output, type(msg).__name__)
        await trio.lowlevel.checkpoint_if_cancelled()
        await _send_all(edges, (msg,))
        if then:
            if len(edges) != 1:
                raise ValueError(f"actor {self.name!r}: deliveries after output {output!r} is handled need one "
                                 f"receiver, it has {len(edges)}")
            edges[0].mailbox.after_handled(list(then))
        if on_sent is not None:
            on_sent()
        if quiescence.pending:
            await quiescence.wait_idle()
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()

    def _undeclared(self, output: str, what: str) -> UndeclaredOutput:
        return UndeclaredOutput(f"actor {self.name!r} sent {what} on output {output!r}, which it does not declare "
                                f"(declared: {', '.join(sorted(self.outputs)) or 'none'})")

    async def emit_many(self, output: str, msgs: Sequence[Any]) -> None:
        """Send `msgs`, in order, on every edge of the named output: one send, and one checkpoint, for all of them.

        For an actor that makes several messages of one input (a book's view per change of a batch): each edge
        gets them in order, exactly as from one `emit` each, but the receivers are woken once, not once a message.
        """
        edges = self.outputs.get(output)
        if edges is None:
            raise self._undeclared(output, f"{len(msgs)} message(s)")
        await trio.lowlevel.checkpoint_if_cancelled()
        await _send_all(edges, msgs)
        await trio.lowlevel.cancel_shielded_checkpoint()


async def _send_all(edges: Sequence[Edge], msgs: Sequence[Any]) -> None:
    """Each of `msgs`, in order, on every edge: at once where the edge takes it, else as its when-full policy says
    (a full blocking edge waits). Every send of an `ActorContext` goes through here; its checkpoints are the
    caller's."""
    for msg in msgs:
        for edge in edges:
            if not edge.send_nowait(msg):
                await edge.send(msg)


class Batch:
    """The messages of one receive, iterated once and in order by `handle`, knowing which one is in hand.

    For an actor a crash rule names (`struck`), iterating it also takes each message in hand for the crash plan
    (a scheduled crash strikes there) and turns an `InjectedCrash` into the crash it stands for; any other
    actor's messages are counted for the plan once the batch is over (`taken`), not one by one.
    """
    __slots__ = ("msgs", "at", "_ctx", "_struck")

    def __init__(self, msgs: list[Any], ctx: ActorContext, struck: bool = True):
        self.msgs = msgs
        self.at = -1          # index of the message in hand; len(msgs) once every message was taken
        self._ctx = ctx
        self._struck = struck

    def __len__(self) -> int:
        return len(self.msgs)

    @property
    def taken(self) -> int:
        """How many messages were taken in hand (the one in hand included)."""
        return min(self.at + 1, len(self.msgs))

    def __iter__(self) -> Iterator[Any]:
        return self._struck_iter() if self._struck else self._plain_iter()

    def _plain_iter(self) -> Iterator[Any]:
        msgs = self.msgs
        for self.at, msg in enumerate(msgs):
            yield msg
        self.at = len(msgs)

    def _struck_iter(self) -> Iterator[Any]:
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
        inbox = self._ctx.inbox
        if inbox is not None:
            inbox.requeue(unhandled)


class Actor:
    """A receive-decide-send loop. Subclasses implement `handle`, and `start` where they rebuild state, and
    declare their `ports`."""

    ports: ClassVar[Ports] = NO_PORTS
    batch_limit = 1024

    async def start(self, ctx: ActorContext) -> None:
        """Rebuild what a fresh incarnation needs before it takes messages (default: nothing)."""

    async def handle(self, batch: Batch, ctx: ActorContext) -> None:
        """Handle every message of `batch`, iterating it once, in order."""
        raise NotImplementedError

    async def step(self, batch: Batch | list[Any], ctx: ActorContext) -> None:
        """`handle` one batch, then send what it ended with (`ActorContext.emit_on_return`), even when it raised:
        one turn of `run`, and what a test drives an actor with."""
        try:
            await self.handle(batch, ctx)  # type: ignore[arg-type]
        finally:
            if ctx._closing:
                await ctx.send_closing()

    async def begin(self, ctx: ActorContext) -> None:
        """`start`, then send what it ended with (a rebuilt order manager's first journaled decisions): what `run`
        does before its first receive, and what a test drives an actor's start with."""
        await self.start(ctx)
        if ctx._closing:
            await ctx.send_closing()

    async def run(self, ctx: ActorContext) -> None:
        await self.begin(ctx)
        ctx.started()
        inbox, crashes, name = ctx.inbox, ctx.crashes, ctx.name
        if inbox is None:
            raise RuntimeError(f"actor {name!r} has no mailbox to receive from")
        struck = crashes is not None and crashes.strikes(name)
        limit, receive, step = self.batch_limit, inbox.receive_batch, self.step
        taken = 0   # messages taken in hand, for a crash plan that names no rule for this actor: counted at the end
        try:
            while True:
                batch = Batch(await receive(limit), ctx, struck)
                try:
                    await step(batch, ctx)
                except BaseException as error:
                    batch.recover(error)
                    raise
                finally:
                    taken += batch.taken
        finally:
            if crashes is not None and not struck:
                crashes.count(name, taken)


A = TypeVar("A", bound=Actor)


class ActorRunner(Generic[A]):
    """A child's run function that builds a fresh actor (fresh state) for every start and restart, and carries
    the actor class's declared `ports` to its `ChildSpec`."""
    __slots__ = ("cls", "make", "ports")

    def __init__(self, cls: type[A], make: Callable[[], A] | None = None):
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TypeError(f"actor_runner: {cls!r} is not an Actor class (give the class, then its factory)")
        self.cls = cls
        self.make: Callable[[], A] = make if make is not None else cls
        self.ports = cls.ports

    async def __call__(self, ctx: ActorContext) -> None:
        actor = self.make()
        if not isinstance(actor, self.cls):
            raise TypeError(f"actor {ctx.name!r}: its factory made a {type(actor).__name__}, not a {self.cls.__name__}")
        await actor.run(ctx)


def actor_runner(cls: type[A], make: Callable[[], A] | None = None) -> ActorRunner[A]:
    """The run function of a child that is an `cls` actor, made afresh by `make` (default: `cls()`) on every
    start and restart; its ports are `cls.ports`."""
    return ActorRunner(cls, make)
