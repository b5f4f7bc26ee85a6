"""The user data stream's pieces as pure code: the signed subscription, and executionReport events read."""
from __future__ import annotations

from decimal import Decimal

import orjson

from adapters.binance.market_data import binance_spot_instrument
from adapters.binance.signing import Credentials, sign
from adapters.binance.user_stream import parse_execution_report, subscribe_request
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.requests import HttpRequest
from engine.messages import BookView, ExecType, Liquidity

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
INSTRUMENTS = {"BTCUSDT": BTC}


def event(**fields) -> dict:
    base = {"e": "executionReport", "E": 1_700_000_000_123, "s": "BTCUSDT", "c": "q-7", "C": "", "x": "TRADE",
            "X": "PARTIALLY_FILLED", "i": 42, "l": "0.01000000", "z": "0.03000000", "L": "60000.10000000",
            "n": "0.00001000", "N": "BTC", "m": True, "r": "NONE", "t": 9_007_199_254_740_993}
    return {**base, **fields}


def test_the_subscription_is_signed_as_the_venue_checks_it():
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: 1_700_000_000_000_000_000, maker_fee=Decimal(0),
                                taker_fee=Decimal(0))
    exchange.open_account("k", "s3cret", {})
    request = orjson.loads(subscribe_request(Credentials("k", "s3cret"), 1_700_000_000_000, 1))
    assert request["method"] == "userDataStream.subscribe.signature"
    assert exchange.user_stream_key(request["params"]) == "k"  # the venue accepts the signature


def test_a_trade_event_becomes_an_exact_report():
    report = parse_execution_report(event(), INSTRUMENTS, "binance")
    assert (report.client_order_id, report.venue_order_id, report.exec_type) == ("q-7", "42", ExecType.TRADE)
    assert (report.last_qty, report.cum_qty, report.last_price) == (1_000_000, 3_000_000, 6_000_010_000_000)
    assert (report.fee, report.fee_asset, report.liquidity) == (Decimal("0.00001000"), "BTC", Liquidity.MAKER)
    assert report.ts_ns == 1_700_000_000_123_000_000
    assert report.trade_id == "9007199254740993"          # exact past 2**53: a string of the integer, never a float


def test_a_cancel_is_filed_under_the_orders_own_id_and_other_events_are_left_alone():
    cancel = parse_execution_report(event(x="CANCELED", X="CANCELED", c="cancel-1", C="q-7", l="0", L="0", n="0",
                                          N=None, t=-1), INSTRUMENTS, "binance")
    assert (cancel.client_order_id, cancel.exec_type, cancel.fee_asset, cancel.trade_id) == (
        "q-7", ExecType.CANCELED, "", "")
    assert parse_execution_report({"e": "outboundAccountPosition"}, INSTRUMENTS, "binance") is None
    assert parse_execution_report(event(s="ETHUSDT"), INSTRUMENTS, "binance") is None


def test_the_trade_ids_of_the_venues_reports_are_those_of_its_full_answer():
    exchange = SimulatedBinance([Listing(BTC)], now_ns=lambda: 1_700_000_000_000_000_000, maker_fee=Decimal(0),
                                taker_fee=Decimal("0.001"))
    exchange.open_account("k", "s3cret", {"USDT": Decimal(100_000)})
    exchange.on_book(BookView(BTC.symbol, 1_700_000_000_000_000_000, 1, ((BTC.price("59999"), BTC.qty("1")),),
                              ((BTC.price("60000"), BTC.qty("0.1")), (BTC.price("60001"), BTC.qty("1")))))
    events: list[dict] = []
    exchange.listen(lambda e: events.append(e.payload) if e.payload.get("e") == "executionReport" else None)
    query = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.3&timestamp=1700000000000"
    answer = orjson.loads(exchange.handle(HttpRequest("POST", "/api/v3/order", query + "&signature=" +
                                                      sign("s3cret", query), "", {"x-mbx-apikey": "k"})).body)
    reports = [parse_execution_report(e, INSTRUMENTS, "binance") for e in events]
    assert [(r.exec_type, r.trade_id) for r in reports] == [
        (ExecType.NEW, ""), *[(ExecType.TRADE, str(fill["tradeId"])) for fill in answer["fills"]]]
    assert len(answer["fills"]) == 2
