"""The engine's append-only journal: the durable record a restarted actor or engine rebuilds its state from.

`encode`/`decode` say how messages become rows.
"""
from ._codec import MESSAGE_TYPES, decode, encode

__all__ = ["MESSAGE_TYPES", "encode", "decode"]
