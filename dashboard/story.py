"""The play's story on a page: what the history says happened, and the preset's intent beside it.

Outcomes and promise checks come from `pipelines.scenario.summary.tell_story`; this only lays them out.
"""

from __future__ import annotations

import streamlit as st

from pipelines.scenario.outcomes import Story

__all__ = ["show_story"]


def show_story(story: Story, *, key: str) -> None:
    st.markdown("#### What this play did")
    st.caption(
        f"{story.scenario}: {story.weeks} weeks played, seed {story.seed}. Every line is counted from this "
        "workspace's history; the preset's narrative below is what it set out to show."
    )
    if story.differences:
        st.warning(
            f"This play is not the preset **{story.preset}** as written: " + "; ".join(story.differences)
            + ". So the preset's narrative and promises are its intent, not this play's story.",
            icon="⚠️",
        )  # fmt: skip
    elif story.notes:
        st.caption("Played as the preset, " + "; ".join(story.notes) + ".")
    if story.events:
        st.markdown(
            "**Put into this play:** " + "; ".join(f"{e.what} from {e.when()}" for e in story.events) + "."
        )
    for column, (lifecycle, title) in zip(
        st.columns(2), (("devops", "DevOps"), ("mlops", "MLOps")), strict=True
    ):
        with column:
            lines = "\n".join(f"- {o.text}" for o in story.outcomes_of(lifecycle))
            st.markdown(f"**{title}**\n\n{lines}")
    if not story.narrative and not story.promises:
        return
    whose = f"the preset {story.preset}" if story.preset else f"the settings {story.scenario}"
    box = (
        st.container(border=True, key=f"{key}_intent")
        if story.follows_preset
        else st.expander(f"What {whose} set out to show (this play departs from it)", expanded=False)
    )
    with box:
        st.markdown(f"**The intent of {whose}, not an outcome.** {story.narrative}")
        kept = sum(p.held for p in story.promises)
        if story.promises:
            st.markdown(f"**Its promises, checked against this play: {kept} of {len(story.promises)} kept.**")
        for promise in story.promises:
            mark = "✅ **kept**" if promise.held else "❌ **not kept**"
            st.markdown(f"{mark}: {promise.says}. {promise.reason}")
