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
import zlib
import heapq
from collections import deque
from collections.abc import Iterator
from itertools import islice
from operator import countOf, itemgetter
from pathlib import Path

import orjson

from engine.model import compiled
from engine.replay.bybit_dump import read_bybit_dump
from engine.replay.ccxt_excerpt import read_ccxt_excerpt
from engine.replay.cryptofeed import LineKind, read_cryptofeed
from engine.replay.formats import JSON_START, RecordingFormatError, capture_lines, gunzip, line_error

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
        try:
            with gzip.open(path) as file:  # only the head is decompressed: the reader decompresses the whole
                head = file.read(4096)
        except (EOFError, OSError, zlib.error):
            head = gunzip(path, Path(path).read_bytes())[:4096]   # says where it breaks
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


class Recording:
    """One recording, whose records can be read again and again, from any record on.

    A replay feed restarted after a crash reads the recording again up to where it stopped, and a rebuilder
    of snapshots reads it apart from the feed. So the lines of capture files are decompressed once and kept
    for every reading (a reading holds them all anyway: a capture is read whole), and a reading that starts
    past the first records of a single capture file starts at their line rather than reading through them.
    A recording with a missing file or a file in no format we read is refused when made, before any reading.
    """

    def __init__(self, paths: list[Path]):
        self.paths = [Path(path) for path in paths]
        missing = [str(path) for path in self.paths if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"recording not found: {', '.join(missing)}")
        self._formats = [detect_format(path) for path in self.paths]
        self._lines: dict[Path, list[bytes]] = {}

    def records(self, skip: int = 0) -> Iterator[Record]:
        """The records of all files merged by receive time, without the first `skip` of them."""
        if self._formats == ["capture"]:
            path = self.paths[0]
            return _capture_records(path, self._capture_lines(path), skip)
        streams = [self._records_of(path, kind) for path, kind in zip(self.paths, self._formats)]
        records = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=itemgetter(0))
        deque(islice(records, skip), maxlen=0)
        return records

    def end_ns(self) -> int | None:
        """The receive time of the recording's last record, where it is known without a reading: capture files,
        whose lines are held whole, read from their end (None for the other formats, read as a stream)."""
        if any(kind != "capture" for kind in self._formats):
            return None
        return max(_time_before(lines, len(lines)) for lines in map(self._capture_lines, self.paths))

    def _records_of(self, path: Path, kind: str) -> Iterator[Record]:
        if kind == "capture":
            return _capture_records(path, self._capture_lines(path), 0)
        return _READERS[kind](path)

    def _capture_lines(self, path: Path) -> list[bytes]:
        lines = self._lines.get(path)
        if lines is None:
            lines = self._lines[path] = capture_lines(path)
        return lines


def read_recording(paths: list[Path]) -> Iterator[Record]:
    """The records of all `paths`, merged by receive time, read once. A bad recording is refused before any
    is read."""
    return Recording(paths).records()


def _capture_records(path: Path, lines: list[bytes], skip: int) -> Iterator[Record]:
    """The records of a capture's `lines`, without the first `skip`: the replay's hot path, compiled where it could be
    built (`_capture_compiled.pyx`, the same records as `_capture_line_records`)."""
    start = _line_after(lines, skip)
    ts = _time_before(lines, start)
    if _compiled is not None:
        return _compiled.capture_records(path, lines, start, ts)  # type: ignore[no-any-return]
    return _capture_line_records(path, lines, start, ts)


def _capture_line_records(path: Path, lines: list[bytes], start: int, ts: int) -> Iterator[Record]:
    """read_capture's loop, fused with the REST and connection lines' tests, from line index `start` (`ts`: the
    receive time of the last record before it).

    Every line but an empty one is a record; one that is not `<local_ns> <json>` is a MALFORMED one.
    """
    for line_number, line in enumerate(islice(lines, start, None), start + 1):
        stamp, _, frame = line.partition(b" ")
        if not (stamp.isdigit() and frame[:1] in JSON_START):
            if line:
                yield _malformed_record(path, line_number, line, ts)
        elif frame.startswith(_REST_PREFIX):
            ts = int(stamp)
            yield _rest_record(path, line_number, ts, frame)
        elif frame.startswith(_OPEN_PREFIX):
            ts = int(stamp)
            yield ts, OPEN, b""
        else:
            ts = int(stamp)
            yield ts, WEBSOCKET, frame


def _malformed_record(path: Path, line_number: int, line: bytes, ts: int) -> Record:
    """The record of a capture line that is not `<local_ns> <json>`, at the time of the record before it."""
    return ts, MALFORMED, str(line_error(path, line_number, line)).encode()


def _line_after(lines: list[bytes], records: int) -> int:
    """The index of the line after the first `records` records of a capture (its non-empty lines)."""
    index = records
    empty = countOf(islice(lines, index), b"")
    while empty:  # as many more lines as there were empty ones, and again for the empty ones among those
        start, index = index, index + empty
        empty = countOf(islice(lines, start, index), b"")
    return index


def _time_before(lines: list[bytes], index: int) -> int:
    """The receive time of the last record before line `index` that has one (0 if none)."""
    for before in range(min(index, len(lines)) - 1, -1, -1):
        stamp, _, frame = lines[before].partition(b" ")
        if stamp.isdigit() and frame[:1] in JSON_START:
            return int(stamp)
    return 0


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


_READERS = {"cryptofeed": _cryptofeed_records,
            "bybit-zip": lambda path: _frame_records(read_bybit_dump(path)),
            "ccxt-excerpt": lambda path: _frame_records(read_ccxt_excerpt(path))}


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


_compiled = compiled.load("engine.replay._capture_compiled", Path(__file__).with_name("_capture_compiled.pyx"))
if _compiled is not None:
    _compiled.bind(_rest_record, _malformed_record, WEBSOCKET, OPEN, _REST_PREFIX, _OPEN_PREFIX)
