"""Every malformed scenario in tests/scenarios_bad/ is refused before anything starts: exit 2 from `validate` and
from `run`, a message naming the file and the offending key (or what is wrong with the file itself), and never a
traceback. Each file holds one mistake a user makes; the ones issue 10 found silently accepted are among them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.app import cli

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "scenarios_bad"

EXPECTED = {
    "a_directory.toml": "is a directory",
    "bad_cadence.toml": "strategy[0].cadence: expected one of",
    "bogus_table.toml": "bogus: unknown table",
    "book_is_a_number.toml": "book: expected a table, found 5",
    "ema_cross_without_a_size.toml": "strategy[0].position: required where the table names no sizing",
    "duration_of_three_years.toml": "feed.duration_s: expected less than or equal to 604800, found 100000000",
    "fast_as_text.toml": "strategy[0].fast: expected a valid integer, found '8'",
    "fast_not_faster.toml": "strategy[0].fast: must be shorter than slow (40), got 400",
    "fault_on_no_actor.toml": "faults[0].actor: expected one of",
    "float_tick_size.toml": "instruments[0].tick_size: expected a decimal number written as a string",
    "invalid_toml.toml": "not valid TOML: Expected ']' at the end of a table declaration (at line 6",
    "latency_usec.toml": "venue.latency_usec: unknown key (did you mean latency_us?)",
    "live_venue_without_credentials.toml": "venue.api_key_env: the environment variable ENGINE_TEST_UNSET_KEY is not set",
    "long_onyl.toml": "strategy[0].long_onyl: unknown key (did you mean long_only?)",
    "max_positon.toml": "risk.max_positon: unknown key (did you mean max_position?)",
    "missing_recording.toml": "feed.files[0]: no such file",
    "name_escapes_the_output_folder.toml": "engine.name: expected a name of letters",
    "negative_fee.toml": "venue.maker_fee: expected a finite, non-negative decimal number, found '-0.001'",
    "no_risk.toml": "risk: required, and missing",
    "not_utf8.toml": "not UTF-8 text (line 4",
    "price_decimals_40.toml": "instruments[0].price_decimals: expected less than or equal to 12, found 40",
    "portfolio_currency_unpriced.toml": "portfolio.currency: equity is valued in EUR, and no instrument of the run "
                                        "pairs BTC, USDT with it",
    "quote_size_below_the_lot.toml": "strategy[0].quote_size: '0.000001' is not a whole number of lots of 0.00001000",
    "quoting_with_sizing.toml": "strategy[0].sizing: market_maker states its quotes' sizes itself",
    "qty_decimals_1000.toml": "instruments[0].qty_decimals: expected less than or equal to 12, found 1000",
    "queue_modle_venue.toml": "venue.queue_modle: unknown key (did you mean queue_model?)",
    "seed_on_a_recording.toml": "feed.seed: applies to a synthetic feed only",
    "sizing_key_of_another_method.toml": "strategy[0].sizing.risk_fraction: means nothing to method 'fixed'",
    "stop_and_trailing_stop.toml": "strategy[0].stop_bps: give stop_bps or trailing_bps, not both",
    "strategy_single_table.toml": "strategy: expected an array of tables [[strategy]]",
    "unfed_strategy.toml": "strategy[0].instruments: 'ETH/USDT' has no feed",
    "unknown_venue.toml": "instruments[0].venue: expected a venue (binance, okx, kraken, bybit, coinbase), found 'nowhere'",
    "urgency_unknown.toml": "strategy[0].urgency: expected 'aggressive' or 'passive', found 'hasty'",
}
FILES = sorted(BAD.iterdir())


def test_each_malformed_file_is_a_mistake_of_its_own_and_there_are_at_least_twenty():
    assert sorted(path.name for path in FILES) == sorted(EXPECTED)
    assert len(FILES) >= 20 and len(set(EXPECTED.values())) == len(EXPECTED)


def _lines_about(stderr: str, path: Path) -> str:
    return "\n".join(line for line in stderr.splitlines() if line.startswith(f"engine: {path}: "))


def test_validate_refuses_every_malformed_file_in_one_process_naming_file_and_key():
    done = subprocess.run([sys.executable, "-m", "engine", "validate", *map(str, FILES)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""   # not one of them is called valid
    for path in FILES:
        assert EXPECTED[path.name] in _lines_about(done.stderr, path), (path.name, done.stderr)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_run_refuses_each_malformed_file_before_anything_starts(path, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ENGINE_TEST_UNSET_KEY", raising=False)
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    stderr = capsys.readouterr().err
    assert EXPECTED[path.name] in _lines_about(stderr, path), stderr
    assert "Traceback" not in stderr and not (tmp_path / "out").exists()


def test_validate_says_each_shipped_scenario_is_valid():
    files = sorted(str(path) for path in (ROOT / "scenarios").glob("*.toml") if path.name != "paper_binance.toml")
    done = subprocess.run([sys.executable, "-m", "engine", "validate", *files], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == files


def test_the_paper_scenario_is_valid_with_its_credentials_and_refused_without(monkeypatch, capsys):
    paper = str(ROOT / "scenarios" / "paper_binance.toml")
    monkeypatch.delenv("PAPER_API_KEY", raising=False)
    monkeypatch.setenv("PAPER_API_SECRET", "s")
    assert cli.main(["validate", paper]) == 2
    assert "venue.api_key_env: the environment variable PAPER_API_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("PAPER_API_KEY", "k")
    assert cli.main(["validate", paper]) == 0


@pytest.mark.parametrize("argv", [["--log-level", "bogus", "validate", "x.toml"], ["validate"], ["schema", "x"]])
def test_a_bad_command_line_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 2 and "usage: python -m engine" in capsys.readouterr().err
