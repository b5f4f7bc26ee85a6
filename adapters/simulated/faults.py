"""Faults the simulated venue injects on purpose, scheduled from a seed so that a run can be replayed.

A client is only as good as what it survives, and a real venue fails in a handful of ways: it drops
WebSocket connections, skips a depth diff, answers 429 or 5xx, executes an order and loses the reply,
sends an execution report twice or out of order, answers late, or stops answering at all. Each kind is
counted on its own counter (`COUNTED_ON`): REST requests, accepted orders, the messages of one depth
stream, the frames of one stream connection, the events of one account's user data stream. The n-th
counted event (from 1) is hit if n is in the rule's `at`, or if a draw seeded by (seed, kind, n) falls
under its `rate_ppm`.

A decision depends on nothing else (not on what other kinds drew, not on time), so the same scenario and
seed hit the same events, and a test can list ahead of time exactly which events a scenario will hit.
This module only decides; the server and the streams carry the faults out.
"""
from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

PPM = 1_000_000
"""Rates are in parts per million of counted events: exact integers, no binary fractions."""


class FaultKind(enum.Enum):
    DROP_CONNECTION = "drop_connection"      # a stream connection is closed after its n-th frame
    SEQUENCE_GAP = "sequence_gap"            # depth message n is never sent: clients see U > previous u + 1
    RATE_LIMIT = "rate_limit"                # request n is refused: 429, -1003, Retry-After
    SERVER_ERROR = "server_error"            # request n gets a 5xx (carried out first if `executed`)
    LOST_REPLY = "lost_reply"                # accepted order n is carried out, and its reply never comes
    DUPLICATE_REPORT = "duplicate_report"    # user data event n is sent twice
    REORDERED_REPORTS = "reordered_reports"  # user data event n is sent after event n + 1
    LATENCY_SPIKE = "latency_spike"          # request n waits `delay_ms` before the venue reads it
    STALL = "stall"                          # from request n on, nothing is answered for `duration_ms`


COUNTED_ON = {
    FaultKind.DROP_CONNECTION: "frames sent on one stream connection",
    FaultKind.SEQUENCE_GAP: "depth messages of one diff stream (`<symbol>@depth@100ms`, `<symbol>@depth`)",
    FaultKind.RATE_LIMIT: "REST requests",
    FaultKind.SERVER_ERROR: "REST requests",
    FaultKind.LOST_REPLY: "new orders the venue accepted (POST /api/v3/order answered 200)",
    FaultKind.DUPLICATE_REPORT: "user data events of one account",
    FaultKind.REORDERED_REPORTS: "user data events of one account",
    FaultKind.LATENCY_SPIKE: "REST requests",
    FaultKind.STALL: "REST requests",
}


@dataclass(frozen=True, slots=True)
class FaultRule:
    """When one kind of fault fires, and how it looks."""
    kind: FaultKind
    at: frozenset[int] = field(default_factory=frozenset)
    rate_ppm: int = 0
    retry_after_s: int = 10       # rate_limit: the Retry-After header
    status: int = 503             # server_error: the HTTP status
    executed: bool = False        # server_error: the request was carried out before the error
    delay_ms: int = 0             # latency_spike: the extra wait
    duration_ms: int = 0          # stall: how long nothing is answered (0: for good)


class FaultPlan:
    """The scenario's faults: at most one rule per kind, one seed for all draws."""

    def __init__(self, seed: int, rules: Iterable[FaultRule] = ()):
        self.seed = seed
        self._rules: dict[FaultKind, FaultRule] = {}
        for rule in rules:
            if rule.kind in self._rules:
                raise ValueError(f"two rules for the fault {rule.kind.value!r}")
            if not 0 <= rule.rate_ppm <= PPM:
                raise ValueError(f"{rule.kind.value}: rate_ppm must be within 0..{PPM}, got {rule.rate_ppm}")
            self._rules[rule.kind] = rule

    def __bool__(self) -> bool:
        return bool(self._rules)

    def rule(self, kind: FaultKind) -> FaultRule | None:
        return self._rules.get(kind)

    def hit(self, kind: FaultKind, n: int) -> FaultRule | None:
        """The rule if the n-th event counted for `kind` is hit, else None."""
        rule = self._rules.get(kind)
        if rule is None:
            return None
        if n in rule.at:
            return rule
        if rule.rate_ppm and random.Random(f"{self.seed}:{kind.value}:{n}").randrange(PPM) < rule.rate_ppm:
            return rule
        return None

    def scheduled(self, kind: FaultKind, last: int) -> list[int]:
        """The counted events 1..`last` that `kind` hits: what a run will see, known before it starts."""
        return [n for n in range(1, last + 1) if self.hit(kind, n) is not None]


NO_FAULTS = FaultPlan(0)


class Stall:
    """The venue has stopped answering, from the request a `STALL` rule hit, for its duration (0: for good).

    It reads the time from the clock it is given (trio's, in the server), in seconds.
    """

    def __init__(self, now_s: Callable[[], float]):
        self._now_s = now_s
        self._until = -math.inf

    def begin(self, duration_ms: int) -> None:
        self._until = math.inf if duration_ms == 0 else self._now_s() + duration_ms / 1000

    @property
    def active(self) -> bool:
        return self._now_s() < self._until
