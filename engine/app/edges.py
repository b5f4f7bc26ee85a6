"""An edge that carries the messages of some instruments only: how one book actor serves many consumers.

A book actor keeps the books of every instrument of a run, but a strategy is to see the views of the
instruments it names, and a live feed the resync requests of the instruments its connection carries.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ForInstruments:
    """Passes a message on to `edge` when its `instrument` is one of `instruments`; drops it otherwise (it is
    not this receiver's: another edge of the same output carries it)."""
    __slots__ = ("edge", "instruments", "mailbox", "policy")

    def __init__(self, edge: Any, instruments: Iterable[str]):
        self.edge = edge
        self.instruments = frozenset(instruments)
        self.mailbox = edge.mailbox
        self.policy = edge.policy

    def send_nowait(self, msg: Any) -> bool:
        """Done at once for another receiver's message; else as the edge it wraps."""
        return msg.instrument not in self.instruments or self.edge.send_nowait(msg)

    async def send(self, msg: Any) -> None:
        if msg.instrument in self.instruments:
            await self.edge.send(msg)
