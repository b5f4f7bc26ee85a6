"""An exact L2 order book of one instrument: the engine's hottest data structure.

Why it is built this way:

- Each side is a plain dict from the integer price (fixed-point instrument units, never floats, so levels
  compare and checksum exactly) to the integer quantity, plus a plain sorted list of its price keys. A
  level update is a hash look-up; only a price that appears or disappears also pays for one C-level
  bisect and a list insert or delete. (A `sortedcontainers.SortedDict` does the same through three Python
  calls per new or vanished price, which is most of what a replay's book costs.)
- Both key lists are sorted so that the best price is LAST: bids ascending by price, asks by negated
  price. Levels appear and vanish near the touch, so a list insert or delete moves few entries even in a
  book thousands of levels deep.
- `apply` is the hot path: every depth diff of every venue ends here. A quantity of 0 for a price the
  book does not hold costs one look-up: deleting an absent level is normal on every venue (the level may
  lie beyond the snapshot's depth).
- `top(depth)` is asked for on every published view, often with no change in between (a view per trade);
  each side keeps its last answer until a level of that side changes.
- The book knows nothing about sequence numbers or venues: keeping it in step with a feed is the job of
  the venue's sync state machine (e.g. `adapters.binance.book_sync`), which owns one.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from engine.messages import Level


class OrderBook:
    """Price levels of both sides; quantities are absolute, a level with quantity 0 does not exist."""

    __slots__ = ("_bids", "_asks", "_bid_keys", "_ask_keys", "_bid_top", "_ask_top")

    def __init__(self) -> None:
        self._bids: dict[int, int] = {}     # price → qty
        self._asks: dict[int, int] = {}
        self._bid_keys: list[int] = []      # bid prices ascending: the best is last
        self._ask_keys: list[int] = []      # negated ask prices ascending: the best is last
        self._bid_top: tuple[int, tuple[Level, ...]] = (-1, ())   # (depth, top levels) as last asked
        self._ask_top: tuple[int, tuple[Level, ...]] = (-1, ())

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book (a snapshot). Levels with quantity 0 are left out."""
        self._bids = {price: qty for price, qty in bids if qty}
        self._asks = {price: qty for price, qty in asks if qty}
        self._bid_keys = sorted(self._bids)
        self._ask_keys = sorted([-price for price in self._asks])
        self._bid_top = self._ask_top = (-1, ())

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Set each (price, qty) level; quantity 0 deletes the level, whether or not the book holds it."""
        if _set_levels(self._bids, self._bid_keys, bids, 1):
            self._bid_top = (-1, ())
        if _set_levels(self._asks, self._ask_keys, asks, -1):
            self._ask_top = (-1, ())

    def clear(self) -> None:
        self.load((), ())

    def best_bid(self) -> Level | None:
        """(price, qty) of the highest bid, or None when there are no bids."""
        if self._bid_keys:
            price = self._bid_keys[-1]
            return price, self._bids[price]
        return None

    def best_ask(self) -> Level | None:
        """(price, qty) of the lowest ask, or None when there are no asks."""
        if self._ask_keys:
            price = -self._ask_keys[-1]
            return price, self._asks[price]
        return None

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best `depth` levels of each side, best first: (bids descending, asks ascending)."""
        if depth <= 0:
            return (), ()
        cached_depth, bids = self._bid_top
        if cached_depth != depth:
            levels = self._bids
            bids = tuple([(price, levels[price]) for price in reversed(self._bid_keys[-depth:])])
            self._bid_top = (depth, bids)
        cached_depth, asks = self._ask_top
        if cached_depth != depth:
            levels = self._asks
            asks = tuple([(-key, levels[-key]) for key in reversed(self._ask_keys[-depth:])])
            self._ask_top = (depth, asks)
        return bids, asks

    def truncate(self, depth: int) -> None:
        """Drop the worst levels of each side beyond `depth` (a venue that keeps only so many, like Kraken's)."""
        for levels, keys, sign in ((self._bids, self._bid_keys, 1), (self._asks, self._ask_keys, -1)):
            beyond = len(keys) - depth
            if beyond > 0:
                for key in keys[:beyond]:
                    del levels[sign * key]
                del keys[:beyond]
        self._bid_top = self._ask_top = (-1, ())

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask: a book no venue can hold."""
        return bool(self._bid_keys) and bool(self._ask_keys) and self._bid_keys[-1] >= -self._ask_keys[-1]

    @property
    def bid_levels(self) -> int:
        return len(self._bids)

    @property
    def ask_levels(self) -> int:
        return len(self._asks)

    def __len__(self) -> int:
        """Number of price levels on both sides."""
        return len(self._bids) + len(self._asks)


def _set_levels(side: dict[int, int], keys: list[int], levels: Iterable[Level], sign: int) -> bool:
    """`OrderBook.apply` on one side, whose sorted `keys` are its prices times `sign`; True if a level changed."""
    changed = False
    for price, qty in levels:
        if price in side:
            if qty:
                side[price] = qty
            else:
                del side[price]
                del keys[bisect_left(keys, sign * price)]
        elif qty:
            side[price] = qty
            insort(keys, sign * price)
        else:
            continue
        changed = True
    return changed
