"""Kraken's live market data (WS v2): the stream plan, keep-alive, and resynchronisation by resubscription.

Kraken sends a book's snapshot on the stream whenever a `book` subscription starts, so repairing one book
(after a checksum mismatch) is unsubscribing and subscribing again that one symbol, on the same connection,
while the others go on (venues.md §3.1). v2 names a pair by its canonical symbol (`BTC/USD`), which is the
instrument's `symbol`; `venue_symbol` is the v1 `wsname` (`XBT/USD`) and is not used here.

Keep-alive: once subscribed, Kraken sends `{"channel":"heartbeat"}` about every second when the market is
idle, so a silence of a few seconds already means a dead connection. The plan also sends the application
ping `{"method":"ping"}`; venues.md gives no period for it, and 20 s is our choice, not Kraken's rule.
Heartbeats, pongs, the `status` message and subscription acks carry no market event. A refused request
(`"success": false`) is logged and counted in `refusals`: a refused resubscription leaves a book stale.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import orjson

from engine.contracts import MalformedFrame
from adapters.kraken.market_data import KrakenMarketDataCodec, loads_exact
from adapters.ws import StreamPlan
from engine.messages import MarketEvent, ResyncRequest
from engine.model.numbers import Instrument

log = logging.getLogger("adapters.kraken.feed")

PUBLIC_URL = "wss://ws.kraken.com/v2"
BOOK_DEPTHS = (10, 25, 100, 500, 1000)
BOOK_DEPTH = 10
PING = orjson.dumps({"method": "ping"}).decode()
PING_S = 20.0


def subscription(method: str, instruments: Iterable[Instrument], depth: int = BOOK_DEPTH) -> str:
    """A `subscribe` / `unsubscribe` request for the `book` channel of `instruments` at `depth` (the depth is
    sent on unsubscribe too: it names which book subscription ends)."""
    if depth not in BOOK_DEPTHS:
        raise ValueError(f"Kraken book depth must be one of {BOOK_DEPTHS}, got {depth}")
    params: dict[str, Any] = {"channel": "book", "symbol": [i.symbol for i in instruments], "depth": depth}
    if method == "subscribe":
        params["snapshot"] = True  # Kraken's default, said out loud: resynchronisation depends on it
    return orjson.dumps({"method": method, "params": params}).decode()


def stream_plan(instruments: Iterable[Instrument], depth: int = BOOK_DEPTH, url: str = PUBLIC_URL,
                silence_s: float = 10.0) -> StreamPlan:
    return StreamPlan(url=url, subscribe=(subscription("subscribe", instruments, depth),), heartbeat=PING,
                      heartbeat_s=PING_S, silence_s=silence_s)


class KrakenMarketFeed:
    """The codec and the resubscription of one Kraken v2 connection, for `adapters.ws.WebSocketFeed`.

    `depth` must be the depth of the plan (and of the book syncs, which truncate to it).
    """

    def __init__(self, instruments: Iterable[Instrument], depth: int = BOOK_DEPTH):
        self.instruments = {inst.symbol: inst for inst in instruments}
        self.depth = depth
        self.codec = KrakenMarketDataCodec(self.instruments.values())
        self.refusals = 0

    def decode(self, frame: bytes | str, ts_ns: int) -> tuple[MarketEvent, ...]:
        try:
            obj = loads_exact(frame)  # v2 numbers stay exact text
        except (ValueError, RecursionError) as exc:
            raise MalformedFrame(f"frame is not valid JSON: {exc}") from None
        if type(obj) is dict and obj.get("success") is False:
            self.refusals += 1
            log.warning("kraken refused %s: %s", obj.get("method"), obj.get("error"))
            return ()
        return self.codec.decode(obj, ts_ns)

    async def resync(self, ws: Any, request: ResyncRequest) -> list[MarketEvent]:
        instrument = [self.instruments[request.instrument]]
        await ws.send_message(subscription("unsubscribe", instrument, self.depth))
        await ws.send_message(subscription("subscribe", instrument, self.depth))
        return []  # the snapshot arrives on the stream
