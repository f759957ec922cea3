"""DORA's keys and their ML mirrors on hand-made histories, against hand-computed numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.devops import metrics as dora
from pipelines.keys import classify, format_duration, format_percent
from pipelines.mlops import metrics as ml
from pipelines.quality import metric_named
from pipelines.store import Store
from pipelines.store.schema import TABLES

T0 = datetime(2024, 1, 1)  # a Monday
WS = "alpha"
HOUR = 1 / 24
SECOND = timedelta(seconds=1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def insert(store: Store, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if table in TABLES:
        store.insert_rows(table, rows)
        return
    # `changes` (migration 3) is missing from schema.TABLES, which insert_rows checks: write it directly.
    columns = list(rows[0])
    with store._write() as con:
        con.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [[r[c] for c in columns] for r in rows],
        )


_ids = iter(range(1_000_000))


def deploy(when: datetime, *, ws: str = WS, kind: str = "release", ref: str = "r", unplanned: bool = False,
           rolled_back: bool = False, ident: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "deployment_id": ident or f"d{next(_ids)}", "workspace": ws, "environment": "production",
        "kind": kind, "ref": ref, "sim_time": when, "deployed_at": datetime(2030, 1, 1),
        "unplanned": unplanned, "rolled_back": rolled_back,
    }  # fmt: skip


def incident(opened: datetime, resolved: datetime | None, cause: str | None, *, ws: str = WS,
             kind: str = "service") -> dict[str, Any]:  # fmt: skip
    return {
        "incident_id": f"i{next(_ids)}", "workspace": ws, "kind": kind,
        "status": "resolved" if resolved else "open", "opened_sim_time": opened,
        "resolved_sim_time": resolved, "opened_at": datetime(2030, 1, 1), "cause_deployment_id": cause,
    }  # fmt: skip


def change(committed: datetime, deployed: datetime | None, *, ws: str = WS) -> dict[str, Any]:
    n = next(_ids)
    return {"workspace": ws, "commit_sha": f"c{n}", "change_id": f"ch{n}", "kind": "feature",
            "message": "m", "committed_sim_time": committed, "deployment_id": None,
            "deployed_sim_time": deployed}  # fmt: skip


def run(when: datetime, trigger: str, *, status: str = "succeeded", kind: str = "mlops",
        ws: str = WS) -> dict[str, Any]:  # fmt: skip
    return {"run_id": f"run{next(_ids)}", "workspace": ws, "kind": kind, "trigger": trigger,
            "status": status, "sim_time": when, "started_at": datetime(2030, 1, 1)}  # fmt: skip


def model_version(version: int, window_end: datetime, *, ws: str = WS) -> dict[str, Any]:
    return {"workspace": ws, "version": version, "path": f"v{version}.pkl", "sha256": "0" * 64,
            "window_end": window_end, "sim_time": window_end, "created_at": datetime(2030, 1, 1)}  # fmt: skip


def week(n: int, *, quality: float | None = None, alarm: str | None = None, model: int | None = None,
         baseline: float = 10.0, metric: str = "mae", ws: str = WS) -> dict[str, Any]:  # fmt: skip
    return {"workspace": ws, "week": n, "sim_time": day(7 * n), "model_version": model,
            "quality": quality, "quality_baseline": baseline, "quality_metric": metric,
            "quality_direction": metric_named(metric).direction, "alarm": alarm}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "h.duckdb")


# -- a DevOps history ------------------------------------------------------------------------------
def devops_history(store: Store, ws: str = WS) -> None:
    """5 planned releases (d2 caused two incidents, d4 was rolled back and caused one), 2 unplanned."""
    d = {i: deploy(day(7 * i), ws=ws, ident=f"{ws}-d{i}") for i in range(1, 6)}
    d[4]["rolled_back"] = True
    rollback = deploy(day(7 * 4 + 1), ws=ws, unplanned=True, ident=f"{ws}-rb")
    hotfix = deploy(day(7 * 2 + 2), ws=ws, unplanned=True, ident=f"{ws}-hf")
    model = deploy(day(3), ws=ws, kind="model", ref="v1", ident=f"{ws}-dm1")
    insert(store, "deployments", [*d.values(), rollback, hotfix, model])
    insert(store, "incidents", [
        incident(day(15), day(15) + timedelta(hours=2), f"{ws}-d2", ws=ws),   # 2 hours
        incident(day(29), day(29) + timedelta(hours=6), f"{ws}-d4", ws=ws),   # 6 hours, also rolled back
        incident(day(16), day(18), f"{ws}-d2", ws=ws),                        # 2 days
        incident(day(30), None, f"{ws}-d4", ws=ws),                           # still open
        incident(day(4), day(9), f"{ws}-dm1", ws=ws, kind="model"),           # a model's: not DORA's
        incident(day(5), day(6), None, ws=ws),                                # no cause deployment
    ])  # fmt: skip
    insert(store, "changes", [
        change(day(6), day(6) + timedelta(hours=1), ws=ws),   # 1 hour
        change(day(5), day(7), ws=ws),                        # 2 days
        change(day(11), day(14), ws=ws),                      # 3 days
        change(day(4), day(14), ws=ws),                       # 10 days
        change(day(40), None, ws=ws),                         # not shipped yet
    ])  # fmt: skip


def test_change_failure_rate_five_deploys_two_failed_is_forty_percent(store: Store) -> None:
    devops_history(store)
    key = dora.change_failure_rate(store, WS)
    assert (key.n, key.value) == (5, 40.0)  # the unplanned rollback and hotfix are not deploys here
    assert key.display == "40 %"
    assert key.tier == "low"
    assert key.note == "2 of 5 planned releases failed"


def test_change_failure_rate_counts_incidents_and_rollbacks_once_each(store: Store) -> None:
    d = [deploy(day(i), ident=f"x{i}") for i in range(5)]
    d[1]["rolled_back"] = True  # rolled back only
    d[3]["rolled_back"] = True  # rolled back and caused an incident: one failure
    insert(store, "deployments", [*d, deploy(day(3.5), unplanned=True)])
    insert(store, "incidents", [incident(day(3), day(3.2), "x3"), incident(day(3.1), day(3.3), "x3")])
    key = dora.change_failure_rate(store, WS)
    assert (key.n, key.value, key.display, key.tier) == (5, 40.0, "40 %", "low")
    assert key.formula and key.sql == dora.keys_sql.CHANGE_FAILURE_RATE_SQL
    assert key.tier_source == "DORA Accelerate State of DevOps 2023"


def test_lead_time_is_the_median_of_shipped_changes(store: Store) -> None:
    devops_history(store)
    key = dora.lead_time_for_changes(store, WS)
    assert key.n == 4
    assert key.value == pytest.approx(2.5)  # median of 1 h, 2 d, 3 d, 10 d
    assert key.display == "2.5 days"
    assert key.tier == "high"
    assert key.note == "1 committed change not shipped yet"


def test_recovery_time_is_the_median_of_resolved_release_incidents(store: Store) -> None:
    devops_history(store)
    key = dora.failed_deployment_recovery_time(store, WS)
    assert key.n == 3
    assert key.value == pytest.approx(6 * HOUR)  # median of 2 h, 6 h, 2 days
    assert key.display == "6 hours"
    assert key.tier == "high"
    assert key.note == "1 incident still open"


def test_rework_rate_is_unplanned_over_all_release_deploys(store: Store) -> None:
    devops_history(store)
    key = dora.deployment_rework_rate(store, WS)
    assert (key.n, key.value) == (7, pytest.approx(100 * 2 / 7))
    assert key.display == "28.6 %"
    assert key.tier is None and "no performance levels" in key.tier_source


def test_windowed_keys_count_only_the_window(store: Store) -> None:
    devops_history(store)
    key = dora.change_failure_rate(store, WS, start=day(14), end=day(28))  # d2, d3, d4
    assert (key.n, key.value) == (3, pytest.approx(200 / 3))
    lead = dora.lead_time_for_changes(store, WS, end=day(7))
    assert (lead.n, lead.value) == (2, pytest.approx((HOUR + 2) / 2))


# -- Four Keys' bucket rule ------------------------------------------------------------------------
def _deploy_days(weeks: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
    """Planned deploys on the given days of each week (offsets in days from the week's Monday)."""
    return [deploy(day(7 * w + d)) for w, days in enumerate(weeks) for d in days]


@pytest.mark.parametrize(
    ("weeks", "bucket", "tier"),
    [
        ([[0, 1, 2], [0, 2, 4], [1, 3, 5], [0, 1, 6]], "daily", "elite"),
        ([[0, 1, 2], [0, 2, 4], [1, 3, 5], [0, 1]], "daily", "elite"),  # median exactly 3
        ([[0, 1, 2], [0, 2, 4], [1, 3], [0, 1]], "weekly", "high"),  # median 2.5
        ([[0, 0.5, 0.7], [2, 2.1], [1], [0, 0.2, 0.4]], "weekly", "high"),  # same-day deploys count once
        ([[3], [], [4], [1]], "weekly", "high"),  # 3 of 4 weeks
        ([[3], [], [], [1]], "monthly", "medium"),  # exactly half the weeks
    ],
)
def test_deployment_frequency_weeks(store: Store, weeks: list[list[float]], bucket: str, tier: str) -> None:
    deploys = _deploy_days(weeks)
    # unplanned deploys on every other day would make any calendar daily if they were counted
    rework = [deploy(day(7 * w + d), unplanned=True) for w in range(4) for d in (0.3, 2.3, 4.3, 6.3)]
    insert(store, "deployments", [*deploys, *rework])
    key = dora.deployment_frequency(store, WS, start=T0, end=day(28) - SECOND)
    assert (key.display, key.tier) == (bucket, tier)
    assert key.n == len(deploys)
    assert key.value == pytest.approx(len(deploys) / 4)


def test_deployment_frequency_monthly_and_yearly(store: Store, tmp_path: Path) -> None:
    # 13 weeks from Monday 1 January: 5 start in January, 4 in February, 4 in March.
    end = day(7 * 13) - SECOND
    insert(store, "deployments", [deploy(day(9)), deploy(day(40)), deploy(day(70))])  # one a month
    monthly = dora.deployment_frequency(store, WS, start=T0, end=end)
    assert (monthly.display, monthly.tier, monthly.n) == ("monthly", "medium", 3)
    assert monthly.value == pytest.approx(3 / 13)

    sparse = Store(tmp_path / "sparse.duckdb")
    insert(sparse, "deployments", [deploy(day(9)), deploy(day(10))])  # January only: 8 of 13 weeks see none
    yearly = dora.deployment_frequency(sparse, WS, start=T0, end=end)
    assert (yearly.display, yearly.tier, yearly.n) == ("yearly", "low", 2)


def test_deployment_frequency_window_defaults_to_the_recorded_weeks(store: Store) -> None:
    # The engine stamps each weekly row with its week's end: weeks 1-8 end on days 7..56.
    insert(store, "weekly", [week(n) for n in range(1, 9)])  # 8 scenario weeks, deploys in 3 of them
    insert(store, "deployments", [deploy(day(1)), deploy(day(8)), deploy(day(9)), deploy(day(30))])
    key = dora.deployment_frequency(store, WS)
    assert key.value == pytest.approx(4 / 8)
    assert key.note.startswith("4 planned releases over 8 weeks")
    assert key.display == "monthly"  # weeks 1-5 start in January (3 deploy weeks), 6-8 in February (none)


def test_ninety_six_played_weeks_are_ninety_six_buckets(store: Store) -> None:
    # A played history: the first release at the clock's start (T0), a weekly row at each week's
    # end, a planned release every other week. 96 weeks are 96 buckets, not 97.
    insert(store, "weekly", [week(n) for n in range(1, 97)])
    insert(store, "deployments", [deploy(T0), *(deploy(day(7 * w + 1.5)) for w in range(0, 96, 2))])
    key = dora.deployment_frequency(store, WS)
    assert key.note.startswith("49 planned releases over 96 weeks")
    assert key.value == pytest.approx(49 / 96)
    retrains = [run(T0, "schedule"), *(run(day(7 * w + 6.5), "drift") for w in range(95))]
    insert(store, "runs", retrains)
    mirror = ml.retraining_frequency(store, WS)
    assert mirror.note.startswith("96 retrains over 96 weeks") and mirror.display == "weekly"


# -- empty histories and workspaces ----------------------------------------------------------------
ALL_KEYS = [
    dora.deployment_frequency, dora.lead_time_for_changes, dora.change_failure_rate,
    dora.failed_deployment_recovery_time, dora.deployment_rework_rate, ml.retraining_frequency,
    ml.data_to_production_lead_time, ml.model_change_failure_rate, ml.time_to_recover_from_drift,
    ml.model_staleness,
]  # fmt: skip


@pytest.mark.parametrize("compute", ALL_KEYS, ids=lambda f: f.__name__)
def test_an_empty_history_gives_no_value_and_says_why(store: Store, compute: Any) -> None:
    assert not store.exists()
    key = compute(store, WS)
    assert key.value is None and key.tier is None and key.n == 0
    assert key.display == "no data" and key.note
    assert key.sql.strip() and key.formula


@pytest.mark.parametrize("compute", ALL_KEYS, ids=lambda f: f.__name__)
def test_other_workspaces_rows_are_ignored(store: Store, compute: Any) -> None:
    devops_history(store, ws="beta")
    ml_history(store, ws="beta")
    assert compute(store, WS).value is None


def test_keys_of_one_workspace_do_not_change_with_anothers_rows(store: Store, tmp_path: Path) -> None:
    devops_history(store)
    ml_history(store)
    alone = [k.value for k in [*dora.dora_keys(store, WS), *ml.ml_keys(store, WS)]]
    shared = Store(tmp_path / "shared.duckdb")
    for ws in ("beta", WS, "gamma"):
        devops_history(shared, ws=ws)
        ml_history(shared, ws=ws)
    insert(shared, "deployments", [deploy(day(1), ws="beta", rolled_back=True)])
    insert(shared, "weekly", [week(20, alarm="drift", ws="gamma")])
    assert [k.value for k in [*dora.dora_keys(shared, WS), *ml.ml_keys(shared, WS)]] == alone


def test_dora_keys_come_in_order(store: Store) -> None:
    devops_history(store)
    keys = dora.dora_keys(store, WS)
    assert [k.key for k in keys] == [
        "deployment_frequency", "lead_time_for_changes", "change_failure_rate",
        "failed_deployment_recovery_time", "deployment_rework_rate",
    ]  # fmt: skip


# -- tiers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bands", "value", "tier"),
    [
        (dora.LEAD_TIME_BANDS, 1 - 1e-9, "elite"),
        (dora.LEAD_TIME_BANDS, 1.0, "high"),  # "less than one day" excludes one day
        (dora.LEAD_TIME_BANDS, 7.0, "high"),
        (dora.LEAD_TIME_BANDS, 7.01, "medium"),
        (dora.LEAD_TIME_BANDS, 30.0, "medium"),
        (dora.LEAD_TIME_BANDS, 30.01, "low"),
        (dora.CHANGE_FAILURE_RATE_BANDS, 0.0, "elite"),
        (dora.CHANGE_FAILURE_RATE_BANDS, 5.0, "elite"),
        (dora.CHANGE_FAILURE_RATE_BANDS, 5.01, "high"),
        (dora.CHANGE_FAILURE_RATE_BANDS, 10.0, "high"),
        (dora.CHANGE_FAILURE_RATE_BANDS, 15.0, "medium"),
        (dora.CHANGE_FAILURE_RATE_BANDS, 15.01, "low"),
        (dora.RECOVERY_TIME_BANDS, 59 / 60 / 24, "elite"),
        (dora.RECOVERY_TIME_BANDS, 1 / 24, "high"),  # "less than one hour" excludes one hour
        (dora.RECOVERY_TIME_BANDS, 1.0, "medium"),
        (dora.RECOVERY_TIME_BANDS, 7.0, "medium"),
        (dora.RECOVERY_TIME_BANDS, 8.0, "low"),
        (ml.ML_BANDS["time_to_recover_from_drift"], 7.0, "elite"),
        (ml.ML_BANDS["time_to_recover_from_drift"], 14.0, "high"),
        (ml.ML_BANDS["time_to_recover_from_drift"], 28.0, "medium"),
        (ml.ML_BANDS["time_to_recover_from_drift"], 35.0, "low"),
        (ml.ML_BANDS["model_staleness"], 7.0, "elite"),
        (ml.ML_BANDS["model_staleness"], 7.5, "high"),
        (ml.ML_BANDS["model_staleness"], 90.0, "medium"),
        (ml.ML_BANDS["model_staleness"], 91.0, "low"),
        (ml.ML_BANDS["data_to_production_lead_time"], 0.5, "elite"),
        (ml.ML_BANDS["data_to_production_lead_time"], 1.0, "high"),
        (ml.ML_BANDS["model_change_failure_rate"], 50.0, "low"),
    ],
)
def test_tier_boundaries(bands: Any, value: float, tier: str) -> None:
    assert classify(value, bands) == tier


def test_tier_of_nothing_is_none() -> None:
    assert classify(None, dora.LEAD_TIME_BANDS) is None
    assert classify(float("nan"), dora.LEAD_TIME_BANDS) is None


def test_the_whole_dora_2023_table_is_kept_with_its_source() -> None:
    table = dora.DORA_2023_PERFORMANCE_LEVELS
    assert list(table) == ["elite", "high", "medium", "low"]
    assert [table[t]["change_failure_rate"] for t in table] == ["5%", "10%", "15%", "64%"]
    assert all(len(row) == 5 for row in table.values())
    assert dict(dora.DEPLOYMENT_FREQUENCY_TIERS) == {
        "daily": "elite", "weekly": "high", "monthly": "medium", "yearly": "low"}  # fmt: skip


def test_displays_read_like_a_person_would_say_them() -> None:
    assert format_percent(40.0) == "40 %"
    assert format_percent(100 / 3) == "33.3 %"
    assert format_duration(2.5) == "2.5 days"
    assert format_duration(1.0) == "1 day"
    assert format_duration(1 / 24) == "1 hour"
    assert format_duration(0.25) == "6 hours"
    assert format_duration(10 / 60 / 24) == "10 min"
    # an automatic rollback recovers in seconds: say so, not "0 min"
    assert format_duration(2.5 / 86400) == "2.5 s"
    assert format_duration(59 / 86400) == "59 s"
    assert format_duration(60 / 86400) == "1 min"


# -- an MLOps history ------------------------------------------------------------------------------
def ml_history(store: Store, ws: str = WS) -> None:
    """8 weeks from 1 January: retrains, four model versions and deploys, alarms, quality."""
    insert(store, "runs", [
        run(day(0), "schedule", ws=ws), run(day(14), "drift", ws=ws), run(day(28), "performance", ws=ws),
        run(day(42), "drift", ws=ws),
        run(day(7), "performance", status="failed", ws=ws),  # failed: not counted
        run(day(21), "manual", ws=ws),                        # a person's: not counted
        run(day(35), "commit", kind="devops", ws=ws),         # code: not counted
    ])  # fmt: skip
    insert(store, "model_versions", [
        model_version(1, day(-HOUR), ws=ws), model_version(2, day(14 - HOUR), ws=ws),
        model_version(3, day(25), ws=ws), model_version(4, day(35), ws=ws),
    ])  # fmt: skip
    insert(store, "deployments", [
        deploy(day(0), kind="model", ref="v1", ws=ws, ident=f"{ws}-m1"),      # lead 1 hour; caused an incident
        deploy(day(16), kind="model", ref="v2", ws=ws, ident=f"{ws}-m2"),     # lead 2 days 1 hour
        deploy(day(28), kind="model", ref="v3", rolled_back=True, ws=ws, ident=f"{ws}-m3"),  # lead 3 days
        deploy(day(30), kind="model", ref="v2", unplanned=True, ws=ws),       # the rollback: not counted
        deploy(day(35.5), kind="model", ref="v4", ws=ws, ident=f"{ws}-m4"),   # lead half a day
    ])  # fmt: skip
    insert(store, "incidents", [incident(day(3), day(4), f"{ws}-m1", kind="model", ws=ws)])
    insert(store, "weekly", [
        week(0, quality=10.0, model=1, ws=ws),                   # fine
        week(1, quality=12.0, alarm="drift", model=1, ws=ws),    # episode A starts
        week(2, quality=12.5, alarm="quality", model=2, ws=ws),  # still in A: no new episode
        week(3, quality=10.5, model=2, ws=ws),                   # A ends: 14 days
        week(4, quality=11.5, model=2, ws=ws),                   # out of margin, but no alarm: no episode
        week(5, quality=10.8, alarm="drift", model=2, ws=ws),    # episode B starts (quality fine, alarm set)
        week(6, quality=11.0, model=4, ws=ws),                   # B ends on the margin: 7 days
        week(7, quality=None, alarm="drift", model=4, ws=ws),    # episode C, still open
    ])  # fmt: skip


def test_retraining_frequency_counts_policy_retrains_that_finished(store: Store) -> None:
    ml_history(store)
    key = ml.retraining_frequency(store, WS)
    assert (key.n, key.value) == (4, 0.5)  # 4 retrains over 8 weeks
    # half the weeks retrain (not weekly); January's weeks saw 3, February's 1: monthly
    assert (key.display, key.tier) == ("monthly", "high")
    assert key.tier_source.startswith("OpsLab bands, not an industry standard")


def test_retraining_rarer_than_quarterly_is_low(store: Store) -> None:
    insert(store, "weekly", [week(n) for n in range(26)])
    insert(store, "runs", [run(day(3), "drift")])
    key = ml.retraining_frequency(store, WS)
    assert (key.display, key.tier, key.value) == ("yearly", "low", pytest.approx(1 / 26))
    insert(store, "runs", [run(day(100), "schedule")])
    assert ml.retraining_frequency(store, WS).tier == "medium"  # 2 in 26 weeks: more than quarterly


def test_data_to_production_lead_time_is_the_median_over_planned_model_deploys(store: Store) -> None:
    ml_history(store)
    key = ml.data_to_production_lead_time(store, WS)
    assert key.n == 4
    assert key.value == pytest.approx((0.5 + 2 + HOUR) / 2)  # median of 1 h, 2 d 1 h, 3 d, 0.5 d
    assert (key.display, key.tier) == ("1.3 days", "high")


def test_model_change_failure_rate(store: Store) -> None:
    ml_history(store)
    key = ml.model_change_failure_rate(store, WS)
    assert (key.n, key.value, key.display, key.tier) == (
        4,
        50.0,
        "50 %",
        "low",
    )  # m1 incident, m3 rolled back


def test_time_to_recover_from_drift_with_an_open_episode(store: Store) -> None:
    ml_history(store)
    key = ml.time_to_recover_from_drift(store, WS)
    assert key.n == 2
    assert key.value == pytest.approx(10.5)  # median of 14 and 7 days
    assert (key.display, key.tier) == ("10.5 days", "high")
    assert key.note == "1 episode not recovered yet (open since week 7, drift alarm)"


def test_time_to_recover_from_drift_margin_is_a_parameter(store: Store) -> None:
    ml_history(store)
    strict = ml.time_to_recover_from_drift(store, WS, margin=0.0)
    # no week is back at the baseline itself: episode A never ends, B and C fall inside it
    assert strict.value is None
    assert strict.note == "1 episode not recovered yet (open since week 1, drift alarm)"
    with pytest.raises(ValueError, match="margin"):
        ml.time_to_recover_from_drift(store, WS, margin=-0.1)


def test_time_to_recover_when_higher_quality_is_better(store: Store) -> None:
    insert(store, "weekly", [
        week(0, quality=0.70, alarm="quality", baseline=0.9, metric="accuracy"),
        week(1, quality=0.80, baseline=0.9, metric="accuracy"),   # below 0.81: not back
        week(2, quality=0.85, baseline=0.9, metric="accuracy"),   # back: 14 days
    ])  # fmt: skip
    key = ml.time_to_recover_from_drift(store, WS)
    assert (key.n, key.value, key.tier, key.note) == (1, 14.0, "high", None)


def test_model_staleness_is_the_latest_week_with_the_mean_in_the_note(store: Store) -> None:
    ml_history(store)
    key = ml.model_staleness(store, WS)
    assert key.n == 8
    assert key.value == pytest.approx(14.0)  # week 7 (day 49) served by v4, data to day 35
    assert (key.display, key.tier) == ("14 days", "high")
    # staleness by week: 1h, 7d 1h, 1h, 7d 1h, 14d 1h, 21d 1h, 7d, 14d -> mean (70 d + 6 h) / 8
    assert key.note == f"week 7 served by v4; mean {format_duration((70 + 6 * HOUR) / 8)} over 8 weeks"
    assert "8.8 days" in key.note


def test_ml_keys_come_in_the_order_that_mirrors_dora(store: Store) -> None:
    ml_history(store)
    assert [k.key for k in ml.ml_keys(store, WS)] == [
        "retraining_frequency", "data_to_production_lead_time", "model_change_failure_rate",
        "time_to_recover_from_drift", "model_staleness",
    ]  # fmt: skip
