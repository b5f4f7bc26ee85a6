"""Sans-IO codec for Kraken spot book data, WebSocket v1 and v2: frames in, exact engine messages out.

It exists so that the feed actor, the replay driver and the tests turn Kraken frames into the same
`engine.messages` events, with no socket, clock or book in sight. Why it looks the way it does:

- Two dialects. v1 (the legacy API, and the format of the recordings) sends arrays
  `[channelID, changes, "book-<depth>", pair]`: a snapshot `{"as": levels, "bs": levels}`, an update
  `{"a": levels}` and/or `{"b": levels}` with its checksum `"c"`, and an update of both sides may come as
  two objects, `[channelID, {"a"}, {"b", "c"}, name, pair]`. A level is `[price, volume, timestamp]` in
  strings, with a 4th element "r" when Kraken republishes a level after truncating the book; the level
  timestamp is not used. v2 sends `{"channel": "book", "type": "snapshot"|"update", "data": [...]}`, one
  entry per symbol with `bids`/`asks` of `{"price", "qty"}` and a `checksum`.
- Exactness. v2 prices and quantities are JSON numbers, and a number read as a binary float is no longer
  the number Kraken sent. So text that is not a v1 array is read by `loads_exact`, which keeps every number
  as its JSON text ("63299.4", "5.1e-05"); v1 arrays hold strings only and are read by orjson. Texts
  become integers in the instrument's units through one cached parser per precision.
- Symbols. v1 names a pair by its AssetPairs `wsname` (`XBT/USD`, the instrument's `venue_symbol`), v2 by
  its canonical symbol (`BTC/USD`): both lead to the same instrument (see `adapters.kraken.instruments`).
- Kraken has no sequence numbers: every id is -1 (the book sync counts versions itself), and the checksum
  is passed on. A v1 checksum covers the strings as sent, whose precision AssetPairs does not give
  (XMR/USD has `pair_decimals` 2 but its book strings carry 8 decimals); the codec reads it from each v1
  snapshot (`wire_decimals`) for the book sync.
- Hot path. The common frame is decoded with a few cheap type tests and no other checks of its own; any
  failure there hands the frame to a careful decoder that checks every field and either decodes it the
  same way (a republished level, a two-part update) or raises `MalformedFrame` naming the field.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

import orjson

from adapters.base import json_type
from engine.contracts import MalformedFrame, UnknownSymbol
from engine.messages import BookSnapshot, DepthDiff, Level, make_depth_diff
from engine.model.numbers import FixedParser, Instrument, NumberFormatError

__all__ = ["KrakenMarketDataCodec", "MalformedFrame", "UnknownSymbol", "loads_exact"]

BookEvent = BookSnapshot | DepthDiff

_ARRAY_START = (b"[", "[")
_ABSENT = object()
_LIST = frozenset({list})
_MAX_CHECKSUM = 0xFFFFFFFF
_FAST_PATH_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


_EXACT_JSON = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_refuse_constant)


def loads_exact(raw: bytes | str) -> Any:
    """Parse JSON keeping every number as its JSON text ("63299.4", "5.1e-05", "0"), never a binary float.

    Raises ValueError on invalid JSON (NaN and Infinity included) and RecursionError on absurd nesting.
    """
    return _EXACT_JSON.decode(raw if type(raw) is str else str(raw, "utf-8"))


_EXPONENT_FORM = re.compile(r"([0-9]+)(?:\.([0-9]+))?[eE]([-+]?[0-9]{1,4})\Z")
_MAX_SHIFT = 30  # a value of more than 10**30 units is no price or quantity


class _NumberParser(FixedParser):
    """`FixedParser` that also reads a JSON number in exponent form ("5.1e-05"), exactly, as v2 may send."""

    __slots__ = ()

    def __missing__(self, text: str) -> int:
        match = _EXPONENT_FORM.match(text) if type(text) is str else None
        if match is None:
            return FixedParser.__missing__(self, text)
        whole, fraction, exponent = match.groups()
        fraction = fraction or ""
        coefficient = int(whole + fraction)
        shift = int(exponent) - len(fraction) + self.decimals
        if shift >= 0:
            if coefficient and shift > _MAX_SHIFT:
                raise NumberFormatError(f"{text!r} is out of range")
            return self._keep(text, coefficient * 10 ** shift)
        value, rest = divmod(coefficient, 10 ** -shift)
        if rest:
            raise NumberFormatError(f"{text!r} has more than {self.decimals} decimals")
        return self._keep(text, value)


class _Market:
    """What decoding needs about one instrument."""

    __slots__ = ("symbol", "price", "qty")

    def __init__(self, instrument: Instrument, parsers: dict[int, _NumberParser]):
        self.symbol = instrument.symbol
        self.price = parsers.setdefault(instrument.price_decimals, _NumberParser(instrument.price_decimals))
        self.qty = parsers.setdefault(instrument.qty_decimals, _NumberParser(instrument.qty_decimals))


class KrakenMarketDataCodec:
    """Decodes Kraken WS v1 and v2 `book` frames of the given instruments; other frames carry no event."""

    one_event_per_frame: Final = False
    """A frame is a sequence of events (`engine.contracts.MultiEventCodec`), decoded from its raw text."""

    def __init__(self, instruments: Iterable[Instrument]):
        self._parsers: dict[int, _NumberParser] = {}
        self._markets: dict[str, _Market] = {}
        for instrument in instruments:
            self.add_instrument(instrument)
        self._wire_decimals: dict[str, tuple[int, int]] = {}

    def add_instrument(self, instrument: Instrument) -> None:
        """Decode frames of `instrument` too (a verifier learns instruments as a recording names them)."""
        market = _Market(instrument, self._parsers)
        for name in (instrument.venue_symbol, instrument.symbol):  # v1 wsname, v2 symbol
            other = self._markets.setdefault(name, market)
            if other is not market and other.symbol != market.symbol:
                raise ValueError(f"{name!r} names both {other.symbol} and {market.symbol}")

    def knows(self, symbol: str) -> bool:
        return symbol in self._markets

    def wire_decimals(self, symbol: str) -> tuple[int, int] | None:
        """(price, volume) decimals of the v1 book strings of `symbol` (canonical or venue symbol), as sent
        in its latest v1 snapshot; None before one. The book sync needs them to rebuild v1 checksums."""
        market = self._markets.get(symbol)
        return None if market is None else self._wire_decimals.get(market.symbol)

    def decode_raw(self, frame: bytes | str, ts_ns: int) -> tuple[BookEvent, ...]:
        """`decode` of a frame as received or recorded (raw JSON text); bad JSON is a `MalformedFrame` too."""
        try:
            obj = orjson.loads(frame) if frame[:1] in _ARRAY_START else loads_exact(frame)
        except (ValueError, RecursionError) as exc:
            raise MalformedFrame(f"frame is not valid JSON: {exc}") from None
        return self.decode(obj, ts_ns)

    def decode(self, obj: Any, ts_ns: int) -> tuple[BookEvent, ...]:
        """The book events in one parsed frame: none for frames of other channels, events and acks.

        v2 frames must have been parsed by `loads_exact` (numbers as text). Raises `MalformedFrame`.
        """
        if type(obj) is list:
            if len(obj) < 3 or type(obj[-2]) is not str:
                raise MalformedFrame("array frame: should be [channelID, ..., channelName, pair]")
            if not obj[-2].startswith("book-"):
                return ()
            if len(obj) == 4:
                try:
                    return self._v1_fast(obj, ts_ns)
                except _FAST_PATH_ERRORS:
                    pass
            return self._v1_checked(obj, ts_ns)
        if type(obj) is dict:
            if obj.get("channel") != "book":
                return ()
            try:
                return self._v2_fast(obj, ts_ns)
            except _FAST_PATH_ERRORS:
                return self._v2_checked(obj, ts_ns)
        raise MalformedFrame(f"frame should be a JSON array or object, got {json_type(obj)}")

    # ------------------------------------------------------------ v1

    def _v1_fast(self, frame: list, ts_ns: int) -> tuple[BookEvent, ...]:
        body = frame[1]
        market = self._markets[frame[3]]
        price, qty = market.price, market.qty
        if "as" in body:
            asks, bids = body["as"], body["bs"]
            snapshot = BookSnapshot(market.symbol, ts_ns, -1, _v1_levels(bids, price, qty),
                                    _v1_levels(asks, price, qty))
            self._note_wire_decimals(market, asks or bids)
            return (snapshot,)
        asks, bids, checksum = body.get("a", _ABSENT), body.get("b", _ABSENT), body.get("c", _ABSENT)
        if asks is _ABSENT and bids is _ABSENT:
            raise KeyError("a")
        return (make_depth_diff(market.symbol, ts_ns, -1, -1, -1,
                                () if bids is _ABSENT else _v1_levels(bids, price, qty),
                                () if asks is _ABSENT else _v1_levels(asks, price, qty),
                                None if checksum is _ABSENT else _checksum_value(checksum)),)

    def _v1_checked(self, frame: list, ts_ns: int) -> tuple[BookEvent, ...]:
        if len(frame) not in (4, 5):
            raise MalformedFrame(f"book frame: should be [channelID, changes, (changes,) channelName, pair], "
                                 f"got {len(frame)} elements")
        pair = frame[-1]
        market = self._market(pair, "book frame: pair")
        parts = frame[1:-2]
        for index, part in enumerate(parts, 1):
            if type(part) is not dict:
                raise MalformedFrame(f"book frame {pair}: element {index} should be an object, "
                                     f"got {json_type(part)}")
        if len(parts) == 1 and ("as" in parts[0] or "bs" in parts[0]):
            body = parts[0]
            where = f"book snapshot {pair}"
            asks, bids = _v1_side(body, "as", market, where), _v1_side(body, "bs", market, where)
            self._note_wire_decimals(market, body["as"] or body["bs"])
            return (BookSnapshot(market.symbol, ts_ns, -1, bids, asks),)
        where = f"book update {pair}"
        sides: dict[str, tuple[Level, ...]] = {}
        checksum = None
        for part in parts:
            for key in ("a", "b", "c"):
                if key not in part:
                    continue
                if key in sides or (key == "c" and checksum is not None):
                    raise MalformedFrame(f"{where}: field {key!r} appears twice")
                if key == "c":
                    checksum = _checked_checksum(part["c"], f"{where}: field 'c'")
                else:
                    sides[key] = _v1_side(part, key, market, where)
        if not sides:
            raise MalformedFrame(f"{where}: missing field 'a' or 'b'")
        return (DepthDiff(market.symbol, ts_ns, -1, -1, -1, sides.get("b", ()), sides.get("a", ()), checksum),)

    def _note_wire_decimals(self, market: _Market, levels: list) -> None:
        if levels:
            price, volume = levels[0][0], levels[0][1]
            self._wire_decimals[market.symbol] = (_decimals(price), _decimals(volume))

    # ------------------------------------------------------------ v2

    def _v2_fast(self, obj: dict, ts_ns: int) -> tuple[BookEvent, ...]:
        kind = obj["type"]
        if kind != "update" and kind != "snapshot":
            raise ValueError(kind)
        data = obj["data"]
        if type(data) is not list:
            raise TypeError
        markets = self._markets
        events: list[BookEvent] = []
        for entry in data:
            market = markets[entry["symbol"]]
            price, qty = market.price, market.qty
            bids, asks, checksum = entry["bids"], entry["asks"], entry.get("checksum", _ABSENT)
            if type(bids) is not list or type(asks) is not list:
                raise TypeError
            bids = tuple([(price[level["price"]], qty[level["qty"]]) for level in bids])
            asks = tuple([(price[level["price"]], qty[level["qty"]]) for level in asks])
            checksum = None if checksum is _ABSENT else _checksum_value(checksum)
            if kind == "update":
                events.append(make_depth_diff(market.symbol, ts_ns, -1, -1, -1, bids, asks, checksum))
            else:
                events.append(BookSnapshot(market.symbol, ts_ns, -1, bids, asks, checksum))
        return tuple(events)

    def _v2_checked(self, obj: dict, ts_ns: int) -> tuple[BookEvent, ...]:
        if "type" not in obj:
            raise MalformedFrame("book: missing field 'type'")
        kind = obj["type"]
        if kind != "update" and kind != "snapshot":
            raise MalformedFrame(f"book: field 'type' should be 'snapshot' or 'update', got {_short(kind)}")
        if "data" not in obj:
            raise MalformedFrame(f"book {kind}: missing field 'data'")
        data = obj["data"]
        if type(data) is not list:
            raise MalformedFrame(f"book {kind}: field 'data' should be an array, got {json_type(data)}")
        events: list[BookEvent] = []
        for index, entry in enumerate(data):
            where = f"book {kind}: data[{index}]"
            if type(entry) is not dict:
                raise MalformedFrame(f"{where} should be an object, got {json_type(entry)}")
            if "symbol" not in entry:
                raise MalformedFrame(f"{where}: missing field 'symbol'")
            market = self._market(entry["symbol"], f"{where}: field 'symbol'")
            bids, asks = _v2_side(entry, "bids", market, where), _v2_side(entry, "asks", market, where)
            checksum = (_checked_checksum(entry["checksum"], f"{where}: field 'checksum'")
                        if "checksum" in entry else None)
            if kind == "update":
                events.append(DepthDiff(market.symbol, ts_ns, -1, -1, -1, bids, asks, checksum))
            else:
                events.append(BookSnapshot(market.symbol, ts_ns, -1, bids, asks, checksum))
        return tuple(events)

    # ------------------------------------------------------------ shared

    def _market(self, symbol: Any, where: str) -> _Market:
        if type(symbol) is not str:
            raise MalformedFrame(f"{where} should be a string, got {json_type(symbol)}")
        market = self._markets.get(symbol)
        if market is None:
            raise UnknownSymbol(f"{where}: unknown symbol {symbol!r}")
        return market


def _v1_levels(levels: Any, price: _NumberParser, qty: _NumberParser) -> tuple[Level, ...]:
    """The fast path's v1 levels; a republished level (4 elements) or any doubt raises for the careful path."""
    if type(levels) is not list or not _LIST.issuperset(map(type, levels)):
        raise TypeError
    return tuple([(price[p], qty[q]) for p, q, _ in levels])


def _v1_side(body: dict, key: str, market: _Market, where: str) -> tuple[Level, ...]:
    """The careful path's v1 levels of `body[key]`, or a `MalformedFrame` naming what is wrong."""
    if key not in body:
        raise MalformedFrame(f"{where}: missing field {key!r}")
    levels = body[key]
    if type(levels) is not list:
        raise MalformedFrame(f"{where}: field {key!r} should be a list of [price, volume, timestamp] levels, "
                             f"got {json_type(levels)}")
    parsed = []
    for index, level in enumerate(levels):
        at = f"{where}: field {key!r}, level {index}"
        if type(level) is not list:
            raise MalformedFrame(f"{at}: should be [price, volume, timestamp], got {json_type(level)}")
        if len(level) == 4:
            if level[3] != "r":
                raise MalformedFrame(f"{at}: a 4th element should be 'r' (republished), got {_short(level[3])}")
        elif len(level) != 3:
            raise MalformedFrame(f"{at}: should be [price, volume, timestamp], got {len(level)} elements")
        parsed.append((_number(level[0], market.price, f"{at}: price"),
                       _number(level[1], market.qty, f"{at}: volume")))
    return tuple(parsed)


def _v2_side(entry: dict, key: str, market: _Market, where: str) -> tuple[Level, ...]:
    """The careful path's v2 levels of `entry[key]`, or a `MalformedFrame` naming what is wrong."""
    if key not in entry:
        raise MalformedFrame(f"{where}: missing field {key!r}")
    levels = entry[key]
    if type(levels) is not list:
        raise MalformedFrame(f"{where}: field {key!r} should be an array of {{price, qty}} objects, "
                             f"got {json_type(levels)}")
    parsed = []
    for index, level in enumerate(levels):
        at = f"{where}: field {key!r}, level {index}"
        if type(level) is not dict:
            raise MalformedFrame(f"{at}: should be a {{price, qty}} object, got {json_type(level)}")
        for name in ("price", "qty"):
            if name not in level:
                raise MalformedFrame(f"{at}: missing field {name!r}")
        parsed.append((_number(level["price"], market.price, f"{at}: price"),
                       _number(level["qty"], market.qty, f"{at}: qty")))
    return tuple(parsed)


def _number(text: Any, parser: _NumberParser, what: str) -> int:
    if type(text) is not str:
        problem = f"{what} should be a decimal number as text, got {json_type(text)}"
        if type(text) is float:
            problem += " (a binary float is not exact: read v2 frames with decode_raw or loads_exact)"
        raise MalformedFrame(problem)
    try:
        return parser[text]
    except ValueError as exc:
        raise MalformedFrame(f"{what} is a bad number: {exc}") from None


def _checksum_value(text: Any) -> int:
    """A CRC32 sent as decimal text (v1 `"c"`, or the JSON text of the v2 number) as an int."""
    if type(text) is str and len(text) <= 10 and text.isdigit() and text.isascii():
        value = int(text)
        if value <= _MAX_CHECKSUM:
            return value
    raise ValueError(f"{_short(text)} is not an unsigned 32-bit integer")


def _checked_checksum(text: Any, where: str) -> int:
    try:
        return _checksum_value(text)
    except ValueError as exc:
        raise MalformedFrame(f"{where}: {exc}") from None


def _decimals(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

