"""Recorded frames in, market events out: the files of a recording, merged by receive time and decoded.

Several files replay as one recording (a capture that continues past midnight into a second file), merged
by their local receive timestamps; any format `engine.replay.recording` reads will do. A frame that is not
valid JSON or that the codec refuses, and a line that cannot be read at all, is counted and logged, never
fatal. The source is one iterator for the whole run, so a feed actor restarted after a crash
goes on where the last one stopped.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import orjson

from adapters.base import MalformedFrame, UnknownSymbol
from adapters.binance.market_data import BinanceMarketDataCodec
from engine.messages import MarketEvent
from engine.replay.recording import MALFORMED, OPEN, WEBSOCKET, Record, read_recording

log = logging.getLogger("engine.replay")

_LOGGED_MALFORMED = 20


class RecordedFeed:
    """Decoded events of one recording, with counts of what was read, refused and skipped."""

    def __init__(self, files: list[Path], codec: Any):
        self.files = files
        self.codec = codec
        self.frames = 0
        self.malformed = 0
        self.skipped = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        records = read_recording(files)  # refuses missing or unknown files now
        # Binance's codec makes one event of a frame (its hot path); the other venues' a tuple of events
        self._events = (self._decode(records) if isinstance(codec, BinanceMarketDataCodec)
                        else self._decode_many(records))

    def __iter__(self) -> Iterator[tuple[int, MarketEvent]]:
        return self._events

    def _decode(self, records: Iterator[Record]) -> Iterator[tuple[int, MarketEvent]]:
        loads, decode, decode_rest = orjson.loads, self.codec.decode, self.codec.decode_rest
        count = ts = 0
        try:
            for count, (ts, source, payload) in enumerate(records, 1):
                if count == 1:
                    self.first_ts_ns = ts
                try:
                    if source == WEBSOCKET:
                        event = decode(loads(payload), ts)
                    elif source == OPEN:
                        event = None
                    elif source == MALFORMED:
                        self._count_malformed(count, ts, payload.decode())
                        continue
                    else:
                        event = decode_rest(source, loads(payload), ts)
                except UnknownSymbol:
                    self.skipped += 1  # an instrument this run does not trade
                    continue
                except (orjson.JSONDecodeError, MalformedFrame) as exc:
                    self._count_malformed(count, ts, exc)
                    continue
                if event is None:
                    self.skipped += 1
                    continue
                yield ts, event
        finally:  # counts kept in locals on the hot path, published when the recording ends
            self.frames = count
            if count:
                self.last_ts_ns = ts

    def _decode_many(self, records: Iterator[Record]) -> Iterator[tuple[int, MarketEvent]]:
        """The same for codecs that read raw frames into tuples of events (Kraken keeps numbers exact so)."""
        decode_raw = self.codec.decode_raw
        count = ts = 0
        try:
            for count, (ts, source, payload) in enumerate(records, 1):
                if count == 1:
                    self.first_ts_ns = ts
                if source == MALFORMED:
                    self._count_malformed(count, ts, payload.decode())
                    continue
                if source != WEBSOCKET:
                    self.skipped += 1
                    continue
                try:
                    events = decode_raw(payload, ts)
                except UnknownSymbol:
                    self.skipped += 1
                    continue
                except MalformedFrame as exc:
                    self._count_malformed(count, ts, exc)
                    continue
                if not events:
                    self.skipped += 1
                for event in events:
                    yield ts, event
        finally:
            self.frames = count
            if count:
                self.last_ts_ns = ts

    def _count_malformed(self, index: int, ts: int, why: Any) -> None:
        self.malformed += 1
        if self.malformed <= _LOGGED_MALFORMED:
            log.warning("malformed record %d at %d ns: %s", index, ts, why)
