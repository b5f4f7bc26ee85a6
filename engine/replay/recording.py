"""Any recording, as one stream of records in receive-time order, whatever format its files are in.

A recording may be several files: cryptofeed keeps REST snapshots and WebSocket frames apart, and a
capture continues past midnight into a second file. Each file's format is recognised from its content,
its records are read, and the files are merged by receive timestamp (ties keep the order of the files
given, so a snapshot file named first stays ahead of frames recorded at the same instant).

Formats: the capture format (`<local_ns> <json>` lines, gzip or plain: hftbacktest and the project's
own), cryptofeed's raw dumps, Bybit's zipped historical order-book dump, and the hand-made ccxt excerpt
(`{"case","dir","msg"}` lines). In the project's own captures (`python -m engine record`), a REST response
is the line `<local_ns> {"rest": "<url>", "body": <response>}`, and a (re)connection `<local_ns> {"open": "<url>"}`.

A file that is not a recording at all is refused before any of it is read; a line of a recording that
cannot be read becomes a `MALFORMED` record, counted and skipped like a malformed frame, so that one bad
line costs one message rather than the rest of the replay.

A record is a plain tuple `(ts_ns, source, payload)`, not an object: a replay reads hundreds of
thousands of them, and a tuple costs a fraction of any class.
"""
from __future__ import annotations

import gzip
import heapq
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

import orjson

from engine.replay.bybit_dump import read_bybit_dump
from engine.replay.ccxt_excerpt import read_ccxt_excerpt
from engine.replay.cryptofeed import LineKind, read_cryptofeed
from engine.replay.formats import JSON_START, RecordingFormatError, capture_lines, line_error

WEBSOCKET = "ws"
"""`Record.source` of a frame received on a WebSocket."""
OPEN = "open"
"""`Record.source` of a new connection (a session boundary: sequences restart)."""
MALFORMED = "malformed"
"""`Record.source` of a line that cannot be read, at the time of the record before it; its payload says
where (file and line) and why. A replay counts it, as it counts a malformed frame, and reads on."""


Record = tuple[int, str, bytes]
"""(ts_ns: local receive time, source: WEBSOCKET, OPEN, MALFORMED or the URL a REST response answered,
payload)."""

_REST_PREFIX = b'{"rest":'
_OPEN_PREFIX = b'{"open":'


def detect_format(path: Path) -> str:
    """'capture', 'cryptofeed', 'bybit-zip' or 'ccxt-excerpt', from the first bytes of the file."""
    with open(path, "rb") as file:
        head = file.read(4096)
    if head[:4] == b"PK\x03\x04":
        return "bybit-zip"
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path) as file:  # only the head is decompressed: the reader decompresses the whole
            head = file.read(4096)
    first = head.lstrip().split(b"\n", 1)[0]
    if first.startswith((b"wss://", b"ws://", b"https://", b"http://")):
        return "cryptofeed"
    stamp, _, rest = first.partition(b" ")
    if stamp.isdigit() and rest[:1] in (b"{", b"["):
        return "capture"
    if stamp[:-1].replace(b".", b"", 1).isdigit() and stamp.endswith(b":"):
        return "cryptofeed"
    if first.startswith(b'{"case"'):
        return "ccxt-excerpt"
    raise RecordingFormatError(f"{path}: not a recording format this engine reads "
                               f"(capture, cryptofeed, Bybit zip dump, ccxt excerpt): starts {first[:60]!r}")


def read_records(path: Path) -> Iterator[Record]:
    """The records of one file, in file order; a line that cannot be read is a `MALFORMED` record."""
    return _READERS[detect_format(path)](path)


def _capture_records(path: Path) -> Iterator[Record]:
    """read_capture's loop, fused with the REST and connection lines' tests: the replay's hot path."""
    ts = 0
    for line_number, line in enumerate(capture_lines(path), 1):
        stamp, _, frame = line.partition(b" ")
        if not (stamp.isdigit() and frame[:1] in JSON_START):
            if line.strip():
                yield ts, MALFORMED, str(line_error(path, line_number, line)).encode()
        elif frame.startswith(_REST_PREFIX):
            ts = int(stamp)
            yield _rest_record(path, line_number, ts, frame)
        elif frame.startswith(_OPEN_PREFIX):
            ts = int(stamp)
            yield ts, OPEN, b""
        else:
            ts = int(stamp)
            yield ts, WEBSOCKET, frame


def _cryptofeed_records(path: Path) -> Iterator[Record]:
    ts = 0
    for line in read_cryptofeed(path):
        if type(line) is RecordingFormatError:
            yield _unreadable(ts, line)
            continue
        ts = line.ts_ns
        if line.kind is LineKind.RECEIVED:
            yield ts, WEBSOCKET, line.payload
        elif line.kind is LineKind.HTTP:
            yield ts, line.url, line.payload
        elif line.kind is LineKind.OPEN:
            yield ts, OPEN, b""


def _frame_records(items: Iterator[tuple[int, bytes | None] | RecordingFormatError]) -> Iterator[Record]:
    """The records of a reader's (ts_ns, frame) pairs, a frame of None being a new connection (the Bybit dump's
    and the ccxt excerpt's readers)."""
    ts = 0
    for item in items:
        if type(item) is RecordingFormatError:
            yield _unreadable(ts, item)
        else:
            ts, frame = item
            yield (ts, OPEN, b"") if frame is None else (ts, WEBSOCKET, frame)


def _unreadable(ts: int, error: RecordingFormatError) -> Record:
    """The record of a line that cannot be read, at the time of the record before it."""
    return ts, MALFORMED, str(error).encode()


_READERS = {"capture": _capture_records, "cryptofeed": _cryptofeed_records,
            "bybit-zip": lambda path: _frame_records(read_bybit_dump(path)),
            "ccxt-excerpt": lambda path: _frame_records(read_ccxt_excerpt(path))}


def check_recording(paths: list[Path]) -> None:
    """Refuse a recording with a missing file (`FileNotFoundError`) or a file in no format we read
    (`RecordingFormatError`), before any of it is read."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"recording not found: {', '.join(missing)}")
    for path in paths:
        detect_format(Path(path))


def read_recording(paths: list[Path]) -> Iterator[Record]:
    """The records of all `paths`, merged by receive time. A bad recording is refused before any is read."""
    check_recording(paths)
    streams = [read_records(Path(p)) for p in paths]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=itemgetter(0))


def rest_line(ts_ns: int, url: str, body: bytes) -> bytes:
    """A REST response as a line of the project's own capture format."""
    return b'%d {"rest":%s,"body":%s}\n' % (ts_ns, orjson.dumps(url), body)


def open_line(ts_ns: int, url: str) -> bytes:
    """A (re)connection as a line of the project's own capture format."""
    return b'%d {"open":%s}\n' % (ts_ns, orjson.dumps(url))


def _rest_record(path: Path, line_number: int, ts: int, frame: bytes) -> Record:
    try:
        line = orjson.loads(frame)
        return ts, line["rest"], orjson.dumps(line["body"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        return _unreadable(ts, RecordingFormatError(f"{path}:{line_number}: REST line is not "
                                                    f"{{'rest', 'body'}}: {exc}"))
