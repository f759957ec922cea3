"""`opslab dashboard` owns the serving settings; a server started any other way says so.

The launcher's command carries every security setting, whatever folder it is started from; a network
address prints one warning line; a real start from a temporary folder answers with XSRF and CORS
protection on and no usage statistics; `streamlit run` from inside dashboard/ is loopback and quiet
(the config file beside app.py), and a server whose settings were changed another way shows a warning
box. No test binds anything but 127.0.0.1.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

from dashboard.serving import serving_problems
from pipelines.cli import main
from tests.conftest import CHROMIUM, READY, REPO, free_port, serving

APP = REPO / "dashboard" / "app.py"
WARNING = '[data-testid="stAlert"]:has([data-testid="stAlertContentWarning"])'
SECURITY_FLAGS = {
    "--server.enableXsrfProtection": "true",
    "--server.enableCORS": "true",
    "--server.maxUploadSize": "50",
    "--browser.gatherUsageStats": "false",
    "--server.headless": "true",
    "--server.fileWatcherType": "none",
    "--server.runOnSave": "false",
    "--global.developmentMode": "false",
}


def _opslab(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipelines", *argv], cwd=cwd, capture_output=True, text=True)


def _parse(line: str) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """`A=1 B=2 python -m streamlit run app.py --k v ...` -> (env, the command up to the script, flags)."""
    words = shlex.split(line)
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    head, rest = words[:5], words[5:]
    assert len(rest) % 2 == 0, rest
    return env, head, dict(zip(rest[::2], rest[1::2], strict=True))


# -- the command ------------------------------------------------------------------------------
def test_help_shows_the_options(tmp_path: Path) -> None:
    out = _opslab("dashboard", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for option in ("--host", "--port", "--db", "--facilitator", "--print-command"):
        assert option in out.stdout


@pytest.mark.parametrize("where", ["tmp", "dashboard"])
def test_the_command_carries_every_security_setting_whatever_the_cwd(tmp_path: Path, where: str) -> None:
    cwd = tmp_path if where == "tmp" else REPO / "dashboard"
    out = _opslab(
        "--db", str(tmp_path / "h.duckdb"), "dashboard", "--port", "8765", "--print-command", cwd=cwd
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # loopback: no warning
    (line,) = out.stdout.strip().splitlines()
    env, head, flags = _parse(line)
    assert head == [sys.executable, "-m", "streamlit", "run", str(APP)]
    assert flags["--server.address"] == "127.0.0.1" and flags["--server.port"] == "8765"
    for flag, value in SECURITY_FLAGS.items():
        assert flags[flag] == value, flag
    assert env["OPSLAB_DB"] == str(tmp_path / "h.duckdb")
    assert env["OPSLAB_SERVE_HOST"] == "127.0.0.1"
    assert "OPSLAB_FACILITATOR" not in env


def test_db_and_facilitator_travel_in_the_environment(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPSLAB_FACILITATOR", "1")  # an inherited marker does not make a facilitator
    assert main(["dashboard", "--db", "room.duckdb", "--print-command"]) == 0
    env, _, _ = _parse(capsys.readouterr().out)
    assert env["OPSLAB_DB"] == str(tmp_path / "room.duckdb")
    assert "OPSLAB_FACILITATOR" not in env
    assert main(["--db", "global.duckdb", "dashboard", "--facilitator", "--print-command"]) == 0
    env, _, _ = _parse(capsys.readouterr().out)
    assert env["OPSLAB_DB"] == str(tmp_path / "global.duckdb")
    assert env["OPSLAB_FACILITATOR"] == "1"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_host_prints_no_warning(tmp_path: Path, host: str) -> None:
    out = _opslab("dashboard", "--host", host, "--print-command", cwd=tmp_path)
    assert out.returncode == 0 and out.stderr == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_a_network_host_prints_exactly_one_warning_line(tmp_path: Path, host: str) -> None:
    """--print-command only prints: nothing binds a network address in the tests."""
    out = _opslab("dashboard", "--host", host, "--port", "8777", "--print-command", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (warning,) = out.stderr.strip().splitlines()
    assert warning.startswith("warning: serving http://") and ":8777" in warning
    assert "trusted" in warning and "anyone" in warning
    env, _, flags = _parse(out.stdout.strip())
    assert flags["--server.address"] == host and env["OPSLAB_SERVE_HOST"] == host


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port_is_one_sentence(tmp_path: Path, port: str) -> None:
    out = _opslab("dashboard", "--port", port, "--print-command", cwd=tmp_path)
    assert out.returncode == 2 and "port" in out.stderr and "Traceback" not in out.stderr


# -- the app's own check ----------------------------------------------------------------------
SAFE = {
    "server.address": "127.0.0.1",
    "browser.gatherUsageStats": False,
    "server.enableXsrfProtection": True,
    "server.enableCORS": True,
    "server.maxUploadSize": 50,
}


@pytest.mark.parametrize(
    ("changes", "environ", "needle"),
    [
        ({}, {}, None),
        ({"server.address": "localhost"}, {}, None),
        ({"server.address": None}, {}, "every network interface"),
        ({"server.address": ""}, {}, "every network interface"),
        ({"server.address": "0.0.0.0"}, {}, "0.0.0.0"),
        ({"server.address": "0.0.0.0"}, {"OPSLAB_SERVE_HOST": "0.0.0.0"}, None),  # the launcher said so
        ({"server.address": "10.0.0.5"}, {"OPSLAB_SERVE_HOST": "0.0.0.0"}, "10.0.0.5"),
        ({"server.address": None}, {"OPSLAB_SERVE_HOST": "0.0.0.0"}, "every network interface"),
        ({"browser.gatherUsageStats": True}, {"OPSLAB_SERVE_HOST": "127.0.0.1"}, "could not be turned off"),
        ({"server.enableXsrfProtection": False}, {}, "XSRF"),
        ({"server.enableCORS": False}, {}, "CORS"),
        ({"server.maxUploadSize": 200}, {}, "200 MB"),
    ],
)
def test_the_check_names_what_is_unsafe(changes, environ, needle) -> None:
    options = {**SAFE, **changes}
    problems = serving_problems(options.__getitem__, environ)
    if needle is None:
        assert problems == []
    else:
        assert len(problems) == 1 and needle in problems[0]


def test_statistics_turned_off_while_running_are_still_named() -> None:
    """Tabs opened before the check ran got them: the warning stays for the server's lifetime."""
    (problem,) = serving_problems(SAFE.__getitem__, {}, stats_turned_off=True)
    assert "usage statistics were on at start, turned off now" in problem


def test_the_config_beside_app_py_is_read_whatever_the_cwd(tmp_path: Path) -> None:
    """What `streamlit run .../dashboard/app.py` reads before it binds (as streamlit's own CLI does)."""
    code = (
        "from streamlit import config\n"
        f"config._main_script_path = {str(APP)!r}\n"
        "config.get_config_options(force_reparse=True)\n"
        "for key in ('server.address', 'browser.gatherUsageStats', 'server.enableXsrfProtection',\n"
        "            'server.enableCORS', 'server.maxUploadSize', 'theme.primaryColor'):\n"
        "    print(key, config.get_option(key))\n"
    )
    for cwd in (tmp_path, REPO / "dashboard"):
        out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        effective = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
        assert effective == {
            "server.address": "127.0.0.1",
            "browser.gatherUsageStats": "False",
            "server.enableXsrfProtection": "True",
            "server.enableCORS": "True",
            "server.maxUploadSize": "50",
            "theme.primaryColor": "#0072B2",
        }, cwd


def test_the_config_file_and_the_launcher_agree() -> None:
    from pipelines.cli.dashboard import SETTINGS

    with open(APP.parent / ".streamlit" / "config.toml", "rb") as f:
        toml = tomllib.load(f)
    assert toml["server"]["address"] == "127.0.0.1"
    for key, flag_value in SETTINGS.items():
        section, name = key.split(".")
        value = toml[section][name]
        assert (str(value).lower() if isinstance(value, bool) else str(value)) == flag_value, key
    # One config file: the repository's `.streamlit/`, which `dashboard/.streamlit` links to so that
    # Streamlit finds it beside the app from whatever folder it is started.
    assert (APP.parent / ".streamlit").resolve() == (REPO / ".streamlit").resolve()


# -- real servers on 127.0.0.1 ------------------------------------------------------------------
_free_port, _serving = free_port, serving


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("OPSLAB_REQUIRE_BROWSER"),
    reason="/usr/bin/chromium is missing: install Debian's chromium package (`make test` does it as root)",
)


def _visit(browser, url: str) -> tuple[list[str], list[str]]:
    """Open `url` in a fresh tab: (the warning boxes' texts, the requests that left 127.0.0.1)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "//127.0.0.1:" not in r.url else None)
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_timeout(1500)  # the frontend fetches the metrics config after the first script run
    warnings = page.locator(WARNING).all_inner_texts()
    context.close()
    return warnings, outside


@needs_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_the_launcher_serves_with_its_settings_from_any_folder(tmp_path: Path, browser) -> None:
    port = _free_port()
    argv = [
        sys.executable,
        "-m",
        "pipelines",
        "--db",
        str(tmp_path / "h.duckdb"),
        "dashboard",
        "--port",
        str(port),
    ]
    with _serving(argv, tmp_path, {}, tmp_path / "server.log", port) as base:
        request = urllib.request.Request(
            base + "/_stcore/health", headers={"Origin": "http://elsewhere.example"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == b"ok"
            assert "_streamlit_xsrf=" in (response.headers.get("Set-Cookie") or "")  # XSRF protection on
            assert response.headers.get("Access-Control-Allow-Origin") is None  # CORS protection on
        warnings, outside = _visit(browser, base + "/")
        assert warnings == [] and outside == []  # no usage statistics, nothing to warn about
    log = (tmp_path / "server.log").read_text()
    assert f"http://127.0.0.1:{port}" in log.splitlines()[0]  # the launcher says where to open it
    assert "Traceback" not in log


@needs_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_streamlit_run_from_inside_dashboard_is_loopback_and_quiet(tmp_path: Path, browser) -> None:
    """`cd dashboard && streamlit run app.py`: only the port is given (and the address, as a guard)."""
    port = _free_port()
    env = {"STREAMLIT_SERVER_PORT": str(port), "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
           "OPSLAB_DB": str(tmp_path / "h.duckdb"), "STREAMLIT_SERVER_HEADLESS": "true"}  # fmt: skip
    argv = [sys.executable, "-m", "streamlit", "run", "app.py"]
    with _serving(argv, REPO / "dashboard", env, tmp_path / "server.log", port) as base:
        warnings, outside = _visit(browser, base + "/")
    assert outside == [] and warnings == []


@needs_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_a_server_started_another_way_shows_the_warning_and_stops_the_statistics(
    tmp_path: Path, browser
) -> None:
    port = _free_port()
    env = {"STREAMLIT_SERVER_PORT": str(port), "STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "true", "STREAMLIT_SERVER_HEADLESS": "true",
           "OPSLAB_DB": str(tmp_path / "h.duckdb")}  # fmt: skip
    argv = [sys.executable, "-m", "streamlit", "run", "app.py"]
    with _serving(argv, REPO / "dashboard", env, tmp_path / "server.log", port) as base:
        first, _ = _visit(browser, base + "/")
        second, outside = _visit(browser, base + "/")
    for warnings in (first, second):
        (text,) = warnings
        assert "usage statistics" in text and "opslab dashboard" in text and "make run" in text
    assert outside == []  # turned off at the first run: later tabs send nothing
