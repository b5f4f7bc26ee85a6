"""Mailboxes (blocking, conflation, batching, ownership across restarts), the virtual clock and quiescence."""
from __future__ import annotations

import pytest
import trio
import trio.testing

from engine.actors.feed import ReplayFeed
from engine.messages import TimerFired
from engine.runtime import (Actor, ActorContext, BlockingEdge, ChildSpec, ConflatingEdge, DelayedEdge, CrashPlan, CrashRule,
                            InjectedFault, LatestValueEdge, Lifecycle, LifecycleKind, Mailbox, Quiescence, Supervisor,
                            UndeclaredOutput, VirtualClock, actor_runner)


async def test_blocking_edge_waits_for_room_and_drops_nothing(nursery):
    box = Mailbox("m", capacity=2)
    edge = BlockingEdge(box)
    sent = []

    async def producer():
        for i in range(5):
            await edge.send(i)
            sent.append(i)

    nursery.start_soon(producer)
    await trio.testing.wait_all_tasks_blocked()
    assert sent == [0, 1]
    got = []
    while len(got) < 5:
        got += await box.receive_batch()
    assert got == [0, 1, 2, 3, 4]


async def test_conflating_edge_keeps_the_newest_per_key_counts_replacements_and_keeps_position():
    box = Mailbox("views", capacity=1)
    edge = ConflatingEdge(box, key_of=lambda m: m[0])
    for msg in [("BTC", 1), ("ETH", 1), ("BTC", 2), ("BTC", 3)]:
        await edge.send(msg)
    assert box.conflated == 2
    assert await box.receive_batch() == [("BTC", 3), ("ETH", 1)]
    await edge.send(("BTC", 4))
    assert await box.receive_batch() == [("BTC", 4)]


async def test_receive_batch_drains_what_is_waiting_up_to_the_limit():
    box = Mailbox("m", capacity=100)
    for i in range(10):
        box.deliver(i)
    assert await box.receive_batch(limit=4) == [0, 1, 2, 3]
    assert await box.receive_batch() == [4, 5, 6, 7, 8, 9]


async def test_quiescence_counts_until_the_receiver_comes_back_for_more(nursery):
    q = Quiescence()
    box = Mailbox("m", quiescence=q)
    box.deliver("a")
    box.deliver("b")
    assert q.pending == 2
    await box.receive_batch()
    assert q.pending == 2, "taken but not yet handled"
    nursery.start_soon(box.receive_batch)
    await trio.testing.wait_all_tasks_blocked()
    assert q.pending == 0
    await q.wait_idle()


async def test_virtual_clock_delivers_due_messages_in_order_before_moving_on():
    clock = VirtualClock(start_ns=100)
    box = Mailbox("m", quiescence=clock.quiescence)
    edge = DelayedEdge(box, clock, delay_ns=50)
    await edge.send("late")
    clock.deliver_at(120, box, "early")
    clock.deliver_at(120, box, "early-second")
    assert clock.now_ns() == 100
    seen = []

    async def consumer():
        while True:
            for msg in await box.receive_batch():
                seen.append((clock.now_ns(), msg))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await clock.advance_to(140)
        assert seen == [(120, "early"), (120, "early-second")]
        assert clock.now_ns() == 140
        await clock.advance_to(1000)
        assert seen[-1] == (150, "late")
        assert clock.now_ns() == 1000
        nursery.cancel_scope.cancel()


class Recorder(Actor):
    def __init__(self, out):
        self.out = out

    async def handle(self, batch, ctx):
        self.out.extend(batch)


async def test_a_restarted_actor_keeps_its_mailbox_and_the_fault_fires_once(nursery):
    clock = VirtualClock()
    lifecycle = Lifecycle(clock.now_ns)
    box = Mailbox("rec", quiescence=clock.quiescence)
    seen: list[int] = []
    crashes = CrashPlan([CrashRule("rec", after_events=3)])
    sup = Supervisor("root", [ChildSpec("rec", actor_runner(Recorder, lambda: Recorder(seen)), inbox=box)],
                     clock=clock, lifecycle=lifecycle, quiescence=clock.quiescence, crashes=crashes)
    await nursery.start(sup.serve)
    for i in range(6):
        box.deliver(i)
        await clock.quiescence.wait_idle()
    assert lifecycle.count("rec", LifecycleKind.RESTARTED) == 1
    crash = next(e for e in lifecycle.events if e.kind is LifecycleKind.CRASHED)
    assert InjectedFault.__name__ in crash.error
    # message 2 was in hand when the fault fired: set aside as a dead letter; the rest arrive
    assert seen == [0, 1, 3, 4, 5]
    assert lifecycle.count("rec", LifecycleKind.DEAD_LETTER) == 1


async def test_a_sender_cancelled_while_waiting_for_room_leaves_nothing_behind():
    q = Quiescence()
    box = Mailbox("m", capacity=1, quiescence=q)
    await box.put("first")
    with trio.move_on_after(0) as scope:
        await box.put("second")
    assert scope.cancelled_caught
    assert await box.receive_batch() == ["first"]
    assert q.pending == 1  # "first" is in hand until the receiver comes back


async def test_a_receiver_cancelled_while_waiting_loses_no_message(nursery):
    box = Mailbox("m")
    with trio.move_on_after(0):
        await box.receive_batch()
    box.deliver("late")
    assert await box.receive_batch() == ["late"]


async def test_latest_value_edge_keeps_state_silently_until_the_receiver_wakes_or_watches(nursery):
    box = Mailbox("venue")
    latest = LatestValueEdge(box, key_of=lambda m: m[0])
    await latest.send(("BTC", 1))
    await latest.send(("BTC", 2))
    assert len(box) == 0 and box.quiescence.pending == 0 and box.conflated == 1
    box.deliver("order")
    assert await box.receive_batch() == [("BTC", 2), "order"]
    box.watch_state = True
    await latest.send(("BTC", 3))
    assert await box.receive_batch() == [("BTC", 3)]


async def test_quiescence_refuses_to_count_below_zero():
    q = Quiescence()
    q.add(1)
    q.done(1)
    with pytest.raises(RuntimeError, match="released twice"):
        q.done(1)


async def test_a_delayed_edge_delivers_a_latency_after_the_message_s_own_time_not_the_clock_s():
    clock = VirtualClock(start_ns=1_000)   # the replay window's last event: the message was decided earlier
    box = Mailbox("venue", quiescence=clock.quiescence)
    edge = DelayedEdge(box, clock, delay_ns=500)
    decided = TimerFired("order", 0)
    await edge.send(type("Order", (), {"ts_ns": 700})())
    await edge.send(decided)                                 # no ts_ns: sent at the clock's now
    assert [entry[0] for entry in sorted(clock._heap)] == [1_200, 1_500]


async def test_a_receiver_watching_state_gets_every_value_in_order_none_replaced():
    box = Mailbox("venue")
    latest = LatestValueEdge(box, key_of=lambda m: m[0])
    box.watch_state = True
    for n in range(1, 4):
        await latest.send(("BTC", n))
    assert await box.receive_batch() == [("BTC", 1), ("BTC", 2), ("BTC", 3)] and box.conflated == 0


async def test_a_periodic_delivery_ticks_on_its_grid_until_cancelled(nursery):
    clock = VirtualClock(start_ns=0)
    box = Mailbox("strategy", quiescence=clock.quiescence)
    seen = []

    async def consumer():
        while True:
            seen.extend((clock.now_ns(), tick) for tick in await box.receive_batch())

    nursery.start_soon(consumer)
    ticks = clock.deliver_every(500, 500, box, lambda due: TimerFired("cadence", due))
    await clock.advance_to(1_700)
    assert seen == [(500, TimerFired("cadence", 500)), (1_000, TimerFired("cadence", 1_000)),
                    (1_500, TimerFired("cadence", 1_500))]
    assert clock.next_due_ns() == 2_000
    ticks.cancel()
    await clock.advance_to(10_000)
    assert len(seen) == 3 and clock.next_due_ns() is None
    with pytest.raises(ValueError, match="period must be positive"):
        clock.deliver_every(0, 0, box, lambda due: due)


class _Events:
    """A recording of (ts, event) pairs, read afresh from any position, as `RecordedFeed` is."""

    def __init__(self, times):
        self.times = times

    def events(self, skip=0):
        return ((ts, ("event", ts)) for ts in self.times[skip:])


async def _replayed(nursery, clock, ticks):
    """What a book and a tick receiver are handed, in order, as a replay feed (1 s windows) reads four events; `ticks`
    schedules the ticks on the clock, into the mailbox it is given. A tick is noted with the clock's time then."""
    book, ticked, feed_box = (Mailbox(name, quiescence=clock.quiescence) for name in ("book", "ticked", "feed"))
    order = []

    async def drain(box):
        while True:
            for msg in await box.receive_batch():
                order.append(("tick", msg.due_ns, clock.now_ns()) if type(msg) is TimerFired
                             else ("batch", [ts for _, ts in msg.events]))

    nursery.start_soon(drain, book)
    nursery.start_soon(drain, ticked)
    periodic = ticks(ticked)
    feed = ReplayFeed(_Events([1_000_100, 1_000_200, 1_000_300, 1_000_400]), clock, 1_000_000_000, trio.Event())
    await feed.run(ActorContext("feed", clock, feed_box, {"market": [BlockingEdge(book)]}))
    return order, periodic


async def test_a_periodic_tick_cuts_the_replay_window_so_it_sees_exactly_the_events_before_it(nursery):
    clock = VirtualClock(start_ns=0)
    order, _ = await _replayed(nursery, clock, lambda box: clock.deliver_every(
        1_000_300, 1_000_000_000, box, lambda due: TimerFired("cadence", due)))
    # one 1 s window, cut by the tick at 1_000_300 (and just after it): the tick comes before the event at its time
    assert order == [("batch", [1_000_100, 1_000_200]), ("tick", 1_000_300, 1_000_300), ("batch", [1_000_300]),
                     ("batch", [1_000_400])]


async def test_an_observer_s_tick_cuts_no_window_and_comes_after_the_batch_that_spans_its_time(nursery):
    clock = VirtualClock(start_ns=0)
    order, marks = await _replayed(nursery, clock, lambda box: clock.deliver_every(
        1_000_250, 100, box, lambda due: TimerFired("mark", due), cuts=False))
    # one window, uncut; the ticks inside it follow the batch (the clock already at its last event), in due order
    assert order == [("batch", [1_000_100, 1_000_200, 1_000_300, 1_000_400]),
                     ("tick", 1_000_250, 1_000_400), ("tick", 1_000_350, 1_000_400)]
    marks.cancel()
    assert clock.scheduled == 0


async def test_deliveries_after_a_batch_come_once_its_reader_is_back_and_keep_the_pipeline_busy(nursery):
    quiescence = Quiescence()
    book, strategy = Mailbox("book", quiescence=quiescence), Mailbox("strategy", quiescence=quiescence)
    seen = []

    async def reader():
        while True:
            for msg in await book.receive_batch():
                seen.append(("book", msg, list(strategy.take_waiting())))

    nursery.start_soon(reader)
    await trio.testing.wait_all_tasks_blocked()
    book.put_nowait("batch")
    book.after_handled([lambda: strategy.deliver("tick")])
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [("book", "batch", [])]      # nothing delivered while the book had the batch in hand
    assert quiescence.pending == 1 and strategy.take_waiting() == ["tick"]   # then the tick, before it went idle
    assert quiescence.pending == 0

async def test_messages_due_at_one_instant_into_one_mailbox_are_one_delivery(nursery):
    clock = VirtualClock(start_ns=0)
    venue, orders = Mailbox("venue", quiescence=clock.quiescence), Mailbox("orders", quiescence=clock.quiescence)
    batches = []

    async def drain(box):
        while True:
            batches.append((box.name, await box.receive_batch()))

    nursery.start_soon(drain, venue)
    nursery.start_soon(drain, orders)
    for msg in ("fill 1", "fill 2"):
        clock.deliver_at(10, orders, msg)
    clock.deliver_at(10, venue, "order")
    clock.deliver_at(10, orders, "fill 3")   # after the venue's message: a delivery of its own
    clock.deliver_at(11, orders, "fill 4")
    await clock.advance_to(20)
    assert batches == [("orders", ["fill 1", "fill 2"]), ("venue", ["order"]), ("orders", ["fill 3"]),
                       ("orders", ["fill 4"])]

async def test_ticks_ride_with_a_batch_in_due_order_up_to_one_decision_and_none_past_what_may_not_ride():
    clock = VirtualClock(start_ns=0)
    box = Mailbox("box", quiescence=clock.quiescence)
    clock.deliver_every(100, 1_000, box, lambda due: ("mark", due), cuts=False, rides=True)
    clock.deliver_every(100, 1_000, box, lambda due: ("tick a", due), rides=True)
    clock.deliver_every(100, 1_000, box, lambda due: ("tick b", due), rides=True)
    assert clock.take_riders(before_ns=100) == []          # due at the next event's time: it comes before it instead
    riders = clock.take_riders(before_ns=101)
    assert len(riders) == 2 and clock.next_due_ns() == 100  # the mark and one decision; the second waits its turn
    for ride in riders:
        ride()
    assert box.take_waiting() == [("mark", 100), ("tick a", 100)] and clock.now_ns() == 100
    assert clock.next_due_ns() == 100 and len(clock.take_riders(before_ns=101)) == 1   # tick b rides on its own
    clock.deliver_at(150, box, "not periodic", cuts=False)
    assert len(clock.take_riders(before_ns=2_000)) == 0     # what may not ride stops the run: order is kept


async def _taking_into(box, got):
    """A reader that takes everything `box` is handed into `got`, in order."""
    while True:
        got.extend(await box.receive_batch())


async def test_the_clock_merges_observers_and_cutting_deliveries_in_due_order(nursery):
    clock = VirtualClock(start_ns=0)
    box = Mailbox("box", quiescence=clock.quiescence)
    got = []
    nursery.start_soon(_taking_into, box, got)
    clock.deliver_at(30, box, "cut 30")
    clock.deliver_at(20, box, "observed 20", cuts=False)
    clock.deliver_at(30, box, "observed 30", cuts=False)
    clock.deliver_at(10, box, "cut 10")
    assert clock.next_due_ns() == 10
    await clock.advance_to(25, delivered_upto_ns=20)   # time moves on; what is due after 20 waits
    assert got == ["cut 10", "observed 20"] and clock.now_ns() == 25
    await clock.advance_to(30)
    assert got[2:] == ["cut 30", "observed 30"]   # at one instant, in the order they were scheduled

class _Kinds:
    """A recording of (ts, kind) events; `decided` are the kinds something decides on inside a batch."""

    def __init__(self, events):
        self.list = events

    def events(self, skip=0):
        return (event for event in self.list[skip:])   # a generator, as a recording's reading is


async def _batches_of(events, **decision):
    """The batches a replay feed (1 µs windows) hands its book, as lists of event times."""
    clock = VirtualClock(start_ns=0)
    book, feed_box = Mailbox("book", quiescence=clock.quiescence), Mailbox("feed", quiescence=clock.quiescence)
    batches = []

    async def drain():
        while True:
            for msg in await book.receive_batch():
                batches.append([ts for ts, _ in msg.events])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        feed = ReplayFeed(_Kinds([(ts, (ts, kind)) for ts, kind in events]), clock, 1_000, trio.Event(), **decision)
        await feed.run(ActorContext("feed", clock, feed_box, {"market": [BlockingEdge(book)]}))
        nursery.cancel_scope.cancel()
    return batches


async def test_a_batch_ends_a_decision_horizon_after_its_first_decided_on_event():
    recorded = [(0, "trade"), (2, "diff"), (4, "trade"), (6, "trade"), (7, "diff"), (9, "trade"), (30, "trade"),
                (40, "trade"), (41, "diff"), (45, "diff"), (46, "trade")]
    batches = await _batches_of(recorded, decides=lambda event: event[1] == "diff", horizon_ns=5)
    # trades start no horizon: a batch runs to its first diff + 5 (exclusive), then the next one starts
    assert batches == [[0, 2, 4, 6], [7, 9], [30, 40, 41, 45], [46]]


async def test_without_deciders_a_batch_is_its_window():
    batches = await _batches_of([(ts, "diff") for ts in (0, 2, 7, 1_000, 1_500)])
    assert batches == [[0, 2, 7], [1_000, 1_500]]


async def test_emit_many_sends_every_message_in_order_on_every_edge_as_one_checkpoint():
    first, second = Mailbox("a"), Mailbox("b")
    ctx = ActorContext("book", VirtualClock(), outputs={"views": [BlockingEdge(first), BlockingEdge(second)]})
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await ctx.emit_many("views", [1, 2])   # a cancelled sender sends nothing
    assert len(first) == 0
    await ctx.emit_many("views", [1, 2, 3])
    assert await first.receive_batch() == [1, 2, 3] and await second.receive_batch() == [1, 2, 3]
    with pytest.raises(UndeclaredOutput, match="'status'"):
        await ctx.emit_many("status", [1])
