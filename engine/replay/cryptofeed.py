"""Reader of cryptofeed's raw recordings (`AsyncFileCallback` sample data).

Line forms, TS being local receive time in epoch seconds with a fraction:
- `wss://host <-> TS`          a connection opened
- `wss://host <- TS: JSON`     a frame we sent (a subscribe)
- `TS: JSON`                   a frame received, verbatim
- `URL -> TS: BODY`            a REST response (in the `*.http.*` files: depth snapshots)
Timestamps become integer nanoseconds from their decimal text, never through a float.
"""
from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike

from engine.replay.formats import RecordingFormatError


class LineKind(enum.Enum):
    OPEN = "open"
    SENT = "sent"
    RECEIVED = "received"
    HTTP = "http"


@dataclass(frozen=True, slots=True)
class RecordedLine:
    ts_ns: int
    kind: LineKind
    url: str          # the connection or request URL; "" for a received WebSocket frame
    payload: bytes    # the JSON text; b"" for OPEN


def seconds_to_ns(text: str) -> int:
    """'1618678132.3858151' → 1618678132385815100, exactly (digits past nanoseconds are dropped)."""
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError(f"{text!r} is not a timestamp in seconds")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def read_cryptofeed(path: str | PathLike[str]) -> Iterator[RecordedLine | RecordingFormatError]:
    """Every line of a cryptofeed recording, in file order.

    A line that cannot be read comes as a `RecordingFormatError` naming the file and line, yielded in its
    place rather than raised: a replay counts it and reads on.
    """
    with open(path, "rb") as file:
        data = file.read()
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip() or line.startswith(b"configuration: "):  # cryptofeed's own settings, in `.0` files
            continue
        try:
            yield _parse(line)
        except ValueError as exc:
            yield RecordingFormatError(f"{path}:{number}: {exc}: {line[:80]!r}")


def _parse(line: bytes) -> RecordedLine:
    head, sep, payload = line.partition(b": ")
    head_text = head.decode("ascii")
    if " <-> " in head_text and not sep:
        url, _, ts = line.decode("ascii").partition(" <-> ")
        return RecordedLine(seconds_to_ns(ts.strip()), LineKind.OPEN, url, b"")
    if not sep:
        raise ValueError("expected 'TS: JSON', 'URL <- TS: JSON', 'URL -> TS: BODY' or 'URL <-> TS'")
    if " <- " in head_text:
        url, _, ts = head_text.partition(" <- ")
        return RecordedLine(seconds_to_ns(ts), LineKind.SENT, url, payload)
    if " -> " in head_text:
        url, _, ts = head_text.partition(" -> ")
        return RecordedLine(seconds_to_ns(ts), LineKind.HTTP, url, payload)
    return RecordedLine(seconds_to_ns(head_text), LineKind.RECEIVED, "", payload)
