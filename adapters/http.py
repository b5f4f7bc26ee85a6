"""The shared REST layer: one httpx client per venue, JSON in and out, errors that say what failed.

It is deliberately thin: venues' codecs build the request (path and parameters) and parse the answer;
this module only carries it, with a timeout, and turns transport failures and non-2xx answers into
`RestError`, whose `retry_after_s` honours the venue's Retry-After.
"""
from __future__ import annotations

from typing import Any

import httpx
import orjson


class RestError(OSError):
    """A REST call that did not give a usable answer: transport failure, timeout, or an error status."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class RestClient:
    def __init__(self, base_url: str, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None):
        self.base_url = base_url
        self._client = client or httpx.AsyncClient(base_url=base_url, timeout=timeout_s)

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise RestError(f"GET {self.base_url}{path}: {type(exc).__name__}: {exc}") from None
        if response.status_code // 100 != 2:
            retry_after = response.headers.get("Retry-After")
            raise RestError(f"GET {self.base_url}{path}: HTTP {response.status_code}: {response.text[:200]}",
                            response.status_code, float(retry_after) if retry_after else None)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RestError(f"GET {self.base_url}{path}: answer is not JSON: {exc}") from None

    async def aclose(self) -> None:
        await self._client.aclose()
