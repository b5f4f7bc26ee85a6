"""A simulated Binance spot exchange, sans-IO: an HTTP request in, Binance's HTTP response out.

It exists so that the engine's Binance adapter, and any standard Binance client, can trade against a
counterparty that behaves and fails like the real one, with nothing but pure code behind the socket
(`adapters.simulated.server` serves it over loopback). It speaks the REST API of venues.md §1.2:

- accounts (API key → secret, balances), HMAC signatures checked over query string + body (-1022),
  `timestamp` checked against `recvWindow` on the injected clock (-1021), keys checked (-2014, -2015);
- request weight counted in one fixed one-minute window for the whole venue (it sees one IP, loopback),
  reported on every response as `X-MBX-USED-WEIGHT-1M`; past the limit, HTTP 429 with `Retry-After` and
  -1003. New orders are counted per account in 10-second and 1-day windows (`X-MBX-ORDER-COUNT-*`, -1015);
- orders (LIMIT, MARKET, LIMIT_MAKER; GTC, IOC, FOK) validated as Binance does (parameters, then the
  PRICE_FILTER, LOT_SIZE and NOTIONAL filters, -1013), funds checked and locked (-2010 "Account has
  insufficient balance for requested action."), open client order ids unique per account and symbol
  (-2010 "Duplicate order sent."), then matched by `MatchingEngine` against the book views it is fed;
- query (-2013), cancel (-2011), open orders, account, depth, exchangeInfo, time and ping.

Responses are Binance's JSON shapes and status enums (NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED;
a refused order is an HTTP 400 with -2010 and leaves no order behind, as on Binance), with `fills[]` in
FULL responses. Commission is charged in the asset received (base on a buy, quote on a sell), as Binance
does without BNB, rounded to the asset's 8 decimals. Prices and quantities are the instruments' exact
integers; balances and money are Decimal. Time comes only from the injected `now_ns` clock.

Not here yet: `quoteOrderQty` market orders and other order types (refused with -1014 / -2010), order
lists, cancel-all, the 418 IP ban, and the WebSocket API and user data stream (execution reports as
events); see the server module.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, localcontext
from typing import Any
from urllib.parse import parse_qsl

import orjson

from adapters.binance.signing import signature_matches, signature_payload, split_signature
from adapters.simulated.matching import (
    DUPLICATE_ORDER,
    ILLEGAL_CLIENT_ORDER_ID,
    INVALID_SYMBOL,
    LOT_SIZE,
    PRICE_FILTER,
    UNKNOWN_ORDER,
    MatchingEngine,
)
from engine.messages import (
    BookView,
    CancelRequest,
    ExecType,
    ExecutionReport,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from engine.model.numbers import Instrument, NumberFormatError, format_fixed, parse_fixed
from engine.model.orders import CLIENT_ORDER_ID

ASSET_PRECISION = 8
"""Decimals of balances, commissions and quote amounts on the wire, as on Binance spot."""

INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
NOTIONAL = "Filter failure: NOTIONAL"
NO_SUCH_ORDER = "Order does not exist."
BAD_SIGNATURE = "Signature for this request is not valid."
OUTSIDE_RECV_WINDOW = "Timestamp for this request is outside of the recvWindow."
AHEAD_OF_SERVER = "Timestamp for this request was 1000ms ahead of the server's time."

_MS = 1_000_000
_MINUTE_MS, _TEN_SECONDS_MS, _DAY_MS = 60_000, 10_000, 86_400_000
_MAX_RECV_WINDOW_MS = 60_000
_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
_QUANTUM = Decimal(1).scaleb(-ASSET_PRECISION)
_ZERO = Decimal(0)
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_SIDE_NAMES = {Side.BUY: "BUY", Side.SELL: "SELL"}
_BINANCE_ORDER_TYPES = {"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT",
                        "LIMIT_MAKER"}
_SUPPORTED_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
_RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
_NUMBER = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
_JSON = ("Content-Type", "application/json;charset=UTF-8")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request as received: the raw query string (no `?`) and form body, header names lower case."""
    method: str
    path: str
    query: str = ""
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Listing:
    """One symbol the exchange lists: the instrument (tick and lot sizes) and its other filter bounds."""
    instrument: Instrument
    min_notional: Decimal = Decimal(5)
    max_price: Decimal = Decimal(1_000_000)
    max_qty: Decimal = Decimal(9_000)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The `rateLimits` of exchangeInfo; Binance documents 6000 weight a minute, the order counts are examples."""
    request_weight_per_minute: int = 6_000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000


class _Refusal(Exception):
    """A Binance error response: HTTP status, error code, message (and Retry-After for a 429)."""

    def __init__(self, status: int, code: int, msg: str, retry_after_s: int | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.retry_after_s = status, code, msg, retry_after_s


class _Window:
    """A counter over fixed windows aligned to multiples of their length, like Binance's interval limits."""

    __slots__ = ("length_ms", "start_ms", "used")

    def __init__(self, length_ms: int):
        self.length_ms, self.start_ms, self.used = length_ms, -1, 0

    def add(self, now_ms: int, amount: int) -> int:
        """Count `amount` at `now_ms`; the total used in the current window."""
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms, self.used = start, 0
        self.used += amount
        return self.used

    def retry_after_s(self, now_ms: int) -> int:
        """Whole seconds until the current window ends."""
        return max(1, math.ceil((self.start_ms + self.length_ms - now_ms) / 1000))


class _Balance:
    __slots__ = ("free", "locked")

    def __init__(self, free: Decimal):
        self.free, self.locked = free, _ZERO


class _Account:
    """One API key's secret, balances and orders. Its default repr shows none of them."""

    __slots__ = ("uid", "secret", "balances", "orders_10s", "orders_1d", "by_client_id", "updated_ms")

    def __init__(self, uid: int, secret: str, balances: Mapping[str, Decimal]):
        self.uid = uid
        self.secret = secret
        self.balances = {asset: _Balance(Decimal(amount)) for asset, amount in balances.items()}
        self.orders_10s, self.orders_1d = _Window(_TEN_SECONDS_MS), _Window(_DAY_MS)
        self.by_client_id: dict[tuple[str, str], _Order] = {}  # (venue symbol, client order id) → latest order
        self.updated_ms = 0

    def balance(self, asset: str) -> _Balance:
        balance = self.balances.get(asset)
        if balance is None:
            balance = self.balances[asset] = _Balance(_ZERO)
        return balance


class _Order:
    """An order as the exchange keeps it; `locked` is what is still held in `lock_asset` for it."""

    __slots__ = ("order_id", "client_order_id", "account", "listing", "side", "order_type", "tif", "price", "qty",
                 "cum_qty", "cum_quote", "status", "created_ms", "updated_ms", "lock_asset", "locked")

    def __init__(self, order_id: int, client_order_id: str, account: _Account, listing: Listing, side: Side,
                 order_type: OrderType, tif: TimeInForce, price: int, qty: int, lock_asset: str, locked: Decimal,
                 now_ms: int):
        self.order_id, self.client_order_id, self.account, self.listing = order_id, client_order_id, account, listing
        self.side, self.order_type, self.tif, self.price, self.qty = side, order_type, tif, price, qty
        self.cum_qty, self.cum_quote, self.status = 0, _ZERO, "NEW"
        self.created_ms = self.updated_ms = now_ms
        self.lock_asset, self.locked = lock_asset, locked

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Callable[[dict[str, str], _Account | None, int], Any]
    weight: Callable[[dict[str, str]], int]
    signed: bool
    new_order: bool = False


class SimulatedBinance:
    """The exchange: `handle` answers requests, `on_book` feeds it the market; both read the clock `now_ns`."""

    def __init__(self, listings: Iterable[Listing], *, now_ns: Callable[[], int], maker_fee: Decimal,
                 taker_fee: Decimal, rate_limits: RateLimits = RateLimits(), venue: str = "binance"):
        self.listings = {listing.instrument.venue_symbol: listing for listing in listings}
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self.rate_limits = rate_limits
        self.venue = venue
        self._now_ns = now_ns
        self._matching = MatchingEngine({ls.instrument.symbol: ls.instrument for ls in self.listings.values()},
                                        maker_fee=maker_fee, taker_fee=taker_fee, venue=venue)
        self._accounts: dict[str, _Account] = {}
        self._orders: dict[int, _Order] = {}           # every order by order id
        self._open: dict[int, _Order] = {}             # orders working on the book
        self._trade_ids: dict[str, int] = {}           # venue symbol → last trade id
        self._last_order_id = 0
        self._last_generated_id = 0
        self._weight = _Window(_MINUTE_MS)
        self._routes = {
            ("GET", "/api/v3/ping"): _Route(lambda *_: {}, _weight(1), signed=False),
            ("GET", "/api/v3/time"): _Route(lambda _p, _a, now_ms: {"serverTime": now_ms}, _weight(1), signed=False),
            ("GET", "/api/v3/exchangeInfo"): _Route(self._exchange_info, _weight(20), signed=False),
            ("GET", "/api/v3/depth"): _Route(self._depth, _depth_weight, signed=False),
            ("POST", "/api/v3/order"): _Route(self._new_order, _weight(1), signed=True, new_order=True),
            ("DELETE", "/api/v3/order"): _Route(self._cancel_order, _weight(1), signed=True),
            ("GET", "/api/v3/order"): _Route(self._query_order, _weight(4), signed=True),
            ("GET", "/api/v3/openOrders"): _Route(self._open_orders, lambda p: 6 if p.get("symbol") else 80,
                                                  signed=True),
            ("GET", "/api/v3/account"): _Route(self._account, _weight(20), signed=True),
        }

    def __repr__(self) -> str:
        return (f"SimulatedBinance(venue={self.venue!r}, symbols={sorted(self.listings)}, "
                f"accounts={len(self._accounts)})")

    def open_account(self, api_key: str, secret: str, balances: Mapping[str, Decimal]) -> None:
        """Add an account with its starting balances (all free)."""
        if api_key in self._accounts:
            raise ValueError("an account with this API key exists already")
        self._accounts[api_key] = _Account(len(self._accounts) + 1, secret, balances)

    def on_book(self, view: BookView) -> None:
        """Take a new book view: resting orders it crosses fill as maker, and depth shows it from now on."""
        now_ms = self._now_ns() // _MS
        with localcontext(_EXACT):
            for report in self._matching.on_book(view):
                self._apply(self._orders[int(report.client_order_id)], report, now_ms)

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request exactly as Binance would."""
        route = self._routes.get((request.method, request.path))
        if route is None:
            return HttpResponse(404, (), b"")
        now_ms = self._now_ns() // _MS
        params = dict(parse_qsl(request.body, keep_blank_values=True))
        params.update(parse_qsl(request.query, keep_blank_values=True))  # the query string wins (§1.2)
        used = self._weight.add(now_ms, route.weight(params))
        headers = [("X-MBX-USED-WEIGHT-1M", str(used))]
        try:
            limit = self.rate_limits.request_weight_per_minute
            if used > limit:
                raise _Refusal(429, -1003, f"Too much request weight used; current limit is {limit} request weight "
                               "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
                               self._weight.retry_after_s(now_ms))
            account = self._authenticate(request, params, now_ms) if route.signed else None
            if route.new_order:
                headers += self._count_order(account, now_ms)
            with localcontext(_EXACT):
                payload = route.handler(params, account, now_ms)
            return HttpResponse(200, (_JSON, *headers), orjson.dumps(payload))
        except _Refusal as refusal:
            if refusal.retry_after_s is not None:
                headers.append(("Retry-After", str(refusal.retry_after_s)))
            return HttpResponse(refusal.status, (_JSON, *headers),
                                orjson.dumps({"code": refusal.code, "msg": refusal.msg}))

    # ------------------------------------------------------------ the door: keys, signatures, time, counts

    def _authenticate(self, request: HttpRequest, params: dict[str, str], now_ms: int) -> _Account:
        api_key = request.headers.get("x-mbx-apikey", "")
        if not api_key:
            raise _Refusal(401, -2014, "API-key format invalid.")
        account = self._accounts.get(api_key)
        if account is None:
            raise _Refusal(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query, query_signature = split_signature(request.query)
        body, body_signature = split_signature(request.body)
        signature = query_signature if query_signature is not None else body_signature
        if not signature:
            raise _Refusal(400, -1102, _mandatory("signature"))
        if not signature_matches(account.secret, signature_payload(query, body), signature):
            raise _Refusal(400, -1022, BAD_SIGNATURE)
        timestamp = Decimal(_integer(params, "timestamp"))
        if timestamp >= 10 ** 15:  # microseconds
            timestamp /= 1000
        recv_window = _decimal_param(params, "recvWindow", Decimal(5_000))
        if recv_window > _MAX_RECV_WINDOW_MS:
            raise _Refusal(400, -1131, f"recvWindow must be less than {_MAX_RECV_WINDOW_MS}")
        if timestamp >= now_ms + 1_000:
            raise _Refusal(400, -1021, AHEAD_OF_SERVER)
        if now_ms - timestamp > recv_window:
            raise _Refusal(400, -1021, OUTSIDE_RECV_WINDOW)
        return account

    def _count_order(self, account: _Account, now_ms: int) -> list[tuple[str, str]]:
        limits = self.rate_limits
        in_10s, in_day = account.orders_10s.add(now_ms, 1), account.orders_1d.add(now_ms, 1)
        for used, limit, window, interval in ((in_10s, limits.orders_per_10s, account.orders_10s, "10 SECOND"),
                                              (in_day, limits.orders_per_day, account.orders_1d, "1 DAY")):
            if used > limit:
                raise _Refusal(429, -1015, f"Too many new orders; current limit is {limit} orders per {interval}.",
                               window.retry_after_s(now_ms))
        return [("X-MBX-ORDER-COUNT-10S", str(in_10s)), ("X-MBX-ORDER-COUNT-1D", str(in_day))]

    # ------------------------------------------------------------ orders

    def _new_order(self, params: dict[str, str], account: _Account, now_ms: int) -> dict:
        listing = self._listing(params)
        instrument = listing.instrument
        side = _SIDES.get(_required(params, "side"))
        if side is None:
            raise _Refusal(400, -1117, "Invalid side.")
        type_name = _required(params, "type")
        if type_name not in _BINANCE_ORDER_TYPES:
            raise _Refusal(400, -1116, "Invalid orderType.")
        if type_name not in _SUPPORTED_ORDER_TYPES:
            raise _Refusal(400, -2010, "Order type not supported for this symbol.")
        if params.get("quoteOrderQty"):
            raise _Refusal(400, -1014, "Unsupported order combination.")
        order_type = OrderType(type_name)
        tif = self._time_in_force(params, order_type)
        qty = _amount(params, "quantity", instrument.qty_decimals)
        if order_type is OrderType.MARKET:
            if params.get("price"):
                raise _Refusal(400, -1106, "Parameter 'price' sent when not required.")
            price = 0
        else:
            price = _amount(params, "price", instrument.price_decimals)
        client_order_id = params.get("newClientOrderId") or self._generated_id()
        if not CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise _Refusal(400, -1100, ILLEGAL_CLIENT_ORDER_ID)
        response_type = params.get("newOrderRespType") or (
            "FULL" if order_type in (OrderType.LIMIT, OrderType.MARKET) else "ACK")
        if response_type not in _RESPONSE_TYPES:
            raise _Refusal(400, -1100, "Illegal characters found in parameter 'newOrderRespType'; "
                                       "legal range is 'ACK, RESULT, FULL'.")
        self._check_filters(listing, order_type, price, qty)
        existing = account.by_client_id.get((instrument.venue_symbol, client_order_id))
        if existing is not None and existing.is_open:
            raise _Refusal(400, -2010, DUPLICATE_ORDER)

        lock_asset, locked = self._funds_needed(instrument, side, order_type, price, qty)
        balance = account.balance(lock_asset)
        if locked > balance.free:
            raise _Refusal(400, -2010, INSUFFICIENT_BALANCE)
        balance.free -= locked
        balance.locked += locked
        self._last_order_id += 1
        order = _Order(self._last_order_id, client_order_id, account, listing, side, order_type, tif, price, qty,
                       lock_asset, locked, now_ms)
        reports = self._matching.submit(
            NewOrderRequest(client_order_id=str(order.order_id), venue=self.venue, instrument=instrument.symbol,
                            side=side, qty=qty, price=price, order_type=order_type, tif=tif, ts_ns=now_ms * _MS),
            now_ms * _MS)
        if reports[0].exec_type is ExecType.REJECTED:  # LIMIT_MAKER that would take: no order is left behind
            balance.locked -= locked
            balance.free += locked
            raise _Refusal(400, -2010, reports[0].reason)
        self._orders[order.order_id] = order
        account.by_client_id[(instrument.venue_symbol, client_order_id)] = order
        self._open[order.order_id] = order
        fills = [fill for fill in (self._apply(order, report, now_ms) for report in reports) if fill is not None]

        ack = {"symbol": instrument.venue_symbol, "orderId": order.order_id, "orderListId": -1,
               "clientOrderId": client_order_id, "transactTime": now_ms}
        if response_type == "ACK":
            return ack
        result = ack | _order_fields(order) | {"workingTime": order.created_ms, "selfTradePreventionMode": "NONE"}
        if response_type == "FULL":
            result["fills"] = fills
        return result

    def _cancel_order(self, params: dict[str, str], account: _Account, now_ms: int) -> dict:
        listing = self._listing(params)
        order = self._find_order(params, account, listing)
        if order is None or not order.is_open:
            raise _Refusal(400, -2011, UNKNOWN_ORDER)
        cancel_id = params.get("newClientOrderId") or self._generated_id()
        for report in self._matching.cancel(CancelRequest(str(order.order_id), self.venue, listing.instrument.symbol,
                                                          now_ms * _MS), now_ms * _MS):
            self._apply(order, report, now_ms)
        return {"symbol": listing.instrument.venue_symbol, "origClientOrderId": order.client_order_id,
                "orderId": order.order_id, "orderListId": -1, "clientOrderId": cancel_id, "transactTime": now_ms,
                **_order_fields(order), "selfTradePreventionMode": "NONE"}

    def _query_order(self, params: dict[str, str], account: _Account, now_ms: int) -> dict:
        listing = self._listing(params)
        order = self._find_order(params, account, listing)
        if order is None:
            raise _Refusal(400, -2013, NO_SUCH_ORDER)
        return _order_status(order)

    def _open_orders(self, params: dict[str, str], account: _Account, now_ms: int) -> list[dict]:
        listing = self._listing(params) if params.get("symbol") else None
        return [_order_status(order) for order in self._open.values()
                if order.account is account and (listing is None or order.listing is listing)]

    def _account(self, params: dict[str, str], account: _Account, now_ms: int) -> dict:
        omit_zero = params.get("omitZeroBalances") == "true"
        return {
            "makerCommission": int(self.maker_fee * 10_000), "takerCommission": int(self.taker_fee * 10_000),
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": _money(self.maker_fee), "taker": _money(self.taker_fee),
                                "buyer": _money(_ZERO), "seller": _money(_ZERO)},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": account.updated_ms,
            "accountType": "SPOT",
            "balances": [{"asset": asset, "free": _money(b.free), "locked": _money(b.locked)}
                         for asset, b in sorted(account.balances.items())
                         if not (omit_zero and b.free == 0 and b.locked == 0)],
            "permissions": ["SPOT"], "uid": account.uid,
        }

    # ------------------------------------------------------------ market data and metadata

    def _depth(self, params: dict[str, str], _account: None, now_ms: int) -> dict:
        """The book as the venue shows it: the latest view less what was taken from it, plus our resting orders."""
        listing = self._listing(params)
        instrument = listing.instrument
        limit = min(_integer(params, "limit", 100), 5_000)
        if limit < 1:
            raise _Refusal(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '1-5000'.")
        offered = self._matching.offered(instrument.symbol)
        sides: dict[Side, dict[int, int]] = {Side.BUY: {}, Side.SELL: {}}
        if offered is not None:
            sides[Side.BUY].update(offered.bids)
            sides[Side.SELL].update(offered.asks)
        for order in self._open.values():
            if order.listing is listing:
                ours = sides[order.side]
                ours[order.price] = ours.get(order.price, 0) + order.qty - order.cum_qty

        def levels(side: Side) -> list[list[str]]:
            best_first = sorted(sides[side].items(), reverse=side is Side.BUY)[:limit]
            return [[format_fixed(p, instrument.price_decimals), format_fixed(q, instrument.qty_decimals)]
                    for p, q in best_first]
        return {"lastUpdateId": offered.update_id if offered is not None else 0,
                "bids": levels(Side.BUY), "asks": levels(Side.SELL)}

    def _exchange_info(self, params: dict[str, str], _account: None, now_ms: int) -> dict:
        if params.get("symbol"):
            listings = [self._listing(params)]
        elif params.get("symbols"):
            try:
                names = orjson.loads(params["symbols"])
            except orjson.JSONDecodeError:
                raise _Refusal(400, -1100, "Illegal characters found in parameter 'symbols'.") from None
            if not isinstance(names, list) or not all(isinstance(n, str) and n in self.listings for n in names):
                raise _Refusal(400, -1121, INVALID_SYMBOL)
            listings = [self.listings[n] for n in names]
        else:
            listings = list(self.listings.values())
        limits = self.rate_limits
        return {
            "timezone": "UTC", "serverTime": now_ms,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits.request_weight_per_minute},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_per_10s},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": limits.orders_per_day},
            ],
            "exchangeFilters": [],
            "symbols": [_symbol_info(listing) for listing in listings],
        }

    # ------------------------------------------------------------ internals

    def _listing(self, params: dict[str, str]) -> Listing:
        symbol = _required(params, "symbol")
        listing = self.listings.get(symbol)
        if listing is None:
            raise _Refusal(400, -1121, INVALID_SYMBOL)
        return listing

    @staticmethod
    def _time_in_force(params: dict[str, str], order_type: OrderType) -> TimeInForce:
        if order_type is not OrderType.LIMIT:
            if params.get("timeInForce"):
                raise _Refusal(400, -1106, "Parameter 'timeInForce' sent when not required.")
            return TimeInForce.GTC
        try:
            return TimeInForce(_required(params, "timeInForce"))
        except ValueError:
            raise _Refusal(400, -1115, "Invalid timeInForce.") from None

    @staticmethod
    def _check_filters(listing: Listing, order_type: OrderType, price: int, qty: int) -> None:
        instrument = listing.instrument
        if order_type is not OrderType.MARKET and (
                price < instrument.tick_size or price % instrument.tick_size
                or instrument.price_decimal(price) > listing.max_price):
            raise _Refusal(400, -1013, PRICE_FILTER)
        if qty < instrument.lot_size or qty % instrument.lot_size or instrument.qty_decimal(qty) > listing.max_qty:
            raise _Refusal(400, -1013, LOT_SIZE)
        if order_type is not OrderType.MARKET and instrument.notional(price, qty) < listing.min_notional:
            raise _Refusal(400, -1013, NOTIONAL)

    def _funds_needed(self, instrument: Instrument, side: Side, order_type: OrderType, price: int,
                      qty: int) -> tuple[str, Decimal]:
        """The asset and amount an order locks: the quantity to sell, or the quote a buy may spend.

        A market buy may spend what walking the offered asks for its quantity costs (the matching engine
        takes exactly those levels; what the book cannot fill expires and costs nothing).
        """
        if side is Side.SELL:
            return instrument.base, instrument.qty_decimal(qty)
        if order_type is not OrderType.MARKET:
            return instrument.quote, instrument.notional(price, qty)
        offered = self._matching.offered(instrument.symbol)
        cost, remaining = _ZERO, qty
        for level_price, level_qty in offered.asks if offered is not None else ():
            take = min(level_qty, remaining)
            cost += instrument.notional(level_price, take)
            remaining -= take
            if remaining == 0:
                break
        return instrument.quote, cost

    def _apply(self, order: _Order, report: ExecutionReport, now_ms: int) -> dict | None:
        """Move an order and its account's balances by one matching report; a fill's `fills[]` entry."""
        order.updated_ms = order.account.updated_ms = now_ms
        if report.exec_type is ExecType.TRADE:
            return self._fill(order, report)
        if report.exec_type in (ExecType.EXPIRED, ExecType.CANCELED):
            self._close(order, report.exec_type.value)
        return None

    def _close(self, order: _Order, status: str) -> None:
        """End an order's work: off the book, and whatever it still holds back is free again."""
        order.status = status
        del self._open[order.order_id]
        balance = order.account.balance(order.lock_asset)
        balance.locked -= order.locked
        balance.free += order.locked
        order.locked = _ZERO

    def _fill(self, order: _Order, report: ExecutionReport) -> dict:
        instrument = order.listing.instrument
        qty, price = report.last_qty, report.last_price
        base_qty, quote_qty = instrument.qty_decimal(qty), instrument.notional(price, qty)
        rate = self.maker_fee if report.liquidity is Liquidity.MAKER else self.taker_fee
        account = order.account
        base, quote = account.balance(instrument.base), account.balance(instrument.quote)
        if order.side is Side.BUY:
            # a limit buy locked its limit price; a fill at a better price gives the difference back
            release = quote_qty if order.order_type is OrderType.MARKET else instrument.notional(order.price, qty)
            commission, commission_asset = _commission(rate * base_qty), instrument.base
            quote.locked -= release
            quote.free += release - quote_qty
            base.free += base_qty - commission
        else:
            release = base_qty
            commission, commission_asset = _commission(rate * quote_qty), instrument.quote
            base.locked -= release
            quote.free += quote_qty - commission
        order.locked -= release
        order.cum_qty = report.cum_qty
        order.cum_quote += quote_qty
        if order.cum_qty == order.qty:
            self._close(order, "FILLED")
        else:
            order.status = "PARTIALLY_FILLED"
        trade_id = self._trade_ids[instrument.venue_symbol] = self._trade_ids.get(instrument.venue_symbol, 0) + 1
        return {"price": format_fixed(price, instrument.price_decimals),
                "qty": format_fixed(qty, instrument.qty_decimals),
                "commission": _money(commission), "commissionAsset": commission_asset, "tradeId": trade_id}

    def _find_order(self, params: dict[str, str], account: _Account, listing: Listing) -> _Order | None:
        """By `orderId` first, then checked against `origClientOrderId` if both are sent (as Binance does)."""
        client_order_id = params.get("origClientOrderId")
        if params.get("orderId"):
            order = self._orders.get(_integer(params, "orderId"))
            if order is not None and client_order_id and order.client_order_id != client_order_id:
                return None
        elif client_order_id:
            order = account.by_client_id.get((listing.instrument.venue_symbol, client_order_id))
        else:
            raise _Refusal(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.account is not account or order.listing is not listing:
            return None
        return order

    def _generated_id(self) -> str:
        """A client order id for a request that sent none (Binance makes a random one; ours count up)."""
        self._last_generated_id += 1
        return f"sim-{self._last_generated_id}"


# ---------------------------------------------------------------- response shapes

def _order_fields(order: _Order) -> dict:
    instrument = order.listing.instrument
    return {"price": format_fixed(order.price, instrument.price_decimals),
            "origQty": format_fixed(order.qty, instrument.qty_decimals),
            "executedQty": format_fixed(order.cum_qty, instrument.qty_decimals),
            "origQuoteOrderQty": _money(_ZERO), "cummulativeQuoteQty": _money(order.cum_quote),
            "status": order.status, "timeInForce": order.tif.value, "type": order.order_type.value,
            "side": _SIDE_NAMES[order.side]}


def _order_status(order: _Order) -> dict:
    """`GET /api/v3/order`'s shape."""
    instrument = order.listing.instrument
    fields = _order_fields(order)
    quote_order_qty = fields.pop("origQuoteOrderQty")
    return {"symbol": instrument.venue_symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id, **fields,
            "stopPrice": format_fixed(0, instrument.price_decimals),
            "icebergQty": format_fixed(0, instrument.qty_decimals), "time": order.created_ms,
            "updateTime": order.updated_ms, "isWorking": True, "workingTime": order.created_ms,
            "origQuoteOrderQty": quote_order_qty, "selfTradePreventionMode": "NONE"}


def _symbol_info(listing: Listing) -> dict:
    instrument = listing.instrument
    price, qty = instrument.price_decimals, instrument.qty_decimals
    return {
        "symbol": instrument.venue_symbol, "status": "TRADING",
        "baseAsset": instrument.base, "baseAssetPrecision": ASSET_PRECISION,
        "quoteAsset": instrument.quote, "quotePrecision": ASSET_PRECISION, "quoteAssetPrecision": ASSET_PRECISION,
        "baseCommissionPrecision": ASSET_PRECISION, "quoteCommissionPrecision": ASSET_PRECISION,
        "orderTypes": list(_SUPPORTED_ORDER_TYPES),
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False, "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": False, "cancelReplaceAllowed": False, "amendAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": format_fixed(instrument.tick_size, price),
             "maxPrice": _fixed_text(listing.max_price, price), "tickSize": format_fixed(instrument.tick_size, price)},
            {"filterType": "LOT_SIZE", "minQty": format_fixed(instrument.lot_size, qty),
             "maxQty": _fixed_text(listing.max_qty, qty), "stepSize": format_fixed(instrument.lot_size, qty)},
            {"filterType": "NOTIONAL", "minNotional": _money(listing.min_notional), "applyMinToMarket": False,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE", "allowedSelfTradePreventionModes": ["NONE"],
    }


# ---------------------------------------------------------------- parameters and numbers

def _weight(weight: int) -> Callable[[dict[str, str]], int]:
    return lambda _params: weight


def _depth_weight(params: dict[str, str]) -> int:
    """5, 25, 50 or 250 by the requested `limit` (venues.md §1.2)."""
    text = params.get("limit", "100")
    limit = int(text) if text.isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1_000 else 250


def _mandatory(name: str) -> str:
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


def _required(params: dict[str, str], name: str) -> str:
    text = params.get(name)
    if not text:
        raise _Refusal(400, -1102, _mandatory(name))
    return text


def _integer(params: dict[str, str], name: str, default: int | None = None) -> int:
    if default is not None and not params.get(name):
        return default
    text = _required(params, name)
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise _Refusal(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(text)


def _decimal_param(params: dict[str, str], name: str, default: Decimal) -> Decimal:
    text = params.get(name)
    if not text:
        return default
    if not _NUMBER.fullmatch(text):
        raise _Refusal(400, -1100, f"Illegal characters found in parameter '{name}'; "
                                   "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    return Decimal(text)


def _amount(params: dict[str, str], name: str, decimals: int) -> int:
    """A price or quantity parameter as the instrument's exact integer."""
    text = _required(params, name)
    if not _NUMBER.fullmatch(text):
        raise _Refusal(400, -1100, f"Illegal characters found in parameter '{name}'; "
                                   "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    try:
        return parse_fixed(text, decimals)
    except NumberFormatError:
        raise _Refusal(400, -1111, "Precision is over the maximum defined for this asset.") from None


def _commission(amount: Decimal) -> Decimal:
    return amount.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=Context(prec=100))


def _money(amount: Decimal) -> str:
    """An asset amount on the wire: exactly 8 decimals."""
    return format(amount.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=Context(prec=100)), "f")


def _fixed_text(amount: Decimal, decimals: int) -> str:
    return format(amount.quantize(Decimal(1).scaleb(-decimals), context=Context(prec=100)), "f")
