"""A large plan is written set-based: the same rows as inserting its tasks one by one.

``plan_task`` writes subtasks with :func:`repository.insert_tasks` (a few statements for the
whole batch). The reference here is :func:`repository.insert_task` called once per subtask, in
the same (dependency) order, in a second database: both must hold the same tasks, numbers,
labels, dependencies, counters, audit rows and search documents.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from taskorch.config import Settings
from taskorch.domain.caller import Caller, acting_as
from taskorch.domain.graph import topological_order
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.services.planning import PLAN_LISTED
from taskorch.store import repository as repo
from taskorch.store.tables import status_counts, task_dependencies, task_events, task_labels, tasks

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
COUNT = 1000


def specs(count: int) -> list[dict[str, Any]]:
    """Subtasks with labels, criteria, sibling and existing dependencies, listed out of order."""
    rnd = random.Random(7)
    out: list[dict[str, Any]] = []
    for index in range(count):
        spec: dict[str, Any] = {
            "key": f"s{index}",
            "title": f"Step {index} of the importer",
            "description": f"Do part {index}; keep the tests green.",
            "priority": rnd.choice(["low", "medium", "high", "critical"]),
            "specialist_type": rnd.choice(["implementer", "tester", "documenter"]),
            "labels": rnd.sample(["api", "db", "docs", "perf"], k=rnd.randint(0, 2)),
            "acceptance_criteria": ["works"] if index % 3 == 0 else [],
        }
        if index and rnd.random() < 0.4:
            spec["depends_on_keys"] = [f"s{i}" for i in rnd.sample(range(index), k=min(index, rnd.randint(1, 3)))]
        if index % 97 == 0:
            spec["depends_on"] = [1, 2]  # existing tasks: 1 completed, 2 pending
        out.append(spec)
    rnd.shuffle(out)  # keys name later siblings too; the plan is ordered by its dependencies
    return out


def orchestrator(tmp_path: Path, name: str, project: Path) -> Orchestrator:
    o = Orchestrator(Settings(database_url=f"sqlite:///{tmp_path / name}.db"), clock=lambda: AT)
    o.initialize_session(str(project))
    o.plan_task(TaskFields(title="Done before"))
    o.plan_task(TaskFields(title="Still pending"))
    o.execute_task(1)
    o.complete_task(1, "done")
    return o


def reference_plan(o: Orchestrator, parent: TaskFields, subtasks: list[SubtaskSpec], session_id: int) -> None:
    """The per-row path: the parent, then ``insert_task`` per subtask in dependency order."""
    with o.db.transaction() as conn:
        existing = {row.number: row.id for row in conn.execute(select(tasks.c.number, tasks.c.id))}
        root = repo.insert_task(
            conn,
            session_id=session_id,
            parent_id=None,
            fields={
                "title": parent.title,
                "description": parent.description,
                "task_type": parent.task_type.value,
                "complexity": parent.complexity.value,
                "priority": parent.priority.value,
                "specialist_type": "coordinator",
                "routing_reason": f"parent of {len(subtasks)} subtask(s): coordination goes to coordinator",
                "estimated_effort": None,
                "due_date": None,
                "acceptance_criteria": [],
                "context": "",
                "labels": [],
            },
            depends_on=[],
            tool="plan_task",
            at=AT,
        )
        by_key = {s.key: s for s in subtasks}
        ids: dict[str, int] = {}
        for key in topological_order({s.key: list(s.depends_on_keys) for s in subtasks}):
            sub = by_key[key]
            ids[key] = repo.insert_task(
                conn,
                session_id=session_id,
                parent_id=root,
                fields={
                    "title": sub.title,
                    "description": sub.description,
                    "task_type": sub.task_type.value,
                    "complexity": sub.complexity.value,
                    "priority": sub.priority.value,
                    "specialist_type": sub.specialist_type,
                    "routing_reason": "given by the caller",
                    "estimated_effort": sub.estimated_effort,
                    "due_date": sub.due_date,
                    "acceptance_criteria": list(sub.acceptance_criteria),
                    "context": sub.context,
                    "labels": list(sub.labels),
                },
                depends_on=[*(existing[n] for n in sub.depends_on), *(ids[k] for k in sub.depends_on_keys)],
                tool="plan_task",
                at=AT,
            )


def snapshot(o: Orchestrator) -> dict[str, Any]:
    """Everything the plan wrote, by task number (internal ids differ between databases only by chance)."""
    with o.db.transaction(write=False) as conn:
        number = {row.id: row.number for row in conn.execute(select(tasks.c.id, tasks.c.number))}
        task_rows = sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k not in ("id", "parent_id")))
            for row in conn.execute(select(tasks)).mappings()
        )
        labels = sorted((number[t], label) for t, label in conn.execute(select(task_labels)))
        deps = sorted((number[t], number[d]) for t, d in conn.execute(select(task_dependencies)))
        events = sorted(
            (row.task_number, row.tool, row.action, row.actor, str(sorted(row.changes.items())))
            for row in conn.execute(
                select(task_events).where(task_events.c.tool == "plan_task", task_events.c.task_number > 2)
            )
        )
        counts = sorted(tuple(row) for row in conn.execute(select(status_counts.c.status, status_counts.c.count)))
        documents = sorted(
            (number[rowid], document) for rowid, document in conn.execute(text("SELECT rowid, document FROM task_fts"))
        )
        next_number = conn.execute(text("SELECT next_task_number FROM sessions")).scalar_one()
    return {
        "tasks": task_rows,
        "labels": labels,
        "dependencies": deps,
        "audit": events,
        "counts": counts,
        "search": documents,
        "next_number": next_number,
    }


def test_a_1000_subtask_plan_writes_the_rows_of_the_per_task_path(tmp_path: Path, project: Path) -> None:
    subtasks = [SubtaskSpec.model_validate(s) for s in specs(COUNT)]
    parent = TaskFields(title="Import everything")

    bulk = orchestrator(tmp_path, "bulk", project)
    reference = orchestrator(tmp_path, "reference", project)
    try:
        sessions = bulk.get_status().session_id, reference.get_status().session_id
        with acting_as(Caller(actor="planner-token", remote=True)):
            plan = bulk.plan_task(parent, subtasks, session_id=sessions[0])
            reference_plan(reference, parent, subtasks, sessions[1])
        got, expected = snapshot(bulk), snapshot(reference)

        assert len(plan.numbers) == COUNT
        numbers = sorted(plan.numbers.values())
        assert numbers == list(range(plan.task.id + 1, plan.task.id + 1 + COUNT))  # consecutive
        assert got["next_number"] == plan.task.id + 1 + COUNT
        for key in got:
            assert got[key] == expected[key], key
        assert len(got["audit"]) == COUNT + 1  # the parent and the subtasks
        assert {entry[3] for entry in got["audit"]} == {"planner-token"}  # the caller, on every row
        assert bulk.query_tasks(text="importer", limit=1).total == COUNT
        assert bulk.query_tasks(labels=["perf"], limit=1).total == sum("perf" in s.labels for s in subtasks)
        structure = bulk.maintenance_coordinator("validate_structure")
        assert structure.findings == []
        # The ready queue: subtasks waiting only on the completed task 1 are ready.
        ready = set(plan.ready)
        for key, number in plan.numbers.items():
            spec = next(s for s in subtasks if s.key == key)
            assert (number in ready) is (not spec.depends_on_keys and 2 not in spec.depends_on)
        # A plan this large lists the briefs of its first ready subtasks only, by priority.
        rank = {plan.numbers[s.key]: s.priority.rank for s in subtasks}
        first = sorted(ready, key=lambda n: (rank[n], n))[:PLAN_LISTED]
        assert sorted(brief.id for brief in plan.subtasks.values()) == sorted(first)
        assert all(plan.numbers[key] == brief.id for key, brief in plan.subtasks.items())
        assert {d.task_id for d in plan.routing} <= {plan.task.id, *first}
        assert plan.routed_count == 1 + sum(s.specialist_type is None for s in subtasks)
    finally:
        bulk.close()
        reference.close()
