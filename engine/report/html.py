"""`report.html`: one self-contained page of a run's execution, with inline SVG plots (no script, no network).

Plots: equity and drawdown (quote asset, fills marked to the touch path's mid), the slippage distribution
against the decision mid, the latency histogram (decision to acknowledgement), the markout curve and the
position over time. Every coordinate is computed with Decimals and written with fixed places, so the same run
gives the same bytes.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from html import escape
from typing import Any, Iterable, Mapping, Sequence

from engine.model.numbers import Instrument
from engine.report.quality import HORIZONS_NS, FillRecord, OrderRecord, TouchPath, markout_bps, slippage_bps
from engine.report.run import amounts
from engine.model.execution_stats import WORKING

WIDTH, HEIGHT, PAD = 640, 240, 40
PLOT_HEIGHT = HEIGHT - PAD - PAD // 2   # the frame, from y = PAD // 2 down to HEIGHT - PAD: the plots' y range
BINS = 20

Point = tuple[Decimal, Decimal]


def _coord(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN), "f")


def _label(value: Decimal) -> str:
    """An axis bound as a reader wants it: six significant digits, not the Decimal's every place."""
    return format(value.normalize(), ".6g")


def _scale(values: Sequence[Decimal], lo_px: int, hi_px: int) -> list[Decimal]:
    lo, hi = min(values), max(values)
    span = hi - lo or Decimal(1)
    with localcontext(WORKING):
        return [lo_px + (v - lo) * (hi_px - lo_px) / span for v in values]


def _frame(title: str, body: str, x_label: str, y_label: str, lo: Decimal, hi: Decimal) -> str:
    return (f'<figure><figcaption>{escape(title)}</figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
            f'<rect x="{PAD}" y="{PAD // 2}" width="{WIDTH - 2 * PAD}" height="{PLOT_HEIGHT}" '
            f'fill="none" stroke="#999"/>{body}'
            f'<text x="{WIDTH // 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>'
            f'<text x="4" y="{PAD // 2 - 4}">{escape(y_label)}: {_label(lo)} .. {_label(hi)}</text>'
            f'</svg></figure>')


def line_plot(title: str, series: Mapping[str, Sequence[Point]], x_label: str, y_label: str) -> str:
    """An SVG figure of one polyline per named series, all on one scale; an empty plot says it has no data."""
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    if not xs:
        return _frame(title, '<text x="50%" y="50%">no data</text>', x_label, y_label, Decimal(0), Decimal(0))
    sx, sy = _scale(xs, PAD, WIDTH - PAD), _scale(ys, HEIGHT - PAD, PAD // 2)
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    body, i = [], 0
    for n, (name, points) in enumerate(series.items()):
        coords = " ".join(f"{_coord(sx[i + k])},{_coord(sy[i + k])}" for k in range(len(points)))
        i += len(points)
        body.append(f'<polyline data-series="{escape(name)}" fill="none" stroke="{colours[n % len(colours)]}" '
                    f'points="{coords}"/>')
    return _frame(title, "".join(body), x_label, y_label, min(ys), max(ys))


def histogram(title: str, values: Sequence[Decimal], x_label: str) -> str:
    """An SVG figure of `values` counted into `BINS` equal bins between their least and greatest."""
    if not values:
        return _frame(title, '<text x="50%" y="50%">no data</text>', x_label, "count", Decimal(0), Decimal(0))
    lo, hi = min(values), max(values)
    counts = [0] * BINS
    with localcontext(WORKING):
        for v in values:
            counts[min(int((v - lo) * BINS / (hi - lo)), BINS - 1) if hi > lo else 0] += 1
        bar_w = Decimal(WIDTH - 2 * PAD) / BINS
        top = max(counts)
        bars = []
        for k, count in enumerate(counts):
            h = Decimal(count * PLOT_HEIGHT) / top
            bars.append(f'<rect data-count="{count}" x="{_coord(PAD + k * bar_w)}" '
                        f'y="{_coord(HEIGHT - PAD - h)}" width="{_coord(bar_w - 1)}" height="{_coord(h)}" '
                        f'fill="#1f77b4"/>')
    return _frame(title, "".join(bars), f"{x_label} ({_label(lo)} .. {_label(hi)})", "count",
                  Decimal(0), Decimal(top))


def equity_series(fills: Iterable[FillRecord], instruments: Mapping[str, Instrument],
                  paths: Mapping[str, TouchPath]) -> tuple[dict[str, list[Point]], dict[str, list[Point]],
                                                           dict[str, list[Point]]]:
    """Per quote asset, equity (cash plus positions at the touch path's mid, fees in the quote paid) and its
    drawdown from the running peak, at each fill; and each instrument's position after each fill. Times are
    seconds from the first fill."""
    cash: dict[str, Decimal] = {}
    positions: dict[str, int] = {}
    equity: dict[str, list[Point]] = {}
    drawdown: dict[str, list[Point]] = {}
    position: dict[str, list[Point]] = {}
    peak: dict[str, Decimal] = {}
    start = None
    with localcontext(WORKING):
        for rec in fills:
            fill, inst = rec.fill, instruments[rec.fill.instrument]
            start = rec.ts_ns if start is None else start
            t = Decimal(rec.ts_ns - start) / 1_000_000_000
            qty = inst.qty_decimal(fill.qty)
            price = Decimal(fill.price).scaleb(-inst.price_decimals)
            quote = inst.quote
            cash[quote] = cash.get(quote, Decimal(0)) - fill.side.sign * qty * price
            if fill.fee_asset == quote:
                cash[quote] -= fill.fee
            held = positions.get(fill.instrument, 0)
            positions[fill.instrument] = held + fill.side.sign * fill.qty
            steps = position.setdefault(fill.instrument, [])
            if steps:   # a position holds until the next fill: drawn as a step, not a slope
                steps.append((t, inst.qty_decimal(held)))
            steps.append((t, inst.qty_decimal(positions[fill.instrument])))
            value = cash[quote]
            for symbol, pos in positions.items():
                other = instruments[symbol]
                touch = paths[symbol].at(rec.ts_ns) if symbol in paths else None
                if other.quote == quote and pos and touch:
                    value += other.qty_decimal(pos) * Decimal(sum(touch)).scaleb(-other.price_decimals) / 2
            peak[quote] = max(peak.get(quote, value), value)
            equity.setdefault(quote, []).append((t, value))
            drawdown.setdefault(quote, []).append((t, value - peak[quote]))
    return equity, drawdown, position


def markout_curve(fills: Iterable[FillRecord]) -> list[Point]:
    """The quantity-unweighted mean markout (bps) at 0 s and at each horizon, over the fills that have one."""
    sums = {name: [Decimal(0), 0] for name in ("0s", *HORIZONS_NS)}
    for rec in fills:
        if rec.arrival is not None:
            sums["0s"][0] += markout_bps(rec.fill, sum(rec.arrival))
            sums["0s"][1] += 1
        for name, later in rec.markouts_x2.items():
            if later:
                sums[name][0] += markout_bps(rec.fill, later)
                sums[name][1] += 1
    at = {"0s": 0, **{name: ns // 1_000_000_000 for name, ns in HORIZONS_NS.items()}}
    with localcontext(WORKING):
        return [(Decimal(at[name]), total / count) for name, (total, count) in sums.items() if count]


def render(report: Mapping[str, Any], orders: Sequence[OrderRecord], fills: Sequence[FillRecord],
           instruments: Mapping[str, Instrument], tops: Mapping[str, Any]) -> bytes:
    """The page: a summary table from `report` and the five plots."""
    paths = {symbol: TouchPath(points) for symbol, points in tops.items()}
    equity, drawdown, position = equity_series(fills, instruments, paths)
    slips = [slippage_bps(rec.fill, rec.decision_mid_x2) for rec in fills if rec.decision_mid_x2]
    latencies = [Decimal(o.ack_ns - o.decision_ns) / 1_000_000 for o in orders
                 if o.ack_ns is not None and o.decision_ns is not None]
    quality = report.get("execution_quality", {})
    rows = [("scenario", report.get("scenario")), ("orders", report.get("orders")),
            ("fills", report.get("fills")), ("fill ratio", report.get("fill_ratio")),
            ("slippage vs decision mid (bps)", quality.get("slippage_bps", {}).get("vs_decision_mid")),
            ("slippage vs arrival mid (bps)", quality.get("slippage_bps", {}).get("vs_arrival_mid")),
            ("net P&L", amounts(report.get("net_pnl", {}))), ("fees", amounts(report.get("fees", {}))),
            ("realized P&L", amounts(report.get("realized_pnl", {}))),
            ("position", amounts(report.get("position", {})))]
    table = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    plots = [
        line_plot("Equity and drawdown", {**{f"equity {q}": p for q, p in equity.items()},
                                          **{f"drawdown {q}": p for q, p in drawdown.items()}},
                  "seconds from first fill", "quote"),
        histogram("Slippage vs decision mid", slips, "bps"),
        histogram("Latency: decision to acknowledgement", latencies, "ms"),
        line_plot("Markout curve", {"mean markout": markout_curve(fills)}, "seconds after fill", "bps"),
        line_plot("Position over time", position, "seconds from first fill", "base"),
    ]
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
            f'<title>{escape(str(report.get("scenario", "run")))}: execution report</title>'
            '<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}'
            'figure{margin:1em 0}</style></head><body>'
            f'<h1>{escape(str(report.get("scenario", "run")))}</h1><table>{table}</table>'
            f'{"".join(plots)}</body></html>\n')
    return page.encode()
