"""What every venue adapter shares: the vocabulary of book synchronisation.

Each venue keeps its books in step with its own rules (`adapters/<venue>/book_sync.py`), but they all
answer the book actor, the verifier and the tests in the same words.
"""
from __future__ import annotations

import enum


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
