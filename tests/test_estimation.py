"""Quality estimated without labels, on tiny seeded data: direct loss estimation (regression) and
confidence-based estimation (classification), each fitted on rows the model did not train on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.mlops.estimation import fit_estimator, predict_and_estimate
from pipelines.mlops.monitoring import NO_ANSWER, what_users_got
from pipelines.mlops.training import ModelSettings, evaluate_predictions, predict, train_model


def _world(n: int, seed: int, noise_at: float = 0.5) -> pd.DataFrame:
    """y = 3x, with noise that grows past `noise_at`: the model errs more on high x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    y = 3 * x + rng.normal(0, np.where(x > noise_at, 1.0, 0.1))
    return pd.DataFrame({"x": x, "y": y})


def _regression():
    train, reference = _world(800, 1), _world(400, 2)
    model = train_model(train, task="regression", target="y", numeric=["x"], categorical=[], seed=3)
    estimator = fit_estimator(model, reference, task="regression", target="y", metric="mae", seed=3)
    assert estimator is not None and estimator.method == "dle"
    return model, estimator


@pytest.mark.parametrize("where", ["low", "high"])
def test_direct_loss_estimation_follows_the_error_where_the_inputs_move(where: str) -> None:
    model, estimator = _regression()
    batch = _world(600, 4)
    batch = batch.loc[batch["x"] <= 0.5] if where == "low" else batch.loc[batch["x"] > 0.5]
    predictions, estimated = predict_and_estimate(model, estimator, batch)
    assert list(predictions) == list(predict(model, batch))  # the champion's own predictions
    realized = evaluate_predictions("regression", batch["y"], predictions)["mae"]
    assert estimated == pytest.approx(realized, rel=0.2)


def test_the_estimate_cannot_see_a_changed_relation() -> None:
    """Concept drift: the same inputs, another y. The estimate does not move; realized quality does."""
    model, estimator = _regression()
    batch = _world(400, 5)
    predictions, estimated = predict_and_estimate(model, estimator, batch)
    drifted = batch.assign(y=-batch["y"])
    assert predict_and_estimate(model, estimator, drifted)[1] == estimated
    realized = evaluate_predictions("regression", drifted["y"], predictions)["mae"]
    assert realized > 3 * estimated


def test_confidence_based_estimation_expects_the_accuracy_of_calibrated_confidence() -> None:
    def labelled(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.uniform(-3, 3, n)
        return pd.DataFrame(
            {"x": x, "label": np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-2 * x)), "a", "b")}
        )

    smooth = ModelSettings(max_iter=50, min_samples_leaf=50)  # not fitted to the label noise
    model = train_model(
        labelled(1500, 1),
        task="classification",
        target="label",
        numeric=["x"],
        categorical=[],
        seed=3,
        settings=smooth,
    )
    estimator = fit_estimator(
        model, labelled(800, 2), task="classification", target="label", metric="accuracy", seed=3
    )
    assert estimator is not None and estimator.method == "cbpe"
    for low, high in ((-0.5, 0.5), (-3, 3)):  # near the boundary it is a coin toss; far from it, sure
        batch = labelled(2000, 3)
        batch = batch.loc[batch["x"].between(low, high)]
        predictions, estimated = predict_and_estimate(model, estimator, batch)
        realized = evaluate_predictions("classification", batch["label"], predictions)["accuracy"]
        assert estimated == pytest.approx(realized, abs=0.05)


def test_too_little_reference_gives_no_estimator() -> None:
    model, _ = _regression()
    assert fit_estimator(model, _world(10, 6), task="regression", target="y", metric="mae", seed=3) is None


def test_what_users_got_scores_failed_rows_as_failures() -> None:
    forecast = what_users_got("regression", np.array([5.0, 6.0, 7.0]), np.array([False, True, False]))
    assert list(forecast) == [5.0, 0.0, 7.0]  # no forecast: nothing planned for
    classes = what_users_got("classification", np.array(["a", "b"]), np.array([True, False]))
    assert list(classes) == [NO_ANSWER, "b"]
    answered = np.array([1.0, 2.0])
    assert what_users_got("regression", answered, None) is answered
    with pytest.raises(ValueError, match="flags"):
        what_users_got("regression", answered, np.array([True]))


def test_a_failed_classification_scores_wrong_beside_number_coded_classes() -> None:
    truth = pd.Series([1, 0, 1, 1])
    got = what_users_got("classification", np.array([1, 0, 1, 0]), np.array([True, False, False, False]))
    scored = evaluate_predictions("classification", truth.astype(str), got.astype(str))
    assert scored["accuracy"] == 0.5  # the failed row and the wrong one
