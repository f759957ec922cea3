"""MLOps: the model's lifecycle. Keys, quality vs never retrained, runs with their gate, the registry."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, imported, run_panels, state, ui
from dashboard.figures import mlops as fig

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)

st.title("🧠 MLOps")
st.caption(
    "The model's lifecycle: ingest → validate → train → evaluate → register → deploy. A model decays "
    "while the world drifts even when no code changes, so retraining is part of the loop."
)
if not data.has_history(db, ws, version):
    ui.empty_state(ws)
    st.stop()
sources = imported.sources(db, ws, version)
if sources:
    st.caption(f"A history {imported.origin_line(sources)}, at the source's own times (UTC).")


def _pick_row() -> None:
    """A click on the runs table picks that run in the selectbox (one source of truth)."""
    rows = st.session_state.mlops_runs.selection.rows
    if rows:
        st.session_state.mlops_run = st.session_state.mlops_run_ids[rows[0]]


# -- the keys --------------------------------------------------------------------------------
st.subheader("ML lifecycle keys")
keys = data.ml(db, ws, version)
ui.key_cards(keys)
if (
    how := st.expander("How each key is computed (formula and SQL)", key="mlops_keys_open", on_change="rerun")
).open:
    with how:  # drawn when opened (its receipts are read then too)
        ui.key_details(keys)

# -- quality over time -------------------------------------------------------------------------
weekly = data.weekly(db, ws, version)
total = data.run_counts(db, ws, version).get("mlops", 0)
st.subheader("Quality over time")
metric = fig.weekly_metric(weekly)
if weekly.empty and sources:  # realized quality is measured on the weeks OpsLab serves; an import has none
    st.info(imported.cannot_show(db, ws, version, "served_weeks", "The imported history has no served week."))
elif weekly.empty or weekly["quality"].notna().sum() == 0:
    st.info("No realized quality yet: labels arrive a week or more after each batch.")
else:
    st.caption(
        f"Realized **{metric.title if metric else 'quality'}** of the model in production on each week's batch once its "
        "labels arrive, against the first model never retrained (grey, dashed) scored on the same batches. "
        "Diamonds are retrains."
    )
    marks = data.retrain_marks(db, ws, version)
    if len(marks) and marks["count"].max() > 1:
        st.caption(f"{int(marks['count'].sum()):,} retrains are too many to draw one by one: a diamond (or ✕) marks "
                   "each week's retrains by outcome, and its hover counts them by trigger.")  # fmt: skip
    st.caption(
        "Orange dashed: the same quality **estimated the week it is served**, before any label, by a second model "
        "fitted on the champion's holdout (regression: direct loss estimation of its error; classification: "
        "calibrated confidence). Its known failure: it sees only the inputs, so under **concept drift** (same "
        "inputs, new demand) the estimate stays flat while realized quality falls; it follows covariate drift."
    )
    st.caption(
        "Realized quality counts what users got: rows of requests the service failed score as failures "
        "(a class: wrong; a forecast: none, i.e. 0 bikes), not as missing."
    )
    st.plotly_chart(fig.quality_figure(weekly, marks), width="stretch", key="mlops_quality")

# -- runs and the chosen run -----------------------------------------------------------------
st.subheader("Runs")
if not total:
    st.info(imported.cannot_show(db, ws, version, "model_runs", "No MLOps runs in this workspace yet.")
            if sources else "No MLOps runs in this workspace yet.")  # fmt: skip
else:
    page = ui.runs_page_picker(total, key="mlops_runs_page")
    runs = data.runs(db, ws, version, "mlops", page)
    versions = data.table(db, ws, "model_versions", version)
    moves = data.table(db, ws, "alias_moves", version)
    table = fig.runs_table(runs, versions, moves)
    ids = list(runs["run_id"])
    st.session_state.mlops_run_ids = ids
    wanted = st.query_params.get("run")
    linked = data.run_detail(db, ws, wanted, version) if wanted and wanted not in ids else None
    if (
        linked and linked["run"]["kind"] == "mlops"
    ):  # a run linked from outside the table's page joins the picker
        runs = pd.concat([runs, pd.DataFrame([linked["run"]])], ignore_index=True)
        ids.append(wanted)
    if wanted and wanted != st.session_state.get("mlops_deeplink"):
        st.session_state.mlops_deeplink = wanted  # a deep link is honoured once, then the user picks
        if wanted in ids:
            st.session_state.mlops_run = wanted
    if st.session_state.get("mlops_run") not in ids:
        st.session_state.mlops_run = ids[0]
    if wanted and wanted not in ids:  # a wrong link says what was not found, then shows the newest
        st.warning(f"There is no MLOps run {wanted!r} in workspace {ws}; showing the newest run instead.",
                   icon="🔎")  # fmt: skip
        del st.query_params["run"]
    st.caption(f"{ui.runs_page_note(total, page, len(table))} Click a row, or pick a run below.")
    st.dataframe(
        table,
        width="stretch",
        hide_index=True,
        height=min(36 + 35 * len(table), 280),
        on_select=_pick_row,
        selection_mode="single-row",
        key="mlops_runs",
        column_config={"sim time": st.column_config.DatetimeColumn(format="YYYY-MM-DD")},
    )
    labels = {
        r.run_id: f"{r.sim_time:%Y-%m-%d} · {r.trigger} · {r.status} · {r.run_id}" for r in runs.itertuples()
    }
    chosen = st.selectbox("Run", ids, format_func=labels.get, key="mlops_run")
    detail = data.run_detail(db, ws, chosen, version)
    if detail is None:
        st.warning(f"Run {chosen} is no longer in the history.")
    else:
        run, steps = detail["run"], detail["steps"]
        by_name = {s["name"]: s for s in steps}
        left, right = st.columns([1, 1], gap="large")
        with left:
            st.markdown(f"**Steps** · {run['status']} · {run['duration_ms'] or 0:,.0f} ms wall clock")
            if steps:
                run_panels.steps_gantt(run, steps, key="mlops_gantt")
            if run.get("error"):
                st.caption(f"Stopped: {run['error']}")
        with right:
            evaluate = by_name.get("evaluate")
            gate = (evaluate or {}).get("metrics") or {}
            st.markdown("**Promotion gate**")
            if gate.get("gate_decision"):
                gate_metric = gate.get("gate_metric")
                decision = "Promoted to champion" if gate["gate_decision"] == "promote" else "Champion kept"
                box = st.success if gate["gate_decision"] == "promote" else st.warning
                box(f"**{decision}.** {gate.get('gate_reason', '')}")
                c1, c2 = st.columns(2)
                c1.metric(f"challenger {gate_metric}", f"{gate.get(gate_metric, float('nan')):.4g}")
                if card := fig.gate_card(gate):
                    c2.metric(**card)
                st.plotly_chart(fig.gate_figure(gate), width="stretch", key="mlops_gate")
                st.caption("Challenger and champion scored on the same holdout.")
            elif sources:  # an imported run: its final metrics, as its source logged them (no OpsLab gate)
                train = by_name.get("train") or (steps[-1] if steps else {})
                st.caption(f"This run is {imported.origin_line(sources)}: it passed no OpsLab promotion gate. "
                           "Its final metrics, as it logged them:")  # fmt: skip
                logged = train.get("metrics") or {}
                if logged:
                    st.dataframe(pd.DataFrame({"metric": list(logged), "value": list(logged.values())}),
                                 width="stretch", hide_index=True, key="mlops_logged_metrics")  # fmt: skip
                else:
                    st.caption("The run logged no metric.")
            else:
                st.info("This run never reached the gate: it stopped before `evaluate`.")
            validate = by_name.get("validate")
            if validate and validate["status"] == "failed":
                st.warning("**Validation stopped this retrain**: the data is not fit to train on.")
                st.code(
                    validate.get("log_tail") or validate.get("error") or "", language="text", wrap_lines=True
                )
                failed = (validate.get("metrics") or {}).get("failed") or []
                if failed:
                    st.dataframe(pd.DataFrame(failed), width="stretch", hide_index=True, key="mlops_failed")
            for step in steps:
                if step["status"] == "failed" and step["name"] != "validate" and step.get("error"):
                    st.warning(f"**{step['name']} failed:** {step['error']}")
        st.markdown("**Parameters** · the model's settings, seed, data window, drift and retraining settings")
        run_panels.params_table(db, ws, version, run, key="mlops_params")
    if (
        compare := st.expander("Compare two runs side by side", key="mlops_compare_open", on_change="rerun")
    ).open:
        with compare:  # drawn when opened: two pickers of every run and two runs' records
            run_panels.compare_runs(db, ws, version, "mlops", ids, labels.get, chosen)
    st.subheader("Pipeline trends")
    st.caption(
        "p50 and p95 duration and the share of finished runs that succeeded, per span of scenario time."
    )
    run_panels.pipeline_trends(db, ws, version, "mlops")

# -- the registry --------------------------------------------------------------------------------
st.subheader("Model registry")
versions = data.table(db, ws, "model_versions", version)
moves = data.table(db, ws, "alias_moves", version)
if versions.empty:
    st.info(imported.cannot_show(db, ws, version, "model_versions", "No model version registered yet.")
            if sources else "No model version registered yet.")  # fmt: skip
else:
    end = weekly["sim_time"].max() if not weekly.empty else None
    if not moves.empty:
        champions = fig.champion_figure(moves, end)
        weekly_marks = any((trace.name or "").endswith("(one marker per week)") for trace in champions.data)
        st.caption("Which version was champion over time. Open diamonds: challengers the gate kept out"
                   + ("; too many to draw one by one, so one diamond a week: that week's last version, its "
                      "hover says how many the week had." if weekly_marks else "."))  # fmt: skip
        st.plotly_chart(champions, width="stretch", key="mlops_champion")
    registry = fig.registry_table(versions, moves)
    reg_tab, move_tab = st.tabs(["Versions", "Alias moves"])
    with reg_tab:
        st.caption(
            "Newest first. Holdout metrics are measured on the newest part of each version's training window."
        )
        st.dataframe(
            ui.newest_rows(registry, "model versions"),
            width="stretch",
            hide_index=True,
            height=min(36 + 35 * len(registry), 320),
            key="mlops_registry",
            column_config={"sim time": st.column_config.DatetimeColumn(format="YYYY-MM-DD")},
        )
    with move_tab:
        st.caption("Newest first: every move of the champion and challenger aliases, and why.")
        if moves.empty:
            st.caption("No alias has moved yet.")
        else:
            shown = fig.moves_table(moves)
            st.dataframe(
                ui.newest_rows(shown, "alias moves"),
                width="stretch",
                hide_index=True,
                height=min(36 + 35 * len(shown), 320),
                key="mlops_moves",
                column_config={"sim time": st.column_config.DatetimeColumn(format="YYYY-MM-DD")},
            )
