"""What the metrics endpoint watches in a running session: the runtime's own counters, read when scraped.

The session hands these over as they are; nothing here is copied per message. A scrape reads them in the trio
thread, between two steps of the actors, so every figure is one the actors left whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.actors.book import BookStats
from engine.app.stopping import StopRequest
from engine.runtime import Lifecycle, Mailbox


@dataclass
class Watched:
    venue: str                                  # where orders go
    clock: Any                                  # the run's clock: book ages are on it
    lifecycle: Lifecycle                        # crashes, restarts, dead letters, give-ups per actor
    mailboxes: dict[str, Mailbox]               # actor → its inbox: depth and conflations
    book: BookStats                             # each book's sync (state, resyncs by cause, integrity counts)
    feeds: dict[str, tuple[str, Any]]           # live feed actor → (its venue, its FeedStats)
    gateway: Any | None                         # a venue over HTTP (its request counters), else None
    stop: StopRequest                           # a stop asked for: not ready any more
