"""What a feed restart and a book resync cost in a replay, against one reading of the recording, in one run.

Over the hftbacktest Binance spot capture (`../shared/recorded/nkaz001+hftbacktest/examples/spot/
btcusdt_20240808.gz`), or the files given, or a synthetic capture of `--synthetic-s` seconds (26000 s is
about a million events), rounds of:
- the ceiling: one whole reading of the recording, every record decoded into events;
- a restart near the end: a new reading that skips all events but the last, up to its first event;
- a resync at the end: the first snapshot request of a fresh `ShadowBooks` (it reads and syncs the whole
  recording once), then a request 100 events later (it goes on from the first).
It prints the best (and median) time of each and, as its last line, `ratio=R` = the best first resync
request / the best whole reading: what a run pays, once, for all the resyncs it will ask.

Run: python benchmarks/resync.py [--rounds N] [FILE ... | --synthetic-s S]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.binance.book_sync import BinanceBookSync  # noqa: E402
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument  # noqa: E402
from engine.replay import synthetic  # noqa: E402
from engine.replay.shadow_books import ShadowBooks  # noqa: E402
from engine.replay.source import RecordedFeed  # noqa: E402

CAPTURE = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "spot" / "btcusdt_20240808.gz"
BTCUSDT = binance_spot_instrument("BTCUSDT", "BTC", "USDT")


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def one_round(files: list[Path]) -> dict[str, float]:
    feed = RecordedFeed(files, BinanceMarketDataCodec([BTCUSDT], snapshot_symbol="BTCUSDT"))
    reading, events = timed(lambda: sum(1 for _ in feed))
    restart, _ = timed(lambda: next(feed.events(skip=events - 1)))
    shadow = ShadowBooks(feed.independent_events, BinanceBookSync, [BTCUSDT.symbol])
    first, snapshot = timed(lambda: shadow.snapshot(BTCUSDT.symbol, events - 100, 0))
    later, _ = timed(lambda: shadow.snapshot(BTCUSDT.symbol, events, 0))
    if snapshot is None:
        raise SystemExit("the recording's book is not live at its end: nothing to rebuild")
    return {"events": events, "reading": reading, "restart": restart, "first": first, "later": later,
            "levels": len(snapshot.bids) + len(snapshot.asks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--synthetic-s", type=int, help="replay a synthetic capture of this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = args.files or [CAPTURE]
        if args.synthetic_s:
            files = [Path(tmp) / "synthetic.gz"]
            synthetic.generate(files[0], seed=1, duration_s=args.synthetic_s)
        rounds = [one_round(files) for _ in range(args.rounds)]
    first = rounds[0]
    print(f"recording {', '.join(f.name for f in files)}: {first['events']:,} events, "
          f"rebuilt book of {first['levels']:,} levels")
    for key, what in (("reading", "whole reading, every record decoded (the ceiling)"),
                      ("restart", "restart near the end, to its first event"),
                      ("first", "first resync request at the end (reads and syncs the recording)"),
                      ("later", "a request 100 events later")):
        times = [r[key] for r in rounds]
        print(f"{what}: {min(times) * 1e3:,.1f} ms best, {statistics.median(times) * 1e3:,.1f} ms median "
              f"of {args.rounds}")
    print(f"restart / reading {min(r['restart'] for r in rounds) / min(r['reading'] for r in rounds):.3f}")
    print(f"ratio={min(r['first'] for r in rounds) / min(r['reading'] for r in rounds):.3f}")


if __name__ == "__main__":
    main()
