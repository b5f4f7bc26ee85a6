"""Sizing: how much a directional signal trades. A strategy says side and strength, never a quantity; this module
turns that into a target position, in the instrument's fixed-point quantity units, exactly.

Each method says what the full position is (strength 1); the signal's strength scales it; the result is rounded
down to the lot; and where the scenario caps it by displayed liquidity, the change from what is held and working is
at most that share of the quantity shown at the touch the order would take. Every step rounds towards a smaller
position, so sizing never risks more than it was asked to.

- `fixed`: a fixed quantity.
- `fixed_fraction`: `risk_fraction` of equity is what the position may lose if the stop is hit: quantity = equity x
  risk_fraction / |mid - stop|. A signal without a stop (or with one on the wrong side of the mid) cannot be sized.
- `volatility`: `target_risk` (quote asset) is what one typical move of the mid may cost: quantity = target_risk /
  realized volatility, the root mean square change of the mid between the strategy's last `window` looks (integer
  square root of the mean square: exact and the same on every machine).

Equity is the portfolio's (`PortfolioView.equity`); until a portfolio publishes one the risk gate uses its
starting equity (`DEFAULT_EQUITY` unless the session gives it another).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from math import isqrt

from engine.messages import Signal
from engine.model.numbers import Instrument

DEFAULT_EQUITY = Decimal(100_000)
"""The equity (quote asset) sizing assumes until the portfolio publishes one."""

METHODS = ("fixed", "fixed_fraction", "volatility")


class SizingRefused(ValueError):
    """The signal cannot be sized by its strategy's method; `rule` names why (the risk gate's rejection rule)."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SizingRule:
    """One strategy's sizing (`[[strategy]] sizing` in a scenario). Quantities in the instrument's units."""
    method: str
    quantity: int = 0                          # fixed: the full position
    risk_fraction: Decimal = Decimal(0)        # fixed_fraction: the share of equity risked over the stop distance
    target_risk: Decimal = Decimal(0)          # volatility: quote asset one realized-volatility move may cost
    window: int = 0                            # volatility: looks at the market the volatility is measured over
    liquidity_fraction: Decimal | None = None  # at most this share of the displayed touch per order (None: no cap)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"sizing method must be one of {', '.join(METHODS)}, got {self.method!r}")


def _floor_times(value: int, factor: Decimal) -> int:
    """floor(value x factor), exactly (`factor` as the ratio of two integers)."""
    num: int
    den: int
    num, den = factor.as_integer_ratio()
    return value * num // den


def _floor_lot(qty: int, lot: int) -> int:
    return qty // lot * lot


def _risk_over_distance(money: Decimal, distance_x2: int, inst: Instrument) -> int:
    """The quantity (units) whose value moves by `money` (quote asset) when the price moves by `distance_x2` / 2
    price units: money x 2 x 10**(price_decimals + qty_decimals) / distance_x2, rounded down."""
    num: int
    den: int
    num, den = money.as_integer_ratio()
    scale: int = 10 ** (inst.price_decimals + inst.qty_decimals)
    return num * 2 * scale // (den * distance_x2)


def full_position(rule: SizingRule, signal: Signal, inst: Instrument, equity: Decimal) -> int:
    """The absolute position (units) a signal of strength 1 asks for under `rule`; `SizingRefused` if none can be
    said (no stop, no volatility measured yet)."""
    if rule.method == "fixed":
        return rule.quantity
    if rule.method == "fixed_fraction":
        stop = signal.protection.stop_price if signal.protection is not None else 0
        if not stop:
            raise SizingRefused("sizing_no_stop", "fixed_fraction sizing needs the signal's stop price")
        distance_x2 = (signal.mid_x2 - 2 * stop) * signal.side.sign
        if distance_x2 <= 0:
            raise SizingRefused("sizing_stop_side", f"the stop {stop} is not on the losing side of the mid")
        return _risk_over_distance(equity * rule.risk_fraction, distance_x2, inst)
    if signal.volatility_x2 <= 0:
        raise SizingRefused("sizing_no_volatility", "no realized volatility measured yet")
    return _risk_over_distance(rule.target_risk, signal.volatility_x2, inst)


def target_position(rule: SizingRule, signal: Signal, inst: Instrument, equity: Decimal, current: int) -> int:
    """The position the signal asks for: its side, its strength of the full position, rounded down to the lot, and
    the change from `current` (held plus working) capped by the liquidity displayed at the touch it would take."""
    if signal.strength <= 0:
        return 0
    size = _floor_lot(_floor_times(full_position(rule, signal, inst, equity), min(signal.strength, Decimal(1))),
                      inst.lot_size)
    target = size * signal.side.sign
    if rule.liquidity_fraction is None:
        return target
    delta = target - current
    shown = signal.ask_qty if delta > 0 else signal.bid_qty
    room = _floor_lot(_floor_times(shown, rule.liquidity_fraction), inst.lot_size)
    if abs(delta) <= room:
        return target
    return current + room * (1 if delta > 0 else -1)


class RealizedVolatility:
    """The realized volatility of the mid over the last `window` looks: twice the root mean square change of the
    mid between consecutive looks, in price units (`Signal.volatility_x2`); 0 until `window` changes are seen."""

    def __init__(self, window: int):
        if window < 1:
            raise ValueError(f"a volatility window needs at least one look, got {window}")
        self.window = window
        self._mids: deque[int] = deque(maxlen=window + 1)

    def look(self, mid_x2: int) -> None:
        self._mids.append(mid_x2)

    @property
    def volatility_x2(self) -> int:
        mids = self._mids
        if len(mids) <= self.window:
            return 0
        squares = sum((b - a) ** 2 for a, b in zip(mids, list(mids)[1:]))
        return isqrt(squares // self.window)


class Sizing:
    """Each strategy's sizing rule, by strategy name: what the risk gate asks to size a signal."""

    def __init__(self, rules: dict[str, SizingRule]):
        self.rules = rules

    def target(self, signal: Signal, inst: Instrument, equity: Decimal, current: int) -> int:
        """`target_position` under the signal's strategy's rule; `SizingRefused` for a strategy that has none. A
        signal of no strength wants no position, whoever sends it (the kill switch's flatten has no sizing)."""
        if signal.strength <= 0:
            return 0
        rule = self.rules.get(signal.strategy)
        if rule is None:
            raise SizingRefused("no_sizing", f"strategy {signal.strategy!r} has no sizing")
        return target_position(rule, signal, inst, equity, current)
