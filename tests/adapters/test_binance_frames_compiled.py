"""The compiled fast path of the Binance codec gives what its Python path gives, event for event, error for error.

`BinanceMarketDataCodec.decode_raw` reads a plain frame's bytes in C (`adapters/binance/_frames_compiled.pyx`) and
leaves every other frame to orjson and `decode`. These tests hold the two to the same answer on every frame of the
recorded spot, USD-M and COIN-M captures, on frames generated around the edges of the plain form (whitespace,
escapes, repeated keys, numbers in other forms, missing or extra fields, other kinds), and check that the fast path
does read the captures (a fast path that declines everything would agree too, and be no use).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from adapters.binance import market_data
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from engine.model.numbers import Instrument
from engine.replay.formats import read_capture

HFT = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples"

INSTRUMENTS = {
    "spot": [binance_spot_instrument("BTCUSDT", "BTC", "USDT"), binance_spot_instrument("ETHUSDT", "ETH", "USDT")],
    "usdm": [Instrument("BTC/USDT:USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 3),
             Instrument("ETH/USDT:USDT", "binance", "ETHUSDT", "ETH", "USDT", 2, 3)],
    "cm": [Instrument("BTC/USD:BTC", "binance", "BTCUSD_PERP", "BTC", "USD", 1, 0),
           Instrument("ETH/USD:ETH", "binance", "ETHUSD_PERP", "ETH", "USD", 2, 0)],
}

needs_compiled = pytest.mark.skipif(market_data._scan is None, reason="the compiled fast path was not built here (no "
                                                                      "C compiler at install, or ENGINE_PURE_PYTHON)")


def answer(codec: BinanceMarketDataCodec, frame: bytes, ts: int, *, compiled: bool,
           monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """What `decode_raw` gives with the compiled path or without it: the event, or the error's type and text."""
    with monkeypatch.context() as patch:
        if not compiled:
            patch.setattr(market_data, "_scan", None)
        try:
            return "event", codec.decode_raw(frame, ts)
        except Exception as exc:   # the error is part of the answer
            return type(exc).__name__, str(exc)


def test_the_codec_uses_the_compiled_path_where_it_was_built():
    assert (market_data._frames is None) is (market_data._scan is None)


@needs_compiled
@pytest.mark.parametrize("kind", sorted(INSTRUMENTS))
def test_every_recorded_frame_decodes_alike_and_nearly_all_on_the_fast_path(kind):
    directory = HFT / kind
    if not directory.exists():
        pytest.skip(f"the recorded captures are not here ({directory})")
    codec = BinanceMarketDataCodec(INSTRUMENTS[kind])
    frames = scanned = 0
    for path in sorted(directory.glob("*.gz")):
        for ts, raw in read_capture(path):
            frames += 1
            fast = market_data._scan(raw, ts, codec._scanned)
            if fast is not None:
                scanned += 1
                assert fast == market_data.BinanceMarketDataCodec.decode(codec, market_data.orjson.loads(raw), ts)
    assert frames > 100_000
    assert scanned >= frames - 10   # all but the REST snapshots and subscription answers


# ---------------------------------------------------------------- generated frames at the edges of the plain form

CANONICAL = st.builds(lambda whole, frac: f'"{whole}.{frac}"', st.integers(0, 10**9),
                      st.text("0123456789", min_size=8, max_size=8))
PLAIN = {   # a value of each kind as a plain frame has it
    "int": st.integers(0, 10**18).map(str),
    "number": CANONICAL,
    "symbol": st.sampled_from(['"BTCUSDT"', '"ETHUSDT"']),
    "levels": st.lists(st.tuples(CANONICAL, CANONICAL).map(lambda pair: f"[{pair[0]},{pair[1]}]"), max_size=4)
    .map(lambda levels: f"[{','.join(levels)}]"),
    "bool": st.sampled_from(["true", "false"]),
    "kind": st.just(None),   # filled in per kind
}
EDGE = {    # values of each kind at the edges of the plain form, or beyond it
    "int": st.sampled_from(["-1", "-0", "0", "01", "1.0", "1e3", "1E3", "99999999999999999999", "null", '"5"', "true",
                            "1234567890123456789", "999999999999999999"]),
    "number": st.one_of(st.builds(lambda text: f'"{text}"', st.text("0123456789.-+e_ ", max_size=14)),
                        st.sampled_from(['"\\u0031.00000000"', '"1.0000000\\u0030"', '"１.00000000"', "1.5", "null",
                                         "[]", "{}", '"1.000000000"', '"1.0000000"', '"1"', '".50000000"',
                                         '"0.00000000"', '"9999999999.99999999"', '"99999999999.99999999"'])),
    "symbol": st.sampled_from(['"XRPUSDT"', '"BTC\\u0055SDT"', "7", '"BTCUSDT\\n"', '"btcusdt"', "null"]),
    "levels": st.sampled_from(["[]", "[[]]", '[["1.00000000"]]', '[["1.00000000","2.00000000","3"]]', '"1.00000000"',
                               "null", "[1]", '[["1.00000000","2.00000000"],]', '[["1.5","2.00000000"]]',
                               '[["1.00000000",2]]', '[["1.00000000","2.00000000"] ]', "{}"]),
    "bool": st.sampled_from(["1", '"true"', "null", "True", "tru"]),
    "kind": st.sampled_from(['"depthUpdate"', '"trade"', '"bookTicker"', '"other"', "5", "null", '"depthupdate"']),
}
KINDS = {
    "depth": ('"depthUpdate"', [("e", "kind"), ("E", "int"), ("s", "symbol"), ("U", "int"), ("u", "int"),
                                ("pu", "int"), ("b", "levels"), ("a", "levels")]),
    "trade": ('"trade"', [("e", "kind"), ("E", "int"), ("s", "symbol"), ("t", "int"), ("p", "number"),
                          ("q", "number"), ("b", "int"), ("a", "int"), ("T", "int"), ("m", "bool"), ("M", "bool")]),
    "ticker": ('"bookTicker"', [("e", "kind"), ("u", "int"), ("s", "symbol"), ("b", "number"), ("B", "number"),
                                ("a", "number"), ("A", "number")]),
}
EXTRA = st.sampled_from([("X", '"MARKET"'), ("ps", '"BTCUSD"'), ("E", "1.5e3"), ("x", "-0.5"), ("x", '{"y":1}'),
                         ("x", "[1]"), ("x", "nul"), ("x", "01"), ("x", '"a\\"b"'), ("x", "1."), ("x", ".5"),
                         ("x", "1e"), ("x", "1e+5"), ("stream", '"x"'), ("data", "{}"), ("lastUpdateId", "5"),
                         ("bids", "[]")])
MUTATIONS = ["edge value", "edge value", "left out", "given twice", "shuffled", "extra", "space", "after",
             "no wrapper", "no e"]


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """A plain frame of one kind (its optional fields in or out), then none, one or two changes that may take it off
    the plain form: a value at or beyond the edge of its kind, a field left out or given twice, the fields shuffled,
    an extra one, spaces, something after the frame, no wrapper, no "e"."""
    kind, fields = KINDS[draw(st.sampled_from(sorted(KINDS)))]
    pairs = [[key, kind if of == "kind" else draw(PLAIN[of]), of] for key, of in fields
             if key not in ("E", "T", "M", "pu") or draw(st.booleans())]
    if kind != '"trade"':
        pairs = [pair for pair in pairs if pair[0] not in ("b", "a") or pair[2] != "int"]
    wrapped, space, after = True, "", ""
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=2)):
        at = draw(st.integers(0, max(len(pairs) - 1, 0)))
        if mutation == "edge value" and pairs and pairs[at][2] in EDGE:
            pairs[at][1] = draw(EDGE[pairs[at][2]])
        elif mutation == "left out" and pairs:
            del pairs[at]
        elif mutation == "given twice" and pairs:
            key, value, of = pairs[at]
            pairs.insert(draw(st.integers(0, len(pairs))), [key, value if of in ("kind", "extra") else draw(PLAIN[of]),
                                                           of])
        elif mutation == "shuffled":
            pairs = list(draw(st.permutations(pairs)))
        elif mutation == "extra":
            key, value = draw(EXTRA)
            pairs.insert(at, [key, value, "extra"])
        elif mutation == "space":
            space = " "
        elif mutation == "after":
            after = draw(st.sampled_from([" ", "}", "x", "\n"]))
        elif mutation == "no wrapper":
            wrapped = False
        elif mutation == "no e":
            pairs = [pair for pair in pairs if pair[0] != "e"]
    body = "{" + f",{space}".join(f'"{key}":{space}{value}' for key, value, _ in pairs) + "}"
    if wrapped:
        body = '{"stream":"btcusdt@x","data":' + body + "}"
    return (body + after).encode()


@needs_compiled
@settings(max_examples=1500)
@given(frames())
def test_generated_frames_decode_alike_or_fail_alike(frame):
    codec = BinanceMarketDataCodec(INSTRUMENTS["spot"])
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert (answer(codec, frame, 5, compiled=True, monkeypatch=monkeypatch)
                == answer(codec, frame, 5, compiled=False, monkeypatch=monkeypatch))


@needs_compiled
@pytest.mark.parametrize("frame, read_fast", [
    (b'{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":7,'
     b'"b":[["61737.63000000","0.00000000"]],"a":[]}}', True),
    (b'{"u":9,"s":"BTCUSDT","b":"1.00000000","B":"2.00000000","a":"1.01000000","A":"3.00000000"}', True),
    (b'{"e":"trade","s":"BTCUSDT","t":3,"p":"1.00000000","q":"0.50000000","m":true,"M":true}', True),
    (b'{"e":"trade","s":"BTCUSDT","t":3,"p":"1.00000000","q":"0.50000000","b":88,"a":50,"m":false}', True),
    (b'{"e":"trade", "s":"BTCUSDT","t":3,"p":"1.00000000","q":"0.50000000","m":true}', False),        # a space
    (b'{"e":"trade","s":"BTCUSDT","t":3,"p":"1.5","q":"0.50000000","m":true}', False),               # 1 decimal
    (b'{"e":"trade","s":"BTCUSDT","t":3,"t":4,"p":"1.00000000","q":"0.50000000","m":true}', False),  # t twice
    (b'{"e":"trade","p":"1.00000000","s":"BTCUSDT","t":3,"q":"0.50000000","m":true}', False),        # p before s
    (b'{"e":"trade","s":"XRPUSDT","t":3,"p":"1.00000000","q":"0.50000000","m":true}', False),        # unknown
    (b'{"e":"trade","s":"BTCUSDT","t":03,"p":"1.00000000","q":"0.50000000","m":true}', False),       # not JSON
    (b'{"lastUpdateId":5,"bids":[],"asks":[]}', False),
    (b'{"result":null,"id":1}', False),
    (b'{"e":"kline","s":"BTCUSDT"}', False),
    (b'not json', False),
])
def test_plain_frames_are_read_fast_and_the_others_by_the_python_path(frame, read_fast, monkeypatch):
    codec = BinanceMarketDataCodec(INSTRUMENTS["spot"], snapshot_symbol="BTCUSDT")
    assert (market_data._scan(frame, 5, codec._scanned) is not None) is read_fast
    assert (answer(codec, frame, 5, compiled=True, monkeypatch=monkeypatch)
            == answer(codec, frame, 5, compiled=False, monkeypatch=monkeypatch))


@needs_compiled
@pytest.mark.parametrize("qty", ["1001", "999999999999999999", "9999999999999999999", "01", "1.0"])
def test_whole_number_quantities_read_alike_where_there_are_no_decimals(qty, monkeypatch):
    codec = BinanceMarketDataCodec(INSTRUMENTS["cm"])
    frame = f'{{"e":"trade","s":"BTCUSD_PERP","t":3,"p":"61773.6","q":"{qty}","m":true}}'.encode()
    assert (answer(codec, frame, 5, compiled=True, monkeypatch=monkeypatch)
            == answer(codec, frame, 5, compiled=False, monkeypatch=monkeypatch))
