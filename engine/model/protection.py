"""Protective orders as a pure state machine: triggers, trailing, OCO pairing, reduce-only and post-only rules.

A strategy asks for protection (`Protection`) on the position an order opens; once that entry order has ended
with a fill, its protection is *armed* as one group of legs on the exit side, sized to what the entry filled
(never more than the position it protects):

- a **stop** (`stop_price`): stop-market, or stop-limit with `stop_limit_price`, or a **trailing stop** with
  `trailing_bps` (its level trails the best exit price seen since entry by that distance, and never backs off);
- a **take-profit** (`take_profit_price`), a limit at that price once the market reaches it;
- with both, the two legs are an **OCO** pair: the first to trigger (or fill) ends the other.

Each leg is either *native* (sent to the venue as its own order type, triggered by the venue on its book) or
*emulated* (watched here on the engine's book views; triggered, it becomes a market or limit order, which then
pays the order latency like any order). Which one is the order manager's choice (`ProtectionPolicy`), per leg:
native where the venue has the type and the scenario does not ask for emulation.

The trigger rule is one function, `touched`, shared with the simulated venue, so that a native and an emulated
leg trigger on the same book at the same boundary: a stop whose exit is a sell triggers once the best bid is at
or below its level (a buy: the best ask at or above it); a take-profit once the exit touch is at or beyond its
price the favourable way. Triggers look at the touch we would exit at, not the last trade.

Nothing here does IO or knows trio: `Protector` takes what the order manager tells it (an entry filled, a view,
a leg's order changed) and answers with `Effects` (orders to place, orders to cancel, lifecycle events to
journal). Reduce-only and post-only, which any order may ask for, are the two rule functions at the end.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from engine.messages import (
    BookView,
    ChildOrder,
    OrderType,
    Protection,
    ProtectionEvent,
    ProtectionTrail,
    ProtectionTrigger,
    Side,
    TimeInForce,
)

_BPS = 10_000


class LegKind(enum.Enum):
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"


NATIVE_TYPE = {
    LegKind.STOP_MARKET: OrderType.STOP_LOSS,
    LegKind.STOP_LIMIT: OrderType.STOP_LOSS_LIMIT,
    LegKind.TAKE_PROFIT: OrderType.TAKE_PROFIT_LIMIT,
    LegKind.TRAILING_STOP: OrderType.STOP_LOSS,
}
"""The Binance spot order type that carries each leg natively (a trailing stop: STOP_LOSS with `trailingDelta`)."""


class LegState(enum.Enum):
    ARMED = "armed"          # waiting for its trigger: here (emulated) or at the venue (native)
    WORKING = "working"      # triggered (emulated): its order works at the venue
    FILLED = "filled"
    CANCELLED = "cancelled"
    REFUSED = "refused"      # triggered with no position left to reduce
    REJECTED = "rejected"    # the venue refused its order

    @property
    def ended(self) -> bool:
        return self not in (LegState.ARMED, LegState.WORKING)


def touched(kind: LegKind, exit_side: Side, level: int, bid: int | None, ask: int | None) -> bool:
    """Whether a leg at `level`, exiting on `exit_side`, triggers on a book with this touch (a missing side never
    triggers). Stops trigger when the exit touch is at or through the level against the position, take-profits
    when it is at or through it in its favour."""
    touch = bid if exit_side is Side.SELL else ask
    if touch is None:
        return False
    if kind is LegKind.TAKE_PROFIT:
        return touch >= level if exit_side is Side.SELL else touch <= level
    return touch <= level if exit_side is Side.SELL else touch >= level


def trailing_level(exit_side: Side, best: int, trailing_bps: int, tick: int) -> int:
    """A trailing stop's level: `trailing_bps` behind the best exit price, on the tick grid on the far side (a sell
    stop rounds down, a buy stop up), so the distance is never less than asked."""
    if exit_side is Side.SELL:
        return best * (_BPS - trailing_bps) // _BPS // tick * tick
    raw = -(-best * (_BPS + trailing_bps) // _BPS)
    return -(-raw // tick) * tick


def follow(exit_side: Side, best: int, bid: int | None, ask: int | None) -> int:
    """The best exit price so far, after a view with this touch: the highest bid for a sell, lowest ask for a buy."""
    touch = bid if exit_side is Side.SELL else ask
    if touch is None:
        return best
    return max(best, touch) if exit_side is Side.SELL else min(best, touch)


def _on_tick(price: int, tick: int, up: bool) -> int:
    return -(-price // tick) * tick if up else price // tick * tick


class Leg:
    """One protective leg of a group: its rule, its state, and the order that carries it (once there is one)."""

    __slots__ = ("name", "kind", "exit_side", "trigger", "limit", "trailing_bps", "best", "native", "state",
                 "client_order_id", "trailed_to")

    def __init__(self, name: str, kind: LegKind, exit_side: Side, trigger: int, limit: int, trailing_bps: int,
                 best: int, native: bool):
        self.name = name
        self.kind = kind
        self.exit_side = exit_side
        self.trigger = trigger          # the stop or take-profit price (a trailing stop: its starting level)
        self.limit = limit              # a stop-limit's limit price (0: a market order once triggered)
        self.trailing_bps = trailing_bps
        self.best = best                # a trailing stop's best exit price since entry
        self.native = native
        self.state = LegState.ARMED
        self.client_order_id = ""
        self.trailed_to = 0             # a trailing stop: the level its last journaled move (`ProtectionTrail`) set

    @property
    def mode(self) -> str:
        return "native" if self.native else "emulated"

    def level(self, tick: int) -> int:
        """Where it triggers now."""
        if self.kind is LegKind.TRAILING_STOP:
            return trailing_level(self.exit_side, self.best, self.trailing_bps, tick)
        return self.trigger

    def on_view(self, bid: int | None, ask: int | None, tick: int) -> bool:
        """Trail (a trailing stop), then say whether this view triggers it."""
        if self.kind is LegKind.TRAILING_STOP:
            self.best = follow(self.exit_side, self.best, bid, ask)
        return touched(self.kind, self.exit_side, self.level(tick), bid, ask)

    def native_order(self) -> tuple[OrderType, int, int, int]:
        """(order type, price, stop price, trailing bps) of the venue order that carries it natively."""
        kind = self.kind
        if kind is LegKind.STOP_LIMIT:
            return OrderType.STOP_LOSS_LIMIT, self.limit, self.trigger, 0
        if kind is LegKind.TAKE_PROFIT:
            return OrderType.TAKE_PROFIT_LIMIT, self.trigger, self.trigger, 0
        if kind is LegKind.TRAILING_STOP:
            return OrderType.STOP_LOSS, 0, 0, self.trailing_bps
        return OrderType.STOP_LOSS, 0, self.trigger, 0

    def triggered_order(self) -> tuple[OrderType, TimeInForce, int]:
        """(order type, time in force, price) of the order an emulated leg becomes once triggered: a stop-market
        or trailing stop a market order, a stop-limit a resting limit at its limit, a take-profit at its price."""
        if self.kind is LegKind.STOP_LIMIT:
            return OrderType.LIMIT, TimeInForce.GTC, self.limit
        if self.kind is LegKind.TAKE_PROFIT:
            return OrderType.LIMIT, TimeInForce.GTC, self.trigger
        return OrderType.MARKET, TimeInForce.IOC, 0


@dataclass(slots=True)
class Group:
    """The protection of one entry order: its legs on the exit side, for `qty`."""
    group_id: str            # the entry's client order id
    instrument: str
    venue: str
    parent_id: str
    exit_side: Side
    qty: int
    legs: dict[str, Leg]
    native_list: bool = False   # its legs are one order list at the venue, which ends the others itself

    @property
    def ended(self) -> bool:
        return all(leg.state.ended for leg in self.legs.values())

    @property
    def is_oco(self) -> bool:
        return len(self.legs) > 1


@dataclass(slots=True)
class Effects:
    """What a step of the protector asks the order manager to do: place these (leg) orders, cancel these, and
    journal these events."""
    place: list[tuple[Group, Leg, ChildOrder]] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    events: list[ProtectionEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProtectionPolicy:
    """Native or emulated: `mode` "native" sends a leg natively where the venue has its order type (`native_types`),
    and pairs an OCO as one order list where it has those (`native_oco`); "emulated" watches every leg here."""
    mode: str = "native"
    native_types: frozenset[OrderType] = frozenset()
    native_oco: bool = False

    def native(self, kind: LegKind) -> bool:
        return self.mode == "native" and NATIVE_TYPE[kind] in self.native_types

    def post_only_native(self) -> bool:
        return self.mode == "native" and OrderType.LIMIT_MAKER in self.native_types


def legs_of(protection: Protection, exit_side: Side, entry_price: int, tick: int,
            policy: ProtectionPolicy) -> dict[str, Leg]:
    """The legs `protection` asks for, their prices on the tick grid the cautious way (a stop no nearer than asked,
    a take-profit no nearer either)."""
    sell = exit_side is Side.SELL
    legs: dict[str, Leg] = {}
    if protection.trailing_bps:
        legs["stop"] = Leg("stop", LegKind.TRAILING_STOP, exit_side, 0, 0, protection.trailing_bps, entry_price,
                           policy.native(LegKind.TRAILING_STOP))
    elif protection.stop_price:
        stop = _on_tick(protection.stop_price, tick, up=not sell)
        kind = LegKind.STOP_LIMIT if protection.stop_limit_price else LegKind.STOP_MARKET
        limit = _on_tick(protection.stop_limit_price, tick, up=not sell) if protection.stop_limit_price else 0
        legs["stop"] = Leg("stop", kind, exit_side, stop, limit, 0, entry_price, policy.native(kind))
    if protection.take_profit_price:
        take = _on_tick(protection.take_profit_price, tick, up=sell)
        legs["take_profit"] = Leg("take_profit", LegKind.TAKE_PROFIT, exit_side, take, 0, 0, entry_price,
                                  policy.native(LegKind.TAKE_PROFIT))
    return legs


def reducible(position: int, exit_side: Side) -> int:
    """How much an order on `exit_side` can trade without increasing the position (or flipping it)."""
    return max(position, 0) if exit_side is Side.SELL else max(-position, 0)


def reduce_only_qty(qty: int, side: Side, position: int) -> int:
    """A reduce-only order's quantity: shrunk to the position it reduces; 0 means refused (nothing to reduce)."""
    return min(qty, reducible(position, side))


def post_only_crosses(side: Side, price: int, bid: int | None, ask: int | None) -> bool:
    """Whether a post-only order at `price` would take on a book with this touch (then it is refused)."""
    if side is Side.BUY:
        return ask is not None and price >= ask
    return bid is not None and price <= bid


class Protector:
    """Every group of protective legs, by entry; what each step of their lives asks of the order manager."""

    def __init__(self, policy: ProtectionPolicy, tick_size: dict[str, int]):
        self.policy = policy
        self.tick_size = tick_size
        self.wanted: dict[str, Protection] = {}      # entry client order id → protection, until the entry ends
        self.groups: dict[str, Group] = {}           # open groups by id
        self._legs: dict[str, tuple[Group, Leg]] = {}  # leg order's client order id → its group and leg

    # ------------------------------------------------------------ entries

    def expect(self, entry_client_order_id: str, protection: Protection) -> None:
        """An entry order asking for protection was created: arm it once it ends filled."""
        if protection.stop_price or protection.take_profit_price or protection.trailing_bps:
            self.wanted[entry_client_order_id] = protection

    def entry_ended(self, entry_client_order_id: str, instrument: str, venue: str, parent_id: str, side: Side,
                    filled: int, avg_price: int, position: int, now: int, halted: bool) -> Effects:
        """The entry ended: arm its protection for what it filled, no more than the position there is to protect;
        its native legs are placed now (an OCO pair as one order list)."""
        effects = Effects()
        protection = self.wanted.pop(entry_client_order_id, None)
        exit_side = side.opposite
        qty = reduce_only_qty(filled, exit_side, position)
        if protection is None or qty <= 0 or halted:
            return effects
        tick = self.tick_size.get(instrument, 1)
        legs = legs_of(protection, exit_side, avg_price, tick, self.policy)
        native_list = len(legs) > 1 and self.policy.native_oco and all(leg.native for leg in legs.values())
        group = Group(entry_client_order_id, instrument, venue, parent_id, exit_side, qty, legs, native_list)
        self.groups[group.group_id] = group
        for leg in legs.values():
            leg.trailed_to = leg.level(tick)
            effects.events.append(self._event(group, leg, now, "armed", f"{qty} at {leg.level(tick)}"))
            if leg.native:
                order_type, price, stop, trailing = leg.native_order()
                child = ChildOrder(parent_id, venue, instrument, exit_side, qty, price, order_type, TimeInForce.GTC,
                                   now, 0, child_id=f"{group.group_id}.{leg.name}", limit_price=price,
                                   stop_price=stop, trailing_bps=trailing,
                                   list_id=group.group_id if native_list else "", reduce_only=True)
                effects.place.append((group, leg, child))
        return effects

    def supersede(self, instrument: str, side: Side, now: int) -> Effects:
        """A new order on `side` closes what the groups exiting on that side protect: they end (the new order
        brings its own protection, if it asked for any)."""
        effects = Effects()
        for group in [g for g in self.groups.values() if g.instrument == instrument and g.exit_side is side]:
            self._end_group(group, now, "superseded", effects)
        return effects

    def end_all(self, now: int, reason: str) -> Effects:
        """Order entry stops (cancel-all, a halt): every group ends, its working leg orders cancelled."""
        effects = Effects()
        self.wanted.clear()
        for group in list(self.groups.values()):
            self._end_group(group, now, reason, effects)
        return effects

    # ------------------------------------------------------------ emulated triggers

    def watching(self) -> bool:
        """Whether any emulated leg waits for its trigger (the order manager must then see every view)."""
        return any(not leg.native and leg.state is LegState.ARMED
                   for group in self.groups.values() for leg in group.legs.values())

    def on_view(self, view: BookView, now: int) -> list[ProtectionTrail | ProtectionTrigger]:
        """Trail the trailing stops, and say which armed emulated legs this view triggers (in group order), each
        trailing stop whose level it moved first (to be journaled: a rebuilt order manager trails on from there).

        A level lies on the tick grid, so a move is a tick or more: the best price moving within a tick is not
        journaled, and need not be, since the level is monotonic in the best price (a rebuilt leg whose best lags
        the lost one inside the same level reaches every later level exactly when the lost one would have)."""
        triggers: list[ProtectionTrail | ProtectionTrigger] = []
        tick = self.tick_size.get(view.instrument, 1)
        bid, ask = view.best_bid, view.best_ask
        for group in self.groups.values():
            if group.instrument != view.instrument:
                continue
            for leg in group.legs.values():
                if leg.native or leg.state is not LegState.ARMED:
                    continue
                fired = leg.on_view(bid, ask, tick)
                if leg.kind is LegKind.TRAILING_STOP and leg.level(tick) != leg.trailed_to:
                    leg.trailed_to = leg.level(tick)
                    triggers.append(ProtectionTrail(group.group_id, leg.name, now, leg.best))
                if fired:
                    touch = bid if leg.exit_side is Side.SELL else ask
                    triggers.append(ProtectionTrigger(group.group_id, leg.name, now, touch or 0, view.mid_x2 or 0))
                    break   # one leg of a group per view: the first triggered ends its pair
        return triggers

    def trigger(self, trig: ProtectionTrigger, position: int, now: int) -> Effects:
        """An emulated leg triggered: its order for the position left to reduce (refused if none), and its pair
        ended (OCO)."""
        effects = Effects()
        group = self.groups.get(trig.group_id)
        leg = None if group is None else group.legs.get(trig.leg)
        if group is None or leg is None or leg.native or leg.state is not LegState.ARMED:
            return effects  # already ended, or replayed after its end
        tick = self.tick_size.get(group.instrument, 1)
        effects.events.append(self._event(group, leg, now, "triggered", f"touch {trig.touch} at level "
                                                                         f"{leg.level(tick)}"))
        self._end_others(group, leg, now, effects)
        qty = reduce_only_qty(group.qty, group.exit_side, position)
        if qty <= 0:
            self._finish(group, leg, LegState.REFUSED, now, "no position left to reduce", effects)
            return effects
        leg.state = LegState.WORKING
        order_type, tif, price = leg.triggered_order()
        child = ChildOrder(group.parent_id, group.venue, group.instrument, group.exit_side, qty, price, order_type,
                           tif, now, trig.mid_x2, child_id=f"{group.group_id}.{leg.name}", limit_price=price,
                           reduce_only=True)
        effects.place.append((group, leg, child))
        return effects

    def trail(self, moved: ProtectionTrail) -> None:
        """A trailing stop's journaled move: its best price is at least there (live, `on_view` set it already; a
        rebuild, which sees no views, gets it only from here)."""
        group = self.groups.get(moved.group_id)
        leg = None if group is None else group.legs.get(moved.leg)
        if group is None or leg is None or leg.kind is not LegKind.TRAILING_STOP:
            return
        leg.best = follow(leg.exit_side, leg.best, moved.best, moved.best)
        leg.trailed_to = leg.level(self.tick_size.get(group.instrument, 1))

    # ------------------------------------------------------------ leg orders

    def bind(self, client_order_id: str, group: Group, leg: Leg) -> None:
        leg.client_order_id = client_order_id
        self._legs[client_order_id] = (group, leg)

    def is_leg(self, client_order_id: str) -> bool:
        return client_order_id in self._legs

    def leg_order_changed(self, client_order_id: str, state: str, cum_qty: int, now: int) -> Effects:
        """A leg's order changed (`state` an order state's value): a fill ends its pair; its end ends the leg."""
        effects = Effects()
        found = self._legs.get(client_order_id)
        if found is None:
            return effects
        group, leg = found
        if leg.state.ended:
            return effects
        if cum_qty > 0:
            self._end_others(group, leg, now, effects)
        if state == "filled" or (cum_qty > 0 and state in ("cancelled", "expired")):
            self._finish(group, leg, LegState.FILLED, now, f"{cum_qty} filled", effects)
        elif state in ("cancelled", "expired"):
            self._finish(group, leg, LegState.CANCELLED, now, f"the venue {state} it", effects)
        elif state == "rejected":
            self._finish(group, leg, LegState.REJECTED, now, "the venue refused it", effects)
        return effects

    # ------------------------------------------------------------ internals

    def _end_others(self, group: Group, leg: Leg, now: int, effects: Effects) -> None:
        """A leg traded or triggered: the others end; those of a native list the venue expires itself (a cancel
        of ours would only race its expiry)."""
        for other in group.legs.values():
            if other is not leg and not other.state.ended:
                if group.native_list:
                    self._finish(group, other, LegState.CANCELLED, now, "oco: the venue expires it", effects)
                else:
                    self._cancel_leg(group, other, now, "oco", effects)

    def _end_group(self, group: Group, now: int, reason: str, effects: Effects) -> None:
        for leg in group.legs.values():
            if not leg.state.ended:
                self._cancel_leg(group, leg, now, reason, effects)

    def _cancel_leg(self, group: Group, leg: Leg, now: int, reason: str, effects: Effects) -> None:
        if leg.client_order_id:
            effects.cancel.append(leg.client_order_id)
        self._finish(group, leg, LegState.CANCELLED, now, reason, effects)

    def _finish(self, group: Group, leg: Leg, state: LegState, now: int, detail: str, effects: Effects) -> None:
        leg.state = state
        effects.events.append(self._event(group, leg, now, state.value, detail))
        if group.ended:
            del self.groups[group.group_id]

    @staticmethod
    def _event(group: Group, leg: Leg, now: int, event: str, detail: str) -> ProtectionEvent:
        return ProtectionEvent(group.group_id, group.instrument, now, leg.kind.value, event, leg.mode,
                               leg.client_order_id, detail)
