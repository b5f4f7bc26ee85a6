"""report.html opened in a real headless browser: it renders, says nothing on the console, and its plots are
there in the rendered page (an SVG per figure, each with its caption, drawn at a size).

The report is the quickstart's own, made by the command a user runs; the browser is Debian's Chromium, which
`.ci/run` installs when it is absent.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trio

import headless_chromium

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ["Equity and drawdown", "Slippage vs decision mid", "Latency: decision to acknowledgement",
         "Markout curve", "Position over time"]
PROBE = """JSON.stringify({
  title: document.title,
  heading: document.querySelector('h1') && document.querySelector('h1').textContent,
  rows: document.querySelectorAll('table tr').length,
  figures: [...document.querySelectorAll('figure')].map(f => {
    const svg = f.querySelector('svg'), box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {caption: f.querySelector('figcaption').textContent, label: svg && svg.getAttribute('aria-label'),
            width: box.width, height: box.height, marks: svg ? svg.querySelectorAll('polyline, rect, path').length : 0};
  }),
  external: [...document.querySelectorAll('[src], link[href]')].length,
})"""


@pytest.fixture(scope="module")
def quickstart_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quickstart")
    done = subprocess.run([sys.executable, "-m", "engine", "run", str(ROOT / "scenarios" / "quickstart.toml"),
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / "report.html"


@pytest.mark.skipif(not headless_chromium.available(),
                    reason=f"no Chromium at {headless_chromium.CHROMIUM} (.ci/run installs Debian's chromium)")
def test_report_html_renders_in_headless_chromium_with_its_plots_and_no_console_errors(quickstart_report, tmp_path):
    import orjson
    with headless_chromium.chromium(tmp_path / "profile") as browser:
        value, errors = trio.run(headless_chromium.open_page, browser, quickstart_report.as_uri(), PROBE,
                                 tmp_path / "report.png")
    page = orjson.loads(value)

    assert errors == []
    assert page["title"] == "quickstart: execution report" and page["heading"] == "quickstart"
    assert page["rows"] > 5 and page["external"] == 0   # self-contained: nothing fetched
    assert [figure["caption"] for figure in page["figures"]] == PLOTS
    for figure in page["figures"]:
        assert figure["label"] == figure["caption"]
        assert figure["width"] > 100 and figure["height"] > 50, figure   # laid out, not collapsed
        assert figure["marks"] >= 1, figure
    assert (tmp_path / "report.png").stat().st_size > 10_000   # a picture of the page was painted
