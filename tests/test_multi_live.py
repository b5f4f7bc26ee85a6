"""A live run of many venues: one live feed per venue connection, each with its venue's codec, book sync and
resync, over real sockets. A loopback Binance streams BTC/USDT and ETH/USDT (REST snapshots), a loopback OKX
streams BTC-USDT `books` (snapshots on the stream, checksummed), one run keeps all three books."""
from __future__ import annotations

from functools import partial

import pytest
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from trio_websocket import serve_websocket

from tests.adapters.test_live_feed import SYMBOLS, LoopbackBinance
from tests.adapters.test_live_feed_okx import RECORDING, LoopbackOkx
from tests.test_run_command import ROOT

pytestmark = pytest.mark.skipif(not RECORDING.is_file() or not all(path.is_file() for path in SYMBOLS.values()),
                                reason="the recordings the loopback venues stream are not in ../shared/recorded")

ETH = ('[[instruments]]\nsymbol = "ETH/USDT"\nvenue = "binance"\nvenue_symbol = "ETHUSDT"\nbase = "ETH"\n'
       'quote = "USDT"\nprice_decimals = 8\nqty_decimals = 8\ntick_size = "0.01"\nlot_size = "0.0001"\n\n')
OKX = ('[[instruments]]\nsymbol = "BTC/USDT@okx"\nvenue = "okx"\nvenue_symbol = "BTC-USDT"\nbase = "BTC"\n'
       'quote = "USDT"\nprice_decimals = 1\nqty_decimals = 8\ntick_size = "0.1"\nlot_size = "0.00000001"\n\n')


@pytest.mark.trio
async def test_one_live_feed_per_venue_connection_keeps_every_book(tmp_path):
    from engine.app import session
    from engine.app.scenario import load

    binance = LoopbackBinance(skip_eth_diff_at=10 ** 9, corrupt_btc_ticker_at=10 ** 9, drop_at=10 ** 9,
                              lost_on_drop=0)
    okx = LoopbackOkx(corrupt_at=10 ** 9, lose_at=10 ** 9, drop_at=10 ** 9, lost_on_drop=0, subscribers=1)
    async with trio.open_nursery() as nursery:
        binance_ws = await nursery.start(partial(serve_websocket, binance.websocket, "127.0.0.1", 0,
                                                 ssl_context=None))
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = config.errorlog = None
        [rest_url] = await nursery.start(partial(serve, binance.rest, config))
        okx_ws = await nursery.start(partial(serve_websocket, okx.websocket, "127.0.0.1", 0, ssl_context=None))
        text = (ROOT / "scenarios" / "quickstart.toml").read_text()
        feed = text[text.index("[feed]"):text.index("[book]")]
        text = text.replace(feed, f'''[feed]
kind = "live"
duration_s = 2
silence_s = 5

[[feed.connections]]
instruments = ["BTC/USDT", "ETH/USDT"]
stream_url = "ws://127.0.0.1:{binance_ws.port}"
rest_url = "{rest_url}"

[[feed.connections]]
instruments = ["BTC/USDT@okx"]
stream_url = "ws://127.0.0.1:{okx_ws.port}"
rest_url = "http://127.0.0.1:1"

''').replace("[feed]", ETH + OKX + "[feed]", 1).replace("fast = 8\nslow = 40", "fast = 2\nslow = 5")
        scenario = tmp_path / "live.toml"
        scenario.write_text(text)
        loaded = load(scenario)
        assert loaded.feed_actors == ("feed.binance", "feed.okx")
        outcome = await session.run(loaded, tmp_path / "out")
        nursery.cancel_scope.cancel()
    report = outcome.report
    book = report["book"]
    assert book["live_at_end"] == {"BTC/USDT": True, "BTC/USDT@okx": True, "ETH/USDT": True}
    assert report["live"]["connects"] == 2 and report["malformed_frames"] == 0
    assert book["by_instrument"]["BTC/USDT@okx"]["checksums_ok"] > 20
    assert book["by_instrument"]["BTC/USDT@okx"]["checksums_failed"] == 0
    assert book["by_instrument"]["BTC/USDT"]["top_of_book_checked"] > 10
    assert book["by_instrument"]["ETH/USDT"]["top_of_book_checked"] > 10
    assert report["live"]["resyncs_requested"] == 2   # the Binance connection's two REST snapshots; OKX's come on its stream
    assert set(report["actor_restarts"]) >= {"feed.binance", "feed.okx", "strategy"}
