"""Coinbase Advanced Trade's live market data: the stream plan, and resynchronisation by resubscription.

Coinbase sends a product's `level2` snapshot on the stream whenever its subscription starts, so repairing
one book is unsubscribing and subscribing again `level2` for that one product, on the same connection
(venues.md §2.1). The connection subscribes within Coinbase's 5 s (the feed sends the plan's messages at
once): `level2` for the products, and `heartbeats`, which keeps the connection open (channels close after
60-90 s without updates) and arrives every second, so a silence of a few seconds means a dead connection.
Coinbase wants no application ping. No JWT is sent: it is optional on public channels, and it would have
to be fresh for each message, which a fixed plan cannot be.

Why a connection needs a fresh codec. `sequence_num` counts the frames of one connection (all channels
together; that scope is marked unverified in venues.md, and the codec rests on it), and the codec checks
it, so its state belongs to one connection: the connection actor calls `connected()` whenever one opens,
and the feed starts a fresh codec, so a reconnect is not counted as a gap (the new connection's snapshots
restart every book anyway). `sequence_gaps` adds up the gaps of every connection.

Heartbeats and `subscriptions` acks carry no market event. Error frames are not described in venues.md;
the codec ignores frames it does not know.
"""
from __future__ import annotations

from typing import Any, Iterable

import orjson

from adapters.coinbase.market_data import CoinbaseMarketDataCodec
from adapters.ws import StreamPlan
from engine.messages import MarketEvent, ResyncRequest
from engine.model.numbers import Instrument

PUBLIC_URL = "wss://advanced-trade-ws.coinbase.com"
BOOK_CHANNEL = "level2"
HEARTBEATS = orjson.dumps({"type": "subscribe", "channel": "heartbeats"}).decode()  # no products needed


def subscription(kind: str, instruments: Iterable[Instrument], channel: str = BOOK_CHANNEL) -> str:
    """A `subscribe` / `unsubscribe` message for `channel` of `instruments`.

    Never for no product: an `unsubscribe` with empty `product_ids` ends the whole channel.
    """
    products = [inst.venue_symbol for inst in instruments]
    if not products:
        raise ValueError("a Coinbase subscription needs at least one product")
    return orjson.dumps({"type": kind, "product_ids": products, "channel": channel}).decode()


def stream_plan(instruments: Iterable[Instrument], url: str = PUBLIC_URL, silence_s: float = 10.0) -> StreamPlan:
    return StreamPlan(url=url, subscribe=(subscription("subscribe", instruments), HEARTBEATS), silence_s=silence_s)


class CoinbaseMarketFeed:
    """The codec (one per connection) and the resubscription of one Coinbase connection, for
    `adapters.ws.WebSocketFeed`."""

    def __init__(self, instruments: Iterable[Instrument]):
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.codec = CoinbaseMarketDataCodec(self.instruments.values())
        self.connections = 0
        self._earlier_gaps = 0

    @property
    def sequence_gaps(self) -> int:
        """Frames lost, over every connection so far."""
        return self._earlier_gaps + self.codec.sequence_gaps

    def connected(self) -> None:
        """A new connection: its `sequence_num` starts afresh, and so does the codec that checks it."""
        if self.connections:
            self._earlier_gaps += self.codec.sequence_gaps
            self.codec = CoinbaseMarketDataCodec(self.instruments.values())
        self.connections += 1

    def decode(self, frame: bytes | str, ts_ns: int) -> tuple[MarketEvent, ...]:
        return self.codec.decode_raw(frame, ts_ns)

    async def resync(self, ws: Any, request: ResyncRequest) -> list[MarketEvent]:
        instrument = [self.instruments[request.instrument]]
        await ws.send_message(subscription("unsubscribe", instrument))
        await ws.send_message(subscription("subscribe", instrument))
        return []  # the snapshot arrives on the stream
