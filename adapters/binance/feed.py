"""Binance's live market data: the stream plan, and the REST snapshot that (re)synchronises a book.

Binance books are synced from a REST depth snapshot bracketed by the buffered diff stream (venues.md
§1.1), so a resync never touches the connection: it fetches a fresh snapshot for the one instrument,
while the diffs of every instrument keep flowing and the book buffers its own.
"""
from __future__ import annotations

from typing import Any, Iterable

from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.http import RestClient
from adapters.ws import StreamPlan
from engine.messages import BookSnapshot, MarketEvent, ResyncRequest
from engine.model.numbers import Instrument

STREAM_URL = "wss://stream.binance.com:9443"
REST_URL = "https://api.binance.com"
CONNECTION_LIFETIME_S = 24 * 3600 - 300   # Binance ends a connection after 24 h: leave 5 minutes before
SNAPSHOT_LIMIT = 1000


def stream_plan(instruments: Iterable[Instrument], base_url: str = STREAM_URL, silence_s: float = 60.0,
                streams: tuple[str, ...] = ("depth@100ms", "trade", "bookTicker")) -> StreamPlan:
    """A combined-stream connection for `instruments` (stream names are lower case)."""
    names = "/".join(f"{inst.venue_symbol.lower()}@{stream}" for inst in instruments for stream in streams)
    return StreamPlan(url=f"{base_url}/stream?streams={names}", silence_s=silence_s,
                      max_lifetime_s=CONNECTION_LIFETIME_S)


def snapshot_request(instrument: Instrument, limit: int = SNAPSHOT_LIMIT) -> tuple[str, dict[str, Any]]:
    return "/api/v3/depth", {"symbol": instrument.venue_symbol, "limit": limit}


class BinanceMarketFeed:
    """The codec and the snapshot source of one Binance connection, for `adapters.ws.WebSocketFeed`."""

    def __init__(self, instruments: Iterable[Instrument], rest: RestClient, now_ns: Any):
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.codec = BinanceMarketDataCodec(self.instruments.values())
        self.rest = rest
        self.now_ns = now_ns

    def decode(self, frame: bytes | str, ts_ns: int) -> list[MarketEvent]:
        event = self.codec.decode_raw(frame, ts_ns)
        return [] if event is None else [event]

    async def resync(self, _ws: Any, request: ResyncRequest) -> list[BookSnapshot]:
        instrument = self.instruments[request.instrument]
        path, params = snapshot_request(instrument)
        body = await self.rest.get_json(path, params)
        return [self.codec.decode_snapshot(body, self.now_ns(), instrument.venue_symbol)]
