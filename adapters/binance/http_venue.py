"""A venue reached over HTTP in Binance's protocol: the simulated one for paper trading, or a real one.

Binance's order gateway (`engine.contracts.OrderGateway`) for one run: the credentials from the environment
variables the settings name (never from a file, never logged), the signed REST client with the venue's clock
offset, the order gateway actor, the user data stream on the venue's WebSocket API address, and, when the run
ends, the venue's own account of it (`truth`): every order and trade of ours it holds since the journal's
first run, which is what a report and a chaos check compare the engine with.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from adapters.binance.client import BinanceClient, read_patiently
from adapters.binance.gateway import GatewayStats, OrderGateway
from adapters.binance.orders import BinanceOrderCodec, VenueError, venue_order_states
from adapters.binance.signing import Credentials
from adapters.binance.user_stream import UserStream
from engine.contracts import GatewaySettings
from engine.messages import Side, VenueOrderStatus
from engine.model.numbers import Instrument
from engine.runtime import ActorContext


class BinanceHttpVenue:
    """The client, the gateway and the user stream of one Binance-protocol venue, for one run.

    `KeyError` naming the environment variable of a missing credential.
    """

    def __init__(self, settings: GatewaySettings, instruments: Mapping[str, Instrument], now_ns: Callable[[], int],
                 prefix: str):
        credentials = Credentials.from_env(key_var=settings.api_key_env, secret_var=settings.secret_env)
        codec = BinanceOrderCodec(credentials, instruments.values(), venue=settings.venue,
                                  recv_window_ms=settings.recv_window_ns // 1_000_000)
        self.name = settings.venue
        self.instruments = instruments
        self.prefix = prefix
        self.client = BinanceClient(codec, base_url=settings.url, now_ns=now_ns, timeout_s=settings.timeout_s)
        self.stats = GatewayStats()
        self.user_stream = UserStream(settings.ws_api_url, credentials, instruments, settings.venue,
                                      venue_time_ms=self.client.venue_time_ms)

    actor_ports = OrderGateway.ports          # the wiring of what `actor` and `order_stream` run
    order_stream_ports = UserStream.ports

    def actor(self) -> OrderGateway:
        return OrderGateway(self.client, self.stats, self.name)

    async def order_stream(self, ctx: ActorContext) -> None:
        """The user data stream: what happens to our orders after their REST answers."""
        await self.user_stream.run(ctx)

    async def aclose(self) -> None:
        await self.client.aclose()

    def stats_dict(self) -> dict[str, int]:
        return {**dataclasses.asdict(self.stats), "user_stream_reports": self.user_stream.events}

    async def truth(self, since_ns: int) -> dict[str, dict[str, Any]]:
        """Per instrument, the venue's account of our orders since `since_ns`: fills, net traded position, open
        orders, and client ids used for more than one order; an error instead if the venue cannot say."""
        out: dict[str, dict[str, Any]] = {}
        start_ms = since_ns // 1_000_000 if since_ns else None
        for symbol in sorted(self.instruments):
            orders = await read_patiently(lambda: self.client.all_orders(symbol, start_ms))
            trades = await read_patiently(lambda: self.client.my_trades(symbol, start_ms=start_ms))
            if isinstance(orders, VenueError) or isinstance(trades, VenueError):
                error = orders if isinstance(orders, VenueError) else trades
                out[symbol] = {"error": f"{error.http_status} {error.code}: {error.message}"}
                continue
            ours = [o for o in orders if o.client_order_id.startswith(f"{self.prefix}-")]
            states = venue_order_states(ours, trades)
            uses = Counter(state.client_order_id for state in states)
            position = sum((1 if state.side is Side.BUY else -1) * trade.qty
                           for state in states for trade in state.trades)
            out[symbol] = {
                "fills": sum(len(state.trades) for state in states),
                "position": position,
                "open_orders": sorted(s.client_order_id for s in states if s.status is VenueOrderStatus.OPEN),
                "reused_client_order_ids": {coid: n for coid, n in sorted(uses.items()) if n > 1},
                "trades": {trade.trade_id: (1 if state.side is Side.BUY else -1) * trade.qty
                           for state in states for trade in state.trades},
            }
        return out
