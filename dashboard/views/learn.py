"""Learn: the glossary, guided exercises checked against your workspace, and MLOps maturity levels."""

from __future__ import annotations

import streamlit as st

from dashboard import data, data_learn, state, ui
from dashboard.learn_content import (
    GLOSSARY,
    LEVELS,
    MATURITY_SOURCE,
    PRACTICES,
    assess_maturity,
    search_glossary,
)
from pipelines.errors import OpsLabError
from pipelines.exercises import EXERCISES, learner_workspace
from pipelines.mltestscore import SCORES, SECTIONS, SOURCE, TESTS, score

db, ws = state.db_path(), state.workspace()
version = data.db_version(db, ws)
st.title("Learn")
st.caption(
    "The words both lifecycles use, exercises that make each difference happen in your own workspace, "
    "and a self-assessment against Google's MLOps maturity levels."
)
glossary_tab, exercises_tab, maturity_tab, score_tab = st.tabs(
    ["Glossary", "Guided exercises", "Maturity levels", "ML Test Score"]
)

# -- glossary -----------------------------------------------------------------------------------
with glossary_tab:
    found = search_glossary(st.text_input("Search the glossary", key="glossary_search",
                                          placeholder="e.g. drift, rollback, DORA"))  # fmt: skip
    st.caption(f"{len(found)} of {len(GLOSSARY)} terms")
    if not found:
        st.info("No term matches: try one word, such as drift or deployment.")
    ordered = sorted(found, key=lambda t: t.term.lower())
    middle = (len(ordered) + 1) // 2  # read down the left column, then the right
    for half, terms in zip(st.columns(2, gap="large"), (ordered[:middle], ordered[middle:]), strict=True):
        for term in terms:
            see = f" *See: {term.see}.*" if term.see else ""
            half.markdown(f"**{term.term}** · :gray[{term.lifecycle}]  \n{term.meaning}{see}")


# -- exercises ----------------------------------------------------------------------------------
def run_check(exercise_id: str, workspace: str) -> None:
    """A button callback, so the verdict (and the expander's ✅) shows in the same rerun."""
    now = data.db_version(db, workspace)
    try:
        verdict = data_learn.check(db, workspace, exercise_id, now)
    except OpsLabError as exc:  # a busy or unreadable history: say so where the verdict goes
        st.session_state[f"check_result_{exercise_id}"] = (workspace, None, str(exc), now)
    else:
        st.session_state[f"check_result_{exercise_id}"] = (workspace, verdict.passed, verdict.evidence, now)


def start_exercise(exercise_id: str) -> None:
    """Record the Start (making the learner's workspace if needed) and go to that workspace."""
    st.session_state.pop(f"check_result_{exercise_id}", None)
    try:
        begun = data_learn.start(db, ws, exercise_id)
    except OpsLabError as exc:
        where = learner_workspace(ws, exercise_id)
        st.session_state[f"check_result_{exercise_id}"] = (where, None, str(exc), data.db_version(db, where))
        return
    if begun.workspace != ws:
        state.set_workspace(begun.workspace)
        st.session_state.workspace_picker = begun.workspace  # the sidebar's keyed picker follows


with exercises_tab:
    st.markdown(
        f"You are in workspace **{ws}** (pick another in the sidebar). Press an exercise's **Start** first: "
        "its check looks only at what happens after it. From the shared **demo** workspace, Start makes a "
        "workspace of your own for the exercise (`learn-…`) and switches to it, so demo stays as it is. "
        "Do the exercise in a terminal or in the **Control room**, then press its check. "
        "`--replace` empties the workspace first."
    )
    if not data.has_history(db, ws, version):
        ui.empty_state(ws)
    for number, exercise in enumerate(EXERCISES, start=1):
        where = learner_workspace(ws, exercise.id)
        where_version = version if where == ws else data.db_version(db, where)
        try:
            begun = data_learn.start_of(db, where, exercise.id, where_version)
        except OpsLabError:
            begun = None
        result_key = f"check_result_{exercise.id}"
        known = st.session_state.get(result_key)
        if known and known[0] == where and known[3] != where_version and begun:  # the history moved on
            run_check(exercise.id, where)
            known = st.session_state[result_key]
        mark = " ✅" if known and known[0] == where and known[1] else ""
        # A key keeps the expander open when its label gains the ✅.
        with st.expander(
            f"{number}. {exercise.title}{mark}", expanded=number == 1, key=f"exercise_{exercise.id}"
        ):
            st.markdown(f"**Goal.** {exercise.goal}")
            start_col, said_col = st.columns([1, 4], vertical_alignment="center")
            start_col.button(
                "Start again" if begun else "Start",
                key=f"learn_start_{exercise.id}",
                type="secondary" if begun else "primary",
                on_click=start_exercise,
                args=(exercise.id,),
                disabled=state.read_only(),
                help=f"Record that the exercise begins now, in workspace {where}; only what happens "
                "after counts.",
            )
            if begun:
                said_col.caption(
                    f"Started {begun.started_at:%Y-%m-%d %H:%M:%S} UTC in workspace **{where}**."
                )
            else:
                said_col.caption(f"Not started: Start records the time (in workspace **{where}**).")
            st.markdown("**In a terminal**")
            st.code(
                "\n".join(exercise.commands(where, data_learn.cli_program())),
                language="bash",
                wrap_lines=True,
            )
            st.markdown("**Or in the Control room**")
            st.markdown("\n".join(f"- {line}" for line in exercise.control_steps(where)))
            st.markdown(f"**Then look.** {exercise.watch.replace('{ws}', where)}")
            if exercise.note:
                st.caption(exercise.note)
            st.button(
                "Check my workspace",
                key=f"check_{exercise.id}",
                on_click=run_check,
                args=(exercise.id, where),
            )
            if known and known[0] == where:
                if known[1] is None:
                    st.error(known[2], icon="⚠️")
                elif known[1]:
                    st.success(f"**Passed.** {known[2]}", icon="✅")
                else:
                    st.info(f"**Not yet.** {known[2]}", icon="⏳")

# -- maturity -----------------------------------------------------------------------------------
with maturity_tab:
    st.markdown(f"Three levels of automation, after {MATURITY_SOURCE}.")
    # The checkboxes below are keyed, so their state is known before they are drawn: mark the card.
    verdict = assess_maturity({p.id: bool(st.session_state.get(f"maturity_{p.id}")) for p in PRACTICES})
    for column, level in zip(st.columns(len(LEVELS)), LEVELS, strict=True):
        with column.container(border=True):
            mine = " :blue-badge[your answers]" if level.number == verdict.level else ""
            st.markdown(f"**Level {level.number}: {level.name}**{mine}")
            st.write(level.summary)
    st.subheader("Where is your team?")
    st.caption("Tick what your team does today. Each practice names the OpsLab page that shows it working.")
    for practice in PRACTICES:
        st.checkbox(f"{practice.text} (level {practice.level})", key=f"maturity_{practice.id}")
        st.caption(f"In OpsLab: {practice.opslab}")
    st.metric("Your answers correspond to", f"Level {verdict.level}: {LEVELS[verdict.level].name}")
    st.markdown(verdict.said)
    if verdict.missing:
        st.markdown(f"**Next, for level {verdict.level + 1}:**")
        st.markdown("\n".join(f"- {p.text} *In OpsLab: {p.opslab}.*" for p in verdict.missing))
    st.caption(
        "OpsLab itself sits at level 1 for its model (continuous training, validation, a gate, a registry, "
        "run metadata, monitoring) and shows level 2's CI/CD loop on the service's code."
    )


# -- ML Test Score ------------------------------------------------------------------------------
with score_tab:
    st.markdown(
        f"28 tests of production readiness in four sections, after {SOURCE}. Each scores 0 (not done), "
        "0.5 (done by hand, results written down and shared) or 1 (automated and run repeatedly); a section "
        "scores the sum of its tests, and the **final score is the lowest section**, since a system is only "
        f"as ready as its weakest part. Tests that workspace **{ws}**'s own history answers are filled in "
        "and marked *from this workspace*; answer the others for your team."
    )
    found = data_learn.test_score_answers(db, ws, version)
    labels = list(SCORES)
    answers: dict[str, float] = {}
    for section_column, section in zip(st.columns(2, gap="large") * 2, SECTIONS, strict=True):
        with section_column.container(border=True):
            st.markdown(f"**{section}**")
            for test in (t for t in TESTS if t.section == section):
                if test.id in found:
                    answer = found[test.id]
                    answers[test.id] = answer.score
                    st.markdown(f"{test.text} · **{SCORES[answer.score]}** :blue-badge[from this workspace]")
                    st.caption(answer.evidence)
                else:
                    answers[test.id] = (
                        st.segmented_control(
                            test.text, labels, format_func=SCORES.get, key=f"mlts_{test.id}", default=0.0
                        )
                        or 0.0
                    )
    card = score(answers)
    cells = st.columns(len(SECTIONS) + 1)
    for cell, section in zip(cells, SECTIONS, strict=False):
        cell.metric(section, f"{card.sections[section]:g} / 7")
    cells[-1].metric("ML Test Score (lowest section)", f"{card.final:g}")
    st.markdown(f"Weakest section: **{card.weakest}**. {card.meaning}")
