"""The compiled capture reader makes the records its Python form makes, line for line.

`engine/replay/_capture_compiled.pyx` reads a capture's `<local_ns> <json>` lines in C; the Python form in
`engine.replay.recording` is the reference. They are held to the same records on every recorded capture, from the
first line and from lines past it, and on generated lines of every kind: frames, REST and connection lines, stamps of
every length, and lines that are no records at all.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from engine.replay import recording
from engine.replay.formats import capture_lines

HFT = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples"
CAPTURES = sorted(HFT.glob("*/*.gz"))

needs_compiled = pytest.mark.skipif(recording._compiled is None, reason="the compiled reader was not built here (no "
                                                                        "C compiler at install, or ENGINE_PURE_PYTHON)")


def both(lines: list[bytes], start: int = 0, ts: int = 0) -> tuple[list, list]:
    path = Path("generated.capture")
    assert recording._compiled is not None
    return (list(recording._compiled.capture_records(path, lines, start, ts)),
            list(recording._capture_line_records(path, lines, start, ts)))


def test_the_recording_uses_the_compiled_reader_where_it_was_built(tmp_path):
    capture = tmp_path / "feed.capture"
    capture.write_bytes(b'1 {"a":1}\n\nx\n2 {"open":"wss://x"}\n')
    records = list(recording.Recording([capture]).records())
    assert records == list(recording._capture_line_records(capture, capture_lines(capture), 0, 0))
    assert [kind for _, kind, _ in records] == [recording.WEBSOCKET, recording.MALFORMED, recording.OPEN]


@needs_compiled
@pytest.mark.skipif(not CAPTURES, reason=f"the recorded captures are not here ({HFT})")
@pytest.mark.parametrize("path", CAPTURES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_recorded_capture_reads_alike_from_its_start_and_from_a_line_past_it(path):
    lines = capture_lines(path)
    compiled, python = both(lines)
    assert compiled == python and len(compiled) > 30_000
    compiled_past, python_past = both(lines, start=len(lines) // 2, ts=7)
    assert compiled_past == python_past and compiled_past[0] != compiled[0]


STAMP = st.one_of(st.integers(0, 10**19 * 5).map(lambda n: str(n).encode()),
                  st.integers(10**17, 10**21).map(lambda n: str(n).encode()),   # about the 64-bit edge
                  st.sampled_from([b"", b"-1", b"+1", b"1.5", b"01", b"12a", b" 1", b"\xd9\xa1"]))
FRAME = st.sampled_from([b'{"stream":"x","data":{}}', b'[1,2]', b'{"open":"wss://venue"}', b'{"open":',
                         b'{"rest":"https://x/depth?symbol=BTCUSDT","body":{"lastUpdateId":1,"bids":[],"asks":[]}}',
                         b'{"rest":"https://x","body"', b'{"rest":', b'{"rest"', b'{"res', b'{', b'[', b'x{}', b'',
                         b' {"a":1}', b'{"a":1} trailing'])
LINE = st.one_of(st.builds(lambda stamp, sep, frame: stamp + sep + frame, STAMP,
                           st.sampled_from([b" ", b" ", b" ", b"", b"  ", b"\t"]), FRAME),
                 st.sampled_from([b"", b"", b" ", b"garbage", b"1234"]))


@needs_compiled
@given(st.lists(LINE, max_size=12), st.integers(0, 12), st.integers(0, 10**19))
def test_generated_lines_read_alike(lines, start, ts):
    compiled, python = both(lines, min(start, len(lines)), ts)
    assert compiled == python


@needs_compiled
@pytest.mark.parametrize("stamp", [b"1", b"999999999999999999", b"1723161254087896568", b"9223372036854775807",
                                   b"9223372036854775808", b"18446744073709551615", b"18446744073709551616",
                                   b"99999999999999999999", b"00000000000000000000001"])
def test_stamps_of_every_length_read_alike(stamp):
    compiled, python = both([stamp + b' {"a":1}'])
    assert compiled == python == [(int(stamp), recording.WEBSOCKET, b'{"a":1}')]
