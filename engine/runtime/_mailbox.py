"""Mailboxes and the edges that feed them.

A mailbox is an actor's inbox. It belongs to the supervisor, not to the actor, so that an actor restarted
after a crash picks up at the next unread message. What a sender does when the mailbox is full is declared
by the edge it sends through, at wiring time, not by the actor's code:

- `BlockingEdge`: the sender waits for room (orders, fills, control: never dropped);
- `ConflatingEdge`: the newest message replaces the unread one with the same key (market views), and each
  replacement is counted, so nothing is dropped silently;
- `LatestValueEdge`: the newest message per key is kept as state, and read with the next message the
  receiver wakes for (a mid for the risk gate, a touch for the router); while the receiver watches state
  (`Mailbox.watch_state`, a venue with resting orders) every value is queued for it, in order, none replaced.
  Replacements of an unread value are counted as conflations;
- `DelayedEdge`: the message arrives a latency after its own event time (`ts_ns`), on the clock (a venue
  link): what it carries reaches the other side when it would have, however the replay batched the events.

Receivers take messages in batches: after waiting for the first, they drain whatever else is already
waiting, so that one hop carries many messages when the pipeline is busy.

Because the mailbox outlives its actor, it is also where a crash is made good: the part of a batch its actor
had not handled goes back to the front (`requeue`), the latest values are handed again to a new incarnation
(`redeliver_state`), and messages an actor set aside until it is ready for them (`defer`, an actor
reconciling with its venue before it accepts new orders) wait here, not in the actor.
"""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Hashable, Protocol

import trio

from ._quiescence import Quiescence

if TYPE_CHECKING:
    from ._clock import Clock


class Edge(Protocol):
    """One connection from an actor's output into a mailbox, with its when-full policy.

    `send_nowait` delivers at once when the edge's policy needs no wait (True), else the sender must `await
    send` (a blocking edge into a full mailbox; a delayed edge, which hands the message to the clock there).
    Senders go through `ActorContext.emit`, which makes every send a checkpoint whichever it takes.
    """

    @property
    def mailbox(self) -> Mailbox: ...

    def send_nowait(self, msg: Any) -> bool: ...

    async def send(self, msg: Any) -> None: ...


class _Slot:
    """A conflated entry in the queue: its message can be replaced until it is read."""
    __slots__ = ("key", "msg")

    def __init__(self, key: Hashable, msg: Any):
        self.key = key
        self.msg = msg


class Mailbox:
    """A bounded FIFO inbox with keyed conflation and batch receive.

    `capacity` bounds the messages that arrive through blocking edges; conflated messages take one slot
    per key and never block; messages delivered by the clock or a supervisor (`deliver`) never block.

    `accepts` is what its reader takes through edges, for the wiring check: set by the `ChildSpec` of the
    actor that reads it (`bind_reader`), or given here for a mailbox read outside the tree (the session's).
    """

    def __init__(self, name: str, capacity: int = 1024, quiescence: Quiescence | None = None,
                 accepts: tuple[type, ...] | None = None):
        if capacity < 1:
            raise ValueError(f"mailbox {name!r}: capacity must be at least 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self.accepts = accepts
        self.reader: str | None = None
        self.quiescence = quiescence if quiescence is not None else Quiescence()
        self.conflated = 0
        self.watch_state = False
        self._state: dict[Hashable, Any] = {}       # the latest value of every key
        self._unread: dict[Hashable, None] = {}     # keys whose latest value the actor has not taken yet
        self._deferred: list[Any] = []
        self._queue: deque[Any] = deque()
        self._slots: dict[Hashable, _Slot] = {}
        self._unslotted = 0
        self._taken = 0
        self._receiver: trio.lowlevel.Task | None = None   # the reader, while it waits for a message
        self._senders = trio.lowlevel.ParkingLot()
        self._after: list[Callable[[], None]] = []   # deliveries made once the reader has handled its batch

    def __len__(self) -> int:
        return len(self._queue)

    def bind_reader(self, actor: str, accepts: tuple[type, ...]) -> None:
        """Record that `actor` reads this mailbox and takes `accepts` from edges; one reader per mailbox."""
        if self.reader is not None and self.reader != actor:
            raise ValueError(f"mailbox {self.name!r} is read by {self.reader!r}; {actor!r} cannot read it too")
        self.reader = actor
        self.accepts = accepts

    async def put(self, msg: Any) -> None:
        """Append `msg`, waiting while the mailbox is full."""
        await trio.lowlevel.checkpoint_if_cancelled()
        while self._unslotted >= self.capacity:
            await self._senders.park()
        self._append(msg)

    def put_nowait(self, msg: Any) -> bool:
        """Append `msg` if the mailbox has room; False (and nothing appended) if it is full."""
        if self._unslotted >= self.capacity:
            return False
        self._append(msg)
        return True

    def deliver(self, msg: Any) -> None:
        """Append `msg` now, over capacity if need be: for the clock's timers and control messages."""
        self._append(msg)

    def offer(self, key: Hashable, msg: Any) -> None:
        """Put `msg` under `key`, replacing the unread message with that key if there is one."""
        slot = self._slots.get(key)
        if slot is not None:
            slot.msg = msg
            self.conflated += 1
            return
        slot = _Slot(key, msg)
        self._slots[key] = slot
        self._queue.append(slot)
        self.quiescence.pending += 1
        if self._receiver is not None:
            self._wake_receiver()

    def set_state(self, key: Hashable, msg: Any) -> None:
        """Keep `msg` as the newest value under `key`; wake the receiver only if it watches state.

        The value is kept after it is read, so that a restarted actor can be given every latest value again.
        """
        self._state[key] = msg
        if self.watch_state:   # a watcher (a venue with resting orders) must see every value, in order
            self._unread.pop(key, None)
            self._append(msg)
            return
        if key in self._unread:
            self.conflated += 1
        else:
            self._unread[key] = None

    def redeliver_state(self) -> None:
        """Hand every latest value again with the next batch (a new incarnation knows none of them)."""
        self._unread = dict.fromkeys(self._state)

    def requeue(self, msgs: list[Any]) -> None:
        """Put `msgs` back at the front, in order, over capacity if need be: what a crashed actor left unhandled."""
        if not msgs:
            return
        self._queue.extendleft(reversed(msgs))
        self._unslotted += len(msgs)
        self.quiescence.add(len(msgs))
        if self._receiver is not None:
            self._wake_receiver()

    def defer(self, msg: Any) -> None:
        """Set `msg` aside until `restore_deferred`: it counts as handled until then, so a replay can move on
        to the event its actor waits for."""
        self._deferred.append(msg)

    def restore_deferred(self) -> int:
        """Put the deferred messages back at the front, in the order they were deferred; how many there were."""
        deferred, self._deferred = self._deferred, []
        self.requeue(deferred)
        return len(deferred)

    @property
    def deferred(self) -> int:
        return len(self._deferred)

    def _append(self, msg: Any) -> None:
        self._queue.append(msg)
        self._unslotted += 1
        self.quiescence.pending += 1
        if self._receiver is not None:
            self._wake_receiver()

    def _wake_receiver(self) -> None:
        task, self._receiver = self._receiver, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    async def _wait_for_message(self) -> None:
        """Park the reader until a message arrives (one reader at a time: the mailbox's actor)."""
        if self._receiver is not None:
            raise RuntimeError(f"mailbox {self.name!r}: a second task waits to receive while {self._receiver.name} "
                               "does")
        self._receiver = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_wait)

    def _abort_wait(self, _: Any) -> trio.lowlevel.Abort:
        self._receiver = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def receive_batch(self, limit: int = 1024) -> list[Any]:
        """Wait for at least one message, then take up to `limit` of those waiting, oldest first.

        Calling it again tells the mailbox that the previous batch has been handled.
        """
        if self._taken:
            self.release_taken()
        queue = self._queue
        if queue:
            await trio.lowlevel.checkpoint()
        while not queue:
            await self._wait_for_message()
        if self._unread:
            state = self._state
            batch = [state[key] for key in self._unread]
            self._unread = {}
        else:
            batch = []
        self._taken = self._pop(min(limit, len(queue)), batch)
        return batch

    def take_waiting(self) -> list[Any]:
        """Every message waiting now, without waiting for one, counted as handled at once: for an actor that looks
        at its inbox between steps of its own (the replay feed between batches)."""
        self.release_taken()
        batch: list[Any] = []
        self.quiescence.done(self._pop(len(self._queue), batch))
        return batch

    def _pop(self, count: int, batch: list[Any]) -> int:
        """Move the `count` oldest messages into `batch` (a conflated slot gives its newest message); `count`."""
        queue, slots = self._queue, self._slots
        freed = 0
        for _ in range(count):
            item = queue.popleft()
            if type(item) is _Slot:
                del slots[item.key]
                item = item.msg
            else:
                freed += 1
            batch.append(item)
        if freed:
            self._unslotted -= freed
            if self._senders:
                self._senders.unpark_all()
        return count

    def after_handled(self, deliveries: list[Callable[[], None]]) -> None:
        """Make `deliveries`, in order, once the reader has handled what it takes next and sent what it made of it
        (it comes back for more, or crashed): ticks riding with the batch just put here. They count as pending work
        before that batch stops counting, so the pipeline is never idle in between."""
        self._after.extend(deliveries)

    def release_taken(self) -> None:
        """Count the last batch as handled (its actor came back for more, or crashed)."""
        if self._taken:
            taken, self._taken = self._taken, 0
            if self._after:
                after, self._after = self._after, []
                for deliver in after:
                    deliver()
            self.quiescence.done(taken)


class BlockingEdge:
    """Sends wait for room: nothing is ever dropped."""
    __slots__ = ("mailbox",)
    policy = "block"

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    def send_nowait(self, msg: Any) -> bool:
        return self.mailbox.put_nowait(msg)

    async def send(self, msg: Any) -> None:
        await self.mailbox.put(msg)


class ConflatingEdge:
    """Sends never wait: the newest message replaces the unread one with the same key, and that is counted."""
    __slots__ = ("mailbox", "key_of")
    policy = "conflate"

    def __init__(self, mailbox: Mailbox, key_of: Callable[[Any], Hashable]):
        self.mailbox = mailbox
        self.key_of = key_of

    def send_nowait(self, msg: Any) -> bool:
        self.mailbox.offer(self.key_of(msg), msg)
        return True

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)


class LatestValueEdge:
    """Sends never wait and never wake an idle receiver (unless it watches state): the newest value is kept."""
    __slots__ = ("mailbox", "key_of")
    policy = "latest"

    def __init__(self, mailbox: Mailbox, key_of: Callable[[Any], Hashable]):
        self.mailbox = mailbox
        self.key_of = key_of

    def send_nowait(self, msg: Any) -> bool:
        self.mailbox.set_state(self.key_of(msg), msg)
        return True

    async def send(self, msg: Any) -> None:
        self.send_nowait(msg)


class DelayedEdge:
    """The message reaches the mailbox `delay_ns` after its event time (`ts_ns`; the clock's now for a message
    without one) on the injected clock: a link with latency."""
    __slots__ = ("mailbox", "clock", "delay_ns")
    policy = "delay"

    def __init__(self, mailbox: Mailbox, clock: Clock, delay_ns: int):
        if delay_ns < 0:
            raise ValueError(f"edge to {mailbox.name!r}: delay must not be negative, got {delay_ns} ns")
        self.mailbox = mailbox
        self.clock = clock
        self.delay_ns = delay_ns

    def send_nowait(self, msg: Any) -> bool:
        return False   # the latency is applied in `send`, the one place that says when the message arrives

    async def send(self, msg: Any) -> None:
        sent_ns = getattr(msg, "ts_ns", None)
        self.clock.deliver_at((self.clock.now_ns() if sent_ns is None else sent_ns) + self.delay_ns, self.mailbox, msg)
