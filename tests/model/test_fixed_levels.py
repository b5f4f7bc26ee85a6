"""The compiled `fixed_levels` gives what its Python form gives, value for value and error for error.

The compiled form reads canonical decimal strings in C and hands everything else to the parser or to the Python
form; these tests hold the two to the same answers on every depth level of the recorded Binance captures, on
generated strings near the edges of the canonical form, and on every shape a level list can be given in.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, strategies as st

from engine.model import numbers
from engine.model.numbers import FixedParser, NumberFormatError, _fixed_levels
from engine.replay.formats import read_capture

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
SPOT = RECORDED / "nkaz001+hftbacktest" / "examples" / "spot"

compiled = numbers._compiled_fixed_levels()
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


def test_the_engine_uses_the_compiled_form_where_it_was_built():
    assert numbers.FIXED_LEVELS_COMPILED is (compiled is not None)
    assert (numbers.fixed_levels is compiled) if compiled is not None else numbers.fixed_levels is _fixed_levels


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
@pytest.mark.parametrize("text", [
    "61737.63000000", "0.00000001", "0.00000000", "999999999.99999999", "9999999999.99999999",   # 18 and 19 digits
    "1.5", ".50000000", "1.000000000", "1.000000001", "-1.00000000", "+1.00000000", "1_0.00000000", "1..00000000",
    "1.0000000.", "1e-05", " 1.00000000", "١.00000000", "", ".", "00012.30000000",
])
def test_canonical_and_near_canonical_strings_decode_alike(text):
    compiled_answer, python_answer = both([[text, text]])
    assert compiled_answer == python_answer


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
    edited = tmp_path / "_fixed_levels.pyx"
    edited.write_bytes(numbers._SOURCE.read_bytes() + b"# edited\n")
    with caplog.at_level(logging.WARNING, logger="engine"):
        assert numbers._compiled_fixed_levels(edited) is None
    assert "changed since it was compiled" in caplog.text
    assert numbers._compiled_fixed_levels(numbers._SOURCE) is compiled


def test_the_python_form_is_chosen_when_asked(monkeypatch):
    monkeypatch.setenv("ENGINE_PURE_PYTHON", "1")
    assert numbers._compiled_fixed_levels() is None


def test_negative_and_malformed_numbers_are_refused_by_the_engine_form():
    with pytest.raises(NumberFormatError, match="negative"):
        numbers.fixed_levels([["-1.00000000", "1.00000000"]], FixedParser(8), FixedParser(8))
    with pytest.raises(ValueError):
        numbers.fixed_levels([["1.00000000"]], FixedParser(8), FixedParser(8))
