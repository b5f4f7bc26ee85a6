"""One seeded synthetic market written as Binance, OKX and Bybit send it: each venue's own codec and book sync
read what is written (OKX's checksums and Bybit's `u` chain hold on every update), each venue shows the book at
its own tick and depth, its frames arrive its own delay late, and the same seed gives the same bytes."""
from __future__ import annotations

import pytest

from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.bybit.book_sync import BybitBookSync
from adapters.bybit.market_data import BybitMarketDataCodec
from adapters.okx.book_sync import OkxBookSync
from adapters.okx.market_data import OkxMarketDataCodec
from adapters.synthetic import SyntheticConnection, synthetic_problem, write_synthetic_market
from engine.messages import BookSnapshot, BookState, DepthDiff, Trade
from engine.model.numbers import Instrument
from engine.replay.formats import read_capture
from engine.replay.shadow_books import apply_event
from engine.replay.source import RecordedFeed
from engine.replay.synthetic import DEFAULT_START_NS, WINDOW_NS, synthetic_frames

BINANCE = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 8, 8, 1_000_000, 1_000)
OKX = Instrument("BTC/USDT@okx", "okx", "BTC-USDT", "BTC", "USDT", 1, 8, 1, 1)            # tick 0.1
BYBIT = Instrument("BTC/USDT@bybit", "bybit", "BTCUSDT", "BTC", "USDT", 2, 6, 5, 1)        # tick 0.05
SECONDS = 30


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("venues")
    connections = [SyntheticConnection(folder / "binance", BINANCE, delay_ns=2_000_000),
                   SyntheticConnection(folder / "okx", OKX, depth=10, delay_ns=15_000_000),
                   SyntheticConnection(folder / "bybit", BYBIT, depth=50, delay_ns=30_000_000)]
    write_synthetic_market(connections, seed=7, duration_s=SECONDS)
    return {c.instrument.venue: c.path for c in connections}


def _replay(path, codec, sync):
    """Every event of a file through its venue's codec and sync; what the sync said to each, and the events."""
    results, events = [], []
    source = RecordedFeed([path], codec)
    for _, event in source:
        events.append(event)
        results.append((type(event), apply_event(sync, event)))
    assert source.malformed == 0
    return results, events


def test_okx_books_decode_and_every_checksum_holds_at_its_own_tick_and_depth(written):
    sync = OkxBookSync(OKX)
    results, events = _replay(written["okx"], OkxMarketDataCodec([OKX]), sync)
    diffs = [result for kind, result in results if kind is DepthDiff]
    assert results[0] != (BookSnapshot, None) and [kind for kind, _ in results].count(BookSnapshot) == 1
    assert len(diffs) > SECONDS * 9 and all(result.value == "applied" for result in diffs)
    assert sync.checksums_failed == 0 and sync.checksums_ok == len(diffs) + 1
    assert sync.state is BookState.LIVE and sync.resyncs == {}
    assert sync.book.bid_levels == 10 and sync.book.ask_levels == 10        # its depth, not the market's
    assert sync.book.best_bid()[0] < sync.book.best_ask()[0]                 # aggregated, never crossed
    trades = [event for event in events if type(event) is Trade]
    assert trades and all(trade.price % OKX.tick_size == 0 for trade in trades)


def test_bybit_deltas_chain_by_u_at_its_own_tick_and_depth(written):
    sync = BybitBookSync(BYBIT.symbol)
    results, events = _replay(written["bybit"], BybitMarketDataCodec([BYBIT]), sync)
    assert [kind for kind, _ in results].count(BookSnapshot) == 1
    assert all(result.value == "applied" for kind, result in results if kind is DepthDiff)
    assert sync.gaps == 0 and sync.state is BookState.LIVE
    assert sync.book.bid_levels <= 50 and sync.book.ask_levels <= 50
    bids, asks = sync.book.top(50)
    assert all(price % BYBIT.tick_size == 0 for price, _ in (*bids, *asks))
    seqs = [int(line.split(b'"seq":')[1].split(b"}")[0]) for _, line in read_capture(written["bybit"])]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_binance_sends_the_market_as_generated_its_delay_late(written):
    frames = list(read_capture(written["binance"]))
    assert frames == [(ts + 2_000_000, frame) for ts, frame in synthetic_frames(seed=7, duration_s=SECONDS)]
    sync = BinanceBookSync(BINANCE.symbol)
    _replay(written["binance"], BinanceMarketDataCodec([BINANCE], snapshot_symbol="BTCUSDT"), sync)
    assert sync.state is BookState.LIVE and sync.gaps == 0


def test_each_venue_sends_the_same_market_its_own_delay_after_it(written):
    first_book = DEFAULT_START_NS + WINDOW_NS          # the end of the first window: OKX and Bybit snapshot
    assert next(read_capture(written["bybit"]))[0] == first_book + 30_000_000
    okx_books = [ts for ts, frame in read_capture(written["okx"]) if b'"books"' in frame]
    assert okx_books[0] == first_book + 15_000_000
    okx, bybit = OkxBookSync(OKX), BybitBookSync(BYBIT.symbol)
    _replay(written["okx"], OkxMarketDataCodec([OKX]), okx)
    _replay(written["bybit"], BybitMarketDataCodec([BYBIT]), bybit)
    # one market: the venues' touches are the same prices, rounded outwards to each venue's tick
    okx_mid = (okx.book.best_bid()[0] + okx.book.best_ask()[0]) * 10     # in 0.01 units
    bybit_mid = bybit.book.best_bid()[0] + bybit.book.best_ask()[0]
    assert abs(okx_mid - bybit_mid) <= 2 * 10


def test_the_same_seed_writes_the_same_bytes(written, tmp_path):
    again = [SyntheticConnection(tmp_path / "okx", OKX, depth=10, delay_ns=15_000_000),
             SyntheticConnection(tmp_path / "bybit", BYBIT, depth=50, delay_ns=30_000_000)]
    write_synthetic_market(again, seed=7, duration_s=SECONDS)
    assert (tmp_path / "okx").read_bytes() == written["okx"].read_bytes()
    assert (tmp_path / "bybit").read_bytes() == written["bybit"].read_bytes()
    write_synthetic_market(again[:1], seed=8, duration_s=SECONDS)
    assert (tmp_path / "okx").read_bytes() != written["okx"].read_bytes()


@pytest.mark.parametrize("instrument, depth, problem", [
    (Instrument("BTC/USD", "kraken", "XBT/USD", "BTC", "USD", 1, 8, 1, 1), 0, "not kraken"),
    (Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, 1, 1), 0, "decimals 8"),
    (BINANCE, 100, "depth is for the other venues"),
    (Instrument("BTC/USDT", "okx", "BTC-USDT", "BTC", "USDT", 3, 8, 1, 1), 0, "multiple of it"),
    (Instrument("BTC/USDT", "okx", "BTC-USDT", "BTC", "USDT", 9, 8, 1, 1), 0, "cannot have more"),
])
def test_a_venue_that_cannot_show_the_market_is_refused(instrument, depth, problem):
    assert problem in synthetic_problem(instrument, depth)
    with pytest.raises(ValueError, match=problem):
        write_synthetic_market([SyntheticConnection("unused", instrument, depth)], seed=1, duration_s=1)
