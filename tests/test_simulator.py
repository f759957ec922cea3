"""The simulated bike-demand world: shape like UCI, seeded, and each injection doing what it says."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path

from pipelines.mlops.simulator import (
    COLUMNS,
    FEATURE_STD,
    DriftInjection,
    SimulatorSettings,
    UpstreamChange,
    simulate,
    simulate_weeks,
)
from pipelines.mlops.validation import validate_frame

WEEK = 168
FEATURES = ["season", "yr", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit",
            "temp", "atemp", "hum", "windspeed"]  # fmt: skip


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return simulate(SimulatorSettings(seed=3))


def drifted(
    *injections: DriftInjection, weeks: int = 52, seed: int = 3, **knobs: object
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same seeded world without and with the injections."""
    base = SimulatorSettings(weeks=weeks, seed=seed, **knobs)  # type: ignore[arg-type]
    return simulate(base), simulate(replace(base, injections=injections))


def rows(frame: pd.DataFrame, first_week: int, last_week: int) -> pd.DataFrame:
    """Weeks first_week..last_week - 1."""
    return frame.iloc[first_week * WEEK : last_week * WEEK]


# --- shape, determinism, calibration -----------------------------------------------------------


def test_same_seed_same_world_and_another_seed_another() -> None:
    settings = SimulatorSettings(weeks=8, seed=11)
    pd.testing.assert_frame_equal(simulate(settings), simulate(settings))
    other = simulate(replace(settings, seed=12))
    assert not other["cnt"].equals(simulate(settings)["cnt"])
    assert not other["temp"].equals(simulate(settings)["temp"])


def test_columns_types_and_ranges_follow_uci(world: pd.DataFrame) -> None:
    assert tuple(world.columns) == COLUMNS
    assert len(world) == 104 * WEEK
    assert pd.api.types.is_datetime64_any_dtype(world["timestamp"])
    assert (world["timestamp"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert world["timestamp"].iloc[0] == pd.Timestamp("2011-01-01")
    for column in ["season", "yr", "mnth", "hr", "holiday", "weekday", "workingday", "weathersit", "cnt"]:
        assert world[column].dtype == np.int64, column
    assert set(world["season"]) == {1, 2, 3, 4}
    assert set(world["weathersit"]) <= {1, 2, 3, 4} and {1, 2, 3} <= set(world["weathersit"])
    assert set(world["yr"]) == {0, 1}
    assert world["hr"].between(0, 23).all() and world["weekday"].between(0, 6).all()
    for column in ["temp", "atemp", "hum", "windspeed"]:
        assert world[column].between(0, 1).all(), column
    assert (world["cnt"] >= 0).all()
    assert validate_frame(world, dataset_or_schema="simulated").ok


def test_calibrated_to_uci_levels(world: pd.DataFrame) -> None:
    # UCI: mean cnt 189, 144 in 2011 and 235 in 2012; temp 0.50 +- 0.19; hum 0.63; weathersit 1 in 66 %.
    assert 160 < world["cnt"].mean() < 220
    by_year = world.groupby("yr")["cnt"].mean()
    assert 1.45 < by_year[1] / by_year[0] < 1.75
    assert abs(world["temp"].mean() - 0.50) < 0.03 and 0.16 < world["temp"].std() < 0.23
    assert abs(world["hum"].mean() - 0.63) < 0.04
    assert 0.58 < (world["weathersit"] == 1).mean() < 0.74
    july, january = world[world["mnth"] == 7]["temp"].mean(), world[world["mnth"] == 1]["temp"].mean()
    assert july - january > 0.35
    # Commute peaks on working days, a midday hump on the other days.
    profile = world.groupby(["workingday", "hr"])["cnt"].mean()
    assert profile[1].idxmax() in (8, 17, 18)
    assert profile[1][8] > 2 * profile[1][11]
    assert profile[0].idxmax() in range(11, 17)


def test_windspeed_calm_hours_like_uci(world: pd.DataFrame) -> None:
    calm = (world["windspeed"] == 0).mean()
    assert 0.09 < calm < 0.15  # UCI: 12.5 %
    # The anemometer reads 0 or at least 6 km/h, never in between, and whole km/h.
    assert not ((world["windspeed"] > 0) & (world["windspeed"] < 6 / 67 - 1e-4)).any()
    kmh = world["windspeed"] * 67
    assert np.allclose(kmh, kmh.round(), atol=0.01)


def test_flat_climate_has_no_seasons() -> None:
    flat = simulate(SimulatorSettings(seasonal=False, growth_per_year=0.0, seed=1))
    by_month = flat.groupby("mnth")["temp"].mean()
    assert by_month.max() - by_month.min() < 0.08
    by_year = flat.groupby("yr")["cnt"].mean()
    assert abs(by_year[1] / by_year[0] - 1) < 0.08


@pytest.mark.shared
def test_calendar_columns_match_uci_row_for_row() -> None:
    uci = pd.read_csv(shared_path("datasets", "bike_sharing_hour.csv"))
    uci["timestamp"] = pd.to_datetime(uci["dteday"], format="%Y-%m-%d") + pd.to_timedelta(uci["hr"], unit="h")
    simulated = simulate(SimulatorSettings(weeks=105))
    both = uci.merge(simulated, on="timestamp", suffixes=("", "_sim"))
    assert len(both) == len(uci)
    for column in ["season", "yr", "mnth", "hr", "holiday", "weekday", "workingday"]:
        assert (both[column] == both[f"{column}_sim"]).all(), column


def test_simulate_weeks_is_a_slice_of_the_whole_world() -> None:
    settings = SimulatorSettings(weeks=10, seed=4)
    part = simulate_weeks(settings, 3, 5)
    pd.testing.assert_frame_equal(part, simulate(settings).iloc[3 * WEEK : 6 * WEEK].reset_index(drop=True))
    with pytest.raises(ValueError, match="outside the simulated"):
        simulate_weeks(settings, 8, 12)


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DriftInjection(type="seasonal"), "drift type 'seasonal'"),
        (lambda: DriftInjection(type="prior", pattern="slow"), "drift pattern 'slow'"),
        (lambda: DriftInjection(type="prior", onset_week=-1), "onset_week"),
        (lambda: DriftInjection(type="prior", duration_weeks=0), "duration_weeks"),
        (lambda: DriftInjection(type="prior", pattern="recurring"), "recurring drift needs duration_weeks"),
        (lambda: DriftInjection(type="prior", magnitude=float("nan")), "finite"),
        (lambda: DriftInjection(type="prior", magnitude=-1.0), "must be > -1"),
        (lambda: DriftInjection(type="covariate", feature="hr"), "covariate drift can move"),
        (lambda: DriftInjection(type="concept", feature="hum"), "concept drift can change"),
        (lambda: DriftInjection(type="concept", magnitude=1.5), r"in \[0, 1\]"),
        (lambda: UpstreamChange(kind="celsius"), "kind 'celsius'"),
        (lambda: UpstreamChange(kind="fahrenheit", column="hum"), "temp or atemp"),
        (lambda: UpstreamChange(kind="missing", column="nope"), "not a simulator column"),
        (lambda: UpstreamChange(kind="missing", share=0.0), r"share must be in \(0, 1\]"),
        (lambda: SimulatorSettings(weeks=0), "weeks must be"),
        (lambda: SimulatorSettings(seed=-1), "seed must be"),
        (lambda: SimulatorSettings(start="soon"), "not a date"),
        (lambda: SimulatorSettings(growth_per_year=-1.0), "growth_per_year"),
        (lambda: SimulatorSettings(injections=("prior",)), "DriftInjection"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make()


def test_settings_are_hashable_and_lists_become_tuples() -> None:
    settings = SimulatorSettings(injections=[DriftInjection(type="prior")])  # type: ignore[arg-type]
    assert isinstance(settings.injections, tuple)
    assert hash(settings) == hash(SimulatorSettings(injections=(DriftInjection(type="prior"),)))


# --- drift types ---------------------------------------------------------------------------------


def test_covariate_sudden_moves_the_feature_after_onset_only() -> None:
    magnitude = 0.5
    base, moved = drifted(
        DriftInjection(type="covariate", pattern="sudden", onset_week=20, magnitude=magnitude)
    )
    pd.testing.assert_frame_equal(rows(base, 0, 20), rows(moved, 0, 20))
    shift = rows(moved, 20, 52)["temp"].mean() - rows(base, 20, 52)["temp"].mean()
    assert shift == pytest.approx(magnitude * FEATURE_STD["temp"], rel=0.15)
    # Felt temperature follows, the calendar and the other weather do not move.
    assert rows(moved, 20, 52)["atemp"].mean() > rows(base, 20, 52)["atemp"].mean() + 0.05
    for column in ["hr", "weekday", "workingday", "weathersit", "hum", "windspeed"]:
        assert moved[column].equals(base[column]), column
    # Demand follows the true temperature response: in spring it is warmer, so more rides.
    assert rows(moved, 20, 30)["cnt"].mean() > rows(base, 20, 30)["cnt"].mean()


@pytest.mark.parametrize("feature", ["hum", "windspeed"])
def test_covariate_can_move_other_weather(feature: str) -> None:
    base, moved = drifted(DriftInjection(type="covariate", onset_week=10, magnitude=-0.5, feature=feature))
    pd.testing.assert_frame_equal(rows(base, 0, 10), rows(moved, 0, 10))
    assert rows(moved, 10, 52)[feature].mean() < rows(base, 10, 52)[feature].mean() - 0.04
    assert moved["temp"].equals(base["temp"])


def test_prior_sudden_scales_demand_and_nothing_else() -> None:
    base, moved = drifted(DriftInjection(type="prior", onset_week=26, magnitude=0.5))
    assert moved[FEATURES].equals(base[FEATURES])
    assert rows(moved, 0, 26)["cnt"].equals(rows(base, 0, 26)["cnt"])
    ratio = rows(moved, 26, 52)["cnt"].sum() / rows(base, 26, 52)["cnt"].sum()
    assert ratio == pytest.approx(1.5, abs=0.03)


def test_sudden_with_a_duration_returns_to_normal() -> None:
    base, moved = drifted(DriftInjection(type="prior", onset_week=10, duration_weeks=5, magnitude=1.0))
    assert rows(moved, 15, 52)["cnt"].equals(rows(base, 15, 52)["cnt"])
    assert rows(moved, 10, 15)["cnt"].sum() / rows(base, 10, 15)["cnt"].sum() == pytest.approx(2.0, abs=0.05)


def test_concept_workingday_swaps_profiles_with_the_same_inputs() -> None:
    base, moved = drifted(DriftInjection(type="concept", feature="workingday", onset_week=20, magnitude=1.0))
    assert moved[FEATURES].equals(base[FEATURES])
    assert rows(moved, 0, 20)["cnt"].equals(rows(base, 0, 20)["cnt"])
    after_base = rows(base, 20, 52).groupby(["workingday", "hr"])["cnt"].mean()
    after_moved = rows(moved, 20, 52).groupby(["workingday", "hr"])["cnt"].mean()
    # Working days now look like weekends: the 8 o'clock commute peak is gone, midday is busy.
    assert after_moved[1][8] < 0.5 * after_base[1][8]
    assert np.corrcoef(after_moved[1], after_base[0])[0, 1] > 0.9
    assert np.corrcoef(after_moved[0], after_base[1])[0, 1] > 0.9


def test_concept_hr_moves_the_commute_peaks_two_hours_later() -> None:
    base, moved = drifted(DriftInjection(type="concept", feature="hr", onset_week=10, magnitude=1.0))
    assert moved[FEATURES].equals(base[FEATURES])
    working_base = rows(base, 10, 52).query("workingday == 1").groupby("hr")["cnt"].mean()
    working_moved = rows(moved, 10, 52).query("workingday == 1").groupby("hr")["cnt"].mean()
    assert working_base.idxmax() in (8, 17, 18)
    assert working_moved.idxmax() == working_base.idxmax() + 2


def test_concept_temp_flips_the_temperature_response() -> None:
    base, moved = drifted(
        DriftInjection(type="concept", feature="temp", onset_week=52, magnitude=1.0), weeks=104
    )
    assert moved[FEATURES].equals(base[FEATURES])
    year2_base, year2_moved = rows(base, 52, 104), rows(moved, 52, 104)
    assert year2_base["temp"].corr(year2_base["cnt"]) > 0.2
    assert year2_moved["temp"].corr(year2_moved["cnt"]) < -0.1


def test_concept_magnitude_blends_old_and_new() -> None:
    _, half = drifted(DriftInjection(type="concept", feature="workingday", onset_week=0, magnitude=0.5))
    _, full = drifted(DriftInjection(type="concept", feature="workingday", onset_week=0, magnitude=1.0))
    base, _ = drifted()
    peak = [f.query("workingday == 1 and hr == 8")["cnt"].mean() for f in (base, half, full)]
    assert peak[0] > peak[1] > peak[2]


# --- drift patterns ------------------------------------------------------------------------------


def weekly_ratio(base: pd.DataFrame, moved: pd.DataFrame) -> pd.Series:
    week = np.arange(len(base)) // WEEK
    return moved["cnt"].groupby(week).sum() / base["cnt"].groupby(week).sum()


def test_incremental_grows_linearly_then_holds() -> None:
    base, moved = drifted(
        DriftInjection(type="prior", pattern="incremental", onset_week=10, duration_weeks=20, magnitude=1.0)
    )
    ratio = weekly_ratio(base, moved)
    assert (ratio[:10] == 1).all()
    assert ratio[12] == pytest.approx(1.125, abs=0.05)  # a tenth of the way, mid-week
    assert ratio[20] == pytest.approx(1.525, abs=0.05)
    assert ratio[30:].mean() == pytest.approx(2.0, abs=0.03)
    assert ratio[10:30].is_monotonic_increasing or np.corrcoef(np.arange(20), ratio[10:30])[0, 1] > 0.98


def test_gradual_mixes_rows_from_the_new_world_more_and_more_often() -> None:
    magnitude = 0.5
    base, moved = drifted(
        DriftInjection(
            type="covariate", pattern="gradual", onset_week=10, duration_weeks=20, magnitude=magnitude
        )
    )
    shift = (moved["temp"] - base["temp"]).to_numpy()
    unclipped = (base["temp"] + magnitude * FEATURE_STD["temp"] + 0.01 < 1.0).to_numpy()
    moved_rows = (np.abs(shift) > 0.02) & unclipped
    week = np.arange(len(base)) // WEEK
    share = pd.Series(moved_rows).groupby(week).sum() / pd.Series(unclipped).groupby(week).sum()
    assert (share[:10] == 0).all()
    # Each row is either unchanged or fully shifted: gradual is mixing, not a smaller shift.
    changed = np.abs(shift) > 1e-9
    assert np.all(np.abs(shift[changed & unclipped] - magnitude * FEATURE_STD["temp"]) < 0.011)
    assert 0.1 < share[10:15].mean() < 0.3  # probability rises 0 -> 0.25 over these weeks
    assert 0.7 < share[25:30].mean() < 0.9
    assert share[30:].min() > 0.99
    # Seeded: the same rows every time.
    assert simulate(
        SimulatorSettings(
            weeks=52,
            seed=3,
            injections=(
                DriftInjection(
                    type="covariate", pattern="gradual", onset_week=10, duration_weeks=20, magnitude=magnitude
                ),
            ),
        )
    )["temp"].equals(moved["temp"])


def test_recurring_toggles_on_and_off() -> None:
    base, moved = drifted(
        DriftInjection(type="prior", pattern="recurring", onset_week=10, duration_weeks=4, magnitude=1.0)
    )
    ratio = weekly_ratio(base, moved).round(6)
    assert (ratio[:10] == 1).all()
    assert (ratio[10:14] > 1.9).all()
    assert (ratio[14:18] == 1).all()
    assert (ratio[18:22] > 1.9).all()
    assert (ratio[22:26] == 1).all()


def test_injections_combine() -> None:
    base, moved = drifted(
        DriftInjection(type="prior", onset_week=10, magnitude=1.0),
        DriftInjection(type="covariate", onset_week=30, magnitude=0.5),
    )
    pd.testing.assert_frame_equal(rows(base, 0, 10), rows(moved, 0, 10))
    assert rows(moved, 10, 30)["temp"].equals(rows(base, 10, 30)["temp"])
    assert rows(moved, 30, 52)["temp"].mean() > rows(base, 30, 52)["temp"].mean() + 0.07


# --- upstream changes ----------------------------------------------------------------------------


def upstream(*changes: UpstreamChange, weeks: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    base = SimulatorSettings(weeks=weeks, seed=5)
    return simulate(base), simulate(replace(base, upstream_changes=changes))


def test_fahrenheit_temperature_is_a_data_bug_that_validation_catches() -> None:
    base, buggy = upstream(UpstreamChange(kind="fahrenheit", column="temp", onset_week=20))
    assert buggy["cnt"].equals(base["cnt"])  # the world did not change
    pd.testing.assert_frame_equal(rows(base, 0, 20), rows(buggy, 0, 20))
    after = rows(buggy, 20, 30)["temp"]
    expected = (rows(base, 20, 30)["temp"] * 41 * 9 / 5 + 32) / 41
    assert np.allclose(after, expected)
    assert validate_frame(rows(buggy, 0, 20), dataset_or_schema="simulated").ok
    report = validate_frame(rows(buggy, 20, 21), dataset_or_schema="simulated")
    assert not report.ok
    failure = report.failures[0]
    assert (failure.name, failure.column) == ("range", "temp")
    assert failure.failing_rows == WEEK  # a summer week: every hour is above 1
    assert "out of range [0, 1]" in report.summary()


def test_missing_values_upstream_share_and_validation() -> None:
    base, buggy = upstream(UpstreamChange(kind="missing", column="hum", onset_week=10, share=0.3))
    assert buggy["cnt"].equals(base["cnt"])
    assert rows(buggy, 0, 10)["hum"].notna().all()
    assert rows(buggy, 10, 30)["hum"].isna().mean() == pytest.approx(0.3, abs=0.03)
    report = validate_frame(rows(buggy, 10, 11), dataset_or_schema="simulated")
    assert [(c.name, c.column) for c in report.failures] == [("missing", "hum")]


def test_scale_upstream_for_a_bounded_period() -> None:
    base, buggy = upstream(
        UpstreamChange(kind="scale", column="hum", onset_week=5, duration_weeks=2, factor=100.0)
    )
    assert np.allclose(rows(buggy, 5, 7)["hum"], rows(base, 5, 7)["hum"] * 100)
    assert rows(buggy, 7, 30)["hum"].equals(rows(base, 7, 30)["hum"])
    assert not validate_frame(rows(buggy, 5, 6), dataset_or_schema="simulated").ok
