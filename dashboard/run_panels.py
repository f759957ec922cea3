"""Run panels shared by the DevOps and MLOps pages, as GitHub Actions and MLflow show runs: a run's
steps as a Gantt, its parameters, the commit it built, a pipeline's trends, two runs side by side.
Loaders in dashboard.data, figures and tables in dashboard.figures.runs: these only lay them out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard import data
from dashboard.figures import runs as figs

__all__ = ["commit_diff", "compare_runs", "params_table", "pipeline_trends", "steps_gantt"]

BUCKETS = {1: "week", 4: "4 weeks", 13: "quarter"}


def steps_gantt(run: Mapping[str, Any], steps: Sequence[Mapping[str, Any]], key: str) -> None:
    st.plotly_chart(figs.gantt_figure(steps, run.get("started_at")), width="stretch", key=key,
                    config={"displayModeBar": False})  # fmt: skip


def params_table(db: str, ws: str, version: tuple[int, ...], run: Mapping[str, Any], key: str) -> None:
    """The run's parameters, one per row; a run recorded before OpsLab kept them says so."""
    run_id = str(run["run_id"])
    params = figs.params_by_run(data.run_params_of(db, ws, (run_id,), version)).get(run_id)
    if not params and ":" in run_id:  # an imported run's id is `<source>:<kind>:<source id>`
        st.caption(f"Its source ({run_id.split(':')[0]}) recorded no parameters for this run.")
        return
    if not params:
        st.caption(
            "This run was recorded before OpsLab kept each run's parameters; only its settings hash "
            f"`{run.get('config_hash') or '–'}` and input `{(run.get('input_fingerprint') or '–')[:12]}` remain."
        )
        return
    table = figs.params_frame(params)
    st.dataframe(table, width="stretch", hide_index=True, key=key, height=min(36 + 35 * len(table), 360))


def commit_diff(db: str, ws: str, version: tuple[int, ...], sha: str | None) -> None:
    """`git show --stat -p` of the commit the run built, from the workspace's real repository."""
    if not sha:
        st.caption("This run recorded no commit.")
        return
    diff = data.commit_diff(db, ws, sha, version)
    if diff["error"]:
        st.info(diff["error"], icon="ℹ️")
        return
    st.code(diff["text"], language="diff", height=460, wrap_lines=True)  # a projector shows every column
    if diff["truncated"]:
        st.caption(
            f"The diff is cut here; `git show {sha[:12]}` in the workspace's repository shows all of it."
        )


def pipeline_trends(db: str, ws: str, version: tuple[int, ...], kind: str) -> None:
    """p50/p95 duration and success rate of one pipeline per bucket of scenario weeks."""
    bucket = st.segmented_control("Per", list(BUCKETS), default=4, format_func=BUCKETS.get, required=True,
                                  key=f"{kind}_trend_bucket") or 4  # fmt: skip
    trends = data.run_trends_of(db, ws, kind, bucket, version)
    if trends.empty:
        st.caption(f"No finished {kind} run yet.")
        return
    st.plotly_chart(figs.trends_figure(trends, kind, bucket), width="stretch", key=f"{kind}_trends")


def compare_runs(
    db: str,
    ws: str,
    version: tuple[int, ...],
    kind: str,
    ids: Sequence[str],
    label: Callable[[str], str],
    chosen: str,
) -> None:
    """Two runs side by side, as MLflow's compare view: parameters, then metrics, differences marked."""
    if len(ids) < 2:
        st.caption("Comparing needs two runs of this pipeline.")
        return
    ids = list(ids)
    first = ids.index(chosen) if chosen in ids else 0
    second = first + 1 if first + 1 < len(ids) else first - 1  # the run before it (lists are newest first)
    left, right = st.columns(2)
    a = left.selectbox("Run A", ids, index=first, format_func=label, key=f"{kind}_compare_a")
    b = right.selectbox("Run B", ids, index=second, format_func=label, key=f"{kind}_compare_b")
    only = st.toggle("Show only what differs", key=f"{kind}_compare_only")
    params = figs.params_by_run(data.run_params_of(db, ws, (a, b), version))
    st.markdown("**Parameters**")
    if not params:
        st.caption("Neither run recorded its parameters (both are older than OpsLab's parameter records).")
    else:
        frame = figs.compare_frame(params.get(a, {}), params.get(b, {}), only_differences=only)
        _table(frame, f"{kind}_compare_params")
    metrics = [data.run_detail(db, ws, run_id, version) for run_id in (a, b)]
    if any(m is None for m in metrics):
        st.warning("One of the two runs is no longer in the history; pick another one.")
        return
    st.markdown("**Metrics** (each step's status, duration and what it measured)")
    frame = figs.compare_frame(
        *(figs.run_metrics(m["run"], m["steps"]) for m in metrics if m), only_differences=only
    )
    _table(frame, f"{kind}_compare_metrics")


def _table(frame: Any, key: str) -> None:
    if frame.empty:
        st.caption("No difference.")
        return
    # Widths in proportion (the grid stretches them alike): at 1024 px these fit beside the sidebar.
    columns = {
        "key": st.column_config.TextColumn(width=150),
        figs.DIFFERS: st.column_config.TextColumn(width=40),
        "run A": st.column_config.TextColumn(width=165),
        "run B": st.column_config.TextColumn(width=165),
    }
    st.dataframe(figs.compare_styler(frame), width="stretch", hide_index=True, key=key, column_config=columns,
                 height=min(36 + 35 * len(frame), 420))  # fmt: skip
