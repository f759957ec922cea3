"""Drift: which features moved away from what the model learnt, week by week, and why that test."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data, data_drift, imported, state, ui
from dashboard.figures import drift as fig
from pipelines.drift import (
    DATASET_DRIFT_SHARE,
    DISTANCE_THRESHOLD,
    P_VALUE_THRESHOLD,
    detect_drift,
    get_stat_test,
    psi_band,
)
from pipelines.errors import OpsLabError
from pipelines.scenario.settings import CALENDAR_COLUMNS

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)

st.title("🌊 Drift")
st.caption(
    "Each week's batch against the data the serving model was trained on, feature by feature: by default "
    "with thresholds calibrated on that data's own weeks (see *Why calibrated thresholds* below), or with "
    "Evidently's fixed rule (p < 0.05 up to 1000 reference rows, distance ≥ 0.1 above)."
)
if not data.has_history(db, ws, version):
    ui.empty_state(ws)
    st.stop()

drift = data.table(db, ws, "drift", version)
if drift.empty and (sources := imported.sources(db, ws, version)):
    why = imported.cannot_show(db, ws, version, "served_weeks", "It has no served week.")
    st.info(f"No drift to show for a history {imported.origin_line(sources)}. {why}", icon="ℹ️")
    st.stop()
if drift.empty:
    st.info("No drift has been measured in this workspace yet: monitoring runs once a model serves a week.")
    st.stop()

info = data.workspace_info(db, ws, version) or {}
settings = info.get("settings") or {}
share = float(settings.get("dataset_drift_share") or DATASET_DRIFT_SHARE)
calendar = sorted(CALENDAR_COLUMNS & set(drift["feature"]))
distance_setting = settings.get("drift_threshold")
# Workspaces played before the calibrated method existed used the fixed rule.
method = str(settings.get("drift_method") or ("evidently" if settings else "calibrated"))

# -- (1) the heatmap --------------------------------------------------------------------------------
st.subheader("Feature × week")
st.caption(
    "Colour is how far each verdict is past its threshold (statistic ÷ threshold for a distance, "
    "threshold ÷ p-value for a p-value test), so 1 is the threshold for every test; a dot marks drift. "
    f"Dataset drift = at least {share:.0%} of the non-calendar features drift"
    + (
        ", or the model's prediction drifts, or (a label delay later) the target does"
        if method == "calibrated"
        else ""
    )
    + "; calendar columns (a fixed window always 'drifts' in month or season) are recorded but not counted."
)
st.caption(
    f"This workspace's method: **{method}**"
    + (f", with a fixed distance threshold of **{distance_setting:g}**." if distance_setting else ".")
)
st.plotly_chart(fig.drift_heatmap(drift, calendar), width="stretch", key="drift_heatmap")

# -- (2) a week and a feature ------------------------------------------------------------------------
st.subheader("Reference vs current")
weeks = drift[["week", "sim_time", "model_version"]].drop_duplicates("sim_time").sort_values("sim_time")
week_ids = [int(w) for w in weeks["week"]]
week_rows = weeks.set_index("week")
drifted_share = drift.loc[~drift["feature"].isin([*calendar, *fig.OUTPUTS])].groupby("week")["drifted"].mean()


def _week_label(week: int) -> str:
    row = week_rows.loc[week]
    return f"week {week} · to {row['sim_time']:%Y-%m-%d} · model v{row['model_version']} · {drifted_share.get(week, 0):.0%} drift"


if st.session_state.get("drift_week") not in week_ids:
    st.session_state.drift_week = int(drifted_share.idxmax()) if not drifted_share.empty else week_ids[-1]
pick_week, pick_feature = st.columns(2)
week = pick_week.selectbox("Week", week_ids, format_func=_week_label, key="drift_week")
rows = drift.loc[drift["week"] == week].set_index("feature")
features = fig.feature_order([f for f in rows.index if f not in fig.OUTPUTS], calendar)
if st.session_state.get("drift_feature") not in features:
    moved = rows.loc[features].assign(severity=fig.severity(rows.loc[features].reset_index()).to_numpy())
    st.session_state.drift_feature = str(moved["severity"].idxmax())
feature = pick_feature.selectbox(
    "Feature",
    features,
    key="drift_feature",
    format_func=lambda f: f + (" (calendar)" if f in calendar else ""),
)
verdict = rows.loc[feature]
served_by = int(week_rows.loc[week, "model_version"])
week_end = pd.Timestamp(week_rows.loc[week, "sim_time"])

p_test = verdict["test"] in fig.P_VALUE_TESTS
st.markdown(f"**{get_stat_test(verdict['test']).display_name}** on {feature}, week {week}")
cols = st.columns(4)
cols[0].metric("Statistic", f"{verdict['statistic']:.3g}")
cols[1].metric("Threshold", f"{'p < ' if p_test else '≥ '}{verdict['threshold']:.3g}")
cols[2].metric(
    "p-value",
    "–" if pd.isna(verdict["p_value"]) else f"{verdict['p_value']:.3g}",
    help="Only p-value tests (KS, chi-square) have one.",
)
band = psi_band(float(verdict["psi"]))
cols[3].metric(
    "PSI",
    f"{verdict['psi']:.3g}",
    delta=band,
    delta_color="off",
    help="Population stability index: < 0.1 stable, < 0.25 moderate, else significant.",
)
(st.warning if verdict["drifted"] else st.success)(
    f"**{feature} {'drifted' if verdict['drifted'] else 'did not drift'}** in week {week}. "
    f"Why this test: {verdict['reason']}."
)

samples = None
versions = data.table(db, ws, "model_versions", version)
served = versions.loc[versions["version"] == served_by]
if not settings or served.empty:
    st.info("This workspace did not record what it was trained on, so its distributions cannot be redrawn.")
else:
    try:
        samples = data_drift.week_samples(
            ws,
            str(info.get("settings_hash", "")),
            settings,
            pd.Timestamp(served["window_start"].iloc[0]),
            pd.Timestamp(served["window_end"].iloc[0]),
            week_end,
        )
    except (OpsLabError, ValueError, FileNotFoundError) as exc:
        st.warning(f"The workspace's data could not be loaded to draw the distributions: {exc}")
if samples is not None:
    reference, current = samples
    start, end = served["window_start"].iloc[0], served["window_end"].iloc[0]
    st.caption(
        f"Reference: the training window of model v{served_by} ({start:%Y-%m-%d} → {end:%Y-%m-%d}). "
        f"Current: the week's batch ({week_end - pd.Timedelta(weeks=1):%Y-%m-%d} → {week_end:%Y-%m-%d}]. "
        "Bars are shares of each sample's rows, since the two differ in size."
    )
    if feature in reference.columns:
        st.plotly_chart(
            fig.distribution_figure(
                reference[feature],
                current[feature],
                categorical=verdict["test"] in fig.CATEGORICAL_TESTS,
                feature=feature,
            ),
            width="stretch",
            key="drift_distribution",
        )

    # -- (3) the threshold what-if ----------------------------------------------------------------
    st.subheader("Threshold what-if")
    tests = set(rows.loc[features, "test"])
    distance = not (tests & fig.P_VALUE_TESTS)
    if st.session_state.get("drift_threshold_mode", distance) != distance:
        st.session_state.pop("drift_threshold", None)  # a p-value and a distance share no scale
    st.session_state.drift_threshold_mode = distance
    if distance:
        default = float(distance_setting or DISTANCE_THRESHOLD)
        st.caption(
            "A fixed distance threshold for every feature, Evidently's rule (0.1 by default): move it and this "
            "week's verdicts are recomputed from the rows, live. Set it to 0.1 to see why the fixed rule "
            "fires on a calm week that the calibrated thresholds leave alone."
        )
        threshold = st.slider(
            "Distance threshold (Wasserstein ÷ std, Jensen–Shannon)",
            0.05,
            0.95,  # Jensen-Shannon never exceeds sqrt(ln 2) = 0.83, and its threshold must stay below 1
            value=min(max(default, 0.05), 0.95),
            step=0.05,
            key="drift_threshold",
        )
        targets = [f for f in features if rows.loc[f, "test"] not in fig.P_VALUE_TESTS]
    else:
        st.caption("Move the p-value threshold and this week's verdicts are recomputed from the rows, live.")
        threshold = st.slider(
            "p-value threshold (drift when p is below it)",
            0.001,
            0.2,
            value=P_VALUE_THRESHOLD,
            step=0.001,
            format="%.3f",
            key="drift_threshold",
        )
        targets = [f for f in features if rows.loc[f, "test"] in fig.P_VALUE_TESTS]
    ds = data_drift.scenario_data(ws, str(info.get("settings_hash", "")), settings)
    columns = [f for f in features if f in reference.columns]
    result = detect_drift(
        reference,
        current,
        columns=columns,
        categorical=[c for c in ds["categorical"] if c in columns],
        threshold_overrides={f: threshold for f in targets if f in columns},
    )
    counted = result.loc[~result["feature"].isin(calendar)]
    n_drift, n_counted = int(counted["drifted"].sum()), len(counted)
    dataset_drifts = n_counted > 0 and n_drift / n_counted >= share
    recorded = rows.loc[[f for f in features if f not in calendar], "drifted"].astype(bool)
    m0, m1, m2, m3 = st.columns(4)
    m0.metric(
        "Recorded verdict",
        f"{int(recorded.sum())} of {len(recorded)}",
        help=f"Non-calendar features the play flagged this week, by its {method} method.",
    )
    m1.metric("Features drifting", f"{n_drift} of {n_counted}", help="Non-calendar features only.")
    m2.metric("Dataset drift", "yes" if dataset_drifts else "no", help=f"At least {share:.0%} of them drift.")
    m3.metric(
        "Calendar columns drifting",
        f"{int(result['drifted'].sum()) - n_drift} of {len(result) - n_counted}",
        help="Recorded, not counted: against a fixed window they drift by construction.",
    )
    st.plotly_chart(fig.whatif_figure(result, calendar), width="stretch", key="drift_whatif")

# -- (4) the design ------------------------------------------------------------------------------------
st.subheader("Why calibrated thresholds")
st.markdown(
    "Evidently's fixed rule asks whether a batch looks like a **random sample** of the training data. A "
    "week of weather never is: it is one warm spell or one wet week, autocorrelated hour to hour, so against "
    "an 8-week training window temperature and humidity move by more than 0.1 standard deviations almost "
    "every week. Measured on the simulator: the fixed rule flagged `temp` in 92 of 96 full-story weeks and "
    "dataset drift in every week of calm-seas, a world where nothing changes. An alarm that always rings "
    "is a schedule in disguise.\n\n"
    "The **calibrated** method (NannyML's way) asks instead whether this week is further from the training "
    "data than the training data's **own weeks** are from each other. When a model version is trained, each "
    "of its window's weeks is compared with the other seven, feature by feature, and the threshold is the "
    "mean of those distances plus 3 standard deviations. The weather's usual wobble is then below the line "
    "and a real move is above it: in calm-seas no week shows dataset drift, and a sudden one-standard-"
    "deviation rise in temperature is flagged in its first week.\n\n"
    "Two more rows complete the picture. The **prediction** row weighs every input by what the model makes "
    "of it, so one important feature that moves counts as dataset drift even when it is not half of the "
    "features. The **target** row compares the labels, once they arrive, with the labels the model learnt "
    "from: a rise in demand (prior drift) moves no input at all. And a change in how demand *depends* on the "
    "inputs (concept drift) moves none of these rows: only the realized quality on the MLOps page shows it. "
    "Weighting features by permutation importance was measured too and left out: it costs seconds per model "
    "and the two temperature columns carry only a third to a half of the weather's importance."
)

# -- (5) the sample-size demo ------------------------------------------------------------------------
st.subheader("Why distances above 1000 rows")
st.caption(
    "Two samples from N(0, 1) and N(0.05, 1): the same tiny shift of 0.05 standard deviations at every size."
)
st.plotly_chart(
    fig.sample_size_figure(data_drift.size_demo(0.05, 0)), width="stretch", key="drift_sample_size"
)
st.markdown(
    "A p-value answers *could this difference be chance?*, and with thousands of rows no difference is "
    "chance any more, so the KS test flags a shift of 0.05 standard deviations that matters to no model. "
    "A distance answers *how far did it move?* and does not grow with the sample, so above 1000 reference "
    "rows the rule switches to distances (below that, distances are noisy and p-values are the better guard)."
)

# -- (5) alarms scored against what happened ---------------------------------------------------------
st.subheader("Which alarms deserve a pager?")
st.caption(
    "Each monitoring signal raises alarms; labels arrive later and say whether realized quality really fell "
    "past the retraining policy's margin. An alarm is **true** when such a fall follows within the horizon; "
    "**precision** is the share of alarms that were true (low: people paged for nothing), **recall** the share "
    "of falls an alarm announced (low: the team slept through them)."
)
horizon = st.number_input("Horizon (weeks after the alarm)", 0, 12, 3, key="alarm_horizon")
scores = data.alarm_scores(db, ws, version, int(horizon))
if scores.empty or (not int(scores["decayed_weeks"].max() or 0) and not int(scores["judged"].sum())):
    st.info("No labelled week yet: alarms are scored once labels arrive.")
else:
    st.dataframe(
        scores,
        hide_index=True,
        width="stretch",
        column_config={
            "source": "Alarm source",
            "alarms": st.column_config.NumberColumn("Alarms", help="Weeks the source raised an alarm."),
            "judged": st.column_config.NumberColumn("Judged", help="Alarms with labels in their horizon."),
            "true_alarms": "True alarms",
            "precision": st.column_config.ProgressColumn(
                "Precision", min_value=0.0, max_value=1.0, format="percent"
            ),
            "decayed_weeks": st.column_config.NumberColumn("Falls", help="Labelled weeks past the margin."),
            "announced": "Announced",
            "recall": st.column_config.ProgressColumn(
                "Recall", min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )
    st.caption(
        "A retrain that an alarm triggered can prevent the very fall it announced, and then scores as false "
        "here: play the same scenario with `policy.kind=never` to score the signals without that confound."
    )
