"""The Learn page's text: the glossary and Google's MLOps maturity levels, as plain data.

No Streamlit here, so the content and the self-assessment rule are tested on their own. The
maturity levels follow Google Cloud's architecture article "MLOps: Continuous delivery and
automation pipelines in machine learning" (levels 0, 1 and 2), in our own words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "GLOSSARY",
    "LEVELS",
    "MATURITY_SOURCE",
    "PRACTICES",
    "Level",
    "MaturityVerdict",
    "Practice",
    "Term",
    "assess_maturity",
    "search_glossary",
]


@dataclass(frozen=True)
class Term:
    term: str
    lifecycle: str  # DevOps | MLOps | both
    meaning: str
    see: str = ""  # the OpsLab page where it shows


GLOSSARY: tuple[Term, ...] = (
    # -- shared --------------------------------------------------------------------------------
    Term("Scenario", "both", "A preset story (release cadence, scripted changes, data, drift, retraining policy, "
         "seed) played week by week. The same preset and seed give the same history.", "Control room"),
    Term("Scenario clock (sim time)", "both", "The simulated calendar both lifecycles share. Every time axis in "
         "OpsLab is on this clock, not on the wall clock.", "Timeline"),
    Term("Workspace", "both", "A named, separate run history inside the one DuckDB file, so several demos or "
         "workshop seats can share it.", "sidebar"),
    Term("Pipeline step", "both", "One stage of a pipeline run, such as build or train. Each step is recorded with "
         "its status, duration, metrics and the tail of its log.", "DevOps, MLOps"),
    Term("Artifact", "both", "A file a pipeline produces and keeps, identified by its sha256: the built service "
         "package or a trained model file.", "DevOps, MLOps"),
    Term("Cache hit", "both", "A step whose inputs were seen before (for build: the same source tree), so its "
         "earlier outputs are reused instead of recomputed. It is recorded with status cached.", "DevOps"),
    Term("Deployment", "both", "Putting a release or a model version into production. OpsLab records what went out, "
         "when, and what it replaced.", "Timeline"),
    Term("Rollback", "both", "Putting the previous release (or model) back into production after a bad one. It is "
         "an unplanned deployment, so it counts as rework.", "Timeline, DevOps"),
    Term("Incident", "both", "A stretch of time when production is broken, opened by an alarm (error rate, latency "
         "or model quality) and resolved by a rollback or a fix.", "Timeline"),
    # -- DevOps --------------------------------------------------------------------------------
    Term("Release", "DevOps", "A version of the service's code that passed the pipeline and reached production. "
         "OpsLab names it by its commit sha.", "DevOps"),
    Term("Continuous integration (CI)", "DevOps", "Every change is built and tested automatically as soon as it is "
         "committed, so a broken change is stopped before it ships.", "DevOps"),
    Term("Continuous delivery (CD)", "DevOps", "A change that passed CI is deployed by the pipeline itself, with "
         "a health check and a way back (rollback).", "DevOps"),
    Term("Escaped bug", "DevOps", "A bug the tests do not catch: the pipeline is green, and production finds it.",
         "Timeline"),
    Term("DORA", "DevOps", "DevOps Research and Assessment, the research programme behind the five keys that "
         "measure how fast and how safely a team delivers software.", "Overview, DevOps"),
    Term("Deployment frequency", "DevOps", "DORA key: how often a release reaches production (daily, weekly, "
         "monthly...).", "DevOps"),
    Term("Lead time for changes", "DevOps", "DORA key: the time from a commit to that change running in production "
         "(median over changes).", "DevOps"),
    Term("Change failure rate", "DevOps", "DORA key: the share of deployments that caused a failure in production, "
         "such as an incident that needed a rollback.", "DevOps"),
    Term("Failed deployment recovery time", "DevOps", "DORA key: how long it takes to restore service after a "
         "deployment fails in production.", "DevOps"),
    Term("Deployment rework rate", "DevOps", "DORA key: the share of deployments that were unplanned, made only to "
         "repair production (a rollback or a hotfix).", "DevOps"),
    # -- MLOps ---------------------------------------------------------------------------------
    Term("Model registry", "MLOps", "The list of trained model versions, each with its artifact, metrics, data "
         "window and aliases.", "MLOps"),
    Term("Champion / challenger", "MLOps", "Aliases in the registry: the champion serves production; a newly "
         "trained challenger must beat it before it takes its place.", "MLOps"),
    Term("Promotion gate", "MLOps", "The rule in the evaluate step: the challenger replaces the champion only if it "
         "is better on the same recent data by a margin.", "MLOps"),
    Term("Data validation", "MLOps", "Checks on data before training: schema, types, ranges, missing values, unseen "
         "categories. They are the data's unit tests.", "MLOps"),
    Term("Continuous training (CT)", "MLOps", "The training pipeline runs again in production on fresh data when a "
         "trigger fires, without a person starting it.", "Timeline"),
    Term("Retraining policy", "MLOps", "The rule that decides when to retrain: never, every k weeks, on drift, or "
         "when realized quality decays. The reason is recorded with each run.", "Control room, Timeline"),
    Term("Data drift", "MLOps", "Production data no longer looks like (or behaves like) the data the model learned "
         "from, so its predictions get worse although no code changed.", "Drift"),
    Term("Covariate drift", "MLOps", "The inputs' distribution changes (say, warmer weeks) while the relation from "
         "inputs to the target stays the same.", "Drift"),
    Term("Prior drift", "MLOps", "The target's own distribution changes (say, demand grows by 60 %), also called "
         "label shift.", "Drift"),
    Term("Concept drift", "MLOps", "The relation between inputs and target changes (say, commuting peaks move two "
         "hours later). The inputs can look exactly as before.", "Timeline"),
    Term("Drift patterns", "MLOps", "How a drift unfolds in time: sudden (overnight), gradual (the new world mixes in "
         "more and more), incremental (moves step by step) or recurring (comes and goes, like seasons).",
         "Control room"),
    Term("Dataset drift", "MLOps", "A week in which at least half of the monitored features drifted (calendar "
         "columns are left out of that share), or, with calibrated thresholds, the model's prediction or the "
         "arrived labels drifted.", "Drift"),
    Term("Drift threshold", "MLOps", "The value of a test's statistic at which a feature counts as drifted. "
         "Calibrated (OpsLab's default): the mean plus 3 standard deviations of the distances between the "
         "training window's own weeks. Evidently's fixed rule: p < 0.05 for the p-value tests, a distance of "
         "0.1 for the distance tests.", "Drift"),
    Term("p-value", "MLOps", "How surprising the difference between reference and current data would be if nothing "
         "had changed. On large samples tiny, harmless shifts get tiny p-values too.", "Drift"),
    Term("KS test", "MLOps", "Kolmogorov–Smirnov: the largest gap between two cumulative distributions. OpsLab uses "
         "its p-value for numeric features when the reference has at most 1000 rows.", "Drift"),
    Term("Chi-square test", "MLOps", "Compares category counts between reference and current data; used for "
         "categorical features on small samples.", "Drift"),
    Term("Wasserstein distance", "MLOps", "How far one distribution must be moved to match the other. OpsLab divides "
         "it by the reference's standard deviation, so 0.1 means a tenth of a standard deviation.", "Drift"),
    Term("Jensen–Shannon distance", "MLOps", "A symmetric distance between two categorical distributions, from 0 "
         "(identical) to 1 (no overlap); used for categorical features on large samples.", "Drift"),
    Term("PSI", "MLOps", "Population Stability Index: compares the share of rows in each bin between reference and "
         "current data. Below 0.1 reads as stable, below 0.25 as moderate, above as significant.", "Drift"),
    Term("Label delay", "MLOps", "The time between a prediction and the moment its true value is known. Until "
         "then, quality cannot be measured, only drift.", "Timeline"),
    Term("Realized quality", "MLOps", "The model's error on production data, measured once the labels have arrived "
         "(for example MAE in bikes per hour).", "Timeline, MLOps"),
    Term("Never-retrained counterfactual", "MLOps", "The first model kept forever and scored on the same weeks as "
         "production. The gap between the two lines is what retraining bought.", "Timeline"),
    Term("Staleness", "MLOps", "The age of the serving model: how long ago the data it learned from ended.",
         "MLOps"),
    Term("Retraining frequency", "MLOps", "ML mirror of deployment frequency: how often a retrained model reaches "
         "production.", "MLOps"),
    Term("Data-to-production lead time", "MLOps", "ML mirror of lead time for changes: from the moment the data "
         "arrived to the model trained on it serving production.", "MLOps"),
    Term("Model change failure rate", "MLOps", "ML mirror of change failure rate: the share of model deployments "
         "that made production worse and were rolled back.", "MLOps"),
    Term("Time to recover from drift", "MLOps", "ML mirror of recovery time: from a drift or quality alarm to a "
         "model that brings quality back.", "MLOps"),
)  # fmt: skip


def search_glossary(text: str, terms: Sequence[Term] = GLOSSARY) -> list[Term]:
    """Terms whose name, meaning or lifecycle contains every word of `text` (case-insensitive)."""
    words = text.lower().split()
    return [t for t in terms if all(w in f"{t.term} {t.meaning} {t.lifecycle}".lower() for w in words)]


# -- maturity ------------------------------------------------------------------------------------
MATURITY_SOURCE = "Google Cloud Architecture Center, “MLOps: Continuous delivery and automation pipelines in machine learning”"


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    summary: str


LEVELS: tuple[Level, ...] = (
    Level(0, "Manual process", "Every step, from preparing data to training and validating a model, is run by "
          "hand, often in notebooks. A data scientist hands a model file to engineers who deploy it. Releases "
          "are rare, there is no CI/CD, and nobody watches the model in production, so it decays unnoticed."),
    Level(1, "ML pipeline automation", "The training pipeline is automated and runs in production: continuous "
          "training on fresh data, started by a schedule, new data, drift or a quality drop. Data and model "
          "validation are steps of the pipeline, every run keeps its metadata, and models are delivered "
          "continuously. The same pipeline runs in experiments and in production."),
    Level(2, "CI/CD pipeline automation", "The pipeline itself goes through CI/CD: new pipeline code is built, "
          "tested and deployed automatically, so new ideas (features, model architectures) reach production "
          "quickly and safely. Source control, build and test services, a model registry, a metadata store and "
          "an orchestrator work together."),
)  # fmt: skip


@dataclass(frozen=True)
class Practice:
    id: str
    level: int  # the level that asks for it
    text: str
    opslab: str  # where OpsLab shows it


PRACTICES: tuple[Practice, ...] = (
    Practice("pipeline", 1, "Getting from data to a deployed model is one automated pipeline, not a sequence of "
             "manual steps.", "MLOps: ingest → validate → train → evaluate → register → deploy"),
    Practice("continuous_training", 1, "Models are retrained in production when a trigger fires (schedule, new "
             "data, drift, quality decay).", "Control room (retraining policy), Timeline (retrain ◆ markers)"),
    Practice("data_validation", 1, "Incoming data is validated automatically before anything trains on it.",
             "MLOps (the validate step), exercise “Let validation stop a silent data bug”"),
    Practice("model_validation", 1, "A new model replaces the current one only if it is better on the same recent "
             "data.", "MLOps (promotion gate, champion and challenger)"),
    Practice("metadata", 1, "Every run keeps its inputs, settings, metrics and artifacts, so any model can be traced "
             "to its data and code.", "History (SQL over every run), run details on DevOps and MLOps"),
    Practice("monitoring", 1, "Production is monitored for data drift and realized quality, and the alarms act.",
             "Drift, Timeline (quality, never-retrained line, drift share)"),
    Practice("ci", 2, "Changes to the pipeline's and the service's code are built and tested automatically.",
             "DevOps (checkout → build → test)"),
    Practice("cd", 2, "Tested pipeline and service code is deployed automatically, with a health check and a "
             "rollback.", "DevOps (deploy), Timeline (rollback ▼)"),
)  # fmt: skip


@dataclass(frozen=True)
class MaturityVerdict:
    level: int
    missing: tuple[Practice, ...]  # what the next level still asks for (empty at level 2)
    said: str


def assess_maturity(answers: Mapping[str, bool]) -> MaturityVerdict:
    """Level 1 needs every level-1 practice; level 2 needs every practice (it builds on level 1)."""
    have = {p.id for p in PRACTICES if answers.get(p.id)}
    level_1 = tuple(p for p in PRACTICES if p.level == 1 and p.id not in have)
    level_2 = tuple(p for p in PRACTICES if p.level == 2 and p.id not in have)
    if level_1:
        said = f"{len(level_1)} of the {sum(p.level == 1 for p in PRACTICES)} level-1 practices are missing."
        if not level_2:
            said += " CI/CD for code is in place: automating the ML pipeline is the next step."
        return MaturityVerdict(0, level_1, said)
    if level_2:
        return MaturityVerdict(
            1, level_2, "The ML pipeline is automated; CI/CD of the pipeline itself is next."
        )
    return MaturityVerdict(2, (), "The ML pipeline is automated and goes through CI/CD itself.")
