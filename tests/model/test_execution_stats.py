"""Execution-quality figures on hand-computed examples, rendered to identical bytes every time."""
from __future__ import annotations

from decimal import Decimal

import orjson

from engine.messages import Fill, Liquidity, OrderUpdate, Side
from engine.model.numbers import Instrument
from engine.model.execution_stats import ExecutionStats

BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
ETH = Instrument("ETH/USDT", "binance", "ETHUSDT", "ETH", "USDT", price_decimals=2, qty_decimals=4)
MID_X2 = {"BTC/USDT": 12_000_000, "ETH/USDT": 600_000}   # mids 60000.00 and 3000.00


def update(client_order_id: str, instrument: str, side: Side, qty: int, state: str, cum_qty: int = 0) -> OrderUpdate:
    return OrderUpdate(client_order_id, "P", instrument, side, state, qty, cum_qty, ts_ns=1)


def fill(client_order_id: str, instrument: str, side: Side, qty: int, price: int, fee: str, fee_asset: str = "USDT",
         mid_x2: int | None = None) -> Fill:
    return Fill(client_order_id, "P", "binance", instrument, side, qty, price, Decimal(fee), fee_asset,
                Liquidity.TAKER, ts_ns=2, signal_mid_x2=MID_X2[instrument] if mid_x2 is None else mid_x2)


def hand_computed_run() -> ExecutionStats:
    stats = ExecutionStats()
    # A: buy 0.1 BTC, filled 0.06 @ 60006 (1 bps) and 0.04 @ 60012 (2 bps), taker 0.1%
    for state, cum in (("pending", 0), ("submitted", 0), ("partially_filled", 6_000), ("filled", 10_000)):
        stats.on_order(update("A", "BTC/USDT", Side.BUY, 10_000, state, cum), BTC)
    stats.on_fill(fill("A", "BTC/USDT", Side.BUY, 6_000, 6_000_600, "3.60036"), BTC)
    stats.on_fill(fill("A", "BTC/USDT", Side.BUY, 4_000, 6_001_200, "2.40048"), BTC)
    # B: sell 0.05 BTC @ 59997 (0.5 bps), maker 0.01%
    stats.on_order(update("B", "BTC/USDT", Side.SELL, 5_000, "filled", 5_000), BTC)
    stats.on_fill(fill("B", "BTC/USDT", Side.SELL, 5_000, 5_999_700, "0.299985"), BTC)
    # C: buy 0.05 BTC, rejected
    stats.on_order(update("C", "BTC/USDT", Side.BUY, 5_000, "rejected"), BTC)
    # D: buy 1 ETH @ 3000.01 (1/30 bps), fee in BNB
    stats.on_order(update("D", "ETH/USDT", Side.BUY, 10_000, "filled", 10_000), ETH)
    stats.on_fill(fill("D", "ETH/USDT", Side.BUY, 10_000, 300_001, "0.003", fee_asset="BNB"), ETH)
    return stats


def test_hand_computed_figures() -> None:
    assert hand_computed_run().as_dict() == {
        # (0.06*1 + 0.04*2 + 0.05*0.5 + 1*(1/30)) / 1.15 = 0.172463...
        "avg_slippage_bps": "0.1725",
        "fees": {"BNB": "0.003000", "USDT": "6.3008250"},   # at ETH's 2+4 and BTC's 2+5 places
        "fill_ratio": "0.958333",                           # 1.15 / 1.2
        "fills": 4,
        "instruments": {
            "BTC/USDT": {
                "avg_slippage_bps": "1.1000",                # 0.165 / 0.15
                "fill_ratio": "0.750000",                    # 0.15 / 0.2
                "filled_qty": "0.15000",
                "fills": 3,
                "ordered_qty": "0.20000",
                "orders": 3,
            },
            "ETH/USDT": {
                "avg_slippage_bps": "0.0333",
                "fill_ratio": "1.000000",
                "filled_qty": "1.0000",
                "fills": 1,
                "ordered_qty": "1.0000",
                "orders": 1,
            },
        },
        "orders": 4,
        "orders_by_state": {"filled": 3, "rejected": 1},
    }


def test_two_runs_give_identical_bytes_with_sorted_keys() -> None:
    first = orjson.dumps(hand_computed_run().as_dict())
    assert first == orjson.dumps(hand_computed_run().as_dict())
    assert first == orjson.dumps(hand_computed_run().as_dict(), option=orjson.OPT_SORT_KEYS)


def test_nothing_ordered() -> None:
    assert ExecutionStats().as_dict() == {
        "avg_slippage_bps": None, "fees": {}, "fill_ratio": "0.000000", "fills": 0, "instruments": {},
        "orders": 0, "orders_by_state": {}}


def test_slippage_is_signed_cost_and_rounds_half_even() -> None:
    def bps(side: Side, price: int, mid_x2: int = 400_000_000) -> str | None:
        stats = ExecutionStats()
        stats.on_fill(fill("X", "BTC/USDT", side, 1, price, "0", mid_x2=mid_x2), BTC)
        return stats.as_dict()["avg_slippage_bps"]

    assert bps(Side.BUY, 200_000_001) == "0.0000"    # 0.00005 → even
    assert bps(Side.BUY, 200_000_003) == "0.0002"    # 0.00015 → even
    assert bps(Side.SELL, 200_000_003) == "-0.0002"  # selling above the mid is a gain
    assert bps(Side.SELL, 200_000_001) == "0.0000"   # -0.00005 → even, and never "-0.0000"
    assert bps(Side.SELL, 199_980_000) == "1.0000"   # selling 1 bps below the mid is a cost
    assert bps(Side.BUY, 1, mid_x2=0) is None         # no mid at the signal: left out of slippage


def test_fills_without_a_signal_mid_count_everywhere_but_slippage() -> None:
    stats = ExecutionStats()
    stats.on_fill(fill("X", "BTC/USDT", Side.BUY, 1_000, 6_001_200, "0", mid_x2=0), BTC)
    stats.on_fill(fill("Y", "BTC/USDT", Side.BUY, 3_000, 6_000_600, "0"), BTC)
    figures = stats.as_dict()
    assert (figures["fills"], figures["avg_slippage_bps"]) == (2, "1.0000")
    assert figures["instruments"]["BTC/USDT"]["filled_qty"] == "0.04000"
