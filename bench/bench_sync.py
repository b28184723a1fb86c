"""Benchmark of the sync against the local GitHub, GitLab and Jira stand-ins: requests and time.

    .venv/bin/python bench/bench_sync.py [--quick] [--tasks N] [--latency SECONDS] [--platform P]

Prints three tables, one row per platform (``--platform github``, ``gitlab`` or ``jira``: that one
only):

1. the requests a no-op pull spends over N linked issues (aim: at most 2), after the pulls that
   read the new issues once (``since`` is inclusive and to the second, so the issues updated in
   the watermark's second come once more before the conditional request is answered 304);
2. the requests per pushed change, pull excluded (aim: 1 mutation, no extra read);
3. the wall time of a bulk sync creating N issues with LATENCY seconds added to every request,
   against the floor that latency and the mutation spacing allow (the engine sends mutations one
   at a time, so the floor is requests x max(latency, spacing)).

Everything runs in this process against standins.github (in process, through an httpx transport)
and standins.gitlab (served on 127.0.0.1, as python-gitlab speaks ``requests``); no other network
is used. GitLab answers no 304: its no-op pull is one ``updated_after`` request listing the issues
of the watermark's millisecond. Jira answers no 304 either, and JQL reads times to the minute: its
no-op pull is one ``search/jql`` request for the watermark's minute plus one read of the key above
the highest known (the search index lags behind creations, so a lost creation is looked for by key).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
from standins.gitlab import FakeGitLab
from standins.jira import FakeJira

GITHUB_DOCUMENTED_SPACING = 1.0  # seconds between mutations, GitHub's best practice
PLATFORMS = ("github", "gitlab", "jira")
Fake = FakeGitHub | FakeGitLab | FakeJira


class LatentGitLab(FakeGitLab):
    """The GitLab stand-in, sleeping ``latency`` seconds before answering each request."""

    latency = 0.0

    def _process(self, method: str, raw_path: str, headers: Any, content: bytes) -> Any:
        if self.latency > 0:
            time.sleep(self.latency)
        return super()._process(method, raw_path, headers, content)


class LatentJira(FakeJira):
    """The Jira stand-in, sleeping ``latency`` seconds before answering each request."""

    latency = 0.0

    def _process(self, request: Any) -> Any:
        if self.latency > 0:
            time.sleep(self.latency)
        return super()._process(request)


@contextmanager
def stand_in(platform: str) -> Iterator[tuple[Fake, str | None]]:
    """A fresh stand-in and its base URL (``None``: reached in process)."""
    if platform == "github":
        yield FakeGitHub(), None
        return
    if platform == "jira":
        jira = LatentJira("SHOP")
        jira.rate_limit = jira.rate_remaining = 1_000_000_000
        with jira.serve() as url:
            yield jira, url
        return
    lab = LatentGitLab("group/sub/project")
    lab.rate_limit = lab.rate_remaining = 1_000_000_000
    lab.rate_reset = 4_102_444_800
    with lab.serve() as url:
        yield lab, url


def orchestrator(workdir: Path, fake: Fake, url: str | None, spacing: float) -> Orchestrator:
    project = workdir / "project"
    (project / ".git").mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_TOKEN"] = "bench-token-for-the-stand-in"
    settings = Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", mutation_spacing=spacing)
    if isinstance(fake, FakeGitHub):
        github = fake
        orch = Orchestrator(
            settings,
            platform_factory=lambda config: GitHubPlatform.connect(
                "bench-token-for-the-stand-in", str(config["repository_url"]), transport=github.transport()
            ),
        )
        repository = "octo-org/shop"
    elif isinstance(fake, FakeJira):
        assert url is not None
        orch = Orchestrator(Settings(**{**settings.__dict__, "jira_url": url, "jira_email": "bench@example.com"}))
        repository = "jira:SHOP"
    else:
        assert url is not None
        orch = Orchestrator(Settings(**{**settings.__dict__, "gitlab_url": url}))  # the registry's own factory
        repository = "gitlab:group/sub/project"
    orch.initialize_session(str(project))
    orch.git_connect(repository, api_token_name="BENCH_TOKEN", auto_sync_enabled=True)
    return orch


def plan_flat(orch: Orchestrator, count: int) -> list[int]:
    """``count`` independent tasks (one issue each, no sub-issue call)."""
    return [orch.plan_task(TaskFields(title=f"Task {i}", labels=["bench"])).task.id for i in range(count)]


def spent(fake: Fake, since: int) -> dict[str, int]:
    new = fake.requests[since:]
    return {
        "requests": len(new),
        "mutations": sum(1 for r in new if r.is_mutation),
        "reads": sum(1 for r in new if not r.is_mutation),
        "not_modified": sum(1 for r in new if r.status == 304),
    }


def no_op_pull(platform: str, tasks: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, stand_in(platform) as (fake, url):
        orch = orchestrator(Path(tmp), fake, url, 0.0)
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
            "platform": platform,
            "linked": tasks,
            "first pull (all issues)": first,
            "next pull (watermark second)": settle,
            "no-op pull requests": spent(fake, mark)["requests"],
            "answered 304": result.not_modified,
        }


def per_change(platform: str, tasks: int, changes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, stand_in(platform) as (fake, url):
        orch = orchestrator(Path(tmp), fake, url, 0.0)
        ids = plan_flat(orch, tasks)
        orch.git_sync()
        for task_id in ids[:changes]:
            orch.update_task(task_id, {"title": f"Task {task_id}, renamed"})
        mark = len(fake.requests)
        orch.git_sync(pull=False)
        orch.close()
        cost = spent(fake, mark)
        return {
            "platform": platform,
            "changes": changes,
            **cost,
            "mutations per change": cost["mutations"] / changes,
            "reads per change": cost["reads"] / changes,
        }


def bulk(platform: str, tasks: int, latency: float, spacing: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, stand_in(platform) as (fake, url):
        orch = orchestrator(Path(tmp), fake, url, spacing)
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
            "platform": platform,
            "tasks": tasks,
            "latency ms": latency * 1000,
            "spacing s": spacing,
            **cost,
            "seconds": elapsed,
            "floor s": floor,
            "of floor": elapsed / floor if floor else float("nan"),
            "at a 1 s spacing": cost["mutations"] * GITHUB_DOCUMENTED_SPACING,
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
    parser.add_argument("--platform", choices=PLATFORMS, default=None, help="one platform only (default: both)")
    args = parser.parse_args()
    tasks = args.tasks or (200 if args.quick else 1000)
    platforms = [args.platform] if args.platform else list(PLATFORMS)
    console = Console(width=180)
    console.print(table("No-op pull (aim: at most 2 requests)", [no_op_pull(p, tasks) for p in platforms]))
    console.print(
        table(
            "Pushed changes, pull excluded (aim: 1 mutation, 0 reads each)",
            [per_change(p, tasks, min(100, tasks)) for p in platforms],
        )
    )
    console.print(
        table("Bulk sync creating issues, serial mutations", [bulk(p, tasks, args.latency, 0.0) for p in platforms])
    )


if __name__ == "__main__":
    main()
