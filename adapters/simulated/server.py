"""The simulated Binance exchange served over loopback HTTP, so that real clients trade against it.

A small ASGI app hands each request to `SimulatedBinance.handle` and sends back its answer; hypercorn's
trio worker serves it, so the HTTP layer is a well-kept server, not ours. Each request is handled to the
end without awaiting in between, so the exchange, a plain object on the same trio thread, never sees two
requests interleave. The market reaches it the same way: whatever holds the book views (a
replay, a synthetic feed, a test) calls `exchange.on_book(view)` in the same trio run, or runs
`feed_views` over a channel of views.

    port = await nursery.start(serve_exchange, exchange)           # port 0: the OS picks a free one
    nursery.start_soon(feed_views, exchange, receive_views)
    # ... a client at f"http://127.0.0.1:{port}" ...

Not served yet: Binance's WebSocket market streams and WebSocket API (user data stream with
`executionReport` events). They belong beside this app as further ASGI routes once the exchange records
its events per account; until then a client learns of maker fills by querying its orders.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from adapters.simulated.exchange import HttpRequest, SimulatedBinance
from engine.messages import BookView

log = logging.getLogger("adapters.simulated.server")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
"""Binance's requests are a few hundred bytes of form fields; a larger body is refused with 413."""


def exchange_app(exchange: SimulatedBinance) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application answering HTTP requests with `exchange`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
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
        response = exchange.handle(request)
        await _send(send, response.status, response.headers, response.body)

    return app


async def serve_exchange(exchange: SimulatedBinance, *, host: str = "127.0.0.1", port: int = 0,
                         task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve `exchange` on `host:port` until cancelled; `nursery.start` returns the bound port."""
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = 1.0

    await serve(exchange_app(exchange), config, task_status=_BoundPort(task_status))


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


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _send(send: Send, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]})
    await send({"type": "http.response.body", "body": body})
