"""The control actor: the kill switch's thin shell, and the one door for operator commands.

It hears the portfolio (latest value, from the ledger), the venue's failed requests and reconciliation's findings
(journal entries, once durable, as the ledger hears fills), data-quality alarms (from the book), and operator
commands (from the scenario's `[[operator]]` at market times, or the live control endpoint), and hands each to the
pure `KillSwitch`. What it decides is journaled before it is sent (`JournaledActor`): the new mode goes to the risk
gate (a latest value, so a restarted gate is told it again), a `CancelAll` to the order manager when the switch
halts (and on CANCEL_ALL), and for FLATTEN a signal to a flat position per instrument held, which takes the normal
risk path like any strategy's. A restarted control actor takes its mode back from its journaled changes.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.actors.journaled import JournaledActor, Staged
from engine.messages import (BookView, CancelAll, DataQualityAlarm, Exposure, JournalEntry, OperatorCommand,
                             PortfolioView, ReconcileFinding, RequestFailed, Side, Signal, TradingStateChanged, Urgency)
from engine.model.kill_switch import KillSwitch, Outcome
from engine.runtime import ActorContext, Ports

CONTROL = "control"
"""The actor's name in the tree: the live control endpoint delivers `OperatorCommand`s to it."""

WATCHED = (RequestFailed, ReconcileFinding)
"""The journal entries the control actor is subscribed to."""


class ControlActor(JournaledActor):
    ports = Ports(accepts=(PortfolioView, JournalEntry, DataQualityAlarm, OperatorCommand, BookView, Exposure),
                  outputs={"state": TradingStateChanged, "orders": CancelAll, "signals": Signal},
                  optional={"signals": "flatten sends nothing where nobody wires it (a run without FLATTEN)"})

    def __init__(self, journal: Any, switch: KillSwitch):
        super().__init__(journal)
        self.switch = switch
        self.views: dict[str, BookView] = {}
        self.positions: dict[str, int] = {}
        self.flattens = 0

    async def start(self, ctx: ActorContext) -> None:
        run_id = self.journal.run_id
        entries = await self.journal.read(actors=[ctx.name], kinds=[TradingStateChanged])
        self.switch.restore([entry.msg for entry in entries if entry.run_id == run_id])

    def decide(self, msg: Any, ctx: ActorContext, staged: Staged) -> None:
        switch, kind = self.switch, type(msg)
        if kind is BookView:
            self.views[msg.instrument] = msg
        elif kind is Exposure:
            self.positions[msg.instrument] = msg.position
        elif kind is PortfolioView:
            self._carry_out(switch.on_portfolio(msg), msg, msg.ts_ns, ctx, staged)
        elif kind is JournalEntry:
            fact = msg.msg
            if type(fact) is RequestFailed:
                self._carry_out(switch.on_request_failed(fact, msg.ts_ns), fact, msg.ts_ns, ctx, staged)
            elif type(fact) is ReconcileFinding:
                self._carry_out(switch.on_finding(fact), fact, msg.ts_ns, ctx, staged)
        elif kind is DataQualityAlarm:
            self._carry_out(switch.on_alarm(msg), msg, msg.ts_ns, ctx, staged)
        elif kind is OperatorCommand:
            staged.rows.append((msg.ts_ns, msg))
            outcome = switch.on_command(msg)
            if outcome.refused:
                ctx.log.warning("operator %s (%s) changed nothing: %s", msg.action.value, msg.source,
                                outcome.refused)
            self._carry_out(outcome, None, msg.ts_ns, ctx, staged, f"operator:{msg.action.value}")

    def _carry_out(self, outcome: Outcome, cause_msg: Any, ts_ns: int, ctx: ActorContext, staged: Staged,
                   reason: str = "") -> None:
        """Journal and send what `outcome` asks for; `cause_msg` (the input that tripped it) is journaled with it."""
        change = outcome.state
        if change is not None:
            if cause_msg is not None:
                staged.rows.append((ts_ns, cause_msg))
            staged.rows.append((ts_ns, change))
            staged.sends.append(("state", change))
            ctx.log.warning("trading %s: %s", change.mode.value, change.cause)
        if outcome.cancel_all:
            cancel = CancelAll(ts_ns, change.cause if change is not None else reason, halt=False)
            staged.rows.append((ts_ns, cancel))
            staged.sends.append(("orders", cancel))
        if outcome.flatten:
            for instrument, position in sorted(self.positions.items()):
                signal = self._flat(instrument, position, ts_ns, ctx)
                if signal is not None:
                    staged.rows.append((ts_ns, signal))
                    staged.sends.append(("signals", signal))

    def _flat(self, instrument: str, position: int, ts_ns: int, ctx: ActorContext) -> Signal | None:
        """A signal to hold nothing of `instrument`, decided on its latest book; None when flat or without a book."""
        if position == 0:
            return None
        view = self.views.get(instrument)
        if view is None or view.mid_x2 is None:
            ctx.log.warning("flatten: no book of %s to price a flat position on; it is left as it is", instrument)
            return None
        self.flattens += 1
        return Signal(CONTROL, instrument, ts_ns, Side.SELL, Decimal(0), Urgency.AGGRESSIVE, view.mid_x2, "flatten",
                      view.best_bid or 0, view.best_ask or 0)   # no strength: no position
