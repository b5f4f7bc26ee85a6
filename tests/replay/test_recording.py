"""A recording read again from any record on gives exactly the rest of its records, whatever lies there."""
from __future__ import annotations

import gzip

import pytest

from engine.replay.recording import MALFORMED, Recording, read_recording

LINES = [b'5 {"a":1}', b"", b"garbage", b'7 {"rest":"https://x/depth","body":{"b":2}}', b"", b"",
         b'9 {"open":"wss://x"}', b"more garbage", b'11 [3]', b"   ", b'12 {"c":4}']


def test_records_from_any_record_on_are_the_rest_of_a_whole_reading(tmp_path):
    path = tmp_path / "cap.gz"
    path.write_bytes(gzip.compress(b"\n".join(LINES) + b"\n"))
    recording = Recording([path])
    everything = list(recording.records())
    assert [source for _, source, _ in everything].count(MALFORMED) == 3  # a line of blanks is not empty
    assert len(everything) == len([line for line in LINES if line])
    for skip in range(len(everything) + 2):
        assert list(recording.records(skip)) == everything[skip:], skip


def test_a_recording_of_several_files_reads_again_from_any_record_on(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_bytes(b'1000000000 {"a":1}\n4000000000 {"a":4}\nbad\n6000000000 {"a":6}\n')
    second.write_bytes(b'wss://x <-> 2.0\n3.0: {"b":3}\n5.0: {"b":5}\n')
    recording = Recording([first, second])
    everything = list(recording.records())
    # in receive-time order, the bad line at its predecessor's time
    assert [ts // 10**9 for ts, _, _ in everything] == [1, 2, 3, 4, 4, 5, 6]
    for skip in range(len(everything) + 1):
        assert list(recording.records(skip)) == everything[skip:]
    assert list(read_recording([first, second])) == everything


def test_a_bad_recording_is_refused_when_made(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        Recording([tmp_path / "nope"])
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00 not a recording\n")
    with pytest.raises(ValueError, match="not a recording format"):
        Recording([junk])
