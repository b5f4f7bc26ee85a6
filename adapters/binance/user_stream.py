"""Binance's user data stream over the WebSocket API: every change of our orders, as the venue reports it.

A REST answer tells what happened to an order when it was placed; what happens later (a resting order
filled, cancelled, expired) only the user data stream says. The stream is subscribed with a signed
`userDataStream.subscribe.signature` request (venues.md §1.6: listen keys are retired), whose signature
covers every parameter, sorted by name, as `k=v&...`; its events arrive as `{"subscriptionId", "event"}`.

`UserStream` is the actor: it holds the subscription (a fresh signature on each connection, reconnecting
after a backoff with full jitter) and sends every `executionReport` to the order manager. A report the
REST answer already gave arrives again here; the order state machine counts cumulative fills, so it is
never counted twice. An order list's `listStatus` events (placed, done, refused) are read and counted; the order
manager follows each leg by its own executionReports, which say everything the list's status does.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from typing import Any, Callable, Mapping

import orjson
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from adapters.binance.signing import Credentials, sign
from adapters.ws import Backoff
from engine.messages import ExecType, ExecutionReport, Liquidity, RunFailure, VenueSession
from engine.model.numbers import Instrument
from engine.runtime import ActorContext, Ports

log = logging.getLogger("adapters.binance.user_stream")

_EXEC_TYPES = {"NEW": ExecType.NEW, "TRADE": ExecType.TRADE, "CANCELED": ExecType.CANCELED,
               "REJECTED": ExecType.REJECTED, "EXPIRED": ExecType.EXPIRED, "TRADE_PREVENTION": ExecType.EXPIRED}


def subscribe_request(credentials: Credentials, now_ms: int, request_id: int) -> str:
    """The signed `userDataStream.subscribe.signature` request."""
    params = {"apiKey": credentials.api_key, "timestamp": now_ms}
    payload = "&".join(f"{name}={value}" for name, value in sorted(params.items()))
    return orjson.dumps({"id": request_id, "method": "userDataStream.subscribe.signature",
                         "params": {**params, "signature": sign(credentials.secret, payload)}}).decode()


def parse_execution_report(event: Mapping[str, Any], instruments: Mapping[str, Instrument],
                           venue: str) -> ExecutionReport | None:
    """An `executionReport` event as the engine's report (None for an event or a symbol it does not trade).

    A TRADE carries the venue's trade id (`t`), by which the engine books each fill once however many times
    and ways it hears of it (the REST answer, this stream, reconciliation's `myTrades`).
    """
    exec_type = _EXEC_TYPES.get(event.get("x"))
    instrument = instruments.get(event.get("s"))
    if event.get("e") != "executionReport" or exec_type is None or instrument is None:
        return None
    # a cancel is reported under the cancel request's id, with the order's own in "C"
    client_order_id = event.get("C") or event["c"] if exec_type is ExecType.CANCELED else event["c"]
    fee_asset = event.get("N") or ""
    trade_id = event.get("t", -1)  # -1 when the event is not about a trade
    return ExecutionReport(
        venue, client_order_id, str(event["i"]), exec_type, int(event["E"]) * 1_000_000,
        instrument.qty(event["z"]), instrument.qty(event["l"]), instrument.price(event["L"]),
        Decimal(event["n"]) if fee_asset else Decimal(0), fee_asset,
        (Liquidity.MAKER if event.get("m") else Liquidity.TAKER) if exec_type is ExecType.TRADE else None,
        event.get("r", "") if exec_type is ExecType.REJECTED else "",
        trade_id=str(trade_id) if exec_type is ExecType.TRADE and trade_id != -1 else "")


@dataclass(frozen=True, slots=True)
class ListStatus:
    """A `listStatus` event: an order list placed or changed (`status` EXEC_STARTED, UPDATED), ended (ALL_DONE), or
    refused (`order_status` REJECT, with `reject_reason`); `legs` are its orders' client order ids."""
    list_id: int
    list_client_order_id: str
    contingency: str
    status: str
    order_status: str
    reject_reason: str
    legs: tuple[str, ...]
    ts_ns: int


def parse_list_status(event: Mapping[str, Any], instruments: Mapping[str, Instrument]) -> ListStatus | None:
    """A `listStatus` event as a `ListStatus` (None for another event or a symbol we do not trade)."""
    if event.get("e") != "listStatus" or event.get("s") not in instruments:
        return None
    return ListStatus(int(event["g"]), str(event["C"]), str(event["c"]), str(event["l"]), str(event["L"]),
                      str(event.get("r", "NONE")), tuple(str(order["c"]) for order in event["O"]),
                      int(event["T"]) * 1_000_000)


AUTH_CODES = (-1022, -2014, -2015)
"""Binance's refusals of a key or a signature (venues.md §1.5): fatal, not worth a reconnect."""


class UserStream:
    """The actor holding the user data stream of one account; reports go out on `reports`.

    Each subscription starts a new order stream: it says so (`VenueSession` on `reports`), so that the order
    manager reconciles what the venue sent while the stream was down. A refusal of our credentials is sent on
    `control` as a `RunFailure`: the run cannot go on without its orders' news.
    """

    ports = Ports(outputs={"reports": (ExecutionReport, VenueSession), "control": RunFailure})

    def __init__(self, url: str, credentials: Credentials, instruments: Mapping[str, Instrument], venue: str,
                 backoff: Backoff | None = None, venue_time_ms: Callable[[], int] | None = None):
        self.url = url
        self.venue_time_ms = venue_time_ms  # the venue's clock as the order client measured it
        self.credentials = credentials
        self.by_venue_symbol = {inst.venue_symbol: inst for inst in instruments.values()}
        self.venue = venue
        self.backoff = backoff or Backoff(0.2, 10.0, random.Random())
        self.events = 0
        self.list_events = 0
        self._ids = count(1)

    async def run(self, ctx: ActorContext) -> None:
        ctx.started()
        while True:
            try:
                async with open_websocket_url(self.url) as ws:
                    now_ms = self.venue_time_ms() if self.venue_time_ms else ctx.clock.now_ns() // 1_000_000
                    await ws.send_message(subscribe_request(self.credentials, now_ms, next(self._ids)))
                    while True:
                        await self._on_message(orjson.loads(await ws.get_message()), ctx)
            except (OSError, HandshakeError, ConnectionClosed, orjson.JSONDecodeError) as exc:
                log.warning("%s: user data stream lost (%s: %s)", ctx.name, type(exc).__name__, exc)
            await trio.sleep(self.backoff.next_delay())

    async def _on_message(self, message: Any, ctx: ActorContext) -> None:
        if type(message) is not dict:
            return
        if "error" in message:
            error = message["error"]
            log.error("%s: the venue refused the user data stream: %s", ctx.name, error)
            if type(error) is dict and error.get("code") in AUTH_CODES:
                await ctx.emit("control", RunFailure(ctx.name, ctx.clock.now_ns(), f"{self.venue} refused our "
                                                     f"credentials for the user data stream: {error}"))
            return
        if message.get("result") is not None:
            self.backoff.reset()  # subscribed: a new stream, and what the old one missed must be reconciled
            await ctx.emit("reports", VenueSession(self.venue, ctx.clock.now_ns(), "user data stream subscribed"))
        event = message.get("event")
        if type(event) is dict:
            report = parse_execution_report(event, self.by_venue_symbol, self.venue)
            if report is not None:
                self.events += 1
                await ctx.emit("reports", report)
            listed = parse_list_status(event, self.by_venue_symbol)
            if listed is not None:
                self.list_events += 1
                if listed.order_status == "REJECT":
                    log.warning("%s: the venue refused order list %s: %s", ctx.name, listed.list_client_order_id,
                                listed.reject_reason)
