"""Bybit's zipped order-book dumps: read in place, one frame a line, timed by the frame's own `ts`."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import orjson
import pytest

from engine.replay import bybit_dump
from engine.replay.bybit_dump import read_bybit_dump
from engine.replay.formats import RecordingFormatError

DUMP = (Path(__file__).resolve().parents[2].parent / "shared" / "recorded" / "nautechsystems+nautilus_trader"
        / "tests" / "test_data" / "bybit" / "xrpusdt-ob500.data.zip")

LINES = [b'{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1733011200691,"data":{"s":"BTCUSDT",'
         b'"b":[["1","2"]],"a":[["3","4"]],"u":7,"seq":9},"cts":1733011200589}',
         b'{"topic":"orderbook.1.BTCUSDT","type":"delta","ts":1733011200793,"data":{"s":"BTCUSDT",'
         b'"b":[],"a":[["3","0"]],"u":8,"seq":11},"cts":1733011200790}']


def zipped(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "dump.data.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_the_recorded_dump_reads_in_place_as_bybits_own_frames():
    if not DUMP.exists():
        pytest.skip(f"recorded data not found at {DUMP} (shared/recorded is absent)")
    frames = list(read_bybit_dump(DUMP))
    # INDEX.md: 1 snapshot and 49 deltas of orderbook.500.XRPUSDT.
    assert len(frames) == 50
    parsed = [orjson.loads(raw) for _, raw in frames]
    assert [obj["type"] for obj in parsed] == ["snapshot"] + ["delta"] * 49
    assert all(ts == obj["ts"] * 1_000_000 for (ts, _), obj in zip(frames, parsed))
    assert frames[0][0] == 1_733_011_200_691_000_000
    assert all(not raw.endswith(b"\r") for _, raw in frames)  # Bybit writes CRLF line ends


def test_crlf_blank_lines_and_a_missing_last_newline(tmp_path):
    path = zipped(tmp_path, {"2024-12-01_BTCUSDT_ob1.data": LINES[0] + b"\r\n\r\n" + LINES[1]})
    assert list(read_bybit_dump(path)) == [(1_733_011_200_691_000_000, LINES[0]),
                                          (1_733_011_200_793_000_000, LINES[1])]


def test_lines_that_straddle_read_chunks_are_joined(tmp_path, monkeypatch):
    monkeypatch.setattr(bybit_dump, "_CHUNK", 7)
    path = zipped(tmp_path, {"a.data": b"\n".join(LINES) + b"\n"})
    assert [raw for _, raw in read_bybit_dump(path)] == LINES


def test_every_member_is_read_in_order_and_an_unzipped_file_as_well(tmp_path):
    path = zipped(tmp_path, {"a.data": LINES[0] + b"\n", "b.data": LINES[1] + b"\n"})
    assert [raw for _, raw in read_bybit_dump(path)] == LINES
    plain = tmp_path / "dump.data"
    plain.write_bytes(b"\r\n".join(LINES) + b"\r\n")
    assert list(read_bybit_dump(plain)) == list(read_bybit_dump(path))


@pytest.mark.parametrize("line", [b"not json", b'{"topic":"x","data":{}}', b'{"ts":"1733011200691"}',
                                  b'[{"ts":1}]'])
def test_a_bad_line_comes_in_its_place_named_by_file_member_and_line_and_reading_goes_on(tmp_path, line):
    path = zipped(tmp_path, {"day.data": LINES[0] + b"\n" + line + b"\n" + LINES[1] + b"\n"})
    first, bad, last = read_bybit_dump(path)
    assert first == (1_733_011_200_691_000_000, LINES[0]) and last == (1_733_011_200_793_000_000, LINES[1])
    assert type(bad) is RecordingFormatError
    assert re.match(r".*dump\.data\.zip:day\.data:2: expected a JSON object", str(bad))
