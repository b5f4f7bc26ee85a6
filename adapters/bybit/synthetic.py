"""The synthetic market as Bybit sends it: the v5 `orderbook.{depth}.{symbol}` topic, a snapshot and then
deltas whose `u` goes up by one and whose cross sequence `seq` goes up by the levels they change, at
Bybit's own tick and depth.

It exists so that a multi-venue run needs no recorded Bybit data, checked by the code that reads Bybit: the
codec decodes it and `BybitBookSync` holds it to the `u` chain. Bybit's trades are a topic of their own
(`publicTrade`) that the engine does not read; they are not written.
"""
from __future__ import annotations

import orjson

from adapters.bybit.feed import BOOK_DEPTH
from engine.model.numbers import Instrument, format_fixed
from engine.replay.synthetic import MarketWindow, VenueBook

_FIRST_UPDATE_ID = 2          # u == 1 is Bybit's full book after a restart: start past it
_FIRST_SEQ = 100_000


class BybitSyntheticWriter:
    """Writes one instrument's order-book frames, `delay_ns` after the market's changes."""

    def __init__(self, instrument: Instrument, depth: int = 0, delay_ns: int = 0):
        self.instrument = instrument
        self.delay_ns = delay_ns
        self.book = VenueBook(price_decimals=instrument.price_decimals, qty_decimals=instrument.qty_decimals,
                              tick_size=instrument.tick_size, lot_size=instrument.lot_size,
                              depth=depth or BOOK_DEPTH)
        self._topic = f"orderbook.{self.book.depth}.{instrument.venue_symbol}"
        self._update_id = 0   # none sent yet: the first frame is the snapshot
        self._seq = _FIRST_SEQ

    def frames(self, window: MarketWindow) -> list[tuple[int, bytes]]:
        """The frames of one window (none when the venue's book did not change)."""
        bids, asks = self.book.update(window)
        if not self._update_id:
            self._update_id = _FIRST_UPDATE_ID
            kind = "snapshot"
            bids, asks = self.book.top(self.book.depth)
        elif bids or asks:
            self._update_id += 1
            kind = "delta"
        else:
            return []
        self._seq += len(bids) + len(asks)
        ms = window.end_ns // 1_000_000
        data = {"s": self.instrument.venue_symbol, "b": [self._texts(level) for level in bids],
                "a": [self._texts(level) for level in asks], "u": self._update_id, "seq": self._seq}
        frame = {"topic": self._topic, "type": kind, "ts": ms, "data": data, "cts": ms}
        return [(window.end_ns + self.delay_ns, orjson.dumps(frame))]

    def _texts(self, level: tuple[int, int]) -> list[str]:
        return [format_fixed(level[0], self.instrument.price_decimals),
                format_fixed(level[1], self.instrument.qty_decimals)]
