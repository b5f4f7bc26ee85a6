"""The one place a venue registers its parts: what the wiring layer (`engine/app`) builds a run from.

For each venue, by the name its instruments carry (`[[instruments]] venue`): the market-data codec a replay
decodes its recordings with, the book sync each of its instruments is kept by, its live market data (the
stream plan, the live feed that decodes frames and resyncs a book, and what to close when the run ends),
and its order gateway where it takes orders. The simulated venue's parts are here too. The core sees only
the contracts these parts implement (`engine.contracts`); no module of it imports a venue.

A venue can also come from another package: a distribution that declares an entry point in the
`engine.venues` group, whose object is a `VenueParts`, adds that venue (a built-in name cannot be taken).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trio_websocket import WebSocketConnection

from adapters.binance import feed as binance
from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.binance.http_venue import BinanceHttpVenue
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
from adapters.simulated.faults import FaultPlan
from adapters.simulated.inprocess import InProcessVenue
from adapters.simulated.matching import MatchingEngine
from adapters.simulated.venue import SimulatedVenueActor
from adapters.ws import StreamPlan
from engine.contracts import BookSync, BookSyncFactory, GatewaySettings, MarketDataCodec, OrderGateway
from engine.contracts.plugins import registered
from engine.messages import MarketEvent, ResyncRequest
from engine.model.numbers import Instrument
from engine.runtime import Actor

ENTRY_POINT_GROUP = "engine.venues"


class LiveFeed(Protocol):
    """A venue's live market data on one connection: frames in, events out, and how one book is repaired."""

    def decode(self, frame: bytes | str, ts_ns: int) -> Sequence[MarketEvent]: ...

    async def resync(self, ws: WebSocketConnection, request: ResyncRequest) -> Sequence[MarketEvent]:
        """Ask the venue for a fresh book of `request.instrument`: a REST snapshot returned (Binance), or a
        resubscription whose snapshot arrives on the stream (the others, which return nothing)."""
        ...


@dataclass(frozen=True)
class LiveMarketData:
    """What one connection to one venue needs, for the instruments it carries."""
    plan: StreamPlan
    feed: LiveFeed
    sync: BookSyncFactory                          # canonical symbol → the book sync that keeps its book
    on_connect: Callable[[], None] | None = None
    rest: RestClient | None = None                 # the venue's REST snapshots; to close when the run ends
    snapshot_request: Callable[[Instrument], tuple[str, dict[str, Any]]] | None = None
    """Where the REST depth snapshot of an instrument is (path, query), for venues that send none on the stream."""


@dataclass(frozen=True)
class VenueParts:
    """One venue's parts. Each builder takes the venue's instruments (the ones a run trades there)."""
    name: str
    codec: Callable[[Sequence[Instrument], str | None], MarketDataCodec]
    """The replay's codec of the instruments; the venue symbol is the one a snapshot that carries no symbol
    belongs to (a Binance capture's inline REST snapshot), None where there is none."""
    book_sync: Callable[[Instrument], BookSync]
    live: Callable[[Sequence[Instrument], str, str, float, Callable[[], int]], LiveMarketData]
    """(instruments, stream URL, REST URL, silence in s, the clock's now_ns) → the live market data."""
    order_gateway: Callable[[GatewaySettings, Mapping[str, Instrument], Callable[[], int], str], OrderGateway] | None \
        = None
    """(settings, instruments by symbol, the clock's now_ns, client order id prefix) → a gateway, where the
    venue takes orders; `KeyError` naming the environment variable of a missing credential."""

    def sync_factory(self, instruments: Iterable[Instrument]) -> BookSyncFactory:
        """The book sync factory of `instruments`, by canonical symbol (what the book actor is given)."""
        by_symbol = {inst.symbol: inst for inst in instruments}
        return lambda symbol: self.book_sync(by_symbol[symbol])


def _binance_live(instruments: Sequence[Instrument], stream_url: str, rest_url: str, silence_s: float,
                  now_ns: Callable[[], int]) -> LiveMarketData:
    rest = RestClient(rest_url)
    by_symbol = {inst.symbol: inst for inst in instruments}
    return LiveMarketData(binance.stream_plan(instruments, stream_url, silence_s),
                          binance.BinanceMarketFeed(instruments, rest, now_ns),
                          lambda symbol: BinanceBookSync(by_symbol[symbol].symbol), rest=rest,
                          snapshot_request=binance.snapshot_request)


def _okx_live(instruments: Sequence[Instrument], stream_url: str, _rest_url: str, silence_s: float,
              _now_ns: Callable[[], int]) -> LiveMarketData:
    by_symbol = {inst.symbol: inst for inst in instruments}
    return LiveMarketData(okx.stream_plan(instruments, stream_url, silence_s), okx.OkxMarketFeed(instruments),
                          lambda symbol: OkxBookSync(by_symbol[symbol]))


def _kraken_live(instruments: Sequence[Instrument], stream_url: str, _rest_url: str, silence_s: float,
                 _now_ns: Callable[[], int]) -> LiveMarketData:
    by_symbol = {inst.symbol: inst for inst in instruments}
    depth = kraken.BOOK_DEPTH
    return LiveMarketData(kraken.stream_plan(instruments, depth, stream_url, silence_s),
                          kraken.KrakenMarketFeed(instruments, depth),
                          lambda symbol: KrakenBookSync(by_symbol[symbol], depth))


def _bybit_live(instruments: Sequence[Instrument], stream_url: str, _rest_url: str, silence_s: float,
                _now_ns: Callable[[], int]) -> LiveMarketData:
    return LiveMarketData(bybit.stream_plan(instruments, url=stream_url, silence_s=silence_s),
                          bybit.BybitMarketFeed(instruments), BybitBookSync)


def _coinbase_live(instruments: Sequence[Instrument], stream_url: str, _rest_url: str, silence_s: float,
                   _now_ns: Callable[[], int]) -> LiveMarketData:
    feed = coinbase.CoinbaseMarketFeed(instruments)
    return LiveMarketData(coinbase.stream_plan(instruments, stream_url, silence_s), feed, CoinbaseBookSync,
                          on_connect=feed.connected)


BUILT_IN: dict[str, VenueParts] = {parts.name: parts for parts in (
    VenueParts("binance", lambda instruments, snapshot_symbol: BinanceMarketDataCodec(instruments, snapshot_symbol),
               lambda inst: BinanceBookSync(inst.symbol), _binance_live, BinanceHttpVenue),
    VenueParts("okx", lambda instruments, _: OkxMarketDataCodec(instruments), OkxBookSync, _okx_live),
    VenueParts("kraken", lambda instruments, _: KrakenMarketDataCodec(instruments),
               lambda inst: KrakenBookSync(inst, kraken.BOOK_DEPTH), _kraken_live),
    VenueParts("bybit", lambda instruments, _: BybitMarketDataCodec(instruments),
               lambda inst: BybitBookSync(inst.symbol), _bybit_live),
    VenueParts("coinbase", lambda instruments, _: CoinbaseMarketDataCodec(instruments),
               lambda inst: CoinbaseBookSync(inst.symbol), _coinbase_live),
)}
LIVE_VENUES = tuple(BUILT_IN)


def venues() -> dict[str, VenueParts]:
    """Every venue by name: the built-in ones, then those other packages register under `engine.venues`.

    `ValueError` for a registered object that is not a `VenueParts`, or that takes a name already taken."""
    return registered(ENTRY_POINT_GROUP, BUILT_IN, VenueParts, "venue")


def venue(name: str) -> VenueParts:
    """The parts of venue `name`; `ValueError` naming the venues there are."""
    known = venues()
    if name not in known:
        raise ValueError(f"no venue {name!r}; venues: {', '.join(known)}")
    return known[name]


def recorded_market_data(instruments: list[Instrument], snapshot_symbol: str) -> tuple[MarketDataCodec,
                                                                                       BookSyncFactory]:
    """The codec and the book sync factory that replay recorded frames of `instruments` (one venue)."""
    parts = venue(instruments[0].venue)
    return parts.codec(instruments, snapshot_symbol), parts.sync_factory(instruments)


def live_market_data(name: str, instruments: list[Instrument], stream_url: str, rest_url: str,
                     silence_s: float, now_ns: Callable[[], int]) -> LiveMarketData:
    """The live market data of `instruments` on venue `name`; `ValueError` for a venue with none."""
    return venue(name).live(instruments, stream_url, rest_url, silence_s, now_ns)


@dataclass(frozen=True)
class SimulatedParts:
    """The simulated venue's parts: the venue a run holds in process (an `engine.contracts.SimulatedVenue`:
    the matching engine behind Binance's validity window, with its records and its seeded faults), and the
    actor that serves it, a fresh one per incarnation (the venue outlives them)."""
    in_process: Callable[[MatchingEngine, FaultPlan, int], InProcessVenue]
    """(matching engine, fault plan, recvWindow in ns) → the venue."""
    actor: type[SimulatedVenueActor]
    """The venue actor's class: made with the venue, a fresh one per incarnation; its `ports` are its wiring."""


SIMULATED = SimulatedParts(lambda matching, faults, recv_window_ns: InProcessVenue(matching, faults, recv_window_ns),
                           SimulatedVenueActor)
