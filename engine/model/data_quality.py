"""Data quality per instrument: the checks that say when a feed's market data cannot be trusted.

Gaps and checksums are the venue syncs' business (`engine.contracts.BookSync`); what they cannot see is
counted here, per instrument and kind:

- `duplicate`: a message the instrument already had: a depth diff whose venue update id is not past the
  newest seen (where the codec gives ids: a diff continuing its message under the same id, or OKX's
  keep-alive that repeats its id with `prevSeqId == seqId`, is not one), a venue top of book whose update id
  is not past the newest, a public trade whose trade id is not past the newest. A snapshot starts a new chain
  of ids (a venue restarts its ids with one).
- `time_backwards`: an event older than the newest event of its instrument (the event's time: its receive
  time in the run).
- `abnormal_spread`: the book's touch wider than `max_spread_bps` of its mid.
- `price_jump`: a change of the mid at a touch change that is more than `jump_sigmas` standard deviations
  from the mean of the last `jump_window` changes, and more than `jump_min_bps` of the mid (the floor keeps
  a market that moves by whole ticks, whose deviation can be nearly 0, from alarming on every other tick).
- `crossed_book`: the book's best bid at or above its best ask, the venue's own top of book crossed, or a
  venue sync that found its update would cross the book (it drops the book, so no touch shows it).
- `silent_feed`: no event of the instrument for longer than `silent_after_ns` (checked on the clock).

Why it is shaped this way: it runs inside the book actor on every event of the run, so the per-event checks
are a few integer compares the actor makes inline on the dicts kept here (`newest_ts`, `diff_ids`,
`top_ids`, `trade_ids`), and everything else (the statistics, the examples, the alarms) runs only on a touch
change, a suspect event or a clock tick. The statistics are exact: the jump test compares integers, never a
float, so a replay gives the same counts every time.

Each finding is counted and its first `examples` kept with their market time. It raises a `DataQualityAlarm`
(for the kill switch and the log) at most once per `alarm_every_ns` of market time per instrument and kind: a
bad stream is counted in full but cannot flood the log or the kill switch; what was held back is counted.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from engine.messages import DataQualityAlarm
from engine.model.numbers import format_fixed

DUPLICATE = "duplicate"
TIME_BACKWARDS = "time_backwards"
ABNORMAL_SPREAD = "abnormal_spread"
PRICE_JUMP = "price_jump"
CROSSED_BOOK = "crossed_book"
SILENT_FEED = "silent_feed"
KINDS = (DUPLICATE, TIME_BACKWARDS, ABNORMAL_SPREAD, PRICE_JUMP, CROSSED_BOOK, SILENT_FEED)
"""Every kind of finding, in the order the report lists them."""

SILENCE_TIMER = "data_quality"
"""The key of the clock timer on which silence is checked."""


@dataclass(frozen=True)
class DataQualityLimits:
    """The thresholds (the scenario's `[data_quality]` table). Each check fires strictly beyond its limit."""
    max_spread_bps: int = 200              # a touch wider than this, in bps of the mid
    jump_sigmas: int = 12                  # a mid change this many standard deviations from the recent mean ...
    jump_window: int = 100                 # ... of this many touch changes (the window must be full) ...
    jump_min_bps: int = 30                 # ... and larger than this, in bps of the mid
    silent_after_ns: int = 30_000_000_000  # no event of an instrument for longer than this (0: never checked)
    alarm_every_ns: int = 60_000_000_000   # at most one alarm per instrument and kind this often
    examples: int = 3                      # findings kept per instrument and kind, with their market time

    @property
    def silence_check_ns(self) -> int:
        """How often the clock checks for silence: half the limit, so silence is seen at most 1.5 limits late."""
        return max(self.silent_after_ns // 2, 1)


class _Quality:
    """What is known of one instrument's data: its findings and its recent touch."""

    __slots__ = ("counts", "examples", "next_alarm", "alarms", "held_back", "mid_x2", "moves", "moves_sum",
                 "moves_squares", "silent_at")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(KINDS, 0)
        self.examples: dict[str, list[tuple[int, str]]] = {}
        self.next_alarm: dict[str, int] = {}   # kind → the earliest market time of its next alarm
        self.alarms = 0
        self.held_back = 0
        self.mid_x2 = 0                        # twice the mid at the last touch change (0: none to compare with)
        self.moves: deque[int] = deque()       # the last changes of twice the mid, oldest first
        self.moves_sum = 0
        self.moves_squares = 0
        self.silent_at = -1                    # the newest event time when silence was last reported (-1: not)


class DataQualityMonitor:
    """The data-quality checks of a run's instruments; it outlives restarts of the book actor that feeds it.

    The book actor makes the per-event compares itself on `newest_ts`, `diff_ids`, `top_ids` and `trade_ids`
    (see the module's docstring) and calls the methods here for what they find, for each touch change
    (`touch`), for a book that stops being live (`book_down`), and on its clock (`silent`). Each method returns
    the alarms to raise, already rate-limited.
    """

    def __init__(self, instruments: list[str] | tuple[str, ...], limits: DataQualityLimits = DataQualityLimits(),
                 price_decimals: Mapping[str, int] | None = None):
        self.limits = limits
        self._decimals = dict(price_decimals or {})      # instrument → its prices' decimals, for the alarms' text
        self._spread_limit = limits.max_spread_bps    # the limits the touch checks read, as plain attributes
        self._window = limits.jump_window
        self._jump_floor = limits.jump_min_bps
        self._sigmas_squared = limits.jump_sigmas ** 2
        self.newest_ts = dict.fromkeys(instruments, 0)    # instrument → its newest event's time
        self.diff_ids = dict.fromkeys(instruments, -1)    # instrument → the newest depth diff's last update id
        self.top_ids = dict.fromkeys(instruments, -1)     # instrument → the newest venue top of book's update id
        self.trade_ids = dict.fromkeys(instruments, -1)   # instrument → the newest trade id
        self.timer_due: int | None = None                 # when the silence check is next due on the clock
        self._started_ns: int | None = None               # the first batch's time: silence counts from it
        self._of = {symbol: _Quality() for symbol in instruments}

    # ------------------------------------------------------------ per event (called on a suspect event only)

    def time_backwards(self, symbol: str, ts_ns: int) -> DataQualityAlarm | None:
        newest = self.newest_ts[symbol]
        return self.found(symbol, TIME_BACKWARDS, ts_ns, f"event at {ts_ns} ns is {newest - ts_ns} ns older than "
                                                         f"the newest at {newest} ns")

    def duplicate(self, symbol: str, ts_ns: int, what: str, seen_id: int, newest_id: int) -> DataQualityAlarm | None:
        """A message whose id (`what`: "depth diff update", "top of book update", "trade") is not new."""
        return self.found(symbol, DUPLICATE, ts_ns, f"{what} id {seen_id} already seen (newest {newest_id})")

    def snapshot(self, symbol: str) -> None:
        """A snapshot came: the venue's diff ids may start again from it (a restarted venue, a resync)."""
        self.diff_ids[symbol] = -1

    def crossed_update(self, symbol: str, ts_ns: int) -> DataQualityAlarm | None:
        """The venue's sync found an update that would cross the book (and dropped the book)."""
        return self.found(symbol, CROSSED_BOOK, ts_ns, "an update would cross the book: dropped and resynced")

    def crossed_top(self, symbol: str, ts_ns: int, bid: int, ask: int) -> DataQualityAlarm | None:
        """The venue's own top of book (a ticker) is crossed."""
        return self.found(symbol, CROSSED_BOOK, ts_ns, f"the venue's top of book is crossed: bid {self._price(symbol, bid)}"
                                                       f" >= ask {self._price(symbol, ask)}")

    # ------------------------------------------------------------ per touch change

    def touch(self, symbol: str, ts_ns: int, bid: int, ask: int) -> Sequence[DataQualityAlarm]:
        """The live book's touch moved to `bid`/`ask` (both sides standing): crossed, spread and jump checks.

        On a market whose every diff moves the touch this runs on nearly every event, so the usual path (nothing
        found) is a few integer operations and no allocation: the alarms are built only once something is found.
        """
        quality = self._of[symbol]
        if bid >= ask:
            quality.mid_x2 = 0   # a crossed touch is no mid to measure a move from
            return self._found_all(symbol, ((CROSSED_BOOK, ts_ns, f"bid {self._price(symbol, bid)} >= ask "
                                                                  f"{self._price(symbol, ask)}"),))
        findings = []
        mid_x2 = bid + ask
        if (ask - bid) * 20_000 > self._spread_limit * mid_x2:
            price = self._price
            findings.append((ABNORMAL_SPREAD, ts_ns, f"spread {price(symbol, ask - bid)} is "
                             f"{_hundredths((ask - bid) * 2_000_000 // mid_x2)} bps of the mid (bid {price(symbol, bid)}, "
                             f"ask {price(symbol, ask)})"))
        previous = quality.mid_x2
        quality.mid_x2 = mid_x2
        if previous:
            move = mid_x2 - previous
            moves = quality.moves
            full = len(moves) == self._window
            if full and (move if move > 0 else -move) * 10_000 > self._jump_floor * previous and \
                    self._beyond_sigmas(quality, move):
                findings.append((PRICE_JUMP, ts_ns, f"mid moved {_hundredths(move * 1_000_000 // previous)} bps "
                                 f"(from {self._mid(symbol, previous)} to {self._mid(symbol, mid_x2)}), beyond "
                                 f"{self.limits.jump_sigmas} standard deviations of the last {self._window} moves"))
            if full:   # the window slides: the oldest move leaves it
                old = moves.popleft()
                quality.moves_sum += move - old
                quality.moves_squares += move * move - old * old
            else:
                quality.moves_sum += move
                quality.moves_squares += move * move
            moves.append(move)
        return self._found_all(symbol, findings) if findings else ()

    def _beyond_sigmas(self, quality: _Quality, move: int) -> bool:
        """Whether `move` lies beyond `jump_sigmas` standard deviations of the window's moves. With n moves of sum S
        and sum of squares Q, (move - S/n)^2 > k^2 (Q/n - (S/n)^2) is, times n^2, (n move - S)^2 > k^2 (n Q - S^2):
        integers only."""
        n, total = self._window, quality.moves_sum
        deviation = n * move - total
        return deviation * deviation > self._sigmas_squared * (n * quality.moves_squares - total * total)

    def _found_all(self, symbol: str, findings: Sequence[tuple[str, int, str]]) -> list[DataQualityAlarm]:
        """`found` for each (kind, time, detail): the alarms it lets through."""
        alarms = []
        for kind, ts_ns, detail in findings:
            alarm = self.found(symbol, kind, ts_ns, detail)
            if alarm is not None:
                alarms.append(alarm)
        return alarms

    def book_down(self, symbol: str) -> None:
        """The book stopped being live: its next touch is measured from nothing (a move across an outage is no
        jump); the window of moves is kept."""
        self._of[symbol].mid_x2 = 0

    # ------------------------------------------------------------ on the clock

    def arm(self, first_ts_ns: int) -> int | None:
        """When the silence check should first run, for a batch whose first event is at `first_ts_ns`, if the clock
        must be asked for it (None: a check is due already, or silence is never checked).

        The first batch starts the count of silence (an instrument never heard is silent from its first event); a
        batch after every instrument fell silent starts the checks again. The first check is the first that could
        find anything: one limit after the event. Due times fall on a grid of the check's
        period counted from the event, never from a batch's end, so that where they fall does not depend on the
        replay's batching (and a replay cuts no extra batch where the period is a multiple of its window)."""
        if not self.limits.silent_after_ns or self.timer_due is not None:
            return None
        if self._started_ns is None:
            self._started_ns = first_ts_ns
        return self._due_after(first_ts_ns + self.limits.silent_after_ns)   # no silence can be found sooner

    def rearm(self, now_ns: int) -> int | None:
        """A restarted book asks again for a check due by now: its timer may have been the message in hand when the
        actor crashed (if it was not, the older timer is ignored when it comes)."""
        if self.timer_due is None or self.timer_due > now_ns:
            return None
        return self._due_after(now_ns)

    def _due_after(self, ts_ns: int) -> int:
        period = self.limits.silence_check_ns
        self.timer_due = (ts_ns // period + 1) * period
        return self.timer_due

    def silent(self, due_ns: int) -> tuple[list[DataQualityAlarm], int | None]:
        """The silence check of the timer due at `due_ns`, as of that time: the alarms of instruments silent past
        the limit (each silence once), and the next due time to ask the clock for (None: this timer is not the
        current one, or every instrument is silent, so the next batch starts the checks again)."""
        if due_ns != self.timer_due:
            return [], None
        limit = self.limits.silent_after_ns
        started = self._started_ns if self._started_ns is not None else due_ns
        findings = []
        listening = False   # some instrument is not (yet) reported silent: the checks go on
        for symbol, newest in self.newest_ts.items():
            quality = self._of[symbol]
            last = newest or started
            if quality.silent_at == last:
                continue
            if due_ns - last > limit:
                quality.silent_at = last
                findings.append((symbol, f"no event for {(due_ns - last) // 1_000_000} ms "
                                         f"(limit {limit // 1_000_000} ms)"))
            else:
                listening = True
        alarms = [alarm for symbol, detail in findings
                  if (alarm := self.found(symbol, SILENT_FEED, due_ns, detail)) is not None]
        if not listening:   # a replay's end (or a dead market) waits on no timer
            self.timer_due = None
            return alarms, None
        self.timer_due = due_ns + self.limits.silence_check_ns
        return alarms, self.timer_due

    # ------------------------------------------------------------ findings

    def _price(self, symbol: str, price: int) -> str:
        """A price of `symbol` as the venue writes it (its fixed-point units where its decimals are not known)."""
        return format_fixed(price, self._decimals.get(symbol, 0))

    def _mid(self, symbol: str, mid_x2: int) -> str:
        """The mid of twice the mid `mid_x2`, exactly: half a tick shows as one more decimal."""
        decimals = self._decimals.get(symbol, 0)
        return format_fixed(mid_x2 // 2, decimals) if mid_x2 % 2 == 0 else format_fixed(mid_x2 * 5, decimals + 1)

    def found(self, symbol: str, kind: str, ts_ns: int, detail: str) -> DataQualityAlarm | None:
        """Count a finding, keep it if among the first, and return its alarm unless one of its instrument and
        kind was raised less than `alarm_every_ns` ago (then it is counted as held back)."""
        quality = self._of[symbol]
        quality.counts[kind] += 1
        kept = quality.examples.setdefault(kind, [])
        if len(kept) < self.limits.examples:
            kept.append((ts_ns, detail))
        if ts_ns < quality.next_alarm.get(kind, ts_ns):
            quality.held_back += 1
            return None
        quality.next_alarm[kind] = ts_ns + self.limits.alarm_every_ns
        quality.alarms += 1
        return DataQualityAlarm(symbol, ts_ns, kind, detail)

    def as_dict(self) -> dict[str, Any]:
        """The report's `data_quality` section: counts per kind over the run and per instrument, each
        instrument's first findings per kind with their market time, and its alarms raised and held back."""
        total = dict.fromkeys(KINDS, 0)
        per: dict[str, Any] = {}
        for symbol in sorted(self._of):
            quality = self._of[symbol]
            for kind, n in quality.counts.items():
                total[kind] += n
            per[symbol] = {"counts": dict(quality.counts),
                           "examples": {kind: [{"ts_ns": ts, "detail": detail} for ts, detail in quality.examples[kind]]
                                        for kind in KINDS if quality.examples.get(kind)},
                           "alarms": quality.alarms, "alarms_held_back": quality.held_back}
        limits = self.limits
        return {"counts": total,
                "alarms": sum(q.alarms for q in self._of.values()),
                "alarms_held_back": sum(q.held_back for q in self._of.values()),
                "limits": {"max_spread_bps": limits.max_spread_bps, "jump_sigmas": limits.jump_sigmas,
                           "jump_window": limits.jump_window, "jump_min_bps": limits.jump_min_bps,
                           "silent_after_ms": limits.silent_after_ns // 1_000_000,
                           "alarm_every_ms": limits.alarm_every_ns // 1_000_000},
                "by_instrument": per}


def _hundredths(value: int) -> str:
    """An integer count of hundredths as exact decimal text (-1234 → "-12.34")."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    return f"{sign}{whole}.{part:02d}"
