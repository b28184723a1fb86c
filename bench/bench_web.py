"""Server time to render each page of the web view, for projects of 1,000 and 10,000 tasks.

    .venv/bin/python bench/bench_web.py [--sizes 1000,10000] [--runs N]

Seeds each project through the services (standins/seed.py: epics of 19 subtasks chained by
dependencies, some work done, two release plans; no Git platform) in a temporary SQLite
database, then requests each page N times in process through Starlette's test client (no
network, no browser: the time is the server's, service calls plus template rendering plus
the test client's small overhead) and prints the median and the largest time in milliseconds
with the page's size. The aim: under 200 ms for the task graph of a 1,000-task project.

Nothing here is a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-ins (not installed)

from standins.seed import git_project, seed_project
from taskorch.config import Settings
from taskorch.services.app import Orchestrator

PAGES = ("graph", "board", "release", "sync", "activity", "task/2", "stamp")


def measure(size: int, runs: int, console: Console) -> list[tuple[str, float, float, int]]:
    from starlette.testclient import TestClient

    from taskorch.web.app import build_web_app

    with tempfile.TemporaryDirectory() as tmp:
        project = git_project(Path(tmp) / "project")
        orch = Orchestrator(Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}"))
        try:
            sid = orch.initialize_session(str(project)).session_id
            started = time.perf_counter()
            seeded = seed_project(orch, size, per_epic=19)
            console.print(f"seeded {seeded.total} tasks in {time.perf_counter() - started:.1f} s")
            rows = []
            with TestClient(build_web_app(lambda: orch), base_url="http://127.0.0.1") as client:
                for page in PAGES:
                    times = []
                    length = 0
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        response = client.get(f"/p/{sid}/{page}")
                        times.append((time.perf_counter() - t0) * 1000)
                        assert response.status_code == 200, (page, response.status_code)
                        length = len(response.content)
                    rows.append((page, statistics.median(times), max(times), length))
            return rows
        finally:
            orch.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="project sizes in tasks, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    console = Console()
    table = Table(title="Web view: server time per page (ms)")
    for column in ("tasks", "page", "median ms", "max ms", "size KiB"):
        table.add_column(column, justify="right" if column != "page" else "left")
    for size in (int(s) for s in args.sizes.split(",")):
        for page, median, worst, length in measure(size, args.runs, console):
            table.add_row(f"{size:,}", page, f"{median:.0f}", f"{worst:.0f}", f"{length / 1024:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
