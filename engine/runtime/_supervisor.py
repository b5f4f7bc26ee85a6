"""Supervisors with OTP's semantics, on trio.

A supervisor starts its children in order, each only after the previous one said it started, and watches
them. When a child exits it decides, by the child's restart type, whether that needs a restart at all:

- permanent children are always restarted, transient ones only after a crash, temporary ones never;

and, by the supervisor's strategy, what a restart covers:

- one_for_one restarts only that child; one_for_all stops every other child (in reverse start order) and
  starts them all again in order; rest_for_one does the same for the children started after it.

Restarts are counted across the supervisor: more than `max_restarts` within `period_s` of the injected
clock's monotonic time (virtual in a replay, monotonic live: a wall-clock step must not forgive or
provoke a give-up) and the supervisor gives up: it stops its children in reverse order and fails with
`SupervisorGaveUp`, which its own parent sees as the crash of a child. A child that fails before it says it
started is a crash like any other. Cancellation (`trio.Cancelled`) is never a crash: cancelling a
supervisor's parent restarts nothing. A stop first asks the child to stop (supervisors then stop their own
children in reverse order) and cancels it at once if it is a plain actor; either way the supervisor waits
at most the child's `shutdown_s` for it to finish, records an overrun, cancels it, and waits for it to
end: two incarnations never share a mailbox. An error a child raises while it is being stopped is recorded
(`shutdown_error`), never lost.

The message an actor held when it crashed is set aside as a dead letter (as the message that killed an OTP
process is); its mailbox, owned here and not by the actor, keeps the rest of its batch and everything
after it for the next incarnation, which also gets every latest value again and the messages the crashed
one had deferred.
"""
from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Sequence

import trio

from ._actor import ActorContext, ActorRunner
from ._clock import Clock
from ._crashes import CrashPlan
from ._lifecycle import Lifecycle, LifecycleKind
from ._mailbox import Edge, Mailbox
from ._ports import NO_PORTS, Ports, check_wiring
from ._quiescence import Quiescence


class Strategy(enum.Enum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class Restart(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class SupervisorGaveUp(Exception):
    """Too many restarts in too short a time: the supervisor stopped and leaves the decision to its parent."""

    def __init__(self, supervisor: str, child: str, cause: BaseException | None, restarts: int, period_s: float):
        self.supervisor = supervisor
        self.child = child
        self.cause = cause
        super().__init__(
            f"supervisor {supervisor!r} gave up: more than {restarts} restarts within {period_s:g} s; "
            f"last: child {child!r} {'crashed with ' + repr(cause) if cause else 'exited'}")
        self.__cause__ = cause


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child: its run function (called afresh on each start), what it owns, how it is wired.

    `ports` declares the child's wiring; for an `actor_runner` it is the actor class's own and need not be
    given. Giving the child an inbox makes it that mailbox's reader. The wiring is checked against the ports
    when a supervisor is built with this child (`check_wiring`).
    """
    name: str
    run: Callable[[ActorContext], Awaitable[None]]
    restart: Restart = Restart.PERMANENT
    shutdown_s: float = 5.0
    inbox: Mailbox | None = None
    outputs: Mapping[str, Sequence[Edge]] = field(default_factory=dict)
    stops_on_request: bool = False
    ports: Ports | None = None
    wiring: Mapping[str, tuple[Edge, ...]] = field(init=False, repr=False)   # every declared output → its edges

    def __post_init__(self) -> None:
        ports = self.ports
        if ports is None:
            ports = self.run.ports if isinstance(self.run, ActorRunner) else NO_PORTS
            object.__setattr__(self, "ports", ports)
        object.__setattr__(self, "wiring", {name: tuple(self.outputs.get(name, ())) for name in ports.outputs})
        if self.inbox is not None:
            self.inbox.bind_reader(self.name, ports.accepts)

    def check(self) -> None:
        """Raise `WiringError`, naming this child and the output, unless it is wired as its ports declare."""
        check_wiring(self.name, self.ports or NO_PORTS, self.outputs, self.inbox is not None)


class _Child:
    __slots__ = ("spec", "generation", "starts", "running", "stopping", "scope", "done", "ctx")

    def __init__(self, spec: ChildSpec):
        self.spec = spec
        self.generation = 0
        self.starts = 0
        self.running = False
        self.stopping = False
        self.scope: trio.CancelScope | None = None
        self.done = trio.Event()
        self.ctx: ActorContext | None = None


class _Stop:
    """Sentinel on the exits channel: the supervisor was asked to stop."""


def _single(group: BaseExceptionGroup) -> BaseException:
    return group.exceptions[0] if len(group.exceptions) == 1 else group


class Supervisor:
    """One node of the supervision tree. Use `as_child` to nest it, `serve` to run it as the root."""

    def __init__(self, name: str, children: Sequence[ChildSpec], *, clock: Clock, lifecycle: Lifecycle,
                 strategy: Strategy = Strategy.ONE_FOR_ONE, max_restarts: int = 3, period_s: float = 5.0,
                 quiescence: Quiescence | None = None, crashes: CrashPlan | None = None):
        names = [c.name for c in children]
        if len(set(names)) != len(names):
            raise ValueError(f"supervisor {name!r}: child names must be unique, got {names}")
        for child in children:
            child.check()
        self.name = name
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.period_s = period_s
        self._specs = list(children)
        self._clock = clock
        self._lifecycle = lifecycle
        self._quiescence = quiescence if quiescence is not None else Quiescence()
        self._crashes = crashes
        self._children: list[_Child] = []
        self._restarts: deque[int] = deque()
        self._nursery: trio.Nursery | None = None
        self._exits_send: trio.MemorySendChannel[Any] | None = None
        self._gave_up: SupervisorGaveUp | None = None

    def as_child(self, restart: Restart = Restart.PERMANENT, shutdown_s: float = 10.0) -> ChildSpec:
        return ChildSpec(self.name, self.run, restart=restart, shutdown_s=shutdown_s, stops_on_request=True)

    async def serve(self, *, task_status: trio.TaskStatus[ActorContext] = trio.TASK_STATUS_IGNORED) -> None:
        """Run as the root of a tree; `task_status.started` gets the context whose `stop_requested` stops it."""
        ctx = ActorContext(self.name, self._clock)
        ctx._on_started = lambda: task_status.started(ctx)
        await self.run(ctx)

    # ------------------------------------------------------------------ the supervisor's own loop

    async def run(self, ctx: ActorContext) -> None:
        self._children = [_Child(spec) for spec in self._specs]
        self._restarts.clear()
        self._gave_up = None
        exits_send, exits_recv = trio.open_memory_channel[Any](math.inf)
        self._exits_send = exits_send
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._forward_stop_request, ctx)
            if await self._ensure_started():
                ctx.started()
                async for item in exits_recv:
                    if isinstance(item, _Stop):
                        await self._stop_all()
                        break
                    child, generation, error = item
                    try:
                        if generation == child.generation and child.running:
                            child.running = False
                            if not await self._on_exit(child, error):
                                break
                    finally:
                        self._quiescence.done(1)
            nursery.cancel_scope.cancel()
        if self._gave_up is not None:
            raise self._gave_up

    async def _forward_stop_request(self, ctx: ActorContext) -> None:
        await ctx.stop_requested.wait()
        self._exit(_Stop())

    def _exit(self, item: Any) -> None:
        """Tell the supervisor's loop of an exit (or a stop request); only while it runs."""
        assert self._exits_send is not None, "the supervisor is not running"
        self._exits_send.send_nowait(item)

    async def _on_exit(self, child: _Child, error: BaseException | None) -> bool:
        """Handle one child's exit; False once the supervisor has given up."""
        kind = LifecycleKind.CRASHED if error is not None else LifecycleKind.EXITED
        self._lifecycle.record(child.spec.name, kind, error)
        restart = child.spec.restart
        if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and error is None):
            self._children.remove(child)
            return True
        return await self._apply_strategy(child, error) and await self._ensure_started()

    async def _apply_strategy(self, child: _Child, error: BaseException | None) -> bool:
        """Count a restart and stop what the strategy says must restart with `child`; False if over intensity."""
        now = self._clock.monotonic_ns()
        window = int(self.period_s * 1_000_000_000)
        self._restarts.append(now)
        while self._restarts and self._restarts[0] <= now - window:
            self._restarts.popleft()
        if len(self._restarts) > self.max_restarts:
            await self._stop_all()
            self._gave_up = SupervisorGaveUp(self.name, child.spec.name, error, self.max_restarts, self.period_s)
            self._lifecycle.record(self.name, LifecycleKind.GAVE_UP, self._gave_up)
            return False
        if self.strategy is Strategy.ONE_FOR_ONE:
            group = [child]
        elif self.strategy is Strategy.ONE_FOR_ALL:
            group = list(self._children)
        else:
            group = self._children[self._children.index(child):]
        for other in reversed(group):
            if other is not child and other.running:
                await self._stop(other)
                if other.spec.restart is Restart.TEMPORARY:
                    self._children.remove(other)
        return True

    async def _ensure_started(self) -> bool:
        """Start, in order, every child that is not running; False if a failure made the supervisor give up."""
        while True:
            for child in list(self._children):
                if child.running:
                    continue
                error = await self._start(child)
                if error is None:
                    continue
                self._lifecycle.record(child.spec.name, LifecycleKind.CRASHED, error)
                if child.spec.restart is Restart.TEMPORARY:
                    self._children.remove(child)
                elif not await self._apply_strategy(child, error):
                    return False
                break
            else:
                return True

    # ------------------------------------------------------------------ one child

    async def _start(self, child: _Child) -> BaseException | None:
        inbox = child.spec.inbox
        if child.starts and inbox is not None:  # a new incarnation: what it must be handed again
            inbox.restore_deferred()
            inbox.redeliver_state()
        child.generation += 1
        child.stopping = False
        child.done = trio.Event()
        failure: BaseException | None = None
        assert self._nursery is not None, "the supervisor is not running"
        try:
            await self._nursery.start(self._child_main, child, child.generation, name=f"actor {child.spec.name}")
        except* Exception as group:
            failure = _single(group)
        if failure is not None:
            return failure
        child.running = True
        child.starts += 1
        kind = LifecycleKind.RESTARTED if child.starts > 1 else LifecycleKind.STARTED
        self._lifecycle.record(child.spec.name, kind)
        return None

    async def _child_main(self, child: _Child, generation: int,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        spec = child.spec
        started = False

        def on_started() -> None:
            nonlocal started
            if not started:
                started = True
                task_status.started()

        ctx = ActorContext(spec.name, self._clock, spec.inbox, spec.wiring, self._crashes,
                           _on_started=on_started,
                           _on_dead_letter=lambda msg, error: self._lifecycle.dead_letter(spec.name, msg, error))
        child.ctx = ctx
        error: BaseException | None = None
        returned = False
        try:
            with trio.CancelScope() as scope:
                child.scope = scope
                try:
                    await spec.run(ctx)
                    returned = True
                except* Exception as group:
                    if not started:
                        raise
                    error = _single(group)
                    if child.stopping:
                        self._lifecycle.record(spec.name, LifecycleKind.SHUTDOWN_ERROR, error)
        finally:
            if spec.inbox is not None:
                spec.inbox.release_taken()
            child.done.set()
        if returned or error is not None:
            on_started()
            self._quiescence.add(1)
            self._exit((child, generation, error))

    async def _stop(self, child: _Child) -> None:
        child.running = False
        child.stopping = True
        scope = child.scope
        assert scope is not None, f"child {child.spec.name!r} runs without its cancel scope"
        if child.spec.stops_on_request and child.ctx is not None:
            child.ctx.stop_requested.set()
        else:
            scope.cancel()
        with trio.move_on_after(child.spec.shutdown_s):
            await child.done.wait()
        if not child.done.is_set():
            self._lifecycle.record(child.spec.name, LifecycleKind.STOP_OVERRAN)
            scope.cancel()
            await child.done.wait()
        self._lifecycle.record(child.spec.name, LifecycleKind.STOPPED)

    async def _stop_all(self) -> None:
        for child in reversed(self._children):
            if child.running:
                await self._stop(child)
