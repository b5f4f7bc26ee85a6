"""Sans-IO codec for Coinbase public market data: parsed JSON frames in, typed engine messages out.

It exists so that the feed actor, the replay driver and the tests turn Coinbase frames into the same
`engine.messages` events as every other venue. Two protocols share it:

- Advanced Trade (venues.md §2.1): every frame is an envelope `{channel, client_id, timestamp,
  sequence_num, events}`. `l2_data` events (`snapshot` / `update`, levels `{side: "bid"|"offer",
  price_level, new_quantity}`) become `BookSnapshot` / `DepthDiff`; `market_trades` `update` events
  become `Trade`s (the `snapshot` event replays recent history and is skipped); `heartbeats`,
  `subscriptions` and other channels carry no event.
- Legacy Coinbase Pro / Exchange (`type` instead of `channel`), in which the only recording is:
  `snapshot` and `l2update` (`changes: [side "buy"|"sell", price, size]`) and `match` trades.

Gap detection. `sequence_num` counts every frame of one connection, all channels together, so no single
book can check it: the codec does (it is one connection's protocol state: make a new codec for a new
connection). Level-2 events carry the frame's `sequence_num` as their id, and a diff's `prev_last_id` is
the id of the previous level-2 event of the same product, as long as no frame was lost in between; after a
lost frame it is -1. The book sync then needs one rule, `prev_last_id == the book's id`, and every book
on the connection resynchronises after a gap, since nobody knows which product the lost frame was about.
A frame that cannot be decoded counts as lost (the sequence is not advanced past it). Legacy frames have
no sequence: their ids are all -1, which chains trivially.

Trade sides. Coinbase reports the maker's side on public trades: documented for the legacy `match`
(a `sell` match is an up-tick), and for Advanced Trade `market_trades` confirmed only by third-party code
(nautilus_trader's `coinbase_side_to_aggressor`, bbgo PR #2509): the aggressor is the opposite side.

A snapshot with both sides empty is refused (a book that cannot be traded). One frame can hold several
events, so `decode` returns a tuple. As in the Binance codec the common case runs without checks of its
own, and only a failure walks the frame again to name the wrong field in a `MalformedFrame`.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


from adapters.base import InstrumentCodec, MarketParsers, json_type, number_problem
from engine.contracts import MalformedFrame, UnknownSymbol
from engine.messages import BookSnapshot, MarketEvent, Side, make_depth_diff, make_trade
from engine.model.numbers import Instrument, increment_precision

_TAKER_OF_MAKER = {"BUY": Side.SELL, "SELL": Side.BUY, "buy": Side.SELL, "sell": Side.BUY}
_LIST_ONLY = {list}
_FAST_PATH_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def coinbase_instrument(product: Mapping[str, Any]) -> Instrument:
    """An `Instrument` from one Coinbase product (venues.md §0.1): `BTC-USD` → `BTC/USD`.

    Advanced Trade products (`GET /api/v3/brokerage/products`) give `product_id`, `base_currency_id`,
    `quote_currency_id`, `price_increment` and `base_increment`; legacy Exchange products give `id`,
    `base_currency`, `quote_currency`, `quote_increment` (the price tick there) and `base_increment`.
    """
    if "product_id" in product:
        venue_symbol, base, quote = product["product_id"], product["base_currency_id"], product["quote_currency_id"]
        tick = product["price_increment"]
    else:
        venue_symbol, base, quote = product["id"], product["base_currency"], product["quote_currency"]
        tick = product["quote_increment"]
    price_decimals, tick_size = increment_precision(tick)
    qty_decimals, lot_size = increment_precision(product["base_increment"])
    return Instrument(symbol=f"{base}/{quote}", venue="coinbase", venue_symbol=venue_symbol, base=base,
                      quote=quote, price_decimals=price_decimals, qty_decimals=qty_decimals,
                      tick_size=tick_size, lot_size=lot_size)




class CoinbaseMarketDataCodec(InstrumentCodec):
    """Decodes already-parsed Coinbase frames of the given instruments (keyed by product id) for one
    connection. Counter for metrics: `sequence_gaps` (frames lost between two that arrived)."""

    def __init__(self, instruments: Iterable[Instrument]):
        super().__init__(instruments)
        self.sequence_gaps = 0
        self._last_sequence: int | None = None
        self._level2_ids: dict[str, int] = {}  # canonical symbol → id of its last level-2 event since a gap

    def decode(self, obj: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        """The events in one frame, `()` for frames that carry none. Raises `MalformedFrame`."""
        if type(obj) is not dict:
            raise MalformedFrame(f"frame should be a JSON object, got {json_type(obj)}")
        channel = obj.get("channel")
        if channel is None:
            return self._legacy(obj, ts_ns)
        sequence = obj.get("sequence_num")
        if type(channel) is not str or type(sequence) is not int:
            raise _envelope_problem(channel, sequence)
        last = self._last_sequence
        contiguous = last is None or sequence == last + 1
        if channel == "l2_data":
            events, symbols = self._level2(obj, sequence, self._level2_ids if contiguous else {}, ts_ns)
        else:
            events = self._market_trades(obj, ts_ns) if channel == "market_trades" else ()
            symbols = ()
        if not contiguous:
            self.sequence_gaps += 1
            self._level2_ids.clear()
        for symbol in symbols:
            self._level2_ids[symbol] = sequence
        self._last_sequence = sequence
        return events

    def _level2(self, obj: dict, sequence: int, level2_ids: dict[str, int],
                ts_ns: int) -> tuple[tuple[MarketEvent, ...], list[str]]:
        try:
            events: list[MarketEvent] = []
            symbols: list[str] = []
            for event in obj["events"]:
                market = self._markets[event["product_id"]]
                price, qty, symbol = market.price, market.qty, market.symbol
                kind = event["type"]
                bids: list[tuple[int, int]] = []
                asks: list[tuple[int, int]] = []
                for update in event["updates"]:
                    side = update["side"]
                    level = (price[update["price_level"]], qty[update["new_quantity"]])
                    if side == "bid":
                        bids.append(level)
                    elif side == "offer":
                        asks.append(level)
                    else:
                        raise ValueError
                if kind == "update":
                    prev = sequence if symbol in symbols else level2_ids.get(symbol, -1)
                    events.append(make_depth_diff(symbol, ts_ns, sequence, sequence, prev, tuple(bids),
                                                  tuple(asks)))
                elif kind == "snapshot" and (bids or asks):
                    events.append(BookSnapshot(symbol, ts_ns, sequence, tuple(bids), tuple(asks)))
                else:
                    raise ValueError
                symbols.append(symbol)
            return tuple(events), symbols
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose_level2(obj, exc) from None

    def _market_trades(self, obj: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        try:
            trades: list[MarketEvent] = []
            for event in obj["events"]:
                kind = event["type"]
                if kind == "snapshot":
                    continue
                if kind != "update":
                    raise ValueError
                for trade in event["trades"]:
                    market = self._markets[trade["product_id"]]
                    trades.append(make_trade(market.symbol, ts_ns, _trade_id(trade["trade_id"]),
                                             market.price[trade["price"]], market.qty[trade["size"]],
                                             _aggressor(trade["side"], ("BUY", "SELL"))))
            return tuple(trades)
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose_market_trades(obj, exc) from None

    # ---------------------------------------------------------------- legacy Coinbase Pro / Exchange feed

    def _legacy(self, obj: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        kind = obj.get("type")
        if kind == "l2update":
            try:
                market = self._markets[obj["product_id"]]
                price, qty = market.price, market.qty
                changes = obj["changes"]
                if type(changes) is not list or not set(map(type, changes)) <= _LIST_ONLY:
                    raise TypeError
                bids: list[tuple[int, int]] = []
                asks: list[tuple[int, int]] = []
                for side, p, q in changes:
                    if side == "buy":
                        bids.append((price[p], qty[q]))
                    elif side == "sell":
                        asks.append((price[p], qty[q]))
                    else:
                        raise ValueError
                return (make_depth_diff(market.symbol, ts_ns, -1, -1, -1, tuple(bids), tuple(asks)),)
            except _FAST_PATH_ERRORS as exc:
                raise self._diagnose_legacy(obj, "l2update", (("changes", "changes"),), exc) from None
        if kind == "snapshot":
            try:
                market = self._markets[obj["product_id"]]
                price, qty = market.price, market.qty
                bids, asks = obj["bids"], obj["asks"]
                if (type(bids) is not list or type(asks) is not list or not (bids or asks)
                        or not set(map(type, bids)) <= _LIST_ONLY or not set(map(type, asks)) <= _LIST_ONLY):
                    raise TypeError
                return (BookSnapshot(market.symbol, ts_ns, -1, tuple([(price[p], qty[q]) for p, q in bids]),
                                     tuple([(price[p], qty[q]) for p, q in asks])),)
            except _FAST_PATH_ERRORS as exc:
                raise self._diagnose_legacy(obj, "snapshot", (("bids", "levels"), ("asks", "levels")),
                                            exc) from None
        if kind == "match":
            try:
                market = self._markets[obj["product_id"]]
                return (make_trade(market.symbol, ts_ns, _trade_id(obj["trade_id"]), market.price[obj["price"]],
                                   market.qty[obj["size"]], _aggressor(obj["side"], ("buy", "sell"))),)
            except _FAST_PATH_ERRORS as exc:
                raise self._diagnose_legacy(obj, "match", (("trade_id", "id"), ("price", "price"),
                                                           ("size", "qty"), ("side", "buy|sell")), exc) from None
        return ()

    # ---------------------------------------------------------------- the slow path: name what is wrong

    def _product(self, where: str, holder: Any) -> MarketParsers | MalformedFrame:
        if "product_id" not in holder:
            return MalformedFrame(f"{where}: missing field 'product_id'")
        product_id = holder["product_id"]
        if type(product_id) is not str:
            return MalformedFrame(f"{where}: field 'product_id' should be a string, got {json_type(product_id)}")
        market = self._markets.get(product_id)
        if market is None:
            return UnknownSymbol(f"{where}: field 'product_id': unknown venue symbol {product_id!r}")
        return market

    def _diagnose_level2(self, obj: dict, exc: Exception) -> MalformedFrame:
        problem = _events_problem(obj)
        if problem:
            return MalformedFrame(f"l2_data: {problem}")
        for index, event in enumerate(obj["events"]):
            where = f"l2_data: events[{index}]"
            if type(event) is not dict:
                return MalformedFrame(f"{where} should be an object, got {json_type(event)}")
            market = self._product(where, event)
            if isinstance(market, MalformedFrame):
                return market
            kind = event.get("type")
            if kind not in ("snapshot", "update"):
                return MalformedFrame(f"{where}: missing field 'type'" if kind is None else
                                      f"{where}: field 'type' should be 'snapshot' or 'update', got {kind!r}")
            if "updates" not in event:
                return MalformedFrame(f"{where}: missing field 'updates'")
            updates = event["updates"]
            if type(updates) is not list:
                return MalformedFrame(f"{where}: field 'updates' should be a list, got {json_type(updates)}")
            for number, update in enumerate(updates):
                problem = _update_problem(update, market)
                if problem:
                    return MalformedFrame(f"{where}: updates[{number}]{problem}")
            if kind == "snapshot" and not updates:
                return MalformedFrame(f"{where}: snapshot field 'updates' is empty")
        return MalformedFrame(f"l2_data: {type(exc).__name__}: {exc}")

    def _diagnose_market_trades(self, obj: dict, exc: Exception) -> MalformedFrame:
        problem = _events_problem(obj)
        if problem:
            return MalformedFrame(f"market_trades: {problem}")
        for index, event in enumerate(obj["events"]):
            where = f"market_trades: events[{index}]"
            if type(event) is not dict:
                return MalformedFrame(f"{where} should be an object, got {json_type(event)}")
            kind = event.get("type")
            if kind not in ("snapshot", "update"):
                return MalformedFrame(f"{where}: missing field 'type'" if kind is None else
                                      f"{where}: field 'type' should be 'snapshot' or 'update', got {kind!r}")
            if kind == "snapshot":
                continue
            trades = event.get("trades")
            if type(trades) is not list:
                return MalformedFrame(f"{where}: missing field 'trades'" if trades is None else
                                      f"{where}: field 'trades' should be a list, got {json_type(trades)}")
            for number, trade in enumerate(trades):
                at = f"{where}: trades[{number}]"
                if type(trade) is not dict:
                    return MalformedFrame(f"{at} should be an object, got {json_type(trade)}")
                market = self._product(at, trade)
                if isinstance(market, MalformedFrame):
                    return market
                problem = _fields_problem(trade, market, (("trade_id", "id"), ("price", "price"), ("size", "qty"),
                                                          ("side", "BUY|SELL")))
                if problem:
                    return MalformedFrame(f"{at}: {problem}")
        return MalformedFrame(f"market_trades: {type(exc).__name__}: {exc}")

    def _diagnose_legacy(self, obj: dict, event: str, fields: tuple[tuple[str, str], ...],
                         exc: Exception) -> MalformedFrame:
        market = self._product(event, obj)
        if isinstance(market, MalformedFrame):
            return market
        problem = _fields_problem(obj, market, fields)
        if problem:
            return MalformedFrame(f"{event}: {problem}")
        if event == "snapshot" and not obj["bids"] and not obj["asks"]:
            return MalformedFrame("snapshot: fields 'bids' and 'asks' are both empty")
        return MalformedFrame(f"{event}: {type(exc).__name__}: {exc}")


def _envelope_problem(channel: Any, sequence: Any) -> MalformedFrame:
    if type(channel) is not str:
        return MalformedFrame(f"envelope: field 'channel' should be a string, got {json_type(channel)}")
    if sequence is None:
        return MalformedFrame(f"{channel}: missing field 'sequence_num'")
    return MalformedFrame(f"{channel}: field 'sequence_num' should be an integer, got {json_type(sequence)}")


def _trade_id(value: Any) -> int:
    """Trade ids are integers (legacy) or strings of digits (Advanced Trade)."""
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit() and value.isascii():
        return int(value)
    raise ValueError


def _aggressor(maker_side: Any, sides: tuple[str, str]) -> Side:
    if maker_side in sides:
        return _TAKER_OF_MAKER[maker_side]
    raise ValueError


def _events_problem(obj: dict) -> str:
    if "events" not in obj:
        return "missing field 'events'"
    if type(obj["events"]) is not list:
        return f"field 'events' should be a list, got {json_type(obj['events'])}"
    return ""


def _update_problem(update: Any, market: MarketParsers) -> str:
    """What is wrong with one Advanced Trade level update, or '' when nothing is."""
    if type(update) is not dict:
        return f" should be an object, got {json_type(update)}"
    problem = _fields_problem(update, market, (("side", "bid|offer"), ("price_level", "price"),
                                               ("new_quantity", "qty")))
    return f": {problem}" if problem else ""


def _fields_problem(holder: dict, market: MarketParsers, fields: tuple[tuple[str, str], ...]) -> str:
    """What is wrong with the named fields of an object, by kind, or '' when nothing is."""
    for name, kind in fields:
        if name not in holder:
            return f"missing field {name!r}"
        value = holder[name]
        if kind == "price" or kind == "qty":
            problem = number_problem(value, (market.price if kind == "price" else market.qty).decimals)
        elif kind == "id":
            problem = "" if _is_trade_id(value) else f"should be an integer or a string of digits, got {value!r}"
        elif kind in ("levels", "changes"):
            problem = _levels_problem(value, market, kind == "changes")
        else:
            choices = kind.split("|")
            problem = "" if value in choices else f"should be one of {choices}, got {value!r}"
        if problem:
            return f"field {name!r}{problem if problem.startswith(',') else ' ' + problem}"
    return ""


def _is_trade_id(value: Any) -> bool:
    try:
        _trade_id(value)
    except ValueError:
        return False
    return True


def _levels_problem(levels: Any, market: MarketParsers, with_side: bool) -> str:
    """What is wrong with legacy levels ([price, size], or [side, price, size] changes), or ''."""
    shape = "[side, price, size] change" if with_side else "[price, size] pair"
    if type(levels) is not list:
        return f"should be a list of {shape}s, got {json_type(levels)}"
    width = 3 if with_side else 2
    for index, level in enumerate(levels):
        if type(level) is not list:
            return f", level {index}: should be a {shape}, got {json_type(level)}"
        if len(level) != width:
            return f", level {index}: should be a {shape}, got {len(level)} elements"
        if with_side and level[0] not in ("buy", "sell"):
            return f", level {index}: side should be 'buy' or 'sell', got {level[0]!r}"
        for text, parser, what in ((level[-2], market.price, "price"), (level[-1], market.qty, "size")):
            problem = number_problem(text, parser.decimals)
            if problem:
                return f", level {index}: {what} {problem}"
    return ""
