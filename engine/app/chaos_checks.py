"""What a chaos run found: its account (`RunResult`) and the invariants the engine's account is held to against the
venue's (`violations`), shared by the runs in process (`engine.app.chaos`) and the killed ones
(`engine.app.chaos_kill`)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.app import session


@dataclass
class RunResult:
    index: int
    seed: int
    kind: str
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    reconciliations: int = 0
    dead_letters: int = 0
    violations: list[str] = field(default_factory=list)


def violations(report: dict[str, Any], evidence: session.Evidence, resync_within_ns: int) -> list[str]:
    """Every invariant the run broke, each in a sentence."""
    found = []
    for symbol, truth in report["venue_truth"].items():
        engine = report["position"].get(symbol)
        if engine != truth["position"]:
            found.append(f"{symbol}: the engine holds {engine}, the venue's trades net {truth['position']}")
        if truth["reused_client_order_ids"]:
            found.append(f"{symbol}: client order ids sent twice as new orders: {truth['reused_client_order_ids']}")
        if sorted(truth["open_orders"]) != sorted(o for o in report["open_orders"]):
            found.append(f"{symbol}: open at the venue {truth['open_orders']}, open in the engine "
                         f"{report['open_orders']}")
    ours = Counter(evidence.fill_trade_ids)
    twice = sorted(trade for trade, n in ours.items() if n > 1)
    if twice:
        found.append(f"fills counted more than once: {twice[:10]}")
    venue_ids = {trade for trades in evidence.venue_trades.values() for trade in trades}
    missing, extra = sorted(venue_ids - set(ours)), sorted(set(ours) - venue_ids)
    if missing:
        found.append(f"venue fills the engine never counted: {missing[:10]}")
    if extra:
        found.append(f"fills the engine counted that the venue does not have: {extra[:10]}")
    limit_ms = resync_within_ns // 1_000_000
    for symbol, longest in report["book"]["longest_outage_ms"].items():   # an outage still open at the end too
        if longest > limit_ms:
            found.append(f"{symbol}: the book was not live for {longest} ms, more than {limit_ms} ms")
    if report.get("failure"):
        found.append(f"the run failed: {report['failure']}")
    return found
