"""The GitLab importer (issue #12): the same history as tests/data/github, in GitLab's REST API v4 shapes.

tests/data/gitlab: pipelines 201-203, 205, 206 build c1..c5 pushed to main (c4 reverts c3), 204 is a
merge request's (failed), 207 a schedule still running; production deployments 401 (c2), 402 (c3),
403 (c4), 404 (c5, failed), 405 (c5), 406 (c4 again: a rollback redeploy); 407 went to staging.
Issue #12 (label "incident", root cause c3 abbreviated) lasted 18 hours; #14 is of GitLab's incident
type without a root cause; #13 is a bug. Commit times come from the jobs' and deployments' commits.
"""

from __future__ import annotations

import json
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipelines.devops.metrics import dora_keys
from pipelines.importers import ImportFormatError
from pipelines.importers.gitlab import import_gitlab
from pipelines.importers.pages import read_pages
from pipelines.store import Store
from pipelines.store.landing_sql import imports_log

DATA = Path(__file__).parent / "data" / "gitlab"


def _count(store: Store, table: str) -> int:
    return len(store.select(table, "gl"))


def _rows(store: Store, table: str, key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in store.select(table, "gl").to_dict("records")}


def test_saved_pages_give_the_hand_counted_keys_and_a_reimport_adds_nothing(store: Store) -> None:
    summary = import_gitlab(store, "gl", DATA)
    assert summary.records == summary.new_records == 25 and summary.note is None

    runs = _rows(store, "runs", "run_id")
    assert runs["gitlab:run:207"]["status"] == "running"
    assert runs["gitlab:run:204"]["status"] == "failed"
    assert runs["gitlab:deployment:404"]["status"] == "failed"  # a failed deployment is a failed run
    assert runs["gitlab:run:201"]["duration_ms"] == 240_000  # from the first job's start to the last's end
    steps = store.select("steps", "gl")
    assert list(steps[steps["run_id"] == "gitlab:run:204"].sort_values("position")["status"]) == [
        "failed",
        "skipped",
    ]
    releases = _rows(store, "deployments", "deployment_id")
    assert sorted(releases) == [f"gitlab:deployment:{i}" for i in (401, 402, 403, 405, 406)]
    assert releases["gitlab:deployment:405"]["rolled_back"]
    incidents = _rows(store, "incidents", "incident_id")
    assert incidents["gitlab:issue:5012"]["cause_deployment_id"] == "gitlab:deployment:402"
    assert incidents["gitlab:issue:5012"]["detected_by"] == "gitlab issue #12"
    assert "gitlab:issue:5014" in incidents  # GitLab's own incident type, no label needed

    keys = {k.key: k for k in dora_keys(store, "gl")}
    assert keys["deployment_frequency"].n == 3
    assert keys["change_failure_rate"].value == pytest.approx(100 * 2 / 3)
    assert keys["failed_deployment_recovery_time"].value == pytest.approx(18 / 24)
    assert keys["deployment_rework_rate"].value == pytest.approx(100 * 2 / 5)
    assert keys["lead_time_for_changes"].n == 5  # the merge request's commit is not a change of main
    assert keys["lead_time_for_changes"].value == pytest.approx((2 + 5 / 60) / 24)

    counts = {t: _count(store, t) for t in ("runs", "steps", "deployments", "changes", "incidents")}
    again = import_gitlab(store, "gl", DATA)
    assert (again.records, again.new_records) == (25, 0)
    assert {t: _count(store, t) for t in counts} == counts


def test_a_malformed_file_names_the_file_and_field_and_writes_nothing(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved"
    shutil.copytree(DATA, saved)
    pages = read_pages(saved / "deployments.json")
    pages[1][0]["environment"] = None
    (saved / "deployments.json").write_text("".join(json.dumps(p) for p in pages))
    with pytest.raises(ImportFormatError) as info:
        import_gitlab(store, "gl", saved)
    assert str(info.value) == (
        f"{saved / 'deployments.json'}: page 2, [0].environment.name is missing; nothing was imported."
    )
    assert not store.exists() or _count(store, "runs") == 0

    from pipelines.cli import main  # the CLI says the same sentence, and nothing more

    assert main(["--db", str(tmp_path / "history"), "import", "gitlab", str(saved), "--workspace", "gl"]) == 2
    assert capsys.readouterr().err == f"opslab: {info.value}\n"


# -- live ----------------------------------------------------------------------------------------
class FakeGitLab:
    """The recorded pages served as GitLab serves them: `Link` paging, `updated_after` filtering."""

    def __init__(self) -> None:
        self.items = {
            name: [item for page in read_pages(DATA / f"{name}.json") for item in page]
            for name in ("pipelines", "jobs", "deployments", "issues")
        }
        self.requests: list[tuple[str, dict[str, str], str | None]] = []

    def answer(self, path: str, query: dict[str, str], base: str) -> tuple[Any, str | None]:
        prefix = "/api/v4/projects/bikes%2Fservice/"
        assert path.startswith(prefix), path
        what = path[len(prefix) :]
        after = _time(query["updated_after"]) if "updated_after" in query else datetime.min
        if what.startswith("pipelines/") and what.endswith("/jobs"):
            pipeline = int(what.split("/")[1])
            return [j for j in self.items["jobs"] if j["pipeline"]["id"] == pipeline], None
        found = [i for i in self.items[what] if _time(i["updated_at"] or i["created_at"]) > after]
        if what == "deployments":
            found = [d for d in found if d["environment"]["name"] == query["environment"]]
        if what == "issues":
            found = [i for i in found if query["labels"] in i["labels"] or i["issue_type"] == "incident"]
        page, size = int(query.get("page", "1")), 2  # small pages: the client must follow the links
        more = page * size < len(found)
        link = f"{base}{path}?{urllib.parse.urlencode({**query, 'page': page + 1})}" if more else None
        return found[(page - 1) * size : page * size], link


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


@pytest.fixture
def fake_gitlab() -> Iterator[tuple[FakeGitLab, str]]:
    fake = FakeGitLab()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            fake.requests.append((url.path, query, self.headers.get("PRIVATE-TOKEN")))
            body, link = fake.answer(self.path.split("?")[0], query, base)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if link:
                self.send_header("Link", f'<{link}>; rel="next"')
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake, base
    finally:
        server.shutdown()
        server.server_close()


def test_live_reads_the_project_and_then_only_what_was_updated(
    store: Store, fake_gitlab: tuple[FakeGitLab, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, base = fake_gitlab
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-never-stored")
    first = import_gitlab(store, "gl", f"{base}/bikes/service")  # the project's URL names the instance
    assert first.new_records == 25 - 2  # asked for production deployments and incident issues only
    assert {token for _, _, token in fake.requests} == {"glpat-never-stored"}
    assert (
        _count(store, "deployments") == 5 and _count(store, "incidents") == 2 and _count(store, "steps") == 8
    )
    assert imports_log(store, "gl")["location"].iloc[0] == f"{base}/api/v4/projects/bikes%2Fservice"
    assert "glpat" not in json.dumps(store.select("imports", "gl").astype(str).to_dict("records"))

    # the scheduled pipeline finished: the second import asks only after the last update it saw
    scheduled = next(p for p in fake.items["pipelines"] if p["id"] == 207)
    scheduled.update(status="success", updated_at="2026-03-10T03:20:00.000Z")
    fake.requests.clear()
    second = import_gitlab(store, "gl", f"{base}/bikes/service")
    assert second.new_records == 1
    asked = {p.rsplit("/", 1)[-1]: q.get("updated_after") for p, q, _ in fake.requests if "page" not in q}
    assert asked["pipelines"] == "2026-03-10T03:01:00Z"
    assert asked["issues"] == "2026-03-10T09:30:00Z"
    assert _rows(store, "runs", "run_id")["gitlab:run:207"]["status"] == "succeeded"
