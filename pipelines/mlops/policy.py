"""Retraining policies: when does the MLOps loop retrain, and why (the reason is recorded)."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.quality import metric_named

__all__ = ["POLICIES", "Decision", "PolicyState", "RetrainPolicy", "decide_retrain", "quality_decayed"]

POLICIES = ("never", "schedule", "drift", "performance", "estimated")


@dataclass(frozen=True)
class RetrainPolicy:
    """`never`; `schedule` every `every_weeks`; on dataset `drift` for `drift_weeks` weeks in a row;
    on `performance`: realized quality worse than the champion's holdout by `quality_margin`;
    on `estimated`: the quality estimated on this week's unlabelled batch worse than the champion's
    holdout by `quality_margin` (it acts the week it is estimated, no label delay, but is blind to
    concept drift: the inputs do not show it).
    `cooldown_weeks` stops a policy from retraining on the same alarm every week."""

    kind: str = "drift"
    every_weeks: int = 4
    drift_weeks: int = 1
    quality_margin: float = 0.25
    cooldown_weeks: int = 2

    def __post_init__(self) -> None:
        if self.kind not in POLICIES:
            raise ValueError(f"retraining policy must be one of {', '.join(POLICIES)}, not {self.kind!r}")
        if self.every_weeks < 1 or self.drift_weeks < 1 or self.cooldown_weeks < 0:
            raise ValueError("every_weeks and drift_weeks must be at least 1, cooldown_weeks at least 0")
        if not 0 < self.quality_margin < 10:
            raise ValueError(f"quality margin must be a positive fraction, not {self.quality_margin}")


@dataclass(frozen=True)
class PolicyState:
    week: int
    weeks_since_retrain: int
    drift_streak: int  # consecutive weeks of dataset drift up to this one
    drift_share: float | None
    quality: float | None  # latest realized quality (labels arrived)
    baseline: float | None  # the holdout value of the same metric of the model that served it
    metric: str
    estimated: float | None = None  # this week's estimated quality of the champion (no labels needed)
    estimated_baseline: float | None = None  # the serving champion's holdout value


@dataclass(frozen=True)
class Decision:
    retrain: bool
    trigger: str | None  # schedule | drift | performance | estimated
    reason: str


def quality_decayed(metric: str, quality: float | None, baseline: float | None, margin: float) -> bool:
    """Is the realized `quality` worse than `baseline` by more than `margin` (relative)?"""
    if quality is None or baseline is None:
        return False
    return metric_named(metric).worse_by(quality, baseline, margin)


def decide_retrain(policy: RetrainPolicy, state: PolicyState) -> Decision:
    if policy.kind == "never":
        return Decision(False, None, "policy is never: the model is not retrained")
    if state.weeks_since_retrain < policy.cooldown_weeks:
        return Decision(False, None, f"cooling down: last retrain {state.weeks_since_retrain} week(s) ago")
    if policy.kind == "schedule":
        if state.weeks_since_retrain >= policy.every_weeks:
            return Decision(True, "schedule", f"scheduled: every {policy.every_weeks} weeks")
        return Decision(
            False, None, f"next scheduled retrain in {policy.every_weeks - state.weeks_since_retrain} week(s)"
        )
    if policy.kind == "drift":
        if state.drift_streak >= policy.drift_weeks:
            share = f"{state.drift_share:.0%}" if state.drift_share is not None else "?"
            return Decision(
                True, "drift", f"dataset drift ({share} of features) for {state.drift_streak} week(s)"
            )
        return Decision(False, None, "no dataset drift")
    if policy.kind == "estimated":
        return _quality_decision(policy, state, state.estimated, state.estimated_baseline, "estimated",
                                 "no quality estimate this week", "estimated ")  # fmt: skip
    return _quality_decision(
        policy, state, state.quality, state.baseline, "performance", "no labelled batch yet"
    )


def _quality_decision(
    policy: RetrainPolicy,
    state: PolicyState,
    quality: float | None,
    baseline: float | None,
    trigger: str,
    missing: str,
    prefix: str = "",
) -> Decision:
    """Retrain when `quality` (realized, or estimated) is past the margin of the champion's holdout."""
    if quality_decayed(state.metric, quality, baseline, policy.quality_margin):
        return Decision(
            True,
            trigger,
            f"{prefix}{state.metric} {quality:.4g} is beyond {policy.quality_margin:.0%} of the champion's {baseline:.4g}",
        )
    if quality is None:
        return Decision(False, None, missing)
    return Decision(
        False, None, f"{prefix}{state.metric} within {policy.quality_margin:.0%} of the champion's holdout"
    )
