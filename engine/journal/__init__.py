"""The engine's append-only journal: the durable record a restarted actor or engine rebuilds its state from.

"Everything the order manager learns is an event in the journal first, then a message out." One SQLite file
in WAL mode, locked by one engine process at a time, appended by the actors through a writer service that
groups their writes into transactions; every open is a new run. See `Journal` for the service and its
guarantees, `encode`/`decode` for how messages become rows.
"""
from ._codec import MESSAGE_TYPES, decode, encode
from ._errors import JournalError, JournalLocked
from ._journal import Journal
from ._store import SCHEMA_VERSION, RunInfo

__all__ = [
    "SCHEMA_VERSION", "MESSAGE_TYPES", "JournalError", "JournalLocked", "encode", "decode", "Journal", "RunInfo",
]
