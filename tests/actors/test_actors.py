"""The actors as thin loops: what each sends for what it receives, driven directly through `handle`."""
from __future__ import annotations

from decimal import Decimal

from adapters.simulated.inprocess import InProcessVenue
from adapters.simulated.matching import MatchingEngine
from adapters.simulated.venue import SimulatedVenueActor
from engine.actors.book import BookActor, BookStats
from engine.actors.orders import OrderManagerActor
from engine.actors.risk import RiskActor
from engine.messages import (BookSnapshot, BookState, BookStatus, BookView, ChildOrder, DepthDiff, ExecType,
                             ExecutionReport, Exposure, Fill, MarketBatch, NewOrderRequest, OrderType,
                             OrderUpdate, Side, Signal, TimeInForce, TopOfBook, Trade, Urgency)
from engine.model.numbers import Instrument
from engine.model.orders import OrderTable
from engine.model.risk import RiskGate, RiskLimits
from engine.runtime import ActorContext, Mailbox, VirtualClock

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 3)


class Capture:
    def __init__(self):
        self.sent = []

    async def send(self, msg):
        self.sent.append(msg)


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
    actor = BookActor(["BTC/USDT"], depth=5, stats=BookStats())
    ctx, out = context("book", "views", "status")
    trade = Trade("BTC/USDT", 3, 1, 10_100, 2, Side.BUY)
    await actor.handle([MarketBatch(3, (snapshot(), diff(11, 12, bids=[(9_950, 1)]), trade))], ctx)
    [view] = out["views"].sent
    assert view.bids == ((9_950, 1), (9_900, 5)) and view.asks == ((10_100, 5),)
    assert view.trades == (trade,) and view.update_id == 12
    assert [s.state for s in out["status"].sent] == [BookState.LIVE]


async def test_book_gap_marks_the_instrument_stale_and_stops_its_views():
    actor = BookActor(["BTC/USDT"], depth=5, stats=(stats := BookStats()))
    ctx, out = context("book", "views", "status")
    await actor.handle([MarketBatch(3, (snapshot(), diff(11, 12)))], ctx)
    await actor.handle([MarketBatch(4, (diff(14, 15, bids=[(9_950, 1)]),))], ctx)
    assert [s.state for s in out["status"].sent] == [BookState.LIVE, BookState.STALE]
    assert len(out["views"].sent) == 1
    assert stats.as_dict()["sequence_gaps"] == 1


async def test_book_checks_the_venue_top_of_book_and_drops_a_book_that_disagrees():
    actor = BookActor(["BTC/USDT"], depth=5, stats=(stats := BookStats()))
    ctx, out = context("book", "views", "status")
    good = TopOfBook("BTC/USDT", 3, 12, 9_950, 1, 10_100, 5)
    bad = TopOfBook("BTC/USDT", 4, 13, 9_950, 1, 10_100, 4)
    await actor.handle([MarketBatch(3, (snapshot(), good, diff(11, 12, bids=[(9_950, 1)])))], ctx)
    await actor.handle([MarketBatch(4, (bad, diff(13, 13, asks=[(10_200, 1)])))], ctx)
    assert stats.as_dict()["top_of_book_checked"] == 2 and stats.as_dict()["top_of_book_mismatched"] == 1
    assert out["status"].sent[-1].state is BookState.STALE


async def test_risk_refuses_signals_while_the_book_is_stale():
    gate = RiskGate(RiskLimits(Decimal("1000000"), 10_000, 50, 10), {"BTC/USDT": BTC})
    actor = RiskActor(gate)
    ctx, out = context("risk", "orders")
    view = BookView("BTC/USDT", 1, 1, ((9_900, 5),), ((10_100, 5),))
    signal = Signal("s", "BTC/USDT", 2, 1_000, Urgency.AGGRESSIVE, 20_000)
    await actor.handle([view, BookStatus("BTC/USDT", 1, BookState.STALE), signal], ctx)
    assert out["orders"].sent == [] and gate.rejections["book_stale"] == 1
    await actor.handle([BookStatus("BTC/USDT", 2, BookState.LIVE), signal], ctx)
    assert out["orders"].sent[0].qty == 1_000


async def test_order_manager_sends_the_order_then_accounts_fills_and_exposure():
    actor = OrderManagerActor(OrderTable("t"), positions={})
    ctx, out = context("orders", "venue", "updates", "fills", "exposure")
    child = ChildOrder("P1", "binance", "BTC/USDT", Side.BUY, 3, 10_100, OrderType.LIMIT, TimeInForce.IOC, 1, 20_000)
    await actor.handle([child], ctx)
    [request] = out["venue"].sent
    assert isinstance(request, NewOrderRequest) and request.client_order_id == "t-1"
    assert out["exposure"].sent[-1] == Exposure("BTC/USDT", 1000, 0, 3, 0)
    fill = ExecutionReport("binance", "t-1", "1", ExecType.TRADE, 5, cum_qty=2, last_qty=2, last_price=10_100,
                           fee=Decimal("0.2"), fee_asset="USDT")
    expire = ExecutionReport("binance", "t-1", "1", ExecType.EXPIRED, 5, cum_qty=2)
    await actor.handle([fill, fill, expire], ctx)  # the duplicate adds nothing
    assert [f.qty for f in out["fills"].sent] == [2]
    assert isinstance(out["fills"].sent[0], Fill)
    assert out["exposure"].sent[-1] == Exposure("BTC/USDT", 1000, 2, 0, 0)
    assert [u.state for u in out["updates"].sent if isinstance(u, OrderUpdate)][-1] == "expired"


async def test_venue_asks_to_see_views_only_while_an_order_rests():
    actor = SimulatedVenueActor(InProcessVenue(MatchingEngine({"BTC/USDT": BTC}, Decimal("0.001"), Decimal("0.001"),
                                                              "binance")))
    inbox = Mailbox("venue")
    ctx, out = context("venue", "reports", inbox=inbox)
    view = BookView("BTC/USDT", 1, 1, ((9_900, 5),), ((10_100, 5),))
    resting = NewOrderRequest("t-1", "binance", "BTC/USDT", Side.BUY, 2, 10_000, OrderType.LIMIT, TimeInForce.GTC, 1)
    await actor.handle([view, resting], ctx)
    assert [r.exec_type for r in out["reports"].sent] == [ExecType.NEW]
    assert inbox.watch_state
    crossing = BookView("BTC/USDT", 2, 2, ((9_800, 5),), ((9_990, 5),))
    await actor.handle([crossing], ctx)
    assert out["reports"].sent[-1].exec_type is ExecType.TRADE and out["reports"].sent[-1].cum_qty == 2
    assert not inbox.watch_state


async def test_a_book_silent_for_too_long_is_dropped_as_stale_and_resynced_alone():
    clock = VirtualClock(start_ns=0)
    inbox = Mailbox("book")  # not the clock's count: this test is the actor's loop
    actor = BookActor(["BTC/USDT", "ETH/USDT"], depth=5, stats=BookStats(), stale_after_ns=10_000_000_000)
    ctx, out = context("book", "views", "status", "resync", inbox=inbox, clock=clock)
    await actor.start(ctx)
    eth = BookSnapshot("ETH/USDT", 1, 10, ((900, 5),), ((1_100, 5),))
    await actor.handle([MarketBatch(1, (snapshot(), eth))], ctx)
    for second in range(1, 17):  # BTC keeps ticking, ETH falls silent (checked every 5 s)
        await clock.advance_to(second * 1_000_000_000)
        btc = diff(10 + second, 10 + second, bids=[(9_900 + second, 1)])
        messages = [MarketBatch(clock.now_ns(), (btc,))] + (await inbox.receive_batch() if len(inbox) else [])
        await actor.handle(messages, ctx)
    assert [(s.instrument, s.state) for s in out["status"].sent] == [
        ("BTC/USDT", BookState.LIVE), ("ETH/USDT", BookState.LIVE), ("ETH/USDT", BookState.STALE)]
    [request] = out["resync"].sent
    assert (request.instrument, request.reason) == ("ETH/USDT", "stale")
    assert actor.syncs["BTC/USDT"].state is BookState.LIVE and actor.syncs["ETH/USDT"].resyncs == {"stale": 1}


async def test_a_snapshot_request_left_unanswered_is_made_again():
    clock = VirtualClock(start_ns=0)
    inbox = Mailbox("book")
    actor = BookActor(["BTC/USDT"], depth=5, stats=BookStats(), stale_after_ns=4_000_000_000)
    ctx, out = context("book", "views", "status", "resync", inbox=inbox, clock=clock)
    await actor.start(ctx)
    for second in range(1, 12):  # diffs keep coming, buffered: no snapshot ever answers (asked at 1, 6, 10 s)
        await clock.advance_to(second * 1_000_000_000)
        messages = [MarketBatch(clock.now_ns(), (diff(10 + second, 10 + second),))]
        await actor.handle(messages + (await inbox.receive_batch() if len(inbox) else []), ctx)
    assert [r.reason for r in out["resync"].sent] == ["buffered", "resync_timeout", "resync_timeout"]


async def test_a_restarted_book_keeps_what_the_crashed_one_counted():
    stats = BookStats()
    first = BookActor(["BTC/USDT"], depth=5, stats=stats)
    ctx, _ = context("book", "views", "status", "resync")
    await first.handle([MarketBatch(3, (snapshot(), diff(11, 12), diff(14, 15)))], ctx)  # one gap
    BookActor(["BTC/USDT"], depth=5, stats=stats)  # the supervisor's next incarnation
    assert stats.as_dict()["sequence_gaps"] == 1 and stats.as_dict()["resyncs"] == {"gap": 1}
