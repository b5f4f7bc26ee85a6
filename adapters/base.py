"""What every venue adapter shares: the vocabulary of book synchronisation and of refused frames.

Each venue keeps its books in step with its own rules (`adapters/<venue>/book_sync.py`) and decodes its own
frames (`adapters/<venue>/market_data.py`), but they all answer the book actor, the verifier and the tests
in the same words: a `SyncResult`, or a `MalformedFrame` that names the field that is wrong.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import orjson

from engine.messages import BookState
from engine.model.book import OrderBook
from engine.model.numbers import FixedParser, Instrument, parse_fixed


class SyncResult(enum.Enum):
    """What one event did to the book."""
    APPLIED = "applied"                    # a diff changed the live book
    BUFFERED = "buffered"                  # held until a snapshot arrives
    IGNORED = "ignored"                    # older than the book (or a snapshot while live)
    LOADED = "loaded"                      # a snapshot (and the buffered diffs after it) made the book live
    SNAPSHOT_TOO_OLD = "snapshot_too_old"  # the snapshot ends before the buffered diffs begin: fetch again
    GAP = "gap"                            # diffs are missing: book dropped, fetch a snapshot
    TOP_MISMATCH = "top_mismatch"          # the venue's top of book disagrees: book dropped, fetch a snapshot
    CHECKSUM_MISMATCH = "checksum_mismatch"  # the venue's checksum disagrees: book dropped, resync
    CROSSED = "crossed"                    # the book would be crossed: book dropped, resync

    @property
    def needs_snapshot(self) -> bool:
        return self in (SyncResult.SNAPSHOT_TOO_OLD, SyncResult.GAP, SyncResult.TOP_MISMATCH,
                        SyncResult.CHECKSUM_MISMATCH, SyncResult.CROSSED)


class MalformedFrame(ValueError):
    """A frame that cannot be decoded; the message names the event and the field that is wrong."""


class UnknownSymbol(MalformedFrame):
    """A well-formed frame for a venue symbol the codec was not given an instrument for."""


class MarketParsers:
    """What decoding needs about one venue symbol: its canonical name and its number parsers (shared by
    every instrument of the same precision, so that their caches are too)."""

    __slots__ = ("symbol", "price", "qty")

    def __init__(self, instrument: Instrument, parsers: dict[int, FixedParser]):
        self.symbol = instrument.symbol
        self.price = parsers.setdefault(instrument.price_decimals, FixedParser(instrument.price_decimals))
        self.qty = parsers.setdefault(instrument.qty_decimals, FixedParser(instrument.qty_decimals))


def number_problem(text: Any, decimals: int) -> str:
    """What is wrong with a decimal string for `decimals` places, or '' when nothing is."""
    if type(text) is not str:
        return f"should be a decimal string, got {json_type(text)}"
    if text.startswith("-"):
        return f"is negative: {text!r}"
    try:
        parse_fixed(text, decimals)
    except ValueError as exc:
        return f"is a bad number: {exc}"
    return ""


def json_type(value: Any) -> str:
    names = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}
    if value is None:
        return "null"
    return names.get(type(value), type(value).__name__)


def level_problem(levels: Any, market: MarketParsers, shape: str = "[price, qty] pair", width: int = 2,
                  qty_word: str = "qty") -> str:
    """What is wrong with a list of levels of `width` elements (price and quantity strings first), or ''."""
    if type(levels) is not list:
        return f" should be a list of {shape}s, got {json_type(levels)}"
    for index, level in enumerate(levels):
        if type(level) is not list:
            return f", level {index}: should be a {shape}, got {json_type(level)}"
        if len(level) != width:
            return f", level {index}: should be a {shape}, got {len(level)} elements"
        for text, parser, what in ((level[0], market.price, "price"), (level[1], market.qty, qty_word)):
            problem = number_problem(text, parser.decimals)
            if problem:
                return f", level {index}: {what} {problem}"
    return ""


class InstrumentCodec:
    """What every venue codec keeps: its instruments by venue symbol, with number parsers shared per precision.

    Subclasses implement `decode(obj, ts_ns)`; `decode_raw` is the same for frames as received.
    """

    def __init__(self, instruments: Iterable[Instrument]):
        self._parsers: dict[int, FixedParser] = {}
        self._markets: dict[str, MarketParsers] = {}
        for instrument in instruments:
            self.add_instrument(instrument)

    def add_instrument(self, instrument: Instrument) -> None:
        """Decode frames of `instrument` too (a verifier learns instruments as a recording names them)."""
        self._markets[instrument.venue_symbol] = MarketParsers(instrument, self._parsers)

    def knows(self, venue_symbol: str) -> bool:
        return venue_symbol in self._markets

    def decode(self, obj: Any, ts_ns: int) -> Any:
        raise NotImplementedError

    def decode_raw(self, frame: bytes | str, ts_ns: int) -> Any:
        """`decode` of a frame as received or recorded (raw JSON text); bad JSON is a `MalformedFrame` too."""
        try:
            obj = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise MalformedFrame(f"frame is not valid JSON: {exc}") from None
        return self.decode(obj, ts_ns)


class BookSyncBase:
    """What every venue's book sync keeps: the book, its health, the venue id it is at, resyncs by cause.

    A venue's sync adds its own rules (`on_snapshot`, `on_diff`); a book that can no longer be trusted is
    dropped whole by `invalidate` and waits for a fresh snapshot: never patched.

    The integrity counters every sync has, so that a run sums them over any venue: a venue counts those it has
    a signal for (checksums, a top-of-book stream), the rest stay 0.
    """
    checksums_ok = 0
    checksums_failed = 0
    tops_checked = 0
    top_mismatches = 0

    def __init__(self, instrument: str):
        self.instrument = instrument
        self.book = OrderBook()
        self.state = BookState.SYNCING
        self.resyncs: dict[str, int] = {}
        self._book_id = -1

    @property
    def last_update_id(self) -> int | None:
        """The venue update id the live book is at, None while not live."""
        return self._book_id if self.state is BookState.LIVE else None

    @property
    def gaps(self) -> int:
        return self.resyncs.get("gap", 0)

    def invalidate(self, cause: str) -> None:
        """Drop the book (it can no longer be trusted) and wait for a new snapshot; counted by cause."""
        self.book.clear()
        self.state = BookState.STALE
        self.resyncs[cause] = self.resyncs.get(cause, 0) + 1

    def _load(self, snapshot: Any) -> None:
        """Make `snapshot` the live book, at its update id."""
        self._check_instrument(snapshot.instrument)
        self.book.load(snapshot.bids, snapshot.asks)
        self._book_id = snapshot.last_update_id
        self.state = BookState.LIVE

    def _check_instrument(self, instrument: str) -> None:
        if instrument != self.instrument:
            raise ValueError(f"{instrument} event given to the book sync of {self.instrument}")
