"""Several recordings as one: the venue connections of a run, merged by receive time.

A run of many venues replays one recording per connection (each decoded by its venue's codec), and its
feed must see them as the engine would have received them: in receive-time order. Ties are broken by the
order the connections are listed in, then by each recording's own order, so the merge, and the run, is
the same every time.

It reads like one `RecordedFeed` (`events(skip=n)`, `independent_events()`, the counts): a feed restarted
after a crash reopens it at the event where it stopped. The merge notes which connection each event
came from as it first reads it (a byte an event), so a reading that resumes at event n reopens every
connection at its own count of the first n events rather than decoding them all again.
"""
from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from engine.messages import MarketEvent



class MergedFeed:
    """The decoded events of several recordings (`RecordedFeed`s, one per connection), merged by receive time.

    `frames`, `malformed` and `skipped` are summed over the connections; `first_ts_ns` and `last_ts_ns`
    span them all.
    """

    def __init__(self, sources: Sequence[Any]):
        if not 1 < len(sources) < 256:
            raise ValueError(f"a merge is of 2 to 255 recordings, got {len(sources)}")
        self.sources = list(sources)
        self._origin = array("B")   # the connection of each merged event, as far as a reading got

    def events(self, skip: int = 0) -> Iterator[tuple[int, MarketEvent]]:
        """A new reading of the merge, without its first `skip` events."""
        known = min(skip, len(self._origin))
        counts = [0] * len(self.sources)
        for index in self._origin[:known]:
            counts[index] += 1
        readings = [source.events(skip=count) for source, count in zip(self.sources, counts)]
        return self._merge(readings, known, skip - known)

    def __iter__(self) -> Iterator[tuple[int, MarketEvent]]:
        return self.events()

    def end_ns(self) -> int | None:
        """The last receive time over the connections, where each is known before it is read (else None)."""
        ends = [source.end_ns() for source in self.sources]
        return None if None in ends else max(ends)

    def independent_events(self) -> Iterator[tuple[int, MarketEvent]]:
        """The same events for another consumer (a snapshot rebuilder), numbered as the feed's."""
        readings = [source.independent_events() for source in self.sources]
        return (item for _, item in heapq.merge(*map(_tagged, readings, range(len(readings))), key=_key))

    def _merge(self, readings: list[Iterator[tuple[int, MarketEvent]]], position: int,
               drop: int) -> Iterator[tuple[int, MarketEvent]]:
        origin = self._origin
        for index, item in heapq.merge(*map(_tagged, readings, range(len(readings))), key=_key):
            if position == len(origin):
                origin.append(index)
            position += 1
            if drop:
                drop -= 1
                continue
            yield item

    @property
    def frames(self) -> int:
        return sum(source.frames for source in self.sources)

    @property
    def malformed(self) -> int:
        return sum(source.malformed for source in self.sources)

    @property
    def skipped(self) -> int:
        return sum(source.skipped for source in self.sources)

    @property
    def first_ts_ns(self) -> int | None:
        return min((s.first_ts_ns for s in self.sources if s.first_ts_ns is not None), default=None)

    @property
    def last_ts_ns(self) -> int | None:
        return max((s.last_ts_ns for s in self.sources if s.last_ts_ns is not None), default=None)


def _tagged(reading: Iterator[tuple[int, MarketEvent]], index: int) -> Iterator[tuple[int, tuple[int, MarketEvent]]]:
    for item in reading:
        yield index, item


def _key(tagged: tuple[int, tuple[int, MarketEvent]]) -> int:
    """Receive time; `heapq.merge` keeps equal keys in the order of its inputs: the connections' order."""
    return tagged[1][0]
