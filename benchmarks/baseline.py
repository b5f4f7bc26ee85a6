"""The bare ceiling the benchmarks hold the engine against, measured in the same run.

Each benchmark script prints its own figure and this loop's over the same messages, already in memory.
"""
from __future__ import annotations

import time

import orjson
from sortedcontainers import SortedDict


def bare_loop(frames: list[bytes]) -> float:
    """Messages per second of the bare work over `frames`: orjson parse, then levels set or deleted in two
    sortedcontainers `SortedDict`s keyed by float price (the fastest bare form; the engine stays exact)."""
    bids, asks = SortedDict(), SortedDict()
    loads = orjson.loads
    t0 = time.perf_counter()
    for raw in frames:
        msg = loads(raw)
        data = msg.get("data", msg)
        b = data.get("b") if "bids" not in data else data["bids"]
        a = data.get("a") if "asks" not in data else data["asks"]
        if type(b) is list:
            for p, q in b:
                q = float(q)
                if q == 0.0:
                    bids.pop(float(p), None)
                else:
                    bids[float(p)] = q
            for p, q in a:
                q = float(q)
                if q == 0.0:
                    asks.pop(float(p), None)
                else:
                    asks[float(p)] = q
    return len(frames) / (time.perf_counter() - t0)
