"""Binance's stop, take-profit and OCO order-list parameters, read and checked as Binance reads them.

Kept apart from `adapters.simulated.exchange` (which places what these terms describe) because the same rules
read a plain order (`POST /api/v3/order`: `price`, `stopPrice`, `trailingDelta`, `timeInForce`) and each leg of an
OCO list (`POST /api/v3/orderList/oco`: the same names behind `above` or `below`), and because Binance's rules
are many and each has its own code (rest-api.md "New order", "New Order list - OCO"; errors.md):

- a limit form (LIMIT, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT) needs `timeInForce`, any other type refuses it (-1106);
- a priced type (the limit forms and LIMIT_MAKER) needs `price`, the market forms refuse it (-1106);
- a stop or take-profit needs `stopPrice` or `trailingDelta` (-1102), any other type refuses both (-1106);
- an OCO pairs one STOP_LOSS / STOP_LOSS_LIMIT leg with one LIMIT_MAKER / TAKE_PROFIT / TAKE_PROFIT_LIMIT leg; on a
  sell the stop is below and the other above, on a buy the other way round (-1158, -1165, -1166, -1196 .. -1199).

Not here: `stopPrice` together with `trailingDelta` (a trailing stop that starts trailing once a price is reached:
-1014 "Unsupported order combination."), iceberg quantities, strategy ids and pegged prices.
"""
from __future__ import annotations

from dataclasses import dataclass

from adapters.simulated.requests import Refusal, amount_param, integer_param, required
from engine.messages import OrderType, Side, TimeInForce
from engine.model.numbers import Instrument

CONTINGENT = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT,
                        OrderType.TAKE_PROFIT_LIMIT})
"""The types that wait off the book for their trigger."""
MARKET_FORMS = frozenset({OrderType.MARKET, OrderType.STOP_LOSS, OrderType.TAKE_PROFIT})
"""The types that trade at market (once triggered): no price of their own."""
PRICED = frozenset({OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_WITH_TIME_IN_FORCE = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_STOP_LOSSES = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT})
_OCO_ABOVE = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_OCO_BELOW = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
TRAILING_DELTA_RANGE = (1, 2_000)
"""The TRAILING_DELTA filter's bounds in bps, both directions (Binance's main symbols start at 10; 1 lets a quiet
simulated market trail)."""
BAD_OCO_PRICES = "The relationship of the prices for the orders is not correct."


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """How one order (or one leg of a list) trades: its type and time in force, its limit price (0: at market),
    where it triggers (`stop_price`, or `trailing_delta` bps behind the best price since it was placed)."""
    order_type: OrderType
    tif: TimeInForce
    price: int
    stop_price: int = 0
    trailing_delta: int = 0


def param_name(prefix: str, name: str) -> str:
    """A parameter's name for a leg: "price" → "abovePrice" (no prefix: the plain order's own name)."""
    return f"{prefix}{name[0].upper()}{name[1:]}" if prefix else name


def time_in_force(params: dict[str, str], order_type: OrderType, prefix: str = "") -> TimeInForce:
    name = param_name(prefix, "timeInForce")
    if order_type not in _WITH_TIME_IN_FORCE:
        if params.get(name):
            raise Refusal(400, -1106, f"Parameter '{name}' sent when not required.")
        return TimeInForce.GTC
    try:
        return TimeInForce(required(params, name))
    except ValueError:
        raise Refusal(400, -1115, "Invalid timeInForce.") from None


def order_terms(params: dict[str, str], order_type: OrderType, tif: TimeInForce, instrument: Instrument,
                prefix: str = "") -> OrderTerms:
    """The price and trigger of an order of `order_type`, read by Binance's rules for that type."""
    price_name, stop_name, trailing_name = (param_name(prefix, n) for n in ("price", "stopPrice", "trailingDelta"))
    if order_type in PRICED:
        price = amount_param(params, price_name, instrument.price_decimals)
    elif params.get(price_name):
        raise Refusal(400, -1106, f"Parameter '{price_name}' sent when not required.")
    else:
        price = 0
    if order_type not in CONTINGENT:
        for name in (stop_name, trailing_name):
            if params.get(name):
                raise Refusal(400, -1106, f"Parameter '{name}' sent when not required.")
        return OrderTerms(order_type, tif, price)
    stop = amount_param(params, stop_name, instrument.price_decimals) if params.get(stop_name) else 0
    trailing = integer_param(params, trailing_name) if params.get(trailing_name) else 0
    if not stop and not trailing:
        raise Refusal(400, -1102, f"Param '{stop_name}' or '{trailing_name}' must be sent, but both were empty/null!")
    if stop and trailing:
        raise Refusal(400, -1014, "Unsupported order combination.")
    low, high = TRAILING_DELTA_RANGE
    if trailing and not low <= trailing <= high:
        raise Refusal(400, -1013, "Filter failure: TRAILING_DELTA")
    return OrderTerms(order_type, tif, price, stop, trailing)


def oco_types(params: dict[str, str], side: Side) -> tuple[OrderType, OrderType]:
    """(above, below) types of an OCO list, paired and placed as Binance requires for `side`."""
    above_name, below_name = required(params, "aboveType"), required(params, "belowType")
    if above_name not in _OCO_ABOVE or below_name not in _OCO_BELOW:
        raise Refusal(400, -1158, "Order type not supported in OCO.")
    above, below = OrderType(above_name), OrderType(below_name)
    if side is Side.SELL:
        if above in _STOP_LOSSES:
            raise Refusal(400, -1197, "A stop loss order in a sell OCO must be below.")
        if below not in _STOP_LOSSES:
            raise Refusal(400, -1199, "A take profit order in a sell OCO must be above.")
    else:
        if below in _STOP_LOSSES:
            raise Refusal(400, -1196, "A stop loss order in a buy OCO must be above.")
        if above is OrderType.LIMIT_MAKER:
            raise Refusal(400, -1165, "A limit order in a buy OCO must be below.")
        if above not in _STOP_LOSSES:
            raise Refusal(400, -1198, "A take profit order in a buy OCO must be below.")
    return above, below


def oco_leg(params: dict[str, str], prefix: str, order_type: OrderType, instrument: Instrument) -> OrderTerms:
    """One leg of an OCO list (`prefix` "above" or "below")."""
    return order_terms(params, order_type, time_in_force(params, order_type, prefix), instrument, prefix)


def trigger_price(terms: OrderTerms) -> int:
    """Where a leg acts: its stop price, else its limit (0 for a trailing market form: it has no fixed level)."""
    return terms.stop_price or terms.price


def check_oco_prices(above: OrderTerms, below: OrderTerms) -> None:
    """The above leg acts above the below leg (where both have a fixed level), as Binance's price rule implies."""
    high, low = trigger_price(above), trigger_price(below)
    if high and low and high <= low:
        raise Refusal(400, -2010, BAD_OCO_PRICES)
