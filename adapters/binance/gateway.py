"""The Binance order gateway: the order manager's requests go to a Binance-protocol venue over HTTP.

The venue is the simulated one for paper trading, or a real one. Each request is answered, in the order the
venue gave them, by execution reports or by what the order manager must know to decide (venues.md §0.3):

- a refusal of a new order is a REJECTED report, never resent;
- a request refused at the door (rate limit, clock) is retried after a backoff with a fresh signature, a few
  times; a new order still refused then never reached the matching engine, and is REJECTED;
- an outcome that may or may not have happened (timeout, 5xx) is never guessed and never resent: the order
  manager is told it is UNKNOWN, and asks the venue (a `ReconcileRequest`, answered here from the venue's own
  records: the order by client id and its trades, or every order and trade since a time);
- a cancel of an order the venue does not hold open is NOT_FOUND; a refusal of our credentials is AUTH, which
  stops order entry.

The two legs of an OCO pair (new orders sharing a `list_id`) go as one order list: the first waits here for its
sibling, and the pair is sent in one request. A cancel of either leg cancels the list (`DELETE /api/v3/orderList`):
its answer ends both legs, so the sibling's own cancel, if it comes, is not sent again; if the list had already
ended, each leg's cancel is answered as any cancel of an order no longer open.

At start it measures the venue's clock offset (signed timestamps need it) and tells the order manager the
order stream (re)started, so that it reconciles.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import trio

from adapters.binance.client import BinanceClient
from adapters.binance.orders import ErrorClass, VenueError, venue_order_state, venue_order_states
from adapters.ws import Backoff
from engine.messages import (VENUE_ANSWERS, VENUE_REQUESTS, BookView, CancelAllRequest, CancelRequest, ExecType,
                             ExecutionReport, FailureClass, NewOrderRequest, ReconcileReply, ReconcileRequest,
                             RequestFailed, RequestKind, VenueSession)
from engine.runtime import Actor, ActorContext, Ports

log = logging.getLogger("adapters.binance.gateway")

RETRIES = 3
_T = TypeVar("_T")
_FAILURE = {ErrorClass.UNKNOWN: FailureClass.UNKNOWN, ErrorClass.FATAL_AUTH: FailureClass.AUTH,
            ErrorClass.NOT_FOUND: FailureClass.NOT_FOUND, ErrorClass.REJECTED: FailureClass.NOT_FOUND,
            ErrorClass.RETRY_SAFE: FailureClass.UNKNOWN}
"""What a cancel's error tells the order manager (a refused cancel leaves the order where it was)."""


@dataclass
class GatewayStats:
    """Counters of the gateway; they outlive its restarts."""
    requests: int = 0
    retries: int = 0
    unknown: int = 0
    reconciliations: int = 0


class OrderGateway(Actor):
    ports = Ports(accepts=(*VENUE_REQUESTS, BookView), outputs={"reports": VENUE_ANSWERS})

    def __init__(self, client: BinanceClient, stats: GatewayStats, venue: str, backoff_s: float = 0.2):
        self.client = client
        self.stats = stats
        self.venue = venue
        self.backoff_s = backoff_s
        self._pairing: dict[str, NewOrderRequest] = {}   # list id → the first leg, until its sibling comes
        self._list_of: dict[str, str] = {}               # a leg's client order id → its list id
        self._cancelling: set[str] = set()               # list ids whose cancel was sent and answered as done

    async def start(self, ctx: ActorContext) -> None:
        offset = await self.client.sync_clock()
        if isinstance(offset, VenueError):
            log.warning("%s: the venue's clock could not be read (%s); signing with our own", ctx.name, offset.message)
        await ctx.emit("reports", VenueSession(self.venue, ctx.clock.now_ns(), "order gateway started"))

    async def handle(self, batch, ctx: ActorContext) -> None:
        for msg in batch:
            kind = type(msg)
            if kind is NewOrderRequest and msg.list_id:
                answers = await self._new_leg(msg, ctx)
            elif kind is NewOrderRequest:
                answers = await self._new_order(msg, ctx)
            elif kind is CancelRequest and msg.client_order_id in self._list_of:
                answers = await self._cancel_list(msg, ctx)
            elif kind is CancelRequest:
                answers = await self._cancel(msg, ctx)
            elif kind is CancelAllRequest:
                answers = await self._cancel_all(msg)
            elif kind is ReconcileRequest:
                answers = [await self._reconcile(msg, ctx)]
            else:
                continue
            for answer in answers:
                await ctx.emit("reports", answer)

    async def _new_order(self, req: NewOrderRequest, ctx: ActorContext) -> list[Any]:
        answer = await self._send(lambda: self.client.place_order(req))
        if not isinstance(answer, VenueError):
            return answer
        now = ctx.clock.now_ns()
        if answer.error_class in (ErrorClass.RETRY_SAFE, ErrorClass.REJECTED, ErrorClass.NOT_FOUND):
            return [ExecutionReport(req.venue, req.client_order_id, "", ExecType.REJECTED, now, 0,
                                    reason=_why(answer))]
        return [self._failed(req, RequestKind.NEW, _FAILURE[answer.error_class], answer, now)]

    async def _new_leg(self, req: NewOrderRequest, ctx: ActorContext) -> list[Any]:
        """A leg of an OCO list: held until its sibling comes, then both go as one order list."""
        first = self._pairing.pop(req.list_id, None)
        if first is None:
            self._pairing[req.list_id] = req
            return []
        legs = (first, req)
        for leg in legs:
            self._list_of[leg.client_order_id] = leg.list_id
        answer = await self._send(lambda: self.client.place_oco(legs))
        if not isinstance(answer, VenueError):
            return answer
        now = ctx.clock.now_ns()
        if answer.error_class in (ErrorClass.RETRY_SAFE, ErrorClass.REJECTED, ErrorClass.NOT_FOUND):
            return [ExecutionReport(leg.venue, leg.client_order_id, "", ExecType.REJECTED, now, 0, reason=_why(answer))
                    for leg in legs]
        return [self._failed(leg, RequestKind.NEW, _FAILURE[answer.error_class], answer, now) for leg in legs]

    async def _cancel_list(self, req: CancelRequest, ctx: ActorContext) -> list[Any]:
        """A cancel of an OCO leg: the whole list, once (the answer ends both legs)."""
        list_id = self._list_of[req.client_order_id]
        if list_id in self._cancelling:
            return []
        answer = await self._send(lambda: self.client.cancel_order_list(req.instrument, list_id))
        if not isinstance(answer, VenueError):
            self._cancelling.add(list_id)
            return answer
        return [self._failed(req, RequestKind.CANCEL, _FAILURE[answer.error_class], answer, ctx.clock.now_ns())]

    async def _cancel(self, req: CancelRequest, ctx: ActorContext) -> list[Any]:
        answer = await self._send(lambda: self.client.cancel_order(req))
        if not isinstance(answer, VenueError):
            return answer
        return [self._failed(req, RequestKind.CANCEL, _FAILURE[answer.error_class], answer, ctx.clock.now_ns())]

    async def _cancel_all(self, req: CancelAllRequest) -> list[Any]:
        answer = await self._send(lambda: self.client.cancel_open_orders(req.instrument))
        if isinstance(answer, VenueError):
            # each order the manager cancelled has its own timer: those the venue did not cancel are asked about
            log.warning("cancel-all on %s failed: %s", req.instrument, _why(answer))
            return []
        return answer

    async def _reconcile(self, req: ReconcileRequest, ctx: ActorContext) -> ReconcileReply:
        """The venue's records of the orders asked about (by client id), or of every order since a time."""
        self.stats.reconciliations += 1
        client, instrument = self.client, req.instrument
        if req.client_order_ids:
            states = []
            for client_order_id in req.client_order_ids:
                order = await self._send(lambda: client.query_order(instrument, client_order_id))
                if isinstance(order, VenueError):
                    if order.error_class is ErrorClass.NOT_FOUND:
                        continue  # the venue does not know it
                    return self._unanswered(req, order, ctx)
                trades = await self._send(lambda: client.my_trades(instrument, order_id=int(order.venue_order_id)))
                if isinstance(trades, VenueError):
                    return self._unanswered(req, trades, ctx)
                states.append(venue_order_state(order, [item.trade for item in trades]))
        else:
            start_ms = req.since_ns // 1_000_000 if req.since_ns else None
            orders = await self._send(lambda: client.all_orders(instrument, start_ms))
            if isinstance(orders, VenueError):
                return self._unanswered(req, orders, ctx)
            trades = await self._send(lambda: client.my_trades(instrument, start_ms=start_ms))
            if isinstance(trades, VenueError):
                return self._unanswered(req, trades, ctx)
            states = venue_order_states(orders, trades)
        return ReconcileReply(req.request_id, self.venue, instrument, ctx.clock.now_ns(), tuple(states))

    async def _send(self, call: Callable[[], Awaitable[_T]]) -> _T | VenueError:
        """`call`, retried after a backoff while the venue refuses it at the door (nothing happened there)."""
        backoff = Backoff(self.backoff_s, 5.0, random.Random())
        for attempt in range(RETRIES + 1):
            self.stats.requests += 1
            answer = await call()
            if not (isinstance(answer, VenueError) and answer.error_class is ErrorClass.RETRY_SAFE) \
                    or attempt == RETRIES:
                return answer
            self.stats.retries += 1
            await trio.sleep(answer.retry_after_s if answer.retry_after_s else backoff.next_delay())
        raise AssertionError("unreachable")

    def _failed(self, req: NewOrderRequest | CancelRequest, request: RequestKind, failure: FailureClass,
                error: VenueError, now: int) -> RequestFailed:
        if failure is FailureClass.UNKNOWN:
            self.stats.unknown += 1
        return RequestFailed(req.venue, req.instrument, req.client_order_id, request, failure, now, _why(error))

    def _unanswered(self, req: ReconcileRequest, error: VenueError, ctx: ActorContext) -> ReconcileReply:
        log.warning("reconciliation %s: the venue could not answer: %s", req.request_id, _why(error))
        return ReconcileReply(req.request_id, self.venue, req.instrument, ctx.clock.now_ns(), error=_why(error))


def _why(error: VenueError) -> str:
    code = f" {error.code}" if error.code is not None else ""
    return f"{error.http_status or 'no answer'}{code}: {error.message}"
