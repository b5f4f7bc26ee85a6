"""`verify-feed`: replay a recording through a venue's codec and book sync, and say whether it holds.

Every integrity signal the venue offers is checked on every event: sequence chains (gaps), checksums,
the venue's own top of book where it shares update ids with the depth stream, and crossed books. The
summary counts them; the recording is consistent when none failed.

Recordings rarely come with instrument metadata, so the verifier learns instruments as it meets them and
names them by venue symbol, at the finest precision the venue sends (8 decimals on Binance).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.kraken.book_sync import KrakenBookSync
from adapters.kraken.instruments import canonical_asset, kraken_instruments
from adapters.kraken.market_data import KrakenMarketDataCodec, loads_exact
from adapters.registry import VenueParts, venue
from engine.contracts import BookSync, MalformedFrame, SyncResult
from engine.messages import BookSnapshot, DepthDiff, TopOfBook
from engine.model.numbers import Instrument
from engine.replay.recording import MALFORMED, OPEN, WEBSOCKET, Record, read_recording


class UnusableInput(ValueError):
    """The recording cannot be verified at all (not a format we read, not this venue's)."""


@dataclass
class FeedSummary:
    venue: str
    messages: int = 0
    malformed: int = 0
    instruments: set[str] = field(default_factory=set)
    checksums_ok: int = 0
    checksums_failed: int = 0
    sequence_gaps: int = 0
    resyncs: Counter[str] = field(default_factory=Counter)
    crossed_books: int = 0
    top_of_book_checked: int = 0
    top_of_book_mismatched: int = 0
    events: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # the first malformed frames, said where

    @property
    def foreign(self) -> bool:
        """Most messages are not frames of the venue named: the recording is another venue's (or no market
        data at all), and the few frames that happen to parse vouch for nothing."""
        return self.malformed * 2 > self.messages

    @property
    def consistent(self) -> bool:
        return not (self.checksums_failed or self.sequence_gaps or self.crossed_books
                    or self.top_of_book_mismatched or self.foreign)

    def as_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue, "messages": self.messages, "malformed": self.malformed,
            "instruments": len(self.instruments), "checksums_ok": self.checksums_ok,
            "checksums_failed": self.checksums_failed, "sequence_gaps": self.sequence_gaps,
            "resyncs": dict(sorted(self.resyncs.items())), "crossed_books": self.crossed_books,
            "top_of_book_checked": self.top_of_book_checked,
            "top_of_book_mismatched": self.top_of_book_mismatched,
            "events": dict(sorted(self.events.items())), "foreign": self.foreign, "consistent": self.consistent,
        }


class VenueVerifier(Protocol):
    def reconnected(self) -> None:
        """A new connection: a break in each chain right after it is the outage, repaired by a resync,
        not a fault of the venue's; it is counted under resyncs as "reconnect"."""

    def feed(self, record: Record) -> None:
        """Decode and apply one record; raise `MalformedFrame` for a frame the venue would not send."""

    def finish(self, summary: FeedSummary) -> None:
        """Add the books' counters to the summary."""


class BinanceVerifier:
    """Binance spot (and Binance.US / TR) and USD-M / COIN-M futures: U/u and pu chains, bookTicker oracle."""

    def __init__(self, summary: FeedSummary):
        self.summary = summary
        self.codec = BinanceMarketDataCodec([])   # its own: an inline snapshot is decoded for the one symbol
        self.book_sync = venue("binance").book_sync
        self.syncs: dict[str, BookSync] = {}
        self.after_reconnect: set[str] = set()
        self.reconnect_gaps = 0

    def reconnected(self) -> None:
        self.after_reconnect = set(self.syncs)

    def _learn(self, venue_symbol: str) -> None:
        if venue_symbol and not self.codec.knows(venue_symbol):
            instrument = Instrument(venue_symbol, "binance", venue_symbol, "", "", 8, 8)
            self.codec.add_instrument(instrument)
            self.syncs[venue_symbol] = self.book_sync(instrument)
            self.summary.instruments.add(venue_symbol)

    def feed(self, record: Record) -> None:
        ts, source, payload = record
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"not valid JSON: {exc}") from None
        if source != WEBSOCKET:
            symbol = parse_qs(urlsplit(source).query).get("symbol", [""])[0]
            self._learn(symbol)
            event = self.codec.decode_rest(source, obj, ts)
            if event is not None:
                self._apply(event)
            return
        data = obj.get("data", obj) if type(obj) is dict else obj
        if type(data) is dict:
            symbol = data.get("s")
            if type(symbol) is str:
                self._learn(symbol)
            elif "lastUpdateId" in data:  # a snapshot recorded inline: the capture's one symbol
                if len(self.syncs) != 1:
                    raise MalformedFrame("inline depth snapshot in a recording of "
                                         f"{len(self.syncs)} symbols: cannot tell whose it is")
                self._apply(self.codec.decode_snapshot(data, ts, next(iter(self.syncs))))
                return
        event = self.codec.decode(obj, ts)
        if event is not None:
            self._apply(event)

    def _apply(self, event: Any) -> None:
        summary = self.summary
        kind = type(event)
        summary.events[kind.__name__] += 1
        sync = self.syncs.get(event.instrument)
        if kind is DepthDiff:
            result = sync.on_diff(event)
            if result is SyncResult.APPLIED:
                self.after_reconnect.discard(event.instrument)
                if sync.book.is_crossed():
                    summary.crossed_books += 1
                    sync.invalidate("crossed")
            elif result is SyncResult.GAP and event.instrument in self.after_reconnect:
                self.after_reconnect.discard(event.instrument)
                self.reconnect_gaps += 1
        elif kind is BookSnapshot:
            sync.on_snapshot(event)
        elif kind is TopOfBook:
            sync.check_top(event)

    def finish(self, summary: FeedSummary) -> None:
        for sync in self.syncs.values():
            summary.sequence_gaps += sync.gaps
            summary.top_of_book_checked += sync.tops_checked
            summary.top_of_book_mismatched += sync.top_mismatches
            summary.resyncs.update(sync.resyncs)
        if self.reconnect_gaps:  # breaks at a reconnection are the outage, not the venue's fault
            summary.sequence_gaps -= self.reconnect_gaps
            summary.resyncs["gap"] -= self.reconnect_gaps
            summary.resyncs["reconnect"] += self.reconnect_gaps
            summary.resyncs += Counter()  # drop the causes that came to zero


class KrakenVerifier:
    """Kraken WS v1 and v2 books: CRC32 over the top 10 levels on every message, crossed books.

    Instruments come from AssetPairs where the recording holds it (cryptofeed's `KRAKEN.0`), else from the
    pair names the frames carry (v1 `wsname`, v2 symbol: Kraken's own BASE/QUOTE, with its asset aliases).
    The checksum is over the numbers as written: v1 precision is read from each snapshot's strings, v2
    precision (JSON numbers lose trailing zeros) from the finest number of the first snapshot unless
    AssetPairs gave it. The depth is the subscribed one (`book-1000` in v1 frames, the subscription
    answer in v2), 10 by default.
    """

    def __init__(self, summary: FeedSummary):
        self.summary = summary
        self.codec = KrakenMarketDataCodec([])
        self.metadata: dict[str, Instrument] = {}
        self.syncs: dict[str, KrakenBookSync] = {}
        self._made_for: dict[str, tuple] = {}  # instrument → (depth, wire decimals) its sync was made for
        self.depth = 10

    def reconnected(self) -> None:
        """Kraken resends a snapshot on every subscription: nothing carries over a connection."""

    def feed(self, record: Record) -> None:
        ts, source, payload = record
        if source != WEBSOCKET:
            if "AssetPairs" in source:
                for inst in kraken_instruments(orjson.loads(payload)["result"]):
                    self.metadata[inst.venue_symbol] = self.metadata[inst.symbol] = inst
            return
        obj = loads_exact(payload) if not payload.lstrip().startswith(b"[") else orjson.loads(payload)
        self._learn(obj)
        for event in self.codec.decode(obj, ts):
            self._apply(event)

    def _learn(self, obj: Any) -> None:
        """Note the depth a frame states, and make the instruments of pairs not seen before."""
        if type(obj) is list and len(obj) >= 4 and type(obj[-1]) is str:  # v1: [..., "book-1000", "XBT/USD"]
            if type(obj[-2]) is str and obj[-2].startswith("book-") and obj[-2][5:].isdigit():
                self.depth = int(obj[-2][5:])
            self._instrument(obj[-1], None)
        elif type(obj) is dict:
            result = obj.get("result")
            if type(result) is dict and result.get("channel") == "book" and str(result.get("depth", "")).isdigit():
                self.depth = int(result["depth"])
            if obj.get("channel") == "book" and type(obj.get("data")) is list:
                for entry in obj["data"]:
                    if type(entry) is dict and type(entry.get("symbol")) is str:
                        self._instrument(entry["symbol"], entry)

    def _instrument(self, name: str, v2_entry: dict | None) -> None:
        if self.codec.knows(name) or "/" not in name:
            return
        inst = self.metadata.get(name)
        if inst is None:
            base, _, quote = name.partition("/")
            base, quote = canonical_asset(base), canonical_asset(quote)
            price_decimals, qty_decimals = _finest(v2_entry) if v2_entry else (12, 12)
            inst = Instrument(f"{base}/{quote}", "kraken", name, base, quote, price_decimals, qty_decimals)
        self.codec.add_instrument(inst)
        self.metadata[inst.symbol] = inst
        self.summary.instruments.add(inst.symbol)

    def _apply(self, event: Any) -> None:
        summary = self.summary
        summary.events[type(event).__name__] += 1
        sync = self.syncs.get(event.instrument)
        if type(event) is BookSnapshot:
            made_for = (self.depth, self.codec.wire_decimals(event.instrument) or (None, None))
            if sync is None or self._made_for[event.instrument] != made_for:
                sync = self.syncs[event.instrument] = KrakenBookSync(self.metadata[event.instrument],
                                                                     made_for[0], *made_for[1])
                self._made_for[event.instrument] = made_for
            result = sync.on_snapshot(event)
        elif sync is None:
            raise MalformedFrame(f"update of {event.instrument} before its snapshot")
        else:
            result = sync.on_diff(event)
        if result is SyncResult.CROSSED:
            summary.crossed_books += 1

    def finish(self, summary: FeedSummary) -> None:
        for sync in self.syncs.values():
            summary.checksums_ok += sync.checksums_ok
            summary.checksums_failed += sync.checksums_failed
            summary.resyncs.update(sync.resyncs)


class BookPerInstrumentVerifier:
    """OKX, Bybit and Coinbase: the venue's codec and book sync, as registered, one sync per instrument.

    The integrity signals are the venues' own: OKX's seqId chain and CRC32, Bybit's `u` chain, Coinbase's
    `sequence_num` (checked by its codec, per connection). Instruments are learned from the frames, named
    by venue symbol, at 12 decimals: finer than any string these venues send, and their checksums are
    over the shortest form of each number whatever the units.
    """

    def __init__(self, summary: FeedSummary, parts: VenueParts, symbols_of: Callable[[Any], list[str]]):
        self.summary = summary
        self.codec = parts.codec([], None)
        self.sync_factory = parts.book_sync
        self.symbols_of = symbols_of
        self.syncs: dict[str, BookSync] = {}

    def reconnected(self) -> None:
        """These venues send a fresh snapshot on every subscription: nothing carries over a connection."""

    def feed(self, record: Record) -> None:
        ts, source, payload = record
        if source != WEBSOCKET:
            return
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"not valid JSON: {exc}") from None
        for symbol in self.symbols_of(obj):
            if type(symbol) is str and symbol and not self.codec.knows(symbol):
                instrument = Instrument(symbol, self.summary.venue, symbol, "", "", 12, 12)
                self.codec.add_instrument(instrument)
                self.syncs[symbol] = self.sync_factory(instrument)
                self.summary.instruments.add(symbol)
        for event in self.codec.decode(obj, ts):
            kind = type(event)
            self.summary.events[kind.__name__] += 1
            if kind is DepthDiff:
                result = self.syncs[event.instrument].on_diff(event)
            elif kind is BookSnapshot:
                result = self.syncs[event.instrument].on_snapshot(event)
            else:
                continue
            if result is SyncResult.CROSSED:
                self.summary.crossed_books += 1

    def finish(self, summary: FeedSummary) -> None:
        summary.sequence_gaps += getattr(self.codec, "sequence_gaps", 0)
        for sync in self.syncs.values():
            summary.sequence_gaps += sync.gaps
            summary.checksums_ok += sync.checksums_ok
            summary.checksums_failed += sync.checksums_failed
            summary.resyncs.update(sync.resyncs)


def _okx_symbols(obj: Any) -> list[str]:
    arg = obj.get("arg") if type(obj) is dict else None
    return [arg.get("instId")] if type(arg) is dict else []


def _bybit_symbols(obj: Any) -> list[str]:
    data = obj.get("data") if type(obj) is dict else None
    if type(data) is dict:
        return [data.get("s")]
    topic = obj.get("topic") if type(obj) is dict else None
    return [topic.rsplit(".", 1)[-1]] if type(topic) is str and "." in topic else []


def _coinbase_symbols(obj: Any) -> list[str]:
    if type(obj) is not dict:
        return []
    if "product_id" in obj:
        return [obj["product_id"]]
    events = obj.get("events")
    return [e.get("product_id") for e in events if type(e) is dict] if type(events) is list else []


def _finest(entry: dict) -> tuple[int, int]:
    """(price, qty) decimals of the finest number in a v2 book entry, read as exact text."""
    places = []
    for key in ("price", "qty"):
        texts = [level.get(key) for side in ("bids", "asks") for level in entry.get(side, []) if type(level) is dict]
        places.append(max((-Decimal(t).as_tuple().exponent for t in texts if type(t) is str), default=0))
    return max(places[0], 0), max(places[1], 0)


VERIFIERS: dict[str, Any] = {
    "binance": BinanceVerifier,
    "binance-usdm": BinanceVerifier,
    "binance-coinm": BinanceVerifier,
    "kraken": KrakenVerifier,
    "okx": lambda summary: BookPerInstrumentVerifier(summary, venue("okx"), _okx_symbols),
    "bybit": lambda summary: BookPerInstrumentVerifier(summary, venue("bybit"), _bybit_symbols),
    "coinbase": lambda summary: BookPerInstrumentVerifier(summary, venue("coinbase"), _coinbase_symbols),
}
VENUES = ("binance", "binance-usdm", "binance-coinm", "coinbase", "kraken", "okx", "bybit")


def verify(paths: list[Path], venue: str, max_logged: int = 20) -> FeedSummary:
    """Replay `paths` as one recording of `venue`. Raises `UnusableInput`, `FileNotFoundError`,
    `RecordingFormatError` (`RecordingTruncated` for a recording cut short)."""
    if venue not in VERIFIERS:
        raise UnusableInput(f"venue {venue!r} cannot be verified yet; verifiable: {', '.join(VERIFIERS)}")
    summary = FeedSummary(venue)
    verifier: VenueVerifier = VERIFIERS[venue](summary)
    problems = summary.problems
    for record in read_recording(paths):
        source = record[1]
        if source == OPEN:
            verifier.reconnected()
            continue
        summary.messages += 1
        try:
            if source == MALFORMED:  # a line that could not be read: its payload says where and why
                raise MalformedFrame(record[2].decode())
            verifier.feed(record)
        except MalformedFrame as exc:
            summary.malformed += 1
            if len(problems) < max_logged:
                problems.append(f"message {summary.messages}: {exc}")
    verifier.finish(summary)
    return summary
