"""What a strategy kind declares: its name, its keys, how it is built (`StrategyKind`), what every strategy is
given besides its keys (`StrategySetup`), and how a check between its keys fails (`ParamError`). Each strategy
module declares its `KIND` with these; `engine.strategies.registry` collects them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.messages import Urgency
from engine.model.numbers import Instrument
from engine.model.sizing import SizingRule
from engine.strategies.api import Strategy


class ParamError(ValueError):
    """A strategy's keys that do not go together; `key` is the one to change."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class StrategySetup:
    """What every strategy of a run is given besides its own keys: its name, its instruments' metadata, and how
    urgently its orders are to be worked."""
    name: str
    instruments: tuple[Instrument, ...]
    urgency: Urgency = Urgency.AGGRESSIVE


@dataclass(frozen=True)
class StrategyKind:
    """One kind of strategy.

    `build(setup, params)` makes the strategy object; `params` is its keys' dataclass; `instruments` how many
    instruments one strategy of the kind trades (0: any number); `quotes` whether it states quotes (post-only
    orders rest at the venue) rather than signalling; `sizing(params, instrument)` its sizing where the table names
    none (None: the table must name one).
    """
    name: str
    doc: str
    params: type
    build: Callable[[StrategySetup, Any], Strategy]
    instruments: int = 1
    quotes: bool = False
    sizing: Callable[[Any, Instrument], SizingRule] | None = None
