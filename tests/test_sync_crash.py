"""Crash safety: a bulk sync killed with SIGKILL mid-work, many times, then finished.

Every platform runs the same tests. The stand-in (GitHub's, GitLab's or Jira's) runs as a real HTTP server
on 127.0.0.1 in this process, so it keeps its state while sync processes die, and it counts the
issues it creates. Each round starts a sync worker
and kills it when an observable state is reached, never on a timer (importing a worker takes
seconds on a loaded machine): after ``n`` issue creations since the worker started, ``n`` drawn
from a seeded RNG, either *inside* the ``n``-th creation (the issue exists, its answer is never
read: the case a retry must not duplicate) or *after* it, at whatever point the worker has
reached by then. Local changes keep arriving between the kills. The test asserts that the kills
really landed mid-sync (the worker was alive, had created at least one issue in that run, and
issues were still missing), then that every task has exactly one issue (its marker on exactly
one issue, the one its link names), every local change reached the platform, and the outbox is
empty.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from standins.github import FakeGitHub
from standins.gitlab import FakeGitLab
from standins.jira import FakeJira, Workflow
from sync_platforms import PLATFORMS, Harness, harness
from taskorch.config import Settings
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.tables import feature_issue_links, sync_outbox

TASKS = 200
ROUNDS = 12  # workers started and killed mid-sync
MIN_LANDED = 10  # kills that must have landed mid-sync (alive, >= 1 creation in the run, work left)
MAX_CREATIONS_PER_ROUND = 8  # ROUNDS * 8 < TASKS: every round ends with issues still missing
#: Guards against a hung worker only; no behaviour depends on it.
STUCK_AFTER_SECONDS = 600.0
WORKER = """
import sys
from taskorch.services.app import Orchestrator
orchestrator = Orchestrator()
orchestrator.initialize_session(sys.argv[1])
result = orchestrator.git_sync()
print(result.detail, flush=True)
"""


class _Counting:
    """Counts the issues the stand-in creates; it can SIGKILL a worker inside a creation (after
    the issue exists, before the answer is sent)."""

    issues: dict[int, Any]

    def _counting_init(self) -> None:
        self.created = 0
        self.changed = threading.Condition()
        self.kill_inside: tuple[int, int] | None = None  # (pid, kill when `created` reaches this)
        self.killed_inside: tuple[int, int] | None = None  # (pid, issues at the kill)

    def _count(self) -> None:
        with self.changed:
            self.created += 1
            if self.kill_inside is not None and self.created >= self.kill_inside[1]:
                pid = self.kill_inside[0]
                self.kill_inside = None
                os.kill(pid, signal.SIGKILL)
                self.killed_inside = (pid, len(self.issues))
            self.changed.notify_all()


class CountingGitHub(_Counting, FakeGitHub):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._counting_init()

    def create_issue(self, req: Any, params: dict[str, str]) -> Any:
        reply = super().create_issue(req, params)
        self._count()
        return reply


class CountingGitLab(_Counting, FakeGitLab):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counting_init()

    def _create_issue(self, req: Any) -> Any:
        reply = super()._create_issue(req)
        if req.path:  # a request, not an issue a test opened as a person
            self._count()
        return reply


class CountingJira(_Counting, FakeJira):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counting_init()

    def create_issue(self, req: Any, params: dict[str, str]) -> Any:
        reply = super().create_issue(req, params)  # the issue exists, with its property
        self._count()
        return reply


Counting = CountingGitHub | CountingGitLab | CountingJira


@pytest.fixture(params=PLATFORMS)
def counting(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """A counting stand-in of each platform, served over HTTP."""
    if request.param == "github":
        fake: Counting = CountingGitHub()
        with fake.serve() as url:
            yield Harness("github", fake, url)
        return
    if request.param == "jira":
        jira = CountingJira("SHOP", workflow=Workflow.with_blocked())
        jira.rate_limit = jira.rate_remaining = 1_000_000
        # Jira's search index lags: a new issue stays out of search for a while (reads by key
        # find it), so a worker that lost a creation's answer must find it all the same.
        jira.search_lag = timedelta(seconds=2)
        with jira.serve() as url:
            yield Harness("jira", jira, url)
        return
    lab = CountingGitLab("group/sub/project")
    lab.rate_limit = lab.rate_remaining = 1_000_000
    lab.rate_reset = 4_102_444_800
    with lab.serve() as url:
        yield Harness("gitlab", lab, url)


def _spawn(project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(project)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_creations(fake: Counting, worker: subprocess.Popen[str], target: int, seed: int) -> None:
    """Block until the stand-in has created ``target`` issues in all, or the worker has exited."""
    give_up = time.monotonic() + STUCK_AFTER_SECONDS
    with fake.changed:
        while fake.created < target and worker.poll() is None and fake.killed_inside is None:
            assert time.monotonic() < give_up, f"worker stuck: {fake.created} of {target} creations (seed {seed})"
            fake.changed.wait(0.05)  # wakes on every creation; the timeout only notices the worker's exit


@pytest.mark.slow
def test_sigkill_mid_sync_leaves_one_issue_per_task_and_loses_nothing(
    tmp_path: Path, project: Path, counting: Harness
) -> None:
    seed = int(os.environ.get("TASKORCH_CRASH_SEED", "20261121"))
    rng = random.Random(seed)
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    fake = counting.fake
    assert isinstance(fake, CountingGitHub | CountingGitLab | CountingJira)
    env = {
        **os.environ,
        "TASKORCH_DATABASE_URL": database_url,
        **counting.environment(),
        "TASKORCH_MUTATION_SPACING": "0",
        "CRASH_TEST_TOKEN": "test-token-for-the-fake",
    }
    local = Orchestrator(Settings(database_url=database_url, mutation_spacing=0.0, **counting.settings_overrides()))
    local.initialize_session(str(project))
    local.git_connect(counting.repository, api_token_name="CRASH_TEST_TOKEN", auto_sync_enabled=True)
    plan = local.plan_task(
        TaskFields(title="Bulk feature"),
        [SubtaskSpec(key=f"t{i}", title=f"Subtask {i}") for i in range(TASKS - 1)],
    )
    task_ids = [plan.task.id, *(brief.id for brief in plan.subtasks.values())]

    landed: list[str] = []  # how each kill that landed mid-sync was made
    missed: list[str] = []
    for round_ in range(1, ROUNDS + 1):
        inside = rng.random() < 0.5
        n = rng.randint(1, MAX_CREATIONS_PER_ROUND)
        start = fake.created
        worker = _spawn(project, env)
        if inside:
            with fake.changed:
                fake.killed_inside = None
                fake.kill_inside = (worker.pid, start + n)
        _wait_for_creations(fake, worker, start + n, seed)
        with fake.changed:
            fake.kill_inside = None
            killed_inside, fake.killed_inside = fake.killed_inside, None
            created_in_run = fake.created - start
            issues_at_kill = killed_inside[1] if killed_inside else len(fake.issues)
        alive = worker.poll() is None
        if not inside and alive:
            worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
        how = f"round {round_}: {'inside' if inside else 'after'} creation {created_in_run} of the run"
        if worker.returncode == -signal.SIGKILL and created_in_run >= 1 and issues_at_kill < TASKS:
            landed.append(how)
        else:
            missed.append(f"{how}, exit {worker.returncode}, {issues_at_kill} issues")
        # Local work goes on between the crashes; each change must reach the platform in the end.
        for task_id in rng.sample(task_ids[1:], 5):
            local.update_task(task_id, {"title": f"Subtask {task_id} (round {round_})"})

    print(f"crash test (seed {seed}): {len(landed)} of {ROUNDS} kills landed mid-sync; missed: {missed}", flush=True)
    assert len(landed) >= MIN_LANDED, f"only {len(landed)} kills landed mid-sync (seed {seed}): {missed}"
    assert any("inside" in how for how in landed) and any("after" in how for how in landed), landed
    assert len(fake.issues) < TASKS, "the kills left work for the finishing runs"

    for _ in range(2):  # finish, then settle
        worker = _spawn(project, env)
        _out, err = worker.communicate(timeout=STUCK_AFTER_SECONDS)
        assert worker.returncode == 0, err[-2000:]

    with local.db.transaction(write=False) as conn:
        links = {
            row.task_id: (row.idempotency_key, row.issue_number) for row in conn.execute(select(feature_issue_links))
        }
        pending = conn.execute(
            select(func.count()).select_from(sync_outbox).where(sync_outbox.c.status == "pending")
        ).scalar_one()
    assert sorted(links) == sorted(task_ids)
    issues = counting.issues()
    markers = [issue.marker for issue in issues.values()]
    assert len(issues) == TASKS, f"{len(issues)} issues for {TASKS} tasks (seed {seed})"
    assert len(set(markers)) == TASKS
    for task_id, (key, number) in links.items():
        assert number is not None and issues[number].marker == key
        assert issues[number].title == local.get_task(task_id).title, f"task {task_id} (seed {seed})"
    assert pending == 0
    assert local.maintenance_coordinator("validate_structure").findings == []
    local.close()


@pytest.mark.slow
@pytest.mark.parametrize("platform", PLATFORMS)
def test_bulk_sync_under_injected_faults_converges_without_duplicates(
    platform: str, tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    monkeypatch.setenv("FAULT_TEST_TOKEN", "test-token-for-the-fake")
    waits: list[float] = []
    with harness(platform) as stand_in:
        if isinstance(stand_in.fake, FakeGitLab):
            stand_in.timeout = 1.0  # a held request is a timeout after 1 s (the stand-in holds it 3 s)
            stand_in.fake.hold_seconds = 3.0
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'faults.db'}",
            mutation_spacing=0.0,
            max_retry_wait=5,
            **stand_in.settings_overrides(),
        )
        orch = Orchestrator(settings, platform_factory=stand_in.factory(), sleep=waits.append)
        orch.initialize_session(str(project))
        orch.git_connect(stand_in.repository, api_token_name="FAULT_TEST_TOKEN", auto_sync_enabled=True)
        count = 100
        plan = orch.plan_task(
            TaskFields(title="Bulk"), [SubtaskSpec(key=f"t{i}", title=f"T{i}") for i in range(count - 1)]
        )
        kinds = ["500", "502", "503", "timeout", "drop_before", "drop_after", "429"]
        if platform == "github":
            kinds += ["secondary", "primary"]
        timeouts = 0
        for _ in range(40):
            kind = rng.choice(kinds)
            if kind == "timeout" and platform == "gitlab":
                timeouts += 1
                if timeouts > 4:  # each costs a real second of waiting on GitLab's stand-in
                    kind = "502"
            stand_in.inject(kind, method=rng.choice(["POST", "PATCH", "GET", None]), times=rng.randint(1, 2))
        runs = 0
        while True:
            runs += 1
            result = orch.git_sync().sync
            assert result is not None
            if result.pending == 0 and not result.failed:
                break
            assert runs < 10, f"no convergence after {runs} runs: {result.failed[:3]}"
        for brief in rng.sample(list(plan.subtasks.values()), 10):
            orch.update_task(brief.id, {"title": f"{brief.title} (edited)"})
        stand_in.inject("502", method="PATCH", times=3)
        orch.git_sync()
        issues = stand_in.issues()
        markers = [issue.marker for issue in issues.values()]
        assert len(issues) == count and len(set(markers)) == count
        with orch.db.transaction(write=False) as conn:
            links = {row.task_id: row.issue_number for row in conn.execute(select(feature_issue_links))}
        for task_id, number in links.items():
            assert issues[number].title == orch.get_task(task_id).title
        parent = links[plan.task.id]
        assert sorted(stand_in.children(parent)) == sorted(n for t, n in links.items() if t != plan.task.id)
        assert waits, "the faults were waited out or backed off"
        orch.close()
