"""Scenario settings: frozen data. A preset is a value of `ScenarioSettings`, not a code path.

A user copies a preset and changes knobs with `dataclasses.replace` (the CLI's `--set` does this
for them); `settings_hash` identifies the exact settings a history was made with.

A scenario has one seed. The simulator's and the model's seeds are derived from it at play time
(`component_seeds`), so the settings never hold a second seed that could contradict the first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.devops.pipeline import DevOpsSettings
from pipelines.drift import DRIFT_METHODS
from pipelines.mlops.pipeline import MLOpsSettings
from pipelines.mlops.policy import RetrainPolicy
from pipelines.mlops.simulator import DriftInjection, SimulatorSettings, UpstreamChange

__all__ = [
    "CALENDAR_COLUMNS",
    "ChangeAt",
    "ComponentSeeds",
    "Expectation",
    "ScenarioSettings",
    "component_seeds",
    "settings_dict",
    "settings_hash",
]

# Calendar columns are functions of the date: against a fixed window they always "drift", so they
# are recorded in the drift table but left out of the dataset-drift share.
CALENDAR_COLUMNS = frozenset({"season", "yr", "mnth", "hr", "holiday", "weekday", "workingday"})

# The sub-settings' own seeds (used when the simulator or a pipeline runs alone) stay at their
# defaults inside a scenario and are left out of its recorded settings.
_SEEDED = {"simulator": SimulatorSettings().seed, "mlops": MLOpsSettings().seed}


@dataclass(frozen=True)
class ComponentSeeds:
    """The seeds of a scenario's random components."""

    simulator: int  # the simulated world (weather, demand, drift activations)
    model: int  # model training (random_state)


def component_seeds(seed: int) -> ComponentSeeds:
    """The components' seeds, derived from the scenario's one seed as independent streams.

    NumPy's `SeedSequence(seed).spawn` gives each component its own stream: changing the seed
    changes every component, and no two components draw the same numbers. Children are keyed by
    position, so a component added later (spawn one more) leaves the existing seeds unchanged.
    """
    simulator, model = (int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(2))
    return ComponentSeeds(simulator=simulator, model=model)


@dataclass(frozen=True)
class ChangeAt:
    """A scripted change committed in scenario week `week` on `weekday` (0 = Monday) at `hour`."""

    change: str
    week: int
    weekday: int = 1
    hour: int = 10

    def __post_init__(self) -> None:
        if self.week < 1 or not 0 <= self.weekday <= 6 or not 0 <= self.hour <= 23:
            raise ValueError(f"change {self.change!r}: week must be >= 1, weekday 0-6 and hour 0-23")


@dataclass(frozen=True)
class Expectation:
    """An outcome a preset promises, checked against the scenario's summary (see `summarize`)."""

    key: str
    op: str  # >=, <=, ==, >, <
    value: float
    says: str

    def holds(self, summary: dict[str, Any]) -> bool:
        actual = summary.get(self.key)
        if actual is None:
            return False
        return {
            ">=": actual >= self.value,
            "<=": actual <= self.value,
            "==": actual == self.value,
            ">": actual > self.value,
            "<": actual < self.value,
        }[self.op]


BUILT_IN_DATA = ("simulated", "bike-sharing")


@dataclass(frozen=True)
class ScenarioSettings:
    name: str
    narrative: str
    weeks: int = 96
    seed: int = 7
    data: str = "simulated"  # simulated | bike-sharing | a CSV/Parquet path
    time_column: str | None = None
    target: str | None = None
    task: str | None = None
    simulator: SimulatorSettings = field(default_factory=SimulatorSettings)
    changes: tuple[ChangeAt, ...] = ()
    review_hours: float = 20.0  # commit → ready for the next release train (devops.train_hours)
    mlops: MLOpsSettings = field(default_factory=MLOpsSettings)
    policy: RetrainPolicy = field(default_factory=RetrainPolicy)
    label_delay_weeks: int = 1
    # calibrated: each feature's threshold learnt from the weeks of its model's training window
    # (pipelines.drift); evidently: Evidently's fixed rule (0.05 p-value / 0.1 distance).
    drift_method: str = "calibrated"
    drift_k: float = 3.0  # calibrated: standard deviations above the reference weeks' mean
    # A fixed distance threshold for every feature in place of the method's own (Evidently's 0.1, or
    # the calibrated ones): a what-if knob.
    drift_threshold: float | None = None
    dataset_drift_share: float = 0.5
    model_rollback_margin: float = 0.1  # a new model worse than its predecessor by this is rolled back
    devops: DevOpsSettings = field(default_factory=DevOpsSettings)
    expectations: tuple[Expectation, ...] = ()
    fallback_note: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, not {self.seed!r}")
        for name, unset in _SEEDED.items():
            part = getattr(self, name)
            # A copy of the scenario's own seed (how older recordings and `--seed` wrote it) is
            # harmless; any other value would be a second seed that the play ignores.
            if part.seed not in (unset, self.seed):
                raise ValueError(
                    f"{name}.seed is derived from the scenario's seed: set seed, not {name}.seed={part.seed}"
                )
            if part.seed != unset:
                object.__setattr__(self, name, dataclasses.replace(part, seed=unset))
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("a scenario needs a name (name= was empty)")
        if self.weeks < 1:
            raise ValueError(f"a scenario needs at least 1 week, not {self.weeks}")
        if self.label_delay_weeks < 0:
            raise ValueError("label delay must be 0 or more weeks")
        if self.drift_threshold is not None and not 0 < self.drift_threshold < 10:
            raise ValueError(f"drift threshold must be positive, not {self.drift_threshold}")
        if self.drift_method not in DRIFT_METHODS:
            raise ValueError(
                f"drift method must be one of {', '.join(DRIFT_METHODS)}, not {self.drift_method!r}"
            )
        if (
            isinstance(self.drift_k, bool)
            or not isinstance(self.drift_k, int | float)
            or not 0 < self.drift_k <= 10
        ):
            raise ValueError(f"drift_k must be a number in (0, 10], not {self.drift_k!r}")
        if not 0 < self.dataset_drift_share <= 1:
            raise ValueError("dataset drift share must be in (0, 1]")
        if self.task not in (None, "regression", "classification"):
            raise ValueError(
                f"task must be regression or classification (or null to infer it), not {self.task!r}"
            )
        if not self.review_hours >= 0:
            raise ValueError(f"review hours must be 0 or more, not {self.review_hours}")
        if not self.model_rollback_margin >= 0:
            raise ValueError(f"model rollback margin must be 0 or more, not {self.model_rollback_margin}")
        if self.data in BUILT_IN_DATA and (self.time_column or self.target or self.task):
            chosen = ", ".join(k for k in ("time_column", "target", "task") if getattr(self, k))
            raise ValueError(
                f"{chosen} are for your own data file (data=PATH); the built-in {self.data!r} "
                "data has its own, so they would be ignored"
            )

    @property
    def seeds(self) -> ComponentSeeds:
        return component_seeds(self.seed)

    def played_simulator(self) -> SimulatorSettings:
        """The simulator's settings as the scenario plays them: seeded from the scenario's seed."""
        return dataclasses.replace(self.simulator, seed=self.seeds.simulator)

    def played_mlops(self) -> MLOpsSettings:
        """The training settings as the scenario plays them: seeded from the scenario's seed."""
        return dataclasses.replace(self.mlops, seed=self.seeds.model)

    @property
    def warmup_weeks(self) -> float:
        """Data before the clock starts: the first model's training window."""
        return self.mlops.window_weeks

    def with_weeks(self, weeks: int) -> ScenarioSettings:
        """The same story told in `weeks`: change weeks and drift onsets scaled, order kept."""
        if weeks == self.weeks:
            return self
        factor = weeks / self.weeks
        warm = int(self.warmup_weeks)

        def scale(week: int) -> int:
            return max(1, round(week * factor))

        def scale_sim(week: int) -> int:  # simulator weeks count the warm-up too
            return warm + max(0, round((week - warm) * factor))

        def scale_len(n: int | None) -> int | None:
            return None if n is None else max(1, round(n * factor))

        changes: list[ChangeAt] = []
        for c in self.changes:  # keep the order: each change strictly after the one before it
            moved = dataclasses.replace(c, week=min(scale(c.week), weeks))
            if changes:
                last = changes[-1]
                if (moved.week, moved.weekday, moved.hour) <= (last.week, last.weekday, last.hour):
                    if last.week < weeks:
                        moved = dataclasses.replace(moved, week=last.week + 1)
                    else:
                        moved = dataclasses.replace(moved, week=last.week, weekday=last.weekday,
                                                    hour=min(23, last.hour + 1))  # fmt: skip
            changes.append(moved)
        sim = dataclasses.replace(
            self.simulator,
            weeks=warm + weeks + 1,
            injections=tuple(
                dataclasses.replace(
                    i, onset_week=scale_sim(i.onset_week), duration_weeks=scale_len(i.duration_weeks)
                )
                for i in self.simulator.injections
            ),
            upstream_changes=tuple(
                dataclasses.replace(
                    u, onset_week=scale_sim(u.onset_week), duration_weeks=scale_len(u.duration_weeks)
                )
                for u in self.simulator.upstream_changes
            ),
        )
        return dataclasses.replace(self, weeks=weeks, changes=tuple(changes), simulator=sim)

    def with_release_every(self, every: int) -> ScenarioSettings:
        """The same changes shipped one every `every` weeks (on Tuesdays); those past the end are dropped."""
        if every < 1:
            raise ValueError(f"a release cadence needs at least 1 week, not {every}")
        changes = (
            dataclasses.replace(c, week=every * (i + 1), weekday=1) for i, c in enumerate(self.changes)
        )
        return dataclasses.replace(self, changes=tuple(c for c in changes if c.week <= self.weeks))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def settings_dict(settings: ScenarioSettings) -> dict[str, Any]:
    """The settings as plain data: what `scenario show` prints and a play records. One seed only."""
    data = _plain(settings)
    for name in _SEEDED:
        data[name].pop("seed")
    return data


def settings_hash(settings: ScenarioSettings) -> str:
    payload = {k: v for k, v in settings_dict(settings).items() if k not in ("narrative", "expectations")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def from_dict(data: dict[str, Any]) -> ScenarioSettings:
    """Rebuild settings from `settings_dict` output (a workspace's recorded settings)."""
    sim = dict(data.get("simulator") or {})
    sim.pop("seed", None)  # older recordings carry the sub-settings' seeds; the scenario's seed rules
    sim["injections"] = tuple(DriftInjection(**i) for i in sim.get("injections", ()))
    sim["upstream_changes"] = tuple(UpstreamChange(**u) for u in sim.get("upstream_changes", ()))
    mlops = dict(data.get("mlops") or {})
    mlops.pop("seed", None)
    from pipelines.mlops.training import ModelSettings

    mlops["model"] = ModelSettings(**mlops.get("model", {}))
    return ScenarioSettings(
        **{
            k: v
            for k, v in data.items()
            if k not in ("simulator", "changes", "mlops", "policy", "devops", "expectations")
        },
        simulator=SimulatorSettings(**sim),
        changes=tuple(ChangeAt(**c) for c in data.get("changes", ())),
        mlops=MLOpsSettings(**mlops),
        policy=RetrainPolicy(**(data.get("policy") or {})),
        devops=DevOpsSettings(**(data.get("devops") or {})),
        expectations=tuple(Expectation(**e) for e in data.get("expectations", ())),
    )
