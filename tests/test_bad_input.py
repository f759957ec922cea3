"""The catalogue of bad input (issue 11): every case exits non-zero with one sentence naming the
problem, no traceback, and the run history's row counts unchanged.

One table: a case id, the argv after `opslab --db <copy of a played history>` (the bad files are
built in `tmp_path` at test time) and words the sentence must hold. The CLI runs in-process (fast);
a few cases run as a real subprocess to prove what stderr really shows and the exit code, and the
permission cases run with the DAC capabilities dropped, so that root obeys the permission bits as
a user would. The Control room's upload gets a representative subset through AppTest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main
from pipelines.mlops import sources
from pipelines.store.schema import TABLES

REPO = Path(__file__).resolve().parents[1]
F = ["--time-column", "t", "--target", "y"]
RUN = ["scenario", "run", "calm-seas", "--weeks", "2"]


# -- the bad files -----------------------------------------------------------------------------
def _good(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {
            "t": pd.date_range("2020-01-01", periods=rows, freq="h").astype(str),
            "x": rng.normal(size=rows),
            "c": rng.choice(list("abc"), rows),
            "y": rng.normal(size=rows),
        }
    )


def _csv(frame: pd.DataFrame, **kw) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "data.csv"
        frame.to_csv(path, index=False, **kw)
        return path

    return build


def _raw(content: bytes, name: str = "data.csv") -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def _parquet(table: Callable[[], pa.Table]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "data.parquet"
        pq.write_table(table(), path)
        return path

    return build


def _nested() -> pa.Table:
    rows = 200
    return pa.table(
        {
            "t": pd.date_range("2020-01-01", periods=rows, freq="h"),
            "x": np.arange(rows) * 1.5,
            "nest": [{"a": i, "b": [i, i + 1]} for i in range(rows)],
            "y": np.random.default_rng(0).normal(size=rows),
        }
    )


def _listed() -> pa.Table:
    rows = 200
    return pa.table(
        {
            "t": pd.date_range("2020-01-01", periods=rows, freq="h"),
            "x": np.arange(rows) * 1.5,
            "items": [[i, i + 1] for i in range(rows)],
            "y": np.random.default_rng(0).normal(size=rows),
        }
    )


def _wide(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, 2000)), columns=[f"f{i}" for i in range(2000)])
    frame.insert(0, "t", pd.date_range("2020-01-01", periods=50, freq="h").astype(str))
    frame["y"] = frame["f0"] * 2
    path = folder / "data.csv"
    frame.to_csv(path, index=False)
    return path


def _huge(folder: Path) -> Path:
    """A 200 MB file made sparse: it costs no disk and no time, and must be refused by its size."""
    path = folder / "data.csv"
    with path.open("wb") as out:
        out.write(b"t,x,y\n")
        out.truncate(200 * 1024 * 1024)
    return path


def _folder(folder: Path) -> Path:
    path = folder / "data.csv"
    path.mkdir()
    return path


def _text(text: str, name: str) -> Callable[[Path], Path]:
    return _raw(text.encode(), name)


g = _good()
WITH_TEXT = g.assign(x=[f"{v:.3f}" if i % 5 else "ten" for i, v in enumerate(g["x"])])

# (id, file builder or None, argv with "{file}" for the built file's path, words the sentence holds)
CASES: list[tuple[str, Callable[[Path], Path] | None, list[str], list[str]]] = [
    # files: unreadable, empty or not a table
    ("empty file", _raw(b""), ["mlops", "run", "--data", "{file}", *F], ["is empty"]),
    ("header only", _raw(b"t,x,y\n"), ["mlops", "run", "--data", "{file}", *F], ["no rows", "header"]),
    ("binary", _raw(bytes(range(256)) * 40), ["mlops", "run", "--data", "{file}", *F], ["binary"]),
    ("semicolons", _csv(g, sep=";"), ["mlops", "run", "--data", "{file}", *F], ["';'", "comma"]),
    ("tabs", _csv(g, sep="\t"), ["mlops", "run", "--data", "{file}", *F], ["tab", "comma"]),
    ("latin-1", _raw(g.assign(c="é").to_csv(index=False).encode("latin-1")),
     ["mlops", "run", "--data", "{file}", *F], ["not UTF-8"]),
    ("ragged rows", _text("t,x,y\n2020-01-01,1,2\n2020-01-02,1,2,3,4\n", "data.csv"),
     ["mlops", "run", "--data", "{file}", *F], ["could not be read as CSV", "line 3"]),
    ("not parquet", _raw(b"not parquet at all", "data.parquet"),
     ["mlops", "run", "--data", "{file}", *F], ["could not be read as Parquet"]),
    ("nested parquet", _parquet(_nested), ["mlops", "run", "--data", "{file}", *F], ["'nest'", "nested"]),
    ("list parquet", _parquet(_listed), ["mlops", "run", "--data", "{file}", *F], ["'items'", "nested"]),
    ("2000 columns", _wide, ["mlops", "run", "--data", "{file}", *F], ["2,002 columns", "at most"]),
    ("200 MB", _huge, ["mlops", "run", "--data", "{file}", *F], ["200 MB", f"{getattr(sources, 'MAX_FILE_BYTES', 100 * 2**20) // 2**20} MB"]),
    ("a folder", _folder, ["mlops", "run", "--data", "{file}", *F], ["is a folder"]),
    ("missing file", None, ["mlops", "run", "--data", "{tmp}/nope.csv", *F], ["does not exist"]),
    ("xlsx", _raw(b"PK\x03\x04", "data.xlsx"), ["mlops", "run", "--data", "{file}", *F], [".xlsx", "CSV"]),
    ("unknown dataset", None, ["mlops", "run", "--data", "bikes"], ["unknown dataset 'bikes'"]),
    # the time column
    ("no time flag", _csv(g), ["mlops", "run", "--data", "{file}", "--target", "y"], ["--time-column"]),
    ("time column missing", _csv(g), ["mlops", "run", "--data", "{file}", "--time-column", "when",
                                      "--target", "y"], ["'when' not found"]),
    ("time unparseable", _csv(g.assign(t="soon")), ["mlops", "run", "--data", "{file}", *F],
     ["could not be read as dates", "'soon'"]),
    ("time has gaps", _csv(g.assign(t=g["t"].where(g.index % 5 > 0))), ["mlops", "run", "--data", "{file}", *F],
     ["time column 't'", "empty in 80"]),
    ("time is numbers", _csv(g.assign(t=range(len(g)))), ["mlops", "run", "--data", "{file}", *F],
     ["holds numbers", "not dates"]),
    ("one timestamp", _csv(g.assign(t="2020-01-01")), ["mlops", "run", "--data", "{file}", *F],
     ["same time"]),
    ("every row twice", _csv(pd.concat([g, g])), ["mlops", "run", "--data", "{file}", *F],
     ["repeat another row"]),
    ("time is the target", _csv(g), ["mlops", "run", "--data", "{file}", "--time-column", "t",
                                     "--target", "t"], ["both 't'"]),
    # the target
    ("no target flag", _csv(g), ["mlops", "run", "--data", "{file}", "--time-column", "t"], ["--target"]),
    ("target missing", _csv(g), ["mlops", "run", "--data", "{file}", "--time-column", "t", "--target", "cnt"],
     ["'cnt' not found"]),
    ("constant target", _csv(g.assign(y=3.5)), ["mlops", "run", "--data", "{file}", *F],
     ["same value (3.5)", "nothing to predict"]),
    ("all-NaN target", _csv(g.assign(y=np.nan)), ["mlops", "run", "--data", "{file}", *F], ["no values"]),
    ("target with gaps", _csv(g.assign(y=g["y"].where(g.index % 3 > 0))), ["mlops", "run", "--data", "{file}", *F],
     ["empty in 134"]),
    ("string target", _csv(g.assign(y=[f"s{i}" for i in range(len(g))])),
     ["mlops", "run", "--data", "{file}", *F, "--task", "regression"], ["not numeric"]),
    ("infinite values", _csv(g.assign(x=np.where(g.index % 7, g["x"], np.inf))),
     ["mlops", "run", "--data", "{file}", *F], ["too large or infinite"]),
    ("1e308 values", _csv(g.assign(x=np.where(g.index % 7, g["x"], 1e308))),
     ["mlops", "run", "--data", "{file}", *F], ["too large or infinite"]),
    ("numbers with text", _csv(WITH_TEXT), ["mlops", "run", "--data", "{file}", *F], ["'ten'", "--categorical x"]),
    ("one row", _csv(g.head(1)), ["mlops", "run", "--data", "{file}", *F], ["only 1 row"]),
    ("3 rows", _csv(g.head(3)), ["mlops", "run", "--data", "{file}", *F], ["holds 3 rows", "at least 100"]),
    ("3 rows, fresh workspace", _csv(g.head(3)),
     ["--workspace", "fresh", "mlops", "run", "--data", "{file}", *F], ["holds 3 rows", "at least 100"]),
    ("no feature", _csv(g[["t", "y"]]), ["mlops", "run", "--data", "{file}", *F], ["no usable feature"]),
    ("unknown --categorical", _csv(g), ["mlops", "run", "--data", "{file}", *F, "--categorical", "zz"],
     ["'zz' not found"]),
    ("categorical and numeric", _csv(g), ["mlops", "run", "--data", "{file}", *F, "--categorical", "x",
                                          "--numeric", "x"], ["both categorical and numeric"]),
    ("text as --numeric", _csv(g), ["mlops", "run", "--data", "{file}", *F, "--numeric", "c"],
     ["given as numeric"]),
    ("champion of other columns", _csv(g), ["mlops", "run", "--data", "{file}", *F],
     ["champion", "--workspace"]),
    # windows and --as-of
    ("as-of before the data", None, ["mlops", "run", "--as-of", "1990-01-01"], ["1990-01-01", "holds 0 rows"]),
    ("as-of after the data", None, ["mlops", "run", "--as-of", "2099-01-01"], ["2099-01-01", "holds 0 rows"]),
    ("as-of not a date", None, ["mlops", "run", "--as-of", "yesterday-ish"], ["'yesterday-ish' is not a date"]),
    ("zero window", None, ["mlops", "run", "--window-weeks", "0"], ["window", "positive"]),
    ("negative window", None, ["mlops", "run", "--window-weeks", "-2"], ["window", "positive"]),
    ("NaN window", None, ["mlops", "run", "--window-weeks", "nan"], ["window", "positive"]),
    ("negative gate margin", None, ["mlops", "run", "--gate-margin", "-1"], ["gate margin"]),
    ("zero batch", None, ["mlops", "monitor", "--as-of", "2011-02-01", "--batch-weeks", "0"], ["positive"]),
    ("monitor out of range", None, ["mlops", "monitor", "--as-of", "1990-02-01"], ["holds 0 rows"]),
    ("monitor without champion", None, ["--workspace", "fresh", "mlops", "monitor", "--as-of", "2011-02-01"],
     ["no champion"]),
    ("unknown trigger", None, ["mlops", "run", "--trigger", "whim"], ["invalid choice: 'whim'"]),
    # scenarios: presets, knobs, --set, --inject, --from
    ("unknown preset", None, ["scenario", "run", "nope"], ["unknown scenario 'nope'"]),
    ("unknown preset to show", None, ["scenario", "show", "nope"], ["invalid choice: 'nope'"]),
    ("zero weeks", None, ["scenario", "run", "calm-seas", "--weeks", "0"], ["at least 1 week", "not 0"]),
    ("negative weeks", None, ["scenario", "run", "calm-seas", "--weeks", "-3"], ["at least 1 week", "not -3"]),
    ("zero cadence", None, [*RUN, "--release-every", "0"], ["release cadence"]),
    ("negative cadence", None, [*RUN, "--release-every", "-1"], ["release cadence"]),
    ("--inject without pattern", None, [*RUN, "--inject", "covariate"], ["type:pattern"]),
    ("--inject unknown type", None, [*RUN, "--inject", "cosmic:sudden"], ["'cosmic'"]),
    ("--inject bad number", None, [*RUN, "--inject", "covariate:sudden:onset_week=abc"],
     ["--inject", "onset_week", "'abc'"]),
    ("--inject unknown option", None, [*RUN, "--inject", "covariate:sudden:foo=1"], ["--inject", "'foo'", "onset_week"]),
    ("--inject unknown feature", None, [*RUN, "--inject", "covariate:sudden:feature=nope"], ["'nope'"]),
    ("--set unknown knob", None, [*RUN, "--set", "colour=red"], ["'colour' is not a scenario knob"]),
    ("--set without =", None, [*RUN, "--set", "seed"], ["knob=value"]),
    ("--set seed=abc", None, [*RUN, "--set", "seed=abc"], ["seed='abc'"]),
    ("--set changes=foo", None, [*RUN, "--set", "changes=foo"], ["'changes' is a list"]),
    ("--set policy=schedule", None, [*RUN, "--set", "policy=schedule"], ["'policy' is a group of knobs"]),
    ("--set policy.kind=bogus", None, [*RUN, "--set", "policy.kind=bogus"], ["'bogus'", "policy"]),
    ("--set drift_method=bogus", None, [*RUN, "--set", "drift_method=bogus"], ["drift method"]),
    ("--set label delay -1", None, [*RUN, "--set", "label_delay_weeks=-1"], ["label delay"]),
    ("--set threshold -1", None, [*RUN, "--set", "drift_threshold=-1"], ["drift threshold"]),
    ("--set every 0 weeks", None, [*RUN, "--set", "policy.every_weeks=0"], ["every_weeks"]),
    ("--set task=bogus", None, [*RUN, "--set", "task=bogus"], ["task", "'bogus'"]),
    ("--set review hours -1", None, [*RUN, "--set", "review_hours=-1"], ["review", "-1"]),
    ("--set rollback margin -1", None, [*RUN, "--set", "model_rollback_margin=-1"], ["rollback margin", "-1"]),
    ("--set holdout 2", None, [*RUN, "--set", "mlops.holdout_fraction=2"], ["holdout fraction", "2"]),
    ("--set min rows 0", None, [*RUN, "--set", "mlops.min_rows=0"], ["min_rows", "0"]),
    ("--set rows per request 0", None, [*RUN, "--set", "devops.rows_per_request=0"], ["rows per request", "0"]),
    ("--set 3 simulated weeks", None, [*RUN, "--set", "simulator.weeks=3"], ["no data after", "warm-up"]),
    ("--set data=missing", None, [*RUN, "--set", "data={tmp}/nope.csv"], ["does not exist"]),
    ("--set name= (empty)", None, [*RUN, "--set", "name="], ["needs a name"]),
    ("--set time_column on built-in data", None, [*RUN, "--set", "time_column=t"], ["time_column", "built-in"]),
    ("--set target on built-in data", None, [*RUN, "--set", "target=cnt"], ["target", "would be ignored"]),
    ("--set data=constant file", _csv(g.assign(y=3.5)),
     [*RUN, "--set", "data={file}", "--set", "time_column=t", "--set", "target=y"], ["same value (3.5)"]),
    ("--changes bad format", None, [*RUN, "--changes", "foo"], ["change-id@week"]),
    ("--changes unknown", None, [*RUN, "--changes", "nope@1"], ["unknown change 'nope'"]),
    ("--from missing", None, ["scenario", "run", "--from", "{tmp}/none.json"], ["none.json", "does not exist"]),
    ("--from not JSON", _text("{not json", "s.json"), ["scenario", "run", "--from", "{file}"], ["not JSON"]),
    ("--from wrong shape", _text('{"weeks": "many"}', "s.json"), ["scenario", "run", "--from", "{file}"],
     ["'name'", "'narrative'"]),
    ("--from a list", _text("[1, 2]", "s.json"), ["scenario", "run", "--from", "{file}"], ["JSON object"]),
    ("replay without --replace", None, ["scenario", "run", "calm-seas", "--weeks", "1"], ["--replace"]),
    # workspaces: hostile names, missing ones
    ("workspace ../etc", None, ["--workspace", "../etc", "history"], ["'../etc' is not valid"]),
    ("workspace empty", None, ["--workspace", "", "history"], ["'' is not valid"]),
    ("workspace with a space", None, ["--workspace", "a b", "history"], ["'a b' is not valid"]),
    ("workspace of 64 chars", None, ["--workspace", "a" * 64, "history"], ["is not valid", "1-63"]),
    ("workspace /etc/passwd", None, ["--workspace", "/etc/passwd", "scenario", "run", "calm-seas"],
     ["is not valid"]),
    ("workspace with NUL", None, ["--workspace", "a\x00b", "history"], ["is not valid"]),
    ("reset ../x", None, ["workspace", "reset", "../x"], ["'../x' is not valid"]),
    ("delete missing", None, ["workspace", "delete", "ghost"], ["'ghost' does not exist"]),
    ("history of missing", None, ["--workspace", "ghost", "history"], ["'ghost' does not exist"]),
    ("history --at bogus", None, ["history", "--at", "whenever"], ["'whenever'"]),
    ("history --limit abc", None, ["history", "--limit", "abc"], ["0 or more"]),
    ("history --limit -1", None, ["history", "--limit", "-1"], ["0 or more"]),
    # devops, sql, report, datasets, dashboard
    ("devops unknown change", None, ["devops", "run", "--change", "nope"], ["unknown change 'nope'"]),
    ("devops zero timeout", None, ["devops", "run", "--test-timeout", "0"], ["time limit", "positive"]),
    ("devops port 99999", None, ["devops", "run", "--port", "99999"], ["port", "99999"]),
    ("sql DROP", None, ["sql", "DROP TABLE runs"], ["read-only"]),
    ("sql empty", None, ["sql", ""], ["empty"]),
    ("sql syntax", None, ["sql", "SELEC 1"], ["syntax error"]),
    ("report into a folder", None, ["report", "-o", "{tmp}"], ["is a folder"]),
    ("report into no folder", None, ["report", "-o", "{tmp}/no/such/r.html"], ["does not exist"]),
    ("fetch unknown", None, ["datasets", "fetch", "nope"], ["unknown dataset 'nope'"]),
    ("dashboard port -1", None, ["dashboard", "--port", "-1"], ["port", "'-1'"]),
    ("no command", None, [], ["COMMAND"]),
    ("unknown command", None, ["launch"], ["invalid choice: 'launch'"]),
]  # fmt: skip


def _newer(tmp: Path) -> Path:
    """A history written by a newer OpsLab: one schema version more, and a NOT NULL column."""
    from pipelines.store import Store
    from pipelines.store.schema import LATEST_VERSION

    path = tmp / "newer.duckdb"
    Store(path).ensure_workspace("demo")
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE runs ADD COLUMN from_the_future VARCHAR NOT NULL DEFAULT 'x'")
        con.execute("INSERT INTO schema_version VALUES (?, now())", [LATEST_VERSION + 1])
    return path


# Cases whose history is not the played copy: (id, how to make --db from tmp_path, argv, words).
DB_CASES: list[tuple[str, Callable[[Path], Path], list[str], list[str]]] = [
    ("--db x.csv", lambda tmp: tmp / "x.csv", ["workspace", "list"], ["looks like a data file"]),
    ("--db x.parquet", lambda tmp: tmp / "x.parquet", ["workspace", "list"], ["looks like a data file"]),
    ("--db x.json", lambda tmp: tmp / "x.json", ["workspace", "list"], ["looks like a data file"]),
    ("--db garbage file", lambda tmp: _write(tmp / "h.duckdb", b"not a database" * 100), ["history"],
     ["not a valid DuckDB"]),
    ("--db empty file", lambda tmp: _write(tmp / "h.duckdb", b""), ["history"], ["not a valid DuckDB"]),
    ("--db garbage, play", lambda tmp: _write(tmp / "h.duckdb", b"not a database" * 100),
     ["scenario", "run", "calm-seas", "--weeks", "1"], ["not a valid DuckDB"]),
    ("--db of a newer OpsLab", _newer, ["history"], ["newer OpsLab", "schema version"]),
    ("--db of a newer OpsLab, play", _newer, ["--workspace", "w", "scenario", "run", "calm-seas", "--weeks", "1"],
     ["newer OpsLab"]),
    ("workshop of 0 seats", lambda tmp: tmp / "room", ["workshop", "prepare", "--seats", "0"], ["1 to", "not 0"]),
    ("workshop of 'many' seats", lambda tmp: tmp / "room", ["workshop", "prepare", "--seats", "many"],
     ["whole number", "'many'"]),
    ("workshop in a single file", lambda tmp: tmp / "room.duckdb", ["workshop", "prepare", "--seats", "2"],
     ["folder"]),
    ("--db a folder .duckdb", lambda tmp: _mkdir(tmp / "h.duckdb"), ["history"], ["is a folder"]),
    ("--db under a file", lambda tmp: _write(tmp / "afile", b"x") / "h.duckdb",
     ["scenario", "run", "calm-seas", "--weeks", "1"], ["afile", "not a folder"]),
    ("--db folder under a file", lambda tmp: _write(tmp / "afile", b"x") / "hist",
     ["scenario", "run", "calm-seas", "--weeks", "1"], ["afile", "not a folder"]),
]  # fmt: skip


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def row_counts(path: Path) -> dict[str, int] | None:
    """Every table's row count, read with DuckDB alone; None when there is no database there."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]
    finally:
        con.close()


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory, scenario_db: Path) -> Path:
    """The suite's short played history; each case works on its own copy of the file."""
    return scenario_db


def _assert_one_sentence(code: object, err: str, words: list[str]) -> None:
    assert code not in (0, None), f"exit code {code}: {err!r}"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    assert lines[0].startswith("opslab"), lines[0]
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


def _run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    try:
        code: object = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("case", "build", "argv", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_sentence_and_writes_nothing(
    tmp_path: Path,
    played: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    build: Callable[[Path], Path] | None,
    argv: list[str],
    words: list[str],
) -> None:
    db = tmp_path / "history.duckdb"
    shutil.copy(played, db)
    file = build(tmp_path) if build is not None else None
    argv = [a.replace("{file}", str(file)).replace("{tmp}", str(tmp_path)) for a in argv]
    before = row_counts(db)
    code, err = _run_in_process(["--db", str(db), *argv], capsys)
    _assert_one_sentence(code, err, words)
    assert row_counts(db) == before
    assert not (tmp_path / "history.duckdb.files" / "fresh").exists()  # no workspace made on the side


@pytest.mark.parametrize(("case", "make", "argv", "words"), DB_CASES, ids=[c[0] for c in DB_CASES])
def test_a_bad_history_path_is_one_sentence(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    make: Callable[[Path], Path],
    argv: list[str],
    words: list[str],
) -> None:
    db = make(tmp_path)
    before = {p: p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()}
    code, err = _run_in_process(["--db", str(db), *argv], capsys)
    _assert_one_sentence(code, err, words)
    assert {p: p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()} == before


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) + len(DB_CASES) >= 60


def test_unsorted_times_are_sorted_not_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rows out of time order are a fact of exported data, not an error: the loader sorts them."""
    from pipelines.mlops.sources import load_dataset

    path = _csv(g.sample(frac=1, random_state=1))(tmp_path)
    frame = load_dataset(path, time_column="t", target="y").frame
    assert frame["t"].is_monotonic_increasing and len(frame) == len(g)


# -- real processes: the stderr a person sees ------------------------------------------------------
def _opslab(argv: list[str], *, drop_root: bool = False) -> subprocess.CompletedProcess[str]:
    """`python -m pipelines ARGV`; `drop_root` runs it without the capabilities that let root ignore
    permission bits, so a read-only folder or an unreadable file refuses it as it would a user."""
    prefix: list[str] = []
    if drop_root and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: permission bits cannot be made to apply")
        caps = "-dac_override,-dac_read_search,-fowner"
        prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]
    env = {k: v for k, v in os.environ.items() if k != "OPSLAB_PROGRESS"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "pipelines", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["scenario", "run", "calm-seas", "--weeks", "2", "--set", "policy=schedule"], ["group of knobs"]),
        (["mlops", "run", "--data", "{tmp}/nested.parquet", *F], ["nested"]),
        (["history", "--limit", "-1"], ["0 or more"]),
    ],
    ids=["--set policy=schedule", "nested parquet", "history --limit -1"],
)
def test_a_real_process_prints_one_sentence(
    tmp_path: Path, played: Path, argv: list[str], words: list[str]
) -> None:
    db = tmp_path / "history.duckdb"
    shutil.copy(played, db)
    pq.write_table(_nested(), tmp_path / "nested.parquet")
    before = row_counts(db)
    done = _opslab(["--db", str(db), *[a.replace("{tmp}", str(tmp_path)) for a in argv]])
    assert done.returncode == 2
    _assert_one_sentence(done.returncode, done.stderr, words)
    assert row_counts(db) == before


@pytest.mark.parametrize(
    "argv",
    [["--workspace", "other", "scenario", "run", "calm-seas", "--weeks", "1"], ["mlops", "run", "--as-of",
     "2011-03-01"], ["devops", "run"], ["workspace", "reset", "demo"]],
    ids=["scenario run", "mlops run", "devops run", "workspace reset"],
)  # fmt: skip
def test_a_read_only_folder_holding_a_writable_history_is_refused_before_writing(
    tmp_path: Path, played: Path, argv: list[str]
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "history.duckdb"
    shutil.copy(played, db)
    db.chmod(0o666)
    before = row_counts(db)
    folder.chmod(0o555)
    try:
        done = _opslab(["--db", str(db), *argv], drop_root=True)
    finally:
        folder.chmod(0o755)
    _assert_one_sentence(done.returncode, done.stderr, ["read-only", str(folder)])
    assert row_counts(db) == before


def test_a_read_only_history_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "room"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        done = _opslab(["--db", str(folder), "scenario", "run", "calm-seas", "--weeks", "1"], drop_root=True)
    finally:
        folder.chmod(0o755)
    _assert_one_sentence(done.returncode, done.stderr, ["read-only", str(folder)])
    assert not any(folder.iterdir())


def test_an_unreadable_data_file_and_history_are_one_sentence(tmp_path: Path, played: Path) -> None:
    data = _csv(g)(tmp_path)
    data.chmod(0o000)
    db = tmp_path / "history.duckdb"
    shutil.copy(played, db)
    done = _opslab(
        ["--db", str(db), "--workspace", "w", "mlops", "run", "--data", str(data), *F], drop_root=True
    )
    _assert_one_sentence(done.returncode, done.stderr, ["permission", str(data)])
    db.chmod(0o000)
    done = _opslab(["--db", str(db), "history"], drop_root=True)
    db.chmod(0o644)
    _assert_one_sentence(done.returncode, done.stderr, ["Permission denied", str(db)])


# -- the Control room's upload: the same files, through AppTest ---------------------------------
UPLOADS = ["empty file", "header only", "binary", "semicolons", "latin-1", "nested parquet", "2000 columns",
           "time unparseable", "one timestamp", "constant target", "all-NaN target", "infinite values",
           "numbers with text", "one row"]  # fmt: skip


def test_the_upload_says_what_is_wrong_with_each_bad_file(
    tmp_path: Path, played: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One session uploads each bad file in turn: each gets the loader's sentence as an st.error at
    once (before any play is started), no exception, and the history is untouched."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "history.duckdb"
    shutil.copy(played, db)
    monkeypatch.setenv("OPSLAB_DB", str(db))
    st.cache_data.clear()
    st.cache_resource.clear()
    before = row_counts(db)
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/control_room.py").run()
    at.radio(key="cr_source").set_value("upload a CSV or Parquet file").run()
    cases = {c[0]: c for c in CASES}
    for name in UPLOADS:
        _, build, _, words = cases[name]
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        file = build(folder)  # type: ignore[misc]
        at.file_uploader(key="cr_upload").set_value((file.name, file.read_bytes(), "text/csv")).run()
        assert not at.exception, (name, at.exception)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "\n" not in errors[0], (name, errors)
        assert all(w in errors[0] for w in words), (name, errors[0], words)
        assert "Traceback" not in errors[0]
        at.button(key="cr_run_scenario").click().run()  # pressing Play anyway starts nothing
        assert not at.exception, (name, at.exception)
        assert any(all(w in e.value for w in words) for e in at.error), (name, [e.value for e in at.error])
    assert row_counts(db) == before
    assert not (tmp_path / "history.duckdb.files" / "_settings").exists()  # no settings file, no play


def test_a_bug_is_still_one_sentence_and_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's promise holds for what nobody foresaw too: an unexpected exception is one line
    naming it, exit 1; an OSError is the system's words and the file; --debug raises it."""
    from pipelines.cli import workspace

    def broken(args, store):
        raise KeyError("nobody expected this")

    def refused(args, store):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    parser_handler = "_workspace_list"
    monkeypatch.setattr(workspace, parser_handler, broken)
    assert main(["--db", str(tmp_path / "h"), "workspace", "list"]) == 1
    _assert_one_sentence(
        1, capsys.readouterr().err, ["unexpected KeyError", "nobody expected this", "--debug"]
    )
    with pytest.raises(KeyError):
        main(["--db", str(tmp_path / "h"), "--debug", "workspace", "list"])
    monkeypatch.setattr(workspace, parser_handler, refused)
    assert main(["--db", str(tmp_path / "h"), "workspace", "list"]) == 2
    _assert_one_sentence(2, capsys.readouterr().err, ["Permission denied", str(tmp_path / "x")])
