"""Snapshots rebuilt from the recording are ones each venue's own sync takes, and the book stays exact after.

The proof, per venue on its real recording: a book replayed through its sync is broken at several events
(as a gap would break it), given the rebuilt snapshot for that event, and goes on; at the end it equals
a book that never broke, with no gap, checksum failure or top-of-book mismatch after any resync.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from engine.contracts import SyncResult
from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from engine.messages import BookSnapshot, BookState, DepthDiff
from engine.replay import synthetic
from engine.replay.shadow_books import ShadowBooks, apply_event
from engine.replay.source import RecordedFeed

BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
SYMBOL = BTCUSDT.symbol


AFTER_NEXT_DIFF = {"binance-usdm"}
"""Venues whose sync takes a rebuilt book only after the instrument's next diff (the first diff after a
snapshot must span its id); the others take the book after exactly the events asked for."""


def whole_book(sync) -> tuple:
    book = sync.book
    return book.top(max(book.bid_levels, book.ask_levels))


@dataclass
class Break:
    """Where a book breaks and what the rebuilt snapshot must hold."""
    kind: str                                   # "gap": a diff finds its book dropped; "restart": a fresh sync
    instrument: str
    at: tuple = ()                              # (book, update id) after the event the book breaks at
    after_next_diff: tuple = ()                 # (book, update id) after the instrument's next diff


def clean_replay(recording, events, positions: dict[int, str]) -> tuple[dict, dict[int, Break]]:
    """The books of a replay that never broke, and the breaks: of each kind at the first event from its
    position on whose book is live (a gap at a diff), with the books the rebuilt snapshot may hold there."""
    syncs = {symbol: recording.sync_factory(symbol) for symbol in recording.symbols}
    wanted = sorted(positions.items())
    breaks: dict[int, Break] = {}
    waiting: dict[str, Break] = {}  # instrument → its break, waiting for its next diff
    for index, (_, event) in enumerate(events, 1):
        sync = syncs[event.instrument]
        live = sync.state is BookState.LIVE
        apply_event(sync, event)
        if type(event) is DepthDiff and event.instrument in waiting:
            waiting.pop(event.instrument).after_next_diff = (whole_book(sync), event.last_id)
        if wanted and index >= wanted[0][0] and live and event.instrument not in waiting and (
                wanted[0][1] == "restart" or type(event) is DepthDiff):
            broken = breaks[index] = Break(wanted.pop(0)[1], event.instrument, (whole_book(sync), sync.last_update_id))
            waiting[event.instrument] = broken
    assert not wanted, f"no live book to break from events {wanted} on"
    return syncs, breaks


def replay_with_breaks(recording, events, breaks: dict[int, Break], shadow: ShadowBooks,
                       after_next_diff: bool) -> tuple[dict, list]:
    """The replay again, each book broken where told and given the rebuilt snapshot for that event."""
    syncs = {symbol: recording.sync_factory(symbol) for symbol in recording.symbols}
    retired = []
    for index, (ts, event) in enumerate(events, 1):
        broken = breaks.get(index)
        sync = syncs[event.instrument]
        if broken is None:
            apply_event(sync, event)
            continue
        if broken.kind == "gap":
            sync.invalidate("gap")
            apply_event(sync, event)  # the diff that found the gap: buffered or ignored
        else:
            apply_event(sync, event)
            retired.append(sync)
            sync = syncs[event.instrument] = recording.sync_factory(event.instrument)  # a restarted book actor's
        snapshot = shadow.snapshot(event.instrument, index, ts)
        assert snapshot is not None and snapshot.checksum is None and snapshot.ts_ns == ts
        book, update_id = broken.after_next_diff if after_next_diff else broken.at
        assert ((snapshot.bids, snapshot.asks), snapshot.last_update_id) == (book, update_id)
        assert sync.on_snapshot(snapshot) is SyncResult.LOADED
    return syncs, retired


def test_each_venues_book_takes_the_rebuilt_snapshots_and_ends_as_if_it_never_broke(recording, request):
    events = list(RecordedFeed(recording.files, recording.codec))
    n = len(events)
    positions = {n * j // 6: kind for j, kind in enumerate(["gap", "restart", "gap", "restart", "gap"], 1)}
    clean, breaks = clean_replay(recording, events, positions)
    openings = []
    feed = RecordedFeed(recording.files, recording.codec)

    def open_events():
        openings.append(1)
        return feed.independent_events()
    shadow = ShadowBooks(open_events, recording.sync_factory, recording.symbols)
    venue = request.node.callspec.params["recording"]
    resynced, retired = replay_with_breaks(recording, events, breaks, shadow, venue in AFTER_NEXT_DIFF)
    assert openings == [1]  # five resyncs, and the recording read once more
    gaps = Counter(b.instrument for b in breaks.values() if b.kind == "gap")
    for symbol, sync in resynced.items():
        never_broke = clean[symbol]
        assert sync.state is never_broke.state
        assert whole_book(sync) == whole_book(never_broke), symbol
        incarnations = [s for s in retired if s.instrument == symbol] + [sync]
        resyncs = sum((Counter(s.resyncs) for s in incarnations), Counter())
        assert resyncs == Counter({"gap": gaps[symbol]} if gaps[symbol] else {}), symbol  # nothing else failed
        assert sum(getattr(s, "checksums_failed", 0) + getattr(s, "top_mismatches", 0) for s in incarnations) == 0


@pytest.fixture(scope="module")
def synthetic_capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("synthetic") / "capture.gz"
    synthetic.generate(path, seed=5, duration_s=20)
    return path


def spot_feed(path: Path) -> RecordedFeed:
    return RecordedFeed([path], BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTCUSDT"))


def test_nothing_is_read_before_the_first_request_and_requests_go_on_from_the_last(synthetic_capture):
    feed = spot_feed(synthetic_capture)
    events = list(feed)
    read = []

    def open_events():
        for item in feed.independent_events():
            read.append(item)
            yield item
    shadow = ShadowBooks(open_events, BinanceBookSync, [SYMBOL])
    assert read == []
    first_live = next(i for i, (_, e) in enumerate(events, 1) if type(e) is BookSnapshot)
    assert shadow.snapshot(SYMBOL, first_live - 1, 1) is None  # the recording has not shown the book yet
    late = shadow.snapshot(SYMBOL, len(events) // 2, 2)
    assert late is not None and len(read) < len(events) // 2 + 200  # read as far as asked, and a little ahead
    reference = BinanceBookSync(SYMBOL)
    for _, event in events[:len(events) // 2]:
        apply_event(reference, event)
    assert late.last_update_id == reference.last_update_id
    assert (late.bids, late.asks) == whole_book(reference)
    with pytest.raises(ValueError, match="must not go back"):
        shadow.snapshot(SYMBOL, len(events) // 3, 3)
    with pytest.raises(ValueError, match="no shadow book of ETH/USDT"):
        shadow.snapshot("ETH/USDT", len(events), 3)
    assert shadow.snapshot(SYMBOL, len(events) + 10, 4) is not None  # past the end: the book as it ended


def lose_a_diff(lines: list[bytes], middle: int) -> tuple[list[bytes], int]:
    lost = next(i for i in range(middle, len(lines)) if b"depthUpdate" in lines[i])
    return lines[:lost] + lines[lost + 1:], lost


def falsify_a_ticker(lines: list[bytes], middle: int) -> tuple[list[bytes], int]:
    wrong = next(i for i in range(middle, len(lines)) if b"bookTicker" in lines[i])
    stamp, _, frame = lines[wrong].partition(b" ")
    ticker = orjson.loads(frame)
    ticker["data"]["B"] = "9.99999000"  # a best bid quantity the book does not have
    return lines[:wrong] + [stamp + b" " + orjson.dumps(ticker)] + lines[wrong + 1:], wrong + 1


@pytest.mark.parametrize("alter", [lose_a_diff, falsify_a_ticker])
def test_a_book_the_recording_itself_breaks_is_not_rebuilt_until_its_next_snapshot(synthetic_capture, tmp_path,
                                                                                    alter):
    lines = synthetic.gzip.decompress(synthetic_capture.read_bytes()).splitlines()
    altered, first_after = alter(lines, len(lines) // 2)
    path = tmp_path / "altered"
    path.write_bytes(b"\n".join(altered) + b"\n")
    feed = spot_feed(path)
    events = list(feed)
    # one event a line: the diff after the lost one, or the diff the false ticker is held to, breaks the book
    breaking = next(i for i in range(first_after, len(events)) if type(events[i][1]) is DepthDiff)
    shadow = ShadowBooks(feed.independent_events, BinanceBookSync, [SYMBOL])
    assert shadow.snapshot(SYMBOL, breaking, 1) is not None
    assert shadow.snapshot(SYMBOL, breaking + 1, 2) is None
    assert shadow.snapshot(SYMBOL, len(events), 3) is None
