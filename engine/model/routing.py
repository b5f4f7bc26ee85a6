"""Routing: where and how an approved order is worked.

The skeleton routes to one venue: an aggressive order becomes an immediate-or-cancel limit at the risk
gate's worst price (it walks the book no further than that), a passive one a good-till-cancelled limit at
our side's touch, never through the risk gate's price.
"""
from __future__ import annotations

from engine.messages import BookView, ChildOrder, OrderType, ParentOrder, Side, TimeInForce, Urgency


class SingleVenueRouter:
    def __init__(self, venue: str):
        self.venue = venue
        self.views: dict[str, BookView] = {}

    def on_view(self, view: BookView) -> None:
        self.views[view.instrument] = view

    def touch_as_of(self, parent: ParentOrder) -> int | None:
        """Our side's touch as of the parent's decision: the newest view, unless that is newer than the decision,
        in which case the book the decision was made on (carried by the parent)."""
        view = self.views.get(parent.instrument)
        if view is None or view.ts_ns > parent.ts_ns:
            touch = parent.bid if parent.side is Side.BUY else parent.ask
            return touch or None
        return view.best_bid if parent.side is Side.BUY else view.best_ask

    def route(self, parent: ParentOrder) -> list[ChildOrder]:
        price, tif = parent.limit_price, TimeInForce.IOC
        if parent.urgency is Urgency.PASSIVE:
            tif = TimeInForce.GTC
            touch = self.touch_as_of(parent)
            if touch is not None:
                price = min(touch, price) if parent.side is Side.BUY else max(touch, price)
        return [ChildOrder(parent.parent_id, self.venue, parent.instrument, parent.side, parent.qty, price,
                           OrderType.LIMIT, tif, parent.ts_ns, parent.signal_mid_x2,
                           child_id=f"{parent.parent_id}.1", limit_price=parent.limit_price,
                           protection=parent.protection)]
