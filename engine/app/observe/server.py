"""One HTTP port for a running engine: `GET /metrics` (Prometheus), `GET /health`, `POST /control/<action>`.

Served by hypercorn's trio worker inside the session's own trio run, so a scrape reads the runtime's counters in
the thread that writes them, between two steps of the actors. The application is a plain ASGI callable: three
routes need no framework.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from adapters.asgi import lifespan
from engine.app.observe import health
from engine.app.observe.activity import WATCHED, Activity
from engine.app.observe.control import Control, ControlRefused
from engine.app.observe.exporter import EngineCollector
from engine.app.observe.watched import Watched
from engine.app.schema import ScenarioError
from engine.runtime import Mailbox, Quiescence

log = logging.getLogger("engine.metrics")
BODY_LIMIT = 4096


@dataclass(frozen=True)
class EndpointSettings:
    """`--metrics-port` (and `--metrics-host`), and the control token when the scenario names one."""
    host: str
    port: int
    control_token: str | None = None


class Endpoint:
    """The ASGI application over one run's `Watched` parts and its journal's fold."""

    def __init__(self, watched: Watched, activity: Activity, control: Control | None):
        self.watched, self.activity, self.control = watched, activity, control
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(EngineCollector(watched, activity))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if path == "/metrics" and method in ("GET", "HEAD"):
            await _answer(send, 200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif path == "/health" and method in ("GET", "HEAD"):
            reasons = health.reasons(self.watched, self.activity)
            body = {"status": "not_ready" if reasons else "ready", "reasons": reasons}
            await _json(send, 503 if reasons else 200, body)
        elif path.startswith("/control/"):
            await self._control(scope, receive, send, path.removeprefix("/control/"))
        else:
            await _json(send, 404, {"error": f"no such endpoint: {method} {path}",
                                    "endpoints": ["GET /metrics", "GET /health", "POST /control/<action>"]})

    async def _control(self, scope: dict[str, Any], receive: Any, send: Any, segment: str) -> None:
        if self.control is None:
            await _json(send, 404, {"error": "operator control is off: the scenario names no [control] token_env"})
            return
        if scope["method"] != "POST":
            await _json(send, 405, {"error": "operator commands are POSTed"}, (b"allow", b"POST"))
            return
        headers = dict(scope["headers"])
        try:
            action = self.control.check(headers.get(b"authorization", b"").decode("latin-1"), segment)
        except ControlRefused as refused:
            extra = (b"www-authenticate", b"Bearer") if refused.status == 401 else None
            await _json(send, refused.status, {"error": str(refused)}, extra)
            return
        reason = _reason(await _body(receive))
        command = Control.command(action, self.watched.clock.now_ns(), reason)
        self.control.inbox.deliver(command)   # the control actor journals it before it carries it out
        log.warning("operator command %s from http (%s)", action.value, reason or "no reason")
        await _json(send, 202, {"accepted": action.value})


async def serve(settings: EndpointSettings, watched: Watched, activity: Activity, journal: Any,
                control_inbox: Mailbox | None, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Fold `journal` into `activity` and serve the endpoint until cancelled; started once it listens, with
    its address. A port it cannot listen on is the command line's mistake: `ScenarioError`."""
    control = Control(settings.control_token, control_inbox) if settings.control_token else None
    inbox = Mailbox("metrics", 1 << 16, Quiescence())    # read off the replay's quiescence: nobody waits on it
    journal.subscribe(WATCHED, inbox.deliver)
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.errorlog = log
    listening = False
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_fold, inbox, activity)
        try:
            binds = await nursery.start(lambda task_status: hypercorn_serve(
                Endpoint(watched, activity, control), config, shutdown_trigger=trio.sleep_forever,
                task_status=task_status))
            listening = True
        except* OSError as group:
            if listening:
                raise
            raise ScenarioError(f"--metrics-port {settings.port}: cannot listen on {settings.host}: "
                                f"{group.exceptions[0]}") from None
        log.info("metrics, health and control on %s", binds[0])
        task_status.started(binds[0])


async def _fold(inbox: Mailbox, activity: Activity) -> None:
    """What the journal made durable, folded a batch at a time."""
    while True:
        activity.take(await inbox.receive_batch())


async def _body(receive: Any) -> bytes:
    body = b""
    while len(body) <= BODY_LIMIT:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return body[:BODY_LIMIT]


def _reason(body: bytes) -> str:
    """The optional `{"reason": "..."}` of a command; anything else is no reason."""
    try:
        parsed = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return ""
    reason = parsed.get("reason") if isinstance(parsed, dict) else None
    return reason if isinstance(reason, str) else ""


async def _json(send: Any, status: int, body: Any, header: tuple[bytes, bytes] | None = None) -> None:
    await _answer(send, status, orjson.dumps(body), "application/json", header)


async def _answer(send: Any, status: int, body: bytes, content_type: str,
                  header: tuple[bytes, bytes] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]
    if header is not None:
        headers.append(header)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
