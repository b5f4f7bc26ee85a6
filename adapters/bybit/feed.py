"""Bybit v5's live market data: the stream plan, keep-alive, and resynchronisation by resubscription.

Each category (`spot`, `linear`, `inverse`, `option`) has its own public endpoint and the symbol alone is
ambiguous across them, so one connection (one plan, one feed) serves the instruments of one category.
Bybit sends a book's snapshot first whenever an `orderbook.{depth}.{symbol}` subscription starts, so
repairing one book (after a `u` gap) is unsubscribing and subscribing again that one topic, on the same
connection, while the others go on (venues.md §4.1).

Keep-alive: Bybit wants `{"op":"ping"}` every 20 s, and answers it, so a connection that is silent for
longer than that is dead. (venues.md writes the ping with a `req_id`; it is optional and not sent.) Spot
takes at most 10 topics per request: the subscription is split into requests of 10. The pong and the
subscription acks (`op` replies; their shape is unverified for spot) carry no market event. A refused
request (`"success": false`) is logged and counted in `refusals`: a refused resubscription leaves a book
stale.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import orjson

from engine.contracts import MalformedFrame
from adapters.bybit.market_data import BybitMarketDataCodec
from adapters.ws import StreamPlan
from engine.messages import MarketEvent, ResyncRequest
from engine.model.numbers import Instrument

log = logging.getLogger("adapters.bybit.feed")

PUBLIC_URL = "wss://stream.bybit.com/v5/public/{category}"
CATEGORIES = ("spot", "linear", "inverse", "option")
BOOK_DEPTH = 50
PING = orjson.dumps({"op": "ping"}).decode()
PING_S = 20.0
TOPICS_PER_REQUEST = 10  # the spot limit, kept for every category


def public_url(category: str) -> str:
    if category not in CATEGORIES:
        raise ValueError(f"Bybit category must be one of {CATEGORIES}, got {category!r}")
    return PUBLIC_URL.format(category=category)


def book_topic(instrument: Instrument, depth: int = BOOK_DEPTH) -> str:
    return f"orderbook.{depth}.{instrument.venue_symbol}"


def subscription(op: str, instruments: Iterable[Instrument], depth: int = BOOK_DEPTH) -> tuple[str, ...]:
    """`subscribe` / `unsubscribe` requests for the books of `instruments`, at most 10 topics each."""
    topics = [book_topic(inst, depth) for inst in instruments]
    return tuple(orjson.dumps({"op": op, "args": topics[start:start + TOPICS_PER_REQUEST]}).decode()
                 for start in range(0, len(topics), TOPICS_PER_REQUEST))


def stream_plan(instruments: Iterable[Instrument], category: str = "spot", depth: int = BOOK_DEPTH,
                url: str | None = None, silence_s: float = 30.0) -> StreamPlan:
    """The plan of one connection to the public endpoint of `category` (`url` overrides it, for tests)."""
    return StreamPlan(url=url or public_url(category), subscribe=subscription("subscribe", instruments, depth),
                      heartbeat=PING, heartbeat_s=PING_S, silence_s=silence_s)


class BybitMarketFeed:
    """The codec and the resubscription of one Bybit connection (one category), for `adapters.ws.WebSocketFeed`."""

    def __init__(self, instruments: Iterable[Instrument], depth: int = BOOK_DEPTH):
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.depth = depth
        self.codec = BybitMarketDataCodec(self.instruments.values())
        self.refusals = 0

    def decode(self, frame: bytes | str, ts_ns: int) -> tuple[MarketEvent, ...]:
        try:
            obj = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"frame is not valid JSON: {exc}") from None
        if type(obj) is dict and obj.get("success") is False:
            self.refusals += 1
            log.warning("bybit refused %s: %s", obj.get("op"), obj.get("ret_msg"))
            return ()
        return self.codec.decode(obj, ts_ns)

    async def resync(self, ws: Any, request: ResyncRequest) -> list[MarketEvent]:
        instrument = [self.instruments[request.instrument]]
        (unsubscribe,) = subscription("unsubscribe", instrument, self.depth)
        (subscribe,) = subscription("subscribe", instrument, self.depth)
        await ws.send_message(unsubscribe)
        await ws.send_message(subscribe)
        return []  # the snapshot arrives on the stream
