"""Coinbase market data (venues.md §2.1): Advanced Trade frames written here, the legacy recording as oracle."""
from collections import Counter
from pathlib import Path

import garbage_frames
import orjson
import pytest
from garbage_frames import mutated
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contracts import MalformedFrame, SyncResult, UnknownSymbol
from adapters.coinbase.book_sync import CoinbaseBookSync
from adapters.coinbase.market_data import CoinbaseMarketDataCodec, coinbase_instrument
from engine.messages import BookSnapshot, BookState, DepthDiff, Side, Trade
from engine.replay.cryptofeed import LineKind, read_cryptofeed

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded" / "bmoscon+cryptofeed" / "sample_data"

# Advanced Trade products, as GET /api/v3/brokerage/products gives them (the fields the helper reads, and a few).
BTC_USD = coinbase_instrument({"product_id": "BTC-USD", "base_currency_id": "BTC", "quote_currency_id": "USD",
                               "base_display_symbol": "BTC", "price_increment": "0.01", "quote_increment": "0.01",
                               "base_increment": "0.00000001", "status": "online"})
ETH_USD = coinbase_instrument({"product_id": "ETH-USD", "base_currency_id": "ETH", "quote_currency_id": "USD",
                               "price_increment": "0.01", "base_increment": "0.00000001"})
INSTRUMENTS = [BTC_USD, ETH_USD]


def envelope(sequence: int, channel: str, events: list) -> dict:
    return {"channel": channel, "client_id": "", "timestamp": "2023-02-09T20:32:50.714964855Z",
            "sequence_num": sequence, "events": events}


def level(side: str, price: str, qty: str, at: str = "2023-02-09T20:32:50.714964855Z") -> dict:
    return {"side": side, "event_time": at, "price_level": price, "new_quantity": qty}


def l2(sequence: int, kind: str, *updates: dict, product: str = "BTC-USD") -> dict:
    return envelope(sequence, "l2_data", [{"type": kind, "product_id": product, "updates": list(updates)}])


def heartbeat(sequence: int) -> dict:
    return envelope(sequence, "heartbeats", [{"current_time": "2023-02-09 20:32:51.123 +0000 UTC",
                                              "heartbeat_counter": 3631}])


# venues.md §2.1, verbatim.
SNAPSHOT = l2(0, "snapshot", level("bid", "21921.73", "0.06317902", "1970-01-01T00:00:00Z"),
              level("offer", "21921.74", "0.01", "1970-01-01T00:00:00Z"))
UPDATE = l2(1, "update", level("bid", "21921.73", "0"), level("offer", "21921.75", "1.5"))
TRADES = envelope(2, "market_trades", [
    {"type": "update", "trades": [
        {"trade_id": "000000000", "product_id": "BTC-USD", "price": "21921.74", "size": "0.5", "side": "BUY",
         "time": "2023-02-09T20:32:51.001Z"},
        {"trade_id": "000000001", "product_id": "ETH-USD", "price": "1650.1", "size": "2", "side": "SELL",
         "time": "2023-02-09T20:32:51.001Z"}]}])
LEGACY_SNAPSHOT = {"type": "snapshot", "product_id": "BTC-USD", "bids": [["21921.73", "0.06317902"]],
                   "asks": [["21921.74", "0.01"]]}
LEGACY_UPDATE = {"type": "l2update", "product_id": "BTC-USD", "changes": [["buy", "21921.73", "0.00000000"],
                                                                          ["sell", "21921.75", "1.50"]],
                 "time": "2021-04-17T16:43:37.075687Z"}
LEGACY_MATCH = {"type": "match", "trade_id": 280232, "maker_order_id": "2a0da34e", "taker_order_id": "3c82abaa",
                "side": "sell", "size": "0.5", "price": "21921.74", "product_id": "BTC-USD", "sequence": 177100030,
                "time": "2021-04-17T16:43:37.089723Z"}


# ---------------------------------------------------------------- instruments

def test_instruments_from_advanced_trade_and_legacy_products():
    assert (BTC_USD.symbol, BTC_USD.venue, BTC_USD.venue_symbol) == ("BTC/USD", "coinbase", "BTC-USD")
    assert (BTC_USD.price_decimals, BTC_USD.qty_decimals) == (2, 8)
    legacy = coinbase_instrument({"id": "SKL-BTC", "base_currency": "SKL", "quote_currency": "BTC",
                                  "quote_increment": "0.00000001", "base_increment": "0.1"})
    assert (legacy.symbol, legacy.price_decimals, legacy.qty_decimals) == ("SKL/BTC", 8, 1)
    assert coinbase_instrument({"id": "X-Y", "base_currency": "X", "quote_currency": "Y", "quote_increment": "0.5",
                                "base_increment": "10"}).tick_size == 5


# ---------------------------------------------------------------- Advanced Trade codec

def test_level2_snapshot_and_update_carry_the_sequence_and_link_to_the_products_previous_event():
    codec = CoinbaseMarketDataCodec(INSTRUMENTS)
    (snapshot,) = codec.decode(SNAPSHOT, 5)
    assert snapshot == BookSnapshot("BTC/USD", 5, 0, ((2192173, 6317902),), ((2192174, 1000000),))
    assert codec.decode(heartbeat(1), 6) == ()  # heartbeats count in the connection's sequence
    (diff,) = codec.decode({**UPDATE, "sequence_num": 2}, 7)
    assert diff == DepthDiff("BTC/USD", 7, 2, 2, 0, ((2192173, 0),), ((2192175, 150000000),))
    assert codec.sequence_gaps == 0


def test_market_trades_skip_the_snapshot_and_name_the_taker_opposite_to_the_reported_maker_side():
    codec = CoinbaseMarketDataCodec(INSTRUMENTS)
    history = envelope(1, "market_trades", [{"type": "snapshot", "trades": TRADES["events"][0]["trades"]}])
    assert codec.decode(history, 0) == ()
    btc, eth = codec.decode(TRADES, 9)
    assert btc == Trade("BTC/USD", 9, 0, 2192174, 50000000, Side.SELL)
    assert (eth.instrument, eth.trade_id, eth.price, eth.aggressor) == ("ETH/USD", 1, 165010, Side.BUY)


@pytest.mark.parametrize("frame", [
    heartbeat(0),
    envelope(0, "subscriptions", [{"subscriptions": {"level2": ["BTC-USD"], "heartbeats": ["heartbeats"]}}]),
    envelope(0, "ticker", [{"type": "snapshot", "tickers": [{"product_id": "BTC-USD", "price": "1"}]}]),
    {"type": "error", "message": "failure to subscribe"},
    {"type": "ticker", "product_id": "BTC-USD", "best_bid": "1", "best_ask": "2"},
])
def test_heartbeats_acks_and_other_channels_carry_no_market_event(frame):
    assert CoinbaseMarketDataCodec(INSTRUMENTS).decode(frame, 0) == ()


def test_legacy_frames_have_no_sequence_and_reported_maker_sides():
    codec = CoinbaseMarketDataCodec(INSTRUMENTS)
    (snapshot,) = codec.decode(LEGACY_SNAPSHOT, 1)
    assert snapshot == BookSnapshot("BTC/USD", 1, -1, ((2192173, 6317902),), ((2192174, 1000000),))
    (diff,) = codec.decode(LEGACY_UPDATE, 2)
    assert diff == DepthDiff("BTC/USD", 2, -1, -1, -1, ((2192173, 0),), ((2192175, 150000000),))
    (trade,) = codec.decode(LEGACY_MATCH, 3)
    assert trade == Trade("BTC/USD", 3, 280232, 2192174, 50000000, Side.BUY)  # a sell maker: an up-tick


def test_decode_raw_reports_bad_json_as_malformed():
    codec = CoinbaseMarketDataCodec(INSTRUMENTS)
    assert codec.decode_raw(orjson.dumps(SNAPSHOT), 1) == CoinbaseMarketDataCodec(INSTRUMENTS).decode(SNAPSHOT, 1)
    with pytest.raises(MalformedFrame, match="not valid JSON"):
        codec.decode_raw(orjson.dumps(UPDATE)[:-3], 1)


# ---------------------------------------------------------------- sequence gaps, codec and sync together

def run(frames: list[dict], instruments=INSTRUMENTS) -> tuple[CoinbaseMarketDataCodec, dict, list]:
    codec = CoinbaseMarketDataCodec(instruments)
    syncs = {i.symbol: CoinbaseBookSync(i.symbol) for i in instruments}
    results = []
    for obj in frames:
        for event in codec.decode(obj, 0):
            if type(event) is Trade:
                continue
            sync = syncs[event.instrument]
            results.append(sync.on_snapshot(event) if type(event) is BookSnapshot else sync.on_diff(event))
    return codec, syncs, results


def test_updates_apply_across_other_channels_frames():
    frames = [SNAPSHOT, heartbeat(1), {**TRADES, "sequence_num": 2}, {**UPDATE, "sequence_num": 3}]
    _, syncs, results = run(frames)
    assert results == [SyncResult.LOADED, SyncResult.APPLIED]
    sync = syncs["BTC/USD"]
    assert sync.state is BookState.LIVE and sync.last_update_id == 3
    assert sync.book.top(5) == ((), ((2192174, 1000000), (2192175, 150000000)))


def test_a_lost_frame_is_a_gap_for_every_book_on_the_connection_until_its_next_snapshot():
    eth_snapshot = l2(1, "snapshot", level("bid", "1650", "1"), level("offer", "1651", "1"), product="ETH-USD")
    eth_update = l2(4, "update", level("bid", "1650", "2"), product="ETH-USD")
    codec, syncs, results = run([SNAPSHOT, eth_snapshot, heartbeat(2), {**UPDATE, "sequence_num": 5},  # 3 lost
                                 eth_update | {"sequence_num": 6},
                                 {**SNAPSHOT, "sequence_num": 7}, {**UPDATE, "sequence_num": 8}])
    assert results == [SyncResult.LOADED, SyncResult.LOADED, SyncResult.GAP, SyncResult.GAP,
                       SyncResult.LOADED, SyncResult.APPLIED]
    assert codec.sequence_gaps == 1
    assert syncs["BTC/USD"].state is BookState.LIVE and syncs["BTC/USD"].resyncs == {"gap": 1}
    assert syncs["ETH/USD"].state is BookState.STALE and syncs["ETH/USD"].gaps == 1


def test_a_frame_that_cannot_be_decoded_counts_as_lost():
    codec = CoinbaseMarketDataCodec(INSTRUMENTS)
    sync = CoinbaseBookSync("BTC/USD")
    sync.on_snapshot(*codec.decode(SNAPSHOT, 0))
    with pytest.raises(MalformedFrame):
        codec.decode(l2(1, "update", level("bid", "21921.731", "1")), 0)
    (diff,) = codec.decode({**UPDATE, "sequence_num": 2}, 0)
    assert sync.on_diff(diff) is SyncResult.GAP and codec.sequence_gaps == 1


def test_several_events_of_one_product_in_one_frame_chain_to_each_other():
    frame = envelope(0, "l2_data", [SNAPSHOT["events"][0], UPDATE["events"][0]])
    codec, syncs, results = run([frame])
    assert results == [SyncResult.LOADED, SyncResult.APPLIED] and codec.sequence_gaps == 0


def test_a_crossed_book_is_dropped():
    crossing = l2(1, "update", level("bid", "21921.80", "1"))
    _, syncs, results = run([SNAPSHOT, crossing])
    assert results == [SyncResult.LOADED, SyncResult.CROSSED]
    assert SyncResult.CROSSED.needs_snapshot
    assert syncs["BTC/USD"].state is BookState.STALE and syncs["BTC/USD"].resyncs == {"crossed": 1}
    crossed_snapshot = l2(0, "snapshot", level("bid", "2", "1"), level("offer", "1", "1"))
    assert run([crossed_snapshot])[2] == [SyncResult.CROSSED]


def test_events_of_another_instrument_are_refused():
    with pytest.raises(ValueError, match="ETH/USD"):
        CoinbaseBookSync("BTC/USD").on_diff(DepthDiff("ETH/USD", 0, 1, 1, 0, (), ()))


# ---------------------------------------------------------------- malformed frames

def with_update(frame: dict, **fields) -> dict:
    event = frame["events"][0]
    return {**frame, "events": [{**event, "updates": [{**event["updates"][0], **fields}]}]}


def with_event(frame: dict, **fields) -> dict:
    return {**frame, "events": [{**frame["events"][0], **fields}]}


def with_trade(**fields) -> dict:
    trades = TRADES["events"][0]["trades"]
    return {**TRADES, "events": [{"type": "update", "trades": [{**trades[0], **fields}]}]}


@pytest.mark.parametrize("frame, message", [
    # truncated / missing fields
    ({k: v for k, v in UPDATE.items() if k != "sequence_num"}, "l2_data: missing field 'sequence_num'"),
    ({k: v for k, v in UPDATE.items() if k != "events"}, "l2_data: missing field 'events'"),
    ({**UPDATE, "events": [{"type": "update", "updates": []}]}, "l2_data: events[0]: missing field 'product_id'"),
    ({**UPDATE, "events": [{"type": "update", "product_id": "BTC-USD"}]}, "events[0]: missing field 'updates'"),
    ({**UPDATE, "events": [{"product_id": "BTC-USD", "updates": []}]}, "events[0]: missing field 'type'"),
    ({**UPDATE, "events": [{"type": "update", "product_id": "BTC-USD",
                            "updates": [{"side": "bid", "price_level": "1"}]}]},
     "events[0]: updates[0]: missing field 'new_quantity'"),
    ({**TRADES, "events": [{"type": "update"}]}, "market_trades: events[0]: missing field 'trades'"),
    ({k: v for k, v in LEGACY_UPDATE.items() if k != "changes"}, "l2update: missing field 'changes'"),
    ({**LEGACY_UPDATE, "changes": [["buy", "21921.73"]]},
     "l2update: field 'changes', level 0: should be a [side, price, size] change, got 2 elements"),
    # wrong types
    ({**UPDATE, "sequence_num": "1"}, "l2_data: field 'sequence_num' should be an integer, got string"),
    ({**UPDATE, "channel": 7}, "envelope: field 'channel' should be a string, got integer"),
    ({**UPDATE, "events": {"type": "update"}}, "l2_data: field 'events' should be a list, got object"),
    (with_event(UPDATE, updates="bid"), "events[0]: field 'updates' should be a list, got string"),
    (with_update(UPDATE, new_quantity=1.5), "updates[0]: field 'new_quantity' should be a decimal string, got number"),
    (with_event(UPDATE, type="partial"), "events[0]: field 'type' should be 'snapshot' or 'update', got 'partial'"),
    (with_event(UPDATE, product_id=["BTC-USD"]), "events[0]: field 'product_id' should be a string, got array"),
    (with_trade(trade_id="abc"), "trades[0]: field 'trade_id' should be an integer or a string of digits"),
    (with_trade(side="buy"), "trades[0]: field 'side' should be one of ['BUY', 'SELL'], got 'buy'"),
    ({**LEGACY_UPDATE, "changes": ["buy 21921.73 1"]}, "field 'changes', level 0: should be a [side, price, size]"),
    ({**LEGACY_SNAPSHOT, "bids": ["21", "92"]}, "snapshot: field 'bids', level 0: should be a [price, size] pair"),
    ({**LEGACY_MATCH, "trade_id": 2.5}, "match: field 'trade_id' should be an integer or a string of digits"),
    ([UPDATE], "frame should be a JSON object, got array"),
    # bad values
    (with_update(UPDATE, side="ask"), "updates[0]: field 'side' should be one of ['bid', 'offer'], got 'ask'"),
    (with_update(UPDATE, price_level="21921.731"), "field 'price_level' is a bad number: '21921.731' has more than 2"),
    ({**LEGACY_UPDATE, "changes": [["bid", "21921.73", "1"]]}, "level 0: side should be 'buy' or 'sell', got 'bid'"),
    ({**LEGACY_MATCH, "size": "-1"}, "match: field 'size' is negative"),
    # empty sides
    (l2(0, "snapshot"), "l2_data: events[0]: snapshot field 'updates' is empty"),
    ({**LEGACY_SNAPSHOT, "bids": [], "asks": []}, "snapshot: fields 'bids' and 'asks' are both empty"),
    (with_update(UPDATE, side=""), "updates[0]: field 'side' should be one of ['bid', 'offer'], got ''"),
])
def test_malformed_frames_name_what_is_wrong(frame, message):
    with pytest.raises(MalformedFrame) as caught:
        CoinbaseMarketDataCodec(INSTRUMENTS).decode(frame, 0)
    assert message in str(caught.value)


def test_instruments_can_be_learned_while_a_recording_is_read():
    codec = CoinbaseMarketDataCodec([])
    assert not codec.knows("BTC-USD")
    codec.add_instrument(BTC_USD)
    assert codec.knows("BTC-USD")
    assert codec.decode(SNAPSHOT, 1) == CoinbaseMarketDataCodec(INSTRUMENTS).decode(SNAPSHOT, 1)


def test_unknown_product_is_its_own_kind_of_malformed_frame():
    with pytest.raises(UnknownSymbol, match="'SOL-USD'"):
        CoinbaseMarketDataCodec(INSTRUMENTS).decode(with_event(UPDATE, product_id="SOL-USD"), 0)
    with pytest.raises(UnknownSymbol, match="'SOL-USD'"):
        CoinbaseMarketDataCodec(INSTRUMENTS).decode({**LEGACY_MATCH, "product_id": "SOL-USD"}, 0)


# ---------------------------------------------------------------- garbage only ever raises MalformedFrame

CODEC = CoinbaseMarketDataCodec(INSTRUMENTS)

json_values = garbage_frames.json_values(["l2_data", "snapshot", "update", "bid", "offer", "buy", "sell", "BUY", "BTC-USD",
                       "21921.73", "0", "1e5", "-1", ""])


FRAMES = (SNAPSHOT, UPDATE, TRADES, LEGACY_SNAPSHOT, LEGACY_UPDATE, LEGACY_MATCH)


@settings(max_examples=500, deadline=None)
@given(frame=json_values | st.one_of([mutated(frame, json_values) for frame in FRAMES]))
def test_garbage_frames_only_ever_raise_malformed_frame(frame):
    try:
        events = CODEC.decode(frame, 0)
    except MalformedFrame:
        return
    assert type(events) is tuple and all(type(e) in (BookSnapshot, DepthDiff, Trade) for e in events)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64) | st.sampled_from([orjson.dumps(frame) for frame in FRAMES])
       .flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])))
def test_garbage_bytes_and_truncated_frames_only_ever_raise_malformed_frame(raw):
    try:
        CODEC.decode_raw(raw, 0)
    except MalformedFrame:
        pass


# ---------------------------------------------------------------- the legacy recording

PRODUCTS = ("SKL-USD", "SKL-BTC", "BAND-GBP", "NMR-EUR", "BAND-BTC", "YFI-BTC", "DASH-BTC", "NU-GBP", "CRV-EUR",
            "SKL-GBP")


def test_legacy_recording_books_are_never_crossed_and_agree_with_the_tickers():
    path, metadata = SAMPLES / "COINBASE.ws.28.0", SAMPLES / "COINBASE.0"
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    body = next(line.partition(b": ")[2] for line in metadata.read_bytes().splitlines()
                if line.startswith(b"https://api.pro.coinbase.com/products"))
    instruments = {p["id"]: coinbase_instrument(p) for p in orjson.loads(body) if p["id"] in PRODUCTS}
    codec = CoinbaseMarketDataCodec(instruments.values())
    syncs = {i.symbol: CoinbaseBookSync(i.symbol) for i in instruments.values()}
    results: Counter = Counter()
    last_update_time: dict[str, str] = {}
    tickers = Counter()
    for line in read_cryptofeed(path):
        if line.kind is not LineKind.RECEIVED:
            continue
        obj = orjson.loads(line.payload)
        for event in codec.decode(obj, line.ts_ns):
            if type(event) is Trade:
                results["Trade"] += 1
                continue
            sync = syncs[event.instrument]
            results[sync.on_snapshot(event) if type(event) is BookSnapshot else sync.on_diff(event)] += 1
            if type(event) is DepthDiff:
                last_update_time[event.instrument] = obj["time"]
        if obj["type"] == "ticker":
            # Weak oracle: the ticker's best bid/ask is the book right after a match, so it is comparable
            # when the book's last update carries the ticker's own time (the match's l2update has arrived).
            instrument = instruments[obj["product_id"]]
            book = syncs[instrument.symbol].book
            if last_update_time.get(instrument.symbol) != obj["time"]:
                tickers["not comparable"] += 1
            elif (book.best_bid()[0], book.best_ask()[0]) == (instrument.price(obj["best_bid"]),
                                                               instrument.price(obj["best_ask"])):
                tickers["agree"] += 1
            else:
                tickers["disagree"] += 1
    # INDEX.md: 10 snapshots and 9719 l2update; the sync checks the book is not crossed after every one.
    assert results == Counter({SyncResult.LOADED: 10, SyncResult.APPLIED: 9719, "Trade": 97})
    assert all(s.state is BookState.LIVE and s.resyncs == {} for s in syncs.values())
    # 107 tickers: 97 arrive when the book's last l2update has their time, and all 97 agree. The other 10
    # cannot be placed: 9 arrive before any l2update of their product (a snapshot has no time; 3 of them
    # happen to agree), 1 after the book has moved past it (it disagrees).
    assert tickers == Counter({"agree": 97, "not comparable": 10})
