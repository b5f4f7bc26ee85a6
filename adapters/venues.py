"""Each venue's market data, by the venue's name: what a run needs to read its frames and keep its books.

For one connection to one venue: the stream plan (where, what to subscribe, how to keep it alive), the
venue feed (its codec, how it resyncs one book, and what it does when a connection opens), and the book
sync each of its instruments is kept by; for a replay, the codec and the book sync alone. The session
picks them by the instruments' `venue`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.feed import BinanceMarketFeed
from adapters.binance.feed import stream_plan as binance_plan
from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.bybit import feed as bybit
from adapters.bybit.book_sync import BybitBookSync
from adapters.bybit.market_data import BybitMarketDataCodec
from adapters.coinbase import feed as coinbase
from adapters.coinbase.book_sync import CoinbaseBookSync
from adapters.coinbase.market_data import CoinbaseMarketDataCodec
from adapters.http import RestClient
from adapters.kraken import feed as kraken
from adapters.kraken.book_sync import KrakenBookSync
from adapters.kraken.market_data import KrakenMarketDataCodec
from adapters.okx import feed as okx
from adapters.okx.book_sync import OkxBookSync
from adapters.okx.market_data import OkxMarketDataCodec
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


def recorded_market_data(instruments: list[Instrument], snapshot_symbol: str) -> tuple[Any, Callable[[str], Any]]:
    """The codec and the book sync factory that replay recorded frames of `instruments` (one venue)."""
    venue = instruments[0].venue
    by_symbol = {inst.symbol: inst for inst in instruments}
    if venue == "binance":
        return BinanceMarketDataCodec(instruments, snapshot_symbol=snapshot_symbol), BinanceBookSync
    if venue == "okx":
        return OkxMarketDataCodec(instruments), lambda symbol: OkxBookSync(by_symbol[symbol])
    if venue == "kraken":
        return KrakenMarketDataCodec(instruments), lambda symbol: KrakenBookSync(by_symbol[symbol], kraken.BOOK_DEPTH)
    if venue == "bybit":
        return BybitMarketDataCodec(instruments), BybitBookSync
    if venue == "coinbase":
        return CoinbaseMarketDataCodec(instruments), CoinbaseBookSync
    raise ValueError(f"no market data for venue {venue!r}; venues: {', '.join(LIVE_VENUES)}")


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
