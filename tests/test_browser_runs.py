"""A run in a real browser (issue #10): its steps' Gantt, the diff of the commit it built, and two runs
compared, at a projector's 1024x768 with nothing wider than the page. Screenshots go to the test's
temporary folder, or to $OPSLAB_SCREENSHOTS to look at them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.store import Store
from pipelines.store.run_sql import run_params
from tests.conftest import CHROMIUM, READY, serve_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists():
    reason = "/usr/bin/chromium is missing: install Debian's chromium package (`make test` does it as root)"
    if os.environ.get("OPSLAB_REQUIRE_BROWSER"):
        raise RuntimeError(reason + " (OPSLAB_REQUIRE_BROWSER is set)")
    pytest.skip(reason, allow_module_level=True)

PLOTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                       .every(c => c.querySelector('.main-svg'))"""
# Elements wider than the page's main block (a cut label, a legend running off the side).
TOO_WIDE = """() => { const main = document.querySelector('[data-testid="stMainBlockContainer"]').getBoundingClientRect();
  return [...document.querySelectorAll('[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stTabs"]')]
    .filter(e => e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right > main.right + 1)
    .map(e => e.className) }"""


@pytest.fixture(scope="module")
def server(scenario_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_dashboard(scenario_db, tmp_path_factory.mktemp("server") / "streamlit.log")


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("OPSLAB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_function(PLOTS_DRAWN, timeout=30_000)


def _chosen(selectbox) -> str:
    """The option a selectbox shows (its combobox input's value)."""
    return selectbox.locator('input[role="combobox"]').input_value()


def _fits(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), (
        "scrolls sideways"
    )
    assert page.evaluate(TOO_WIDE) == []


def test_a_devops_run_shows_its_gantt_and_the_diff_it_built(
    page, server: str, scenario_db: Path, tmp_path
) -> None:
    store = Store(scenario_db)
    params = run_params(store, "demo", list(store.select("runs", "demo", where={"kind": "devops"})["run_id"]))
    wide = params.pivot(index="run_id", columns="key", values="value")
    run_id = wide.index[wide["changes"] == "windchill-feature"][0]
    sha = wide.loc[run_id, "commit"]
    page.set_viewport_size({"width": 1024, "height": 768})
    _open(page, f"{server}/devops?workspace=demo&run={run_id}")
    gantt = page.locator(".st-key-devops_gantt .js-plotly-plot")
    gantt.scroll_into_view_if_needed()
    assert gantt.locator(".barlayer .point").count() == 4  # checkout, build, test, deploy
    for step in ("checkout", "build", "test", "deploy"):
        assert gantt.locator(f'.ytick text:text-is("{step}")').count() == 1
    page.screenshot(path=str(_shots(tmp_path) / "devops-run-gantt-1024.png"))
    page.get_by_role("tab", name="Commit diff").click()
    diff = page.locator(f'[data-testid="stCode"]:has-text("commit {sha}")')
    diff.wait_for(timeout=30_000)
    assert "diff --git" in diff.inner_text() and "windchill" in diff.inner_text().lower()
    diff.scroll_into_view_if_needed()
    page.screenshot(path=str(_shots(tmp_path) / "devops-run-diff-1024.png"))
    _fits(page)


def test_the_compare_view_shows_two_runs_side_by_side(page, server: str, scenario_db: Path, tmp_path) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    for kind in ("devops", "mlops"):
        _open(page, f"{server}/{kind}?workspace=demo")
        page.get_by_text("Compare two runs side by side").click()
        box = page.locator('[data-testid="stExpander"]:has-text("Compare two runs")')
        tables = box.locator('[data-testid="stDataFrame"]')
        tables.nth(1).wait_for(timeout=30_000)
        assert tables.count() == 2  # parameters, then metrics
        a, b = (_chosen(box.locator(f".st-key-{kind}_compare_{side}")) for side in "ab")
        assert a and b and a != b, (a, b)  # two different runs
        tables.nth(0).scroll_into_view_if_needed()
        page.screenshot(path=str(_shots(tmp_path) / f"{kind}-compare-1024.png"))
        trends = page.locator(f".st-key-{kind}_trends .js-plotly-plot")
        trends.scroll_into_view_if_needed()
        assert trends.locator(".scatterlayer .trace").count() == 2  # p50 and p95
        page.screenshot(path=str(_shots(tmp_path) / f"{kind}-trends-1024.png"))
        _fits(page)
