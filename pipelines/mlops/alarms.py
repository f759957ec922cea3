"""Alarms scored against what happened: which monitoring signal deserves a pager?

Every week a monitoring signal can raise an alarm (the dataset drifted; the model's predictions
drifted; the estimated quality fell). Labels arrive later and say whether the model's realized
quality really got worse: a week **decayed** when its realized quality is worse than the serving
model's holdout baseline by more than the margin (the same rule as the `performance` policy).

For each source: an alarm is **true** when a decayed week follows within `horizon_weeks` (the alarm
week included), **precision** is the share of judged alarms that were true (an alarm is judged once
a labelled week lies in its horizon), and **recall** is the share of decayed weeks that an alarm
announced within the horizon before them. The numbers are what a team on call would live with:
a source with low precision pages people for nothing (alarm fatigue); one with low recall sleeps
through the falls.

A caveat the Drift page states too: when an alarm triggered a retrain that prevented the fall, the
alarm scores as false here; a play with retraining off (`policy.kind=never`) scores the signals
without that confound.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipelines.quality import metric_named
from pipelines.store import Store
from pipelines.store.queries import alarm_inputs

__all__ = [
    "ALARM_COLUMNS",
    "DEFAULT_HORIZON_WEEKS",
    "decayed_weeks",
    "score_alarms",
    "workspace_alarm_scores",
]

DEFAULT_MARGIN = 0.25  # the performance policy's default quality margin

DEFAULT_HORIZON_WEEKS = 3
ALARM_COLUMNS = [
    "source",
    "alarms",
    "judged",
    "true_alarms",
    "precision",
    "decayed_weeks",
    "announced",
    "recall",
]


def decayed_weeks(weekly: pd.DataFrame, margin: float) -> pd.Series:
    """Per week (index: week): True when realized quality fell past the margin, False when it held,
    NaN while the week's labels have not arrived."""
    frame = weekly.set_index("week").sort_index()
    result = pd.Series(np.nan, index=frame.index, dtype=object)
    for week, row in frame.iterrows():
        quality, baseline, name = row.get("quality"), row.get("quality_baseline"), row.get("quality_metric")
        if pd.isna(quality) or pd.isna(baseline) or not isinstance(name, str):
            continue
        result[week] = bool(metric_named(name).worse_by(float(quality), float(baseline), margin))
    return result


def score_alarms(
    weekly: pd.DataFrame,
    alarms: Mapping[str, pd.Series],
    *,
    margin: float,
    horizon_weeks: int = DEFAULT_HORIZON_WEEKS,
) -> pd.DataFrame:
    """One row per alarm source (`alarms`: name -> boolean Series indexed by week)."""
    if horizon_weeks < 0:
        raise ValueError(f"the horizon is 0 weeks or more, not {horizon_weeks}")
    decayed = decayed_weeks(weekly, margin)
    labelled = decayed.dropna().astype(bool)
    fell = labelled.index[labelled.to_numpy()]
    rows = []
    for source, raised in alarms.items():
        alarm_weeks = [int(w) for w, on in raised.items() if bool(on)]
        judged = true = 0
        for week in alarm_weeks:
            ahead = labelled.loc[(labelled.index >= week) & (labelled.index <= week + horizon_weeks)]
            if ahead.empty:
                continue  # its labels have not arrived: not judged yet
            judged += 1
            true += bool(ahead.any())
        announced = sum(any(week - horizon_weeks <= a <= week for a in alarm_weeks) for week in fell)
        rows.append(
            {
                "source": source,
                "alarms": len(alarm_weeks),
                "judged": judged,
                "true_alarms": true,
                "precision": true / judged if judged else np.nan,
                "decayed_weeks": len(fell),
                "announced": announced,
                "recall": announced / len(fell) if len(fell) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=ALARM_COLUMNS)


def workspace_alarm_scores(
    store: Store, workspace: str, horizon_weeks: int = DEFAULT_HORIZON_WEEKS
) -> pd.DataFrame:
    """The workspace's alarm sources scored against its realized quality, with the margin of its
    own retraining policy (empty before any week was played)."""
    weekly = alarm_inputs(store, workspace)
    if weekly.empty:
        return pd.DataFrame(columns=ALARM_COLUMNS)
    info = store.workspace_info(workspace) or {}
    policy = (info.get("settings") or {}).get("policy") or {}
    margin = float(policy.get("quality_margin") or DEFAULT_MARGIN)
    by_week = weekly.set_index("week")
    sources = {
        "dataset drift": by_week["dataset_drift"].fillna(False).astype(bool),
        "prediction drift": by_week["prediction_drift"].fillna(False).astype(bool),
    }
    if "quality_estimated" in by_week and by_week["quality_estimated"].notna().any():
        estimated = weekly.assign(quality=weekly["quality_estimated"])
        sources["estimated quality"] = decayed_weeks(estimated, margin).fillna(False).astype(bool)
    return score_alarms(weekly, sources, margin=margin, horizon_weeks=horizon_weeks)
