"""The simulated venue's matching engine: validation, taking, resting, maker fills and consumed liquidity."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.simulated.matching import (
    DUPLICATE_ORDER,
    ILLEGAL_CLIENT_ORDER_ID,
    INVALID_SYMBOL,
    LOT_SIZE,
    PRICE_FILTER,
    UNKNOWN_ORDER,
    WOULD_TAKE,
    CancelRejected,
    MatchingEngine,
)
from engine.messages import (
    BookView,
    CancelRequest,
    ChildOrder,
    ExecType,
    ExecutionReport,
    Liquidity,
    NewOrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from engine.model.numbers import Instrument
from engine.model.orders import Order, OrderState

BTC = Instrument("BTC/USDT", "sim", "BTCUSDT", "BTC", "USDT", price_decimals=2, qty_decimals=5)
LOTS = Instrument("ETH/USDT", "sim", "ETHUSDT", "ETH", "USDT", price_decimals=2, qty_decimals=4,
                  tick_size=5, lot_size=10)
MAKER, TAKER = Decimal("0.0001"), Decimal("0.001")
ASKS = ((6_000_100, 3_000), (6_000_200, 5_000), (6_000_500, 10_000))
BIDS = ((6_000_000, 4_000), (5_999_900, 6_000))


def engine() -> MatchingEngine:
    return MatchingEngine({"BTC/USDT": BTC, "ETH/USDT": LOTS}, maker_fee=MAKER, taker_fee=TAKER, venue="sim")


def view(update_id: int = 100, bids=BIDS, asks=ASKS, instrument: str = "BTC/USDT") -> BookView:
    return BookView(instrument=instrument, ts_ns=update_id * 1_000, update_id=update_id, bids=bids, asks=asks)


_ids = iter(range(1, 10**9))


def order(side: Side = Side.BUY, qty: int = 5_000, price: int = 0, order_type: OrderType = OrderType.MARKET,
          tif: TimeInForce = TimeInForce.GTC, client_order_id: str | None = None,
          instrument: str = "BTC/USDT") -> NewOrderRequest:
    return NewOrderRequest(client_order_id=client_order_id or f"t-{next(_ids)}", venue="sim", instrument=instrument,
                           side=side, qty=qty, price=price, order_type=order_type, tif=tif, ts_ns=0)


def limit(side: Side, qty: int, price: int, tif: TimeInForce = TimeInForce.GTC, **kw) -> NewOrderRequest:
    return order(side, qty, price, OrderType.LIMIT, tif, **kw)


def kinds(reports: list[ExecutionReport]) -> list[str]:
    return [r.exec_type.value for r in reports]


def trades(reports: list[ExecutionReport]) -> list[tuple[int, int]]:
    return [(r.last_price, r.last_qty) for r in reports if r.exec_type is ExecType.TRADE]


def taker_fee(price: int, qty: int) -> Decimal:
    return TAKER * BTC.notional(price, qty)


# ---------------------------------------------------------------- taking liquidity

def test_market_buy_walks_the_asks_best_first_at_each_level_price() -> None:
    sim = engine()
    sim.on_book(view())
    reports = sim.submit(order(Side.BUY, 5_000), now_ns=7)
    assert kinds(reports) == ["NEW", "TRADE", "TRADE"]
    assert trades(reports) == [(6_000_100, 3_000), (6_000_200, 2_000)]
    assert [r.cum_qty for r in reports] == [0, 3_000, 5_000]
    assert [r.fee for r in reports[1:]] == [Decimal("1.80003000"), Decimal("1.20004000")]  # 0.1% of 1800.03, 1200.04
    assert all(r.fee_asset == "USDT" and r.liquidity is Liquidity.TAKER and r.ts_ns == 7 for r in reports[1:])
    assert not sim.is_open(reports[0].client_order_id)


def test_market_sell_walks_the_bids_and_expires_what_the_book_cannot_take() -> None:
    sim = engine()
    sim.on_book(view())
    reports = sim.submit(order(Side.SELL, 12_000), now_ns=7)
    assert kinds(reports) == ["NEW", "TRADE", "TRADE", "EXPIRED"]
    assert trades(reports) == [(6_000_000, 4_000), (5_999_900, 6_000)]
    assert reports[-1].cum_qty == 10_000


def test_marketable_gtc_limit_takes_what_crosses_and_rests_the_rest() -> None:
    sim = engine()
    sim.on_book(view())
    req = limit(Side.BUY, 5_000, 6_000_150)
    reports = sim.submit(req, now_ns=7)
    assert kinds(reports) == ["NEW", "TRADE"]
    assert trades(reports) == [(6_000_100, 3_000)]
    assert sim.is_open(req.client_order_id)


def test_limit_sell_stops_at_its_price() -> None:
    sim = engine()
    sim.on_book(view())
    reports = sim.submit(limit(Side.SELL, 9_000, 5_999_950, TimeInForce.IOC), now_ns=7)
    assert kinds(reports) == ["NEW", "TRADE", "EXPIRED"]
    assert trades(reports) == [(6_000_000, 4_000)]


def test_ioc_that_does_not_cross_expires_with_nothing() -> None:
    sim = engine()
    sim.on_book(view())
    reports = sim.submit(limit(Side.BUY, 1_000, 6_000_000, TimeInForce.IOC), now_ns=7)
    assert kinds(reports) == ["NEW", "EXPIRED"]
    assert reports[-1].cum_qty == 0


def test_fok_fills_all_or_nothing_and_a_failed_fok_takes_no_liquidity() -> None:
    sim = engine()
    sim.on_book(view())
    failed = sim.submit(limit(Side.BUY, 9_000, 6_000_200, TimeInForce.FOK), now_ns=7)
    assert kinds(failed) == ["NEW", "EXPIRED"]
    assert failed[-1].cum_qty == 0
    filled = sim.submit(limit(Side.BUY, 8_000, 6_000_200, TimeInForce.FOK), now_ns=8)
    assert kinds(filled) == ["NEW", "TRADE", "TRADE"]
    assert trades(filled) == [(6_000_100, 3_000), (6_000_200, 5_000)]


def test_limit_maker_that_would_cross_is_rejected_and_one_that_would_not_rests() -> None:
    sim = engine()
    sim.on_book(view())
    crossing = sim.submit(order(Side.SELL, 1_000, 6_000_000, OrderType.LIMIT_MAKER), now_ns=7)
    assert kinds(crossing) == ["REJECTED"]
    assert crossing[0].reason == WOULD_TAKE == "Order would immediately match and take."
    passive = order(Side.SELL, 1_000, 6_000_050, OrderType.LIMIT_MAKER)
    assert kinds(sim.submit(passive, now_ns=8)) == ["NEW"]
    assert sim.is_open(passive.client_order_id)


def test_without_a_book_market_orders_expire_and_limits_rest() -> None:
    sim = engine()
    assert kinds(sim.submit(order(Side.BUY, 1_000), now_ns=1)) == ["NEW", "EXPIRED"]
    rests = limit(Side.BUY, 1_000, 6_000_000)
    assert kinds(sim.submit(rests, now_ns=2)) == ["NEW"]
    assert sim.is_open(rests.client_order_id)


# ---------------------------------------------------------------- consumed liquidity

def test_liquidity_taken_from_a_view_is_not_offered_again_until_a_new_update_id() -> None:
    sim = engine()
    sim.on_book(view(100))
    assert trades(sim.submit(order(Side.BUY, 2_000), now_ns=1)) == [(6_000_100, 2_000)]
    assert trades(sim.submit(order(Side.BUY, 2_000), now_ns=2)) == [(6_000_100, 1_000), (6_000_200, 1_000)]
    sim.on_book(view(100))                       # the same update again: still consumed
    assert trades(sim.submit(order(Side.BUY, 1_000), now_ns=3)) == [(6_000_200, 1_000)]
    sim.on_book(view(99))                        # an older view is ignored
    assert trades(sim.submit(order(Side.BUY, 1_000), now_ns=4)) == [(6_000_200, 1_000)]
    sim.on_book(view(101))                       # a new update offers the book afresh
    assert trades(sim.submit(order(Side.BUY, 1_000), now_ns=5)) == [(6_000_100, 1_000)]


def test_consumption_is_per_side_and_per_instrument() -> None:
    sim = engine()
    sim.on_book(view(100))
    sim.on_book(view(7, bids=((300_000, 100),), asks=((300_010, 100),), instrument="ETH/USDT"))
    sim.submit(order(Side.BUY, 3_000), now_ns=1)
    assert trades(sim.submit(order(Side.SELL, 1_000), now_ns=2)) == [(6_000_000, 1_000)]
    assert trades(sim.submit(order(Side.BUY, 100, instrument="ETH/USDT"), now_ns=3)) == [(300_010, 100)]


def test_offered_is_the_view_less_what_our_orders_took_until_a_new_update_id() -> None:
    sim = engine()
    assert sim.offered("BTC/USDT") is None
    sim.on_book(view(100))
    sim.submit(order(Side.BUY, 4_000), now_ns=1)              # takes 3_000 at 6_000_100, 1_000 at 6_000_200
    sim.submit(limit(Side.SELL, 1_000, 6_000_500), now_ns=2)  # rests: not part of what is offered
    offered = sim.offered("BTC/USDT")
    assert offered is not None and offered.update_id == 100
    assert offered.asks == ((6_000_200, 4_000), (6_000_500, 10_000))
    assert offered.bids == BIDS
    sim.on_book(view(101))
    assert sim.offered("BTC/USDT").asks == ASKS


# ---------------------------------------------------------------- resting orders and later views

def test_resting_order_is_filled_as_maker_at_its_price_by_a_later_crossing_view() -> None:
    sim = engine()
    sim.on_book(view(100))
    resting = limit(Side.BUY, 1_200, 6_000_050)
    assert kinds(sim.submit(resting, now_ns=1)) == ["NEW"]
    reports = sim.on_book(view(101, asks=((6_000_000, 1_000), (6_000_050, 500), (6_000_060, 9_000))))
    assert kinds(reports) == ["TRADE", "TRADE"]
    assert trades(reports) == [(6_000_050, 1_000), (6_000_050, 200)]   # at its limit, never the ask's price
    assert [r.cum_qty for r in reports] == [1_000, 1_200]
    assert all(r.liquidity is Liquidity.MAKER and r.ts_ns == 101_000 for r in reports)
    assert reports[0].fee == MAKER * BTC.notional(6_000_050, 1_000) == Decimal("0.0600005000")
    assert not sim.is_open(resting.client_order_id)


def test_resting_orders_fill_by_price_then_time_and_share_the_crossing_liquidity() -> None:
    sim = engine()
    sim.on_book(view(100))
    early = limit(Side.SELL, 1_000, 6_000_050)
    better = limit(Side.SELL, 1_000, 6_000_040)
    late = limit(Side.SELL, 1_000, 6_000_050)
    for req in (early, better, late):
        sim.submit(req, now_ns=1)
    reports = sim.on_book(view(101, bids=((6_000_060, 1_500),), asks=()))
    assert [(r.client_order_id, r.last_price, r.last_qty) for r in reports] == [
        (better.client_order_id, 6_000_040, 1_000), (early.client_order_id, 6_000_050, 500)]
    assert sim.is_open(early.client_order_id) and sim.is_open(late.client_order_id)
    # the same liquidity is not offered again within this view
    assert trades(sim.submit(order(Side.SELL, 100), now_ns=2)) == []


def test_gtc_remainder_is_filled_later_as_maker() -> None:
    sim = engine()
    sim.on_book(view(100))
    req = limit(Side.BUY, 5_000, 6_000_150)
    sim.submit(req, now_ns=1)                    # takes 3_000 at 6_000_100, rests 2_000
    assert sim.on_book(view(100)) == []          # same update: the crossing ask is already ours
    reports = sim.on_book(view(101))             # a new update still shows the ask at 6_000_100
    assert trades(reports) == [(6_000_150, 2_000)]
    assert reports[0].cum_qty == 5_000 and reports[0].liquidity is Liquidity.MAKER


# ---------------------------------------------------------------- validation, cancel, ids

@pytest.mark.parametrize(("req", "reason"), [
    (order(client_order_id="has space"), ILLEGAL_CLIENT_ORDER_ID),
    (order(client_order_id="x" * 37), ILLEGAL_CLIENT_ORDER_ID),
    (order(instrument="DOGE/USDT"), INVALID_SYMBOL),
    (order(qty=0), LOT_SIZE),
    (order(qty=15, instrument="ETH/USDT"), LOT_SIZE),
    (limit(Side.BUY, 1_000, 0), PRICE_FILTER),
    (limit(Side.BUY, 10, 300_002, instrument="ETH/USDT"), PRICE_FILTER),
    (order(Side.BUY, 10, 300_002, OrderType.LIMIT_MAKER, instrument="ETH/USDT"), PRICE_FILTER),
])
def test_invalid_orders_are_rejected_with_binance_reasons(req: NewOrderRequest, reason: str) -> None:
    sim = engine()
    sim.on_book(view())
    reports = sim.submit(req, now_ns=5)
    assert kinds(reports) == ["REJECTED"]
    assert (reports[0].reason, reports[0].cum_qty, reports[0].venue_order_id, reports[0].ts_ns) == (reason, 0, "", 5)


def test_duplicate_of_an_open_client_order_id_is_rejected() -> None:
    sim = engine()
    sim.on_book(view())
    sim.submit(limit(Side.BUY, 1_000, 5_000_000, client_order_id="dup"), now_ns=1)
    reports = sim.submit(limit(Side.BUY, 1_000, 5_000_000, client_order_id="dup"), now_ns=2)
    assert (kinds(reports), reports[0].reason) == (["REJECTED"], DUPLICATE_ORDER)


def test_cancel_of_a_resting_order_and_of_one_that_is_not_open() -> None:
    sim = engine()
    sim.on_book(view())
    req = limit(Side.BUY, 5_000, 6_000_150)
    sim.submit(req, now_ns=1)
    cancel = CancelRequest(req.client_order_id, "sim", "BTC/USDT", ts_ns=2)
    reports = sim.cancel(cancel, now_ns=3)
    assert kinds(reports) == ["CANCELED"]
    assert (reports[0].cum_qty, reports[0].ts_ns) == (3_000, 3)  # a cancelled order may have fills
    assert not sim.is_open(req.client_order_id)
    with pytest.raises(CancelRejected) as caught:
        sim.cancel(cancel, now_ns=4)
    assert caught.value.reason == UNKNOWN_ORDER == "Unknown order sent."
    assert sim.on_book(view(101)) == []          # a cancelled order is not filled later


def test_venue_order_ids_count_up_deterministically() -> None:
    def run() -> list[str]:
        sim = engine()
        sim.on_book(view())
        reports = []
        for req in (order(qty=0), order(Side.BUY, 1_000), limit(Side.SELL, 1_000, 7_000_000)):
            reports += sim.submit(req, now_ns=1)
        return [r.venue_order_id for r in reports]
    assert run() == run() == ["", "1", "1", "2"]


def test_every_fill_gets_the_next_venue_trade_id_across_orders_instruments_and_later_views() -> None:
    def run() -> list[tuple[str, str]]:
        sim = engine()
        sim.on_book(view(100))
        sim.on_book(view(7, bids=((300_000, 100),), asks=((300_010, 100),), instrument="ETH/USDT"))
        reports = sim.submit(order(Side.BUY, 5_000), now_ns=1)                       # two taker fills
        reports += sim.submit(order(Side.BUY, 100, instrument="ETH/USDT"), now_ns=2)  # one on another book
        reports += sim.submit(limit(Side.SELL, 1_000, 6_000_050), now_ns=3)            # rests, no fill yet
        reports += sim.on_book(view(101, bids=((6_000_060, 400),), asks=ASKS))        # a maker fill later
        return [(r.exec_type.value, r.trade_id) for r in reports]
    assert run() == run() == [("NEW", ""), ("TRADE", "1"), ("TRADE", "2"), ("NEW", ""), ("TRADE", "3"),
                              ("NEW", ""), ("TRADE", "4")]


# ---------------------------------------------------------------- properties over random books and orders

prices = st.integers(min_value=9_000, max_value=11_000)


@st.composite
def books(draw) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """(bids, asks) around a random mid, best first."""
    mid = draw(prices)
    sides = []
    for direction in (-1, 1):
        price, levels = mid, []
        for step in draw(st.lists(st.integers(1, 50), max_size=6)):
            price += direction * step
            levels.append((price, draw(st.integers(1, 500))))
        sides.append(tuple(levels))
    return tuple(sides)


requests = st.builds(
    lambda side, qty, price, kind: order(side, qty, price, *kind),
    st.sampled_from(Side), st.integers(1, 800), prices,
    st.sampled_from([(OrderType.MARKET, TimeInForce.GTC)] + [(OrderType.LIMIT, tif) for tif in TimeInForce]
                    + [(OrderType.LIMIT_MAKER, TimeInForce.GTC)]),
)
AGAIN = "the same view again"


@given(st.lists(st.one_of(books(), requests, st.just(AGAIN)), min_size=1, max_size=25))
def test_fills_never_beat_the_book_never_reuse_liquidity_and_keep_cum_qty_exact(events) -> None:
    sim = engine()
    current = BookView("BTC/USDT", 0, 0, (), ())
    taken: dict[tuple[Side, int], int] = {}   # (taker side, level price) → taker qty from the current view
    total: dict[Side, int] = {}               # taker side → all qty our orders got from the current view
    orders: dict[str, tuple[NewOrderRequest, Order]] = {}
    trade_ids: list[str] = []

    for event in events:
        if isinstance(event, NewOrderRequest):
            tracked = Order(event.client_order_id, ChildOrder(
                "P", "sim", "BTC/USDT", event.side, event.qty, event.price, event.order_type, event.tif, 0, 0))
            orders[event.client_order_id] = (event, tracked)
            reports = sim.submit(event, now_ns=1)
            assert reports[0].exec_type in (ExecType.NEW, ExecType.REJECTED)
        else:
            if event is not AGAIN:
                bids, asks = event
                current = BookView("BTC/USDT", 0, current.update_id + 1, bids, asks)
                taken, total = {}, {}
            reports = sim.on_book(current)
        for report in reports:
            req, tracked = orders[report.client_order_id]
            fill = tracked.apply(report)                          # the state machine accepts the venue's story
            assert tracked.cum_qty == report.cum_qty <= req.qty
            if report.exec_type is not ExecType.TRADE:
                assert report.trade_id == ""
                continue
            trade_ids.append(report.trade_id)
            assert fill is not None and fill.qty == report.last_qty > 0
            rate = TAKER if report.liquidity is Liquidity.TAKER else MAKER
            assert report.fee == rate * BTC.notional(report.last_price, report.last_qty)
            sign = req.side.sign
            levels = dict(current.asks if req.side is Side.BUY else current.bids)
            best = min(levels, key=lambda p: p * sign)
            assert report.last_price * sign >= best * sign           # never better than the book offered
            if report.liquidity is Liquidity.TAKER:
                assert report.last_price in levels
                if req.order_type is not OrderType.MARKET:
                    assert report.last_price * sign <= req.price * sign
                key = (req.side, report.last_price)
                taken[key] = taken.get(key, 0) + report.last_qty
                assert taken[key] <= levels[report.last_price]
            else:
                assert report.last_price == req.price             # a resting order fills at its own price
            total[req.side] = total.get(req.side, 0) + report.last_qty
            assert total[req.side] <= sum(levels.values())

    assert trade_ids == [str(n) for n in range(1, len(trade_ids) + 1)]   # one new id per fill, in order
    for req, tracked in orders.values():
        resting = tracked.state in (OrderState.SUBMITTED, OrderState.PARTIALLY_FILLED)
        assert sim.is_open(req.client_order_id) is resting
        if resting:
            assert req.order_type is not OrderType.MARKET and req.tif is TimeInForce.GTC
