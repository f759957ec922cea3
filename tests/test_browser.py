"""Real-browser tests: Debian's Chromium driven by Playwright against a running dashboard.

The server plays a shortened full-story scenario first, then every page is opened with no
exception or error box; the Control room plays a short scenario and its runs appear on the
Timeline; a Timeline marker opens its run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pipelines.scenario.engine import run_scenario
from pipelines.scenario.presets import DEFAULT_PRESET, PRESETS, get_preset
from pipelines.store import Store
from tests.conftest import CHROMIUM, READY, serve_dashboard

PLOTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                       .every(c => c.querySelector('.main-svg'))"""
CHART = '.st-key-timeline_chart [data-testid="stPlotlyChart"] .js-plotly-plot'
PAGES = ["/", "/control", "/timeline", "/present", "/devops", "/mlops", "/drift", "/history", "/learn"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not CHROMIUM.exists():
    reason = "/usr/bin/chromium is missing: install Debian's chromium package (`make test` does it as root)"
    if os.environ.get("OPSLAB_REQUIRE_BROWSER"):
        raise RuntimeError(reason + " (OPSLAB_REQUIRE_BROWSER is set)")
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@pytest.fixture(scope="module")
def story_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "opslab.duckdb"
    # The full story, shorter: a caught bug and its fix, an escaped bug with its incident, drift retrains.
    settings = get_preset("full-story").with_weeks(14)
    keep = {"batch-size-limit", "hour-24-midnight", "fix-hour-24", "windchill-feature", "fix-windchill"}
    settings = dataclasses.replace(settings, changes=tuple(c for c in settings.changes if c.change in keep))
    run_scenario(Store(path), "demo", settings)
    return path


@pytest.fixture(scope="module")
def server(story_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_dashboard(story_db, tmp_path_factory.mktemp("server") / "streamlit.log")


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_function(PLOTS_DRAWN, timeout=30_000)


def _no_error_boxes(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    errors = page.locator('[data-testid="stAlert"]:has([data-testid="stAlertContentError"])')
    assert errors.count() == 0, errors.all_inner_texts()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_without_an_error(page, server: str, path: str) -> None:
    _open(page, server + path + "?workspace=demo")
    _no_error_boxes(page)
    assert page.locator("h1").count() >= 1


def test_the_control_room_plays_a_scenario_and_the_timeline_shows_it(
    page, server: str, story_db: Path
) -> None:
    _open(page, server + "/control?workspace=seat-01")
    page.locator(".st-key-cr_preset input").click()
    page.get_by_role("option", name="calm-seas").click()
    page.get_by_text("A world without seasons").wait_for(timeout=30_000)  # the preset's narrative
    for key, value in (("cr_weeks", "3"), ("cr_cadence", "26")):  # 3 weeks, no scripted change in them
        box = page.locator(f".st-key-{key} input")
        box.fill(value)
        box.press("Enter")
        page.wait_for_selector(READY)
    page.locator(".st-key-cr_run_scenario button").click()
    page.wait_for_selector('[data-testid="stExpander"]:has-text("succeeded")', timeout=120_000)
    _no_error_boxes(page)
    runs = Store(story_db).select("runs", "seat-01")
    assert len(runs) >= 2 and set(runs["status"]) == {"succeeded"}
    _open(page, server + "/timeline?workspace=seat-01")
    page.wait_for_selector(CHART + " .main-svg", timeout=30_000)
    _no_error_boxes(page)
    drawn = page.evaluate(
        """() => Object.fromEntries(document.querySelector('CHART')._fullData
                   .filter(t => t.mode && t.mode.includes('markers')).map(t => [t.name, t.x.length]))""".replace(
            "CHART", CHART
        )
    )
    released = Store(story_db).select("deployments", "seat-01", where={"kind": "release"})
    assert drawn.get("release deployed") == len(released) > 0  # the runs of the new play are on the Timeline


def _stored_settings(db: Path, workspace: str, name: str, seconds: float = 120) -> dict:
    """The settings the play recorded for `workspace`, once the run of preset `name` has written them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        info = Store(db).workspace_info(workspace) if db.exists() else None
        settings = (info or {}).get("settings")
        if settings and settings.get("name") == name:
            return settings
        time.sleep(0.2)
    raise AssertionError(f"workspace {workspace!r} recorded no settings of {name} in {seconds:g} s")


def _shown_by_the_cli(name: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "pipelines", "scenario", "show", name],
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return json.loads(out.stdout)


def test_the_control_room_plays_each_preset_as_the_cli_shows_it(page, server: str, story_db: Path) -> None:
    """Presets in turn, knobs untouched: the page says it will play the preset exactly, and for
    the preset the issue caught misplaying the settings the play stored are
    `opslab scenario show NAME`. Those plays are stopped once their settings are recorded (playing
    them out is the scenario tests' job, and the next test plays one from this page to the Timeline)."""
    workspace = "seat-presets"
    _open(page, server + f"/control?workspace={workspace}")
    page.get_by_text(f"Replace the history of workspace {workspace}").click()
    # Every preset's plan is checked without a browser (test_dashboard_control); here the page's
    # own path: the default, a workshop cut, and the preset the issue caught misplaying, played.
    for name in (DEFAULT_PRESET, "workshop-drift", "bad-friday-deploy"):
        preset = PRESETS[name]
        if name != DEFAULT_PRESET:
            page.locator(".st-key-cr_preset input").click()
            page.get_by_role("option", name=name, exact=True).click()
        page.get_by_text(preset.narrative[:40]).wait_for(timeout=30_000)
        page.wait_for_selector(READY)
        expect(page.locator(".st-key-cr_weeks input")).to_have_value(str(preset.weeks))
        page.get_by_text("What will be played").click()
        page.get_by_text(f"{name} exactly as the preset has it").wait_for(timeout=30_000)
        page.get_by_text("What will be played").click()
        if (
            name != "bad-friday-deploy"
        ):  # the preset the issue caught misplaying; the others' plans are checked
            continue
        page.locator(".st-key-cr_run_scenario button").click()
        stored = _stored_settings(story_db, workspace, name)
        page.locator(".st-key-cr_stop button").click()
        page.get_by_text(f"scenario {name}: stopped").wait_for(timeout=60_000)
        page.wait_for_selector(READY)
        _no_error_boxes(page)
        assert stored == _shown_by_the_cli(name), name


# The pixel position and run id of marker k of the trace named `name`, from plotly's own layout.
MARKER_JS = """([name, k]) => {
  const gd = document.querySelector('CHART');
  const i = gd._fullData.findIndex(t => t.name === name);
  if (i < 0) return null;
  const t = gd._fullData[i];
  const xa = gd._fullLayout[t.xaxis.replace('x', 'xaxis')], ya = gd._fullLayout[t.yaxis.replace('y', 'yaxis')];
  const box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + xa.d2p(t.x[k]), y: box.top + ya._offset + ya.d2p(t.y[k]),
          run: t.customdata[k], n: t.x.length};
}""".replace("CHART", CHART)


def test_clicking_a_timeline_marker_opens_its_run(page, server: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    _open(page, server + "/timeline?workspace=demo")
    page.wait_for_selector(CHART + " .main-svg", timeout=30_000)
    page.locator(CHART).scroll_into_view_if_needed()
    marker = page.evaluate(MARKER_JS, ["release deployed", 1])
    assert marker and marker["run"], "no release marker with a run id"
    page.mouse.move(marker["x"], marker["y"])
    page.mouse.click(marker["x"], marker["y"])
    page.wait_for_url(f"**/devops?**run={marker['run']}**", timeout=30_000)
    page.wait_for_selector(READY, timeout=30_000)
    page.locator(f'code:has-text("{marker["run"]}")').first.wait_for(timeout=30_000)  # the run is shown
    _no_error_boxes(page)
    page.locator('a[data-testid="stSidebarNavLink"][href*="timeline"]').click()  # back: no bounce to the run
    page.wait_for_url("**/timeline**", timeout=30_000)
    page.wait_for_selector(CHART + " .main-svg", timeout=30_000)
    page.wait_for_timeout(1000)
    assert "/timeline" in page.url


CUT_OFF = """() => {
  const cut = [...document.querySelectorAll('[data-testid=stMetricLabel] p, [data-testid=stMetricLabel] div, '
                + '[data-testid=stMetricValue] div, [data-testid=stMetricDelta] div')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => 'key: ' + e.innerText);
  // A chart's titles, tick labels, legend and annotations drawn past the chart's own box are cut.
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const box = plot.getBoundingClientRect();
    if (!box.width) continue;
    for (const t of plot.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text, .g-y2title text, '
                                          + '.legendtext, .annotation-text, .xtick text, .ytick text')) {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < box.left - 2 || r.right > box.right + 2)) cut.push('chart: ' + t.textContent);
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) cut.push('page: wider than the window');
  return cut;
}"""


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)])
def test_nothing_is_cut_off_on_a_projector(page, server: str, size: tuple[int, int]) -> None:
    """At projector sizes every page shows its keys' labels, values and deltas whole (they used to end
    in "mo..."), and no chart draws a title, tick label, legend or annotation past its edge."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    for path in PAGES:
        _open(page, server + path + "?workspace=demo")
        if path in ("/", "/devops", "/mlops"):
            page.wait_for_function(
                "() => document.querySelectorAll('[data-testid=stMetric]').length >= 5", timeout=60_000
            )
        page.wait_for_timeout(500)  # plotly lays its legend out after the first draw
        assert page.evaluate(CUT_OFF) == [], path


def test_the_default_pages_name_opens_it(page, server: str) -> None:
    """`/overview` is the default page's name (it gave "Page not found"); bogus `?run=` and
    `?workspace=` links are AppTests in test_view_devops and test_view_mlops."""
    _open(page, server + "/overview?workspace=demo")
    expect(page.locator("h1").first).to_contain_text("DevOps and MLOps, side by side")
    assert page.get_by_text("Page not found").count() == 0
    _no_error_boxes(page)


STEP_WORDS = ".st-key-presenter_step [data-testid=stMarkdownContainer] p"
NOT_FITTING = """() => {
  const words = document.querySelector('SEL').getBoundingClientRect();
  const title = document.querySelector('.st-key-presenter_step h1');
  return {overflowX: document.documentElement.scrollWidth > window.innerWidth,
          wordsBelowScreen: words.bottom > window.innerHeight,
          titleCut: title.scrollWidth > title.clientWidth + 1,
          fontPx: parseFloat(getComputedStyle(document.querySelector('SEL')).fontSize),
          sidebar: !!document.querySelector('[data-testid=stSidebar]')?.offsetParent,
          cutInChart: [...document.querySelectorAll('.st-key-presenter_chart g.annotation')].filter(a => {
            const box = a.getBoundingClientRect(), chart = a.closest('.main-svg').getBoundingClientRect();
            return box.left < chart.left - 1 || box.right > chart.right + 1 || box.top < chart.top - 1;
          }).map(a => a.textContent)};
}""".replace("SEL", STEP_WORDS)


def test_presenter_mode_walks_the_story_with_the_arrow_keys(
    page, server: str, story_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each step's title and words are the history's (read from its rows), ArrowRight moves on and
    ArrowLeft back, the URL keeps the step; at both projector sizes the words are whole, large and
    on screen, with no sidebar. Screenshots of every step land in the test's `presenter` folder."""
    from pipelines.scenario.steps import read_story_steps

    shots = tmp_path_factory.mktemp("presenter")
    steps = read_story_steps(Store(story_db), "demo")
    assert [s.key for s in steps] == ["play", "caught-bug", "escaped-bug", "retrain", "gap"]
    failing = Store(story_db).select("steps", "demo", where={"name": "test", "status": "failed"})
    assert len(failing) >= 1  # the caught bug's own tests, named on its step
    for width, height in ((1024, 768), (1280, 720)):
        page.set_viewport_size({"width": width, "height": height})
        _open(page, server + "/present?workspace=demo&step=1")
        for number, step in enumerate(steps, start=1):
            page.wait_for_url(f"**step={number}**", timeout=30_000)
            page.wait_for_selector(READY, timeout=30_000)
            expect(page.locator(".st-key-presenter_step h1")).to_have_text(step.title, timeout=30_000)
            expect(page.locator(STEP_WORDS)).to_have_text(step.annotation)
            page.wait_for_selector(".st-key-presenter_chart .main-svg", timeout=30_000)
            _no_error_boxes(page)
            fit = page.evaluate(NOT_FITTING)
            assert fit == {**fit, "overflowX": False, "wordsBelowScreen": False, "titleCut": False,
                           "sidebar": False, "cutInChart": []}, (width, step.key)  # fmt: skip
            assert fit["fontPx"] >= 18, (width, step.key)
            page.screenshot(path=str(shots / f"step{number}-{step.key}-{width}x{height}.png"))
            if number < len(steps):
                page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
        page.wait_for_url(f"**step={len(steps) - 1}**", timeout=30_000)
        expect(page.locator(".st-key-presenter_step h1")).to_have_text(steps[-2].title, timeout=30_000)
    page.get_by_text("Leave presenter mode").click()  # the sidebar comes back with the other pages
    page.wait_for_url("**/timeline**", timeout=30_000)
    expect(page.locator('[data-testid="stSidebar"]')).to_be_visible(timeout=30_000)
    print(f"presenter screenshots: {shots}")


def test_the_sidebar_links_keep_the_workspace(page, server: str) -> None:
    """A page link opened in a new tab (or copied) keeps the workspace it was on."""
    _open(page, server + "/timeline?workspace=seat-presets")
    links = page.locator('a[data-testid="stSidebarNavLink"]')
    page.wait_for_function(
        """() => [...document.querySelectorAll('a[data-testid="stSidebarNavLink"]')]
                 .every(a => a.getAttribute('href').includes('workspace=seat-presets'))""",
        timeout=10_000,
    )
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) >= 9 and any(h.startswith("/devops?") for h in hrefs), hrefs
    other = page.context.new_page()
    try:
        _open(other, server + next(h for h in hrefs if h.startswith("/devops?")))
        assert other.locator('[data-testid="stSidebar"] input').first.input_value() == "seat-presets"
    finally:
        other.close()
    links.filter(has_text="MLOps").click()  # a click still navigates in the app
    page.wait_for_url("**/mlops**", timeout=30_000)
    assert "workspace=seat-presets" in page.url
