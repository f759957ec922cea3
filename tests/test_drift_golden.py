"""Seeded golden tests: the simulator's injections against the drift rule.

Each injected world is compared with its injection-free twin (same seed, so the same weather
and the same rows before the onset): the rule must flag what the injection moved, and nothing
it did not. The numbers are pinned: a change to the simulator or the rule shows up here.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.drift import detect_drift
from pipelines.mlops.simulator import DriftInjection, SimulatorSettings, simulate

BASE = {"weeks": 40, "seed": 11}
COLUMNS = ["temp", "atemp", "hum", "windspeed", "weathersit", "cnt"]


def _weeks(frame: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    start = pd.Timestamp("2011-01-01")
    t = frame["timestamp"]
    return frame.loc[(t >= start + pd.Timedelta(weeks=first)) & (t < start + pd.Timedelta(weeks=last))]


@pytest.fixture(scope="module")
def twin() -> pd.DataFrame:
    return simulate(SimulatorSettings(**BASE))


CASES = [
    # injection, features flagged after the onset, pinned statistics (normalised Wasserstein / JS)
    (
        DriftInjection("covariate", "sudden", onset_week=20, magnitude=1.0, feature="temp"),
        {"temp", "atemp"},
        {"temp": 2.3141, "atemp": 2.161, "hum": 0.0, "cnt": 0.0245},
    ),
    (
        DriftInjection("covariate", "sudden", onset_week=20, magnitude=1.0, feature="hum"),
        {"hum", "cnt"},
        {"hum": 0.9563, "temp": 0.0, "cnt": 0.1068},
    ),
    # prior drift: the inputs are untouched, only the target's level moves
    (DriftInjection("prior", "sudden", onset_week=20, magnitude=0.5), {"cnt"}, {"cnt": 0.599, "temp": 0.0}),
    # concept drift: commuting peaks move, yet neither the inputs nor the target's distribution
    # moves enough to flag; only the model's errors show it (see the sudden-shock preset)
    (DriftInjection("concept", "sudden", onset_week=20, magnitude=1.0, feature="hr"), set(), {"cnt": 0.0203}),
]


@pytest.mark.parametrize(("injection", "flagged", "statistics"), CASES, ids=lambda v: getattr(v, "type", ""))
def test_injections_are_flagged_where_they_act_and_nowhere_else(twin, injection, flagged, statistics) -> None:
    world = simulate(SimulatorSettings(**BASE, injections=(injection,)))
    before = detect_drift(
        _weeks(twin, 12, 20), _weeks(world, 12, 20), columns=COLUMNS, categorical=["weathersit"]
    )
    assert not before["drifted"].any()  # nothing moves before the onset
    after = detect_drift(
        _weeks(twin, 24, 32), _weeks(world, 24, 32), columns=COLUMNS, categorical=["weathersit"]
    )
    assert set(after.loc[after["drifted"], "feature"]) == flagged
    measured = dict(zip(after["feature"], after["statistic"], strict=True))
    for feature, value in statistics.items():
        assert measured[feature] == pytest.approx(value, abs=5e-4), feature
    assert set(after["test"]) == {"wasserstein", "jensenshannon"}  # > 1000 reference rows: distances


def test_the_same_world_never_drifts_from_itself(twin) -> None:
    again = simulate(SimulatorSettings(**BASE))
    result = detect_drift(
        _weeks(twin, 24, 32), _weeks(again, 24, 32), columns=COLUMNS, categorical=["weathersit"]
    )
    assert not result["drifted"].any() and (result["statistic"] == 0).all()
