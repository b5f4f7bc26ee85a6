"""How another package adds to the engine: objects it registers under an entry-point group (`engine.venues`,
`engine.strategies`), each beside the built-in ones and refused where it is not what the group holds or takes a
name already taken.
"""
from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Protocol, TypeVar


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def registered(group: str, built_in: Mapping[str, N], kind: type[N], noun: str) -> dict[str, N]:
    """`built_in` by name, then every `kind` object registered under entry-point `group`; `ValueError` for one
    that is not a `kind`, or whose name (a `noun`'s) is already taken."""
    found = dict(built_in)
    for point in entry_points(group=group):
        obj = point.load()
        if not isinstance(obj, kind):
            raise ValueError(f"entry point {point.name!r} of group {group!r} ({point.value}) is a "
                             f"{type(obj).__name__}, not a {kind.__name__}")
        if obj.name in found:
            raise ValueError(f"entry point {point.name!r} of group {group!r} ({point.value}) registers "
                             f"{noun} {obj.name!r}, which is already registered")
        found[obj.name] = obj
    return found
