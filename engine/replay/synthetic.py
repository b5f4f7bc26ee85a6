"""A seeded synthetic market, written as a Binance spot capture, and shown as any other venue would show it.

It exists so that scenarios and tests can run minutes of realistic, deterministic market data that the
project generated itself, in exactly the shape of the real recordings (`engine.replay.formats`): gzip
text lines `<local_ns> <json>`, combined-stream wrappers (`<symbol>@depth@100ms`, `<symbol>@trade`,
`<symbol>@bookTicker`) and the REST depth snapshot inline as a bare `{"lastUpdateId": ...}` body. Like
the real capture, the snapshot is taken in the middle of a depth window and arrives after the first few
diffs, so a consumer must buffer, drop and bracket exactly as Binance's sync rules say.

The market, all in integers (8-decimal units as Binance sends them; tick 0.01, lot 0.00001):
- a fair value that trends in phases of 5-30 s (up, down or flat), plus a mean-reverting deviation:
  the mid an EMA-crossover strategy sees turns a few dozen times in ten minutes;
- a book of 50-200 levels a side, dense near the touch and sparse further out, pinned so that the touch
  follows the mid with a spread of 1-3 ticks (never crossed);
- every 100 ms a depth diff of 5-25 changed levels: trades taking liquidity at the touch (a buy taker at
  the best ask, `m:false`), levels swept or added as the touch moves, random adds, changes and deletions;
- every book change takes the next venue update id, so a diff covers ids `U..u` and chains `U = prev u + 1`;
- a bookTicker whenever a window changed the top, carrying the `u` of the diff that produced it and sent
  just before that diff, as Binance's real-time bookTicker runs ahead of the 100 ms depth stream.

Same arguments, same bytes: one `random.Random(seed)`, no clock, gzip with mtime 0 and no file name.

A crash (`Crash`) can be added: from `at_s` seconds in, the fair value falls by `drop_bps` of what it was then, in
equal steps over `over_s` seconds (the rest of the last step in the last window), and the touch is allowed to sweep
as far as it must to follow, so the book falls with it (bids swept, asks re-quoted down); after it the market goes
on from the new level as before. The random draws are the same as without the crash, so the market up to `at_s` is
the same bytes as the same seed's without one.

The same market can be sent by several venues at once (`market_windows`, `VenueBook`): each window hands out
the Binance lines, the book as it stands after the window and the window's trades, and a `VenueBook` shows
that book as a venue of another tick size and depth does (levels aggregated to its ticks, cut to its depth)
and says what changed since the venue last sent it. The venues' own wire formats are written from there by
their adapters (`adapters/synthetic.py`), so multi-venue runs need no recorded data.
"""
from __future__ import annotations

import gzip
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from os import PathLike

import orjson
from sortedcontainers import SortedDict

from engine.model.numbers import format_fixed, parse_fixed

DECIMALS = 8                      # Binance spot BTCUSDT wire precision, prices and quantities
TICK = 10 ** 6                    # 0.01 in 8-decimal units
LOT = 10 ** 3                     # 0.00001 in 8-decimal units
WINDOW_NS = 100_000_000           # one depth diff per 100 ms
DEFAULT_START_NS = 1_723_161_600_000_000_000  # 2024-08-09 00:00:00 UTC

_SNAPSHOT_WINDOW = 3              # the snapshot is taken inside the 4th depth window...
_MIN_LEVELS, _THIN_LEVELS, _DEEP_LEVELS, _MAX_LEVELS = 50, 80, 150, 200
_MAX_SWEEP = 8                    # ...and the touch sweeps at most this many levels per window
_MAX_CHANGES = 25


@dataclass(frozen=True, slots=True)
class Crash:
    """A collapse of the synthetic market: `drop_bps` of the fair value, from `at_s` seconds in, over `over_s`."""
    at_s: int
    drop_bps: int
    over_s: int

    def __post_init__(self) -> None:
        if not 0 < self.drop_bps < 10_000 or self.over_s < 1 or self.at_s < 1:
            raise ValueError(f"a crash falls 1 to 9999 bps over at least 1 s, from at least 1 s in: got {self}")


def generate(path: str | PathLike[str], *, seed: int, duration_s: int | float, symbol: str = "BTCUSDT",
             start_ns: int = DEFAULT_START_NS, start_price: str = "60000.00",
             progress: Callable[[int, int], None] | None = None, crash: Crash | None = None) -> int:
    """Write `duration_s` seconds of synthetic feed to `path`; returns the number of lines.

    A path ending in `.gz` gets a gzip capture (deterministic: mtime 0, no file name), any other a plain
    one: a generated scratch file need not pay for compression when it is written or replayed.
    `progress(market ns, lines)` is told how far the generation has got after each window.
    """
    lines: list[bytes] = []
    for window in market_windows(seed=seed, duration_s=duration_s, symbol=symbol, start_ns=start_ns,
                                 start_price=start_price, crash=crash):
        lines.extend(b"%d %s\n" % line for line in window.lines)
        if progress is not None:
            progress(window.end_ns, len(lines))
    data = b"".join(lines)
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with open(path, "wb") as file:
        file.write(data)
    return len(lines)


def synthetic_frames(*, seed: int, duration_s: int | float, symbol: str = "BTCUSDT",
                     start_ns: int = DEFAULT_START_NS, start_price: str = "60000.00", crash: Crash | None = None,
                     ) -> Iterator[tuple[int, bytes]]:
    """The (local_ns, json_bytes) lines `generate` writes, in order, without touching the disk."""
    for window in market_windows(seed=seed, duration_s=duration_s, symbol=symbol, start_ns=start_ns,
                                 start_price=start_price, crash=crash):
        yield from window.lines


@dataclass(frozen=True, slots=True)
class MarketWindow:
    """One 100 ms window of the synthetic market.

    `bids` and `asks` are the market's book after the window (price → quantity, 8-decimal units), shared
    with the generator: read them before asking for the next window. `trades` are the window's trades as
    (time, price, quantity, whether the buyer took liquidity).
    """
    end_ns: int
    lines: list[tuple[int, bytes]]          # the window as Binance sends it (local receive times)
    bids: SortedDict
    asks: SortedDict
    trades: list[tuple[int, int, int, bool]]


def market_windows(*, seed: int, duration_s: int | float, symbol: str = "BTCUSDT",
                   start_ns: int = DEFAULT_START_NS, start_price: str = "60000.00",
                   crash: Crash | None = None) -> Iterator[MarketWindow]:
    """The synthetic market window by window: what every venue that sends it is written from."""
    windows = round(duration_s * 1_000_000_000) // WINDOW_NS
    if windows <= _SNAPSHOT_WINDOW:
        raise ValueError(f"duration_s={duration_s} is too short: the snapshot comes after "
                         f"{_SNAPSHOT_WINDOW + 1} depth windows of 100 ms")
    venue = _SyntheticVenue(random.Random(seed), symbol, parse_fixed(start_price, DECIMALS) // TICK)
    crash_from = crash_windows = 0
    if crash is not None:
        crash_from, crash_windows = crash.at_s * 1_000_000_000 // WINDOW_NS, crash.over_s * 1_000_000_000 // WINDOW_NS
    for index in range(windows):
        window_start = start_ns + index * WINDOW_NS
        if crash is not None and index == crash_from:
            venue.crash(crash.drop_bps, crash_windows)
        lines = venue.window(window_start, take_snapshot=index == _SNAPSHOT_WINDOW)
        yield MarketWindow(window_start + WINDOW_NS, lines, venue.bids, venue.asks, venue.trades)


class VenueBook:
    """The synthetic market's book as one venue shows it, and what changed since that venue last sent it.

    The venue quotes in its instrument's units (`price_decimals`, `qty_decimals`) on its own tick: bids are
    aggregated down to a tick and asks up, so its book is never crossed where the market's is not; it shows
    its best `depth` levels a side, so a level that leaves them is sent as a deletion, as OKX's 400-level
    and Bybit's 50-level books are. Quantities are cut to the venue's lot; a level left with none is not shown.
    """

    def __init__(self, *, price_decimals: int, qty_decimals: int, tick_size: int, lot_size: int, depth: int):
        problem = venue_book_problem(price_decimals, qty_decimals, tick_size)
        if problem or depth < 1:
            raise ValueError(problem or f"a venue shows at least one level a side, got depth={depth}")
        self._price_unit = 10 ** (DECIMALS - price_decimals)
        self._qty_unit = 10 ** (DECIMALS - qty_decimals)
        self._tick = tick_size * self._price_unit   # in the market's 8-decimal units
        self._lot = lot_size
        self.depth = depth
        self.bids: dict[int, int] = {}   # what the venue has sent, in its units
        self.asks: dict[int, int] = {}

    def update(self, window: MarketWindow) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Take the book after `window`; return the changed levels (quantity 0: deleted), bids and asks best first."""
        bids = self._show(reversed(window.bids.items()), is_bid=True)
        asks = self._show(iter(window.asks.items()), is_bid=False)
        changes = (_changes(self.bids, bids, reverse=True), _changes(self.asks, asks, reverse=False))
        self.bids, self.asks = bids, asks
        return changes

    def top(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best `levels` levels a side of what the venue has sent, best first."""
        return sorted(self.bids.items(), reverse=True)[:levels], sorted(self.asks.items())[:levels]

    def price(self, market_price: int, *, is_bid: bool) -> int:
        """A market price on the venue's tick, in its units: down for a bid, up for an ask."""
        tick = self._tick
        ticks = market_price // tick if is_bid else -(-market_price // tick)
        return ticks * tick // self._price_unit

    def qty(self, market_qty: int) -> int:
        """A market quantity in the venue's units, cut to its lot."""
        qty = market_qty // self._qty_unit
        return qty - qty % self._lot

    def _show(self, levels: Iterator[tuple[int, int]], *, is_bid: bool) -> dict[int, int]:
        shown: dict[int, int] = {}
        for market_price, market_qty in levels:
            price = self.price(market_price, is_bid=is_bid)
            if price not in shown and len(shown) == self.depth:
                break
            shown[price] = shown.get(price, 0) + market_qty
        return {price: qty for price, qty in ((p, self.qty(q)) for p, q in shown.items()) if qty}


def venue_book_problem(price_decimals: int, qty_decimals: int, tick_size: int) -> str:
    """Why a venue of this precision and tick cannot show the synthetic market (tick 0.01, 8 decimals), or ''."""
    if price_decimals > DECIMALS or qty_decimals > DECIMALS:
        return f"the synthetic market has {DECIMALS} decimals: a venue showing it cannot have more"
    if tick_size * 10 ** (DECIMALS - price_decimals) % TICK:
        return "the synthetic market's tick is 0.01: a venue showing it needs a tick that is a multiple of it"
    return ""


def _changes(sent: dict[int, int], now: dict[int, int], *, reverse: bool) -> list[tuple[int, int]]:
    changed = [(price, qty) for price, qty in now.items() if sent.get(price) != qty]
    changed.extend((price, 0) for price in sent if price not in now)
    changed.sort(reverse=reverse)
    return changed


class _SyntheticVenue:
    """The venue's matching engine as far as market data shows it: one book, its ids, its trades."""

    def __init__(self, rng: random.Random, symbol: str, start_ticks: int):
        self.rng = rng
        self.symbol = symbol
        lower = symbol.lower()
        self.depth_stream = f"{lower}@depth@100ms"
        self.trade_stream = f"{lower}@trade"
        self.ticker_stream = f"{lower}@bookTicker"
        self.bids: SortedDict = SortedDict()  # price -> qty, 8-decimal units
        self.asks: SortedDict = SortedDict()
        self.update_id = rng.randrange(10 ** 10, 10 ** 11)
        self.trade_id = rng.randrange(10 ** 9, 4 * 10 ** 9)
        # The mid, in hundredths of a tick: a fair value that trends in phases, plus a deviation that
        # reverts to it.
        self.fair = start_ticks * 100
        self.deviation = 0
        self.drift = 0
        self.phase_left = 0
        self.spread = 1
        self.last_top: tuple[int, int, int, int] | None = None
        self.crash_left = 0      # windows of a crash still to fall, and how far the fair value falls in each
        self.crash_step = 0
        self.crash_rest = 0      # what the equal steps leave over, fallen in the last one
        self.bid_changes: dict[int, int] = {}
        self.ask_changes: dict[int, int] = {}
        self.snapshot_id = -1
        self.snapshot: bytes | None = None
        self.trades: list[tuple[int, int, int, bool]] = []   # the current window's, for other venues
        self._seed_book(start_ticks)

    # ------------------------------------------------------------------ one 100 ms window

    def window(self, start_ns: int, take_snapshot: bool) -> list[tuple[int, bytes]]:
        """Simulate one depth window; return its lines in local-time order."""
        rng = self.rng
        first_id = self.update_id + 1
        if take_snapshot:
            # Inside this window: every window changes at least 5 levels, so ids U..U+4 all exist.
            self.snapshot_id = first_id + rng.randrange(0, 4)
        self.bid_changes, self.ask_changes = {}, {}
        latency = rng.randrange(500_000, 3_000_000)  # one per window: a connection keeps frames in order
        self.trades = []
        lines = self._trades(start_ns, latency)
        self._move_touch()
        self._keep_depth()
        self._churn(rng.randint(5, _MAX_CHANGES))
        last_id = self.update_id
        diff_ns = start_ns + WINDOW_NS
        top = (self.bids.peekitem(-1) + self.asks.peekitem(0))
        if top != self.last_top:
            self.last_top = top
            ticker = {"u": last_id, "s": self.symbol, "b": _text(top[0]), "B": _text(top[1]),
                      "a": _text(top[2]), "A": _text(top[3])}
            lines.append((start_ns + 90_000_000 + latency, self._wrap(self.ticker_stream, ticker)))
        diff = {"e": "depthUpdate", "E": diff_ns // 1_000_000, "s": self.symbol, "U": first_id, "u": last_id,
                "b": _levels(sorted(self.bid_changes.items(), reverse=True)),
                "a": _levels(sorted(self.ask_changes.items()))}
        diff_local_ns = diff_ns + latency
        lines.append((diff_local_ns, self._wrap(self.depth_stream, diff)))
        if self.snapshot is not None:
            lines.append((diff_local_ns + 1_000_000, self.snapshot))
            self.snapshot = None
        return lines

    def _trades(self, start_ns: int, latency: int) -> list[tuple[int, bytes]]:
        """A few takers at the touch, leaning with the trend; each one changes the level it hits."""
        rng = self.rng
        lines = []
        buy_probability = 0.5 + (0.2 if self.drift > 0 else -0.2 if self.drift < 0 else 0.0)
        offsets = sorted(rng.randrange(5_000_000, 85_000_000) for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))))
        for offset in offsets:
            buyer_taker = rng.random() < buy_probability
            side, changes = (self.asks, self.ask_changes) if buyer_taker else (self.bids, self.bid_changes)
            price, resting = side.peekitem(0 if buyer_taker else -1)
            qty = min(resting, self._lots())
            self._set(side, changes, price, resting - qty)
            self.trade_id += 1
            trade_ns = start_ns + offset
            trade = {"e": "trade", "E": trade_ns // 1_000_000, "s": self.symbol, "t": self.trade_id,
                     "p": _text(price), "q": _text(qty), "T": trade_ns // 1_000_000, "m": not buyer_taker,
                     "M": True}
            lines.append((trade_ns + latency, self._wrap(self.trade_stream, trade)))
            self.trades.append((trade_ns, price, qty, buyer_taker))
        return lines

    def crash(self, drop_bps: int, windows: int) -> None:
        """Make the fair value fall by `drop_bps` of itself over the next `windows` windows."""
        total = self.fair * drop_bps // 10_000
        self.crash_left, self.crash_step, self.crash_rest = windows, total // windows, total % windows

    def _move_touch(self) -> None:
        """Advance the mid; sweep the levels it crossed, rest a new touch, and re-quote what was swept."""
        rng = self.rng
        if self.phase_left <= 0:
            self.phase_left = rng.randint(50, 300)
            self.drift = rng.choice((-1, 0, 1)) * rng.randint(300, 1500)
        self.phase_left -= 1
        self.fair += self.drift + round(rng.gauss(0, 300))
        crashing = self.crash_left > 0
        if crashing:
            self.crash_left -= 1
            self.fair -= self.crash_step + (self.crash_rest if self.crash_left == 0 else 0)
        max_sweep = 10 ** 9 if crashing else _MAX_SWEEP   # a crash sweeps whatever lies in its way
        self.deviation = self.deviation * 9 // 10 + round(rng.gauss(0, 1000))
        if rng.random() < 0.05:
            self.spread = rng.choice((1, 1, 1, 2, 3))
        mid = (self.fair + self.deviation) // 100
        bid, ask = mid * TICK, (mid + self.spread) * TICK
        # Sweep at most _MAX_SWEEP levels in one window: the touch catches up with the mid in the next ones.
        swept_asks = list(self.asks.irange(maximum=ask, inclusive=(True, False)))
        if len(swept_asks) > max_sweep:
            ask = swept_asks[max_sweep]
            bid = min(bid, ask - self.spread * TICK)
        swept_bids = list(self.bids.irange(minimum=bid, inclusive=(False, True)))
        if len(swept_bids) > max_sweep:
            bid = swept_bids[-max_sweep - 1]
            ask = max(ask, bid + self.spread * TICK)
        self._follow(self.bids, self.bid_changes, bid, is_bid=True)
        self._follow(self.asks, self.ask_changes, ask, is_bid=False)

    def _follow(self, side: SortedDict, changes: dict[int, int], touch: int, *, is_bid: bool) -> None:
        """Make `touch` the best price of a side: sweep the levels past it or rest a new level (and maybe
        one more between) at it; then re-quote each swept level a little behind the new touch."""
        rng = self.rng
        direction = -1 if is_bid else 1
        if is_bid:
            swept = list(side.irange(minimum=touch, inclusive=(False, True)))
        else:
            swept = list(side.irange(maximum=touch, inclusive=(True, False)))
        for price in swept:
            self._set(side, changes, price, 0)
        # a crash may sweep a whole side: the new touch then stands one tick inside where nothing is left
        old_touch = side.peekitem(-1 if is_bid else 0)[0] if side else touch - direction * TICK
        if old_touch != touch:
            self._set(side, changes, touch, self._lots())
            gap_ticks = abs(old_touch - touch) // TICK
            if gap_ticks > 1:
                self._set(side, changes, touch + direction * rng.randint(1, gap_ticks - 1) * TICK, self._lots())
        for _ in swept:
            self._set(side, changes, _free_price(side, touch + direction * rng.randint(1, 30) * TICK, direction),
                      self._lots())

    def _keep_depth(self) -> None:
        """Keep each side between _MIN_LEVELS and _MAX_LEVELS levels: a deep side loses levels far out,
        a thin one gains levels near the touch (within the diff's size limit; the rest waits a window)."""
        for is_bid, side, changes in ((True, self.bids, self.bid_changes), (False, self.asks, self.ask_changes)):
            while len(side) > _MAX_LEVELS and len(self.bid_changes) + len(self.ask_changes) < _MAX_CHANGES:
                self._set(side, changes, _price_at_rank(side, is_bid, len(side) - 1), 0)
            while len(side) < _MIN_LEVELS and len(self.bid_changes) + len(self.ask_changes) < _MAX_CHANGES:
                self._add_level(side, changes, is_bid)

    def _churn(self, target_changes: int) -> None:
        """Add, change and delete levels until the diff holds `target_changes`."""
        rng = self.rng
        while len(self.bid_changes) + len(self.ask_changes) < target_changes:
            is_bid = rng.random() < 0.5
            side, changes = (self.bids, self.bid_changes) if is_bid else (self.asks, self.ask_changes)
            levels = len(side)
            draw = rng.random()
            # Deletions outweigh additions on a deep side and the other way round on a thin one.
            delete_below = 0.35 if levels > _DEEP_LEVELS else 0.05 if levels < _THIN_LEVELS else 0.15
            if draw < delete_below and levels > _MIN_LEVELS:
                # Delete a level other than the touch, most often one far out.
                rank = levels - 1 - min(int(rng.expovariate(1 / 20)), levels - 2)
                self._set(side, changes, _price_at_rank(side, is_bid, rank), 0)
            elif draw < delete_below + 0.30 and levels < _MAX_LEVELS:
                self._add_level(side, changes, is_bid)
            else:
                # Change the quantity of a level, most often one near the touch.
                rank = min(int(rng.expovariate(1 / 8)), levels - 1)
                self._set(side, changes, _price_at_rank(side, is_bid, rank), self._lots())

    def _add_level(self, side: SortedDict, changes: dict[int, int], is_bid: bool) -> None:
        """Rest an order at a new price behind the touch: mostly near it, sometimes far out."""
        rng = self.rng
        distance = (rng.randint(1, 25) if rng.random() < 0.7 else rng.randint(26, 3000)) * TICK
        touch = side.peekitem(-1 if is_bid else 0)[0]
        direction = -1 if is_bid else 1
        self._set(side, changes, _free_price(side, touch + direction * distance, direction), self._lots())

    # ------------------------------------------------------------------ helpers

    def _set(self, side: SortedDict, changes: dict[int, int], price: int, qty: int) -> None:
        """One book change: it takes the next update id and ends up in this window's diff."""
        if qty:
            side[price] = qty
        else:
            del side[price]
        changes[price] = qty
        self.update_id += 1
        if self.update_id == self.snapshot_id:
            self.snapshot = orjson.dumps({"lastUpdateId": self.update_id,
                                          "bids": _levels(reversed(self.bids.items())),
                                          "asks": _levels(self.asks.items())})

    def _seed_book(self, mid_ticks: int) -> None:
        rng = self.rng
        for is_bid, side in ((True, self.bids), (False, self.asks)):
            price = mid_ticks if is_bid else mid_ticks + self.spread
            for rank in range(rng.randint(80, 150)):
                side[price * TICK] = self._lots()
                gap = rng.randint(1, 4) if rank < 30 else rng.randint(5, 60)
                price = price - gap if is_bid else price + gap

    def _lots(self) -> int:
        """A resting or traded quantity: mostly small, sometimes large, always whole lots."""
        return (int(self.rng.expovariate(1 / 3000)) + 1) * LOT

    @staticmethod
    def _wrap(stream: str, data: dict) -> bytes:
        return orjson.dumps({"stream": stream, "data": data})


def _price_at_rank(side: SortedDict, is_bid: bool, rank: int) -> int:
    """The price of the level `rank` places from the touch (0 = the best)."""
    return side.peekitem(-1 - rank if is_bid else rank)[0]


def _free_price(side: SortedDict, price: int, direction: int) -> int:
    """The first price from `price` outwards (away from the touch) where `side` has no level."""
    while price in side:
        price += direction * TICK
    return price


def _text(value: int) -> str:
    return format_fixed(value, DECIMALS)


def _levels(levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[_text(price), _text(qty)] for price, qty in levels]
