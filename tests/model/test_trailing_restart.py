"""An emulated trailing stop survives a crash of the order manager: the moves of its level are journaled
(`ProtectionTrail`), so the rebuilt order manager trails on from where its predecessor had got to, not from the
entry, and triggers at the same view with the same order as an order manager that never crashed.

The market is Binance spot BTCUSDT's recorded top of book (as in `test_protection`); the order manager is driven
the way its actor drives it: every input and every decision on a view is journaled (through the journal's own row
codec) before the next message, and a restart rebuilds from those rows alone.
"""
from __future__ import annotations

from engine.journal import decode, encode
from engine.messages import (BookView, ChildOrder, ExecType, ExecutionReport, JournalEntry, OrderType, Protection,
                             ProtectionTrail, ProtectionTrigger, Side, TimeInForce)
from engine.model.order_manager import INPUTS, Decisions, OrderManager
import pytest

from tests.model.test_protection import CAPTURE, LOT, SYMBOL, TICK, manager, needs_capture, recorded_views

TRAILING_BPS = 3


@pytest.fixture(scope="module")
def views() -> list[BookView]:
    """Long enough for the stop to trail a while (its level moves 16 times) and then trigger (near view 2,700)."""
    if not CAPTURE.is_file():
        pytest.skip(f"recorded data not found at {CAPTURE}")
    return recorded_views(4_000)


class Driven:
    """An order manager and the journal of its inputs, as `OrderManagerActor` keeps them."""

    def __init__(self, om: OrderManager):
        self.om = om
        self.journal: list[JournalEntry] = []

    def take(self, msg, now: int) -> Decisions:
        out = Decisions()
        self.om.handle(msg, now, out)
        kind, body = encode(msg)
        self.journal.append(JournalEntry(len(self.journal) + 1, now, 1, "orders", decode(kind, body)))
        return out

    def view(self, view: BookView) -> list:
        decided = self.om.on_view(view, view.ts_ns)
        for msg in decided:
            self.take(msg, view.ts_ns)
        return decided

    def level(self) -> int:
        [group] = self.om.protector.groups.values()
        return group.legs["stop"].level(TICK)


def entered(views: list[BookView]) -> Driven:
    """A long entry filled at the first view's ask, protected by an emulated trailing stop."""
    driven = Driven(manager("emulated"))
    first = views[0]
    out = driven.take(ChildOrder("P1", "binance", SYMBOL, Side.BUY, 10 * LOT, first.best_ask, OrderType.LIMIT,
                                 TimeInForce.IOC, first.ts_ns, first.mid_x2, child_id="P1.1",
                                 protection=Protection(trailing_bps=TRAILING_BPS)), first.ts_ns)
    cid = out.venue[0].client_order_id
    driven.take(ExecutionReport("binance", cid, "1", ExecType.TRADE, first.ts_ns, 10 * LOT, 10 * LOT, first.best_ask,
                                trade_id="1"), first.ts_ns)
    return driven


def rebuilt(journal: list[JournalEntry]) -> OrderManager:
    om = manager("emulated")
    om.rebuild([entry for entry in journal if type(entry.msg) in INPUTS], 1)
    return om


def run_to_trigger(driven: Driven, views: list[BookView]) -> tuple[int, ProtectionTrigger] | None:
    for i, view in enumerate(views):
        triggers = [m for m in driven.view(view) if type(m) is ProtectionTrigger]
        if triggers:
            return i, triggers[0]
    return None


@needs_capture
def test_a_trailing_stop_rebuilt_after_a_crash_mid_trail_keeps_its_level_and_triggers_as_without_the_crash(views):
    steady = entered(views)
    entry_level = steady.level()
    moves = 0
    for crash_at, view in enumerate(views[1:], 1):   # trail until the level has moved a few times: the crash
        moves += sum(type(m) is ProtectionTrail for m in steady.view(view))
        assert steady.om.protector.groups, "the stop triggered before the crash point: pick a wider distance"
        if moves >= 10:
            break
    assert steady.level() != entry_level

    # the crash: the incarnation is gone, its journal is all that is left
    restarted = Driven(rebuilt(steady.journal))
    restarted.journal = list(steady.journal)
    restarted.om._ready[SYMBOL] = True
    assert restarted.level() == steady.level()

    # without the journaled moves the rebuild would trail from the entry: the test sees the difference
    forgetful = rebuilt([e for e in steady.journal if type(e.msg) is not ProtectionTrail])
    [group] = forgetful.protector.groups.values()
    assert group.legs["stop"].level(TICK) == entry_level != steady.level()

    rest = views[crash_at + 1:]
    expected = run_to_trigger(steady, rest)
    assert expected is not None, "the stop never triggered in the window: pick a narrower distance"
    got = run_to_trigger(restarted, rest)
    assert got == expected
    # and the order it places once triggered is the same
    at = rest[expected[0]].ts_ns
    assert [r.__class__ for r in steady.take(expected[1], at).venue] == [r.__class__ for r in
                                                                       restarted.take(got[1], at).venue]


def test_a_trail_is_journaled_only_when_its_level_moves_by_a_tick():
    driven = Driven(manager("emulated"))
    tick = TICK
    start = BookView(SYMBOL, 1, 1, ((100_000 * tick, LOT),), ((100_001 * tick, LOT),))
    out = driven.take(ChildOrder("P1", "binance", SYMBOL, Side.BUY, LOT, start.best_ask, OrderType.LIMIT,
                                 TimeInForce.IOC, 1, start.mid_x2, child_id="P1.1",
                                 protection=Protection(trailing_bps=5_000)), 1)
    driven.take(ExecutionReport("binance", out.venue[0].client_order_id, "1", ExecType.TRADE, 1, LOT, LOT,
                                start.best_ask, trade_id="1"), 1)
    assert driven.level() == 50_000 * tick   # half of the entry (1000.01), on the tick grid below: a level moves
    trails = []                              # half a tick per tick of the best price
    for bid in (100_001, 100_002, 100_003, 100_001, 100_010):
        view = BookView(SYMBOL, 2, bid, ((bid * tick, LOT),), ((bid * tick + tick, LOT),))
        trails += [m for m in driven.view(view) if type(m) is ProtectionTrail]
    assert [t.best for t in trails] == [100_002 * tick, 100_010 * tick]
    assert driven.level() == 50_005 * tick
