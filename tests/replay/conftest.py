"""The real recordings of each venue, read in place from ../shared/recorded, with what a replay of them needs:
the instruments (from the venue's own metadata where the recording holds it), the codec and the book sync
of each instrument. A test that asks for a recording that is absent is skipped, saying where it looked."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest

from adapters.binance.market_data import binance_spot_instrument
from adapters.bybit.market_data import bybit_instrument
from adapters.coinbase.market_data import coinbase_instrument
from adapters.kraken.book_sync import KrakenBookSync
from adapters.kraken.instruments import kraken_instruments
from adapters.kraken.market_data import KrakenMarketDataCodec
from adapters.okx.market_data import okx_instrument
from adapters.registry import recorded_market_data
from engine.model.numbers import Instrument
from engine.replay.cryptofeed import LineKind, read_cryptofeed
from engine.replay.recording import WEBSOCKET, read_recording

RECORDED = Path(__file__).resolve().parents[2].parent / "shared" / "recorded"
HFT = RECORDED / "nkaz001+hftbacktest" / "examples"
SAMPLES = RECORDED / "bmoscon+cryptofeed" / "sample_data"
BYBIT_DUMP = RECORDED / "nautechsystems+nautilus_trader" / "tests" / "test_data" / "bybit" / "xrpusdt-ob500.data.zip"


@dataclass
class Recording:
    files: list[Path]
    instruments: list[Instrument]
    codec: Any                         # the replay's codec of these instruments
    sync_factory: Callable[[str], Any]  # canonical symbol → the book sync that keeps its book

    @property
    def symbols(self) -> list[str]:
        return [instrument.symbol for instrument in self.instruments]


def _present(*paths: Path) -> None:
    for path in paths:
        if not path.is_file():
            pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")


def _replay_of(files: list[Path], instruments: list[Instrument]) -> Recording:
    codec, sync_factory = recorded_market_data(instruments, instruments[0].venue_symbol)
    return Recording(files, instruments, codec, sync_factory)


def _binance_spot() -> Recording:
    files = [HFT / "spot" / "btcusdt_20240808.gz"]
    _present(*files)
    return _replay_of(files, [binance_spot_instrument("BTCUSDT", "BTC", "USDT")])


def _binance_usdm() -> Recording:
    files = [HFT / "usdm" / "btcusdt_20240808.gz"]
    _present(*files)
    return _replay_of(files, [Instrument("BTCUSDT", "binance", "BTCUSDT", "BTC", "USDT", 8, 8)])


def _okx() -> Recording:
    files = [SAMPLES / "OKX.ws.1.0"]
    _present(*files)
    meta = {"instType": "SPOT", "instId": "BTC-USDT", "baseCcy": "BTC", "quoteCcy": "USDT", "tickSz": "0.1",
            "lotSz": "0.00000001"}
    return _replay_of(files, [okx_instrument(meta)])


def _kraken() -> Recording:
    """The v1 session: depth 1000, its checksums over the numbers at the precision they were sent in."""
    files, metadata = [SAMPLES / "KRAKEN.ws.50.0"], SAMPLES / "KRAKEN.0"
    _present(*files, metadata)
    instruments = kraken_instruments(json.loads(next(read_cryptofeed(metadata)).payload)["result"])
    lines = list(read_cryptofeed(files[0]))
    traded = {line.payload.rsplit(b'"', 2)[-2].decode() for line in lines
              if line.kind is LineKind.RECEIVED and line.payload.startswith(b"[")}
    instruments = [inst for inst in instruments if inst.venue_symbol in traded]
    learner = KrakenMarketDataCodec(instruments)  # the wire precision, as each snapshot shows it
    for ts, source, payload in read_recording(files):
        if source == WEBSOCKET:
            learner.decode_raw(payload, ts)
    by_symbol = {inst.symbol: inst for inst in instruments}
    recording = _replay_of(files, instruments)
    recording.sync_factory = lambda symbol: KrakenBookSync(by_symbol[symbol], 1000, *learner.wire_decimals(symbol))
    return recording


def _bybit() -> Recording:
    _present(BYBIT_DUMP)
    info = {"symbol": "XRPUSDT", "contractType": "LinearPerpetual", "baseCoin": "XRP", "quoteCoin": "USDT", "settleCoin": "USDT",
            "priceFilter": {"tickSize": "0.0001"}, "lotSizeFilter": {"qtyStep": "1"}}
    return _replay_of([BYBIT_DUMP], [bybit_instrument(info, "linear")])


def _coinbase() -> Recording:
    files, metadata = [SAMPLES / "COINBASE.ws.28.0"], SAMPLES / "COINBASE.0"
    _present(*files, metadata)
    body = next(line.partition(b": ")[2] for line in metadata.read_bytes().splitlines()
                if line.startswith(b"https://api.pro.coinbase.com/products"))
    traded = {"SKL-USD", "BAND-BTC", "YFI-BTC", "DASH-BTC", "CRV-EUR"}
    return _replay_of(files, [coinbase_instrument(p) for p in orjson.loads(body) if p["id"] in traded])


VENUES = {"binance-spot": _binance_spot, "binance-usdm": _binance_usdm, "okx": _okx, "kraken": _kraken,
          "bybit": _bybit, "coinbase": _coinbase}


@pytest.fixture(scope="module", params=sorted(VENUES))
def recording(request) -> Recording:
    """Each venue's real recording in turn."""
    return VENUES[request.param]()
