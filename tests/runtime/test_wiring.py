"""Wiring is checked: a tree wired other than its actors declare fails when it is built, naming the actor and the
output; an emit on an undeclared output raises; and every send is a checkpoint, whatever the edge."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio
import trio.testing

from engine.runtime import (Actor, ActorContext, BlockingEdge, ChildSpec, ConflatingEdge, DelayedEdge,
                            LatestValueEdge, Lifecycle, Mailbox, Ports, Supervisor, UndeclaredOutput, VirtualClock,
                            WiringError, actor_runner)


@dataclass(frozen=True)
class Quote:
    instrument: str


@dataclass(frozen=True)
class Order:
    instrument: str


class Quoter(Actor):
    ports = Ports(accepts=(Order,), outputs={"quotes": Quote, "audit": (Quote, Order)},
                  optional={"audit": "only a run that keeps an audit trail reads it"})


class QuoteReader(Actor):
    ports = Ports(accepts=(Quote,))


class OrderReader(Actor):
    ports = Ports(accepts=(Order,))


def tree(quoter_outputs: dict[str, list[object]], reader: type[Actor] = QuoteReader) -> Supervisor:
    clock = VirtualClock()
    quoter_box, reader_box = Mailbox("quoter"), Mailbox("reader")
    outputs = {name: [BlockingEdge(reader_box) if edge == "reader" else edge for edge in edges]
               for name, edges in quoter_outputs.items()}
    return Supervisor("root", [
        ChildSpec("reader", actor_runner(reader), inbox=reader_box),
        ChildSpec("quoter", actor_runner(Quoter), inbox=quoter_box, outputs=outputs),  # type: ignore[arg-type]
    ], clock=clock, lifecycle=Lifecycle(clock.now_ns))


def test_a_tree_wired_as_declared_builds_and_an_optional_output_may_stay_unwired() -> None:
    tree({"quotes": ["reader"]})
    tree({"quotes": ["reader"], "audit": []})


def test_an_undeclared_output_fails_when_the_tree_is_built_naming_the_actor_and_the_output() -> None:
    with pytest.raises(WiringError, match=r"actor 'quoter': output 'qoutes' is wired but not declared"):
        tree({"quotes": ["reader"], "qoutes": ["reader"]})


def test_an_unwired_output_fails_when_the_tree_is_built_naming_the_actor_and_the_output() -> None:
    with pytest.raises(WiringError, match=r"actor 'quoter': output 'quotes' is declared but not wired"):
        tree({})


def test_a_mistyped_output_fails_when_the_tree_is_built_naming_the_actor_the_output_and_the_type() -> None:
    with pytest.raises(WiringError, match=r"actor 'quoter': output 'quotes' sends Quote into mailbox 'reader', "
                                          r"whose reader 'reader' accepts Order"):
        tree({"quotes": ["reader"]}, reader=OrderReader)
    with pytest.raises(WiringError, match=r"actor 'quoter': output 'audit' sends Order into mailbox 'reader'"):
        tree({"quotes": ["reader"], "audit": ["reader"]})   # one of the output's two types is refused


def test_an_output_into_a_mailbox_nobody_reads_fails_when_the_tree_is_built() -> None:
    with pytest.raises(WiringError, match=r"actor 'quoter': output 'quotes' goes into mailbox 'orphan', which no "
                                          r"actor reads"):
        tree({"quotes": [BlockingEdge(Mailbox("orphan"))]})


def test_a_mailbox_has_one_reader() -> None:
    box = Mailbox("shared")
    ChildSpec("a", actor_runner(QuoteReader), inbox=box)
    with pytest.raises(ValueError, match="mailbox 'shared' is read by 'a'; 'b' cannot read it too"):
        ChildSpec("b", actor_runner(QuoteReader), inbox=box)


def test_actor_runner_needs_the_actor_class() -> None:
    with pytest.raises(TypeError, match="is not an Actor class"):
        actor_runner(lambda: Quoter())  # type: ignore[arg-type]


async def test_an_emit_on_an_undeclared_output_raises_and_an_unwired_optional_one_sends_nowhere() -> None:
    spec = ChildSpec("quoter", actor_runner(Quoter), outputs={"quotes": [BlockingEdge(Mailbox("sink"))]})
    ctx = ActorContext("quoter", VirtualClock(), outputs=spec.wiring)
    await ctx.emit("audit", Quote("BTC/USDT"))
    with pytest.raises(UndeclaredOutput, match=r"actor 'quoter' sent Quote on output 'qoutes', which it does not "
                                               r"declare \(declared: audit, quotes\)"):
        await ctx.emit("qoutes", Quote("BTC/USDT"))


def non_blocking_edges(box: Mailbox, clock: VirtualClock) -> list[object]:
    return [ConflatingEdge(box, lambda msg: msg.instrument), LatestValueEdge(box, lambda msg: msg.instrument),
            DelayedEdge(box, clock, 1_000)]


@pytest.mark.parametrize("kind", ["conflate", "latest", "delay"])
async def test_a_cancelled_send_into_a_non_blocking_edge_raises_cancelled_and_sends_nothing(kind: str) -> None:
    clock = VirtualClock()
    box = Mailbox("reader")
    [edge] = [e for e in non_blocking_edges(box, clock) if e.policy == kind]  # type: ignore[attr-defined]
    ctx = ActorContext("quoter", clock, outputs={"quotes": [edge]})  # type: ignore[list-item]
    with trio.CancelScope() as scope:
        scope.cancel()
        await ctx.emit("quotes", Quote("BTC/USDT"))
    assert scope.cancelled_caught
    assert len(box) == 0 and box.conflated == 0 and clock.scheduled == 0
    box.redeliver_state()
    assert box.take_waiting() == []      # nor was a latest value kept


async def test_a_sender_into_non_blocking_edges_lets_others_run_between_sends_and_is_cancelled_mid_stream() -> None:
    """A loop that only ever sends into edges that never wait still yields at each send, so the test's own task
    runs between two sends, and its cancellation stops the loop long before it would have ended."""
    clock = VirtualClock()
    box = Mailbox("reader")
    ctx = ActorContext("quoter", clock, outputs={"quotes": non_blocking_edges(box, clock)})  # type: ignore[dict-item]
    sends = 1_000
    sent = 0
    seen_by_the_test: list[int] = []

    async def sender() -> None:
        nonlocal sent
        for _ in range(sends):
            await ctx.emit("quotes", Quote("BTC/USDT"))
            sent += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender)
        for _ in range(3):
            await trio.lowlevel.checkpoint()
            seen_by_the_test.append(sent)
        nursery.cancel_scope.cancel()
    assert seen_by_the_test[-1] < sends, "the sender ran to its end before the test's task ran again"
    assert 0 < sent < sends
    assert clock.scheduled == sent and box.conflated == 2 * sent - 2
