"""cryptofeed's raw recordings: every line kind, exact nanosecond timestamps, bad lines named."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.replay.cryptofeed import LineKind, read_cryptofeed, seconds_to_ns
from engine.replay.formats import RecordingFormatError

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "bmoscon+cryptofeed" / "sample_data"


def test_timestamps_are_exact_nanoseconds():
    assert seconds_to_ns("1618678132.3858151") == 1_618_678_132_385_815_100
    assert seconds_to_ns("1633998512.0633569123") == 1_633_998_512_063_356_912
    assert seconds_to_ns("12") == 12_000_000_000
    with pytest.raises(ValueError):
        seconds_to_ns("1e9")


def test_every_line_kind(tmp_path):
    path = tmp_path / "X.ws.1.0"
    path.write_bytes(b"wss://h <-> 1.5\nwss://h <- 2.25: {\"op\":1}\n3: {\"a\":1}\n\n"
                     b"https://h/depth?x=1 -> 4.000000001: {\"lastUpdateId\":1}\n")
    lines = list(read_cryptofeed(path))
    assert [(l.kind, l.ts_ns, l.url) for l in lines] == [
        (LineKind.OPEN, 1_500_000_000, "wss://h"), (LineKind.SENT, 2_250_000_000, "wss://h"),
        (LineKind.RECEIVED, 3_000_000_000, ""), (LineKind.HTTP, 4_000_000_001, "https://h/depth?x=1")]
    assert lines[2].payload == b'{"a":1}'


def test_a_bad_line_comes_in_its_place_named_by_file_and_number_and_reading_goes_on(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"1: {}\nnot a line\n2: {}\n")
    first, bad, last = read_cryptofeed(path)
    assert (first.ts_ns, last.ts_ns) == (1_000_000_000, 2_000_000_000)
    assert type(bad) is RecordingFormatError and str(bad).startswith(f"{path}:2: ")


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"cryptofeed samples not found at {SAMPLES}")
def test_the_kraken_recording_reads_whole():
    lines = list(read_cryptofeed(SAMPLES / "KRAKEN.ws.50.0"))
    assert sum(l.kind is LineKind.RECEIVED for l in lines) == 4321
    assert all(a.ts_ns <= b.ts_ns for a, b in zip(lines, lines[1:]))
