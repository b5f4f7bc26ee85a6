"""The synthetic market as OKX sends it: the `books` channel (a snapshot, then updates chained by seqId
and carrying the legacy CRC32 of the top 25 levels) and the `trades` channel, at OKX's own tick and depth.

It exists so that a multi-venue run needs no recorded OKX data, and so that what it writes is checked by
the very code that reads OKX: the codec decodes it and `OkxBookSync` verifies every checksum. Numbers are
written in OKX's shortest form ("60000.1", "0.5"), the text the checksum is computed over.
"""
from __future__ import annotations

import orjson

from adapters.okx.book_sync import CHECKSUM_DEPTH, okx_checksum
from engine.model.numbers import Instrument, format_fixed
from engine.replay.synthetic import MarketWindow, VenueBook

DEPTH = 400   # the `books` channel's depth
_FIRST_SEQ_ID = 1_000


class OkxSyntheticWriter:
    """Writes one instrument's `books` and `trades` frames, `delay_ns` after the market's events."""

    def __init__(self, instrument: Instrument, depth: int = 0, delay_ns: int = 0):
        self.instrument = instrument
        self.delay_ns = delay_ns
        self.book = VenueBook(price_decimals=instrument.price_decimals, qty_decimals=instrument.qty_decimals,
                              tick_size=instrument.tick_size, lot_size=instrument.lot_size, depth=depth or DEPTH)
        self._arg = {"channel": "books", "instId": instrument.venue_symbol}
        self._trades_arg = {"channel": "trades", "instId": instrument.venue_symbol}
        self._seq_id = -1     # none sent yet: the first frame is the snapshot
        self._trade_id = 0

    def frames(self, window: MarketWindow) -> list[tuple[int, bytes]]:
        """The frames of one window, in receive-time order."""
        out = [self._trade(ts, price, qty, buyer_taker) for ts, price, qty, buyer_taker in window.trades]
        bids, asks = self.book.update(window)
        ts = window.end_ns
        if self._seq_id < 0:
            self._seq_id = _FIRST_SEQ_ID
            bids, asks = self.book.top(self.book.depth)
            out.append((ts + self.delay_ns, self._books("snapshot", ts, bids, asks, -1)))
        elif bids or asks:
            prev, self._seq_id = self._seq_id, self._seq_id + len(bids) + len(asks)
            out.append((ts + self.delay_ns, self._books("update", ts, bids, asks, prev)))
        return out

    def _books(self, action: str, ts_ns: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]],
               prev_seq_id: int) -> bytes:
        top_bids, top_asks = self.book.top(CHECKSUM_DEPTH)
        checksum = okx_checksum([self._texts(level) for level in top_bids], [self._texts(level) for level in top_asks])
        data = {"asks": [[*self._texts(level), "0", "1"] for level in asks],
                "bids": [[*self._texts(level), "0", "1"] for level in bids],
                "ts": str(ts_ns // 1_000_000), "checksum": checksum, "prevSeqId": prev_seq_id, "seqId": self._seq_id}
        return orjson.dumps({"arg": self._arg, "action": action, "data": [data]})

    def _trade(self, ts_ns: int, price: int, qty: int, buyer_taker: bool) -> tuple[int, bytes]:
        self._trade_id += 1
        venue_price = self.book.price(price, is_bid=not buyer_taker)   # a buyer takes an ask: at the ask's tick
        trade = {"instId": self.instrument.venue_symbol, "tradeId": str(self._trade_id),
                 "px": _text(venue_price, self.instrument.price_decimals),
                 "sz": _text(max(self.book.qty(qty), self.instrument.lot_size), self.instrument.qty_decimals),
                 "side": "buy" if buyer_taker else "sell", "ts": str(ts_ns // 1_000_000)}
        return ts_ns + self.delay_ns, orjson.dumps({"arg": self._trades_arg, "data": [trade]})

    def _texts(self, level: tuple[int, int]) -> tuple[str, str]:
        return _text(level[0], self.instrument.price_decimals), _text(level[1], self.instrument.qty_decimals)


def _text(value: int, decimals: int) -> str:
    """OKX's shortest form of a fixed-point value: no trailing fractional zeros, no bare dot."""
    text = format_fixed(value, decimals)
    return text.rstrip("0").rstrip(".") if decimals else text
