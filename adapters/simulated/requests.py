"""Reading and answering Binance REST requests, for the simulated exchange.

The HTTP request and response as the exchange sees them, the error Binance answers with, and the
parameters read exactly as Binance reads them: the form body's, then the query string's (which win);
numbers as plain decimals of at most 20 digits each side, quantities and prices refused when finer than
the asset allows (-1111), missing ones named (-1102), malformed ones named with the pattern they break.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar
from urllib.parse import parse_qsl

from engine.model.numbers import NumberFormatError, parse_fixed

NUMBER = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
HISTORY_LIMIT, HISTORY_MAX_LIMIT = 500, 1_000
"""Items a history endpoint (allOrders, myTrades) gives by default, and at most (`limit`)."""
MORE_THAN_24_HOURS = "More than 24 hours between startTime and endTime."

_DAY_MS = 86_400_000
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request as received: the raw query string (no `?`) and form body, header names lower case."""
    method: str
    path: str
    query: str = ""
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Refusal(Exception):
    """A Binance error: HTTP status, error code, message (and Retry-After for a 429)."""

    def __init__(self, status: int, code: int, msg: str, retry_after_s: int | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.retry_after_s = status, code, msg, retry_after_s


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What a history endpoint (allOrders, myTrades) was asked for: from which id, which times, how many.

    Times are milliseconds, exact (a microsecond parameter is a fraction of one).
    """
    from_id: int | None
    start_ms: Decimal | None
    end_ms: Decimal | None
    limit: int

    def select(self, items: Sequence[_T], id_of: Callable[[_T], int], time_of: Callable[[_T], int]) -> list[_T]:
        """The items asked for, oldest first, out of `items` held oldest first.

        Binance's rule for lists (rest-api.md, "General API Information"): from an id or a `startTime`, the
        oldest `limit` items from there (up to `endTime`, if sent); otherwise the most recent `limit` (up to
        `endTime`, if sent).
        """
        chosen = [item for item in items
                  if (self.from_id is None or id_of(item) >= self.from_id)
                  and (self.start_ms is None or time_of(item) >= self.start_ms)
                  and (self.end_ms is None or time_of(item) <= self.end_ms)]
        if self.from_id is not None or self.start_ms is not None:
            return chosen[:self.limit]
        return chosen[-self.limit:]


def parameters(request: HttpRequest) -> dict[str, str]:
    """A request's parameters: the form body's, then the query string's, which win (venues.md §1.2)."""
    params = dict(parse_qsl(request.body, keep_blank_values=True))
    params.update(parse_qsl(request.query, keep_blank_values=True))
    return params


def ws_text(value: object) -> str:
    """A WebSocket API parameter as it is signed: JSON booleans as true/false, numbers and strings as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fixed_weight(weight: int) -> Callable[[dict[str, str]], int]:
    return lambda parameters: weight


def depth_weight(params: dict[str, str]) -> int:
    """5, 25, 50 or 250 by the requested `limit` (venues.md §1.2)."""
    text = params.get("limit", "100")
    limit = int(text) if text.isdigit() else 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1_000 else 250


def mandatory(name: str) -> str:
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


def required(params: dict[str, str], name: str) -> str:
    text = params.get(name)
    if not text:
        raise Refusal(400, -1102, mandatory(name))
    return text


def integer_param(params: dict[str, str], name: str, default: int | None = None) -> int:
    if default is not None and not params.get(name):
        return default
    text = required(params, name)
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise Refusal(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(text)


def decimal_param(params: dict[str, str], name: str, default: Decimal) -> Decimal:
    text = params.get(name)
    if not text:
        return default
    if not NUMBER.fullmatch(text):
        raise Refusal(400, -1100, f"Illegal characters found in parameter '{name}'; "
                                  "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    return Decimal(text)


def amount_param(params: dict[str, str], name: str, decimals: int) -> int:
    """A price or quantity parameter as the instrument's exact integer."""
    text = required(params, name)
    if not NUMBER.fullmatch(text):
        raise Refusal(400, -1100, f"Illegal characters found in parameter '{name}'; "
                                  "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    try:
        return parse_fixed(text, decimals)
    except NumberFormatError:
        raise Refusal(400, -1111, "Precision is over the maximum defined for this asset.") from None


def time_param(params: dict[str, str], name: str) -> Decimal | None:
    """A time parameter in milliseconds, None if not sent; Binance takes milliseconds or microseconds (a value
    of 16 digits or more), so a microsecond value comes back as an exact fraction of a millisecond."""
    if not params.get(name):
        return None
    value = Decimal(integer_param(params, name))
    return value / 1000 if value >= 10 ** 15 else value


def history_query(params: dict[str, str], id_name: str) -> HistoryQuery:
    """A history request's `id_name` (allOrders' `orderId`, myTrades' `fromId`), times and `limit`.

    Refused as Binance refuses: a span of more than 24 hours between `startTime` and `endTime` (-1127), and a
    `limit` outside 1..1000 (-1100; that code for this case is from third-party material, unverified).
    """
    start_ms, end_ms = time_param(params, "startTime"), time_param(params, "endTime")
    if start_ms is not None and end_ms is not None and end_ms - start_ms > _DAY_MS:
        raise Refusal(400, -1127, MORE_THAN_24_HOURS)
    limit = integer_param(params, "limit", HISTORY_LIMIT)
    if not 1 <= limit <= HISTORY_MAX_LIMIT:
        raise Refusal(400, -1100, f"Illegal characters found in parameter 'limit'; legal range is "
                                  f"'1-{HISTORY_MAX_LIMIT}'.")
    from_id = integer_param(params, id_name) if params.get(id_name) else None
    return HistoryQuery(from_id, start_ms, end_ms, limit)
