"""The matching engine of one simulated venue, driven by the replayed book.

The simulated venue is a real counterparty: it validates orders the way Binance does, lets aggressive orders
take the liquidity the current book view shows, rests the rest, and fills resting orders as the market
reaches them. It is pure (no trio, no clock): the caller passes each book view and the time of each request,
and gets back the execution reports the venue would send, in Binance's order (NEW, TRADE..., then EXPIRED for
an IOC/FOK/MARKET remainder).

Rules that keep a replay honest:
- an aggressive order walks the view's levels best first and fills at each level's price, as taker, so it never
  fills at a better price than the book offered;
- a resting order joins the queue at its price behind everything the view displays there, and fills at its
  own limit price, as maker, in two ways: a public trade through its price fills it up to the trade's size,
  and a trade at its price fills what is left of the trade once the queue ahead of it is gone (the queue
  model, `adapters.simulated.queue`, says how cancellations move it forward); and opposite liquidity in a
  later view that crosses its price fills it at once;
- a trade's size is shared out once among our orders, best priced and oldest first, and liquidity our orders
  took from a view is not offered again to our later orders until the book shows a new update id, since the
  recording knows nothing of us;
- our resting orders are not part of the book the recording shows, so they never match each other.
Stop and take-profit orders (Binance's STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT, a trailing
stop as STOP_LOSS with a trailing distance) wait off the book until a view reaches their trigger, by the same
rule the engine's emulated legs use (`engine.model.protection.touched`: the touch we would exit at, at or
through the level); then the market forms take what the view offers and expire the rest, the limit forms work as a
good-till-cancelled limit. One that would trigger at once is refused, as Binance does. The legs of an OCO order
list (`list_id`) end together: once one triggers or trades, the others expire.
Fees are the maker or taker rate times the exact notional, in the quote asset. Every fill gets the venue's trade
id, counted up from 1 across the venue as a decimal string (Binance `t`), so that a fill reported twice (a
duplicated report, a reconciliation restating it) is recognisably the same fill.
"""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, localcontext

from adapters.simulated.queue import ConservativeQueue, QueueModel
from engine.messages import (
    BookView,
    CancelRequest,
    ExecType,
    ExecutionReport,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from engine.model.numbers import EXACT, Instrument
from engine.model.orders import CLIENT_ORDER_ID
from engine.model.protection import LegKind, follow, touched, trailing_level


# Binance's wording for the same refusals (venues.md §1.5).
ILLEGAL_CLIENT_ORDER_ID = ("Illegal characters found in parameter 'newClientOrderId'; "
                           "legal range is '^[a-zA-Z0-9-_]{1,36}$'.")
INVALID_SYMBOL = "Invalid symbol."
DUPLICATE_ORDER = "Duplicate order sent."
LOT_SIZE = "Filter failure: LOT_SIZE"
PRICE_FILTER = "Filter failure: PRICE_FILTER"
WOULD_TAKE = "Order would immediately match and take."
UNKNOWN_ORDER = "Unknown order sent."
WOULD_TRIGGER = "Order would trigger immediately."
NO_STOP_PRICE = "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed."
STOP_TYPES = {OrderType.STOP_LOSS: LegKind.STOP_MARKET, OrderType.STOP_LOSS_LIMIT: LegKind.STOP_LIMIT,
              OrderType.TAKE_PROFIT: LegKind.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT: LegKind.TAKE_PROFIT}
"""The order types that wait for a trigger, and the rule each triggers by."""
NATIVE_TYPES = frozenset({OrderType.LIMIT_MAKER, *STOP_TYPES})
"""The order types beyond LIMIT and MARKET the simulated venue carries out itself (and OCO lists of them)."""
_PRICED = (OrderType.LIMIT, OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
OUTSIDE_RECV_WINDOW = "Timestamp for this request is outside of the recvWindow."


class CancelRejected(Exception):
    """The venue refused a cancel (Binance -2011): the order is not open here."""

    def __init__(self, client_order_id: str, reason: str):
        super().__init__(f"cancel of {client_order_id} rejected: {reason}")
        self.client_order_id = client_order_id
        self.reason = reason


class _SimOrder:
    """One of our orders, as the venue holds it while it is working."""

    __slots__ = ("client_order_id", "venue_order_id", "seq", "instrument", "side", "qty", "price", "cum_qty",
                 "ahead", "order_type", "stop_price", "trailing_bps", "list_id", "best")

    def __init__(self, req: NewOrderRequest, seq: int):
        self.client_order_id = req.client_order_id
        self.venue_order_id = str(seq)
        self.seq = seq
        self.instrument = req.instrument
        self.side = req.side
        self.qty = req.qty
        self.price = req.price
        self.cum_qty = 0
        self.ahead: int | None = None  # resting: the quantity in front of it at its price (None: not seen yet)
        self.order_type = req.order_type
        self.stop_price = req.stop_price
        self.trailing_bps = req.trailing_bps
        self.list_id = req.list_id
        self.best: int | None = None   # a trailing stop: the best exit price since it was placed

    @property
    def remaining(self) -> int:
        return self.qty - self.cum_qty

    def priority(self) -> tuple[int, int]:
        """Price then time: the best-priced, oldest order fills first."""
        return (-self.price if self.side is Side.BUY else self.price), self.seq

    def beats(self, price: int) -> bool:
        """Whether this order's limit is strictly better than `price` (higher for a buy, lower for a sell)."""
        return self.price > price if self.side is Side.BUY else self.price < price


class _Market:
    """The venue's picture of one instrument: the latest view, what we took from it, our resting orders."""

    __slots__ = ("view", "consumed", "traded", "resting", "waiting")

    def __init__(self) -> None:
        self.view: BookView | None = None
        self.consumed: dict[tuple[Side, int], int] = {}  # (book side, price) → qty our orders took from `view`
        self.traded: dict[tuple[Side, int], int] = {}    # (book side, price) → public trades since the last depth
        self.resting: dict[str, _SimOrder] = {}          # client order id → order
        self.waiting: dict[str, _SimOrder] = {}          # stops not yet triggered, by client order id

    def liquidity(self, taker: Side, limit: int | None) -> Iterator[tuple[int, int]]:
        """(price, available qty) of the levels a `taker` may hit, best first, up to `limit` (None: no limit)."""
        if self.view is None:
            return
        book_side = taker.opposite
        levels = self.view.asks if taker is Side.BUY else self.view.bids
        for price, qty in levels:
            if limit is not None and (price > limit if taker is Side.BUY else price < limit):
                return
            available = qty - self.consumed.get((book_side, price), 0)
            if available > 0:
                yield price, available

    def take(self, taker: Side, price: int, qty: int) -> None:
        key = (taker.opposite, price)
        self.consumed[key] = self.consumed.get(key, 0) + qty

    def displayed(self, side: Side, price: int) -> int | None:
        """What the view shows resting on `side` at `price`, less what our orders took from it; None if the
        price lies beyond the levels the view shows (a view is the top of a book, not all of it)."""
        if self.view is None:
            return None
        levels = self.view.bids if side is Side.BUY else self.view.asks
        if not _visible(levels, side, price):
            return None
        for level_price, qty in levels:
            if level_price == price:
                return max(qty - self.consumed.get((side, price), 0), 0)
        return 0


def _visible(levels: tuple[tuple[int, int], ...], side: Side, price: int) -> bool:
    """Whether a view's levels of `side` (best first) show what rests at `price`: it is no deeper than the
    deepest level shown, or the side shows nothing at all."""
    if not levels:
        return True
    deepest = levels[-1][0]
    return price >= deepest if side is Side.BUY else price <= deepest


class MatchingEngine:
    """Orders in, execution reports out, for one simulated venue."""

    __slots__ = ("instruments", "maker_fee", "taker_fee", "venue", "queue", "_markets", "_open", "_last_seq",
                 "_last_trade_id", "_listed")

    def __init__(self, instruments: dict[str, Instrument], maker_fee: Decimal, taker_fee: Decimal, venue: str,
                 queue: QueueModel | None = None):
        self.instruments = instruments  # by canonical symbol, as in `BookView.instrument`
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.venue = venue
        self.queue = queue if queue is not None else ConservativeQueue()
        self._markets: dict[str, _Market] = {}
        self._open: dict[str, _SimOrder] = {}  # every resting order by client order id
        self._last_seq = 0
        self._last_trade_id = 0
        self._listed: dict[str, _SimOrder] = {}  # legs of OCO lists, by client order id

    def is_open(self, client_order_id: str) -> bool:
        return client_order_id in self._open

    @property
    def has_resting_orders(self) -> bool:
        """True while any of our orders rests on the book (and so must see every new view)."""
        return bool(self._open)

    def offered(self, instrument: str) -> BookView | None:
        """The latest view of `instrument` less the liquidity our orders took from it (None before any view).

        It is what the next aggressive order can take, level by level; our resting orders are not in it,
        since they never match each other. A simulated exchange prices a market buy and serves its depth
        from it.
        """
        market = self._markets.get(instrument)
        if market is None or market.view is None:
            return None
        view = market.view
        return BookView(view.instrument, view.ts_ns, view.update_id, bids=tuple(market.liquidity(Side.SELL, None)),
                        asks=tuple(market.liquidity(Side.BUY, None)), trades=view.trades)

    def on_book(self, view: BookView) -> list[ExecutionReport]:
        """Take a new view of a book and fill the resting orders it reaches, at their limit price, as maker.

        In order: the view's public trades (through or at a resting order's price), then the queue moves with
        the depth at each resting order's price, then opposite liquidity that crosses a resting order.
        """
        market = self._market(view.instrument)
        previous = market.view
        if previous is not None:
            if view.update_id < previous.update_id:
                return []  # older than what we already matched against
            if view.update_id > previous.update_id:
                market.consumed.clear()
        market.view = view
        reports: list[ExecutionReport] = []
        if market.waiting:
            self._triggers(market, view, reports)
        if not market.resting:
            market.traded.clear()
            return self._end_lists(reports, view.ts_ns)
        for trade in view.trades:
            self._trade_reaches(market, trade, reports)
        if previous is not None and view.update_id > previous.update_id:
            self._queues_move(market, previous, view)
        for order in sorted(market.resting.values(), key=_SimOrder.priority):
            for price, available in market.liquidity(order.side, order.price):
                qty = min(available, order.remaining)
                market.take(order.side, price, qty)
                reports.append(self._trade(order, order.price, qty, Liquidity.MAKER, view.ts_ns))
                if order.remaining == 0:
                    self._unrest(market, order)
                    break
        return self._end_lists(reports, view.ts_ns)

    def is_waiting(self, client_order_id: str) -> bool:
        """Whether the order is a stop or take-profit still waiting off the book for its trigger."""
        order = self._open.get(client_order_id)
        return order is not None and client_order_id in self._markets[order.instrument].waiting

    def check(self, req: NewOrderRequest) -> str:
        """Why the venue would refuse `req` now ("" if it would take it), without placing it: so that the legs of an
        order list are placed both or neither."""
        reason = self._refusal(req)
        if reason:
            return reason
        market = self._market(req.instrument)
        if req.order_type is OrderType.LIMIT_MAKER and next(market.liquidity(req.side, req.price), None):
            return WOULD_TAKE
        if req.order_type in STOP_TYPES and self._would_trigger(market, req):
            return WOULD_TRIGGER
        return ""

    def submit(self, req: NewOrderRequest, now_ns: int) -> list[ExecutionReport]:
        """Place an order: REJECTED, or NEW followed by its immediate TRADEs and an EXPIRED remainder if any."""
        reason = self.check(req)
        if reason:
            return [self.rejection(req, reason, now_ns)]
        market = self._market(req.instrument)
        self._last_seq += 1
        order = _SimOrder(req, self._last_seq)
        if order.list_id:
            self._listed[order.client_order_id] = order
        if req.order_type in STOP_TYPES:
            return self._wait(market, order, now_ns)
        reports = [self._report(order, ExecType.NEW, now_ns)]
        return self._work(market, order, req.order_type, req.tif, now_ns, reports)

    def _work(self, market: _Market, order: _SimOrder, order_type: OrderType, tif: TimeInForce, now_ns: int,
              reports: list[ExecutionReport]) -> list[ExecutionReport]:
        """Take what the view offers up to the order's limit (none for a market order), then rest what is left
        (post-only, and a good-till-cancelled limit) or expire it."""
        req = order
        limit = None if order_type is OrderType.MARKET else order.price
        takes_now = order_type is not OrderType.LIMIT_MAKER
        if takes_now and tif is TimeInForce.FOK and order_type is OrderType.LIMIT:
            takes_now = sum(qty for _, qty in market.liquidity(req.side, limit)) >= req.qty
        if takes_now:
            for price, available in market.liquidity(req.side, limit):
                qty = min(available, order.remaining)
                market.take(req.side, price, qty)
                reports.append(self._trade(order, price, qty, Liquidity.TAKER, now_ns))
                if order.remaining == 0:
                    return reports
        rests = order_type is OrderType.LIMIT_MAKER or (order_type is OrderType.LIMIT and tif is TimeInForce.GTC)
        if rests:
            order.ahead = market.displayed(req.side, req.price)
            market.resting[order.client_order_id] = order
            self._open[order.client_order_id] = order
        else:
            reports.append(self._report(order, ExecType.EXPIRED, now_ns))
        return reports

    def cancel(self, req: CancelRequest, now_ns: int) -> list[ExecutionReport]:
        """Cancel a resting order: one CANCELED report. Raises `CancelRejected` if it is not open here."""
        order = self._open.get(req.client_order_id)
        if order is None:
            raise CancelRejected(req.client_order_id, UNKNOWN_ORDER)
        self._unrest(self._markets[order.instrument], order)
        return [self._report(order, ExecType.CANCELED, now_ns)]

    # ------------------------------------------------------------ stops

    @staticmethod
    def _would_trigger(market: _Market, req: NewOrderRequest) -> bool:
        """Whether a stop at a fixed price would trigger on the book as it is (a trailing one trails behind it)."""
        view = market.view
        if req.trailing_bps or view is None:
            return False
        return touched(STOP_TYPES[req.order_type], req.side, req.stop_price, view.best_bid, view.best_ask)

    def _wait(self, market: _Market, order: _SimOrder, now_ns: int) -> list[ExecutionReport]:
        """A stop or take-profit: NEW, then off the book until its trigger (a trailing one from the touch now)."""
        view = market.view
        if order.trailing_bps and view is not None:
            order.best = view.best_bid if order.side is Side.SELL else view.best_ask
        market.waiting[order.client_order_id] = order
        self._open[order.client_order_id] = order
        return [self._report(order, ExecType.NEW, now_ns)]

    def _level(self, order: _SimOrder) -> int:
        """Where a waiting order triggers: its stop price, or its trailing level (0 before it has seen a touch)."""
        if not order.trailing_bps:
            return order.stop_price
        if order.best is None:
            return 0
        return trailing_level(order.side, order.best, order.trailing_bps, self.instruments[order.instrument].tick_size)

    def _triggers(self, market: _Market, view: BookView, reports: list[ExecutionReport]) -> None:
        """Trigger the waiting orders this view reaches (oldest first): a market form takes and expires the rest,
        a limit form works as a good-till-cancelled limit."""
        bid, ask = view.best_bid, view.best_ask
        for order in sorted(market.waiting.values(), key=lambda o: o.seq):
            if order.client_order_id not in market.waiting:
                continue   # its list ended it earlier in this view
            if order.trailing_bps:
                touch = bid if order.side is Side.SELL else ask
                order.best = touch if order.best is None else follow(order.side, order.best, bid, ask)
            level = self._level(order)
            if not level or not touched(STOP_TYPES[order.order_type], order.side, level, bid, ask):
                continue
            del market.waiting[order.client_order_id]
            del self._open[order.client_order_id]
            self._expire_list(order, view.ts_ns, reports)
            limit_form = order.order_type in _PRICED
            self._work(market, order, OrderType.LIMIT if limit_form else OrderType.MARKET,
                       TimeInForce.GTC if limit_form else TimeInForce.IOC, view.ts_ns, reports)

    def _expire_list(self, order: _SimOrder, ts_ns: int, reports: list[ExecutionReport]) -> None:
        """The other legs of `order`'s OCO list, still open, expire."""
        if not order.list_id:
            return
        market = self._markets[order.instrument]
        for other in [o for o in (*market.waiting.values(), *market.resting.values())
                      if o.list_id == order.list_id and o is not order]:
            self._unrest(market, other)
            reports.append(self._report(other, ExecType.EXPIRED, ts_ns))

    def _end_lists(self, reports: list[ExecutionReport], ts_ns: int) -> list[ExecutionReport]:
        """A listed order that traded ends its list."""
        for report in list(reports):
            if report.exec_type is ExecType.TRADE:
                order = self._by_id(report.client_order_id)
                if order is not None and order.list_id:
                    self._expire_list(order, ts_ns, reports)
        return reports

    def _by_id(self, client_order_id: str) -> _SimOrder | None:
        return self._listed.get(client_order_id)

    # ------------------------------------------------------------ internals

    def _trade_reaches(self, market: _Market, trade: Trade, reports: list[ExecutionReport]) -> None:
        """Share one public trade out among our resting orders on the side it hit, best priority first."""
        side = trade.aggressor.opposite
        left = trade.qty
        lot = self.instruments[trade.instrument].lot_size
        for order in sorted((o for o in market.resting.values() if o.side is side), key=_SimOrder.priority):
            if left == 0:
                break
            if order.price == trade.price:
                if order.ahead is None:  # first seen now: behind everything the level shows
                    order.ahead = market.displayed(side, order.price) or 0
                order.ahead, reached = self.queue.on_trade(order.ahead, left)
            elif order.beats(trade.price):
                reached = left  # the trade went through its price: it would have met this order first
            else:
                break
            qty = min(reached, order.remaining)
            qty -= qty % lot
            if qty:
                left -= qty
                reports.append(self._trade(order, order.price, qty, Liquidity.MAKER, trade.ts_ns))
                if order.remaining == 0:
                    self._unrest(market, order)
        market.traded[(side, trade.price)] = market.traded.get((side, trade.price), 0) + trade.qty

    def _queues_move(self, market: _Market, previous: BookView, view: BookView) -> None:
        """The depth changed: each resting order's queue moves as the model says with the level at its price.

        A price beyond the levels a view shows is unknown, not empty: an order there keeps its place until
        its level comes into view, and joins behind all of it the first time it does.
        """
        sides = {Side.BUY: (previous.bids, view.bids), Side.SELL: (previous.asks, view.asks)}
        sizes = {side: (dict(before), dict(after)) for side, (before, after) in sides.items()}
        for order in market.resting.values():
            before, after = sides[order.side]
            if not _visible(after, order.side, order.price):
                continue
            new_qty = sizes[order.side][1].get(order.price, 0)
            if order.ahead is None:
                order.ahead = new_qty
            elif not _visible(before, order.side, order.price):
                order.ahead = min(order.ahead, new_qty)
            else:
                order.ahead = self.queue.on_depth(order.ahead, sizes[order.side][0].get(order.price, 0), new_qty,
                                                  market.traded.get((order.side, order.price), 0))
        market.traded.clear()

    def _refusal(self, req: NewOrderRequest) -> str:
        """Binance's reason for refusing `req` outright, or "" if it passes validation."""
        if not CLIENT_ORDER_ID.fullmatch(req.client_order_id):
            return ILLEGAL_CLIENT_ORDER_ID
        instrument = self.instruments.get(req.instrument)
        if instrument is None:
            return INVALID_SYMBOL
        if req.client_order_id in self._open:
            return DUPLICATE_ORDER
        if req.qty <= 0 or req.qty % instrument.lot_size:
            return LOT_SIZE
        if req.order_type in _PRICED and (req.price <= 0 or req.price % instrument.tick_size):
            return PRICE_FILTER
        if req.order_type in STOP_TYPES and not req.trailing_bps and (
                req.stop_price <= 0 or req.stop_price % instrument.tick_size):
            return NO_STOP_PRICE
        return ""

    def _market(self, instrument: str) -> _Market:
        market = self._markets.get(instrument)
        if market is None:
            market = self._markets[instrument] = _Market()
        return market

    def _unrest(self, market: _Market, order: _SimOrder) -> None:
        market.resting.pop(order.client_order_id, None)
        market.waiting.pop(order.client_order_id, None)
        del self._open[order.client_order_id]

    def _trade(self, order: _SimOrder, price: int, qty: int, liquidity: Liquidity, ts_ns: int) -> ExecutionReport:
        instrument = self.instruments[order.instrument]
        rate = self.maker_fee if liquidity is Liquidity.MAKER else self.taker_fee
        with localcontext(EXACT):
            fee = rate * instrument.notional(price, qty)
        order.cum_qty += qty
        self._last_trade_id += 1
        return self._report(order, ExecType.TRADE, ts_ns, last_qty=qty, last_price=price, fee=fee,
                            fee_asset=instrument.quote, liquidity=liquidity, trade_id=str(self._last_trade_id))

    def _report(self, order: _SimOrder, exec_type: ExecType, ts_ns: int, **trade) -> ExecutionReport:
        return ExecutionReport(venue=self.venue, client_order_id=order.client_order_id,
                               venue_order_id=order.venue_order_id, exec_type=exec_type, ts_ns=ts_ns,
                               cum_qty=order.cum_qty, **trade)

    def rejection(self, req: NewOrderRequest, reason: str, ts_ns: int) -> ExecutionReport:
        """The REJECTED report of `req`, refused for `reason`; also what a venue's door answers (-1021) for a
        request it refuses before the matching engine sees it."""
        return ExecutionReport(venue=self.venue, client_order_id=req.client_order_id, venue_order_id="",
                               exec_type=ExecType.REJECTED, ts_ns=ts_ns, cum_qty=0, reason=reason)
