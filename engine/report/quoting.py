"""The report's account of a quoting strategy (`quoting` in report.json): how often it stated quotes and the risk
gate approved them, its fills on each side, and the inventory it reached either way against its limit.

Folded from the journal like the rest of the report: the approved quotes name the quote ids whose fills are the
strategy's, and the position after each fill of the instrument is the inventory's path.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from engine.messages import Fill, JournalEntry, QuoteIntent, Side
from engine.model.numbers import Instrument, format_fixed

KINDS = (QuoteIntent, Fill)
"""The journal entries the section reads."""


def quoting_section(entries: Iterable[JournalEntry], quoting: Mapping[str, tuple[str, int]],
                    instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    """Per quoting strategy (name → its instrument and inventory limit, in quantity units)."""
    stated = dict.fromkeys(quoting, 0)
    owner: dict[str, str] = {}                       # quote id → strategy
    fills = {name: {"buy": 0, "sell": 0} for name in quoting}
    position = {symbol: 0 for symbol, _ in quoting.values()}
    reached = {symbol: [0, 0] for symbol, _ in quoting.values()}   # most long, most short
    for entry in entries:
        msg = entry.msg
        if type(msg) is QuoteIntent and msg.strategy in quoting:
            if msg.quote_id:   # approved (the risk gate's decision, and the order manager's input)
                owner[msg.quote_id] = msg.strategy
            else:
                stated[msg.strategy] += 1
        elif type(msg) is Fill and msg.instrument in position:
            if msg.parent_id in owner:
                fills[owner[msg.parent_id]]["buy" if msg.side is Side.BUY else "sell"] += 1
            held = position[msg.instrument] = position[msg.instrument] + msg.qty * msg.side.sign
            most = reached[msg.instrument]
            most[0], most[1] = max(most[0], held), min(most[1], held)
    out = {}
    for name, (symbol, limit) in sorted(quoting.items()):
        decimals = instruments[symbol].qty_decimals
        longest, shortest = reached[symbol]
        out[name] = {"instrument": symbol, "quotes_stated": stated[name], "quotes_approved": sum(1 for who in owner.values() if who == name),
                     "fills": fills[name], "max_long": format_fixed(longest, decimals),
                     "max_short": format_fixed(-shortest, decimals), "inventory_limit": format_fixed(limit, decimals),
                     "within_limit": max(longest, -shortest) <= limit}
    return out
