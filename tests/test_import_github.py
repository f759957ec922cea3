"""The GitHub importer (issue #12): saved `gh api` pages and the live API give the same history.

tests/data/github holds pages in the REST API's documented shapes (API version 2022-11-28), one small
history counted by hand:

- commits c1..c5 on main (c4 reverts c3), each pushed and built (workflow runs 1-3, 5, 6), a pull
  request's run (4, failed) and a nightly run still in progress (7);
- production deployments 101 (c2), 102 (c3), 103 (c4: the revert), 104 (c5: failed), 105 (c5),
  106 (c4 again: a rollback redeploy, so 105 was rolled back); 107 went to staging;
- issue #12 (label "Incident", root cause c3) from 03-04 18:00 to 03-05 12:00; issue #14 ("incident",
  no root cause); #13 is a bug, #15 a pull request.
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipelines.devops.metrics import dora_keys
from pipelines.importers import ImportFormatError
from pipelines.importers.github import import_github
from pipelines.importers.pages import read_pages
from pipelines.store import Store
from pipelines.store.landing_sql import ImportSummary, imports_log

DATA = Path(__file__).parent / "data" / "github"
SHA = {
    "c1": "2f22765d04931a078909145ca628d2264c852d7d",
    "c3": "a625406f6977d45c1391b078f4d3656e0b75bfcb",
    "c4": "e4666a670f042877c67a84473a71675ee0950a08",
    "c5": "8dc29fc58c0bd99068c2e5c752aa61521d4f11ce",
}


def _count(store: Store, table: str, workspace: str = "gh") -> int:
    return len(store.select(table, workspace))


def _rows(store: Store, table: str, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in store.select(table, "gh").to_dict("records")}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, ImportSummary]:
    """tests/data/github imported once, for the tests that only read it."""
    store = Store(tmp_path_factory.mktemp("github") / "history.duckdb")
    return store, import_github(store, "gh", DATA)


def test_saved_pages_become_runs_steps_releases_changes_and_incidents(
    imported: tuple[Store, ImportSummary],
) -> None:
    store, summary = imported
    assert summary.records == summary.new_records == 38
    # deployments, incidents and every deployed commit's time are known; runs 2, 3, 5 and 6 have no jobs saved
    assert summary.note == (
        "4 finished run(s) have no jobs read (save their jobs pages, or raise --jobs-limit when importing "
        "live), so their steps are unknown."
    )

    runs = _rows(store, "runs", "run_id")
    assert runs["github:run:30433601"]["trigger"] == "commit"
    assert runs["github:run:30433604"]["status"] == "failed"  # the pull request's tests
    assert runs["github:run:30433607"]["trigger"] == "schedule"
    # the failed deployment shipped nothing: a failed run, not a release
    assert runs["github:deployment:104"]["status"] == "failed"
    # a run ends when its last job does; the steps of each job in order, times with any offset
    assert runs["github:run:30433601"]["duration_ms"] == 250_000
    steps = store.select("steps", "gh")
    first = steps[steps["run_id"] == "github:run:30433601"].sort_values("position")
    assert list(first["name"]) == [
        "build: Set up job",
        "build: Run actions/checkout@v4",
        "build: Build",
        "test: Set up job",
        "test: Run pytest",
    ]
    assert list(first["duration_ms"]) == [2000, 8000, 100_000, 2000, 123_000]
    pr = steps[steps["run_id"] == "github:run:30433604"].sort_values("position")
    assert list(pr["status"]) == ["succeeded", "failed", "skipped"]

    releases = _rows(store, "deployments", "deployment_id")
    assert sorted(releases) == [f"github:deployment:{i}" for i in (101, 102, 103, 105, 106)]
    assert releases["github:deployment:101"]["sim_time"] == datetime(2026, 3, 3, 12, 5)  # its success
    assert releases["github:deployment:101"]["run_id"] == "github:run:30433602"
    assert releases["github:deployment:103"]["unplanned"]  # the revert
    assert releases["github:deployment:106"]["unplanned"]  # the rollback redeploy...
    assert releases["github:deployment:105"]["rolled_back"]  # ...of 105
    assert releases["github:deployment:105"]["replaced_by"] == "github:deployment:106"

    changes = _rows(store, "changes", "commit_sha")
    assert len(changes) == 5  # the pull request's head commit is not a change of main
    assert changes[SHA["c1"]]["deployment_id"] == "github:deployment:101"
    assert changes[SHA["c4"]]["kind"] == "revert"

    incidents = _rows(store, "incidents", "incident_id")
    assert sorted(incidents) == ["github:issue:12", "github:issue:14"]
    assert incidents["github:issue:12"]["cause_deployment_id"] == "github:deployment:102"
    assert incidents["github:issue:12"]["detected_by"] == "github issue #12"
    assert pd_isna(incidents["github:issue:14"]["cause_deployment_id"])


def pd_isna(value: Any) -> bool:
    return value is None or value != value


def test_dora_keys_on_the_imported_workspace_are_the_hand_counted_ones(
    imported: tuple[Store, ImportSummary],
) -> None:
    store, _ = imported
    keys = {k.key: k for k in dora_keys(store, "gh")}
    # planned releases 101, 102, 105; 103 (revert) and 106 (rollback) are rework
    assert keys["deployment_frequency"].n == 3
    assert keys["deployment_rework_rate"].value == pytest.approx(100 * 2 / 5)
    # 102 caused incident #12; 105 was rolled back
    assert keys["change_failure_rate"].value == pytest.approx(100 * 2 / 3)
    # #12: 03-04 18:00 -> 03-05 12:00
    assert keys["failed_deployment_recovery_time"].value == pytest.approx(18 / 24)
    # leads: c1 27 h 5 min, c2 2 h 5 min, c3 1 h 10 min, c4 30 min, c5 2 h 10 min: median 2 h 5 min
    assert keys["lead_time_for_changes"].n == 5
    assert keys["lead_time_for_changes"].value == pytest.approx((2 + 5 / 60) / 24)


def test_a_reimport_adds_only_what_is_new(store: Store, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    shutil.copytree(DATA, saved)
    import_github(store, "gh", saved)
    counts = {t: _count(store, t) for t in ("runs", "steps", "deployments", "changes", "incidents")}
    again = import_github(store, "gh", saved)
    assert (again.records, again.new_records) == (38, 0)
    assert {t: _count(store, t) for t in counts} == counts

    # the nightly run finished since, and one more run came: only those two are new
    page = read_pages(saved / "runs.json")[1]
    nightly = dict(
        page["workflow_runs"][-1], status="completed", conclusion="success", updated_at="2026-03-10T03:20:00Z"
    )
    newer = dict(nightly, id=30433699, created_at="2026-03-11T03:00:00Z", updated_at="2026-03-11T03:20:00Z",
                 run_started_at="2026-03-11T03:00:00Z")  # fmt: skip
    (saved / "later.json").write_text(json.dumps({"total_count": 2, "workflow_runs": [nightly, newer]}))
    later = import_github(store, "gh", saved)
    assert later.new_records == 2
    assert _count(store, "runs") == counts["runs"] + 1
    assert _rows(store, "runs", "run_id")["github:run:30433607"]["status"] == "succeeded"
    assert list(imports_log(store, "gh")["new_records"]) == [2, 0, 38]


def test_a_malformed_file_names_the_file_and_field_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    shutil.copytree(DATA, saved)
    pages = read_pages(saved / "runs.json")
    del pages[1]["workflow_runs"][1]["created_at"]
    (saved / "runs.json").write_text("".join(json.dumps(p) for p in pages))
    with pytest.raises(ImportFormatError) as info:
        import_github(store, "gh", saved)
    assert str(info.value) == (
        f"{saved / 'runs.json'}: page 2, workflow_runs[1].created_at is missing; nothing was imported."
    )
    assert not store.exists() or _count(store, "runs") == 0

    (saved / "runs.json").write_text(json.dumps(pages[0]) + '{"total_count": 7, "workflow_runs": [')
    with pytest.raises(ImportFormatError, match=r"runs.json: the JSON at line 1, column \d+ cannot be read"):
        import_github(store, "gh", saved)
    assert not store.exists() or (_count(store, "runs"), _count(store, "landing")) == (0, 0)


def test_a_run_the_source_says_is_running_is_not_taken_for_a_crashed_one(store: Store) -> None:
    import_github(store, "gh", DATA)
    reader = Store(store.path)  # a reader presents the runs a dead OpsLab process left running as interrupted
    assert _rows(reader, "runs", "run_id")["github:run:30433607"]["status"] == "running"
    writer = Store(store.path)
    writer.ensure_workspace("another")  # a new writer recovers them
    assert _rows(writer, "runs", "run_id")["github:run:30433607"]["status"] == "running"


def test_without_issues_or_commit_times_the_note_says_what_is_unknown(store: Store, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("deployments.json", "statuses.json"):
        shutil.copy(DATA / name, saved / name)
    summary = import_github(store, "gh", saved)
    assert summary.note is not None
    assert summary.note.startswith("No issues labelled 'incident' were read")
    assert "change failure rate and recovery time are unknown (not zero)" in summary.note
    assert "4 deployed commit(s) have no known commit time" in summary.note
    assert _count(store, "changes") == 0  # a commit without a time is not recorded as one at zero
    assert imports_log(store, "gh")["note"].iloc[0] == summary.note


# -- live: a local server answering as the API does ---------------------------------------------
def _fixture_items(name: str) -> list[Any]:
    return [item for page in read_pages(DATA / name) for item in (page if isinstance(page, list) else [page])]


class FakeGitHub:
    """The recorded pages served as GitHub serves them: `Link` paging, and at most 1,000 runs per query."""

    def __init__(self, extra_runs: int) -> None:
        pages = read_pages(DATA / "runs.json")
        self.runs = [run for page in pages for run in page["workflow_runs"]]
        template = self.runs[0]
        start = datetime(2026, 1, 1)
        for i in range(extra_runs):  # a busy January: one push every 30 minutes
            at = (start + timedelta(minutes=30 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.runs.append(
                dict(template, id=50_000_000 + i, created_at=at, updated_at=at, run_started_at=at)
            )
        self.jobs = {page["jobs"][0]["run_id"]: page for page in read_pages(DATA / "jobs.json")}
        self.deployments = _fixture_items("deployments.json")
        self.statuses = [s for page in read_pages(DATA / "statuses.json") for s in page]
        self.issues = _fixture_items("issues.json")
        self.requests: list[tuple[str, dict[str, str], str | None]] = []

    def answer(self, path: str, query: dict[str, str], base: str) -> tuple[Any, str | None]:
        prefix = "/repos/octo-org/bike-service"
        assert path.startswith(prefix), path
        path = path[len(prefix) :]
        page = int(query.get("page", "1"))
        if path == "/actions/runs":
            low, high = (_time(t) for t in query["created"].split(".."))
            found = sorted((r for r in self.runs if low <= _time(r["created_at"]) <= high),
                           key=lambda r: r["created_at"], reverse=True)  # fmt: skip
            size = int(query.get("per_page", "30"))
            visible = found[:1000]  # GitHub's cap: the rest of a query's results never come
            items = visible[(page - 1) * size : page * size]
            more = page * size < len(visible)
            return {"total_count": len(found), "workflow_runs": items}, _next(
                base, path, query, page
            ) if more else None
        if path.startswith("/actions/runs/") and path.endswith("/jobs"):
            run_id = int(path.split("/")[3])
            return self.jobs.get(run_id, {"total_count": 0, "jobs": []}), None
        if path == "/deployments":
            found = [
                d for d in self.deployments if d["environment"] == query.get("environment", d["environment"])
            ]
            size = 2  # the server chooses its page size: the client must follow the links
            more = page * size < len(found)
            return found[(page - 1) * size : page * size], _next(base, path, query, page) if more else None
        if path.startswith("/deployments/") and path.endswith("/statuses"):
            wanted = path.split("/")[2]
            return [s for s in self.statuses if s["deployment_url"].endswith(f"/deployments/{wanted}")], None
        if path == "/issues":
            label = query["labels"].lower()
            since = _time(query["since"]) if "since" in query else datetime.min
            return [i for i in self.issues if any(lb["name"].lower() == label for lb in i["labels"])
                    and _time(i["updated_at"]) >= since], None  # fmt: skip
        raise AssertionError(f"unexpected request {path}")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _next(base: str, path: str, query: dict[str, str], page: int) -> str:
    return f"{base}/repos/octo-org/bike-service{path}?{urllib.parse.urlencode({**query, 'page': page + 1})}"


@pytest.fixture
def fake_github() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub(extra_runs=1200)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            fake.requests.append((url.path, query, self.headers.get("Authorization")))
            body, link = fake.answer(url.path, query, base)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if link:
                self.send_header("Link", f'<{link}>; rel="next", <{base}/last>; rel="last"')
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, base
    finally:
        server.shutdown()
        server.server_close()


def test_live_reads_past_the_1000_cap_and_then_only_what_is_new(
    store: Store, fake_github: tuple[FakeGitHub, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, base = fake_github
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken-never-stored")
    first = import_github(store, "gh", "octo-org/bike-service", api_url=base, jobs_limit=10)
    assert _count(store, "runs") == 1207 + 1  # every run, past the cap, and the failed deployment
    run_queries = [q["created"] for p, q, _ in fake.requests if p.endswith("/actions/runs")]
    assert len(set(run_queries)) > 2  # the window was split to stay under the cap
    assert {auth for _, _, auth in fake.requests} == {"Bearer t0ken-never-stored"}
    assert _count(store, "deployments") == 5 and _count(store, "incidents") == 2
    # jobs are read for the newest 10 finished runs only (those of runs 1 and 4 among them)
    assert len([p for p, _, _ in fake.requests if p.endswith("/jobs")]) == 10
    assert _count(store, "steps") == 8
    log = imports_log(store, "gh")
    assert log["location"].iloc[0] == f"{base}/repos/octo-org/bike-service"
    assert "t0ken" not in json.dumps(store.select("imports", "gh").astype(str).to_dict("records"))

    # later: the nightly run finished and two more came; a second import asks from the nightly on
    nightly = next(r for r in fake.runs if r["id"] == 30433607)
    nightly.update(status="completed", conclusion="success", updated_at="2026-03-10T03:30:00Z")
    for i in (1, 2):
        at = f"2026-03-1{i + 1}T08:00:00Z"
        fake.runs.append(dict(nightly, id=30433700 + i, created_at=at, updated_at=at, run_started_at=at))
    fake.requests.clear()
    second = import_github(store, "gh", "octo-org/bike-service", api_url=base, jobs_limit=10)
    assert second.new_records == 3
    assert first.new_records == first.records
    asked = [q["created"] for p, q, _ in fake.requests if p.endswith("/actions/runs")]
    assert asked and all(a.startswith("2026-03-10T03:00:00Z..") for a in asked)
    assert _count(store, "runs") == 1208 + 2
    # no deployment changed (nor waits for a final status): their statuses are not asked for again
    assert not [p for p, _, _ in fake.requests if p.endswith("/statuses")]
    assert _rows(store, "runs", "run_id")["github:run:30433607"]["status"] == "succeeded"


def test_live_without_a_token_says_where_to_put_one(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(Exception, match=r"put a token in \$GITHUB_TOKEN"):
        import_github(store, "gh", "octo-org/bike-service", api_url="http://127.0.0.1:9")


def test_the_cli_imports_into_the_workspace_named_before_or_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import main

    db = tmp_path / "history"
    assert main(["--db", str(db), "import", "github", str(DATA), "--workspace", "mine"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Imported github into workspace 'mine': 38 records read, 38 new or changed")
    assert main(["--db", str(db), "--workspace", "mine", "import", "github", str(DATA)]) == 0
    assert "38 records read, 0 new or changed" in capsys.readouterr().out


def test_a_page_link_to_another_host_is_not_followed_with_the_token() -> None:
    from pipelines.importers.pages import ApiClient, ApiError

    client = ApiClient("https://api.github.com", {"Authorization": "Bearer secret"}, "GitHub", "GITHUB_TOKEN")
    with pytest.raises(ApiError, match=r"page link to https://elsewhere.example, not https://api.github.com"):
        client.get("https://elsewhere.example/repos/o/r/actions/runs?page=2")
    assert client.requests == 0


def test_the_devops_runs_table_reads_imported_runs_with_and_without_steps(
    imported: tuple[Store, ImportSummary],
) -> None:
    from dashboard.figures.devops import runs_frame
    from pipelines.store.queries import runs_table

    store, _ = imported
    table = runs_frame(runs_table(store, "gh", "devops")).set_index("run id")
    # step names may hold a colon ("job: step", GitLab's "test:unit"): the status is after the last one
    assert (
        table.loc["github:run:30433604", "steps"]
        == "✓ test: Set up job → ✗ test: Run pytest → – test: Upload report"
    )
    assert table.loc["github:run:30433602", "steps"] == ""  # its jobs were not saved: no steps, no crash


def test_a_saved_compare_says_which_release_shipped_a_commit(store: Store, tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    shutil.copytree(DATA, saved)
    commits = {c["sha"]: c for c in read_pages(DATA / "commits.json")[0]}
    # c1 reached production with c3's release (102), not with the first release after it (101)
    compare = {"url": "https://api.github.com/repos/octo-org/bike-service/compare/base...head", "status": "ahead",
               "ahead_by": 2, "behind_by": 0, "total_commits": 2, "base_commit": commits[SHA["c1"]],
               "merge_base_commit": commits[SHA["c1"]], "commits": [commits[SHA["c1"]], commits[SHA["c3"]]],
               "files": [{"filename": "service/app.py", "patch": "@@ -1 +1 @@"}]}  # fmt: skip
    (saved / "compare.json").write_text(json.dumps(compare))
    import_github(store, "gh", saved)
    changes = _rows(store, "changes", "commit_sha")
    assert changes[SHA["c1"]]["deployment_id"] == "github:deployment:102"
    assert changes[SHA["c3"]]["deployment_id"] == "github:deployment:102"
