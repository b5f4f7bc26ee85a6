"""The report's account of money: equity over the run, its deepest drawdown, the portfolio by book, and the kill
switch's trips with what was traded while it was tripped.

Equity and drawdown come from the `PortfolioView`s the ledger journaled at each mark tick (the figures the kill
switch judged), the end equity from the final book mids, the books from the same fold as the rest of the report.
The curve is kept small: at most `CURVE_POINTS` of the journaled views, every n-th one (n fixed by how many there
are, so the same run gives the same curve) and the last.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from engine.messages import (JournalEntry, ParentOrder, PortfolioView, QuoteIntent, Side, Signal, TradingMode,
                             TradingStateChanged)
from engine.model.equity import max_drawdown
from engine.model.ledger import Ledger
from engine.model.numbers import Instrument, format_decimal, format_fixed

CURVE_POINTS = 100
MONEY_PLACES = 8
CONTROL = "control"   # the actor whose journaled mode changes are the kill switch's
RISK = "risk"         # the actor whose journaled quotes with a quote id are the ones it approved


class KillSwitchFold:
    """Follows the kill switch through the journal, in order: its trips, and the orders the risk gate approved while
    it was tripped, each judged against the position at that point of the journal (reducing: against the position,
    and no larger than it). A quoting strategy's approved quotes count too, each side of some size an order: the
    gate's approval of a quote is its approval of the post-only orders the order manager keeps working for it."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.mode = TradingMode.ACTIVE
        self.first: TradingStateChanged | None = None
        self.orders_after_trip = 0
        self.reducing_orders_after_trip = 0

    def take(self, entry: JournalEntry) -> None:
        msg = entry.msg
        if type(msg) is TradingStateChanged and entry.actor == CONTROL:
            self.mode = msg.mode
            if self.first is None and msg.mode is not TradingMode.ACTIVE:
                self.first = msg
        elif type(msg) is ParentOrder and self.mode is not TradingMode.ACTIVE:
            self._count(msg.instrument, msg.qty if msg.side is Side.BUY else -msg.qty)
        elif (type(msg) is QuoteIntent and msg.quote_id and entry.actor == RISK
              and self.mode is not TradingMode.ACTIVE):
            if msg.bid_qty:
                self._count(msg.instrument, msg.bid_qty)
            if msg.ask_qty:
                self._count(msg.instrument, -msg.ask_qty)

    def _count(self, instrument: str, signed: int) -> None:
        """One order approved while tripped, of `signed` quantity (a buy positive)."""
        position = self.ledger.portfolio.position(instrument)
        if position and signed * position < 0 and abs(signed) <= abs(position):
            self.reducing_orders_after_trip += 1
        else:
            self.orders_after_trip += 1

    def section(self, open_orders: int) -> dict[str, Any]:
        first = self.first
        return {"tripped": first is not None, "cause": first.cause if first else None,
                "ts_ns": first.ts_ns if first else None, "mode_at_end": self.mode.value,
                "orders_after_trip": self.orders_after_trip,
                "reducing_orders_after_trip": self.reducing_orders_after_trip,
                "open_orders_at_end": open_orders}


def strategy_of_orders(entries: list[JournalEntry]) -> dict[str, str]:
    """parent id → the strategy whose signal it was: the risk gate journals each signal just before its decision."""
    out: dict[str, str] = {}
    last: dict[str, str] = {}
    for entry in entries:
        msg = entry.msg
        if type(msg) is Signal:
            last[entry.actor] = msg.strategy
        elif type(msg) is ParentOrder:
            out[msg.parent_id] = last.get(entry.actor, "")
    return out


def money_sections(ledger: Ledger, views: list[PortfolioView], instruments: Mapping[str, Instrument],
                   mids_x2: Mapping[str, int | None], currency: str) -> dict[str, Any]:
    """`equity`, `max_drawdown` and `portfolio`."""
    portfolio = ledger.portfolio
    marks = {symbol: mid for symbol, mid in mids_x2.items() if mid is not None}
    end = portfolio.equity(marks, instruments, currency)
    deepest = max_drawdown(views)
    step = max(1, -(-len(views) // CURVE_POINTS))
    sampled = views[::step] + ([views[-1]] if views and (len(views) - 1) % step else [])
    return {
        "equity": {"currency": currency, "start": _money(views[0].equity) if views else None,
                   "end": None if end is None else _money(end), "peak": _money(views[-1].peak_equity) if views else None,
                   "marks": len(views),
                   "curve": [[view.ts_ns, _money(view.equity)] for view in sampled]},
        "max_drawdown": {"amount": _money(deepest.amount), "fraction": format_decimal(deepest.fraction, 6),
                         "peak": _money(deepest.peak), "ts_ns": deepest.ts_ns or None},
        "portfolio": {
            "cash": {asset: _money(amount) for asset, amount in sorted(portfolio.cash.items())},
            "gross_exposure": _money(portfolio.gross_exposure(marks, instruments)),
            "unconverted_fees": {asset: _money(fee) for asset, fee in sorted(portfolio.unconverted_fees.items())},
            "books": [_book(key, portfolio.book(key), mids_x2.get(key[1])) for key in portfolio.books()],
            "win_rate": _win_rate([portfolio.figures(symbol) for symbol in portfolio.symbols()]),
        },
    }


def _book(key: tuple[str, str, str], figures: Any, mid_x2: int | None) -> dict[str, Any]:
    inst = figures.instrument
    unrealized = figures.unrealized(mid_x2)
    entry = None
    if figures.position:
        entry = format_decimal(Decimal(figures.entry_value) / abs(figures.position) / 10 ** inst.price_decimals,
                               inst.price_decimals)
    return {"venue": key[0], "instrument": key[1], "strategy": key[2],
            "position": format_fixed(figures.position, inst.qty_decimals), "average_entry": entry,
            "realized_gross": _money(figures.realized), "fees": _money(figures.fees),
            "realized_net": _money(figures.realized - figures.fees), "unrealized": _money(unrealized),
            "net_pnl": _money(figures.realized - figures.fees + unrealized),
            "round_trips": figures.trips, "wins": figures.wins}


def _win_rate(figures: list[Any]) -> dict[str, Any]:
    trips = sum(f.trips for f in figures)
    wins = sum(f.wins for f in figures)
    return {"round_trips": trips, "wins": wins,
            "rate": format_decimal(Decimal(wins) / trips, 6) if trips else None}


def _money(value: Decimal) -> str:
    return format_decimal(value, MONEY_PLACES)
