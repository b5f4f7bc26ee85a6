"""Same scenario and seed, byte-identical fills: the simulated venue hides no wall clock and no unseeded draw.

The venue of `scenarios/sim_binance.toml` (with the probabilistic queue and log-normal latency, so that every
seeded piece takes part) is driven on a virtual clock by its own synthetic market and by a seeded stream of
signed requests, each reaching the exchange after its drawn entry latency. Every response and every event
it publishes (execution reports, balances, trades, depth) is recorded as bytes.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import orjson

from engine.contracts import SyncResult
from adapters.binance.book_sync import BinanceBookSync
from adapters.binance.market_data import BinanceMarketDataCodec
from adapters.binance.signing import sign
from adapters.simulated.requests import HttpRequest
from engine.messages import BookSnapshot, BookState, BookView, DepthDiff, Trade
from engine.model.numbers import format_fixed
from engine.replay.synthetic import synthetic_frames
from engine.app.scenario import LatencySpec, SimVenueSpec, load_venue
from engine.app.venue import VIEW_DEPTH, build_exchange, latency_model

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "sim_binance.toml"


def run(spec: SimVenueSpec, seconds: int = 30) -> bytes:
    [symbol] = spec.feed.instruments
    instrument = spec.instruments[symbol]
    account = spec.accounts[0]
    now = [0]
    exchange = build_exchange(spec, lambda: now[0])
    latency = latency_model(spec)
    out: list[bytes] = []
    exchange.listen(lambda event: out.append(b"%s %s" % (event.stream.encode(), orjson.dumps(event.payload))))
    rng = random.Random(spec.seed)
    codec = BinanceMarketDataCodec([instrument], snapshot_symbol=instrument.venue_symbol)
    sync = BinanceBookSync(instrument.symbol)
    due: list[tuple[int, int, HttpRequest]] = []    # requests on their way: (arrival, n, request)
    trades: list[Trade] = []
    placed = 0

    def deliver_until(t_ns: int) -> None:
        while due and due[0][0] <= t_ns:
            now[0], _, request = heapq.heappop(due)
            response = exchange.handle(request)
            out.append(b"%d %s" % (response.status, response.body))

    for ts, frame in synthetic_frames(seed=spec.feed.seed, duration_s=seconds, symbol=instrument.venue_symbol):
        deliver_until(ts)
        now[0] = ts
        event = codec.decode_raw(frame, ts)
        if isinstance(event, Trade):
            trades.append(event)
            continue
        result = sync.on_diff(event) if isinstance(event, DepthDiff) else (
            sync.on_snapshot(event) if isinstance(event, BookSnapshot) else None)
        if sync.state is not BookState.LIVE or result not in (SyncResult.APPLIED, SyncResult.LOADED):
            continue
        bids, asks = sync.book.top(VIEW_DEPTH)
        exchange.on_book(BookView(instrument.symbol, ts, sync.last_update_id, bids, asks, tuple(trades)))
        trades = []
        if rng.random() < 0.3:
            placed += 1
            side = rng.choice(("BUY", "SELL"))
            touch = bids[0][0] if side == "BUY" else asks[0][0]
            params = {"symbol": instrument.venue_symbol, "side": side, "quantity": format_fixed(
                rng.randint(1, 40) * instrument.lot_size, instrument.qty_decimals), "newClientOrderId": f"d-{placed}"}
            kind = rng.choice(("passive", "passive", "ioc", "market", "cancel"))
            path, method = "/api/v3/order", "POST"
            if kind == "market":
                params["type"] = "MARKET"
            elif kind == "cancel":
                method, params = "DELETE", {"symbol": instrument.venue_symbol,
                                            "origClientOrderId": f"d-{rng.randint(1, placed)}"}
            else:
                offset = -rng.randint(0, 3) if kind == "passive" else rng.randint(0, 2)
                price = touch + offset * instrument.tick_size * (1 if side == "BUY" else -1)
                params |= {"type": "LIMIT", "timeInForce": "GTC" if kind == "passive" else "IOC",
                           "price": format_fixed(price, instrument.price_decimals)}
            query = urlencode({**params, "timestamp": ts // 1_000_000})
            request = HttpRequest(method, path, f"{query}&signature={sign(account.secret, query)}",
                                  headers={"x-mbx-apikey": account.api_key})
            heapq.heappush(due, (ts + latency.entry_ns(placed), placed, request))
    deliver_until(2 ** 63)
    return b"\n".join(out)


def venue(**changes) -> SimVenueSpec:
    spec = load_venue(SCENARIO)
    return replace(spec, queue_model="probabilistic",
                   latency=LatencySpec("lognormal", 20_000_000, 5_000_000, Decimal("0.8")), **changes)


def test_same_scenario_and_seed_give_byte_identical_fills() -> None:
    first = run(venue())
    assert first == run(venue())
    fills = [line for line in first.split(b"\n") if b'"x":"TRADE"' in line]
    assert len(fills) > 20
    assert any(b'"m":true' in line for line in fills) and any(b'"m":false' in line for line in fills)
    assert b'"x":"CANCELED"' in first and b'"x":"EXPIRED"' in first
    assert run(venue(seed=2)) != first                   # another seed: other orders, other latencies
