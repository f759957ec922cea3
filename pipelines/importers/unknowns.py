"""Which keys an imported history cannot tell, and why: shown as unknown, never as zero.

A key counts a kind of evidence: releases for deployment frequency, incidents for change failure rate,
model deployments for the ML mirrors, served weeks for staleness and drift recovery. A source either
records that evidence (git its tags or merges, GitHub its deployments and incident issues, MLflow its
runs and aliases) or cannot; when no source imported into a workspace landed a record of the evidence
a key counts, its value would be a zero or a "no data" that is really "the source cannot say", so the
key is marked unknown with the sentence saying which source lacks what. Keys of a played workspace,
and keys whose evidence was imported, are left as computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from pipelines.keys import KeyResult
from pipelines.store import Store
from pipelines.store.imported_sql import imported_sources, landed_kinds, model_deploy_windows

__all__ = [
    "EVIDENCE",
    "KEY_EVIDENCE",
    "UNKNOWN",
    "Evidence",
    "cannot_tell",
    "import_unknowns",
    "mark_unknown",
    "unknown_keys",
]

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Evidence:
    """What a key counts, which landed record kinds of each source are it, and, per source that
    imported none, why (one clause naming the source)."""

    what: str  # "production releases", ...
    kinds: Mapping[str, frozenset[str]]  # source -> landed kinds that are this evidence
    lacking: Mapping[str, str]  # source -> why it gave none
    otherwise: str  # why, for a source not named in `lacking`
    then: str = ""  # what follows for every source (said once)


def _kinds(**by_source: Iterable[str]) -> Mapping[str, frozenset[str]]:
    return {source: frozenset(kinds) for source, kinds in by_source.items()}


_CICD_NO_MODELS = "{source} records pipelines, not models"
RELEASES = Evidence(
    "production releases",
    _kinds(git=("tag", "merge", "push"), github=("deployment",), gitlab=("deployment",)),
    {
        "git": "git found no release (no matching tag, merge or commit on the branch)",
        "github": "GitHub gave no deployments",
        "gitlab": "GitLab gave no deployments",
        "mlflow": "MLflow records models, not code releases",
    },
    "{source} records no releases",
)
FAILURES = Evidence(
    "failed changes",
    # git reads failures from its own history (reverts, quick patches); GitHub and GitLab from issues
    _kinds(git=("commit",), github=("issue",), gitlab=("issue",)),
    {
        "github": "GitHub gave no issues, and a failure is known only from an incident issue",
        "gitlab": "GitLab gave no issues, and a failure is known only from an incident issue",
        "mlflow": "MLflow records no incidents",
    },
    "{source} records no incidents",
)
RETRAINS = Evidence(
    "model training runs",
    _kinds(mlflow=("run",)),
    {"git": "git records code, not models", "mlflow": "MLflow gave no runs"},
    _CICD_NO_MODELS,
)
MODEL_DEPLOYS = Evidence(
    "model deployments",
    _kinds(mlflow=("alias",)),
    {
        "git": "git records code, not models",
        "mlflow": "MLflow has shown no alias yet (it keeps no alias history: moves are recorded from the "
        "first import on)",
    },
    _CICD_NO_MODELS,
)
SERVED_WEEKS = Evidence(
    "served weeks",
    {},  # no source records what a served model's weeks were like: OpsLab measures them when it plays
    {},
    "{source} records no served weeks",
    " (error rate, latency, drift and realized quality are measured only on the weeks OpsLab plays)",
)
PIPELINE_RUNS = Evidence(
    "pipeline runs",
    _kinds(github=("workflow_run",), gitlab=("pipeline",)),
    {
        "git": "git records no pipeline runs (import GitHub or GitLab for them)",
        "github": "GitHub gave no workflow runs",
        "gitlab": "GitLab gave no pipelines",
        "mlflow": "MLflow records model runs, not CI pipelines",
    },
    "{source} records no pipeline runs",
)
MODEL_VERSIONS = Evidence(
    "model versions",
    _kinds(mlflow=("model_version",)),
    {"git": "git records code, not models", "mlflow": "MLflow gave no registered model versions"},
    _CICD_NO_MODELS,
)
# Every kind of evidence a page may miss, by name.
EVIDENCE: Mapping[str, Evidence] = {
    "releases": RELEASES,
    "failures": FAILURES,
    "pipeline_runs": PIPELINE_RUNS,
    "model_runs": RETRAINS,
    "model_versions": MODEL_VERSIONS,
    "model_deployments": MODEL_DEPLOYS,
    "served_weeks": SERVED_WEEKS,
}

KEY_EVIDENCE: Mapping[str, Sequence[Evidence]] = {
    "deployment_frequency": (RELEASES,),
    "lead_time_for_changes": (RELEASES,),
    "change_failure_rate": (RELEASES, FAILURES),
    "failed_deployment_recovery_time": (FAILURES,),
    "deployment_rework_rate": (RELEASES,),
    "retraining_frequency": (RETRAINS,),
    "data_to_production_lead_time": (MODEL_DEPLOYS,),
    "model_change_failure_rate": (MODEL_DEPLOYS,),
    "time_to_recover_from_drift": (SERVED_WEEKS,),
    "model_staleness": (SERVED_WEEKS,),
}

_NAMES = {"git": "git", "github": "GitHub", "gitlab": "GitLab", "mlflow": "MLflow"}


def _missing(evidence: Evidence, sources: Sequence[str], landed: Mapping[tuple[str, str], int]) -> str | None:
    """Why no imported source gave `evidence` (None when one did)."""
    for source in sources:
        if any(landed.get((source, kind), 0) for kind in evidence.kinds.get(source, ())):
            return None
    reasons = [
        evidence.lacking.get(source, evidence.otherwise).format(source=_NAMES.get(source, source))
        for source in sources
    ]
    return "; ".join(dict.fromkeys(reasons)) + evidence.then


def cannot_tell(sources: Sequence[str], landed: Mapping[tuple[str, str], int]) -> dict[str, str]:
    """Evidence name (`EVIDENCE`) -> the sentence saying why no imported source gave it, for a
    workspace imported from `sources` that landed `landed` ((source, kind) -> records)."""
    if not sources:
        return {}
    missing = {name: _missing(evidence, sources, landed) for name, evidence in EVIDENCE.items()}
    return {name: why[0].upper() + why[1:] + "." for name, why in missing.items() if why}


def unknown_keys(sources: Sequence[str], landed: Mapping[tuple[str, str], int]) -> dict[str, str]:
    """key -> why it is unknown, for a workspace imported from `sources` that landed `landed`.
    Empty when nothing was imported."""
    if not sources:
        return {}
    unknown = {}
    for key, needs in KEY_EVIDENCE.items():
        for evidence in needs:
            if (why := _missing(evidence, sources, landed)) is not None:
                unknown[key] = f"unknown, not zero: {why}"
                break
    return unknown


def import_unknowns(store: Store, workspace: str) -> dict[str, str]:
    """`unknown_keys` of the workspace's imports, read from its import log and landing."""
    sources = [str(s["source"]) for s in imported_sources(store, workspace)]
    if not sources:
        return {}
    unknown = unknown_keys(sources, landed_kinds(store, workspace))
    deploys, with_window = model_deploy_windows(store, workspace)
    if deploys and not with_window:  # deployed, but from data no one recorded: a lead time from what?
        unknown.setdefault(
            "data_to_production_lead_time",
            f"unknown, not zero: none of the {deploys} model deployments' versions records the window of data it "
            "learnt from (MLflow keeps none unless its run is tagged with it; see the import's note)",
        )
    return unknown


def mark_unknown(keys: Sequence[KeyResult], unknown: Mapping[str, str]) -> list[KeyResult]:
    """The keys with those the history cannot tell shown as unknown with why (their receipt kept,
    so the rows that are there can still be opened)."""
    return [
        replace(k, value=None, display=UNKNOWN, tier=None, note=unknown[k.key]) if k.key in unknown else k
        for k in keys
    ]
