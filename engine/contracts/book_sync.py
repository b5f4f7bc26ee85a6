"""The book sync: what the core asks of a venue's rules for keeping one exact book in step with its feed.

Each venue keeps its books with its own rules (sequence chains, checksums, snapshot bracketing), but the book
actor, the replay's shadow books and the verifier all drive them the same way: give an event, read a
`SyncResult`, ask for a snapshot when it says so. A book that can no longer be trusted is dropped whole and
waits for a fresh snapshot, never patched. Every sync keeps the same integrity counters, a count a venue has
no signal for staying 0, so that a run's report adds them up without asking which venue kept them.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol, TypeAlias

from engine.messages import BookSnapshot, BookState, DepthDiff, TopOfBook
from engine.model.book import OrderBook


class SyncResult(enum.Enum):
    """What one event did to the book."""
    APPLIED = "applied"                    # a diff changed the live book
    BUFFERED = "buffered"                  # held until a snapshot arrives
    IGNORED = "ignored"                    # older than the book (or a snapshot while live)
    LOADED = "loaded"                      # a snapshot (and the buffered diffs after it) made the book live
    SNAPSHOT_TOO_OLD = "snapshot_too_old"  # the snapshot ends before the buffered diffs begin: fetch again
    GAP = "gap"                            # diffs are missing: book dropped, fetch a snapshot
    TOP_MISMATCH = "top_mismatch"          # the venue's top of book disagrees: book dropped, fetch a snapshot
    CHECKSUM_MISMATCH = "checksum_mismatch"  # the venue's checksum disagrees: book dropped, resync
    CROSSED = "crossed"                    # the book would be crossed: book dropped, resync

    @property
    def needs_snapshot(self) -> bool:
        return self in (SyncResult.SNAPSHOT_TOO_OLD, SyncResult.GAP, SyncResult.TOP_MISMATCH,
                        SyncResult.CHECKSUM_MISMATCH, SyncResult.CROSSED)


class BookSync(Protocol):
    """The book of one instrument and the venue's rules that keep it in step with the venue's feed."""

    @property
    def instrument(self) -> str:
        """The canonical symbol of the book's instrument; an event of another is a `ValueError`."""
        ...

    @property
    def book(self) -> OrderBook: ...

    @property
    def state(self) -> BookState: ...

    @property
    def last_update_id(self) -> int | None:
        """The venue's update id (or count) the live book is at, None while not live."""
        ...

    @property
    def resyncs(self) -> dict[str, int]:
        """Times the book was dropped, by cause ("gap", "checksum_mismatch", ... or what `invalidate` was given)."""
        ...

    @property
    def gaps(self) -> int:
        """Breaks of the venue's sequence chain seen."""
        ...

    @property
    def checksums_ok(self) -> int: ...

    @property
    def checksums_failed(self) -> int: ...

    @property
    def tops_checked(self) -> int:
        """Times the venue's own top of book was compared with the book."""
        ...

    @property
    def top_mismatches(self) -> int: ...

    def on_snapshot(self, snapshot: BookSnapshot) -> SyncResult: ...

    def on_diff(self, diff: DepthDiff) -> SyncResult: ...

    def check_top(self, top: TopOfBook) -> bool | None:
        """Hold the book to the venue's top of book: False when they disagree (the book is dropped), None
        when nothing could be compared (not yet, or the venue offers no such oracle)."""
        ...

    def invalidate(self, cause: str) -> None:
        """Drop the book (it can no longer be trusted) and wait for a new snapshot; counted by cause."""
        ...


BookSyncFactory: TypeAlias = Callable[[str], BookSync]
"""Makes the book sync of an instrument, by canonical symbol (the book actor makes one per instrument, and
a new one on restart)."""
