"""The run report (`report.json`), made from the journal: what the run traded is what the journal holds.

Orders, fills, positions, cash, P&L, risk decisions and reconciliation findings are folded from the journal
with the same `Ledger` the ledger actor runs, so a run resumed from a journal reports everything the journal
holds, every run in it included, and no report can say what no durable record says. The market data, the
runtime's own counts (restarts, dead letters, conflations) and the venue's own account (`venue_truth`) come
from the run itself. A replay's report holds no wall-clock figure and no path: the same scenario and
recording give the same bytes.
"""
from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Iterable, Mapping

from engine.messages import (JournalEntry, ParentOrder, PortfolioView, ProtectionEvent, QuoteIntent, ReconcileFinding,
                             RiskRejection, Signal, TradingStateChanged)
from engine.model.ledger import FOLDED, Ledger
from engine.model.numbers import Instrument, format_decimal, format_fixed
from engine.report.portfolio import KillSwitchFold, money_sections, strategy_of_orders
from engine.report.quality import QUALITY_KINDS

REPORTED = tuple(dict.fromkeys((*FOLDED, ParentOrder, RiskRejection, ReconcileFinding, ProtectionEvent,
                                 *QUALITY_KINDS, Signal, PortfolioView, TradingStateChanged, QuoteIntent)))
"""The journal entries a report reads."""


def journal_section(entries: Iterable[JournalEntry], instruments: Mapping[str, Instrument],
                    mids_x2: Mapping[str, int | None], cash: Mapping[str, Decimal] | None = None,
                    currency: str = "") -> dict[str, Any]:
    """The report's account of trading, folded from the journal's entries (oldest first); `cash` the starting
    balances, `currency` what equity is valued in (default: the first instrument's quote asset)."""
    entries = list(entries)
    ledger = Ledger(instruments, cash=cash)
    ledger.strategy_of = strategy_of_orders(entries)
    switch = KillSwitchFold(ledger)
    views: list[PortfolioView] = []
    rejections: Counter[str] = Counter()
    findings: Counter[str] = Counter()
    approved = 0
    protection = ProtectionCounts()
    for entry in entries:
        msg = entry.msg
        if type(msg) is ProtectionEvent:
            protection.add(msg)
        switch.take(entry)
        if type(msg) is PortfolioView:
            views.append(msg)
        elif type(msg) is RiskRejection:
            rejections[msg.rule] += 1
        elif type(msg) is ParentOrder:
            approved += 1
        elif type(msg) is ReconcileFinding:
            findings[msg.finding] += 1
        elif type(msg) in FOLDED:
            ledger.apply(entry)
    execution = ledger.stats.as_dict()
    portfolio = ledger.portfolio
    positions, realized, unrealized = {}, {}, {}
    net: dict[str, Decimal] = {}      # quote asset → realized + unrealized, less the fees paid in it
    net_places: dict[str, int] = {}
    for symbol, inst in sorted(instruments.items()):
        positions[symbol] = format_fixed(portfolio.position(symbol), inst.qty_decimals)
        realized[symbol] = format_decimal(portfolio.realized(symbol), inst.price_decimals)
        mid_x2 = mids_x2.get(symbol)
        mark_value = portfolio.unrealized(symbol, mid_x2 // 2) if mid_x2 is not None else Decimal(0)
        unrealized[symbol] = format_decimal(mark_value, inst.price_decimals)
        net[inst.quote] = net.get(inst.quote, Decimal(0)) + portfolio.realized(symbol) + mark_value
        net_places[inst.quote] = max(net_places.get(inst.quote, 0), inst.price_decimals + inst.qty_decimals)
    for asset in net:
        net[asset] -= portfolio.fees.get(asset, Decimal(0))
    section = {
        "orders": execution["orders"],
        "fills": execution["fills"],
        "fill_ratio": execution["fill_ratio"],
        "avg_slippage_bps": execution["avg_slippage_bps"],
        "fees": execution["fees"],
        "orders_by_state": execution["orders_by_state"],
        "instruments": execution["instruments"],
        "realized_pnl": realized,
        "unrealized_pnl": unrealized,
        "net_pnl": {asset: format_decimal(net[asset], net_places[asset]) for asset in sorted(net)},
        "position": positions,
        "open_orders": ledger.open_orders(),
        "risk_rejections": dict(sorted(rejections.items())),
        "parent_orders": approved,
        "reconciliation": dict(sorted(findings.items())),
        **money_sections(ledger, views, instruments, mids_x2, currency or next(iter(instruments.values())).quote),
        "kill_switch": switch.section(len(ledger.open_orders())),
    }
    if protection.events:   # only a run that asked for protection (or post-only, reduce-only) has the section
        section["protective_orders"] = protection.as_dict()
    return section


class ProtectionCounts:
    """Protective orders by type (a leg's kind, or the post-only and reduce-only rules) and how each ended; the
    brackets armed and the OCO pairs among them, and the legs sent natively or emulated."""

    def __init__(self) -> None:
        self.events = 0
        self.by_type: dict[str, Counter[str]] = {}
        self.legs: dict[str, int] = {}        # group id → legs armed
        self.modes: Counter[str] = Counter()

    def add(self, event: ProtectionEvent) -> None:
        self.events += 1
        self.by_type.setdefault(event.kind, Counter())[event.event] += 1
        if event.event == "armed":
            self.legs[event.group_id] = self.legs.get(event.group_id, 0) + 1
            self.modes[event.mode] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "brackets": len(self.legs),
            "oco_pairs": sum(1 for legs in self.legs.values() if legs > 1),
            "legs_by_mode": dict(sorted(self.modes.items())),
            "by_type": {kind: dict(sorted(counts.items())) for kind, counts in sorted(self.by_type.items())},
        }


def amounts(by_name: Mapping[str, str]) -> str:
    """`{"USDT": "1.5"}` as `1.5 USDT` (several joined by commas; none as 0): money read as numbers, for people,
    to 8 places at most (report.json keeps every place)."""
    return ", ".join(f"{_readable(value)} {name}" for name, value in by_name.items()) or "0"


def _readable(value: str) -> str:
    amount = Decimal(value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        amount = amount.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)
    return format(amount, "f")


def venue_truth_section(truth: Mapping[str, Mapping[str, Any]], instruments: Mapping[str, Instrument]) -> dict:
    """The venue's own account per instrument (fills, net position, open orders, client ids used twice), with
    positions written in the instrument's decimals like the engine's; an instrument the venue holds nothing of
    is reported as such, not left out."""
    out = {}
    for symbol, inst in sorted(instruments.items()):
        account = {"fills": 0, "position": 0, "open_orders": [], "reused_client_order_ids": {},
                   **truth.get(symbol, {})}
        if isinstance(account["position"], int):
            account["position"] = format_fixed(account["position"], inst.qty_decimals)
        account.pop("trades", None)
        out[symbol] = account
    return out
