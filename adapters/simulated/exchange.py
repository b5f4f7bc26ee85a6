"""A simulated Binance spot exchange, sans-IO: an HTTP request in, Binance's HTTP response out.

It exists so that the engine's Binance adapter, and any standard Binance client, can trade against a
counterparty that behaves and fails like the real one, with nothing but pure code behind the socket
(`adapters.simulated.server` serves it over loopback). It speaks the REST API of venues.md §1.2:

- accounts (API key → secret, balances), HMAC signatures checked over query string + body (-1022),
  `timestamp` checked against `recvWindow` on the injected clock (-1021), keys checked (-2014, -2015);
- request weight counted in one fixed one-minute window for the whole venue (it sees one IP, loopback),
  reported on every response as `X-MBX-USED-WEIGHT-1M`; past the limit, HTTP 429 with `Retry-After` and
  -1003. New orders are counted per account in 10-second and 1-day windows (`X-MBX-ORDER-COUNT-*`, -1015);
- orders (LIMIT, MARKET, LIMIT_MAKER; GTC, IOC, FOK; the stops and take-profits STOP_LOSS, STOP_LOSS_LIMIT,
  TAKE_PROFIT, TAKE_PROFIT_LIMIT with `stopPrice` or `trailingDelta`, read by `adapters.simulated.contingent`, which
  wait off the book until the matching engine triggers them) validated as Binance does (parameters, then the
  PRICE_FILTER, LOT_SIZE and NOTIONAL filters, -1013), funds checked and locked (-2010 "Account has
  insufficient balance for requested action."), open client order ids unique per account and symbol
  (-2010 "Duplicate order sent."), then matched by `MatchingEngine` against the book views it is fed;
- OCO order lists (`POST /api/v3/orderList/oco`, above and below legs; both placed or neither, the funds held once;
  once one leg triggers or trades the other expires) and their cancel (`DELETE /api/v3/orderList`; cancelling one
  leg with `DELETE /api/v3/order` cancels the list, as on Binance), with `listStatus` events on the user stream;
- query (-2013), cancel (-2011), cancel all of a symbol (-2011 when none is open), open orders, account,
  depth, exchangeInfo, time and ping;
- what reconciliation asks after a crash: every order of the account (allOrders) and every fill (myTrades,
  under the trade ids the fills printed with), selected and paged as Binance does (-1127, -1128).

It also publishes what Binance's streams would carry, as `VenueEvent`s to whoever `listen`s (the server's
streams): per account, an `executionReport` for every change of an order and an `outboundAccountPosition`
after each operation that moved balances; per symbol, every public trade (the market's and our fills) and
every change of the book it shows. That book (the latest view less what our orders took, plus our resting
orders) has update ids of its own, one per change, so that depth snapshots and diffs chain as Binance's do.

Responses are Binance's JSON shapes and status enums (NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED,
EXPIRED_IN_MATCH; a refused order is an HTTP 400 with -2010 and leaves no order behind, as on Binance),
with `fills[]` in FULL responses. Self-trade prevention (EXPIRE_MAKER by default, EXPIRE_TAKER, EXPIRE_BOTH)
expires an account's order that would meet its own resting order on the other side, as Binance does.
Commission is charged in the asset received (base on a buy, quote on a sell), as Binance does without BNB,
rounded to the asset's 8 decimals. Prices and quantities are the instruments' exact
integers; balances and money are Decimal. Time comes only from the injected `now_ns` clock. What the
exchange keeps is in `adapters.simulated.exchange_records`; how Binance shows it, in `adapters.simulated.responses`.

Not here yet: `quoteOrderQty` market orders and other order types (refused with -1014 / -2010), order lists
other than OCO, a stop with both `stopPrice` and `trailingDelta` (-1014), self-trade prevention for the legs of a
stop (they are off the book until triggered), the NEW report Binance may send again when a stop triggers, the
STP modes NONE, DECREMENT and TRANSFER (refused with -1013: our orders never trade with each other, since they are
not in the book the market shows), and the 418 IP ban.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, localcontext
from typing import Any

import orjson

from adapters.binance.signing import (
    signature_matches,
    signature_payload,
    split_signature,
)
from adapters.simulated.matching import (
    DUPLICATE_ORDER,
    ILLEGAL_CLIENT_ORDER_ID,
    INVALID_SYMBOL,
    LOT_SIZE,
    PRICE_FILTER,
    UNKNOWN_ORDER,
    WOULD_TAKE,
    WOULD_TRIGGER,
    MatchingEngine,
)
from adapters.simulated.contingent import (
    BAD_OCO_PRICES,
    CONTINGENT,
    MARKET_FORMS,
    OrderTerms,
    check_oco_prices,
    oco_leg,
    oco_types,
    order_terms,
    time_in_force,
)
from adapters.simulated.queue import QueueModel
from adapters.simulated.exchange_records import Account, Listing, Order, OrderList, Prevented, Trade
from adapters.simulated.rate_limits import RateLimits, Window
from adapters.simulated.requests import (
    HttpRequest,
    HttpResponse,
    Refusal,
    amount_param,
    decimal_param,
    depth_weight,
    fixed_weight,
    history_query,
    integer_param,
    mandatory,
    parameters,
    required,
    time_param,
    ws_text,
)
from adapters.simulated.responses import (
    DEFAULT_STP_MODE,
    STP_MODES,
    SUPPORTED_ORDER_TYPES,
    account_info,
    account_position,
    account_trade,
    asset_amount,
    cancel_response,
    execution_report,
    full_fill,
    list_status,
    order_list_response,
    order_status,
    placed_order,
    symbol_info,
    wire_levels,
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
from engine.model.numbers import EXACT, Instrument, format_fixed
from engine.model.orders import CLIENT_ORDER_ID

USER = "user"
"""The `stream` of a user data event (an account's execution reports and balances)."""

INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
NOTIONAL = "Filter failure: NOTIONAL"
NO_SUCH_ORDER = "Order does not exist."
BAD_SIGNATURE = "Signature for this request is not valid."
OUTSIDE_RECV_WINDOW = "Timestamp for this request is outside of the recvWindow."
AHEAD_OF_SERVER = "Timestamp for this request was 1000ms ahead of the server's time."

_MS = 1_000_000
_MINUTE_MS = 60_000
_MAX_RECV_WINDOW_MS = 60_000
_ZERO = Decimal(0)
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_BINANCE_ORDER_TYPES = {"LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT",
                        "LIMIT_MAKER"}
_RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
_ENDS_A_LIST = (ExecType.TRADE, ExecType.EXPIRED, ExecType.CANCELED)
_TRADE_FILTERS = ("orderId", "startTime", "endTime", "fromId")
_TRADE_QUERIES = frozenset(map(frozenset, [(), ("orderId",), ("startTime",), ("endTime",), ("fromId",),
                                           ("startTime", "endTime"), ("orderId", "fromId")]))
"""The combinations of myTrades' optional filters Binance supports (rest-api.md, "Account trade list")."""
_JSON = ("Content-Type", "application/json;charset=UTF-8")


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """Something the venue publishes, in Binance's shape: on a market stream, or to one account.

    `stream` is "<symbol>@trade", "<symbol>@bookTicker", "<symbol>@depth" (one change of the book, which the
    streams batch into Binance's diff windows), or `USER` with the account's `api_key`.
    """
    stream: str
    payload: dict
    api_key: str = field(default="", repr=False)


class _ShownBook:
    """The book a symbol shows the public, with the venue's own update id (one per change)."""

    __slots__ = ("update_id", "bids", "asks")

    def __init__(self) -> None:
        self.update_id = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    def top(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        if not self.bids or not self.asks:
            return None
        bid, ask = max(self.bids), min(self.asks)
        return (bid, self.bids[bid]), (ask, self.asks[ask])


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Callable[[dict[str, str], Account | None, int], Any]
    weight: Callable[[dict[str, str]], int]
    signed: bool
    new_orders: int = 0     # what it adds to the account's unfilled order count


class SimulatedBinance:
    """The exchange: `handle` answers requests, `on_book` feeds it the market; both read the clock `now_ns`."""

    def __init__(self, listings: Iterable[Listing], *, now_ns: Callable[[], int], maker_fee: Decimal,
                 taker_fee: Decimal, rate_limits: RateLimits = RateLimits(), venue: str = "binance",
                 queue: QueueModel | None = None):
        self.listings = {listing.instrument.venue_symbol: listing for listing in listings}
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self.rate_limits = rate_limits
        self.venue = venue
        self._now_ns = now_ns
        self._matching = MatchingEngine({ls.instrument.symbol: ls.instrument for ls in self.listings.values()},
                                        maker_fee=maker_fee, taker_fee=taker_fee, venue=venue, queue=queue)
        self._by_symbol = {ls.instrument.symbol: ls for ls in self.listings.values()}
        self._shown = {symbol: _ShownBook() for symbol in self.listings}  # venue symbol → its public book
        self._listeners: list[Callable[[VenueEvent], None]] = []
        self._changed: set[str] = set()                # venue symbols whose shown book may have changed
        self._moved: dict[Account, set[str]] = {}     # accounts whose balances moved → the assets
        self._last_execution_id = 0
        self._prevented_ids: dict[str, int] = {}      # venue symbol → last prevented match id
        self._accounts: dict[str, Account] = {}
        self._orders: dict[int, Order] = {}            # every order by order id
        self._open: dict[int, Order] = {}              # orders working on the book
        self._trade_ids: dict[str, int] = {}           # venue symbol → last trade id
        self._last_order_id = 0
        self._lists: dict[int, OrderList] = {}         # every OCO list by order list id
        self._last_list_id = 0
        self._last_generated_id = 0
        self._weight = Window(_MINUTE_MS)
        self._routes = {
            ("GET", "/api/v3/ping"): _Route(lambda *_: {}, fixed_weight(1), signed=False),
            ("GET", "/api/v3/time"): _Route(lambda _p, _a, now_ms: {"serverTime": now_ms}, fixed_weight(1), signed=False),
            ("GET", "/api/v3/exchangeInfo"): _Route(self._exchange_info, fixed_weight(20), signed=False),
            ("GET", "/api/v3/depth"): _Route(self._depth, depth_weight, signed=False),
            ("POST", "/api/v3/order"): _Route(self._new_order, fixed_weight(1), signed=True, new_orders=1),
            ("POST", "/api/v3/orderList/oco"): _Route(self._new_oco, fixed_weight(1), signed=True, new_orders=2),
            ("DELETE", "/api/v3/orderList"): _Route(self._cancel_order_list, fixed_weight(1), signed=True),
            ("DELETE", "/api/v3/order"): _Route(self._cancel_order, fixed_weight(1), signed=True),
            ("GET", "/api/v3/order"): _Route(self._query_order, fixed_weight(4), signed=True),
            ("GET", "/api/v3/openOrders"): _Route(self._open_orders, lambda p: 6 if p.get("symbol") else 80,
                                                  signed=True),
            ("GET", "/api/v3/account"): _Route(self._account, fixed_weight(20), signed=True),
            ("GET", "/api/v3/allOrders"): _Route(self._all_orders, fixed_weight(20), signed=True),
            ("GET", "/api/v3/myTrades"): _Route(self._my_trades, lambda p: 5 if p.get("orderId") else 20,
                                                signed=True),
            ("DELETE", "/api/v3/openOrders"): _Route(self._cancel_open_orders, fixed_weight(1), signed=True),
        }

    def __repr__(self) -> str:
        return (f"SimulatedBinance(venue={self.venue!r}, symbols={sorted(self.listings)}, "
                f"accounts={len(self._accounts)})")

    def open_account(self, api_key: str, secret: str, balances: Mapping[str, Decimal]) -> None:
        """Add an account with its starting balances (all free)."""
        if api_key in self._accounts:
            raise ValueError("an account with this API key exists already")
        self._accounts[api_key] = Account(len(self._accounts) + 1, api_key, secret, balances)

    def now_ms(self) -> int:
        """The venue's clock, in Binance's milliseconds."""
        return self._now_ns() // _MS

    def listen(self, listener: Callable[[VenueEvent], None]) -> None:
        """Call `listener` with every event the venue publishes from now on (synchronously, in order)."""
        self._listeners.append(listener)

    def on_book(self, view: BookView) -> None:
        """Take a new book view: its trades print, resting orders it reaches fill as maker, depth shows it."""
        now_ms = self._now_ns() // _MS
        listing = self._by_symbol.get(view.instrument)
        if listing is None:
            return
        for trade in view.trades:
            self._print(listing, trade.price, trade.qty, trade.aggressor is Side.SELL, now_ms)
        with localcontext(EXACT):
            reports = self._matching.on_book(view)
            for order in self._open.values():   # a triggered stop works from now on (its limit form on the book)
                if order.waiting and order.listing is listing:
                    order.waiting = self._matching.is_waiting(str(order.order_id))
            for report in reports:
                self._apply(self._orders[int(report.client_order_id)], report, now_ms)
        self._changed.add(listing.instrument.venue_symbol)
        self._publish(now_ms)

    def refuse(self, request: HttpRequest, status: int, code: int, msg: str,
               retry_after_s: int | None = None) -> HttpResponse:
        """Answer `request` with a Binance error without carrying it out; its weight counts as usual."""
        route = self._routes.get((request.method, request.path))
        now_ms = self._now_ns() // _MS
        used = self._weight.add(now_ms, route.weight(parameters(request)) if route else 1)
        headers = [_JSON, ("X-MBX-USED-WEIGHT-1M", str(used))]
        if retry_after_s is not None:
            headers.append(("Retry-After", str(retry_after_s)))
        return HttpResponse(status, tuple(headers), orjson.dumps({"code": code, "msg": msg}))

    def count_weight(self, weight: int) -> int:
        """Count a WebSocket API request's weight in the same window as REST's (Binance's limit is per IP, and
        the venue sees one); the weight used in the current minute."""
        return self._weight.add(self._now_ns() // _MS, weight)

    def user_stream_key(self, params: Mapping[str, object]) -> str:
        """The API key of a signed WebSocket API request (`userDataStream.subscribe.signature`).

        The signature is over every parameter but itself, sorted by name, as `k=v&...`. Raises `Refusal`
        as the REST door would: -2014/-2015 for the key, -1022 for the signature, -1021 for the time.
        """
        text = {name: ws_text(value) for name, value in params.items()}
        account = self._accounts.get(text.get("apiKey", ""))
        if not text.get("apiKey"):
            raise Refusal(401, -2014, "API-key format invalid.")
        if account is None:
            raise Refusal(401, -2015, "Invalid API-key, IP, or permissions for action.")
        signature = text.pop("signature", "")
        if not signature:
            raise Refusal(400, -1102, mandatory("signature"))
        payload = "&".join(f"{name}={value}" for name, value in sorted(text.items()))
        if not signature_matches(account.secret, payload, signature):
            raise Refusal(400, -1022, BAD_SIGNATURE)
        self._check_time(text, self._now_ns() // _MS)
        return account.api_key

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one request exactly as Binance would."""
        route = self._routes.get((request.method, request.path))
        if route is None:
            return HttpResponse(404, (), b"")
        now_ms = self._now_ns() // _MS
        params = parameters(request)
        used = self._weight.add(now_ms, route.weight(params))
        headers = [("X-MBX-USED-WEIGHT-1M", str(used))]
        try:
            if used > self.rate_limits.request_weight_per_minute:
                raise Refusal(429, -1003, too_much_weight(self.rate_limits), self._weight.retry_after_s(now_ms))
            account = self._authenticate(request, params, now_ms) if route.signed else None
            if route.new_orders:
                headers += self._count_order(account, now_ms, route.new_orders)
            with localcontext(EXACT):
                payload = route.handler(params, account, now_ms)
            return HttpResponse(200, (_JSON, *headers), orjson.dumps(payload))
        except Refusal as refusal:
            if refusal.retry_after_s is not None:
                headers.append(("Retry-After", str(refusal.retry_after_s)))
            return HttpResponse(refusal.status, (_JSON, *headers),
                                orjson.dumps({"code": refusal.code, "msg": refusal.msg}))
        finally:
            self._publish(now_ms)

    # ------------------------------------------------------------ the door: keys, signatures, time, counts

    def _authenticate(self, request: HttpRequest, params: dict[str, str], now_ms: int) -> Account:
        api_key = request.headers.get("x-mbx-apikey", "")
        if not api_key:
            raise Refusal(401, -2014, "API-key format invalid.")
        account = self._accounts.get(api_key)
        if account is None:
            raise Refusal(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query, query_signature = split_signature(request.query)
        body, body_signature = split_signature(request.body)
        signature = query_signature if query_signature is not None else body_signature
        if not signature:
            raise Refusal(400, -1102, mandatory("signature"))
        if not signature_matches(account.secret, signature_payload(query, body), signature):
            raise Refusal(400, -1022, BAD_SIGNATURE)
        self._check_time(params, now_ms)
        return account

    @staticmethod
    def _check_time(params: Mapping[str, str], now_ms: int) -> None:
        """`timestamp` (ms or µs) must be less than 1 s ahead of the venue and within `recvWindow` behind."""
        required(params, "timestamp")
        timestamp = time_param(params, "timestamp")
        recv_window = decimal_param(params, "recvWindow", Decimal(5_000))
        if recv_window > _MAX_RECV_WINDOW_MS:
            raise Refusal(400, -1131, f"recvWindow must be less than {_MAX_RECV_WINDOW_MS}")
        if timestamp >= now_ms + 1_000:
            raise Refusal(400, -1021, AHEAD_OF_SERVER)
        if now_ms - timestamp > recv_window:
            raise Refusal(400, -1021, OUTSIDE_RECV_WINDOW)

    def _count_order(self, account: Account, now_ms: int, orders: int) -> list[tuple[str, str]]:
        limits = self.rate_limits
        in_10s, in_day = account.orders_10s.add(now_ms, orders), account.orders_1d.add(now_ms, orders)
        for used, limit, window, interval in ((in_10s, limits.orders_per_10s, account.orders_10s, "10 SECOND"),
                                              (in_day, limits.orders_per_day, account.orders_1d, "1 DAY")):
            if used > limit:
                raise Refusal(429, -1015, f"Too many new orders; current limit is {limit} orders per {interval}.",
                              window.retry_after_s(now_ms))
        return [("X-MBX-ORDER-COUNT-10S", str(in_10s)), ("X-MBX-ORDER-COUNT-1D", str(in_day))]

    # ------------------------------------------------------------ orders

    def _new_order(self, params: dict[str, str], account: Account, now_ms: int) -> dict:
        listing = self._listing(params)
        instrument = listing.instrument
        side = _side(params)
        type_name = required(params, "type")
        if type_name not in _BINANCE_ORDER_TYPES:
            raise Refusal(400, -1116, "Invalid orderType.")
        if type_name not in SUPPORTED_ORDER_TYPES:
            raise Refusal(400, -2010, "Order type not supported for this symbol.")
        if params.get("quoteOrderQty"):
            raise Refusal(400, -1014, "Unsupported order combination.")
        order_type = OrderType(type_name)
        tif = time_in_force(params, order_type)
        qty = amount_param(params, "quantity", instrument.qty_decimals)
        terms = order_terms(params, order_type, tif, instrument)
        client_order_id = self._client_id(params, "newClientOrderId")
        response_type = _response_type(params, "FULL" if order_type in (OrderType.LIMIT, OrderType.MARKET) else "ACK")
        stp = _stp(params)
        self._check_filters(listing, terms, qty)
        self._check_unique(account, instrument, client_order_id)
        own = [] if order_type in CONTINGENT else self._own_crossed(account, listing, side, order_type, terms.price,
                                                                     qty)
        if own and order_type is OrderType.LIMIT_MAKER:
            raise Refusal(400, -2010, WOULD_TAKE)

        lock_asset, locked = self._funds_needed(instrument, side, terms, qty)
        self._lock(account, lock_asset, locked)
        order = self._new_record(account, listing, side, terms, qty, client_order_id, lock_asset, locked, now_ms, stp)
        request = self._request(order)
        expire_taker = bool(own) and stp in ("EXPIRE_TAKER", "EXPIRE_BOTH")
        if expire_taker:
            # it may take only what is better than its own order's price, then its remainder expires
            tick = instrument.tick_size
            cap = own[0].price - tick if side is Side.BUY else own[0].price + tick
            request = replace(request, order_type=OrderType.LIMIT, price=max(cap, tick),
                              tif=TimeInForce.FOK if tif is TimeInForce.FOK else TimeInForce.IOC)
        reports = self._matching.submit(request, now_ms * _MS)
        if reports[0].exec_type is ExecType.REJECTED:  # would take, or trigger at once: no order is left behind
            self._unlock(account, lock_asset, locked)
            raise Refusal(400, -2010, reports[0].reason)
        self._keep(order)
        self._apply(order, reports[0], now_ms)
        prevented = []
        if own and stp in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
            for maker in own:
                prevented.append(self._prevent(maker, order, now_ms) | {"makerOrderId": maker.order_id})
        if expire_taker:
            order.prevented = Prevented(self._next_prevented_id(instrument), own[0].order_id)
        fills = [full_fill(trade) for trade in (self._apply(order, report, now_ms) for report in reports[1:])
                 if trade is not None]
        if expire_taker:
            prevented.insert(0, {"preventedMatchId": order.prevented.match_id, "makerOrderId": own[0].order_id,
                                 "price": format_fixed(own[0].price, instrument.price_decimals),
                                 "takerPreventedQuantity": format_fixed(order.qty - order.cum_qty,
                                                                        instrument.qty_decimals)})

        ack = {"symbol": instrument.venue_symbol, "orderId": order.order_id, "orderListId": -1,
               "clientOrderId": client_order_id, "transactTime": now_ms}
        if response_type == "ACK":
            return ack
        result = placed_order(order, now_ms)
        if response_type == "FULL":
            result["fills"] = fills
        if prevented:
            result["preventedMatches"] = prevented
        return result

    def _new_oco(self, params: dict[str, str], account: Account, now_ms: int) -> dict:
        """An OCO list (`POST /api/v3/orderList/oco`): both legs placed or neither, its funds held once for both;
        once one leg triggers or trades, the venue expires the other and the list is ALL_DONE."""
        listing = self._listing(params)
        instrument = listing.instrument
        side = _side(params)
        qty = amount_param(params, "quantity", instrument.qty_decimals)
        above_type, below_type = oco_types(params, side)
        above = oco_leg(params, "above", above_type, instrument)
        below = oco_leg(params, "below", below_type, instrument)
        check_oco_prices(above, below)
        list_client_id = self._client_id(params, "listClientOrderId")
        if any(ol.list_client_order_id == list_client_id and not ol.done for ol in account.order_lists):
            raise Refusal(400, -2010, DUPLICATE_ORDER)
        legs = [(below, self._client_id(params, "belowClientOrderId")),
                (above, self._client_id(params, "aboveClientOrderId"))]
        response_type = _response_type(params, "FULL")
        stp = _stp(params)
        for terms, client_order_id in legs:
            self._check_filters(listing, terms, qty)
            self._check_unique(account, instrument, client_order_id)
        if legs[0][1] == legs[1][1]:
            raise Refusal(400, -2010, DUPLICATE_ORDER)
        needs = [self._funds_needed(instrument, side, terms, qty) for terms, _ in legs]
        lock_asset, locked = needs[0][0], max(amount for _, amount in needs)
        self._lock(account, lock_asset, locked)
        self._last_list_id += 1
        order_list = OrderList(self._last_list_id, list_client_id, now_ms)
        orders = [self._new_record(account, listing, side, terms, qty, client_order_id, lock_asset,
                                   locked if i == 0 else _ZERO, now_ms, stp, order_list)
                  for i, (terms, client_order_id) in enumerate(legs)]
        for order in orders:
            reason = self._matching.check(self._request(order))
            if reason:
                self._unlock(account, lock_asset, locked)
                raise Refusal(400, -2010, BAD_OCO_PRICES if reason in (WOULD_TAKE, WOULD_TRIGGER) else reason)
        order_list.legs = orders
        account.order_lists.append(order_list)
        self._lists[order_list.list_id] = order_list
        for order in orders:
            self._keep(order)
            for report in self._matching.submit(self._request(order), now_ms * _MS):
                self._apply(order, report, now_ms)
        self._emit(VenueEvent(USER, list_status(order_list, now_ms), account.api_key))
        reports = None if response_type == "ACK" else [
            placed_order(order, now_ms) | ({"fills": []} if response_type == "FULL" else {}) for order in orders]
        return order_list_response(order_list, now_ms, reports)

    def _cancel_order_list(self, params: dict[str, str], account: Account, now_ms: int) -> dict:
        """Cancel a whole OCO list (`DELETE /api/v3/orderList`), by `orderListId` or `listClientOrderId`."""
        listing = self._listing(params)
        list_client_id = params.get("listClientOrderId")
        if params.get("orderListId"):
            order_list = self._lists.get(integer_param(params, "orderListId"))
            if order_list is not None and list_client_id and order_list.list_client_order_id != list_client_id:
                order_list = None
        elif list_client_id:
            order_list = next((ol for ol in reversed(account.order_lists)
                               if ol.list_client_order_id == list_client_id), None)
        else:
            raise Refusal(400, -1102, "Param 'orderListId' or 'listClientOrderId' must be sent, but both were "
                                      "empty/null!")
        if order_list is None or order_list.done or order_list.legs[0].account is not account \
                or order_list.legs[0].listing is not listing:
            raise Refusal(400, -2011, UNKNOWN_ORDER)
        return self._cancel_list(order_list, params.get("newClientOrderId") or self._generated_id(), now_ms)

    def _cancel_list(self, order_list: OrderList, cancel_id: str, now_ms: int) -> dict:
        reports = [self._cancel(leg, cancel_id, now_ms) if leg.is_open else cancel_response(leg, cancel_id, now_ms)
                   for leg in order_list.legs]
        return order_list_response(order_list, now_ms, reports)

    def _new_record(self, account: Account, listing: Listing, side: Side, terms: OrderTerms, qty: int,
                    client_order_id: str, lock_asset: str, locked: Decimal, now_ms: int, stp: str,
                    order_list: OrderList | None = None) -> Order:
        self._last_order_id += 1
        order = Order(self._last_order_id, client_order_id, account, listing, side, terms.order_type, terms.tif,
                      terms.price, qty, lock_asset, locked, now_ms, stp, terms.stop_price, terms.trailing_delta,
                      order_list)
        order.waiting = terms.order_type in CONTINGENT
        return order

    def _request(self, order: Order) -> NewOrderRequest:
        """The order as the matching engine takes it (by its venue order id)."""
        return NewOrderRequest(client_order_id=str(order.order_id), venue=self.venue,
                               instrument=order.listing.instrument.symbol, side=order.side, qty=order.qty,
                               price=order.price, order_type=order.order_type, tif=order.tif,
                               ts_ns=order.created_ms * _MS, stop_price=order.stop_price,
                               trailing_bps=order.trailing_delta,
                               list_id=f"L{order.order_list.list_id}" if order.order_list else "")

    def _keep(self, order: Order) -> None:
        """File a placed order where queries, cancels and the book find it."""
        account, symbol = order.account, order.listing.instrument.venue_symbol
        self._orders[order.order_id] = order
        account.by_client_id[(symbol, order.client_order_id)] = order
        account.orders.setdefault(symbol, []).append(order)
        self._open[order.order_id] = order

    def _client_id(self, params: dict[str, str], name: str) -> str:
        client_order_id = params.get(name) or self._generated_id()
        if not CLIENT_ORDER_ID.fullmatch(client_order_id):
            raise Refusal(400, -1100, ILLEGAL_CLIENT_ORDER_ID.replace("newClientOrderId", name))
        return client_order_id

    @staticmethod
    def _check_unique(account: Account, instrument: Instrument, client_order_id: str) -> None:
        existing = account.by_client_id.get((instrument.venue_symbol, client_order_id))
        if existing is not None and existing.is_open:
            raise Refusal(400, -2010, DUPLICATE_ORDER)

    @staticmethod
    def _lock(account: Account, asset: str, amount: Decimal) -> None:
        balance = account.balance(asset)
        if amount > balance.free:
            raise Refusal(400, -2010, INSUFFICIENT_BALANCE)
        balance.free -= amount
        balance.locked += amount

    @staticmethod
    def _unlock(account: Account, asset: str, amount: Decimal) -> None:
        balance = account.balance(asset)
        balance.locked -= amount
        balance.free += amount

    def _own_crossed(self, account: Account, listing: Listing, side: Side, order_type: OrderType, price: int,
                     qty: int) -> list[Order]:
        """The account's open orders on the other side that a new order would meet, best first.

        The new order meets one if its limit reaches the resting order's price and the book's liquidity at
        better prices cannot fill it first.
        """
        offered = self._matching.offered(listing.instrument.symbol)
        levels = (offered.asks if side is Side.BUY else offered.bids) if offered is not None else ()
        sign = side.sign

        def met(own: Order) -> bool:
            if order_type is not OrderType.MARKET and own.price * sign > price * sign:
                return False
            return sum(level_qty for level_price, level_qty in levels if level_price * sign < own.price * sign) < qty
        crossed = [o for o in self._open.values()
                   if o.account is account and o.listing is listing and o.side is not side and not o.waiting
                   and met(o)]
        return sorted(crossed, key=lambda o: (o.price * sign, o.order_id))

    def _prevent(self, maker: Order, taker: Order, now_ms: int) -> dict:
        """Expire a resting order that `taker` would have traded with (EXPIRE_MAKER, EXPIRE_BOTH)."""
        instrument = maker.listing.instrument
        maker.prevented = Prevented(self._next_prevented_id(instrument), taker.order_id)
        remaining = maker.qty - maker.cum_qty
        for report in self._matching.cancel(CancelRequest(str(maker.order_id), self.venue, instrument.symbol,
                                                          now_ms * _MS), now_ms * _MS):
            self._apply(maker, report, now_ms)
        return {"preventedMatchId": maker.prevented.match_id,
                "price": format_fixed(maker.price, instrument.price_decimals),
                "makerPreventedQuantity": format_fixed(remaining, instrument.qty_decimals)}

    def _next_prevented_id(self, instrument: Instrument) -> int:
        symbol = instrument.venue_symbol
        self._prevented_ids[symbol] = self._prevented_ids.get(symbol, -1) + 1
        return self._prevented_ids[symbol]

    def _cancel_order(self, params: dict[str, str], account: Account, now_ms: int) -> dict:
        listing = self._listing(params)
        order = self._find_order(params, account, listing)
        if order is None or not order.is_open:
            raise Refusal(400, -2011, UNKNOWN_ORDER)
        cancel_id = params.get("newClientOrderId") or self._generated_id()
        answer = self._cancel(order, cancel_id, now_ms)
        if order.order_list is not None:   # cancelling one leg cancels its whole list, as on Binance
            for leg in order.order_list.others(order):
                if leg.is_open:
                    self._cancel(leg, cancel_id, now_ms)
        return answer

    def _cancel_open_orders(self, params: dict[str, str], account: Account, now_ms: int) -> list[dict]:
        """Cancel every open order of the account on the symbol, oldest first, all under one generated cancel id
        (as Binance's example answer shows); with none open, -2011 "Unknown order sent." as Binance answers."""
        listing = self._listing(params)
        working = [order for order in self._open.values() if order.account is account and order.listing is listing]
        if not working:
            raise Refusal(400, -2011, UNKNOWN_ORDER)
        cancel_id = self._generated_id()
        answers = []
        for order in sorted(working, key=lambda o: o.order_id):
            if order.order_list is None:
                answers.append(self._cancel(order, cancel_id, now_ms))
            elif order.is_open:    # a list answers as one item, with its orders' reports (as Binance does)
                answers.append(self._cancel_list(order.order_list, cancel_id, now_ms))
        return answers

    def _cancel(self, order: Order, cancel_id: str, now_ms: int) -> dict:
        """Take an open order off the book; the cancel's answer. `cancel_id` is the cancel's own client id."""
        for report in self._matching.cancel(CancelRequest(str(order.order_id), self.venue,
                                                          order.listing.instrument.symbol, now_ms * _MS), now_ms * _MS):
            self._apply(order, report, now_ms, cancel_id)
        return cancel_response(order, cancel_id, now_ms)

    def _query_order(self, params: dict[str, str], account: Account, now_ms: int) -> dict:
        listing = self._listing(params)
        order = self._find_order(params, account, listing)
        if order is None:
            raise Refusal(400, -2013, NO_SUCH_ORDER)
        return order_status(order)

    def _open_orders(self, params: dict[str, str], account: Account, now_ms: int) -> list[dict]:
        listing = self._listing(params) if params.get("symbol") else None
        return [order_status(order) for order in self._open.values()
                if order.account is account and (listing is None or order.listing is listing)]

    def _all_orders(self, params: dict[str, str], account: Account, now_ms: int) -> list[dict]:
        """The account's orders on the symbol, oldest first, by `orderId` (from it on) and their `time`."""
        listing = self._listing(params)
        query = history_query(params, "orderId")
        orders = account.orders.get(listing.instrument.venue_symbol, ())
        return [order_status(order) for order in query.select(orders, lambda o: o.order_id, lambda o: o.created_ms)]

    def _my_trades(self, params: dict[str, str], account: Account, now_ms: int) -> list[dict]:
        """The account's fills on the symbol, oldest first: of one order (`orderId`), from a trade id on (`fromId`),
        by `time`, in the combinations Binance supports (others: -1128)."""
        listing = self._listing(params)
        sent = frozenset(name for name in _TRADE_FILTERS if params.get(name))
        if sent not in _TRADE_QUERIES:
            raise Refusal(400, -1128, "Combination of optional parameters invalid.")
        query = history_query(params, "fromId")
        trades = account.trades.get(listing.instrument.venue_symbol, ())
        if "orderId" in sent:
            order_id = integer_param(params, "orderId")
            trades = [trade for trade in trades if trade.order.order_id == order_id]
        return [account_trade(trade) for trade in query.select(trades, lambda t: t.trade_id, lambda t: t.time_ms)]

    def _account(self, params: dict[str, str], account: Account, now_ms: int) -> dict:
        return account_info(account, self.maker_fee, self.taker_fee, params.get("omitZeroBalances") == "true")

    # ------------------------------------------------------------ market data and metadata

    def _depth(self, params: dict[str, str], _account: None, now_ms: int) -> dict:
        """The book as the venue shows it: the latest view less what was taken from it, plus our resting orders."""
        listing = self._listing(params)
        instrument = listing.instrument
        limit = min(integer_param(params, "limit", 100), 5_000)
        if limit < 1:
            raise Refusal(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '1-5000'.")
        shown = self._shown[instrument.venue_symbol]
        price, qty = instrument.price_decimals, instrument.qty_decimals
        return {"lastUpdateId": shown.update_id,
                "bids": wire_levels(sorted(shown.bids.items(), reverse=True)[:limit], price, qty),
                "asks": wire_levels(sorted(shown.asks.items())[:limit], price, qty)}

    def _exchange_info(self, params: dict[str, str], _account: None, now_ms: int) -> dict:
        if params.get("symbol"):
            listings = [self._listing(params)]
        elif params.get("symbols"):
            try:
                names = orjson.loads(params["symbols"])
            except orjson.JSONDecodeError:
                raise Refusal(400, -1100, "Illegal characters found in parameter 'symbols'.") from None
            if not isinstance(names, list) or not all(isinstance(n, str) and n in self.listings for n in names):
                raise Refusal(400, -1121, INVALID_SYMBOL)
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
            "symbols": [symbol_info(listing) for listing in listings],
        }

    # ------------------------------------------------------------ internals

    def _listing(self, params: dict[str, str]) -> Listing:
        symbol = required(params, "symbol")
        listing = self.listings.get(symbol)
        if listing is None:
            raise Refusal(400, -1121, INVALID_SYMBOL)
        return listing

    @staticmethod
    def _check_filters(listing: Listing, terms: OrderTerms, qty: int) -> None:
        """PRICE_FILTER on the limit and the stop price, LOT_SIZE, and NOTIONAL at the limit (not for the market
        forms: `applyMinToMarket` is false)."""
        instrument = listing.instrument
        for price in (terms.price, terms.stop_price):
            if price and (price < instrument.tick_size or price % instrument.tick_size
                          or instrument.price_decimal(price) > listing.max_price):
                raise Refusal(400, -1013, PRICE_FILTER)
        if terms.order_type not in MARKET_FORMS and not terms.price:
            raise Refusal(400, -1013, PRICE_FILTER)
        if qty < instrument.lot_size or qty % instrument.lot_size or instrument.qty_decimal(qty) > listing.max_qty:
            raise Refusal(400, -1013, LOT_SIZE)
        if terms.price and instrument.notional(terms.price, qty) < listing.min_notional:
            raise Refusal(400, -1013, NOTIONAL)

    def _funds_needed(self, instrument: Instrument, side: Side, terms: OrderTerms, qty: int) -> tuple[str, Decimal]:
        """The asset and amount an order locks: the quantity to sell, or the quote a buy may spend.

        A market buy may spend what walking the offered asks for its quantity costs (the matching engine
        takes exactly those levels; what the book cannot fill expires and costs nothing). A stop that buys at
        market once triggered holds its stop price's worth (a trailing one the ask's now); should it pay more,
        the difference comes out of what is free then.
        """
        if side is Side.SELL:
            return instrument.base, instrument.qty_decimal(qty)
        if terms.order_type not in MARKET_FORMS:
            return instrument.quote, instrument.notional(terms.price, qty)
        offered = self._matching.offered(instrument.symbol)
        if terms.order_type is not OrderType.MARKET:
            ask = offered.best_ask if offered is not None else None
            return instrument.quote, instrument.notional(terms.stop_price or ask or 0, qty)
        cost, remaining = _ZERO, qty
        for level_price, level_qty in offered.asks if offered is not None else ():
            take = min(level_qty, remaining)
            cost += instrument.notional(level_price, take)
            remaining -= take
            if remaining == 0:
                break
        return instrument.quote, cost

    def _apply(self, order: Order, report: ExecutionReport, now_ms: int, cancel_id: str = "") -> Trade | None:
        """Move an order and its account's balances by one matching report, and tell its account's stream.

        Returns the fill a TRADE report made (None for other reports); `cancel_id` is a cancel's own client id.
        """
        order.updated_ms = order.account.updated_ms = now_ms
        instrument = order.listing.instrument
        self._moved.setdefault(order.account, set()).update((instrument.base, instrument.quote))
        self._changed.add(instrument.venue_symbol)
        trade = None
        prevented_qty = order.qty - order.cum_qty
        if report.exec_type is ExecType.TRADE:
            trade = self._fill(order, report, now_ms)
        elif report.exec_type in (ExecType.EXPIRED, ExecType.CANCELED):
            self._close(order, "EXPIRED_IN_MATCH" if order.prevented else report.exec_type.value)
        self._last_execution_id += 1
        event = execution_report(order, report, trade, self._last_execution_id, now_ms, cancel_id)
        if order.status == "EXPIRED_IN_MATCH":
            quantity = format_fixed(prevented_qty, instrument.qty_decimals)
            event |= {"x": "TRADE_PREVENTION", "v": order.prevented.match_id, "U": order.prevented.counter_order_id,
                      "u": -1, "A": quantity, "B": quantity}
        self._emit(VenueEvent(USER, event, order.account.api_key))
        order_list = order.order_list
        if order_list is not None and not order_list.done and report.exec_type in _ENDS_A_LIST:
            order_list.done = True   # a leg triggered, traded or was cancelled: the others expire, the list is over
            self._emit(VenueEvent(USER, list_status(order_list, now_ms), order.account.api_key))
        return trade

    def _close(self, order: Order, status: str) -> None:
        """End an order's work: off the book, and whatever it still holds back is free again (a list leg's hold
        passes to a leg still open: the list holds its funds once)."""
        order.status = status
        del self._open[order.order_id]
        heir = next((leg for leg in order.order_list.others(order) if leg.is_open), None) if order.order_list else None
        if heir is not None:
            heir.locked += order.locked
        else:
            balance = order.account.balance(order.lock_asset)
            balance.locked -= order.locked
            balance.free += order.locked
        order.locked = _ZERO

    def _fill(self, order: Order, report: ExecutionReport, now_ms: int) -> Trade:
        """Book a fill: balances move, the public trade prints, and the account keeps it for myTrades."""
        instrument = order.listing.instrument
        qty, price = report.last_qty, report.last_price
        base_qty, quote_qty = instrument.qty_decimal(qty), instrument.notional(price, qty)
        rate = self.maker_fee if report.liquidity is Liquidity.MAKER else self.taker_fee
        account = order.account
        base, quote = account.balance(instrument.base), account.balance(instrument.quote)
        if order.order_list is not None:   # the list's hold may sit with another leg: it is this one's now
            for leg in order.order_list.others(order):
                order.locked, leg.locked = order.locked + leg.locked, _ZERO
        if order.side is Side.BUY:
            # a limit buy locked its limit price; a fill at a better price gives the difference back
            release = min(quote_qty, order.locked) if order.order_type in MARKET_FORMS \
                else instrument.notional(order.price, qty)
            commission, commission_asset = asset_amount(rate * base_qty), instrument.base
            quote.locked -= release
            quote.free += release - quote_qty
            base.free += base_qty - commission
        else:
            release = base_qty
            commission, commission_asset = asset_amount(rate * quote_qty), instrument.quote
            base.locked -= release
            quote.free += quote_qty - commission
        order.locked -= release
        order.cum_qty = report.cum_qty
        order.cum_quote += quote_qty
        if order.cum_qty == order.qty:
            self._close(order, "FILLED")
        else:
            order.status = "PARTIALLY_FILLED"
        buyer_is_maker = (order.side is Side.BUY) == (report.liquidity is Liquidity.MAKER)
        trade = Trade(self._print(order.listing, price, qty, buyer_is_maker, now_ms), order, price, qty, quote_qty,
                      commission, commission_asset, now_ms, report.liquidity is Liquidity.MAKER)
        account.trades.setdefault(instrument.venue_symbol, []).append(trade)
        return trade

    def _find_order(self, params: dict[str, str], account: Account, listing: Listing) -> Order | None:
        """By `orderId` first, then checked against `origClientOrderId` if both are sent (as Binance does)."""
        client_order_id = params.get("origClientOrderId")
        if params.get("orderId"):
            order = self._orders.get(integer_param(params, "orderId"))
            if order is not None and client_order_id and order.client_order_id != client_order_id:
                return None
        elif client_order_id:
            order = account.by_client_id.get((listing.instrument.venue_symbol, client_order_id))
        else:
            raise Refusal(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.account is not account or order.listing is not listing:
            return None
        return order

    def _print(self, listing: Listing, price: int, qty: int, buyer_is_maker: bool, now_ms: int) -> int:
        """A public trade on the symbol's trade stream; its venue trade id."""
        instrument = listing.instrument
        symbol = instrument.venue_symbol
        trade_id = self._trade_ids[symbol] = self._trade_ids.get(symbol, 0) + 1
        if self._listeners:
            self._emit(VenueEvent(f"{symbol.lower()}@trade", {
                "e": "trade", "E": now_ms, "s": symbol, "t": trade_id,
                "p": format_fixed(price, instrument.price_decimals), "q": format_fixed(qty, instrument.qty_decimals),
                "T": now_ms, "m": buyer_is_maker, "M": True}))
        return trade_id

    def _publish(self, now_ms: int) -> None:
        """After an operation: each changed book's diff (and top, if it moved), then each moved account's balances."""
        for symbol in sorted(self._changed):
            self._show(self.listings[symbol], now_ms)
        self._changed.clear()
        for account, assets in self._moved.items():
            if self._listeners:
                self._emit(VenueEvent(USER, account_position(account, assets, now_ms), account.api_key))
        self._moved.clear()

    def _show(self, listing: Listing, now_ms: int) -> None:
        """Bring the symbol's shown book up to date: the latest view less what was taken, plus our orders."""
        instrument = listing.instrument
        offered = self._matching.offered(instrument.symbol)
        bids = dict(offered.bids) if offered is not None else {}
        asks = dict(offered.asks) if offered is not None else {}
        for order in self._open.values():
            if order.listing is listing and not order.waiting:
                ours = bids if order.side is Side.BUY else asks
                ours[order.price] = ours.get(order.price, 0) + order.qty - order.cum_qty
        shown = self._shown[instrument.venue_symbol]
        changed_bids = _changes(shown.bids, bids)
        changed_asks = _changes(shown.asks, asks)
        if not changed_bids and not changed_asks:
            return
        old_top = shown.top()
        shown.update_id += 1
        shown.bids, shown.asks = bids, asks
        if not self._listeners:
            return
        symbol, price, qty = instrument.venue_symbol, instrument.price_decimals, instrument.qty_decimals
        self._emit(VenueEvent(f"{symbol.lower()}@depth", {
            "e": "depthUpdate", "E": now_ms, "s": symbol, "U": shown.update_id, "u": shown.update_id,
            "b": wire_levels(sorted(changed_bids, reverse=True), price, qty),
            "a": wire_levels(sorted(changed_asks), price, qty)}))
        top = shown.top()
        if top is not None and top != old_top:
            (bid, bid_qty), (ask, ask_qty) = top
            self._emit(VenueEvent(f"{symbol.lower()}@bookTicker", {
                "u": shown.update_id, "s": symbol, "b": format_fixed(bid, price), "B": format_fixed(bid_qty, qty),
                "a": format_fixed(ask, price), "A": format_fixed(ask_qty, qty)}))

    def _emit(self, event: VenueEvent) -> None:
        for listener in self._listeners:
            listener(event)

    def _generated_id(self) -> str:
        """A client order id for a request that sent none (Binance makes a random one; ours count up)."""
        self._last_generated_id += 1
        return f"sim-{self._last_generated_id}"


def _side(params: dict[str, str]) -> Side:
    side = _SIDES.get(required(params, "side"))
    if side is None:
        raise Refusal(400, -1117, "Invalid side.")
    return side


def _response_type(params: dict[str, str], default: str) -> str:
    response_type = params.get("newOrderRespType") or default
    if response_type not in _RESPONSE_TYPES:
        raise Refusal(400, -1100, "Illegal characters found in parameter 'newOrderRespType'; "
                                  "legal range is 'ACK, RESULT, FULL'.")
    return response_type


def _stp(params: dict[str, str]) -> str:
    stp = params.get("selfTradePreventionMode") or DEFAULT_STP_MODE
    if stp not in STP_MODES:
        raise Refusal(400, -1013, "This symbol does not allow the specified self-trade prevention mode.")
    return stp


def _changes(old: dict[int, int], new: dict[int, int]) -> list[tuple[int, int]]:
    """The levels that differ between two books, as (price, new quantity); 0 for a level that went away."""
    changed = [(price, qty) for price, qty in new.items() if old.get(price) != qty]
    changed += [(price, 0) for price in old if price not in new]
    return changed


def too_much_weight(limits: RateLimits) -> str:
    """Binance's -1003 message."""
    return (f"Too much request weight used; current limit is {limits.request_weight_per_minute} request weight "
            "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")
