"""OKX v5 market data (venues.md §5.1): codec, seqId chain, legacy checksum, and the recordings as oracle."""
from collections import Counter
from pathlib import Path

import garbage_frames
import orjson
import pytest
from garbage_frames import mutated
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contracts import MalformedFrame, SyncResult, UnknownSymbol
from adapters.okx.book_sync import OkxBookSync, okx_checksum
from adapters.okx.market_data import OkxMarketDataCodec, okx_instrument
from engine.messages import BookSnapshot, BookState, DepthDiff, Side, Trade
from engine.model.numbers import format_fixed
from engine.replay.cryptofeed import LineKind, read_cryptofeed

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded" / "bmoscon+cryptofeed" / "sample_data"

# Instrument metadata as GET /api/v5/public/instruments gives it, for the three instruments of OKX.ws.1.0.
BTC_USDT_META = {"instType": "SPOT", "instId": "BTC-USDT", "baseCcy": "BTC", "quoteCcy": "USDT", "settleCcy": "",
                 "ctValCcy": "", "ctType": "", "expTime": "", "tickSz": "0.1", "lotSz": "0.00000001"}
BTC_FUTURE_META = {"instType": "FUTURES", "instId": "BTC-USD-220527", "baseCcy": "", "quoteCcy": "",
                   "settleCcy": "BTC", "ctValCcy": "USD", "ctType": "inverse", "expTime": "1653638400000",
                   "tickSz": "0.1", "lotSz": "1"}
UNI_SWAP_META = {"instType": "SWAP", "instId": "UNI-USD-SWAP", "baseCcy": "", "quoteCcy": "", "settleCcy": "UNI",
                 "ctValCcy": "USD", "ctType": "inverse", "expTime": "", "tickSz": "0.001", "lotSz": "1"}
BTC_USDT = okx_instrument(BTC_USDT_META)
INSTRUMENTS = [BTC_USDT, okx_instrument(BTC_FUTURE_META), okx_instrument(UNI_SWAP_META)]
CODEC = OkxMarketDataCodec(INSTRUMENTS)

SNAPSHOT = {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "snapshot",
            "data": [{"asks": [["8477.1", "415", "0", "13"], ["8478", "7", "0", "2"]],
                      "bids": [["8476.9", "256", "0", "12"]], "ts": "1597026383085", "checksum": 0,
                      "prevSeqId": -1, "seqId": 123456}]}
UPDATE = {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "update",
          "data": [{"asks": [["8477.1", "0", "0", "0"]], "bids": [["8476.5", "0.25", "0", "1"]],
                    "ts": "1597026383185", "checksum": -914047754, "prevSeqId": 123456, "seqId": 123460}]}
TRADES = {"arg": {"channel": "trades", "instId": "BTC-USDT"},
          "data": [{"instId": "BTC-USDT", "tradeId": "130639474", "px": "42219.9", "sz": "0.12060306",
                    "side": "buy", "ts": "1630048897897", "count": "3"},
                   {"instId": "BTC-USDT", "tradeId": "130639475", "px": "42219.8", "sz": "1", "side": "sell",
                    "ts": "1630048897897"}]}


# ---------------------------------------------------------------- instruments and the checksum rule

def test_instruments_are_normalised_from_metadata_never_from_the_inst_id():
    assert (BTC_USDT.symbol, BTC_USDT.base, BTC_USDT.quote, BTC_USDT.venue) == ("BTC/USDT", "BTC", "USDT", "okx")
    assert (BTC_USDT.price_decimals, BTC_USDT.qty_decimals, BTC_USDT.tick_size) == (1, 8, 1)
    future, swap = INSTRUMENTS[1:]
    assert (future.symbol, future.base, future.quote) == ("BTC/USD:BTC-220527", "BTC", "USD")
    assert (swap.symbol, swap.price_decimals, swap.qty_decimals) == ("UNI/USD:UNI", 3, 0)
    linear = okx_instrument({**UNI_SWAP_META, "instId": "BTC-USDT-SWAP", "ctType": "linear", "ctValCcy": "BTC",
                             "settleCcy": "USDT", "tickSz": "0.5", "lotSz": "0.01"})
    assert (linear.symbol, linear.tick_size, linear.lot_size, linear.qty_decimals) == ("BTC/USDT:USDT", 5, 1, 2)
    assert okx_instrument(BTC_USDT_META, venue="okcoin").venue == "okcoin"
    with pytest.raises(ValueError, match="OPTION"):
        okx_instrument({**BTC_USDT_META, "instType": "OPTION"})
    with pytest.raises(ValueError, match="not positive"):
        okx_instrument({**BTC_USDT_META, "tickSz": "0"})


def test_checksum_follows_the_venues_vectors():
    # venues.md §5.1, recomputed there: equal sides, then a longer ask side appended after the bids run out.
    assert okx_checksum([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")]) == -1881014294
    assert okx_checksum([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")]) == 831078360


def test_the_books_checksum_rebuilds_okxs_shortest_number_text():
    instrument = okx_instrument({**BTC_USDT_META, "tickSz": "0.1", "lotSz": "1"})
    sync = OkxBookSync(instrument)
    # 33660 at 1 decimal must read "3366", not "3366.0", for the vector to hold.
    sync.on_snapshot(BookSnapshot("BTC/USDT", 0, -1, ((33661, 7), (33660, 6)), ((33668, 9), (33680, 8))))
    assert sync.checksum() == -1881014294


# ---------------------------------------------------------------- codec

def test_snapshot_becomes_an_exact_snapshot_at_its_seq_id_and_a_zero_checksum_means_not_sent():
    (snapshot,) = CODEC.decode(SNAPSHOT, 7)
    assert snapshot == BookSnapshot("BTC/USDT", 7, 123456, bids=((84769, 25600000000),),
                                    asks=((84771, 41500000000), (84780, 700000000)), checksum=None)


def test_update_carries_seq_ids_and_checksum():
    (diff,) = CODEC.decode(UPDATE, 8)
    assert diff == DepthDiff("BTC/USDT", 8, 123460, 123460, 123456, bids=((84765, 25000000),),
                             asks=((84771, 0),), checksum=-914047754)


def test_frames_recorded_before_seq_ids_existed_get_minus_one_everywhere():
    data = {k: v for k, v in UPDATE["data"][0].items() if k not in ("seqId", "prevSeqId")}
    (diff,) = CODEC.decode({**UPDATE, "data": [data]}, 0)
    assert (diff.first_id, diff.last_id, diff.prev_last_id) == (-1, -1, -1)


def test_trades_name_the_taker_side():
    buy, sell = CODEC.decode(TRADES, 3)
    assert buy == Trade("BTC/USDT", 3, 130639474, 422199, 12060306, Side.BUY)
    assert (sell.aggressor, sell.qty) == (Side.SELL, 100000000)


@pytest.mark.parametrize("frame", [
    {"event": "subscribe", "arg": {"channel": "books", "instId": "BTC-USDT"}},
    {"event": "error", "code": "60012", "msg": "Invalid request"},
    {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [{"instId": "BTC-USDT", "last": "1"}]},
    {"op": "something"},
])
def test_events_and_other_channels_carry_no_market_event(frame):
    assert CODEC.decode(frame, 0) == ()


def test_decode_raw_reports_bad_json_as_malformed():
    assert CODEC.decode_raw(orjson.dumps(UPDATE), 8) == CODEC.decode(UPDATE, 8)
    with pytest.raises(MalformedFrame, match="not valid JSON"):
        CODEC.decode_raw(orjson.dumps(UPDATE)[:-9], 8)


def replaced(frame: dict, **fields) -> dict:
    return {**frame, "data": [{**frame["data"][0], **fields}]}


def without(frame: dict, key: str) -> dict:
    return {**frame, "data": [{k: v for k, v in frame["data"][0].items() if k != key}]}


@pytest.mark.parametrize("frame, message", [
    # truncated / missing fields
    ({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": "update"}, "books update: missing field 'data'"),
    ({k: v for k, v in UPDATE.items() if k != "action"}, "books: missing field 'action'"),
    ({**UPDATE, "arg": {"channel": "books"}}, "books update: missing field 'arg.instId'"),
    ({"data": UPDATE["data"]}, "data frame: missing field 'arg'"),
    ({**UPDATE, "arg": {"instId": "BTC-USDT"}}, "data frame: missing field 'arg.channel'"),
    (without(UPDATE, "asks"), "books update: data[0]: missing field 'asks'"),
    (replaced(UPDATE, bids=[["8476.5", "0.25"]]), "data[0]: field 'bids', level 0: should be a "
                                                  "[price, size, liquidated, orders] level, got 2 elements"),
    (without(TRADES, "px"), "trades: data[0]: missing field 'px'"),
    # wrong types
    ({**UPDATE, "data": UPDATE["data"][0]}, "books update: field 'data' should be a list, got object"),
    (replaced(UPDATE, checksum="-914047754"), "data[0]: field 'checksum' should be an integer, got string"),
    (replaced(UPDATE, seqId=1.5), "data[0]: field 'seqId' should be an integer, got number"),
    (replaced(UPDATE, asks=[["8477.1", 0, "0", "0"]]), "field 'asks', level 0: size should be a decimal string"),
    (replaced(UPDATE, asks=["8477.1", "0", "0", "0"]), "field 'asks', level 0: should be a [price, size, "
                                                        "liquidated, orders] level, got string"),
    (replaced(UPDATE, asks=["8476"]), "field 'asks', level 0: should be a [price, size, liquidated, orders] level"),
    ({**UPDATE, "arg": {"channel": "books", "instId": 7}}, "field 'arg.instId' should be a string, got integer"),
    ({**UPDATE, "action": "partial"}, "field 'action' should be 'snapshot' or 'update', got 'partial'"),
    ({**UPDATE, "arg": ["books"]}, "field 'arg' should be an object, got array"),
    ([UPDATE], "frame should be a JSON object, got array"),
    (replaced(TRADES, tradeId=130639474), "trades: data[0]: field 'tradeId' should be a string of digits"),
    (replaced(TRADES, side="BUY"), "trades: data[0]: field 'side' should be 'buy' or 'sell', got 'BUY'"),
    # bad numbers
    (replaced(UPDATE, bids=[["8476.55", "1", "0", "1"]]), "level 0: price is a bad number: '8476.55' has more than 1"),
    (replaced(UPDATE, bids=[["-8476.5", "1", "0", "1"]]), "level 0: price is negative"),
    (replaced(TRADES, sz="1e3"), "trades: data[0]: field 'sz' is a bad number"),
    # empty sides, empty data
    (replaced(SNAPSHOT, bids=[], asks=[]), "books snapshot: data[0]: fields 'bids' and 'asks' are both empty"),
    ({**UPDATE, "data": []}, "books update: field 'data' is empty"),
])
def test_malformed_frames_name_what_is_wrong(frame, message):
    with pytest.raises(MalformedFrame) as caught:
        CODEC.decode(frame, 0)
    assert message in str(caught.value)


def test_an_empty_update_is_okxs_keep_alive_not_a_malformed_frame():
    (diff,) = CODEC.decode(replaced(UPDATE, bids=[], asks=[], prevSeqId=123460, seqId=123460), 0)
    assert (diff.bids, diff.asks) == ((), ())


def test_instruments_can_be_learned_while_a_recording_is_read():
    codec = OkxMarketDataCodec([])
    assert not codec.knows("BTC-USDT")
    codec.add_instrument(BTC_USDT)
    assert codec.knows("BTC-USDT") and codec.decode(UPDATE, 8) == CODEC.decode(UPDATE, 8)


def test_unknown_instrument_is_its_own_kind_of_malformed_frame():
    with pytest.raises(UnknownSymbol, match="'ETH-USDT'"):
        CODEC.decode({**UPDATE, "arg": {"channel": "books", "instId": "ETH-USDT"}}, 0)


# ---------------------------------------------------------------- garbage only ever raises MalformedFrame

json_values = garbage_frames.json_values(["books", "update", "snapshot", "BTC-USDT", "8476.5", "0", "1e5", "-1", ""])


@settings(max_examples=400, deadline=None)
@given(frame=json_values | mutated(SNAPSHOT, json_values) | mutated(UPDATE, json_values) | mutated(TRADES, json_values))
def test_garbage_frames_only_ever_raise_malformed_frame(frame):
    try:
        events = CODEC.decode(frame, 0)
    except MalformedFrame:
        return
    assert type(events) is tuple and all(type(e) in (BookSnapshot, DepthDiff, Trade) for e in events)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64) | st.sampled_from([orjson.dumps(f) for f in (SNAPSHOT, UPDATE, TRADES)])
       .flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])))
def test_garbage_bytes_and_truncated_frames_only_ever_raise_malformed_frame(raw):
    try:
        CODEC.decode_raw(raw, 0)
    except MalformedFrame:
        pass


# ---------------------------------------------------------------- sync rules

SYMBOL = "BTC/USDT"


def snap(seq: int = 10, bids=((100, 5),), asks=((101, 5),), checksum=None) -> BookSnapshot:
    return BookSnapshot(SYMBOL, 0, seq, tuple(bids), tuple(asks), checksum)


def upd(prev: int, seq: int, bids=(), asks=(), checksum=None) -> DepthDiff:
    return DepthDiff(SYMBOL, 0, seq, seq, prev, tuple(bids), tuple(asks), checksum)


def test_updates_chain_on_prev_seq_id_including_keep_alive_and_sequence_reset():
    sync = OkxBookSync(BTC_USDT)
    assert sync.on_diff(upd(9, 10)) is SyncResult.IGNORED  # no snapshot yet
    # venues.md §5.1's chain: (-1→10) (10→15) (15→15 keep-alive) (15→3 reset) (3→5)
    assert sync.on_snapshot(snap(10)) is SyncResult.LOADED
    assert sync.on_diff(upd(10, 15, bids=[(100, 7)])) is SyncResult.APPLIED
    assert sync.on_diff(upd(15, 15)) is SyncResult.APPLIED
    assert sync.on_diff(upd(15, 3, asks=[(101, 0), (102, 1)])) is SyncResult.APPLIED
    assert sync.on_diff(upd(3, 5)) is SyncResult.APPLIED
    assert sync.state is BookState.LIVE and sync.last_update_id == 5
    assert sync.book.top(5) == (((100, 7),), ((102, 1),))
    assert sync.resyncs == {} and (sync.checksums_ok, sync.checksums_failed) == (0, 0)


def test_a_broken_chain_is_a_gap_and_the_book_waits_for_the_next_snapshot():
    sync = OkxBookSync(BTC_USDT)
    sync.on_snapshot(snap(10))
    assert sync.on_diff(upd(11, 12)) is SyncResult.GAP
    assert SyncResult.GAP.needs_snapshot
    assert sync.state is BookState.STALE and len(sync.book) == 0 and sync.last_update_id is None
    assert sync.on_diff(upd(12, 13)) is SyncResult.IGNORED
    assert sync.on_snapshot(snap(20, bids=[(99, 1)])) is SyncResult.LOADED
    assert sync.book.best_bid() == (99, 1) and sync.gaps == 1 and sync.resyncs == {"gap": 1}


def test_a_checksum_mismatch_drops_the_book_and_is_counted():
    sync = OkxBookSync(BTC_USDT)
    assert sync.on_snapshot(snap(10)) is SyncResult.LOADED
    good = sync.checksum()
    assert sync.on_snapshot(snap(10, checksum=good)) is SyncResult.LOADED  # a new snapshot restarts the book
    assert sync.on_diff(upd(10, 11, bids=[(100, 6)], checksum=good)) is SyncResult.CHECKSUM_MISMATCH
    assert SyncResult.CHECKSUM_MISMATCH.needs_snapshot
    assert (sync.checksums_ok, sync.checksums_failed) == (1, 1)
    assert sync.state is BookState.STALE and sync.resyncs == {"checksum_mismatch": 1}
    assert sync.on_snapshot(snap(30, checksum=good + 1)) is SyncResult.CHECKSUM_MISMATCH


def test_events_of_another_instrument_are_refused():
    with pytest.raises(ValueError, match="ETH/USDT"):
        OkxBookSync(BTC_USDT).on_diff(DepthDiff("ETH/USDT", 0, 1, 1, 0, (), ()))


# ---------------------------------------------------------------- real recordings

def received(path: Path) -> list[tuple[int, bytes]]:
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    return [(line.ts_ns, line.payload) for line in read_cryptofeed(path) if line.kind is LineKind.RECEIVED]


def replay(frames, instruments, codec=None) -> tuple[dict[str, OkxBookSync], Counter]:
    codec = codec or OkxMarketDataCodec(instruments)
    syncs = {instrument.symbol: OkxBookSync(instrument) for instrument in instruments}
    results: Counter = Counter()
    for ts, raw in frames:
        for event in codec.decode_raw(raw, ts):
            if type(event) is BookSnapshot:
                results[syncs[event.instrument].on_snapshot(event)] += 1
            elif type(event) is DepthDiff:
                results[syncs[event.instrument].on_diff(event)] += 1
            else:
                results[type(event).__name__] += 1
    return syncs, results


@pytest.fixture(scope="module")
def okx_frames():
    return received(SAMPLES / "OKX.ws.1.0")


def test_okx_recording_every_checksum_matches(okx_frames):
    syncs, results = replay(okx_frames, INSTRUMENTS)
    # INDEX.md: 3 book snapshots and 287 updates, 290/290 checksums verified; trades decode, tickers skip.
    assert results == Counter({SyncResult.LOADED: 3, SyncResult.APPLIED: 287, "Trade": 74})
    assert sum(s.checksums_ok for s in syncs.values()) == 290
    assert sum(s.checksums_failed for s in syncs.values()) == 0
    assert all(s.state is BookState.LIVE and s.resyncs == {} for s in syncs.values())


def first_update_inside_the_checksum(frames) -> tuple[int, int]:
    """(frame index, bid index) of the first BTC-USDT update that sets a bid among the book's top 25."""
    codec, sync = OkxMarketDataCodec(INSTRUMENTS), OkxBookSync(BTC_USDT)
    for index, (ts, raw) in enumerate(frames):
        for event in codec.decode_raw(raw, ts):
            if event.instrument != BTC_USDT.symbol or type(event) is Trade:
                continue
            if type(event) is DepthDiff:
                lowest_checked_bid = sync.book.top(25)[0][-1][0]
                for number, (price, qty) in enumerate(event.bids):
                    if qty and price >= lowest_checked_bid:
                        return index, number
                sync.on_diff(event)
            else:
                sync.on_snapshot(event)
    raise AssertionError("no BTC-USDT update sets a bid among the top 25")


def test_okx_recording_an_altered_size_is_caught_by_the_checksum(okx_frames):
    frames = list(okx_frames)
    index, number = first_update_inside_the_checksum(frames)
    ts, raw = frames[index]
    obj = orjson.loads(raw)
    level = obj["data"][0]["bids"][number]
    level[1] = format_fixed(BTC_USDT.qty(level[1]) + 1, 8).rstrip("0")  # one satoshi more
    frames[index] = (ts, orjson.dumps(obj))
    syncs, _ = replay(frames, INSTRUMENTS)
    sync = syncs[BTC_USDT.symbol]
    assert (sync.checksums_failed, sync.resyncs) == (1, {"checksum_mismatch": 1})
    assert sync.state is BookState.STALE  # the recording holds no second snapshot
    assert sum(s.checksums_failed for s in syncs.values()) == 1


def test_okcoin_recording_with_its_own_instrument_metadata():
    """OKCoin speaks OKX v5: instruments from its recorded REST metadata, 6/6 checksums (INDEX.md)."""
    metadata = SAMPLES / "OKCOIN.0"
    frames = received(SAMPLES / "OKCOIN.ws.1.0")
    body = next(line.partition(b": ")[2] for line in metadata.read_bytes().splitlines()
                if line.startswith(b"https://www.okcoin.com/api/v5/public/instruments"))
    wanted = {"BTC-USD", "ETH-USD", "USDC-USDT", "USDT-USD"}
    instruments = [okx_instrument(meta, venue="okcoin") for meta in orjson.loads(body)["data"]
                   if meta["instId"] in wanted]
    assert {i.symbol for i in instruments} == {"BTC/USD", "ETH/USD", "USDC/USDT", "USDT/USD"}
    syncs, results = replay(frames, instruments)
    assert (results[SyncResult.LOADED], results[SyncResult.APPLIED]) == (4, 2)
    assert sum(s.checksums_ok for s in syncs.values()) == 6
    assert sum(s.checksums_failed for s in syncs.values()) == 0
