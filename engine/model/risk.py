"""Pre-trade risk: every signal passes here, and is sized, priced and checked before any venue sees it.

The gate turns a wanted position into an order for the difference from what is held and already working,
gives it a worst acceptable price (the mid plus the allowed slippage), and refuses it, naming the rule,
when the kill switch halts trading (or, while it only lets exposure shrink, when the order would not shrink it), the
position or notional limits would be exceeded, or the signal's mid has drifted outside the price band around the
current book mid; what passes those is then held to the checks of `engine.model.risk_checks` (instrument rules,
exposure, balance, market quality, rate...), in their fixed order.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from engine.messages import BookView, Exposure, ParentOrder, PortfolioView, RiskRejection, Side, Signal, TradingMode
from engine.model.numbers import Instrument
from engine.model.risk_checks import Candidate, CheckLimits, Market, PreTradeChecks

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
                 checks: CheckLimits | None = None):
        self.limits = limits
        self.parent_prefix = parent_prefix  # parent ids are the prefix and a count: give each run its own
        self.instruments = instruments
        self.exposures: dict[str, Exposure] = {}
        self.mids_x2: dict[str, int] = {}
        self.mid_ts_ns: dict[str, int] = {}   # the time of the view each mid is from
        self.mode = TradingMode.ACTIVE   # the kill switch's, as the control actor last said
        self.portfolio: PortfolioView | None = None   # the ledger's newest valuation (equity, cash) for sizing
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

    def mid_as_of(self, sig: Signal) -> int | None:
        """The book mid as of the signal's decision: the newest mid the gate knows, unless that is newer than the
        decision (the book moved on after it), in which case the book the signal was decided on."""
        known = self.mids_x2.get(sig.instrument)
        if known is not None and self.mid_ts_ns.get(sig.instrument, 0) > sig.ts_ns:
            return sig.mid_x2
        return known

    def on_portfolio(self, view: PortfolioView) -> None:
        """The ledger's newest valuation: what sizing reads, and the cash and equity the checks hold orders to."""
        self.portfolio = view
        self.checks.on_portfolio(view)

    def on_exposure(self, exposure: Exposure) -> None:
        self.exposures[exposure.instrument] = exposure

    def decide(self, sig: Signal) -> ParentOrder | RiskRejection | None:
        """An approved order, a rejection naming its rule, or None when nothing needs doing."""
        inst = self.instruments[sig.instrument]
        limits = self.limits
        if self.mode is TradingMode.HALTED:
            return self._reject(sig, "kill_switch", "trading is halted")
        if abs(sig.target_position) > limits.max_position:
            return self._reject(sig, "max_position",
                                f"target {sig.target_position} exceeds max position {limits.max_position}")
        exp = self.exposures.get(sig.instrument)
        position, open_buy, open_sell = (exp.position, exp.open_buy_qty, exp.open_sell_qty) if exp else (0, 0, 0)
        delta = sig.target_position - (position + open_buy - open_sell)
        qty = abs(delta) // inst.lot_size * inst.lot_size
        if qty == 0:
            return None
        side = Side.BUY if delta > 0 else Side.SELL
        if self.mode is TradingMode.REDUCING:
            qty = _reducing_qty(side, qty, position, open_buy, open_sell, inst.lot_size)
            if qty == 0:
                return self._reject(sig, "kill_switch", "reducing: only orders that reduce exposure pass")
        book_mid_x2 = self.mid_as_of(sig)
        if book_mid_x2 is None:
            return self._reject(sig, "no_market", "no book mid known for the instrument")
        if abs(sig.mid_x2 - book_mid_x2) * _BPS > limits.price_band_bps * book_mid_x2:
            return self._reject(sig, "price_band",
                                f"signal mid is more than {limits.price_band_bps} bps from the book mid")
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

    def _reject(self, sig: Signal, rule: str, detail: str) -> RiskRejection:
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
