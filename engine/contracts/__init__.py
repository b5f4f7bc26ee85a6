"""The contracts between the core and the venues: what the engine asks of a venue's parts.

Each venue folder under `adapters/` implements them (its codec, its book sync, an order gateway where it
takes orders, the simulated venue) and registers its parts in `adapters/registry.py`; the core names only
these types, never a venue. They are `typing.Protocol`s: a venue's class conforms by its shape, checked by
the type checker, without inheriting from anything here. The errors a codec raises, which the core catches,
live here too.
"""
from engine.contracts.book_sync import BookSync, BookSyncFactory, SyncResult
from engine.contracts.market_data import (InstrumentDecoder, MalformedFrame, MarketDataCodec, MultiEventCodec,
                                          SingleEventCodec, UnknownSymbol)
from engine.contracts.orders import GatewaySettings, OrderGateway
from engine.contracts.simulated import SimulatedVenue

__all__ = [
    "BookSync", "BookSyncFactory", "SyncResult",
    "InstrumentDecoder", "MalformedFrame", "MarketDataCodec", "MultiEventCodec", "SingleEventCodec",
    "UnknownSymbol",
    "GatewaySettings", "OrderGateway",
    "SimulatedVenue",
]
