"""A harness of scripted children for supervision tests.

Each child records its starts and stops in a shared journal and does what the test tells its current
incarnation to do: fail before it says started, crash, or return. Tests wait for effects with
`trio.testing.wait_all_tasks_blocked`, never with sleeps.
"""
from __future__ import annotations

import pytest
import trio
import trio.testing

from engine.runtime import ActorContext, ChildSpec, Lifecycle, Restart, Supervisor, VirtualClock


class Harness:
    def __init__(self) -> None:
        self.clock = VirtualClock(start_ns=1_000_000_000)
        self.lifecycle = Lifecycle(self.clock.now_ns)
        self.journal: list[tuple[str, str]] = []
        self.fail_before_start: dict[str, int] = {}
        self._triggers: dict[str, trio.Event] = {}
        self._actions: dict[str, str] = {}

    def child(self, name: str, restart: Restart = Restart.PERMANENT, shutdown_s: float = 1.0) -> ChildSpec:
        return ChildSpec(name, self._run, restart=restart, shutdown_s=shutdown_s)

    async def _run(self, ctx: ActorContext) -> None:
        name = ctx.name
        if self.fail_before_start.get(name, 0) > 0:
            self.fail_before_start[name] -= 1
            self.journal.append(("failed-init", name))
            raise RuntimeError(f"{name} could not initialise")
        self.journal.append(("start", name))
        trigger = self._triggers[name] = trio.Event()
        ctx.started()
        try:
            await trigger.wait()
        except trio.Cancelled:
            self.journal.append(("cancelled", name))
            raise
        action = self._actions.pop(name)
        if action == "crash":
            self.journal.append(("crash", name))
            raise ValueError(f"{name} crashed")
        self.journal.append(("return", name))

    async def crash(self, name: str) -> None:
        self._actions[name] = "crash"
        self._triggers[name].set()
        await trio.testing.wait_all_tasks_blocked()

    async def finish(self, name: str) -> None:
        self._actions[name] = "return"
        self._triggers[name].set()
        await trio.testing.wait_all_tasks_blocked()

    def supervisor(self, name: str, children, **kw) -> Supervisor:
        return Supervisor(name, children, clock=self.clock, lifecycle=self.lifecycle, **kw)

    def starts(self, name: str) -> int:
        return self.journal.count(("start", name))


@pytest.fixture
def harness() -> Harness:
    return Harness()
