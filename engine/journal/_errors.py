"""What the journal raises when it cannot be used; every message names the journal's file."""
from __future__ import annotations


class JournalError(Exception):
    """The journal is unusable: an unknown schema version, a file that is not a journal, an I/O failure.

    A commit that failed leaves the journal in this state for good: the engine must not go on acting on events
    it could not record first.
    """


class JournalLocked(JournalError):
    """Another live process (or another open in this one) holds the journal."""
