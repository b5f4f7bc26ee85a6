"""Binance book sync (venues.md §1.1): the rules on small hand-made sequences, then real captures as oracle."""
import copy
from pathlib import Path

import orjson
import pytest

from adapters.binance.book_sync import BinanceBookSync, SyncResult
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from engine.messages import BookSnapshot, BookState, DepthDiff, TopOfBook
from engine.model.numbers import Instrument, format_fixed, parse_fixed
from engine.replay.formats import read_capture

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
HFT = RECORDED / "nkaz001+hftbacktest" / "examples"

SYMBOL = "BTC/USDT"


def diff(first: int, last: int, bids=(), asks=(), prev: int = -1) -> DepthDiff:
    return DepthDiff(SYMBOL, 0, first, last, prev, tuple(bids), tuple(asks))


def snapshot(last_update_id: int, bids=((100, 5),), asks=((101, 5),)) -> BookSnapshot:
    return BookSnapshot(SYMBOL, 0, last_update_id, tuple(bids), tuple(asks))


def top(update_id: int, bid=(100, 5), ask=(101, 5)) -> TopOfBook:
    return TopOfBook(SYMBOL, 0, update_id, *bid, *ask)


# ---------------------------------------------------------------- spot rules

def test_spot_buffers_until_the_snapshot_then_drops_covered_diffs_and_applies_the_bracketing_one():
    sync = BinanceBookSync(SYMBOL)
    assert sync.state is BookState.SYNCING and sync.last_update_id is None
    assert sync.on_diff(diff(11, 15, bids=[(99, 1)])) is SyncResult.BUFFERED  # u <= 17: dropped
    assert sync.on_diff(diff(16, 20, bids=[(100, 7)])) is SyncResult.BUFFERED  # 16 <= 18 <= 20: first
    assert sync.on_diff(diff(21, 22, asks=[(101, 0), (102, 1)])) is SyncResult.BUFFERED
    assert sync.on_snapshot(snapshot(17)) is SyncResult.LOADED
    assert sync.state is BookState.LIVE and sync.last_update_id == 22
    assert sync.book.top(5) == (((100, 7),), ((102, 1),))
    assert sync.on_diff(diff(23, 25, bids=[(100, 0)])) is SyncResult.APPLIED
    assert sync.book.best_bid() is None and sync.gaps == 0 and sync.resyncs == {}


def test_spot_snapshot_older_than_the_buffered_diffs_is_refused_and_the_buffer_kept():
    sync = BinanceBookSync(SYMBOL)
    sync.on_diff(diff(20, 25, bids=[(100, 9)]))
    assert sync.on_snapshot(snapshot(10)) is SyncResult.SNAPSHOT_TOO_OLD
    assert SyncResult.SNAPSHOT_TOO_OLD.needs_snapshot
    assert sync.state is BookState.SYNCING and sync.resyncs == {"snapshot_too_old": 1}
    assert sync.on_snapshot(snapshot(19)) is SyncResult.LOADED
    assert sync.last_update_id == 25 and sync.book.best_bid() == (100, 9)


def test_spot_old_diffs_are_ignored_and_a_hole_is_a_gap():
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(100))
    assert sync.on_diff(diff(90, 100)) is SyncResult.IGNORED
    assert sync.on_diff(diff(95, 103, bids=[(99, 1)])) is SyncResult.APPLIED  # overlaps: applied
    assert sync.on_diff(diff(105, 110)) is SyncResult.GAP  # 104 is missing
    assert sync.state is BookState.STALE and len(sync.book) == 0
    assert sync.gaps == 1 and sync.resyncs == {"gap": 1}
    # The diff that revealed the gap is kept: it may continue the next snapshot.
    assert sync.on_diff(diff(111, 112, asks=[(102, 4)])) is SyncResult.BUFFERED
    assert sync.on_snapshot(snapshot(106)) is SyncResult.LOADED
    assert sync.state is BookState.LIVE and sync.last_update_id == 112


def test_first_live_diff_that_does_not_reach_the_snapshot_is_a_gap():
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(100))
    assert sync.on_diff(diff(102, 104)) is SyncResult.GAP


def test_gap_inside_the_buffer_keeps_the_diffs_after_it():
    sync = BinanceBookSync(SYMBOL)
    for first, last in ((10, 12), (13, 15), (17, 18), (19, 20)):
        sync.on_diff(diff(first, last))
    assert sync.on_snapshot(snapshot(11)) is SyncResult.GAP
    assert sync.state is BookState.STALE
    assert sync.on_snapshot(snapshot(16)) is SyncResult.LOADED
    assert sync.last_update_id == 20


def test_snapshot_while_live_is_ignored():
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(10))
    assert sync.on_snapshot(snapshot(50, bids=[(1, 1)])) is SyncResult.IGNORED
    assert sync.book.best_bid() == (100, 5)


def test_events_of_another_instrument_are_refused():
    sync = BinanceBookSync(SYMBOL)
    with pytest.raises(ValueError, match="ETH/USDT"):
        sync.on_diff(DepthDiff("ETH/USDT", 0, 1, 2, -1, (), ()))


def test_buffer_is_bounded_and_overflows_are_counted():
    sync = BinanceBookSync(SYMBOL, max_buffered_diffs=3)
    for n in range(5):
        sync.on_diff(diff(n, n))
    assert sync.buffer_overflows == 2


# ---------------------------------------------------------------- futures rules (pu chain)

def test_futures_first_diff_must_span_the_snapshot_then_pu_must_chain():
    sync = BinanceBookSync(SYMBOL)
    sync.on_diff(diff(40, 49, prev=30))  # u < 50: dropped
    sync.on_diff(diff(50, 60, bids=[(100, 1)], prev=49))  # U <= 55 <= u: first applied
    sync.on_diff(diff(70, 80, bids=[(100, 2)], prev=60))
    assert sync.on_snapshot(snapshot(55)) is SyncResult.LOADED
    assert sync.last_update_id == 80 and sync.book.best_bid() == (100, 2)
    assert sync.on_diff(diff(81, 90, prev=80)) is SyncResult.APPLIED
    assert sync.on_diff(diff(95, 99, prev=91)) is SyncResult.GAP
    assert sync.gaps == 1


def test_futures_diff_ending_at_the_snapshot_id_is_the_first_one():
    sync = BinanceBookSync(SYMBOL)
    sync.on_diff(diff(50, 55, prev=49))
    sync.on_diff(diff(58, 60, prev=55))
    assert sync.on_snapshot(snapshot(55)) is SyncResult.LOADED
    assert sync.last_update_id == 60


def test_futures_snapshot_older_than_the_first_buffered_diff_is_refused():
    sync = BinanceBookSync(SYMBOL)
    sync.on_diff(diff(50, 60, prev=49))
    assert sync.on_snapshot(snapshot(45)) is SyncResult.SNAPSHOT_TOO_OLD


# ---------------------------------------------------------------- top-of-book oracle

def test_top_at_the_books_id_is_compared_at_once():
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(10))
    assert sync.check_top(top(10)) is True
    assert sync.check_top(top(9)) is None
    assert (sync.tops_checked, sync.top_mismatches) == (1, 0)


def test_top_ahead_of_the_book_is_compared_when_the_book_reaches_its_id():
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(10))
    assert sync.check_top(top(12, bid=(100, 6))) is None
    assert sync.check_top(top(13, bid=(100, 6))) is None
    assert sync.on_diff(diff(11, 12, bids=[(100, 6)])) is SyncResult.APPLIED
    assert (sync.tops_checked, sync.top_mismatches) == (1, 0)


def test_top_mismatch_drops_the_book():
    sync = BinanceBookSync(SYMBOL)
    sync.on_snapshot(snapshot(10))
    sync.check_top(top(12, bid=(100, 6)))
    assert sync.on_diff(diff(11, 12, bids=[(100, 7)])) is SyncResult.TOP_MISMATCH
    assert sync.state is BookState.STALE and len(sync.book) == 0
    assert sync.top_mismatches == 1 and sync.resyncs == {"top_mismatch": 1}
    sync.on_diff(diff(13, 14))
    assert sync.on_snapshot(snapshot(12)) is SyncResult.LOADED
    assert sync.check_top(top(14, bid=(100, 1))) is False


def test_top_received_before_the_snapshot_is_checked_against_it():
    sync = BinanceBookSync(SYMBOL)
    sync.check_top(top(10, ask=(101, 4)))
    assert sync.on_snapshot(snapshot(10)) is SyncResult.TOP_MISMATCH


# ---------------------------------------------------------------- real captures

def parsed_frames(*paths: Path) -> list[tuple[int, dict]]:
    for path in paths:
        if not path.exists():
            pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    return [(ts, orjson.loads(raw)) for path in paths for ts, raw in read_capture(path)]


def replay(frames, instrument: Instrument, *, check_crossed: bool = False) -> BinanceBookSync:
    codec = BinanceMarketDataCodec([instrument], snapshot_symbol=instrument.venue_symbol)
    sync = BinanceBookSync(instrument.symbol)
    for ts, obj in frames:
        event = codec.decode(obj, ts)
        if type(event) is DepthDiff:
            if sync.on_diff(event) is SyncResult.APPLIED and check_crossed:
                assert not sync.book.is_crossed()
        elif type(event) is TopOfBook:
            sync.check_top(event)
        elif type(event) is BookSnapshot:
            sync.on_snapshot(event)
    return sync


SPOT_BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
USDM_BTCUSDT = Instrument("BTC/USDT:USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=3)


@pytest.fixture(scope="module")
def spot_frames():
    return parsed_frames(HFT / "spot" / "btcusdt_20240808.gz", HFT / "spot" / "btcusdt_20240809.gz")


def test_real_spot_capture_syncs_without_gaps_and_matches_every_book_ticker(spot_frames):
    sync = replay(spot_frames, SPOT_BTCUSDT, check_crossed=True)
    assert sync.state is BookState.LIVE
    assert sync.gaps == 0 and sync.resyncs == {}
    # INDEX.md: 564/564 in the first file alone; the second adds as many again.
    assert sync.tops_checked > 500
    assert sync.top_mismatches == 0


def test_real_usdm_capture_follows_the_pu_chain_and_matches_every_book_ticker():
    frames = parsed_frames(HFT / "usdm" / "btcusdt_20240808.gz")
    sync = replay(frames, USDM_BTCUSDT)
    assert sync.state is BookState.LIVE
    assert sync.gaps == 0 and sync.resyncs == {}
    assert sync.tops_checked == 629  # INDEX.md: bookTicker 629/629
    assert sync.top_mismatches == 0


def first_checked_diff_after_snapshot(frames) -> tuple[int, str]:
    """Index of a depth frame whose u a bookTicker shares, and the best-bid price string of that ticker."""
    tickers = {data["u"]: data["b"] for data in (obj["data"] for _, obj in frames if "stream" in obj)
               if "e" not in data}
    seen_snapshot = False
    for index, (_, obj) in enumerate(frames):
        seen_snapshot = seen_snapshot or "lastUpdateId" in obj
        data = obj.get("data", {})
        if seen_snapshot and data.get("e") == "depthUpdate" and data["u"] in tickers:
            best_bid = tickers[data["u"]]
            if any(price == best_bid for price, _ in data["b"]):
                return index, best_bid
    raise AssertionError("no depth diff sets the best bid of a bookTicker with its id")


def test_an_altered_quantity_is_caught_by_the_book_ticker(spot_frames):
    frames = list(spot_frames)
    index, best_bid = first_checked_diff_after_snapshot(frames)
    ts, obj = frames[index]
    altered = copy.deepcopy(obj)
    for level in altered["data"]["b"]:
        if level[0] == best_bid:
            level[1] = format_fixed(parse_fixed(level[1], 8) + 100_000, 8)  # 0.001 BTC more
    frames[index] = (ts, altered)
    sync = replay(frames, SPOT_BTCUSDT)
    assert sync.top_mismatches == 1
    assert sync.resyncs == {"top_mismatch": 1}
    assert sync.state is BookState.STALE  # the capture holds no second snapshot


def test_a_removed_diff_is_a_gap(spot_frames):
    depth_indexes = [i for i, (_, obj) in enumerate(spot_frames) if obj.get("data", {}).get("e") == "depthUpdate"]
    removed = depth_indexes[len(depth_indexes) // 2]
    frames = spot_frames[:removed] + spot_frames[removed + 1:]
    sync = replay(frames, SPOT_BTCUSDT)
    assert sync.gaps == 1
    assert sync.resyncs == {"gap": 1}
    assert sync.state is BookState.STALE
