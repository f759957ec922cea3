"""Control room: play a scenario or your own variation, run one pipeline, reset the workspace."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import control, data, imported, importing, state
from dashboard.jobs import JobManager
from pipelines.devops.changes import list_changes
from pipelines.drift import DRIFT_METHODS
from pipelines.errors import OpsLabError
from pipelines.importers.git import DEFAULT_TAG_PATTERN, DEFAULT_WINDOW_HOURS, RELEASE_MODES
from pipelines.mlops.policy import POLICIES
from pipelines.mlops.simulator import (
    CONCEPT_FEATURES,
    COVARIATE_FEATURES,
    DRIFT_PATTERNS,
    DRIFT_TYPES,
    DriftInjection,
)
from pipelines.scenario.presets import DEFAULT_PRESET, PRESETS
from pipelines.scenario.settings import settings_dict
from pipelines.verdicts import run_verdict


@st.cache_resource
def jobs() -> JobManager:
    return JobManager()


db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)
st.title("Control room")
st.caption(
    f"Everything here runs for real in workspace **{ws}**: the same `opslab` command a terminal would run, "
    "in the background, so the rest of the app stays usable while it works."
)


def start(args: list[str], label: str) -> None:
    try:
        jobs().start(ws, db, args, label)
        st.session_state.cr_announced = False
    except OpsLabError as exc:
        st.error(str(exc))


# -- the live panel ------------------------------------------------------------------------------
job = jobs().get(ws)


@st.fragment(run_every=1.0 if job is not None and job.running else None)
def live_panel() -> None:
    current = jobs().get(ws)
    if current is None:
        st.caption("No run started from the browser in this workspace yet.")
        return
    status = current.status
    box = {"running": "running", "succeeded": "complete"}.get(status, "error")
    with st.status(f"{current.label}: {status} ({current.elapsed:.0f} s)", state=box, expanded=True):
        st.progress(current.fraction, text=current.step)
        if current.running:
            st.button("Stop (like Ctrl-C)", key="cr_stop", on_click=current.stop)
        result = current.result()
        kind = current.label.split()[0]
        told = isinstance(result, dict) and bool(result.get("steps")) and kind in ("devops", "mlops")
        if current.error and not told:  # a run that recorded its steps says itself why it stopped
            st.error(current.error)
        if told:
            st.markdown(f"**{run_verdict(kind, result)}**")  # what the run did, from its own record
            st.page_link(f"views/{kind}.py", label="Open the run", icon="🔎",
                         query_params={"run": str(result.get("run_id")), "workspace": ws})  # fmt: skip
        if isinstance(result, dict) and result.get("expectations"):
            for item in result["expectations"]:
                st.markdown(f"{'✅' if item['held'] else '❌'} {item['says']}: {item.get('reason', '')}")
        if result and isinstance(result, dict) and result.get("note"):
            st.info(result["note"])
        elif current.lines and not current.running:
            st.code("\n".join(list(current.lines)[-6:]), language=None)
    if not current.running and not st.session_state.get("cr_announced", True):
        st.session_state.cr_announced = True
        st.rerun()  # the whole page, so the new history shows everywhere
    if not current.running and status == "succeeded":
        st.page_link("views/timeline.py", label="See it on the Timeline", icon="🕰️")


live_panel()


@st.cache_resource
def imports() -> importing.ImportJobs:
    return importing.ImportJobs()


import_job = imports().get(db, st.session_state.get("cr_import_target", ""))


@st.fragment(run_every=1.0 if import_job is not None and import_job.running else None)
def import_panel() -> None:
    """The import this session started last: its progress, then what it did or why it did nothing."""
    current = imports().get(db, st.session_state.get("cr_import_target", ""))
    if current is None:
        return
    if current.running:
        with st.status(f"Importing {current.source} into {current.workspace}… ({current.elapsed:.0f} s)"):
            st.caption(f"Reading {current.location}, then landing and transforming it in one transaction.")
        return
    if not st.session_state.get("cr_import_announced", True):
        st.session_state.cr_import_announced = True
        st.rerun()  # the whole page, so the sidebar lists the new workspace
    if current.error or current.summary is None:
        st.error(current.error or "The import did not finish.")
        return
    summary = current.summary
    st.success(f"Imported {summary.source} into {summary.workspace} in {current.elapsed:.1f} s: {summary.records:,} "
               f"records read, {summary.new_records:,} new or changed.")  # fmt: skip
    if summary.note:
        st.info(summary.note)
    st.page_link("views/overview.py", label=f"Open workspace {summary.workspace}", icon="📥",
                 query_params={"workspace": summary.workspace})  # fmt: skip


# A facilitator watching a seat (`?watch=1`) looks but never plays, runs or resets in its place.
busy = (job is not None and job.running) or state.read_only()

scenario_tab, single_tab, import_tab, workspace_tab = st.tabs(
    ["Play a scenario", "Run one pipeline", "Import a history", "Workspace"]
)


# -- scenarios -----------------------------------------------------------------------------------
def show_preset() -> None:
    """A new preset: every knob shows its value (keyed widgets would keep the old preset's)."""
    st.session_state.update(control.knob_state(PRESETS[st.session_state.cr_preset]))


with scenario_tab:
    st.session_state.setdefault("cr_preset", DEFAULT_PRESET)
    for key, value in control.knob_state(PRESETS[st.session_state.cr_preset]).items():
        st.session_state.setdefault(key, value)
    preset = PRESETS[st.selectbox("Preset", list(PRESETS), key="cr_preset", on_change=show_preset)]
    st.caption(preset.narrative)
    c1, c2, c3 = st.columns(3)
    seed = c1.number_input("Seed", min_value=0, max_value=10_000, key="cr_seed")
    weeks = c2.number_input("Weeks", min_value=1, max_value=200, key="cr_weeks")
    cadence = c3.number_input("Release every N weeks (0: the preset's schedule)", 0, 26, key="cr_cadence")

    st.markdown("**Data source**")
    source = st.radio("Data", [control.PRESET_DATA, "simulated", "bike-sharing", "upload a CSV or Parquet file"],
                      horizontal=True, key="cr_source", label_visibility="collapsed")  # fmt: skip
    data_arg = time_col = target_col = upload_problem = None
    if source == "simulated" or source == "bike-sharing":
        data_arg = source
    elif source.startswith("upload"):
        upload = st.file_uploader(
            "Your data (a time column and a target)", type=["csv", "parquet"], key="cr_upload"
        )
        if upload is not None:
            try:
                path = control.save_upload(Path(data.files_dir(db, "uploads")), upload.name,
                                           upload.getvalue())  # fmt: skip
                head = data.upload_preview(str(path))
            except (OpsLabError, ValueError, OSError) as exc:
                upload_problem = f"That file cannot be used: {exc}"
                st.error(upload_problem)
            else:
                columns = list(head.columns)
                p1, p2 = st.columns(2)
                time_col = p1.selectbox("Time column", columns, key="cr_time_column")
                target_col = p2.selectbox("Target", columns, index=len(columns) - 1, key="cr_target")
                st.dataframe(head.head(5), hide_index=True, width="stretch")
                upload_problem = data.upload_problem(str(path), str(time_col), str(target_col))
                if upload_problem is not None:  # said now, not when a play has already started
                    st.error(upload_problem)
                else:
                    data_arg = str(path)
                st.caption("The sample service speaks the bike-sharing schema, so with your data the DevOps "
                           "half sits this one out; the MLOps half runs on your file.")  # fmt: skip

    with st.expander("Drift injection (simulated data)"):
        kind = st.selectbox("Type", ["none", *DRIFT_TYPES], key="cr_drift_type")
        d1, d2, d3, d4, d5 = st.columns(5)
        pattern = d1.selectbox("Pattern", DRIFT_PATTERNS, key="cr_drift_pattern")
        onset = d2.number_input("Onset (simulator week)", 1, 200, key="cr_drift_onset")
        duration = d3.number_input("Lasts (weeks, 0: to the end)", 0, 200, key="cr_drift_duration")
        magnitude = d4.number_input("Magnitude", 0.0, 5.0, step=0.1, key="cr_drift_magnitude")
        features = CONCEPT_FEATURES if kind == "concept" else COVARIATE_FEATURES
        if st.session_state.cr_drift_feature not in features:
            st.session_state.cr_drift_feature = features[0]
        feature = d5.selectbox("Feature", features, key="cr_drift_feature")
    with st.expander("Retraining policy, drift threshold, label delay"):
        r1, r2, r3, r4 = st.columns(4)
        policy = r1.selectbox("Policy", POLICIES, key="cr_policy")
        every = r2.number_input("Every k weeks (schedule)", 1, 52, key="cr_every")
        drift_weeks = r3.number_input("Drift weeks in a row", 1, 12, key="cr_drift_weeks")
        margin = r4.number_input("Quality margin", 0.01, 2.0, step=0.05, key="cr_margin")
        t0, t1, t2 = st.columns(3)
        method = t0.selectbox("Drift method", DRIFT_METHODS, key="cr_drift_method",
                              help="calibrated: thresholds learnt from the training window's weeks; "
                              "evidently: Evidently's fixed rule (Drift page: Why calibrated thresholds)")  # fmt: skip
        threshold = t1.number_input("Fixed drift distance threshold (empty: the method's own)", 0.01, 5.0, None,
                                    0.05, key="cr_threshold", placeholder="the method's own thresholds")  # fmt: skip
        delay = t2.number_input("Label delay (weeks)", 0, 8, key="cr_delay")

    settings = None
    try:
        injection = None
        if kind != "none":
            injection = DriftInjection(kind, pattern, onset_week=int(onset), magnitude=float(magnitude),
                                       feature=feature, duration_weeks=int(duration) or None)  # fmt: skip
        edits = control.Edits(
            seed=int(seed), weeks=int(weeks), policy=policy, every_weeks=int(every), drift_weeks=int(drift_weeks),
            quality_margin=float(margin), drift_threshold=threshold, label_delay_weeks=int(delay), drift_method=method,
            release_every=int(cadence), injection=injection, data=data_arg, time_column=time_col, target=target_col,
        )  # fmt: skip
        settings = control.build_settings(preset, edits)
    except ValueError as exc:
        st.error(f"These settings cannot be played: {exc}")
    if settings is not None:
        with st.expander("What will be played"):
            changes = control.settings_changes(preset, settings)
            if changes.empty:
                st.caption(
                    f"{preset.name} exactly as the preset has it (`opslab scenario show {preset.name}`)."
                )
            else:
                st.table(changes)
            st.json(settings_dict(settings), expanded=False)

    replace = st.checkbox(f"Replace the history of workspace {ws} if it has one", key="cr_replace")
    if st.button("Play it", type="primary", key="cr_run_scenario", disabled=busy or settings is None):
        if source.startswith("upload") and data_arg is None:
            st.error(upload_problem or "Upload a CSV or Parquet file first, or pick another data source.")
        elif settings is not None:
            file = control.write_settings(Path(data.files_dir(db, "settings")), settings)
            start(control.scenario_args(file, replace=replace), f"scenario {preset.name}")
            st.rerun()

# -- single pipelines ----------------------------------------------------------------------------
imported_here = imported.sources(db, ws, version)
single_busy = busy or bool(imported_here)
with single_tab:
    if imported_here:  # a played run beside an imported history would be counted in its keys
        st.info(f"Workspace **{ws}** holds a history {imported.origin_line(imported_here)}: a pipeline run here "
                "would be counted in its keys beside the real ones, so single runs are off in it. Pick or "
                "create another workspace in the sidebar to run one.", icon="📥")  # fmt: skip
    st.markdown("**DevOps: commit a scripted change and run checkout → build → test → deploy**")
    shipped = data.table(db, ws, "changes", version) if data.has_history(db, ws, version) else pd.DataFrame()
    done = set(shipped["change_id"].dropna()) if not shipped.empty else set()
    choices = {f"{c.id} ({c.kind})": c.id for c in list_changes() if c.id not in done}
    if choices:
        label = st.selectbox("Change", list(choices), key="cr_change")
        if st.button("Commit and run the pipeline", key="cr_devops_change_run", disabled=single_busy):
            start(control.devops_args(choices[label]), f"devops {choices[label]}")
            st.rerun()
    else:
        st.caption("Every scripted change is committed in this workspace.")
    if st.button("Run the pipeline on HEAD", key="cr_devops_head", disabled=single_busy):
        start(control.devops_args(None), "devops HEAD")
        st.rerun()

    st.markdown("**MLOps: retrain now on the workspace's data**")
    info = data.workspace_info(db, ws, version)
    if imported_here:
        st.caption("An imported history has no data OpsLab played, so there is nothing to retrain on here.")
    elif not info or not info.get("settings"):
        st.caption("Play a scenario first: a retrain uses the data the workspace's scenario played.")
    else:
        weekly = data.weekly(db, ws, version)
        last = pd.Timestamp(weekly["sim_time"].max()).date() if not weekly.empty else date(2011, 6, 1)
        m1, m2, m3 = st.columns(3)
        as_of = m1.date_input("Train on data up to", value=last, key="cr_as_of")
        window = m2.number_input("Window (weeks)", 1, 104, 8, key="cr_window")
        trigger = m3.selectbox("Trigger", ["manual", "schedule", "drift", "performance"], key="cr_trigger")
        if st.button("Retrain", key="cr_mlops_run", disabled=single_busy):
            start(
                control.mlops_args(as_of=str(as_of), window_weeks=float(window), trigger=trigger),
                "mlops retrain",
            )
            st.rerun()

# -- import a real history -----------------------------------------------------------------------
with import_tab:
    st.markdown("**Bring your own history**: a real repository, CI/CD or MLflow history, in a workspace of its own, "
                "read by every page as a played one is. Importing again adds only what is new.")  # fmt: skip
    origin = importing.SOURCES[st.selectbox("Source", list(importing.SOURCES), key="cr_import_source",
                                            format_func=lambda name: importing.SOURCES[name].title)]  # fmt: skip
    location = st.text_input(
        origin.location, key=f"cr_import_location_{origin.name}", placeholder=origin.placeholder
    )
    if not importing.available(origin.name):
        st.caption(
            f"The {origin.name} importer is not in this OpsLab yet: update it (git pull) to import from {origin.name}."
        )
    options: dict[str, object] = {}
    if origin.uploads:
        pages = st.file_uploader("…or upload the JSON pages", type=["json"], accept_multiple_files=True,
                                 key=f"cr_import_upload_{origin.name}")  # fmt: skip
        if pages:
            location = str(importing.save_uploads(Path(data.files_dir(db, "imports")),
                                                  [(f.name, f.getvalue()) for f in pages]))  # fmt: skip
    if origin.token:
        st.caption(f"A live import reads its token from `${origin.token}` in the server's environment; "
                   "this page never asks for one.")  # fmt: skip
    if origin.name == "git":
        with st.expander("How releases and failures are read"):
            g1, g2, g3, g4 = st.columns(4)
            options["releases"] = g1.selectbox("Releases are", RELEASE_MODES, key="cr_import_releases")
            options["tag_pattern"] = g2.text_input(
                "Tag pattern (regex)", DEFAULT_TAG_PATTERN, key="cr_import_tags"
            )
            options["branch"] = g3.text_input("Branch", "HEAD", key="cr_import_branch")
            options["window_hours"] = float(g4.number_input("Failure window (hours)", 1.0, 24.0 * 366, DEFAULT_WINDOW_HOURS,
                                                            key="cr_import_window"))  # fmt: skip
            st.caption("auto: tags matching the pattern if any, else merges to the branch, else its commits. A "
                       "revert or a quick patch release within the window after a release makes it a failed change.")  # fmt: skip
    target = st.text_input("Into workspace", importing.default_workspace(origin.name, state.seat()),
                           key=f"cr_import_workspace_{origin.name}")  # fmt: skip
    if st.button("Import", type="primary", key="cr_import_run", disabled=state.read_only()):
        if not state.owns(target.strip()):
            st.error(
                f"In this room you can import into {state.seat()} or {state.seat()}-something, not {target}."
            )
        else:
            try:
                imports().start(db, target.strip(), origin.name, location, options)
            except OpsLabError as exc:
                st.error(str(exc))
            else:
                st.session_state.update(cr_import_target=target.strip(), cr_import_announced=False)
                st.rerun()
    import_panel()

# -- workspace -----------------------------------------------------------------------------------
with workspace_tab:
    st.markdown(f"Reset empties workspace **{ws}**: every run, model, deployment and file it has.")
    sure = st.checkbox(f"Yes, empty workspace {ws}", key="cr_reset_confirm")
    if st.button("Reset the workspace", key="cr_reset", disabled=busy or not sure):
        start(control.reset_args(ws), f"reset {ws}")
        st.rerun()
