"""The message vocabulary: immutable, and the hot-path constructors build exactly what `__init__` does."""
from __future__ import annotations

import dataclasses

import pytest

from engine.messages import DepthDiff, Side, TopOfBook, Trade, make_depth_diff, make_top_of_book, make_trade


def test_fast_constructors_build_equal_immutable_objects_with_the_same_defaults():
    pairs = [
        (make_depth_diff("BTC/USDT", 1, 2, 3, -1, ((5, 6),), ()), DepthDiff("BTC/USDT", 1, 2, 3, -1, ((5, 6),), ())),
        (make_depth_diff("X/Y", 1, 2, 3, 4, (), (), checksum=7), DepthDiff("X/Y", 1, 2, 3, 4, (), (), 7)),
        (make_trade("BTC/USDT", 1, 9, 100, 2, Side.SELL), Trade("BTC/USDT", 1, 9, 100, 2, Side.SELL)),
        (make_top_of_book("BTC/USDT", 1, 2, 3, 4, 5, 6), TopOfBook("BTC/USDT", 1, 2, 3, 4, 5, 6)),
    ]
    for fast, slow in pairs:
        assert type(fast) is type(slow) and fast == slow and hash(fast) == hash(slow)
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.ts_ns = 0
    assert make_depth_diff("A/B", 1, 2, 3, -1, (), ()).checksum is None


def test_fast_constructor_refuses_a_missing_field():
    with pytest.raises(TypeError):
        make_trade("BTC/USDT", 1, 9, 100, 2)
