"""Readers of recorded feed formats, turning files into (local receive time, raw frame) pairs.

It exists so that the replay driver, the tests and the benchmarks read recordings one way, fast, and fail
with the file and line when a recording is not what it claims to be. Frames are handed on as raw JSON
bytes: parsing them is the venue codec's job (and cost).

Format "capture" (hftbacktest's Binance collector, and our synthetic feeds): gzip text, one frame per
line, `<local_recv_ns> <raw JSON>`; an uncompressed file is accepted as well. A whole file is read and
decompressed at once (the recordings are tens of MB at most), then split into lines: far faster than a
line-by-line gzip stream.
"""
from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from os import PathLike

_GZIP_MAGIC = b"\x1f\x8b"
JSON_START = (b"{", b"[")
"""What the frame half of a capture line may start with."""


class RecordingFormatError(ValueError):
    """A recording line that does not have the expected form; names the file and line number."""


class RecordingTruncated(RecordingFormatError):
    """A compressed recording that ends before its end (a recorder killed mid-write) or is corrupt: the
    recording cannot be trusted as a whole. Names the file and the last whole line before the damage."""


def capture_lines(path: str | PathLike[str]) -> list[bytes]:
    """The lines of a capture file, decompressed if it is gzip."""
    with open(path, "rb") as file:
        data = file.read()
    if data[:2] == _GZIP_MAGIC:
        data = gunzip(path, data)
    return data.splitlines()


def gunzip(path: str | PathLike[str], data: bytes) -> bytes:
    """`data` decompressed; `RecordingTruncated` saying after which line it stops if it is cut short or corrupt."""
    try:
        return gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        try:
            lines = zlib.decompressobj(wbits=31).decompress(data).count(b"\n")
        except zlib.error:
            lines = 0
        raise RecordingTruncated(f"{path}: line {lines + 1}: the gzip stream is truncated or corrupt after "
                                 f"{lines} whole lines ({exc})") from None


def line_error(path: str | PathLike[str], line_number: int, line: bytes) -> RecordingFormatError:
    return RecordingFormatError(f"{path}:{line_number}: expected '<local_ns> <json>', got {line[:60]!r}")


def read_capture(path: str | PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """Yield (local_ns, json_bytes) for each frame line of a capture file, in file order.

    Blank lines are skipped; any other line must be a decimal integer, one space, and a JSON object or
    array, else `RecordingFormatError` is raised when that line is reached.
    """
    for line_number, line in enumerate(capture_lines(path), 1):
        stamp, _, frame = line.partition(b" ")
        if stamp.isdigit() and frame[:1] in JSON_START:
            yield int(stamp), frame
        elif line.strip():
            raise line_error(path, line_number, line)
