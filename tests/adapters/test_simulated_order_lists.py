"""The simulated Binance exchange's stops, take-profits and OCO order lists, as pure code: Binance's parameter rules
and codes, triggers on the venue's own book, one leg ending the other, funds held once, and the user stream's
executionReport (with the list id) and listStatus events."""
from __future__ import annotations

import pytest

from tests.adapters.test_simulated_exchange import ASKS, BIDS, KEY, Venue, ok, p, q, user_events

OCO = "/api/v3/orderList/oco"


@pytest.fixture
def venue() -> Venue:
    venue = Venue()
    venue.book()      # bid 60000, ask 60001
    return venue


def sell_oco(venue: Venue, **params: str):
    request = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "listClientOrderId": "bracket-1",
               "aboveType": "TAKE_PROFIT_LIMIT", "abovePrice": "60100", "aboveStopPrice": "60100",
               "aboveTimeInForce": "GTC", "aboveClientOrderId": "tp-1",
               "belowType": "STOP_LOSS", "belowStopPrice": "59900", "belowClientOrderId": "sl-1", **params}
    return venue.signed("POST", OCO, **{k: v for k, v in request.items() if v != ""})


def lower(venue: Venue, bid: str, ask: str) -> None:
    """Move the market: one level each side at these prices."""
    venue.book(bids=((p(bid), q("2")),), asks=((p(ask), q("2")),))


@pytest.mark.parametrize("params, code, msg", [
    ({"type": "STOP_LOSS", "stopPrice": "59000", "price": "59000"}, -1106,
     "Parameter 'price' sent when not required."),
    ({"type": "STOP_LOSS", "stopPrice": "59000", "timeInForce": "GTC"}, -1106,
     "Parameter 'timeInForce' sent when not required."),
    ({"type": "STOP_LOSS_LIMIT", "stopPrice": "59000", "price": "58900"}, -1102,
     "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
    ({"type": "TAKE_PROFIT"}, -1102, "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"),
    ({"type": "STOP_LOSS", "stopPrice": "59000", "trailingDelta": "50"}, -1014, "Unsupported order combination."),
    ({"type": "STOP_LOSS", "trailingDelta": "5000"}, -1013, "Filter failure: TRAILING_DELTA"),
    ({"type": "STOP_LOSS", "stopPrice": "59000.001"}, -1013, "Filter failure: PRICE_FILTER"),
    ({"type": "STOP_LOSS", "stopPrice": "60000"}, -2010, "Order would trigger immediately."),
    ({"type": "TAKE_PROFIT", "stopPrice": "59999"}, -2010, "Order would trigger immediately."),
])
def test_stop_orders_follow_binances_parameter_rules(venue: Venue, params: dict, code: int, msg: str | None) -> None:
    response = venue.signed("POST", "/api/v3/order", symbol="BTCUSDT", side="SELL", quantity="0.1", **params)
    status, got_code, got_msg = venue.refused(response)
    assert (status, got_code) == (400, code)
    if msg is not None:
        assert got_msg == msg
    assert venue.balances()["BTC"] == ("1.00000000", "0.00000000")   # nothing left behind


def test_a_stop_limit_waits_off_the_book_then_rests_at_its_limit_once_the_bid_reaches_it(venue: Venue) -> None:
    events = user_events(venue)
    placed = venue.order("SELL", "STOP_LOSS_LIMIT", quantity="0.1", stopPrice="59950", price="59940",
                         timeInForce="GTC", newClientOrderId="sl-1", newOrderRespType="RESULT")
    assert (placed["type"], placed["stopPrice"], placed["workingTime"]) == ("STOP_LOSS_LIMIT", "59950.00000000", -1)
    assert venue.balances()["BTC"] == ("0.90000000", "0.10000000")
    depth = ok(venue.public("/api/v3/depth", symbol="BTCUSDT"))
    assert ["59940.00000000", "0.10000000"] not in depth["asks"]   # not on the book while it waits
    status = ok(venue.query(origClientOrderId="sl-1"))
    assert (status["isWorking"], status["stopPrice"], status["orderListId"]) == (False, "59950.00000000", -1)
    lower(venue, "59950", "59960")     # triggered: its limit (59940) is below the bid, so it takes the bid
    status = ok(venue.query(origClientOrderId="sl-1"))
    assert (status["status"], status["executedQty"]) == ("FILLED", "0.10000000")
    trade = [e for e in events if e.get("e") == "executionReport" and e["x"] == "TRADE"][-1]
    assert (trade["L"], trade["P"], trade["o"], trade["g"]) == ("59950.00000000", "59950.00000000",
                                                                "STOP_LOSS_LIMIT", -1)
    assert venue.balances()["BTC"] == ("0.90000000", "0.00000000")


def test_an_oco_is_answered_with_its_list_and_orders_and_placed_below_leg_first(venue: Venue) -> None:
    events = user_events(venue)
    answer = ok(sell_oco(venue))
    assert (answer["contingencyType"], answer["listStatusType"], answer["listOrderStatus"]) == \
        ("OCO", "EXEC_STARTED", "EXECUTING")
    assert answer["listClientOrderId"] == "bracket-1" and answer["symbol"] == "BTCUSDT"
    assert [o["clientOrderId"] for o in answer["orders"]] == ["sl-1", "tp-1"]
    reports = answer["orderReports"]
    assert [(r["type"], r["status"], r["orderListId"]) for r in reports] == \
        [("STOP_LOSS", "NEW", answer["orderListId"]), ("TAKE_PROFIT_LIMIT", "NEW", answer["orderListId"])]
    assert venue.balances()["BTC"] == ("0.90000000", "0.10000000")    # held once for both legs
    reports = [e for e in events if e.get("e") == "executionReport"]
    assert [(e["c"], e["x"], e["g"]) for e in reports] == [("sl-1", "NEW", answer["orderListId"]),
                                                            ("tp-1", "NEW", answer["orderListId"])]
    [status] = [e for e in events if e.get("e") == "listStatus"]
    assert (status["g"], status["c"], status["l"], status["L"], status["C"]) == \
        (answer["orderListId"], "OCO", "EXEC_STARTED", "EXECUTING", "bracket-1")
    assert [o["c"] for o in status["O"]] == ["sl-1", "tp-1"]


def test_when_the_stop_triggers_the_take_profit_expires_and_the_list_is_all_done(venue: Venue) -> None:
    ok(sell_oco(venue))
    events = user_events(venue)
    lower(venue, "59890", "59891")
    changes = [(e["c"], e["x"]) for e in events if e.get("e") == "executionReport"]
    assert changes == [("tp-1", "EXPIRED"), ("sl-1", "TRADE")]
    [done] = [e for e in events if e.get("e") == "listStatus"]
    assert (done["l"], done["L"]) == ("ALL_DONE", "ALL_DONE")
    assert ok(venue.query(origClientOrderId="sl-1"))["status"] == "FILLED"
    assert ok(venue.query(origClientOrderId="tp-1"))["status"] == "EXPIRED"
    btc, usdt = venue.balances()["BTC"], venue.balances()["USDT"]
    assert btc == ("0.90000000", "0.00000000")          # the hold went with the leg that traded, once
    assert usdt == ("105977.02200000", "0.00000000")    # 5989 (0.1 at 59890) less the 0.002 taker fee, 11.978


def test_when_the_take_profit_triggers_the_stop_expires(venue: Venue) -> None:
    ok(sell_oco(venue))
    events = user_events(venue)
    lower(venue, "60100", "60101")
    assert [(e["c"], e["x"]) for e in events if e.get("e") == "executionReport"] == \
        [("sl-1", "EXPIRED"), ("tp-1", "TRADE")]
    assert venue.balances()["BTC"] == ("0.90000000", "0.00000000")


def test_cancelling_the_list_or_one_leg_cancels_both(venue: Venue) -> None:
    first = ok(sell_oco(venue))
    events = user_events(venue)
    cancelled = ok(venue.signed("DELETE", "/api/v3/orderList", symbol="BTCUSDT", listClientOrderId="bracket-1"))
    assert (cancelled["orderListId"], cancelled["listStatusType"], cancelled["listOrderStatus"]) == \
        (first["orderListId"], "ALL_DONE", "ALL_DONE")
    assert [(r["origClientOrderId"], r["status"]) for r in cancelled["orderReports"]] == \
        [("sl-1", "CANCELED"), ("tp-1", "CANCELED")]
    assert [e["l"] for e in events if e.get("e") == "listStatus"] == ["ALL_DONE"]
    assert venue.balances()["BTC"] == ("1.00000000", "0.00000000")
    assert venue.refused(venue.signed("DELETE", "/api/v3/orderList", symbol="BTCUSDT",
                                      orderListId=str(first["orderListId"])))[1] == -2011
    ok(sell_oco(venue, listClientOrderId="bracket-2", belowClientOrderId="sl-2", aboveClientOrderId="tp-2"))
    ok(venue.signed("DELETE", "/api/v3/order", symbol="BTCUSDT", origClientOrderId="tp-2"))
    assert ok(venue.query(origClientOrderId="sl-2"))["status"] == "CANCELED"
    assert venue.balances()["BTC"] == ("1.00000000", "0.00000000")


@pytest.mark.parametrize("params, code", [
    ({"aboveType": "LIMIT"}, -1158),
    ({"aboveType": "STOP_LOSS", "aboveStopPrice": "60100", "abovePrice": "", "aboveTimeInForce": ""}, -1197),
    ({"belowType": "TAKE_PROFIT", "belowStopPrice": "59900"}, -1199),
    ({"side": "BUY"}, -1196),
    ({"belowStopPrice": "", "belowTrailingDelta": ""}, -1102),
    ({"aboveTimeInForce": ""}, -1102),
    ({"belowStopPrice": "60000"}, -2010),         # the stop would trigger at once: the prices are not right
    ({"abovePrice": "59000", "aboveStopPrice": "59800"}, -2010),
    ({"belowClientOrderId": "tp-1"}, -2010),      # both legs under one client order id
    ({"quantity": "5"}, -2010),                   # more BTC than the account has
])
def test_an_oco_that_breaks_binances_rules_is_refused_and_leaves_nothing(venue: Venue, params: dict,
                                                                          code: int) -> None:
    status, got, _ = venue.refused(sell_oco(venue, **params))
    assert (status, got) == (400, code)
    assert venue.balances()["BTC"] == ("1.00000000", "0.00000000")
    assert ok(venue.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT")) == []


def test_an_oco_counts_two_orders_and_shows_in_exchange_info(venue: Venue) -> None:
    response = sell_oco(venue)
    assert dict(response.headers)["X-MBX-ORDER-COUNT-10S"] == "2"
    info = ok(venue.public("/api/v3/exchangeInfo", symbol="BTCUSDT"))["symbols"][0]
    assert info["ocoAllowed"] and info["allowTrailingStop"] and "STOP_LOSS_LIMIT" in info["orderTypes"]


def test_the_book_untouched_keeps_both_legs_working(venue: Venue) -> None:
    ok(sell_oco(venue))
    venue.book(bids=BIDS, asks=ASKS)
    open_orders = ok(venue.signed("GET", "/api/v3/openOrders", symbol="BTCUSDT"))
    assert sorted(o["clientOrderId"] for o in open_orders) == ["sl-1", "tp-1"]
    assert {o["clientOrderId"]: o["isWorking"] for o in open_orders} == {"sl-1": False, "tp-1": False}
    assert KEY
