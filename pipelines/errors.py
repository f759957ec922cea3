"""The base of every error OpsLab shows to a person as one sentence (CLI stderr, `st.error`)."""

__all__ = ["OpsLabError"]


class OpsLabError(Exception):
    """An expected failure with a message written for the user: what is wrong and what to do."""
