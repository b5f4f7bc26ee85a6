"""The user data stream's pieces as pure code: the signed subscription, and executionReport events read."""
from __future__ import annotations

from decimal import Decimal

import orjson

from adapters.binance.market_data import binance_spot_instrument
from adapters.binance.signing import Credentials
from adapters.binance.user_stream import parse_execution_report, subscribe_request
from adapters.simulated.exchange import Listing, SimulatedBinance
from engine.messages import ExecType, Liquidity

BTC = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
INSTRUMENTS = {"BTCUSDT": BTC}


def event(**fields) -> dict:
    base = {"e": "executionReport", "E": 1_700_000_000_123, "s": "BTCUSDT", "c": "q-7", "C": "", "x": "TRADE",
            "X": "PARTIALLY_FILLED", "i": 42, "l": "0.01000000", "z": "0.03000000", "L": "60000.10000000",
            "n": "0.00001000", "N": "BTC", "m": True, "r": "NONE"}
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


def test_a_cancel_is_filed_under_the_orders_own_id_and_other_events_are_left_alone():
    cancel = parse_execution_report(event(x="CANCELED", X="CANCELED", c="cancel-1", C="q-7", l="0", L="0", n="0",
                                          N=None), INSTRUMENTS, "binance")
    assert (cancel.client_order_id, cancel.exec_type, cancel.fee_asset) == ("q-7", ExecType.CANCELED, "")
    assert parse_execution_report({"e": "outboundAccountPosition"}, INSTRUMENTS, "binance") is None
    assert parse_execution_report(event(s="ETHUSDT"), INSTRUMENTS, "binance") is None
