"""Hypothesis strategies for the codecs' property tests: garbage JSON, and valid frames damaged in one place."""
from __future__ import annotations

import copy

from hypothesis import strategies as st


def json_values(words: list[str]) -> st.SearchStrategy:
    """Any JSON value, with `words` (a venue's channel names, symbols, numbers) among its strings."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.sampled_from(words),
        lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
        max_leaves=25)


@st.composite
def mutated(draw, frame: dict, garbage: st.SearchStrategy):
    """`frame` with one value somewhere inside replaced by `garbage`, or removed."""
    frame = copy.deepcopy(frame)
    node = frame
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return frame
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            node = child
            continue
        if draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(garbage)
        return frame
