"""Pre-trade risk: every signal passes here, and is sized, priced and checked before any venue sees it.

The gate turns a wanted position into an order for the difference from what is held and already working,
gives it a worst acceptable price (the mid plus the allowed slippage), and refuses it, naming the rule,
when the kill switch halts trading (or, while it only lets exposure shrink, when the order would not shrink it), the
position or notional limits would be exceeded, or the signal's mid has drifted outside the price band around the
current book mid; what passes those is then held to the checks of `engine.model.risk_checks` (instrument rules,
exposure, balance, market quality, rate...), in their fixed order. How much a signal wants is its strategy's sizing
(`engine.model.sizing`), over the equity the portfolio last published. A quoting strategy's wanted quotes are
checked here too, and shrunk to the limits rather than refused (`decide_quotes`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal

from engine.messages import (BookView, Exposure, ParentOrder, PortfolioView, QuoteIntent, RiskRejection, Side, Signal,
                             TradingMode, Urgency)
from engine.model.numbers import Instrument
from engine.model.risk_checks import Candidate, CheckLimits, Market, PreTradeChecks
from engine.model.sizing import DEFAULT_EQUITY, Sizing, SizingRefused

_BPS = 10_000


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_notional: Decimal
    max_position: int
    price_band_bps: int
    max_slippage_bps: int


class RiskGate:
    """The pure risk state: exposures, latest mids, the kill switch's mode, and the decision for a signal."""

    def __init__(self, limits: RiskLimits, instruments: dict[str, Instrument], parent_prefix: str = "P",
                 checks: CheckLimits | None = None, sizing: Sizing | None = None,
                 equity: Decimal = DEFAULT_EQUITY):
        self.limits = limits
        self.sizing = sizing or Sizing({})   # each strategy's
        self.equity = equity         # what sizing risks a fraction of: the portfolio's, once it publishes one
        self.quotes_shrunk = 0
        self.refused_sides: list[RiskRejection] = []   # quote sides the checks refused (`take_refused_sides`)
        self.parent_prefix = parent_prefix  # parent ids are the prefix and a count: give each run its own
        self.instruments = instruments
        self.exposures: dict[str, Exposure] = {}
        self.mids_x2: dict[str, int] = {}
        self.mid_ts_ns: dict[str, int] = {}   # the time of the view each mid is from
        self.mode = TradingMode.ACTIVE   # the kill switch's, as the control actor last said
        self.rejections: Counter[str] = Counter()
        self.approved = 0
        self.checks = PreTradeChecks(checks or CheckLimits(), Market(instruments, self.mids_x2, self.exposures))

    def on_view(self, view: BookView) -> None:
        self.on_mid(view.instrument, view.mid_x2, view.ts_ns)
        if self.checks.watches_views:
            self.checks.on_view(view)

    def on_mid(self, instrument: str, mid_x2: int | None, ts_ns: int = 0) -> None:
        if mid_x2 is not None:
            self.mids_x2[instrument] = mid_x2
            self.mid_ts_ns[instrument] = ts_ns

    def mid_as_of(self, sig: Signal | QuoteIntent) -> int | None:
        """The book mid as of the signal's decision: the newest mid the gate knows, unless that is newer than the
        decision (the book moved on after it), in which case the book the signal was decided on."""
        known = self.mids_x2.get(sig.instrument)
        if known is not None and self.mid_ts_ns.get(sig.instrument, 0) > sig.ts_ns:
            return sig.mid_x2
        return known

    def on_portfolio(self, view: PortfolioView) -> None:
        """The ledger's newest valuation: what sizing reads, and the cash and equity the checks hold orders to."""
        self.equity = view.equity
        self.checks.on_portfolio(view)

    def on_exposure(self, exposure: Exposure) -> None:
        self.exposures[exposure.instrument] = exposure

    def decide(self, sig: Signal) -> ParentOrder | RiskRejection | None:
        """An approved order, a rejection naming its rule, or None when nothing needs doing."""
        inst = self.instruments[sig.instrument]
        limits = self.limits
        if self.mode is TradingMode.HALTED:
            return self._reject(sig, "kill_switch", "trading is halted")
        exp = self.exposures.get(sig.instrument)
        position, open_buy, open_sell = (exp.position, exp.open_buy_qty, exp.open_sell_qty) if exp else (0, 0, 0)
        current = position + open_buy - open_sell
        try:
            target = self.sizing.target(sig, inst, self.equity, current)
        except SizingRefused as refused:
            return self._reject(sig, refused.rule, refused.detail)
        if abs(target) > limits.max_position:
            return self._reject(sig, "max_position",
                                f"target {target} exceeds max position {limits.max_position}")
        delta = target - current
        qty = abs(delta) // inst.lot_size * inst.lot_size
        if qty == 0:
            return None
        side = Side.BUY if delta > 0 else Side.SELL
        if self.mode is TradingMode.REDUCING:
            qty = _reducing_qty(side, qty, position, open_buy, open_sell, inst.lot_size)
            if qty == 0:
                return self._reject(sig, "kill_switch", "reducing: only orders that reduce exposure pass")
        off_market = self._off_market(sig)
        if off_market is not None:
            return off_market
        limit = _limit_price(sig.mid_x2, side, limits.max_slippage_bps, inst.tick_size)
        notional = inst.notional(limit, qty)
        if notional > limits.max_order_notional:
            return self._reject(sig, "max_order_notional",
                                f"notional {notional} exceeds {limits.max_order_notional}")
        worst = position + open_buy + qty if side is Side.BUY else position - open_sell - qty
        if abs(worst) > limits.max_position:
            return self._reject(sig, "max_position",
                                f"position could reach {worst}, beyond {limits.max_position}")
        refusal = self.checks.refuse(Candidate(sig, inst, side, qty, limit, notional, position, open_buy, open_sell))
        if refusal is not None:
            return self._reject(sig, *refusal)
        self.approved += 1
        order = ParentOrder(f"{self.parent_prefix}{self.approved}", sig.instrument, side, qty, limit, sig.urgency,
                            sig.ts_ns, sig.mid_x2, sig.bid, sig.ask, protection=sig.protection)
        self.checks.on_approved(order, inst.venue)
        return order

    def decide_quotes(self, intent: QuoteIntent) -> QuoteIntent | RiskRejection:
        """The quotes approved, under a quote id, each side shrunk (to the lot) so that its fill keeps the position
        within `max_position` and its notional within `max_order_notional`, and each side held to the pre-trade
        checks as an order of its own (a side they refuse is not quoted: `take_refused_sides`); or a rejection
        naming its rule when nothing of the quotes passes. A quote stated again counts again toward the order
        rate: the gate cannot know what the venue already rests."""
        inst = self.instruments[intent.instrument]
        limits = self.limits
        if self.mode is TradingMode.HALTED:
            return self._reject(intent, "kill_switch", "trading is halted")
        if intent.bid_qty and intent.ask_qty and intent.bid_price >= intent.ask_price:
            return self._reject(intent, "crossed_quotes",
                                f"bid {intent.bid_price} is not below ask {intent.ask_price}: it would trade with itself")
        off_market = self._off_market(intent)
        if off_market is not None:
            return off_market
        exp = self.exposures.get(intent.instrument)
        position = exp.position if exp else 0
        bid_room, ask_room = limits.max_position - position, limits.max_position + position
        if self.mode is TradingMode.REDUCING:   # only the side that takes the position toward flat, no further
            bid_room, ask_room = max(0, -position), max(0, position)
        bid_qty = self._quote_size(intent.bid_qty, intent.bid_price, bid_room, inst)
        ask_qty = self._quote_size(intent.ask_qty, intent.ask_price, ask_room, inst)
        open_buy, open_sell = (exp.open_buy_qty, exp.open_sell_qty) if exp else (0, 0)
        sides = {Side.BUY: (bid_qty, intent.bid_price), Side.SELL: (ask_qty, intent.ask_price)}
        quote_id = f"{self.parent_prefix}{self.approved + 1}"
        refused: list[RiskRejection] = []
        for side, (qty, price) in sides.items():   # each side is an order to the checks, the bid first
            if not qty:
                continue
            sig = Signal(intent.strategy, intent.instrument, intent.ts_ns, side, Decimal(1), Urgency.PASSIVE,
                         intent.mid_x2, intent.reason)
            refusal = self.checks.refuse(Candidate(sig, inst, side, qty, price, inst.notional(price, qty),
                                                   position, open_buy, open_sell))
            if refusal is not None:   # refused, that side is not quoted
                refused.append(self._reject(intent, *refusal))
                sides[side] = (0, price)
            else:   # counted at once (the order rate, what working buys hold): the other side is checked after it
                self.checks.on_approved(ParentOrder(quote_id, intent.instrument, side, qty, price, Urgency.PASSIVE,
                                                    intent.ts_ns, intent.mid_x2), inst.venue)
        bid_qty, ask_qty = sides[Side.BUY][0], sides[Side.SELL][0]
        if refused and not bid_qty and not ask_qty:
            self.refused_sides += refused[:-1]
            return refused[-1]   # nothing of it passes: a refusal is the decision, and the other one is kept too
        self.refused_sides += refused
        if (bid_qty, ask_qty) != (intent.bid_qty, intent.ask_qty):
            self.quotes_shrunk += 1
        self.approved += 1
        return replace(intent, bid_qty=bid_qty, ask_qty=ask_qty, quote_id=quote_id)

    def take_refused_sides(self) -> list[RiskRejection]:
        """The refusals of single sides of the quotes decided since the last call (the quotes went out without
        them): for the journal, beside the decision."""
        refused, self.refused_sides = self.refused_sides, []
        return refused

    def _off_market(self, sig: Signal | QuoteIntent) -> RiskRejection | None:
        """A rejection when no book mid is known, or the decision's mid is outside the price band around it."""
        book_mid_x2 = self.mid_as_of(sig)
        if book_mid_x2 is None:
            return self._reject(sig, "no_market", "no book mid known for the instrument")
        band = self.limits.price_band_bps
        if abs(sig.mid_x2 - book_mid_x2) * _BPS > band * book_mid_x2:
            return self._reject(sig, "price_band", f"signal mid is more than {band} bps from the book mid")
        return None

    def _quote_size(self, wanted: int, price: int, room: int, inst: Instrument) -> int:
        """A quote's size within the position's `room` and the order notional limit, rounded down to the lot."""
        if wanted <= 0 or price <= 0:
            return 0
        num: int
        den: int
        num, den = self.limits.max_order_notional.as_integer_ratio()
        scale: int = 10 ** (inst.price_decimals + inst.qty_decimals)
        by_notional = num * scale // (den * price)
        return max(0, min(wanted, room, by_notional)) // inst.lot_size * inst.lot_size

    def _reject(self, sig: Signal | QuoteIntent, rule: str, detail: str) -> RiskRejection:
        self.rejections[rule] += 1
        return RiskRejection(sig.instrument, sig.ts_ns, rule, detail)


def _reducing_qty(side: Side, qty: int, position: int, open_buy: int, open_sell: int, lot: int) -> int:
    """The part of an order of `qty` that only reduces the position: against it, and never past flat once the
    orders already working on that side are done (on the lot grid; 0 when nothing of it reduces)."""
    room = position - open_sell if side is Side.SELL else -position - open_buy
    return max(0, min(qty, room)) // lot * lot


def _limit_price(mid_x2: int, side: Side, slippage_bps: int, tick: int) -> int:
    """The worst acceptable price: the mid moved against us by the allowed slippage, on the tick grid inside it."""
    if side is Side.BUY:
        raw = mid_x2 * (_BPS + slippage_bps) // (2 * _BPS)
        return raw // tick * tick
    raw = -(-mid_x2 * (_BPS - slippage_bps) // (2 * _BPS))
    return -(-raw // tick) * tick
