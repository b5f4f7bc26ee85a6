"""The simulated Binance exchange as pure code: the door (keys, signatures, clock, weights), orders, balances."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import orjson
import pytest

from adapters.binance.orders import parse_exchange_info
from adapters.binance.signing import sign
from adapters.simulated.rate_limits import RateLimits
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.requests import HttpRequest, HttpResponse
from engine.messages import BookView, Side, Trade
from engine.model.numbers import Instrument

# Binance spot BTCUSDT: 8-decimal wire numbers, tick 0.01, lot 0.00001.
BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=8, qty_decimals=8,
                 tick_size=1_000_000, lot_size=1_000)
LTC = Instrument("LTC/BTC", "binance", "LTCBTC", "LTC", "BTC", price_decimals=8, qty_decimals=8,
                 tick_size=1, lot_size=1_000)
KEY, SECRET = "key-1", "secret-1"
OTHER_KEY, OTHER_SECRET = "key-2", "secret-2"
T0_MS = 1_700_000_000_000  # a minute boundary plus 20 s: 1_699_999_980_000 + 20_000
MAKER, TAKER = Decimal("0.001"), Decimal("0.002")


def p(text: str) -> int:
    return BTC.price(text)


def q(text: str) -> int:
    return BTC.qty(text)


ASKS = ((p("60001"), q("0.2")), (p("60002"), q("1")))
BIDS = ((p("60000"), q("0.5")), (p("59999"), q("2")))


class Venue:
    """An exchange on a clock the test moves, and signed requests from its accounts."""

    def __init__(self, rate_limits: RateLimits | None = None):
        self.now_ms = T0_MS
        self.exchange = SimulatedBinance([Listing(BTC), Listing(LTC, min_notional=Decimal("0.0001"))],
                                         now_ns=lambda: self.now_ms * 1_000_000, maker_fee=MAKER, taker_fee=TAKER,
                                         rate_limits=rate_limits or RateLimits())
        self.exchange.open_account(KEY, SECRET, {"USDT": Decimal(100_000), "BTC": Decimal(1)})
        self.exchange.open_account(OTHER_KEY, OTHER_SECRET, {"USDT": Decimal(100_000)})
        self.update_id = 0

    def book(self, bids=BIDS, asks=ASKS) -> None:
        self.update_id += 1
        self.exchange.on_book(BookView("BTC/USDT", self.now_ms * 1_000_000, self.update_id, bids, asks))

    def signed(self, method: str, path: str, key: str = KEY, secret: str = SECRET, timestamp: int | None = None,
               **params: str) -> HttpResponse:
        query = urlencode({**params, "timestamp": self.now_ms if timestamp is None else timestamp})
        query += f"&signature={sign(secret, query)}"
        return self.exchange.handle(HttpRequest(method, path, query, "", {"x-mbx-apikey": key}))

    def public(self, path: str, **params: str) -> HttpResponse:
        return self.exchange.handle(HttpRequest("GET", path, urlencode(params)))

    def order(self, side: str = "BUY", type: str = "LIMIT", **params: str) -> dict:
        if type == "LIMIT":
            params.setdefault("timeInForce", "GTC")
        return ok(self.signed("POST", "/api/v3/order", symbol="BTCUSDT", side=side, type=type, **params))

    def refused(self, response: HttpResponse) -> tuple[int, int, str]:
        data = orjson.loads(response.body)
        return response.status, data["code"], data["msg"]

    def balances(self, key: str = KEY, secret: str = SECRET) -> dict[str, tuple[str, str]]:
        data = ok(self.signed("GET", "/api/v3/account", key, secret))
        return {b["asset"]: (b["free"], b["locked"]) for b in data["balances"]}

    def query(self, **params: str) -> HttpResponse:
        return self.signed("GET", "/api/v3/order", symbol="BTCUSDT", **params)


def ok(response: HttpResponse):
    assert response.status == 200, response.body
    return orjson.loads(response.body)


def header(response: HttpResponse, name: str) -> str | None:
    return dict(response.headers).get(name)


@pytest.fixture
def venue() -> Venue:
    venue = Venue()
    venue.book()
    return venue


# ---------------------------------------------------------------- the door

def test_binance_documented_example_request_is_accepted_byte_for_byte() -> None:
    """Binance's own example: parameters split over query string and body, signed as one."""
    venue = Venue()
    venue.now_ms = 1499827319559
    venue.exchange.open_account("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                                "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
                                {"BTC": Decimal(1)})
    response = venue.exchange.handle(HttpRequest(
        "POST", "/api/v3/order", "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
        {"x-mbx-apikey": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"}))
    order = ok(response)
    assert (order["symbol"], order["status"], order["price"], order["origQty"]) == (
        "LTCBTC", "NEW", "0.10000000", "1.00000000")


def test_a_bad_or_missing_signature_or_key_is_refused(venue: Venue) -> None:
    assert venue.refused(venue.signed("GET", "/api/v3/account", secret="wrong")) == (
        400, -1022, "Signature for this request is not valid.")
    unsigned = HttpRequest("GET", "/api/v3/account", f"timestamp={T0_MS}", "", {"x-mbx-apikey": KEY})
    assert venue.refused(venue.exchange.handle(unsigned))[:2] == (400, -1102)
    assert venue.refused(venue.signed("GET", "/api/v3/account", key="nobody")) == (
        401, -2015, "Invalid API-key, IP, or permissions for action.")
    assert venue.refused(venue.signed("GET", "/api/v3/account", key="")) == (401, -2014, "API-key format invalid.")
    # the signature covers the parameters as sent: tampering with one after signing is caught
    signed = venue.signed("GET", "/api/v3/account")
    assert signed.status == 200
    query = urlencode({"timestamp": T0_MS, "omitZeroBalances": "true"})
    tampered = HttpRequest("GET", "/api/v3/account", f"{query}&signature={sign(SECRET, query)}&recvWindow=6000", "",
                           {"x-mbx-apikey": KEY})
    assert venue.refused(venue.exchange.handle(tampered))[1] == -1022


def test_timestamps_outside_the_recv_window_are_refused_on_the_injected_clock(venue: Venue) -> None:
    account = "/api/v3/account"
    assert venue.signed("GET", account, timestamp=T0_MS - 5_000).status == 200       # exactly recvWindow old
    assert venue.refused(venue.signed("GET", account, timestamp=T0_MS - 5_001)) == (
        400, -1021, "Timestamp for this request is outside of the recvWindow.")
    assert venue.signed("GET", account, timestamp=T0_MS + 999).status == 200
    assert venue.refused(venue.signed("GET", account, timestamp=T0_MS + 1_000)) == (
        400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    assert venue.signed("GET", account, timestamp=T0_MS - 20_000, recvWindow="30000").status == 200
    assert venue.signed("GET", account, timestamp=(T0_MS - 4_000) * 1_000).status == 200  # microseconds
    assert venue.refused(venue.signed("GET", account, recvWindow="60001"))[:2] == (400, -1131)
    assert venue.refused(venue.signed("GET", account, timestamp="soon"))[:2] == (400, -1100)


def test_request_weight_is_reported_and_past_the_limit_refused_until_the_minute_ends() -> None:
    venue = Venue(RateLimits(request_weight_per_minute=30))
    assert header(venue.public("/api/v3/time"), "X-MBX-USED-WEIGHT-1M") == "1"
    assert header(venue.query(origClientOrderId="x"), "X-MBX-USED-WEIGHT-1M") == "5"     # a refused query still costs 4
    assert header(venue.public("/api/v3/depth", symbol="BTCUSDT", limit="500"), "X-MBX-USED-WEIGHT-1M") == "30"
    venue.now_ms += 10_000
    limited = venue.public("/api/v3/time")
    assert venue.refused(limited)[:2] == (429, -1003)
    assert "current limit is 30 request weight per 1 MINUTE" in venue.refused(limited)[2]
    assert header(limited, "Retry-After") == "30"            # 20 s into the minute, then 10 s: 30 s to go
    assert header(limited, "X-MBX-USED-WEIGHT-1M") == "31"
    venue.now_ms += 30_000                                    # a new minute
    assert header(venue.public("/api/v3/time"), "X-MBX-USED-WEIGHT-1M") == "1"


@pytest.mark.parametrize(("path", "params", "weight"), [
    ("/api/v3/ping", {}, 1), ("/api/v3/exchangeInfo", {}, 20), ("/api/v3/depth", {"symbol": "BTCUSDT"}, 5),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "1000"}, 50),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5000"}, 250),
])
def test_public_endpoint_weights(path: str, params: dict, weight: int) -> None:
    assert header(Venue().public(path, **params), "X-MBX-USED-WEIGHT-1M") == str(weight)


def test_signed_endpoint_weights(venue: Venue) -> None:
    used = [int(header(venue.signed(method, path, **params), "X-MBX-USED-WEIGHT-1M")) for method, path, params in [
        ("GET", "/api/v3/account", {}), ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}),
        ("GET", "/api/v3/openOrders", {}), ("POST", "/api/v3/order", {}), ("DELETE", "/api/v3/order", {}),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}), ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": "1"}),
        ("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"})]]
    assert [b - a for a, b in zip([0] + used[:-1], used, strict=True)] == [20, 6, 80, 1, 1, 20, 20, 5, 1]


def test_new_orders_are_counted_per_account_and_past_the_limit_refused() -> None:
    venue = Venue(RateLimits(orders_per_10s=2))
    responses = [venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                              timeInForce="GTC", quantity="0.001", price="50000") for _ in range(3)]
    assert [header(r, "X-MBX-ORDER-COUNT-10S") for r in responses[:2]] == ["1", "2"]
    assert header(responses[0], "X-MBX-ORDER-COUNT-1D") == "1"
    assert venue.refused(responses[2]) == (429, -1015, "Too many new orders; current limit is 2 orders per 10 SECOND.")
    assert header(responses[2], "Retry-After") == "10"
    other = venue.signed("POST", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT", side="BUY",
                         type="LIMIT", timeInForce="GTC", quantity="0.001", price="50000")
    assert other.status == 200


def test_unknown_routes_are_404() -> None:
    assert Venue().exchange.handle(HttpRequest("GET", "/api/v3/nothing")).status == 404
    assert Venue().exchange.handle(HttpRequest("PUT", "/api/v3/order")).status == 404


# ---------------------------------------------------------------- taking liquidity

def test_market_buy_takes_the_asks_and_pays_commission_in_the_asset_received(venue: Venue) -> None:
    order = venue.order(type="MARKET", quantity="0.3", newClientOrderId="m-1")
    assert (order["status"], order["executedQty"], order["cummulativeQuoteQty"]) == (
        "FILLED", "0.30000000", "18000.40000000")
    assert order["fills"] == [
        {"price": "60001.00000000", "qty": "0.20000000", "commission": "0.00040000", "commissionAsset": "BTC",
         "tradeId": 1},
        {"price": "60002.00000000", "qty": "0.10000000", "commission": "0.00020000", "commissionAsset": "BTC",
         "tradeId": 2}]
    assert list(order) == ["symbol", "orderId", "orderListId", "clientOrderId", "transactTime", "price", "origQty",
                           "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce",
                           "type", "side", "workingTime", "selfTradePreventionMode", "fills"]
    assert venue.balances() == {"BTC": ("1.29940000", "0.00000000"), "USDT": ("81999.60000000", "0.00000000")}


def test_market_sell_pays_commission_in_quote_and_expires_what_the_book_cannot_take(venue: Venue) -> None:
    venue.exchange.open_account("whale", "s", {"BTC": Decimal(5)})
    response = venue.signed("POST", "/api/v3/order", "whale", "s", symbol="BTCUSDT", side="SELL", type="MARKET",
                            quantity="3")
    order = ok(response)
    assert (order["status"], order["executedQty"]) == ("EXPIRED", "2.50000000")
    assert [(f["price"], f["commission"], f["commissionAsset"]) for f in order["fills"]] == [
        ("60000.00000000", "60.00000000", "USDT"), ("59999.00000000", "239.99600000", "USDT")]
    assert venue.balances("whale", "s") == {"BTC": ("2.50000000", "0.00000000"),
                                            "USDT": ("149698.00400000", "0.00000000")}


def test_marketable_limit_buy_fills_at_the_ask_and_gets_back_what_its_limit_locked_too_much(venue: Venue) -> None:
    order = venue.order(quantity="0.3", price="60001.50")
    assert (order["status"], order["executedQty"]) == ("PARTIALLY_FILLED", "0.20000000")
    # 0.2 bought at 60001 (not 60001.50); 0.1 still locked at its limit
    assert venue.balances()["USDT"] == ("81999.65000000", "6000.15000000")


def test_ioc_and_fok(venue: Venue) -> None:
    ioc = venue.order(quantity="0.3", price="60001", timeInForce="IOC")
    assert (ioc["status"], ioc["executedQty"], ioc["timeInForce"]) == ("EXPIRED", "0.20000000", "IOC")
    fok = venue.order(quantity="1.2", price="60002", timeInForce="FOK")   # only 1 is left at 60002
    assert (fok["status"], fok["executedQty"], fok["fills"]) == ("EXPIRED", "0.00000000", [])
    assert venue.balances()["USDT"] == ("87999.80000000", "0.00000000")  # nothing left locked


# ---------------------------------------------------------------- resting orders

def test_resting_buy_locks_its_quote_then_fills_as_maker_when_a_later_view_crosses(venue: Venue) -> None:
    order = venue.order(quantity="0.5", price="59000", newClientOrderId="rest-1")
    assert order["status"] == "NEW" and order["fills"] == []
    assert venue.balances()["USDT"] == ("70500.00000000", "29500.00000000")
    assert [o["clientOrderId"] for o in ok(venue.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT"))] == ["rest-1"]
    venue.now_ms += 1_000
    venue.book(asks=((p("58990"), q("0.2")), (p("59000"), q("5"))))
    filled = ok(venue.query(origClientOrderId="rest-1"))
    assert (filled["status"], filled["executedQty"], filled["cummulativeQuoteQty"]) == (
        "FILLED", "0.50000000", "29500.00000000")        # all at its own limit, as maker
    assert (filled["time"], filled["updateTime"]) == (T0_MS, T0_MS + 1_000)
    assert venue.balances() == {"BTC": ("1.49950000", "0.00000000"), "USDT": ("70500.00000000", "0.00000000")}
    assert ok(venue.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")) == []


def test_resting_sell_locks_base(venue: Venue) -> None:
    venue.order(side="SELL", quantity="0.4", price="61000")
    assert venue.balances()["BTC"] == ("0.60000000", "0.40000000")
    assert venue.refused(venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", type="LIMIT",
                                      timeInForce="GTC", quantity="0.7", price="61000")) == (
        400, -2010, "Account has insufficient balance for requested action.")


def test_limit_maker_that_would_take_is_refused_and_leaves_nothing_behind(venue: Venue) -> None:
    refused = venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER",
                           quantity="0.1", price="60001", newClientOrderId="pm-1")
    assert venue.refused(refused) == (400, -2010, "Order would immediately match and take.")
    assert venue.refused(venue.query(origClientOrderId="pm-1"))[:2] == (400, -2013)
    assert venue.balances()["USDT"] == ("100000.00000000", "0.00000000")
    ack = venue.order(type="LIMIT_MAKER", quantity="0.1", price="60000.50", newClientOrderId="pm-2")
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}  # LIMIT_MAKER: ACK


def test_cancel_returns_the_fills_so_far_and_frees_the_rest(venue: Venue) -> None:
    placed = venue.order(quantity="0.3", price="60001.50", newClientOrderId="c-1")
    cancelled = ok(venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="c-1",
                                newClientOrderId="cancel-1"))
    assert (cancelled["status"], cancelled["executedQty"], cancelled["origClientOrderId"],
            cancelled["clientOrderId"], cancelled["orderId"]) == ("CANCELED", "0.20000000", "c-1", "cancel-1",
                                                                  placed["orderId"])
    assert venue.balances()["USDT"] == ("87999.80000000", "0.00000000")
    assert venue.refused(venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="c-1")) == (
        400, -2011, "Unknown order sent.")
    assert ok(venue.query(orderId=str(placed["orderId"])))["status"] == "CANCELED"


def test_cancel_and_query_by_order_id_and_unknown_orders(venue: Venue) -> None:
    placed = venue.order(quantity="0.1", price="50000")
    assert venue.refused(venue.query(origClientOrderId="never"))[:2] == (400, -2013)
    assert venue.refused(venue.query(orderId="999")) == (400, -2013, "Order does not exist.")
    assert venue.refused(venue.query(orderId=str(placed["orderId"]), origClientOrderId="other"))[1] == -2013
    assert venue.refused(venue.query())[:2] == (400, -1102)
    generated = ok(venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", orderId=str(placed["orderId"])))
    assert generated["status"] == "CANCELED" and generated["clientOrderId"]


def test_accounts_see_and_cancel_only_their_own_orders(venue: Venue) -> None:
    placed = venue.order(quantity="0.1", price="50000", newClientOrderId="mine")
    assert venue.refused(venue.signed("GET", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT",
                                      orderId=str(placed["orderId"])))[1] == -2013
    assert venue.refused(venue.signed("DELETE", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT",
                                      origClientOrderId="mine"))[1] == -2011
    assert ok(venue.signed("GET", "/api/v3/openOrders", OTHER_KEY, OTHER_SECRET)) == []
    theirs = venue.signed("POST", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT", side="BUY",
                          type="LIMIT", timeInForce="GTC", quantity="0.1", price="50000", newClientOrderId="mine")
    assert theirs.status == 200                               # client order ids are per account


def test_a_client_order_id_is_unique_among_open_orders_and_free_again_once_done(venue: Venue) -> None:
    venue.order(quantity="0.1", price="50000", newClientOrderId="dup")
    assert venue.refused(venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                                      timeInForce="GTC", quantity="0.1", price="50000",
                                      newClientOrderId="dup")) == (400, -2010, "Duplicate order sent.")
    venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="dup")
    again = venue.order(quantity="0.2", price="50000", newClientOrderId="dup")
    assert ok(venue.query(origClientOrderId="dup"))["orderId"] == again["orderId"]   # the latest one


def test_a_market_buy_the_account_cannot_pay_for_is_refused(venue: Venue) -> None:
    venue.exchange.open_account("small", "s", {"USDT": Decimal(12_000)})
    assert venue.refused(venue.signed("POST", "/api/v3/order", "small", "s", symbol="BTCUSDT", side="BUY",
                                      type="MARKET", quantity="0.3"))[1:] == (
        -2010, "Account has insufficient balance for requested action.")
    order = ok(venue.signed("POST", "/api/v3/order", "small", "s", symbol="BTCUSDT", side="BUY", type="MARKET",
                            quantity="0.1"))
    assert order["status"] == "FILLED"


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize(("params", "code", "msg"), [
    ({"price": "60000.005"}, -1013, "Filter failure: PRICE_FILTER"),
    ({"price": "2000000"}, -1013, "Filter failure: PRICE_FILTER"),
    ({"quantity": "0.000015"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "10000"}, -1013, "Filter failure: LOT_SIZE"),
    ({"quantity": "0.00001", "price": "100"}, -1013, "Filter failure: NOTIONAL"),
    ({"quantity": "0.000000001"}, -1111, "Precision is over the maximum defined for this asset."),
    ({"quantity": "1e-3"}, -1100, None),
    ({"quantity": ""}, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."),
    ({"side": "HOLD"}, -1117, "Invalid side."),
    ({"type": "ICEBERG"}, -1116, "Invalid orderType."),
    ({"type": "STOP_LOSS_LIMIT"}, -1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"),
    ({"stopPrice": "49000"}, -1106, "Parameter 'stopPrice' sent when not required."),
    ({"timeInForce": "GTX"}, -1115, "Invalid timeInForce."),
    ({"timeInForce": ""}, -1102, None),
    ({"symbol": "DOGEUSDT"}, -1121, "Invalid symbol."),
    ({"newClientOrderId": "has space"}, -1100, None),
    ({"newOrderRespType": "ALL"}, -1100, None),
])
def test_invalid_limit_orders_get_binance_codes(venue: Venue, params: dict, code: int, msg: str | None) -> None:
    request = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.1",
               "price": "50000", **params}
    status, got_code, got_msg = venue.refused(venue.signed("POST", "/api/v3/order", **request))
    assert (status, got_code) == (400, code)
    assert msg is None or got_msg == msg


@pytest.mark.parametrize(("params", "code"), [({"timeInForce": "GTC"}, -1106), ({"price": "60000"}, -1106),
                                              ({"quoteOrderQty": "100"}, -1014)])
def test_market_orders_refuse_parameters_they_do_not_take(venue: Venue, params: dict, code: int) -> None:
    response = venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1",
                            **params)
    assert venue.refused(response)[:2] == (400, code)


# ---------------------------------------------------------------- responses, market data, metadata

def test_response_types_ack_result_full(venue: Venue) -> None:
    ack = venue.order(quantity="0.1", price="50000", newOrderRespType="ACK")
    result = venue.order(quantity="0.1", price="50000", newOrderRespType="RESULT")
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert "fills" not in result and result["status"] == "NEW"
    assert ack["clientOrderId"] != result["clientOrderId"]    # generated when not sent


def test_query_has_binance_order_shape(venue: Venue) -> None:
    venue.order(quantity="0.1", price="50000", newClientOrderId="shape")
    assert list(ok(venue.query(origClientOrderId="shape"))) == [
        "symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
        "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "stopPrice", "icebergQty", "time",
        "updateTime", "isWorking", "workingTime", "origQuoteOrderQty", "selfTradePreventionMode"]


def test_depth_is_the_view_less_what_was_taken_plus_our_resting_orders(venue: Venue) -> None:
    venue.order(type="MARKET", quantity="0.3")               # takes 0.2 @ 60001 and 0.1 @ 60002
    venue.order(quantity="0.25", price="60000", newClientOrderId="join")
    venue.order(quantity="0.1", price="60000.50")
    depth = ok(venue.public("/api/v3/depth", symbol="BTCUSDT", limit="2"))
    assert depth == {"lastUpdateId": 4,   # the venue's own ids, one per change: the view, then each order

                     "bids": [["60000.50000000", "0.10000000"], ["60000.00000000", "0.75000000"]],
                     "asks": [["60002.00000000", "0.90000000"]]}
    assert ok(Venue().public("/api/v3/depth", symbol="BTCUSDT")) == {"lastUpdateId": 0, "bids": [], "asks": []}
    assert venue.refused(venue.public("/api/v3/depth", symbol="BTCUSDT", limit="0"))[:2] == (400, -1100)


def test_exchange_info_lists_filters_and_rate_limits_that_the_codec_reads_back() -> None:
    venue = Venue(RateLimits(request_weight_per_minute=1200))
    response = venue.public("/api/v3/exchangeInfo", symbol="BTCUSDT")
    info = ok(response)
    assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                     "limit": 1200}
    [symbol] = info["symbols"]
    assert symbol["filters"][:2] == [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
         "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"}]
    assert symbol["filters"][2]["minNotional"] == "5.00000000"
    assert parse_exchange_info(response.status, dict(response.headers), response.body) == [BTC]
    both = ok(venue.public("/api/v3/exchangeInfo", symbols='["LTCBTC","BTCUSDT"]'))
    assert [s["symbol"] for s in both["symbols"]] == ["LTCBTC", "BTCUSDT"]
    assert venue.refused(venue.public("/api/v3/exchangeInfo", symbols='["NOPE"]'))[:2] == (400, -1121)
    assert len(ok(venue.public("/api/v3/exchangeInfo"))["symbols"]) == 2


def test_time_ping_and_account_shape(venue: Venue) -> None:
    assert ok(venue.public("/api/v3/time")) == {"serverTime": T0_MS}
    assert ok(venue.public("/api/v3/ping")) == {}
    account = ok(venue.signed("GET", "/api/v3/account", omitZeroBalances="true"))
    assert (account["makerCommission"], account["takerCommission"], account["commissionRates"]["taker"]) == (
        10, 20, "0.00200000")
    assert account["accountType"] == "SPOT" and account["canTrade"] is True
    assert [b["asset"] for b in account["balances"]] == ["BTC", "USDT"]
    venue.exchange.open_account("empty", "s", {"ETH": Decimal(0)})
    assert ok(venue.signed("GET", "/api/v3/account", "empty", "s", omitZeroBalances="true"))["balances"] == []
    assert len(ok(venue.signed("GET", "/api/v3/account", "empty", "s"))["balances"]) == 1


def test_secrets_stay_out_of_reprs_and_keys_are_unique(venue: Venue) -> None:
    assert SECRET not in repr(venue.exchange)
    assert all(SECRET not in repr(value) for value in vars(venue.exchange).values())
    with pytest.raises(ValueError):
        venue.exchange.open_account(KEY, "again", {})


# ---------------------------------------------------------------- self-trade prevention

def user_events(venue: Venue) -> list[dict]:
    events: list[dict] = []
    venue.exchange.listen(lambda event: events.append(event.payload) if event.api_key == KEY else None)
    return events


def test_expire_maker_is_the_default_and_expires_our_own_resting_orders_the_taker_would_meet(venue: Venue) -> None:
    events = user_events(venue)
    resting = venue.order("SELL", quantity="0.1", price="60000.50", newClientOrderId="mine")   # inside the spread
    taker = venue.order("BUY", quantity="0.3", price="60001", newClientOrderId="taker")
    assert taker["selfTradePreventionMode"] == "EXPIRE_MAKER"
    assert taker["preventedMatches"] == [{"preventedMatchId": 0, "makerOrderId": resting["orderId"],
                                          "price": "60000.50000000", "makerPreventedQuantity": "0.10000000"}]
    assert (taker["status"], taker["executedQty"]) == ("PARTIALLY_FILLED", "0.20000000")   # the book's 0.2 @ 60001
    maker = ok(venue.query(origClientOrderId="mine"))
    assert (maker["status"], maker["preventedMatchId"], maker["preventedQuantity"]) == (
        "EXPIRED_IN_MATCH", 0, "0.10000000")
    assert venue.balances()["BTC"][1] == "0.00000000"                     # what it locked is free again
    prevention = [e for e in events if e.get("x") == "TRADE_PREVENTION"]
    assert [(e["c"], e["X"], e["v"], e["U"], e["A"], e["B"]) for e in prevention] == [
        ("mine", "EXPIRED_IN_MATCH", 0, taker["orderId"], "0.10000000", "0.10000000")]


def test_expire_taker_takes_only_what_beats_its_own_order_then_expires(venue: Venue) -> None:
    venue.order("SELL", quantity="0.1", price="60002", newClientOrderId="mine")
    taker = venue.order("BUY", type="MARKET", quantity="0.5", selfTradePreventionMode="EXPIRE_TAKER")
    assert (taker["status"], taker["executedQty"], [f["price"] for f in taker["fills"]]) == (
        "EXPIRED_IN_MATCH", "0.20000000", ["60001.00000000"])
    assert taker["preventedMatches"][0]["takerPreventedQuantity"] == "0.30000000"
    assert ok(venue.query(origClientOrderId="mine"))["status"] == "NEW"


def test_expire_both_and_modes_the_venue_does_not_allow(venue: Venue) -> None:
    venue.order("SELL", quantity="0.1", price="60000.50", newClientOrderId="mine")
    taker = venue.order("BUY", quantity="0.3", price="60001", selfTradePreventionMode="EXPIRE_BOTH")
    assert (taker["status"], taker["executedQty"]) == ("EXPIRED_IN_MATCH", "0.00000000")
    assert ok(venue.query(origClientOrderId="mine"))["status"] == "EXPIRED_IN_MATCH"
    assert venue.refused(venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                                      quantity="0.1", selfTradePreventionMode="NONE")) == (
        400, -1013, "This symbol does not allow the specified self-trade prevention mode.")
    venue.order("SELL", quantity="0.1", price="60000.50", newClientOrderId="again")
    assert venue.refused(venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER",
                                      quantity="0.1", price="60000.60"))[:2] == (400, -2010)


def test_an_own_order_the_book_fills_the_taker_before_reaching_is_left_alone(venue: Venue) -> None:
    venue.order("SELL", quantity="0.1", price="60002", newClientOrderId="behind")   # behind the book's 0.2 @ 60001
    taker = venue.order("BUY", type="MARKET", quantity="0.2")
    assert "preventedMatches" not in taker and taker["status"] == "FILLED"
    assert ok(venue.query(origClientOrderId="behind"))["status"] == "NEW"
    venue.book()                                                                    # 0.2 @ 60001 again
    reached = venue.order("BUY", type="MARKET", quantity="0.21")                    # one lot more reaches it
    assert reached["preventedMatches"][0]["makerPreventedQuantity"] == "0.10000000"


def test_another_accounts_orders_are_not_self_trades(venue: Venue) -> None:
    ok(venue.signed("POST", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT", side="BUY", type="LIMIT",
                    timeInForce="GTC", quantity="0.1", price="60000.50"))
    taker = venue.order("SELL", type="MARKET", quantity="0.1")
    assert "preventedMatches" not in taker and taker["status"] == "FILLED"


# ---------------------------------------------------------------- what the venue publishes

def test_execution_reports_and_balances_in_binances_user_data_shape(venue: Venue) -> None:
    events = user_events(venue)
    venue.order(type="MARKET", quantity="0.3", newClientOrderId="m-1")   # 0.2 @ 60001, 0.1 @ 60002
    new, first, second, position = events
    assert {k: new[k] for k in ("e", "s", "c", "S", "o", "f", "q", "x", "X", "l", "z", "t", "N", "w", "m")} == {
        "e": "executionReport", "s": "BTCUSDT", "c": "m-1", "S": "BUY", "o": "MARKET", "f": "GTC",
        "q": "0.30000000", "x": "NEW", "X": "NEW", "l": "0.00000000", "z": "0.00000000", "t": -1, "N": None,
        "w": False, "m": False}
    assert [(e["x"], e["X"], e["l"], e["L"], e["z"], e["n"], e["N"], e["t"], e["I"]) for e in (first, second)] == [
        ("TRADE", "PARTIALLY_FILLED", "0.20000000", "60001.00000000", "0.20000000", "0.00040000", "BTC", 1, 2),
        ("TRADE", "FILLED", "0.10000000", "60002.00000000", "0.30000000", "0.00020000", "BTC", 2, 3)]
    assert second["Z"] == "18000.40000000" and second["Y"] == "6000.20000000"
    assert position == {"e": "outboundAccountPosition", "E": T0_MS, "u": T0_MS,
                        "B": [{"a": "BTC", "f": "1.29940000", "l": "0.00000000"},
                              {"a": "USDT", "f": "81999.60000000", "l": "0.00000000"}]}
    venue.order(quantity="0.1", price="59000", newClientOrderId="r-1")
    events.clear()
    ok(venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="r-1", newClientOrderId="c-1"))
    assert [(e["x"], e["X"], e["c"], e["C"]) for e in events[:1]] == [("CANCELED", "CANCELED", "c-1", "r-1")]


def test_the_market_streams_carry_trades_book_changes_and_tops_with_the_venues_own_update_ids(venue: Venue) -> None:
    events: list = []
    venue.exchange.listen(lambda event: events.append((event.stream, event.payload)) if not event.api_key else None)
    venue.order(quantity="0.1", price="60000.50")                        # a new best bid: one change
    venue.order(type="MARKET", quantity="0.05")                          # takes 0.05 of the best ask
    assert [stream for stream, _ in events] == ["btcusdt@depth", "btcusdt@bookTicker", "btcusdt@trade",
                                                "btcusdt@depth", "btcusdt@bookTicker"]
    depth, top, trade, taken, new_top = (payload for _, payload in events)
    assert (depth["U"], depth["u"], depth["b"], depth["a"]) == (2, 2, [["60000.50000000", "0.10000000"]], [])
    assert top == {"u": 2, "s": "BTCUSDT", "b": "60000.50000000", "B": "0.10000000", "a": "60001.00000000",
                   "A": "0.20000000"}
    assert (trade["p"], trade["q"], trade["m"], trade["t"]) == ("60001.00000000", "0.05000000", False, 1)
    assert (taken["U"], taken["b"], taken["a"]) == (3, [], [["60001.00000000", "0.15000000"]])
    assert (new_top["u"], new_top["A"]) == (3, "0.15000000")
    assert ok(venue.public("/api/v3/depth", symbol="BTCUSDT"))["lastUpdateId"] == 3


# ---------------------------------------------------------------- reconciliation: allOrders, myTrades, cancel-all

def all_orders(venue: Venue, key: str = KEY, secret: str = SECRET, **params: str) -> list[dict]:
    return ok(venue.signed("GET", "/api/v3/allOrders", key, secret, symbol="BTCUSDT", **params))


def my_trades(venue: Venue, **params: str) -> list[dict]:
    return ok(venue.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", **params))


def test_all_orders_lists_every_order_of_the_account_and_symbol_oldest_first_in_query_shape(venue: Venue) -> None:
    taken = venue.order(type="MARKET", quantity="0.1", newClientOrderId="a-taken")
    venue.now_ms += 1_000
    venue.order(quantity="0.1", price="50000", newClientOrderId="a-open")
    venue.order(quantity="0.1", price="50000", newClientOrderId="a-gone")
    venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="a-gone")
    ok(venue.signed("POST", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT", side="BUY", type="LIMIT",
                    timeInForce="GTC", quantity="0.1", price="50000", newClientOrderId="theirs"))
    ok(venue.signed("POST", "/api/v3/order", symbol="LTCBTC", side="BUY", type="LIMIT", timeInForce="GTC",
                    quantity="1", price="0.001", newClientOrderId="other-symbol"))
    orders = all_orders(venue)
    assert [(o["clientOrderId"], o["status"]) for o in orders] == [
        ("a-taken", "FILLED"), ("a-open", "NEW"), ("a-gone", "CANCELED")]
    assert orders[0] == ok(venue.query(orderId=str(taken["orderId"])))       # GET /api/v3/order's shape
    assert [o["time"] for o in orders] == [T0_MS, T0_MS + 1_000, T0_MS + 1_000]
    assert [o["clientOrderId"] for o in all_orders(venue, OTHER_KEY, OTHER_SECRET)] == ["theirs"]


def test_all_orders_from_an_order_id_and_within_times(venue: Venue) -> None:
    ids = []
    for n in range(5):
        ids.append(venue.order(quantity="0.1", price="50000", newClientOrderId=f"t-{n}")["orderId"])
        venue.now_ms += 60_000

    def names(orders: list[dict]) -> list[str]:
        return [o["clientOrderId"] for o in orders]

    assert names(all_orders(venue, orderId=str(ids[2]))) == ["t-2", "t-3", "t-4"]
    assert names(all_orders(venue, orderId=str(ids[1]), limit="2")) == ["t-1", "t-2"]      # oldest from there
    assert names(all_orders(venue, limit="2")) == ["t-3", "t-4"]                            # else the most recent
    assert names(all_orders(venue, startTime=str(T0_MS + 60_000), limit="2")) == ["t-1", "t-2"]
    assert names(all_orders(venue, endTime=str(T0_MS + 120_000), limit="2")) == ["t-1", "t-2"]
    assert names(all_orders(venue, startTime=str(T0_MS + 60_000), endTime=str(T0_MS + 180_000))) == [
        "t-1", "t-2", "t-3"]
    in_microseconds = all_orders(venue, startTime=str((T0_MS + 60_000) * 1_000 + 1))        # just after t-1
    assert names(in_microseconds) == ["t-2", "t-3", "t-4"]


def test_all_orders_refuses_what_binance_refuses(venue: Venue) -> None:
    day = 86_400_000
    assert all_orders(venue, startTime=str(T0_MS - day), endTime=str(T0_MS)) == []          # exactly 24 h
    assert venue.refused(venue.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", startTime=str(T0_MS - day - 1),
                                      endTime=str(T0_MS))) == (
        400, -1127, "More than 24 hours between startTime and endTime.")
    for limit in ("0", "1001"):
        assert venue.refused(venue.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", limit=limit)) == (
            400, -1100, "Illegal characters found in parameter 'limit'; legal range is '1-1000'.")
    assert venue.refused(venue.signed("GET", "/api/v3/allOrders"))[:2] == (400, -1102)
    assert venue.refused(venue.signed("GET", "/api/v3/allOrders", symbol="DOGEUSDT"))[:2] == (400, -1121)
    assert venue.refused(venue.signed("GET", "/api/v3/allOrders", symbol="BTCUSDT", orderId="first"))[:2] == (
        400, -1100)


def test_history_limits_default_to_500_and_reach_1000() -> None:
    venue = Venue(RateLimits(orders_per_10s=1_000))
    for n in range(501):
        venue.order(quantity="0.001", price="50000", newClientOrderId=f"many-{n}")
    assert [o["clientOrderId"] for o in all_orders(venue)][::499] == ["many-1", "many-500"]  # the 500 most recent
    assert len(all_orders(venue, limit="1000")) == 501


def test_my_trades_carry_the_trade_ids_of_the_full_fills_and_of_the_execution_reports(venue: Venue) -> None:
    events = user_events(venue)
    taken = venue.order(type="MARKET", quantity="0.3", newClientOrderId="taker")     # 0.2 @ 60001, 0.1 @ 60002
    resting = venue.order(quantity="0.5", price="59000", newClientOrderId="maker")
    venue.now_ms += 1_000
    venue.update_id += 1
    market_trade = Trade("BTC/USDT", venue.now_ms * 1_000_000, 0, p("59500"), q("1"), Side.SELL)
    venue.exchange.on_book(BookView("BTC/USDT", venue.now_ms * 1_000_000, venue.update_id, BIDS,
                                    ((p("58990"), q("0.2")),), (market_trade,)))   # prints, then our buy fills
    trades = my_trades(venue)
    reported = [e["t"] for e in events if e.get("x") == "TRADE"]
    assert [t["id"] for t in trades] == reported == [f["tradeId"] for f in taken["fills"]] + [4]  # 3: the market's
    assert trades[0] == {
        "symbol": "BTCUSDT", "id": 1, "orderId": taken["orderId"], "orderListId": -1, "price": "60001.00000000",
        "qty": "0.20000000", "quoteQty": "12000.20000000", "commission": "0.00040000", "commissionAsset": "BTC",
        "time": T0_MS, "isBuyer": True, "isMaker": False, "isBestMatch": True}
    maker = trades[2]
    assert (maker["orderId"], maker["price"], maker["qty"], maker["isMaker"], maker["commission"], maker["time"]) == (
        resting["orderId"], "59000.00000000", "0.20000000", True, "0.00020000", T0_MS + 1_000)   # the 0.2 offered
    assert ok(venue.signed("GET", "/api/v3/myTrades", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT")) == []


def test_my_trades_by_order_from_an_id_and_within_times(venue: Venue) -> None:
    first = venue.order(type="MARKET", quantity="0.3")                                # trades 1 and 2
    venue.now_ms += 60_000
    venue.book()
    second = venue.order("SELL", type="MARKET", quantity="0.1")                      # trade 3

    def ids(trades: list[dict]) -> list[int]:
        return [t["id"] for t in trades]

    assert ids(my_trades(venue, orderId=str(first["orderId"]))) == [1, 2]
    assert ids(my_trades(venue, orderId=str(first["orderId"]), fromId="2")) == [2]
    assert ids(my_trades(venue, orderId=str(second["orderId"]))) == [3]
    assert ids(my_trades(venue, fromId="2", limit="1")) == [2]                        # oldest from there
    assert ids(my_trades(venue, limit="2")) == [2, 3]                                 # else the most recent
    assert ids(my_trades(venue, startTime=str(T0_MS + 1))) == [3]
    assert ids(my_trades(venue, endTime=str(T0_MS))) == [1, 2]
    assert ids(my_trades(venue, startTime=str(T0_MS), endTime=str(T0_MS + 60_000), limit="2")) == [1, 2]


@pytest.mark.parametrize("params", [{"fromId": "1", "startTime": str(T0_MS)}, {"fromId": "1", "endTime": str(T0_MS)},
                                    {"orderId": "1", "startTime": str(T0_MS)}, {"orderId": "1", "endTime": str(T0_MS)}])
def test_my_trades_refuses_combinations_binance_does_not_support(venue: Venue, params: dict) -> None:
    assert venue.refused(venue.signed("GET", "/api/v3/myTrades", symbol="BTCUSDT", **params)) == (
        400, -1128, "Combination of optional parameters invalid.")


def test_cancel_all_cancels_every_open_order_of_the_symbol_tells_the_stream_and_frees_the_funds(venue: Venue) -> None:
    partly = venue.order(quantity="0.3", price="60001.50", newClientOrderId="x-partly")   # 0.2 filled, 0.1 rests
    rests = venue.order("SELL", quantity="0.4", price="61000", newClientOrderId="x-rests")
    venue.order(quantity="0.1", type="MARKET")                                              # done: not cancelled
    ok(venue.signed("POST", "/api/v3/order", symbol="LTCBTC", side="BUY", type="LIMIT", timeInForce="GTC",
                    quantity="1", price="0.001", newClientOrderId="x-ltc"))
    ok(venue.signed("POST", "/api/v3/order", OTHER_KEY, OTHER_SECRET, symbol="BTCUSDT", side="BUY", type="LIMIT",
                    timeInForce="GTC", quantity="0.1", price="50000", newClientOrderId="x-theirs"))
    events = user_events(venue)
    venue.now_ms += 1_000
    cancelled = ok(venue.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT"))
    assert [(c["origClientOrderId"], c["orderId"], c["status"], c["executedQty"]) for c in cancelled] == [
        ("x-partly", partly["orderId"], "CANCELED", "0.20000000"), ("x-rests", rests["orderId"], "CANCELED",
                                                                    "0.00000000")]
    assert list(cancelled[0]) == ["symbol", "origClientOrderId", "orderId", "orderListId", "clientOrderId",
                                  "transactTime", "price", "origQty", "executedQty", "origQuoteOrderQty",
                                  "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
                                  "selfTradePreventionMode"]
    cancel_id = cancelled[0]["clientOrderId"]
    assert cancelled[1]["clientOrderId"] == cancel_id and cancelled[0]["transactTime"] == T0_MS + 1_000
    reports = [e for e in events if e.get("e") == "executionReport"]
    assert [(e["x"], e["X"], e["c"], e["C"], e["z"]) for e in reports] == [
        ("CANCELED", "CANCELED", cancel_id, "x-partly", "0.20000000"),
        ("CANCELED", "CANCELED", cancel_id, "x-rests", "0.00000000")]
    assert venue.balances()["USDT"][1] == "0.00000000"
    assert venue.balances()["BTC"][1] == "0.00100000"                    # only what the LTCBTC order holds
    assert [o["clientOrderId"] for o in ok(venue.signed("GET", "/api/v3/openOrders"))] == ["x-ltc"]
    assert len(ok(venue.signed("GET", "/api/v3/openOrders", OTHER_KEY, OTHER_SECRET))) == 1
    assert venue.refused(venue.signed("DELETE", "/api/v3/openOrders", symbol="BTCUSDT")) == (
        400, -2011, "Unknown order sent.")
