"""The sans-IO Binance order codec: exact signed requests, responses into reports, errors into classes."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.binance.orders import (
    PAGE_LIMIT,
    Balance,
    BinanceOrderCodec,
    ErrorClass,
    OrderStatus,
    OrderTrade,
    VenueError,
    VenueOrder,
    classify,
    parse_error,
    parse_exchange_info,
    parse_server_time,
    used_weight,
    venue_order_state,
    venue_order_states,
    venue_order_status,
)
from adapters.binance.signing import Credentials, sign
from engine.messages import (
    CancelRequest,
    ExecType,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
    VenueOrderState,
    VenueOrderStatus,
    VenueTrade,
)
from engine.model.numbers import Instrument

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
TS = 1_499_827_319_559
CODEC = BinanceOrderCodec(Credentials(KEY, SECRET), [BTC])
OK: dict[str, str] = {}


def new(order_type: OrderType = OrderType.LIMIT, tif: TimeInForce = TimeInForce.GTC, qty: int = 1_000,
        price: int = 6_000_010, side: Side = Side.BUY) -> NewOrderRequest:
    return NewOrderRequest("c-1", "binance", "BTC/USDT", side, qty, price, order_type, tif, ts_ns=42)


def body(data: object) -> bytes:
    return orjson.dumps(data)


# ---------------------------------------------------------------- requests

def test_limit_order_is_a_signed_form_post_with_exact_numbers_and_our_client_order_id() -> None:
    request = CODEC.new_order(new(), TS)
    unsigned = ("symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01000&price=60000.10"
                f"&newClientOrderId=c-1&newOrderRespType=FULL&recvWindow=5000&timestamp={TS}")
    assert (request.method, request.path, request.query, request.mutates) == ("POST", "/api/v3/order", "", True)
    assert request.body == f"{unsigned}&signature={sign(SECRET, unsigned)}"
    assert dict(request.headers) == {"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(("order_type", "absent", "present"), [
    (OrderType.MARKET, {"timeInForce", "price"}, {"quantity"}),
    (OrderType.LIMIT_MAKER, {"timeInForce"}, {"quantity", "price"}),
])
def test_market_and_limit_maker_send_only_the_parameters_binance_allows(order_type, absent, present) -> None:
    params = dict(parse_qsl(CODEC.new_order(new(order_type), TS).body))
    assert not absent & params.keys() and present <= params.keys()
    assert params["type"] == order_type.value


@pytest.mark.parametrize(("order_type", "stop", "trailing", "expected"), [
    (OrderType.STOP_LOSS, 5_900_000, 0, {"stopPrice": "59000.00"}),
    (OrderType.STOP_LOSS, 0, 25, {"trailingDelta": "25"}),
    (OrderType.STOP_LOSS_LIMIT, 5_900_000, 0, {"stopPrice": "59000.00", "price": "60000.10", "timeInForce": "GTC"}),
    (OrderType.TAKE_PROFIT, 6_100_000, 0, {"stopPrice": "61000.00"}),
    (OrderType.TAKE_PROFIT_LIMIT, 6_100_000, 0, {"stopPrice": "61000.00", "price": "60000.10", "timeInForce": "GTC"}),
])
def test_stop_and_take_profit_orders_carry_their_trigger_and_only_the_parameters_of_their_form(
        order_type, stop, trailing, expected) -> None:
    """The market forms (STOP_LOSS, TAKE_PROFIT) send neither price nor timeInForce; the limit forms both."""
    req = dataclasses.replace(new(order_type), stop_price=stop, trailing_bps=trailing)
    params = dict(parse_qsl(CODEC.new_order(req, TS).body))
    optional = {"stopPrice", "trailingDelta", "price", "timeInForce"}
    assert {k: v for k, v in params.items() if k in optional} == expected
    assert params["type"] == order_type.value


def test_reads_and_cancel_are_signed_in_the_query_string() -> None:
    cancel = CODEC.cancel(CancelRequest("c-1", "binance", "BTC/USDT", ts_ns=0), TS)
    query = CODEC.query_order("BTC/USDT", "c-1", TS)
    open_orders = CODEC.open_orders("BTC/USDT", TS)
    account = CODEC.account(TS)
    assert [(r.method, r.path, r.mutates, r.body) for r in (cancel, query, open_orders, account)] == [
        ("DELETE", "/api/v3/order", True, ""), ("GET", "/api/v3/order", False, ""),
        ("GET", "/api/v3/openOrders", False, ""), ("GET", "/api/v3/account", False, "")]
    unsigned, signature = query.query.rsplit("&signature=", 1)
    assert unsigned == f"symbol=BTCUSDT&origClientOrderId=c-1&recvWindow=5000&timestamp={TS}"
    assert signature == sign(SECRET, unsigned)
    assert dict(parse_qsl(account.query))["omitZeroBalances"] == "true"
    assert dict(parse_qsl(open_orders.query))["symbol"] == "BTCUSDT"


def test_the_secret_is_in_no_request_and_no_repr() -> None:
    request = CODEC.new_order(new(), TS)
    assert SECRET not in repr(request) and SECRET not in repr(CODEC)


def test_an_instrument_the_codec_was_not_given_is_refused() -> None:
    with pytest.raises(KeyError):
        CODEC.query_order("ETH/USDT", "c-1", TS)


@given(qty=st.integers(1, 10**12), price=st.integers(1, 10**12))
def test_quantities_and_prices_are_sent_exactly(qty: int, price: int) -> None:
    params = dict(parse_qsl(CODEC.new_order(new(qty=qty, price=price), TS).body))
    assert BTC.qty(params["quantity"]) == qty and BTC.price(params["price"]) == price


# ---------------------------------------------------------------- responses

def full_response(status: str, fills: list[dict], executed: str, order_type: str = "MARKET") -> bytes:
    return body({"symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "c-1",
                 "transactTime": 1507725176595, "price": "0.00", "origQty": "0.03000", "executedQty": executed,
                 "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "0.00000000", "status": status,
                 "timeInForce": "GTC", "type": order_type, "side": "BUY", "workingTime": 1507725176595,
                 "selfTradePreventionMode": "NONE", "fills": fills})


FILLS = [{"price": "60000.10", "qty": "0.01000", "commission": "0.00001000", "commissionAsset": "BTC", "tradeId": 56},
         {"price": "60000.20", "qty": "0.02000", "commission": "0.00002000", "commissionAsset": "BTC", "tradeId": 57}]


def test_full_response_of_a_filled_order_is_new_then_one_trade_per_fill() -> None:
    reports = CODEC.parse_new_order(new(OrderType.MARKET), 200, OK, full_response("FILLED", FILLS, "0.03000"))
    assert [r.exec_type for r in reports] == [ExecType.NEW, ExecType.TRADE, ExecType.TRADE]
    assert [(r.last_price, r.last_qty, r.cum_qty) for r in reports] == [
        (0, 0, 0), (6_000_010, 1_000, 1_000), (6_000_020, 2_000, 3_000)]
    trade = reports[1]
    assert (trade.fee, trade.fee_asset, trade.liquidity) == (Decimal("0.00001000"), "BTC", Liquidity.TAKER)
    assert all(r.venue_order_id == "28" and r.ts_ns == 1507725176595_000_000 and r.client_order_id == "c-1"
               for r in reports)
    assert [r.trade_id for r in reports] == ["", "56", "57"]        # each fill under the venue's trade id


@pytest.mark.parametrize(("status", "last"), [("EXPIRED", ExecType.EXPIRED), ("EXPIRED_IN_MATCH", ExecType.EXPIRED),
                                              ("CANCELED", ExecType.CANCELED)])
def test_a_remainder_that_did_not_rest_ends_the_reports(status: str, last: ExecType) -> None:
    reports = CODEC.parse_new_order(new(OrderType.MARKET), 200, OK, full_response(status, FILLS[:1], "0.01000"))
    assert [r.exec_type for r in reports] == [ExecType.NEW, ExecType.TRADE, last]
    assert reports[-1].cum_qty == 1_000


def test_a_resting_order_is_one_new_report() -> None:
    reports = CODEC.parse_new_order(new(), 200, OK, full_response("NEW", [], "0.00000", "LIMIT"))
    assert [r.exec_type for r in reports] == [ExecType.NEW]


def test_a_refused_order_is_a_rejected_report_with_binance_reason() -> None:
    refusal = body({"code": -2010, "msg": "Account has insufficient balance for requested action."})
    [report] = CODEC.parse_new_order(new(), 400, OK, refusal)
    assert (report.exec_type, report.reason, report.cum_qty, report.ts_ns) == (
        ExecType.REJECTED, "Account has insufficient balance for requested action.", 0, 42)


@pytest.mark.parametrize(("status", "payload", "error_class"), [
    (503, b"<html>Service Unavailable</html>", ErrorClass.UNKNOWN),
    (500, body({"code": -1006, "msg": "An unexpected response was received from the message bus."}),
     ErrorClass.UNKNOWN),
    (400, body({"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}),
     ErrorClass.RETRY_SAFE),
    (400, body({"code": -1022, "msg": "Signature for this request is not valid."}), ErrorClass.FATAL_AUTH),
    (200, b"{not json", ErrorClass.UNKNOWN),
    (200, full_response("FILLED", FILLS[:1], "0.03000"), ErrorClass.UNKNOWN),  # fills do not add up
])
def test_a_new_order_whose_outcome_cannot_be_read_is_never_reported_as_failed(status, payload, error_class) -> None:
    error = CODEC.parse_new_order(new(), status, OK, payload)
    assert isinstance(error, VenueError) and error.error_class is error_class


def test_cancel_response_is_one_canceled_report_with_the_venue_cumulative_fill() -> None:
    response = body({"symbol": "BTCUSDT", "origClientOrderId": "c-1", "orderId": 4, "orderListId": -1,
                     "clientOrderId": "cancel-1", "transactTime": 1684804350068, "price": "60000.10",
                     "origQty": "0.03000", "executedQty": "0.01000", "cummulativeQuoteQty": "600.00100000",
                     "status": "CANCELED", "timeInForce": "GTC", "type": "LIMIT", "side": "BUY",
                     "selfTradePreventionMode": "NONE"})
    [report] = CODEC.parse_cancel(CancelRequest("c-1", "binance", "BTC/USDT", 0), 200, OK, response)
    assert (report.exec_type, report.cum_qty, report.venue_order_id, report.client_order_id) == (
        ExecType.CANCELED, 1_000, "4", "c-1")
    unknown = CODEC.parse_cancel(CancelRequest("c-1", "binance", "BTC/USDT", 0), 400, OK,
                                 body({"code": -2011, "msg": "Unknown order sent."}))
    assert unknown == VenueError(ErrorClass.NOT_FOUND, 400, -2011, "Unknown order sent.")


QUERIED = {"symbol": "BTCUSDT", "orderId": 1, "orderListId": -1, "clientOrderId": "c-1", "price": "60000.10",
           "origQty": "0.03000", "executedQty": "0.01000", "cummulativeQuoteQty": "600.00100000",
           "status": "PARTIALLY_FILLED", "timeInForce": "GTC", "type": "LIMIT", "side": "SELL",
           "stopPrice": "0.00", "icebergQty": "0.00000", "time": 1499827319559, "updateTime": 1499827319560,
           "isWorking": True, "workingTime": 1499827319559, "origQuoteOrderQty": "0.00000000",
           "selfTradePreventionMode": "NONE"}
VENUE_ORDER = VenueOrder("BTC/USDT", "c-1", "1", OrderStatus.PARTIALLY_FILLED, Side.SELL, 6_000_010, 3_000, 1_000,
                         Decimal("600.001"), 1499827319559_000_000, 1499827319560_000_000)


def test_query_and_open_orders_become_venue_orders() -> None:
    assert CODEC.parse_order(200, OK, body(QUERIED)) == VENUE_ORDER
    assert CODEC.parse_orders(200, OK, body([QUERIED, QUERIED])) == [VENUE_ORDER, VENUE_ORDER]
    assert VENUE_ORDER.status.is_open and not OrderStatus.CANCELED.is_open
    missing = CODEC.parse_order(400, OK, body({"code": -2013, "msg": "Order does not exist."}))
    assert isinstance(missing, VenueError) and missing.error_class is ErrorClass.NOT_FOUND


@pytest.mark.parametrize("broken", [{**QUERIED, "status": "SOMETHING"}, {**QUERIED, "symbol": "ETHUSDT"},
                                    {**QUERIED, "price": "60000.123"}, {**QUERIED, "orderId": "1"}])
def test_a_malformed_read_is_retry_safe_and_says_what_is_wrong(broken: dict) -> None:
    error = CODEC.parse_order(200, OK, body(broken))
    assert isinstance(error, VenueError) and error.error_class is ErrorClass.RETRY_SAFE
    assert error.message.startswith("malformed response:")


def test_account_becomes_balances_by_asset() -> None:
    response = body({"accountType": "SPOT", "balances": [{"asset": "BTC", "free": "1.5", "locked": "0.25"},
                                                         {"asset": "USDT", "free": "10.00000000", "locked": "0"}]})
    balances = CODEC.parse_account(200, OK, response)
    assert balances == {"BTC": Balance(Decimal("1.5"), Decimal("0.25")), "USDT": Balance(Decimal(10), Decimal(0))}
    assert balances["BTC"].total == Decimal("1.75")


def test_exchange_info_gives_instruments_from_metadata_in_units_that_parse_its_numbers_exactly() -> None:
    info = {"symbols": [{"symbol": "1000PEPEUSDT", "baseAsset": "1000PEPE", "quoteAsset": "USDT", "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.00000010", "maxPrice": "1.00000000", "tickSize": "0.00000010"},
        {"filterType": "LOT_SIZE", "minQty": "1.00000000", "maxQty": "9000000.00000000", "stepSize": "1.00000000"},
    ]}]}
    [pepe] = parse_exchange_info(200, OK, body(info))
    assert pepe == Instrument("1000PEPE/USDT", "binance", "1000PEPEUSDT", "1000PEPE", "USDT", price_decimals=8,
                              qty_decimals=8, tick_size=10, lot_size=100_000_000)
    no_lot = {"symbols": [{**info["symbols"][0], "filters": info["symbols"][0]["filters"][:1]}]}
    assert isinstance(parse_exchange_info(200, OK, body(no_lot)), VenueError)


def test_server_time_and_used_weight() -> None:
    assert parse_server_time(200, OK, b'{"serverTime":1499827319559}') == 1499827319559
    assert used_weight({"x-mbx-used-weight-1m": "31"}) == 31
    assert used_weight({}) is None


# ---------------------------------------------------------------- error classes

@pytest.mark.parametrize(("status", "code", "error_class"), [
    (400, -1013, ErrorClass.REJECTED), (400, -1100, ErrorClass.REJECTED), (400, -1121, ErrorClass.REJECTED),
    (400, -2010, ErrorClass.REJECTED), (400, -1111, ErrorClass.REJECTED),
    (429, -1003, ErrorClass.RETRY_SAFE), (418, -1003, ErrorClass.RETRY_SAFE), (429, -1015, ErrorClass.RETRY_SAFE),
    (400, -1021, ErrorClass.RETRY_SAFE), (503, -1008, ErrorClass.RETRY_SAFE), (403, None, ErrorClass.RETRY_SAFE),
    (400, -1022, ErrorClass.FATAL_AUTH), (401, -2014, ErrorClass.FATAL_AUTH), (401, -2015, ErrorClass.FATAL_AUTH),
    (400, -2011, ErrorClass.NOT_FOUND), (400, -2013, ErrorClass.NOT_FOUND),
    (500, None, ErrorClass.UNKNOWN), (502, -1234, ErrorClass.UNKNOWN), (400, -1006, ErrorClass.UNKNOWN),
    (400, -1007, ErrorClass.UNKNOWN), (400, -1000, ErrorClass.UNKNOWN), (400, -1001, ErrorClass.UNKNOWN),
    (404, None, ErrorClass.REJECTED),
])
def test_error_classes_follow_venues_md(status: int, code: int | None, error_class: ErrorClass) -> None:
    assert classify(status, code) is error_class


def test_parse_error_reads_code_message_and_retry_after() -> None:
    error = parse_error(429, {"Retry-After": "17"}, body({"code": -1003, "msg": "Too much request weight used"}))
    assert error == VenueError(ErrorClass.RETRY_SAFE, 429, -1003, "Too much request weight used", 17)
    assert parse_error(200, OK, b"{}") is None
    assert parse_error(502, OK, b"Bad Gateway") == VenueError(ErrorClass.UNKNOWN, 502, None, "HTTP 502")


@pytest.mark.parametrize(("status", "code"), [(400, -1022), (401, -2014), (401, -2015)])
def test_auth_refusals_stay_fatal_and_never_become_rejected_orders(status: int, code: int) -> None:
    refusal = body({"code": code, "msg": "refused"})
    cancel = CancelRequest("c-1", "binance", "BTC/USDT", 0)
    for answer in (CODEC.parse_new_order(new(), status, OK, refusal), CODEC.parse_cancel(cancel, status, OK, refusal),
                   CODEC.parse_cancel_open_orders(status, OK, refusal), CODEC.parse_my_trades(status, OK, refusal)):
        assert answer == VenueError(ErrorClass.FATAL_AUTH, status, code, "refused")


# ---------------------------------------------------------------- reconciliation: allOrders, myTrades, cancel-all

def signed_params(query: str) -> list[tuple[str, str]]:
    unsigned, signature = query.rsplit("&signature=", 1)
    assert signature == sign(SECRET, unsigned)
    return parse_qsl(unsigned)


def test_history_requests_ask_for_full_pages_signed_in_the_query_string() -> None:
    first = CODEC.all_orders("BTC/USDT", 1_499_000_000_000, TS)
    following = CODEC.all_orders("BTC/USDT", None, TS, order_id=1_001)
    trades = CODEC.my_trades("BTC/USDT", TS, order_id=7, from_id=0)
    since = CODEC.my_trades("BTC/USDT", TS, start_ms=1_499_000_000_000)
    assert [(r.method, r.path, r.mutates, r.body) for r in (first, trades)] == [
        ("GET", "/api/v3/allOrders", False, ""), ("GET", "/api/v3/myTrades", False, "")]
    assert signed_params(first.query) == [("symbol", "BTCUSDT"), ("startTime", "1499000000000"), ("limit", "1000"),
                                          ("recvWindow", "5000"), ("timestamp", str(TS))]
    assert dict(signed_params(following.query)).items() >= {("orderId", "1001"), ("limit", str(PAGE_LIMIT))}
    assert "startTime" not in dict(signed_params(following.query))
    assert dict(signed_params(trades.query)).items() >= {("orderId", "7"), ("fromId", "0"), ("limit", "1000")}
    assert dict(signed_params(since.query)).keys() == {"symbol", "startTime", "limit", "recvWindow", "timestamp"}


@pytest.mark.parametrize("params", [{"start_ms": 1, "from_id": 0}, {"start_ms": 1, "order_id": 7}])
def test_my_trades_combinations_binance_refuses_are_refused_before_sending(params: dict) -> None:
    with pytest.raises(ValueError):
        CODEC.my_trades("BTC/USDT", TS, **params)


def test_cancel_all_is_a_signed_delete_that_may_change_orders() -> None:
    request = CODEC.cancel_open_orders("BTC/USDT", TS)
    assert (request.method, request.path, request.mutates, request.body) == ("DELETE", "/api/v3/openOrders", True, "")
    assert signed_params(request.query)[0] == ("symbol", "BTCUSDT")


# Binance's myTrades example (rest-api.md), on BTCUSDT's decimals; the id past 2**53
MY_TRADE = {"symbol": "BTCUSDT", "id": 9_007_199_254_740_993, "orderId": 100234, "orderListId": -1,
            "price": "60000.10", "qty": "0.01200", "quoteQty": "720.0012", "commission": "0.00001200",
            "commissionAsset": "BTC", "time": 1499865549590, "isBuyer": True, "isMaker": False, "isBestMatch": True}


def test_my_trades_become_our_fills_under_the_venues_trade_ids() -> None:
    maker = {**MY_TRADE, "id": 28457, "orderId": 100235, "isMaker": True, "commission": "0.36000006",
             "commissionAsset": "USDT"}
    assert CODEC.parse_my_trades(200, OK, body([MY_TRADE, maker])) == [
        OrderTrade("100234", VenueTrade("9007199254740993", 1_200, 6_000_010, Decimal("0.000012"), "BTC",
                                        Liquidity.TAKER, 1499865549590_000_000)),
        OrderTrade("100235", VenueTrade("28457", 1_200, 6_000_010, Decimal("0.36000006"), "USDT", Liquidity.MAKER,
                                        1499865549590_000_000))]


@pytest.mark.parametrize("broken", [{**MY_TRADE, "isMaker": "false"}, {**MY_TRADE, "id": "28457"},
                                    {**MY_TRADE, "symbol": "ETHUSDT"}, {**MY_TRADE, "commission": "NaN"},
                                    {**MY_TRADE, "qty": "0.000001"}])
def test_a_malformed_trade_is_a_retry_safe_read_error(broken: dict) -> None:
    error = CODEC.parse_my_trades(200, OK, body([broken]))
    assert isinstance(error, VenueError) and error.error_class is ErrorClass.RETRY_SAFE


# Binance's cancel-all example (rest-api.md), on BTCUSDT's decimals: two orders, then an order list
CANCELLED = {"symbol": "BTCUSDT", "origClientOrderId": "E6APeyTJvkMvLMYMqu1KQ4", "orderId": 11, "orderListId": -1,
             "clientOrderId": "pXLV6Hz6mprAcVYpVMTGgx", "transactTime": 1684804350068, "price": "60000.10",
             "origQty": "0.03000", "executedQty": "0.01000", "origQuoteOrderQty": "0.000000",
             "cummulativeQuoteQty": "600.001", "status": "CANCELED", "timeInForce": "GTC", "type": "LIMIT",
             "side": "BUY", "selfTradePreventionMode": "NONE"}
ORDER_LIST = {"orderListId": 1929, "contingencyType": "OCO", "listStatusType": "ALL_DONE",
              "listOrderStatus": "ALL_DONE", "listClientOrderId": "2inzWQdDvZLHbbAmAozX2N",
              "transactionTime": 1585230948299, "symbol": "BTCUSDT",
              "orders": [{"symbol": "BTCUSDT", "orderId": 20, "clientOrderId": "CwOOIPHSmYywx6jZX77TdL"}],
              "orderReports": [{**CANCELLED, "origClientOrderId": "CwOOIPHSmYywx6jZX77TdL", "orderId": 20,
                                "orderListId": 1929, "transactTime": 1688005070874, "executedQty": "0.00000"}]}


def test_cancel_all_is_one_canceled_report_per_order_under_its_own_client_id() -> None:
    second = {**CANCELLED, "origClientOrderId": "A3EF2HCwxgZPFMrfwbgrhv", "orderId": 13, "executedQty": "0.00000"}
    reports = CODEC.parse_cancel_open_orders(200, OK, body([CANCELLED, second, ORDER_LIST]))
    assert [(r.client_order_id, r.venue_order_id, r.exec_type, r.cum_qty, r.ts_ns) for r in reports] == [
        ("E6APeyTJvkMvLMYMqu1KQ4", "11", ExecType.CANCELED, 1_000, 1684804350068_000_000),
        ("A3EF2HCwxgZPFMrfwbgrhv", "13", ExecType.CANCELED, 0, 1684804350068_000_000),
        ("CwOOIPHSmYywx6jZX77TdL", "20", ExecType.CANCELED, 0, 1688005070874_000_000)]


def test_cancel_all_with_nothing_open_is_no_report_and_a_lost_answer_is_unknown() -> None:
    assert CODEC.parse_cancel_open_orders(400, OK, body({"code": -2011, "msg": "Unknown order sent."})) == []
    lost = CODEC.parse_cancel_open_orders(503, OK, b"Service Unavailable")
    assert isinstance(lost, VenueError) and lost.error_class is ErrorClass.UNKNOWN
    garbled = CODEC.parse_cancel_open_orders(200, OK, body([{**CANCELLED, "orderId": "11"}]))
    assert isinstance(garbled, VenueError) and garbled.error_class is ErrorClass.UNKNOWN


@pytest.mark.parametrize(("status", "common"), [
    (OrderStatus.NEW, VenueOrderStatus.OPEN), (OrderStatus.PENDING_NEW, VenueOrderStatus.OPEN),
    (OrderStatus.PARTIALLY_FILLED, VenueOrderStatus.OPEN), (OrderStatus.PENDING_CANCEL, VenueOrderStatus.OPEN),
    (OrderStatus.FILLED, VenueOrderStatus.FILLED), (OrderStatus.CANCELED, VenueOrderStatus.CANCELLED),
    (OrderStatus.EXPIRED, VenueOrderStatus.EXPIRED), (OrderStatus.EXPIRED_IN_MATCH, VenueOrderStatus.EXPIRED),
    (OrderStatus.REJECTED, VenueOrderStatus.REJECTED)])
def test_every_binance_status_has_its_common_word(status: OrderStatus, common: VenueOrderStatus) -> None:
    assert venue_order_status(status) is common
    assert (common is VenueOrderStatus.OPEN) == status.is_open


def trade(trade_id: str, qty: int) -> VenueTrade:
    return VenueTrade(trade_id, qty, 6_000_010, Decimal("0.00001"), "BTC", Liquidity.MAKER, 0)


def test_an_orders_state_has_its_fills_oldest_first_and_says_whether_they_add_up() -> None:
    state = venue_order_state(VENUE_ORDER, [trade("10", 400), trade("9", 600)])       # executed 1_000
    assert state == VenueOrderState("c-1", "1", "BTC/USDT", Side.SELL, 3_000, 6_000_010, VenueOrderStatus.OPEN, 1_000,
                                    (trade("9", 600), trade("10", 400)), trades_complete=True)
    assert [t.trade_id for t in venue_order_state(VENUE_ORDER, [trade("10", 1), trade("9", 1)]).trades] == ["9", "10"]
    assert not venue_order_state(VENUE_ORDER, [trade("9", 600)]).trades_complete
    assert not venue_order_state(VENUE_ORDER, [trade("9", 600), trade("10", 600)]).trades_complete


def test_states_of_several_orders_take_each_its_own_fills() -> None:
    other = VenueOrder("BTC/USDT", "c-2", "2", OrderStatus.FILLED, Side.BUY, 6_000_010, 500, 500, Decimal("300"), 0, 0)
    fills = [OrderTrade("2", trade("12", 500)), OrderTrade("1", trade("11", 1_000)), OrderTrade("3", trade("13", 1))]
    first, second = venue_order_states([VENUE_ORDER, other], fills)
    assert [t.trade_id for t in first.trades] == ["11"] and first.trades_complete
    assert (second.status, [t.trade_id for t in second.trades], second.trades_complete) == (
        VenueOrderStatus.FILLED, ["12"], True)
