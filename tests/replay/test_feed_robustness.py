"""No malformed frame stops a feed: a property test over corrupted recordings.

A valid stretch of the synthetic Binance feed is interleaved with corrupted copies of its frames
(truncated JSON, fields of the wrong type, unknown fields, empty sides, garbage). Every frame the venue
could have sent still arrives, in order; every frame it could not is counted; nothing is raised.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.contracts import MalformedFrame
from adapters.binance.market_data import BinanceMarketDataCodec, binance_spot_instrument
from engine.replay.source import RecordedFeed
from engine.replay.synthetic import synthetic_frames

FRAMES = [frame for _, frame in synthetic_frames(seed=3, duration_s=2)][:40]
CODEC_ARGS = dict(instruments=[binance_spot_instrument("BTCUSDT", "BTC", "USDT")], snapshot_symbol="BTCUSDT")


def corrupt(frame: bytes, how: int, where: int) -> bytes:
    msg = orjson.loads(frame)
    data = msg.get("data", msg)
    key = sorted(data)[where % len(data)]
    if how == 0:
        return frame[: where % max(len(frame) - 1, 1)]                  # truncated JSON
    if how == 1:
        data[key] = {"nested": [key]}                                  # a field of the wrong type
    elif how == 2:
        data["unexpected_field"] = where                               # an unknown field: still valid
    elif how == 3:
        for side in ("b", "a", "bids", "asks"):
            if side in data:
                data[side] = []                                        # empty sides: still valid
    elif how == 4:
        return bytes((where + i) % 256 for i in range(where % 64))     # garbage
    else:
        data.pop(key)                                                  # a missing field
    return orjson.dumps(msg)


def decoded(frame: bytes) -> str:
    """What the codec alone makes of one frame: "event", "nothing" (a frame with no market event) or "malformed"."""
    try:
        event = BinanceMarketDataCodec(**CODEC_ARGS).decode(orjson.loads(frame), 0)
    except (orjson.JSONDecodeError, MalformedFrame):
        return "malformed"
    return "nothing" if event is None else "event"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(FRAMES) - 1), st.integers(0, 5), st.integers(0, 10_000)),
                max_size=12))
def test_corrupted_frames_are_counted_and_never_stop_the_feed(corruptions):
    lines, inserted = [], {}
    for index, how, where in corruptions:
        inserted.setdefault(index, []).append(corrupt(FRAMES[index], how, where))
    for index, frame in enumerate(FRAMES):
        lines.append(frame)
        for bad in inserted.get(index, []):
            if b"\n" in bad or b"\r" in bad or not bad.strip() or bad[:1] not in (b"{", b"["):
                bad = b"{" + bad.replace(b"\n", b" ").replace(b"\r", b" ")  # one capture line each
            lines.append(bad)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "capture"
        path.write_bytes(b"".join(b"%d %s\n" % (i, line) for i, line in enumerate(lines)))
        feed = RecordedFeed([path], BinanceMarketDataCodec(**CODEC_ARGS))
        events = list(feed)
    outcomes = [decoded(line) for line in lines]
    assert feed.frames == len(lines)
    assert feed.malformed == outcomes.count("malformed")
    assert len(events) == outcomes.count("event") and feed.skipped == outcomes.count("nothing")
    assert len(events) >= len(FRAMES)  # every frame the venue could have sent arrived
