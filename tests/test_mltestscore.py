"""The ML Test Score (Breck et al. 2017): scoring, and the tests a workspace's history answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.mltestscore import SECTIONS, TESTS, answers_from_history, band_of, score
from pipelines.store import Store
from pipelines.store.evidence_sql import ml_test_score_evidence
from tests.conftest import APP


def test_the_rubric_has_28_tests_seven_a_section() -> None:
    assert len(TESTS) == 28 and len({t.id for t in TESTS}) == 28
    assert all(sum(t.section == s for t in TESTS) == 7 for s in SECTIONS)


def test_the_final_score_is_the_weakest_section() -> None:
    everything = {t.id: 1.0 for t in TESTS}
    assert score(everything).final == 7 and score(everything).sections == dict.fromkeys(SECTIONS, 7)
    by_hand_model = {**everything, **{t.id: 0.5 for t in TESTS if t.section == "Model"}}
    card = score(by_hand_model)
    assert (card.final, card.weakest) == (3.5, "Model")
    assert score({}).final == 0 and "research project" in score({}).meaning
    with pytest.raises(ValueError, match=r"0, 0\.5 or 1"):
        score({"data-1": 0.7})
    with pytest.raises(ValueError, match="unknown"):
        score({"data-99": 1.0})


@pytest.mark.parametrize(
    ("final", "words"),
    [(0, "research project"), (0.5, "serious holes"), (1, "serious holes"), (1.5, "first pass"),
     (3, "Reasonably tested"), (4, "mission-critical"), (5.5, "Exceptional")],
)  # fmt: skip
def test_the_bands_are_the_papers(final: float, words: str) -> None:
    assert words in band_of(final)


def _count(store: Store, kind: str, step: str, status: str | None = None) -> int:
    runs = store.select("runs", "demo")
    steps = store.select("steps", "demo").merge(runs[["run_id", "kind"]], on="run_id")
    mask = (steps["kind"] == kind) & (steps["name"] == step)
    mask &= steps["status"].isin(["succeeded", "failed"]) if status is None else steps["status"] == status
    return int(mask.sum())


def test_a_played_workspace_answers_the_tests_its_pipelines_ran(scenario_db: Path) -> None:
    store = Store(scenario_db)
    facts = ml_test_score_evidence(store, "demo")
    assert facts["validate_steps"] == _count(store, "mlops", "validate") > 0
    assert facts["test_steps"] == _count(store, "devops", "test") > 0
    assert facts["evaluate_steps"] == _count(store, "mlops", "evaluate", "succeeded") > 0
    assert facts["policy"] == "schedule"
    found = answers_from_history(facts)
    for test_id in ("data-1", "data-7", "infra-4", "mon-2", "mon-3", "mon-4", "mon-6", "mon-7"):
        assert found[test_id].score == 1.0, (test_id, found[test_id])
    assert f"{facts['validate_steps']} data validations" in found["data-1"].evidence
    assert "model-1" not in found  # only the learner can say whether model specs are reviewed


def test_an_empty_workspace_answers_not_done(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.duckdb")
    store.ensure_workspace("demo", scenario="calm-seas", seed=1, settings={"policy": {"kind": "never"}})
    found = answers_from_history(ml_test_score_evidence(store, "demo"))
    assert found and {a.score for a in found.values()} == {0.0}
    assert "infra-7" not in found  # no rollback yet says nothing about whether one is possible


def test_the_learn_page_scores_the_workspace_and_the_learners_answers(app_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("views/learn.py")
    at.run()
    assert not at.exception

    def shown() -> dict[str, float]:
        labels = (*SECTIONS, "ML Test Score (lowest section)")
        return {m.label: float(str(m.value).split(" / ")[0]) for m in at.metric if m.label in labels}

    before = shown()
    assert before["ML Test Score (lowest section)"] == min(before[s] for s in SECTIONS)
    assert before["Data"] >= 2 and before["Model"] == 1  # from history: validation and tests; staleness
    for test in TESTS:
        if test.section == "Model" and test.id != "model-4":
            at.segmented_control(key=f"mlts_{test.id}").set_value(1.0)
    at.run()
    after = shown()
    assert after["Model"] == 7
    assert after["ML Test Score (lowest section)"] == min(after[s] for s in SECTIONS) > before["Model"]
