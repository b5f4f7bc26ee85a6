"""Reader of the hand-transcribed ccxt excerpt: `{"case","dir","msg"}` JSON lines.

Only frames the venue sent (`dir == "in"`) are replayed, with their JSON text exactly as written (Kraken v2
sends prices as JSON numbers, whose digits must reach the codec untouched). The excerpt carries no receive
times: each line gets one millisecond after the previous, and each new case starts a new connection.
"""
from __future__ import annotations

from collections.abc import Iterator
from os import PathLike

import orjson

from engine.replay.formats import RecordingFormatError

_MSG_KEY = b'"msg":'
_STEP_NS = 1_000_000


def read_ccxt_excerpt(path: str | PathLike[str]) -> Iterator[tuple[int, bytes | None] | RecordingFormatError]:
    """(ts_ns, frame) for each incoming frame; (ts_ns, None) where a new case (connection) begins.

    A line that is not an excerpt line comes as a `RecordingFormatError` naming the file and line, yielded in
    its place rather than raised: a replay counts it and reads on.
    """
    with open(path, "rb") as file:
        lines = file.read().splitlines()
    case = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
            start = line.index(_MSG_KEY) + len(_MSG_KEY)
            frame = line[start:line.rindex(b"}")].strip()
            if orjson.loads(frame) != entry["msg"]:
                raise ValueError("'msg' is not the last key of the line")
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            yield RecordingFormatError(f"{path}:{number}: not a ccxt excerpt line: {exc}")
            continue
        ts = number * _STEP_NS
        if entry.get("case") != case:
            case = entry.get("case")
            yield ts, None
        if entry.get("dir") == "in":
            yield ts, frame
