"""OKX's live market data: the stream plan, keep-alive, and resynchronisation by resubscription.

OKX sends a book's snapshot on the stream itself whenever a `books` subscription starts, so repairing one
book is unsubscribing and subscribing again that one instrument, on the same connection, while the
others go on. OKX closes a connection that has sent nothing for 30 s: the plan sends the text "ping"
every 25 s, and the venue's "pong" is not a market frame.
"""
from __future__ import annotations

from typing import Any, Iterable

import orjson

from adapters.okx.market_data import OkxMarketDataCodec
from adapters.ws import StreamPlan
from engine.messages import MarketEvent, ResyncRequest
from engine.model.numbers import Instrument

PUBLIC_URL = "wss://ws.okx.com:8443/ws/v5/public"
BOOK_CHANNEL = "books"


def subscription(op: str, instruments: Iterable[Instrument], channel: str = BOOK_CHANNEL) -> str:
    """An OKX `subscribe` / `unsubscribe` request for the books of `instruments`."""
    return orjson.dumps({"op": op, "args": [{"channel": channel, "instId": i.venue_symbol}
                                            for i in instruments]}).decode()


def stream_plan(instruments: Iterable[Instrument], url: str = PUBLIC_URL, silence_s: float = 30.0) -> StreamPlan:
    return StreamPlan(url=url, subscribe=(subscription("subscribe", instruments),), heartbeat="ping",
                      heartbeat_s=25.0, silence_s=silence_s)


class OkxMarketFeed:
    """The codec and the resubscription of one OKX connection, for `adapters.ws.WebSocketFeed`."""

    def __init__(self, instruments: Iterable[Instrument]):
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.codec = OkxMarketDataCodec(self.instruments.values())

    def decode(self, frame: bytes | str, ts_ns: int) -> tuple[MarketEvent, ...]:
        if frame == "pong" or frame == b"pong":
            return ()
        return self.codec.decode_raw(frame, ts_ns)

    async def resync(self, ws: Any, request: ResyncRequest) -> list[MarketEvent]:
        instrument = [self.instruments[request.instrument]]
        await ws.send_message(subscription("unsubscribe", instrument))
        await ws.send_message(subscription("subscribe", instrument))
        return []  # the snapshot arrives on the stream
