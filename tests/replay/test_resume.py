"""A replay source reopened at any event goes on with exactly the rest of the recording, its counts the
recording's whatever the readings, and without decoding again the records it passes."""
from __future__ import annotations

import logging
from itertools import islice

import orjson

from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from adapters.okx.market_data import OkxMarketDataCodec, okx_instrument
from engine.replay.source import RecordedFeed

BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
TRADE = b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":%d,"p":"100.5","q":"0.1","T":1,"m":true}}'
OTHER = b'{"stream":"ethusdt@trade","data":{"e":"trade","E":1,"s":"ETHUSDT","t":1,"p":"1","q":"1","T":1,"m":true}}'
REPLY = b'{"result":null,"id":1}'
BTC_USDT = okx_instrument({"instType": "SPOT", "instId": "BTC-USDT", "baseCcy": "BTC", "quoteCcy": "USDT",
                           "tickSz": "0.1", "lotSz": "0.00000001"})


def spot_codec() -> BinanceMarketDataCodec:
    return BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTCUSDT")


def capture(path, frames: list[bytes]):
    path.write_bytes(b"".join(b"%d %s\n" % (1000 + i, frame) if frame[:1] in b"{[" else frame + b"\n"
                              for i, frame in enumerate(frames)))
    return path


def okx_trades(instrument: str, first_id: int, count: int) -> bytes:
    trades = [{"instId": instrument, "tradeId": str(first_id + i), "px": "42219.9", "sz": "1", "side": "buy",
               "ts": "1630048897897"} for i in range(count)]
    return orjson.dumps({"arg": {"channel": "trades", "instId": instrument}, "data": trades})


def test_each_venues_recording_reopened_at_an_event_goes_on_with_exactly_the_rest(recording):
    feed = RecordedFeed(recording.files, recording.codec)
    everything = list(feed)
    counts = (feed.frames, feed.malformed, feed.skipped, feed.first_ts_ns, feed.last_ts_ns)
    n = len(everything)
    for skip in (1, n // 2, n - 1, n + 3):
        assert list(feed.events(skip=skip)) == everything[skip:]
    assert (feed.frames, feed.malformed, feed.skipped, feed.first_ts_ns, feed.last_ts_ns) == counts


def test_a_resume_point_inside_a_frame_of_several_events_drops_just_the_events_delivered(tmp_path):
    path = capture(tmp_path / "okx", [okx_trades("BTC-USDT", 10, 2), b"not a line", okx_trades("BTC-USDT", 20, 3),
                                      okx_trades("ETH-USDT", 1, 2), okx_trades("BTC-USDT", 30, 1),
                                      okx_trades("BTC-USDT", 40, 2)])
    everything = list(RecordedFeed([path], OkxMarketDataCodec([BTC_USDT])))
    assert [event.trade_id for _, event in everything] == [10, 11, 20, 21, 22, 30, 40, 41]
    for skip in range(len(everything) + 2):
        fresh = RecordedFeed([path], OkxMarketDataCodec([BTC_USDT]))  # nothing read yet: decoded and dropped
        assert list(fresh.events(skip=skip)) == everything[skip:]
        read = RecordedFeed([path], OkxMarketDataCodec([BTC_USDT]))  # read through: records passed unread
        list(read)
        assert list(read.events(skip=skip)) == everything[skip:]


def test_each_record_is_counted_and_logged_once_over_every_reading(tmp_path, caplog):
    frames = [TRADE % 1, b"garbage line", OTHER, TRADE % 2, REPLY, b'{"e":"trade","s":"BTCUSDT"}', TRADE % 3,
              TRADE % 4, b"more garbage", TRADE % 5]
    path = capture(tmp_path / "cap", frames)
    once = RecordedFeed([path], spot_codec())
    everything = list(once)
    assert (once.frames, once.malformed, once.skipped) == (10, 3, 2)
    caplog.clear()
    feed = RecordedFeed([path], spot_codec())
    with caplog.at_level(logging.WARNING, logger="engine.replay"):
        first = feed.events()
        assert list(islice(first, 3)) == everything[:3]   # a feed delivered two events and held a third
        second = feed.events(skip=2)                       # then crashed; its successor resumes after two
        assert next(first, None) is None                   # the crashed one's reading is closed
        assert list(islice(second, 2)) == everything[2:4]
        assert list(feed.events(skip=4)) == everything[4:]
    assert (feed.frames, feed.malformed, feed.skipped) == (once.frames, once.malformed, once.skipped)
    assert (feed.first_ts_ns, feed.last_ts_ns) == (once.first_ts_ns, once.last_ts_ns) == (1000, 1009)
    assert len(caplog.records) == 3


class CountingCodec(BinanceMarketDataCodec):
    """Counts the frames it decodes, over every copy of it."""
    decoded = 0

    def decode(self, obj, ts_ns):
        CountingCodec.decoded += 1
        return super().decode(obj, ts_ns)


def test_a_reopened_reading_does_not_decode_the_records_it_passes(tmp_path):
    frames = [OTHER, b"bad", REPLY] + [TRADE % i for i in range(1000)]
    feed = RecordedFeed([capture(tmp_path / "cap", frames)], CountingCodec([BTCUSDT]))
    everything = list(feed)
    CountingCodec.decoded = 0
    assert list(feed.events(skip=990)) == everything[990:]
    assert CountingCodec.decoded == 10


def test_an_independent_reading_leaves_the_feeds_reading_and_counts_alone(tmp_path):
    path = capture(tmp_path / "cap", [TRADE % 1, b"bad", TRADE % 2, TRADE % 3])
    feed = RecordedFeed([path], spot_codec())
    reading = feed.events()
    assert next(reading)[1].trade_id == 1
    assert [event.trade_id for _, event in feed.independent_events()] == [1, 2, 3]
    assert [event.trade_id for _, event in reading] == [2, 3]
    assert (feed.frames, feed.malformed) == (4, 1)
