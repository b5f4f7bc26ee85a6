"""The execution-quality report: figures checked against hand-computed values on a small hand-made run, the
HTML page's shape, and the quickstart run's report.json, fills.csv and report.html byte for byte."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import orjson

from engine.messages import (ChildOrder, ExecType, ExecutionReport, Fill, JournalEntry, Liquidity, OrderType,
                             OrderUpdate, ParentOrder, Side, TimeInForce, Urgency)
from engine.model.numbers import Instrument
from engine.report import html as report_html
from engine.report.quality import fills_csv, fold, percentiles, quality_section

ROOT = Path(__file__).resolve().parents[1]
BTC = Instrument("BTC/USDT", "binance", "BTCUSDT", "BTC", "USDT", 2, 5)
T0 = 1_700_000_000_000_000_000
MS, S = 1_000_000, 1_000_000_000
TOPS = {"BTC/USDT": [
    (T0, 999_990, 1_000_010),              # mid 10000.00: the decision's book
    (T0 + 1 * MS, 1_000_000, 1_000_020),   # mid 10000.10: the book when the venue acknowledged
    (T0 + 1 * S, 1_000_090, 1_000_110),    # mid 10001.00
    (T0 + 30 * S, 999_890, 999_910),       # mid 9999.00
    (T0 + 40 * S, 999_880, 999_920),       # mid 9999.00, the path's end: no 5-minute markout
]}


def _fill(price: int, ts: int) -> Fill:
    return Fill("c1", "P1", "binance", "BTC/USDT", Side.BUY, 100_000, price, Decimal("0.5"), "USDT",
                Liquidity.TAKER, ts, 2_000_000, trade_id=str(price))


def _entries() -> list[JournalEntry]:
    msgs = [
        (T0, ParentOrder("P1", "BTC/USDT", Side.BUY, 200_000, 1_001_000, Urgency.AGGRESSIVE, T0, 2_000_000,
                         999_990, 1_000_010)),
        (T0, ChildOrder("P1", "binance", "BTC/USDT", Side.BUY, 200_000, 1_001_000, OrderType.LIMIT,
                        TimeInForce.GTC, T0, 2_000_000, "P1.0")),
        (T0, OrderUpdate("c1", "P1", "BTC/USDT", Side.BUY, "PENDING_NEW", 200_000, 0, T0)),
        (T0 + 2 * MS, ExecutionReport("binance", "c1", "v1", ExecType.NEW, T0 + 2 * MS, 0)),
        (T0 + 5 * MS, _fill(1_000_020, T0 + 5 * MS)),   # 10000.20
        (T0 + 7 * MS, _fill(1_000_040, T0 + 7 * MS)),   # 10000.40
    ]
    return [JournalEntry(seq, ts, 1, "orders", msg) for seq, (ts, msg) in enumerate(msgs, 1)]


def _bps(value: Fraction) -> str:
    """A hand-computed fraction of bps as the report writes it: 4 places, half-even."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return format(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN), "f")


def test_slippage_markouts_latency_and_costs_match_hand_computed_values():
    orders, fills = fold(_entries(), TOPS)
    q = quality_section(orders, fills, {"BTC/USDT": BTC})
    p1, p2 = Fraction(1000020, 100), Fraction(1000040, 100)
    decision, arrival, after_1s, after_30s = Fraction(10000), Fraction(1000010, 100), Fraction(10001), Fraction(9999)
    assert q["slippage_bps"] == {
        "vs_decision_mid": _bps(((p1 - decision) + (p2 - decision)) / decision / 2 * 10_000),
        "vs_arrival_mid": _bps(((p1 - arrival) + (p2 - arrival)) / arrival / 2 * 10_000)}
    assert q["markout_bps"]["1s"] == {"avg": _bps(((after_1s - p1) / p1 + (after_1s - p2) / p2) / 2 * 10_000),
                                      "fills": 2}
    assert q["markout_bps"]["30s"] == {"avg": _bps(((after_30s - p1) / p1 + (after_30s - p2) / p2) / 2 * 10_000),
                                       "fills": 2}
    assert q["markout_bps"]["5m"] == {"avg": None, "fills": 0}
    assert q["latency_ns"] == {"signal_to_ack": {"count": 1, "p50": 2 * MS, "p99": 2 * MS, "p999": 2 * MS},
                               "ack_to_first_fill": {"count": 1, "p50": 3 * MS, "p99": 3 * MS, "p999": 3 * MS}}
    # per BTC: delay 0.10 (decision mid → arrival mid), spread 0.10 (half the arrival spread), impact the rest
    assert q["cost"]["USDT"] == {"delay": "0.20000000", "spread": "0.20000000", "impact": "0.20000000",
                                 "fees": "1.00000000", "implementation_shortfall": "1.60000000",
                                 "implementation_shortfall_bps": "0.8000"}
    assert q["fill_ratio"] == "1.000000" and q["orders"] == 1 and q["fills"] == 2
    assert list(q["by"]["order_type"]) == ["LIMIT"] and list(q["by"]["venue"]) == ["binance"]
    assert q["by"]["instrument"]["BTC/USDT"]["slippage_bps"] == q["slippage_bps"]


def test_latency_percentiles_are_nearest_rank():
    assert percentiles(range(1000, 0, -1)) == {"count": 1000, "p50": 500, "p99": 990, "p999": 999}
    assert percentiles([4, 1, 3, 2]) == {"count": 4, "p50": 2, "p99": 4, "p999": 4}
    assert percentiles([]) == {"count": 0, "p50": None, "p99": None, "p999": None}


def test_fills_csv_has_a_row_per_fill_with_exact_prices():
    orders, fills = fold(_entries(), TOPS)
    rows = list(csv.DictReader(io.StringIO(fills_csv(fills, {"BTC/USDT": BTC}).decode())))
    assert [row["price"] for row in rows] == ["10000.20", "10000.40"]
    assert rows[0]["decision_mid"] == "10000.000" and rows[0]["arrival_mid"] == "10000.100"
    assert rows[0]["markout_bps_5m"] == ""


class _Svgs(HTMLParser):
    """Counts the page's <svg> elements and the drawn data (polylines with points, bars with a count) in each."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: list[int] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "svg":
            self.svgs.append(0)
        elif tag == "script" or (tag in ("link", "img") and "http" in str(attrs)):
            self.scripts += 1
        elif tag == "polyline" and attrs.get("points"):
            self.svgs[-1] += 1
        elif tag == "rect" and int(attrs.get("data-count", 0)):
            self.svgs[-1] += 1


def _check_page(page: bytes) -> None:
    text = page.decode()
    ET.fromstring(text.split("\n", 1)[1])   # well-formed past the doctype line
    parser = _Svgs()
    parser.feed(text)
    assert parser.scripts == 0
    assert "&#x27;" not in text   # figures as numbers, not dict reprs
    assert len(parser.svgs) == 5 and all(parser.svgs), parser.svgs


def test_the_html_page_is_well_formed_with_five_plots_holding_data():
    orders, fills = fold(_entries(), TOPS)
    report = {"scenario": "hand", "execution_quality": quality_section(orders, fills, {"BTC/USDT": BTC})}
    _check_page(report_html.render(report, orders, fills, {"BTC/USDT": BTC}, TOPS))


def test_quickstart_writes_fills_csv_and_report_html_byte_identical_run_to_run(tmp_path):
    outs = []
    for name in ("A", "B"):
        done = subprocess.run([sys.executable, "-m", "engine", "run", str(ROOT / "scenarios" / "quickstart.toml"),
                               "--out", str(tmp_path / name)], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert "net P&L" in done.stdout and "{" not in done.stdout   # money printed as numbers, not dicts
        outs.append({f: (tmp_path / name / f).read_bytes() for f in ("report.json", "fills.csv", "report.html")})
    assert outs[0] == outs[1]
    report = orjson.loads(outs[0]["report.json"])
    rows = list(csv.DictReader(io.StringIO(outs[0]["fills.csv"].decode())))
    assert len(rows) == report["fills"] == report["execution_quality"]["fills"] > 0
    _check_page(outs[0]["report.html"])
