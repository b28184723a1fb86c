"""Crash safety: a bulk sync killed with SIGKILL at random points, many times, then finished.

The fake GitHub runs as a real HTTP server on 127.0.0.1 in this process, so it keeps its state
while sync processes die; local changes keep arriving between the kills. At the end every task
has exactly one issue (its marker on exactly one issue, the one its link names), every local
change reached GitHub, and the outbox is empty.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from taskorch.config import Settings
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.tables import feature_issue_links, sync_outbox
from taskorch.sync.template import find_marker
from taskorch.testing.fake_github import FakeGitHub

TASKS = 200
KILLS = 12  # processes killed mid-sync
MAX_ROUNDS = 40
WORKER = """
import sys
from taskorch.services.app import Orchestrator
orchestrator = Orchestrator()
orchestrator.initialize_session(sys.argv[1])
result = orchestrator.git_sync()
print(result.detail, flush=True)
"""


def _spawn(project: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(project)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_one_issue_per_task_and_loses_nothing(tmp_path: Path, project: Path) -> None:
    seed = int(os.environ.get("TASKORCH_CRASH_SEED", "20261121"))
    rng = random.Random(seed)
    database_url = f"sqlite:///{tmp_path / 'crash.db'}"
    fake = FakeGitHub(latency=0.03)  # slow enough that a kill lands inside the work
    with fake.serve() as base_url:
        env = {
            **os.environ,
            "TASKORCH_DATABASE_URL": database_url,
            "TASKORCH_GITHUB_API_URL": base_url,
            "TASKORCH_MUTATION_SPACING": "0",
            "CRASH_TEST_TOKEN": "test-token-for-the-fake",
        }
        os.environ["CRASH_TEST_TOKEN"] = env["CRASH_TEST_TOKEN"]
        local = Orchestrator(Settings(database_url=database_url, mutation_spacing=0.0))
        local.initialize_session(str(project))
        local.git_connect("octo-org/shop", api_token_name="CRASH_TEST_TOKEN", auto_sync_enabled=True)
        plan = local.plan_task(
            TaskFields(title="Bulk feature"),
            [SubtaskSpec(key=f"t{i}", title=f"Subtask {i}") for i in range(TASKS - 1)],
        )
        task_ids = [plan.task.id, *(brief.id for brief in plan.subtasks.values())]

        kills = 0
        created_after_kill: list[int] = []
        round_ = 0
        while kills < KILLS:
            round_ += 1
            assert round_ <= MAX_ROUNDS, f"only {kills} of {round_ - 1} workers were killed mid-sync (seed {seed})"
            worker = _spawn(project, env)
            time.sleep(rng.uniform(0.3, 1.5))
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                kills += 1
            worker.wait(timeout=30)
            created_after_kill.append(len(fake.issues))
            # Local work goes on between the crashes; each change must reach GitHub in the end.
            for task_id in rng.sample(task_ids[1:], 5):
                local.update_task(task_id, {"title": f"Subtask {task_id} (round {round_})"})

        for _ in range(2):  # finish, then settle
            worker = _spawn(project, env)
            _out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err[-2000:]

        # The kills landed in the middle of the bulk creation, not only after it.
        assert any(0 < n < TASKS for n in created_after_kill), created_after_kill
        with local.db.transaction(write=False) as conn:
            links = {
                row.task_id: (row.idempotency_key, row.issue_number)
                for row in conn.execute(select(feature_issue_links))
            }
            pending = conn.execute(
                select(func.count()).select_from(sync_outbox).where(sync_outbox.c.status == "pending")
            ).scalar_one()
        assert sorted(links) == sorted(task_ids)
        markers = [find_marker(issue["body"]) for issue in fake.issues.values()]
        assert len(fake.issues) == TASKS, f"{len(fake.issues)} issues for {TASKS} tasks (seed {seed})"
        assert len(set(markers)) == TASKS
        for task_id, (key, number) in links.items():
            assert number is not None and find_marker(fake.issues[number]["body"]) == key
            assert fake.issues[number]["title"] == local.get_task(task_id).title, f"task {task_id} (seed {seed})"
        assert pending == 0
        assert local.maintenance_coordinator("validate_structure").findings == []
        local.close()


@pytest.mark.slow
def test_bulk_sync_under_injected_faults_converges_without_duplicates(
    fake_github: FakeGitHub, tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskorch.platforms.github import GitHubPlatform

    rng = random.Random(7)
    monkeypatch.setenv("FAULT_TEST_TOKEN", "test-token-for-the-fake")
    waits: list[float] = []
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'faults.db'}", mutation_spacing=0.0, max_retry_wait=5)
    orch = Orchestrator(
        settings,
        platform_factory=lambda config: GitHubPlatform.connect(
            "test-token-for-the-fake", str(config["repository_url"]), transport=fake_github.transport()
        ),
        sleep=waits.append,
    )
    orch.initialize_session(str(project))
    orch.git_connect("octo-org/shop", api_token_name="FAULT_TEST_TOKEN", auto_sync_enabled=True)
    count = 100
    plan = orch.plan_task(TaskFields(title="Bulk"), [SubtaskSpec(key=f"t{i}", title=f"T{i}") for i in range(count - 1)])
    kinds = ["500", "502", "503", "timeout", "drop_before", "drop_after", "429", "secondary", "primary"]
    for _ in range(40):
        fake_github.inject(
            rng.choice(kinds), method=rng.choice(["POST", "PATCH", "GET", None]), times=rng.randint(1, 2)
        )
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
    fake_github.inject("502", method="PATCH", times=3)
    orch.git_sync()
    markers = [find_marker(issue["body"]) for issue in fake_github.issues.values()]
    assert len(fake_github.issues) == count and len(set(markers)) == count
    with orch.db.transaction(write=False) as conn:
        links = {row.task_id: row.issue_number for row in conn.execute(select(feature_issue_links))}
    for task_id, number in links.items():
        assert fake_github.issues[number]["title"] == orch.get_task(task_id).title
    assert waits, "the faults were waited out or backed off"
    orch.close()
