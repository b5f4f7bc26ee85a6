"""A line of a recording that cannot be read costs that one message: counted, logged where it is, skipped.

Before, one non-JSON line in a capture raised inside the reader and ended the replay there, with exit 0.
"""
from __future__ import annotations

import gzip
import logging
import zipfile
from pathlib import Path

import pytest

from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from adapters.bybit.market_data import BybitMarketDataCodec
from engine.replay.recording import MALFORMED, OPEN, WEBSOCKET, read_recording
from engine.replay.source import RecordedFeed

RECORDED = Path(__file__).resolve().parents[2].parent / "shared" / "recorded"
SPOT = RECORDED / "nkaz001+hftbacktest" / "examples" / "spot" / "btcusdt_20240808.gz"
BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")

TRADE = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"100.5","q":"0.1","T":1,"m":true}}'
BYBIT = (b'{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":%d,"data":{"s":"BTCUSDT","b":[["1","2"]],'
         b'"a":[["3","4"]],"u":7,"seq":9},"cts":1}')


def spot_codec() -> BinanceMarketDataCodec:
    return BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTCUSDT")


@pytest.mark.skipif(not SPOT.is_file(), reason=f"recorded data not found at {SPOT}")
def test_a_non_json_line_in_the_real_capture_costs_exactly_that_line(tmp_path, caplog):
    lines = gzip.decompress(SPOT.read_bytes()).split(b"\n")
    lines.insert(500, b"this line is not json")  # becomes line 501
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\n".join(lines)))
    untouched = RecordedFeed([SPOT], spot_codec())
    expected = list(untouched)
    feed = RecordedFeed([broken], spot_codec())
    with caplog.at_level(logging.WARNING, logger="engine.replay"):
        assert list(feed) == expected
    assert len(expected) > 40_000
    assert (feed.frames, feed.malformed, feed.skipped) == (untouched.frames + 1, 1, untouched.skipped)
    assert untouched.malformed == 0
    assert (feed.first_ts_ns, feed.last_ts_ns) == (untouched.first_ts_ns, untouched.last_ts_ns)
    assert f"{broken}:501: expected '<local_ns> <json>'" in caplog.text


def test_a_bad_capture_line_is_a_malformed_record_at_the_time_of_the_record_before_it(tmp_path):
    path = tmp_path / "cap"
    path.write_bytes(b'5 %s\n\n7 {"rest":"https://x/api/v3/depth?symbol=BTCUSDT"}\n9 {"open":"wss://x"}\n'
                     b'garbage\n11 %s\n' % (TRADE, TRADE))
    records = list(read_recording([path]))
    assert [(ts, source) for ts, source, _ in records] == [(5, WEBSOCKET), (7, MALFORMED), (9, OPEN),
                                                           (9, MALFORMED), (11, WEBSOCKET)]
    assert records[1][2].startswith(f"{path}:3: REST line is not".encode())  # a REST line without its body
    assert records[3][2].startswith(f"{path}:5: expected '<local_ns> <json>'".encode())


def test_bad_lines_of_the_other_formats_are_malformed_records_too(tmp_path):
    cryptofeed = tmp_path / "X.ws.1.0"
    cryptofeed.write_bytes(b"1.5: {}\nnot a line\n2.5: {}\n")
    excerpt = tmp_path / "excerpt.jsonl"
    excerpt.write_bytes(b'{"case":"a","dir":"in","msg":{"x":1}}\n{"case":"a","dir":\n')
    dump = tmp_path / "dump.zip"
    with zipfile.ZipFile(dump, "w") as archive:
        archive.writestr("day.data", BYBIT % 1000 + b"\n[1]\n" + BYBIT % 2000 + b"\n")
    assert [(ts, source) for ts, source, _ in read_recording([cryptofeed])] == [
        (1_500_000_000, WEBSOCKET), (1_500_000_000, MALFORMED), (2_500_000_000, WEBSOCKET)]
    assert [(ts, source) for ts, source, _ in read_recording([excerpt])] == [
        (1_000_000, OPEN), (1_000_000, WEBSOCKET), (1_000_000, MALFORMED)]
    records = list(read_recording([dump]))
    assert [(ts, source) for ts, source, _ in records] == [(1_000_000_000, WEBSOCKET), (1_000_000_000, MALFORMED),
                                                           (2_000_000_000, WEBSOCKET)]
    assert records[1][2].startswith(f"{dump}:day.data:2: expected a JSON object".encode())
    feed = RecordedFeed([dump], BybitMarketDataCodec([]))
    assert list(feed) == [] and (feed.frames, feed.malformed, feed.skipped) == (3, 1, 2)  # unknown symbol: skipped


def test_only_the_first_twenty_malformed_records_are_logged(tmp_path, caplog):
    path = tmp_path / "cap"
    path.write_bytes(b"".join(b"%d %s\nbad %d\n" % (ts, TRADE, ts) for ts in range(30)))
    feed = RecordedFeed([path], spot_codec())
    with caplog.at_level(logging.WARNING, logger="engine.replay"):
        assert len(list(feed)) == 30
    assert feed.malformed == 30 and len(caplog.records) == 20
    assert f"{path}:40: expected" in caplog.text and f"{path}:42:" not in caplog.text
