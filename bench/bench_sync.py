"""Benchmark of the GitHub sync against the local stand-in: requests and time.

    .venv/bin/python bench/bench_sync.py [--quick] [--tasks N] [--latency SECONDS]

Prints three tables:

1. the requests a no-op pull spends over N linked issues (aim: at most 2), after the pulls that
   read the new issues once (``since`` is inclusive and to the second, so the issues updated in
   the watermark's second come once more before the conditional request is answered 304);
2. the requests per pushed change, pull excluded (aim: 1 mutation, no extra read);
3. the wall time of a bulk sync creating N issues with LATENCY seconds added to every request,
   against the floor that latency and the mutation spacing allow (the engine sends mutations one
   at a time, so the floor is requests x max(latency, spacing)).

Everything runs in this process against standins.github; no network is used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from taskorch.config import Settings
from taskorch.platforms.github import GitHubPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields

# The stand-ins live at the repository's root, outside the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from standins.github import FakeGitHub

GITHUB_DOCUMENTED_SPACING = 1.0  # seconds between mutations, GitHub's best practice


def orchestrator(workdir: Path, fake: FakeGitHub, spacing: float) -> Orchestrator:
    project = workdir / "project"
    (project / ".git").mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_GITHUB_TOKEN"] = "bench-token-for-the-stand-in"
    orch = Orchestrator(
        Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", mutation_spacing=spacing),
        platform_factory=lambda config: GitHubPlatform.connect(
            "bench-token-for-the-stand-in", str(config["repository_url"]), transport=fake.transport()
        ),
    )
    orch.initialize_session(str(project))
    orch.git_connect("octo-org/shop", api_token_name="BENCH_GITHUB_TOKEN", auto_sync_enabled=True)
    return orch


def plan_flat(orch: Orchestrator, count: int) -> list[int]:
    """``count`` independent tasks (one issue each, no sub-issue call)."""
    return [orch.plan_task(TaskFields(title=f"Task {i}", labels=["bench"])).task.id for i in range(count)]


def spent(fake: FakeGitHub, since: int) -> dict[str, int]:
    new = fake.requests[since:]
    return {
        "requests": len(new),
        "mutations": sum(1 for r in new if r.is_mutation),
        "reads": sum(1 for r in new if not r.is_mutation),
        "not_modified": sum(1 for r in new if r.status == 304),
    }


def no_op_pull(tasks: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeGitHub()
        orch = orchestrator(Path(tmp), fake, 0.0)
        plan_flat(orch, tasks)
        orch.git_sync()  # creates the issues
        mark = len(fake.requests)
        orch.git_sync(push=False)  # reads them all once: the watermark moves to the newest
        first = spent(fake, mark)["requests"]
        mark = len(fake.requests)
        orch.git_sync(push=False)  # the issues updated in the watermark's second, once
        settle = spent(fake, mark)["requests"]
        mark = len(fake.requests)
        result = orch.git_sync(push=False).sync
        orch.close()
        assert result is not None
        return {
            "linked": tasks,
            "first pull (all issues)": first,
            "next pull (watermark second)": settle,
            "no-op pull requests": spent(fake, mark)["requests"],
            "answered 304": result.not_modified,
        }


def per_change(tasks: int, changes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeGitHub()
        orch = orchestrator(Path(tmp), fake, 0.0)
        ids = plan_flat(orch, tasks)
        orch.git_sync()
        for task_id in ids[:changes]:
            orch.update_task(task_id, {"title": f"Task {task_id}, renamed"})
        mark = len(fake.requests)
        orch.git_sync(pull=False)
        orch.close()
        cost = spent(fake, mark)
        return {
            "changes": changes,
            **cost,
            "mutations per change": cost["mutations"] / changes,
            "reads per change": cost["reads"] / changes,
        }


def bulk(tasks: int, latency: float, spacing: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeGitHub()
        orch = orchestrator(Path(tmp), fake, spacing)
        plan_flat(orch, tasks)
        fake.latency = latency
        mark = len(fake.requests)
        started = time.perf_counter()
        result = orch.git_sync().sync
        elapsed = time.perf_counter() - started
        orch.close()
        assert result is not None and len(result.created) == tasks, result
        cost = spent(fake, mark)
        floor = cost["mutations"] * max(latency, spacing) + cost["reads"] * latency
        return {
            "tasks": tasks,
            "latency ms": latency * 1000,
            "spacing s": spacing,
            **cost,
            "seconds": elapsed,
            "floor s": floor,
            "of floor": elapsed / floor if floor else float("nan"),
            "at GitHub's 1 s spacing": cost["mutations"] * GITHUB_DOCUMENTED_SPACING,
        }


def table(title: str, rows: list[dict[str, Any]]) -> Table:
    out = Table(title=title, title_justify="left")
    for column in rows[0]:
        out.add_column(column, justify="right")
    for row in rows:
        out.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 tasks instead of 1,000")
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.020, help="seconds added to every request")
    args = parser.parse_args()
    tasks = args.tasks or (200 if args.quick else 1000)
    console = Console(width=160)
    console.print(table("No-op pull (aim: at most 2 requests)", [no_op_pull(tasks)]))
    console.print(table("Pushed changes, pull excluded (aim: 1 mutation, 0 reads each)", [per_change(tasks, 100)]))
    console.print(table("Bulk sync creating issues, serial mutations", [bulk(tasks, args.latency, 0.0)]))


if __name__ == "__main__":
    main()
