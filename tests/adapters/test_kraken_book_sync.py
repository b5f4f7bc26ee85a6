"""Kraken book sync (venues.md §3.1): the rules on small hand-made books, then real recordings as oracle."""
import copy
import json
import zlib
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kraken.book_sync import KrakenBookSync, SyncResult
from adapters.kraken.instruments import kraken_instruments
from adapters.kraken.market_data import KrakenMarketDataCodec, loads_exact
from engine.messages import BookSnapshot, BookState, DepthDiff
from engine.model.numbers import Instrument, format_fixed
from engine.replay.cryptofeed import LineKind, read_cryptofeed

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
CRYPTOFEED = RECORDED / "bmoscon+cryptofeed" / "sample_data"
CCXT_EXCERPT = RECORDED / "ccxt+ccxt/ts/src/test/static/ws/kraken.json.watchOrderBook.excerpt.jsonl"

BTC_USD = Instrument("BTC/USD", "kraken", "XBT/USD", "BTC", "USD", price_decimals=1, qty_decimals=8)
DOGE_USDT = Instrument("DOGE/USDT", "kraken", "XDG/USDT", "DOGE", "USDT", price_decimals=5, qty_decimals=8)
SYMBOL = BTC_USD.symbol


def snapshot(bids=((100, 5),), asks=((101, 5),), checksum=None) -> BookSnapshot:
    return BookSnapshot(SYMBOL, 0, -1, tuple(bids), tuple(asks), checksum)


def diff(bids=(), asks=(), checksum=None) -> DepthDiff:
    return DepthDiff(SYMBOL, 0, -1, -1, -1, tuple(bids), tuple(asks), checksum)


def reference_checksum(asks: list[tuple[str, str]], bids: list[tuple[str, str]]) -> int:
    """Kraken's rule on the wire strings themselves: '.' removed, leading zeros stripped, asks then bids."""
    text = "".join(part.replace(".", "").lstrip("0") for level in asks[:10] + bids[:10] for part in level)
    return zlib.crc32(text.encode())


# ---------------------------------------------------------------- the checksum

def test_checksum_matches_the_self_check_of_venues_md():
    sync = KrakenBookSync(BTC_USD, 10)
    book = snapshot(bids=[(452835, 50000000), (452834, 110000)], asks=[(452852, 100000), (452864, 154582015)],
                    checksum=757066362)
    assert sync.on_snapshot(book) is SyncResult.LOADED
    assert (sync.checksums_ok, sync.checksums_failed) == (1, 0)


def test_v1_checksum_is_over_the_strings_as_sent_so_their_precision_matters():
    asks, bids = [("5541.30000", "2.50700000")], [("5541.20000", "1.52900000")]
    as_sent = reference_checksum(asks, bids)
    book = snapshot(bids=[(55412, 152900000)], asks=[(55413, 250700000)])
    wire = KrakenBookSync(BTC_USD, 10, price_decimals=5, qty_decimals=8)
    wire.on_snapshot(book)
    assert wire.checksum() == as_sent
    units = KrakenBookSync(BTC_USD, 10)  # "5541.3" is not what Kraken sent
    units.on_snapshot(book)
    assert units.checksum() != as_sent


def test_wire_precision_coarser_than_the_instrument_units_is_written_at_the_wire_precision():
    fine = Instrument("BTC/USD", "kraken", "XBT/USD", "BTC", "USD", price_decimals=3, qty_decimals=10)
    sync = KrakenBookSync(fine, 10, price_decimals=1, qty_decimals=8)
    sync.on_snapshot(BookSnapshot(SYMBOL, 0, -1, ((5541200, 15290000000),), ((5541300, 25070000000),)))
    assert sync.checksum() == reference_checksum([("5541.3", "2.50700000")], [("5541.2", "1.52900000")])


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_checksum_equals_kraken_rule_on_the_wire_strings_of_any_book(data):
    units = data.draw(st.integers(0, 8))
    wire = data.draw(st.integers(units, 10))
    prices = data.draw(st.lists(st.integers(1, 10 ** 9), min_size=0, max_size=30, unique=True))
    split = data.draw(st.integers(0, len(prices)))
    prices.sort()
    bids = [(price, data.draw(st.integers(1, 10 ** 12))) for price in prices[:split]]
    asks = [(price, data.draw(st.integers(1, 10 ** 12))) for price in prices[split:]]
    instrument = Instrument("X/Y", "kraken", "X/Y", "X", "Y", price_decimals=units, qty_decimals=units)
    sync = KrakenBookSync(instrument, 25, price_decimals=wire, qty_decimals=wire)
    sync.on_snapshot(BookSnapshot("X/Y", 0, -1, tuple(bids), tuple(asks)))

    def strings(levels):
        scale = 10 ** (wire - units)
        return [(format_fixed(p * scale, wire), format_fixed(q * scale, wire)) for p, q in levels]
    assert sync.checksum() == reference_checksum(strings(asks), strings(reversed(bids)))


# ---------------------------------------------------------------- the rules

def test_updates_set_and_delete_levels_and_the_book_counts_its_versions():
    sync = KrakenBookSync(BTC_USD, 10)
    assert sync.state is BookState.SYNCING and sync.last_update_id is None
    assert sync.on_snapshot(snapshot(bids=[(100, 5), (99, 1)])) is SyncResult.LOADED
    assert sync.on_diff(diff(bids=[(100, 0), (98, 2), (97, 0)], asks=[(101, 7)])) is SyncResult.APPLIED
    assert sync.book.top(10) == (((99, 1), (98, 2)), ((101, 7),))
    assert sync.state is BookState.LIVE and sync.last_update_id == 2
    assert sync.resyncs == {} and sync.checksums_ok == 0


def test_book_is_cut_to_the_subscribed_depth_after_every_message():
    sync = KrakenBookSync(BTC_USD, 10)
    sync.on_snapshot(snapshot(bids=[(100 - n, 1) for n in range(10)], asks=[(110 + n, 1) for n in range(12)]))
    assert sync.book.ask_levels == 10 and sync.book.top(10)[1][-1] == (119, 1)
    sync.on_diff(diff(bids=[(80, 1)], asks=[(105, 2)]))
    assert sync.book.bid_levels == 10 and sync.book.top(10)[0][-1] == (91, 1)  # 80 is beyond the depth
    assert sync.book.ask_levels == 10 and sync.book.top(10)[1][-1] == (118, 1)  # 119 was pushed out
    sync.on_diff(diff(asks=[(105, 0)]))
    assert sync.book.ask_levels == 9  # a level pushed out does not come back unless Kraken republishes it


def test_a_snapshot_always_replaces_the_book():
    sync = KrakenBookSync(BTC_USD, 10)
    sync.on_snapshot(snapshot(bids=[(100, 5), (99, 1)]))
    assert sync.on_snapshot(snapshot(bids=[(90, 2)], asks=[(95, 3)])) is SyncResult.LOADED
    assert sync.book.top(10) == (((90, 2),), ((95, 3),))


def test_a_checksum_mismatch_drops_the_book_until_the_next_snapshot():
    sync = KrakenBookSync(BTC_USD, 10)
    good = KrakenBookSync(BTC_USD, 10)
    good.on_snapshot(snapshot())
    good.on_diff(diff(bids=[(100, 6)]))
    sync.on_snapshot(snapshot())
    assert sync.on_diff(diff(bids=[(100, 6)], checksum=good.checksum())) is SyncResult.APPLIED
    assert sync.on_diff(diff(bids=[(100, 7)], checksum=good.checksum())) is SyncResult.CHECKSUM_MISMATCH
    assert SyncResult.CHECKSUM_MISMATCH.needs_snapshot
    assert sync.state is BookState.STALE and len(sync.book) == 0 and sync.last_update_id is None
    assert (sync.checksums_ok, sync.checksums_failed, sync.resyncs) == (1, 1, {"checksum_mismatch": 1})
    assert sync.on_diff(diff(bids=[(100, 8)])) is SyncResult.IGNORED
    assert sync.diffs_ignored == 1
    assert sync.on_snapshot(snapshot()) is SyncResult.LOADED and sync.state is BookState.LIVE


def test_a_snapshot_with_a_wrong_checksum_is_a_mismatch_and_one_without_is_taken_unchecked():
    sync = KrakenBookSync(BTC_USD, 10)
    assert sync.on_snapshot(snapshot(checksum=1)) is SyncResult.CHECKSUM_MISMATCH
    assert sync.state is BookState.STALE
    assert sync.on_snapshot(snapshot()) is SyncResult.LOADED
    assert (sync.checksums_ok, sync.checksums_failed) == (0, 1)


def test_a_crossed_book_is_dropped():
    sync = KrakenBookSync(BTC_USD, 10)
    sync.on_snapshot(snapshot())
    assert sync.on_diff(diff(bids=[(101, 1)])) is SyncResult.CROSSED
    assert SyncResult.CROSSED.needs_snapshot
    assert sync.state is BookState.STALE and sync.resyncs == {"crossed": 1}
    assert sync.on_snapshot(snapshot(bids=[(102, 1)])) is SyncResult.CROSSED


def test_events_of_another_instrument_and_depths_below_ten_are_refused():
    sync = KrakenBookSync(BTC_USD, 10)
    with pytest.raises(ValueError, match="ETH/USD"):
        sync.on_diff(DepthDiff("ETH/USD", 0, -1, -1, -1, (), ()))
    with pytest.raises(ValueError, match="ETH/USD"):
        sync.on_snapshot(BookSnapshot("ETH/USD", 0, -1, (), ()))
    with pytest.raises(ValueError, match="depth 5"):
        KrakenBookSync(BTC_USD, 5)


# ---------------------------------------------------------------- the v1 recording (cryptofeed)

def recorded(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    return path


@pytest.fixture(scope="module")
def v1_session() -> tuple[list[Instrument], int, list[tuple[int, bytes]]]:
    """The AssetPairs instruments, the subscribed depth and the received frames of the recorded v1 session."""
    metadata = next(read_cryptofeed(recorded(CRYPTOFEED / "KRAKEN.0")))  # the REST AssetPairs response
    instruments = kraken_instruments(json.loads(metadata.payload)["result"])
    lines = list(read_cryptofeed(recorded(CRYPTOFEED / "KRAKEN.ws.50.0")))
    subscribe = next(orjson.loads(line.payload) for line in lines if line.kind is LineKind.SENT)
    frames = [(line.ts_ns, line.payload) for line in lines if line.kind is LineKind.RECEIVED]
    return instruments, subscribe["subscription"]["depth"], frames


def replay_v1(instruments, depth: int, frames) -> dict[str, KrakenBookSync]:
    """Decode and sync every frame; a book's sync is made at its first snapshot, at the precision sent."""
    codec = KrakenMarketDataCodec(instruments)
    by_symbol = {instrument.symbol: instrument for instrument in instruments}
    syncs: dict[str, KrakenBookSync] = {}
    for ts, raw in frames:
        for event in codec.decode_raw(raw, ts):
            sync = syncs.get(event.instrument)
            if type(event) is BookSnapshot:
                if sync is None:
                    sync = syncs[event.instrument] = KrakenBookSync(by_symbol[event.instrument], depth,
                                                                    *codec.wire_decimals(event.instrument))
                sync.on_snapshot(event)
            else:
                sync.on_diff(event)
    return syncs


def totals(syncs: dict[str, KrakenBookSync]) -> tuple[int, int]:
    return sum(s.checksums_ok for s in syncs.values()), sum(s.checksums_failed for s in syncs.values())


def test_recorded_v1_session_verifies_every_checksum(v1_session):
    syncs = replay_v1(*v1_session)
    assert v1_session[1] == 1000 and len(syncs) == 10
    assert totals(syncs) == (4269, 0)  # INDEX.md: 4269/4269
    assert all(sync.state is BookState.LIVE and sync.resyncs == {} for sync in syncs.values())
    assert all(sync.book.bid_levels <= 1000 and sync.book.ask_levels <= 1000 for sync in syncs.values())


def test_republished_levels_take_the_careful_path_and_verify_all_the_same(v1_session):
    instruments, depth, frames = v1_session

    def mark_republished(raw: bytes) -> bytes:
        frame = orjson.loads(raw)
        if type(frame) is list:
            for part in frame[1:-2]:
                for level in part.get("a", []) + part.get("b", []):
                    level.append("r")
        return orjson.dumps(frame)
    assert totals(replay_v1(instruments, depth, [(ts, mark_republished(raw)) for ts, raw in frames])) == (4269, 0)


def test_an_altered_quantity_is_caught_by_the_checksum_and_resyncs_only_its_book(v1_session):
    instruments, depth, frames = v1_session
    index = next(i for i, (_, raw) in enumerate(frames) if b'"as"' in raw)
    frame = orjson.loads(frames[index][1])
    best_ask = frame[1]["as"][0]
    best_ask[1] = best_ask[1][:-1] + str((int(best_ask[1][-1]) + 1) % 10)  # one unit more or less, same width
    altered = list(frames)
    altered[index] = (frames[index][0], orjson.dumps(frame))
    syncs = replay_v1(instruments, depth, altered)
    broken = syncs[next(s for s in syncs if syncs[s].state is not BookState.LIVE)]
    assert broken.checksums_failed == 1 and broken.resyncs == {"checksum_mismatch": 1}
    assert broken.state is BookState.STALE and broken.diffs_ignored > 0  # the session holds no second snapshot
    assert sum(1 for sync in syncs.values() if sync.state is BookState.LIVE) == 9
    ok, failed = totals(syncs)
    assert failed == 1 and ok + 1 + broken.diffs_ignored == 4269


# ---------------------------------------------------------------- the v2 excerpt (ccxt)

INSTRUMENTS_V2 = {"BTC/USD": BTC_USD, "DOGE/USDT": DOGE_USDT}  # INDEX.md §4: precisions 1/8 and 5/8


@pytest.fixture(scope="module")
def v2_cases() -> dict[str, list[tuple[str, dict]]]:
    """The excerpt's frames by case, each as (dir, message) with numbers kept as their JSON text."""
    cases: dict[str, list[tuple[str, dict]]] = {}
    with open(recorded(CCXT_EXCERPT), "rb") as file:
        for line in file:
            row = loads_exact(line)
            cases.setdefault(row["case"], []).append((row["dir"], row["msg"]))
    return cases


def replay_v2(messages) -> tuple[dict[str, KrakenBookSync], list[SyncResult]]:
    """One connection: its subscribe says the depth; each book's sync follows its messages."""
    codec = KrakenMarketDataCodec(INSTRUMENTS_V2.values())
    depth = next(int(msg["params"]["depth"]) for direction, msg in messages if direction == "out")
    syncs = {symbol: KrakenBookSync(instrument, depth) for symbol, instrument in INSTRUMENTS_V2.items()}
    results = []
    for direction, msg in messages:
        if direction == "in":
            for event in codec.decode(msg, 0):
                sync = syncs[event.instrument]
                results.append(sync.on_snapshot(event) if type(event) is BookSnapshot else sync.on_diff(event))
    return syncs, results


def test_recorded_v2_excerpt_verifies_every_checksum(v2_cases):
    ok = failed = 0
    for messages in v2_cases.values():
        syncs, results = replay_v2(messages)
        assert all(result in (SyncResult.LOADED, SyncResult.APPLIED) for result in results)
        ok, failed = ok + totals(syncs)[0], failed + totals(syncs)[1]
    assert (ok, failed) == (14, 0)  # INDEX.md §4: 14/14


def test_v2_repeated_snapshot_and_truncation_of_the_level_pushed_out(v2_cases):
    messages = v2_cases["orderbook reset in place on repeated snapshot"]
    _, results = replay_v2(messages)
    assert Counter(results) == Counter({SyncResult.LOADED: 2, SyncResult.APPLIED: 7})
    # In the first round 85601.6 is deleted and 85608 comes in; when 85601.6 comes back, 85608 is pushed out
    # of the depth-10 book with no delete, and the book is the snapshot's again (same checksum).
    first_round = messages[:8]
    assert [msg.get("type") for _, msg in first_round[-5:]] == ["snapshot"] + ["update"] * 4
    syncs, _ = replay_v2(first_round)
    book = syncs["BTC/USD"].book
    asks = dict(book.top(11)[1])
    assert book.ask_levels == 10 and 856016 in asks and 856080 not in asks
    assert syncs["BTC/USD"].checksum() == int(first_round[3][1]["data"][0]["checksum"])


def test_v2_thin_snapshot_without_checksum_is_taken_unchecked_then_replaced(v2_cases):
    syncs, results = replay_v2(v2_cases["orderbook depth kept when a deeper snapshot follows a thin one"])
    sync = syncs["DOGE/USDT"]
    assert results == [SyncResult.LOADED, SyncResult.LOADED, SyncResult.APPLIED, SyncResult.APPLIED]
    assert (sync.checksums_ok, sync.checksums_failed) == (3, 0)  # the thin snapshot had none to check
    assert (sync.book.bid_levels, sync.book.ask_levels) == (10, 10)


def test_v2_qty_zero_deletes_and_an_altered_quantity_is_caught(v2_cases):
    messages = v2_cases["spot orderbook depth 10"]
    syncs, _ = replay_v2(messages)
    assert 632967 not in dict(syncs["BTC/USD"].book.top(10)[0])  # {"price":63296.7,"qty":0}
    altered = copy.deepcopy(messages)
    update = altered[-1][1]["data"][0]
    assert update["bids"][1] == {"price": "63294.6", "qty": "0.31581476"}
    update["bids"][1]["qty"] = "0.31581477"
    syncs, results = replay_v2(altered)
    assert results[-1] is SyncResult.CHECKSUM_MISMATCH
    assert syncs["BTC/USD"].resyncs == {"checksum_mismatch": 1} and syncs["BTC/USD"].state is BookState.STALE
