"""Each dashboard page in Chromium on the full-story workspace: time from navigation to ready.

Ready = websocket connected, script finished, every plotly chart drawn (BROWSER.md's signal).
A first visit warms the server's caches and imports; the second visit is what a user sees
moving around. Target (issue 6): each page ready in under 2 s.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.bench_scenario import BENCH_DB, play_full_story

REPO = Path(__file__).resolve().parents[1]
PAGES = ["/", "/control", "/timeline", "/devops", "/mlops", "/drift", "/history", "/learn"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
READY = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(history: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """A fresh dashboard on `history`: the process, its base URL and the seconds until it answered."""
    port = _free_port()
    env = {**os.environ, "OPSLAB_DB": str(history)}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if urllib.request.urlopen(base + "/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            time.sleep(0.05)
    return server, base, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        print("dashboard: /usr/bin/chromium is missing, no browser figures")
        return
    if not BENCH_DB.exists():
        play_full_story()
    server, base, _ = serve(BENCH_DB)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            print(f"{'page':<10} {'first s':>8} {'warm s (median of 3)':>22}  (target < 2 s)")
            for path in PAGES:
                times = []
                for _ in range(4):
                    started = time.perf_counter()
                    page.goto(f"{base}{path}?workspace=demo")
                    page.wait_for_selector(READY, timeout=60_000)
                    page.wait_for_function(DRAWN, timeout=60_000)
                    times.append(time.perf_counter() - started)
                print(f"{path:<10} {times[0]:>8.2f} {statistics.median(times[1:]):>22.2f}")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
