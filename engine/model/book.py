"""An exact L2 order book of one instrument: the engine's hottest data structure.

Why it is built this way:

- Each side is a `sortedcontainers.SortedDict` keyed by the integer price (fixed-point instrument units,
  never floats, so levels compare and checksum exactly) with the integer quantity as value. A level
  update is a hash look-up plus, only when a price appears or disappears, a bisect into a short list:
  about as cheap as an ordered map gets in Python, and iteration in price order is free.
- Both sides are kept in ascending key order. The best bid is the last key, the best ask the first;
  a descending bid map (a `key=` function) would cost a Python call on every comparison.
- `apply` is the hot path: every depth diff of every venue ends here. Most updates change the quantity
  of a price the book already holds; those go straight to `dict.__setitem__` (a `SortedDict` is a dict
  whose keys are also kept in a sorted list, and an existing key leaves that list unchanged), so only a
  price that appears or disappears pays for `SortedDict`'s bookkeeping. A quantity of 0 for a price the
  book does not hold costs one look-up: deleting an absent level is normal on every venue (the level may
  lie beyond the snapshot's depth).
- The book knows nothing about sequence numbers or venues: keeping it in step with a feed is the job of
  the venue's sync state machine (e.g. `adapters.binance.book_sync`), which owns one.
"""
from __future__ import annotations

from collections.abc import Iterable

from sortedcontainers import SortedDict  # type: ignore[import-untyped]  # the package ships no type hints

_dict_setitem = dict.__setitem__

from engine.messages import Level


class OrderBook:
    """Price levels of both sides; quantities are absolute, a level with quantity 0 does not exist."""

    __slots__ = ("_bids", "_asks")

    def __init__(self) -> None:
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot). Levels with quantity 0 are left out."""
        self._bids = SortedDict({price: qty for price, qty in bids if qty})
        self._asks = SortedDict({price: qty for price, qty in asks if qty})

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Set each (price, qty) level; quantity 0 deletes the level, whether or not the book holds it."""
        set_existing = _dict_setitem
        for side, levels in ((self._bids, bids), (self._asks, asks)):
            for price, qty in levels:
                if price in side:
                    if qty:
                        set_existing(side, price, qty)
                    else:
                        del side[price]
                elif qty:
                    side[price] = qty

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    def best_bid(self) -> Level | None:
        """(price, qty) of the highest bid, or None when there are no bids."""
        return self._bids.peekitem(-1) if self._bids else None

    def best_ask(self) -> Level | None:
        """(price, qty) of the lowest ask, or None when there are no asks."""
        return self._asks.peekitem(0) if self._asks else None

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best `depth` levels of each side, best first: (bids descending, asks ascending)."""
        if depth <= 0:
            return (), ()
        bids = self._bids.items()[-depth:]
        bids.reverse()
        return tuple(bids), tuple(self._asks.items()[:depth])

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask: a book no venue can hold."""
        return bool(self._bids) and bool(self._asks) and self._bids.peekitem(-1)[0] >= self._asks.peekitem(0)[0]

    @property
    def bid_levels(self) -> int:
        return len(self._bids)

    @property
    def ask_levels(self) -> int:
        return len(self._asks)

    def __len__(self) -> int:
        """Number of price levels on both sides."""
        return len(self._bids) + len(self._asks)
