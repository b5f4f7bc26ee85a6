"""Many instruments and venues in one run, as a user runs it (`python -m engine run` in a subprocess): the two
multi-instrument scenarios trade and repeat byte for byte, and a scenario that cannot mean what it says is
refused before the run with exit 2, naming the key."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.test_run_command import ROOT, run_engine, run_report

SPOT = ROOT.parent / "shared" / "recorded" / "nkaz001+hftbacktest" / "examples" / "spot"
THREE_VENUES = ROOT / "scenarios" / "three_venues_synthetic.toml"


@pytest.mark.skipif(not (SPOT / "ethusdt_20240808.gz").is_file() or not (SPOT / "btcusdt_20240808.gz").is_file(),
                    reason=f"the hftbacktest spot captures are not at {SPOT}")
def test_two_recorded_instruments_both_trade_and_the_report_repeats_byte_for_byte(tmp_path):
    scenario = ROOT / "scenarios" / "two_instruments.toml"
    raw_a, report = run_report(scenario, tmp_path / "A")
    raw_b, _ = run_report(scenario, tmp_path / "B")
    assert raw_a == raw_b
    assert set(report["instruments"]) == {"BTC/USDT", "ETH/USDT"}
    assert all(report["instruments"][symbol]["fills"] > 0 for symbol in ("BTC/USDT", "ETH/USDT"))
    book = report["book"]
    assert book["live_at_end"] == {"BTC/USDT": True, "ETH/USDT": True}
    for symbol in ("BTC/USDT", "ETH/USDT"):   # each book checked against its own recording's bookTicker
        counts = book["by_instrument"][symbol]
        assert counts["top_of_book_checked"] > 400 and counts["top_of_book_mismatched"] == 0
        assert counts["sequence_gaps"] == 0
    assert report["malformed_frames"] == 0


def test_one_synthetic_market_on_three_venues_keeps_three_books_live_and_repeats(tmp_path):
    raw_a, report = run_report(THREE_VENUES, tmp_path / "A")
    raw_b, _ = run_report(THREE_VENUES, tmp_path / "B")
    assert raw_a == raw_b
    symbols = {"BTC/USDT", "BTC/USDT@okx", "BTC/USDT@bybit"}
    assert report["book"]["live_at_end"] == dict.fromkeys(sorted(symbols), True)
    per = report["book"]["by_instrument"]
    assert per["BTC/USDT@okx"]["checksums_ok"] > 1000 and per["BTC/USDT@okx"]["checksums_failed"] == 0
    assert per["BTC/USDT"]["top_of_book_checked"] > 1000 and per["BTC/USDT"]["top_of_book_mismatched"] == 0
    assert all(per[symbol]["sequence_gaps"] == 0 for symbol in symbols)
    assert report["instruments"]["BTC/USDT"]["fills"] > 0
    # the venues' files are the run's own: written into its output folder, one per connection
    assert sorted(path.name for path in (tmp_path / "A").glob("synthetic-*")) == [
        "synthetic-binance-btcusdt-seed7-300s.capture", "synthetic-bybit-btcusdt-seed7-300s.capture",
        "synthetic-okx-btc-usdt-seed7-300s.capture"]


def _refused(tmp_path: Path, text: str) -> str:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text)
    done = run_engine("run", str(scenario), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert str(scenario) in done.stderr and not (tmp_path / "out" / "report.json").exists()
    return done.stderr


def _edited(*edits: tuple[str, str]) -> str:
    text = THREE_VENUES.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    return text


BYBIT_CONNECTION = '[[feed.connections]]             # `orderbook.50`\ninstruments = ["BTC/USDT@bybit"]\n'


@pytest.mark.parametrize("edits, complaint", [
    ([("[[strategy]]", "[strategy]")], "strategy: expected an array of tables [[strategy]]"),
    ([(BYBIT_CONNECTION + "depth = 50\n", "[[feed.connections]]\ninstruments = [\"BTC/USDT\"]\n")],
     "feed.connections[2].instruments: 'BTC/USDT' is carried by two connections"),
    ([('instruments = ["BTC/USDT"]\nfast', 'instruments = ["ETH/USDT"]\nfast')],
     "strategy[0].instruments: 'ETH/USDT' is not one of the [[instruments]]"),
    ([(BYBIT_CONNECTION, '[[feed.connections]]\ninstruments = ["BTC/USDT@kraken"]\n')],
     "feed.connections[2].instruments: 'BTC/USDT@kraken' is not one of the [[instruments]]"),
    ([('symbol = "BTC/USDT@okx"', 'symbol = "BTC/USDT"')], "instruments[1].symbol: 'BTC/USDT' is listed twice"),
    ([('symbol = "BTC/USDT@okx"', 'symbol = "BTC/USDT@bybit"')],
     "instruments[1].symbol: must be BASE/QUOTE (BTC/USDT), or BTC/USDT@okx"),
    ([("[[strategy]]\nkind", "[[strategy]]\nname = \"twin\"\nkind"),
      ("[risk]", "[[strategy]]\nname = \"twin\"\nkind = \"ema_cross\"\ninstruments = [\"BTC/USDT\"]\nfast = 2\n"
                 "slow = 5\nposition = \"0.01\"\n\n[risk]")],
     "strategy[1].name: 'twin' is the name of another strategy"),
    ([('instruments = ["BTC/USDT"]\nfast', 'instruments = ["BTC/USDT", "BTC/USDT@okx"]\nfast')],
     "strategy[0].instruments: ema_cross trades one instrument, got 2"),
    ([('depth = 50\n', 'depth = 50\nfiles = ["x"]\n'), ("[[feed.connections]]             # the market",
                                                       'instruments = ["BTC/USDT"]\n\n[[feed.connections]]  #')],
     "feed.instruments: belongs in each [[feed.connections]] table"),
])
def test_a_multi_instrument_scenario_that_cannot_mean_what_it_says_exits_2_naming_the_key(tmp_path, edits, complaint):
    assert complaint in _refused(tmp_path, _edited(*edits))


def test_a_strategy_on_an_instrument_no_feed_carries_is_refused_naming_the_key(tmp_path):
    text = _edited((BYBIT_CONNECTION + "depth = 50\ndelay_ms = 30\n", ""),
                   ('instruments = ["BTC/USDT"]\nfast', 'instruments = ["BTC/USDT@bybit"]\nfast'))
    stderr = _refused(tmp_path, text)
    assert "strategy[0].instruments: 'BTC/USDT@bybit' has no feed: no [feed] connection carries it" in stderr


def test_a_recorded_scenario_with_an_unfed_strategy_instrument_is_refused(tmp_path):
    """The issue's own case: a second instrument added to the recorded scenario but not to its feed."""
    text = (ROOT / "scenarios" / "binance_spot_recorded.toml").read_text()
    text = text.replace('"../../shared/', f'"{ROOT.parent}/shared/')  # the recording where it is, read in place
    eth = ('[[instruments]]\nsymbol = "ETH/USDT"\nvenue = "binance"\nvenue_symbol = "ETHUSDT"\nbase = "ETH"\n'
           'quote = "USDT"\nprice_decimals = 8\nqty_decimals = 8\ntick_size = "0.01"\nlot_size = "0.0001"\n\n')
    text = text.replace("[feed]", eth + "[feed]").replace('[[strategy]]\nkind = "ema_cross"\ninstruments = ["BTC/USDT"]',
                                                         '[[strategy]]\nkind = "ema_cross"\ninstruments = ["ETH/USDT"]')
    stderr = _refused(tmp_path, text)
    assert "strategy[0].instruments: 'ETH/USDT' has no feed" in stderr


def test_the_three_venue_report_names_every_instrument_once(tmp_path):
    _, report = run_report(THREE_VENUES, tmp_path / "A")
    assert sorted(report["position"]) == ["BTC/USDT", "BTC/USDT@bybit", "BTC/USDT@okx"]
    assert orjson.loads(orjson.dumps(report))["runtime"]["conflations"].keys() >= {"strategy", "book"}


def test_crashed_feed_and_book_of_three_venues_come_back_each_book_from_its_own_recording(tmp_path):
    """A restarted book asks for every instrument's snapshot: each is rebuilt from its own venue's recording and
    taken by that venue's sync; a restarted feed reopens the merge where it stopped. Twice, alike."""
    scenario = tmp_path / "crashes.toml"
    scenario.write_text(THREE_VENUES.read_text() + '\n[[faults]]\nactor = "book"\nafter_events = 300\n'
                                                   '\n[[faults]]\nactor = "feed"\nafter_events = 9000\n')
    raw_a, report = run_report(scenario, tmp_path / "A")
    raw_b, _ = run_report(scenario, tmp_path / "B")
    assert raw_a == raw_b
    # the market is rest_for_one: the book's crash restarts the feed after it too
    assert report["actor_restarts"]["book"] == 1 and report["actor_restarts"]["feed"] == 2
    assert report["replay"]["snapshots_rebuilt"] == 3
    assert report["book"]["live_at_end"] == dict.fromkeys(["BTC/USDT", "BTC/USDT@bybit", "BTC/USDT@okx"], True)
    assert all(outage <= 1_000 for outage in report["book"]["longest_outage_ms"].values())
    assert report["book"]["checksums_failed"] == 0
