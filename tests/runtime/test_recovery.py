"""What a crash takes with it, and what it must not: dead letters, requeued batches, latest values handed
again, deferred messages kept, timed and seeded crashes, and a stop that waits for an overrunning child."""
from __future__ import annotations

import pytest
import trio
import trio.testing

from engine.runtime import (Actor, ChildSpec, CrashPlan, CrashRule, InjectedCrash, LatestValueEdge, Lifecycle,
                            LifecycleKind, Mailbox, Strategy, Supervisor, VirtualClock, actor_runner)


class Scripted(Actor):
    """Records what it handles; crashes on a message "boom", waits forever on "hang"."""

    def __init__(self, seen: list, incarnations: list):
        self.seen = seen
        incarnations.append(self)

    async def handle(self, batch, ctx):
        for msg in batch:
            if msg == "boom":
                raise ValueError("boom in hand")
            if msg == "defer":
                ctx.inbox.defer(msg)
                continue
            self.seen.append(msg)


def tree(*, crashes: CrashPlan | None = None, box: Mailbox | None = None, strategy=Strategy.ONE_FOR_ONE):
    clock = VirtualClock(start_ns=1_000)
    lifecycle = Lifecycle(clock.now_ns)
    box = box or Mailbox("a", quiescence=clock.quiescence)
    box.quiescence = clock.quiescence
    seen: list = []
    incarnations: list = []
    sup = Supervisor("root", [ChildSpec("a", actor_runner(Scripted, lambda: Scripted(seen, incarnations)), inbox=box)],
                     clock=clock, lifecycle=lifecycle, quiescence=clock.quiescence, crashes=crashes,
                     strategy=strategy)
    return sup, clock, lifecycle, box, seen, incarnations


async def test_the_message_in_hand_is_a_dead_letter_and_the_rest_of_its_batch_reaches_the_next_incarnation(nursery):
    sup, clock, lifecycle, box, seen, incarnations = tree()
    await nursery.start(sup.serve)
    for msg in ("a", "b", "boom", "c", "d"):   # one batch: delivered before the actor wakes
        box.deliver(msg)
    await clock.quiescence.wait_idle()
    assert seen == ["a", "b", "c", "d"]
    assert len(incarnations) == 2
    assert lifecycle.count("a", LifecycleKind.DEAD_LETTER) == 1
    assert lifecycle.count("a", LifecycleKind.RESTARTED) == 1
    box.deliver("e")
    await clock.quiescence.wait_idle()
    assert seen[-1] == "e" and clock.quiescence.pending == 0


async def test_a_crash_planned_for_the_nth_message_strikes_that_message_in_the_middle_of_a_batch(nursery):
    sup, clock, lifecycle, box, seen, _ = tree(crashes=CrashPlan([CrashRule("a", after_events=3)]))
    await nursery.start(sup.serve)
    for msg in range(1, 7):
        box.deliver(msg)
    await clock.quiescence.wait_idle()
    assert seen == [1, 2, 4, 5, 6]
    [dead] = [e for e in lifecycle.events if e.kind is LifecycleKind.DEAD_LETTER]
    assert "InjectedFault" in dead.error and "numbered 3" in dead.error


async def test_a_timed_crash_lands_between_messages_and_loses_none(nursery):
    crashes = CrashPlan([CrashRule("a", at_ns=5_000)])
    sup, clock, lifecycle, box, seen, incarnations = tree(crashes=crashes)
    await nursery.start(sup.serve)
    [(actor, due)] = crashes.timed()
    clock.deliver_at(due, box, InjectedCrash(actor, due))
    box.deliver("before")
    await clock.quiescence.wait_idle()
    await clock.advance_to(6_000)
    box.deliver("after")
    await clock.quiescence.wait_idle()
    assert seen == ["before", "after"] and len(incarnations) == 2
    assert lifecycle.count("a", LifecycleKind.DEAD_LETTER) == 0
    assert crashes.injected["a"] == 1


async def test_seeded_crashes_strike_the_same_messages_in_every_run():
    def struck(seed: int) -> list[int]:
        plan = CrashPlan([CrashRule("a", rate_ppm=200_000, seed=seed, times=100)])
        hits = []
        for n in range(1, 201):
            try:
                plan.on_message("a")
            except Exception:
                hits.append(n)
        return hits

    assert struck(7) == struck(7)
    assert struck(7) != struck(8)
    assert 20 <= len(struck(7)) <= 60   # about a fifth of 200


async def test_times_bounds_the_crashes_of_a_seeded_rule():
    plan = CrashPlan([CrashRule("a", rate_ppm=1_000_000, times=2)])
    outcomes = []
    for _ in range(5):
        try:
            plan.on_message("a")
            outcomes.append("ok")
        except Exception:
            outcomes.append("crash")
    assert outcomes == ["crash", "crash", "ok", "ok", "ok"]


@pytest.mark.parametrize("rule", [dict(), dict(after_events=1, at_ns=5), dict(after_events=0),
                                  dict(rate_ppm=2_000_000), dict(after_events=1, times=0)])
def test_a_crash_rule_must_say_exactly_one_sensible_when(rule):
    with pytest.raises(ValueError, match="crash rule for 'a'"):
        CrashRule("a", **rule)


async def test_a_restarted_actor_is_handed_every_latest_value_again(nursery):
    sup, clock, lifecycle, box, seen, _ = tree()
    latest = LatestValueEdge(box, key_of=lambda m: m[0])
    await nursery.start(sup.serve)
    await latest.send(("mid", 100))
    await latest.send(("status", "live"))
    box.deliver("wake")
    await clock.quiescence.wait_idle()
    assert seen == [("mid", 100), ("status", "live"), "wake"]
    await latest.send(("mid", 101))
    box.deliver("boom")
    await clock.quiescence.wait_idle()   # "mid 101" came with the crash's batch and was handled before it
    box.deliver("after")
    await clock.quiescence.wait_idle()
    assert seen[3:] == [("mid", 101), ("mid", 101), ("status", "live"), "after"]


async def test_deferred_messages_wait_in_the_mailbox_and_survive_a_crash(nursery):
    sup, clock, lifecycle, box, seen, _ = tree()
    await nursery.start(sup.serve)
    box.deliver("defer")
    box.deliver("x")
    await clock.quiescence.wait_idle()   # a deferred message does not hold a replay up
    assert seen == ["x"] and box.deferred == 1
    box.deliver("boom")
    await clock.quiescence.wait_idle()
    # the new incarnation got the deferred message back first, and deferred it again
    assert box.deferred == 1
    assert box.restore_deferred() == 1
    await clock.quiescence.wait_idle()
    assert box.deferred == 1   # still not ready for it: deferred once more, nothing lost


async def test_a_stopped_actor_puts_back_the_message_in_hand_too(nursery):
    clock = VirtualClock()
    lifecycle = Lifecycle(clock.now_ns)
    box = Mailbox("a", quiescence=clock.quiescence)
    seen: list = []
    release = trio.Event()

    class Slow(Actor):
        async def handle(self, batch, ctx):
            for msg in batch:
                if msg == "slow":
                    await release.wait()
                seen.append(msg)

    other = Mailbox("b", quiescence=clock.quiescence)
    sup = Supervisor("root", [ChildSpec("a", actor_runner(Slow), inbox=box),
                              ChildSpec("b", actor_runner(Scripted, lambda: Scripted([], [])), inbox=other)],
                     clock=clock, lifecycle=lifecycle, quiescence=clock.quiescence, strategy=Strategy.ONE_FOR_ALL)
    await nursery.start(sup.serve)
    for msg in ("first", "slow", "third"):
        box.deliver(msg)
    await trio.testing.wait_all_tasks_blocked()
    other.deliver("boom")                    # b crashes: one_for_all stops a while "slow" is in hand
    await trio.testing.wait_all_tasks_blocked()
    release.set()
    await clock.quiescence.wait_idle()
    assert seen == ["first", "slow", "third"]
    assert lifecycle.count("a", LifecycleKind.DEAD_LETTER) == 0


async def test_an_overrunning_child_is_waited_for_before_its_next_incarnation_starts(nursery, autojump_clock):
    clock = VirtualClock()
    lifecycle = Lifecycle(clock.now_ns)
    log: list[str] = []

    async def stubborn(ctx):
        log.append("start")
        ctx.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(5)          # longer than its shutdown time
            log.append("finished")

    async def crasher(ctx):
        ctx.started()
        await trio.sleep(1)
        raise ValueError("crash")

    sup = Supervisor("root", [ChildSpec("s", stubborn, shutdown_s=1.0), ChildSpec("c", crasher)],
                     clock=clock, lifecycle=lifecycle, strategy=Strategy.ONE_FOR_ALL, max_restarts=10, period_s=1)
    await nursery.start(sup.serve)
    await trio.sleep(8)
    # the first incarnation finished its shielded clean-up before the second one started
    assert log[:3] == ["start", "finished", "start"]
    assert lifecycle.count("s", LifecycleKind.STOP_OVERRAN) >= 1


async def test_an_error_raised_while_stopping_is_recorded(nursery):
    clock = VirtualClock()
    lifecycle = Lifecycle(clock.now_ns)

    async def messy(ctx):
        ctx.started()
        try:
            await trio.sleep_forever()
        finally:
            raise OSError("could not flush on the way out")

    async def crasher(ctx):
        ctx.started()
        await trio.sleep(0)
        raise ValueError("crash")

    sup = Supervisor("root", [ChildSpec("m", messy), ChildSpec("c", crasher)], clock=clock, lifecycle=lifecycle,
                     strategy=Strategy.ONE_FOR_ALL, max_restarts=0, period_s=1)
    with pytest.raises(Exception):
        await sup.serve()
    [event] = [e for e in lifecycle.events if e.kind is LifecycleKind.SHUTDOWN_ERROR]
    assert event.actor == "m" and "could not flush" in event.error


class SteppingClock(VirtualClock):
    """A wall clock that is stepped back an hour by every read, over a monotonic time that stands still."""

    def now_ns(self) -> int:
        self._now -= 3_600_000_000_000
        return self._now

    def monotonic_ns(self) -> int:
        return 0


async def test_restart_intensity_counts_on_monotonic_time_not_the_wall_clock(nursery):
    clock = SteppingClock(start_ns=10**18)
    lifecycle = Lifecycle(clock.now_ns)
    box = Mailbox("a")
    sup = Supervisor("root", [ChildSpec("a", actor_runner(Scripted, lambda: Scripted([], [])), inbox=box)],
                     clock=clock, lifecycle=lifecycle, max_restarts=2, period_s=1)
    done = trio.Event()

    async def serve():
        with pytest.raises(Exception, match="gave up"):
            await sup.serve()
        done.set()

    nursery.start_soon(serve)
    await trio.testing.wait_all_tasks_blocked()
    for _ in range(3):   # three crashes at one monotonic instant, however far apart the wall clock says
        box.deliver("boom")
        await trio.testing.wait_all_tasks_blocked()
    assert done.is_set()


async def test_an_actor_no_rule_names_is_counted_in_bulk_as_if_message_by_message():
    """The plan counts the messages an actor takes in hand (chaos sizes its "late" crashes by them); an actor no
    rule names is counted once it stops, with the message in hand when it crashed and not the rest of its batch."""
    crashes = CrashPlan([CrashRule("other", after_events=1)])
    sup, clock, _, box, seen, incarnations = tree(crashes=crashes)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.serve)
        for msg in ("a", "b", "boom", "c", "d"):
            box.deliver(msg)
        await clock.quiescence.wait_idle()
        assert len(incarnations) == 2 and crashes.received["a"] == 3   # the crashed one's count: a, b, boom
        nursery.cancel_scope.cancel()
    assert seen == ["a", "b", "c", "d"] and crashes.received["a"] == 5
