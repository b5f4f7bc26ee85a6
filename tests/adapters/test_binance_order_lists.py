"""The sans-IO Binance codec for OCO order lists: the request (legs placed above and below as Binance requires),
its response and the list cancel's into each leg's reports, and the user stream's listStatus events, on frames
shaped as rest-api.md and user-data-stream.md show them."""
from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
import pytest

from adapters.binance.orders import BinanceOrderCodec, ErrorClass, VenueError, oco_places
from adapters.binance.signing import Credentials, sign
from adapters.binance.user_stream import ListStatus, parse_list_status
from engine.messages import ExecType, NewOrderRequest, OrderType, Side, TimeInForce
from tests.adapters.test_binance_orders import BTC, KEY, SECRET, TS

CODEC = BinanceOrderCodec(Credentials(KEY, SECRET), [BTC])
STOP = NewOrderRequest("e-1.stop", "binance", "BTC/USDT", Side.SELL, 1_000, 0, OrderType.STOP_LOSS, TimeInForce.GTC,
                       ts_ns=42, stop_price=5_900_000, list_id="e-1")
TAKE = NewOrderRequest("e-1.take_profit", "binance", "BTC/USDT", Side.SELL, 1_000, 6_100_000,
                       OrderType.TAKE_PROFIT_LIMIT, TimeInForce.GTC, ts_ns=42, stop_price=6_100_000, list_id="e-1")


def leg_report(client_order_id: str, order_id: int, order_type: str, status: str = "NEW", **extra) -> dict:
    return {"symbol": "BTCUSDT", "orderId": order_id, "orderListId": 7, "clientOrderId": client_order_id,
            "transactTime": 1_710_485_608_839, "price": "0.00", "origQty": "0.01000", "executedQty": "0.00000",
            "origQuoteOrderQty": "0.00000000", "cummulativeQuoteQty": "0.00000000", "status": status,
            "timeInForce": "GTC", "type": order_type, "side": "SELL", "stopPrice": "59000.00",
            "workingTime": -1, "selfTradePreventionMode": "NONE", **extra}


def list_answer(reports: list[dict], status: str = "EXEC_STARTED", order_status: str = "EXECUTING") -> bytes:
    return orjson.dumps({
        "orderListId": 7, "contingencyType": "OCO", "listStatusType": status, "listOrderStatus": order_status,
        "listClientOrderId": "e-1", "transactionTime": 1_710_485_608_839, "symbol": "BTCUSDT",
        "orders": [{"symbol": "BTCUSDT", "orderId": r["orderId"], "clientOrderId": r["clientOrderId"]}
                   for r in reports],
        "orderReports": reports})


def test_a_sell_oco_puts_the_take_profit_above_and_the_stop_below_in_one_signed_request() -> None:
    request = CODEC.new_oco((STOP, TAKE), TS)
    unsigned = ("symbol=BTCUSDT&listClientOrderId=e-1&side=SELL&quantity=0.01000"
                "&aboveType=TAKE_PROFIT_LIMIT&aboveClientOrderId=e-1.take_profit&abovePrice=61000.00"
                "&aboveStopPrice=61000.00&aboveTimeInForce=GTC"
                "&belowType=STOP_LOSS&belowClientOrderId=e-1.stop&belowStopPrice=59000.00"
                f"&newOrderRespType=FULL&recvWindow=5000&timestamp={TS}")
    assert (request.method, request.path, request.mutates) == ("POST", "/api/v3/orderList/oco", True)
    assert request.body == f"{unsigned}&signature={sign(SECRET, unsigned)}"


def test_a_buy_oco_puts_the_stop_above_and_a_trailing_stop_sends_its_delta() -> None:
    stop = NewOrderRequest("s", "binance", "BTC/USDT", Side.BUY, 1_000, 0, OrderType.STOP_LOSS, TimeInForce.GTC, 1,
                           trailing_bps=25, list_id="L")
    take = NewOrderRequest("t", "binance", "BTC/USDT", Side.BUY, 1_000, 5_800_000, OrderType.LIMIT_MAKER,
                           TimeInForce.GTC, 1, list_id="L")
    assert oco_places((take, stop)) == (stop, take)
    params = dict(parse_qsl(CODEC.new_oco((take, stop), TS).body))
    assert (params["aboveType"], params["aboveTrailingDelta"], params["belowType"], params["belowPrice"]) == \
        ("STOP_LOSS", "25", "LIMIT_MAKER", "58000.00")
    assert not {"aboveStopPrice", "abovePrice", "aboveTimeInForce", "belowTimeInForce", "belowStopPrice"} & \
        params.keys()


OTHER_QTY = NewOrderRequest("x", "binance", "BTC/USDT", Side.SELL, 2_000, 6_100_000, OrderType.TAKE_PROFIT_LIMIT,
                            TimeInForce.GTC, 42, 6_100_000, list_id="e-1")


@pytest.mark.parametrize("legs", [(STOP,), (STOP, STOP), (STOP, OTHER_QTY)])
def test_legs_that_are_not_an_oco_pair_are_refused_before_anything_is_sent(legs) -> None:
    with pytest.raises(ValueError):
        CODEC.new_oco(legs, TS)


def test_the_response_becomes_each_legs_new_report_and_a_refusal_rejects_both() -> None:
    answer = list_answer([leg_report("e-1.stop", 10, "STOP_LOSS"),
                          leg_report("e-1.take_profit", 11, "TAKE_PROFIT_LIMIT", price="61000.00")])
    reports = CODEC.parse_new_oco((STOP, TAKE), 200, {}, answer)
    assert [(r.client_order_id, r.venue_order_id, r.exec_type) for r in reports] == \
        [("e-1.stop", "10", ExecType.NEW), ("e-1.take_profit", "11", ExecType.NEW)]
    assert reports[0].ts_ns == 1_710_485_608_839 * 1_000_000
    refused = CODEC.parse_new_oco((STOP, TAKE), 400, {}, orjson.dumps(
        {"code": -2010, "msg": "The relationship of the prices for the orders is not correct."}))
    assert [(r.client_order_id, r.exec_type, r.reason) for r in refused] == [
        ("e-1.stop", ExecType.REJECTED, "The relationship of the prices for the orders is not correct."),
        ("e-1.take_profit", ExecType.REJECTED, "The relationship of the prices for the orders is not correct.")]


def test_a_response_that_is_not_the_list_sent_is_unknown_never_guessed() -> None:
    wrong = list_answer([leg_report("someone-else", 10, "STOP_LOSS"), leg_report("e-1.take_profit", 11,
                                                                                 "TAKE_PROFIT_LIMIT")])
    error = CODEC.parse_new_oco((STOP, TAKE), 200, {}, wrong)
    assert isinstance(error, VenueError) and error.error_class is ErrorClass.UNKNOWN
    assert CODEC.parse_new_oco((STOP, TAKE), 503, {}, b"").error_class is ErrorClass.UNKNOWN


def test_cancelling_a_list_is_one_request_and_its_answer_cancels_each_leg() -> None:
    request = CODEC.cancel_order_list("BTC/USDT", "e-1", TS)
    assert (request.method, request.path) == ("DELETE", "/api/v3/orderList")
    assert dict(parse_qsl(request.query))["listClientOrderId"] == "e-1"
    answer = list_answer([leg_report("cancel-9", 10, "STOP_LOSS", "CANCELED", origClientOrderId="e-1.stop"),
                          leg_report("cancel-9", 11, "TAKE_PROFIT_LIMIT", "CANCELED",
                                     origClientOrderId="e-1.take_profit", executedQty="0.00400")],
                         "ALL_DONE", "ALL_DONE")
    reports = CODEC.parse_cancel_order_list(200, {}, answer)
    assert [(r.client_order_id, r.exec_type, r.cum_qty) for r in reports] == \
        [("e-1.stop", ExecType.CANCELED, 0), ("e-1.take_profit", ExecType.CANCELED, 400)]
    done = CODEC.parse_cancel_order_list(400, {}, orjson.dumps({"code": -2011, "msg": "Unknown order sent."}))
    assert done.error_class is ErrorClass.NOT_FOUND


def test_list_status_events_are_read_and_other_events_are_not() -> None:
    event = {"e": "listStatus", "E": 1_564_035_303_637, "s": "BTCUSDT", "g": 2, "c": "OCO", "l": "ALL_DONE",
             "L": "ALL_DONE", "r": "NONE", "C": "e-1", "T": 1_564_035_303_625,
             "O": [{"s": "BTCUSDT", "i": 17, "c": "e-1.stop"}, {"s": "BTCUSDT", "i": 18, "c": "e-1.take_profit"}]}
    instruments = {"BTCUSDT": BTC}
    assert parse_list_status(event, instruments) == ListStatus(2, "e-1", "OCO", "ALL_DONE", "ALL_DONE", "NONE",
                                                               ("e-1.stop", "e-1.take_profit"),
                                                               1_564_035_303_625 * 1_000_000)
    rejected = parse_list_status(event | {"l": "RESPONSE", "L": "REJECT", "r": "OCO_BAD_PRICES"}, instruments)
    assert (rejected.order_status, rejected.reject_reason) == ("REJECT", "OCO_BAD_PRICES")
    assert parse_list_status(event | {"s": "ETHBTC"}, instruments) is None
    assert parse_list_status({"e": "executionReport"}, instruments) is None
