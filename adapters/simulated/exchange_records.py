"""What the simulated exchange keeps about the symbols it lists, its accounts (balances, the orders they own and
the fills of those orders, their order-rate windows) and the orders placed on them.

These are the exchange's own records, kept apart from `adapters.simulated.exchange` (which changes them) and
`adapters.simulated.responses` (which shows them in Binance's shapes), so that each of the three reads on its own.
An account and its orders point at each other, so they are kept in one module. An account's repr shows none of its
secret, balances or orders.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapters.simulated.rate_limits import Window
from engine.messages import OrderType, Side, TimeInForce
from engine.model.numbers import Instrument

_ZERO = Decimal(0)
_TEN_SECONDS_MS, _DAY_MS = 10_000, 86_400_000


@dataclass(frozen=True, slots=True)
class Listing:
    """One symbol the exchange lists: the instrument (tick and lot sizes) and its other filter bounds."""
    instrument: Instrument
    min_notional: Decimal = Decimal(5)
    max_price: Decimal = Decimal(1_000_000)
    max_qty: Decimal = Decimal(9_000)


@dataclass(frozen=True, slots=True)
class Prevented:
    """Why self-trade prevention expires an order: the prevented match, and the order on the other side."""
    match_id: int
    counter_order_id: int


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


class Order:
    """An order as the exchange keeps it; `locked` is what is still held in `lock_asset` for it."""

    __slots__ = ("order_id", "client_order_id", "account", "listing", "side", "order_type", "tif", "price", "qty",
                 "cum_qty", "cum_quote", "status", "created_ms", "updated_ms", "lock_asset", "locked", "stp",
                 "prevented", "stop_price", "trailing_delta", "order_list", "waiting")

    def __init__(self, order_id: int, client_order_id: str, account: Account, listing: Listing, side: Side,
                 order_type: OrderType, tif: TimeInForce, price: int, qty: int, lock_asset: str, locked: Decimal,
                 now_ms: int, stp: str, stop_price: int = 0, trailing_delta: int = 0,
                 order_list: OrderList | None = None):
        self.order_id, self.client_order_id, self.account, self.listing = order_id, client_order_id, account, listing
        self.side, self.order_type, self.tif, self.price, self.qty = side, order_type, tif, price, qty
        self.cum_qty, self.cum_quote, self.status = 0, _ZERO, "NEW"
        self.created_ms = self.updated_ms = now_ms
        self.lock_asset, self.locked = lock_asset, locked
        self.stp = stp                     # its self-trade prevention mode
        self.prevented: Prevented | None = None  # set when self-trade prevention is expiring it
        self.stop_price, self.trailing_delta = stop_price, trailing_delta   # a stop or take-profit's trigger
        self.order_list = order_list       # the OCO list it is a leg of
        self.waiting = False               # a stop or take-profit not triggered yet: off the book

    @property
    def list_id(self) -> int:
        """Binance's `orderListId`: -1 for an order of its own."""
        return self.order_list.list_id if self.order_list is not None else -1

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


class OrderList:
    """An OCO list: its legs (the below one first, as Binance lists them) and whether it still executes.

    The list holds its funds once for both legs (one of them, whichever is open, carries the lock)."""

    __slots__ = ("list_id", "list_client_order_id", "legs", "created_ms", "done")

    def __init__(self, list_id: int, list_client_order_id: str, created_ms: int):
        self.list_id, self.list_client_order_id, self.created_ms = list_id, list_client_order_id, created_ms
        self.legs: list[Order] = []
        self.done = False

    def others(self, order: Order) -> list[Order]:
        return [leg for leg in self.legs if leg is not order]


@dataclass(frozen=True, slots=True)
class Trade:
    """One fill of one of an account's orders, as the venue keeps it for `myTrades`.

    `trade_id` is the symbol's public trade id, the one the fill printed under: the same as the order's FULL
    `fills[].tradeId` and its `executionReport` `t`, so that a client can match the three.
    """
    trade_id: int
    order: Order
    price: int
    qty: int
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool
