"""History queries the dashboard uses, over a generated store of 100k runs and 1M steps.

`generate_workspace` makes a workspace that reads like a long play at any size (the page benchmark
and tests/test_big_history.py use it too).

Target (issue 2): at most 50 ms each. For comparison, MLflow 3.17's `search_runs` filtered and
sorted by a metric took 7 s over 10k runs on this kind of machine (DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.store import Store
from pipelines.store.queries import runs_by_metric, runs_table, weekly_run_summary


def generate_workspace(
    store: Store,
    workspace: str = "bench",
    *,
    runs: int = 100_000,
    steps: int = 1_000_000,
    weeks: int = 104,
    seed: int = 7,
) -> dict[str, int]:
    """A workspace that reads like a long played one, at any size: `runs` runs with `steps` steps
    in all, and the deployments, changes, incidents, weekly rows, drift, model versions, alias moves
    and artifacts such a history has in realistic proportions. Seeded; returns each table's row count.

    Proportions: 90 % DevOps runs (a CI run per push), a release for about one succeeded DevOps run
    in ten with one to five commits each, 3 % of releases rolled back after an incident; 10 % MLOps
    runs, each that passes its gate (about a third) promoted to champion.
    """
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2011-01-03")
    span_s = weeks * 7 * 86_400
    per_run = max(len(_DEVOPS_CORE), min(len(DEVOPS_STEPS), round(steps / max(runs, 1))))
    ids = np.array([f"r{i:07d}" for i in range(runs)])
    kinds = np.where(rng.random(runs) < 0.9, "devops", "mlops")
    sim = start + pd.to_timedelta(np.sort(rng.integers(3600, span_s, runs)), unit="s")
    duration = rng.gamma(2.0, 900.0, runs) + 200.0
    devops = kinds == "devops"
    trigger = np.where(devops, "commit", rng.choice(
        ["schedule", "drift", "performance", "manual"], size=runs, p=[0.5, 0.25, 0.1, 0.15]))  # fmt: skip
    first_mlops = np.flatnonzero(~devops)[:1]
    trigger[first_mlops] = "initial"
    failed = rng.random(runs) < np.where(devops, 0.12, 0.06)
    status = np.where(failed, "failed", "succeeded")
    # The gate promotes about a third of the models that trained (the first always: no champion yet).
    promote = ~devops & ~failed & (rng.random(runs) < 0.35)
    promote[np.flatnonzero(~devops & ~failed)[:1]] = True
    sha = np.array([f"{a:016x}{b:016x}{c:08x}" for a, b, c in rng.integers(0, 2**62, (runs, 3))])
    label = np.where(devops, np.char.add("change ", np.char.array(sha).astype(str)), "")
    label = np.array([lab[:14] if d else f"window 8 weeks to {t:%Y-%m-%d}"
                      for lab, d, t in zip(label, devops, sim, strict=True)])  # fmt: skip
    started = sim.to_numpy()
    finished = started + pd.to_timedelta(duration, unit="ms").to_numpy()
    error = np.where(failed, np.where(devops, "tests failed: 2 of 48", "validation failed: temp out of range"),
                     None)  # fmt: skip
    store.ensure_workspace(workspace, scenario="generated", seed=seed,
                           settings={"weeks": weeks, "runs": runs, "steps": steps}, settings_hash="generated")  # fmt: skip
    store.insert_frame("runs", pd.DataFrame({
        "run_id": ids, "workspace": workspace, "kind": kinds, "trigger": trigger, "status": status,
        "sim_time": sim, "started_at": started, "finished_at": finished, "duration_ms": duration,
        "input_fingerprint": sha, "config_hash": "generated", "label": label, "error": error,
    }))  # fmt: skip

    # Steps: each kind's names (its core steps always), a failed run fails at its check step and
    # skips the rest. Written in slices so memory stays bounded at 1M rows.
    counts = {"runs": runs, "steps": 0}
    for kind, names, core, check in (("devops", DEVOPS_STEPS, _DEVOPS_CORE, "test"),
                                     ("mlops", MLOPS_STEPS, _MLOPS_CORE, "validate")):  # fmt: skip
        chosen = _pick_steps(names, core, per_run)
        rows = np.flatnonzero(kinds == kind)
        fail_at = chosen.index(check)
        for chunk in np.array_split(rows, max(1, len(rows) // 50_000)):
            n = len(chunk)
            frames = []
            offset = np.zeros(n)
            for pos, name in enumerate(chosen):
                bad = failed[chunk]
                step_status = np.where(
                    ~bad | (pos < fail_at), "succeeded", np.where(pos == fail_at, "failed", "skipped")
                )
                took = np.where(step_status == "skipped", 0.0, duration[chunk] / len(chosen))
                begin = started[chunk] + pd.to_timedelta(offset, unit="ms").to_numpy()
                offset = offset + took
                frames.append(pd.DataFrame({
                    "run_id": ids[chunk], "workspace": workspace, "position": pos, "name": name,
                    "status": step_status, "started_at": begin,
                    "finished_at": begin + pd.to_timedelta(took, unit="ms").to_numpy(), "duration_ms": took,
                    "metrics": _step_metrics(rng, name, promote[chunk]), "log_tail": None,
                    "error": np.where(step_status == "failed", error[chunk], None),
                }))  # fmt: skip
            frame = pd.concat(frames, ignore_index=True)
            store.insert_frame("steps", frame)
            counts["steps"] += len(frame)
    counts.update(_generate_records(store, workspace, rng, ids, kinds, trigger, status, promote, sim, sha,
                                    duration, start, weeks))  # fmt: skip
    return counts


DEVOPS_STEPS = ("checkout", "lint", "build", "unit-tests", "test", "integration-tests", "package",
                "security-scan", "publish", "deploy")  # fmt: skip
MLOPS_STEPS = ("ingest", "validate", "profile", "train", "tune", "evaluate", "explain", "register",
               "package", "deploy")  # fmt: skip
_DEVOPS_CORE = ("checkout", "build", "test", "deploy")
_MLOPS_CORE = ("ingest", "validate", "train", "evaluate", "register", "deploy")


def _pick_steps(names: tuple[str, ...], core: tuple[str, ...], count: int) -> list[str]:
    """`count` of `names` in their order, the core ones always among them."""
    extra = [n for n in names if n not in core][: max(0, count - len(core))]
    return [n for n in names if n in core or n in extra]


def _step_metrics(rng: np.random.Generator, name: str, promote: np.ndarray) -> list[str]:
    n = len(promote)
    if name == "evaluate":
        mae = rng.gamma(5, 8, n)
        champion = np.where(promote, mae * rng.uniform(1.02, 1.2, n), mae * rng.uniform(0.8, 0.98, n))
        return [json.dumps({"mae": float(m), "rmse": float(m * 1.4), "r2": 0.8, "gate_metric": "mae",
                            "champion_mae": float(c), "champion_version": 1, "gate_margin": 0.0,
                            "gate_decision": "promote" if m < c else "keep",
                            "gate_reason": "challenger beats champion" if m < c else "champion is better"})
                for m, c in zip(mae, champion, strict=True)]  # fmt: skip
    if name == "test":
        return [json.dumps({"passed": int(p), "failed": 0}) for p in rng.integers(40, 60, n)]
    return ["{}"] * n


def _hexes(rng: np.random.Generator, n: int, words: int = 4) -> list[str]:
    return ["".join(f"{w:016x}" for w in row) for row in rng.integers(0, 2**62, (n, words))]


FEATURES = ("temp", "atemp", "hum", "windspeed", "hour", "weekday", "month", "season", "holiday",
            "workingday", "weather", "year")  # fmt: skip


def _generate_records(
    store: Store, workspace: str, rng: np.random.Generator, ids: np.ndarray, kinds: np.ndarray,
    trigger: np.ndarray, status: np.ndarray, promote: np.ndarray, sim: pd.DatetimeIndex, sha: np.ndarray, duration: np.ndarray,
    start: pd.Timestamp, weeks: int,
) -> dict[str, int]:  # fmt: skip
    done = sim + pd.to_timedelta(duration, unit="ms")
    ok = status == "succeeded"
    # -- releases, rollbacks, incidents and the changes each release shipped
    released = np.flatnonzero((kinds == "devops") & ok & (rng.random(len(ids)) < 0.1))
    n_rel = len(released)
    rel_ids = np.array([f"d{i:07d}" for i in range(n_rel)])
    rel_time = done[released]
    refs = np.array([s[:7] for s in sha[released]])
    bad = rng.random(n_rel) < 0.03
    bad[0] = False
    opened = rel_time + pd.to_timedelta(rng.uniform(1, 48, n_rel), unit="h")
    resolved = opened + pd.to_timedelta(rng.uniform(0.5, 6, n_rel), unit="h")
    back = np.flatnonzero(bad)
    back_ids = np.array([f"b{i:07d}" for i in range(len(back))])
    deploys = pd.concat([
        pd.DataFrame({"deployment_id": rel_ids, "kind": "release", "ref": refs, "run_id": ids[released],
                      "sim_time": rel_time, "commit_sha": sha[released], "unplanned": False, "reason": None,
                      "rolled_back": bad}),
        pd.DataFrame({"deployment_id": back_ids, "kind": "release", "ref": refs[back - 1], "run_id": None,
                      "sim_time": resolved[back], "commit_sha": sha[released][back - 1], "unplanned": True,
                      "reason": [f"rollback: incident on {r}" for r in refs[back]], "rolled_back": False}),
    ], ignore_index=True).sort_values("sim_time", kind="stable", ignore_index=True)  # fmt: skip
    deploys["replaced_by"] = deploys["deployment_id"].shift(-1)
    deploys["replaced_sim_time"] = deploys["sim_time"].shift(-1)
    per = rng.integers(1, 6, n_rel)
    owner = np.repeat(np.arange(n_rel), per)
    lead_h = rng.gamma(1.5, 14.0, len(owner)) + 0.2
    change_sha = np.array(_hexes(rng, len(owner), 3))
    last = np.cumsum(per) - 1
    change_sha[last] = sha[released]  # the commit a release built is its newest change
    lead_h[last] = np.minimum(lead_h[last], lead_h[last - per + 1] if n_rel else lead_h[last])
    committed = rel_time[owner] - pd.to_timedelta(lead_h, unit="h")
    deploys = deploys.merge(
        pd.DataFrame({"deployment_id": rel_ids, "commit_time": committed[last]}),
        how="left",
        on="deployment_id",
    )
    pending = 5
    changes = pd.DataFrame({
        "commit_sha": np.concatenate([change_sha, _hexes(rng, pending, 3)]),
        "change_id": None,
        "kind": rng.choice(["feature", "refactor", "fix", "perf-regression", "revert"], len(owner) + pending,
                           p=[0.5, 0.2, 0.2, 0.05, 0.05]),
        "message": "generated change",
        "committed_sim_time": committed.append(pd.DatetimeIndex([sim.max()] * pending)),
        "deployment_id": np.concatenate([rel_ids[owner], [None] * pending]),
        "deployed_sim_time": rel_time[owner].append(pd.DatetimeIndex([pd.NaT] * pending)),
    })  # fmt: skip
    incidents = pd.DataFrame({
        "incident_id": [f"i{i:07d}" for i in range(len(back))], "kind": "service", "status": "resolved",
        "opened_sim_time": opened[back], "resolved_sim_time": resolved[back], "opened_at": opened[back],
        "resolved_at": resolved[back], "cause": refs[back], "cause_deployment_id": rel_ids[back],
        "detected_by": "error-rate alarm", "summary": "error rate above 5%", "rollback_deployment_id": back_ids,
    })  # fmt: skip

    # -- models: every succeeded MLOps run registers a version; the gate promotes about a third
    trained = np.flatnonzero((kinds == "mlops") & ok)
    promoted = promote[trained]
    version = np.arange(1, len(trained) + 1)
    model_time = done[trained]
    versions = pd.DataFrame({
        "version": version, "run_id": ids[trained], "path": [f"models/v{v}.pkl" for v in version],
        "sha256": _hexes(rng, len(trained)),
        "metrics": [json.dumps({"mae": float(m), "rmse": float(m * 1.4)}) for m in rng.gamma(5, 8, len(trained))],
        "dataset": "simulated", "task": "regression", "window_start": model_time - pd.Timedelta(weeks=8),
        "window_end": model_time, "data_fingerprint": sha[trained], "settings_hash": "generated",
        "sim_time": model_time, "created_at": model_time,
    })  # fmt: skip
    champions = np.flatnonzero(promoted)
    model_deploys = pd.DataFrame({
        "deployment_id": [f"m{i:07d}" for i in range(len(champions))], "kind": "model",
        "ref": [f"v{v}" for v in version[champions]], "run_id": ids[trained][champions],
        "sim_time": model_time[champions], "unplanned": False,
        "reason": [f"trigger: {t}" for t in trigger[trained][champions]], "rolled_back": False,
    })  # fmt: skip
    model_deploys["replaced_by"] = model_deploys["deployment_id"].shift(-1)
    model_deploys["replaced_sim_time"] = model_deploys["sim_time"].shift(-1)
    previous = np.concatenate([[None], version[champions][:-1]]) if len(champions) else []
    moves = pd.concat([
        pd.DataFrame({"alias": "challenger", "version": version, "previous_version": None,
                      "sim_time": model_time, "reason": "newly trained", "run_id": ids[trained]}),
        pd.DataFrame({"alias": "champion", "version": version[champions], "previous_version": previous,
                      "sim_time": model_time[champions], "reason": "challenger beats champion",
                      "run_id": ids[trained][champions]}),
    ], ignore_index=True)  # fmt: skip
    moves.insert(0, "move_id", [f"a{i:07d}" for i in range(len(moves))])
    moves["moved_at"] = moves["sim_time"]
    model_bad = np.flatnonzero(rng.random(len(champions)) < 0.05)
    model_opened = model_time[champions][model_bad] + pd.Timedelta(days=3)
    incidents = pd.concat([incidents, pd.DataFrame({
        "incident_id": [f"q{i:07d}" for i in range(len(model_bad))], "kind": "model", "status": "resolved",
        "opened_sim_time": model_opened, "resolved_sim_time": model_opened + pd.Timedelta(days=4),
        "opened_at": model_opened, "resolved_at": model_opened + pd.Timedelta(days=4),
        "cause": model_deploys["ref"].to_numpy()[model_bad],
        "cause_deployment_id": model_deploys["deployment_id"].to_numpy()[model_bad],
        "detected_by": "quality alarm", "summary": "realized mae above its baseline", "rollback_deployment_id": None,
    })], ignore_index=True)  # fmt: skip
    deploys = pd.concat([deploys, model_deploys], ignore_index=True)
    deploys["environment"] = "production"
    deploys["deployed_at"] = deploys["sim_time"]

    # -- the weeks: what served, the service's health, the model's quality, drift
    week = np.arange(1, weeks + 1)
    week_end = start + pd.to_timedelta(week * 7, unit="D")
    live_rel = np.searchsorted(rel_time.to_numpy(), week_end.to_numpy(), side="right") - 1
    live_model = np.searchsorted(model_time[champions].to_numpy(), week_end.to_numpy(), side="right") - 1
    requests = rng.integers(800, 1500, weeks)
    errors = rng.binomial(requests, 0.004)
    drift_stat = rng.gamma(1.2, 0.06, (weeks, len(FEATURES) + 1))
    drifted = drift_stat >= 0.1
    share = drifted[:, : len(FEATURES)].mean(axis=1)
    quality = rng.gamma(20, 1.0, weeks)
    weekly = pd.DataFrame({
        "week": week, "sim_time": week_end,
        "release": np.where(live_rel >= 0, refs[np.maximum(live_rel, 0)] if n_rel else None, None),
        "model_version": np.where(live_model >= 0, version[champions][np.maximum(live_model, 0)]
                                  if len(champions) else 0, None),
        "requests": requests, "errors": errors, "error_rate": errors / requests,
        "latency_p50_ms": rng.gamma(10, 1.0, weeks), "latency_p95_ms": rng.gamma(25, 1.0, weeks),
        "quality": quality, "quality_never_retrained": quality * np.linspace(1.0, 1.6, weeks),
        "quality_estimated": quality * rng.uniform(0.9, 1.1, weeks), "drift_share": share,
        "quality_metric": "mae", "quality_direction": "lower", "dataset_drift": share >= 0.5,
        "retrain_decision": "keep", "retrain_reason": "no dataset drift", "rows": 168,
        "quality_baseline": 20.0,
    })  # fmt: skip
    features = (*FEATURES, "prediction")
    drift = pd.DataFrame({
        "week": np.repeat(week, len(features)), "sim_time": np.repeat(week_end, len(features)),
        "feature": np.tile(features, weeks), "test": "wasserstein", "statistic": drift_stat.ravel(),
        "threshold": 0.1, "drifted": drifted.ravel(), "n_reference": 1344, "n_current": 168,
    })  # fmt: skip
    builds = np.flatnonzero(kinds == "devops")
    artifacts = pd.DataFrame({
        "artifact_id": [f"f{i:07d}" for i in range(len(builds))], "run_id": ids[builds], "step": "build",
        "kind": "build", "path": [f"artifacts/bikeservice-{s[:12]}.pyz" for s in sha[builds]],
        "sha256": _hexes(rng, len(builds)), "size_bytes": 8704, "created_at": sim[builds],
    })  # fmt: skip
    play = pd.DataFrame([{
        "scenario_run_id": "generated", "scenario": "generated", "seed": 0, "settings": "{}", "status": "succeeded",
        "weeks_planned": weeks, "weeks_done": weeks, "started_at": start, "finished_at": week_end[-1],
        "data_played": "simulated",
    }])  # fmt: skip
    tables = {"deployments": deploys, "changes": changes, "incidents": incidents, "model_versions": versions,
              "alias_moves": moves, "weekly": weekly, "drift": drift, "artifacts": artifacts, "scenario_runs": play}  # fmt: skip
    for name, frame in tables.items():
        store.insert_frame(name, frame.assign(workspace=workspace))
    return {name: len(frame) for name, frame in tables.items()}


def timed(fn, repeats: int = 7) -> tuple[float, int]:
    fn()  # warm: the first query parses the file's metadata
    times = []
    rows = 0
    for _ in range(repeats):
        t = time.perf_counter()
        rows = len(fn())
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        t = time.perf_counter()
        generate_workspace(store, "bench", runs=args.runs, steps=args.steps)
        print(f"store: generated {args.runs:,} runs and {args.steps:,} steps in {time.perf_counter() - t:.1f} s "
              f"({store.path.stat().st_size / 1e6:.0f} MB)")  # fmt: skip
        cases = {
            "top 100 mlops runs by evaluate.mae": lambda: runs_by_metric(
                store, "bench", kind="mlops", step="evaluate", metric="mae"),
            "top 100 devops runs by test.passed": lambda: runs_by_metric(
                store, "bench", kind="devops", step="test", metric="passed"),
            "weekly aggregates per pipeline": lambda: weekly_run_summary(store, "bench"),
            "runs table, devops (newest 1000)": lambda: runs_table(store, "bench", "devops"),
        }  # fmt: skip
        print(f"{'query':<40} {'median ms':>10} {'rows':>8}  (target <= 50 ms; incl. connection open)")
        for name, fn in cases.items():
            ms, rows = timed(fn)
            print(f"{name:<40} {ms:>10.1f} {rows:>8}")


if __name__ == "__main__":
    main()
