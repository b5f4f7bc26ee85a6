"""Keeping one Kraken order book in step with its `book` channel, checked by Kraken's CRC32 (venues.md §3.1).

It exists apart from the book actor so that the rules that decide whether a Kraken book can be trusted are
pure code, held against real recordings. Kraken sends no sequence numbers:

- A snapshot (on subscribe, and again whenever Kraken chooses) replaces the book, live or not.
- An update sets levels in order (quantity 0 deletes). After every message the book is cut to the
  subscribed depth, since Kraken sends no delete for a level pushed out of scope.
- Integrity comes from the checksum alone, sent with each update (v2: with the snapshot too; a snapshot
  without one is taken unchecked): the CRC32 of the best 10 asks ascending then the best 10 bids
  descending, each level written as price then quantity, in the pair's wire form with '.' removed and
  leading zeros stripped.

The book holds integers, so the wire form is rebuilt from them, and the sync must know its precision:
for v2 the pair's `price_precision`/`qty_precision` (AssetPairs `pair_decimals`/`lot_decimals`, the
instrument's own units); for v1 the precision of the strings as sent, which AssetPairs does not give
(`KrakenMarketDataCodec.wire_decimals` reads it from the snapshot). For a positive integer written at a
precision, "remove the '.', strip leading zeros" leaves just its decimal digits, so a level's part of the
string is `str(value)` after scaling from the instrument's units to the wire's.

On a checksum mismatch or a crossed book, the book is dropped (STALE) and updates are ignored until the
next snapshot, which the actor obtains by resubscribing: never patched.
"""
from __future__ import annotations

from zlib import crc32

from engine.contracts import SyncResult
from engine.messages import BookSnapshot, BookState, DepthDiff, TopOfBook
from engine.model.book import OrderBook
from engine.model.numbers import Instrument

CHECKSUM_DEPTH = 10
_LIVE = BookState.LIVE
_APPLIED = SyncResult.APPLIED
_LOADED = SyncResult.LOADED
_MAX_CACHED_TEXTS = 200_000


class _KrakenBook(OrderBook):
    """An `OrderBook` that writes the text Kraken's checksum is computed over."""

    __slots__ = ()

    def checksum_text(self, price_text: _WireDigits, qty_text: _WireDigits) -> str:
        """The best 10 asks ascending then the best 10 bids descending, each level as price then quantity."""
        bids, asks = self.top(CHECKSUM_DEPTH)
        return "".join([price_text[price] + qty_text[qty] for price, qty in asks]
                       + [price_text[price] + qty_text[qty] for price, qty in bids])


class _WireDigits(dict):
    """The checksum's text of a value in instrument units, as a dictionary that fills itself: `digits[value]`.

    The digits of the value counted in units of the wire precision (for a positive value, exactly the wire
    string with '.' removed and leading zeros stripped). Cleared whole when it reaches its size.
    """

    __slots__ = ("_multiplier", "_divisor")

    def __init__(self, units: int, wire: int):
        super().__init__()
        self._multiplier = 10 ** max(wire - units, 0)
        self._divisor = 10 ** max(units - wire, 0)

    def __missing__(self, value: int) -> str:
        if len(self) >= _MAX_CACHED_TEXTS:
            self.clear()
        text = self[value] = str(value * self._multiplier // self._divisor)
        return text


class KrakenBookSync:
    """The book of one instrument and the rules that keep it in step with Kraken's `book` channel.

    `depth` is the subscribed depth; `price_decimals`/`qty_decimals` the wire precision of the checksum's
    text (default: the instrument's units, right for v2). `instrument.symbol` names the book
    (`self.instrument`). Counters for metrics: `checksums_ok`, `checksums_failed`, `resyncs` (by cause:
    "checksum_mismatch", "crossed", or whatever `invalidate` was given) and `diffs_ignored` (updates that
    arrived while there was no live book).
    """

    def __init__(self, instrument: Instrument, depth: int, price_decimals: int | None = None,
                 qty_decimals: int | None = None):
        if depth < CHECKSUM_DEPTH:
            raise ValueError(f"depth {depth} is below Kraken's smallest book depth, {CHECKSUM_DEPTH}")
        self.instrument = instrument.symbol
        self.depth = depth
        self.book = _KrakenBook()
        self.state = BookState.SYNCING
        self.resyncs: dict[str, int] = {}
        self.checksums_ok = 0
        self.checksums_failed = 0
        self.tops_checked = 0     # Kraken sends no top of book of its own: nothing to compare
        self.top_mismatches = 0
        self.diffs_ignored = 0
        self._version = 0
        self._price_text = _WireDigits(instrument.price_decimals,
                                       instrument.price_decimals if price_decimals is None else price_decimals)
        self._qty_text = _WireDigits(instrument.qty_decimals,
                                     instrument.qty_decimals if qty_decimals is None else qty_decimals)

    @property
    def last_update_id(self) -> int | None:
        """How many messages the sync has applied (Kraken has no ids of its own), None while not live."""
        return self._version if self.state is _LIVE else None

    @property
    def gaps(self) -> int:
        """0: Kraken's book channel has no sequence numbers, so no gap can be seen (its checksum catches
        what a lost update does to the book)."""
        return 0

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Replace the book with a snapshot (live or not: a new snapshot always restarts the book)."""
        self._check_instrument(snapshot.instrument)
        self.book.load(snapshot.bids, snapshot.asks)
        self.state = _LIVE
        return self._verify(snapshot.checksum, _LOADED)

    def on_diff(self, diff: DepthDiff) -> SyncResult:
        """Apply an update to the live book; ignored (and counted) while there is no live book."""
        if diff.instrument != self.instrument:
            self._check_instrument(diff.instrument)
        if self.state is not _LIVE:
            self.diffs_ignored += 1
            return SyncResult.IGNORED
        self.book.apply(diff.bids, diff.asks)
        return self._verify(diff.checksum, _APPLIED)

    def checksum(self) -> int:
        """Kraken's CRC32 of the book as it is now."""
        return crc32(self.book.checksum_text(self._price_text, self._qty_text).encode())

    def check_top(self, top: TopOfBook) -> None:
        """None: Kraken sends no top of book that shares the book's updates, so none is compared."""
        return None

    def invalidate(self, cause: str) -> None:
        """Drop the book (it can no longer be trusted) and wait for a new snapshot; counted by cause."""
        self.book.clear()
        self.state = BookState.STALE
        self.resyncs[cause] = self.resyncs.get(cause, 0) + 1

    def _verify(self, expected: int | None, result: SyncResult) -> SyncResult:
        """Cut the book to depth, then hold it to the venue's checksum (where sent) and to not being crossed."""
        book = self.book
        book.truncate(self.depth)
        self._version += 1
        if expected is not None:
            if self.checksum() != expected:
                self.checksums_failed += 1
                self.invalidate("checksum_mismatch")
                return SyncResult.CHECKSUM_MISMATCH
            self.checksums_ok += 1
        if book.is_crossed():
            self.invalidate("crossed")
            return SyncResult.CROSSED
        return result

    def _check_instrument(self, instrument: str) -> None:
        if instrument != self.instrument:
            raise ValueError(f"{instrument} event given to the book sync of {self.instrument}")
