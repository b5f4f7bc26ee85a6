"""The live feeds of Kraken (WS v2), Bybit v5 and Coinbase Advanced Trade, as venues.md §2.1, §3.1, §4.1 say.

What each plan sends and where, which frames are venue chatter rather than market data, and that a resync
resubscribes exactly one book. Frames are venues.md's examples (or built on their shape); the only fake is
a websocket object that records what a resync sends.
"""
from __future__ import annotations

import orjson
import pytest

from engine.contracts import MalformedFrame
from adapters.bybit import feed as bybit
from adapters.bybit.market_data import bybit_instrument
from adapters.coinbase import feed as coinbase
from adapters.coinbase.market_data import coinbase_instrument
from adapters.kraken import feed as kraken
from engine.messages import BookSnapshot, DepthDiff, ResyncRequest
from engine.model.numbers import Instrument

KRAKEN_BTC = Instrument("BTC/USD", "kraken", "XBT/USD", "BTC", "USD", price_decimals=1, qty_decimals=8)
KRAKEN_DOGE = Instrument("DOGE/USDT", "kraken", "XDG/USDT", "DOGE", "USDT", price_decimals=5, qty_decimals=8)


def bybit_spot(symbol: str, base: str) -> Instrument:
    return bybit_instrument({"symbol": symbol, "baseCoin": base, "quoteCoin": "USDT",
                             "priceFilter": {"tickSize": "0.01"}, "lotSizeFilter": {"basePrecision": "0.000001"}},
                            "spot")


BYBIT_BTC, BYBIT_ETH = bybit_spot("BTCUSDT", "BTC"), bybit_spot("ETHUSDT", "ETH")


def coinbase_product(product: str, base: str) -> Instrument:
    return coinbase_instrument({"product_id": product, "base_currency_id": base, "quote_currency_id": "USD",
                                "price_increment": "0.01", "base_increment": "0.00000001"})


COINBASE_BTC, COINBASE_ETH = coinbase_product("BTC-USD", "BTC"), coinbase_product("ETH-USD", "ETH")


class RecordingWs:
    """Stands in for the connection in a resync: records what is sent."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send_message(self, message: str) -> None:
        self.sent.append(orjson.loads(message))


def sent(plan) -> list[dict]:
    return [orjson.loads(message) for message in plan.subscribe]


# ---------------------------------------------------------------- Kraken WS v2 (§3.1)

def test_kraken_plan_subscribes_books_by_v2_symbol_and_pings():
    plan = kraken.stream_plan([KRAKEN_BTC, KRAKEN_DOGE])
    assert plan.url == "wss://ws.kraken.com/v2"
    assert sent(plan) == [{"method": "subscribe", "params": {"channel": "book", "symbol": ["BTC/USD", "DOGE/USDT"],
                                                             "depth": 10, "snapshot": True}}]
    assert orjson.loads(plan.heartbeat) == {"method": "ping"} and plan.heartbeat_s == 20.0
    assert plan.silence_s == 10.0 and plan.max_lifetime_s is None
    assert sent(kraken.stream_plan([KRAKEN_BTC], depth=25))[0]["params"]["depth"] == 25
    with pytest.raises(ValueError, match="depth"):
        kraken.stream_plan([KRAKEN_BTC], depth=50)


TIMES = {"time_in": "2023-10-06T17:35:55.440295Z", "time_out": "2023-10-06T17:35:55.440335Z"}
KRAKEN_CHATTER = [
    {"channel": "heartbeat"},
    {"method": "pong", "req_id": 7, **TIMES},
    {"method": "pong", **TIMES},
    {"channel": "status", "type": "update", "data": [{"api_version": "v2", "system": "online", "version": "2.0.10"}]},
    {"method": "subscribe", "result": {"channel": "book", "depth": 10, "snapshot": True, "symbol": "BTC/USD"},
     "success": True, **TIMES, "req_id": 1},
    {"method": "unsubscribe", "result": {"channel": "book", "depth": 10, "symbol": "BTC/USD"}, "success": True,
     **TIMES},
]


@pytest.mark.parametrize("frame", KRAKEN_CHATTER)
def test_kraken_heartbeats_pongs_status_and_acks_carry_no_event(frame):
    feed = kraken.KrakenMarketFeed([KRAKEN_BTC])
    assert feed.decode(orjson.dumps(frame).decode(), 1) == () and feed.refusals == 0


def test_kraken_book_frames_decode_exactly_from_json_numbers():
    feed = kraken.KrakenMarketFeed([KRAKEN_BTC])
    snapshot = ('{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",'
                '"bids":[{"price":45283.5,"qty":0.5},{"price":45283.4,"qty":0.0011}],'
                '"asks":[{"price":45285.2,"qty":0.001},{"price":45286.4,"qty":1.54582015}],'
                '"checksum":757066362,"timestamp":"2023-10-06T17:35:55.440295Z"}]}')
    update = ('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD",'
              '"bids":[{"price":45283.4,"qty":0.00110000}],"asks":[],"checksum":2114181697,'
              '"timestamp":"2023-10-06T17:35:55.440295Z"}]}')
    assert feed.decode(snapshot, 5) == (BookSnapshot("BTC/USD", 5, -1, ((452835, 50000000), (452834, 110000)),
                                                     ((452852, 100000), (452864, 154582015)), 757066362),)
    (diff,) = feed.decode(update.encode(), 6)
    assert type(diff) is DepthDiff and diff.bids == ((452834, 110000),) and diff.asks == ()
    assert diff.checksum == 2114181697


def test_kraken_refusals_are_counted_not_malformed_and_bad_json_is_malformed():
    feed = kraken.KrakenMarketFeed([KRAKEN_BTC])
    refusal = {"method": "subscribe", "success": False, "error": "Currency pair not supported", "symbol": "BTC/USD",
               **TIMES}
    assert feed.decode(orjson.dumps(refusal), 1) == () and feed.refusals == 1
    with pytest.raises(MalformedFrame):
        feed.decode('{"channel":"book",', 1)


async def test_kraken_resync_resubscribes_only_that_symbol_at_the_plans_depth():
    feed, ws = kraken.KrakenMarketFeed([KRAKEN_BTC, KRAKEN_DOGE], depth=25), RecordingWs()
    assert await feed.resync(ws, ResyncRequest("DOGE/USDT", 0, "checksum_mismatch")) == []
    assert ws.sent == [{"method": "unsubscribe", "params": {"channel": "book", "symbol": ["DOGE/USDT"], "depth": 25}},
                       {"method": "subscribe", "params": {"channel": "book", "symbol": ["DOGE/USDT"], "depth": 25,
                                                          "snapshot": True}}]


# ---------------------------------------------------------------- Bybit v5 (§4.1)

def test_bybit_plan_connects_to_the_categorys_endpoint_and_pings_every_20_s():
    plan = bybit.stream_plan([BYBIT_BTC, BYBIT_ETH])
    assert plan.url == "wss://stream.bybit.com/v5/public/spot"
    assert sent(plan) == [{"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "orderbook.50.ETHUSDT"]}]
    assert orjson.loads(plan.heartbeat) == {"op": "ping"} and plan.heartbeat_s == 20.0
    assert plan.silence_s == 30.0 and plan.max_lifetime_s is None
    assert bybit.stream_plan([BYBIT_BTC], category="linear").url == "wss://stream.bybit.com/v5/public/linear"
    assert bybit.stream_plan([BYBIT_BTC], url="ws://127.0.0.1:1").url == "ws://127.0.0.1:1"
    with pytest.raises(ValueError, match="category"):
        bybit.stream_plan([BYBIT_BTC], category="futures")


def test_bybit_subscription_takes_at_most_10_topics_per_request():
    instruments = [bybit_spot(f"C{n}USDT", f"C{n}") for n in range(23)]
    requests = sent(bybit.stream_plan(instruments, depth=200))
    assert [len(request["args"]) for request in requests] == [10, 10, 3]
    topics = [topic for request in requests for topic in request["args"]]
    assert topics == [f"orderbook.200.C{n}USDT" for n in range(23)]


BYBIT_CHATTER = [
    {"success": True, "ret_msg": "pong", "conn_id": "0970e817-426e-429a-a679-ff7f55e0b16a", "op": "ping"},
    {"req_id": "100001", "op": "pong", "args": ["1675418560633"], "conn_id": "cfcb4ocsvfriu23r3er0-1b"},
    {"success": True, "ret_msg": "", "conn_id": "0970e817-426e-429a-a679-ff7f55e0b16a", "req_id": "1",
     "op": "subscribe"},
    {"success": True, "ret_msg": "", "conn_id": "0970e817-426e-429a-a679-ff7f55e0b16a", "op": "unsubscribe"},
]


@pytest.mark.parametrize("frame", BYBIT_CHATTER)
def test_bybit_pongs_and_acks_carry_no_event(frame):
    feed = bybit.BybitMarketFeed([BYBIT_BTC])
    assert feed.decode(orjson.dumps(frame).decode(), 1) == () and feed.refusals == 0


def test_bybit_book_frames_decode_exactly():
    feed = bybit.BybitMarketFeed([BYBIT_BTC])
    snapshot = {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1672304484978,
                "data": {"s": "BTCUSDT", "b": [["16493.50", "0.006"]], "a": [["16611.00", "0.029"]], "u": 18521288,
                         "seq": 7961638724}, "cts": 1672304484976}
    delta = {"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1687940967466,
             "data": {"s": "BTCUSDT", "b": [["30240.00", "0"]], "a": [["30248.70", "0.5"]], "u": 18521289,
                      "seq": 66544703342}, "cts": 1687940967464}
    assert feed.decode(orjson.dumps(snapshot), 3) == (
        BookSnapshot("BTC/USDT", 3, 18521288, ((1649350, 6000),), ((1661100, 29000),)),)
    (diff,) = feed.decode(orjson.dumps(delta).decode(), 4)
    assert (diff.first_id, diff.last_id, diff.bids, diff.asks) == (18521289, 18521289, ((3024000, 0),),
                                                                   ((3024870, 500000),))


def test_bybit_refusals_are_counted_not_malformed_and_bad_json_is_malformed():
    feed = bybit.BybitMarketFeed([BYBIT_BTC])
    refusal = {"success": False, "ret_msg": "error:handler not found,topic:orderbook.50.BTCUSDX", "conn_id": "c1",
               "op": "subscribe"}
    assert feed.decode(orjson.dumps(refusal), 1) == () and feed.refusals == 1
    with pytest.raises(MalformedFrame):
        feed.decode(b'{"topic":', 1)


async def test_bybit_resync_resubscribes_only_that_topic():
    feed, ws = bybit.BybitMarketFeed([BYBIT_BTC, BYBIT_ETH]), RecordingWs()
    assert await feed.resync(ws, ResyncRequest("ETH/USDT", 0, "gap")) == []
    assert ws.sent == [{"op": "unsubscribe", "args": ["orderbook.50.ETHUSDT"]},
                       {"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]}]


# ---------------------------------------------------------------- Coinbase Advanced Trade (§2.1)

def test_coinbase_plan_subscribes_level2_and_heartbeats_and_sends_no_ping():
    plan = coinbase.stream_plan([COINBASE_BTC, COINBASE_ETH])
    assert plan.url == "wss://advanced-trade-ws.coinbase.com"
    assert sent(plan) == [{"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": "level2"},
                          {"type": "subscribe", "channel": "heartbeats"}]
    assert plan.heartbeat is None and plan.silence_s == 10.0 and plan.max_lifetime_s is None
    with pytest.raises(ValueError, match="at least one product"):
        coinbase.subscription("unsubscribe", [])  # it would end the whole channel


def envelope(sequence: int, channel: str, events: list) -> str:
    return orjson.dumps({"channel": channel, "client_id": "", "timestamp": "2023-02-09T20:32:50.714964855Z",
                         "sequence_num": sequence, "events": events}).decode()


def heartbeat(sequence: int) -> str:
    return envelope(sequence, "heartbeats", [{"current_time": "2023-02-09 20:32:51.123 +0000 UTC",
                                              "heartbeat_counter": sequence}])


def subscriptions(sequence: int) -> str:
    return envelope(sequence, "subscriptions", [{"subscriptions": {"level2": ["BTC-USD"], "heartbeats": []}}])


def l2(sequence: int, kind: str, price: str, qty: str, product: str = "BTC-USD") -> str:
    return envelope(sequence, "l2_data", [{"type": kind, "product_id": product, "updates": [
        {"side": "bid", "event_time": "2023-02-09T20:32:50.714964855Z", "price_level": price, "new_quantity": qty},
        {"side": "offer", "event_time": "2023-02-09T20:32:50.714964855Z", "price_level": "21921.74",
         "new_quantity": "0.01"}]}])


def test_coinbase_heartbeats_and_subscription_acks_carry_no_event_but_count_in_the_sequence():
    feed = coinbase.CoinbaseMarketFeed([COINBASE_BTC])
    assert feed.decode(subscriptions(0), 1) == () and feed.decode(heartbeat(1), 2) == ()
    (snapshot,) = feed.decode(l2(2, "snapshot", "21921.73", "0.06317902"), 3)
    assert snapshot == BookSnapshot("BTC/USD", 3, 2, ((2192173, 6317902),), ((2192174, 1000000),))
    assert feed.decode(heartbeat(3), 4) == ()
    (diff,) = feed.decode(l2(4, "update", "21921.73", "0"), 5)
    assert (diff.prev_last_id, diff.last_id, diff.bids) == (2, 4, ((2192173, 0),))
    assert feed.sequence_gaps == 0


def test_coinbase_new_connection_restarts_the_sequence_without_a_gap():
    feed = coinbase.CoinbaseMarketFeed([COINBASE_BTC])
    feed.connected()
    for frame in (subscriptions(0), l2(1, "snapshot", "21921.73", "1"), heartbeat(2), l2(3, "update", "21921.73", "2")):
        feed.decode(frame, 1)
    # the connection drops; the next one numbers its frames from the start again
    feed.connected()
    assert feed.decode(subscriptions(0), 2) == ()
    (snapshot,) = feed.decode(l2(1, "snapshot", "21921.72", "3"), 3)
    (diff,) = feed.decode(l2(2, "update", "21921.72", "4"), 4)
    assert snapshot.last_update_id == 1 and diff.prev_last_id == 1  # the new chain links
    assert feed.sequence_gaps == 0 and feed.connections == 2
    feed.decode(heartbeat(4), 5)  # a frame lost on this connection is a gap, and still counted
    (diff,) = feed.decode(l2(5, "update", "21921.72", "5"), 6)
    assert diff.prev_last_id == -1 and feed.sequence_gaps == 1


def test_coinbase_a_sequence_going_back_on_one_connection_links_no_update():
    feed = coinbase.CoinbaseMarketFeed([COINBASE_BTC])
    feed.connected()
    feed.decode(l2(0, "snapshot", "21921.73", "1"), 1)
    feed.decode(l2(1, "update", "21921.73", "2"), 2)
    (diff,) = feed.decode(l2(1, "update", "21921.73", "3"), 3)  # a repeat: the book must resync
    assert diff.prev_last_id == -1 and feed.sequence_gaps == 1


def test_coinbase_bad_json_is_malformed():
    with pytest.raises(MalformedFrame):
        coinbase.CoinbaseMarketFeed([COINBASE_BTC]).decode('{"channel":"l2_data"', 1)


async def test_coinbase_resync_resubscribes_level2_of_that_product_only():
    feed, ws = coinbase.CoinbaseMarketFeed([COINBASE_BTC, COINBASE_ETH]), RecordingWs()
    assert await feed.resync(ws, ResyncRequest("ETH/USD", 0, "gap")) == []
    assert ws.sent == [{"type": "unsubscribe", "product_ids": ["ETH-USD"], "channel": "level2"},
                       {"type": "subscribe", "product_ids": ["ETH-USD"], "channel": "level2"}]
