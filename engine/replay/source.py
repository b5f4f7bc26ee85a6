"""Recorded frames in, market events out: the files of a recording, merged by receive time and decoded.

Several files replay as one recording (a capture that continues past midnight into a second file), merged
by their local receive timestamps; any format `engine.replay.recording` reads will do. A frame that is not
valid JSON or that the codec refuses, and a line that cannot be read at all, is counted and logged, never
fatal.

A feed actor restarted after a crash must go on exactly where its predecessor stopped, rebuilt from its
upstream (the recording), not from a generator the crashed incarnation left half-consumed. So the source
opens a new reading of the recording whenever asked, at any event: `events(skip=n)`. Each reading decodes
with a copy of its own of the codec as it was given (a codec may keep state: Coinbase's sequence), and
the counts are the recording's, not the readings': each record is counted once, by the first reading
that reaches it.

Reopening near the end of a long recording must not cost a second decoding of it: while it counts, the
source notes the few records that hold other than one event (a connection, a frame of an instrument the
run does not trade, a malformed one, a frame of several events), so a new reading passes the records
before its resume point without decoding them.
"""
from __future__ import annotations

import copy
import logging
from array import array
from pathlib import Path
from typing import Any, Iterator

import orjson

from engine.contracts import MalformedFrame, MarketDataCodec, MultiEventCodec, SingleEventCodec, UnknownSymbol
from engine.messages import MarketEvent
from engine.replay.recording import MALFORMED, OPEN, WEBSOCKET, Record, Recording

log = logging.getLogger("engine.replay")

_LOGGED_MALFORMED = 20


class RecordedFeed:
    """Decoded events of one recording, with counts of what was read, refused and skipped over the whole run.

    `frames` is how many records the readings got through (the furthest one), `malformed` and `skipped`
    how many of those were refused or held no event; `first_ts_ns` and `last_ts_ns` their receive times.
    With `logged=False` nothing is logged (a second reader of a recording the feed already reports on).
    """

    def __init__(self, files: list[Path], codec: MarketDataCodec, *, logged: bool = True):
        self.files = files
        self._recording = Recording(files)  # refuses missing or unknown files now
        self.frames = 0
        self.malformed = 0
        self.skipped = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        self._codec = copy.deepcopy(codec)  # as given: each reading decodes with a copy of this one
        self._logged = logged
        self._odd_records = array("q")  # the records (numbered from 1) that hold other than one event,
        self._odd_events = array("q")   # and how many events each of them holds
        self._reading: Iterator[tuple[int, MarketEvent]] | None = None

    def events(self, skip: int = 0) -> Iterator[tuple[int, MarketEvent]]:
        """A new reading of the recording, without its first `skip` events: where a feed that delivered
        `skip` events goes on. The reading opened before it is closed (its counts are kept)."""
        if self._reading is not None:
            self._reading.close()
        codec = copy.deepcopy(self._codec)
        # a codec that makes one event of a frame has a loop of its own (the hot path); the others' frames
        # are sequences of events
        if codec.one_event_per_frame:
            self._reading = self._decode(codec, skip)
        else:
            self._reading = self._decode_many(codec, skip)
        return self._reading

    def __iter__(self) -> Iterator[tuple[int, MarketEvent]]:
        return self.events()

    def end_ns(self) -> int | None:
        """The last receive time of the recording where it is known before it is read (None: it is not)."""
        return self._recording.end_ns()

    def independent_events(self) -> Iterator[tuple[int, MarketEvent]]:
        """The same events, read apart for another consumer (a snapshot rebuilder's shadow books): with a
        codec of its own, counted apart, logging nothing; the feed's reading and counts are left alone."""
        apart = RecordedFeed(self.files, self._codec, logged=False)
        apart._recording = self._recording  # the same lines, decompressed once
        return apart.events()

    def _decode(self, codec: SingleEventCodec, skip: int) -> Iterator[tuple[int, MarketEvent]]:
        records, index, drop = self._open(skip)
        counted = self.frames
        loads, decode_raw, decode_rest = orjson.loads, codec.decode_raw, codec.decode_rest
        ts = 0
        try:
            for index, (ts, source, payload) in enumerate(records, index + 1):
                if index == 1:
                    self.first_ts_ns = ts
                try:
                    if source == WEBSOCKET:
                        event = decode_raw(payload, ts)
                    elif source == OPEN:
                        event = None
                    elif source == MALFORMED:
                        if index > counted:
                            self._count_malformed(index, ts, payload.decode())
                        continue
                    else:
                        event = decode_rest(source, loads(payload), ts)
                except UnknownSymbol:
                    event = None  # an instrument this run does not trade
                except (orjson.JSONDecodeError, MalformedFrame) as exc:
                    if index > counted:
                        self._count_malformed(index, ts, exc)
                    continue
                if event is None:
                    if index > counted:
                        self._count_odd(index, 0)
                    continue
                if drop:
                    drop -= 1
                    continue
                yield ts, event
        finally:  # the number of records read kept in a local on the hot path, published when the reading ends
            self._reached(index, ts)

    def _decode_many(self, codec: MultiEventCodec, skip: int) -> Iterator[tuple[int, MarketEvent]]:
        """The same for codecs that read raw frames into tuples of events (Kraken keeps numbers exact so)."""
        records, index, drop = self._open(skip)
        counted = self.frames
        decode_raw = codec.decode_raw
        ts = 0
        try:
            for index, (ts, source, payload) in enumerate(records, index + 1):
                if index == 1:
                    self.first_ts_ns = ts
                if source == WEBSOCKET:
                    try:
                        events = decode_raw(payload, ts)
                    except UnknownSymbol:
                        events = ()
                    except MalformedFrame as exc:
                        if index > counted:
                            self._count_malformed(index, ts, exc)
                        continue
                elif source == MALFORMED:
                    if index > counted:
                        self._count_malformed(index, ts, payload.decode())
                    continue
                else:
                    events = ()
                if len(events) != 1 and index > counted:
                    self._count_odd(index, len(events))
                for event in events:
                    if drop:
                        drop -= 1
                        continue
                    yield ts, event
        finally:
            self._reached(index, ts)

    def _open(self, skip: int) -> tuple[Iterator[Record], int, int]:
        """The records of a new reading, past the records that hold its first `skip` events as far as the
        counts know them (passed undecoded); how many it passed; and how many events are still to be dropped."""
        passed, drop = self._resume_point(skip)
        return self._recording.records(passed), passed, drop

    def _resume_point(self, skip: int) -> tuple[int, int]:
        """(records that hold no more than the first `skip` events, events left to drop after them)."""
        records = events = 0
        for index, held in zip(self._odd_records, self._odd_events):
            ordinary = index - 1 - records  # the records before this one hold one event each
            if events + ordinary >= skip:
                return records + skip - events, 0
            events += ordinary
            if events + held > skip:  # the resume point falls inside this record's events
                return index - 1, skip - events
            events += held
            records = index
        ordinary = self.frames - records
        if events + ordinary >= skip:
            return records + skip - events, 0
        return self.frames, skip - events - ordinary  # beyond what was read: decoded and dropped

    def _count_odd(self, index: int, events: int) -> None:
        """Note a record that holds other than one event (none: it is counted as skipped)."""
        self._odd_records.append(index)
        self._odd_events.append(events)
        if not events:
            self.skipped += 1

    def _count_malformed(self, index: int, ts: int, why: Any) -> None:
        self._odd_records.append(index)
        self._odd_events.append(0)
        self.malformed += 1
        if self._logged and self.malformed <= _LOGGED_MALFORMED:
            log.warning("malformed record %d at %d ns: %s", index, ts, why)

    def _reached(self, index: int, ts: int) -> None:
        """A reading got through `index` records: the recording's counts go as far as the furthest reading."""
        if index > self.frames:
            self.frames = index
            self.last_ts_ns = ts
