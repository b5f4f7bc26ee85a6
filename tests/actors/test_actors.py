"""The actors as thin loops: what each sends for what it receives, driven directly through `handle`."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
import trio

from adapters.binance.book_sync import BinanceBookSync
from adapters.simulated.inprocess import InProcessVenue
from adapters.simulated.matching import MatchingEngine
from adapters.simulated.venue import SimulatedVenueActor
from engine.actors.book import BookActor, BookStats
from engine.actors.ledger import LedgerActor
from engine.actors.orders import OrderManagerActor
from engine.journal import Journal
from engine.actors.risk import RiskActor
from engine.messages import (BookSnapshot, BookState, BookStatus, BookView, ChildOrder, DepthDiff, ExecType,
                             ExecutionReport, Exposure, Fill, Liquidity, MarketBatch, NewOrderRequest, OrderType,
                             OrderUpdate, ReconcileReply, Side, Signal, TimeInForce, TopOfBook, Trade, Urgency)
from engine.model.numbers import Instrument
from engine.model.ledger import FOLDED, Ledger
from engine.model.order_manager import ExecutionSettings, OrderManager
from engine.model.orders import OrderTable
from engine.model.sizing import Sizing, SizingRule
from engine.model.risk import RiskGate, RiskLimits
from engine.runtime import ActorContext, Mailbox, VirtualClock

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 3)


@pytest.fixture
async def journal(tmp_path):
    """A real journal with its writer service running."""
    with Journal.open(tmp_path / "journal.sqlite", sync="normal", scenario="test", started_ns=0) as journal:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            yield journal
            nursery.cancel_scope.cancel()


class Capture:
    def __init__(self):
        self.sent = []

    def send_nowait(self, msg):
        self.sent.append(msg)
        return True


def context(name, *outputs, inbox=None, clock=None):
    captures = {out: Capture() for out in outputs}
    ctx = ActorContext(name, clock or VirtualClock(start_ns=1000), inbox,
                       {out: [cap] for out, cap in captures.items()})
    return ctx, captures


def snapshot(last_id=10):
    return BookSnapshot("BTC/USDT", 1, last_id, ((9_900, 5),), ((10_100, 5),))


def diff(first, last, bids=(), asks=()):
    return DepthDiff("BTC/USDT", 2, first, last, -1, tuple(bids), tuple(asks))


async def test_book_publishes_one_view_per_batch_with_its_trades_and_announces_state_changes():
    actor = BookActor(["BTC/USDT"], depth=5, stats=BookStats(), sync_factory=BinanceBookSync)
    ctx, out = context("book", "views", "status", "resync", "alarms")
    trade = Trade("BTC/USDT", 3, 1, 10_100, 2, Side.BUY)
    await actor.step([MarketBatch(3, (snapshot(), diff(11, 12, bids=[(9_950, 1)]), trade))], ctx)
    [view] = out["views"].sent
    assert view.bids == ((9_950, 1), (9_900, 5)) and view.asks == ((10_100, 5),)
    assert view.trades == (trade,) and view.update_id == 12
    assert [s.state for s in out["status"].sent] == [BookState.LIVE]


async def test_the_mids_a_valuation_marks_to_are_the_live_book_s_just_before_its_time():
    stats = BookStats()
    actor = BookActor(["BTC/USDT"], depth=5, stats=stats, sync_factory=BinanceBookSync)
    ctx, _ = context("book", "views", "status", "resync", "alarms")
    moved = replace(diff(11, 12, bids=[(9_950, 1)]), ts_ns=5)
    await actor.step([MarketBatch(5, (snapshot(), moved))], ctx)
    assert stats.mids_before(1) == {}                               # before the book was live: nothing to mark to
    assert stats.mids_before(2) == {"BTC/USDT": 9_900 + 10_100}     # the snapshot's touch, from its time on
    assert stats.mids_before(5) == {"BTC/USDT": 9_900 + 10_100}     # an event at the tick's own time comes after it
    assert stats.mids_before(6) == {"BTC/USDT": 9_950 + 10_100}

@pytest.mark.parametrize("trade_views", [True, False])
async def test_book_on_every_change_publishes_a_view_per_change_in_order_and_per_trade_only_if_asked(trade_views):
    actor = BookActor(["BTC/USDT"], depth=5, stats=BookStats(), sync_factory=BinanceBookSync, every_change=True,
                      trade_views=trade_views)
    ctx, out = context("book", "views", "status", "resync", "alarms")
    trade = Trade("BTC/USDT", 3, 1, 10_100, 2, Side.BUY)
    await actor.step([MarketBatch(4, (snapshot(), diff(11, 12, bids=[(9_950, 1)]), trade,
                                        diff(13, 13, asks=[(10_050, 2)])))], ctx)
    views = out["views"].sent
    # the snapshot, the two diffs, and the trade where trades are decided on, each as the book stood then
    assert [v.update_id for v in views] == ([10, 12, 12, 13] if trade_views else [10, 12, 13])
    assert [v.trades for v in views] == ([(), (), (trade,), ()] if trade_views else [(), (), ()])
    assert views[0].bids == ((9_900, 5),) and views[-1].asks == ((10_050, 2), (10_100, 5))
    assert [s.state for s in out["status"].sent] == [BookState.LIVE]


async def test_book_gap_marks_the_instrument_stale_and_stops_its_views():
    actor = BookActor(["BTC/USDT"], depth=5, stats=(stats := BookStats()), sync_factory=BinanceBookSync)
    ctx, out = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(3, (snapshot(), diff(11, 12)))], ctx)
    await actor.step([MarketBatch(4, (diff(14, 15, bids=[(9_950, 1)]),))], ctx)
    assert [s.state for s in out["status"].sent] == [BookState.LIVE, BookState.STALE]
    assert len(out["views"].sent) == 1
    assert stats.as_dict()["sequence_gaps"] == 1


async def test_book_checks_the_venue_top_of_book_and_drops_a_book_that_disagrees():
    actor = BookActor(["BTC/USDT"], depth=5, stats=(stats := BookStats()), sync_factory=BinanceBookSync)
    ctx, out = context("book", "views", "status", "resync", "alarms")
    good = TopOfBook("BTC/USDT", 3, 12, 9_950, 1, 10_100, 5)
    bad = TopOfBook("BTC/USDT", 4, 13, 9_950, 1, 10_100, 4)
    await actor.step([MarketBatch(3, (snapshot(), good, diff(11, 12, bids=[(9_950, 1)])))], ctx)
    await actor.step([MarketBatch(4, (bad, diff(13, 13, asks=[(10_200, 1)])))], ctx)
    assert stats.as_dict()["top_of_book_checked"] == 2 and stats.as_dict()["top_of_book_mismatched"] == 1
    assert out["status"].sent[-1].state is BookState.STALE


async def test_risk_refuses_signals_while_the_book_is_stale_and_journals_each_decision(journal):
    gate = RiskGate(RiskLimits(Decimal("1000000"), 10_000, 50, 10), {"BTC/USDT": BTC},
                    sizing=Sizing({"s": SizingRule("fixed", quantity=1_000)}))
    actor = RiskActor(journal, gate)
    ctx, out = context("risk", "orders")
    view = BookView("BTC/USDT", 1, 1, ((9_900, 5),), ((10_100, 5),))
    signal = Signal("s", "BTC/USDT", 2, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, 20_000)
    await actor.step([view, BookStatus("BTC/USDT", 1, BookState.STALE), signal], ctx)
    assert out["orders"].sent == [] and gate.rejections["book_stale"] == 1
    await actor.step([BookStatus("BTC/USDT", 2, BookState.LIVE), signal], ctx)
    assert out["orders"].sent[0].qty == 1_000
    kinds = [type(e.msg).__name__ for e in await journal.read(actors=["risk"])]
    assert kinds == ["Signal", "RiskRejection", "Signal", "ParentOrder"]


async def test_a_restarted_risk_gate_never_gives_a_parent_id_twice(journal):
    ctx, out = context("risk", "orders")
    signal = Signal("s", "BTC/USDT", 2, Side.BUY, Decimal(1), Urgency.AGGRESSIVE, 20_000)
    view = BookView("BTC/USDT", 1, 1, ((9_900, 5),), ((10_100, 5),))
    for _ in range(2):   # an incarnation, then the next one after a crash
        actor = RiskActor(journal, RiskGate(RiskLimits(Decimal("1000000"), 10_000, 50, 10), {"BTC/USDT": BTC},
                    sizing=Sizing({"s": SizingRule("fixed", quantity=1_000)})))
        await actor.begin(ctx)
        await actor.step([view, signal], ctx)
    assert [p.parent_id for p in out["orders"].sent] == ["P1", "P2"]


async def test_order_manager_journals_first_and_sends_second_and_the_ledger_follows_the_journal(journal):
    clock = VirtualClock(start_ns=1000)
    inbox, ledger_box = Mailbox("orders"), Mailbox("ledger")
    journal.subscribe(FOLDED, ledger_box.deliver)
    settings = ExecutionSettings()
    actor = OrderManagerActor(journal, lambda: OrderManager(OrderTable("t"), ["BTC/USDT"], "binance", settings))
    ctx, out = context("orders", "venue", "control", inbox=inbox, clock=clock)
    await actor.begin(ctx)
    [reconcile] = out["venue"].sent
    await actor.step([ReconcileReply(reconcile.request_id, "binance", "BTC/USDT", 1000)], ctx)
    child = ChildOrder("P1", "binance", "BTC/USDT", Side.BUY, 3, 10_100, OrderType.LIMIT, TimeInForce.IOC, 1, 20_000,
                       child_id="P1.1")
    await actor.step([child], ctx)
    request = out["venue"].sent[-1]
    assert isinstance(request, NewOrderRequest) and request.client_order_id == "t-1-1"
    fill = ExecutionReport("binance", "t-1-1", "1", ExecType.TRADE, 5, cum_qty=2, last_qty=2, last_price=10_100,
                           fee=Decimal("0.2"), fee_asset="USDT", trade_id="77")
    expire = ExecutionReport("binance", "t-1-1", "1", ExecType.EXPIRED, 5, cum_qty=2)
    await actor.step([fill, fill, expire], ctx)  # the duplicate adds nothing
    entries = await journal.read(actors=["orders"])
    assert [type(e.msg).__name__ for e in entries] == [
        "OrderManagerStarted", "ReconcileReply", "ChildOrder", "OrderUpdate", "ExecutionReport", "Fill", "OrderUpdate",
        "ExecutionReport", "ExecutionReport", "OrderUpdate"]
    folded = await ledger_box.receive_batch()
    ledger = Ledger({"BTC/USDT": BTC})
    ledger.fold(folded)
    assert ledger.exposure("BTC/USDT", 9) == Exposure("BTC/USDT", 9, 2, 0, 0)
    assert [f.trade_id for f in ledger.fills] == ["77"]


async def test_a_restarted_order_manager_rebuilds_its_orders_from_the_journal(journal):
    clock = VirtualClock(start_ns=1000)
    settings = ExecutionSettings()
    core = lambda: OrderManager(OrderTable("t"), ["BTC/USDT"], "binance", settings)  # noqa: E731
    child = ChildOrder("P1", "binance", "BTC/USDT", Side.BUY, 3, 10_100, OrderType.LIMIT, TimeInForce.GTC, 1, 20_000,
                       child_id="P1.1")
    first = OrderManagerActor(journal, core)
    ctx, out = context("orders", "venue", "control", inbox=Mailbox("orders"), clock=clock)
    await first.begin(ctx)
    await first.step([ReconcileReply(out["venue"].sent[0].request_id, "binance", "BTC/USDT", 1000), child], ctx)
    await first.step([ExecutionReport("binance", "t-1-1", "1", ExecType.NEW, 5, cum_qty=0)], ctx)
    second = OrderManagerActor(journal, core)
    await second.begin(ctx)
    order = second.core.table.get("t-1-1")
    assert order.state.value == "submitted" and second.core.must_wait(child)   # reconciles before it trades
    await second.step([child], ctx)
    assert len(second.core.table) == 1          # the same child order again is the same order


async def test_venue_asks_to_see_views_only_while_an_order_rests():
    actor = SimulatedVenueActor(InProcessVenue(MatchingEngine({"BTC/USDT": BTC}, Decimal("0.001"), Decimal("0.001"),
                                                              "binance")))
    inbox = Mailbox("venue")
    ctx, out = context("venue", "reports", inbox=inbox)
    view = BookView("BTC/USDT", 1, 1, ((9_900, 5),), ((10_100, 5),))
    resting = NewOrderRequest("t-1", "binance", "BTC/USDT", Side.BUY, 2, 10_000, OrderType.LIMIT, TimeInForce.GTC, 1)
    await actor.step([view, resting], ctx)
    assert [r.exec_type for r in out["reports"].sent] == [ExecType.NEW]
    assert inbox.watch_state
    crossing = BookView("BTC/USDT", 2, 2, ((9_800, 5),), ((9_990, 5),))
    await actor.step([crossing], ctx)
    assert out["reports"].sent[-1].exec_type is ExecType.TRADE and out["reports"].sent[-1].cum_qty == 2
    assert not inbox.watch_state


async def test_a_book_silent_for_too_long_is_dropped_as_stale_and_resynced_alone():
    clock = VirtualClock(start_ns=0)
    inbox = Mailbox("book")  # not the clock's count: this test is the actor's loop
    actor = BookActor(["BTC/USDT", "ETH/USDT"], depth=5, stats=BookStats(), sync_factory=BinanceBookSync,
                      stale_after_ns=10_000_000_000)
    ctx, out = context("book", "views", "status", "resync", "alarms", inbox=inbox, clock=clock)
    await actor.begin(ctx)
    eth = BookSnapshot("ETH/USDT", 1, 10, ((900, 5),), ((1_100, 5),))
    await actor.step([MarketBatch(1, (snapshot(), eth))], ctx)
    for second in range(1, 17):  # BTC keeps ticking, ETH falls silent (checked every 5 s)
        await clock.advance_to(second * 1_000_000_000)
        btc = replace(diff(10 + second, 10 + second, bids=[(9_900 + second, 1)]), ts_ns=clock.now_ns())
        messages = [MarketBatch(clock.now_ns(), (btc,))] + (await inbox.receive_batch() if len(inbox) else [])
        await actor.step(messages, ctx)
    assert [(s.instrument, s.state) for s in out["status"].sent] == [
        ("BTC/USDT", BookState.SYNCING), ("ETH/USDT", BookState.SYNCING),   # said at start: not live yet
        ("BTC/USDT", BookState.LIVE), ("ETH/USDT", BookState.LIVE), ("ETH/USDT", BookState.STALE)]
    [request] = out["resync"].sent
    assert (request.instrument, request.reason) == ("ETH/USDT", "stale")
    assert actor.syncs["BTC/USDT"].state is BookState.LIVE and actor.syncs["ETH/USDT"].resyncs == {"stale": 1}


async def test_a_snapshot_request_left_unanswered_is_made_again():
    clock = VirtualClock(start_ns=0)
    inbox = Mailbox("book")
    actor = BookActor(["BTC/USDT"], depth=5, stats=BookStats(), sync_factory=BinanceBookSync,
                      stale_after_ns=4_000_000_000)
    ctx, out = context("book", "views", "status", "resync", "alarms", inbox=inbox, clock=clock)
    await actor.begin(ctx)
    for second in range(1, 12):  # diffs keep coming, buffered: no snapshot ever answers (asked at 1, 6, 10 s)
        await clock.advance_to(second * 1_000_000_000)
        messages = [MarketBatch(clock.now_ns(), (replace(diff(10 + second, 10 + second), ts_ns=clock.now_ns()),))]
        await actor.step(messages + (await inbox.receive_batch() if len(inbox) else []), ctx)
    assert [r.reason for r in out["resync"].sent] == ["buffered", "resync_timeout", "resync_timeout"]


async def test_a_restarted_book_keeps_what_the_crashed_one_counted():
    stats = BookStats()
    first = BookActor(["BTC/USDT"], depth=5, stats=stats, sync_factory=BinanceBookSync)
    ctx, _ = context("book", "views", "status", "resync", "alarms")
    await first.step([MarketBatch(3, (snapshot(), diff(11, 12), diff(14, 15)))], ctx)  # one gap
    BookActor(["BTC/USDT"], depth=5, stats=stats, sync_factory=BinanceBookSync)  # the supervisor's next incarnation
    assert stats.as_dict()["sequence_gaps"] == 1 and stats.as_dict()["resyncs"] == {"gap": 1}


async def test_a_restarted_ledger_tells_the_risk_gate_the_exposure_the_journal_holds(journal):
    fill = Fill("t-1-1", "P1", "binance", "BTC/USDT", Side.BUY, 3, 10_100, Decimal("0.01"), "USDT",
                Liquidity.TAKER, 5, 20_000, trade_id="9")
    update = OrderUpdate("t-1-1", "P1", "BTC/USDT", Side.BUY, "partially_filled", 5, 3, 5)
    await journal.write("orders", [(5, fill), (5, update)])
    ctx, out = context("ledger", "exposure", clock=VirtualClock(start_ns=77))
    await LedgerActor(journal, {"BTC/USDT": BTC}, lambda ts_ns: {}).start(ctx)
    assert out["exposure"].sent == [Exposure("BTC/USDT", 77, 3, 2, 0)]
