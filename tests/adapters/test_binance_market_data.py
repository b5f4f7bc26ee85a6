"""Binance market-data codec: every frame kind, exact numbers, canonical symbols, and named errors."""
from collections import Counter
from pathlib import Path

import orjson
import pytest

from adapters.binance.market_data import (
    BinanceMarketDataCodec,
    MalformedFrame,
    UnknownSymbol,
    binance_spot_instrument,
)
from engine.messages import BookSnapshot, DepthDiff, Side, TopOfBook, Trade
from engine.model.numbers import Instrument
from engine.replay.formats import read_capture

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
HFT = RECORDED / "nkaz001+hftbacktest" / "examples"

BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
ETHUSDT = binance_spot_instrument("ETHUSDT", "ETH", "USDT")
BTCUSDT_PERP = Instrument("BTC/USDT:USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=3)


@pytest.fixture
def codec() -> BinanceMarketDataCodec:
    return BinanceMarketDataCodec([BTCUSDT, ETHUSDT], snapshot_symbol="BTCUSDT")


def wrap(stream: str, data: dict) -> dict:
    return {"stream": stream, "data": data}


DEPTH = {"e": "depthUpdate", "E": 1723161255308, "s": "BTCUSDT", "U": 50093239203, "u": 50093239207,
         "b": [["55653.87000000", "0.00000000"], ["61837.63000000", "3.78826000"]],
         "a": [["61838.04000000", "0.32332000"]]}
TRADE = {"e": "trade", "E": 1723161255343, "s": "BTCUSDT", "t": 3735683259, "p": "61837.63000000",
         "q": "0.02000000", "T": 1723161255342, "m": True, "M": True}
TICKER = {"u": 50093239212, "s": "BTCUSDT", "b": "61837.63000000", "B": "3.78826000", "a": "61837.64000000",
          "A": "1.54698000"}
SNAPSHOT = {"lastUpdateId": 50093239218, "bids": [["61837.63000000", "3.78826000"]],
            "asks": [["61837.64000000", "1.92853000"], ["61838.00000000", "0.10000000"]]}


def test_depth_update_becomes_an_exact_diff_under_the_canonical_symbol(codec):
    diff = codec.decode(wrap("btcusdt@depth@100ms", DEPTH), 7)
    assert diff == DepthDiff("BTC/USDT", 7, 50093239203, 50093239207, -1,
                             bids=((5565387000000, 0), (6183763000000, 378826000)),
                             asks=((6183804000000, 32332000),))


def test_raw_payload_decodes_like_the_combined_stream_wrapper(codec):
    assert codec.decode(DEPTH, 7) == codec.decode(wrap("btcusdt@depth@100ms", DEPTH), 7)


def test_futures_depth_update_carries_pu():
    codec = BinanceMarketDataCodec([BTCUSDT_PERP])
    data = {"e": "depthUpdate", "E": 1, "T": 1, "s": "BTCUSDT", "U": 5123107832006, "u": 5123107837557,
            "pu": 5123107831937, "b": [["61510.90", "0.000"], ["61641.50", "1.211"]], "a": []}
    diff = codec.decode(wrap("btcusdt@depth@0ms", data), 1)
    assert (diff.instrument, diff.prev_last_id) == ("BTC/USDT:USDT", 5123107831937)
    assert diff.bids == ((6151090, 0), (6164150, 1211))


def test_trade_aggressor_follows_buyer_is_maker(codec):
    sell = codec.decode(wrap("btcusdt@trade", TRADE), 3)
    assert sell == Trade("BTC/USDT", 3, 3735683259, 6183763000000, 2000000, Side.SELL)
    buy = codec.decode(wrap("btcusdt@trade", {**TRADE, "m": False}), 3)
    assert buy.aggressor is Side.BUY


def test_spot_book_ticker_has_no_event_type(codec):
    top = codec.decode(wrap("btcusdt@bookTicker", TICKER), 5)
    assert top == TopOfBook("BTC/USDT", 5, 50093239212, 6183763000000, 378826000, 6183764000000, 154698000)


def test_futures_book_ticker_names_its_event_type():
    codec = BinanceMarketDataCodec([BTCUSDT_PERP])
    data = {"e": "bookTicker", "u": 5123107839020, "s": "BTCUSDT", "b": "61800.20", "B": "2.507",
            "a": "61800.30", "A": "2.510", "T": 1723161256313, "E": 1723161256313}
    assert codec.decode(data, 0) == TopOfBook("BTC/USDT:USDT", 0, 5123107839020, 6180020, 2507, 6180030, 2510)


def test_bare_rest_snapshot_is_filed_under_the_snapshot_symbol(codec):
    snapshot = codec.decode(SNAPSHOT, 9)
    assert snapshot == BookSnapshot("BTC/USDT", 9, 50093239218, ((6183763000000, 378826000),),
                                    ((6183764000000, 192853000), (6183800000000, 10000000)))
    by_canonical = BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTC/USDT")
    assert by_canonical.decode(SNAPSHOT, 9) == snapshot


def test_snapshot_symbol_must_be_a_known_instrument():
    with pytest.raises(ValueError, match="XRPUSDT"):
        BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="XRPUSDT")


def test_snapshot_without_a_snapshot_symbol_is_malformed():
    with pytest.raises(MalformedFrame, match="snapshot_symbol"):
        BinanceMarketDataCodec([BTCUSDT]).decode(SNAPSHOT, 0)


@pytest.mark.parametrize("frame", [
    {"result": None, "id": 1},
    {"e": "24hrTicker", "s": "BTCUSDT"},
    wrap("btcusdt@aggTrade", {"e": "aggTrade", "s": "BTCUSDT", "a": 1}),
])
def test_acks_and_other_events_carry_no_market_event(codec, frame):
    assert codec.decode(frame, 0) is None


def test_decode_raw_parses_json_and_reports_bad_json_as_malformed(codec):
    assert codec.decode_raw(orjson.dumps(wrap("btcusdt@trade", TRADE)), 3) == codec.decode(wrap("x", TRADE), 3)
    with pytest.raises(MalformedFrame, match="not valid JSON"):
        codec.decode_raw(orjson.dumps(wrap("btcusdt@trade", TRADE))[:-7], 3)


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


@pytest.mark.parametrize("frame, message", [
    # truncated: a payload cut short of its fields, or a level cut short of its quantity
    ({"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 1}, "depthUpdate: missing field 'u'"),
    ({**DEPTH, "b": [["61837.63000000"]]}, "depthUpdate: field 'b', level 0: should be a [price, qty] pair"),
    (without(TICKER, "A"), "bookTicker: missing field 'A'"),
    (without(TRADE, "q"), "trade: missing field 'q'"),
    (without(SNAPSHOT, "asks"), "depth snapshot: missing field 'asks'"),
    (without(DEPTH, "s"), "depthUpdate: missing field 's'"),
    ({"stream": "btcusdt@trade"}, "combined-stream frame: missing field 'data'"),
    # wrong types
    ({**DEPTH, "U": "50093239203"}, "depthUpdate: field 'U' should be an integer, got string"),
    ({**DEPTH, "pu": None}, "depthUpdate: field 'pu' should be an integer, got null"),
    ({**DEPTH, "a": {"61838.04": "1"}}, "depthUpdate: field 'a' should be a list of [price, qty] pairs"),
    ({**DEPTH, "b": [["61837.63000000", 3.78826]]}, "field 'b', level 0: qty should be a decimal string, got number"),
    ({**DEPTH, "a": [["1.00000000", "1.0"], "61838.04"]}, "field 'a', level 1: should be a [price, qty] pair"),
    ({**TRADE, "m": 1}, "trade: field 'm' should be a boolean, got integer"),
    ({**TRADE, "t": 3.5}, "trade: field 't' should be an integer, got number"),
    ({**TICKER, "b": 61837.63}, "bookTicker: field 'b' should be a decimal string, got number"),
    ({**TICKER, "s": ["BTCUSDT"]}, "bookTicker: field 's' should be a string, got array"),
    ({**SNAPSHOT, "lastUpdateId": "1"}, "depth snapshot: field 'lastUpdateId' should be an integer"),
    ([DEPTH], "frame should be a JSON object, got array"),
    ({"stream": "btcusdt@trade", "data": [TRADE]}, "field 'data' should be an object, got array"),
    # bad numbers
    ({**TRADE, "p": "61837.63.1"}, "trade: field 'p' is a bad number"),
    ({**TRADE, "q": "0.000000001"}, "trade: field 'q' is a bad number: '0.000000001' has more than 8 decimals"),
    ({**DEPTH, "a": [["61838.04000000", "abc"]]}, "field 'a', level 0: qty is a bad number"),
    ({**TICKER, "B": ""}, "bookTicker: field 'B' is a bad number"),
])
def test_malformed_frames_name_what_is_wrong(codec, frame, message):
    with pytest.raises(MalformedFrame) as caught:
        codec.decode(frame, 0)
    assert message in str(caught.value)


def test_unknown_symbol_is_its_own_kind_of_malformed_frame(codec):
    with pytest.raises(UnknownSymbol, match="'XRPUSDT'"):
        codec.decode({**DEPTH, "s": "XRPUSDT"}, 0)


def test_every_frame_of_a_real_spot_capture_decodes():
    path = HFT / "spot" / "btcusdt_20240808.gz"
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    codec = BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTCUSDT")
    kinds = Counter(type(codec.decode(orjson.loads(raw), ts)).__name__ for ts, raw in read_capture(path))
    # INDEX.md: 1 REST snapshot, depth@100ms 3451, bookTicker 28040, trade 9757.
    assert kinds == Counter(BookSnapshot=1, DepthDiff=3451, TopOfBook=28040, Trade=9757)
