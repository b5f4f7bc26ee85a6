"""The one injected clock.

Actors never read the time or sleep by themselves: they ask the clock for `now_ns()` and for a message to
be delivered to a mailbox at a given time (a timer, or a message crossing a link with latency). Two
clocks keep that promise:

- `LiveClock`: wall-clock time, and a service task that delivers due messages with trio's timers.
- `VirtualClock`: time moves only when the replay driver calls `advance_to`; messages due by then are
  delivered one at a time, in due order, each handled to the end by the whole pipeline before the next.

A delivery normally cuts a replay window: the driver ends a batch of market events before it, so that its
receiver acts on the market as it stood. An observer's delivery (`cuts=False`: the ledger's valuation ticks, which
read the book's touch path as it stood at their time and decide nothing the market sees) does not: the driver
hands it over once the batch that spans its time has been handled, in due order with everything else.

A periodic delivery may also ride (`rides=True`: a strategy's cadence ticks): when it falls due after a batch and
before the next event, the replay driver hands it over with the batch (`take_riders`) and it is delivered as soon as
the batch's receiver (the book) has handled the batch and sent what it made of it, with no trip of its own through
the pipeline. At most one delivery that cuts a window rides with a batch, and nothing after it, so that two
decisions at one instant still come one after the other.

A periodic delivery (`deliver_every`: a strategy's cadence) is one entry that re-arms itself each time it is
delivered, so it outlives any crash of its receiver (which loses at most the one tick in hand) and, unless it is
an observer's, cuts a replay window like any due message.
"""
from __future__ import annotations

import heapq
import math
import time
from functools import partial
from typing import Any, Callable

import trio

from ._quiescence import Quiescence


class Clock:
    """What every clock offers the actors."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Any, Any]] = []
        self._observed: list[tuple[int, int, Any, Any]] = []   # deliveries that cut no replay window
        self._seq = 0

    def now_ns(self) -> int:
        raise NotImplementedError

    def monotonic_ns(self) -> int:
        """A time that never steps back, for measuring spans (restart intensity); live, not the wall clock."""
        raise NotImplementedError

    def deliver_at(self, due_ns: int, mailbox: Any, msg: Any, *, cuts: bool = True) -> None:
        """Put `msg` into `mailbox` at time `due_ns` (at once if that is not in the future); with `cuts=False`, an
        observer's delivery that cuts no replay window."""
        self._seq += 1
        heapq.heappush(self._heap if cuts else self._observed, (due_ns, self._seq, mailbox, msg))

    def deliver_every(self, first_ns: int, period_ns: int, mailbox: Any, make: Callable[[int], Any], *,
                      cuts: bool = True, rides: bool = False) -> "Periodic":
        """Deliver `make(due)` to `mailbox` at `first_ns` and every `period_ns` after, until cancelled; with `rides`, a
        replay may hand a tick over with the batch before it (see the module's docstring)."""
        if period_ns <= 0:
            raise ValueError(f"periodic delivery to {mailbox.name!r}: the period must be positive, got {period_ns} ns")
        periodic = Periodic(self, make, period_ns, cuts, rides)
        self.deliver_at(first_ns, mailbox, periodic, cuts=cuts)
        return periodic

    def _deliver(self, due_ns: int, mailbox: Any, msg: Any) -> None:
        """Hand a due entry to its mailbox; a periodic one becomes its tick and is armed again."""
        if type(msg) is Periodic:
            self.deliver_at(due_ns + msg.period_ns, mailbox, msg, cuts=msg.cuts)
            msg = msg.make(due_ns)
        mailbox.deliver(msg)

    def next_due_ns(self) -> int | None:
        """When the next delivery that cuts a replay window is due (None: none is scheduled)."""
        return self._heap[0][0] if self._heap else None

    @property
    def scheduled(self) -> int:
        return len(self._heap) + len(self._observed)


class Periodic:
    """A periodic delivery on a clock; `cancel` ends it (the end of a run's market data)."""

    __slots__ = ("clock", "make", "period_ns", "cuts", "rides")

    def __init__(self, clock: Clock, make: Callable[[int], Any], period_ns: int, cuts: bool = True,
                 rides: bool = False):
        self.clock, self.make, self.period_ns, self.cuts, self.rides = clock, make, period_ns, cuts, rides

    def cancel(self) -> None:
        for heap in (self.clock._heap, self.clock._observed):
            heap[:] = [entry for entry in heap if entry[3] is not self]
            heapq.heapify(heap)


class VirtualClock(Clock):
    """Replay time: advanced by the replay driver, never by the scheduler."""

    def __init__(self, start_ns: int = 0, quiescence: Quiescence | None = None):
        super().__init__()
        self._now = start_ns
        self.quiescence = quiescence if quiescence is not None else Quiescence()

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    async def advance_to(self, t_ns: int, delivered_upto_ns: int | None = None) -> None:
        """Move time to `t_ns`, delivering every message due by then in (due, scheduling) order.

        After each delivery the pipeline is left to handle it completely, so that what it causes (even a
        message due at the same instant) is ordered by the data and the clock, not by the scheduler. Messages that
        follow one another in that order, due at one instant into one mailbox (a venue's fills of one order), are
        one delivery: their receiver takes them together, in order.
        With `delivered_upto_ns`, only what is due by then is delivered now: the replay driver moves time to a
        batch's last event having delivered what falls due by its first, and hands over the observers'
        deliveries inside it once the batch is handled (nothing that cuts a window is due inside a batch).
        """
        upto = t_ns if delivered_upto_ns is None else delivered_upto_ns
        while (source := self._next()) is not None and source[0][0] <= upto:
            due, _, mailbox, msg = heapq.heappop(source)
            self._deliver_due(due, mailbox, msg)
            while (source := self._next()) is not None and source[0][0] == due and source[0][2] is mailbox:
                self._deliver(due, mailbox, heapq.heappop(source)[3])   # (a venue's fills of one order, at one instant)
            await self.quiescence.wait_idle()
        if t_ns > self._now:
            self._now = t_ns

    def take_riders(self, before_ns: int) -> list[Callable[[], None]]:
        """Take the ticks due before `before_ns` that may ride with the batch being handed over: the longest run, in
        due order, of periodic deliveries that ride, holding at most one that cuts windows, and ending there. Each is
        a call that delivers its tick, time moved to its due, once the batch has been handled."""
        riders: list[Callable[[], None]] = []
        while (source := self._next()) is not None and source[0][0] < before_ns:
            periodic = source[0][3]
            if type(periodic) is not Periodic or not periodic.rides:
                break
            due, _, mailbox, _ = heapq.heappop(source)
            riders.append(partial(self._deliver_due, due, mailbox, periodic))
            if source is self._heap:
                break   # a decision: whatever is due after it waits until it has been handled
        return riders

    def _next(self) -> list[tuple[int, int, Any, Any]] | None:
        """The heap whose first entry is the next delivery in (due, scheduling) order, cutting or not (None: none)."""
        heap, observed = self._heap, self._observed
        if heap and (not observed or heap[0] < observed[0]):
            return heap
        return observed or None

    def _deliver_due(self, due_ns: int, mailbox: Any, msg: Any) -> None:
        """Move time to `due_ns` (never back) and hand the entry due then to its mailbox."""
        if due_ns > self._now:
            self._now = due_ns
        self._deliver(due_ns, mailbox, msg)


class LiveClock(Clock):
    """Wall-clock time; `run` is the service task that delivers due messages."""

    def __init__(self) -> None:
        super().__init__()
        self._wakeup = trio.Event()

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def deliver_at(self, due_ns: int, mailbox: Any, msg: Any, *, cuts: bool = True) -> None:
        """Live, nothing is cut: every delivery waits on the one timer heap."""
        earliest = self.next_due_ns()
        super().deliver_at(due_ns, mailbox, msg)
        if earliest is None or due_ns < earliest:
            self._wakeup.set()

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        heap = self._heap
        while True:
            now = self.now_ns()
            while heap and heap[0][0] <= now:
                due, _, mailbox, msg = heapq.heappop(heap)
                self._deliver(due, mailbox, msg)
            timeout = (heap[0][0] - now) / 1e9 if heap else math.inf
            self._wakeup = trio.Event()
            with trio.move_on_after(timeout):
                await self._wakeup.wait()
