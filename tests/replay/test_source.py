"""A recording with bad frames in it replays to the end: each bad frame counted, none fatal."""
from __future__ import annotations

import gzip

from adapters.binance.market_data import binance_spot_instrument
from adapters.binance.market_data import BinanceMarketDataCodec
from engine.messages import DepthDiff, Trade
from engine.replay.source import RecordedFeed

GOOD_TRADE = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,"p":"100.5","q":"0.1","T":1,"m":true,"M":true}}'
GOOD_DIFF = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":6,"b":[["100.4","1"]],"a":[]}'


def write(path, lines):
    path.write_bytes(gzip.compress(b"\n".join(b"%d %s" % (ts, frame) for ts, frame in lines) + b"\n"))


def test_malformed_frames_are_counted_and_skipped(tmp_path, caplog):
    path = tmp_path / "cap.gz"
    write(path, [(1, GOOD_TRADE), (2, b'{"e":"depthUpdate","s":"BTCUSDT","U":'), (3, GOOD_DIFF),
                 (4, b'{"e":"trade","s":"BTCUSDT","t":"seven","p":"1","q":"1","m":true}'),
                 (5, b'{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["-1","1"]],"a":[]}'),
                 (6, b'[1,2]'), (7, b'{"result":null,"id":1}')])
    codec = BinanceMarketDataCodec([binance_spot_instrument("BTCUSDT", "BTC", "USDT")], snapshot_symbol="BTCUSDT")
    feed = RecordedFeed([path], codec)
    events = list(feed)
    assert [type(e) for _, e in events] == [Trade, DepthDiff]
    assert (feed.frames, feed.malformed, feed.skipped) == (7, 4, 1)
    assert "field 't' should be an integer" in caplog.text and "negative" in caplog.text


def test_two_files_replay_as_one_recording_merged_by_receive_time(tmp_path):
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    write(a, [(1, GOOD_TRADE), (5, GOOD_TRADE)])
    write(b, [(3, GOOD_DIFF)])
    codec = BinanceMarketDataCodec([binance_spot_instrument("BTCUSDT", "BTC", "USDT")])
    assert [ts for ts, _ in RecordedFeed([a, b], codec)] == [1, 3, 5]
