"""Drift tests on hand-built series: the chooser's branches, statistics against scipy, PSI by hand."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from pipelines import drift
from pipelines.drift import (
    RESULT_COLUMNS,
    STAT_TESTS,
    ReferenceProfile,
    TestResult,
    dataset_drift,
    detect_drift,
    psi_band,
    sample_size_demo,
)

SEASONS = np.array(["spring", "summer", "fall", "winter"])


def _one_column(reference: pd.Series, current: pd.Series, **kwargs: object) -> pd.Series:
    """detect_drift's row for a single column called x."""
    result = detect_drift(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}), **kwargs)
    assert list(result.columns) == list(RESULT_COLUMNS)
    assert len(result) == 1
    return result.iloc[0]


# --- the chooser: each branch, with a drifted and a non-drifted case --------------------------


def _numeric(rng: np.random.Generator, n_ref: int, n_cur: int, drifted: bool) -> tuple[pd.Series, pd.Series]:
    reference = pd.Series(rng.normal(10.0, 2.0, n_ref))
    current = pd.Series(rng.normal(11.0 if drifted else 10.0, 2.0, n_cur))
    return reference, current


def _few_values(
    rng: np.random.Generator, n_ref: int, n_cur: int, drifted: bool
) -> tuple[pd.Series, pd.Series]:
    weights = [0.4, 0.3, 0.2, 0.1]
    reference = pd.Series(rng.choice([1.0, 2.0, 3.0, 4.0], n_ref, p=weights))
    current = pd.Series(rng.choice([1.0, 2.0, 3.0, 4.0], n_cur, p=weights[::-1] if drifted else weights))
    return reference, current


def _categories(
    rng: np.random.Generator, n_ref: int, n_cur: int, drifted: bool
) -> tuple[pd.Series, pd.Series]:
    weights = [0.4, 0.3, 0.2, 0.1]
    reference = pd.Series(rng.choice(SEASONS, n_ref, p=weights), dtype=object)
    current = pd.Series(rng.choice(SEASONS, n_cur, p=weights[::-1] if drifted else weights), dtype=object)
    return reference, current


BRANCHES = [
    # (case, builder, reference rows, current rows, expected test, expected kind)
    ("small numeric", _numeric, 600, 300, "ks", "numeric"),
    ("small few-valued numeric", _few_values, 600, 300, "chisquare", "numeric"),
    ("small categorical", _categories, 600, 300, "chisquare", "categorical"),
    ("large numeric", _numeric, 5000, 2000, "wasserstein", "numeric"),
    ("large few-valued numeric", _few_values, 5000, 2000, "jensenshannon", "numeric"),
    ("large categorical", _categories, 5000, 2000, "jensenshannon", "categorical"),
]


@pytest.mark.parametrize("drifted", [False, True], ids=["stable", "drifted"])
@pytest.mark.parametrize(
    ("builder", "n_ref", "n_cur", "test", "kind"),
    [branch[1:] for branch in BRANCHES],
    ids=[branch[0] for branch in BRANCHES],
)
def test_chooser_branch_picks_the_rule_test_and_reaches_the_right_verdict(
    builder, n_ref: int, n_cur: int, test: str, kind: str, drifted: bool
) -> None:
    reference, current = builder(np.random.default_rng(0), n_ref, n_cur, drifted)
    row = _one_column(reference, current)
    assert row["test"] == test
    assert row["kind"] == kind
    assert bool(row["drifted"]) is drifted
    if test in ("ks", "chisquare"):
        assert row["threshold"] == 0.05
        assert bool(row["p_value"] < 0.05) is drifted
    else:
        assert row["threshold"] == 0.1
        assert math.isnan(row["p_value"])
        assert bool(row["statistic"] >= 0.1) is drifted


def test_chooser_switches_exactly_above_1000_reference_rows() -> None:
    rng = np.random.default_rng(1)
    current = pd.Series(rng.normal(size=200))
    assert _one_column(pd.Series(rng.normal(size=1000)), current)["test"] == "ks"
    assert _one_column(pd.Series(rng.normal(size=1001)), current)["test"] == "wasserstein"


def test_rows_are_counted_without_missing_values() -> None:
    rng = np.random.default_rng(2)
    reference = pd.Series(np.concatenate([rng.normal(size=1000), [np.nan] * 50, [np.inf, -np.inf]]))
    row = _one_column(reference, pd.Series([1.0, np.nan, 2.0, 3.0]))
    assert row["test"] == "ks"  # 1000 usable rows, not 1052
    assert (row["n_reference"], row["n_missing_reference"]) == (1000, 52)
    assert (row["n_current"], row["n_missing_current"]) == (3, 1)


def test_chooser_counts_five_unique_values_as_few_and_six_as_many() -> None:
    rng = np.random.default_rng(3)
    five = pd.Series(rng.integers(0, 5, 400).astype(float))
    six = pd.Series(rng.integers(0, 6, 400).astype(float))
    assert _one_column(five, five)["test"] == "chisquare"
    assert _one_column(six, six)["test"] == "ks"


def test_dtype_decides_the_kind_unless_the_column_is_listed_as_categorical() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "number": rng.normal(size=300),
            "code": rng.integers(0, 50, 300),
            "text": rng.choice(SEASONS, 300),
            "label": pd.Categorical(rng.choice(SEASONS, 300)),
            "flag": rng.random(300) < 0.5,
        }
    )
    kinds = detect_drift(frame, frame).set_index("feature")["kind"]
    assert kinds.to_dict() == {
        "number": "numeric",
        "code": "numeric",
        "text": "categorical",
        "label": "categorical",
        "flag": "categorical",
    }
    listed = detect_drift(frame, frame, categorical=["code"]).set_index("feature")
    assert listed.loc["code", "kind"] == "categorical"
    assert listed.loc["code", "test"] == "chisquare"


def test_reason_says_why_the_test_was_chosen() -> None:
    rng = np.random.default_rng(5)
    hours = pd.Series(rng.integers(0, 24, 1344))
    row = _one_column(hours, hours)
    assert (
        row["reason"]
        == "numeric, 24 unique values, 1344 reference rows > 1000: normalised Wasserstein distance"
    )
    seasons = pd.Series(rng.choice(SEASONS, 800))
    assert _one_column(seasons, seasons)["reason"] == (
        "categorical, 4 categories, 800 reference rows ≤ 1000: chi-square test"
    )


# --- statistics equal scipy's own -------------------------------------------------------------


@pytest.mark.parametrize("n_ref, n_cur", [(300, 120), (999, 999), (40, 7)])
def test_ks_equals_scipy(n_ref: int, n_cur: int) -> None:
    rng = np.random.default_rng(n_ref)
    reference, current = rng.normal(0, 1, n_ref), rng.normal(0.2, 1.3, n_cur)
    row = _one_column(pd.Series(reference), pd.Series(current))
    expected = stats.ks_2samp(reference, current)
    assert row["test"] == "ks"
    assert row["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)


def _random_pairs(rng: np.random.Generator):
    for trial in range(300):
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        if trial % 5 == 0:
            m = n * int(rng.integers(1, 4))  # shared breakpoints
        if trial % 2:  # ties within and across samples
            yield rng.integers(0, 6, n).astype(float), rng.integers(0, 8, m).astype(float)
        else:
            yield rng.normal(size=n) * 3, rng.normal(0.5, 1, size=m)
    yield rng.normal(size=10_000), rng.normal(0.3, 1, size=168)
    yield rng.integers(0, 24, 12_000).astype(float), rng.integers(2, 30, 9_000).astype(float)
    yield rng.lognormal(size=20_000), rng.lognormal(0.1, 1, size=20_000)


def test_wasserstein_equals_scipy_divided_by_the_reference_std() -> None:
    rng = np.random.default_rng(11)
    for reference, current in _random_pairs(rng):
        result = STAT_TESTS["wasserstein"](reference, current)
        expected = stats.wasserstein_distance(reference, current) / max(np.std(reference), 0.001)
        assert result.statistic == pytest.approx(expected, rel=1e-9, abs=1e-12), (reference, current)
        assert result.p_value is None


def test_wasserstein_of_a_constant_reference_uses_the_std_floor() -> None:
    result = STAT_TESTS["wasserstein"]([2.0] * 10, [2.0] * 9 + [3.0])
    assert result.statistic == pytest.approx(0.1 / 0.001)
    assert result.drifted


def _frequencies(reference: list[str], current: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts and proportions over the union of categories, built the way Evidently builds them."""
    keys = sorted(set(reference) | set(current))
    ref_counts = np.array([reference.count(k) for k in keys], dtype=float)
    cur_counts = np.array([current.count(k) for k in keys], dtype=float)
    return ref_counts, cur_counts, np.array(keys)


def test_jensenshannon_equals_scipy_over_the_union_of_categories() -> None:
    rng = np.random.default_rng(12)
    reference = rng.choice(SEASONS, 3000, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    current = rng.choice([*SEASONS, "monsoon"], 500, p=[0.1, 0.2, 0.3, 0.3, 0.1]).tolist()
    ref_counts, cur_counts, _ = _frequencies(reference, current)
    expected = distance.jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
    row = _one_column(pd.Series(reference), pd.Series(current))
    assert row["test"] == "jensenshannon"
    assert row["statistic"] == pytest.approx(expected, rel=1e-12)
    assert "monsoon" in row["reason"]


def test_chisquare_equals_scipy_with_expected_counts_from_reference_proportions() -> None:
    rng = np.random.default_rng(13)
    reference = rng.choice(SEASONS, 700, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    current = rng.choice(SEASONS, 150, p=[0.3, 0.3, 0.2, 0.2]).tolist()
    ref_counts, cur_counts, _ = _frequencies(reference, current)
    expected = stats.chisquare(cur_counts, ref_counts * len(current) / len(reference))
    row = _one_column(pd.Series(reference), pd.Series(current))
    assert row["test"] == "chisquare"
    assert row["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)


def test_chisquare_treats_a_category_unseen_in_the_reference_as_drift() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 50)
    current = pd.Series(["a"] * 49 + ["b"] * 50 + ["c"])
    row = _one_column(reference, current)
    assert row["test"] == "chisquare"
    assert (row["statistic"], row["p_value"], bool(row["drifted"])) == (math.inf, 0.0, True)
    assert "1 value(s) not seen in the reference: 'c'" in row["reason"]


def test_chisquare_on_a_single_category_finds_no_drift() -> None:
    row = _one_column(pd.Series(["a"] * 30), pd.Series(["a"] * 10))
    assert (row["statistic"], row["p_value"], bool(row["drifted"])) == (0.0, 1.0, False)


def test_few_valued_numeric_column_counts_values_as_categories() -> None:
    reference = pd.Series([1.0, 2.0, 2.0, 3.0, 3.0, 3.0] * 100)
    current = pd.Series([1.0, 2.0, 3.0, 3.0, 7.0] * 20)
    row = _one_column(reference, current, test_overrides={"x": "jensenshannon"})
    p = np.array([100, 200, 300, 0]) / 600
    q = np.array([20, 20, 40, 20]) / 100
    assert row["statistic"] == pytest.approx(distance.jensenshannon(p, q), rel=1e-12)
    assert "7.0" in row["reason"]


# --- PSI ---------------------------------------------------------------------------------------


def test_psi_on_categories_by_hand() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    current = pd.Series(["a"] * 40 + ["b"] * 40 + ["c"] * 20)
    # (0.4 - 0.5) ln(0.4 / 0.5) + (0.4 - 0.3) ln(0.4 / 0.3) + 0 = 0.0223144 + 0.0287682
    assert _one_column(reference, current)["psi"] == pytest.approx(0.0510825624, abs=1e-9)


def test_psi_puts_epsilon_in_empty_bins() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 50)
    current = pd.Series(["a"] * 100)
    # (1 - 0.5) ln(1 / 0.5) + (0.0001 - 0.5) ln(0.0001 / 0.5) = 0.3465736 + 4.2577449
    assert _one_column(reference, current)["psi"] == pytest.approx(4.6043185, abs=1e-6)


def test_psi_on_numbers_uses_reference_deciles() -> None:
    reference = pd.Series(np.arange(100.0))  # deciles 9.9, 19.8, ..., 89.1: ten bins of 10 values
    current = pd.Series(np.tile(np.arange(50.0), 2))  # 20 % in each of the lower five, none above
    expected = 5 * (0.2 - 0.1) * math.log(0.2 / 0.1) + 5 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    row = _one_column(reference, current)
    assert row["psi"] == pytest.approx(expected, rel=1e-12)
    assert row["psi_band"] == "significant"
    assert STAT_TESTS["psi"](reference, current).statistic == pytest.approx(expected, rel=1e-12)


def test_psi_of_identical_samples_is_zero() -> None:
    values = pd.Series(np.random.default_rng(14).normal(size=2000))
    assert _one_column(values, values)["psi"] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    ("psi", "band"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.1, "moderate"),
        (0.2499, "moderate"),
        (0.25, "significant"),
        (3, "significant"),
    ],
)
def test_psi_bands(psi: float, band: str) -> None:
    assert psi_band(psi) == band


# --- the cached reference ---------------------------------------------------------------------


def _mixed_frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "temp": rng.normal(15 + shift, 8, n),
            "hour": rng.integers(0, 24, n),
            "few": rng.integers(0, 3, n).astype(float),
            "season": rng.choice(SEASONS, n),
            "weather": pd.Categorical(rng.choice(["clear", "mist", "rain"], n)),
            "holiday": rng.random(n) < 0.05 + shift / 10,
        }
    )
    frame.loc[frame.index[::17], "temp"] = np.nan
    frame.loc[frame.index[::23], "season"] = None
    return frame


@pytest.mark.parametrize("n_ref", [800, 10_000])
def test_profile_compare_equals_detect_drift_and_survives_pickling(n_ref: int) -> None:
    rng = np.random.default_rng(21)
    reference = _mixed_frame(rng, n_ref, 0.0)
    profile = ReferenceProfile.from_frame(reference, categorical=["few"])
    restored = pickle.loads(pickle.dumps(profile))
    for shift in (0.0, 1.5):
        batch = _mixed_frame(rng, 168, shift)
        expected = detect_drift(reference, batch, categorical=["few"])
        pd.testing.assert_frame_equal(profile.compare(batch), expected, check_exact=True)
        pd.testing.assert_frame_equal(restored.compare(batch), expected, check_exact=True)


def test_threads_give_the_same_table() -> None:
    rng = np.random.default_rng(22)
    reference, current = _mixed_frame(rng, 3000, 0.0), _mixed_frame(rng, 3000, 1.0)
    pd.testing.assert_frame_equal(
        detect_drift(reference, current, workers=1),
        detect_drift(reference, current, workers=2),
        check_exact=True,
    )


def test_compare_threshold_what_if_changes_only_the_verdict() -> None:
    rng = np.random.default_rng(23)
    reference = pd.DataFrame({"x": rng.normal(size=5000)})
    current = pd.DataFrame({"x": rng.normal(0.15, 1, size=500)})
    profile = ReferenceProfile.from_frame(reference)
    default = profile.compare(current).iloc[0]
    strict = profile.compare(current, threshold_overrides={"x": 0.5}).iloc[0]
    assert default["drifted"] and not strict["drifted"]
    assert strict["statistic"] == default["statistic"]
    assert profile.compare(current).iloc[0]["threshold"] == 0.1  # the profile itself is unchanged


def test_overrides_choose_the_test_and_threshold() -> None:
    rng = np.random.default_rng(24)
    reference = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)})
    current = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    result = detect_drift(
        reference, current, test_overrides={"x": "ks", "y": "psi"}, threshold_overrides={"x": 0.01}
    ).set_index("feature")
    assert result.loc["x", "test"] == "ks"
    assert result.loc["x", "threshold"] == 0.01
    assert "chosen by override" in result.loc["x", "reason"]
    assert result.loc["y", "test"] == "psi"
    assert result.loc["y", "statistic"] == result.loc["y", "psi"]


def test_a_test_called_directly_returns_a_test_result() -> None:
    result = STAT_TESTS["ks"](np.arange(100.0), np.arange(100.0) + 50)
    expected = stats.ks_2samp(np.arange(100.0), np.arange(100.0) + 50)
    assert result == TestResult(float(expected.statistic), 0.05, True, float(expected.pvalue))
    assert STAT_TESTS["chisquare"](["a", "b"] * 10, ["a", "b"] * 5, threshold=0.2).threshold == 0.2


# --- dataset drift ------------------------------------------------------------------------------


def test_dataset_drifts_at_exactly_half() -> None:
    half = pd.DataFrame({"drifted": [True, False, True, False]})
    assert dataset_drift(half) == (True, 0.5)
    assert dataset_drift(pd.DataFrame({"drifted": [True, False, False, False]})) == (False, 0.25)
    assert dataset_drift(half, share=0.75) == (False, 0.5)


@pytest.mark.parametrize("share", [0, 1.5, True, "half"])
def test_dataset_drift_rejects_a_bad_share(share: object) -> None:
    with pytest.raises(ValueError, match="share"):
        dataset_drift(pd.DataFrame({"drifted": [True]}), share=share)


def test_dataset_drift_rejects_an_empty_table() -> None:
    with pytest.raises(ValueError, match="at least one feature"):
        dataset_drift(pd.DataFrame({"drifted": pd.Series([], dtype=bool)}))


# --- argument validation --------------------------------------------------------------------


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(31)
    reference = pd.DataFrame({"temp": rng.normal(size=200), "season": rng.choice(SEASONS, 200)})
    current = pd.DataFrame({"temp": rng.normal(size=50), "season": rng.choice(SEASONS, 50)})
    return reference, current


def test_unknown_test_name_names_the_test_and_the_column(frames) -> None:
    with pytest.raises(
        ValueError, match=r"unknown drift test 'kss' for column 'temp'; known tests: chisquare"
    ):
        detect_drift(*frames, test_overrides={"temp": "kss"})


def test_test_for_the_wrong_kind_is_refused(frames) -> None:
    with pytest.raises(ValueError, match=r"test 'ks' cannot be used on categorical column 'season'"):
        detect_drift(*frames, test_overrides={"season": "ks"})


@pytest.mark.parametrize(
    ("column", "threshold"), [("temp", 1.5), ("temp", 0), ("season", -0.1), ("temp", "low")]
)
def test_threshold_out_of_range_names_the_column(frames, column: str, threshold: object) -> None:
    with pytest.raises(ValueError, match=rf"threshold for column '{column}' \(test '\w+'\)"):
        detect_drift(*frames, threshold_overrides={column: threshold})


def test_column_missing_in_current_is_named(frames) -> None:
    reference, current = frames
    with pytest.raises(ValueError, match=r"current data has no column\(s\) 'season'"):
        detect_drift(reference, current.drop(columns="season"))
    with pytest.raises(ValueError, match=r"current data has no column\(s\) 'season'"):
        ReferenceProfile.from_frame(reference).compare(current.drop(columns="season"))


def test_unknown_column_names_are_named(frames) -> None:
    with pytest.raises(ValueError, match=r"reference data has no column\(s\) 'humidity'"):
        ReferenceProfile.from_frame(frames[0], columns=["temp", "humidity"])
    with pytest.raises(ValueError, match=r"categorical names column\(s\) not being tested: 'wether'"):
        detect_drift(*frames, categorical=["wether"])
    with pytest.raises(ValueError, match=r"threshold_overrides name column\(s\) not being tested: 'x'"):
        detect_drift(*frames, threshold_overrides={"x": 0.1})


def test_empty_current_column_is_named(frames) -> None:
    reference, current = frames
    with pytest.raises(ValueError, match=r"current column 'temp' has no values: all 50 rows are missing"):
        detect_drift(reference, current.assign(temp=np.nan))
    with pytest.raises(ValueError, match=r"reference column 'season' has no values"):
        detect_drift(reference.assign(season=None), current)


def test_non_numeric_current_for_a_numeric_column_is_named(frames) -> None:
    reference, current = frames
    with pytest.raises(ValueError, match=r"current column 'temp' must be numeric"):
        detect_drift(reference, current.assign(temp="warm"))


def test_datetime_column_must_be_left_out_or_listed_as_categorical(frames) -> None:
    reference, current = frames
    stamps = pd.date_range("2024-01-01", periods=len(reference), freq="h")
    with pytest.raises(ValueError, match=r"column 'when' holds datetime64"):
        detect_drift(reference.assign(when=stamps), current.assign(when=stamps[: len(current)]))


def test_non_frames_are_refused() -> None:
    with pytest.raises(TypeError, match="reference must be a pandas DataFrame"):
        detect_drift([1, 2, 3], pd.DataFrame({"x": [1]}))


# --- why distances above 1000 rows ------------------------------------------------------------


def test_sample_size_demo_p_value_falls_while_distance_stays_small() -> None:
    demo = sample_size_demo(shift=0.05, sizes=[200, 2_000, 20_000, 200_000], seed=3)
    assert list(demo.columns) == ["n", "ks_p_value", "wasserstein_norm"]
    assert demo["n"].tolist() == [200, 2_000, 20_000, 200_000]
    assert demo["ks_p_value"].iloc[0] > 0.05
    assert demo["ks_p_value"].iloc[-1] < 1e-6
    assert (demo.loc[demo["n"] >= 2_000, "wasserstein_norm"] < 0.1).all()
    pd.testing.assert_frame_equal(
        demo, sample_size_demo(shift=0.05, sizes=[200, 2_000, 20_000, 200_000], seed=3)
    )


@pytest.mark.parametrize("sizes", [[], [1], [10.5]])
def test_sample_size_demo_validates_sizes(sizes: list) -> None:
    with pytest.raises(ValueError, match="sizes"):
        sample_size_demo(sizes=sizes)


def test_public_api_is_exported() -> None:
    assert sorted(drift.__all__) == sorted(set(drift.__all__))
    for name in drift.__all__:
        assert hasattr(drift, name), name
    assert set(STAT_TESTS) == {"ks", "chisquare", "wasserstein", "jensenshannon", "psi"}


def test_a_column_name_used_twice_is_refused(frames) -> None:
    reference, current = frames
    doubled = pd.concat([reference, reference[["temp"]]], axis=1)
    with pytest.raises(ValueError, match=r"reference data has more than one column called 'temp'"):
        detect_drift(doubled, current)


def test_column_names_need_not_be_strings() -> None:
    rng = np.random.default_rng(41)
    reference, current = pd.DataFrame(rng.normal(size=(300, 2))), pd.DataFrame(rng.normal(size=(100, 2)))
    assert detect_drift(reference, current)["feature"].tolist() == [0, 1]


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(51).integers(-300, 300, 10_000).astype(float),
        np.concatenate([np.zeros(5000), -np.zeros(5000), np.ones(10)]),
        np.random.default_rng(52).integers(0, 5, 10_000) + 2.0**60,
        np.random.default_rng(53).integers(0, 1 << 20, 10_000).astype(float),
        np.random.default_rng(54).integers(0, 24, 10_000) + np.r_[np.zeros(9_999), 0.5],
        np.random.default_rng(55).normal(size=10_000),
    ],
    ids=["integers", "signed zeros", "huge", "wide range", "one fraction", "continuous"],
)
def test_sorting_by_counting_gives_what_np_sort_gives(values: np.ndarray) -> None:
    np.testing.assert_array_equal(drift._sorted(values), np.sort(values))


# --- calibrated thresholds -----------------------------------------------------------------------


def _wandering(rng: np.random.Generator, weeks: int, week_rows: int = 168) -> pd.DataFrame:
    """Columns whose level wanders from week to week (an AR(1) weather-like series) and a category."""
    level = np.zeros(weeks)
    for week in range(1, weeks):
        level[week] = 0.8 * level[week - 1] + rng.normal(0, 0.6)
    x = np.repeat(level, week_rows) + rng.normal(0, 1, weeks * week_rows)
    category = np.where(rng.random(weeks * week_rows) < 0.7, "clear", "mist")
    return pd.DataFrame({"x": x, "sky": category, "week": np.repeat(np.arange(weeks), week_rows)})


def test_calibrated_thresholds_learn_the_week_to_week_wobble_the_fixed_rule_calls_drift() -> None:
    rng = np.random.default_rng(3)
    world = _wandering(rng, 48)
    reference, later = world.loc[world["week"] < 8], world.loc[world["week"] >= 8]
    fixed = ReferenceProfile.from_frame(reference, columns=["x", "sky"])
    calibrated = ReferenceProfile.from_frame(reference, columns=["x", "sky"], chunks=reference["week"])
    assert (fixed.method, calibrated.method) == ("evidently", "calibrated")
    column = calibrated.columns["x"]
    assert column.test == "wasserstein" and column.calibration is not None
    assert column.calibration.chunks == 8 and column.calibration.k == 3.0
    assert column.threshold == pytest.approx(column.calibration.mean + 3 * column.calibration.std)
    assert "calibrated" in column.reason and f"{column.threshold:.3g}" in column.reason
    # The same world, week after week: the fixed 0.1 fires on the wobble, the learnt threshold rarely.
    weeks = [later.loc[later["week"] == w] for w in range(8, 48)]
    fixed_x = np.mean([fixed.compare(w).set_index("feature").loc["x", "drifted"] for w in weeks])
    calibrated_x = np.mean([calibrated.compare(w).set_index("feature").loc["x", "drifted"] for w in weeks])
    assert fixed_x > 0.5 and calibrated_x < 0.2
    # A real move, four of the reference's standard deviations (1.24), is flagged at once.
    moved = weeks[0].assign(x=weeks[0]["x"] + 5.0)
    row = calibrated.compare(moved).set_index("feature").loc["x"]
    assert row["drifted"] and row["threshold"] == column.threshold
    # A fixed threshold for a what-if replaces the learnt one, and the reason says so.
    what_if = calibrated.compare(weeks[1], threshold_overrides={"x": 0.1}).set_index("feature").loc["x"]
    assert what_if["threshold"] == 0.1 and what_if["reason"].endswith("fixed threshold of 0.1 instead")
    assert what_if["drifted"] == (what_if["statistic"] >= 0.1)


def test_calibration_is_leave_one_chunk_out_and_pickles() -> None:
    rng = np.random.default_rng(5)
    reference = _wandering(rng, 6)
    profile = ReferenceProfile.from_frame(reference, columns=["x"], chunks=reference["week"])
    by_hand = []
    for week in range(6):
        rest, chunk = (
            reference.loc[reference["week"] != week, "x"],
            reference.loc[reference["week"] == week, "x"],
        )
        by_hand.append(stats.wasserstein_distance(rest, chunk) / np.std(rest))
    calibration = profile.columns["x"].calibration
    assert calibration.mean == pytest.approx(np.mean(by_hand))
    assert calibration.std == pytest.approx(np.std(by_hand, ddof=1))
    again = pickle.loads(pickle.dumps(profile))
    assert again.columns["x"].calibration == calibration and again.method == "calibrated"


def test_calibration_needs_enough_chunks_and_a_positive_k() -> None:
    rng = np.random.default_rng(1)
    reference = _wandering(rng, 3)
    profile = ReferenceProfile.from_frame(reference, columns=["x"], chunks=reference["week"])
    assert profile.method == "evidently" and profile.columns["x"].threshold == 0.1
    assert "too few" in profile.columns["x"].reason
    with pytest.raises(ValueError, match="k"):
        ReferenceProfile.from_frame(reference, columns=["x"], chunks=reference["week"], k=0)
    with pytest.raises(ValueError, match="one label per reference row"):
        ReferenceProfile.from_frame(reference, columns=["x"], chunks=[1, 2, 3])
    # A column overridden by hand keeps the fixed rule; the others calibrate.
    reference = _wandering(rng, 8)
    mixed = ReferenceProfile.from_frame(
        reference, columns=["x", "sky"], chunks=reference["week"], threshold_overrides={"sky": 0.2}
    )
    assert mixed.columns["sky"].calibration is None and mixed.columns["sky"].threshold == 0.2
    assert mixed.columns["x"].calibration is not None


def test_value_counts_of_a_small_numeric_column_match_factorize_order_and_counts() -> None:
    # Weekly batches of number-coded categories take an np.unique path; it must list the same
    # values in the same (first-seen) order with the same counts as the pd.factorize path.
    rng = np.random.default_rng(5)
    columns = [
        pd.Series(rng.integers(1, 5, 168)),
        pd.Series(np.where(rng.random(168) < 0.1, np.nan, rng.integers(0, 3, 168).astype(float))),
        pd.Series(rng.random(168) < 0.3),
    ]
    for series in columns:
        keys, counts = drift._value_counts(series)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        assert keys.tolist() == uniques.tolist()
        assert [type(key) for key in keys] == [type(key) for key in uniques.tolist()]
        assert counts.tolist() == np.bincount(codes[codes >= 0]).tolist()
