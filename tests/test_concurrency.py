"""Several OS processes writing one SQLite database at once, through the Orchestrator.

Each worker is a separate process (multiprocessing, "spawn"), started together at a barrier. They
plan tasks, execute and complete them, plan subtasks under one shared parent, and increment a
counter on one shared task by optimistic read-modify-write (expected_version, retried on
VersionMismatch). Every exception a worker sees is collected and reported. Afterwards no update
is lost, every task a worker created exists, and validate_structure finds nothing.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from taskorch.config import Settings
from taskorch.domain.model import TaskStatus
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.db import HEAD_REVISION

pytestmark = pytest.mark.slow

WORKERS = 3
OPERATIONS = 150
#: Every LABEL_EVERY-th operation appends one distinct label to the shared task (at most 20 labels).
LABEL_EVERY = 30
#: Seconds to wait for the workers to start (imports) and to finish.
START_TIMEOUT = 60
RUN_TIMEOUT = 240


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])


def read_modify_write(orch: Orchestrator, task_id: int, change: Any, result: dict[str, Any]) -> None:
    """Apply ``change(task) -> changes`` to the task at the version read, retrying on VersionMismatch."""
    from taskorch.errors import VersionMismatch

    for _ in range(1000):
        task = orch.get_task(task_id)
        try:
            orch.update_task(task_id, change(task), expected_version=task.version)
        except VersionMismatch:
            result["retries"] += 1
            continue
        return
    raise AssertionError(f"task {task_id}: no update got through in 1000 attempts")


def increment(task: Any) -> dict[str, Any]:
    count = int(task.estimated_effort.removeprefix("n="))
    return {"estimated_effort": f"n={count + 1}"}


def worker(
    url: str, project: str, number: int, shared: dict[str, int], barrier: Any, out: str, operations: int
) -> None:
    """One process's share of the work; writes what it did, and every exception it saw, to ``out``."""
    result: dict[str, Any] = {
        "created": [],
        "completed": [],
        "synthesized": [],
        "increments": 0,
        "labels": [],
        "retries": 0,
        "errors": [],
    }
    orch = Orchestrator(Settings(database_url=url))
    try:
        orch.initialize_session(project)
        barrier.wait(START_TIMEOUT)
        result["started"] = time.time()
        ready: list[int] = []  # own leaf tasks, not yet started
        children: dict[int, int] = {}  # own parent id -> its subtasks still open
        parent_of: dict[int, int] = {}
        for i in range(operations):
            try:
                step = i % 5
                if step in (0, 1):
                    read_modify_write(orch, shared["counter"], increment, result)
                    result["increments"] += 1
                elif step == 2:
                    if i % 2:
                        plan = orch.plan_task(
                            TaskFields(title=f"worker {number} task {i}", labels=[f"w{number}"]),
                            [SubtaskSpec(key="a", title="part a"), SubtaskSpec(key="b", title="part b")],
                        )
                        subs = [brief.id for brief in plan.subtasks.values()]
                        children[plan.task.id] = len(subs)
                        parent_of.update(dict.fromkeys(subs, plan.task.id))
                    else:
                        # A subtask of the parent every worker plans under.
                        plan = orch.plan_task(
                            TaskFields(title=f"worker {number} shared child {i}"), parent_id=shared["parent"]
                        )
                        subs = []
                    result["created"] += [plan.task.id, *subs]
                    ready += subs or [plan.task.id]
                elif step == 3 and ready:
                    task_id = ready.pop(0)
                    orch.execute_task(task_id)
                    orch.complete_task(task_id, f"done by worker {number}", file_paths=["src/app.py"])
                    result["completed"].append(task_id)
                    parent = parent_of.get(task_id)
                    if parent is not None:
                        children[parent] -= 1
                        if children[parent] == 0:
                            assert orch.synthesize_results(parent).parent_status == TaskStatus.COMPLETED
                            result["synthesized"].append(parent)
                elif step == 4:
                    mine = orch.query_tasks(labels=[f"w{number}"], limit=5)
                    assert mine.total == len(children), (mine.total, len(children))
                    orch.get_status()
                if i % LABEL_EVERY == LABEL_EVERY - 1:
                    label = f"w{number}-{i}"
                    read_modify_write(
                        orch, shared["counter"], lambda task, label=label: {"labels": [*task.labels, label]}, result
                    )
                    result["labels"].append(label)
            except Exception as exc:
                result["errors"].append(f"worker {number} operation {i}: {_describe(exc)}")
        result["finished"] = time.time()
    except Exception as exc:
        result["errors"].append(f"worker {number}: {_describe(exc)}")
    finally:
        orch.close()
        Path(out).write_text(json.dumps(result))


def init_worker(url: str, project: str, number: int, barrier: Any, out: str) -> None:
    """Open a brand-new database (migrating it) and initialize the same project's session."""
    result: dict[str, Any] = {"errors": []}
    try:
        barrier.wait(START_TIMEOUT)
        orch = Orchestrator(Settings(database_url=url))
        try:
            session = orch.initialize_session(project)
            result.update(session_id=session.session_id, resumed=session.resumed)
            result["task"] = orch.plan_task(TaskFields(title=f"first task of worker {number}")).task.id
        finally:
            orch.close()
    except Exception as exc:
        result["errors"].append(f"worker {number}: {_describe(exc)}")
    finally:
        Path(out).write_text(json.dumps(result))


def run_processes(target: Any, argument_lists: list[tuple[Any, ...]], outs: list[Path]) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args) for args in argument_lists]
    for process in processes:
        process.start()
    for process in processes:
        process.join(RUN_TIMEOUT)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    codes = [process.exitcode for process in processes]
    assert codes == [0] * len(processes), f"exit codes {codes}"
    return [json.loads(out.read_text()) for out in outs]


def check_no_errors(results: list[dict[str, Any]]) -> None:
    """No process saw an exception; above all not SQLite's "database is locked"."""
    errors = [e for r in results for e in r["errors"]]
    report = f"{len(errors)} exception(s) in the workers; the first ones:\n" + "\n".join(errors[:10])
    assert not [e for e in errors if "is locked" in e.lower()], report
    assert errors == [], report


def test_processes_writing_at_once_lose_no_update(project: Path, tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    url = f"sqlite:///{database}"
    (project / "src").mkdir()
    orch = Orchestrator(Settings(database_url=url))
    orch.initialize_session(str(project))
    shared = {
        "counter": orch.plan_task(TaskFields(title="shared counter", estimated_effort="n=0")).task.id,
        "parent": orch.plan_task(TaskFields(title="shared parent")).task.id,
    }
    orch.close()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    outs = [tmp_path / f"worker{n}.json" for n in range(WORKERS)]
    results = run_processes(
        worker,
        [(url, str(project), n, shared, barrier, str(outs[n]), OPERATIONS) for n in range(WORKERS)],
        outs,
    )

    check_no_errors(results)
    # The workers ran at the same time.
    assert max(r["started"] for r in results) < min(r["finished"] for r in results)
    print("optimistic retries:", [r["retries"] for r in results])

    orch = Orchestrator(Settings(database_url=url))
    try:
        orch.initialize_session(str(project))
        # No lost update: the counter equals the increments that succeeded, the labels are all there,
        # and the version grew by exactly one per successful update.
        increments = sum(r["increments"] for r in results)
        labels = [label for r in results for label in r["labels"]]
        assert increments == WORKERS * OPERATIONS * 2 // 5
        assert len(labels) == WORKERS * (OPERATIONS // LABEL_EVERY)
        counter = orch.get_task(shared["counter"])
        assert counter.estimated_effort == f"n={increments}"
        assert sorted(counter.labels) == sorted(labels)
        assert counter.version == 1 + increments + len(labels)
        updates = [
            e for e in orch.audit_trail(task_id=shared["counter"], limit=10_000).entries if e.action == "updated"
        ]
        assert len(updates) == increments + len(labels)

        # Every task each process created exists, with what that process did to it.
        created = [task_id for r in results for task_id in r["created"]]
        completed = [task_id for r in results for task_id in r["completed"]]
        synthesized = [task_id for r in results for task_id in r["synthesized"]]
        assert len(set(created)) == len(created) > WORKERS * 20
        assert orch.query_tasks(task_ids=created).total == len(created)
        done = orch.query_tasks(task_ids=[*completed, *synthesized], status=["completed"])
        assert done.total == len(completed) + len(synthesized) > 0
        for number, result in enumerate(results):
            mine = orch.query_tasks(labels=[f"w{number}"], limit=200).tasks
            assert {t.id for t in mine} <= set(result["created"])
        shared_children = orch.query_tasks(parent_id=shared["parent"], limit=200)
        per_worker = sum(1 for i in range(OPERATIONS) if i % 5 == 2 and i % 2 == 0)
        assert shared_children.total == WORKERS * per_worker
        status = orch.get_status()
        assert sum(status.counts.values()) == len(created) + 2

        findings = orch.maintenance_coordinator("validate_structure", dry_run=True).findings
        assert findings == [], findings
    finally:
        orch.close()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    project = tmp_path / "fresh-project"
    (project / ".git").mkdir(parents=True)
    for round_ in range(2):
        database = tmp_path / f"new-{round_}" / "taskorch.db"
        assert not database.exists()
        url = f"sqlite:///{database}"
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(WORKERS)
        outs = [tmp_path / f"init-{round_}-{n}.json" for n in range(WORKERS)]
        results = run_processes(
            init_worker, [(url, str(project), n, barrier, str(outs[n])) for n in range(WORKERS)], outs
        )

        check_no_errors(results)
        assert len({r["session_id"] for r in results}) == 1
        assert sorted(r["resumed"] for r in results) == [False] + [True] * (WORKERS - 1)

        with sqlite3.connect(database) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD_REVISION,)]
            assert conn.execute("SELECT project_root FROM sessions").fetchall() == [(str(project.resolve()),)]
            assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (WORKERS,)
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        orch = Orchestrator(Settings(database_url=url))
        try:
            orch.initialize_session(str(project))
            assert orch.get_status().counts["pending"] == WORKERS
            assert orch.maintenance_coordinator("validate_structure", dry_run=True).findings == []
        finally:
            orch.close()
