"""The in-process venue's own records of our orders and their trades.

After a crash the engine asks the venue what became of its orders, and at the end of a run the venue's
account is what the engine's fills and position are checked against: the venue is the truth. So the venue
keeps, for every order it accepted, the request, its venue order id, its status, its cumulative quantity and
every trade, and answers from those records alone, whatever it sent or failed to send on its order stream.

The records follow the matching engine's execution reports (a NEW opens a record, a TRADE adds a trade,
CANCELED and EXPIRED close it); a REJECTED order was never accepted and leaves no record, so a query for it
finds nothing, as on Binance. A client order id may name several orders: Binance accepts an id again once
the order that used it is no longer open (venues.md §0.3), so the records count how many new orders each id
placed, and a check can see an id that was sent twice. Pure: no trio, no clock.
"""
from __future__ import annotations

from typing import Any, Iterable

from engine.messages import (
    ExecType,
    ExecutionReport,
    NewOrderRequest,
    ReconcileReply,
    ReconcileRequest,
    VenueOrderState,
    VenueOrderStatus,
    VenueTrade,
)

_CLOSED_BY = {ExecType.CANCELED: VenueOrderStatus.CANCELLED, ExecType.EXPIRED: VenueOrderStatus.EXPIRED}


class _OrderRecord:
    """One accepted order as the venue keeps it."""

    __slots__ = ("request", "venue_order_id", "created_ns", "status", "cum_qty", "trades")

    def __init__(self, request: NewOrderRequest, venue_order_id: str, created_ns: int):
        self.request = request
        self.venue_order_id = venue_order_id
        self.created_ns = created_ns
        self.status = VenueOrderStatus.OPEN
        self.cum_qty = 0
        self.trades: list[VenueTrade] = []

    def state(self) -> VenueOrderState:
        req = self.request
        return VenueOrderState(req.client_order_id, self.venue_order_id, req.instrument, req.side, req.qty, req.price,
                               self.status, self.cum_qty, tuple(self.trades))


class VenueRecords:
    """Every order the venue accepted from us, and every trade, queryable by client order id."""

    def __init__(self) -> None:
        self._by_venue_id: dict[str, _OrderRecord] = {}         # in the order the venue accepted them
        self._by_client_id: dict[str, list[_OrderRecord]] = {}  # oldest first
        self.new_orders: dict[str, int] = {}                    # client order id → new orders it placed

    def record(self, reports: Iterable[ExecutionReport], request: NewOrderRequest | None = None) -> None:
        """Take the reports the matching engine produced (for `request`, when it placed a new order)."""
        for report in reports:
            exec_type = report.exec_type
            if exec_type is ExecType.NEW:
                if request is None or request.client_order_id != report.client_order_id:
                    raise ValueError(f"NEW report of {report.client_order_id} without its request")
                self._open(request, report)
            elif exec_type is ExecType.TRADE:
                order = self._by_venue_id[report.venue_order_id]
                order.cum_qty = report.cum_qty
                order.trades.append(VenueTrade(report.trade_id, report.last_qty, report.last_price, report.fee,
                                               report.fee_asset, report.liquidity, report.ts_ns))
                if order.cum_qty == order.request.qty:
                    order.status = VenueOrderStatus.FILLED
            elif exec_type in _CLOSED_BY:
                self._by_venue_id[report.venue_order_id].status = _CLOSED_BY[exec_type]

    def open_orders(self, instrument: str) -> list[str]:
        """The client order ids of our open orders on `instrument`, oldest first."""
        return [o.request.client_order_id for o in self._by_venue_id.values()
                if o.status is VenueOrderStatus.OPEN and o.request.instrument == instrument]

    def reconcile(self, query: ReconcileRequest, venue: str, now_ns: int) -> ReconcileReply:
        """The venue's account of the orders `query` asks about, on its instrument.

        Named ids: every order placed under each (an id used twice names two orders, oldest first); an id the
        venue never accepted is absent. No names: every order created at or after `since_ns`.
        """
        if query.client_order_ids:
            found = [o for cid in dict.fromkeys(query.client_order_ids) for o in self._by_client_id.get(cid, ())]
        else:
            found = [o for o in self._by_venue_id.values() if o.created_ns >= query.since_ns]
        orders = tuple(o.state() for o in found if o.request.instrument == query.instrument)
        return ReconcileReply(query.request_id, venue, query.instrument, now_ns, orders)

    def truth(self) -> dict[str, dict[str, Any]]:
        """The venue's account of the run, per instrument, in JSON's types (quantities in fixed-point units).

        `fills`: our trades; `position`: their signed sum (bought minus sold); `open_orders`: client order ids
        still open; `trades`: each trade id with its signed quantity; `reused_client_order_ids`: the ids that
        placed more than one new order, with how many.
        """
        truth: dict[str, dict[str, Any]] = {}
        for order in self._by_venue_id.values():
            req = order.request
            account = truth.get(req.instrument)
            if account is None:
                account = truth[req.instrument] = {"fills": 0, "position": 0, "open_orders": [], "trades": {},
                                                   "reused_client_order_ids": {}}
            for trade in order.trades:
                account["fills"] += 1
                account["position"] += req.side.sign * trade.qty
                account["trades"][trade.trade_id] = req.side.sign * trade.qty
            if order.status is VenueOrderStatus.OPEN:
                account["open_orders"].append(req.client_order_id)
            if self.new_orders[req.client_order_id] > 1:
                account["reused_client_order_ids"][req.client_order_id] = self.new_orders[req.client_order_id]
        return {instrument: truth[instrument] for instrument in sorted(truth)}

    def _open(self, request: NewOrderRequest, report: ExecutionReport) -> None:
        order = _OrderRecord(request, report.venue_order_id, report.ts_ns)
        self._by_venue_id[report.venue_order_id] = order
        self._by_client_id.setdefault(request.client_order_id, []).append(order)
        self.new_orders[request.client_order_id] = self.new_orders.get(request.client_order_id, 0) + 1
