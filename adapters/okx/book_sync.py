"""Keeping one OKX order book in step with its `books` channel: the sync rules of venues.md §5.1 and §0.4.

It exists apart from the book actor so that the rules that decide whether a book can be trusted are pure
code, checked against a real recording. OKX sends the snapshot on the same stream as the updates, so
there is nothing to buffer or bracket: the snapshot (re)starts the book, and each update must continue it.

- Sequence: an update's `prevSeqId` must equal the `seqId` the book is at, else a gap. This one rule
  also covers OKX's keep-alive (`prevSeqId == seqId`, no levels) and its sequence reset (`seqId` below
  `prevSeqId`, accepted: the book continues from the new `seqId`). Recordings made before seqId existed
  carry -1 everywhere (see the codec), which chains trivially.
- Checksum (legacy): the signed CRC32 of the top 25 levels, interleaved `bid:ask` as `price:size` in
  the venue's own text. The book holds integers, so the text is rebuilt from them: OKX writes every number
  in its shortest form ("30316", "0.5", never "30316.0"), which `format_fixed` with the trailing zeros
  stripped reproduces exactly. A checksum of None (0 on the wire since 2026-06-23) is not checked.

On a gap or a checksum mismatch the book is cleared and STALE, and updates are ignored until the next
snapshot (which the actor obtains by resubscribing): never patched. A crossed book is not treated as an
error here: the checksum is the venue's own proof, and OKX's call auctions (pre-open) may cross.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence

from adapters.base import BookSyncBase
from engine.contracts import SyncResult
from engine.messages import BookSnapshot, BookState, DepthDiff
from engine.model.numbers import Instrument, format_fixed

CHECKSUM_DEPTH = 25
_LIVE = BookState.LIVE
_SIGN_BIT = 1 << 31
_MAX_CACHED_TEXTS = 200_000


def okx_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """OKX's legacy book checksum of (price, size) texts, best first, already cut to the top 25 levels.

    The levels are interleaved `bid1:ask1:bid2:ask2:…`; when one side is shorter the rest of the other
    follows. The CRC32 of that string is read as a signed 32-bit integer.
    """
    parts: list[str] = []
    n_bids, n_asks = len(bids), len(asks)
    for index in range(max(n_bids, n_asks)):
        if index < n_bids:
            parts.extend(bids[index])
        if index < n_asks:
            parts.extend(asks[index])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= _SIGN_BIT else crc


class _WireText(dict):
    """OKX's text of a fixed-point value, as a dictionary that fills itself: `text[value]`.

    The shortest decimal form: `format_fixed` without trailing fractional zeros (and without a bare dot).
    Bounded like `FixedParser`: cleared whole when it reaches its size.
    """

    __slots__ = ("decimals",)

    def __init__(self, decimals: int):
        super().__init__()
        self.decimals = decimals

    def __missing__(self, value: int) -> str:
        text = format_fixed(value, self.decimals)
        if self.decimals:
            text = text.rstrip("0").rstrip(".")
        if len(self) >= _MAX_CACHED_TEXTS:
            self.clear()
        self[value] = text
        return text


class OkxBookSync(BookSyncBase):
    """The book of one instrument and the rules that keep it in step with OKX's `books` channel.

    `instrument.symbol` names the book (`self.instrument`); its precisions rebuild the checksum's text.
    Counters for metrics: `resyncs` (by cause: "gap", "checksum_mismatch", or whatever `invalidate` was
    given), `checksums_ok` and `checksums_failed`.
    """

    def __init__(self, instrument: Instrument):
        super().__init__(instrument.symbol)
        self._price_text = _WireText(instrument.price_decimals)
        self._qty_text = _WireText(instrument.qty_decimals)

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult:
        """Replace the book with a snapshot (live or not: a new snapshot always restarts the book)."""
        self._load(snapshot)
        if snapshot.checksum is not None and not self._checksum_matches(snapshot.checksum):
            return SyncResult.CHECKSUM_MISMATCH
        return SyncResult.LOADED

    def on_diff(self, diff: DepthDiff) -> SyncResult:
        """Apply an update to the live book if it continues it; ignored while there is no live book."""
        if diff.instrument != self.instrument:
            self._check_instrument(diff.instrument)
        if self.state is not _LIVE:
            return SyncResult.IGNORED
        if diff.prev_last_id != self._book_id:
            self.invalidate("gap")
            return SyncResult.GAP
        self.book.apply(diff.bids, diff.asks)
        self._book_id = diff.last_id
        if diff.checksum is not None and not self._checksum_matches(diff.checksum):
            return SyncResult.CHECKSUM_MISMATCH
        return SyncResult.APPLIED

    def checksum(self) -> int:
        """OKX's checksum of the book as it is now."""
        bids, asks = self.book.top(CHECKSUM_DEPTH)
        price, qty = self._price_text, self._qty_text
        return okx_checksum([(price[p], qty[q]) for p, q in bids], [(price[p], qty[q]) for p, q in asks])

    def _checksum_matches(self, expected: int) -> bool:
        if self.checksum() == expected:
            self.checksums_ok += 1
            return True
        self.checksums_failed += 1
        self.invalidate("checksum_mismatch")
        return False
