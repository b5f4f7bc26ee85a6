"""Every supervision rule, in virtual time: strategies, restart types, intensity, start and stop order."""
from __future__ import annotations

import pytest
import trio
import trio.testing

from engine.runtime import (ChildSpec, LifecycleKind, Restart, Strategy, SupervisorGaveUp)


async def test_one_for_one_restarts_only_the_crashed_child(harness, nursery):
    sup = harness.supervisor("root", [harness.child("a"), harness.child("b"), harness.child("c")])
    await nursery.start(sup.serve)
    await harness.crash("b")
    assert harness.journal == [("start", "a"), ("start", "b"), ("start", "c"), ("crash", "b"), ("start", "b")]
    assert harness.lifecycle.count("b", LifecycleKind.RESTARTED) == 1
    for sibling in ("a", "c"):
        assert harness.lifecycle.count(sibling, LifecycleKind.STOPPED) == 0
        assert harness.starts(sibling) == 1


async def test_rest_for_one_restarts_the_crashed_child_and_those_started_after_it(harness, nursery):
    sup = harness.supervisor("root", [harness.child("a"), harness.child("b"), harness.child("c")],
                             strategy=Strategy.REST_FOR_ONE)
    await nursery.start(sup.serve)
    await harness.crash("b")
    assert harness.journal[3:] == [("crash", "b"), ("cancelled", "c"), ("start", "b"), ("start", "c")]
    assert harness.starts("a") == 1
    assert harness.lifecycle.count("a", LifecycleKind.STOPPED) == 0


async def test_one_for_all_stops_the_others_in_reverse_order_and_restarts_all_in_order(harness, nursery):
    sup = harness.supervisor("root", [harness.child("a"), harness.child("b"), harness.child("c")],
                             strategy=Strategy.ONE_FOR_ALL)
    await nursery.start(sup.serve)
    await harness.crash("b")
    assert harness.journal[3:] == [("crash", "b"), ("cancelled", "c"), ("cancelled", "a"),
                                   ("start", "a"), ("start", "b"), ("start", "c")]
    assert harness.lifecycle.per_actor(LifecycleKind.RESTARTED) == {"a": 1, "b": 1, "c": 1}


async def test_intensity_exceeded_makes_the_supervisor_give_up_and_its_parent_sees_why(harness, nursery):
    inner = harness.supervisor("inner", [harness.child("x"), harness.child("y")], max_restarts=2, period_s=10)
    outer = harness.supervisor("outer", [inner.as_child(), harness.child("z")], max_restarts=5, period_s=10)
    await nursery.start(outer.serve)
    for _ in range(3):
        await harness.crash("x")
    gave_up = [e for e in harness.lifecycle.events if e.kind is LifecycleKind.GAVE_UP]
    assert [e.actor for e in gave_up] == ["inner"]
    crashes = [e for e in harness.lifecycle.events if e.actor == "inner" and e.kind is LifecycleKind.CRASHED]
    assert len(crashes) == 1
    assert "SupervisorGaveUp" in crashes[0].error and "ValueError('x crashed')" in crashes[0].error
    # the parent applied its own strategy: the inner supervisor (and so x and y) started again, z untouched
    assert harness.lifecycle.count("inner", LifecycleKind.RESTARTED) == 1
    assert harness.journal[-2:] == [("start", "x"), ("start", "y")]
    assert harness.starts("z") == 1


async def test_restarts_spread_over_more_than_the_period_do_not_exceed_intensity(harness, nursery):
    sup = harness.supervisor("root", [harness.child("a")], max_restarts=1, period_s=5)
    await nursery.start(sup.serve)
    for _ in range(4):
        await harness.clock.advance_to(harness.clock.now_ns() + 6_000_000_000)
        await harness.crash("a")
    assert harness.lifecycle.count("a", LifecycleKind.RESTARTED) == 4
    assert harness.lifecycle.count("root", LifecycleKind.GAVE_UP) == 0


async def test_root_that_gives_up_raises_with_the_cause(harness):
    sup = harness.supervisor("root", [harness.child("a")], max_restarts=0)
    with pytest.RaisesGroup(SupervisorGaveUp) as info:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.serve)
            await harness.crash("a")
    gave_up = info.value.exceptions[0]
    assert isinstance(gave_up.cause, ValueError)
    assert gave_up.child == "a"


async def test_transient_child_that_returns_normally_is_not_restarted(harness, nursery):
    sup = harness.supervisor("root", [harness.child("t", Restart.TRANSIENT), harness.child("p")])
    await nursery.start(sup.serve)
    await harness.finish("t")
    assert harness.starts("t") == 1
    assert harness.lifecycle.count("t", LifecycleKind.EXITED) == 1
    assert harness.lifecycle.count("t", LifecycleKind.RESTARTED) == 0


async def test_transient_child_that_crashes_is_restarted(harness, nursery):
    sup = harness.supervisor("root", [harness.child("t", Restart.TRANSIENT)])
    await nursery.start(sup.serve)
    await harness.crash("t")
    assert harness.starts("t") == 2


async def test_permanent_child_that_returns_is_restarted(harness, nursery):
    sup = harness.supervisor("root", [harness.child("p")])
    await nursery.start(sup.serve)
    await harness.finish("p")
    assert harness.starts("p") == 2


async def test_temporary_child_is_never_restarted_even_by_a_sibling_under_one_for_all(harness, nursery):
    sup = harness.supervisor("root", [harness.child("tmp", Restart.TEMPORARY), harness.child("p")],
                             strategy=Strategy.ONE_FOR_ALL)
    await nursery.start(sup.serve)
    await harness.crash("p")
    assert harness.starts("tmp") == 1
    assert harness.starts("p") == 2
    assert ("cancelled", "tmp") in harness.journal


async def test_cancelling_the_parent_restarts_nothing(harness):
    inner = harness.supervisor("inner", [harness.child("x")])
    outer = harness.supervisor("outer", [inner.as_child(), harness.child("y")])
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(outer.serve)
            scope.cancel()
    assert scope.cancelled_caught
    kinds = {e.kind for e in harness.lifecycle.events}
    assert LifecycleKind.CRASHED not in kinds and LifecycleKind.RESTARTED not in kinds
    assert sorted(n for k, n in harness.journal if k == "cancelled") == ["x", "y"]


async def test_a_failure_before_started_is_restarted_and_later_siblings_wait_for_it(harness, nursery):
    harness.fail_before_start["b"] = 1
    sup = harness.supervisor("root", [harness.child("a"), harness.child("b"), harness.child("c")])
    await nursery.start(sup.serve)
    assert harness.journal == [("start", "a"), ("failed-init", "b"), ("start", "b"), ("start", "c")]
    assert harness.lifecycle.count("b", LifecycleKind.CRASHED) == 1


async def test_a_child_that_never_starts_makes_the_supervisor_give_up_before_it_starts(harness):
    harness.fail_before_start["b"] = 10
    sup = harness.supervisor("root", [harness.child("a"), harness.child("b")], max_restarts=2)
    with pytest.raises(BaseException) as info:
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.serve)
    flat = info.value.exceptions if isinstance(info.value, BaseExceptionGroup) else [info.value]
    assert any(isinstance(e, SupervisorGaveUp) and e.child == "b" for e in flat)
    assert ("cancelled", "a") in harness.journal


async def test_stop_request_stops_children_in_reverse_order(harness, nursery):
    inner = harness.supervisor("inner", [harness.child("x"), harness.child("y")])
    outer = harness.supervisor("outer", [harness.child("a"), inner.as_child(), harness.child("z")])
    ctx = await nursery.start(outer.serve)
    ctx.stop_requested.set()
    await trio.testing.wait_all_tasks_blocked()
    assert [n for k, n in harness.journal if k == "cancelled"] == ["z", "y", "x", "a"]


async def test_a_child_that_overruns_its_shutdown_time_is_recorded(harness, autojump_clock):
    async def stubborn(ctx):
        ctx.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(30)

    sup = harness.supervisor("root", [ChildSpec("slow", stubborn, shutdown_s=2.0), harness.child("b")])
    async with trio.open_nursery() as nursery:
        ctx = await nursery.start(sup.serve)
        start = trio.current_time()
        ctx.stop_requested.set()
    assert harness.lifecycle.count("slow", LifecycleKind.STOP_OVERRAN) == 1
    assert trio.current_time() - start >= 2.0


async def test_child_names_must_be_unique(harness):
    with pytest.raises(ValueError, match="unique"):
        harness.supervisor("root", [harness.child("a"), harness.child("a")])
