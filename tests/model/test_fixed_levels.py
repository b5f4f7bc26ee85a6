"""The compiled `fixed_levels` and `FixedParser.__missing__` give what their Python forms give, value for value and
error for error.

The compiled forms read canonical decimal strings in C and hand everything else to the Python forms; these tests hold
the two to the same answers on every depth level of the recorded Binance captures, on generated strings near the
edges of the canonical form, and on every shape a level list can be given in.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, strategies as st

from engine.model import compiled as compiled_parts
from engine.model import numbers
from engine.model.numbers import FixedParser, NumberFormatError, _fixed_levels
from engine.replay.formats import read_capture

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
SPOT = RECORDED / "nkaz001+hftbacktest" / "examples" / "spot"

kernel = numbers._compiled_kernel()
compiled = kernel.fixed_levels if kernel is not None else None
needs_compiled = pytest.mark.skipif(compiled is None, reason="the compiled form was not built here (no C compiler "
                                                             "at install, or ENGINE_PURE_PYTHON is set)")


def answer(form: Any, levels: Any, price: FixedParser, qty: FixedParser) -> tuple[str, Any]:
    """What `form` returns, or the type and text of what it raises."""
    try:
        return "value", form(levels, price, qty)
    except Exception as exc:   # the error is part of the answer
        return type(exc).__name__, str(exc)


def both(levels: Any, price_decimals: int = 8, qty_decimals: int = 8) -> tuple[Any, Any]:
    assert compiled is not None
    return (answer(compiled, levels, FixedParser(price_decimals), FixedParser(qty_decimals)),
            answer(_fixed_levels, levels, FixedParser(price_decimals), FixedParser(qty_decimals)))


def test_the_engine_uses_the_compiled_forms_where_they_were_built():
    assert numbers._kernel is kernel
    if kernel is not None:
        assert numbers.fixed_levels is compiled and FixedParser.__missing__ is kernel.missing
    else:
        assert numbers.fixed_levels is _fixed_levels and FixedParser.__missing__ is numbers._python_missing


def python_parser(decimals: int) -> FixedParser:
    """A parser whose misses go to the Python form of `__missing__`."""
    class Python(FixedParser):
        __missing__ = numbers._python_missing
    return Python(decimals)


def looked_up(parser: FixedParser, text: Any) -> tuple[str, Any]:
    try:
        return "value", parser[text]
    except Exception as exc:
        return type(exc).__name__, str(exc)


@needs_compiled
@pytest.mark.skipif(not SPOT.exists(), reason=f"the recorded captures are not here ({SPOT})")
def test_every_depth_level_of_the_recorded_spot_captures_decodes_alike():
    price, qty = FixedParser(8), FixedParser(8)
    levels = 0
    for path in sorted(SPOT.glob("*.gz")):
        for _, raw in read_capture(path):
            data = orjson.loads(raw)
            data = data.get("data", data)
            for side in ("b", "a", "bids", "asks"):
                if type(data.get(side)) is list:
                    assert compiled(data[side], price, qty) == _fixed_levels(data[side], FixedParser(8),
                                                                             FixedParser(8))
                    levels += len(data[side])
    assert levels > 100_000


NUMBER = st.text(alphabet="0123456789.-+ _e١", min_size=0, max_size=22)


@needs_compiled
@given(st.lists(st.tuples(NUMBER, NUMBER), max_size=6), st.integers(0, 12), st.integers(0, 12))
def test_generated_strings_decode_alike_or_fail_alike(pairs, price_decimals, qty_decimals):
    levels = [list(pair) for pair in pairs]
    compiled_answer, python_answer = both(levels, price_decimals, qty_decimals)
    assert compiled_answer == python_answer


@needs_compiled
@given(st.lists(NUMBER, max_size=8), st.integers(0, 12))
def test_a_parser_reads_and_keeps_its_misses_alike(texts, decimals):
    fast, python = FixedParser(decimals, max_entries=3), python_parser(decimals)
    python._max = 3
    for text in texts:
        assert looked_up(fast, text) == looked_up(python, text)
        assert dict(fast) == dict(python)   # the same kept, the cache cleared at the same size


@needs_compiled
@pytest.mark.parametrize("text", [
    "61737.63000000", "0.00000001", "0.00000000", "999999999.99999999", "9999999999.99999999",   # 18 and 19 digits
    "1.5", ".50000000", "1.000000000", "1.000000001", "-1.00000000", "+1.00000000", "1_0.00000000", "1..00000000",
    "1.0000000.", "1e-05", " 1.00000000", "١.00000000", "", ".", "00012.30000000",
])
def test_canonical_and_near_canonical_strings_decode_alike(text):
    compiled_answer, python_answer = both([[text, text]])
    assert compiled_answer == python_answer
    assert looked_up(FixedParser(8), text) == looked_up(python_parser(8), text)


@needs_compiled
@pytest.mark.parametrize("text", ["0", "1", "01", "999999999999999999", "9999999999999999999", "18446744073709551617",
                                  "1.", "1.0"])
def test_whole_numbers_decode_alike_where_there_are_no_decimals(text):
    compiled_answer, python_answer = both([[text, text]], 0, 0)
    assert compiled_answer == python_answer
    assert looked_up(FixedParser(0), text) == looked_up(python_parser(0), text)


@needs_compiled
@pytest.mark.parametrize("levels", [
    [], (("1.00000000", "2.00000000"),), [("1.00000000", "2.00000000")], [["1.00000000"]],
    [["1.00000000", "2.00000000", "3"]], [[1, "2.00000000"]], [["1.00000000", None]], ["12"], [None], 5, None,
])
def test_every_shape_of_level_list_decodes_alike_or_fails_alike(levels):
    compiled_answer, python_answer = both(levels)
    assert compiled_answer == python_answer


@needs_compiled
def test_a_parser_with_rules_of_its_own_is_asked_for_every_string():
    class Doubling(FixedParser):
        def __missing__(self, text: str) -> int:
            return 2 * FixedParser.__missing__(self, text)

    assert compiled is not None
    assert compiled([["1.00000000", "2.00000000"]], Doubling(8), Doubling(8)) == ((200_000_000, 400_000_000),)


@needs_compiled
def test_a_build_older_than_its_source_is_not_used(tmp_path, caplog):
    edited = tmp_path / "_numbers_compiled.pyx"
    edited.write_bytes(numbers._SOURCE.read_bytes() + b"# edited\n")
    with caplog.at_level(logging.WARNING, logger="engine"):   # (engine.model.compiled's check)
        assert numbers._compiled_kernel(edited) is None
    assert "changed since it was compiled" in caplog.text
    assert numbers._compiled_kernel(numbers._SOURCE) is kernel


@needs_compiled
def test_a_build_older_than_the_c_it_shares_is_not_used(tmp_path, monkeypatch):
    [shared] = compiled_parts.SHARED
    edited = tmp_path / shared.name
    edited.write_bytes(shared.read_bytes() + b"# edited\n")
    monkeypatch.setattr(compiled_parts, "SHARED", (edited,))
    assert numbers._compiled_kernel() is None


def test_the_python_form_is_chosen_when_asked_or_when_nothing_was_built(monkeypatch):
    assert compiled_parts.load("engine.model._never_built", numbers._SOURCE) is None
    monkeypatch.setenv("ENGINE_PURE_PYTHON", "1")
    assert numbers._compiled_kernel() is None


def test_negative_and_malformed_numbers_are_refused_by_the_engine_form():
    with pytest.raises(NumberFormatError, match="negative"):
        numbers.fixed_levels([["-1.00000000", "1.00000000"]], FixedParser(8), FixedParser(8))
    with pytest.raises(ValueError):
        numbers.fixed_levels([["1.00000000"]], FixedParser(8), FixedParser(8))
