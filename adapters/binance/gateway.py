"""The Binance order gateway: the order manager's requests go to a Binance-protocol venue over HTTP.

The venue is the simulated one for paper trading, or a real one. Each request is answered by execution
reports for the order manager, in the order the venue gave them. What a failure means follows venues.md
§0.3: a refusal is REJECTED and never resent; a request refused at the door (rate limit, clock) is
retried after a backoff with a fresh signature, a few times; an outcome that may or may not have
happened (timeout, 5xx) is never guessed: the order is asked for by its client order id, and what the
venue says it is becomes the report, or, if the venue cannot say, the order stays unresolved and counted.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import trio

from adapters.binance.client import BinanceClient
from adapters.binance.orders import ErrorClass, OrderStatus, VenueError, VenueOrder
from adapters.ws import Backoff
from engine.messages import CancelRequest, ExecType, ExecutionReport, NewOrderRequest
from engine.model.numbers import Instrument
from engine.runtime import Actor, ActorContext

log = logging.getLogger("adapters.binance.gateway")

RETRIES = 3
_EXEC_TYPE_OF_STATUS = {
    OrderStatus.NEW: ExecType.NEW, OrderStatus.PENDING_NEW: ExecType.NEW,
    OrderStatus.CANCELED: ExecType.CANCELED, OrderStatus.EXPIRED: ExecType.EXPIRED,
    OrderStatus.EXPIRED_IN_MATCH: ExecType.EXPIRED, OrderStatus.REJECTED: ExecType.REJECTED,
}


@dataclass
class GatewayStats:
    """Counters of the gateway; they outlive its restarts."""
    requests: int = 0
    retries: int = 0
    reconciled: int = 0
    unresolved: int = 0


class OrderGateway(Actor):
    def __init__(self, client: BinanceClient, instruments: dict[str, Instrument], stats: GatewayStats,
                 backoff_s: float = 0.2):
        self.client = client
        self.instruments = instruments
        self.stats = stats
        self.backoff_s = backoff_s

    async def handle(self, batch: list, ctx: ActorContext) -> None:
        for msg in batch:
            if type(msg) is NewOrderRequest:
                answer = await self._send(lambda: self.client.place_order(msg))
            elif type(msg) is CancelRequest:
                answer = await self._send(lambda: self.client.cancel_order(msg))
            else:
                continue
            if isinstance(answer, VenueError):
                answer = await self._reconcile(msg, answer, ctx)
            for report in answer:
                await ctx.emit("reports", report)

    async def _send(self, call) -> list[ExecutionReport] | VenueError:
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

    async def _reconcile(self, msg: NewOrderRequest | CancelRequest, error: VenueError,
                         ctx: ActorContext) -> list[ExecutionReport]:
        """What a failed request left behind, asked of the venue by client order id (never guessed)."""
        now = ctx.clock.now_ns()
        if error.error_class is ErrorClass.REJECTED and type(msg) is NewOrderRequest:
            return [ExecutionReport(msg.venue, msg.client_order_id, "", ExecType.REJECTED, now, 0,
                                    reason=f"{error.code}: {error.message}")]
        found = await self.client.query_order(msg.instrument, msg.client_order_id)
        if isinstance(found, VenueOrder):
            self.stats.reconciled += 1
            return _reports_of(found, msg, now, self.instruments[msg.instrument])
        self.stats.unresolved += 1
        log.error("%s %s: outcome unknown (%s %s: %s) and the venue cannot say (%s); left unresolved",
                  type(msg).__name__, msg.client_order_id, error.http_status, error.code, error.message,
                  found.message)
        return []


def _reports_of(order: VenueOrder, msg: NewOrderRequest | CancelRequest, now: int,
                instrument: Instrument) -> list[ExecutionReport]:
    """The venue's own account of an order, as reports: what it filled, then the state it is in.

    A query gives the cumulative fill, not each trade: the fill is booked at the venue's average price,
    rounded half-even to the price unit, and with no fee (the trades' commissions are not in the answer).
    """
    reports = []
    if order.cum_qty:
        scale = Decimal(10) ** (instrument.price_decimals + instrument.qty_decimals)
        price = int((order.cum_quote * scale / order.cum_qty).to_integral_value(ROUND_HALF_EVEN))
        reports.append(ExecutionReport(msg.venue, msg.client_order_id, order.venue_order_id, ExecType.TRADE, now,
                                       order.cum_qty, order.cum_qty, price, Decimal(0), ""))
    exec_type = _EXEC_TYPE_OF_STATUS.get(order.status)
    if exec_type is not None:
        reports.append(ExecutionReport(msg.venue, msg.client_order_id, order.venue_order_id, exec_type, now,
                                       order.cum_qty))
    return reports
