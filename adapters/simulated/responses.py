"""Binance's JSON shapes of what the simulated exchange holds: orders, symbols, accounts and stream events.

Kept apart from `adapters.simulated.exchange` so that the exchange reads as what it does (checks, matching,
balances) and this module as what Binance shows of it, field by field and in Binance's field order (the
official docs' examples; clients that read by position, and the tests, rely on it). Money is written with
exactly `ASSET_PRECISION` decimals, prices and quantities with their instrument's decimals.
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal

from adapters.simulated.contingent import TRAILING_DELTA_RANGE
from adapters.simulated.exchange_records import Account, Listing, Order, OrderList, Trade
from engine.messages import ExecType, ExecutionReport, Liquidity, OrderType, Side, TimeInForce
from engine.model.numbers import format_fixed

ASSET_PRECISION = 8
"""Decimals of balances, commissions and quote amounts on the wire, as on Binance spot."""
SUPPORTED_ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                         "TAKE_PROFIT_LIMIT")
STP_MODES = ("EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
"""Self-trade prevention modes the venue allows; NONE is not among them, as on Binance spot's main symbols,
since our orders never trade with each other here (they are not in the book the market shows)."""
DEFAULT_STP_MODE = "EXPIRE_MAKER"

_QUANTUM = Decimal(1).scaleb(-ASSET_PRECISION)
_ZERO = Decimal(0)
SIDE_NAMES = {Side.BUY: "BUY", Side.SELL: "SELL"}
_RESTING = (OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
"""The types that rest on the book (a stop's limit form once triggered): `w` of the user stream."""


# ---------------------------------------------------------------- orders

def order_fields(order: Order) -> dict:
    """The fields every order response shares, from `price` to `side`."""
    instrument = order.listing.instrument
    return {"price": format_fixed(order.price, instrument.price_decimals),
            "origQty": format_fixed(order.qty, instrument.qty_decimals),
            "executedQty": format_fixed(order.cum_qty, instrument.qty_decimals),
            "origQuoteOrderQty": money(_ZERO), "cummulativeQuoteQty": money(order.cum_quote),
            "status": order.status, "timeInForce": order.tif.value, "type": order.order_type.value,
            "side": SIDE_NAMES[order.side]}


def _trailing(order: Order) -> dict:
    """The fields a trailing stop adds (rest-api.md, "Conditional fields in Order Responses")."""
    return {"trailingDelta": order.trailing_delta, "trailingTime": -1} if order.trailing_delta else {}


def order_status(order: Order) -> dict:
    """`GET /api/v3/order`'s shape (also each item of openOrders and allOrders)."""
    instrument = order.listing.instrument
    fields = order_fields(order)
    quote_order_qty = fields.pop("origQuoteOrderQty")
    return {"symbol": instrument.venue_symbol, "orderId": order.order_id, "orderListId": order.list_id,
            "clientOrderId": order.client_order_id, **fields,
            "stopPrice": format_fixed(order.stop_price, instrument.price_decimals), **_trailing(order),
            "icebergQty": format_fixed(0, instrument.qty_decimals), "time": order.created_ms,
            "updateTime": order.updated_ms, "isWorking": not order.waiting,
            "workingTime": -1 if order.waiting else order.created_ms,
            "origQuoteOrderQty": quote_order_qty, "selfTradePreventionMode": order.stp,
            **({"preventedMatchId": order.prevented.match_id,
                "preventedQuantity": format_fixed(order.qty - order.cum_qty, instrument.qty_decimals)}
               if order.prevented else {})}


def cancel_response(order: Order, cancel_id: str, now_ms: int) -> dict:
    """`DELETE /api/v3/order`'s shape; `cancel_id` is the cancel's own client id."""
    return {"symbol": order.listing.instrument.venue_symbol, "origClientOrderId": order.client_order_id,
            "orderId": order.order_id, "orderListId": order.list_id, "clientOrderId": cancel_id,
            "transactTime": now_ms, **order_fields(order), **_stop(order), "selfTradePreventionMode": order.stp}


def placed_order(order: Order, now_ms: int) -> dict:
    """A new order's RESULT shape (an order list's `orderReports` item)."""
    return {"symbol": order.listing.instrument.venue_symbol, "orderId": order.order_id, "orderListId": order.list_id,
            "clientOrderId": order.client_order_id, "transactTime": now_ms, **order_fields(order), **_stop(order),
            "workingTime": -1 if order.waiting else order.created_ms, "selfTradePreventionMode": order.stp}


def _stop(order: Order) -> dict:
    """`stopPrice` (and the trailing fields) of a stop or take-profit; nothing for other types."""
    if not (order.stop_price or order.trailing_delta):
        return {}
    return {"stopPrice": format_fixed(order.stop_price, order.listing.instrument.price_decimals), **_trailing(order)}


def order_list_response(order_list: OrderList, now_ms: int, reports: list[dict] | None) -> dict:
    """An order list's shape (placed, or cancelled): its status and orders, and each order's report unless ACK."""
    symbol = order_list.legs[0].listing.instrument.venue_symbol
    status = "ALL_DONE" if order_list.done else "EXEC_STARTED"
    answer = {"orderListId": order_list.list_id, "contingencyType": "OCO", "listStatusType": status,
              "listOrderStatus": "ALL_DONE" if order_list.done else "EXECUTING",
              "listClientOrderId": order_list.list_client_order_id, "transactionTime": now_ms, "symbol": symbol,
              "orders": [{"symbol": symbol, "orderId": leg.order_id, "clientOrderId": leg.client_order_id}
                         for leg in order_list.legs]}
    if reports is not None:
        answer["orderReports"] = reports
    return answer


def list_status(order_list: OrderList, now_ms: int) -> dict:
    """The user data stream's `listStatus` event: the list placed (EXEC_STARTED, EXECUTING) or ended (ALL_DONE)."""
    symbol = order_list.legs[0].listing.instrument.venue_symbol
    done = order_list.done
    return {"e": "listStatus", "E": now_ms, "s": symbol, "g": order_list.list_id, "c": "OCO",
            "l": "ALL_DONE" if done else "EXEC_STARTED", "L": "ALL_DONE" if done else "EXECUTING", "r": "NONE",
            "C": order_list.list_client_order_id, "T": now_ms,
            "O": [{"s": symbol, "i": leg.order_id, "c": leg.client_order_id} for leg in order_list.legs]}


def full_fill(trade: Trade) -> dict:
    """One item of a FULL new-order response's `fills`."""
    instrument = trade.order.listing.instrument
    return {"price": format_fixed(trade.price, instrument.price_decimals),
            "qty": format_fixed(trade.qty, instrument.qty_decimals),
            "commission": money(trade.commission), "commissionAsset": trade.commission_asset,
            "tradeId": trade.trade_id}


def account_trade(trade: Trade) -> dict:
    """One item of `GET /api/v3/myTrades`. Our orders never trade with each other, so each fill is the best
    match of its trade and has one side."""
    order = trade.order
    instrument = order.listing.instrument
    return {"symbol": instrument.venue_symbol, "id": trade.trade_id, "orderId": order.order_id,
            "orderListId": order.list_id,
            "price": format_fixed(trade.price, instrument.price_decimals),
            "qty": format_fixed(trade.qty, instrument.qty_decimals), "quoteQty": money(trade.quote_qty),
            "commission": money(trade.commission), "commissionAsset": trade.commission_asset, "time": trade.time_ms,
            "isBuyer": order.side is Side.BUY, "isMaker": trade.is_maker, "isBestMatch": True}


# ---------------------------------------------------------------- symbols and accounts

def symbol_info(listing: Listing) -> dict:
    """One entry of exchangeInfo's `symbols`."""
    instrument = listing.instrument
    price, qty = instrument.price_decimals, instrument.qty_decimals
    return {
        "symbol": instrument.venue_symbol, "status": "TRADING",
        "baseAsset": instrument.base, "baseAssetPrecision": ASSET_PRECISION,
        "quoteAsset": instrument.quote, "quotePrecision": ASSET_PRECISION, "quoteAssetPrecision": ASSET_PRECISION,
        "baseCommissionPrecision": ASSET_PRECISION, "quoteCommissionPrecision": ASSET_PRECISION,
        "orderTypes": list(SUPPORTED_ORDER_TYPES),
        "icebergAllowed": False, "ocoAllowed": True, "otoAllowed": False, "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": True, "cancelReplaceAllowed": False, "amendAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": format_fixed(instrument.tick_size, price),
             "maxPrice": _fixed_text(listing.max_price, price), "tickSize": format_fixed(instrument.tick_size, price)},
            {"filterType": "LOT_SIZE", "minQty": format_fixed(instrument.lot_size, qty),
             "maxQty": _fixed_text(listing.max_qty, qty), "stepSize": format_fixed(instrument.lot_size, qty)},
            {"filterType": "NOTIONAL", "minNotional": money(listing.min_notional), "applyMinToMarket": False,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": TRAILING_DELTA_RANGE[0],
             "maxTrailingAboveDelta": TRAILING_DELTA_RANGE[1], "minTrailingBelowDelta": TRAILING_DELTA_RANGE[0],
             "maxTrailingBelowDelta": TRAILING_DELTA_RANGE[1]},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": DEFAULT_STP_MODE, "allowedSelfTradePreventionModes": list(STP_MODES),
    }


def account_info(account: Account, maker_fee: Decimal, taker_fee: Decimal, omit_zero: bool) -> dict:
    """`GET /api/v3/account`'s shape."""
    return {
        "makerCommission": int(maker_fee * 10_000), "takerCommission": int(taker_fee * 10_000),
        "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": money(maker_fee), "taker": money(taker_fee),
                            "buyer": money(_ZERO), "seller": money(_ZERO)},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": account.updated_ms,
        "accountType": "SPOT",
        "balances": [{"asset": asset, "free": money(b.free), "locked": money(b.locked)}
                     for asset, b in sorted(account.balances.items())
                     if not (omit_zero and b.free == 0 and b.locked == 0)],
        "permissions": ["SPOT"], "uid": account.uid,
    }


# ---------------------------------------------------------------- the user data stream

def execution_report(order: Order, report: ExecutionReport, trade: Trade | None, execution_id: int, now_ms: int,
                     cancel_id: str) -> dict:
    """The user data stream's `executionReport` for one change of `order` (venues.md §1.6); `trade` is the fill
    a TRADE report is about."""
    instrument = order.listing.instrument
    price, qty = instrument.price_decimals, instrument.qty_decimals
    exec_type = report.exec_type.value
    cancelled = report.exec_type is ExecType.CANCELED and order.prevented is None
    return {
        "e": "executionReport", "E": now_ms, "s": instrument.venue_symbol,
        "c": cancel_id if cancelled else order.client_order_id, "S": SIDE_NAMES[order.side],
        "o": order.order_type.value, "f": order.tif.value, "q": format_fixed(order.qty, qty),
        "p": format_fixed(order.price, price), "P": format_fixed(order.stop_price, price), "F": format_fixed(0, qty),
        "g": order.list_id,
        "C": order.client_order_id if cancelled else "", "x": exec_type, "X": order.status, "r": "NONE",
        "i": order.order_id, "l": format_fixed(report.last_qty, qty), "z": format_fixed(order.cum_qty, qty),
        "L": format_fixed(report.last_price, price),
        "n": money(trade.commission) if trade else "0", "N": trade.commission_asset if trade else None,
        "T": now_ms, "t": trade.trade_id if trade else -1, "I": execution_id,
        "w": order.is_open and not order.waiting and order.tif is TimeInForce.GTC and order.order_type in _RESTING,
        "m": report.liquidity is Liquidity.MAKER,
        "M": False, "O": order.created_ms, "Z": money(order.cum_quote),
        "Y": money(instrument.notional(report.last_price, report.last_qty)), "Q": money(_ZERO),
        "W": order.created_ms, "V": "NONE", **({"d": order.trailing_delta} if order.trailing_delta else {}),
    }


def account_position(account: Account, assets: Iterable[str], now_ms: int) -> dict:
    """The user data stream's `outboundAccountPosition`: the balances of the assets an operation moved."""
    return {"e": "outboundAccountPosition", "E": now_ms, "u": account.updated_ms,
            "B": [{"a": asset, "f": money(account.balance(asset).free), "l": money(account.balance(asset).locked)}
                  for asset in sorted(assets)]}


# ---------------------------------------------------------------- numbers

def wire_levels(levels: Iterable[tuple[int, int]], price_decimals: int, qty_decimals: int) -> list[list[str]]:
    return [[format_fixed(p, price_decimals), format_fixed(q, qty_decimals)] for p, q in levels]


def asset_amount(amount: Decimal) -> Decimal:
    """An amount rounded half-even to the asset's `ASSET_PRECISION` decimals, as balances and commissions are."""
    return amount.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=Context(prec=100))


def money(amount: Decimal) -> str:
    """An asset amount on the wire: exactly `ASSET_PRECISION` decimals."""
    return format(asset_amount(amount), "f")


def _fixed_text(amount: Decimal, decimals: int) -> str:
    return format(amount.quantize(Decimal(1).scaleb(-decimals), context=Context(prec=100)), "f")
