"""Sans-IO codec for Binance market data: parsed JSON frames in, typed engine messages out.

It exists so that the feed actor, the replay driver and the tests all turn Binance frames into the same
`engine.messages` events, with no socket, clock or book in sight. It decodes spot and futures (USD-M,
COIN-M) streams alike: `depthUpdate` (futures diffs also carry `pu`), `trade`, `bookTicker` (spot sends it
without an `e` field) and the REST depth snapshot, which the recorded captures hold inline as a bare
`{"lastUpdateId": ...}` body.

Venue symbols become canonical symbols through the `Instrument` table, never by splitting strings, and
prices and quantities become exact integers through one cached `FixedParser` per precision (depth levels
through `fixed_levels`, compiled where it could be built).

Decoding is the hot path, so the common case runs without checks of its own: a bad frame almost always
fails there anyway (a missing key, an unparsable number), and only then does a slow path walk the frame
again to name exactly what is wrong in a `MalformedFrame`. The few mistakes the fast path would let
through silently (an id that is not an integer, `m` that is not a boolean, a level list that is not a
list) are checked with one cheap type test each.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson

from adapters.base import MarketParsers, json_type, level_problem, number_problem
from engine.contracts import MalformedFrame, UnknownSymbol
from engine.messages import (
    BookSnapshot,
    DepthDiff,
    MarketEvent,
    Side,
    TopOfBook,
    Trade,
    make_depth_diff,
    make_top_of_book,
    make_trade,
)
from engine.model import compiled
from engine.model.numbers import FixedParser, Instrument, fixed_levels

_BUY = Side.BUY
_SELL = Side.SELL

_frames = compiled.load("adapters.binance._frames_compiled", Path(__file__).with_name("_frames_compiled.pyx"))
if _frames is not None:
    _frames.bind(DepthDiff, Trade, TopOfBook, _BUY, _SELL)
_scan = _frames.scan if _frames is not None else None
"""The compiled fast path of `decode_raw` (`_frames_compiled.pyx`): a plain frame's event, or None to take the Python
path; None itself where it was not built."""


def binance_spot_instrument(venue_symbol: str, base: str, quote: str, *, price_decimals: int = 8,
                            qty_decimals: int = 8, tick_size: int = 1, lot_size: int = 1) -> Instrument:
    """A Binance spot instrument from exchangeInfo-style fields (`BTCUSDT`, `BTC`, `USDT` → `BTC/USDT`).

    Binance spot sends 8-decimal strings ("61737.63000000"), hence the default precision.
    """
    return Instrument(symbol=f"{base}/{quote}", venue="binance", venue_symbol=venue_symbol, base=base,
                      quote=quote, price_decimals=price_decimals, qty_decimals=qty_decimals,
                      tick_size=tick_size, lot_size=lot_size)


# Fields each event must carry, in the order the slow path checks them: (name, kind).
_DEPTH_FIELDS = (("s", "symbol"), ("U", "int"), ("u", "int"), ("pu", "optional int"), ("b", "levels"),
                 ("a", "levels"))
_TRADE_FIELDS = (("s", "symbol"), ("t", "int"), ("p", "price"), ("q", "qty"), ("m", "bool"))
_TICKER_FIELDS = (("s", "symbol"), ("u", "int"), ("b", "price"), ("B", "qty"), ("a", "price"), ("A", "qty"))
_SNAPSHOT_FIELDS = (("lastUpdateId", "int"), ("bids", "levels"), ("asks", "levels"))

_FAST_PATH_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


class BinanceMarketDataCodec:
    """Decodes already-parsed Binance market-data frames of the given instruments.

    `snapshot_symbol` (venue or canonical symbol) names the instrument a bare REST depth snapshot
    belongs to, since its body carries no symbol; a snapshot with no `snapshot_symbol` is malformed.
    """

    one_event_per_frame: Final = True
    """A frame is one event or none (`engine.contracts.SingleEventCodec`): the replay's fastest loop."""

    def __init__(self, instruments: Iterable[Instrument], snapshot_symbol: str | None = None):
        self._parsers: dict[int, FixedParser] = {}
        self._markets: dict[str, MarketParsers] = {}
        self._scanned: dict[str, tuple[str, int, int]] = {}   # what the compiled path needs of each venue symbol
        self._canonical: dict[str, MarketParsers] = {}
        for instrument in instruments:
            self.add_instrument(instrument)
        self._snapshot_market: MarketParsers | None = None
        if snapshot_symbol is not None:
            self._snapshot_market = self._market_of(snapshot_symbol)

    def add_instrument(self, instrument: Instrument) -> None:
        """Decode frames of `instrument` too (instruments can be learned while a recording is read)."""
        market = MarketParsers(instrument, self._parsers)
        self._markets[instrument.venue_symbol] = market
        self._scanned[instrument.venue_symbol] = (instrument.symbol, instrument.price_decimals,
                                                  instrument.qty_decimals)
        self._canonical[instrument.symbol] = market

    def knows(self, venue_symbol: str) -> bool:
        return venue_symbol in self._markets

    def _market_of(self, symbol: str) -> MarketParsers:
        market = self._markets.get(symbol) or self._canonical.get(symbol)
        if market is None:
            raise ValueError(f"snapshot symbol {symbol!r} is not among the instruments")
        return market

    def decode_raw(self, frame: bytes | str, ts_ns: int) -> MarketEvent | None:
        """`decode` of a frame as received or recorded (raw JSON text); bad JSON is a `MalformedFrame` too.

        A plain frame is read by the compiled path where it was built, straight from its bytes; any other, and every
        frame where it was not, is parsed with orjson and decoded here."""
        if _scan is not None:
            event = _scan(frame, ts_ns, self._scanned)
            if event is not None:
                return event  # type: ignore[no-any-return]
        try:
            obj = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"frame is not valid JSON: {exc}") from None
        return self.decode(obj, ts_ns)

    def decode(self, obj: dict, ts_ns: int) -> MarketEvent | None:
        """The event in one frame (combined-stream wrapper or raw payload), or None for frames that carry
        no market event (subscription acks, events of other kinds). Raises `MalformedFrame`."""
        if type(obj) is not dict:
            raise MalformedFrame(f"frame should be a JSON object, got {json_type(obj)}")
        if "stream" in obj:
            data = obj.get("data")
            if type(data) is not dict:
                raise MalformedFrame("combined-stream frame: missing field 'data'" if data is None else
                                     f"combined-stream frame: field 'data' should be an object, "
                                     f"got {json_type(data)}")
        else:
            data = obj
        kind = data.get("e")
        if kind is None:
            if "u" in data:
                return self._ticker(data, ts_ns)
            if "lastUpdateId" in data:
                return self._snapshot(data, ts_ns)
            return None
        if kind == "depthUpdate":
            return self._depth(data, ts_ns)
        if kind == "bookTicker":
            return self._ticker(data, ts_ns)
        if kind == "trade":
            return self._trade(data, ts_ns)
        return None

    def _depth(self, data: dict, ts_ns: int) -> DepthDiff:
        try:
            market = self._markets[data["s"]]
            price, qty = market.price, market.qty
            first_id, last_id, prev_last_id = data["U"], data["u"], data.get("pu", -1)
            bids, asks = data["b"], data["a"]
            if (type(first_id) is not int or type(last_id) is not int or type(prev_last_id) is not int
                    or type(bids) is not list or type(asks) is not list):
                raise TypeError
            return make_depth_diff(market.symbol, ts_ns, first_id, last_id, prev_last_id,
                                   fixed_levels(bids, price, qty), fixed_levels(asks, price, qty))
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose("depthUpdate", data, _DEPTH_FIELDS, exc) from None

    def _trade(self, data: dict, ts_ns: int) -> Trade:
        try:
            market = self._markets[data["s"]]
            trade_id, buyer_is_maker = data["t"], data["m"]
            if type(trade_id) is not int or type(buyer_is_maker) is not bool:
                raise TypeError
            return make_trade(market.symbol, ts_ns, trade_id, market.price[data["p"]], market.qty[data["q"]],
                         _SELL if buyer_is_maker else _BUY)
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose("trade", data, _TRADE_FIELDS, exc) from None

    def _ticker(self, data: dict, ts_ns: int) -> TopOfBook:
        try:
            market = self._markets[data["s"]]
            price, qty = market.price, market.qty
            update_id = data["u"]
            if type(update_id) is not int:
                raise TypeError
            return make_top_of_book(market.symbol, ts_ns, update_id, price[data["b"]], qty[data["B"]],
                             price[data["a"]], qty[data["A"]])
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose("bookTicker", data, _TICKER_FIELDS, exc) from None

    def decode_rest(self, url: str, obj: Any, ts_ns: int) -> BookSnapshot | None:
        """A recorded REST response: the depth snapshot of the `symbol=` its URL asked for (None for others)."""
        parts = urlsplit(url)
        if not parts.path.endswith("/depth"):
            return None
        symbol = parse_qs(parts.query).get("symbol", [""])[0]
        if not symbol:
            raise MalformedFrame(f"REST depth response from {url} names no symbol")
        return self.decode_snapshot(obj, ts_ns, symbol)

    def decode_snapshot(self, obj: Any, ts_ns: int, symbol: str) -> BookSnapshot:
        """A REST depth snapshot whose instrument is known from the request (`symbol=` of its URL)."""
        if type(obj) is not dict:
            raise MalformedFrame(f"depth snapshot should be a JSON object, got {json_type(obj)}")
        try:
            market = self._market_of(symbol)
        except ValueError as exc:
            raise UnknownSymbol(f"depth snapshot: {exc}") from None
        return self._snapshot(obj, ts_ns, market)

    def _snapshot(self, data: dict, ts_ns: int, market: MarketParsers | None = None) -> BookSnapshot:
        market = market or self._snapshot_market
        if market is None:
            raise MalformedFrame("depth snapshot: the codec was given no snapshot_symbol to file it under")
        try:
            price, qty = market.price, market.qty
            last_update_id, bids, asks = data["lastUpdateId"], data["bids"], data["asks"]
            if type(last_update_id) is not int or type(bids) is not list or type(asks) is not list:
                raise TypeError
            return BookSnapshot(market.symbol, ts_ns, last_update_id, fixed_levels(bids, price, qty),
                                fixed_levels(asks, price, qty))
        except _FAST_PATH_ERRORS as exc:
            raise self._diagnose("depth snapshot", data, _SNAPSHOT_FIELDS, exc, market) from None

    def _diagnose(self, event: str, data: Mapping[str, Any], fields: tuple[tuple[str, str], ...],
                  exc: Exception, market: MarketParsers | None = None) -> MalformedFrame:
        """The slow path: walk the frame again and name the first field that is wrong."""
        for name, kind in fields:
            if name not in data:
                if kind == "optional int":
                    continue
                return MalformedFrame(f"{event}: missing field {name!r}")
            value = data[name]
            where = f"{event}: field {name!r}"
            if kind == "symbol":
                if type(value) is not str:
                    return MalformedFrame(f"{where} should be a string, got {json_type(value)}")
                market = self._markets.get(value)
                if market is None:
                    return UnknownSymbol(f"{where}: unknown venue symbol {value!r}")
            elif kind in ("int", "optional int"):
                if type(value) is not int:
                    return MalformedFrame(f"{where} should be an integer, got {json_type(value)}")
            elif kind == "bool":
                if type(value) is not bool:
                    return MalformedFrame(f"{where} should be a boolean, got {json_type(value)}")
            elif kind == "levels":
                problem = level_problem(value, market)
                if problem:
                    return MalformedFrame(f"{where}{problem}")
            else:
                parser = market.price if kind == "price" else market.qty
                problem = number_problem(value, parser.decimals)
                if problem:
                    return MalformedFrame(f"{where} {problem}")
        return MalformedFrame(f"{event}: {type(exc).__name__}: {exc}")

