"""A report to leave behind: one self-contained HTML file of a workspace's played story.

Everything in it is what the core and the dashboard's figure builders already say: the story told by
`tell_story`, the Timeline and drift heatmap figures, DORA's keys beside their ML mirrors, what
retraining bought (the summary's means), incidents, rollbacks and the drift summary read from the
store. plotly.js is inlined once and every chart is a plotly div, so the file opens offline and asks
no other host for anything. It imports no Streamlit: `opslab report` (pipelines/cli/report.py) and the
Overview's download button both call `build_report`; `print_pdf` prints it through headless Chromium.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dashboard.figures.devops import incidents_frame
from dashboard.figures.drift import drift_heatmap
from dashboard.figures.mlops import quality_figure
from dashboard.figures.timeline import quality_reading, timeline_events, timeline_figure
from pipelines.devops.metrics import dora_keys
from pipelines.errors import OpsLabError
from pipelines.keys import KeyResult
from pipelines.mlops.metrics import ml_keys
from pipelines.quality import metric_named
from pipelines.scenario.outcomes import Story
from pipelines.scenario.settings import CALENDAR_COLUMNS
from pipelines.scenario.summary import summarize, tell_story
from pipelines.store import Store
from pipelines.store.history import weekly_frame
from pipelines.store.queries import runs_table

__all__ = ["CHROMIUM", "build_report", "print_pdf", "retraining_gain"]

CHROMIUM = Path("/usr/bin/chromium")
# Every chart is drawn once the browser has run the inline scripts: what `print_pdf` waits for.
CHARTS_DRAWN = (
    "() => [...document.querySelectorAll('.js-plotly-plot')].every(c => c.querySelector('.main-svg'))"
)
# No modebar: a printed page has nothing to click, and its plotly logo links to another host.
CHART_CONFIG = {"displayModeBar": False, "displaylogo": False, "responsive": True}
# Short enough that the Timeline and its heading share one printed A4 page (about 1030 px tall).
TIMELINE_HEIGHT = 820

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1100px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { margin-bottom: 0; } .sub { color: #555; margin-top: 4px; }
section { margin-top: 28px; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.tier { display: inline-block; padding: 0 8px; border-radius: 8px; color: #fff; font-size: 0.85em; }
.tier-elite { background: #009E73; } .tier-high { background: #0072B2; }
.tier-medium { background: #E69F00; color: #222; } .tier-low { background: #D55E00; }
.note { color: #555; font-size: 0.9em; } .warn { background: #fff4e0; padding: 8px 12px; }
.gain { font-size: 1.3em; font-weight: 600; }
.cols { display: flex; gap: 24px; } .cols > div { flex: 1; }
.chart { width: 100%; break-inside: avoid; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  section { break-before: page; margin-top: 0; } section.first { break-before: auto; }
  table, tr { break-inside: avoid; }
}
"""


def retraining_gain(summary: dict[str, Any]) -> tuple[float, float] | None:
    """What retraining bought, from the summary: (in the metric's units, in percent of the
    never-retrained model's mean); positive means production with retraining did better."""
    gain, never = summary.get("retraining_gain"), summary.get("mean_quality_never_retrained")
    if gain is None or never is None:
        return None
    return float(gain), (100.0 * float(gain) / abs(float(never)) if never else float("nan"))


def build_report(store: Store, workspace: str) -> str:
    """The workspace's report as one HTML document (a `str`, about 4.7 MB with plotly.js inlined)."""
    story = tell_story(store, workspace) if store.exists() else None
    weekly = weekly_frame(store, workspace) if story is not None else pd.DataFrame()
    if story is None or weekly.empty:
        raise OpsLabError(
            f"workspace {workspace} has no played weeks to report on: play a scenario first "
            f"(`opslab --workspace {workspace} scenario run full-story`)."
        )
    summary = summarize(store, workspace)
    info = store.workspace_info(workspace) or {}
    settings = info.get("settings") or {}
    runs = runs_table(store, workspace, limit=100_000)
    deployments = store.select("deployments", workspace, order_by="deployed_at")
    incidents = store.select("incidents", workspace, order_by="opened_sim_time")
    drift = store.select("drift", workspace, order_by="sim_time, feature")
    timeline = timeline_figure(
        weekly,
        timeline_events(runs, deployments, incidents),
        incidents,
        drift_line=float(settings.get("dataset_drift_share") or 0.5),
        height=TIMELINE_HEIGHT,
    )
    sections = [
        _story_section(story),
        _timeline_section(timeline, weekly),
        _keys_section(dora_keys(store, workspace), ml_keys(store, workspace)),
        _gain_section(summary, weekly, runs[runs["kind"] == "mlops"]),
        _incidents_section(summary, incidents, deployments, runs),
        _drift_section(summary, drift),
    ]
    title = f"OpsLab report: {story.scenario} in workspace {workspace}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<h1>{_e(title)}</h1><p class='sub'>{_e(_played(story, summary))}</p>"
        + "".join(sections)
        + "</body></html>\n"
    )


def print_pdf(
    html_file: Path, pdf_file: Path, *, chromium: Path = CHROMIUM, timeout_ms: int = 60_000
) -> None:
    """Print the report to PDF with the headless Chromium the browser tests use, offline: any
    request to another host is aborted, so the PDF shows only what the file itself holds."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise OpsLabError(
            "printing a PDF needs Playwright, a development dependency: `pip install playwright`, "
            "or open the HTML report in a browser and print it from there."
        ) from None
    if not chromium.exists():
        raise OpsLabError(
            f"printing a PDF needs Chromium at {chromium}: install it (`apt-get install chromium`), "
            "or open the HTML report in a browser and print it from there."
        )
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True, args=flags)
        try:
            # A4 less 12 mm margins at 96 dpi: charts are laid out at the width they are printed at.
            page = browser.new_page(viewport={"width": 720, "height": 1000})
            page.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
            )
            page.emulate_media(media="print")
            page.goto(Path(html_file).resolve().as_uri(), timeout=timeout_ms)
            page.wait_for_function(CHARTS_DRAWN, timeout=timeout_ms)
            page.pdf(path=str(pdf_file), format="A4", print_background=True,
                     margin={"top": "12mm", "bottom": "12mm", "left": "12mm", "right": "12mm"})  # fmt: skip
        finally:
            browser.close()


# -- the sections ----------------------------------------------------------------------------------
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _words(text: str) -> str:
    """Escaped text with the story's **bold** kept (the dashboard renders it as Markdown)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(text))


def _chart(fig: go.Figure, div_id: str) -> str:
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CHART_CONFIG)
    return f"<div class='chart'>{body}</div>"


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p class='note'>{_e(empty)}</p>"
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d %H:%M").fillna("–")
    return shown.to_html(index=False, border=0, na_rep="–", escape=True)


def _played(story: Story, summary: dict[str, Any]) -> str:
    seed = f", seed {story.seed}" if story.seed is not None else ""
    return (
        f"{story.weeks} scenario weeks played{seed}: {summary.get('devops_runs') or 0} DevOps runs, "
        f"{summary.get('mlops_runs') or 0} MLOps runs. Every number is counted from this workspace's history."
    )


def _story_section(story: Story) -> str:
    parts = ["<section class='first'><h2>The story</h2>"]
    if story.differences:
        parts.append(
            f"<p class='warn'>This play is not the preset <strong>{_e(story.preset)}</strong> as written: "
            + _e("; ".join(story.differences))
            + ". So the preset's narrative and promises are its intent, not this play's story.</p>"
        )
    elif story.notes:
        parts.append(f"<p class='note'>Played as the preset, {_e('; '.join(story.notes))}.</p>")
    if story.events:
        parts.append(
            "<p><strong>Put into this play:</strong> "
            + _e("; ".join(f"{e.what} from {e.when()}" for e in story.events))
            + ".</p>"
        )
    parts.append("<div class='cols'>")
    for lifecycle, title in (("devops", "DevOps"), ("mlops", "MLOps")):
        items = "".join(f"<li>{_words(o.text)}</li>" for o in story.outcomes_of(lifecycle))
        parts.append(f"<div><h3>{title}</h3><ul>{items}</ul></div>")
    parts.append("</div>")
    if story.narrative or story.promises:
        whose = f"the preset {story.preset}" if story.preset else f"the settings {story.scenario}"
        parts.append(f"<h3>What {_e(whose)} set out to show</h3>")
        parts.append(f"<p><strong>Its intent, not an outcome.</strong> {_words(story.narrative)}</p>")
        if story.promises:
            kept = sum(p.held for p in story.promises)
            rows = "".join(
                f"<li><strong>{'kept' if p.held else 'not kept'}</strong>: {_words(p.says)}. {_words(p.reason)}</li>"
                for p in story.promises
            )
            parts.append(
                f"<p>Its promises, checked against this play: {kept} of {len(story.promises)} kept.</p>"
            )
            parts.append(f"<ul>{rows}</ul>")
    parts.append("</section>")
    return "".join(parts)


def _timeline_section(fig: go.Figure, weekly: pd.DataFrame) -> str:
    return (
        "<section><h2>The Timeline</h2>"
        "<p class='note'>DevOps above, MLOps below, on the scenario's clock. ▲ a release deployed to production, "
        "▽ a rollback, ✕ a pipeline that failed, ■ an incident (shaded while open), ◆ a retrain coloured by its "
        f"trigger; {_e(quality_reading(weekly))}.</p>" + _chart(fig, "report-timeline") + "</section>"
    )


def _tier(key: KeyResult) -> str:
    return f"<span class='tier tier-{_e(key.tier)}'>{_e(key.tier)}</span>" if key.tier else "–"


def _keys_section(dora: Sequence[KeyResult], ml: Sequence[KeyResult]) -> str:
    rows = "".join(
        f"<tr><td title='{_e(d.formula)}'>{_e(d.label)}</td><td>{_e(d.display)}</td><td>{_tier(d)}</td>"
        f"<td title='{_e(m.formula)}'>{_e(m.label)}</td><td>{_e(m.display)}</td><td>{_tier(m)}</td></tr>"
        for d, m in zip(dora, ml, strict=False)
    )
    sources = sorted({k.tier_source for k in [*dora, *ml] if k.tier_source})
    notes = "".join(f"<li>{_e(k.label)}: {_e(k.note)}</li>" for k in [*dora, *ml] if k.note)
    return (
        "<section><h2>The headline keys</h2>"
        "<p>DORA's five keys for the service's code, each beside the ML key that mirrors it for the model, "
        "measured the same way on the same clock.</p>"
        "<table><thead><tr><th>DORA key</th><th>value</th><th>tier</th><th>ML mirror</th><th>value</th>"
        f"<th>tier</th></tr></thead><tbody>{rows}</tbody></table>"
        + (f"<p class='note'>Undefined or qualified keys:</p><ul class='note'>{notes}</ul>" if notes else "")
        + "<p class='note'>Tiers: "
        + _e("; ".join(sources))
        + "</p></section>"
    )


def _gain_section(summary: dict[str, Any], weekly: pd.DataFrame, retrains: pd.DataFrame) -> str:
    metric = metric_named(str(summary.get("quality_metric") or "mae"))
    production, never = summary.get("mean_quality"), summary.get("mean_quality_never_retrained")
    gain = retraining_gain(summary)
    if gain is None:
        words = (
            "<p>No realized quality to compare yet: the weeks played recorded no labelled quality for the "
            "production model and the never-retrained first model.</p>"
        )
    else:
        units, percent = gain
        verb = "better" if units >= 0 else "worse"
        words = (
            f"<p class='gain'>Retraining made the model {metric.format(abs(units))} {_e(metric.label)} {verb} "
            f"per week on average ({abs(percent):.1f} % {verb} than never retraining).</p>"
            f"<p>Mean weekly {_e(metric.title)}: {metric.format(production)} for the production model with "
            f"retraining, {metric.format(never)} for the first model had it never been retrained, over "
            f"{summary.get('weeks') or 0} weeks and {summary.get('retrains') or 0} retrains "
            f"({summary.get('retrains_drift') or 0} on drift, {summary.get('retrains_performance') or 0} on "
            "quality decay).</p>"
        )
    return (
        "<section><h2>What retraining bought</h2>"
        + words
        + _chart(quality_figure(weekly, retrains), "report-quality")
        + "</section>"
    )


def _count(n: Any, singular: str) -> str:
    n = int(n or 0)
    return f"{n} {singular}{'' if n == 1 else 's'}"


def _incidents_section(
    summary: dict[str, Any], incidents: pd.DataFrame, deployments: pd.DataFrame, runs: pd.DataFrame
) -> str:
    rolled = deployments[deployments["rolled_back"]] if not deployments.empty else deployments
    label = dict(zip(runs["run_id"], runs["label"], strict=False)) if not runs.empty else {}
    rollbacks = pd.DataFrame({
        "kind": rolled.get("kind", pd.Series(dtype=object)),
        "version": rolled.get("ref", pd.Series(dtype=object)),
        "deployed": pd.to_datetime(rolled.get("sim_time", pd.Series(dtype="datetime64[ns]"))),
        "rolled back to": rolled.get("replaced_by", pd.Series(dtype=object)),
        "rolled back at": pd.to_datetime(rolled.get("replaced_sim_time", pd.Series(dtype="datetime64[ns]"))),
        "what it shipped": [label.get(r) or "–" for r in rolled.get("run_id", pd.Series(dtype=object))],
    })  # fmt: skip
    return (
        "<section><h2>Incidents and rollbacks</h2>"
        f"<p>{_count(summary.get('service_incidents'), 'service incident')}, "
        f"{_count(summary.get('model_incidents'), 'model incident')} and "
        f"{_count(summary.get('rollbacks'), 'rollback')}.</p>"
        "<h3>Service incidents</h3>"
        + _table(incidents_frame(incidents, "service"), "No service incident.")
        + "<h3>Model incidents</h3>"
        + _table(incidents_frame(incidents, "model"), "No model incident.")
        + "<h3>Rollbacks</h3>"
        + _table(rollbacks, "Nothing was rolled back.")
        + "</section>"
    )


def _drift_section(summary: dict[str, Any], drift: pd.DataFrame) -> str:
    parts = ["<section><h2>Drift</h2>"]
    weeks = summary.get("weeks") or 0
    dataset_pct, temp_pct = summary.get("dataset_drift_weeks_pct"), summary.get("temp_drift_weeks_pct")
    parts.append(
        f"<p>The dataset drifted in {summary.get('dataset_drift_weeks') or 0} of {weeks} weeks"
        + (f" ({dataset_pct:.0f} %)" if dataset_pct is not None else "")
        + f"; the temperature feature drifted in {summary.get('temp_drift_weeks') or 0}"
        + (f" ({temp_pct:.0f} %)" if temp_pct is not None else "")
        + f". {_count(summary.get('retrains_drift'), 'retrain')} on drift.</p>"
    )
    if drift.empty:
        parts.append("<p class='note'>No drift was measured: monitoring runs once a model serves a week.</p>")
    else:
        calendar = sorted(CALENDAR_COLUMNS & set(drift["feature"]))
        weeks = drift.groupby(["feature", "week"])["drifted"].any().groupby("feature")
        per_feature = pd.DataFrame({"weeks measured": weeks.size(), "weeks drifted": weeks.sum()})
        per_feature = per_feature.join(drift.groupby("feature")["test"].first())
        per_feature = per_feature.sort_values("weeks drifted", ascending=False, kind="stable").reset_index()
        per_feature["feature"] = [f"{f} (calendar)" if f in calendar else f for f in per_feature["feature"]]
        parts.append(
            "<p class='note'>Each cell is how far that week's verdict was past its threshold (1 is the "
            "threshold); a dot marks drift. Calendar columns "
            f"({_e(', '.join(calendar) or 'none')}) are recorded but not counted towards dataset drift.</p>"
        )
        parts.append(_chart(drift_heatmap(drift, calendar), "report-drift"))
        parts.append(_table(per_feature, "No feature measured."))
    parts.append("</section>")
    return "".join(parts)
