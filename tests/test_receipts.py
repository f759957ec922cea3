"""Keys with receipts: each key's rows, counted again from the raw tables, and its definitions.

The receipts are checked against an independent count: the raw tables of the suite's played
history (`scenario_db`) read with one `SELECT *` each and filtered in pandas by the key's written
rule, never through the key's own SQL. The definition switch (Four Keys, DORA 2023, DORA 2024) is
checked on small hand-made histories where the definitions disagree.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.devops import definitions as defs
from pipelines.devops import metrics as dora
from pipelines.keys import KeyResult
from pipelines.mlops import metrics as ml
from pipelines.store import Store, keys_sql
from tests.conftest import APP
from tests.test_keys import HOUR, WS, day, deploy, devops_history, incident, insert, ml_history

DAY_S = 86400.0


# -- the played history, read raw ----------------------------------------------------------------
def read_raw(path: Path, workspace: str) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM {t} WHERE workspace = ?", [workspace]).df()
            for t in ("deployments", "incidents", "changes", "runs", "model_versions", "weekly")
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def raw(scenario_db: Path) -> dict[str, pd.DataFrame]:
    return read_raw(scenario_db, "demo")


@pytest.fixture(scope="module")
def store(scenario_db: Path) -> Store:
    return Store(scenario_db)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / DAY_S


def _median(values: pd.Series) -> float | None:
    return float(values.median()) if len(values) else None


def _failed(deploys: pd.DataFrame, incidents: pd.DataFrame, *, rollbacks: bool) -> pd.Series:
    caused = deploys["deployment_id"].isin(incidents["cause_deployment_id"].dropna())
    return (caused | deploys["rolled_back"]) if rollbacks else caused


def _weeks(raw: dict[str, pd.DataFrame], events: pd.Series, *, whole_history: bool = False) -> int:
    """Weeks in the window: from 7 days before the first weekly row to the last one, stretched to
    the events; Four Keys' window is the whole recorded history (the play is shorter than 3 months)."""
    starts = [raw["weekly"]["sim_time"].min() - pd.Timedelta(days=7), events.min()]
    ends = [raw["weekly"]["sim_time"].max(), events.max()]
    if whole_history:
        starts += [raw["deployments"]["sim_time"].min(), raw["incidents"]["opened_sim_time"].min(),
                   raw["changes"]["committed_sim_time"].min(), raw["runs"]["sim_time"].min()]  # fmt: skip
        ends += [raw["deployments"]["sim_time"].max(), raw["incidents"]["opened_sim_time"].max(),
                 raw["changes"]["deployed_sim_time"].max(), raw["runs"]["sim_time"].max()]  # fmt: skip
    origin, last = min(starts), max(ends)
    return max(1, math.ceil((last - origin).total_seconds() / (7 * DAY_S)))


def independent_dora(
    raw: dict[str, pd.DataFrame], definition: str
) -> dict[str, tuple[set[str], float | None]]:
    """key -> (ids of the rows the key should count, its value), from the raw tables alone.

    The suite's play is seven weeks: Four Keys' three months cover all of it."""
    d, i, c = raw["deployments"], raw["incidents"], raw["changes"]
    fourkeys = definition == "fourkeys"
    releases = d[(d["environment"] == "production") & (d["kind"] == "release") & d["sim_time"].notna()]
    counted = releases if fourkeys else releases[~releases["unplanned"]]
    shipped = c[c["deployed_sim_time"].notna()].copy()
    shipped["lead"] = _days(shipped["deployed_sim_time"], shipped["committed_sim_time"])
    if fourkeys:  # whole minutes, leads of 0 minutes or less left out
        shipped["lead"] = ((shipped["lead"] * 1440).apply(math.floor)) / 1440
        shipped = shipped[shipped["lead"] > 0]
    failed = _failed(counted, i, rollbacks=not fourkeys)
    caused = i.merge(releases, left_on="cause_deployment_id", right_on="deployment_id", suffixes=("", "_d"))
    resolved = caused[caused["resolved_sim_time"].notna()]
    start = resolved[["opened_sim_time", "sim_time"]].min(axis=1) if fourkeys else resolved["opened_sim_time"]
    result = {
        "deployment_frequency": (set(counted["deployment_id"]), len(counted) / _weeks(raw, counted["sim_time"], whole_history=fourkeys)),
        "lead_time_for_changes": (set(shipped["commit_sha"]), _median(shipped["lead"])),
        "change_failure_rate": (set(counted["deployment_id"]), 100 * failed.sum() / len(counted)),
        "failed_deployment_recovery_time": (
            set(resolved["incident_id"]), _median(_days(resolved["resolved_sim_time"], start))),
        "deployment_rework_rate": (set(releases["deployment_id"]), 100 * releases["unplanned"].sum() / len(releases)),
    }  # fmt: skip
    if fourkeys:
        result["deployment_rework_rate"] = (set(), None)
    return result


def independent_ml(raw: dict[str, pd.DataFrame]) -> dict[str, tuple[set[str], float | None]]:
    d, i, r, mv, w = (raw[t] for t in ("deployments", "incidents", "runs", "model_versions", "weekly"))
    retrains = r[(r["kind"] == "mlops") & r["trigger"].isin(["schedule", "drift", "performance"])
                 & (r["status"] == "succeeded") & r["sim_time"].notna()]  # fmt: skip
    models = d[(d["environment"] == "production") & (d["kind"] == "model") & ~d["unplanned"]].copy()
    models["version"] = models["ref"].str.lstrip("v").astype(int)
    leads = models.merge(mv[mv["window_end"].notna()], on="version", suffixes=("", "_mv"))
    weeks = w.sort_values("week")
    served = weeks.merge(
        mv[mv["window_end"].notna()], left_on="model_version", right_on="version", suffixes=("", "_mv")
    )
    served = served.sort_values("week")
    staleness = _days(served["sim_time"], served["window_end"])
    return {
        "retraining_frequency": (set(retrains["run_id"]), len(retrains) / _weeks(raw, retrains["sim_time"])),
        "data_to_production_lead_time": (
            set(leads["deployment_id"]), _median(_days(leads["sim_time"], leads["window_end"]))),
        "model_change_failure_rate": (
            set(models["deployment_id"]),
            100 * _failed(models, i, rollbacks=True).sum() / len(models) if len(models) else None),
        "time_to_recover_from_drift": _episodes(weeks),
        "model_staleness": (set(served["week"].astype(str)), float(staleness.iloc[-1]) if len(served) else None),
    }  # fmt: skip


def _episodes(
    weeks: pd.DataFrame, margin: float = ml.DEFAULT_RECOVERY_MARGIN
) -> tuple[set[str], float | None]:
    """The drift episodes by the docstring's rule, week by week: an alarm opens one, the first
    later week with no alarm and quality back within the margin ends it."""
    ended, opened = [], None
    for week in weeks.itertuples():
        back = (
            pd.isna(week.alarm) and pd.notna(week.quality) and pd.notna(week.quality_direction)
            and (week.quality <= week.quality_baseline * (1 + margin) if week.quality_direction == "lower"
                 else week.quality >= week.quality_baseline * (1 - margin))
        )  # fmt: skip
        if opened is None and pd.notna(week.alarm):
            opened = week
        elif opened is not None and back:
            ended.append((str(opened.week), (week.sim_time - opened.sim_time).total_seconds() / DAY_S))
            opened = None
    return {w for w, _ in ended}, _median(pd.Series([d for _, d in ended]))


_ID_COLUMN = {
    "deployment_frequency": "deployment_id", "lead_time_for_changes": "commit_sha",
    "change_failure_rate": "deployment_id", "failed_deployment_recovery_time": "incident_id",
    "deployment_rework_rate": "deployment_id", "retraining_frequency": "run_id",
    "data_to_production_lead_time": "deployment_id", "model_change_failure_rate": "deployment_id",
    "time_to_recover_from_drift": "alarm_week", "model_staleness": "week",
}  # fmt: skip


def _check(store: Store, key: KeyResult, expected: tuple[set[str], float | None]) -> None:
    ids, value = expected
    rows = keys_sql.key_receipt(store, key)
    assert len(rows) == key.n == len(ids), key.key
    if ids:
        assert set(rows[_ID_COLUMN[key.key]].astype(str)) == ids, key.key
    if value is None:
        assert key.value is None, key.key
    else:
        assert key.value == pytest.approx(value), key.key


@pytest.mark.parametrize("definition", list(defs.DEFINITIONS))
def test_each_dora_receipt_matches_an_independent_count(
    store: Store, raw: dict[str, pd.DataFrame], definition: str
) -> None:
    keys = dora.dora_keys(store, "demo", definition=definition)
    expected = independent_dora(raw, definition)
    assert [k.key for k in keys] == list(expected)
    for key in keys:
        _check(store, key, expected[key.key])
    # the play has what the receipts are for: an escaped bug, its incident and its rollback
    by_key = {k.key: k for k in keys}
    assert by_key["failed_deployment_recovery_time"].n >= 1 and by_key["change_failure_rate"].value


def test_each_ml_receipt_matches_an_independent_count(store: Store, raw: dict[str, pd.DataFrame]) -> None:
    keys = ml.ml_keys(store, "demo")
    expected = independent_ml(raw)
    for key in keys:
        _check(store, key, expected[key.key])
    assert {k.key: k.n for k in keys}["retraining_frequency"] >= 1  # the schedule retrained


def test_ml_receipts_on_a_history_with_episodes_and_rollbacks(tmp_path: Path) -> None:
    """The short play has no ended drift episode; this hand-made one has two, and a model rollback."""
    hand = Store(tmp_path / "ml.duckdb")
    ml_history(hand)
    keys = ml.ml_keys(hand, WS)
    expected = independent_ml(read_raw(tmp_path / "ml.duckdb", WS))
    for key in keys:
        _check(hand, key, expected[key.key])
    assert {k.key: k.n for k in keys}["time_to_recover_from_drift"] == 2


def test_receipts_recompute_their_figures(store: Store) -> None:
    """The rows alone give the value back: a person can check the figure by hand."""
    keys = {k.key: k for k in dora.dora_keys(store, "demo")}
    lead = keys_sql.key_receipt(store, keys["lead_time_for_changes"])
    assert lead["lead_days"].median() == pytest.approx(keys["lead_time_for_changes"].value)
    failures = keys_sql.key_receipt(store, keys["change_failure_rate"])
    assert 100 * failures["failed"].mean() == pytest.approx(keys["change_failure_rate"].value)
    assert failures.loc[failures["failed"], "incidents"].notna().any()  # the incident that made it fail
    recovery = keys_sql.key_receipt(store, keys["failed_deployment_recovery_time"])
    assert recovery["recovery_days"].median() == pytest.approx(keys["failed_deployment_recovery_time"].value)


# -- the definition switch on hand-made histories -----------------------------------------------------
@pytest.fixture
def hand(tmp_path: Path) -> Store:
    return Store(tmp_path / "h.duckdb")


def _keys(store: Store, definition: str) -> dict[str, KeyResult]:
    return {k.key: k for k in dora.dora_keys(store, WS, definition=definition)}


def test_the_default_is_dora_2023_unchanged(hand: Store) -> None:
    devops_history(hand)
    default, named = dora.dora_keys(hand, WS), dora.dora_keys(hand, WS, definition="dora2023")
    assert default == named
    assert [(k.value, k.tier, k.tier_source) for k in default] == [
        (k.value, k.tier, k.tier_source) for k in named
    ]


def test_a_window_narrows_the_receipt_with_the_figure(hand: Store) -> None:
    devops_history(hand)
    key = dora.change_failure_rate(hand, WS, start=day(14), end=day(28))  # d2, d3, d4
    rows = keys_sql.key_receipt(hand, key)
    assert list(rows["deployment_id"]) == [f"{WS}-d2", f"{WS}-d3", f"{WS}-d4"] and key.n == 3
    assert list(rows["failed"]) == [True, False, True]
    assert rows.loc[0, "incidents"].count(",") == 1  # d2 caused two incidents, both named


def test_four_keys_counts_every_deploy_and_only_incidents_as_failures(hand: Store) -> None:
    devops_history(hand)  # 5 planned releases (d2, d4 caused incidents; d4 rolled back), 2 unplanned
    dora23, four = _keys(hand, "dora2023"), _keys(hand, "fourkeys")
    assert (dora23["change_failure_rate"].n, dora23["change_failure_rate"].value) == (5, 40.0)
    # Four Keys: the rollback redeploy and the hotfix are deploys too; 2 of 7 named by an incident
    assert four["change_failure_rate"].n == 7
    assert four["change_failure_rate"].value == pytest.approx(200 / 7)
    assert four["change_failure_rate"].tier is None and "16-45%" in four["change_failure_rate"].note
    assert four["deployment_frequency"].n == 7 and dora23["deployment_frequency"].n == 5
    # no rework rate in Four Keys
    assert four["deployment_rework_rate"].value is None and "Four Keys" in four["deployment_rework_rate"].note
    assert keys_sql.key_receipt(hand, four["deployment_rework_rate"]).empty


def test_four_keys_restores_from_the_deploy_that_caused_the_incident(hand: Store) -> None:
    devops_history(hand)
    dora23, four = _keys(hand, "dora2023"), _keys(hand, "fourkeys")
    assert dora23["failed_deployment_recovery_time"].value == pytest.approx(6 * HOUR)  # 2 h, 6 h, 2 days
    # d2 (day 14) -> resolved day 15 + 2 h and day 18; d4 (day 28) -> day 29 + 6 h: 1 d 2 h, 4 d, 1 d 6 h
    restore = four["failed_deployment_recovery_time"]
    assert restore.label == "Time to restore services"
    assert restore.value == pytest.approx(1.25)
    assert restore.tier is None and "One week" in restore.note
    rows = keys_sql.key_receipt(hand, restore)
    assert rows["restore_days"].median() == pytest.approx(1.25)


def test_four_keys_lead_time_drops_automated_pushes(hand: Store) -> None:
    insert(hand, "deployments", [deploy(day(1), ident="d1")])
    insert(hand, "changes", [
        {"workspace": WS, "commit_sha": "a", "change_id": "a", "kind": "feature", "message": "m",
         "committed_sim_time": day(1), "deployment_id": "d1", "deployed_sim_time": day(1) + timedelta(seconds=30)},
        {"workspace": WS, "commit_sha": "b", "change_id": "b", "kind": "feature", "message": "m",
         "committed_sim_time": day(0), "deployment_id": "d1", "deployed_sim_time": day(1)},
        {"workspace": WS, "commit_sha": "c", "change_id": "c", "kind": "feature", "message": "m",
         "committed_sim_time": day(-2), "deployment_id": "d1", "deployed_sim_time": day(1)},
    ])  # fmt: skip
    dora23, four = _keys(hand, "dora2023"), _keys(hand, "fourkeys")
    assert (dora23["lead_time_for_changes"].n, dora23["lead_time_for_changes"].value) == (
        3,
        pytest.approx(1.0),
    )
    # half a minute is 0 whole minutes: an "automated push" to Four Keys, left out
    assert four["lead_time_for_changes"].n == 2
    assert four["lead_time_for_changes"].value == pytest.approx(2.0)  # median of 1 and 3 days
    assert set(keys_sql.key_receipt(hand, four["lead_time_for_changes"])["commit_sha"]) == {"b", "c"}


def test_four_keys_looks_at_the_last_three_months(hand: Store) -> None:
    insert(hand, "deployments", [deploy(day(10 * n), ident=f"d{n}") for n in range(19)])  # days 0..180
    dora23, four = _keys(hand, "dora2023"), _keys(hand, "fourkeys")
    assert dora23["deployment_frequency"].n == 19
    since = (pd.Timestamp(day(180)) - pd.DateOffset(months=3)).to_pydatetime()
    rows = keys_sql.key_receipt(hand, four["deployment_frequency"])
    assert len(rows) == four["deployment_frequency"].n == sum(day(10 * n) >= since for n in range(19))
    assert rows["sim_time"].min() >= since


@pytest.mark.parametrize(
    ("failed_of_10", "tier_2023", "tier_2024"),
    [(0, "elite", "elite"), (1, "high", None), (2, "low", None), (3, "low", "low")],
)
def test_dora_2024_change_failure_levels_differ_from_2023(
    hand: Store, failed_of_10: int, tier_2023: str, tier_2024: str | None
) -> None:
    deploys = [deploy(day(n), ident=f"d{n}", rolled_back=n < failed_of_10) for n in range(10)]
    insert(hand, "deployments", deploys)
    d23, d24 = _keys(hand, "dora2023")["change_failure_rate"], _keys(hand, "dora2024")["change_failure_rate"]
    assert d23.value == d24.value == 10.0 * failed_of_10
    assert (d23.tier, d24.tier) == (tier_2023, tier_2024)
    assert d24.tier_source == defs.DORA_2024_TIER_SOURCE


@pytest.mark.parametrize(
    ("hours", "tier_2023", "tier_2024"),
    [(0.5, "elite", "elite"), (6, "high", None), (48, "medium", "low"), (24 * 10, "low", "low")],
)
def test_dora_2024_recovery_levels_differ_from_2023(
    hand: Store, hours: float, tier_2023: str, tier_2024: str | None
) -> None:
    insert(hand, "deployments", [deploy(day(1), ident="d1")])
    insert(hand, "incidents", [incident(day(2), day(2) + timedelta(hours=hours), "d1")])
    d23 = _keys(hand, "dora2023")["failed_deployment_recovery_time"]
    d24 = _keys(hand, "dora2024")["failed_deployment_recovery_time"]
    assert d23.value == d24.value == pytest.approx(hours / 24)
    assert (d23.tier, d24.tier) == (tier_2023, tier_2024)


def test_an_unknown_definition_is_refused(hand: Store) -> None:
    with pytest.raises(ValueError, match="definition"):
        dora.change_failure_rate(hand, WS, definition="dora2025")


# -- the tier tables --------------------------------------------------------------------------------
def test_each_tier_table_names_its_source_year() -> None:
    t23, t24, four = (dora.tier_table(d) for d in ("dora2023", "dora2024", "fourkeys"))
    assert (
        "2023" in t23.attrs["source"]
        and "2024" in t24.attrs["source"]
        and "Four Keys" in four.attrs["source"]
    )
    assert list(t23.iloc[:, 0]) == ["elite", "high", "medium", "low"]  # 2023 leaves no range without a level
    assert list(t24.iloc[:, 0]) == ["elite", "high", "medium", "low", "no tier"]
    assert "no tier" in t24.set_index(t24.columns[0]).loc["no tier", "Change failure rate"]
    assert "Elite Performance" in four.loc[0, "Deployment frequency"]
    published = dora.published_levels("dora2024")
    assert list(published["change_failure_rate"]) == ["5%", "20%", "10%", "40%"]
    assert dora.published_levels("fourkeys").empty


def test_the_2024_table_is_kept_cell_by_cell() -> None:
    table = defs.DORA_2024_PERFORMANCE_LEVELS
    assert list(table) == ["elite", "high", "medium", "low"]
    assert [table[t]["failed_deployment_recovery_time"] for t in table] == [
        "Less than one hour", "Less than one day", "Less than one day", "Between one week and one month"]  # fmt: skip
    assert [table[t]["share_of_respondents"] for t in table] == ["19%", "22%", "35%", "25%"]


# -- the app ----------------------------------------------------------------------------------------
def _page(path: str | None = None, *, opened: tuple[str, ...] = ()) -> AppTest:
    """The app on `path`, or on its default page (the Overview): AppTest drops the widget state of
    a rerun when `switch_page` named the default page, so the Overview is opened as the default.
    `opened`: the keys of the popovers and expanders opened as a click would (their receipts are
    drawn only then)."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key in opened:
        at.session_state[key] = True
    if path:
        at.switch_page(path)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _tier_table(at: AppTest) -> pd.DataFrame:
    """The tier table: a static table, tiers (or Four Keys' buckets) as its index."""
    frame = next(t.value for t in at.table if str(t.value.index.name).startswith(("tier (", "bucket")))
    return frame.reset_index()


def _frames_with(at: AppTest, columns: set[str]) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if columns <= set(d.value.columns)]


def test_overview_switch_recomputes_keys_and_shows_the_tier_table(app_env: Path) -> None:
    at = _page()
    switch = at.segmented_control(key="overview_definition")
    assert switch.value == "dora2023"
    assert list(_tier_table(at).iloc[:, 0]) == ["elite", "high", "medium", "low"]
    assert _tier_table(at).columns[0] == "tier (DORA 2023)"
    assert any("Source: DORA Accelerate State of DevOps 2023" in str(c.value) for c in at.caption)
    before = {m.label for m in at.metric}
    switch.set_value("fourkeys").run()
    assert not at.exception, [e.message for e in at.exception]
    labels = {m.label for m in at.metric}
    assert "Time to restore services" in labels and "Time to restore services" not in before
    assert _metric(at, "Deployment rework rate") == "no data"  # not a Four Keys key
    assert _tier_table(at).columns[0] == "bucket"
    at.segmented_control(key="overview_definition").set_value("dora2024").run()
    assert not at.exception, [e.message for e in at.exception]
    assert list(_tier_table(at).iloc[:, 0])[-1] == "no tier"
    assert any("Source: DORA Accelerate State of DevOps 2024" in str(c.value) for c in at.caption)


def test_overview_and_devops_receipts_hold_the_rows(app_env: Path) -> None:
    store = Store(app_env)
    keys = {k.key: k for k in dora.dora_keys(store, "demo")}
    mirrors = {k.key: k for k in ml.ml_keys(store, "demo")}
    at = _page(opened=("overview_dora_change_failure_rate_receipt_open",
                       "overview_ml_retraining_frequency_receipt_open"))  # fmt: skip
    failures = _frames_with(at, {"deployment_id", "failed", "incidents"})
    releases = next(f for f in failures if not f["ref"].str.startswith("v").all())
    assert len(releases) == keys["change_failure_rate"].n and releases["failed"].any()
    retrains = _frames_with(at, {"run_id", "trigger"})
    assert [len(f) for f in retrains] == [mirrors["retraining_frequency"].n]

    devops = _page("views/devops.py", opened=("details_failed_deployment_recovery_time_open",))
    expander = next(e for e in devops.expander if e.label.startswith("Failed deployment recovery time"))
    incidents = expander.dataframe[0].value
    assert len(incidents) == keys["failed_deployment_recovery_time"].n
    assert {"opened_sim_time", "resolved_sim_time", "recovery_days"} <= set(incidents.columns)
    assert any("SELECT" in c.value for c in expander.code)
    devops.segmented_control(key="devops_definition").set_value("fourkeys").run()
    assert not devops.exception
    expander = next(e for e in devops.expander if e.label.startswith("Time to restore services"))
    assert "restore_days" in expander.dataframe[0].value.columns
