"""Sans-IO codec for OKX v5 public market data: parsed JSON frames in, typed engine messages out.

It exists so that the feed actor, the replay driver and the tests turn OKX frames into the same
`engine.messages` events as every other venue, with no socket, clock or book in sight (venues.md §5.1).
It decodes the order-book channels that send a snapshot and then incremental updates (`books`,
`books-l2-tbt`, `books50-l2-tbt`) and `trades`; other channels (tickers, candles) and event frames
(subscribe acks, errors) carry no event. OKX's text heartbeat (`pong`) is not JSON: the IO layer answers it.

What a book frame carries for the sync (`adapters.okx.book_sync`):
- `seqId` / `prevSeqId` become a diff's `last_id` (= `first_id`) and `prev_last_id`, and a snapshot's
  `last_update_id`. Frames recorded before OKX sent them (2022) have none: every id is then -1, so the
  chain rule `prevSeqId == last seqId` holds trivially and the checksum alone guards the book.
- `checksum`, the legacy signed CRC32. OKX sends 0 since 2026-06-23; 0 (or no field) becomes None,
  "not sent", so that the sync does not check it.
Levels are `[price, size, deprecated "0", number of orders]`: exactly four strings, of which price and
size are kept. A snapshot with both sides empty is refused (a book that cannot be traded); an update with
both sides empty is OKX's keep-alive.

One frame can hold several events (`data` is a list), so `decode` returns a tuple. As in the Binance
codec the common case runs without checks of its own, and only a failure walks the frame again to name
the wrong field in a `MalformedFrame`.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from adapters.base import InstrumentCodec, MarketParsers, json_type, level_problem, number_problem
from engine.contracts import MalformedFrame, UnknownSymbol
from engine.messages import BookSnapshot, MarketEvent, Side, make_depth_diff, make_trade
from engine.model.numbers import Instrument, increment_precision

_BOOK_CHANNELS = frozenset({"books", "books-l2-tbt", "books50-l2-tbt"})
_AGGRESSOR = {"buy": Side.BUY, "sell": Side.SELL}  # OKX's trade `side` is the taker's (venues.md §5.1)
_LIST_ONLY = {list}
_FAST_PATH_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def okx_instrument(meta: Mapping[str, Any], *, venue: str = "okx") -> Instrument:
    """An `Instrument` from one entry of OKX's `GET /api/v5/public/instruments` (venues.md §0.1, §5.2).

    SPOT and MARGIN name their currencies (`baseCcy`/`quoteCcy` → `BTC/USDT`). SWAP and FUTURES leave
    those empty; their contract says it instead: a linear contract is worth `ctValCcy` (the base) and
    settles in `settleCcy` (the quote), an inverse one the other way round. So `BTC-USDT-SWAP` →
    `BTC/USDT:USDT`, `BTC-USD-220527` → `BTC/USD:BTC-220527` (the UTC date of `expTime`). Precision comes
    from `tickSz` and `lotSz`. `venue` names another venue speaking the same protocol (OKCoin).
    """
    inst_type = meta["instType"]
    if inst_type in ("SPOT", "MARGIN"):
        base, quote = meta["baseCcy"], meta["quoteCcy"]
        symbol = f"{base}/{quote}"
    elif inst_type in ("SWAP", "FUTURES"):
        value_ccy, settle = meta["ctValCcy"], meta["settleCcy"]
        base, quote = (settle, value_ccy) if meta["ctType"] == "inverse" else (value_ccy, settle)
        symbol = f"{base}/{quote}:{settle}"
        if inst_type == "FUTURES":
            expiry = datetime.fromtimestamp(int(meta["expTime"]) // 1000, timezone.utc)
            symbol += expiry.strftime("-%y%m%d")
    else:
        raise ValueError(f"{meta.get('instId')!r}: instType {inst_type!r} is not supported")
    price_decimals, tick_size = increment_precision(meta["tickSz"])
    qty_decimals, lot_size = increment_precision(meta["lotSz"])
    return Instrument(symbol=symbol, venue=venue, venue_symbol=meta["instId"], base=base, quote=quote,
                      price_decimals=price_decimals, qty_decimals=qty_decimals, tick_size=tick_size,
                      lot_size=lot_size)




class OkxMarketDataCodec(InstrumentCodec):
    """Decodes already-parsed OKX v5 public frames of the given instruments (keyed by `instId`)."""

    def decode(self, obj: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        """The events in one frame, `()` for frames that carry none. Raises `MalformedFrame`."""
        if type(obj) is not dict:
            raise MalformedFrame(f"frame should be a JSON object, got {json_type(obj)}")
        if "event" in obj:
            return ()
        arg = obj.get("arg")
        if arg is None:
            if "data" in obj:
                raise MalformedFrame("data frame: missing field 'arg'")
            return ()
        if type(arg) is not dict:
            raise MalformedFrame(f"data frame: field 'arg' should be an object, got {json_type(arg)}")
        channel = arg.get("channel")
        if type(channel) is not str:
            raise MalformedFrame("data frame: missing field 'arg.channel'" if channel is None else
                                 f"data frame: field 'arg.channel' should be a string, got {json_type(channel)}")
        if channel in _BOOK_CHANNELS:
            return self._books(obj, arg, ts_ns)
        if channel == "trades":
            return self._trades(obj, arg, ts_ns)
        return ()

    def _books(self, obj: dict, arg: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        try:
            market = self._markets[arg["instId"]]
            symbol, price, qty = market.symbol, market.price, market.qty
            action = obj["action"]
            is_snapshot = action == "snapshot"
            if not is_snapshot and action != "update":
                raise ValueError
            events: list[MarketEvent] = []
            for item in obj["data"]:
                bids, asks = item["bids"], item["asks"]
                checksum = item.get("checksum", 0)
                seq_id, prev_seq_id = item.get("seqId", -1), item.get("prevSeqId", -1)
                if (type(bids) is not list or type(asks) is not list or type(checksum) is not int
                        or type(seq_id) is not int or type(prev_seq_id) is not int
                        or not set(map(type, bids)) <= _LIST_ONLY or not set(map(type, asks)) <= _LIST_ONLY):
                    raise TypeError
                bid_levels = tuple([(price[p], qty[q]) for p, q, _, _ in bids])
                ask_levels = tuple([(price[p], qty[q]) for p, q, _, _ in asks])
                if is_snapshot:
                    if not bids and not asks:
                        raise ValueError
                    events.append(BookSnapshot(symbol, ts_ns, seq_id, bid_levels, ask_levels, checksum or None))
                else:
                    events.append(make_depth_diff(symbol, ts_ns, seq_id, seq_id, prev_seq_id, bid_levels,
                                                  ask_levels, checksum or None))
            if not events:
                raise ValueError
            return tuple(events)
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose_books(obj, arg, exc) from None

    def _trades(self, obj: dict, arg: dict, ts_ns: int) -> tuple[MarketEvent, ...]:
        try:
            market = self._markets[arg["instId"]]
            symbol, price, qty = market.symbol, market.price, market.qty
            trades = tuple([make_trade(symbol, ts_ns, _trade_id(item["tradeId"]), price[item["px"]],
                                       qty[item["sz"]], _AGGRESSOR[item["side"]]) for item in obj["data"]])
            if not trades:
                raise ValueError
            return trades
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose_trades(obj, arg, exc) from None

    # ---------------------------------------------------------------- the slow path: name what is wrong

    def _market_of(self, event: str, arg: dict) -> MarketParsers | MalformedFrame:
        inst_id = arg.get("instId")
        if inst_id is None:
            return MalformedFrame(f"{event}: missing field 'arg.instId'")
        if type(inst_id) is not str:
            return MalformedFrame(f"{event}: field 'arg.instId' should be a string, got {json_type(inst_id)}")
        market = self._markets.get(inst_id)
        if market is None:
            return UnknownSymbol(f"{event}: field 'arg.instId': unknown venue symbol {inst_id!r}")
        return market

    def _diagnose_books(self, obj: dict, arg: dict, exc: Exception) -> MalformedFrame:
        action = obj.get("action")
        if action not in ("snapshot", "update"):
            return MalformedFrame("books: missing field 'action'" if action is None else
                                  f"books: field 'action' should be 'snapshot' or 'update', got {action!r}")
        event = f"books {action}"
        market = self._market_of(event, arg)
        if isinstance(market, MalformedFrame):
            return market
        problem = _data_problem(obj)
        if problem:
            return MalformedFrame(f"{event}: {problem}")
        for index, item in enumerate(obj["data"]):
            where = f"{event}: data[{index}]"
            if type(item) is not dict:
                return MalformedFrame(f"{where} should be an object, got {json_type(item)}")
            for name in ("bids", "asks"):
                if name not in item:
                    return MalformedFrame(f"{where}: missing field {name!r}")
                problem = level_problem(item[name], market, "[price, size, liquidated, orders] level", 4, "size")
                if problem:
                    return MalformedFrame(f"{where}: field {name!r}{problem}")
            for name in ("checksum", "seqId", "prevSeqId"):
                if name in item and type(item[name]) is not int:
                    return MalformedFrame(f"{where}: field {name!r} should be an integer, "
                                          f"got {json_type(item[name])}")
            if action == "snapshot" and not item["bids"] and not item["asks"]:
                return MalformedFrame(f"{where}: fields 'bids' and 'asks' are both empty")
        return MalformedFrame(f"{event}: {type(exc).__name__}: {exc}")

    def _diagnose_trades(self, obj: dict, arg: dict, exc: Exception) -> MalformedFrame:
        market = self._market_of("trades", arg)
        if isinstance(market, MalformedFrame):
            return market
        problem = _data_problem(obj)
        if problem:
            return MalformedFrame(f"trades: {problem}")
        for index, item in enumerate(obj["data"]):
            where = f"trades: data[{index}]"
            if type(item) is not dict:
                return MalformedFrame(f"{where} should be an object, got {json_type(item)}")
            for name, parser in (("tradeId", None), ("px", market.price), ("sz", market.qty), ("side", None)):
                if name not in item:
                    return MalformedFrame(f"{where}: missing field {name!r}")
                value = item[name]
                if name == "tradeId":
                    problem = "" if _is_digits(value) else f"should be a string of digits, got {value!r}"
                elif name == "side":
                    problem = "" if value in ("buy", "sell") else f"should be 'buy' or 'sell', got {value!r}"
                else:
                    problem = number_problem(value, parser.decimals)
                if problem:
                    return MalformedFrame(f"{where}: field {name!r} {problem}")
        return MalformedFrame(f"trades: {type(exc).__name__}: {exc}")


def _trade_id(text: Any) -> int:
    if _is_digits(text):
        return int(text)
    raise ValueError


def _is_digits(text: Any) -> bool:
    return type(text) is str and text.isdigit() and text.isascii()


def _data_problem(obj: dict) -> str:
    """What is wrong with a frame's `data` list as a whole, or '' when nothing is."""
    if "data" not in obj:
        return "missing field 'data'"
    data = obj["data"]
    if type(data) is not list:
        return f"field 'data' should be a list, got {json_type(data)}"
    if not data:
        return "field 'data' is empty"
    return ""

