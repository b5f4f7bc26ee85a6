"""Recordings of several connections merged by receive time: the same order every time (ties go to the connection
listed first), every event of every connection once, counts summed, and a reading reopened at any event going
on with exactly the rest, from each connection's own position."""
from __future__ import annotations

from itertools import islice

import pytest

from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from adapters.okx.market_data import OkxMarketDataCodec, okx_instrument
from engine.replay.merged import MergedFeed
from engine.replay.source import RecordedFeed

BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
BTC_USDT_OKX = okx_instrument({"instType": "SPOT", "instId": "BTC-USDT", "baseCcy": "BTC", "quoteCcy": "USDT",
                               "tickSz": "0.1", "lotSz": "0.00000001"})
BINANCE_TRADE = (b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":%d,"p":"100.5","q":"0.1",'
                 b'"T":1,"m":true}}')
OKX_TRADE = (b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"%d",'
             b'"px":"42219.9","sz":"1","side":"buy","ts":"1"}]}')


def capture(path, stamped: list[tuple[int, bytes]]):
    path.write_bytes(b"".join(b"%d %s\n" % line for line in stamped))
    return [path]


@pytest.fixture
def sources(tmp_path):
    """A Binance connection with trades 1-6 at times 10, 20, ... 60, and an OKX connection with trades
    101-106 at 15, 20, 35, 40, 40, 70 (a malformed line among them): ties at 20 and 40."""
    binance = capture(tmp_path / "binance", [(10 * i, BINANCE_TRADE % i) for i in range(1, 7)])
    okx_times = [15, 20, 35, 40, 40, 70]
    okx = capture(tmp_path / "okx", [(ts, OKX_TRADE % (101 + i)) for i, ts in enumerate(okx_times)])
    with open(okx[0], "ab") as file:
        file.write(b"80 {not json\n")

    def make():
        return [RecordedFeed(binance, BinanceMarketDataCodec([BTCUSDT])),
                RecordedFeed(okx, OkxMarketDataCodec([BTC_USDT_OKX]))]
    return make


def ids(events):
    return [(ts, event.trade_id) for ts, event in events]


def test_connections_merge_by_receive_time_ties_to_the_connection_listed_first(sources):
    merged = MergedFeed(sources())
    assert ids(merged) == [(10, 1), (15, 101), (20, 2), (20, 102), (30, 3), (35, 103), (40, 4), (40, 104),
                           (40, 105), (50, 5), (60, 6), (70, 106)]
    assert (merged.frames, merged.malformed) == (13, 1)
    assert (merged.first_ts_ns, merged.last_ts_ns) == (10, 80)
    swapped = MergedFeed(sources()[::-1])
    assert ids(swapped)[2:4] == [(20, 102), (20, 2)]


@pytest.mark.parametrize("read_first", [0, 3, 7, 12])
def test_a_reading_reopened_at_any_event_goes_on_with_exactly_the_rest(sources, read_first):
    whole = ids(MergedFeed(sources()))
    merged = MergedFeed(sources())
    list(islice(merged.events(), read_first))          # a feed that got this far, then crashed
    for skip in (0, 1, read_first, read_first + 2, 11, 12):
        assert ids(merged.events(skip=skip)) == whole[skip:]
    assert ids(merged.independent_events()) == whole
    assert (merged.frames, merged.malformed) == (13, 1)


def test_a_merge_is_of_several_recordings(sources):
    with pytest.raises(ValueError, match="2 to 255"):
        MergedFeed(sources()[:1])
