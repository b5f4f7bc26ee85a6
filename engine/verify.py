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
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from adapters.base import SyncResult
from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.market_data import BinanceMarketDataCodec, MalformedFrame
from engine.messages import BookSnapshot, DepthDiff, TopOfBook
from engine.model.numbers import Instrument
from engine.replay.recording import OPEN, WEBSOCKET, Record, read_recording


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
    def consistent(self) -> bool:
        return not (self.checksums_failed or self.sequence_gaps or self.crossed_books
                    or self.top_of_book_mismatched)

    def as_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue, "messages": self.messages, "malformed": self.malformed,
            "instruments": len(self.instruments), "checksums_ok": self.checksums_ok,
            "checksums_failed": self.checksums_failed, "sequence_gaps": self.sequence_gaps,
            "resyncs": dict(sorted(self.resyncs.items())), "crossed_books": self.crossed_books,
            "top_of_book_checked": self.top_of_book_checked,
            "top_of_book_mismatched": self.top_of_book_mismatched,
            "events": dict(sorted(self.events.items())), "consistent": self.consistent,
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
        self.codec = BinanceMarketDataCodec([])
        self.syncs: dict[str, BinanceBookSync] = {}
        self.after_reconnect: set[str] = set()
        self.reconnect_gaps = 0

    def reconnected(self) -> None:
        self.after_reconnect = set(self.syncs)

    def _learn(self, venue_symbol: str) -> None:
        if venue_symbol and not self.codec.knows(venue_symbol):
            self.codec.add_instrument(Instrument(venue_symbol, "binance", venue_symbol, "", "", 8, 8))
            self.syncs[venue_symbol] = BinanceBookSync(venue_symbol)
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


VERIFIERS: dict[str, type] = {
    "binance": BinanceVerifier,
    "binance-usdm": BinanceVerifier,
    "binance-coinm": BinanceVerifier,
}
VENUES = ("binance", "binance-usdm", "binance-coinm", "coinbase", "kraken", "okx", "bybit")


def verify(paths: list[Path], venue: str, max_logged: int = 20) -> FeedSummary:
    """Replay `paths` as one recording of `venue`. Raises `UnusableInput`, `FileNotFoundError`."""
    if venue not in VERIFIERS:
        raise UnusableInput(f"venue {venue!r} cannot be verified yet; verifiable: {', '.join(VERIFIERS)}")
    summary = FeedSummary(venue)
    verifier: VenueVerifier = VERIFIERS[venue](summary)
    problems = summary.problems
    for record in read_recording(paths):
        if record[1] == OPEN:
            verifier.reconnected()
            continue
        summary.messages += 1
        try:
            verifier.feed(record)
        except MalformedFrame as exc:
            summary.malformed += 1
            if len(problems) < max_logged:
                problems.append(f"message {summary.messages}: {exc}")
    verifier.finish(summary)
    if summary.messages and summary.malformed == summary.messages:
        raise UnusableInput(f"no message of this recording is a {venue} market-data frame; first: "
                            f"{problems[0] if problems else '?'}")
    return summary
