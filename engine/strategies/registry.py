"""The one place a strategy kind registers: what `[[strategy]] kind` names, its keys, and how it is built.

A kind declares its own keys of the `[[strategy]]` table as a frozen dataclass (`params`): each field's type (`int`,
`bool`, `str`, `Decimal`) and default, with `metadata` saying what it means (`doc`), its range for a number (`ge`,
`le`), and `unit` for an amount in an instrument's fixed-point units (`"quantity"`: base asset, `"price"`: quote
asset per unit; written in the file as a decimal string, given to the dataclass as an exact integer). The scenario
schema is built from these (`engine.app.schema`), so a kind's keys are checked, documented and printed by
`python -m engine schema` like every other key. A check between a kind's keys raises `ParamError` naming the key.

A strategy kind can also come from another package: a distribution that declares an entry point in the
`engine.strategies` group, whose object is a `StrategyKind`, adds that kind (a built-in name cannot be taken).
"""
from __future__ import annotations

from engine.contracts.plugins import registered
from engine.strategies import ema_cross, market_maker, mean_reversion
from engine.strategies.kind import ParamError, StrategyKind, StrategySetup

__all__ = ["ENTRY_POINT_GROUP", "ParamError", "StrategyKind", "StrategySetup", "strategy_kinds"]

ENTRY_POINT_GROUP = "engine.strategies"


def _built_in() -> dict[str, StrategyKind]:
    return {kind.name: kind for kind in (ema_cross.KIND, market_maker.KIND, mean_reversion.KIND)}


def strategy_kinds() -> dict[str, StrategyKind]:
    """Every strategy kind by name: the built-in ones, then those other packages register under
    `engine.strategies`. `ValueError` for a registered object that is not a `StrategyKind`, or whose name is taken."""
    return registered(ENTRY_POINT_GROUP, _built_in(), StrategyKind, "strategy kind")
