"""The book actor's data-quality checks on hand-made event sequences: what each finding counts, and the alarms it
raises on `alarms` (rate-limited), at each check's boundary."""
from __future__ import annotations

from dataclasses import replace

from adapters.binance.book_sync import BinanceBookSync
from adapters.coinbase.book_sync import CoinbaseBookSync
from engine.actors.book import BookActor, BookStats
from engine.messages import DataQualityAlarm, DepthDiff, MarketBatch, Side, TopOfBook, Trade
from engine.model.data_quality import (CROSSED_BOOK, DUPLICATE, SILENCE_TIMER, SILENT_FEED, TIME_BACKWARDS,
                                       DataQualityLimits, DataQualityMonitor)
from engine.runtime import Mailbox, VirtualClock
from tests.actors.test_actors import context, diff, snapshot

S = "BTC/USDT"


def book(limits: DataQualityLimits = DataQualityLimits(), sync_factory=BinanceBookSync, symbols=(S,)):
    quality = DataQualityMonitor(list(symbols), limits)
    return BookActor(list(symbols), depth=5, stats=BookStats(), sync_factory=sync_factory, quality=quality), quality


def found(quality: DataQualityMonitor, symbol: str = S) -> dict[str, int]:
    return {kind: n for kind, n in quality.as_dict()["by_instrument"][symbol]["counts"].items() if n}


def trade(trade_id: int, ts: int = 3) -> Trade:
    return Trade(S, ts, trade_id, 10_100, 1, Side.BUY)


async def test_a_depth_diff_whose_update_id_is_not_past_the_newest_is_a_duplicate():
    actor, quality = book()
    ctx, out = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(3, (snapshot(), diff(11, 12), diff(11, 12), diff(13, 13), diff(12, 12)))], ctx)
    assert found(quality) == {DUPLICATE: 2}
    [alarm] = out["alarms"].sent   # the second within the alarm interval: counted, held back
    assert (alarm.kind, alarm.detail) == (DUPLICATE, "depth diff update id 12 already seen (newest 12)")
    assert quality.as_dict()["by_instrument"][S]["alarms_held_back"] == 1


async def test_an_update_id_repeated_as_a_continuation_or_without_ids_is_no_duplicate():
    actor, quality = book()
    ctx, _ = context("book", "views", "status", "resync", "alarms")
    keep_alive = DepthDiff(S, 2, 12, 12, 12, (), ())       # OKX's: prevSeqId == seqId, nothing changed
    no_ids = DepthDiff(S, 2, -1, -1, -1, (), ())           # a venue that numbers nothing
    await actor.step([MarketBatch(3, (snapshot(), diff(11, 12), keep_alive, no_ids, no_ids))], ctx)
    assert found(quality) == {}


async def test_a_snapshot_starts_a_new_chain_of_ids():
    actor, quality = book()
    ctx, _ = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(3, (snapshot(), diff(11, 40)))], ctx)
    restarted = replace(snapshot(last_id=1), ts_ns=2)   # the venue restarted its ids
    await actor.step([MarketBatch(4, (restarted, diff(2, 2)))], ctx)
    assert found(quality) == {}


async def test_a_trade_or_top_of_book_id_not_past_the_newest_is_a_duplicate():
    actor, quality = book()
    ctx, out = context("book", "views", "status", "resync", "alarms")
    top = TopOfBook(S, 3, 10, 9_900, 5, 10_100, 5)
    await actor.step([MarketBatch(3, (snapshot(), trade(7), trade(8), trade(8), top, replace(top, update_id=11),
                                        top))], ctx)
    assert found(quality) == {DUPLICATE: 2}
    assert [a.detail for a in out["alarms"].sent] == ["trade id 8 already seen (newest 8)"]


async def test_an_event_at_the_newest_time_is_in_order_and_one_ns_older_goes_backwards():
    actor, quality = book()
    ctx, out = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(5, (snapshot(), trade(1, ts=5), trade(2, ts=5), trade(3, ts=4),
                                        trade(4, ts=5)))], ctx)
    assert found(quality) == {TIME_BACKWARDS: 1}
    [alarm] = out["alarms"].sent
    assert (alarm.ts_ns, alarm.detail) == (4, "event at 4 ns is 1 ns older than the newest at 5 ns")


async def test_every_venue_s_book_is_checked_for_a_cross_whether_or_not_its_sync_looks():
    # Binance's sync keeps a crossed book: the touch shows it
    actor, quality = book()
    ctx, out = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(3, (snapshot(), diff(11, 11, bids=[(10_099, 1)]),
                                        diff(12, 12, bids=[(10_100, 1)])))], ctx)
    assert found(quality) == {CROSSED_BOOK: 1}
    assert out["alarms"].sent[0].detail == "bid 10100 >= ask 10100"
    # Coinbase's sync drops a book that would cross: its refusal is the finding
    actor, quality = book(sync_factory=CoinbaseBookSync)
    ctx, out = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(3, (replace(snapshot(), last_update_id=1),
                                        DepthDiff(S, 3, 2, 2, 1, ((10_200, 1),), ())))], ctx)
    assert found(quality) == {CROSSED_BOOK: 1}
    assert [r.reason for r in out["resync"].sent] == ["crossed"]
    # and the venue's own top of book
    actor, quality = book()
    ctx, _ = context("book", "views", "status", "resync", "alarms")
    await actor.step([MarketBatch(3, (TopOfBook(S, 3, 1, 100, 1, 101, 1), TopOfBook(S, 3, 2, 101, 1, 101, 1)))],
                       ctx)
    assert found(quality) == {CROSSED_BOOK: 1}


async def test_a_silent_instrument_is_found_on_the_clock_and_alarmed_once():
    clock = VirtualClock(start_ns=0)
    inbox = Mailbox("book")
    limits = DataQualityLimits(silent_after_ns=10_000_000_000)
    actor, quality = book(limits, symbols=(S, "ETH/USDT"))
    ctx, out = context("book", "views", "status", "resync", "alarms", inbox=inbox, clock=clock)
    await actor.begin(ctx)
    eth = replace(snapshot(), instrument="ETH/USDT")
    await clock.advance_to(1_000_000_000)
    await actor.step([MarketBatch(clock.now_ns(), (replace(snapshot(), ts_ns=clock.now_ns()),
                                                     replace(eth, ts_ns=clock.now_ns())))], ctx)
    for second in range(2, 31):   # BTC trades every second; ETH falls silent after its snapshot at 1 s
        await clock.advance_to(second * 1_000_000_000)
        waiting = inbox.take_waiting()
        assert all(msg.key == SILENCE_TIMER for msg in waiting)
        await actor.step(waiting + [MarketBatch(clock.now_ns(), (trade(second, ts=clock.now_ns()),))], ctx)
    alarms = [a for a in out["alarms"].sent if isinstance(a, DataQualityAlarm)]
    # checked every 5 s: at 10 s ETH is 9 s silent, at 15 s 14 s: found then, and never again while silent
    assert [(a.instrument, a.kind, a.ts_ns) for a in alarms] == [("ETH/USDT", SILENT_FEED, 15_000_000_000)]
    assert alarms[0].detail == "no event for 14000 ms (limit 10000 ms)"
    assert found(quality, "ETH/USDT") == {SILENT_FEED: 1} and found(quality) == {}
