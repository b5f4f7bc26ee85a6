"""Accounts of the simulated exchange: balances, the orders they own and the fills of those orders, and the
fixed windows that Binance counts request weight and orders in.

An account's repr shows none of its secret, balances or orders.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # records.py imports this module
    from adapters.simulated.exchange_records import Order, Trade

_ZERO = Decimal(0)
_TEN_SECONDS_MS, _DAY_MS = 10_000, 86_400_000


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The `rateLimits` of exchangeInfo; Binance documents 6000 weight a minute, the order counts are examples."""
    request_weight_per_minute: int = 6_000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000


class Window:
    """A counter over fixed windows aligned to multiples of their length, like Binance's interval limits."""

    __slots__ = ("length_ms", "start_ms", "used")

    def __init__(self, length_ms: int):
        self.length_ms, self.start_ms, self.used = length_ms, -1, 0

    def add(self, now_ms: int, amount: int) -> int:
        """Count `amount` at `now_ms`; the total used in the current window."""
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms, self.used = start, 0
        self.used += amount
        return self.used

    def retry_after_s(self, now_ms: int) -> int:
        """Whole seconds until the current window ends."""
        return max(1, math.ceil((self.start_ms + self.length_ms - now_ms) / 1000))


class Balance:
    __slots__ = ("free", "locked")

    def __init__(self, free: Decimal):
        self.free, self.locked = free, _ZERO


class Account:
    """One API key's secret, balances and orders. Its default repr shows none of them."""

    __slots__ = ("uid", "api_key", "secret", "balances", "orders_10s", "orders_1d", "by_client_id", "orders",
                 "trades", "order_lists", "updated_ms")

    def __init__(self, uid: int, api_key: str, secret: str, balances: Mapping[str, Decimal]):
        self.uid = uid
        self.api_key = api_key
        self.secret = secret
        self.balances = {asset: Balance(Decimal(amount)) for asset, amount in balances.items()}
        self.orders_10s, self.orders_1d = Window(_TEN_SECONDS_MS), Window(_DAY_MS)
        self.by_client_id: dict[tuple[str, str], Any] = {}  # (venue symbol, client order id) → the exchange's latest order
        self.orders: dict[str, list[Order]] = {}  # venue symbol → every order placed, oldest first (allOrders)
        self.trades: dict[str, list[Trade]] = {}  # venue symbol → every fill, oldest first (myTrades)
        self.order_lists: list[Any] = []          # every OCO list placed, oldest first
        self.updated_ms = 0

    def balance(self, asset: str) -> Balance:
        balance = self.balances.get(asset)
        if balance is None:
            balance = self.balances[asset] = Balance(_ZERO)
        return balance
