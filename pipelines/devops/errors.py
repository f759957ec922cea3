"""Errors of the DevOps pipeline, each carrying one sentence a person can act on.

A step catches ``DevOpsError`` and records its message as the step's error text; the CLI and
the dashboard show the same sentence, never a traceback.
"""

from __future__ import annotations

from pipelines.errors import OpsLabError


class DevOpsError(OpsLabError):
    """Something in the DevOps pipeline could not be done; the message says what and why."""


class GitError(DevOpsError):
    """git is missing, or a git command on the workspace repository failed."""


class ChangeError(DevOpsError):
    """A scripted change cannot be applied: unknown, out of order, or its text is not there."""


class BuildError(DevOpsError):
    """The tree cannot be built into an artifact (e.g. a syntax error, named by file and line)."""


class TestRunError(DevOpsError):
    """The service's test suite could not be run at all (not: some tests failed)."""

    __test__ = False  # not a pytest test class, despite the name


class DeployError(DevOpsError):
    """The artifact did not come up as a healthy server (port in use, crash, no health)."""
