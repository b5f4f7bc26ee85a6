"""Kraken market-data codec (WS v1 and v2 `book`) and instruments: exact numbers, canonical symbols, named errors."""
import copy
import json
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kraken.instruments import canonical_asset, kraken_instruments
from adapters.kraken.market_data import (
    KrakenMarketDataCodec,
    MalformedFrame,
    UnknownSymbol,
    loads_exact,
)
from engine.messages import BookSnapshot, DepthDiff
from engine.model.numbers import Instrument
from engine.replay.cryptofeed import LineKind, read_cryptofeed

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
CRYPTOFEED = RECORDED / "bmoscon+cryptofeed" / "sample_data"

BTC_USD = Instrument("BTC/USD", "kraken", "XBT/USD", "BTC", "USD", price_decimals=1, qty_decimals=8)
DOGE_USDT = Instrument("DOGE/USDT", "kraken", "XDG/USDT", "DOGE", "USDT", price_decimals=5, qty_decimals=8)


@pytest.fixture
def codec() -> KrakenMarketDataCodec:
    return KrakenMarketDataCodec([BTC_USD, DOGE_USDT])


def recorded(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    return path


V1_SNAPSHOT = [336, {"as": [["5541.30000", "2.50700000", "1534614248.123678"],
                            ["5541.80000", "0.33000000", "1534614098.345543"]],
                     "bs": [["5541.20000", "1.52900000", "1534614248.765567"]]}, "book-10", "XBT/USD"]
V1_UPDATE = [336, {"a": [["5541.30000", "0.00000000", "1534614335.345903"]], "c": "974942666"}, "book-10", "XBT/USD"]
V1_TWO_PART = [336, {"a": [["5541.30000", "1.00000000", "1534614335.345903"]]},
               {"b": [["5541.20000", "0.00000000", "1534614335.345903"]], "c": "123456"}, "book-10", "XBT/USD"]
V2_SNAPSHOT = (b'{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",'
               b'"bids":[{"price":63299.4,"qty":0.00209987},{"price":63298,"qty":5.1e-05}],'
               b'"asks":[{"price":63299.5,"qty":0.4388201}],"checksum":1490766955,'
               b'"timestamp":"2026-08-12T19:28:08.631028Z"}]}')
V2_UPDATE = (b'{"channel":"book","type":"update","data":[{"symbol":"DOGE/USDT","bids":[],'
             b'"asks":[{"price":0.09574,"qty":0},{"price":0.0958,"qty":2605.97847548}],"checksum":3956438850,'
             b'"timestamp":"2026-10-06T11:17:14.633726Z"}]}')


# ---------------------------------------------------------------- v1

def test_v1_snapshot_becomes_an_exact_snapshot_under_the_canonical_symbol(codec):
    assert codec.decode(V1_SNAPSHOT, 7) == (
        BookSnapshot("BTC/USD", 7, -1, bids=((55412, 152900000),), asks=((55413, 250700000), (55418, 33000000))),)


def test_v1_snapshot_tells_the_precision_of_the_strings_as_sent(codec):
    assert codec.wire_decimals("BTC/USD") is None
    codec.decode(V1_SNAPSHOT, 7)
    assert codec.wire_decimals("BTC/USD") == codec.wire_decimals("XBT/USD") == (5, 8)
    assert codec.wire_decimals("ETH/USD") is None


def test_v1_update_carries_its_checksum_and_no_ids(codec):
    assert codec.decode(V1_UPDATE, 8) == (DepthDiff("BTC/USD", 8, -1, -1, -1, (), ((55413, 0),), 974942666),)


def test_v1_update_of_both_sides_in_two_parts_is_one_diff(codec):
    assert codec.decode(V1_TWO_PART, 9) == (
        DepthDiff("BTC/USD", 9, -1, -1, -1, ((55412, 0),), ((55413, 100000000),), 123456),)


def test_v1_republished_level_decodes_like_any_other(codec):
    republished = copy.deepcopy(V1_UPDATE)
    republished[1]["a"][0].append("r")
    assert codec.decode(republished, 8) == codec.decode(V1_UPDATE, 8)


def test_v1_update_without_checksum_has_none(codec):
    frame = [336, {"b": [["5541.20000", "3.00000000", "1534614335.345903"]]}, "book-10", "XBT/USD"]
    assert codec.decode(frame, 1)[0].checksum is None


# ---------------------------------------------------------------- v2

def test_v2_json_numbers_are_read_exactly_from_their_text(codec):
    (snapshot,) = codec.decode_raw(V2_SNAPSHOT, 3)
    assert snapshot == BookSnapshot("BTC/USD", 3, -1, bids=((632994, 209987), (632980, 5100)),
                                    asks=((632995, 43882010),), checksum=1490766955)


def test_v2_update_has_no_ids_and_a_zero_quantity_deletes(codec):
    assert codec.decode_raw(V2_UPDATE.decode(), 4) == (
        DepthDiff("DOGE/USDT", 4, -1, -1, -1, (), ((9574, 0), (9580, 260597847548)), 3956438850),)


def test_v2_snapshot_without_checksum_has_none(codec):
    frame = V2_SNAPSHOT.replace(b',"checksum":1490766955', b"")
    assert codec.decode_raw(frame, 3)[0].checksum is None


def test_v2_frame_read_with_binary_floats_is_refused(codec):
    with pytest.raises(MalformedFrame, match="level 0: price should be a decimal number as text, got number "
                                             "\\(a binary float is not exact"):
        codec.decode(orjson.loads(V2_SNAPSHOT), 3)


def test_loads_exact_keeps_every_number_as_its_text_and_refuses_nan():
    assert loads_exact(b'{"p":63299.4,"q":5.1e-05,"n":0,"l":[1E+2]}') == {"p": "63299.4", "q": "5.1e-05", "n": "0",
                                                                          "l": ["1E+2"]}
    with pytest.raises(ValueError, match="NaN"):
        loads_exact('{"p": NaN}')


@pytest.mark.parametrize("text, decimals, value", [
    ("5.1e-05", 8, 5100), ("5e-05", 8, 5000), ("1E+2", 1, 1000), ("12.5e1", 0, 125), ("0e-20", 2, 0),
])
def test_v2_exponent_forms_are_exact(text, decimals, value):
    instrument = Instrument("X/Y", "kraken", "X/Y", "X", "Y", price_decimals=decimals, qty_decimals=8)
    frame = {"channel": "book", "type": "update", "data": [{"symbol": "X/Y", "bids": [{"price": text, "qty": "1"}],
                                                            "asks": []}]}
    assert KrakenMarketDataCodec([instrument]).decode(frame, 0)[0].bids == ((value, 100000000),)


# ---------------------------------------------------------------- frames without book events, bad frames

@pytest.mark.parametrize("frame", [
    '{"event":"heartbeat"}',
    '{"connectionID":17843232920108168701,"event":"systemStatus","status":"online","version":"1.8.3"}',
    '{"channelID":1664,"channelName":"book-1000","event":"subscriptionStatus","pair":"WAVES/EUR"}',
    '[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]',
    '[[{"TDLH43-DVQXD-2KHVYY":{"cost":"1000000.00000"}}],"ownTrades",{"sequence":2948}]',
    '{"channel":"heartbeat"}',
    '{"channel":"status","type":"update","data":[{"api_version":"v2","system":"online"}]}',
    '{"method":"subscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},"success":true}',
    '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","price":27000.1,"qty":0.01}]}',
])
def test_acks_events_and_other_channels_carry_no_book_event(codec, frame):
    assert codec.decode_raw(frame, 0) == ()


def test_unknown_symbol_is_its_own_kind_of_malformed_frame(codec):
    with pytest.raises(UnknownSymbol, match="'ETH/USD'"):
        codec.decode([1, V1_UPDATE[1], "book-10", "ETH/USD"], 0)
    with pytest.raises(UnknownSymbol, match="data\\[0\\]: field 'symbol': unknown symbol 'XBT/EUR'"):
        codec.decode_raw(V2_UPDATE.replace(b"DOGE/USDT", b"XBT/EUR"), 0)


def test_decode_raw_reports_bad_json_as_malformed(codec):
    for frame in (V2_SNAPSHOT[:-9], orjson.dumps(V1_UPDATE)[:-3], b"\xff\xfe", b"", b"[" * 5000, b'{"a":' * 5000):
        with pytest.raises(MalformedFrame, match="not valid JSON"):
            codec.decode_raw(frame, 0)


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


def v1(body, *more) -> list:
    return [336, body, *more, "book-10", "XBT/USD"]


def v2(entry: dict, kind: str = "update") -> dict:
    return {"channel": "book", "type": kind, "data": [entry]}


V2_ENTRY = {"symbol": "BTC/USD", "bids": [{"price": "63299.4", "qty": "0.1"}], "asks": [], "checksum": "1"}
LEVEL = ["5541.30000", "1.00000000", "1534614248.123678"]


@pytest.mark.parametrize("frame, message", [
    # truncated: frames and levels cut short
    ([336, "book-10", "XBT/USD"], "book frame: should be [channelID, changes, (changes,) channelName, pair]"),
    (["book-10", "XBT/USD"], "array frame: should be [channelID, ..., channelName, pair]"),
    (v1({"as": [LEVEL]}), "book snapshot XBT/USD: missing field 'bs'"),
    (v1({"a": [LEVEL[:2]]}), "book update XBT/USD: field 'a', level 0: should be [price, volume, timestamp], "
                             "got 2 elements"),
    (v1({"b": [[]]}), "field 'b', level 0: should be [price, volume, timestamp], got 0 elements"),
    (without(v2(V2_ENTRY), "data"), "book update: missing field 'data'"),
    (without(v2(V2_ENTRY), "type"), "book: missing field 'type'"),
    (v2(without(V2_ENTRY, "symbol")), "book update: data[0]: missing field 'symbol'"),
    (v2(without(V2_ENTRY, "asks"), "snapshot"), "book snapshot: data[0]: missing field 'asks'"),
    (v2({**V2_ENTRY, "bids": [{"price": "63299.4"}]}), "data[0]: field 'bids', level 0: missing field 'qty'"),
    # empty sides
    (v1({"c": "974942666"}), "book update XBT/USD: missing field 'a' or 'b'"),
    (v1({}), "book update XBT/USD: missing field 'a' or 'b'"),
    (v1({"a": [LEVEL]}, {"a": [LEVEL], "c": "1"}), "book update XBT/USD: field 'a' appears twice"),
    # wrong types
    (v1({"a": {"5541.3": "1"}}), "field 'a' should be a list of [price, volume, timestamp] levels, got object"),
    (v1({"a": ["123"]}), "field 'a', level 0: should be [price, volume, timestamp], got string"),
    (v1({"a": [[5541.3, "1.00000000", "1534614248.1"]]}), "field 'a', level 0: price should be a decimal number "
                                                          "as text, got number"),
    (v1({"b": [LEVEL + ["x"]]}), "field 'b', level 0: a 4th element should be 'r' (republished), got 'x'"),
    (v1({"a": [LEVEL], "c": 974942666}), "book update XBT/USD: field 'c': 974942666 is not an unsigned 32-bit"),
    (v1({"a": [LEVEL], "c": None}), "field 'c': None is not an unsigned 32-bit integer"),
    (v1({"a": [LEVEL]}, "x"), "book frame XBT/USD: element 2 should be an object, got string"),
    ([336, {"a": [LEVEL]}, "book-10", 7], "book frame: pair should be a string, got integer"),
    (v2(V2_ENTRY, "partial"), "book: field 'type' should be 'snapshot' or 'update', got 'partial'"),
    ({**v2(V2_ENTRY), "data": {"symbol": "BTC/USD"}}, "book update: field 'data' should be an array, got object"),
    ({**v2(V2_ENTRY), "data": ["BTC/USD"]}, "book update: data[0] should be an object, got string"),
    (v2({**V2_ENTRY, "symbol": ["BTC/USD"]}), "data[0]: field 'symbol' should be a string, got array"),
    (v2({**V2_ENTRY, "asks": None}), "data[0]: field 'asks' should be an array of {price, qty} objects, got null"),
    (v2({**V2_ENTRY, "asks": [["63299.5", "1"]]}), "field 'asks', level 0: should be a {price, qty} object"),
    (v2({**V2_ENTRY, "bids": [{"price": True, "qty": "1"}]}), "level 0: price should be a decimal number as "
                                                              "text, got boolean"),
    (v2({**V2_ENTRY, "checksum": "-1"}), "data[0]: field 'checksum': '-1' is not an unsigned 32-bit integer"),
    (v2({**V2_ENTRY, "checksum": "4294967296"}), "'4294967296' is not an unsigned 32-bit integer"),
    (5, "frame should be a JSON array or object, got integer"),
    # bad numbers
    (v1({"a": [["5541.3.0", "1.00000000", "1"]]}), "field 'a', level 0: price is a bad number"),
    (v1({"a": [["5541.35", "1.00000000", "1"]]}), "price is a bad number: '5541.35' has more than 1 decimals"),
    (v1({"b": [["5541.30000", "-1.00000000", "1"]]}), "field 'b', level 0: volume is a bad number"),
    (v1({"b": [["5541.30000", "", "1"]]}), "field 'b', level 0: volume is a bad number"),
    (v2({**V2_ENTRY, "bids": [{"price": "63299.4", "qty": "1.5e-9"}]}), "qty is a bad number: '1.5e-9' has more"),
    (v2({**V2_ENTRY, "bids": [{"price": "1e99", "qty": "1"}]}), "price is a bad number: '1e99' is out of range"),
])
def test_malformed_frames_name_what_is_wrong(codec, frame, message):
    with pytest.raises(MalformedFrame) as caught:
        codec.decode(frame, 0)
    assert message in str(caught.value)


# ---------------------------------------------------------------- garbage never escapes as anything else

LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
          | st.sampled_from(["r", "a", "b", "c", "as", "bs", "book-10", "XBT/USD", "BTC/USD", "snapshot",
                             "update", "book", "price", "qty", "1e5", "0.5", "4294967295"])
          | st.from_regex(r"[0-9]{1,5}(\.[0-9]{1,9})?([eE][-+]?[0-9]{1,3})?", fullmatch=True))
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6) | st.sampled_from(["a", "b", "c", "as", "bs"]),
                                             inner, max_size=4), max_leaves=10)
VALID_FRAMES = [V1_SNAPSHOT, V1_UPDATE, V1_TWO_PART, loads_exact(V2_SNAPSHOT), loads_exact(V2_UPDATE)]


def paths(node, prefix=()):
    """Every place inside a parsed frame: a tuple of keys and indexes."""
    yield prefix
    children = node.items() if type(node) is dict else enumerate(node) if type(node) is list else ()
    for key, child in children:
        yield from paths(child, prefix + (key,))


@st.composite
def mutated_frames(draw):
    """A valid frame with one value somewhere inside it replaced by garbage, or removed."""
    frame = copy.deepcopy(draw(st.sampled_from(VALID_FRAMES)))
    path = draw(st.sampled_from(list(paths(frame))[1:]))
    parent = frame
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()):
        parent[path[-1]] = draw(JSON_VALUES)
    else:
        del parent[path[-1]]
    return frame


def decode_or_refuse(codec: KrakenMarketDataCodec, frame, raw: bool) -> None:
    try:
        events = codec.decode_raw(frame, 0) if raw else codec.decode(frame, 0)
    except MalformedFrame:
        return
    for event in events:
        assert type(event) in (BookSnapshot, DepthDiff)
        for price, qty in event.bids + event.asks:
            assert type(price) is int and type(qty) is int and price >= 0 and qty >= 0


@settings(max_examples=300, deadline=None)
@given(mutated_frames())
def test_a_damaged_frame_decodes_or_raises_malformed_frame_and_nothing_else(frame):
    decode_or_refuse(KrakenMarketDataCodec([BTC_USD, DOGE_USDT]), frame, raw=False)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode) | JSON_VALUES.map(json.dumps)
       | JSON_VALUES.map(lambda value: json.dumps({"channel": "book", "type": "update", "data": value})))
def test_random_bytes_decode_or_raise_malformed_frame_and_nothing_else(frame):
    decode_or_refuse(KrakenMarketDataCodec([BTC_USD, DOGE_USDT]), frame, raw=True)


# ---------------------------------------------------------------- instruments

@pytest.mark.parametrize("code, canonical", [
    ("XXBT", "BTC"), ("XBT", "BTC"), ("XXDG", "DOGE"), ("XDG", "DOGE"), ("ZUSD", "USD"), ("XETH", "ETH"),
    ("XXMR", "XMR"), ("XTZ", "XTZ"), ("CHF", "CHF"), ("USDT", "USDT"), ("ETH2.S", "ETH2.S"),
])
def test_canonical_asset_codes(code, canonical):
    assert canonical_asset(code) == canonical


def test_instruments_read_tick_size_where_asset_pairs_gives_one_and_refuse_duplicates():
    pair = {"wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD", "pair_decimals": 1, "lot_decimals": 8,
            "tick_size": "0.5"}
    (instrument,) = kraken_instruments({"XXBTZUSD": pair})
    assert instrument.tick_size == 5
    with pytest.raises(ValueError, match="'XXBTZUSD' and 'XBTUSD' are both BTC/USD"):
        kraken_instruments({"XXBTZUSD": pair, "XBTUSD": {**pair, "base": "XBT"}})


def test_codec_refuses_one_name_for_two_instruments():
    other = Instrument("XBT/USD", "kraken", "XBTUSD", "XBT", "USD", price_decimals=1, qty_decimals=8)
    with pytest.raises(ValueError, match="'XBT/USD' names both"):
        KrakenMarketDataCodec([BTC_USD, other])


def asset_pairs() -> dict:
    line = next(read_cryptofeed(recorded(CRYPTOFEED / "KRAKEN.0")))  # the REST AssetPairs response
    assert line.kind is LineKind.HTTP and "AssetPairs" in line.url
    return json.loads(line.payload)["result"]


def test_instruments_from_the_recorded_asset_pairs_have_canonical_symbols():
    instruments = {instrument.venue_symbol: instrument for instrument in kraken_instruments(asset_pairs())}
    assert len(instruments) == 293  # 304 pairs, 11 of them `.d` books without a wsname
    assert len({instrument.symbol for instrument in instruments.values()}) == 293
    btc = instruments["XBT/USD"]
    assert (btc.symbol, btc.base, btc.quote, btc.price_decimals, btc.qty_decimals) == ("BTC/USD", "BTC", "USD", 1, 8)
    assert instruments["XDG/XBT"].symbol == "DOGE/BTC"
    assert instruments["XMR/USD"].symbol == "XMR/USD" and instruments["XMR/USD"].price_decimals == 2
    assert instruments["XTZ/USD"].symbol == "XTZ/USD"
    assert instruments["ETH/CHF"].symbol == "ETH/CHF"


# ---------------------------------------------------------------- the whole recording

def test_every_frame_of_the_recorded_v1_session_decodes():
    codec = KrakenMarketDataCodec(kraken_instruments(asset_pairs()))
    events = [event for line in read_cryptofeed(recorded(CRYPTOFEED / "KRAKEN.ws.50.0"))
              if line.kind is LineKind.RECEIVED for event in codec.decode_raw(line.payload, line.ts_ns)]
    # INDEX.md: 10 snapshots, 4269 updates, each with a checksum, of 10 pairs.
    assert Counter(type(event).__name__ for event in events) == Counter(BookSnapshot=10, DepthDiff=4269)
    assert all(event.checksum is not None for event in events if type(event) is DepthDiff)
    assert len({event.instrument for event in events}) == 10
    assert sum(1 for event in events if type(event) is DepthDiff and event.bids and event.asks) == 1  # two-part
    assert codec.wire_decimals("XMR/USD") == (8, 8) and codec.wire_decimals("ADA/BTC") == (9, 8)
