"""Bybit v5 order books (venues.md §4.1): codec, `u` continuity, restarts, and Bybit's own dump as oracle."""
from collections import Counter
from pathlib import Path

import garbage_frames
import orjson
import pytest
from garbage_frames import mutated
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contracts import MalformedFrame, SyncResult, UnknownSymbol
from adapters.bybit.book_sync import BybitBookSync
from adapters.bybit.market_data import BybitMarketDataCodec, bybit_instrument
from engine.messages import BookSnapshot, BookState, DepthDiff
from engine.replay.bybit_dump import read_bybit_dump

DUMP = (Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded" / "nautechsystems+nautilus_trader"
        / "tests" / "test_data" / "bybit" / "xrpusdt-ob500.data.zip")

# As GET /v5/market/instruments-info returns them (the fields the helper reads, plus a few others).
XRPUSDT_LINEAR_INFO = {"symbol": "XRPUSDT", "contractType": "LinearPerpetual", "status": "Trading",
                       "baseCoin": "XRP", "quoteCoin": "USDT", "settleCoin": "USDT", "deliveryTime": "0",
                       "priceFilter": {"minPrice": "0.0001", "maxPrice": "199.9998", "tickSize": "0.0001"},
                       "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": "1", "qtyStep": "1"}}
BTCUSDT_SPOT_INFO = {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "status": "Trading",
                     "priceFilter": {"tickSize": "0.01"},
                     "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.00000001"}}
XRPUSDT = bybit_instrument(XRPUSDT_LINEAR_INFO, "linear")
CODEC = BybitMarketDataCodec([XRPUSDT])

SNAPSHOT = {"topic": "orderbook.50.XRPUSDT", "type": "snapshot", "ts": 1733011200691,
            "data": {"s": "XRPUSDT", "b": [["1.9531", "6203"], ["1.9530", "2409"]], "a": [["1.9535", "8415"]],
                     "u": 20254869, "seq": 130020238981}, "cts": 1733011200589}
DELTA = {"topic": "orderbook.50.XRPUSDT", "type": "delta", "ts": 1733011200693,
         "data": {"s": "XRPUSDT", "b": [["1.9531", "0"]], "a": [["1.9536", "11653"]], "u": 20254870,
                  "seq": 130020239261}, "cts": 1733011200691}


# ---------------------------------------------------------------- instruments

def test_instruments_are_normalised_from_metadata_per_category():
    assert (XRPUSDT.symbol, XRPUSDT.venue_symbol, XRPUSDT.venue) == ("XRP/USDT:USDT", "XRPUSDT", "bybit")
    assert (XRPUSDT.price_decimals, XRPUSDT.qty_decimals) == (4, 0)
    spot = bybit_instrument(BTCUSDT_SPOT_INFO, "spot")
    assert (spot.symbol, spot.price_decimals, spot.qty_decimals) == ("BTC/USDT", 2, 6)
    dated = bybit_instrument({**XRPUSDT_LINEAR_INFO, "symbol": "BTCUSDT-27DEC24", "baseCoin": "BTC",
                              "deliveryTime": "1735286400000"}, "linear")
    assert dated.symbol == "BTC/USDT:USDT-241227"
    with pytest.raises(ValueError, match="option"):
        bybit_instrument(XRPUSDT_LINEAR_INFO, "option")


def test_one_codec_serves_one_category_and_learns_its_instruments():
    codec = BybitMarketDataCodec([])
    codec.add_instrument(XRPUSDT)
    assert codec.knows("XRPUSDT") and not codec.knows("BTCUSDT")
    with pytest.raises(ValueError, match="one category"):
        codec.add_instrument(bybit_instrument({**BTCUSDT_SPOT_INFO, "symbol": "XRPUSDT"}, "spot"))


# ---------------------------------------------------------------- codec

def test_snapshot_and_delta_become_exact_events_at_their_update_id():
    (snapshot,) = CODEC.decode(SNAPSHOT, 5)
    assert snapshot == BookSnapshot("XRP/USDT:USDT", 5, 20254869, ((19531, 6203), (19530, 2409)), ((19535, 8415),))
    (diff,) = CODEC.decode(DELTA, 6)
    assert diff == DepthDiff("XRP/USDT:USDT", 6, 20254870, 20254870, -1, ((19531, 0),), ((19536, 11653),))


def test_a_delta_with_u_1_is_the_book_after_a_service_restart():
    (event,) = CODEC.decode({**DELTA, "data": {**DELTA["data"], "u": 1}}, 0)
    assert type(event) is BookSnapshot and event.last_update_id == 1


@pytest.mark.parametrize("frame", [
    {"success": True, "ret_msg": "", "conn_id": "c1", "req_id": "1", "op": "subscribe"},
    {"success": True, "ret_msg": "pong", "conn_id": "c1", "op": "ping"},
    {"topic": "publicTrade.XRPUSDT", "type": "snapshot", "ts": 1, "data": [{"p": "1.9", "v": "1"}]},
])
def test_replies_and_other_topics_carry_no_market_event(frame):
    assert CODEC.decode(frame, 0) == ()


def test_decode_raw_reports_bad_json_as_malformed():
    assert CODEC.decode_raw(orjson.dumps(DELTA), 1) == CODEC.decode(DELTA, 1)
    with pytest.raises(MalformedFrame, match="not valid JSON"):
        CODEC.decode_raw(orjson.dumps(DELTA)[:40], 1)


def with_data(frame: dict, **fields) -> dict:
    return {**frame, "data": {**frame["data"], **fields}}


def without_data(frame: dict, key: str) -> dict:
    return {**frame, "data": {k: v for k, v in frame["data"].items() if k != key}}


@pytest.mark.parametrize("frame, message", [
    # truncated / missing fields
    ({"topic": "orderbook.50.XRPUSDT", "type": "delta"}, "orderbook delta: missing field 'data'"),
    ({k: v for k, v in DELTA.items() if k != "type"}, "orderbook: missing field 'type'"),
    (without_data(DELTA, "u"), "orderbook delta: missing field 'data.u'"),
    (without_data(SNAPSHOT, "a"), "orderbook snapshot: missing field 'data.a'"),
    (with_data(DELTA, b=[["1.9531"]]), "field 'data.b', level 0: should be a [price, size] pair, got 1 elements"),
    # wrong types
    (with_data(DELTA, u="20254870"), "orderbook delta: field 'data.u' should be an integer, got string"),
    (with_data(DELTA, seq=1.5), "orderbook delta: field 'data.seq' should be an integer, got number"),
    (with_data(DELTA, a={"1.9536": "1"}), "field 'data.a' should be a list of [price, size] pairs, got object"),
    (with_data(DELTA, a=["19", "53"]), "field 'data.a', level 0: should be a [price, size] pair, got string"),
    (with_data(DELTA, b=[["1.9531", 0]]), "field 'data.b', level 0: size should be a decimal string, got integer"),
    (with_data(DELTA, s=None), "field 'data.s' should be a string, got null"),
    ({**DELTA, "data": [DELTA["data"]]}, "orderbook delta: field 'data' should be an object, got array"),
    ({**DELTA, "type": "partial"}, "orderbook: field 'type' should be 'snapshot' or 'delta', got 'partial'"),
    ({**DELTA, "topic": 5}, "frame: field 'topic' should be a string, got integer"),
    ("orderbook", "frame should be a JSON object, got string"),
    # bad numbers
    (with_data(DELTA, b=[["1.95315", "1"]]), "level 0: price is a bad number: '1.95315' has more than 4 decimals"),
    (with_data(DELTA, a=[["1.9536", "0.5"]]), "level 0: size is a bad number: '0.5' has more than 0 decimals"),
    (with_data(DELTA, a=[["1.9536", "-5"]]), "level 0: size is negative"),
    # empty sides
    (with_data(SNAPSHOT, b=[], a=[]), "orderbook snapshot: fields 'data.b' and 'data.a' are both empty"),
    (with_data(DELTA, b=[], a=[], u=1), "orderbook delta: fields 'data.b' and 'data.a' are both empty"),
])
def test_malformed_frames_name_what_is_wrong(frame, message):
    with pytest.raises(MalformedFrame) as caught:
        CODEC.decode(frame, 0)
    assert message in str(caught.value)


def test_unknown_symbol_is_its_own_kind_of_malformed_frame():
    with pytest.raises(UnknownSymbol, match="'BTCUSDT'"):
        CODEC.decode(with_data(DELTA, s="BTCUSDT"), 0)


# ---------------------------------------------------------------- garbage only ever raises MalformedFrame

json_values = garbage_frames.json_values(["orderbook.50.XRPUSDT", "snapshot", "delta", "XRPUSDT", "1.9531", "0", "1e5", "-1", ""])


@settings(max_examples=400, deadline=None)
@given(frame=json_values | mutated(SNAPSHOT, json_values) | mutated(DELTA, json_values))
def test_garbage_frames_only_ever_raise_malformed_frame(frame):
    try:
        events = CODEC.decode(frame, 0)
    except MalformedFrame:
        return
    assert type(events) is tuple and all(type(e) in (BookSnapshot, DepthDiff) for e in events)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64) | st.sampled_from([orjson.dumps(SNAPSHOT), orjson.dumps(DELTA)])
       .flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])))
def test_garbage_bytes_and_truncated_frames_only_ever_raise_malformed_frame(raw):
    try:
        CODEC.decode_raw(raw, 0)
    except MalformedFrame:
        pass


# ---------------------------------------------------------------- sync rules

SYMBOL = XRPUSDT.symbol


def snap(u: int, bids=((100, 5),), asks=((101, 5),)) -> BookSnapshot:
    return BookSnapshot(SYMBOL, 0, u, tuple(bids), tuple(asks))


def delta(u: int, bids=(), asks=()) -> DepthDiff:
    return DepthDiff(SYMBOL, 0, u, u, -1, tuple(bids), tuple(asks))


def test_deltas_must_continue_the_update_id_one_by_one():
    sync = BybitBookSync(SYMBOL)
    assert sync.on_diff(delta(10)) is SyncResult.IGNORED  # no snapshot yet
    assert sync.on_snapshot(snap(10)) is SyncResult.LOADED
    assert sync.on_diff(delta(11, bids=[(100, 0), (99, 2)])) is SyncResult.APPLIED
    assert sync.on_diff(delta(11, bids=[(98, 1)])) is SyncResult.IGNORED  # already in the book
    assert sync.on_diff(delta(12, asks=[(102, 1)])) is SyncResult.APPLIED
    assert sync.state is BookState.LIVE and sync.last_update_id == 12
    assert sync.book.top(5) == (((99, 2),), ((101, 5), (102, 1)))


def test_a_skipped_update_id_is_a_gap_and_the_next_snapshot_restarts_the_book():
    sync = BybitBookSync(SYMBOL)
    sync.on_snapshot(snap(10))
    assert sync.on_diff(delta(12)) is SyncResult.GAP
    assert sync.state is BookState.STALE and len(sync.book) == 0 and sync.last_update_id is None
    assert sync.on_diff(delta(13)) is SyncResult.IGNORED
    assert sync.on_snapshot(snap(40, bids=[(97, 3)])) is SyncResult.LOADED
    assert sync.on_diff(delta(41)) is SyncResult.APPLIED
    assert sync.gaps == 1 and sync.resyncs == {"gap": 1} and sync.book.best_bid() == (97, 3)


def test_any_snapshot_resets_a_live_book_even_after_a_restart_to_u_1():
    sync = BybitBookSync(SYMBOL)
    sync.on_snapshot(snap(500))
    (restart,) = CODEC.decode({**DELTA, "data": {**DELTA["data"], "u": 1}}, 0)
    assert sync.on_snapshot(restart) is SyncResult.LOADED
    assert sync.last_update_id == 1 and sync.book.top(5) == ((), ((19536, 11653),))
    assert sync.on_diff(delta(2)) is SyncResult.APPLIED


def test_events_of_another_instrument_are_refused():
    with pytest.raises(ValueError, match="BTC/USDT"):
        BybitBookSync(SYMBOL).on_snapshot(BookSnapshot("BTC/USDT", 0, 1, (), ()))


# ---------------------------------------------------------------- Bybit's own dump

@pytest.fixture(scope="module")
def dump_frames() -> list[tuple[int, bytes]]:
    if not DUMP.exists():
        pytest.skip(f"recorded data not found at {DUMP} (shared/recorded is absent)")
    return list(read_bybit_dump(DUMP))


def replay(frames) -> tuple[BybitBookSync, Counter]:
    codec, sync = BybitMarketDataCodec([XRPUSDT]), BybitBookSync(SYMBOL)
    results: Counter = Counter()
    for ts, raw in frames:
        for event in codec.decode_raw(raw, ts):
            result = sync.on_snapshot(event) if type(event) is BookSnapshot else sync.on_diff(event)
            results[result] += 1
    return sync, results


def test_the_dump_replays_with_contiguous_update_ids(dump_frames):
    sync, results = replay(dump_frames)
    # INDEX.md: 1 snapshot and 49 deltas, `u` contiguous (+1 on every delta).
    assert results == Counter({SyncResult.LOADED: 1, SyncResult.APPLIED: 49})
    assert sync.gaps == 0 and sync.resyncs == {} and sync.state is BookState.LIVE
    assert sync.last_update_id == 20254918
    assert not sync.book.is_crossed()
    assert sync.book.best_bid() == (19537, 10605) and sync.book.best_ask() == (19538, 6702)


def test_a_removed_delta_is_a_gap(dump_frames):
    frames = dump_frames[:25] + dump_frames[26:]  # the snapshot, deltas 1-24, then 26-49
    sync, results = replay(frames)
    assert results == Counter({SyncResult.LOADED: 1, SyncResult.APPLIED: 24, SyncResult.GAP: 1,
                               SyncResult.IGNORED: 23})
    assert sync.gaps == 1 and sync.state is BookState.STALE
