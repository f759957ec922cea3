"""`make bench`: every benchmark in turn, each printing its own figures.

`python -m benchmarks [NAME ...]` runs only the named ones; `--quick` shrinks the largest sizes.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = ("store", "drift", "devops", "mlops", "scenario", "dashboard", "pages", "room", "import")


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"benchmarks.bench_{name}":
                raise
            print(f"\n== {name}: no benchmark yet")
            continue
        print(f"\n== {name}")
        started = time.perf_counter()
        module.main(["--quick"] if quick and name in ("drift", "room", "import") else [])
        print(f"({name}: {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
