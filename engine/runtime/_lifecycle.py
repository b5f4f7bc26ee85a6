"""Lifecycle events of actors: started, crashed, restarted, stopped, gave up.

Each event is logged and counted per actor, so that a crash is never silent and a run report can say how
often each actor was restarted.
"""
from __future__ import annotations

import enum
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("engine.lifecycle")


class LifecycleKind(enum.Enum):
    STARTED = "started"
    RESTARTED = "restarted"
    CRASHED = "crashed"
    EXITED = "exited"
    STOPPED = "stopped"
    STOP_OVERRAN = "stop_overran"
    GAVE_UP = "gave_up"
    DEAD_LETTER = "dead_letter"        # the message in hand when the actor crashed, set aside
    SHUTDOWN_ERROR = "shutdown_error"  # an actor failed while it was being stopped


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    actor: str
    kind: LifecycleKind
    ts_ns: int
    error: str = ""


class Lifecycle:
    """The record of lifecycle events of one actor tree, with counts per actor and kind."""

    def __init__(self, now_ns: Callable[[], int], keep: int = 10_000):
        self._now_ns = now_ns
        self._keep = keep
        self.events: list[LifecycleEvent] = []
        self.counts: Counter[tuple[str, LifecycleKind]] = Counter()

    def record(self, actor: str, kind: LifecycleKind, error: BaseException | None = None) -> None:
        text = self._count(actor, kind, error)
        if kind in (LifecycleKind.CRASHED, LifecycleKind.GAVE_UP, LifecycleKind.SHUTDOWN_ERROR):
            log.error("actor %s %s: %s", actor, kind.value, text)
        elif kind is LifecycleKind.STOP_OVERRAN:
            log.warning("actor %s did not stop within its shutdown time", actor)
        else:
            log.info("actor %s %s", actor, kind.value)

    def dead_letter(self, actor: str, msg: object, error: BaseException) -> None:
        """`actor` crashed with `error` while `msg` was in hand: count it, and log what was set aside."""
        text = self._count(actor, LifecycleKind.DEAD_LETTER, error)
        shown = repr(msg)
        log.error("actor %s set aside a dead letter after %s: %s", actor, text,
                  shown if len(shown) <= 300 else shown[:297] + "...")

    def _count(self, actor: str, kind: LifecycleKind, error: BaseException | None) -> str:
        text = f"{type(error).__name__}: {error}" if error is not None else ""
        if len(self.events) < self._keep:
            self.events.append(LifecycleEvent(actor, kind, self._now_ns(), text))
        self.counts[actor, kind] += 1
        return text

    def count(self, actor: str, kind: LifecycleKind) -> int:
        return self.counts[actor, kind]

    def per_actor(self, kind: LifecycleKind) -> dict[str, int]:
        """Counts of one kind for every actor that has any event, in name order."""
        actors = sorted({actor for actor, _ in self.counts})
        return {actor: self.counts[actor, kind] for actor in actors}
