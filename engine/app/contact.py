"""A live run must reach its venue: one that never connects, or that the venue never answers, fails (exit 1).

Without this a paper run against a dead address retried quietly for its whole duration and exited 0 with an
empty report. Reaching the venue means both of its halves: every market-data connection opened at least once,
and the venue answered the order manager's start-up reconciliation of each instrument (which it must before any
order goes out). Refused credentials are caught where they are refused (the user data stream, an order's -2015)
and end the run at once; this catches the silence: an address that refuses connections, a host that never
answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import trio

from engine.messages import JournalEntry, ReconcileReply, RunFailure
from engine.runtime import Mailbox

ACTOR = "connect"


@dataclass
class FeedWatch:
    """One live market-data connection, as the run's watchers see it."""
    venue: str
    url: str
    stats: Any          # its FeedStats: connects, disconnects, last error


class FirstContact:
    """Whether each feed connected and the venue answered reconciliation; why not, if not."""

    def __init__(self, feeds: Iterable[FeedWatch], venue: str, venue_url: str, instruments: Iterable[str]):
        self.feeds = list(feeds)
        self.venue, self.venue_url = venue, venue_url
        self.unanswered = set(instruments)
        self.last_error = ""

    def take(self, entry: JournalEntry) -> None:
        """A journal subscriber for `ReconcileReply`: never raises."""
        reply = entry.msg
        if reply.error:
            self.last_error = reply.error
        else:
            self.unanswered.discard(reply.instrument)

    def missing(self) -> str | None:
        """What was never reached, with the last error seen (None: everything was)."""
        out = [f"the market data at {feed.url} never connected"
               + (f" ({feed.stats.last_error})" if feed.stats.last_error else "")
               for feed in self.feeds if feed.stats.connects == 0]
        if self.unanswered:
            out.append(f"{self.venue} at {self.venue_url} never answered the reconciliation of "
                       f"{', '.join(sorted(self.unanswered))}" + (f" ({self.last_error})" if self.last_error else ""))
        return "; ".join(out) or None

    async def watch(self, within_s: float, control: Mailbox, now_ns: Any) -> None:
        """After `within_s`, tell the session the run cannot go on if the venue is still out of reach."""
        await trio.sleep(within_s)
        reason = self.missing()
        if reason:
            control.deliver(RunFailure(ACTOR, now_ns(), f"no contact within {within_s:g} s: {reason}"))


WATCHED = (ReconcileReply,)
