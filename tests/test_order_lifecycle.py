"""The order lifecycle's hard cases, end to end: an outcome the venue did not state is asked about and never
resent; a cancel refused because the order filled ends filled; refused credentials end the run, saying so; one
unreadable line in a recording costs that line and nothing else."""
from __future__ import annotations

import dataclasses
import gzip
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from functools import partial
from pathlib import Path

import orjson
import pytest
import trio

from adapters.binance.client import BinanceClient
from adapters.binance.orders import BinanceOrderCodec
from adapters.binance.signing import Credentials
from adapters.simulated.faults import FaultKind
from adapters.simulated.inprocess import InProcessVenue
from adapters.simulated.matching import MatchingEngine
from engine.app import session
from engine.app.chaos_kill import venue_process
from engine.messages import (BookView, CancelOrder, ChildOrder, ExecType, ExecutionReport, NewOrderRequest, OrderType,
                             ReconcileRequest, Side, TimeInForce)
from engine.model.numbers import Instrument
from engine.model.order_manager import Decisions, ExecutionSettings, OrderManager
from engine.model.orders import OrderState, OrderTable
from engine.app.scenario import SimFaultSpec, load, load_venue
from engine.app.venue import serve_venue

ROOT = Path(__file__).resolve().parents[1]
SPOT_CAPTURE = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "spot" / "btcusdt_20240808.gz"
BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5, tick_size=1, lot_size=1)


# ---------------------------------------------------------------- a create answered by a timeout it outlived

@pytest.mark.trio
async def test_a_create_answered_by_a_timeout_that_the_venue_executed_ends_as_one_order_there(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPER_KEY", "demo-key")
    monkeypatch.setenv("PAPER_SECRET", "demo-secret")
    venue = load_venue(ROOT / "scenarios" / "sim_binance.toml")
    lost = SimFaultSpec(FaultKind.LOST_REPLY.value, at=(1,))   # the first order the venue accepts: no reply
    venue = dataclasses.replace(venue, speed=10, faults=(lost,))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(partial(serve_venue, venue))
        base = f"127.0.0.1:{port}"
        text = (ROOT / "scenarios" / "quickstart.toml").read_text()
        text = text.replace('[feed]\nkind = "synthetic"', f'[feed]\nkind = "live"\nstream_url = "ws://{base}"\n'
                                                          f'rest_url = "http://{base}"\nsilence_s = 5')
        text = text.replace("duration_s = 600", "duration_s = 8").replace("fast = 8\nslow = 40", "fast = 2\nslow = 5")
        text = text.replace("seed = 7\n", "", 1)  # a live feed has no seed: the key would be refused
        text = text.replace('[venue]\nname = "binance"', f'[venue]\nname = "binance"\nurl = "http://{base}"\n'
                                                          f'ws_api_url = "ws://{base}/ws-api/v3"\ntimeout_ms = 500\n'
                                                          f'api_key_env = "PAPER_KEY"\nsecret_env = "PAPER_SECRET"')
        (tmp_path / "paper.toml").write_text(text)
        scenario = load(tmp_path / "paper.toml")
        outcome = await session.run(scenario, tmp_path / "out")
        codec = BinanceOrderCodec(Credentials("demo-key", "demo-secret"), scenario.instruments.values())
        async with BinanceClient(codec, base_url=f"http://{base}", now_ns=time.time_ns) as client:
            orders = await client.all_orders("BTC/USDT", None, order_id=0)
        nursery.cancel_scope.cancel()

    first = orders[0].client_order_id   # the first order the venue accepted: its reply was lost
    journal = (tmp_path / "out" / "journal.sqlite")
    kinds = _journal_kinds(journal, first)
    assert "RequestFailed" in kinds                              # the create's outcome was unknown (a timeout)
    assert Counter(order.client_order_id for order in orders)[first] == 1   # asked about, never resent
    report = outcome.report
    assert report["orders_by_state"].get("unknown", 0) == 0 and report["open_orders"] == []
    assert report["venue_truth"]["BTC/USDT"]["position"] == report["position"]["BTC/USDT"]
    assert report["venue_truth"]["BTC/USDT"]["fills"] == report["fills"]


def _journal_kinds(path: Path, client_order_id: str) -> list[str]:
    import sqlite3
    from engine.journal import decode
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT kind, body FROM events ORDER BY seq").fetchall()
    return [kind for kind, body in rows if getattr(decode(kind, body), "client_order_id", None) == client_order_id]


# ---------------------------------------------------------------- a cancel refused because the order filled

def test_a_cancel_refused_because_the_order_filled_ends_filled_with_its_fill_once():
    venue = InProcessVenue(MatchingEngine({"BTC/USDT": BTC}, Decimal("0.001"), Decimal("0.001"), "binance"))
    core = OrderManager(OrderTable("q"), ["BTC/USDT"], "binance", ExecutionSettings())
    now = 1_000_000_000

    def to_core(messages) -> Decisions:
        out = Decisions()
        for msg in messages:
            core.handle(msg, now, out)
        return out

    def to_venue(requests) -> list:
        return [answer for request in requests for answer in venue.handle(request, now).send]

    reconciled = to_core([venue.start(now).send[0]])
    to_core(to_venue(reconciled.venue))                          # the venue's account: nothing yet
    venue.handle(BookView("BTC/USDT", now, 1, ((9_900, 5),), ((10_100, 5),)), now)
    child = ChildOrder("P1", "binance", "BTC/USDT", Side.BUY, 3, 10_000, OrderType.LIMIT, TimeInForce.GTC, now, 20_000,
                       child_id="P1.1")
    placed = to_core([child])
    [request] = placed.venue
    assert type(request) is NewOrderRequest
    to_core(to_venue([request]))                                 # NEW: it rests
    coid = request.client_order_id
    crossing = venue.handle(BookView("BTC/USDT", now, 2, ((9_800, 5),), ((9_990, 5),)), now).send
    [trade] = crossing                                           # filled at the venue; the report is still on its way
    assert trade.exec_type is ExecType.TRADE
    cancel = to_core([CancelOrder(coid, now, "test")])
    refused = to_venue(cancel.venue)                             # the venue no longer holds it open
    assert [type(r).__name__ for r in refused] == ["RequestFailed"]
    asked = to_core(refused)
    assert core.table.get(coid).state is OrderState.SUBMITTED   # back where it was, and asked about
    [query] = asked.venue
    assert type(query) is ReconcileRequest and query.client_order_ids == (coid,)
    answered = to_core(to_venue([query]))
    order = core.table.get(coid)
    assert order.state is OrderState.FILLED and order.cum_qty == 3
    assert [f.trade_id for f in answered.journal if type(f).__name__ == "Fill"] == [trade.trade_id]
    late = to_core([trade])                                      # the report, late: nothing more
    assert [f for f in late.journal if type(f).__name__ == "Fill"] == []


# ---------------------------------------------------------------- refused credentials

def test_refused_credentials_end_the_run_with_exit_1_naming_them(tmp_path):
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    with venue_process(scenario, seed=1, faults=[], run_dir=tmp_path) as url:
        base = url.removeprefix("http://")
        text = (ROOT / "scenarios" / "paper_binance.toml").read_text().replace("127.0.0.1:8080", base)
        text = text.replace("duration_s = 120", "duration_s = 6")
        (tmp_path / "paper.toml").write_text(text)
        env = {"PAPER_API_KEY": "chaos-key", "PAPER_API_SECRET": "not-the-secret", "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-m", "engine", "run", str(tmp_path / "paper.toml"), "--out",
                               str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "refused our credentials" in done.stderr and "-1022" in done.stderr
    report = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert "refused our credentials" in report["failure"] and report["fills"] == 0
    assert "not-the-secret" not in done.stderr and b"not-the-secret" not in (tmp_path / "out" / "report.json").read_bytes()


# ---------------------------------------------------------------- one unreadable line

@pytest.mark.skipif(not SPOT_CAPTURE.is_file(), reason=f"recorded data not found at {SPOT_CAPTURE}")
def test_a_non_json_line_at_line_501_of_the_recording_is_counted_and_the_rest_is_read(tmp_path):
    lines = gzip.decompress(SPOT_CAPTURE.read_bytes()).split(b"\n")
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\n".join(lines[:500] + [b"this line is not JSON"] + lines[500:])))
    reports = {}
    for name, capture in (("untouched", SPOT_CAPTURE), ("broken", broken)):
        text = (ROOT / "scenarios" / "binance_spot_recorded.toml").read_text()
        text = text.replace('files = ["../../shared/recorded/nkaz001+hftbacktest/examples/spot/btcusdt_20240808.gz"]',
                            f'files = ["{capture}"]')
        (tmp_path / f"{name}.toml").write_text(text)
        done = subprocess.run([sys.executable, "-m", "engine", "run", str(tmp_path / f"{name}.toml"), "--out",
                               str(tmp_path / name)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        reports[name] = orjson.loads((tmp_path / name / "report.json").read_bytes())
    untouched, bad = reports["untouched"], reports["broken"]
    assert bad["malformed_frames"] == 1 and untouched["malformed_frames"] == 0
    assert bad["events"] == untouched["events"] + 1 == 41_250
    assert bad["fills"] == untouched["fills"] and bad["position"] == untouched["position"]
    assert bad["book"]["live_at_end"] == {"BTC/USDT": True}
