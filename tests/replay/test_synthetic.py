"""Synthetic Binance spot feed: deterministic bytes, a chain the real sync rules accept, a consistent market."""
import re

import pytest

from adapters.binance.book_sync import BinanceBookSync, SyncResult
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from engine.messages import BookSnapshot, BookState, DepthDiff, Side, TopOfBook, Trade
from engine.replay.formats import read_capture
from engine.replay.synthetic import LOT, TICK, generate, synthetic_frames

BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT", tick_size=TICK, lot_size=LOT)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    first, again, other = tmp_path / "a.gz", tmp_path / "b.gz", tmp_path / "c.gz"
    lines = generate(first, seed=7, duration_s=20)
    generate(again, seed=7, duration_s=20)
    generate(other, seed=8, duration_s=20)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert list(read_capture(first)) == list(synthetic_frames(seed=7, duration_s=20))
    assert lines == len(list(read_capture(first)))


def test_too_short_a_feed_is_refused():
    with pytest.raises(ValueError, match="too short"):
        list(synthetic_frames(seed=1, duration_s=0.3))


def test_wire_format_matches_binance_spot():
    frames = [raw for _, raw in synthetic_frames(seed=3, duration_s=1)]
    assert frames[0].startswith(b'{"stream":"btcusdt@') and b'"data":{' in frames[0]
    depth = next(raw for raw in frames if b"@depth@100ms" in raw)
    assert b'"e":"depthUpdate"' in depth and b'"U":' in depth and b'"pu"' not in depth
    ticker = next(raw for raw in frames if b"@bookTicker" in raw)
    assert b'"e"' not in ticker and b'"B":"' in ticker
    snapshot = next(raw for raw in frames if raw.startswith(b'{"lastUpdateId":'))
    assert re.match(rb'\{"lastUpdateId":\d+,"bids":\[\["\d+\.\d{8}","\d+\.\d{8}"\],', snapshot)
    assert frames.index(snapshot) > frames.index(depth)


@pytest.fixture(scope="module")
def ten_minutes():
    """Ten minutes of seed 7 (the quickstart's), decoded: [(ts, event)]."""
    codec = BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTCUSDT")
    return [(ts, codec.decode_raw(raw, ts)) for ts, raw in synthetic_frames(seed=7, duration_s=600)]


def test_the_chain_syncs_like_a_real_capture_and_every_book_ticker_matches(ten_minutes):
    sync = BinanceBookSync(BTCUSDT.symbol)
    results = []
    for _, event in ten_minutes:
        if type(event) is DepthDiff:
            results.append(sync.on_diff(event))
            if sync.state is BookState.LIVE:
                assert not sync.book.is_crossed()
                assert 50 - 5 <= sync.book.bid_levels <= 200 + 5 and 50 - 5 <= sync.book.ask_levels <= 200 + 5
        elif type(event) is TopOfBook:
            sync.check_top(event)
        elif type(event) is BookSnapshot:
            results.append(sync.on_snapshot(event))
    # Diffs before the snapshot are buffered; the snapshot lands inside the last of them.
    assert results[:5] == [SyncResult.BUFFERED] * 4 + [SyncResult.LOADED]
    assert set(results[5:]) == {SyncResult.APPLIED}
    assert sync.gaps == 0 and sync.resyncs == {} and sync.state is BookState.LIVE
    # Every bookTicker carries the u of a diff: all of them from the snapshot on can be and are checked.
    snapshot_id = next(event.last_update_id for _, event in ten_minutes if type(event) is BookSnapshot)
    tickers = [event for _, event in ten_minutes if type(event) is TopOfBook]
    assert sync.tops_checked == sum(t.update_id >= snapshot_id for t in tickers) > 3000
    assert sync.top_mismatches == 0


def test_diffs_are_chained_windows_of_5_to_25_levels_and_tickers_share_their_ids(ten_minutes):
    diffs = [event for _, event in ten_minutes if type(event) is DepthDiff]
    assert len(diffs) == 6000
    assert all(b.first_id == a.last_id + 1 for a, b in zip(diffs, diffs[1:]))
    assert all(5 <= len(d.bids) + len(d.asks) <= 25 for d in diffs)
    assert any(qty == 0 for d in diffs for _, qty in d.bids + d.asks)
    assert all(price % TICK == 0 and qty % LOT == 0 for d in diffs for price, qty in d.bids + d.asks)
    tickers = [event for _, event in ten_minutes if type(event) is TopOfBook]
    assert {t.update_id for t in tickers} <= {d.last_id for d in diffs}


def test_trades_take_liquidity_at_the_touch(ten_minutes):
    sync = BinanceBookSync(BTCUSDT.symbol)
    first_in_window = True
    trades = 0
    for _, event in ten_minutes:
        if type(event) is Trade and sync.state is BookState.LIVE:
            trades += 1
            best_bid, best_ask = sync.book.best_bid(), sync.book.best_ask()
            if event.aggressor is Side.BUY:  # a buying taker lifts the ask
                assert event.price >= best_ask[0]
                assert not first_in_window or (event.price == best_ask[0] and event.qty <= best_ask[1])
            else:
                assert event.price <= best_bid[0]
                assert not first_in_window or (event.price == best_bid[0] and event.qty <= best_bid[1])
            first_in_window = False
        elif type(event) is DepthDiff:
            sync.on_diff(event)
            first_in_window = True
        elif type(event) is BookSnapshot:
            sync.on_snapshot(event)
    assert trades > 6000  # a few per 100 ms


def test_the_mid_trends_enough_for_an_ema_crossover_to_trade_a_few_dozen_times(ten_minutes):
    sync = BinanceBookSync(BTCUSDT.symbol)
    mids_x2 = []
    for _, event in ten_minutes:
        if type(event) is DepthDiff:
            if sync.on_diff(event) is SyncResult.APPLIED:
                mids_x2.append(sync.book.best_bid()[0] + sync.book.best_ask()[0])
        elif type(event) is BookSnapshot:
            sync.on_snapshot(event)
    # Integer EMAs of twice the mid (as the strategy sees it), 20 and 100 diffs long.
    fast = slow = mids_x2[0]
    crossings, above = 0, None
    for mid_x2 in mids_x2:
        fast += (mid_x2 - fast) * 2 // 21
        slow += (mid_x2 - slow) * 2 // 101
        if fast != slow:
            if above is not None and (fast > slow) != above:
                crossings += 1
            above = fast > slow
    assert 24 <= crossings <= 120
    assert max(mids_x2) - min(mids_x2) > 2 * 50 * 10 ** 8  # the mid ranges over more than 50 USDT
