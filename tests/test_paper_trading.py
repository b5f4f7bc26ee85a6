"""Paper trading: the engine trades on live market data from a venue and routes its orders to the simulated
venue, everything over real sockets on loopback.

`python -m engine venue scenarios/sim_binance.toml` is served in-process on a free port; an engine scenario
then takes its market streams and REST snapshots as a live Binance feed, and sends its orders to it through
the Binance order gateway, signed with the demo account's credentials read from the environment. The
venue's own account must agree with what the engine booked.
"""
from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import trio

from adapters.binance.client import BinanceClient
from adapters.binance.orders import BinanceOrderCodec
from adapters.binance.signing import Credentials
from engine.app import session
from engine.app.scenario import load, load_venue
from engine.app.venue import serve_venue

ROOT = Path(__file__).resolve().parents[1]


def paper_scenario(tmp_path: Path, port: int) -> Path:
    base = f"127.0.0.1:{port}"
    text = (ROOT / "scenarios" / "quickstart.toml").read_text()
    text = text.replace('[feed]\nkind = "synthetic"', f'[feed]\nkind = "live"\nstream_url = "ws://{base}"\n'
                                                      f'rest_url = "http://{base}"\nsilence_s = 5')
    text = text.replace("duration_s = 600", "duration_s = 8")
    text = text.replace("seed = 7\n", "", 1)  # a live feed has no seed: the key would be refused
    text = text.replace("fast = 8\nslow = 40", "fast = 2\nslow = 5")
    text = text.replace('[venue]\nname = "binance"', f'[venue]\nname = "binance"\nurl = "http://{base}"\n'
                                                      f'ws_api_url = "ws://{base}/ws-api/v3"\n'
                                                      f'api_key_env = "PAPER_KEY"\nsecret_env = "PAPER_SECRET"')
    path = tmp_path / "paper.toml"
    path.write_text(text)
    return path


async def paper_run(tmp_path: Path, monkeypatch, edit=lambda text: text) -> tuple[session.RunOutcome, dict]:
    """`paper_scenario` with `edit` applied to its text, run against the simulated venue served in-process at ten
    seconds of market a second; the run's outcome and the venue's balances of the demo account after it."""
    monkeypatch.setenv("PAPER_KEY", "demo-key")
    monkeypatch.setenv("PAPER_SECRET", "demo-secret")
    venue = dataclasses.replace(load_venue(ROOT / "scenarios" / "sim_binance.toml"), speed=10)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_venue, venue))
        path = paper_scenario(tmp_path, port)
        path.write_text(edit(path.read_text()))
        scenario = load(path)
        outcome = await session.run(scenario, tmp_path / "out")
        codec = BinanceOrderCodec(Credentials("demo-key", "demo-secret"), scenario.instruments.values())
        async with BinanceClient(codec, base_url=f"http://127.0.0.1:{port}", now_ns=time.time_ns) as client:
            balances = await client.balances()
        nursery.cancel_scope.cancel()
    return outcome, balances


@pytest.mark.trio
async def test_the_engine_paper_trades_against_the_simulated_venue(tmp_path, monkeypatch):
    outcome, balances = await paper_run(tmp_path, monkeypatch)
    report = outcome.report
    assert report["events"] > 100 and report["live"]["connects"] == 1
    assert report["orders"] > 0 and report["fills"] > 0
    assert report["gateway"]["requests"] >= report["orders"]
    assert report["venue_truth"]["BTC/USDT"]["position"] == report["position"]["BTC/USDT"]
    assert report["venue_truth"]["BTC/USDT"]["open_orders"] == [] == report["open_orders"]
    assert report["book"]["sequence_gaps"] == 0 and report["book"]["top_of_book_mismatched"] == 0
    # the venue agrees: the position the engine booked, less the commissions it was charged in BTC on buys
    position, btc_fees = Decimal(report["position"]["BTC/USDT"]), Decimal(report["fees"].get("BTC", "0"))
    assert balances["BTC"].free + balances["BTC"].locked == Decimal(2) + position - btc_fees


@pytest.mark.trio
async def test_resting_orders_are_followed_on_the_user_data_stream(tmp_path, monkeypatch):
    outcome, balances = await paper_run(tmp_path, monkeypatch, lambda text: text.replace(   # 8 s of market:
        'urgency = "aggressive"', 'urgency = "passive"').replace('cadence = "500ms"', 'cadence = "book"'))  # look often
    report = outcome.report
    # GTC orders at our touch rest, and fill later as the market trades through them: only the user data
    # stream can say so, and the engine books those fills
    assert report["orders"] > 0 and report["fills"] > 0
    assert report["gateway"]["user_stream_reports"] > report["fills"] // 2
    position, btc_fees = Decimal(report["position"]["BTC/USDT"]), Decimal(report["fees"].get("BTC", "0"))
    assert balances["BTC"].free + balances["BTC"].locked == Decimal(2) + position - btc_fees


@pytest.mark.trio
async def test_a_bracket_paper_trades_as_native_stops_and_oco_lists_at_the_simulated_venue(tmp_path, monkeypatch):
    """The ema_bracket settings over HTTP: each position's stop and take-profit go to the venue as one OCO list of
    its own order types, which the venue triggers on its book; the venue's account and the engine's agree."""
    outcome, _ = await paper_run(tmp_path, monkeypatch, lambda text: text.replace(
        "fast = 2\nslow = 5", "fast = 2\nslow = 5\nstop_bps = 2\ntake_profit_bps = 3")
        + '\n[execution]\nprotection = "native"\n')

    report = outcome.report
    protective = report["protective_orders"]
    assert protective["oco_pairs"] == protective["brackets"] > 0
    assert protective["legs_by_mode"] == {"native": 2 * protective["brackets"]}
    assert report["venue_truth"]["BTC/USDT"]["position"] == report["position"]["BTC/USDT"]
    assert report["venue_truth"]["BTC/USDT"]["open_orders"] == [] == report["open_orders"]
