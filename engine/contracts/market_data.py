"""The market-data codec: what the core asks of a venue's decoder of frames, and the refusals it catches.

A codec is pure (sans-IO): frames and REST bodies in, the engine's market events out. Venues differ in one
way the replay must know: Binance's codec makes at most one event of a frame (its hot path decodes a parsed
object straight into that event), the others a sequence of events of a raw frame (Kraken keeps numbers
exact by reading the raw text). A codec says which it is (`one_event_per_frame`), so that a reader of
recordings picks its loop by what the codec states, never by the codec's class.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, TypeAlias

from engine.messages import BookSnapshot, MarketEvent
from engine.model.numbers import Instrument


class MalformedFrame(ValueError):
    """A frame that cannot be decoded; the message names the event and the field that is wrong."""


class UnknownSymbol(MalformedFrame):
    """A well-formed frame for a venue symbol the codec was not given an instrument for."""


class InstrumentDecoder(Protocol):
    """What every codec keeps: the instruments it decodes, by venue symbol."""

    def knows(self, venue_symbol: str) -> bool:
        """Whether frames of `venue_symbol` decode (others raise `UnknownSymbol`)."""
        ...

    def add_instrument(self, instrument: Instrument) -> None:
        """Decode frames of `instrument` too (a verifier learns instruments as a recording names them)."""
        ...


class SingleEventCodec(InstrumentDecoder, Protocol):
    """A codec that makes at most one event of a frame, and reads the venue's REST depth snapshots."""

    @property
    def one_event_per_frame(self) -> Literal[True]: ...

    def decode(self, obj: Any, ts_ns: int) -> MarketEvent | None:
        """The event of a parsed frame received at `ts_ns`, None for a frame that holds none (a subscription
        answer); `MalformedFrame` (or `UnknownSymbol`) for one the venue would not send."""
        ...

    def decode_raw(self, frame: bytes | str, ts_ns: int) -> MarketEvent | None:
        """`decode` of a frame as received or recorded (its raw JSON text; text that is not JSON is a
        `MalformedFrame` too): what a replay reads, so a codec may read it faster than parsed JSON."""
        ...

    def decode_rest(self, url: str, obj: Any, ts_ns: int) -> BookSnapshot | None:
        """The depth snapshot of a parsed REST answer from `url`, None for a REST answer that is not one."""
        ...


class MultiEventCodec(InstrumentDecoder, Protocol):
    """A codec that makes a sequence of events (possibly none) of each frame."""

    @property
    def one_event_per_frame(self) -> Literal[False]: ...

    def decode(self, obj: Any, ts_ns: int) -> Sequence[MarketEvent]:
        """The events of a parsed frame received at `ts_ns`; `MalformedFrame` as `SingleEventCodec.decode`."""
        ...

    def decode_raw(self, frame: bytes | str, ts_ns: int) -> Sequence[MarketEvent]:
        """`decode` of a frame as received (raw JSON text); bad JSON is a `MalformedFrame` too."""
        ...


MarketDataCodec: TypeAlias = SingleEventCodec | MultiEventCodec
"""Any venue's codec; `one_event_per_frame` tells which of the two it is (and narrows the type)."""
