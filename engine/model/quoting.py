"""Keeping a quoting strategy's wanted quotes working: which quote orders to cancel and which to place.

A quoting strategy states the two-sided quotes it wants (`QuoteIntent`, as the risk gate approved them); the order
manager keeps one post-only (`LIMIT_MAKER`, good-till-cancelled) order per side working at the wanted price. This
module decides, as a pure function of the wanted quotes and our open orders, what that takes:

- a quote order is kept while its price is the wanted one and what is left of it is no more than the wanted size
  (a partly filled quote keeps its place in the queue); otherwise it is cancelled;
- a side is placed again only once its previous quote order has ended (cancelled, filled, rejected), so the two
  never rest together and the position never goes past what the risk gate allowed; once per approved intent and
  side (a post-only order the venue refused is not sent again until the next intent);
- self-trade prevention: a bid is placed only below every sell order of ours still open on the instrument (a quote
  being cancelled included: its cancel may not have arrived), an ask only above every open buy order, so that our
  bid never crosses our own ask and no order of ours can take another. A side held back for this is counted and
  placed once the orders in its way have ended (the order manager asks again after every report).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from engine.messages import ChildOrder, OrderType, QuoteIntent, Side, TimeInForce
from engine.model.orders import Order

_SUFFIX = {Side.BUY: "b", Side.SELL: "a"}


@dataclass(slots=True)
class QuotePlan:
    """What keeping the wanted quotes takes now: orders to cancel, child orders to place, sides held back."""
    cancel: list[Order] = field(default_factory=list)
    place: list[ChildOrder] = field(default_factory=list)
    held: int = 0


def _wanted(intent: QuoteIntent, side: Side) -> tuple[int, int]:
    return (intent.bid_price, intent.bid_qty) if side is Side.BUY else (intent.ask_price, intent.ask_qty)


def _crosses(side: Side, price: int, others: Iterable[Order]) -> bool:
    """Whether an order of ours at `price` on `side` could trade with one of `others` (our open orders)."""
    for order in others:
        if order.side is side:
            continue
        if (side is Side.BUY and price >= order.price) or (side is Side.SELL and price <= order.price):
            return True
    return False


def plan_quotes(intent: QuoteIntent, quotes: dict[Side, Order], open_orders: list[Order],
                placed: Callable[[str], bool], venue: str, now: int) -> QuotePlan:
    """The plan for `intent`, given the last quote order of each side (`quotes`), every open order of ours on the
    instrument (`open_orders`), and whether a child id was already used (`placed`)."""
    plan = QuotePlan()
    for side in (Side.BUY, Side.SELL):
        price, qty = _wanted(intent, side)
        current = quotes.get(side)
        if current is not None and not current.state.is_terminal:
            left = current.qty - current.cum_qty
            if not (current.price == price and 0 < left <= qty) and current.is_working:
                plan.cancel.append(current)
            continue   # kept, or being cancelled: nothing new on this side until it has ended
        child_id = f"{intent.quote_id}.{_SUFFIX[side]}"
        if qty <= 0 or placed(child_id):
            continue
        if _crosses(side, price, open_orders):
            plan.held += 1
            continue
        plan.place.append(ChildOrder(intent.quote_id, venue, intent.instrument, side, qty, price,
                                     OrderType.LIMIT_MAKER, TimeInForce.GTC, now, intent.mid_x2,
                                     child_id=child_id, limit_price=price))
    return plan
