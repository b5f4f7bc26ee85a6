"""The in-process simulated venue: a counterparty that keeps records and fails on purpose.

It wraps the matching engine with what a real venue adds around it: a door that refuses requests outside
Binance's validity window (`recvWindow`), records of every order and trade it accepted (its answers to a
reconciliation, and its account of the run), and the failures a real venue has, scheduled by the same
seeded `FaultPlan` as the HTTP venue so that one vocabulary serves both. It takes each message the venue
actor receives, with the time, and says what to send back, in order; the actor does the sending. Pure: no
trio, no clock.

The venue is the truth after any crash, so it belongs to the session and outlives its actor: a restarted
actor starts a new order stream (`start`), and the order manager, told so, reconciles.

What each fault kind is counted on, in process (the n-th event, from 1, is hit as the plan says):
- `RATE_LIMIT`, `SERVER_ERROR`: requests, new orders and cancels, counted as they arrive (a request carried
  out later after a rate limit arrives, and counts, again). A rate-limited request is refused at the door;
  an order gateway would retry it after Retry-After, so the venue carries it out `retry_after_s` later. A
  server error answers `RequestFailed(UNKNOWN)`, after carrying the request out if the rule says `executed`
  (its reports withheld), before carrying it out otherwise (Binance's 5xx, -1007 and -1001).
- `LOST_REPLY`: new orders the venue accepted; carried out, and nothing of it is sent back.
- `DUPLICATE_REPORT`, `REORDERED_REPORTS`, `DROP_CONNECTION`: execution reports sent on the order stream.
  A dropped stream loses its report (and one held back for reordering) and comes straight back, saying so
  with a `VenueSession`.
Latency spikes, stalls and sequence gaps belong to a venue behind a network and are refused here.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.simulated.faults import NO_FAULTS, FaultKind, FaultPlan, FaultRule
from adapters.simulated.matching import OUTSIDE_RECV_WINDOW, UNKNOWN_ORDER, CancelRejected, MatchingEngine
from adapters.simulated.records import VenueRecords
from engine.messages import (
    BookView,
    CancelAllRequest,
    CancelRequest,
    ExecType,
    ExecutionReport,
    FailureClass,
    NewOrderRequest,
    ReconcileRequest,
    RequestFailed,
    RequestKind,
    VenueSession,
)

DEFAULT_RECV_WINDOW_NS = 5_000_000_000
"""Binance's default `recvWindow`: 5 s."""

NOT_CARRIED_OUT = "Internal error; unable to process your request. Please try again."
CARRIED_OUT = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
"""Binance's words for a 5xx before (-1001) and after (-1007) the request may have been carried out."""

NOT_IN_PROCESS = (FaultKind.LATENCY_SPIKE, FaultKind.STALL, FaultKind.SEQUENCE_GAP)
"""Fault kinds that need a network or a depth stream between the venue and the engine."""

STARTED, RESTARTED, STREAM_DROPPED = "started", "restarted", "stream dropped"


@dataclass(frozen=True, slots=True)
class Redelivery:
    """A request the venue will carry out later: hand it back to the venue at `due_ns`."""
    due_ns: int
    request: NewOrderRequest | CancelRequest


@dataclass(frozen=True, slots=True)
class VenueOutput:
    """What the venue does with one message: `send` back, in order; `redeliver` to itself later; and the
    execution reports it produced but, failing on purpose, never sent (`withheld`: kept in its records)."""
    send: tuple[Any, ...] = ()
    redeliver: tuple[Redelivery, ...] = ()
    withheld: tuple[ExecutionReport, ...] = ()


NOTHING = VenueOutput()


class _Faults:
    """The plan's decisions, each hit counted by kind: a check that saw no fault checked nothing."""

    __slots__ = ("plan", "fired")

    def __init__(self, plan: FaultPlan):
        self.plan = plan
        self.fired: dict[FaultKind, int] = {}

    def hit(self, kind: FaultKind, n: int) -> FaultRule | None:
        rule = self.plan.hit(kind, n)
        if rule is not None:
            self.fired[kind] = self.fired.get(kind, 0) + 1
        return rule


class _OrderStream:
    """The order stream's own faults: a report sent twice, after the next one, or lost with the connection."""

    __slots__ = ("faults", "venue", "sent", "held")

    def __init__(self, faults: _Faults, venue: str):
        self.faults = faults
        self.venue = venue
        self.sent = 0                               # execution reports handed to the stream
        self.held: tuple[ExecutionReport, ...] = ()  # held back (with its duplicate, if any) to follow the next

    def send(self, reports: list[ExecutionReport], now_ns: int) -> VenueOutput:
        if not self.faults.plan:
            return VenueOutput(send=tuple(reports))
        hit = self.faults.hit
        out: list[Any] = []
        lost: list[ExecutionReport] = []
        for report in reports:
            self.sent += 1
            n = self.sent
            if hit(FaultKind.DROP_CONNECTION, n):
                lost += (report, *self.held[:1])
                self.held = ()
                out.append(VenueSession(self.venue, now_ns, STREAM_DROPPED))
                continue
            copies = (report, report) if hit(FaultKind.DUPLICATE_REPORT, n) else (report,)
            if hit(FaultKind.REORDERED_REPORTS, n):
                out += self.held
                self.held = copies
            else:
                out += copies + self.held
                self.held = ()
        return VenueOutput(send=tuple(out), withheld=tuple(lost))

    def restart(self) -> tuple[ExecutionReport, ...]:
        """A new stream: the report the old one held back is lost with it."""
        lost = self.held[:1]
        self.held = ()
        return lost


class InProcessVenue:
    """The simulated venue's state and rules, for the in-process venue actor: messages in, messages out."""

    def __init__(self, matching: MatchingEngine, faults: FaultPlan = NO_FAULTS,
                 recv_window_ns: int = DEFAULT_RECV_WINDOW_NS):
        unusable = [kind.value for kind in NOT_IN_PROCESS if faults.rule(kind) is not None]
        if unusable:
            raise ValueError(f"the in-process venue cannot inject {', '.join(unusable)}: those faults need a "
                             f"network between venue and engine (serve the venue over HTTP for them)")
        if recv_window_ns <= 0:
            raise ValueError(f"recv_window_ns must be positive, got {recv_window_ns}")
        self.matching = matching
        self.recv_window_ns = recv_window_ns
        self.records = VenueRecords()
        self.starts = 0
        self.requests = 0           # new orders and cancels that reached the door
        self.accepted_orders = 0    # new orders accepted and answered without a server error
        self._faults = _Faults(faults)
        self._stream = _OrderStream(self._faults, matching.venue)

    @property
    def venue(self) -> str:
        return self.matching.venue

    @property
    def has_resting_orders(self) -> bool:
        """True while one of our orders rests, and so must see every new view."""
        return self.matching.has_resting_orders

    def start(self, now_ns: int) -> VenueOutput:
        """A venue actor (re)starts: a new order stream, announced so that the order manager reconciles."""
        self.starts += 1
        session = VenueSession(self.venue, now_ns, STARTED if self.starts == 1 else RESTARTED)
        return VenueOutput(send=(session,), withheld=self._stream.restart())

    def handle(self, msg: Any, now_ns: int) -> VenueOutput:
        """What the venue does with `msg`, received at `now_ns`; a message it has no use for does nothing."""
        kind = type(msg)
        if kind is BookView:
            reports = self.matching.on_book(msg)
            if not reports:
                return NOTHING
            self.records.record(reports)
            return self._stream.send(reports, now_ns)
        if kind is NewOrderRequest or kind is CancelRequest:
            return self._request(msg, now_ns)
        if kind is CancelAllRequest:
            reports = [report for cid in self.records.open_orders(msg.instrument)
                       for report in self.matching.cancel(CancelRequest(cid, msg.venue, msg.instrument, msg.ts_ns),
                                                          now_ns)]
            self.records.record(reports)
            return self._stream.send(reports, now_ns)
        if kind is ReconcileRequest:
            return VenueOutput(send=(self.records.reconcile(msg, self.venue, now_ns),))
        return NOTHING

    def truth(self) -> dict[str, dict[str, Any]]:
        """The venue's account of the run, per instrument, in JSON's types (see `VenueRecords.truth`)."""
        return self.records.truth()

    def faults_fired(self) -> dict[str, int]:
        """How often each kind of fault fired, by kind name, for a run's report."""
        fired = self._faults.fired
        return {kind.value: fired[kind] for kind in sorted(fired, key=lambda k: k.value)}

    # ------------------------------------------------------------ requests

    def _request(self, req: NewOrderRequest | CancelRequest, now_ns: int) -> VenueOutput:
        """A new order or a cancel through the door's faults, carried out, and answered."""
        self.requests += 1
        hit = self._faults.hit
        limited = hit(FaultKind.RATE_LIMIT, self.requests)
        if limited is not None:
            return VenueOutput(redeliver=(Redelivery(now_ns + limited.retry_after_s * 1_000_000_000, req),))
        failed = hit(FaultKind.SERVER_ERROR, self.requests)
        if failed is not None and not failed.executed:
            return self._failed(req, FailureClass.UNKNOWN, NOT_CARRIED_OUT, now_ns)
        new = type(req) is NewOrderRequest
        reports = self._place(req, now_ns) if new else self._cancel(req, now_ns)
        if failed is not None:
            return self._failed(req, FailureClass.UNKNOWN, CARRIED_OUT, now_ns, withheld=reports)
        if not reports:  # only a cancel can come to nothing: its order is not open here
            return self._failed(req, FailureClass.NOT_FOUND, UNKNOWN_ORDER, now_ns)
        if new and reports[0].exec_type is ExecType.NEW:
            self.accepted_orders += 1
            if hit(FaultKind.LOST_REPLY, self.accepted_orders):
                return VenueOutput(withheld=tuple(reports))
        return self._stream.send(reports, now_ns)

    def _place(self, req: NewOrderRequest, now_ns: int) -> list[ExecutionReport]:
        """Refuse a request older than the validity window, or hand it to the matching engine."""
        if req.ts_ns < now_ns - self.recv_window_ns:
            return [self.matching.rejection(req, OUTSIDE_RECV_WINDOW, now_ns)]
        reports = self.matching.submit(req, now_ns)
        self.records.record(reports, req)
        return reports

    def _cancel(self, req: CancelRequest, now_ns: int) -> list[ExecutionReport]:
        """The CANCELED report, or none if the order is not open here."""
        try:
            reports = self.matching.cancel(req, now_ns)
        except CancelRejected:
            return []
        self.records.record(reports)
        return reports

    def _failed(self, req: NewOrderRequest | CancelRequest, failure: FailureClass, reason: str, now_ns: int,
                withheld: Sequence[ExecutionReport] = ()) -> VenueOutput:
        kind = RequestKind.NEW if type(req) is NewOrderRequest else RequestKind.CANCEL
        answer = RequestFailed(self.venue, req.instrument, req.client_order_id, kind, failure,
                               now_ns, reason)
        return VenueOutput(send=(answer,), withheld=tuple(withheld))
