"""What an actor declares about its wiring, and the check that a tree is wired as its actors declare.

Wiring by name fails silently: an output nobody connected drops what is sent on it, an output named wrong
is never read, a message sent into a mailbox whose actor does not expect it is ignored or crashes it much
later. So every actor declares its `Ports`: the outputs it sends on, each with the message types it sends
there, and the message types it accepts on its inbox. An actor class declares them as its `ports` class
attribute; a run function that is no `Actor` is given them beside it in its `ChildSpec`.

Building a supervisor checks each child's wiring against its declaration (`check_wiring`) and fails, naming
the actor and the output, on an output wired but not declared, an output declared but not wired (unless the
declaration says why it may be left unwired), and an edge into a mailbox whose reader does not accept every
type the output sends. An `emit` on an output the actor did not declare raises `UndeclaredOutput`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from ._mailbox import Edge


class WiringError(ValueError):
    """A tree wired other than its actors declare; the message names the actor and the output."""


class UndeclaredOutput(LookupError):
    """An actor sent on an output its ports do not declare."""


MessageTypes = type | tuple[type, ...]


def _as_tuple(types: MessageTypes) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


@dataclass(frozen=True)
class Ports:
    """An actor's declared wiring.

    `outputs`: output name → the message type (or tuple of types) it sends there. `optional`: output name →
    why a run may leave it unwired (an unwired optional output sends nowhere). `accepts`: the message types
    that may reach its inbox through an edge (messages the clock or a supervisor delivers, such as its own
    timers or a timed crash, need not be listed).
    """
    outputs: Mapping[str, MessageTypes] = field(default_factory=dict)
    accepts: tuple[type, ...] = ()
    optional: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.optional) - set(self.outputs))
        if unknown:
            raise WiringError(f"ports: optional output(s) {', '.join(unknown)} are not declared outputs")

    def sends(self, output: str) -> tuple[type, ...]:
        """The message types declared for `output`."""
        return _as_tuple(self.outputs[output])


NO_PORTS = Ports()


def check_wiring(actor: str, ports: Ports, wired: Mapping[str, Sequence[Edge]], has_inbox: bool) -> None:
    """Raise `WiringError`, naming `actor` and the output, unless `wired` is what `ports` declare."""
    for output in wired:
        if output not in ports.outputs:
            declared = ", ".join(sorted(ports.outputs)) or "none"
            raise WiringError(f"actor {actor!r}: output {output!r} is wired but not declared "
                              f"(declared outputs: {declared})")
    for output in ports.outputs:
        if not wired.get(output) and output not in ports.optional:
            raise WiringError(f"actor {actor!r}: output {output!r} is declared but not wired")
    for output, edges in wired.items():
        sent = ports.sends(output)
        for edge in edges:
            mailbox = edge.mailbox
            if mailbox.accepts is None:
                raise WiringError(f"actor {actor!r}: output {output!r} goes into mailbox {mailbox.name!r}, "
                                  "which no actor reads (give its reader's ChildSpec that inbox, or the "
                                  "mailbox `accepts`)")
            refused = [t for t in sent if not issubclass(t, mailbox.accepts)]
            if refused:
                raise WiringError(f"actor {actor!r}: output {output!r} sends "
                                  f"{', '.join(t.__name__ for t in refused)} into mailbox {mailbox.name!r}, "
                                  f"whose reader {mailbox.reader or '(outside the tree)'!r} accepts "
                                  f"{', '.join(t.__name__ for t in mailbox.accepts) or 'nothing'}")
    if ports.accepts and not has_inbox:
        raise WiringError(f"actor {actor!r}: accepts {', '.join(t.__name__ for t in ports.accepts)} "
                          "but has no inbox")
