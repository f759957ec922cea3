"""The quality metric a model is judged on: one `Metric` value (name, label, direction, format).

Which way is good lives here and nowhere else: the promotion gate, the retraining policy, the
scenario summary, the stored weekly rows (`weekly.quality_direction`) and the dashboard's figures
all ask a `Metric`. The module imports only the standard library, so the store's migrations and
the dashboard can use it without pulling in pandas or scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "DIRECTIONS",
    "METRICS",
    "TASK_METRICS",
    "Direction",
    "Metric",
    "metric_for_task",
    "metric_named",
    "recorded_metric",
]

Direction = Literal["lower", "higher"]
DIRECTIONS: tuple[Direction, ...] = ("lower", "higher")


@dataclass(frozen=True)
class Metric:
    """A quality metric and which way is better. `spec` formats its values; it is a format spec
    Python and plotly's d3 both read, so a hover label and a caption print the same digits.

    Margins are relative, as the gate and the retraining policy have always used them: `beats`
    asks for an improvement of `margin` over a reference, `worse_by` for a loss beyond it."""

    name: str
    label: str
    direction: Direction
    spec: str = ".4g"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a metric needs a name")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"metric direction must be 'lower' or 'higher', not {self.direction!r}")
        format(1.0, self.spec)  # a bad spec fails here, not in the middle of a page

    @property
    def lower_is_better(self) -> bool:
        return self.direction == "lower"

    @property
    def direction_text(self) -> str:
        return f"{self.direction} is better"

    @property
    def title(self) -> str:
        """'MAE (lower is better)': for axis titles and captions."""
        return f"{self.label} ({self.direction_text})"

    @property
    def relation(self) -> str:
        """How 'at least as good as' reads for this metric: ≤ when lower is better."""
        return "≤" if self.lower_is_better else "≥"

    def format(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return format(value, self.spec)

    def better(self, a: float, b: float) -> bool:
        """Is `a` strictly better than `b`?"""
        return a < b if self.lower_is_better else a > b

    def gain(self, new: float, old: float) -> float:
        """How much better `new` is than `old`, in the metric's units (negative: worse)."""
        return old - new if self.lower_is_better else new - old

    def target(self, reference: float, margin: float) -> float:
        """The value that improves on `reference` by the relative `margin` (the gate's bar)."""
        return reference * (1 - margin) if self.lower_is_better else reference * (1 + margin)

    def beats(self, value: float, reference: float, margin: float) -> bool:
        """Does `value` improve on `reference` by at least `margin` (relative)?"""
        bar = self.target(reference, margin)
        return value <= bar if self.lower_is_better else value >= bar

    def worse_by(self, value: float, reference: float, margin: float) -> bool:
        """Is `value` worse than `reference` by more than `margin` (relative)? Decay, a regression."""
        if self.lower_is_better:
            return value > reference * (1 + margin)
        return value < reference * (1 - margin)


_ALL = (
    Metric("mae", "MAE", "lower"),
    Metric("rmse", "RMSE", "lower"),
    Metric("mse", "MSE", "lower"),
    Metric("mape", "MAPE", "lower", ".1%"),
    Metric("log_loss", "log loss", "lower", ".3f"),
    Metric("r2", "R²", "higher", ".3f"),
    Metric("accuracy", "accuracy", "higher", ".3f"),
    Metric("f1", "F1", "higher", ".3f"),
    Metric("roc_auc", "ROC AUC", "higher", ".3f"),
    Metric("precision", "precision", "higher", ".3f"),
    Metric("recall", "recall", "higher", ".3f"),
)
METRICS: dict[str, Metric] = {m.name: m for m in _ALL}

# The metric the promotion gate, the retraining policy and the quality lines use, per task.
TASK_METRICS: dict[str, Metric] = {"regression": METRICS["mae"], "classification": METRICS["accuracy"]}


def metric_named(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown quality metric {name!r}; known: {', '.join(METRICS)}") from None


def metric_for_task(task: str) -> Metric:
    if task not in TASK_METRICS:
        raise ValueError(f"no quality metric for task {task!r}; tasks: {', '.join(TASK_METRICS)}")
    return TASK_METRICS[task]


def recorded_metric(name: str | None, direction: str | None = None) -> Metric | None:
    """The metric a stored record names, judged the way the record says.

    The stored direction wins; the registry supplies the label and format of a name it knows, and
    the direction of rows written before the direction was stored. None when neither can tell.
    """
    if not name:
        return None
    known = METRICS.get(name)
    if direction not in DIRECTIONS:
        return known
    return replace(known, direction=direction) if known else Metric(name, name, direction)
