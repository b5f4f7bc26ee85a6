"""Latency models of the simulated venue: constant, or drawn from a seeded log-normal, and applied by the server."""
from __future__ import annotations

import time
from decimal import Decimal
from statistics import median

import httpx
import pytest

from adapters.binance.market_data import binance_spot_instrument
from adapters.simulated.exchange import Listing, SimulatedBinance
from adapters.simulated.latency import ConstantLatency, LognormalLatency
from adapters.simulated.server import serve_exchange


def test_constant_latency_is_the_same_on_every_request() -> None:
    model = ConstantLatency(entry_ns=2_000_000, response_ns=500_000)
    assert [(model.entry_ns(n), model.response_ns(n)) for n in (1, 2, 99)] == [(2_000_000, 500_000)] * 3
    assert not ConstantLatency() and model
    with pytest.raises(ValueError):
        ConstantLatency(entry_ns=-1)


def test_lognormal_latency_is_drawn_per_request_from_the_seed() -> None:
    model = LognormalLatency(entry_median_ns=5_000_000, response_median_ns=1_000_000, sigma=0.5, seed=7)
    entries = [model.entry_ns(n) for n in range(1, 2_001)]
    assert entries == [LognormalLatency(5_000_000, 1_000_000, 0.5, seed=7).entry_ns(n) for n in range(1, 2_001)]
    assert entries != [LognormalLatency(5_000_000, 1_000_000, 0.5, seed=8).entry_ns(n) for n in range(1, 2_001)]
    assert [model.entry_ns(n) for n in reversed(range(1, 2_001))] == entries[::-1]   # asked in any order
    assert all(type(e) is int and e > 0 for e in entries)
    assert 4_500_000 < median(entries) < 5_500_000
    assert max(entries) > 3 * 5_000_000                       # the long right tail
    assert 900_000 < median(model.response_ns(n) for n in range(1, 2_001)) < 1_100_000
    assert LognormalLatency(5_000_000, 0, 0.0, seed=1).entry_ns(3) == 5_000_000
    assert LognormalLatency(5_000_000, 0, 0.5, seed=1).response_ns(3) == 0


async def test_the_server_waits_the_entry_and_the_response_latency(nursery) -> None:
    btc = binance_spot_instrument("BTCUSDT", "BTC", "USDT")
    exchange = SimulatedBinance([Listing(btc)], now_ns=time.time_ns, maker_fee=Decimal(0), taker_fee=Decimal(0))
    port = await nursery.start(lambda task_status: serve_exchange(
        exchange, latency=ConstantLatency(150_000_000, 100_000_000), task_status=task_status))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        sent_ms = time.time_ns() // 1_000_000
        started = time.perf_counter()
        answer = await http.get("/api/v3/time")
        took = time.perf_counter() - started
    assert took >= 0.25
    # the venue read its clock after the entry latency, before the response latency
    assert sent_ms + 140 <= answer.json()["serverTime"] <= sent_ms + took * 1000 - 90
