"""A killed engine does not take the truth with it.

The engine paper-trades in a process of its own against `python -m engine venue` in another (the quickstart's
market at speed, the venue's faults on), kills itself with SIGKILL in the middle of the run (right after its
10th journal row is durable), and is started again on the same journal. Afterwards the venue, which holds the
truth, is asked for its records: the engine's position equals the venue's net traded quantity (`myTrades`),
every venue fill is in the engine's journal exactly once, no client order id reached the venue twice as a new
order, and no order is left open there. Two kill points: right after an order is journaled and before its
request leaves (it must be found never to have reached the venue, not sent twice), and among the fills of
later orders.
"""
from __future__ import annotations

import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
import trio

from engine.app.chaos_kill import journal_fills, run_engine, venue_account, venue_process
from engine.app.scenario import load

ROOT = Path(__file__).resolve().parents[1]
FAULTS = [("lost_reply", ""), ("duplicate_report", ""), ("reordered_reports", ""),
          ("server_error", "executed = true")]


@pytest.mark.parametrize("kill_at", [10, 25])
def test_an_engine_killed_mid_run_and_resumed_from_its_journal_agrees_with_the_venue(tmp_path, kill_at):
    scenario = load(ROOT / "scenarios" / "quickstart.toml")
    journal = tmp_path / "journal.sqlite"
    with venue_process(scenario, seed=3, faults=FAULTS, run_dir=tmp_path) as url:
        killed = run_engine(scenario, tmp_path / "first", url, journal, duration_s=10, kill_at=kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert not (tmp_path / "first" / "report.json").exists()
        resumed = run_engine(scenario, tmp_path / "second", url, journal, duration_s=5, kill_at=None)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        [(orders, trades)] = trio.run(venue_account, scenario, url).values()

    report = orjson.loads((tmp_path / "second" / "report.json").read_bytes())
    assert report["journal"] == {"run_id": 2, "runs": 2}       # the report covers both runs
    side = {order.venue_order_id: order.side.sign for order in orders}
    net = sum(side[item.venue_order_id] * item.trade.qty for item in trades)
    assert Decimal(report["position"]["BTC/USDT"]) == Decimal(net) / 10**8
    assert Counter(journal_fills(journal)) == Counter(item.trade.trade_id for item in trades)
    uses = Counter(order.client_order_id for order in orders)
    assert max(uses.values(), default=1) == 1
    assert [order.client_order_id for order in orders if order.status.is_open] == []
    assert len(trades) > 0 and {o.client_order_id.split("-")[1] for o in orders} <= {"1", "2"}
