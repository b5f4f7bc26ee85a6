"""Crashes a scenario injects into actors on purpose, to show that a restart recovers what the crash broke.

A rule names an actor and when it crashes:

- `after_events`: when the actor takes its N-th message in hand (counting every message it receives, a
  message handed again after a crash included); that message is the one in hand, set aside as a dead letter;
- `at_ns`: at that time of the injected clock (an `InjectedCrash` the clock delivers to the actor's inbox,
  so the crash lands exactly then, between messages, and no message is lost with it);
- `rate_ppm`: each message the actor takes is a crash with that probability, drawn from (seed, actor, count)
  alone, so a replay crashes at the same messages every time.

`times` bounds the crashes a rule causes (one by default). The plan outlives restarts: its counts are the
actor's over the whole run.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

PPM = 1_000_000


class InjectedFault(RuntimeError):
    """A crash a scenario asked for, to show that supervision recovers from it."""


@dataclass(frozen=True, slots=True)
class InjectedCrash:
    """Delivered by the clock to an actor's inbox at the time a timed rule names: taking it in hand crashes
    the actor (and it is no dead letter: no real message is lost with it)."""
    actor: str
    due_ns: int


@dataclass(frozen=True, slots=True)
class CrashRule:
    actor: str
    after_events: int | None = None
    at_ns: int | None = None
    rate_ppm: int = 0
    seed: int = 0
    times: int = 1

    def __post_init__(self) -> None:
        if (self.after_events is None) + (self.at_ns is None) + (self.rate_ppm == 0) != 2:
            raise ValueError(f"crash rule for {self.actor!r}: give exactly one of after_events, at_ns, rate_ppm")
        if self.after_events is not None and self.after_events < 1:
            raise ValueError(f"crash rule for {self.actor!r}: after_events counts from 1, got {self.after_events}")
        if not 0 <= self.rate_ppm <= PPM:
            raise ValueError(f"crash rule for {self.actor!r}: rate_ppm must be within 0..{PPM}, got {self.rate_ppm}")
        if self.times < 1:
            raise ValueError(f"crash rule for {self.actor!r}: times must be at least 1, got {self.times}")


class CrashPlan:
    """The crashes of one run, and how many messages each actor has taken in hand so far."""

    def __init__(self, rules: Iterable[CrashRule] = ()):
        self.rules = tuple(rules)
        self.received: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self._left = {id(rule): rule.times for rule in self.rules}
        self._by_actor: dict[str, list[CrashRule]] = {}
        for rule in self.rules:
            if rule.at_ns is None:
                self._by_actor.setdefault(rule.actor, []).append(rule)
        self._named = frozenset(rule.actor for rule in self.rules)

    def timed(self) -> list[tuple[str, int]]:
        """(actor, time) of every crash due at a clock time, for the session to schedule."""
        return [(rule.actor, rule.at_ns) for rule in self.rules if rule.at_ns is not None]

    def watches(self, actor: str) -> bool:
        """Whether a rule counts `actor`'s messages (an actor on a hot path may skip the count otherwise)."""
        return actor in self._by_actor

    def strikes(self, actor: str) -> bool:
        """Whether any rule names `actor`: one counting its messages, or one crashing it at a time."""
        return actor in self._named

    def count(self, actor: str, n: int) -> None:
        """Count `n` messages taken in hand by `actor`, which no rule names (so none of them can crash it)."""
        if n:
            self.received[actor] += n

    def on_message(self, actor: str) -> None:
        """Count one message `actor` takes in hand; raise `InjectedFault` if a rule says it crashes on it."""
        n = self.received[actor] = self.received[actor] + 1
        rules = self._by_actor.get(actor)
        if not rules:
            return
        for rule in rules:
            if not self._left[id(rule)]:
                continue
            if rule.after_events is not None:
                hit = n == rule.after_events
            else:
                hit = random.Random(f"{rule.seed}:{actor}:{n}").randrange(PPM) < rule.rate_ppm
            if hit:
                self.fired(rule.actor)
                self._left[id(rule)] -= 1
                raise InjectedFault(f"fault injected into {actor!r} on the message numbered {n} it received")

    def fired(self, actor: str) -> None:
        """Count a crash injected into `actor` (by a rule here, or by a timed crash arriving)."""
        self.injected[actor] += 1
