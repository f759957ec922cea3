"""The report to leave behind: one self-contained HTML file that opens offline with every chart drawn.

Its numbers are checked against the core's (the keys) and against an independent reading of the
weekly rows (what retraining bought); its links against an HTML parser; its drawing in Chromium with
every request to another host aborted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from dashboard.report import CHARTS_DRAWN, build_report, print_pdf
from pipelines.cli import main
from pipelines.devops.metrics import dora_keys
from pipelines.errors import OpsLabError
from pipelines.mlops.metrics import ml_keys
from pipelines.quality import metric_named
from pipelines.store import Store
from tests.conftest import APP, CHROMIUM, FLAGS, REPO

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("OPSLAB_REQUIRE_BROWSER"),
    reason="/usr/bin/chromium is missing: install Debian's chromium package (`make test` does it as root)",
)


class _Page(HTMLParser):
    """Every src/href value, and each table row's cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def report(scenario_db: Path) -> str:
    return build_report(Store(scenario_db), "demo")


@pytest.fixture(scope="module")
def report_file(report: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(report, encoding="utf-8")
    return path


def test_the_parser_sees_external_links() -> None:
    page = _parse('<script src="https://cdn.plot.ly/x.js"></script><a href="//example.org">x</a>')
    assert page.links == ["https://cdn.plot.ly/x.js", "//example.org"]


def test_no_src_or_href_points_at_another_host(report: str) -> None:
    external = [
        link for link in _parse(report).links if link.strip().lower().startswith(("http:", "https:", "//"))
    ]
    assert external == []


def test_plotlyjs_is_inlined_exactly_once_and_the_file_is_small(report: str) -> None:
    assert report.count(get_plotlyjs()) == 1
    assert report.count("<script") == 4  # plotly.js, then one per chart: timeline, quality, drift
    assert len(report.encode("utf-8")) < 5_000_000


def test_the_keys_are_the_cores_side_by_side_with_their_tiers(report: str, scenario_db: Path) -> None:
    store = Store(scenario_db)
    dora, ml = dora_keys(store, "demo"), ml_keys(store, "demo")
    rows = _parse(report).rows
    header = rows.index(["DORA key", "value", "tier", "ML mirror", "value", "tier"])
    shown = rows[header + 1 : header + 1 + len(dora)]
    expected = [
        [d.label, d.display, d.tier or "–", m.label, m.display, m.tier or "–"]
        for d, m in zip(dora, ml, strict=True)
    ]
    assert shown == expected
    assert any(k.tier for k in dora)  # the table has tiers to show, not only dashes


def test_what_retraining_bought_matches_the_weekly_rows(report: str, scenario_db: Path) -> None:
    weekly = Store(scenario_db).select("weekly", "demo")
    metric = metric_named(str(weekly["quality_metric"].dropna().iloc[0]))
    production, never = weekly["quality"].mean(), weekly["quality_never_retrained"].mean()
    gain = never - production if metric.lower_is_better else production - never
    verb = "better" if gain >= 0 else "worse"
    assert f"{metric.format(abs(gain))} {metric.label} {verb}" in report
    assert f"({abs(100 * gain / never):.1f} % {verb} than never retraining)" in report
    assert f"{metric.format(production)} for the production model" in report


def test_incidents_rollbacks_and_drift_are_counted_from_the_store(report: str, scenario_db: Path) -> None:
    store = Store(scenario_db)
    incidents = store.select("incidents", "demo")
    deployments = store.select("deployments", "demo")
    weekly = store.select("weekly", "demo")
    service, rollbacks = int((incidents["kind"] == "service").sum()), int(deployments["rolled_back"].sum())
    assert service >= 1 and rollbacks >= 1  # the Friday windchill release escaped its tests in this play
    assert f"{service} service incident{'' if service == 1 else 's'}" in report
    assert f"{rollbacks} rollback{'' if rollbacks == 1 else 's'}." in report
    assert f"dataset drifted in {int(weekly['dataset_drift'].sum())} of {len(weekly)} weeks" in report
    # The per-feature drift table against a count of the drift rows: weeks in which temp drifted.
    drift = store.select("drift", "demo")
    temp = drift[drift["feature"] == "temp"]
    row = next(r for r in _parse(report).rows if r and r[0] == "temp")
    assert row[1:3] == [str(temp["week"].nunique()), str(temp.loc[temp["drifted"], "week"].nunique())]
    for section in ("The story", "The Timeline", "The headline keys", "What retraining bought",
                    "Incidents and rollbacks", "Drift"):  # fmt: skip
        assert f"<h2>{section}</h2>" in report


def test_an_unplayed_workspace_gets_a_sentence_not_a_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.html"
    assert main(["--db", str(tmp_path / "h.duckdb"), "--workspace", "empty", "report", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "has no history" in err and "scenario run full-story" in err
    assert not out.exists()


def test_print_pdf_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "r.html"
    page.write_text("<html></html>")
    with pytest.raises(OpsLabError, match=r"needs Chromium at .*nowhere.*print it from there"):
        print_pdf(page, tmp_path / "r.pdf", chromium=tmp_path / "nowhere")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # as if Playwright were not installed
    with pytest.raises(OpsLabError, match=r"pip install playwright"):
        print_pdf(page, tmp_path / "r.pdf")


def test_building_the_report_loads_no_streamlit() -> None:
    code = "import sys, dashboard.report, pipelines.cli.report; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


@pytest.mark.browser
@needs_chromium
def test_chromium_draws_every_chart_offline(report_file: Path) -> None:
    """In its own process: Playwright's sync API refuses to run inside the asyncio loop that
    pytest-playwright's fixtures leave in a worker that ran a browser test before this file."""
    script = f"""
import json, sys
from playwright.sync_api import sync_playwright
requested, errors = [], []
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path={str(CHROMIUM)!r}, headless=True, args={FLAGS!r})
    page = browser.new_page(viewport={{"width": 1280, "height": 900}})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    def offline(route):  # the file itself may load; anything else is a request out
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            requested.append(route.request.url)
            route.abort()
    page.route("**/*", offline)
    page.goto({report_file.as_uri()!r})
    page.wait_for_function({CHARTS_DRAWN!r}, timeout=60_000)
    traces = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')].map(d => d.data.length)")
    browser.close()
print(json.dumps({{"traces": traces, "requested": requested, "errors": errors}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(seen["traces"]) == 3 and all(n > 0 for n in seen["traces"])  # each drew its data
    assert seen["requested"] == []
    assert seen["errors"] == []


@pytest.mark.browser
@needs_chromium
def test_opslab_report_writes_html_and_a_pdf(scenario_db: Path, tmp_path: Path) -> None:
    html, pdf = tmp_path / "story.html", tmp_path / "story.pdf"
    out = subprocess.run(  # its own process, for the same reason as above
        [
            sys.executable,
            "-m",
            "pipelines",
            "--db",
            str(scenario_db),
            "report",
            "-o",
            str(html),
            "--pdf",
            str(pdf),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert html.read_text(encoding="utf-8").count(get_plotlyjs()) == 1
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_size > 20_000  # pages with charts, not a blank sheet


def test_the_overview_offers_the_report_for_download(app_env: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("views/overview.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    buttons = at.get("download_button")
    assert len(buttons) == 1
    assert buttons[0].proto.label == "Download the report (HTML)"
