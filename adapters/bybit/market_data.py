"""Sans-IO codec for Bybit v5 public order books: parsed JSON frames in, typed engine messages out.

It exists so that the feed actor, the replay driver and the tests turn Bybit frames (live, or from Bybit's
historical dumps, which hold the same frames) into the same `engine.messages` events as every other venue
(venues.md §4.1). It decodes the `orderbook.{depth}.{symbol}` topics; other topics and the `op` replies
(subscribe acks, pongs) carry no event.

- `type: "snapshot"` becomes a `BookSnapshot` at update id `u`; `type: "delta"` a `DepthDiff` covering
  exactly `u` (`first_id == last_id == u`, no `prev_last_id`: Bybit sends no link, the sync checks
  `u` continuity). A delta with `u == 1` is Bybit's full book after a service restart, so it becomes a
  snapshot.
- `seq`, the cross sequence that orders data across depths, is checked to be an integer when present
  but not carried: one book follows one depth, where `u` alone is the chain.
- A snapshot with both sides empty is refused (a book that cannot be traded).

The symbol alone is ambiguous across categories (spot and linear both have `BTCUSDT`), and each category
has its own WebSocket endpoint: one codec serves one connection, so it is given the instruments of one
category, and a venue symbol given twice is refused. `decode` returns a tuple of events, like the other
snapshot-stream venues (OKX, Coinbase), whose frames can hold several.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from adapters.base import InstrumentCodec, json_type, level_problem
from engine.contracts import MalformedFrame, UnknownSymbol
from engine.messages import BookSnapshot, MarketEvent, make_depth_diff
from engine.model.numbers import Instrument, fixed_levels, increment_precision

_LIST_ONLY = {list}
_FAST_PATH_ERRORS = (KeyError, TypeError, ValueError, AttributeError)
_RESTART_ID = 1  # a delta with u == 1 is a full book: the service restarted


def bybit_instrument(info: Mapping[str, Any], category: str) -> Instrument:
    """An `Instrument` from one entry of Bybit's `GET /v5/market/instruments-info?category=…` (§0.1, §4.2).

    Spot: `baseCoin/quoteCoin` (`BTC/USDT`), quantity precision from `lotSizeFilter.basePrecision`.
    Linear and inverse contracts: `BTC/USDT:USDT` from `settleCoin`, with the UTC date of `deliveryTime`
    appended for a dated future (`BTC/USDT:USDT-241227`); quantity precision from `lotSizeFilter.qtyStep`.
    Price precision from `priceFilter.tickSize`.
    """
    base, quote = info["baseCoin"], info["quoteCoin"]
    lot = info["lotSizeFilter"]
    if category == "spot":
        symbol = f"{base}/{quote}"
        step = lot["basePrecision"]
    elif category in ("linear", "inverse"):
        symbol = f"{base}/{quote}:{info['settleCoin']}"
        delivery_ms = int(info.get("deliveryTime") or 0)
        if delivery_ms:
            symbol += datetime.fromtimestamp(delivery_ms // 1000, timezone.utc).strftime("-%y%m%d")
        step = lot["qtyStep"]
    else:
        raise ValueError(f"{info.get('symbol')!r}: category {category!r} is not supported")
    price_decimals, tick_size = increment_precision(info["priceFilter"]["tickSize"])
    qty_decimals, lot_size = increment_precision(step)
    return Instrument(symbol=symbol, venue="bybit", venue_symbol=info["symbol"], base=base, quote=quote,
                      price_decimals=price_decimals, qty_decimals=qty_decimals, tick_size=tick_size,
                      lot_size=lot_size)




class BybitMarketDataCodec(InstrumentCodec):
    """Decodes already-parsed Bybit v5 public frames of the given instruments (one category)."""


    def add_instrument(self, instrument: Instrument) -> None:
        """Decode frames of `instrument` too (a verifier learns instruments as a recording names them)."""
        if instrument.venue_symbol in self._markets:
            raise ValueError(f"venue symbol {instrument.venue_symbol!r} given twice: one codec serves one category")
        super().add_instrument(instrument)

    def decode(self, obj: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        """The events in one frame, `()` for frames that carry none. Raises `MalformedFrame`."""
        if type(obj) is not dict:
            raise MalformedFrame(f"frame should be a JSON object, got {json_type(obj)}")
        topic = obj.get("topic")
        if topic is None:
            return ()
        if type(topic) is not str:
            raise MalformedFrame(f"frame: field 'topic' should be a string, got {json_type(topic)}")
        if topic.startswith("orderbook."):
            return self._orderbook(obj, ts_ns)
        return ()

    def _orderbook(self, obj: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        try:
            kind, data = obj["type"], obj["data"]
            market = self._markets[data["s"]]
            price, qty = market.price, market.qty
            update_id, bids, asks = data["u"], data["b"], data["a"]
            if (type(update_id) is not int or type(data.get("seq", 0)) is not int
                    or type(bids) is not list or type(asks) is not list
                    or not set(map(type, bids)) <= _LIST_ONLY or not set(map(type, asks)) <= _LIST_ONLY):
                raise TypeError
            bid_levels, ask_levels = fixed_levels(bids, price, qty), fixed_levels(asks, price, qty)
            if kind == "delta" and update_id != _RESTART_ID:
                return (make_depth_diff(market.symbol, ts_ns, update_id, update_id, -1, bid_levels, ask_levels),)
            if (kind != "snapshot" and kind != "delta") or not (bids or asks):
                raise ValueError
            return (BookSnapshot(market.symbol, ts_ns, update_id, bid_levels, ask_levels),)
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose(obj, exc) from None

    def _diagnose(self, obj: dict, exc: Exception) -> MalformedFrame:
        """The slow path: walk the frame again and name the first field that is wrong."""
        kind = obj.get("type")
        if kind not in ("snapshot", "delta"):
            return MalformedFrame("orderbook: missing field 'type'" if kind is None else
                                  f"orderbook: field 'type' should be 'snapshot' or 'delta', got {kind!r}")
        event = f"orderbook {kind}"
        if "data" not in obj:
            return MalformedFrame(f"{event}: missing field 'data'")
        data = obj["data"]
        if type(data) is not dict:
            return MalformedFrame(f"{event}: field 'data' should be an object, got {json_type(data)}")
        for name in ("s", "u", "b", "a"):
            if name not in data:
                return MalformedFrame(f"{event}: missing field 'data.{name}'")
        symbol = data["s"]
        if type(symbol) is not str:
            return MalformedFrame(f"{event}: field 'data.s' should be a string, got {json_type(symbol)}")
        market = self._markets.get(symbol)
        if market is None:
            return UnknownSymbol(f"{event}: field 'data.s': unknown venue symbol {symbol!r}")
        for name in ("u", "seq"):
            if name in data and type(data[name]) is not int:
                return MalformedFrame(f"{event}: field 'data.{name}' should be an integer, "
                                      f"got {json_type(data[name])}")
        for name in ("b", "a"):
            problem = level_problem(data[name], market, "[price, size] pair", qty_word="size")
            if problem:
                return MalformedFrame(f"{event}: field 'data.{name}'{problem}")
        if not data["b"] and not data["a"] and (kind == "snapshot" or data["u"] == _RESTART_ID):
            return MalformedFrame(f"{event}: fields 'data.b' and 'data.a' are both empty")
        return MalformedFrame(f"{event}: {type(exc).__name__}: {exc}")

