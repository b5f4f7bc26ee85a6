"""`verify-feed` on the recorded oracles: consistent recordings pass with the counts INDEX.md gives, an
altered copy is caught, unusable input exits 2 naming the problem."""
from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from engine.app.verify import verify

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT.parent / "shared" / "recorded"
SAMPLES = RECORDED / "bmoscon+cryptofeed" / "sample_data"
HFT = RECORDED / "nkaz001+hftbacktest" / "examples"
needs_recordings = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recorded data not found at {RECORDED}")


def verify_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "verify-feed", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@needs_recordings
@pytest.mark.parametrize("files, venue, instruments, snapshots", [
    (["BINANCE.http.0.0", "BINANCE.ws.1.0"], "binance", 4, 4),
    (["BINANCE_US.http.0.0", "BINANCE_US.ws.1.0"], "binance", 4, 4),
    (["BINANCE_TR.http.0.0", "BINANCE_TR.ws.1.0"], "binance", 4, 3),
    (["BINANCE_FUTURES.http.0.0", "BINANCE_FUTURES.ws.1.0"], "binance-usdm", 4, 4),
    (["BINANCE_DELIVERY.http.0.0", "BINANCE_DELIVERY.ws.1.0"], "binance-coinm", 10, 10),
])
def test_cryptofeed_binance_chains_have_no_gap(files, venue, instruments, snapshots):
    summary = verify([SAMPLES / f for f in files], venue)
    assert summary.consistent and summary.sequence_gaps == 0 and summary.malformed == 0
    assert len(summary.instruments) == instruments
    assert summary.events["BookSnapshot"] == snapshots


@needs_recordings
def test_hftbacktest_spot_capture_across_midnight_matches_every_book_ticker_via_the_command():
    done = verify_cli(str(HFT / "spot" / "btcusdt_20240808.gz"), str(HFT / "spot" / "btcusdt_20240809.gz"),
                      "--venue", "binance", "--json")
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    assert result["sequence_gaps"] == 0 and result["top_of_book_mismatched"] == 0
    assert result["top_of_book_checked"] > 1000 and result["messages"] > 90_000


@needs_recordings
def test_an_altered_level_is_caught_with_exit_1(tmp_path):
    lines = gzip.decompress((HFT / "usdm" / "btcusdt_20240808.gz").read_bytes()).splitlines()
    tickers = {}  # update id → best bid price of the venue's bookTicker
    for line in lines:
        if b"@bookTicker" in line:
            data = orjson.loads(line.partition(b" ")[2])["data"]
            tickers[data["u"]] = data["b"]
    for i, line in enumerate(lines):  # alter the quantity of a best bid the venue's ticker will vouch for
        if i < 20_000 or b"depthUpdate" not in line:
            continue
        stamp, _, frame = line.partition(b" ")
        msg = orjson.loads(frame)
        levels = [level for level in msg["data"]["b"] if level[0] == tickers.get(msg["data"]["u"])]
        if levels and levels[0][1] != "0":
            levels[0][1] = "123.456"
            lines[i] = stamp + b" " + orjson.dumps(msg)
            break
    altered = tmp_path / "altered.gz"
    altered.write_bytes(gzip.compress(b"\n".join(lines)))
    done = verify_cli(str(altered), "--venue", "binance-usdm", "--json")
    assert done.returncode == 1
    result = orjson.loads(done.stdout)
    assert result["top_of_book_mismatched"] > 0 and result["resyncs"].get("top_mismatch", 0) > 0


def test_missing_and_unreadable_files_exit_2_naming_them(tmp_path):
    done = verify_cli(str(tmp_path / "nope.gz"), "--venue", "binance")
    assert done.returncode == 2 and "nope.gz" in done.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 this is not a recording\n")
    done = verify_cli(str(junk), "--venue", "binance")
    assert done.returncode == 2 and "junk.bin" in done.stderr and "not a recording format" in done.stderr


def test_malformed_frames_are_counted_and_named_without_stopping(tmp_path):
    good = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":6,"b":[["1.5","2"]],"a":[]}'
    path = tmp_path / "cap"
    path.write_bytes(b"1 " + good + b'\n2 {"e":"depthUpdate","s":"BTCUSDT","U":"x"}\n3 {"truncated\n4 ' + good + b"\n")
    summary = verify([path], "binance")
    assert (summary.messages, summary.malformed) == (4, 2)
    assert any("'U' should be an integer" in p for p in summary.problems)


def test_a_line_that_cannot_be_read_is_a_malformed_message_named_by_file_and_line(tmp_path):
    good = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":6,"b":[["1.5","2"]],"a":[]}'
    path = tmp_path / "cap"
    path.write_bytes(b"1 " + good + b"\nnot a capture line\n2 " + good + b"\n")
    summary = verify([path], "binance")
    assert (summary.messages, summary.malformed, summary.events["DepthDiff"]) == (3, 1, 2)
    assert summary.problems == [f"message 2: {path}:2: expected '<local_ns> <json>', got b'not a capture line'"]


EXCERPT = RECORDED / "ccxt+ccxt" / "ts" / "src" / "test" / "static" / "ws" / "kraken.json.watchOrderBook.excerpt.jsonl"


@needs_recordings
@pytest.mark.parametrize("files, ok, instruments", [
    ([SAMPLES / "KRAKEN.ws.50.0"], 4269, 10),                           # pairs learned from the frames
    ([SAMPLES / "KRAKEN.0", SAMPLES / "KRAKEN.ws.50.0"], 4269, 10),     # and from AssetPairs metadata
    ([EXCERPT], 14, 2),                                                  # WS v2, JSON numbers
])
def test_kraken_checksums_all_verify(files, ok, instruments):
    summary = verify(files, "kraken")
    assert (summary.checksums_ok, summary.checksums_failed) == (ok, 0)
    assert len(summary.instruments) == instruments and summary.consistent and summary.malformed == 0


@needs_recordings
def test_an_altered_kraken_level_fails_its_checksum_with_exit_1(tmp_path):
    lines = (SAMPLES / "KRAKEN.ws.50.0").read_bytes().splitlines()
    for i, line in enumerate(lines):
        if i > 2000 and b'{"a":[["' in line and b'"c":' in line:
            head, _, rest = line.partition(b'{"a":[["')
            price, _, after = rest.partition(b'","')
            volume, _, tail = after.partition(b'"')
            lines[i] = head + b'{"a":[["' + price + b'","' + volume[:-1] + (b"1" if volume[-1:] != b"1" else b"2") \
                + b'"' + tail
            break
    altered = tmp_path / "KRAKEN.ws.50.0"
    altered.write_bytes(b"\n".join(lines) + b"\n")
    done = verify_cli(str(altered), "--venue", "kraken", "--json")
    assert done.returncode == 1
    result = orjson.loads(done.stdout)
    assert result["checksums_failed"] == 1 and result["resyncs"] == {"checksum_mismatch": 1}


BYBIT_DUMP = RECORDED / "nautechsystems+nautilus_trader" / "tests" / "test_data" / "bybit" / "xrpusdt-ob500.data.zip"


@needs_recordings
@pytest.mark.parametrize("files, venue, expected", [
    ([SAMPLES / "OKX.ws.1.0"], "okx", dict(checksums_ok=290, instruments=3)),
    ([SAMPLES / "OKCOIN.ws.1.0"], "okx", dict(checksums_ok=6, instruments=4)),
    ([BYBIT_DUMP], "bybit", dict(checksums_ok=0, instruments=1)),              # the venue's zip, as shipped
    ([SAMPLES / "COINBASE.ws.28.0"], "coinbase", dict(checksums_ok=0, instruments=10)),
])
def test_okx_bybit_and_coinbase_recordings_verify(files, venue, expected):
    summary = verify(files, venue)
    assert summary.consistent and summary.malformed == 0 and summary.sequence_gaps == 0
    assert summary.checksums_ok == expected["checksums_ok"] and summary.checksums_failed == 0
    assert len(summary.instruments) == expected["instruments"] and summary.crossed_books == 0


@needs_recordings
def test_a_bybit_dump_missing_a_delta_is_a_gap_with_exit_1(tmp_path):
    import zipfile
    with zipfile.ZipFile(BYBIT_DUMP) as archive:
        [name] = archive.namelist()
        lines = archive.read(name).splitlines()
    del lines[25]  # a delta the venue sent and the recording lost
    thinner = tmp_path / "thinner.data.zip"
    with zipfile.ZipFile(thinner, "w") as archive:
        archive.writestr(name, b"\n".join(lines) + b"\n")
    done = verify_cli(str(thinner), "--venue", "bybit", "--json")
    assert done.returncode == 1
    assert orjson.loads(done.stdout)["sequence_gaps"] == 1


@needs_recordings
def test_a_truncated_recording_exits_1_naming_the_file_and_the_line_from_verify_feed_and_from_a_replay(tmp_path):
    whole = (HFT / "spot" / "btcusdt_20240808.gz").read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[:len(whole) // 4])   # a recorder killed mid-write
    done = verify_cli(str(cut), "--venue", "binance")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{cut}: line " in done.stderr and "truncated or corrupt" in done.stderr
    scenario = tmp_path / "cut.toml"
    scenario.write_text((ROOT / "scenarios" / "binance_spot_recorded.toml").read_text().replace(
        '"../../shared/recorded/nkaz001+hftbacktest/examples/spot/btcusdt_20240808.gz"', f'"{cut}"'))
    run = subprocess.run([sys.executable, "-m", "engine", "run", str(scenario), "--out", str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{cut}: line " in run.stderr and "truncated or corrupt" in run.stderr


@needs_recordings
def test_frames_of_another_venue_are_not_a_consistent_recording_of_the_venue_named():
    kraken = str(SAMPLES / "KRAKEN.ws.50.0")
    done = verify_cli(kraken, "--venue", "binance", "--json")
    result = orjson.loads(done.stdout)
    assert done.returncode == 1 and result["foreign"] and not result["consistent"]
    assert result["malformed"] > result["messages"] // 2
    assert "messages are not binance market-data frames: this is not a recording of binance" in done.stderr
    assert verify_cli(kraken, "--venue", "kraken").returncode == 0
