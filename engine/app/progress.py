"""A progress line on a terminal: how far a long replay or a synthetic market's generation has got, how fast,
and when it will end.

Written on one line of stderr, redrawn in place a few times a second, and only when stderr is a terminal: a
headless run (a pipe, a file, a CI log) gets none of it, so its output stays what it was. The progress is
measured in market time (how much of the span from first to last instant is done), and the rate in messages
per wall-clock second; the wall clock is injected (`now`) so the line can be tested without waiting.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

REDRAW_S = 0.2   # the most often the line is redrawn: a terminal needs no more, and each redraw costs a write


class ProgressLine:
    """The progress of a command's tasks (`synthetic` generation, then the `replay`), one after the other, each
    over market time from `first_ns` to `last_ns`.

    `last_ns` may be None when the end is not known before the data is read (a recording): the line then says
    how far the task has got, and its rate, with no percentage or ETA."""

    def __init__(self, stream: TextIO, *, now: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.now = now
        self.label = ""
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self._started = now()
        self._drawn_at: float | None = None
        self._width = 0

    def start(self, label: str, first_ns: int, last_ns: int | None) -> None:
        """A new task over the market time from `first_ns` to `last_ns`; the previous one's line is ended."""
        self.finish()
        self.label, self.first_ns, self.last_ns = label, first_ns, last_ns
        self._started = self.now()
        self._drawn_at = None
        self._width = 0

    def update(self, ts_ns: int, count: int) -> None:
        """The task has reached market time `ts_ns`, having handled `count` messages; redrawn if due."""
        now = self.now()
        if self._drawn_at is not None and now - self._drawn_at < REDRAW_S:
            return
        self._drawn_at = now
        self._draw(self.line(ts_ns, count, now - self._started))

    def line(self, ts_ns: int, count: int, elapsed_s: float) -> str:
        """What the line says after `elapsed_s` wall seconds at market time `ts_ns`, `count` messages handled."""
        first = self.first_ns if self.first_ns is not None else ts_ns
        done_s = (ts_ns - first) / 1e9
        rate = count / elapsed_s if elapsed_s > 0 else 0.0
        parts = [f"{self.label}: {_clock(done_s)} of market time", f"{count:,} msgs", f"{rate:,.0f} msg/s"]
        if self.last_ns is not None and self.last_ns > first:
            total_s = (self.last_ns - first) / 1e9
            parts[0] = f"{self.label}: {min(done_s / total_s, 1.0):4.0%} ({_clock(done_s)} of {_clock(total_s)})"
            pace = done_s / elapsed_s if elapsed_s > 0 else 0.0   # market seconds per wall second
            parts.append(f"ETA {_clock((total_s - done_s) / pace)}" if pace > 0 else "ETA ?")
        return ", ".join(parts)

    def finish(self) -> None:
        """End the line, so what is printed next starts on a line of its own."""
        if self._drawn_at is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn_at = None

    def _draw(self, text: str) -> None:
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()


def on_terminal(stream: TextIO | None = None, *, is_tty: bool | None = None) -> ProgressLine | None:
    """A progress line on `stream` (stderr) if it is a terminal (`is_tty` overrides the check), else None."""
    stream = stream if stream is not None else sys.stderr
    tty = stream.isatty() if is_tty is None else is_tty
    return ProgressLine(stream) if tty else None


def _clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
