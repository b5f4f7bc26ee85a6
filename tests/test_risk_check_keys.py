"""The `[risk]` keys of the gate's checks: read into the gate's limits, off by default, refused where they cannot
work (a balance check with no balances, exposure summed across quote assets), and a run that sets them refuses by
their names in its report."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.app import cli
from engine.app.scenario import ScenarioError, load
from engine.model.risk_checks import CheckLimits, InstrumentRules
from engine.strategies.cadence import parse_cadence
from tests.test_batch_independence import assert_same_outside_runtime, reports_at_each_window, shortened

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = (ROOT / "scenarios" / "quickstart.toml").read_text()
MS = 1_000_000


def scenario(tmp_path: Path, risk: str = "", instrument: str = "", tail: str = "") -> Path:
    text = QUICKSTART.replace("[risk]\n", f"[risk]\n{risk}\n", 1)
    text = text.replace('lot_size = "0.00001"\n', f'lot_size = "0.00001"\n{instrument}\n', 1)
    path = tmp_path / "checks.toml"
    path.write_text(text + "\n" + tail)
    return path


def test_the_quickstart_sets_no_check_and_its_instrument_has_no_filter_beyond_tick_and_lot():
    checks = load(ROOT / "scenarios" / "quickstart.toml").risk.checks
    assert checks == CheckLimits(instrument_rules={"BTC/USDT": InstrumentRules()},
                                 cash={"USDT": Decimal(100_000)})   # [portfolio]'s default, read by no check here


def test_every_key_reaches_the_gate_s_limits_in_its_units(tmp_path):
    path = scenario(tmp_path, risk="""max_data_age_ms = 3000
max_signal_age_ms = 2000
max_spread_bps = 5
sample_ms = 500
volatility_window = 30
max_volatility_bps = 80
loss_streak = 3
loss_cooldown_ms = 60000
max_displayed_share_pct = 25
max_gross_exposure = "50000"
correlation_window = 20
max_correlated_exposure = "40000"
max_leverage = "2.5"
balance_check = true
order_rate_window_ms = 10000
max_orders_per_venue = 10
max_orders_total = 20""",
                    instrument='min_qty = "0.0001"\nmax_qty = "9000"\nmin_notional = "5"\nmax_notional = "9000000"',
                    tail='[portfolio]\ncash = { USDT = "100000", BTC = "1" }\n')
    checks = load(path).risk.checks
    assert checks == CheckLimits(
        max_data_age_ns=3000 * MS, max_signal_age_ns=2000 * MS, max_spread_bps=5, sample_ns=500 * MS,
        volatility_window=30, max_volatility_bps=80, loss_streak=3, loss_cooldown_ns=60_000 * MS,
        instrument_rules={"BTC/USDT": InstrumentRules(10_000, 900_000_000_000, Decimal(5), Decimal(9_000_000))},
        max_displayed_share_pct=25, max_gross_exposure=Decimal(50_000), correlation_window=20,
        max_correlated_exposure=Decimal(40_000), max_leverage=Decimal("2.5"), balance_check=True,
        cash={"BTC": Decimal(1), "USDT": Decimal(100_000)}, order_rate_window_ns=10_000 * MS,
        max_orders_per_venue=10, max_orders_total=20)
    assert checks.needs_fills


@pytest.mark.parametrize("risk, instrument, problem", [
    ("max_spread_bps = 10001", "", "risk.max_spread_bps"),
    ("max_displayed_share_pct = 101", "", "risk.max_displayed_share_pct"),
    ("", 'min_qty = "0.000000001"', "instruments[0].min_qty: '0.000000001' has more than 8 decimals"),
])
def test_a_check_that_cannot_work_as_written_is_refused_naming_its_key(tmp_path, risk, instrument, problem):
    with pytest.raises(ScenarioError) as refused:
        load(scenario(tmp_path, risk=risk, instrument=instrument))
    assert problem in str(refused.value)


def test_exposure_summed_across_quote_assets_is_refused(tmp_path):
    shared = ROOT.parent / "shared" / "recorded"
    if not shared.is_dir():
        pytest.skip(f"the recordings two_instruments.toml replays are not at {shared}")
    text = (ROOT / "scenarios" / "two_instruments.toml").read_text()
    text = text.replace("../../shared", str(ROOT.parent / "shared"))
    text = text.replace('"ETH/USDT"', '"ETH/USDC"').replace('quote = "USDT"\nprice_decimals = 8\nqty_decimals = 8\n'
                                                          'tick_size = "0.01"\nlot_size = "0.0001"',
                                                          'quote = "USDC"\nprice_decimals = 8\nqty_decimals = 8\n'
                                                          'tick_size = "0.01"\nlot_size = "0.0001"')
    assert 'quote = "USDC"' in text
    path = tmp_path / "two_quotes.toml"
    path.write_text(text)
    assert load(path).risk.checks.max_gross_exposure == 0
    path.write_text(text.replace("[risk]\n", '[risk]\nmax_gross_exposure = "1000"\n', 1))
    with pytest.raises(ScenarioError, match=r"risk\.max_gross_exposure: sums exposure in one quote asset, and the "
                                            r"traded instruments' are several \(USDC, USDT\)"):
        load(path)
    # ETH/USDC cannot be valued in USDT (no instrument of the run pairs them): a loss limit would go blind at the
    # first ETH/USDC fill, so a scenario that sets one is refused, naming it
    path.write_text(text + '\n[kill_switch]\nmax_drawdown = "50"\n')
    with pytest.raises(ScenarioError, match=r"kill_switch\.max_drawdown: equity is valued in USDT, and no instrument "
                                            r"of the run pairs ETH, USDC with it"):
        load(path)


def test_a_run_with_a_tight_limit_refuses_by_the_check_s_name_and_counts_it(tmp_path):
    path = scenario(tmp_path, risk="max_orders_total = 2\norder_rate_window_ms = 86400000")
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["parent_orders"] == 2 and report["risk_rejections"]["order_rate_total"] > 0


def test_the_checks_that_read_the_gate_s_views_decide_the_same_at_every_replay_window(tmp_path):
    """Views reach the gate conflated, as finely as the replay batches; what the checks decide on them must not
    change with `batch_ms` (the quickstart on every book change, two minutes, each view-reading check on)."""
    path = scenario(tmp_path, risk="""max_signal_age_ms = 1
max_data_age_ms = 300
max_spread_bps = 1
max_displayed_share_pct = 80
max_volatility_bps = 2
volatility_window = 10
max_orders_total = 3
order_rate_window_ms = 5000""")
    base = shortened(path, 120)
    reports = reports_at_each_window(base, tmp_path, cadence=parse_cadence("book"))
    assert_same_outside_runtime(reports)
    assert reports[0]["parent_orders"] > 0
    assert {"volatility_halt", "order_rate_total"} <= set(reports[0]["risk_rejections"])
