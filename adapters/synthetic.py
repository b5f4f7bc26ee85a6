"""One seeded synthetic market, written as several venues send it: a capture file per venue connection.

The market is made once (`engine.replay.synthetic.market_windows`); Binance sends it as generated (its
native tick 0.01 and full depth: the generator is a Binance venue), OKX and Bybit show it at their own tick
size and depth (`adapters/okx/synthetic.py`, `adapters/bybit/synthetic.py`), and each venue's frames arrive
its own feed delay later. Every file is in the project's capture format, so a replay reads and merges them
like any recording. Same seed, same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from typing import Any, Callable

from adapters.bybit.synthetic import BybitSyntheticWriter
from adapters.okx.synthetic import OkxSyntheticWriter
from engine.model.numbers import Instrument
from engine.replay.synthetic import DECIMALS, TICK, Crash, MarketWindow, market_windows, venue_book_problem

SYNTHETIC_VENUES = ("binance", "okx", "bybit")


@dataclass(frozen=True)
class SyntheticConnection:
    """One venue's connection to the synthetic market: where its capture goes and how the venue sends it."""
    path: str | PathLike[str]
    instrument: Instrument
    depth: int = 0          # levels a side (0: the venue's default; Binance sends its whole book)
    delay_ns: int = 0       # how much later than the market's events its frames arrive


class _BinanceWriter:
    """The generator's own Binance lines, `delay_ns` later."""

    def __init__(self, delay_ns: int):
        self.delay_ns = delay_ns

    def frames(self, window: MarketWindow) -> list[tuple[int, bytes]]:
        return [(ts + self.delay_ns, frame) for ts, frame in window.lines]


def synthetic_problem(instrument: Instrument, depth: int = 0) -> str:
    """Why the synthetic market cannot be sent as `instrument` on its venue, or ''."""
    if instrument.venue not in SYNTHETIC_VENUES:
        return (f"the synthetic market is written as {', '.join(SYNTHETIC_VENUES)} send it, "
                f"not {instrument.venue}")
    if instrument.venue == "binance":
        if (instrument.price_decimals, instrument.qty_decimals, instrument.tick_size) != (DECIMALS, DECIMALS, TICK):
            return "the synthetic market is Binance's as generated: price and qty decimals 8, tick_size 0.01"
        if depth:
            return "Binance sends the synthetic market's whole book: depth is for the other venues"
        return ""
    return venue_book_problem(instrument.price_decimals, instrument.qty_decimals, instrument.tick_size)


def write_synthetic_market(connections: list[SyntheticConnection], *, seed: int, duration_s: int | float,
                           progress: Callable[[int, int], None] | None = None, crash: Crash | None = None) -> None:
    """Write `duration_s` seconds of the market of `seed` (with its `crash`, if any) into one capture per connection
    (plain text); `progress(market ns, lines)` is told how far the generation has got after each window."""
    writers: list[Any] = []
    binance = [c.instrument.venue_symbol for c in connections if c.instrument.venue == "binance"]
    for connection in connections:
        problem = synthetic_problem(connection.instrument, connection.depth)
        if problem:
            raise ValueError(f"{connection.instrument.symbol}: {problem}")
        venue = connection.instrument.venue
        if venue == "binance":
            writers.append(_BinanceWriter(connection.delay_ns))
        else:
            kind = OkxSyntheticWriter if venue == "okx" else BybitSyntheticWriter
            writers.append(kind(connection.instrument, connection.depth, connection.delay_ns))
    if len(set(binance)) > 1:
        raise ValueError(f"one synthetic market is one Binance symbol, got {', '.join(binance)}")
    lines: list[list[tuple[int, bytes]]] = [[] for _ in connections]
    made = 0
    for window in market_windows(seed=seed, duration_s=duration_s, symbol=binance[0] if binance else "BTCUSDT",
                                 crash=crash):
        for writer, out in zip(writers, lines):
            out.extend(writer.frames(window))
        if progress is not None:
            made += len(window.lines)
            progress(window.end_ns, made)
    for connection, out in zip(connections, lines):
        out.sort(key=lambda line: line[0])   # stable: a window's frames keep their order at equal times
        with open(connection.path, "wb") as file:
            file.write(b"".join(b"%d %s\n" % line for line in out))
