"""The kill switch: the engine's trading mode, what trips it, and what each trip asks of the rest of the engine.

Pure state, no IO: the control actor feeds it the portfolio, the venue's failed requests, reconciliation's findings,
data-quality alarms and operator commands, and carries out what it answers (tell the risk gate the new mode, cancel
every working order, flatten). Keeping it pure lets every transition be tested by hand.

The modes (`TradingMode`): ACTIVE trades; REDUCING lets through only orders that reduce exposure; HALTED cancels
every working order and refuses every new one. Automatic triggers only ever make the engine stricter (to HALTED),
and nothing but an operator's RESUME leaves HALTED: no timer, no recovered limit, no other command. The loss limits
trip from ACTIVE only (REDUCING is already what a loss calls for: getting out); the venue, reconciliation and
data-quality triggers trip from ACTIVE and REDUCING alike.

The loss limits are measured from the moment the switch was last armed: at the start of the run the portfolio's
own peak and day-start equity, after a RESUME the equity at the resume (an operator who resumes accepts the loss so
far; the limits then hold from there), until the next UTC day re-bases the daily loss on its own start.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from engine.messages import (DataQualityAlarm, OperatorAction, OperatorCommand, PortfolioView, ReconcileFinding,
                             RequestFailed, TradingMode, TradingStateChanged)
from engine.model.numbers import format_decimal


@dataclass(frozen=True, slots=True)
class KillSwitchLimits:
    """What trips the switch; each trigger is off unless set."""
    max_drawdown: Decimal | None = None          # quote asset: peak equity minus equity
    max_daily_loss: Decimal | None = None        # quote asset: the day's start equity minus equity
    venue_errors: int = 0                        # this many failed requests within the window trip it (0: never)
    venue_error_window_ns: int = 60_000_000_000
    reconcile_findings: frozenset[str] = frozenset()   # findings that mean the position moved unseen
    data_quality: frozenset[str] = frozenset()         # data-quality alarm kinds that trip it


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one input asks for: the new mode (None: unchanged), a cancel of every working order, a flatten, and,
    for an operator command that changed nothing, why."""
    state: TradingStateChanged | None = None
    cancel_all: bool = False
    flatten: bool = False
    refused: str = ""


NOTHING = Outcome()


class KillSwitch:
    """The trading mode and every trip that moved it (`trips`: the changes to HALTED or REDUCING, with their cause)."""

    def __init__(self, limits: KillSwitchLimits):
        self.limits = limits
        self.mode = TradingMode.ACTIVE
        self.trips: list[TradingStateChanged] = []
        self._failures: deque[int] = deque()     # times of the failed requests inside the window
        self._peak: Decimal | None = None        # after a RESUME: the peak equity since (None: the portfolio's)
        self._day_ref: Decimal | None = None     # after a RESUME: the equity at the resume, until the day rolls
        self._day_seen: Decimal | None = None    # the day-start equity of the latest view
        self._equity: Decimal | None = None      # the latest equity seen

    def restore(self, changes: list[TradingStateChanged]) -> None:
        """Take back the mode of a previous incarnation: its journaled changes, oldest first."""
        for change in changes:
            self._set(change)

    # ---------------------------------------------------------------- triggers

    def on_portfolio(self, view: PortfolioView) -> Outcome:
        """Check the loss limits against the newest portfolio figures."""
        self._equity = view.equity
        if self._day_seen is not None and view.day_start_equity != self._day_seen:
            self._day_ref = None                 # a new day: its loss counts from its own start
        self._day_seen = view.day_start_equity
        if self._peak is not None:
            self._peak = max(self._peak, view.equity)
        if self.mode is not TradingMode.ACTIVE:
            return NOTHING
        limits = self.limits
        peak = view.peak_equity if self._peak is None else self._peak
        drawdown = peak - view.equity
        if limits.max_drawdown is not None and drawdown > limits.max_drawdown:
            return self._trip(TradingMode.HALTED, view.ts_ns,
                              f"max_drawdown: {_amount(drawdown)} from a peak of {_amount(peak)}, "
                              f"beyond {limits.max_drawdown}")
        day_start = view.day_start_equity if self._day_ref is None else self._day_ref
        loss = day_start - view.equity
        if limits.max_daily_loss is not None and loss > limits.max_daily_loss:
            return self._trip(TradingMode.HALTED, view.ts_ns,
                              f"max_daily_loss: {_amount(loss)} since {_amount(day_start)}, "
                              f"beyond {limits.max_daily_loss}")
        return NOTHING

    def on_request_failed(self, failed: RequestFailed, ts_ns: int) -> Outcome:
        """A request the venue failed: `venue_errors` of them within the window of market time trip the switch."""
        limits = self.limits
        if not limits.venue_errors:
            return NOTHING
        window = self._failures
        window.append(ts_ns)
        while window[0] <= ts_ns - limits.venue_error_window_ns:
            window.popleft()
        return self._halt(len(window) >= limits.venue_errors, ts_ns,
                          f"venue_errors: {len(window)} failed requests within "
                          f"{limits.venue_error_window_ns // 1_000_000} ms (last: {failed.request.value} "
                          f"{failed.client_order_id} on {failed.venue}, {failed.failure.value}: {failed.reason})")

    def on_finding(self, finding: ReconcileFinding) -> Outcome:
        """Reconciliation found the venue's account other than ours: a position mismatch trips the switch."""
        return self._halt(finding.finding in self.limits.reconcile_findings, finding.ts_ns,
                          f"position_mismatch: {finding.finding} of {finding.client_order_id} on "
                          f"{finding.instrument} ({finding.detail})")

    def on_alarm(self, alarm: DataQualityAlarm) -> Outcome:
        """A data-quality alarm of a kind the limits name trips the switch."""
        return self._halt(alarm.kind in self.limits.data_quality, alarm.ts_ns,
                          f"data_quality: {alarm.kind} on {alarm.instrument} ({alarm.detail})")

    def on_command(self, command: OperatorCommand) -> Outcome:
        """An operator's command: halt, reduce, flatten, cancel every order, or resume from any mode."""
        action, ts, mode = command.action, command.ts_ns, self.mode
        cause = f"operator:{action.value}" + (f" ({command.reason})" if command.reason else "")
        if action is OperatorAction.CANCEL_ALL:
            return Outcome(cancel_all=True)
        if action is OperatorAction.RESUME:
            if mode is TradingMode.ACTIVE:
                return Outcome(refused="already active")
            self._peak = self._day_ref = self._equity   # the limits hold from here
            return Outcome(self._set(TradingStateChanged(TradingMode.ACTIVE, ts, cause)))
        if action is OperatorAction.HALT:
            if mode is TradingMode.HALTED:
                return Outcome(refused="already halted")
            return self._trip(TradingMode.HALTED, ts, cause)
        if mode is TradingMode.HALTED:   # REDUCE and FLATTEN would loosen a halt: only RESUME leaves it
            return Outcome(refused="halted: only resume leaves a halt")
        flatten = action is OperatorAction.FLATTEN
        if mode is TradingMode.REDUCING:
            return Outcome(flatten=flatten, refused="" if flatten else "already reducing")
        return Outcome(self._trip(TradingMode.REDUCING, ts, cause).state, flatten=flatten)

    # ---------------------------------------------------------------- internals

    def _halt(self, trips: bool, ts_ns: int, cause: str) -> Outcome:
        """Halt for `cause` if the input `trips` and the switch is not halted already."""
        if not trips or self.mode is TradingMode.HALTED:
            return NOTHING
        return self._trip(TradingMode.HALTED, ts_ns, cause)

    def _trip(self, mode: TradingMode, ts_ns: int, cause: str) -> Outcome:
        change = self._set(TradingStateChanged(mode, ts_ns, cause))
        return Outcome(change, cancel_all=mode is TradingMode.HALTED)

    def _set(self, change: TradingStateChanged) -> TradingStateChanged:
        self.mode = change.mode
        if change.mode is not TradingMode.ACTIVE:
            self.trips.append(change)
        return change


def _amount(value: Decimal) -> str:
    """Money in a trip's cause: eight places, as the report writes it."""
    return format_decimal(value, 8)
