"""Capture reader: gzip or plain `<local_ns> <json>` lines, and errors that name the file and line."""
import gzip
from pathlib import Path

import pytest

from engine.replay.formats import RecordingFormatError, read_capture

RECORDED = Path(__file__).resolve().parents[2] / ".." / "shared" / "recorded"
HFT = RECORDED / "nkaz001+hftbacktest" / "examples"

LINES = (b'1723161253937085768 {"stream":"btcusdt@trade","data":{"e":"trade"}}\n'
         b'1723161254206652067 {"lastUpdateId":50093239218,"bids":[],"asks":[]}\n')
EXPECTED = [(1723161253937085768, b'{"stream":"btcusdt@trade","data":{"e":"trade"}}'),
            (1723161254206652067, b'{"lastUpdateId":50093239218,"bids":[],"asks":[]}')]


def test_gzip_capture(tmp_path):
    path = tmp_path / "capture.gz"
    path.write_bytes(gzip.compress(LINES))
    assert list(read_capture(path)) == EXPECTED


def test_uncompressed_capture_with_blank_and_crlf_lines(tmp_path):
    path = tmp_path / "capture.txt"
    path.write_bytes(LINES.replace(b"\n", b"\r\n", 1) + b"\n")
    assert list(read_capture(str(path))) == EXPECTED


@pytest.mark.parametrize("bad_line", [
    b'{"stream":"btcusdt@trade"}',               # no timestamp
    b'1723161253937085768',                       # no frame
    b'1723161253937085768 ',                      # empty frame
    b'17231612539.37 {"e":"trade"}',              # not an integer
    b'-5 {"e":"trade"}',                          # not a receive time
    b'1723161253937085768 not json',              # not JSON
    b'1723161253937085768\t{"e":"trade"}',        # wrong separator
])
def test_a_bad_line_names_the_file_and_line(tmp_path, bad_line):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(LINES + bad_line + b"\n"))
    frames = read_capture(path)
    assert next(frames) == EXPECTED[0]
    with pytest.raises(RecordingFormatError, match=r"broken\.gz:3: expected '<local_ns> <json>'"):
        list(frames)


def test_real_capture_reads_every_line():
    path = HFT / "spot" / "btcusdt_20240808.gz"
    if not path.exists():
        pytest.skip(f"recorded data not found at {path} (shared/recorded is absent)")
    frames = list(read_capture(path))
    assert len(frames) == 1 + 3451 + 28040 + 9757  # INDEX.md: snapshot, depth, bookTicker, trade
    assert frames[0][0] == 1723161253937085768
    assert frames[0][1].startswith(b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate"')
    assert all(a[0] <= b[0] for a, b in zip(frames, frames[1:]))
