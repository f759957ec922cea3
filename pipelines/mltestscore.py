"""The ML Test Score: a self-assessment of production readiness, filled in from a workspace's history.

Breck, Cai, Nielsen, Salib and Sculley (2017), "The ML Test Score: A Rubric for ML Production
Readiness and Technical Debt Reduction", IEEE Big Data. 28 tests in four sections (data, model,
infrastructure, monitoring). Each test scores 0 when not done, 0.5 when done by hand with the
results written down and shared, and 1 when automated and run repeatedly. A section's score is the
sum of its tests; the final score is the **minimum** of the four sections, since a system is only
as ready as its weakest area.

A test that the workspace's own history can answer (OpsLab's pipelines really validate data, run
the service's tests, gate models, roll back, monitor drift and quality) is filled in from that
history and marked so, with the evidence in words; the others are the learner's own answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BANDS",
    "SCORES",
    "SECTIONS",
    "SOURCE",
    "TESTS",
    "Answer",
    "MLTest",
    "ScoreCard",
    "answers_from_history",
    "band_of",
    "score",
]

SOURCE = (
    "Breck et al. (2017), “The ML Test Score: A Rubric for ML Production Readiness and Technical Debt "
    "Reduction”, IEEE International Conference on Big Data"
)
SECTIONS = ("Data", "Model", "Infrastructure", "Monitoring")
SCORES = {0.0: "not done", 0.5: "done by hand", 1.0: "automated"}
# The paper's reading of the final score (its Table V).
BANDS = (
    (0.0, "More of a research project than a productionized system."),
    (
        1.0,
        "Not totally untested, but it is worth considering the possibility of serious holes in reliability.",
    ),
    (2.0, "There's been first pass at basic productionization, but additional investment may be needed."),
    (3.0, "Reasonably tested, but it's possible that more of those tests and procedures may be automated."),
    (5.0, "Strong levels of automated testing and monitoring, appropriate for mission-critical systems."),
    (float("inf"), "Exceptional levels of automated testing and monitoring."),
)

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Answer:
    score: float  # 0, 0.5 or 1
    evidence: str  # what in the workspace's history says so


@dataclass(frozen=True)
class MLTest:
    id: str
    section: str
    text: str
    evidence: Callable[[Facts], Answer | None] | None = None  # None: only the learner can answer


def _n(facts: Facts, key: str) -> int:
    return int(facts.get(key) or 0)


def _ran(
    count_key: str, caught_key: str | None, what: str, caught: str = ""
) -> Callable[[Facts], Answer | None]:
    """Automated when the pipelines ran the check in this workspace; not done when they never did."""

    def answer(facts: Facts) -> Answer | None:
        count = _n(facts, count_key)
        if count == 0:
            return Answer(0.0, f"No {what} in this workspace's history yet.")
        said = f"In this workspace: {count} {what}"
        if caught_key is not None and _n(facts, caught_key):
            said += f", of which {_n(facts, caught_key)} {caught}"
        return Answer(1.0, said + ".")

    return answer


def _rollback(facts: Facts) -> Answer | None:
    models, releases = _n(facts, "model_rollbacks"), _n(facts, "release_rollbacks")
    if models or releases:
        return Answer(
            1.0, f"{models} model and {releases} release rollback(s), done by the pipelines on an alarm."
        )
    return None  # the ability is there, but this history never needed it: the learner answers


def _staleness(facts: Facts) -> Answer | None:
    weeks = _n(facts, "staleness_weeks")
    if weeks:
        return Answer(1.0, f"{weeks} weeks compare production with the never-retrained first model.")
    return Answer(0.0, "No labelled week yet, so staleness has not been measured.")


def _not_stale(facts: Facts) -> Answer | None:
    policy, retrains = facts.get("policy"), _n(facts, "retrains")
    if policy in (None, "never"):
        return Answer(0.0, f"Retraining policy is {policy or 'not set'}: models age without a check.")
    return Answer(1.0, f"Retraining policy {policy} retrained {retrains} time(s) in this workspace.")


def _latency(facts: Facts) -> Answer | None:
    weeks = _n(facts, "latency_weeks")
    if not weeks:
        return Answer(0.0, "No served week yet.")
    return Answer(1.0, f"p95 latency and error rate watched in {weeks} weeks, with alarms that open incidents "
                       f"({_n(facts, 'service_incidents')} so far).")  # fmt: skip


def _quality(facts: Facts) -> Answer | None:
    weeks = _n(facts, "labelled_weeks")
    if not weeks:
        return Answer(0.0, "No labels have arrived yet.")
    return Answer(1.0, f"Realized quality checked in {weeks} labelled weeks ({_n(facts, 'model_incidents')} "
                       "model incident(s) opened on it).")  # fmt: skip


TESTS: tuple[MLTest, ...] = (
    # Data
    MLTest("data-1", "Data", "Feature expectations are captured in a schema.",
           _ran("validate_steps", "validate_failed", "data validations (schema and ranges)", "stopped bad data")),
    MLTest("data-2", "Data", "All features are beneficial."),
    MLTest("data-3", "Data", "No feature's cost is too much."),
    MLTest("data-4", "Data", "Features adhere to meta-level requirements."),
    MLTest("data-5", "Data", "The data pipeline has appropriate privacy controls."),
    MLTest("data-6", "Data", "New features can be added quickly."),
    MLTest("data-7", "Data", "All input feature code is tested.",
           _ran("test_steps", "test_failed", "test-suite runs of the service's feature code", "caught a bug")),
    # Model
    MLTest("model-1", "Model", "Model specs are reviewed and submitted."),
    MLTest("model-2", "Model", "Offline and online metrics correlate."),
    MLTest("model-3", "Model", "All hyperparameters have been tuned."),
    MLTest("model-4", "Model", "The impact of model staleness is known.", _staleness),
    MLTest("model-5", "Model", "A simpler model is not better."),
    MLTest("model-6", "Model", "Model quality is sufficient on important data slices."),
    MLTest("model-7", "Model", "The model is tested for considerations of inclusion."),
    # Infrastructure
    MLTest("infra-1", "Infrastructure", "Training is reproducible."),
    MLTest("infra-2", "Infrastructure", "Model specs are unit tested."),
    MLTest("infra-3", "Infrastructure", "The ML pipeline is integration tested.",
           _ran("deploy_steps", None, "deploys that smoke-tested the running service with its model")),
    MLTest("infra-4", "Infrastructure", "Model quality is validated before serving.",
           _ran("evaluate_steps", "gate_kept", "challenger evaluations against the champion",
                "kept the champion")),
    MLTest("infra-5", "Infrastructure", "The model is debuggable."),
    MLTest("infra-6", "Infrastructure", "Models are canaried before serving."),
    MLTest("infra-7", "Infrastructure", "Serving models can be rolled back.", _rollback),
    # Monitoring
    MLTest("mon-1", "Monitoring", "Dependency changes result in notification."),
    MLTest("mon-2", "Monitoring", "Data invariants hold for inputs.",
           _ran("validate_steps", "validate_failed", "validations of incoming batches", "failed")),
    MLTest("mon-3", "Monitoring", "Training and serving are not skewed.",
           _ran("drift_weeks", None, "weeks whose served inputs were compared with the training data")),
    MLTest("mon-4", "Monitoring", "Models are not too stale.", _not_stale),
    MLTest("mon-5", "Monitoring", "Models are numerically stable."),
    MLTest("mon-6", "Monitoring", "Computing performance has not regressed.", _latency),
    MLTest("mon-7", "Monitoring", "Prediction quality has not regressed.", _quality),
)  # fmt: skip


def answers_from_history(facts: Facts) -> dict[str, Answer]:
    """The tests the workspace's history answers, by id (the others are left to the learner)."""
    found = {}
    for test in TESTS:
        if test.evidence is not None and (answer := test.evidence(facts)) is not None:
            found[test.id] = answer
    return found


def band_of(final: float) -> str:
    for upper, meaning in BANDS:
        if final <= upper:
            return meaning
    return BANDS[-1][1]


@dataclass(frozen=True)
class ScoreCard:
    sections: dict[str, float]
    final: float
    weakest: str
    meaning: str


def score(answers: Mapping[str, float]) -> ScoreCard:
    """Section sums and the final score (their minimum) for test id -> 0 / 0.5 / 1."""
    unknown = set(answers) - {t.id for t in TESTS}
    if unknown:
        raise ValueError(f"unknown ML Test Score test(s): {', '.join(sorted(unknown))}")
    bad = {k: v for k, v in answers.items() if v not in SCORES}
    if bad:
        raise ValueError(f"each test scores 0, 0.5 or 1, not {bad}")
    sections = {s: sum(answers.get(t.id, 0.0) for t in TESTS if t.section == s) for s in SECTIONS}
    weakest = min(SECTIONS, key=lambda s: sections[s])
    final = sections[weakest]
    return ScoreCard(sections, final, weakest, band_of(final))
