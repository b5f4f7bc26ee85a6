"""The simulated venue's WebSocket side, in Binance's shapes: market streams and the user data stream.

It turns what the exchange publishes (`VenueEvent`s) into frames and serves them on the same ASGI app as
the REST API (`adapters.simulated.server`):

- market streams, raw at `/ws/<stream>` or combined at `/stream?streams=a/b/c` (each payload wrapped as
  `{"stream": ..., "data": ...}`), with live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS: `<symbol>@trade`,
  `<symbol>@bookTicker`, and `<symbol>@depth@100ms` / `<symbol>@depth` (1000 ms), where the book's changes
  are batched into windows, each message one contiguous `U..u` range that chains to the previous one and
  to the `lastUpdateId` of `GET /api/v3/depth`;
- the WebSocket API at `/ws-api/v3`, with `userDataStream.subscribe.signature` (listen keys were retired in
  2026, venues.md §1.6), `userDataStream.unsubscribe`, `ping` and `time`; events arrive as
  `{"subscriptionId": n, "event": {...}}` (`executionReport`, `outboundAccountPosition`).

Faults, as the plan schedules them: a depth message is never sent (its stream shows a gap), a connection
is closed after its n-th frame, an account's user data event is sent twice or after the next one; while
the venue stalls nothing is sent at all. Each connection has a bounded queue: a client that falls that far
behind is disconnected, as Binance disconnects slow consumers.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import orjson
import trio

from adapters.simulated.exchange import (
    USER,
    SimulatedBinance,
    VenueEvent,
    too_much_weight,
)
from adapters.simulated.faults import FaultKind, FaultPlan, Stall
from adapters.simulated.requests import Refusal

log = logging.getLogger("adapters.simulated.streams")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

QUEUE_FRAMES = 4_096
"""Frames a connection may have waiting; past that the client is too slow and is disconnected."""
DEPTH_STREAMS = ("@depth@100ms", "@depth")
"""The diff streams of a symbol: its changes every 100 ms, and every 1000 ms."""
MARKET_KINDS = ("@trade", "@bookTicker", *DEPTH_STREAMS)
WS_API_WEIGHTS = {"userDataStream.subscribe.signature": 2, "userDataStream.unsubscribe": 2}
"""Request weights of the WebSocket API methods served (1 for the others), counted with REST's."""
DROP_CODE = 1001
"""The close code of a dropped connection ("going away"; ASGI cannot drop TCP without a close frame)."""


class Connection:
    """One WebSocket client: a bounded queue of frames for its writer, and what it subscribed to."""

    def __init__(self, combined: bool):
        self.combined = combined
        self.streams: set[str] = set()
        self.user: dict[int, str] = {}   # subscription id → API key
        self.next_subscription = 0
        self.frames = 0
        self.send_frames, self.receive_frames = trio.open_memory_channel[bytes](QUEUE_FRAMES)
        self.too_slow = False

    def push(self, frame: bytes) -> None:
        try:
            self.send_frames.send_nowait(frame)
        except trio.WouldBlock:
            self.too_slow = True
            self.send_frames.close()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass  # the client has gone (or its writer has): nothing more is owed to it


class _DepthWindow:
    """The book changes of one symbol not yet sent at one speed: merged, the latest quantity per price winning."""

    __slots__ = ("first_id", "last_id", "event_ms", "bids", "asks")

    def __init__(self, payload: dict):
        self.first_id = payload["U"]
        self.last_id = payload["u"]
        self.event_ms = payload["E"]
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.merge(payload)

    def merge(self, payload: dict) -> None:
        self.last_id, self.event_ms = payload["u"], payload["E"]
        self.bids.update(payload["b"])
        self.asks.update(payload["a"])

    def payload(self, symbol: str) -> dict:
        return {"e": "depthUpdate", "E": self.event_ms, "s": symbol, "U": self.first_id, "u": self.last_id,
                "b": [list(level) for level in sorted(self.bids.items(), key=_price, reverse=True)],
                "a": [list(level) for level in sorted(self.asks.items(), key=_price)]}


class StreamHub:
    """Routes the exchange's events to the connections that want them, carrying out the stream faults."""

    def __init__(self, exchange: SimulatedBinance, faults: FaultPlan, stall: Stall):
        self.exchange = exchange
        self.faults = faults
        self.stall = stall
        self._symbols = {symbol.lower(): symbol for symbol in exchange.listings}
        self._subscribers: dict[str, set[Connection]] = {}       # stream name → connections
        self._users: dict[str, list[tuple[Connection, int]]] = {}  # API key → (connection, subscription id)
        self._windows: dict[str, _DepthWindow] = {}               # "<symbol>@depth@100ms" → pending changes
        self._depth_sent: dict[str, int] = {}                     # depth stream → messages published
        self._user_events: dict[str, int] = {}                    # API key → user data events so far
        self._held: dict[str, list[bytes]] = {}                   # API key → an event held back to be reordered
        exchange.listen(self.on_event)

    # ------------------------------------------------------------ from the exchange

    def on_event(self, event: VenueEvent) -> None:
        if event.stream == USER:
            self._user_event(event)
        elif event.stream.endswith("@depth"):
            for suffix in DEPTH_STREAMS:
                stream = event.stream[:-len("@depth")] + suffix
                window = self._windows.get(stream)
                if window is None:
                    self._windows[stream] = _DepthWindow(event.payload)
                else:
                    window.merge(event.payload)
        else:
            self._publish(event.stream, event.payload)

    async def run_depth(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Close the depth windows as time passes: a tick every 100 ms."""
        task_status.started()
        tick = 0
        while True:
            await trio.sleep(0.1)
            tick += 1
            self.close_windows(tick)

    def close_windows(self, tick: int) -> None:
        """Send each depth stream's pending changes as one message: `@depth@100ms` on every tick, `@depth` on
        every tenth. A window with no change sends nothing and is not counted."""
        for stream, window in list(self._windows.items()):
            if stream.endswith("@depth") and tick % 10:
                continue
            del self._windows[stream]
            sent = self._depth_sent[stream] = self._depth_sent.get(stream, 0) + 1
            if self.faults.hit(FaultKind.SEQUENCE_GAP, sent) is None:
                self._publish(stream, window.payload(self._symbols[stream.split("@", 1)[0]]))

    def _publish(self, stream: str, payload: dict) -> None:
        subscribers = self._subscribers.get(stream)
        if not subscribers or self.stall.active:
            return
        raw = wrapped = None
        for connection in subscribers:
            if connection.combined:
                wrapped = wrapped or orjson.dumps({"stream": stream, "data": payload})
                connection.push(wrapped)
            else:
                raw = raw or orjson.dumps(payload)
                connection.push(raw)

    def _user_event(self, event: VenueEvent) -> None:
        """Number the account's event, then send it: twice, or after the next one, if the plan says so.

        An event held back goes out right after the next one (before it, if that one is held back too).
        """
        api_key = event.api_key
        n = self._user_events[api_key] = self._user_events.get(api_key, 0) + 1
        frame = orjson.dumps(event.payload)
        current = [frame, frame] if self.faults.hit(FaultKind.DUPLICATE_REPORT, n) else [frame]
        held = self._held.pop(api_key, [])
        if self.faults.hit(FaultKind.REORDERED_REPORTS, n):
            self._held[api_key] = current
            frames = held
        else:
            frames = current + held
        if self.stall.active:
            return
        for connection, subscription in self._users.get(api_key, ()):
            for frame in frames:
                connection.push(b'{"subscriptionId":%d,"event":%s}' % (subscription, frame))

    # ------------------------------------------------------------ connections

    def valid_stream(self, name: str) -> bool:
        symbol, _, kind = name.partition("@")
        return symbol in self._symbols and "@" + kind in MARKET_KINDS

    def subscribe(self, connection: Connection, streams: list[str]) -> None:
        for stream in streams:
            connection.streams.add(stream)
            self._subscribers.setdefault(stream, set()).add(connection)

    def unsubscribe(self, connection: Connection, streams: list[str]) -> None:
        for stream in streams:
            connection.streams.discard(stream)
            self._subscribers.get(stream, set()).discard(connection)

    def subscribe_user(self, connection: Connection, api_key: str) -> int:
        subscription = connection.next_subscription
        connection.next_subscription += 1
        connection.user[subscription] = api_key
        self._users.setdefault(api_key, []).append((connection, subscription))
        return subscription

    def unsubscribe_user(self, connection: Connection, subscription: int | None) -> None:
        for sid in [subscription] if subscription is not None else list(connection.user):
            api_key = connection.user.pop(sid, None)
            if api_key is not None:
                self._users[api_key].remove((connection, sid))

    def forget(self, connection: Connection) -> None:
        self.unsubscribe(connection, list(connection.streams))
        self.unsubscribe_user(connection, None)

    async def serve(self, connection: Connection, receive: Receive, send: Send,
                    on_text: Callable[[Connection, str], None]) -> None:
        """Run one accepted connection: its writer, and its reader handing each text frame to `on_text`."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, connection, send, nursery.cancel_scope)
                while True:
                    message = await receive()
                    if message["type"] == "websocket.disconnect":
                        nursery.cancel_scope.cancel()
                        return
                    if message["type"] == "websocket.receive":
                        text = message.get("text")
                        on_text(connection, text if text is not None else message.get("bytes", b"").decode())
        finally:
            self.forget(connection)

    async def _write(self, connection: Connection, send: Send, scope: trio.CancelScope) -> None:
        async with connection.receive_frames:
            async for frame in connection.receive_frames:
                await send({"type": "websocket.send", "text": frame.decode()})
                connection.frames += 1
                if self.faults.hit(FaultKind.DROP_CONNECTION, connection.frames):
                    log.info("dropping a stream connection after its frame %d, as the fault plan says",
                             connection.frames)
                    break
        await send({"type": "websocket.close", "code": DROP_CODE if not connection.too_slow else 1008})
        scope.cancel()


# ---------------------------------------------------------------- the two kinds of connection

async def serve_market_streams(hub: StreamHub, scope: dict, receive: Receive, send: Send) -> None:
    """`/ws`, `/ws/<stream>[/<stream>...]` (raw payloads) or `/stream?streams=...` (wrapped payloads)."""
    path = scope["path"]
    combined = path == "/stream"
    if combined:
        query = parse_qs(scope["query_string"].decode("latin-1"))
        names = [name for text in query.get("streams", []) for name in text.split("/") if name]
    else:
        names = [name for name in path[len("/ws"):].split("/") if name]
    await receive()  # websocket.connect
    if not all(hub.valid_stream(name) for name in names):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    connection = Connection(combined)
    hub.subscribe(connection, names)

    def on_text(conn: Connection, text: str) -> None:
        try:
            request = orjson.loads(text)
            method, request_id = request["method"], request.get("id")
            params = request.get("params", [])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conn.push(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) and hub.valid_stream(p) for p in params):
                conn.push(orjson.dumps({"error": {"code": 2, "msg": "Invalid request: unknown stream"},
                                        "id": request_id}))
                return
            (hub.subscribe if method == "SUBSCRIBE" else hub.unsubscribe)(conn, params)
            result: Any = None
        elif method == "LIST_SUBSCRIPTIONS":
            result = sorted(conn.streams)
        elif method == "SET_PROPERTY" and params and params[0] == "combined":
            conn.combined = bool(params[1]) if len(params) > 1 else conn.combined
            result = None
        elif method == "GET_PROPERTY" and params and params[0] == "combined":
            result = conn.combined
        else:
            conn.push(orjson.dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"},
                                    "id": request_id}))
            return
        conn.push(orjson.dumps({"result": result, "id": request_id}))

    await hub.serve(connection, receive, send, on_text)


async def serve_ws_api(hub: StreamHub, scope: dict, receive: Receive, send: Send) -> None:
    """`/ws-api/v3`: Binance's WebSocket API, as far as the user data stream needs it."""
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    exchange = hub.exchange

    def on_text(conn: Connection, text: str) -> None:
        try:
            request = orjson.loads(text)
            request_id, method = request.get("id"), request["method"]
            params = request.get("params") or {}
            if not isinstance(params, dict):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            conn.push(orjson.dumps({"id": None, "status": 400,
                                    "error": {"code": -1000, "msg": "Invalid JSON request."}}))
            return
        limit = exchange.rate_limits.request_weight_per_minute
        used = exchange.count_weight(WS_API_WEIGHTS.get(method, 1))
        rate_limits = {} if params.get("returnRateLimits") is False else {"rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit,
             "count": used}]}
        try:
            if used > limit:
                raise Refusal(429, -1003, too_much_weight(exchange.rate_limits))
            if method == "userDataStream.subscribe.signature":
                result: Any = {"subscriptionId": hub.subscribe_user(conn, exchange.user_stream_key(params))}
            elif method == "userDataStream.unsubscribe":
                subscription = params.get("subscriptionId")
                hub.unsubscribe_user(conn, int(subscription) if subscription is not None else None)
                result = {}
            elif method == "ping":
                result = {}
            elif method == "time":
                result = {"serverTime": exchange.now_ms()}
            else:
                raise Refusal(400, -1100, f"Illegal characters found in parameter 'method'; {method!r} is not "
                                          "served by the simulated venue.")
        except Refusal as refusal:
            if not hub.stall.active:
                conn.push(orjson.dumps({"id": request_id, "status": refusal.status,
                                        "error": {"code": refusal.code, "msg": refusal.msg}, **rate_limits}))
            return
        if not hub.stall.active:
            conn.push(orjson.dumps({"id": request_id, "status": 200, "result": result, **rate_limits}))

    await hub.serve(Connection(combined=False), receive, send, on_text)


def _price(level: tuple[str, str]) -> Decimal:
    return Decimal(level[0])
