"""Recorded frames in, market events out: the files of a recording, merged by receive time and decoded.

Several files replay as one recording (a capture that continues past midnight into a second file), merged
by their local receive timestamps. A frame that is not valid JSON or that the codec refuses is counted and
logged, never fatal. The source is one iterator for the whole run, so a feed actor restarted after a crash
goes on where the last one stopped.
"""
from __future__ import annotations

import heapq
import logging
from operator import itemgetter
from pathlib import Path
from typing import Iterator

import orjson

from adapters.binance.market_data import BinanceMarketDataCodec, MalformedFrame
from engine.messages import MarketEvent
from engine.replay.formats import read_capture

log = logging.getLogger("engine.replay")

_LOGGED_MALFORMED = 20


class RecordedFeed:
    """Decoded events of one recording, with counts of what was read, refused and skipped."""

    def __init__(self, files: list[Path], codec: BinanceMarketDataCodec):
        missing = [str(f) for f in files if not Path(f).is_file()]
        if missing:
            raise FileNotFoundError(f"recording not found: {', '.join(missing)}")
        self.files = files
        self.codec = codec
        self.frames = 0
        self.malformed = 0
        self.skipped = 0
        self.first_ts_ns: int | None = None
        self.last_ts_ns: int | None = None
        self._events = self._decode()

    def __iter__(self) -> Iterator[tuple[int, MarketEvent]]:
        return self._events

    def _decode(self) -> Iterator[tuple[int, MarketEvent]]:
        streams = [read_capture(f) for f in self.files]
        frames = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(0))
        loads, decode = orjson.loads, self.codec.decode
        count = ts = 0
        try:
            for count, (ts, raw) in enumerate(frames, 1):
                if count == 1:
                    self.first_ts_ns = ts
                try:
                    event = decode(loads(raw), ts)
                except (orjson.JSONDecodeError, MalformedFrame) as exc:
                    self.malformed += 1
                    if self.malformed <= _LOGGED_MALFORMED:
                        log.warning("malformed frame %d at %d ns: %s", count, ts, exc)
                    continue
                if event is None:
                    self.skipped += 1
                    continue
                yield ts, event
        finally:  # counts kept in locals on the hot path, published when the recording ends
            self.frames = count
            if count:
                self.last_ts_ns = ts
