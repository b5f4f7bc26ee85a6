"""The data-quality checks on real recordings (read in place from ../shared/recorded, skipped where absent): every
venue's clean recording through the book actor finds nothing at the default limits, and a copy of the real Binance
spot frames corrupted in the test (a depth diff and a trade sent twice, a time going backwards, a level crossing
the book and withdrawn, a stall of the feed) finds exactly what was done to it."""
from __future__ import annotations

from dataclasses import replace

import pytest

from engine.actors.book import BookActor, BookStats
from engine.messages import DataQualityAlarm, DepthDiff, MarketBatch, TopOfBook, Trade
from engine.model.data_quality import (CROSSED_BOOK, DUPLICATE, KINDS, SILENT_FEED, TIME_BACKWARDS,
                                       DataQualityLimits, DataQualityMonitor)
from engine.replay.source import RecordedFeed
from engine.runtime import Mailbox, VirtualClock
from tests.actors.test_actors import context

from .conftest import VENUES, Recording

SECOND = 1_000_000_000


def events_of(recording: Recording, limit: int | None = None) -> list:
    events = []
    for _, event in RecordedFeed(recording.files, recording.codec).events():
        events.append(event)
        if limit is not None and len(events) == limit:
            break
    return events


async def through_the_book(recording: Recording, events: list, limits: DataQualityLimits = DataQualityLimits(),
                           batch: int = 100) -> tuple[DataQualityMonitor, list[DataQualityAlarm]]:
    """`events` through a book actor in batches, the clock moved to each batch as the replay feed moves it (what
    falls due before a batch's first event is handled before it)."""
    clock, inbox = VirtualClock(), Mailbox("book")
    quality = DataQualityMonitor(recording.symbols, limits)
    actor = BookActor(recording.symbols, 5, BookStats(), recording.sync_factory, quality=quality)
    ctx, out = context("book", "views", "status", "resync", "alarms", inbox=inbox, clock=clock)
    await actor.begin(ctx)
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        while (due := clock.next_due_ns()) is not None and due < chunk[0].ts_ns:
            await clock.advance_to(due)   # each timer handled in its place, as the replay feed has it
            await actor.step(inbox.take_waiting(), ctx)
        await clock.advance_to(max(event.ts_ns for event in chunk))
        await actor.step([*inbox.take_waiting(), MarketBatch(clock.now_ns(), tuple(chunk))], ctx)
    return quality, out["alarms"].sent


@pytest.mark.parametrize("venue", sorted(VENUES))
async def test_every_venue_s_real_recording_is_clean_at_the_default_limits(venue):
    recording = VENUES[venue]()
    quality, alarms = await through_the_book(recording, events_of(recording))
    report = quality.as_dict()
    assert report["counts"] == dict.fromkeys(KINDS, 0) and alarms == []
    assert sorted(report["by_instrument"]) == sorted(recording.symbols)


def _corrupted(events: list) -> tuple[list, dict[str, int]]:
    """The real frames with faults put in by hand, and how many of each kind were put in."""
    out = list(events)
    diffs = [i for i, e in enumerate(out) if type(e) is DepthDiff]
    # a bid above every ask of the session in one diff, withdrawn by the next: the touch crosses once
    cross_at, uncross_at = diffs[400], diffs[401]
    bad_bid = max(e.ask_price for e in out if type(e) is TopOfBook) + 1
    out[cross_at] = replace(out[cross_at], bids=(*out[cross_at].bids, (bad_bid, 1)))
    out[uncross_at] = replace(out[uncross_at], bids=(*out[uncross_at].bids, (bad_bid, 0)))
    # the venue's top of book between the two would disagree with the crossed book and drop it: left out
    out = [e for i, e in enumerate(out) if not (type(e) is TopOfBook and cross_at < i < uncross_at)]
    diffs = [i for i, e in enumerate(out) if type(e) is DepthDiff]
    trades = [i for i, e in enumerate(out) if type(e) is Trade]
    # time going backwards: one trade stamped a millisecond before the event before it
    backwards = trades[300]
    out[backwards] = replace(out[backwards], ts_ns=out[backwards - 1].ts_ns - 1_000_000)
    # a depth diff and a trade sent twice, each right after itself (the later one first: the indices hold)
    for i in sorted((diffs[600], trades[600]), reverse=True):
        out.insert(i + 1, out[i])
    # the feed stalls for 45 s before the 20 000th event: every later event comes that much later
    out[20_000:] = [replace(e, ts_ns=e.ts_ns + 45 * SECOND) for e in out[20_000:]]
    return out, {DUPLICATE: 2, TIME_BACKWARDS: 1, CROSSED_BOOK: 1, SILENT_FEED: 1}


async def test_a_corrupted_copy_of_real_binance_frames_finds_exactly_the_faults_put_in():
    recording = VENUES["binance-spot"]()
    events = events_of(recording, 30_000)
    clean, _ = await through_the_book(recording, events)
    assert clean.as_dict()["counts"] == dict.fromkeys(KINDS, 0)
    corrupted, put_in = _corrupted(events)
    quality, alarms = await through_the_book(recording, corrupted)
    assert quality.as_dict()["counts"] == {**dict.fromkeys(KINDS, 0), **put_in}
    # each kind alarmed once (the duplicates' second within the alarm interval), at the market time it was found
    assert sorted(a.kind for a in alarms) == sorted(put_in)
    examples = quality.as_dict()["by_instrument"]["BTC/USDT"]["examples"]
    assert sorted(e["detail"].split(" id ")[0] for e in examples[DUPLICATE]) == ["depth diff update", "trade"]
    assert " is 1000000 ns older than the newest " in examples[TIME_BACKWARDS][0]["detail"]
    highest_ask = max(e.ask_price for e in events if type(e) is TopOfBook)
    assert examples[CROSSED_BOOK][0]["detail"].startswith(f"bid {highest_ask + 1} >= ask ")
    [silent] = examples[SILENT_FEED]
    stalled_from = corrupted[19_999].ts_ns
    assert stalled_from + 30 * SECOND < silent["ts_ns"] <= stalled_from + 45 * SECOND
