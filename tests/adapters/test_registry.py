"""The venue registry: every venue's parts by name, venues from other packages through the `engine.venues`
entry-point group, and the scenario errors of a venue that cannot take the run's orders."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adapters.registry import BUILT_IN, ENTRY_POINT_GROUP, recorded_market_data, venue, venues
from engine.app.gateway import order_gateway
from engine.app.scenario import ScenarioError, load
from engine.contracts import SyncResult
from engine.messages import BookSnapshot, DepthDiff
from engine.model.numbers import Instrument
from engine.runtime import VirtualClock

ROOT = Path(__file__).resolve().parents[2]
OKX_BOOK = (b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["101","2","0","1"]],'
            b'"bids":[["99","1","0","1"]],"ts":"1","checksum":0,"seqId":7,"prevSeqId":-1}]}')


def test_each_of_the_five_venues_registers_a_codec_a_book_sync_and_live_market_data():
    assert set(BUILT_IN) == {"binance", "okx", "kraken", "bybit", "coinbase"}
    for name, parts in BUILT_IN.items():
        inst = Instrument("BTC/USDT", name, "BTCUSDT", "BTC", "USDT", 2, 4)
        codec, make_sync = recorded_market_data([inst], inst.venue_symbol)
        assert codec.knows("BTCUSDT") and not codec.knows("ETHUSDT"), name
        assert codec.one_event_per_frame is (name == "binance"), name
        sync = make_sync("BTC/USDT")
        assert sync.instrument == "BTC/USDT" and sync.last_update_id is None, name
        assert (sync.gaps, sync.checksums_ok, sync.checksums_failed, sync.tops_checked, sync.top_mismatches) == \
            (0, 0, 0, 0, 0), name
        assert (parts.order_gateway is not None) is (name == "binance"), name


def test_an_unknown_venue_is_refused_naming_the_venues_there_are():
    with pytest.raises(ValueError, match=r"no venue 'nasdaq'; venues: binance, okx, kraken, bybit, coinbase"):
        venue("nasdaq")


def _distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Install, on sys.path only, a tiny distribution `extra-venue` whose entry point `extra` is `extra_venue:PARTS`."""
    (tmp_path / "extra_venue.py").write_text(body)
    info = tmp_path / "extra_venue-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-venue\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nextra = extra_venue:PARTS\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "extra_venue", raising=False)


def test_a_venue_from_another_package_registers_through_the_entry_point_group(tmp_path, monkeypatch):
    _distribution(tmp_path, monkeypatch, (
        "import dataclasses\n"
        "from adapters.registry import BUILT_IN\n"
        "PARTS = dataclasses.replace(BUILT_IN['okx'], name='okx-clone')  # OKX's wire format under another name\n"))
    assert "okx-clone" in venues() and "okx-clone" not in BUILT_IN
    inst = Instrument("BTC/USDT", "okx-clone", "BTC-USDT", "BTC", "USDT", 0, 0)
    codec, make_sync = recorded_market_data([inst], inst.venue_symbol)
    assert not codec.one_event_per_frame
    [snapshot] = codec.decode_raw(OKX_BOOK, 5)
    assert type(snapshot) is BookSnapshot and snapshot.instrument == "BTC/USDT"
    sync = make_sync("BTC/USDT")
    assert sync.on_snapshot(dataclasses.replace(snapshot, checksum=None)) is SyncResult.LOADED
    diff = DepthDiff("BTC/USDT", 6, 8, 8, 7, ((99, 3),), ())
    assert sync.on_diff(diff) is SyncResult.APPLIED and sync.book.best_bid() == (99, 3)


@pytest.mark.parametrize("body, says", [
    ("PARTS = 'not parts'\n", r"entry point 'extra' of group 'engine.venues' \(extra_venue:PARTS\) is a str, "
                              r"not a VenueParts"),
    ("from adapters.registry import BUILT_IN\nPARTS = BUILT_IN['okx']\n",
     r"entry point 'extra' .* registers venue 'okx', which is already registered"),
])
def test_an_entry_point_that_is_not_a_new_venue_is_refused_naming_it(tmp_path, monkeypatch, body, says):
    _distribution(tmp_path, monkeypatch, body)
    with pytest.raises(ValueError, match=says):
        venues()


def _paper_scenario(tmp_path: Path, name: str) -> Path:
    text = (ROOT / "scenarios" / "paper_binance.toml").read_text()
    path = tmp_path / "paper.toml"
    path.write_text(text.replace('[venue]\nname = "binance"', f'[venue]\nname = "{name}"'))
    return path


def test_a_venue_over_a_network_must_be_one_that_takes_orders(tmp_path):
    scenario = load(_paper_scenario(tmp_path, "okx"))
    with pytest.raises(ScenarioError, match=r"paper.toml: \[venue\] name: venue 'okx' takes no orders over a "
                                            r"network here \(venues that do: binance\)"):
        order_gateway(scenario, VirtualClock(), "paper")


def test_a_gateway_without_its_credentials_is_a_scenario_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("PAPER_API_KEY", raising=False)
    scenario = load(_paper_scenario(tmp_path, "binance"))
    with pytest.raises(ScenarioError, match=r"\[venue\] needs its credentials: .*PAPER_API_KEY"):
        order_gateway(scenario, VirtualClock(), "paper")
