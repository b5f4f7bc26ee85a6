"""The sans-IO Binance order codec: exact signed requests, responses into reports, errors into classes."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.binance.orders import (
    Balance,
    BinanceOrderCodec,
    ErrorClass,
    OrderStatus,
    VenueError,
    VenueOrder,
    classify,
    parse_error,
    parse_exchange_info,
    parse_server_time,
    used_weight,
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
    assert CODEC.parse_open_orders(200, OK, body([QUERIED, QUERIED])) == [VENUE_ORDER, VENUE_ORDER]
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
