"""The journal's codec: every message of the vocabulary comes back exactly as it went in, Decimal exponents
included, from strategies built from the dataclasses' own annotations."""
from __future__ import annotations

import dataclasses
import enum
import typing
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import messages
from engine.journal import MESSAGE_TYPES, decode, encode
from engine.messages import ExecType, ExecutionReport, JournalEntry, Liquidity, Side, Trade

VOCABULARY = [value for value in vars(messages).values()
              if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == messages.__name__]
ENUMS = [value for value in vars(messages).values()
         if isinstance(value, type) and issubclass(value, enum.Enum) and value.__module__ == messages.__name__]

INT64 = st.integers(-2**63, 2**64 - 1)  # what orjson holds: documented as the journal's integer range


def strategy_for(annotation: Any) -> st.SearchStrategy:
    """Values of `annotation`, as the message dataclasses declare their fields."""
    if annotation is int:
        return INT64
    if annotation is str:
        return st.text(max_size=12)
    if annotation is bool:
        return st.booleans()
    if annotation is bytes:
        return st.binary(max_size=24)
    if annotation is Decimal:
        return st.decimals(allow_nan=True, allow_infinity=True)
    if annotation is type(None):
        return st.none()
    if annotation is Any:
        return ANY
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(annotation)
    if dataclasses.is_dataclass(annotation):
        return message_strategy(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
    if origin is tuple:
        return st.tuples(*map(strategy_for, args))
    return st.one_of([strategy_for(arg) for arg in args])  # a union


def message_strategy(cls: type) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls, vars(messages))
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


ANY = st.deferred(lambda: st.recursive(
    st.none() | st.booleans() | INT64 | st.text(max_size=8) | st.binary(max_size=8)
    | strategy_for(Decimal) | st.one_of([st.sampled_from(e) for e in ENUMS])
    | st.one_of([message_strategy(cls) for cls in VOCABULARY if cls is not JournalEntry]),
    lambda children: st.lists(children, max_size=3).map(tuple),
    max_leaves=6,
))


def canonical(value: Any) -> Any:
    """A form that tells apart everything a round trip must keep: types, Decimal exponents, tuple shapes."""
    if dataclasses.is_dataclass(value):
        return type(value).__name__, tuple(canonical(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, Decimal):
        return "Decimal", value.as_tuple()
    if isinstance(value, tuple):
        return "tuple", tuple(map(canonical, value))
    return type(value).__name__, value


def test_the_registry_covers_every_dataclass_of_the_vocabulary():
    assert set(MESSAGE_TYPES) == set(VOCABULARY)


@pytest.mark.parametrize("cls", VOCABULARY, ids=lambda cls: cls.__name__)
def test_every_message_type_round_trips_exactly(cls):
    @settings(max_examples=150, deadline=None)
    @given(message_strategy(cls))
    def round_trip(msg):
        kind, body = encode(msg)
        assert kind == cls.__name__ and type(body) is bytes
        back = decode(kind, body)
        assert canonical(back) == canonical(msg)

    round_trip()


def test_decimal_keeps_value_and_exponent():
    for text in ("1.10", "0.00100000", "1E+3", "-0.000", "123456789012345678901234567890.123456789"):
        report = ExecutionReport("binance", "c-1", "v-1", ExecType.TRADE, 1, 5, 5, 100, Decimal(text), "USDT")
        fee = decode(*encode(report)).fee
        assert str(fee) == text and fee.as_tuple() == Decimal(text).as_tuple()


def test_integers_beyond_64_bits_are_refused_not_rounded():
    assert decode(*encode(Trade("X/Y", 2**64 - 1, -2**63, 1, 1, Side.BUY))).ts_ns == 2**64 - 1
    for too_big in (2**64, -2**63 - 1):
        with pytest.raises(TypeError, match="Trade"):
            encode(Trade("X/Y", 1, 1, too_big, 1, Side.BUY))


def test_a_float_or_a_foreign_object_is_refused():
    with pytest.raises(TypeError, match="float"):
        encode(JournalEntry(1, 2, 3, "orders", 1.5))
    with pytest.raises(TypeError, match="not a message"):
        encode({"price": 1})
    with pytest.raises(ValueError, match="unknown message kind 'Nope'"):
        decode("Nope", b"[]")


def test_rows_of_schema_version_1_stay_readable():
    """Bodies as this version writes them: if this test has to change, older journals no longer decode and
    SCHEMA_VERSION must be bumped."""
    report = decode("ExecutionReport", b'["binance","r1-7","881","TRADE",5,30,10,6000012,"0.0060",'
                                       b'"USDT","maker","","t9"]')
    assert report == ExecutionReport("binance", "r1-7", "881", ExecType.TRADE, 5, 30, 10, 6000012,
                                     Decimal("0.0060"), "USDT", Liquidity.MAKER, "", "t9")
    entry = decode("JournalEntry", b'[1,2,3,"a",["tuple",[["Decimal","1.0"],["Side","sell"],null,'
                                   b'["Trade",["X/Y",1,2,3,4,"buy"]]]]]')
    assert canonical(entry.msg) == canonical((Decimal("1.0"), Side.SELL, None, Trade("X/Y", 1, 2, 3, 4, Side.BUY)))


def test_a_row_from_before_a_defaulted_field_was_added_still_decodes():
    report = ExecutionReport("binance", "c-1", "v-1", ExecType.NEW, 1, 0, reason="r", trade_id="t")
    fields = orjson.loads(encode(report)[1])
    older = decode("ExecutionReport", orjson.dumps(fields[:-2]))  # written before `reason` and `trade_id`
    assert older == dataclasses.replace(report, reason="", trade_id="")
    with pytest.raises(ValueError, match="ExecutionReport row holds 4 fields"):
        decode("ExecutionReport", orjson.dumps(fields[:4]))  # `ts_ns` and `cum_qty` have no default
