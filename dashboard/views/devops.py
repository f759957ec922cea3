"""DevOps: the code pipeline's runs, one run's steps, trends, the DORA keys, deployments, incidents."""

from __future__ import annotations

import streamlit as st

from dashboard import data, imported, run_panels, state, ui
from dashboard.figures import devops as figs

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)

sources = imported.sources(db, ws, version)
st.title("DevOps: shipping code")
st.caption(
    "Every commit runs checkout → build → test → deploy for real; production behaviour changes only "
    "when a release changes it. Times are on the scenario clock; durations are real wall-clock time."
    if not sources
    else f"A history {imported.origin_line(sources)}: its pipeline runs, releases and incidents at the source's "
    "own times (UTC)."
)
if not data.has_history(db, ws, version):
    ui.empty_state(ws)
    st.stop()

definition = ui.definition_switch(key="devops_definition")
keys = data.dora(db, ws, version, definition)
ui.key_cards(keys)


def deployments_and_keys() -> None:
    """Production's releases and incidents, then how each key is computed (with or without runs)."""
    st.subheader("Production deployments and incidents")
    deployments = data.table(db, ws, "deployments", version)
    st.caption("Every release that reached production, newest first; a rollback is an unplanned deploy.")
    releases = ui.newest_rows(
        figs.deployments_frame(deployments, data.release_labels(db, ws, version)), "deployments"
    )
    st.dataframe(releases, width="stretch", hide_index=True, key="devops_deployments",
                 column_config={"sim time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                "replaced at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})  # fmt: skip
    incidents = figs.incidents_frame(data.table(db, ws, "incidents", version))
    failures_unknown = imported.cannot_show(db, ws, version, "failures", "") if sources else ""
    if incidents.empty and failures_unknown:
        st.info(f"Incidents are unknown, not none: {failures_unknown}", icon="ℹ️")
    elif incidents.empty and sources:
        st.caption("No incident in the imported history: no release was followed by the evidence of a failure its "
                   "source records (what counts as evidence is in the import's note on the Overview).")  # fmt: skip
    elif incidents.empty:
        st.caption("No service incident so far: no release broke production badly enough to trip an alarm.")
    else:
        st.caption(
            "Service incidents: an error-rate or latency alarm opened them, a rollback closed them."
            if not sources
            else "Incidents read from the imported history: 'detected by' names the evidence (a revert, a quick "
            "patch, an incident issue)."
        )
        st.dataframe(incidents, width="stretch", hide_index=True, key="devops_incidents",
                     column_config={"opened": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                    "resolved": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})  # fmt: skip

    st.subheader("How the DORA keys are computed")
    st.caption(
        "Each key's formula, the tier table it is placed in, and the SQL that computed it over this workspace."
    )
    ui.key_details(keys)
    ui.tier_table(definition)


total = data.run_counts(db, ws, version).get("devops", 0)
if not total and sources:  # a source without pipeline runs (git) still has releases and incidents
    st.info(imported.cannot_show(db, ws, version, "pipeline_runs", "The imported history holds no pipeline run."),
            icon="ℹ️")  # fmt: skip
    deployments_and_keys()
    st.stop()
if not total:
    st.info(
        "No DevOps pipeline has run in this workspace yet. Ship a change from the Control room.", icon="ℹ️"
    )
    st.stop()
page = ui.runs_page_picker(total, key="devops_runs_page")
runs = data.runs(db, ws, version, "devops", page)
table = figs.runs_frame(runs)
ids = runs["run_id"].tolist()
label_of = {r["run_id"]: figs.run_choice_label(r) for r in runs.to_dict("records")}

# The chosen run lives in the selectbox; `?run=ID` (a deep link, or a Timeline click) wins when it
# names a DevOps run, and every choice is written back to the URL so the page can be shared. A run
# linked from outside the table's page joins the picker.
link = st.query_params.get("run")
linked = data.run_detail(db, ws, link, version) if link and link not in label_of else None
if linked and linked["run"]["kind"] == "devops":
    label_of[link] = figs.run_choice_label(linked["run"])
    ids.append(link)
if link in label_of:
    st.session_state.devops_run = link
elif st.session_state.get("devops_run") not in label_of:
    st.session_state.devops_run = ids[0]
if link and link not in label_of:  # a wrong link says what was not found, then shows the newest
    st.warning(
        f"There is no DevOps run {link!r} in workspace {ws}; showing the newest run instead.", icon="🔎"
    )
    st.query_params["run"] = st.session_state.devops_run


def _choose(run_id: str) -> None:
    st.session_state.devops_run = run_id
    st.query_params["run"] = run_id


def _picked_row() -> None:
    rows = st.session_state.devops_runs.selection.rows
    if rows:
        _choose(table.iloc[rows[0]]["run id"])


st.subheader("Pipeline runs")
st.caption(
    f"{ui.runs_page_note(total, page, len(runs))} Click a row (or use the picker below) to open its steps."
)
st.dataframe(table, width="stretch", hide_index=True, on_select=_picked_row, selection_mode="single-row",
             key="devops_runs", height=min(36 * (len(table) + 1) + 3, 320),
             column_config={"sim time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                            "change": st.column_config.TextColumn(width="medium")})  # fmt: skip
run_id = st.selectbox("Run", ids, format_func=label_of.get, key="devops_run",
                      on_change=lambda: _choose(st.session_state.devops_run))  # fmt: skip

detail = data.run_detail(db, ws, run_id, version)
if detail is None:
    st.error(f"Run {run_id} is no longer in the history; pick another one.")
    st.stop()
run, steps = detail["run"], detail["steps"]
status_badge = {"succeeded": "green", "failed": "red"}.get(run["status"], "gray")
st.markdown(f"#### {run.get('label') or run_id}  :{status_badge}-badge[{run['status']}]")
st.caption(f"Run `{run_id}` · triggered by a {run['trigger']} · commit `{(run.get('input_fingerprint') or '')[:12]}` · "
           f"{'created' if sources else 'scenario time'} {run['sim_time']:%a %d %b %Y %H:%M} · took {figs.format_ms(run.get('duration_ms'))}")  # fmt: skip
if run.get("error"):
    st.warning(f"This run failed: {run['error']}", icon="⚠️")
if steps:
    st.caption("The run's steps on its wall-clock time axis, as GitHub Actions draws a job.")
    run_panels.steps_gantt(run, steps, key="devops_gantt")
    for step in steps:
        with st.expander(figs.step_title(step)):
            if step.get("error"):  # the run's own failure, not the page's: a warning, not an error box
                (st.caption if step["status"] == "skipped" else st.warning)(step["error"])
            if step.get("metrics"):
                st.json(step["metrics"], expanded=1)
            if step.get("log_tail"):
                st.caption("Log tail")
                st.code(step["log_tail"], language="text")
            if step.get("cache_key") and isinstance(step["cache_key"], str):
                st.caption(f"Cache key `{step['cache_key']}`")
if not detail["artifacts"].empty:
    st.caption(
        "Artifacts this run produced (sha256 identifies the exact bytes that were tested and deployed)"
    )
    st.dataframe(
        figs.artifacts_frame(detail["artifacts"]), width="stretch", hide_index=True, key="devops_artifacts"
    )

params_tab, diff_tab = st.tabs(["Parameters", "Commit diff"])
with params_tab:
    st.caption("What this run was asked to do: the commit, the changes it ships, the pipeline's settings.")
    run_panels.params_table(db, ws, version, run, key="devops_params")
with diff_tab:
    if sources:  # an imported run's commit lives in the team's repository, not in a workspace's own
        sha = run.get("input_fingerprint") or "unknown"
        st.caption(f"This run's commit `{sha}` is in the team's repository, not in this workspace (its history is "
                   f"{imported.origin_line(sources)}): `git show {sha[:12]}` there shows what it built.")  # fmt: skip
    else:
        st.caption("What this run built: `git show --stat -p` of its commit in the workspace's repository.")
        run_panels.commit_diff(db, ws, version, run.get("input_fingerprint"))
if (
    compare := st.expander("Compare two runs side by side", key="devops_compare_open", on_change="rerun")
).open:
    with compare:  # drawn when opened: two pickers of every run and two runs' records
        run_panels.compare_runs(db, ws, version, "devops", ids, label_of.get, run_id)

st.subheader("Trends")
left, right = st.columns(2)
with left:
    st.caption(
        "Pipeline duration per run (wall clock); hover for the per-step breakdown. A vermilion dot is a failed run."
        + (
            " The runs of the table's page only; the trends beside it count every run."
            if total > len(runs)
            else ""
        )
    )
    steps_shown = data.steps_of(db, ws, tuple(runs["run_id"]), version)
    st.plotly_chart(figs.duration_trend_figure(runs, steps_shown), width="stretch",
                    key="devops_duration_trend")  # fmt: skip
with right:
    st.caption(
        "p50 and p95 duration and the share of finished runs that succeeded, per span of scenario time."
    )
    run_panels.pipeline_trends(db, ws, version, "devops")

deployments_and_keys()
