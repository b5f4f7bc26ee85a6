"""Each venue's live market data, by the venue's name: what a live run needs to connect and keep books.

For one connection to one venue: the stream plan (where, what to subscribe, how to keep it alive), the
venue feed (its codec, how it resyncs one book, and what it does when a connection opens), and the book
sync each of its instruments is kept by. The session picks them by the instruments' `venue`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.feed import BinanceMarketFeed
from adapters.binance.feed import stream_plan as binance_plan
from adapters.bybit import feed as bybit
from adapters.bybit.book_sync import BybitBookSync
from adapters.coinbase import feed as coinbase
from adapters.coinbase.book_sync import CoinbaseBookSync
from adapters.http import RestClient
from adapters.kraken import feed as kraken
from adapters.kraken.book_sync import KrakenBookSync
from adapters.okx import feed as okx
from adapters.okx.book_sync import OkxBookSync
from adapters.ws import StreamPlan
from engine.model.numbers import Instrument

LIVE_VENUES = ("binance", "okx", "kraken", "bybit", "coinbase")


@dataclass(frozen=True)
class LiveMarketData:
    plan: StreamPlan
    feed: Any                                  # decode(frame, ts_ns), async resync(ws, request)
    sync: Callable[[str], Any]                 # canonical symbol → the book sync that keeps its book
    on_connect: Callable[[], None] | None = None
    rest: RestClient | None = None             # to close when the run ends


def live_market_data(venue: str, instruments: list[Instrument], stream_url: str, rest_url: str,
                     silence_s: float, now_ns: Callable[[], int]) -> LiveMarketData:
    """The live market data of `instruments` on `venue`; `ValueError` for a venue with none."""
    by_symbol = {inst.symbol: inst for inst in instruments}
    if venue == "binance":
        rest = RestClient(rest_url)
        return LiveMarketData(binance_plan(instruments, stream_url, silence_s),
                              BinanceMarketFeed(instruments, rest, now_ns), BinanceBookSync, rest=rest)
    if venue == "okx":
        return LiveMarketData(okx.stream_plan(instruments, stream_url, silence_s), okx.OkxMarketFeed(instruments),
                              lambda symbol: OkxBookSync(by_symbol[symbol]))
    if venue == "kraken":
        depth = kraken.BOOK_DEPTH
        return LiveMarketData(kraken.stream_plan(instruments, depth, stream_url, silence_s),
                              kraken.KrakenMarketFeed(instruments, depth),
                              lambda symbol: KrakenBookSync(by_symbol[symbol], depth))
    if venue == "bybit":
        return LiveMarketData(bybit.stream_plan(instruments, url=stream_url, silence_s=silence_s),
                              bybit.BybitMarketFeed(instruments), BybitBookSync)
    if venue == "coinbase":
        feed = coinbase.CoinbaseMarketFeed(instruments)
        return LiveMarketData(coinbase.stream_plan(instruments, stream_url, silence_s), feed, CoinbaseBookSync,
                              on_connect=feed.connected)
    raise ValueError(f"no live market data for venue {venue!r}; live venues: {', '.join(LIVE_VENUES)}")
