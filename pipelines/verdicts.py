"""One sentence that teaches what a pipeline run did, from the run's own record (the CLI's JSON).

"stopped at test: 2 failing tests (tests.test_hour_24::test_hour_24_is_midnight, ...)", or
"trained v7; the gate kept the champion: challenger mae 51.58 vs champion 49.57 ...": what the
Control room says when a run it started ends, so a learner sees the lesson, not an exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["run_verdict"]


def _first_sentence(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."


def _failed_tests(step: Mapping[str, Any]) -> str | None:
    metrics = step.get("metrics") or {}
    failing: Sequence[str] = metrics.get("failing") or []
    count = int(metrics.get("failed") or 0) + int(metrics.get("errors") or 0)
    if not count:
        return None
    names = ", ".join(failing[:3]) + (", ..." if len(failing) > 3 else "")
    return f"{count} failing test{'s' if count != 1 else ''}" + (f" ({names})" if names else "")


def run_verdict(kind: str, result: Mapping[str, Any]) -> str:
    """What the run of `kind` ("devops" or "mlops") did, in one sentence, from its JSON summary."""
    steps = {s["name"]: s for s in result.get("steps") or ()}
    failed = next((s for s in result.get("steps") or () if s.get("status") == "failed"), None)
    if result.get("status") != "succeeded":
        if failed is None:
            return f"{result.get('status', 'failed')}: {_first_sentence(result.get('error'))}".rstrip(": ")
        why = (_failed_tests(failed) if failed["name"] == "test" else None) or _first_sentence(
            failed.get("error")
        )
        return f"stopped at {failed['name']}: {why}"
    if kind == "devops":
        test = (steps.get("test") or {}).get("metrics") or {}
        deploy = steps.get("deploy") or {}
        checkout = (steps.get("checkout") or {}).get("metrics") or {}
        ref = str(checkout.get("commit") or "")[:7]
        tested = f"{int(test.get('passed') or 0)} tests passed" if test else "tested"
        if deploy.get("status") == "succeeded":
            served = (deploy.get("metrics") or {}).get("requests")
            smoke = f", smoke test answered {served} requests" if served else ""
            return f"built, tested ({tested}) and deployed release {ref}{smoke}"
        return f"built and tested ({tested}); not deployed: {_first_sentence(deploy.get('error'))}"
    version = ((steps.get("register") or {}).get("metrics") or {}).get("version")
    gate = ((steps.get("evaluate") or {}).get("metrics") or {}).get("gate_reason")
    trained = f"trained v{version}" if version is not None else "trained a challenger"
    deployed = (steps.get("deploy") or {}).get("status") == "succeeded"
    verdict = f"the gate {'promoted it' if deployed else 'kept the champion'}"
    return f"{trained}; {verdict}" + (f": {gate}" if gate else "")
