"""The risk gate's pre-trade checks beyond its own four: each one rule, pure, testable alone.

`RiskGate` sizes and prices an order from a signal and holds it to its own rules (kill switch, position target,
a known market, the price band, the order notional, the position counting working orders); what it would
approve is then a `Candidate`, held by `PreTradeChecks` to the rules below, in this fixed order (the first to
refuse names the rejection):

 1. `stale_data`          the instrument's newest view is older than `max_data_age_ms` (newest market time known)
 2. `signal_age`          the signal is older than `max_signal_age_ms` (newest market time known)
 3. `spread`              the spread of the book the signal was decided on is wider than `max_spread_bps`
 4. `volatility_halt`     the realized volatility of the sampled mids is beyond `max_volatility_bps`
 5. `loss_cooldown`       `loss_streak` losing round trips in a row: no new risk for `loss_cooldown_ms`
 6. `tick_size`, `lot_size`, `min_notional`, `max_notional`   the venue's instrument rules
 7. `displayed_liquidity` an aggressive order larger than `max_displayed_share_pct` of what the book shows
 8. `gross_exposure`      the positions' value across instruments beyond `max_gross_exposure`
 9. `correlated_exposure` the correlation-weighted exposure beyond `max_correlated_exposure`
10. `leverage`            gross exposure over equity beyond `max_leverage`
11. `balance`             the asset the order spends, less what working orders hold, does not cover it
12. `order_rate_venue`, `order_rate_total`   more than N approved orders in `order_rate_window_ms`

Every limit is off at 0 (the default), so a scenario that sets none decides exactly as before. Only enabled
checks are built (the instrument filters always: an order the venue would refuse never leaves), so a gate without
limits pays one call per order. The volatility halt, the cooldown and
the exposure limits refuse only what adds risk: an order that reduces the position (never past flat, counting
working orders) or does not raise the measured exposure passes, so no limit can trap a position.

Exposure is valued at the gate's newest mid, each instrument's worst case counting its working orders (the
larger of position plus working buys and position less working sells), in the quote asset (the scenario refuses
these limits across instruments of different quotes). Mids for volatility and correlation are sampled every
`sample_ms` of market time from the views the gate is shown: the sample at each boundary is the newest mid before
it. Decisions use integers and `Decimal` under one fixed context (no binary float): same inputs, same answer.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from typing import Callable, Mapping, Protocol

from engine.messages import BookView, Exposure, Fill, ParentOrder, PortfolioView, Side, Signal, Urgency
from engine.model.numbers import Instrument, format_fixed

_BPS = 10_000
_ZERO = Decimal(0)
_MATH = Context(prec=28)
"""The one context every inexact step (a return, a square root, a fee's share) is computed in."""

Refusal = tuple[str, str]
"""(rule, detail): why a check refused."""


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """The venue's order filters for one instrument beyond tick and lot (Binance LOT_SIZE minQty/maxQty, NOTIONAL
    minNotional/maxNotional); quantities in the instrument's units, notionals in its quote; 0 means no bound."""
    min_qty: int = 0
    max_qty: int = 0
    min_notional: Decimal = _ZERO
    max_notional: Decimal = _ZERO


_NO_RULES = InstrumentRules()


@dataclass(frozen=True, slots=True)
class CheckLimits:
    """The `[risk]` limits of the checks (times in ns); each check is off at 0."""
    max_data_age_ns: int = 0
    max_signal_age_ns: int = 0
    max_spread_bps: int = 0
    sample_ns: int = 1_000_000_000
    volatility_window: int = 60
    max_volatility_bps: int = 0
    loss_streak: int = 0
    loss_cooldown_ns: int = 0
    instrument_rules: Mapping[str, InstrumentRules] = field(default_factory=dict)
    max_displayed_share_pct: int = 0
    max_gross_exposure: Decimal = _ZERO
    correlation_window: int = 60
    max_correlated_exposure: Decimal = _ZERO
    max_leverage: Decimal = _ZERO
    balance_check: bool = False
    cash: Mapping[str, Decimal] = field(default_factory=dict)   # `[portfolio] cash`: the starting balances
    order_rate_window_ns: int = 1_000_000_000
    max_orders_per_venue: int = 0
    max_orders_total: int = 0

    @property
    def needs_fills(self) -> bool:
        """Whether the checks follow the run's fills (cash and round trips): the gate must then be sent them."""
        return self.balance_check or self.max_leverage > 0 or self.loss_streak > 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """An order the gate has sized and priced and would approve, with the exposure it was sized from."""
    signal: Signal
    instrument: Instrument
    side: Side
    qty: int
    limit_price: int
    notional: Decimal
    position: int
    open_buy: int
    open_sell: int

    @property
    def reduces(self) -> bool:
        """It only takes the position, counting working orders, toward flat (never past it)."""
        net = self.position + self.open_buy - self.open_sell
        return (net > 0 and self.side is Side.SELL or net < 0 and self.side is Side.BUY) and self.qty <= abs(net)


class Market:
    """What the gate knows of the market and its own book, shared by the checks that read it: the newest view
    and mid of each instrument, the newest market time seen, and the exposures the ledger reported."""

    def __init__(self, instruments: Mapping[str, Instrument], mids_x2: dict[str, int],
                 exposures: dict[str, Exposure]):
        self.instruments = instruments
        self.mids_x2 = mids_x2          # the gate's own dictionaries, kept up to date by the gate
        self.exposures = exposures
        self.views: dict[str, BookView] = {}
        self.newest_ns = 0

    def now_ns(self, sig: Signal) -> int:
        """The newest market time known when deciding `sig`."""
        return max(self.newest_ns, sig.ts_ns)

    def exposures_quote(self, c: Candidate | None) -> dict[str, Decimal]:
        """Each instrument's signed worst-case exposure in its quote asset at its mid, with `c` filled if given
        (an instrument with no mid yet counts nothing)."""
        out: dict[str, Decimal] = {}
        for symbol, exp in self.exposures.items():
            mid_x2 = self.mids_x2.get(symbol)
            if mid_x2 is not None:
                out[symbol] = _value(self.instruments[symbol], _worst(exp.position, exp.open_buy_qty,
                                                                      exp.open_sell_qty), mid_x2)
        if c is not None:
            symbol = c.instrument.symbol
            buying = c.side is Side.BUY
            worst = _worst(c.position, c.open_buy + (c.qty if buying else 0), c.open_sell + (0 if buying else c.qty))
            out[symbol] = _value(c.instrument, worst, self.mids_x2[symbol])
        return out


def _worst(position: int, open_buy: int, open_sell: int) -> int:
    """The position furthest from flat that the working orders could leave."""
    long, short = position + open_buy, position - open_sell
    return long if abs(long) >= abs(short) else short


def _value(inst: Instrument, qty: int, mid_x2: int) -> Decimal:
    return _MATH.divide(inst.notional(mid_x2 * qty, 1), 2)


def _gross(exposures: Mapping[str, Decimal]) -> Decimal:
    return sum((abs(v) for v in exposures.values()), _ZERO)


class Check(Protocol):
    """One rule: `None` lets the candidate pass, a `Refusal` names why not."""
    def __call__(self, c: Candidate) -> Refusal | None: ...


# ---------------------------------------------------------------- market data

class StaleData:
    """The instrument's newest view is older than the limit, measured from the newest market time the gate knows:
    the book it would trade on has gone quiet while the rest of the market moved."""

    def __init__(self, max_age_ns: int, market: Market):
        self.max_age_ns, self.market = max_age_ns, market

    def __call__(self, c: Candidate) -> Refusal | None:
        view = self.market.views.get(c.instrument.symbol)
        age = self.market.now_ns(c.signal) - (view.ts_ns if view else 0)
        if age > self.max_age_ns:
            return "stale_data", f"newest book view is {age} ns old, limit {self.max_age_ns} ns"
        return None


class SignalAge:
    """The signal was decided on a market older than the limit: the gate has seen the market move on since."""

    def __init__(self, max_age_ns: int, market: Market):
        self.max_age_ns, self.market = max_age_ns, market

    def __call__(self, c: Candidate) -> Refusal | None:
        age = self.market.now_ns(c.signal) - c.signal.ts_ns
        if age > self.max_age_ns:
            return "signal_age", f"signal is {age} ns old, limit {self.max_age_ns} ns"
        return None


class SpreadLimit:
    """The spread of the book the signal was decided on (the gate's newest view where the signal carries no
    touch) is wider than the limit, in bps of its mid."""

    def __init__(self, max_bps: int, market: Market):
        self.max_bps, self.market = max_bps, market

    def __call__(self, c: Candidate) -> Refusal | None:
        bid, ask = c.signal.bid, c.signal.ask
        if not (bid and ask):
            view = self.market.views.get(c.instrument.symbol)
            bid, ask = (view.best_bid or 0, view.best_ask or 0) if view else (0, 0)
        if not (bid and ask):
            return "spread", "the book shows no two-sided market"
        if (ask - bid) * 2 * _BPS > self.max_bps * (ask + bid):
            return "spread", (f"spread {format_fixed(ask - bid, c.instrument.price_decimals)} is more than "
                              f"{self.max_bps} bps of the mid")
        return None


class DisplayedLiquidity:
    """An aggressive order takes more than the limit's share of the quantity the gate's newest view displays on
    the other side within its limit price (a passive order rests and takes nothing)."""

    def __init__(self, max_share_pct: int, market: Market):
        self.max_share_pct, self.market = max_share_pct, market

    def __call__(self, c: Candidate) -> Refusal | None:
        if c.signal.urgency is not Urgency.AGGRESSIVE:
            return None
        view = self.market.views.get(c.instrument.symbol)
        limit = c.limit_price
        if view is None:
            shown = 0
        elif c.side is Side.BUY:
            shown = sum(qty for price, qty in view.asks if price <= limit)
        else:
            shown = sum(qty for price, qty in view.bids if price >= limit)
        if c.qty * 100 > self.max_share_pct * shown:
            qty_dp = c.instrument.qty_decimals
            return "displayed_liquidity", (f"qty {format_fixed(c.qty, qty_dp)} is more than {self.max_share_pct}% of "
                                           f"the {format_fixed(shown, qty_dp)} displayed")
        return None


# ---------------------------------------------------------------- sampled mids: volatility and correlation

class MidSampler:
    """Every instrument's mid sampled on one grid of market time, so that returns line up across instruments.

    A row is taken at each boundary the views cross: the newest mid of each instrument before it (None before its
    first). A quiet spell repeats the last row (the mids did not move). `version` counts rows, so that figures
    derived from them are recomputed only when a row is added.
    """

    def __init__(self, symbols: list[str], sample_ns: int, keep: int):
        self.index = {symbol: i for i, symbol in enumerate(symbols)}
        self.sample_ns = sample_ns
        self.latest: list[int | None] = [None] * len(symbols)
        self.rows: deque[tuple[int | None, ...]] = deque(maxlen=keep)
        self.next_ns: int | None = None
        self.version = 0

    def on_mid(self, symbol: str, mid_x2: int, ts_ns: int) -> None:
        step = self.sample_ns
        if self.next_ns is None:
            self.next_ns = (ts_ns // step + 1) * step
        elif ts_ns >= self.next_ns:
            row = tuple(self.latest)
            for _ in range(min((ts_ns - self.next_ns) // step + 1, self.rows.maxlen or 1)):
                self.rows.append(row)
            self.next_ns = (ts_ns // step + 1) * step
            self.version += 1
        self.latest[self.index[symbol]] = mid_x2

    def returns(self, columns: tuple[int, ...], window: int) -> list[tuple[Decimal, ...]] | None:
        """The last `window` simple returns of the given columns, row by row; None until every one is known."""
        if len(self.rows) <= window:
            return None
        rows = list(self.rows)[-window - 1:]
        mids = [[row[i] for i in columns] for row in rows]
        known = [[mid for mid in row if mid is not None] for row in mids]
        if any(len(row) < len(columns) for row in known):
            return None
        return [tuple(_MATH.divide(b - a, a) for a, b in zip(before, after)) for before, after in zip(known, known[1:])]


class VolatilityHalt:
    """The realized volatility of the instrument's sampled mids (the root of the summed squared returns over
    `window` samples, in bps) is beyond the limit: orders adding risk wait until it calms down."""

    def __init__(self, max_bps: int, window: int, sampler: MidSampler):
        self.max_bps, self.window, self.sampler = max_bps, window, sampler
        self._halted: dict[str, bool] = {}
        self._version = -1

    def __call__(self, c: Candidate) -> Refusal | None:
        if c.reduces or not self.halted(c.instrument.symbol):
            return None
        return "volatility_halt", f"realized volatility over {self.window} samples is beyond {self.max_bps} bps"

    def halted(self, symbol: str) -> bool:
        if self._version != self.sampler.version:
            self._halted, self._version = {}, self.sampler.version
        halted = self._halted.get(symbol)
        if halted is None:
            returns = self.sampler.returns((self.sampler.index[symbol],), self.window)
            with localcontext(_MATH):
                squares = sum((r * r for (r,) in returns), _ZERO) if returns else _ZERO
                halted = self._halted[symbol] = squares * _BPS * _BPS > self.max_bps * self.max_bps
        return halted


class CorrelatedExposure:
    """The exposure netted by correlation, sqrt(sum_ij e_i e_j rho_ij), beyond the limit; an order that does not
    raise it passes. rho is the Pearson correlation of the instruments' sampled returns over `window`; a pair not
    yet measured (or one that never moved) counts as the worst case, |e_i e_j|, so that an unmeasured hedge earns
    no credit."""

    def __init__(self, limit: Decimal, window: int, sampler: MidSampler, market: Market):
        self.limit, self.window, self.sampler, self.market = limit, window, sampler, market
        self._rho: dict[tuple[str, str], Decimal | None] = {}
        self._version = -1

    def __call__(self, c: Candidate) -> Refusal | None:
        after = self.squared(self.market.exposures_quote(c))
        if after <= self.limit * self.limit or after <= self.squared(self.market.exposures_quote(None)):
            return None
        return "correlated_exposure", f"correlation-weighted exposure {_MATH.sqrt(after):.2f} beyond {self.limit}"

    def squared(self, exposures: Mapping[str, Decimal]) -> Decimal:
        total = _ZERO
        symbols = sorted(exposures)
        for i, a in enumerate(symbols):
            total += exposures[a] * exposures[a]
            for b in symbols[i + 1:]:
                rho = self.correlation(a, b)
                pair = exposures[a] * exposures[b]
                total += 2 * (abs(pair) if rho is None else pair * rho)
        return total

    def correlation(self, a: str, b: str) -> Decimal | None:
        if self._version != self.sampler.version:
            self._rho, self._version = {}, self.sampler.version
        if (a, b) not in self._rho:
            index = self.sampler.index
            returns = self.sampler.returns((index[a], index[b]), self.window)
            self._rho[(a, b)] = _pearson(returns) if returns else None
        return self._rho[(a, b)]


def _pearson(pairs: list[tuple[Decimal, ...]]) -> Decimal | None:
    with localcontext(_MATH):
        return _pearson_in_context(pairs)


def _pearson_in_context(pairs: list[tuple[Decimal, ...]]) -> Decimal | None:
    n = len(pairs)
    mean_x = _MATH.divide(sum((x for x, _ in pairs), _ZERO), n)
    mean_y = _MATH.divide(sum((y for _, y in pairs), _ZERO), n)
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in pairs), _ZERO)
    sxx = sum(((x - mean_x) * (x - mean_x) for x, _ in pairs), _ZERO)
    syy = sum(((y - mean_y) * (y - mean_y) for _, y in pairs), _ZERO)
    if not sxx or not syy:
        return None
    return _MATH.divide(sxy, _MATH.sqrt(sxx * syy))


# ---------------------------------------------------------------- fills: cash and round trips

class Balances:
    """Cash per asset: the starting balances moved by every fill (a buy pays quote and gets base, the fee is paid
    in its asset), or the portfolio's own figures once it publishes them; equity in the quote at the mids."""

    def __init__(self, start: Mapping[str, Decimal], instruments: Mapping[str, Instrument], market: Market):
        self.start = dict(start)
        self.cash = dict(start)
        self.instruments, self.market = instruments, market
        self.portfolio: PortfolioView | None = None

    def on_fill(self, fill: Fill) -> None:
        inst = self.instruments[fill.instrument]
        sign = fill.side.sign
        cash = self.cash
        cash[inst.quote] = cash.get(inst.quote, _ZERO) - sign * inst.notional(fill.price, fill.qty)
        cash[inst.base] = cash.get(inst.base, _ZERO) + sign * inst.qty_decimal(fill.qty)
        if fill.fee:
            cash[fill.fee_asset] = cash.get(fill.fee_asset, _ZERO) - fill.fee

    def available(self, asset: str) -> Decimal:
        if self.portfolio is not None and self.portfolio.cash:
            return dict(self.portfolio.cash).get(asset, _ZERO)
        return self.cash.get(asset, _ZERO)

    def equity(self) -> Decimal:
        """The portfolio's equity once published; until then each asset's cash at its instrument's mid."""
        if self.portfolio is not None:
            return self.portfolio.equity
        total, valued = _ZERO, set()
        for symbol, inst in self.instruments.items():
            if inst.quote not in valued:
                valued.add(inst.quote)
                total += self.cash.get(inst.quote, _ZERO)
            mid_x2 = self.market.mids_x2.get(symbol)
            if inst.base not in valued and mid_x2 is not None:
                valued.add(inst.base)
                total += _MATH.multiply(self.cash.get(inst.base, _ZERO), _MATH.divide(inst.price_decimal(mid_x2), 2))
        return total


class AvailableBalance:
    """The asset the order spends (a buy's quote at its limit price, a sell's base), less what the working orders
    hold, does not cover it. Only assets `[portfolio] cash` lists are held to it: an asset without a starting
    balance is not modelled (a short sale on margin is the position limits' business).

    A working buy holds its price times its quantity; the gate values the instrument's working buy quantity at the
    highest limit price it approved while buys were working, which never understates what they hold."""

    def __init__(self, balances: Balances, market: Market):
        self.balances, self.market = balances, market
        self.hold_price: dict[str, int] = {}

    def __call__(self, c: Candidate) -> Refusal | None:
        inst = c.instrument
        asset = inst.quote if c.side is Side.BUY else inst.base
        if asset not in self.balances.start:
            return None
        need = c.notional if c.side is Side.BUY else inst.qty_decimal(c.qty)
        free = self.balances.available(asset) - self.held(asset)
        if need > free:
            return "balance", f"needs {need} {asset}, {free} available after working orders"
        return None

    def held(self, asset: str) -> Decimal:
        held = _ZERO
        for symbol, exp in self.market.exposures.items():
            inst = self.market.instruments[symbol]
            if inst.quote == asset and exp.open_buy_qty:
                held += inst.notional(self.hold_price.get(symbol, 0), exp.open_buy_qty)
            if inst.base == asset and exp.open_sell_qty:
                held += inst.qty_decimal(exp.open_sell_qty)
        return held

    def on_approved(self, order: ParentOrder) -> None:
        if order.side is Side.BUY:
            exp = self.market.exposures.get(order.instrument)
            working = self.hold_price.get(order.instrument, 0) if exp and exp.open_buy_qty else 0
            self.hold_price[order.instrument] = max(working, order.limit_price)


class LossCooldown:
    """After `streak` losing round trips in a row (flat to flat, or to a flip through flat; net of the fees paid
    in the quote, a crossing fill's fee shared by quantity), no order adding risk for `cooldown_ns` from the fill
    that closed the last of them; the count then starts again."""

    def __init__(self, streak: int, cooldown_ns: int, instruments: Mapping[str, Instrument]):
        self.streak, self.cooldown_ns, self.instruments = streak, cooldown_ns, instruments
        self.position: dict[str, int] = {}
        self.trip_pnl: dict[str, Decimal] = {}
        self.losses = 0
        self.until_ns = 0

    def __call__(self, c: Candidate) -> Refusal | None:
        if c.signal.ts_ns < self.until_ns and not c.reduces:
            return "loss_cooldown", f"{self.streak} losing round trips in a row: cooling down"
        return None

    def on_fill(self, fill: Fill) -> None:
        inst = self.instruments[fill.instrument]
        symbol, sign = fill.instrument, fill.side.sign
        before = self.position.get(symbol, 0)
        after = before + sign * fill.qty
        fee = fill.fee if fill.fee_asset == inst.quote else _ZERO
        closing = min(abs(before), fill.qty) if before and (after == 0 or (after > 0) != (before > 0)) else 0
        pnl = self.trip_pnl.get(symbol, _ZERO)
        if closing:
            closing_fee = fee if closing == fill.qty else _MATH.divide(fee * closing, fill.qty)
            self._closed(pnl - sign * inst.notional(fill.price, closing) - closing_fee, fill.ts_ns)
            pnl, fee = _ZERO, fee - closing_fee
        self.trip_pnl[symbol] = pnl - sign * inst.notional(fill.price, fill.qty - closing) - fee
        self.position[symbol] = after

    def _closed(self, pnl: Decimal, ts_ns: int) -> None:
        self.losses = self.losses + 1 if pnl < 0 else 0
        if self.losses >= self.streak:
            self.until_ns, self.losses = ts_ns + self.cooldown_ns, 0


# ---------------------------------------------------------------- instrument rules, exposure, rate

class InstrumentFilters:
    """The venue's own filters, so that an order the venue would refuse never leaves: the price on the tick grid;
    the quantity on the lot grid within min and max quantity; the notional at the limit price within its bounds."""

    def __init__(self, rules: Mapping[str, InstrumentRules]):
        self.rules = rules

    def __call__(self, c: Candidate) -> Refusal | None:
        inst = c.instrument
        rules = self.rules.get(inst.symbol, _NO_RULES)
        price_dp, qty_dp = inst.price_decimals, inst.qty_decimals
        if c.limit_price % inst.tick_size:
            return "tick_size", (f"price {format_fixed(c.limit_price, price_dp)} is not a multiple of the tick "
                                 f"{format_fixed(inst.tick_size, price_dp)}")
        if c.qty % inst.lot_size or c.qty < rules.min_qty or (rules.max_qty and c.qty > rules.max_qty):
            return "lot_size", (f"qty {format_fixed(c.qty, qty_dp)} is off the lot {format_fixed(inst.lot_size, qty_dp)}"
                                f" or outside {format_fixed(rules.min_qty, qty_dp)}.."
                                f"{format_fixed(rules.max_qty, qty_dp) if rules.max_qty else 'no maximum'}")
        if c.notional < rules.min_notional:
            return "min_notional", f"notional {c.notional} is below {rules.min_notional}"
        if rules.max_notional and c.notional > rules.max_notional:
            return "max_notional", f"notional {c.notional} is above {rules.max_notional}"
        return None


class GrossExposure:
    """The sum of every instrument's worst-case exposure would pass the limit, and the order raises it."""

    def __init__(self, limit: Decimal, market: Market):
        self.limit, self.market = limit, market

    def __call__(self, c: Candidate) -> Refusal | None:
        after = _gross(self.market.exposures_quote(c))
        if after > self.limit and after > _gross(self.market.exposures_quote(None)):
            return "gross_exposure", f"gross exposure would be {after}, beyond {self.limit}"
        return None


class Leverage:
    """Gross exposure over equity would pass the limit, and the order raises it; no positive equity refuses."""

    def __init__(self, limit: Decimal, balances: Balances, market: Market):
        self.limit, self.balances, self.market = limit, balances, market

    def __call__(self, c: Candidate) -> Refusal | None:
        after = _gross(self.market.exposures_quote(c))
        if after <= _gross(self.market.exposures_quote(None)):
            return None
        equity = self.balances.equity()
        if equity <= 0:
            return "leverage", f"equity {equity} is not positive"
        if after > self.limit * equity:
            return "leverage", f"gross exposure {after} over equity {equity} is beyond {self.limit}"
        return None


class OrderRate:
    """More approved orders within the window (ending at the signal's time, an order exactly a window old no
    longer counting) than the limit allows, per venue and in total."""

    def __init__(self, window_ns: int, per_venue: int, total: int):
        self.window_ns, self.per_venue, self.total = window_ns, per_venue, total
        self.recent: dict[str, deque[int]] = {}
        self.all: deque[int] = deque()

    def __call__(self, c: Candidate) -> Refusal | None:
        oldest = c.signal.ts_ns - self.window_ns
        venue = self._trimmed(self.recent.setdefault(c.instrument.venue, deque()), oldest)
        if self.per_venue and len(venue) >= self.per_venue:
            return "order_rate_venue", f"{len(venue)} orders to {c.instrument.venue} in the window"
        if self.total and len(self._trimmed(self.all, oldest)) >= self.total:
            return "order_rate_total", f"{len(self.all)} orders in the window"
        return None

    @staticmethod
    def _trimmed(times: deque[int], oldest: int) -> deque[int]:
        while times and times[0] <= oldest:
            times.popleft()
        return times

    def on_approved_at(self, venue: str, ts_ns: int) -> None:
        self.recent.setdefault(venue, deque()).append(ts_ns)
        self.all.append(ts_ns)


# ---------------------------------------------------------------- the composition

class PreTradeChecks:
    """The enabled checks in their fixed order, and the state they follow (views, fills, approvals)."""

    def __init__(self, limits: CheckLimits, market: Market):
        self.limits, self.market = limits, market
        instruments = market.instruments
        self.balances = Balances(limits.cash, instruments, market)
        self.sampler: MidSampler | None = None
        if limits.max_volatility_bps or limits.max_correlated_exposure:
            keep = max(limits.volatility_window, limits.correlation_window) + 1
            self.sampler = MidSampler(sorted(instruments), limits.sample_ns, keep)
        self.fill_watchers: list[Callable[[Fill], None]] = []
        self.balance = AvailableBalance(self.balances, market) if limits.balance_check else None
        self.rate = OrderRate(limits.order_rate_window_ns, limits.max_orders_per_venue, limits.max_orders_total) \
            if limits.max_orders_per_venue or limits.max_orders_total else None
        self.checks: tuple[Check, ...] = tuple(self._build())
        self.fills_seen = 0   # the journal seq of the newest fill followed (fills are counted once)
        self.watches_views = bool(self.sampler or limits.max_data_age_ns or limits.max_signal_age_ns
                                  or limits.max_spread_bps or limits.max_displayed_share_pct)
        """Whether any check reads the views: if none does, the gate's hot path does not hand them over."""

    def _build(self) -> list[Check]:
        lim, market, sampler = self.limits, self.market, self.sampler
        checks: list[Check] = []
        if lim.max_data_age_ns:
            checks.append(StaleData(lim.max_data_age_ns, market))
        if lim.max_signal_age_ns:
            checks.append(SignalAge(lim.max_signal_age_ns, market))
        if lim.max_spread_bps:
            checks.append(SpreadLimit(lim.max_spread_bps, market))
        if lim.max_volatility_bps and sampler:
            checks.append(VolatilityHalt(lim.max_volatility_bps, lim.volatility_window, sampler))
        if lim.loss_streak:
            cooldown = LossCooldown(lim.loss_streak, lim.loss_cooldown_ns, market.instruments)
            self.fill_watchers.append(cooldown.on_fill)
            checks.append(cooldown)
        checks.append(InstrumentFilters(lim.instrument_rules))
        if lim.max_displayed_share_pct:
            checks.append(DisplayedLiquidity(lim.max_displayed_share_pct, market))
        if lim.max_gross_exposure:
            checks.append(GrossExposure(lim.max_gross_exposure, market))
        if lim.max_correlated_exposure and sampler:
            checks.append(CorrelatedExposure(lim.max_correlated_exposure, lim.correlation_window, sampler, market))
        if lim.max_leverage:
            checks.append(Leverage(lim.max_leverage, self.balances, market))
        if self.balance:
            checks.append(self.balance)
        if self.rate:
            checks.append(self.rate)
        if lim.needs_fills:
            self.fill_watchers.insert(0, self.balances.on_fill)
        return checks

    def on_view(self, view: BookView) -> None:
        market = self.market
        market.views[view.instrument] = view
        if view.ts_ns > market.newest_ns:
            market.newest_ns = view.ts_ns
        mid_x2 = view.mid_x2
        if self.sampler is not None and mid_x2 is not None:
            self.sampler.on_mid(view.instrument, mid_x2, view.ts_ns)

    def on_fill(self, fill: Fill, seq: int) -> None:
        """Follow one journaled fill, once: a fill handed over again (a restarted gate) is skipped by its seq."""
        if seq <= self.fills_seen or fill.instrument not in self.market.instruments:   # another run's instrument
            return
        self.fills_seen = seq
        for watch in self.fill_watchers:
            watch(fill)

    def on_portfolio(self, view: PortfolioView) -> None:
        self.balances.portfolio = view

    def refuse(self, c: Candidate) -> Refusal | None:
        """The first refusal of the enabled checks, in their fixed order, or None."""
        for check in self.checks:
            refusal = check(c)
            if refusal is not None:
                return refusal
        return None

    def on_approved(self, order: ParentOrder, venue: str) -> None:
        if self.balance is not None:
            self.balance.on_approved(order)
        if self.rate is not None:
            self.rate.on_approved_at(venue, order.ts_ns)
