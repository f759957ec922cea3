"""Pages of a CI/CD REST API, saved to files or read live: what the GitHub and GitLab importers share.

Saved: `gh api --paginate` (and `glab api --paginate`) write a list endpoint's pages one after the
other, `{...}{...}` for endpoints that wrap their items (`{"total_count": .., "workflow_runs": [..]}`)
and `[...][...]` for plain lists; `--slurp` writes one array of the pages. `read_pages` reads any of
these. Live: `ApiClient` follows the `Link: <...>; rel="next"` headers the two APIs page with, sends
the token only to the API's own host, and turns HTTP failures into one sentence.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.errors import OpsLabError
from pipelines.importers import ImportFormatError
from pipelines.store.landing_sql import LandedRecord

__all__ = [
    "ApiClient",
    "ApiError",
    "check_time",
    "iso_utc",
    "newest_versions",
    "read_pages",
    "read_time",
    "require",
    "saved_files",
    "unknowns_note",
]

_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def saved_files(location: Path) -> list[Path]:
    """The JSON files of a saved export: the file itself, or every `*.json` under the folder."""
    if location.is_file():
        return [location]
    files = sorted(p for p in location.rglob("*.json") if p.is_file())
    if not files:
        raise OpsLabError(
            f"{location} holds no .json files: save the API's pages there first (see the README)."
        )
    return files


def read_pages(path: Path) -> list[Any]:
    """The JSON values of a file, one per saved page (`{..}{..}`, `[..][..]` or one value)."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    pages: list[Any] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(
                str(path), f"the JSON at line {exc.lineno}, column {exc.colno}", f"cannot be read ({exc.msg})"
            ) from None
        pages.append(value)
    return pages


def newest_versions(records: Iterable[LandedRecord]) -> list[LandedRecord]:
    """One record per (kind, source id): the one the source changed last (files saved at different
    times may hold the same run before and after it finished)."""
    newest: dict[tuple[str, str], LandedRecord] = {}
    for record in records:
        key = (record.kind, record.source_id)
        seen = newest.get(key)
        if seen is None or (record.updated_at or datetime.min) >= (seen.updated_at or datetime.min):
            newest[key] = record
    return list(newest.values())


def require(item: Mapping[str, Any], name: str, where: str, path: str) -> Any:
    """`item[name]`, which the importer needs: a missing or null one names the file and the field."""
    value = item.get(name) if type(item) is dict or isinstance(item, Mapping) else None
    if value is None:
        raise ImportFormatError(where, f"{path}.{name}", "is missing")
    return value


def _parse_time(value: Any, where: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(value if isinstance(value, str) else str(value))
    except ValueError:
        raise ImportFormatError(where, field, f"is not an ISO 8601 time ({value!r})") from None


def check_time(item: Mapping[str, Any], name: str, where: str, path: str, *, required: bool) -> None:
    """Check an ISO 8601 time field (the transforms read it in SQL); absent is fine unless required."""
    value = require(item, name, where, path) if required else item.get(name)
    if value is not None:
        _parse_time(value, where, f"{path}.{name}")


def read_time(
    item: Mapping[str, Any], name: str, where: str, path: str, *, required: bool
) -> datetime | None:
    """An ISO 8601 time field as a naive UTC datetime (None when absent and not required)."""
    value = require(item, name, where, path) if required else item.get(name)
    if value is None:
        return None
    parsed = _parse_time(value, where, f"{path}.{name}")
    offset = parsed.utcoffset()
    return parsed.replace(tzinfo=None) - offset if offset is not None else parsed


def iso_utc(value: datetime) -> str:
    """A time as the APIs' query parameters take it: `2026-03-02T09:00:00Z`."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def unknowns_note(
    environment: str,
    incident_label: str,
    *,
    deployments: int,
    issues: int,
    timeless_commits: int,
    where_times: str,
    runs_without_steps: int = 0,
    where_steps: str = "",
) -> str | None:
    """What a CI/CD history cannot tell, in the words the pages show beside the keys (None: all known)."""
    parts = []
    if not deployments:
        parts.append(
            f"no deployments to {environment!r} were read, so releases, deployment frequency and lead time "
            "are unknown"
        )
    if not issues:
        parts.append(
            f"no issues labelled {incident_label!r} were read, so incidents, change failure rate and recovery "
            "time are unknown (not zero)"
        )
    if timeless_commits:
        parts.append(
            f"{timeless_commits} deployed commit(s) have no known commit time ({where_times}), so their lead "
            "time is unknown"
        )
    if runs_without_steps:
        parts.append(
            f"{runs_without_steps} finished run(s) have no jobs read ({where_steps}), so their steps are unknown"
        )
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


class ApiError(OpsLabError):
    """The API refused or could not be reached: one sentence with the next step."""


@dataclass
class ApiClient:
    """GET JSON from one API host with a token header; follows `Link` paging.

    The token is sent only to `base_url`'s own scheme and host: a `next` link elsewhere is refused.
    """

    base_url: str
    headers: Mapping[str, str]
    service: str  # "GitHub" or "GitLab", for the messages
    token_variable: str  # where the token came from, for the messages
    timeout: float = 30.0
    requests: int = field(default=0, init=False)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params, safe=':.,')}" if params else ""
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}{query}"

    def get(self, url: str) -> tuple[Any, str | None]:
        """One page and the URL of the next one (None on the last page)."""
        self._check_origin(url)
        request = urllib.request.Request(url, headers=dict(self.headers))
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                link = response.headers.get("Link")
        except urllib.error.HTTPError as exc:
            raise ApiError(self._refusal(exc.code, url)) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(
                f"Could not reach the {self.service} API at {self.base_url} ({reason}); check the address and "
                "the network, or import saved pages instead."
            ) from None
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            raise ImportFormatError(url, "the answer", "is not JSON") from None
        match = _NEXT.search(link or "")
        return payload, match.group(1) if match else None

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every page of a list endpoint, following `rel="next"`."""
        url: str | None = self.url(path, params)
        while url is not None:
            payload, url = self.get(url)
            yield payload

    def _check_origin(self, url: str) -> None:
        base, there = urllib.parse.urlsplit(self.base_url), urllib.parse.urlsplit(url)
        if (base.scheme, base.netloc) != (there.scheme, there.netloc):
            raise ApiError(
                f"The {self.service} API sent a page link to {there.scheme}://{there.netloc}, not {self.base_url}; "
                "OpsLab does not send your token there, so the import stopped."
            )
        if there.scheme not in ("http", "https"):
            raise ApiError(f"{url} is not an http(s) address.")

    def _refusal(self, code: int, url: str) -> str:
        where = urllib.parse.urlsplit(url).path
        if code == 401:
            return (
                f"The {self.service} API refused ${self.token_variable} (401 at {where}): set a valid token in "
                f"${self.token_variable}."
            )
        if code in (403, 429):
            return (
                f"The {self.service} API said no ({code} at {where}): the token lacks read access to the "
                "project, or the rate limit is spent; wait, or import saved pages instead."
            )
        if code == 404:
            return (
                f"The {self.service} API has no {where} (404): check the project's name, and that "
                f"${self.token_variable} can read it."
            )
        return f"The {self.service} API answered {code} at {where}; try again later, or import saved pages."
