"""The Learn page: glossary search, exercise checks on the session history, the maturity self-assessment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.learn_content import GLOSSARY, LEVELS, PRACTICES, assess_maturity, search_glossary
from pipelines.cli import main as opslab
from pipelines.exercises import EXERCISES, started
from pipelines.store import Store
from tests.conftest import APP

REQUIRED_TERMS = (
    "release", "artifact", "pipeline step", "cache hit", "deployment", "rollback", "incident",
    "deployment frequency", "lead time for changes", "change failure rate", "failed deployment recovery time",
    "deployment rework rate", "champion / challenger", "model registry", "promotion gate", "data drift",
    "covariate drift", "prior drift", "concept drift", "drift patterns", "psi", "ks test", "wasserstein distance",
    "jensen–shannon distance", "label delay", "realized quality", "never-retrained counterfactual",
    "retraining policy", "staleness", "data validation",
)  # fmt: skip


@pytest.fixture
def own_history(scenario_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the session history: pressing Start writes to it."""
    import streamlit as st

    copy = tmp_path / scenario_db.name
    shutil.copy(scenario_db, copy)
    monkeypatch.setenv("OPSLAB_DB", str(copy))
    st.cache_data.clear()
    st.cache_resource.clear()
    return copy


def open_learn(workspace: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    if workspace:
        at.query_params["workspace"] = workspace
    at.switch_page("views/learn.py")
    at.run()
    assert not at.exception
    return at


# -- content, without Streamlit -----------------------------------------------------------------
def test_the_glossary_covers_the_projects_vocabulary_in_short_entries() -> None:
    names = {t.term.lower() for t in GLOSSARY}
    assert not [term for term in REQUIRED_TERMS if term not in names]
    assert len(names) == len(GLOSSARY)
    for term in GLOSSARY:
        assert term.lifecycle in ("DevOps", "MLOps", "both")
        assert 1 <= term.meaning.count(". ") + 1 <= 3, term.term  # one or two plain sentences


def test_glossary_search_needs_every_word() -> None:
    assert {t.term for t in search_glossary("drift")} >= {"Concept drift", "Covariate drift", "Data drift"}
    assert [t.term for t in search_glossary("jensen shannon")] == ["Jensen–Shannon distance"]
    assert search_glossary("") == list(GLOSSARY)
    assert search_glossary("kubernetes") == []


def test_maturity_levels_follow_the_practices_ticked() -> None:
    assert [lv.number for lv in LEVELS] == [0, 1, 2]
    assert len(PRACTICES) >= 8
    level_1 = {p.id: True for p in PRACTICES if p.level == 1}
    everything = {p.id: True for p in PRACTICES}
    assert assess_maturity({}).level == 0
    assert assess_maturity(level_1).level == 1
    assert assess_maturity(everything).level == 2 and not assess_maturity(everything).missing
    only_cicd = assess_maturity({p.id: True for p in PRACTICES if p.level == 2})
    assert only_cicd.level == 0 and "CI/CD for code" in only_cicd.said
    one_short = assess_maturity({**level_1, "monitoring": False})
    assert one_short.level == 0 and [p.id for p in one_short.missing] == ["monitoring"]


# -- the page -----------------------------------------------------------------------------------
def test_the_page_has_the_glossary_exercises_and_levels(app_env: Path) -> None:
    at = open_learn()
    assert not at.error
    assert [t.label for t in at.tabs] == ["Glossary", "Guided exercises", "Maturity levels", "ML Test Score"]
    assert any(f"{len(GLOSSARY)} of {len(GLOSSARY)} terms" in c.value for c in at.caption)
    assert len(at.expander) == len(EXERCISES) >= 5
    commands = [c.value for c in at.code]
    assert any("opslab --workspace learn-break-the-build scenario run" in c for c in commands)
    assert at.metric[0].value.startswith("Level 0")


def test_searching_the_glossary_filters_it(app_env: Path) -> None:
    at = open_learn()
    at.text_input(key="glossary_search").set_value("rollback").run()
    shown = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any(m.startswith("**Rollback**") for m in shown)
    assert not any(m.startswith("**Wasserstein distance**") for m in shown)
    at.text_input(key="glossary_search").set_value("kubernetes").run()
    assert any("No term matches" in i.value for i in at.info)


def test_a_check_before_start_says_press_start_and_start_moves_to_the_learners_workspace(
    own_history: Path,
) -> None:
    """The demo history holds an escaped bug and its rollback, but the learner has done nothing yet."""
    at = open_learn()
    at.button(key="check_escaped_bug").click().run()
    assert not at.exception and not at.error and not at.success
    assert any("Not yet" in i.value and "Press Start first" in i.value for i in at.info)
    assert not any(e.label.endswith("✅") for e in at.expander)
    assert any("Not started" in c.value and "learn-escaped-bug" in c.value for c in at.caption)
    assert any(
        "opslab --workspace learn-escaped-bug scenario run bad-friday-deploy" in c.value for c in at.code
    )

    at.button(key="learn_start_escaped_bug").click().run()
    assert not at.exception and not at.error
    assert at.session_state["workspace"] == "learn-escaped-bug"  # demo stays as it is
    assert at.query_params["workspace"] == "learn-escaped-bug"
    assert at.selectbox(key="workspace_picker").value == "learn-escaped-bug"
    begun = started(Store(own_history), "learn-escaped-bug", "escaped_bug")
    assert begun is not None and started(Store(own_history), "demo", "escaped_bug") is None
    assert any(f"Started {begun.started_at:%Y-%m-%d %H:%M:%S} UTC" in c.value for c in at.caption)
    assert at.button(key="learn_start_escaped_bug").label == "Start again"
    at.button(key="check_escaped_bug").click().run()
    assert not at.success
    assert any("Not yet" in i.value and "since you pressed Start" in i.value for i in at.info)


def test_a_change_whose_tests_fail_after_start_passes_break_the_build(own_history: Path) -> None:
    at = open_learn()
    at.button(key="learn_start_break_the_build").click().run()
    assert at.session_state["workspace"] == "learn-break-the-build"
    argv = ["--db", str(own_history), "--workspace", "learn-break-the-build", "devops", "run"]
    assert opslab([*argv, "--change", "hour-24-midnight"]) == 1  # the pipeline stops at test
    at.button(key="check_break_the_build").click().run()
    assert not at.exception and not at.error
    assert at.success and "failed at test with 2 failing tests" in at.success[0].value
    assert any(e.label == "1. Break the build ✅" for e in at.expander)


def test_the_self_assessment_names_the_level(app_env: Path) -> None:
    at = open_learn()
    for practice in PRACTICES:
        if practice.level == 1:
            at.checkbox(key=f"maturity_{practice.id}").check()
    at.run()
    assert at.metric[0].value == "Level 1: ML pipeline automation"
    marked = [m.value for m in at.markdown if "your answers" in m.value]
    assert marked == ["**Level 1: ML pipeline automation** :blue-badge[your answers]"]
    for practice in PRACTICES:
        at.checkbox(key=f"maturity_{practice.id}").check()
    at.run()
    assert at.metric[0].value == "Level 2: CI/CD pipeline automation"


def test_an_empty_workspace_still_teaches_and_start_keeps_a_seat_in_its_own_workspace(
    own_history: Path,
) -> None:
    at = open_learn("seat-07")
    assert not at.error
    assert any("no history yet" in i.value for i in at.info)
    at.button(key="check_break_the_build").click().run()
    assert not at.exception and not at.error
    assert any("Not yet" in i.value and "Press Start first" in i.value for i in at.info)
    at.button(key="learn_start_break_the_build").click().run()
    assert not at.exception and not at.error
    assert at.session_state["workspace"] == "seat-07"
    assert started(Store(own_history), "seat-07", "break_the_build") is not None
    at.button(key="check_break_the_build").click().run()
    assert any("Not yet" in i.value and "no DevOps run" in i.value for i in at.info)


def test_exercise_commands_paste_as_they_are_without_opslab_on_the_path(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `make run` the CLI is .venv/bin/opslab, not on the PATH: the page shows that path."""
    import sys

    monkeypatch.setenv("PATH", "/nonexistent")
    at = open_learn()
    shown = "\n".join(str(c.value) for c in at.code)
    program = str(Path(sys.executable).with_name("opslab"))
    assert f"{program} --workspace" in shown
    assert not any(line.startswith("opslab ") for line in shown.splitlines())
    exercise = EXERCISES[0]
    assert exercise.commands("w", "/x/opslab")[0].startswith("/x/opslab --workspace w ")
