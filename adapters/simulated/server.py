"""The simulated Binance exchange served over loopback, so that real clients trade against it.

A small ASGI app hands each HTTP request to `SimulatedBinance.handle` and sends back its answer, and serves
Binance's WebSocket side (`adapters.simulated.streams`: market streams, the WebSocket API's user data
stream) from the same port; hypercorn's trio worker serves it, so the HTTP and WebSocket layers are a
well-kept server, not ours. Each request is handled to the end without awaiting in between, so the
exchange, a plain object on the same trio thread, never sees two requests interleave. The market reaches
it the same way: whatever holds the book views (a replay, a synthetic feed, a test) calls
`exchange.on_book(view)` in the same trio run, or runs `feed_views` over a channel of views.

    port = await nursery.start(serve_exchange, exchange)           # port 0: the OS picks a free one
    nursery.start_soon(feed_views, exchange, receive_views)
    # ... a client at f"http://127.0.0.1:{port}" ...

The REST side of the venue's latency and faults happens here, on the n-th request (from 1, in arrival
order): a stall that begins (no answer at all, for its duration), the entry latency plus any latency
spike, a 429 (-1003, Retry-After) or a 5xx instead of the answer, and for the n-th order the venue
accepted, a reply that is never sent (the order exists; the client times out). Then the response latency.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import replace

import orjson
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from adapters.simulated.exchange import SimulatedBinance, too_much_weight
from adapters.simulated.faults import NO_FAULTS, FaultKind, FaultPlan, Stall
from adapters.simulated.latency import NO_LATENCY, Latency
from adapters.simulated.requests import HttpRequest, HttpResponse
from adapters.asgi import Receive, Scope, Send, lifespan
from adapters.simulated.streams import StreamHub, serve_market_streams, serve_ws_api
from engine.messages import BookView

log = logging.getLogger("adapters.simulated.server")

MAX_BODY_BYTES = 64 * 1024
"""Binance's requests are a few hundred bytes of form fields; a larger body is refused with 413."""
WS_PING_INTERVAL_S = 20.0
"""Binance's server sends a ping frame every 20 s (venues.md §1.1)."""
_NOT_CARRIED_OUT = (-1001, "Internal error; unable to process your request. Please try again.")
_CARRIED_OUT = (-1007, "Timeout waiting for response from backend server. Send status unknown; "
                       "execution status unknown.")


class _Door:
    """The REST side's faults and latency, and the counters they are scheduled on."""

    def __init__(self, exchange: SimulatedBinance, faults: FaultPlan, latency: Latency, stall: Stall):
        self.exchange, self.faults, self.latency, self.stall = exchange, faults, latency, stall
        self.requests = 0
        self.accepted_orders = 0

    async def answer(self, request: HttpRequest) -> HttpResponse | None:
        """The response to send, after the latency; None if the venue sends none (the client times out)."""
        faults, exchange = self.faults, self.exchange
        self.requests += 1
        n = self.requests
        stall = faults.hit(FaultKind.STALL, n)
        if stall is not None:
            log.info("request %d: the venue stops answering, as the fault plan says", n)
            self.stall.begin(stall.duration_ms)
        if self.stall.active:
            return None
        spike = faults.hit(FaultKind.LATENCY_SPIKE, n)
        delay_ns = self.latency.entry_ns(n) + (spike.delay_ms * 1_000_000 if spike is not None else 0)
        if delay_ns:
            await trio.sleep(delay_ns / 1e9)
        if (limited := faults.hit(FaultKind.RATE_LIMIT, n)) is not None:
            response = exchange.refuse(request, 429, -1003, too_much_weight(exchange.rate_limits),
                                       limited.retry_after_s)
        elif (failed := faults.hit(FaultKind.SERVER_ERROR, n)) is not None:
            if failed.executed:
                code, msg = _CARRIED_OUT
                response = replace(exchange.handle(request), status=failed.status,
                                   body=orjson.dumps({"code": code, "msg": msg}))
            else:
                response = exchange.refuse(request, failed.status, *_NOT_CARRIED_OUT)
        else:
            response = exchange.handle(request)
            if request.method == "POST" and request.path == "/api/v3/order" and response.status == 200:
                self.accepted_orders += 1
                if faults.hit(FaultKind.LOST_REPLY, self.accepted_orders) is not None:
                    log.info("order %d accepted; its reply is lost, as the fault plan says", self.accepted_orders)
                    return None
        delay_ns = self.latency.response_ns(n)
        if delay_ns:
            await trio.sleep(delay_ns / 1e9)
        return response


def exchange_app(exchange: SimulatedBinance, hub: StreamHub, *, faults: FaultPlan = NO_FAULTS,
                 latency: Latency = NO_LATENCY) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application answering HTTP requests with `exchange` and WebSocket connections with `hub`."""
    door = _Door(exchange, faults, latency, hub.stall)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            if scope["path"] == "/ws-api/v3":
                await serve_ws_api(hub, scope, receive, send)
            elif scope["path"] == "/stream" or scope["path"] == "/ws" or scope["path"].startswith("/ws/"):
                await serve_market_streams(hub, scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _send(send, 413, (), b"")
                return
            if not message.get("more_body", False):
                break
        request = HttpRequest(
            method=scope["method"], path=scope["path"], query=scope["query_string"].decode("latin-1"),
            body=body.decode("latin-1"),
            headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]})
        response = await door.answer(request)
        if response is None:
            await _until_disconnected(receive)
            return
        await _send(send, response.status, response.headers, response.body)

    return app


async def serve_exchange(exchange: SimulatedBinance, *, host: str = "127.0.0.1", port: int = 0,
                         faults: FaultPlan = NO_FAULTS, latency: Latency = NO_LATENCY,
                         task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve `exchange` on `host:port` until cancelled; `nursery.start` returns the bound port."""
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = 1.0
    config.websocket_ping_interval = WS_PING_INTERVAL_S

    hub = StreamHub(exchange, faults, Stall(trio.current_time))
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run_depth)
        await serve(exchange_app(exchange, hub, faults=faults, latency=latency), config,
                    task_status=_BoundPort(task_status))


async def feed_views(exchange: SimulatedBinance, views: AsyncIterable[BookView]) -> None:
    """Apply every book view to the exchange as it arrives, so that resting orders fill against it."""
    async for view in views:
        exchange.on_book(view)


class _BoundPort:
    """Takes the addresses hypercorn reports once it listens and tells our caller the bound port."""

    def __init__(self, task_status: trio.TaskStatus[int]):
        self._task_status = task_status

    def started(self, binds: list[str]) -> None:
        log.info("simulated exchange serving on %s", binds[0])
        self._task_status.started(int(binds[0].rsplit(":", 1)[1]))


async def _until_disconnected(receive: Receive) -> None:
    """Hold a request without an answer until its client gives up."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send(send: Send, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]})
    await send({"type": "http.response.body", "body": body})
