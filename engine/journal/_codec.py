"""Messages as journal rows, and back: `encode(msg) -> (kind, body)`, `decode(kind, body) -> msg`, exactly.

`kind` is the message type's name; `body` is orjson bytes of a JSON array holding the fields in declaration
order (positional, so that a row carries no field names: smaller rows and a faster decode). Field values:

- `int`, `str`, `bool`, `None`: as JSON. Integers must fit orjson's 64 bits (-2**63 .. 2**64-1): prices and
  quantities in fixed-point units do, and `encode` refuses a larger one with `TypeError` rather than store it
  inexactly;
- `Decimal`: its exact string (`str(Decimal("1.10")) == "1.10"`: value and exponent both survive);
- an enum: its value; `bytes`: base64 text;
- a tuple: an array of its items, each by its own annotation (levels, trades in a `BookView`, fills in a
  `VenueOrderState`); a nested dataclass: its own positional array;
- a field annotated `Any` or with a union of several types (`MarketBatch.events`, `JournalEntry.msg`): a
  tagged value, since the annotation cannot say what it holds. JSON scalars stand for themselves and
  everything else is a two-item array `[tag, payload]`: `["Decimal", "1.10"]`, `["tuple", [...]]`,
  `["bytes", "..."]`, `["Side", "buy"]`, `["Trade", [...]]`.

The registry is built once, at import, from every dataclass in `engine.messages`: one encoder and one decoder
per type, generated from its annotations, so the rebuild's hot path (decoding a million rows) runs one
straight-line function per row and no per-field dispatch. A binary float has no codec: a field annotated
`float` would stop the import, and a float found in an `Any` field is refused.

Changing the vocabulary: a field added at the end of a message with a default still decodes from older rows
(the default fills it in). Renaming, removing, reordering a field or changing its type makes older rows
unreadable: bump `SCHEMA_VERSION`.
"""
from __future__ import annotations

import base64
import dataclasses
import enum
import operator
import types
import typing
from decimal import Decimal
from typing import Any, Callable

import orjson

from engine import messages
from engine.messages import fast_constructor

Convert = Callable[[Any], Any] | None
"""A field's converter one way; None when the value is the same on both sides (JSON does it natively)."""

_ENUM_VALUE = operator.attrgetter("_value_")


class _TypeCodec:
    """The encoder and decoder of one message dataclass: positional JSON arrays."""

    __slots__ = ("kind", "encode", "decode")

    def __init__(self, cls: type, encode: Callable[[Any], list], decode: Callable[[list], Any]):
        self.kind = cls.__name__
        self.encode = encode
        self.decode = decode


_CODECS: dict[type, _TypeCodec] = {}
"""Every message dataclass's codec, by type."""

_ENUM_TYPES: set[type[enum.Enum]] = set()
"""The vocabulary's enums, which a tagged value may hold."""

_TAGGED: dict[str, Callable[[Any], Any]] = {}
"""Decoders of tagged values (`Any` and union fields), by tag."""


# ---------------------------------------------------------------- tagged values (Any and unions)

def _encode_any(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is tuple:
        return ["tuple", [_encode_any(item) for item in value]]
    if kind is Decimal:
        return ["Decimal", str(value)]
    if kind is bytes:
        return ["bytes", _encode_bytes(value)]
    codec = _CODECS.get(kind)
    if codec is not None:
        return [kind.__name__, codec.encode(value)]
    if kind in _ENUM_TYPES:
        return [kind.__name__, value.value]
    raise TypeError(f"the journal cannot hold a {kind.__name__} ({value!r})")


def _decode_any(value: Any) -> Any:
    if type(value) is list:
        tag, payload = value
        return _TAGGED[tag](payload)
    return value


# ---------------------------------------------------------------- converters by annotation

def _converters(annotation: Any, where: str) -> tuple[Convert, Convert]:
    """(encode, decode) for a field with `annotation`; `where` names the field for the error of a type the
    journal refuses."""
    if annotation in (int, str, bool, type(None)):
        return None, None
    if annotation is Decimal:
        return str, Decimal
    if annotation is bytes:
        return _encode_bytes, base64.b64decode
    if annotation is Any:
        return _encode_any, _decode_any
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        # `_value_` read in C: an enum's `.value` and its hash are Python-level code, slow on the hot path.
        return _ENUM_VALUE, {m.value: m for m in annotation}.__getitem__
    if dataclasses.is_dataclass(annotation):
        codec = _codec_of(annotation)
        return codec.encode, codec.decode
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return _union_converters(args, where)
    if origin is tuple:
        return _tuple_converters(args, where)
    raise TypeError(f"{where}: the journal has no codec for {annotation!r}")


def _union_converters(args: tuple, where: str) -> tuple[Convert, Convert]:
    present = [arg for arg in args if arg is not type(None)]
    if len(present) > 1:
        return _encode_any, _decode_any
    encode, decode = _converters(present[0], where)
    if isinstance(present[0], type) and issubclass(present[0], enum.Enum):
        # An optional enum decodes by one look-up too: the table maps None to None.
        return _optional(encode), {None: None, **{m.value: m for m in present[0]}}.__getitem__
    return _optional(encode), _optional(decode)


def _tuple_converters(args: tuple, where: str) -> tuple[Convert, Convert]:
    if len(args) == 2 and args[1] is Ellipsis:
        encode, decode = _converters(args[0], where)
        return (None if encode is None else _each(encode, list),
                tuple if decode is None else _each(decode, tuple))
    pairs = [_converters(arg, where) for arg in args]
    encodes, decodes = [e for e, _ in pairs], [d for _, d in pairs]
    return (None if all(e is None for e in encodes) else _positional(encodes, list),
            tuple if all(d is None for d in decodes) else _positional(decodes, tuple))


def _encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _optional(convert: Convert) -> Convert:
    if convert is None:
        return None
    return lambda value: None if value is None else convert(value)


def _each(convert: Callable[[Any], Any], into: type) -> Callable[[Any], Any]:
    return lambda values: into(map(convert, values))


def _positional(converts: list[Convert], into: type) -> Callable[[Any], Any]:
    return lambda values: into(value if c is None else c(value) for c, value in zip(converts, values))


# ---------------------------------------------------------------- one message type

def _codec_of(cls: type) -> _TypeCodec:
    """The codec of dataclass `cls`, generated once: an encoder `[o.a, str(o.b), ...]` and a decoder
    `make(a[0], Decimal(a[1]), ...)` as straight-line functions."""
    codec = _CODECS.get(cls)
    if codec is not None:
        return codec
    hints = typing.get_type_hints(cls, vars(messages))
    fields = dataclasses.fields(cls)
    namespace: dict[str, Any] = {"_make": fast_constructor(cls), "_pad": _padder(cls, hints)}
    encoded, decoded = [], []
    for i, field in enumerate(fields):
        encode, decode = _converters(hints[field.name], f"{cls.__name__}.{field.name}")
        namespace[f"_e{i}"], namespace[f"_d{i}"] = encode, decode
        encoded.append(f"o.{field.name}" if encode is None else f"_e{i}(o.{field.name})")
        decoded.append(f"a[{i}]" if decode is None else f"_d{i}(a[{i}])")
    source = (f"def encode(o):\n    return [{', '.join(encoded)}]\n"
              f"def decode(a):\n    if len(a) != {len(fields)}:\n        a = _pad(a)\n"
              f"    return _make({', '.join(decoded)})\n")
    exec(source, namespace)
    codec = _CODECS[cls] = _TypeCodec(cls, namespace["encode"], namespace["decode"])
    return codec


def _padder(cls: type, hints: dict[str, Any]) -> Callable[[list], list]:
    """Completes a row written before fields were added at the end of `cls` with their defaults."""
    fields = dataclasses.fields(cls)

    def pad(values: list) -> list:
        missing = fields[len(values):]
        if not missing or any(f.default is dataclasses.MISSING for f in missing):
            raise ValueError(f"a {cls.__name__} row holds {len(values)} fields; {cls.__name__} has "
                             f"{len(fields)} and only trailing fields with defaults may be absent")
        extra = []
        for f in missing:
            encode, _ = _converters(hints[f.name], f"{cls.__name__}.{f.name}")
            extra.append(f.default if encode is None else encode(f.default))
        return [*values, *extra]

    return pad


def _build_registry() -> None:
    for value in vars(messages).values():
        if not isinstance(value, type) or value.__module__ != messages.__name__:
            continue
        if issubclass(value, enum.Enum):
            _ENUM_TYPES.add(value)
            _TAGGED[value.__name__] = {member.value: member for member in value}.__getitem__
    for value in vars(messages).values():
        if isinstance(value, type) and value.__module__ == messages.__name__ and dataclasses.is_dataclass(value):
            _TAGGED[value.__name__] = _codec_of(value).decode
    _TAGGED.update({"tuple": lambda items: tuple(map(_decode_any, items)), "Decimal": Decimal,
                    "bytes": base64.b64decode})


_build_registry()

DECODERS: dict[str, Callable[[list], Any]] = {cls.__name__: codec.decode for cls, codec in _CODECS.items()}
"""The decoder of each kind, from the parsed JSON array of a body (for the rebuild's loop)."""

MESSAGE_TYPES: tuple[type, ...] = tuple(_CODECS)
"""Every message type the journal holds: the dataclasses of `engine.messages`."""


# ---------------------------------------------------------------- the public pair

def encode(msg: Any) -> tuple[str, bytes]:
    """`(kind, body)` of a message of `engine.messages`. Raises TypeError for anything else, or for a value
    the journal cannot hold exactly (an integer beyond 64 bits, a float in an `Any` field)."""
    codec = _CODECS.get(type(msg))
    if codec is None:
        raise TypeError(f"{type(msg).__name__} is not a message of engine.messages")
    try:
        return codec.kind, orjson.dumps(codec.encode(msg))
    except TypeError as exc:
        raise TypeError(f"{codec.kind}: {exc}") from exc


def decode(kind: str, body: bytes) -> Any:
    """The message `encode` turned into `(kind, body)`: equal to it, each `Decimal` with its exponent."""
    decoder = DECODERS.get(kind)
    if decoder is None:
        raise ValueError(f"unknown message kind {kind!r}")
    return decoder(orjson.loads(body))

