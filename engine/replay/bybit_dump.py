"""Reader of Bybit's historical order-book dumps, as Bybit ships them: a zip holding `*.data` JSON lines.

Each line is one v5 WebSocket frame (`{"topic":"orderbook.500.XRPUSDT","type":"snapshot","ts":…,
"data":{…},"cts":…}`), so the Bybit codec decodes it like a live frame. A dump has no local receive time:
the frame's own `ts` (Bybit's send time, ms) becomes the replay time. It is found by a byte scan rather
than a parse, since parsing is the codec's job (and cost), and the order-book `data` object has no `ts`
key of its own. The archive is read with `zipfile` as a stream, in chunks, never extracted to disk: a
day of a liquid symbol is hundreds of MB. An archive's members are read in order; an already unzipped
`.data` file is read as well.
"""
from __future__ import annotations

import zipfile
from collections.abc import Iterator
from os import PathLike
from typing import IO

from engine.replay.formats import RecordingFormatError

_TS_KEY = b'"ts":'
_CHUNK = 1 << 20
_NS_PER_MS = 1_000_000


def read_bybit_dump(path: str | PathLike[str]) -> Iterator[tuple[int, bytes] | RecordingFormatError]:
    """Yield (ts_ns, json_bytes) for each frame line of a Bybit dump (zipped or not), in file order.

    Blank lines are skipped; any other line must be a JSON object with an integer `ts`, else a
    `RecordingFormatError` naming the file, member and line is yielded in its place (not raised: a replay
    counts it and reads on).
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.is_dir():
                    with archive.open(member) as stream:
                        yield from _frames(stream, f"{path}:{member.filename}")
    else:
        with open(path, "rb") as stream:
            yield from _frames(stream, str(path))


def _frames(stream: IO[bytes], where: str) -> Iterator[tuple[int, bytes] | RecordingFormatError]:
    number = 0
    tail = b""
    while True:
        chunk = stream.read(_CHUNK)
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop() if chunk else b""
        for line in lines:
            number += 1
            line = line.rstrip(b"\r")
            if line.strip():
                try:
                    yield _frame_ts(line, where, number), line
                except RecordingFormatError as exc:
                    yield exc
        if not chunk:
            return


def _frame_ts(line: bytes, where: str, number: int) -> int:
    start = line.find(_TS_KEY) + len(_TS_KEY)
    end = start
    while end < len(line) and line[end] in b"0123456789":
        end += 1
    if not line.startswith(b"{") or start < len(_TS_KEY) or end == start:
        raise RecordingFormatError(f"{where}:{number}: expected a JSON object with an integer 'ts': "
                                   f"{line[:80]!r}")
    return int(line[start:end]) * _NS_PER_MS
