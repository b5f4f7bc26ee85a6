"""Headless Chromium driven over the DevTools protocol (trio-websocket), for tests that open a page as a person's
browser would: load it, read what it rendered, hear every console error.

Chromium is Debian's (`/usr/bin/chromium`; `.ci/run` installs it when absent). It starts with a fresh profile and
everything that would reach the network off (the network here is closed), writes its DevTools port into the
profile (`--remote-debugging-port=0`), and is ended with the `with` block.
"""
from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import orjson
import trio
from trio_websocket import open_websocket_url

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0")


def available() -> bool:
    return Path(CHROMIUM).exists()


@contextmanager
def chromium(profile: Path, patience_s: float = 30) -> Iterator[str]:
    """A headless Chromium; yields its browser DevTools WebSocket URL."""
    profile.mkdir(parents=True, exist_ok=True)
    browser = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + patience_s
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if browser.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start its DevTools endpoint (exit {browser.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()


class _Session:
    """One DevTools connection: commands answered by id; every event kept, in order."""

    def __init__(self, ws: Any):
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.loaded = trio.Event()

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_message(orjson.dumps(message).decode())
        while True:
            answer = orjson.loads(await self.ws.get_message())
            if answer.get("id") == ident:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._event(answer)

    async def wait_loaded(self) -> None:
        while not self.loaded.is_set():
            self._event(orjson.loads(await self.ws.get_message()))

    def _event(self, message: dict[str, Any]) -> None:
        if "method" in message:
            self.events.append(message)
            if message["method"] == "Page.loadEventFired":
                self.loaded.set()


async def open_page(browser_url: str, page_url: str, probe: str, screenshot: Path | None = None,
                    patience_s: float = 30) -> tuple[Any, list[str]]:
    """Load `page_url` in a new tab, then evaluate `probe` (a JavaScript expression whose value is JSON-able);
    returns its value and every console error, uncaught exception and error log entry the page caused."""
    with trio.fail_after(patience_s):
        async with open_websocket_url(browser_url, max_message_size=64 * 1024 * 1024) as ws:
            cdp = _Session(ws)
            target = (await cdp.call("Target.createTarget", url="about:blank"))["targetId"]
            session = (await cdp.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
            for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                await cdp.call(domain, session)
            await cdp.call("Page.navigate", session, url=page_url)
            await cdp.wait_loaded()
            value = (await cdp.call("Runtime.evaluate", session, expression=probe, returnByValue=True))["result"]
            if screenshot is not None:
                import base64
                shot = await cdp.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            await cdp.call("Target.closeTarget", targetId=target)
    return value.get("value"), _errors(cdp.events)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(arg.get("value", arg.get("description", "")))
                                              for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            out.append("exception: " + str(params.get("exceptionDetails", {}).get("text", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            out.append("log: " + str(params["entry"].get("text", "")))
    return out
