"""The parts behind `--metrics-port`, each on its own: the journal's fold, the health verdict, the control's
refusals, the exporter's families, and the Grafana dashboard that reads them."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.actors.book import BookStats
from engine.app.observe import health
from engine.app.observe.activity import Activity
from engine.app.observe.control import Control, ControlRefused
from engine.app.observe.exporter import EngineCollector
from engine.app.observe.watched import Watched
from engine.app.stopping import StopRequest
from engine.messages import (ExecType, ExecutionReport, Fill, JournalEntry, Liquidity, OperatorAction, OrderUpdate,
                             ReconcileReply, RequestFailed, RequestKind, FailureClass, Side, TradingMode,
                             TradingStateChanged, VenueSession)
from engine.runtime import Lifecycle, LifecycleKind, Mailbox, VirtualClock

ROOT = Path(__file__).resolve().parents[1]
MS = 1_000_000


def entries(*items: tuple[int, object]) -> list[JournalEntry]:
    return [JournalEntry(seq, ts, 1, "orders", msg) for seq, (ts, msg) in enumerate(items, 1)]


def update(coid: str, state: str, qty: int = 100) -> OrderUpdate:
    return OrderUpdate(coid, "P1", "BTC/USDT", Side.BUY, state, qty, 0, 0)


def report(coid: str, kind: ExecType, qty: int = 0) -> ExecutionReport:
    return ExecutionReport("binance", coid, "v1", kind, 0, qty, qty, 10)


def fill(coid: str, qty: int) -> Fill:
    return Fill(coid, "P1", "binance", "BTC/USDT", Side.BUY, qty, 10, Decimal(0), "USDT", Liquidity.TAKER, 0, 20)


def test_the_fold_times_each_ack_from_its_order_and_counts_orders_fills_errors_and_the_kill_switch():
    activity = Activity("binance", {"BTC/USDT": None}, run_id=1)
    activity.take(entries(
        (1_000 * MS, update("A", "pending")), (1_003 * MS, report("A", ExecType.NEW)),    # ack after 3 ms
        (1_004 * MS, update("A", "submitted")),                                         # not a new order
        (2_000 * MS, update("B", "pending", 300)), (2_700 * MS, report("B", ExecType.TRADE, 300)),  # 700 ms
        (2_700 * MS, fill("B", 300)), (2_700 * MS, update("B", "filled", 300)),
        (2_800 * MS, report("B", ExecType.TRADE, 300)),                                 # not a second ack
        (3_000 * MS, RequestFailed("binance", "BTC/USDT", "A", RequestKind.CANCEL, FailureClass.UNKNOWN, 0)),
        (3_100 * MS, report("C", ExecType.REJECTED)),
        (3_200 * MS, TradingStateChanged(TradingMode.HALTED, 0, "operator:halt")),
    ))

    [hist] = activity.ack.values()
    assert hist.count == 2 and hist.sum_ns == 703 * MS
    assert dict(hist.cumulative())["0.0025"] == 0 and dict(hist.cumulative())["0.005"] == 1
    assert dict(hist.cumulative())["0.5"] == 1 and dict(hist.cumulative())["1.0"] == 2
    assert activity.orders == {("binance", "BTC/USDT"): 2} and activity.open_orders == 1
    assert activity.fill_ratio("BTC/USDT") == 0.75     # 300 of 400 ordered
    assert activity.errors == {("binance", "request_unknown"): 1, ("binance", "order_rejected"): 1}
    assert (activity.mode, activity.mode_cause) == (TradingMode.HALTED, "operator:halt")


def _watched(book: BookStats, lifecycle: Lifecycle) -> Watched:
    return Watched("binance", VirtualClock(), lifecycle, {"orders": Mailbox("orders")}, book, {}, None,
                   StopRequest())


def test_health_is_ready_only_with_live_books_reconciled_orders_an_active_switch_and_no_actor_given_up():
    class Sync:
        state = None
    from engine.messages import BookState
    book, lifecycle = BookStats(), Lifecycle(lambda: 0)
    activity = Activity("binance", {"BTC/USDT": None}, run_id=1)
    watched = _watched(book, lifecycle)
    assert health.reasons(watched, activity) == ["book BTC/USDT syncing",
                                                 "orders of BTC/USDT not reconciled with binance yet"]
    sync = Sync()
    sync.state = BookState.LIVE
    book.syncs["BTC/USDT"] = sync
    activity.take(entries((0, ReconcileReply("1-1", "binance", "BTC/USDT", 0))))
    assert health.reasons(watched, activity) == []
    activity.take(entries((0, VenueSession("binance", 0, "stream restarted"))))   # reconciles again
    assert health.reasons(watched, activity) == ["orders of BTC/USDT not reconciled with binance yet"]
    activity.take(entries((0, ReconcileReply("1-2", "binance", "BTC/USDT", 0)),
                          (0, TradingStateChanged(TradingMode.REDUCING, 0, "max_drawdown"))))
    sync.state = BookState.STALE
    lifecycle.record("market", LifecycleKind.GAVE_UP)
    watched.stop.reason = "stopped by SIGTERM"
    assert health.reasons(watched, activity) == ["stopping (stopped by SIGTERM)", "market gave up",
                                                 "book BTC/USDT stale", "kill switch reducing (max_drawdown)"]


@pytest.mark.parametrize("authorization, segment, status", [
    ("", "halt", 401), ("Bearer wrong", "halt", 401), ("Basic s3cret", "halt", 401), ("Bearer s3cret", "nuke", 404),
])
def test_the_control_refuses_without_the_token_before_it_reads_the_action(authorization, segment, status):
    with pytest.raises(ControlRefused) as refused:
        Control("s3cret", Mailbox("control")).check(authorization, segment)
    assert refused.value.status == status


def test_the_control_names_every_action_and_needs_a_control_actor():
    control = Control("s3cret", Mailbox("control"))
    assert [control.check("Bearer s3cret", s) for s in ("halt", "reduce", "resume", "flatten", "cancel-all")] == [
        OperatorAction.HALT, OperatorAction.REDUCE, OperatorAction.RESUME, OperatorAction.FLATTEN,
        OperatorAction.CANCEL_ALL]
    with pytest.raises(ControlRefused) as refused:
        Control("s3cret", None).check("bearer s3cret", "halt")
    assert refused.value.status == 503


def _exported() -> set[str]:
    activity = Activity("binance", {"BTC/USDT": None}, run_id=1)
    activity.take(entries((0, update("A", "pending")), (MS, report("A", ExecType.NEW))))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(_watched(BookStats(), Lifecycle(lambda: 0)), activity))
    return {family.name for family in text_string_to_metric_families(generate_latest(registry).decode())}


def test_every_family_is_named_engine_and_has_a_panel_on_the_dashboard_that_reads_only_those():
    families = _exported()
    dashboard = json.loads((ROOT / "dashboards" / "engine.json").read_text())
    exprs = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    read = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in re.findall(r"\bengine_[a-z_]+", exprs)}
    assert all(name.startswith("engine_") for name in families) and len(families) >= 20
    assert families - read == set()
    assert read - families == set()
