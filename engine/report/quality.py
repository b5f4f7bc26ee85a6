"""Execution quality of a run (the report's `execution_quality` section and `fills.csv`), from the journal.

The journal holds what a fill needs to be judged: its parent order (the decision: its time, and the mid and
touch the strategy decided on), the child order it came from (venue, order type), the venue's acknowledgement
(when the order reached the venue, on the run's clock) and the fill itself. What it does not hold is the book
after the decision; that is the book actor's touch path (`BookStats.tops`: every book event that moved the
touch), the one exact record of the mid over time the run keeps. From these:

- slippage against the decision mid and against the arrival mid (the touch when the venue acknowledged);
- latency: decision to acknowledgement, acknowledgement to first fill (nanoseconds, nearest-rank percentiles);
- markouts: the mid 1 s, 30 s and 5 min after each fill against its price, signed so that positive is good for
  us; a fill too close to the end of the path for a horizon has no markout at it;
- cost attribution in the quote asset: delay (the mid moved between decision and arrival), spread (half the
  spread at arrival), impact (the rest of the price paid against the arrival mid) and fees; their sum is the
  implementation shortfall of what was filled.

Everything is integers and Decimals; bps are rounded half-even to `BPS_PLACES`, money to the finest notional
precision of the instruments quoted in that asset, so the same run gives the same bytes.
"""
from __future__ import annotations

import csv
import io
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, localcontext
from typing import Any, Iterable, Mapping

from engine.messages import ChildOrder, ExecType, ExecutionReport, Fill, JournalEntry, OrderUpdate, ParentOrder
from engine.model.numbers import EXACT, Instrument, format_fixed
from engine.model.execution_stats import BPS_PLACES, RATIO_PLACES, WORKING, fixed, slippage_bps

QUALITY_KINDS = (ParentOrder, ChildOrder, ExecutionReport, Fill, OrderUpdate)
"""The journal entries this module reads."""

HORIZONS_NS = {"1s": 1_000_000_000, "30s": 30_000_000_000, "5m": 300_000_000_000}
"""Markout horizons: how long after a fill its mid is read."""

PERCENTILES = {"p50": (50, 100), "p99": (99, 100), "p999": (999, 1000)}
"""Latency percentiles as exact fractions (nearest rank)."""

DIMENSIONS = ("venue", "instrument", "order_type", "hour")


class TouchPath:
    """The touch of one instrument over time: `at(ts)` is the (bid, ask) standing at `ts` (the last change at
    or before it), None before the first or after the path's end (the run saw no book there)."""

    __slots__ = ("_ts", "_touch")

    def __init__(self, touches: Iterable[tuple[int, int, int]]):
        points = list(touches)
        self._ts = [ts for ts, _, _ in points]
        self._touch = [(bid, ask) for _, bid, ask in points]

    def at(self, ts_ns: int) -> tuple[int, int] | None:
        i = bisect_right(self._ts, ts_ns) - 1
        return self._touch[i] if i >= 0 else None

    def covers(self, ts_ns: int) -> bool:
        return bool(self._ts) and ts_ns <= self._ts[-1]

    def points(self) -> list[tuple[int, int, int]]:
        return [(ts, bid, ask) for ts, (bid, ask) in zip(self._ts, self._touch)]


@dataclass(slots=True)
class OrderRecord:
    """One child order as the journal tells it."""
    client_order_id: str
    parent_id: str
    venue: str
    instrument: str
    order_type: str
    qty: int
    decision_ns: int | None
    ack_ns: int | None = None
    first_fill_ns: int | None = None
    filled: int = 0


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill with what judging it needs (prices in the instrument's integer units; mids doubled)."""
    seq: int
    ts_ns: int
    fill: Fill
    order_type: str
    decision_mid_x2: int          # 0: the decision had no mid
    arrival: tuple[int, int] | None
    markouts_x2: dict[str, int | None] = field(default_factory=dict)   # horizon → doubled mid then


def fold(entries: Iterable[JournalEntry], tops: Mapping[str, Iterable[tuple[int, int, int]]]
         ) -> tuple[list[OrderRecord], list[FillRecord]]:
    """The run's child orders and fills from the journal (oldest first) and the touch paths. A child order's
    client id first appears on its OrderUpdate, right after the ChildOrder it was made from; a replacement
    (made inside the order manager, not journaled as a ChildOrder) inherits its parent's latest child."""
    paths = {symbol: TouchPath(points) for symbol, points in tops.items()}
    parents: dict[str, ParentOrder] = {}
    latest_child: dict[str, ChildOrder] = {}
    orders: dict[str, OrderRecord] = {}
    acks: dict[str, int] = {}
    fills: list[FillRecord] = []
    for entry in entries:
        msg = entry.msg
        kind = type(msg)
        if kind is ParentOrder:
            parents[msg.parent_id] = msg
        elif kind is ChildOrder:
            latest_child[msg.parent_id] = msg
        elif kind is OrderUpdate and msg.client_order_id not in orders:
            child = latest_child.get(msg.parent_id)
            parent = parents.get(msg.parent_id)
            orders[msg.client_order_id] = OrderRecord(
                msg.client_order_id, msg.parent_id, child.venue if child else "", msg.instrument,
                child.order_type.value if child else "", msg.qty, parent.ts_ns if parent else None)
        elif kind is ExecutionReport and msg.exec_type in (ExecType.NEW, ExecType.TRADE):
            acks.setdefault(msg.client_order_id, entry.ts_ns)   # a fill with no NEW before it is its own ack
        elif kind is Fill:
            order = orders.get(msg.client_order_id)
            if order is not None:
                order.filled += msg.qty
                if order.first_fill_ns is None:
                    order.first_fill_ns = entry.ts_ns
            path = paths.get(msg.instrument, TouchPath(()))
            ack = acks.get(msg.client_order_id)
            markouts = {}
            for name, horizon in HORIZONS_NS.items():
                later = path.at(entry.ts_ns + horizon) if path.covers(entry.ts_ns + horizon) else None
                markouts[name] = sum(later) if later else None
            fills.append(FillRecord(entry.seq, entry.ts_ns, msg, order.order_type if order else "",
                                    msg.signal_mid_x2, path.at(ack) if ack is not None else None, markouts))
    for order in orders.values():
        order.ack_ns = acks.get(order.client_order_id)
    return list(orders.values()), fills


def percentiles(values: Iterable[int]) -> dict[str, int | None]:
    """Nearest-rank percentiles of integer samples, and their count: the k-th smallest, k = ceil(n * p)."""
    ordered = sorted(values)
    n = len(ordered)
    out: dict[str, int | None] = {"count": n}
    for name, (num, den) in PERCENTILES.items():
        out[name] = ordered[max(-(-n * num // den), 1) - 1] if n else None
    return out


def bps(signed_diff_x2: int, reference_x2: int) -> Decimal:
    """`signed_diff_x2 / reference_x2` in basis points, worked out in the fixed 50-digit half-even context."""
    with localcontext(WORKING):
        return Decimal(signed_diff_x2 * 10_000) / Decimal(reference_x2)


def markout_bps(fill: Fill, later_mid_x2: int) -> Decimal:
    """The mid some time after the fill against its price, in bps of the price; positive when the market moved
    our way (up after a buy, down after a sell)."""
    return bps(fill.side.sign * (later_mid_x2 - 2 * fill.price), 2 * fill.price)


class _Weighted:
    """A quantity-weighted average of bps figures."""

    __slots__ = ("total", "qty", "count")

    def __init__(self) -> None:
        self.total, self.qty, self.count = Decimal(0), Decimal(0), 0

    def add(self, value: Decimal, qty: Decimal) -> None:
        with localcontext(WORKING):
            self.total += value * qty
        self.qty += qty
        self.count += 1

    def as_str(self) -> str | None:
        if not self.qty:
            return None
        with localcontext(WORKING):
            return fixed(self.total / self.qty, BPS_PLACES)


COSTS = ("delay", "spread", "impact", "fees")


class _Group:
    """Every figure of one slice of the run (all of it, one venue, one instrument, one order type, one hour)."""

    def __init__(self) -> None:
        self.orders = self.fills = 0
        self.ordered, self.filled = Decimal(0), Decimal(0)
        self.vs_decision, self.vs_arrival = _Weighted(), _Weighted()
        self.markouts = {name: _Weighted() for name in HORIZONS_NS}
        self.signal_to_ack: list[int] = []
        self.ack_to_first_fill: list[int] = []
        self.costs: dict[str, dict[str, Decimal]] = {}      # quote asset → cost → money
        self.decided_notional: dict[str, Decimal] = {}      # quote asset → qty * decision mid, for IS in bps
        self.other_fees: dict[str, Decimal] = {}            # fees charged in an asset that is not the quote

    def add_order(self, order: OrderRecord, inst: Instrument) -> None:
        self.orders += 1
        self.ordered += inst.qty_decimal(order.qty)
        if order.ack_ns is not None and order.decision_ns is not None:
            self.signal_to_ack.append(order.ack_ns - order.decision_ns)
        if order.ack_ns is not None and order.first_fill_ns is not None:
            self.ack_to_first_fill.append(order.first_fill_ns - order.ack_ns)

    def add_fill(self, rec: FillRecord, inst: Instrument) -> None:
        fill = rec.fill
        with localcontext(EXACT):
            qty = inst.qty_decimal(fill.qty)
            self.fills += 1
            self.filled += qty
            if rec.decision_mid_x2:
                self.vs_decision.add(slippage_bps(fill, rec.decision_mid_x2), qty)
            if rec.arrival:
                self.vs_arrival.add(slippage_bps(fill, sum(rec.arrival)), qty)
            for name, later in rec.markouts_x2.items():
                if later:
                    self.markouts[name].add(markout_bps(fill, later), qty)
            costs = self.costs.setdefault(inst.quote, dict.fromkeys(COSTS, Decimal(0)))
            if fill.fee_asset == inst.quote:
                costs["fees"] += fill.fee
            elif fill.fee_asset:
                self.other_fees[fill.fee_asset] = self.other_fees.get(fill.fee_asset, Decimal(0)) + fill.fee
            if rec.decision_mid_x2 and rec.arrival:
                for name, money in attribute(fill, rec.decision_mid_x2, rec.arrival, inst).items():
                    costs[name] += money
                self.decided_notional[inst.quote] = (self.decided_notional.get(inst.quote, Decimal(0))
                                                     + qty * price_decimal(rec.decision_mid_x2, inst) / 2)

    def as_dict(self, money_places: Mapping[str, int]) -> dict[str, Any]:
        cost = {}
        for quote in sorted(self.costs):
            parts = self.costs[quote]
            with localcontext(EXACT):
                shortfall = sum(parts.values(), Decimal(0))
            notional = self.decided_notional.get(quote)
            with localcontext(WORKING):
                shortfall_bps = fixed(shortfall * 10_000 / notional, BPS_PLACES) if notional else None
            places = money_places[quote]
            cost[quote] = {**{name: fixed(parts[name], places) for name in COSTS},
                           "implementation_shortfall": fixed(shortfall, places),
                           "implementation_shortfall_bps": shortfall_bps}
        with localcontext(WORKING):
            ratio = fixed(self.filled / self.ordered if self.ordered else Decimal(0), RATIO_PLACES)
        return {
            "orders": self.orders,
            "fills": self.fills,
            "fill_ratio": ratio,
            "slippage_bps": {"vs_decision_mid": self.vs_decision.as_str(),
                             "vs_arrival_mid": self.vs_arrival.as_str()},
            "markout_bps": {name: {"avg": w.as_str(), "fills": w.count} for name, w in self.markouts.items()},
            "latency_ns": {"signal_to_ack": percentiles(self.signal_to_ack),
                           "ack_to_first_fill": percentiles(self.ack_to_first_fill)},
            "cost": cost,
            "fees_other_assets": {asset: format(self.other_fees[asset], "f") for asset in sorted(self.other_fees)},
        }


def price_decimal(price: int, inst: Instrument) -> Decimal:
    return Decimal(price).scaleb(-inst.price_decimals)


def attribute(fill: Fill, decision_mid_x2: int, arrival: tuple[int, int], inst: Instrument) -> dict[str, Decimal]:
    """The fill's cost against its decision mid, in the quote asset, split into delay (decision mid → arrival
    mid), spread (half the arrival spread) and impact (the rest: what the price paid beyond the arrival touch;
    negative when a resting order earned the spread). Positive is a cost. Fees are added by the caller."""
    bid, ask = arrival
    sign = fill.side.sign
    with localcontext(EXACT):
        qty = inst.qty_decimal(fill.qty)
        half = Decimal(1).scaleb(-inst.price_decimals) / 2     # a doubled price → money per unit
        delay = sign * (bid + ask - decision_mid_x2) * half * qty
        spread = (ask - bid) * half * qty
        impact = sign * (2 * fill.price - bid - ask) * half * qty - spread
    return {"delay": delay, "spread": spread, "impact": impact}


def hour_of(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, timezone.utc).strftime("%Y-%m-%dT%H")


def _keys(venue: str, instrument: str, order_type: str, ts_ns: int) -> dict[str, str]:
    return {"venue": venue or "unknown", "instrument": instrument, "order_type": order_type or "unknown",
            "hour": hour_of(ts_ns)}


def quality_section(orders: list[OrderRecord], fills: list[FillRecord],
                    instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    """The report's `execution_quality`: the figures over the run and by venue, instrument, order type and
    hour (UTC, of the run's clock: a decision's hour for an order, the fill's for a fill)."""
    total = _Group()
    by: dict[str, dict[str, _Group]] = {dim: {} for dim in DIMENSIONS}
    for order in orders:
        inst = instruments[order.instrument]
        keys = _keys(order.venue, order.instrument, order.order_type, order.decision_ns or 0)
        for group in (total, *(by[d].setdefault(keys[d], _Group()) for d in DIMENSIONS)):
            group.add_order(order, inst)
    for rec in fills:
        inst = instruments[rec.fill.instrument]
        keys = _keys(rec.fill.venue, rec.fill.instrument, rec.order_type, rec.ts_ns)
        for group in (total, *(by[d].setdefault(keys[d], _Group()) for d in DIMENSIONS)):
            group.add_fill(rec, inst)
    places: dict[str, int] = {}
    for inst in instruments.values():
        places[inst.quote] = max(places.get(inst.quote, 0), inst.price_decimals + inst.qty_decimals + 1)
    return {**total.as_dict(places),
            "by": {dim: {key: groups[key].as_dict(places) for key in sorted(groups)} for dim, groups in by.items()},
            "mid_source": "the live book's touch after every event that moved it",
            "markout_horizons_ns": dict(HORIZONS_NS)}


FILL_COLUMNS = ("seq", "ts_ns", "venue", "instrument", "order_type", "side", "qty", "price", "fee", "fee_asset",
                "liquidity", "client_order_id", "parent_id", "trade_id", "decision_mid", "arrival_mid",
                "slippage_bps_vs_decision", "slippage_bps_vs_arrival",
                *(f"markout_bps_{name}" for name in HORIZONS_NS))


def fills_csv(fills: list[FillRecord], instruments: Mapping[str, Instrument]) -> bytes:
    """`fills.csv`: one row per fill, in journal order, every price and quantity exact."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FILL_COLUMNS)
    for rec in fills:
        fill, inst = rec.fill, instruments[rec.fill.instrument]
        arrival_x2 = sum(rec.arrival) if rec.arrival else 0

        def mid(x2: int) -> str:
            return format_fixed(x2 * 5, inst.price_decimals + 1) if x2 else ""

        writer.writerow((
            rec.seq, rec.ts_ns, fill.venue, fill.instrument, rec.order_type, fill.side.name,
            format_fixed(fill.qty, inst.qty_decimals), format_fixed(fill.price, inst.price_decimals),
            format(fill.fee, "f"), fill.fee_asset, fill.liquidity.value, fill.client_order_id, fill.parent_id,
            fill.trade_id, mid(rec.decision_mid_x2), mid(arrival_x2),
            fixed(slippage_bps(fill, rec.decision_mid_x2), BPS_PLACES) if rec.decision_mid_x2 else "",
            fixed(slippage_bps(fill, arrival_x2), BPS_PLACES) if arrival_x2 else "",
            *(fixed(markout_bps(fill, later), BPS_PLACES) if later else "" for later in rec.markouts_x2.values())))
    return out.getvalue().encode()
