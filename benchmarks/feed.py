"""Market-data throughput: codec + book sync + exact book, against the bare work, in one run.

Over the hftbacktest Binance USD-M capture (`../shared/recorded/nkaz001+hftbacktest/examples/usdm/
btcusdt_20240808.gz`), read into memory once, alternating rounds so that the machine's drift hits both:
- the engine's path with every integrity check on: the Binance codec as a replay calls it (`decode_raw`: the
  frame's bytes read in C where the compiled part was built, orjson and the Python decode otherwise; exact
  integers of the capture's precision, 2 price and 3 quantity decimals), the sync state machine (pu chain,
  snapshot bracketing), the bookTicker top-of-book oracle at every shared update id, and a crossed-book check
  after every applied diff;
- a bare loop: orjson parse, levels applied to two sortedcontainers `SortedDict`s keyed by float price.
It prints messages and level updates per second (the best round of each, and the median) and, as its
last line, `ratio=R` = best engine rate / best bare rate.

Run: python benchmarks/feed.py [--rounds N] [FILE --symbol S --price-decimals P --qty-decimals Q]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine.contracts import SyncResult  # noqa: E402
from adapters.binance.book_sync import BinanceBookSync  # noqa: E402
from adapters.binance.market_data import BinanceMarketDataCodec  # noqa: E402
from engine.messages import BookSnapshot, DepthDiff, TopOfBook  # noqa: E402
from engine.model import compiled  # noqa: E402
from engine.model.numbers import Instrument  # noqa: E402
from baseline import bare_loop  # noqa: E402
from engine.replay.formats import read_capture  # noqa: E402

CAPTURE = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "usdm" / "btcusdt_20240808.gz"



def engine_loop(frames: list[tuple[int, bytes]], symbol: str, price_decimals: int,
                qty_decimals: int) -> tuple[float, BinanceBookSync]:
    codec = BinanceMarketDataCodec([Instrument(symbol, "binance", symbol, "", "", price_decimals, qty_decimals)],
                                   snapshot_symbol=symbol)
    sync = BinanceBookSync(symbol)
    decode_raw, applied = codec.decode_raw, SyncResult.APPLIED
    on_diff, on_snapshot, check_top, book = sync.on_diff, sync.on_snapshot, sync.check_top, sync.book
    crossed = 0
    t0 = time.perf_counter()
    for ts, raw in frames:
        event = decode_raw(raw, ts)
        kind = type(event)
        if kind is DepthDiff:
            if on_diff(event) is applied and book.is_crossed():
                crossed += 1
        elif kind is TopOfBook:
            check_top(event)
        elif kind is BookSnapshot:
            on_snapshot(event)
    rate = len(frames) / (time.perf_counter() - t0)
    if crossed or sync.gaps or sync.top_mismatches:
        raise SystemExit(f"integrity failed: crossed {crossed}, gaps {sync.gaps}, top mismatches {sync.top_mismatches}")
    return rate, sync


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("file", nargs="?", default=str(CAPTURE))
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--price-decimals", type=int, default=2, help="the instrument's (the default capture's: 2)")
    parser.add_argument("--qty-decimals", type=int, default=3, help="the instrument's (the default capture's: 3)")
    args = parser.parse_args()
    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"capture not found: {path} (the recorded data lives in ../shared/recorded)")
    frames = list(read_capture(path))
    raw = [frame for _, frame in frames]
    levels = 0
    for frame in raw:
        data = orjson.loads(frame)
        data = data.get("data", data)
        if type(data.get("b")) is list:
            levels += len(data["b"]) + len(data["a"])
        elif "bids" in data:
            levels += len(data["bids"]) + len(data["asks"])
    engine_rates, bare_rates = [], []
    sync = None
    for _ in range(args.rounds):
        rate, sync = engine_loop(frames, args.symbol, args.price_decimals, args.qty_decimals)
        engine_rates.append(rate)
        bare_rates.append(bare_loop(raw))
    per_msg = levels / len(raw)
    print(f"{path.name}: {len(raw)} messages, {levels} level updates; checked {sync.tops_checked} "
          f"tops, 0 mismatched, 0 gaps, 0 crossed; compiled parts in use: {', '.join(compiled.LOADED) or 'none'}")
    for name, rates in (("engine codec + sync + book, all checks on", engine_rates),
                        ("bare loop, orjson + SortedDict[float]", bare_rates)):
        best = max(rates)
        print(f"{name}: {best:,.0f} msg/s ({best * per_msg:,.0f} level updates/s) best, "
              f"{statistics.median(rates):,.0f} msg/s median of {args.rounds}")
    print(f"median ratio {statistics.median(engine_rates) / statistics.median(bare_rates):.3f}")
    print(f"ratio={max(engine_rates) / max(bare_rates):.3f}")


if __name__ == "__main__":
    main()
