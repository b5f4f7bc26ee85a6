"""The IO half of the Binance order adapter: sends what `adapters.binance.orders` builds, over httpx.

All protocol knowledge (what to send, how to sign, what a response means) is in the sans-IO codec; this
layer only moves bytes, stamps signed requests with the venue's time as it knows it, pages through
histories and turns transport failures into the same `VenueError` classes (venues.md §0.3):

- a timeout, a reset connection or any other failure after the request may have left is UNKNOWN for a
  mutation (placing or cancelling), never "failed": the caller reconciles by client order id;
- a failure to connect at all means nothing was sent: RETRY_SAFE, like any failed read.

Signed requests carry `timestamp` = our injected clock plus the offset to the venue's clock (venues.md §6.4),
measured by `sync_clock` from `GET /api/v3/time`. A request the venue refuses for its timestamp (-1021) was
refused at the door, before anything happened, so it is sent once more, re-signed with a fresh timestamp,
after the offset was measured again. Nothing else is retried here: refusals of our key or signature
(-1022, -2014, -2015) are FATAL_AUTH, and whatever else is retry-safe is the caller's to retry.

The base URL is configurable, so the same code talks to Binance or to the simulated exchange on loopback.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

import httpx
import trio

from adapters.binance.orders import (
    INVALID_TIMESTAMP,
    PAGE_LIMIT,
    Balance,
    BinanceOrderCodec,
    ErrorClass,
    OrderTrade,
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
_MS = 1_000_000  # nanoseconds per millisecond
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before a single byte of the request left: nothing can have happened at the venue."""

Parse = Callable[[int, httpx.Headers, bytes], "_T | VenueError"]
Signed = Callable[[int], VenueRequest]
"""A signed request built for a given `timestamp` (ms), so that a resend is signed afresh."""


RETRIABLE_READS = (ErrorClass.UNKNOWN, ErrorClass.RETRY_SAFE)
"""A read that failed so (a 5xx, a timeout, a refusal at the door) may be asked again: it changes nothing."""


async def read_patiently(read: Callable[[], Awaitable[_T | VenueError]], attempts: int = 8,
                         pause_s: float = 0.25) -> _T | VenueError:
    """`read()`, asked again after a pause (the venue's Retry-After when it gives one) while it fails in a way a
    read may be retried after; the last error once `attempts` are spent. Never for an order or a cancel."""
    for attempt in range(attempts):
        answer = await read()
        if not isinstance(answer, VenueError) or answer.error_class not in RETRIABLE_READS \
                or attempt == attempts - 1:
            return answer
        await trio.sleep(answer.retry_after_s or pause_s)
    raise AssertionError("unreachable")


class BinanceClient:
    """Orders and account reads of one Binance account over HTTP. Use as `async with`, or `aclose()` it."""

    def __init__(self, codec: BinanceOrderCodec, *, base_url: str, now_ns: Callable[[], int],
                 timeout_s: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        self.codec = codec
        self.used_weight_1m: int | None = None  # the venue's count after the last response
        self.clock_offset_ns = 0                 # the venue's clock less ours, as `sync_clock` last measured it
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

    # ------------------------------------------------------------ orders

    async def place_order(self, req: NewOrderRequest) -> list[ExecutionReport] | VenueError:
        """NEW, its immediate TRADEs and an EXPIRED remainder; a refusal is one REJECTED report.

        The request is stamped with the order's creation time (`req.ts_ns`, on the venue's clock), not the time
        it is sent: the venue refuses a new order older than its recvWindow, so an order it does not know once
        that window has passed never reached it, however often the request was retried.
        """
        return await self._signed(lambda _now_ms: self.codec.new_order(req, self._timestamp_ms(req.ts_ns)),
                                  partial(self.codec.parse_new_order, req))

    async def place_oco(self, legs: Sequence[NewOrderRequest]) -> list[ExecutionReport] | VenueError:
        """Both legs of an OCO list in one request: each leg's NEW (and fills); a refusal REJECTS both. Stamped
        with the first leg's creation time, as a single order is."""
        return await self._signed(lambda _now_ms: self.codec.new_oco(legs, self._timestamp_ms(legs[0].ts_ns)),
                                  partial(self.codec.parse_new_oco, legs))

    async def cancel_order_list(self, instrument: str, list_client_order_id: str) -> list[ExecutionReport] | VenueError:
        """Cancel an OCO list: one CANCELED report per leg."""
        return await self._signed(partial(self.codec.cancel_order_list, instrument, list_client_order_id),
                                  self.codec.parse_cancel_order_list)

    async def cancel_order(self, req: CancelRequest) -> list[ExecutionReport] | VenueError:
        return await self._signed(partial(self.codec.cancel, req), partial(self.codec.parse_cancel, req))

    async def cancel_open_orders(self, instrument: str) -> list[ExecutionReport] | VenueError:
        """Cancel every open order of ours on `instrument`: one CANCELED report per order (none if none was open)."""
        return await self._signed(partial(self.codec.cancel_open_orders, instrument),
                                  self.codec.parse_cancel_open_orders)

    # ------------------------------------------------------------ reads

    async def query_order(self, instrument: str, client_order_id: str) -> VenueOrder | VenueError:
        return await self._signed(partial(self.codec.query_order, instrument, client_order_id),
                                  self.codec.parse_order)

    async def open_orders(self, instrument: str) -> list[VenueOrder] | VenueError:
        return await self._signed(partial(self.codec.open_orders, instrument), self.codec.parse_orders)

    async def all_orders(self, instrument: str, start_ms: int | None = None,
                         order_id: int | None = None) -> list[VenueOrder] | VenueError:
        """Every order of ours on `instrument` created from `start_ms` on (or with venue order ids from `order_id`
        on), oldest first, whatever their state: pages of `PAGE_LIMIT`, each following on from the last order id.
        """
        def page(from_id: int | None) -> Signed:
            if from_id is None:
                return partial(self.codec.all_orders, instrument, start_ms, order_id=order_id)
            return partial(self.codec.all_orders, instrument, None, order_id=from_id)
        return await self._pages(page, self.codec.parse_orders, lambda order: int(order.venue_order_id))

    async def my_trades(self, instrument: str, *, order_id: int | None = None, start_ms: int | None = None,
                        from_id: int | None = None) -> list[OrderTrade] | VenueError:
        """Our fills on `instrument` (of one order, with `order_id`) from trade id `from_id` on, or made from
        `start_ms` on, or else all of them, oldest first: pages of `PAGE_LIMIT`, each following on from the last
        trade id (Binance's own default, the most recent trades, could not be paged forward)."""
        if start_ms is None and from_id is None:
            from_id = 0

        def page(next_id: int | None) -> Signed:
            if next_id is None:
                return partial(self.codec.my_trades, instrument, order_id=order_id, start_ms=start_ms,
                               from_id=from_id)
            return partial(self.codec.my_trades, instrument, order_id=order_id, from_id=next_id)
        return await self._pages(page, self.codec.parse_my_trades, lambda item: int(item.trade.trade_id))

    async def balances(self) -> dict[str, Balance] | VenueError:
        return await self._signed(self.codec.account, self.codec.parse_account)

    async def server_time_ms(self) -> int | VenueError:
        """The venue's clock, in milliseconds."""
        return await self._call(server_time_request(), parse_server_time)

    async def sync_clock(self) -> int | VenueError:
        """Measure the offset of the venue's clock to ours (ns) and keep it for signed requests' timestamps.

        The venue read its clock somewhere between our sending and our receiving; the midpoint of the two is
        the best guess of when, whatever the round trip took.
        """
        sent_ns = self._now_ns()
        server_ms = await self.server_time_ms()
        received_ns = self._now_ns()
        if isinstance(server_ms, VenueError):
            return server_ms
        self.clock_offset_ns = server_ms * _MS - (sent_ns + received_ns) // 2
        return self.clock_offset_ns

    async def instruments(self) -> list[Instrument] | VenueError:
        """Every instrument the venue lists, from exchangeInfo."""
        return await self._call(exchange_info_request(),
                                lambda s, h, b: parse_exchange_info(s, h, b, self.codec.venue))

    # ------------------------------------------------------------ internals

    async def _signed(self, build: Signed, parse: Parse) -> _T | VenueError:
        """Send a signed request stamped with the venue's time; refused for its timestamp, re-measure the offset
        and send it once more, re-signed."""
        answer = await self._call(build(self._timestamp_ms()), parse)
        if isinstance(answer, VenueError) and answer.code == INVALID_TIMESTAMP:
            if not isinstance(await self.sync_clock(), VenueError):
                answer = await self._call(build(self._timestamp_ms()), parse)
        return answer

    async def _pages(self, page: Callable[[int | None], Signed], parse: Parse,
                     id_of: Callable[[_T], int]) -> list[_T] | VenueError:
        """Every item of a history, asking `page(None)` first, then `page(last id + 1)` until a page is short."""
        items: list[_T] = []
        next_id = None
        while True:
            answer = await self._signed(page(next_id), parse)
            if isinstance(answer, VenueError):
                return answer
            items += answer
            if len(answer) < PAGE_LIMIT:
                return items
            next_id = id_of(answer[-1]) + 1

    async def _call(self, request: VenueRequest, parse: Parse) -> _T | VenueError:
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

    def venue_time_ms(self) -> int:
        """The venue's time now, as far as the measured offset tells (for the user stream's signature)."""
        return self._timestamp_ms()

    def _timestamp_ms(self, at_ns: int | None = None) -> int:
        """The venue's time now (or at `at_ns` of ours), as far as we know it, for a signed request's `timestamp`."""
        return ((self._now_ns() if at_ns is None else at_ns) + self.clock_offset_ns) // _MS
