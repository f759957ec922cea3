"""Each dashboard page in Chromium over a big history: 100k runs and 1M steps (issue 12).

The workspace is generated (`bench_store.generate_workspace`: runs, steps, deployments, changes,
incidents, weeks, drift, model versions in a long play's proportions) into a history folder, then a
fresh server is started and timed twice: its first page (a fresh server imports and warms what the
page needs; target <= 3 s), then every page's first and warm visits (target <= 2 s).
Ready = websocket connected, script finished, every plotly chart drawn (BROWSER.md's signal).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_dashboard import DRAWN, FLAGS, READY, serve
from benchmarks.bench_store import generate_workspace
from pipelines.store import RunHistory

REPO = Path(__file__).resolve().parents[1]
PAGES = ["/", "/control", "/timeline", "/present", "/devops", "/mlops", "/drift", "/history", "/learn"]
WORKSPACE = "big"
SMALL = "small"  # 300 runs: a fresh server's first page without a big history's first queries
PAGE_TIMEOUT_S = 300


def _visit(page, url: str, timeout_s: float) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, timeout=timeout_s * 1000)
    page.wait_for_function(DRAWN, timeout=timeout_s * 1000)
    return time.perf_counter() - started


# Set before a click in the sidebar: true once the page's script has started running again.
WATCH_RUN = """() => {
  window.__opslabRan = false;
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver((_, obs) => {
    if (app.getAttribute('data-test-script-state') === 'running') { window.__opslabRan = true; obs.disconnect(); }
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RAN_AND_DRAWN = """() => window.__opslabRan
  && document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state') === 'notRunning'
  && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].every(c => c.querySelector('.main-svg'))"""


def _navigate(page, path: str, timeout_s: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds from a click on `path`'s sidebar link until its page is ready: how a person moves
    between pages (the app stays loaded; `_visit` loads it anew, as a link opened in a new tab does)."""
    page.evaluate(WATCH_RUN)
    started = time.perf_counter()
    page.locator(f'a[data-testid="stSidebarNavLink"][href^="{path}?"]').first.click(timeout=timeout_s * 1000)
    page.wait_for_function(RAN_AND_DRAWN, timeout=timeout_s * 1000)
    return time.perf_counter() - started


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--history", type=Path, help="reuse (or generate once into) this history folder")
    parser.add_argument("--pages", nargs="*", default=PAGES)
    parser.add_argument("--timeout", type=float, default=PAGE_TIMEOUT_S, help="seconds a page may take")
    args = parser.parse_args([a for a in (argv or []) if a != "--quick"])
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        print("pages: /usr/bin/chromium is missing, no browser figures")
        return
    with tempfile.TemporaryDirectory() as tmp:
        history = args.history or Path(tmp) / "history"
        history.mkdir(parents=True, exist_ok=True)
        store = RunHistory(history).store(WORKSPACE)
        if not store.exists():
            t = time.perf_counter()
            counts = generate_workspace(store, WORKSPACE, runs=args.runs, steps=args.steps)
            print(f"pages: generated {', '.join(f'{v:,} {k}' for k, v in counts.items())} "
                  f"in {time.perf_counter() - t:.0f} s ({store.path.stat().st_size / 1e6:.0f} MB)")  # fmt: skip
        small = RunHistory(history).store(SMALL)
        if not small.exists():  # a workspace of a short play's size: the fresh server's own cost
            generate_workspace(small, SMALL, runs=300, steps=2_000, weeks=96)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            for name in (SMALL, WORKSPACE):
                server, base, boot = serve(history)
                try:
                    first = _visit(page, f"{base}/?workspace={name}", args.timeout)
                finally:
                    _stop(server)
                print(f"fresh server: answered in {boot:.2f} s, first page (/) of {name!r} ready {first:.2f} s "
                      "later (target <= 3 s)")  # fmt: skip
            server, base, _ = serve(history)
            try:
                print(f"{'page':<10} {'first s':>8} {'warm s (median of 2)':>22}  (target <= 2 s)")
                for path in args.pages:
                    times = []
                    for _ in range(3):
                        try:
                            times.append(_visit(page, f"{base}{path}?workspace={WORKSPACE}", args.timeout))
                        except Exception as exc:  # a timeout: say so and go on to the next page
                            print(f"{path:<10} not ready within {args.timeout:.0f} s ({type(exc).__name__})")
                            break
                    else:
                        print(f"{path:<10} {times[0]:>8.2f} {statistics.median(times[1:]):>22.2f}")
                # Moving through the sidebar, each page cached by the visits above: what a person
                # clicking from page to page waits, without the app's own reload.
                _visit(page, f"{base}/?workspace={WORKSPACE}", args.timeout)
                print(f"{'page':<10} {'by a sidebar click, s (median of 2)':>36}  (target <= 2 s)")
                # (the Presenter hides the sidebar: a click there could not come back)
                for path in [p for p in args.pages if p not in ("/", "/present")] + ["/"]:
                    clicks = []
                    for _ in range(2):
                        try:
                            clicks.append(_navigate(page, path, args.timeout))
                            _navigate(page, "/learn" if path != "/learn" else "/history", args.timeout)
                        except Exception as exc:
                            print(f"{path:<10} not ready within {args.timeout:.0f} s ({type(exc).__name__})")
                            break
                    else:
                        print(f"{path:<10} {statistics.median(clicks):>36.2f}")
            finally:
                _stop(server)
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
