"""Importing a big git history (issue 12): a generated repository of 100k commits, read and landed.

The repository is written in one `git fast-import` stream (seconds, no commit command per commit): a
main line of seeded commits, a semantic-version tag every 100 commits, and now and then a revert of a
commit just released followed by a quick patch release. The figure is `import_git`'s wall time, the
first import and a re-import that finds nothing new. Target: seconds for 100k commits.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from pipelines.importers.git import import_git
from pipelines.store import Store

START = 1_700_000_000  # 2023-11-14, seconds since the epoch


def build_repo(path: Path, commits: int, seed: int = 7, tag_every: int = 100) -> float:
    """Write `commits` commits on main through one `git fast-import`: a tag every `tag_every` commits, and
    after 5 % of the releases a revert of the released commit, tagged at once as a patch release.

    The commits change no file (every one keeps the empty tree): the importer reads commits and tags,
    never trees, and writing 100k trees and blobs would only slow the set-up. A revert's message names
    the sha of the commit it reverts, which exists only once fast-import has written it: `get-mark`
    asks fast-import for it on the same pipe."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    times = START + np.cumsum(rng.integers(60, 4 * 3600, commits))
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(["git", "-C", str(path), "fast-import", "--quiet", "--done"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    minor = patch = 0
    reverted: str | None = None
    chunk: list[str] = []
    for i in range(commits):
        mark, when = i + 1, int(times[i])
        if reverted is not None:
            body = f'Revert "change"\n\nThis reverts commit {reverted}.\n'
        else:
            body = f"{rng.choice(['feat', 'fix', 'refactor', 'docs'])}: change {mark}\n"
        data = body.encode()
        chunk.append(f"commit refs/heads/main\nmark :{mark}\nauthor Bench <b@example.org> {when - 600} +0000\n"
                     f"committer Bench <b@example.org> {when} +0000\ndata {len(data)}\n{body}"
                     + (f"from :{mark - 1}\n" if i else "")
                     + "\n")  # fmt: skip
        tag = None
        if reverted is not None:
            patch, reverted = patch + 1, None
            tag = f"v1.{minor}.{patch}"
        elif (i + 1) % tag_every == 0:
            minor, patch = minor + 1, 0
            tag = f"v1.{minor}.0"
        if tag is not None:
            chunk.append(
                f"tag {tag}\nfrom :{mark}\ntagger Bench <b@example.org> {when + 60} +0000\ndata 0\n\n"
            )
            if patch == 0 and rng.random() < 0.05:  # a bad release: reverted right after it
                proc.stdin.write("".join(chunk).encode() + f"get-mark :{mark}\n".encode())
                proc.stdin.flush()
                chunk = []
                reverted = proc.stdout.readline().decode().strip()
    proc.stdin.write("".join(chunk).encode() + b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    return time.perf_counter() - started


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (git): the figure a busy machine does not
    inflate, beside the wall time it does."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks import")
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20k commits")
    args = parser.parse_args(argv)
    commits = 20_000 if args.quick else args.commits
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        built = build_repo(repo, commits)
        print(f"generated a repository of {commits:,} commits with git fast-import in {built:.1f} s")
        store = Store(Path(tmp) / "history.duckdb")
        for what in ("first import", "re-import (nothing new)"):
            cpu, started = _cpu_s(), time.perf_counter()
            summary = import_git(store, "bench", repo)
            took, cpu = time.perf_counter() - started, _cpu_s() - cpu
            print(f"git {what}: {took:.1f} s wall, {cpu:.1f} s CPU for {summary.records:,} records "
                  f"({summary.new_records:,} new)")  # fmt: skip
