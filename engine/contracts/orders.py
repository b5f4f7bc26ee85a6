"""The order gateway: what a run asks of a venue it reaches over a network to trade (paper or live).

The order manager never talks to a venue directly: it sends requests on its link to a venue actor and hears
back execution reports. A gateway is what makes that actor for one venue's protocol, with what a run needs
around it: the venue's own stream of what happens to our orders after their answers, its counters for the
report, its account of our orders when the run ends (which the report and the chaos check compare the
engine with), and its connections to close.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from engine.runtime import Actor, ActorContext, Ports


@dataclass(frozen=True)
class GatewaySettings:
    """Where and as whom a run reaches its venue; the credentials are read from the environment variables
    named here (never from a file, never logged)."""
    venue: str                 # the venue's name in the run's orders and reports
    url: str                   # its REST base URL
    ws_api_url: str            # its WebSocket API address (the order stream)
    api_key_env: str
    secret_env: str
    recv_window_ns: int        # how long a signed request stays valid at the venue
    timeout_s: float           # a request unanswered this long has an unknown outcome


class OrderGateway(Protocol):
    """The parts of one venue reached over a network, for one run."""

    @property
    def name(self) -> str: ...

    @property
    def actor_ports(self) -> Ports:
        """The wiring of the actor `actor` makes (its `reports` output, the requests it accepts)."""
        ...

    @property
    def order_stream_ports(self) -> Ports:
        """The wiring of `order_stream` (`reports`, and `control` for a refusal of our credentials)."""
        ...

    def actor(self) -> Actor:
        """A fresh venue actor (one per incarnation): takes `NewOrderRequest`, `CancelRequest`,
        `CancelAllRequest` and `ReconcileRequest`, and sends on its `reports` output `ExecutionReport`,
        `RequestFailed`, `ReconcileReply` and a `VenueSession` when it (re)starts, so that the order manager
        reconciles."""
        ...

    async def order_stream(self, ctx: ActorContext) -> None:
        """Run the venue's stream of our orders' changes (a child of its own): `ExecutionReport`s and
        `VenueSession`s on `reports`, a `RunFailure` on `control` when the venue refuses our credentials."""
        ...

    def stats_dict(self) -> dict[str, int]:
        """The gateway's counters for the run report; they outlive its actor's restarts."""
        ...

    async def truth(self, since_ns: int) -> dict[str, dict[str, Any]]:
        """Per instrument, the venue's account of our orders since `since_ns` (fills, position, open orders,
        trades by id), or an error the venue gave instead."""
        ...

    async def aclose(self) -> None:
        """Close the gateway's connections (the run is over)."""
        ...
