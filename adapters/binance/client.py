"""The IO half of the Binance order adapter: sends what `adapters.binance.orders` builds, over httpx.

All protocol knowledge (what to send, how to sign, what a response means) is in the sans-IO codec; this
layer only moves bytes, stamps requests with the injected clock and turns transport failures into the
same `VenueError` classes (venues.md §0.3):

- a timeout, a reset connection or any other failure after the request may have left is UNKNOWN for a
  mutation (placing or cancelling), never "failed": the caller reconciles by client order id;
- a failure to connect at all means nothing was sent: RETRY_SAFE, like any failed read.

The base URL is configurable, so the same code talks to Binance or to the simulated exchange on loopback.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx

from adapters.binance.orders import (
    Balance,
    BinanceOrderCodec,
    ErrorClass,
    VenueError,
    VenueOrder,
    VenueRequest,
    exchange_info_request,
    parse_exchange_info,
    parse_server_time,
    server_time_request,
    used_weight,
)
from engine.messages import CancelRequest, ExecutionReport, NewOrderRequest
from engine.model.numbers import Instrument

_T = TypeVar("_T")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before a single byte of the request left: nothing can have happened at the venue."""


class BinanceClient:
    """Orders and account reads of one Binance account over HTTP. Use as `async with`, or `aclose()` it."""

    def __init__(self, codec: BinanceOrderCodec, *, base_url: str, now_ns: Callable[[], int],
                 timeout_s: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        self.codec = codec
        self.used_weight_1m: int | None = None  # the venue's count after the last response
        self._now_ns = now_ns
        self._http = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(timeout_s), transport=transport)

    def __repr__(self) -> str:
        return f"BinanceClient(base_url={str(self._http.base_url)!r}, codec={self.codec!r})"

    async def __aenter__(self) -> BinanceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def place_order(self, req: NewOrderRequest) -> list[ExecutionReport] | VenueError:
        """NEW, its immediate TRADEs and an EXPIRED remainder; a refusal is one REJECTED report."""
        return await self._call(self.codec.new_order(req, self._now_ms()),
                                lambda s, h, b: self.codec.parse_new_order(req, s, h, b))

    async def cancel_order(self, req: CancelRequest) -> list[ExecutionReport] | VenueError:
        return await self._call(self.codec.cancel(req, self._now_ms()),
                                lambda s, h, b: self.codec.parse_cancel(req, s, h, b))

    async def query_order(self, instrument: str, client_order_id: str) -> VenueOrder | VenueError:
        return await self._call(self.codec.query_order(instrument, client_order_id, self._now_ms()),
                                self.codec.parse_order)

    async def open_orders(self, instrument: str) -> list[VenueOrder] | VenueError:
        return await self._call(self.codec.open_orders(instrument, self._now_ms()), self.codec.parse_orders)

    async def balances(self) -> dict[str, Balance] | VenueError:
        return await self._call(self.codec.account(self._now_ms()), self.codec.parse_account)

    async def server_time_ms(self) -> int | VenueError:
        """The venue's clock, to keep the offset that signed timestamps need (venues.md §6.4)."""
        return await self._call(server_time_request(), parse_server_time)

    async def instruments(self) -> list[Instrument] | VenueError:
        """Every instrument the venue lists, from exchangeInfo."""
        return await self._call(exchange_info_request(),
                                lambda s, h, b: parse_exchange_info(s, h, b, self.codec.venue))

    async def _call(self, request: VenueRequest,
                    parse: Callable[[int, httpx.Headers, bytes], _T | VenueError]) -> _T | VenueError:
        target = f"{request.path}?{request.query}" if request.query else request.path
        try:
            response = await self._http.request(request.method, target, content=request.body.encode() or None,
                                                headers=dict(request.headers))
        except _NOT_SENT as exc:
            return VenueError(ErrorClass.RETRY_SAFE, 0, None, f"not sent: {type(exc).__name__}: {exc}")
        except httpx.TransportError as exc:
            return VenueError(ErrorClass.UNKNOWN if request.mutates else ErrorClass.RETRY_SAFE, 0, None,
                              f"no answer: {type(exc).__name__}: {exc}")
        self.used_weight_1m = used_weight(response.headers)
        return parse(response.status_code, response.headers, response.content)

    def _now_ms(self) -> int:
        return self._now_ns() // 1_000_000
