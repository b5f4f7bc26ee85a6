"""Sans-IO codec for Binance spot orders: engine requests in, signed HTTP requests out; responses in, typed results out.

It exists so that placing, cancelling and reconciling orders on Binance is pure code, tested without a
socket: the IO layer (`adapters.binance.client`) only sends what this module builds and hands back what
came in. Requests carry prices and quantities formatted exactly from the instrument's fixed-point units
and the engine's client order id as `newClientOrderId`; every signed request carries `recvWindow` and the
caller's `timestamp` (the caller owns the clock).

Responses become the engine's vocabulary: a new order's FULL response becomes the execution reports the
venue's user stream would have sent (NEW, one TRADE per fill, then EXPIRED or CANCELED for a remainder),
a refusal becomes a REJECTED report, and anything else that went wrong becomes a `VenueError` whose class
says what the caller may do next (venues.md §0.3, §1.5). A mutation whose outcome cannot be read from the
response (a 5xx, a malformed body) is UNKNOWN, never failed.

An OCO pair (a protective stop and take-profit) goes as one order list (`POST /api/v3/orderList/oco`, its legs
placed above and below as Binance requires) and is cancelled as one (`DELETE /api/v3/orderList`), so that the
venue ends one leg when the other triggers and no cancel of ours races it.

Reconciliation after a crash reads the venue's own records: every order of an instrument (`allOrders`)
and every fill under the venue's trade id (`myTrades`), turned into `VenueOrderState`s, the engine's
common words for them; and cancels everything still open in one request (`DELETE openOrders`).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode

import orjson

from adapters.binance.signing import API_KEY_HEADER, SIGNATURE_PARAM, Credentials, sign, signature_payload
from engine.messages import (
    CancelRequest,
    ExecType,
    ExecutionReport,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    VenueOrderState,
    VenueOrderStatus,
    VenueTrade,
)
from engine.model.numbers import Instrument, NumberFormatError, format_fixed, parse_fixed

_MS = 1_000_000  # nanoseconds per millisecond
_SIDES = {Side.BUY: "BUY", Side.SELL: "SELL"}
_SIDE_OF = {"BUY": Side.BUY, "SELL": Side.SELL}
_FORM = ("Content-Type", "application/x-www-form-urlencoded")
_T = TypeVar("_T")

PAGE_LIMIT = 1_000
"""Items asked for per page of allOrders and myTrades: Binance's maximum, so that reading a history takes the
fewest requests (each costs 20 weight, myTrades of one order 5)."""
INVALID_TIMESTAMP = -1021
"""Binance's code for a signed request whose `timestamp` is outside `recvWindow` or ahead of its clock."""
NOTHING_TO_CANCEL = -2011
"""Binance's CANCEL_REJECTED, which cancel-all answers when no order is open."""


_PRICED = frozenset({OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
"""The order types that carry a limit `price` (STOP_LOSS and TAKE_PROFIT trade at market once triggered)."""
_WITH_TIME_IN_FORCE = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_STOP_LOSSES = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT})
NATIVE_ORDER_TYPES = frozenset({OrderType.LIMIT_MAKER, OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT,
                                OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT})
"""The order types beyond LIMIT and MARKET this codec sends as Binance's own (OCO lists of the protective ones too)."""


class ErrorClass(enum.Enum):
    """What a caller may do after a request failed (venues.md §0.3)."""
    REJECTED = "rejected"      # the venue validated the request and refused it: never resend it as is
    RETRY_SAFE = "retry_safe"  # refused before the matching engine (rate limit, clock): back off, re-sign, resend
    UNKNOWN = "unknown"        # it may or may not have happened: reconcile by client order id
    NOT_FOUND = "not_found"    # no such (open) order: query it; "not found" is definitive only after recvWindow
    FATAL_AUTH = "fatal_auth"  # key, signature or permissions are wrong: stop and fix the configuration


_CODE_CLASSES = {
    -1000: ErrorClass.UNKNOWN, -1001: ErrorClass.UNKNOWN, -1006: ErrorClass.UNKNOWN, -1007: ErrorClass.UNKNOWN,
    -1003: ErrorClass.RETRY_SAFE, -1008: ErrorClass.RETRY_SAFE, -1015: ErrorClass.RETRY_SAFE,
    -1021: ErrorClass.RETRY_SAFE,
    -1022: ErrorClass.FATAL_AUTH, -2014: ErrorClass.FATAL_AUTH, -2015: ErrorClass.FATAL_AUTH,
    -2011: ErrorClass.NOT_FOUND, -2013: ErrorClass.NOT_FOUND,
}


def classify(http_status: int, code: int | None) -> ErrorClass:
    """The class of a Binance error response.

    A code of venues.md §1.5 decides (a -1008 "server busy" was refused, even on a 503). Otherwise the HTTP
    status does: a 5xx is UNKNOWN, 429 / 418 / 403 (rate limit, IP ban, WAF) were refused at the door, and
    any other refusal (parameters, filters, new-order rejections) is REJECTED.
    """
    known = _CODE_CLASSES.get(code) if code is not None else None
    if known is not None:
        return known
    if http_status >= 500:
        return ErrorClass.UNKNOWN
    if http_status in (429, 418, 403):
        return ErrorClass.RETRY_SAFE
    return ErrorClass.REJECTED


@dataclass(frozen=True, slots=True)
class VenueError:
    """A request that did not do what was asked, and why. `http_status` is 0 when no response came back."""
    error_class: ErrorClass
    http_status: int
    code: int | None
    message: str
    retry_after_s: int | None = None


@dataclass(frozen=True, slots=True)
class VenueRequest:
    """One HTTP request to send as is. `mutates`: it may change orders, so a lost answer leaves it UNKNOWN."""
    method: str
    path: str
    query: str
    body: str
    headers: tuple[tuple[str, str], ...]
    mutates: bool


class OrderStatus(enum.Enum):
    """Binance's order `status` values."""
    NEW = "NEW"
    PENDING_NEW = "PENDING_NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PENDING_NEW, OrderStatus.PARTIALLY_FILLED,
                        OrderStatus.PENDING_CANCEL)


_VENUE_STATUS = {
    OrderStatus.NEW: VenueOrderStatus.OPEN, OrderStatus.PENDING_NEW: VenueOrderStatus.OPEN,
    OrderStatus.PARTIALLY_FILLED: VenueOrderStatus.OPEN, OrderStatus.PENDING_CANCEL: VenueOrderStatus.OPEN,
    OrderStatus.FILLED: VenueOrderStatus.FILLED, OrderStatus.CANCELED: VenueOrderStatus.CANCELLED,
    OrderStatus.EXPIRED: VenueOrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH: VenueOrderStatus.EXPIRED,
    OrderStatus.REJECTED: VenueOrderStatus.REJECTED,
}


def venue_order_status(status: OrderStatus) -> VenueOrderStatus:
    """Binance's order status in the common words of venues.md §0.2: every status an order can still trade in
    (pending ones included) is OPEN; both kinds of expiry (EXPIRED_IN_MATCH is self-trade prevention) are
    EXPIRED."""
    return _VENUE_STATUS[status]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """An order as the venue reports it when queried: what reconciliation compares with the engine's state."""
    instrument: str
    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    side: Side
    price: int
    qty: int
    cum_qty: int
    cum_quote: Decimal
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class OrderTrade:
    """One of our fills as `myTrades` lists it: the venue's id of the order it belongs to, and the fill."""
    venue_order_id: str
    trade: VenueTrade


def venue_order_state(order: VenueOrder, trades: Iterable[VenueTrade]) -> VenueOrderState:
    """An order as the venue records it, with its fills oldest first (by the venue's trade id).

    `trades_complete` says whether the fills add up to the order's `executedQty`: less means some were not
    listed, more means the two reads disagree (each comes from the venue's database, written after the
    matching engine); either way the order's own cumulative quantity is the venue's statement.
    """
    ordered = tuple(sorted(trades, key=lambda trade: int(trade.trade_id)))
    return VenueOrderState(order.client_order_id, order.venue_order_id, order.instrument, order.side, order.qty,
                           order.price, venue_order_status(order.status), order.cum_qty, ordered,
                           sum(trade.qty for trade in ordered) == order.cum_qty)


def venue_order_states(orders: Iterable[VenueOrder], trades: Iterable[OrderTrade]) -> list[VenueOrderState]:
    """Each order's state with its own fills out of one `myTrades` listing (fills of other orders are left out)."""
    by_order: dict[str, list[VenueTrade]] = {}
    for item in trades:
        by_order.setdefault(item.venue_order_id, []).append(item.trade)
    return [venue_order_state(order, by_order.get(order.venue_order_id, ())) for order in orders]


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset of the account: `free` to use, `locked` in open orders."""
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class MalformedResponse(ValueError):
    """A response body that is not what Binance sends for that request."""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header by case-insensitive name (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def used_weight(headers: Mapping[str, str]) -> int | None:
    """The request weight used in the current minute (`X-MBX-USED-WEIGHT-1M`), if the venue said."""
    value = header(headers, "X-MBX-USED-WEIGHT-1M")
    return int(value) if value is not None and value.isdigit() else None


def parse_error(status: int, headers: Mapping[str, str], body: bytes) -> VenueError | None:
    """The error a response carries, or None for a 2xx."""
    if 200 <= status < 300:
        return None
    code, message = None, f"HTTP {status}"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), int):
        code, message = data["code"], str(data.get("msg", message))
    retry_after = header(headers, "Retry-After")
    return VenueError(classify(status, code), status, code, message,
                      int(retry_after) if retry_after is not None and retry_after.isdigit() else None)


# ---------------------------------------------------------------- public endpoints

def server_time_request() -> VenueRequest:
    return VenueRequest("GET", "/api/v3/time", "", "", (), mutates=False)


def exchange_info_request() -> VenueRequest:
    return VenueRequest("GET", "/api/v3/exchangeInfo", "", "", (), mutates=False)


def parse_server_time(status: int, headers: Mapping[str, str], body: bytes) -> int | VenueError:
    """The venue's time in milliseconds, from `/api/v3/time`."""
    return _result(status, headers, body, lambda: _int(_object(body), "serverTime"), mutates=False)


def parse_exchange_info(status: int, headers: Mapping[str, str], body: bytes,
                        venue: str = "binance") -> list[Instrument] | VenueError:
    """The instruments of `/api/v3/exchangeInfo`, normalised from its metadata (never by splitting names).

    Price and quantity units are the tick and step strings' own decimals ("0.01000000" → 8 decimals, tick
    1_000_000), so every price and quantity the venue sends parses exactly.
    """
    return _result(status, headers, body, lambda: _instruments(body, venue), mutates=False)


def _instruments(body: bytes, venue: str) -> list[Instrument]:
    instruments = []
    for entry in map(_as_object, _list(_object(body), "symbols")):
        symbol, base, quote = _str(entry, "symbol"), _str(entry, "baseAsset"), _str(entry, "quoteAsset")
        filters = {f.get("filterType"): f for f in map(_as_object, _list(entry, "filters"))}
        if "PRICE_FILTER" not in filters or "LOT_SIZE" not in filters:
            raise MalformedResponse(f"{symbol} has no PRICE_FILTER or no LOT_SIZE filter")
        tick, step = _str(filters["PRICE_FILTER"], "tickSize"), _str(filters["LOT_SIZE"], "stepSize")
        price_decimals, qty_decimals = _decimals(tick), _decimals(step)
        instruments.append(Instrument(symbol=f"{base}/{quote}", venue=venue, venue_symbol=symbol, base=base,
                                      quote=quote, price_decimals=price_decimals, qty_decimals=qty_decimals,
                                      tick_size=_fixed(tick, price_decimals), lot_size=_fixed(step, qty_decimals)))
    return instruments


# ---------------------------------------------------------------- orders

class BinanceOrderCodec:
    """Builds signed order requests and reads their responses, for the given instruments of one account."""

    def __init__(self, credentials: Credentials, instruments: Iterable[Instrument], *, venue: str = "binance",
                 recv_window_ms: int = 5_000):
        self.venue = venue
        self.recv_window_ms = recv_window_ms
        self._credentials = credentials
        self._by_symbol = {i.symbol: i for i in instruments}
        self._by_venue_symbol = {i.venue_symbol: i for i in self._by_symbol.values()}

    def __repr__(self) -> str:
        return f"BinanceOrderCodec(venue={self.venue!r}, instruments={sorted(self._by_symbol)})"

    # ------------------------------------------------------------ requests

    def new_order(self, req: NewOrderRequest, timestamp_ms: int) -> VenueRequest:
        """`POST /api/v3/order`, asking for the FULL response so that immediate fills come back with it."""
        instrument = self._instrument(req.instrument)
        params = [("symbol", instrument.venue_symbol), ("side", _SIDES[req.side]), ("type", req.order_type.value)]
        if req.order_type in _WITH_TIME_IN_FORCE:
            params.append(("timeInForce", req.tif.value))
        params.append(("quantity", format_fixed(req.qty, instrument.qty_decimals)))
        params += _order_terms(req, instrument, "")
        params += [("newClientOrderId", req.client_order_id), ("newOrderRespType", "FULL")]
        return self._signed("POST", "/api/v3/order", params, timestamp_ms, mutates=True)

    def new_oco(self, legs: Sequence[NewOrderRequest], timestamp_ms: int) -> VenueRequest:
        """`POST /api/v3/orderList/oco`: the two legs of one OCO list (one instrument, side and quantity; their
        `list_id` is the list's client id) as one request, so that the venue ends one when the other triggers.

        The stop-loss leg is the below order of a sell and the above order of a buy, the other leg (take-profit or
        limit-maker) the opposite one, as Binance requires. ValueError for legs that do not make an OCO pair.
        """
        above, below = oco_places(legs)
        instrument = self._instrument(above.instrument)
        params = [("symbol", instrument.venue_symbol), ("listClientOrderId", above.list_id),
                  ("side", _SIDES[above.side]), ("quantity", format_fixed(above.qty, instrument.qty_decimals))]
        for prefix, leg in (("above", above), ("below", below)):
            params += [(f"{prefix}Type", leg.order_type.value), (f"{prefix}ClientOrderId", leg.client_order_id)]
            params += _order_terms(leg, instrument, prefix)
            if leg.order_type in _WITH_TIME_IN_FORCE:
                params.append((f"{prefix}TimeInForce", leg.tif.value))
        params.append(("newOrderRespType", "FULL"))
        return self._signed("POST", "/api/v3/orderList/oco", params, timestamp_ms, mutates=True)

    def cancel_order_list(self, instrument: str, list_client_order_id: str, timestamp_ms: int) -> VenueRequest:
        """`DELETE /api/v3/orderList` by `listClientOrderId`: both legs of the list at once."""
        params = [("symbol", self._instrument(instrument).venue_symbol), ("listClientOrderId", list_client_order_id)]
        return self._signed("DELETE", "/api/v3/orderList", params, timestamp_ms, mutates=True)

    def cancel(self, req: CancelRequest, timestamp_ms: int) -> VenueRequest:
        """`DELETE /api/v3/order` by `origClientOrderId`."""
        instrument = self._instrument(req.instrument)
        params = [("symbol", instrument.venue_symbol), ("origClientOrderId", req.client_order_id)]
        return self._signed("DELETE", "/api/v3/order", params, timestamp_ms, mutates=True)

    def query_order(self, instrument: str, client_order_id: str, timestamp_ms: int) -> VenueRequest:
        """`GET /api/v3/order` by `origClientOrderId`: how an UNKNOWN outcome is reconciled."""
        params = [("symbol", self._instrument(instrument).venue_symbol), ("origClientOrderId", client_order_id)]
        return self._signed("GET", "/api/v3/order", params, timestamp_ms, mutates=False)

    def open_orders(self, instrument: str, timestamp_ms: int) -> VenueRequest:
        """`GET /api/v3/openOrders` of one instrument (weight 6; all symbols would cost 80)."""
        params = [("symbol", self._instrument(instrument).venue_symbol)]
        return self._signed("GET", "/api/v3/openOrders", params, timestamp_ms, mutates=False)

    def account(self, timestamp_ms: int) -> VenueRequest:
        """`GET /api/v3/account` without zero balances."""
        return self._signed("GET", "/api/v3/account", [("omitZeroBalances", "true")], timestamp_ms, mutates=False)

    def all_orders(self, instrument: str, start_ms: int | None, timestamp_ms: int,
                   order_id: int | None = None) -> VenueRequest:
        """`GET /api/v3/allOrders`, a page of `PAGE_LIMIT`: the oldest orders created from `start_ms` on, or
        with venue order ids from `order_id` on (how the next page is asked for)."""
        params = [("symbol", self._instrument(instrument).venue_symbol)]
        if order_id is not None:
            params.append(("orderId", str(order_id)))
        if start_ms is not None:
            params.append(("startTime", str(start_ms)))
        params.append(("limit", str(PAGE_LIMIT)))
        return self._signed("GET", "/api/v3/allOrders", params, timestamp_ms, mutates=False)

    def my_trades(self, instrument: str, timestamp_ms: int, *, order_id: int | None = None,
                  start_ms: int | None = None, from_id: int | None = None) -> VenueRequest:
        """`GET /api/v3/myTrades`, a page of `PAGE_LIMIT`: our oldest fills from trade id `from_id` on or made
        from `start_ms` on, of one order if `order_id` is given.

        Binance takes `fromId` or `startTime`, not both, and `orderId` with `fromId` only (a combination it
        refuses with -1128 raises ValueError here, before anything is sent).
        """
        if start_ms is not None and (from_id is not None or order_id is not None):
            raise ValueError("Binance's myTrades takes startTime neither with fromId nor with orderId")
        params = [("symbol", self._instrument(instrument).venue_symbol)]
        params += [(name, str(value)) for name, value in (("orderId", order_id), ("startTime", start_ms),
                                                          ("fromId", from_id)) if value is not None]
        params.append(("limit", str(PAGE_LIMIT)))
        return self._signed("GET", "/api/v3/myTrades", params, timestamp_ms, mutates=False)

    def cancel_open_orders(self, instrument: str, timestamp_ms: int) -> VenueRequest:
        """`DELETE /api/v3/openOrders`: cancel every open order of ours on the instrument."""
        params = [("symbol", self._instrument(instrument).venue_symbol)]
        return self._signed("DELETE", "/api/v3/openOrders", params, timestamp_ms, mutates=True)

    # ------------------------------------------------------------ responses

    def parse_new_order(self, req: NewOrderRequest, status: int, headers: Mapping[str, str],
                        body: bytes) -> list[ExecutionReport] | VenueError:
        """The reports a new order's response implies.

        A refusal is one REJECTED report with the venue's message as its reason, stamped with the request's
        time since the refusal carries none.
        """
        error = parse_error(status, headers, body)
        if error is not None:
            if error.error_class is ErrorClass.REJECTED:
                return [ExecutionReport(venue=self.venue, client_order_id=req.client_order_id, venue_order_id="",
                                        exec_type=ExecType.REJECTED, ts_ns=req.ts_ns, cum_qty=0,
                                        reason=error.message)]
            return error
        return _result(status, headers, body, lambda: self._new_order_reports(req, _object(body)), mutates=True)

    def parse_new_oco(self, legs: Sequence[NewOrderRequest], status: int, headers: Mapping[str, str],
                      body: bytes) -> list[ExecutionReport] | VenueError:
        """The reports of each leg from the list's `orderReports` (NEW, and any fill); a refusal of the list is a
        REJECTED report for each leg (Binance places both or neither)."""
        error = parse_error(status, headers, body)
        if error is not None:
            if error.error_class is ErrorClass.REJECTED:
                return [ExecutionReport(venue=self.venue, client_order_id=leg.client_order_id, venue_order_id="",
                                        exec_type=ExecType.REJECTED, ts_ns=leg.ts_ns, cum_qty=0, reason=error.message)
                        for leg in legs]
            return error
        by_id = {leg.client_order_id: leg for leg in legs}

        def reports() -> list[ExecutionReport]:
            data = _object(body)
            if _str(data, "contingencyType") != "OCO":
                raise MalformedResponse(f"not an OCO list: {data.get('contingencyType')!r}")
            items = list(map(_as_object, _list(data, "orderReports")))
            if sorted(_str(item, "clientOrderId") for item in items) != sorted(by_id):
                raise MalformedResponse("the list's orders are not the legs sent")
            return [report for item in items
                    for report in self._new_order_reports(by_id[_str(item, "clientOrderId")], {"fills": []} | item)]
        return _result(status, headers, body, reports, mutates=True)

    def parse_cancel_order_list(self, status: int, headers: Mapping[str, str],
                                body: bytes) -> list[ExecutionReport] | VenueError:
        """One CANCELED report per leg, under the leg's own client id."""
        return _result(status, headers, body, lambda: self._list_cancel_reports(_object(body)), mutates=True)

    def parse_cancel(self, req: CancelRequest, status: int, headers: Mapping[str, str],
                     body: bytes) -> list[ExecutionReport] | VenueError:
        """One CANCELED report carrying the venue's cumulative fill (a cancelled order may have fills)."""
        return _result(status, headers, body, lambda: [self._cancel_report(_object(body), req.client_order_id)],
                       mutates=True)

    def parse_cancel_open_orders(self, status: int, headers: Mapping[str, str],
                                 body: bytes) -> list[ExecutionReport] | VenueError:
        """One CANCELED report per order cancelled, under the order's own client id (the answer's `clientOrderId`
        is the cancel's); an order list's orders each count as one. Binance answers -2011 when no order was
        open: that is no report, not an error."""
        error = parse_error(status, headers, body)
        if error is not None and error.code == NOTHING_TO_CANCEL:
            return []

        def reports() -> list[ExecutionReport]:
            return [report for item in map(_as_object, _array(body)) for report in self._list_cancel_reports(item)]
        return _result(status, headers, body, reports, mutates=True)

    def parse_order(self, status: int, headers: Mapping[str, str], body: bytes) -> VenueOrder | VenueError:
        return _result(status, headers, body, lambda: self._venue_order(_object(body)), mutates=False)

    def parse_orders(self, status: int, headers: Mapping[str, str], body: bytes) -> list[VenueOrder] | VenueError:
        """The orders of `openOrders` or `allOrders`, in the venue's order (allOrders: oldest first)."""
        return _result(status, headers, body, lambda: [self._venue_order(_as_object(o)) for o in _array(body)],
                       mutates=False)

    def parse_my_trades(self, status: int, headers: Mapping[str, str],
                        body: bytes) -> list[OrderTrade] | VenueError:
        """Our fills of `myTrades`, oldest first: the trade id as the decimal string of Binance's `id`, the
        commission exact, maker or taker from `isMaker`, the time from `time`."""
        return _result(status, headers, body, lambda: [self._order_trade(_as_object(t)) for t in _array(body)],
                       mutates=False)

    def parse_account(self, status: int, headers: Mapping[str, str],
                      body: bytes) -> dict[str, Balance] | VenueError:
        """Balances by asset."""
        def balances() -> dict[str, Balance]:
            return {_str(b, "asset"): Balance(_decimal(b, "free"), _decimal(b, "locked"))
                    for b in map(_as_object, _list(_object(body), "balances"))}
        return _result(status, headers, body, balances, mutates=False)

    # ------------------------------------------------------------ internals

    def _signed(self, method: str, path: str, params: list[tuple[str, str]], timestamp_ms: int, *,
                mutates: bool) -> VenueRequest:
        """Parameters signed per §1.3: in the form body for POST, in the query string otherwise."""
        encoded = urlencode([*params, ("recvWindow", str(self.recv_window_ms)), ("timestamp", str(timestamp_ms))])
        in_body = method == "POST"
        query, body = ("", encoded) if in_body else (encoded, "")
        signed = f"{encoded}&{SIGNATURE_PARAM}={sign(self._credentials.secret, signature_payload(query, body))}"
        headers = ((API_KEY_HEADER, self._credentials.api_key),)
        if in_body:
            return VenueRequest(method, path, "", signed, headers + (_FORM,), mutates)
        return VenueRequest(method, path, signed, "", headers, mutates)

    def _new_order_reports(self, req: NewOrderRequest, data: dict) -> list[ExecutionReport]:
        instrument = self._venue_instrument(data)
        order_id, ts_ns = str(_int(data, "orderId")), _int(data, "transactTime") * _MS
        status = _status(data)

        def report(exec_type: ExecType, cum_qty: int, **trade: Any) -> ExecutionReport:
            return ExecutionReport(venue=self.venue, client_order_id=req.client_order_id, venue_order_id=order_id,
                                   exec_type=exec_type, ts_ns=ts_ns, cum_qty=cum_qty, **trade)

        if status is OrderStatus.REJECTED:
            return [report(ExecType.REJECTED, 0)]
        reports, cum_qty = [report(ExecType.NEW, 0)], 0
        for fill in map(_as_object, _list(data, "fills")):
            qty = _fixed(_str(fill, "qty"), instrument.qty_decimals)
            cum_qty += qty
            reports.append(report(ExecType.TRADE, cum_qty, last_qty=qty,
                                  last_price=_fixed(_str(fill, "price"), instrument.price_decimals),
                                  fee=_decimal(fill, "commission"), fee_asset=_str(fill, "commissionAsset"),
                                  liquidity=Liquidity.TAKER,  # fills in the order's own response took liquidity
                                  trade_id=str(_int(fill, "tradeId"))))
        executed = _fixed(_str(data, "executedQty"), instrument.qty_decimals)
        if cum_qty != executed:
            raise MalformedResponse(f"fills add up to {cum_qty}, executedQty is {executed}")
        if status in (OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH):
            reports.append(report(ExecType.EXPIRED, cum_qty))
        elif status is OrderStatus.CANCELED:
            reports.append(report(ExecType.CANCELED, cum_qty))
        return reports

    def _list_cancel_reports(self, item: dict) -> list[ExecutionReport]:
        """A cancel's answer for an order, or for a list (`orderReports`: each of its orders), as CANCELED reports."""
        orders = map(_as_object, _list(item, "orderReports")) if "orderReports" in item else (item,)
        return [self._cancel_report(order, _str(order, "origClientOrderId")) for order in orders]

    def _cancel_report(self, data: dict, client_order_id: str) -> ExecutionReport:
        instrument = self._venue_instrument(data)
        return ExecutionReport(venue=self.venue, client_order_id=client_order_id,
                               venue_order_id=str(_int(data, "orderId")), exec_type=ExecType.CANCELED,
                               ts_ns=_int(data, "transactTime") * _MS,
                               cum_qty=_fixed(_str(data, "executedQty"), instrument.qty_decimals))

    def _order_trade(self, data: dict) -> OrderTrade:
        instrument = self._venue_instrument(data)
        is_maker = data.get("isMaker")
        if type(is_maker) is not bool:
            raise MalformedResponse("'isMaker' is not a boolean")
        return OrderTrade(str(_int(data, "orderId")), VenueTrade(
            trade_id=str(_int(data, "id")), qty=_fixed(_str(data, "qty"), instrument.qty_decimals),
            price=_fixed(_str(data, "price"), instrument.price_decimals), fee=_decimal(data, "commission"),
            fee_asset=_str(data, "commissionAsset"), liquidity=Liquidity.MAKER if is_maker else Liquidity.TAKER,
            ts_ns=_int(data, "time") * _MS))

    def _venue_order(self, data: dict) -> VenueOrder:
        instrument = self._venue_instrument(data)
        side = _SIDE_OF.get(_str(data, "side"))
        if side is None:
            raise MalformedResponse(f"unknown side {data['side']!r}")
        return VenueOrder(instrument=instrument.symbol, client_order_id=_str(data, "clientOrderId"),
                          venue_order_id=str(_int(data, "orderId")), status=_status(data), side=side,
                          price=_fixed(_str(data, "price"), instrument.price_decimals),
                          qty=_fixed(_str(data, "origQty"), instrument.qty_decimals),
                          cum_qty=_fixed(_str(data, "executedQty"), instrument.qty_decimals),
                          cum_quote=_decimal(data, "cummulativeQuoteQty"),
                          created_ns=_int(data, "time") * _MS, updated_ns=_int(data, "updateTime") * _MS)

    def _instrument(self, symbol: str) -> Instrument:
        instrument = self._by_symbol.get(symbol)
        if instrument is None:
            raise KeyError(f"no instrument {symbol!r} for venue {self.venue!r}")
        return instrument

    def _venue_instrument(self, data: dict) -> Instrument:
        symbol = _str(data, "symbol")
        instrument = self._by_venue_symbol.get(symbol)
        if instrument is None:
            raise MalformedResponse(f"order of unknown symbol {symbol!r}")
        return instrument


def _order_terms(req: NewOrderRequest, instrument: Instrument, prefix: str) -> list[tuple[str, str]]:
    """The price and trigger parameters of an order (`prefix` names an OCO leg's: "above", "below")."""
    def name(field: str) -> str:
        return f"{prefix}{field[0].upper()}{field[1:]}" if prefix else field
    params = []
    if req.order_type in _PRICED:
        params.append((name("price"), format_fixed(req.price, instrument.price_decimals)))
    if req.stop_price:      # the stop and take-profit types: where the venue triggers them
        params.append((name("stopPrice"), format_fixed(req.stop_price, instrument.price_decimals)))
    if req.trailing_bps:    # a trailing stop: Binance's trailingDelta is in bps
        params.append((name("trailingDelta"), str(req.trailing_bps)))
    return params


def oco_places(legs: Sequence[NewOrderRequest]) -> tuple[NewOrderRequest, NewOrderRequest]:
    """(above, below) of an OCO pair: its stop-loss leg below a sell and above a buy. ValueError if the legs are
    not one list of one stop-loss and one other leg, on one instrument and side, for one quantity."""
    if len(legs) != 2 or len({(leg.instrument, leg.side, leg.qty, leg.list_id) for leg in legs}) != 1 \
            or not legs[0].list_id:
        raise ValueError("an OCO list is two legs of one list, instrument, side and quantity")
    stops = [leg for leg in legs if leg.order_type in _STOP_LOSSES]
    if len(stops) != 1:
        raise ValueError("an OCO list pairs one stop-loss leg with one take-profit or limit-maker leg")
    stop = stops[0]
    other = legs[1] if stop is legs[0] else legs[0]
    return (other, stop) if stop.side is Side.SELL else (stop, other)


# ---------------------------------------------------------------- reading responses strictly

def _result(status: int, headers: Mapping[str, str], body: bytes, parse: Callable[[], _T], *,
            mutates: bool) -> _T | VenueError:
    """The error a response carries, else `parse()`; a malformed 2xx body is UNKNOWN for a mutation (it
    reached the venue, what it did cannot be read), retry-safe for a read."""
    error = parse_error(status, headers, body)
    if error is not None:
        return error
    try:
        return parse()
    except MalformedResponse as exc:
        return VenueError(ErrorClass.UNKNOWN if mutates else ErrorClass.RETRY_SAFE, status, None,
                          f"malformed response: {exc}")


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedResponse(f"not JSON: {exc}") from None


def _object(body: bytes) -> dict:
    return _as_object(_parse(body))


def _array(body: bytes) -> list:
    data = _parse(body)
    if not isinstance(data, list):
        raise MalformedResponse("expected a JSON array")
    return data


def _as_object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise MalformedResponse("expected a JSON object")
    return value


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise MalformedResponse(f"{key!r} is not a list")
    return value


def _str(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedResponse(f"{key!r} is not a string")
    return value


def _int(data: dict, key: str) -> int:
    value = data.get(key)
    if type(value) is not int:
        raise MalformedResponse(f"{key!r} is not an integer")
    return value


def _decimal(data: dict, key: str) -> Decimal:
    text = _str(data, key)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedResponse(f"{key!r} is not a decimal: {text!r}") from None
    if not value.is_finite():
        raise MalformedResponse(f"{key!r} is not a decimal: {text!r}")
    return value


def _fixed(text: str, decimals: int) -> int:
    try:
        return parse_fixed(text, decimals)
    except NumberFormatError as exc:
        raise MalformedResponse(str(exc)) from None


def _decimals(text: str) -> int:
    """The decimals a number string is written with ("0.01000000" → 8)."""
    return len(text) - text.index(".") - 1 if "." in text else 0


def _status(data: dict) -> OrderStatus:
    text = _str(data, "status")
    try:
        return OrderStatus(text)
    except ValueError:
        raise MalformedResponse(f"unknown order status {text!r}") from None
