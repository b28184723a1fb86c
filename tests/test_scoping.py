"""Task numbers per project: a project's tasks stay in it, and numbers are never given twice.

Two projects share one database. Each numbers its tasks 1, 2, ...; a number is resolved within
the caller's project (the given session, else the current one), so a number of the other project
is refused with NotFound naming this project, and nothing changes. The internal ids never show.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from alembic import command
from alembic.config import Config
from mcp import Client
from pydantic import BaseModel
from sqlalchemy import insert
from typer.testing import CliRunner

from taskorch import summaries
from taskorch.cli.app import app
from taskorch.cli.words import CLI_WORDS
from taskorch.config import Settings
from taskorch.errors import NotFound
from taskorch.mcp.server import PREFIX, build_server
from taskorch.mcp.words import MCP_WORDS
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.db import Database
from taskorch.store.tables import sessions, task_dependencies, task_events, task_labels, tasks

# -- fixtures --------------------------------------------------------------------------------


def make_project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    (root / ".git").mkdir(parents=True)
    return root


@pytest.fixture
def proj_a(tmp_path: Path) -> Path:
    return make_project(tmp_path, "proj-a")


@pytest.fixture
def proj_b(tmp_path: Path) -> Path:
    return make_project(tmp_path, "proj-b")


@pytest.fixture
def two(settings: Settings, proj_a: Path, proj_b: Path) -> Iterator[tuple[Orchestrator, int, int]]:
    """Project A with four tasks (a parent with two subtasks, and a single task), then project B
    with two (the current session): B's internal ids are 5 and 6, its numbers 1 and 2."""
    orch = Orchestrator(settings)
    a = orch.initialize_session(str(proj_a)).session_id
    plan_a = orch.plan_task(
        TaskFields(title="A feature"),
        [SubtaskSpec(key="x", title="A design"), SubtaskSpec(key="y", title="A build", depends_on_keys=["x"])],
    )
    assert [plan_a.task.id, *(s.id for s in plan_a.subtasks.values())] == [1, 2, 3]
    assert orch.plan_task(TaskFields(title="A chore")).task.id == 4
    b = orch.initialize_session(str(proj_b)).session_id
    assert orch.plan_task(TaskFields(title="B first")).task.id == 1
    assert orch.plan_task(TaskFields(title="B second")).task.id == 2
    yield orch, a, b
    orch.close()


def snapshot(orch: Orchestrator, session_id: int) -> tuple[Any, Any]:
    """Every task of a project (archived too) and its audit trail, for "nothing changed"."""
    found = orch.query_tasks(session_id, include_archived=True, limit=200, include_artifacts=True)
    trail = orch.audit_trail(session_id, limit=1000)
    return found.model_dump(), trail.model_dump()


# -- services --------------------------------------------------------------------------------


def test_each_project_numbers_its_tasks_from_one(two: tuple[Orchestrator, int, int]) -> None:
    orch, a, b = two
    numbers_a = [t.id for t in orch.query_tasks(a, sort="id", order="asc").tasks]
    numbers_b = [t.id for t in orch.query_tasks(b, sort="id", order="asc").tasks]
    assert numbers_a == [1, 2, 3, 4]
    assert numbers_b == [1, 2]
    assert orch.get_task(1, session_id=a).title == "A feature"
    assert orch.get_task(1).title == "B first"  # the current session is B


REFUSALS: list[tuple[str, Callable[[Orchestrator], Any]]] = [
    ("execute_task", lambda o: o.execute_task(3)),
    ("complete_task", lambda o: o.complete_task(3, "done")),
    ("update_task", lambda o: o.update_task(3, {"title": "hijacked"})),
    ("cancel_task", lambda o: o.cancel_task(3, "not mine", cascade=True)),
    ("delete_task", lambda o: o.delete_task(3, hard=True, cascade=True)),
    ("delete_task archive", lambda o: o.delete_task(3)),
    ("synthesize_results", lambda o: o.synthesize_results(3)),
    ("plan_task under a parent", lambda o: o.plan_task(TaskFields(title="Sneaky"), parent_id=3)),
    ("get_task", lambda o: o.get_task(3)),
    ("audit_trail", lambda o: o.audit_trail(task_id=3)),
]


@pytest.mark.parametrize(("name", "call"), REFUSALS, ids=[name for name, _ in REFUSALS])
def test_a_number_of_another_project_is_refused_and_changes_nothing(
    two: tuple[Orchestrator, int, int],
    proj_a: Path,
    proj_b: Path,
    name: str,
    call: Callable[[Orchestrator], Any],
) -> None:
    orch, a, b = two
    before = snapshot(orch, a), snapshot(orch, b)
    with pytest.raises(NotFound) as raised:
        call(orch)
    message = str(raised.value)
    assert message.startswith(f"task 3 not found in project {proj_b.resolve()}.")
    # The project that has a task 3 is named, with how to address it; nothing of its task is shown.
    assert f"a task 3 exists in {proj_a.resolve()}" in message
    assert "session_id" in raised.value.render(MCP_WORDS) and "--project" in raised.value.render(CLI_WORDS)
    assert "A build" not in message
    assert (snapshot(orch, a), snapshot(orch, b)) == before


def test_the_same_number_in_the_given_session_acts_on_that_project(two: tuple[Orchestrator, int, int]) -> None:
    orch, a, _b = two
    started = orch.execute_task(2, session_id=a)
    assert (started.task.id, started.task.title, started.task.session_id) == (2, "A design", a)
    orch.complete_task(2, "designed", session_id=a)
    assert orch.get_task(2, session_id=a).status.value == "completed"
    assert orch.get_task(2).status.value == "pending"  # B's task 2 is untouched
    with pytest.raises(NotFound, match="task 9 not found in project"):
        orch.execute_task(9, session_id=a)


def test_dependencies_name_numbers_of_the_own_project(two: tuple[Orchestrator, int, int]) -> None:
    orch, _a, _b = two
    planned = orch.plan_task(TaskFields(title="B third", depends_on=[2]))
    assert (planned.task.id, planned.task.depends_on) == (3, [2])
    from taskorch.errors import InvalidInput

    with pytest.raises(InvalidInput, match="task 4 does not exist in this project"):
        orch.plan_task(TaskFields(title="B wants A's task", depends_on=[4]))
    with pytest.raises(InvalidInput, match="task 4 does not exist in this project"):
        orch.update_task(1, {"depends_on": [4]})


def test_without_a_session_a_task_number_needs_initialize_session(settings: Settings) -> None:
    orch = Orchestrator(settings)
    try:
        from taskorch.errors import InvalidInput

        with pytest.raises(InvalidInput, match="initialize_session"):
            orch.execute_task(1)
    finally:
        orch.close()


def internal_ids(database_url: str) -> list[int]:
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM tasks ORDER BY id")]


def test_numbers_and_internal_ids_are_not_reused_after_a_hard_delete(orch: Orchestrator, database_url: str) -> None:
    plan = orch.plan_task(
        TaskFields(title="Old parent"), [SubtaskSpec(key="a", title="Old a"), SubtaskSpec(key="b", title="Old b")]
    )
    assert plan.task.id == 1
    assert orch.plan_task(TaskFields(title="Old single")).task.id == 4
    assert orch.delete_task(1, hard=True, cascade=True).task_ids == [1, 2, 3]
    assert orch.delete_task(4, hard=True).task_ids == [4]
    assert internal_ids(database_url) == []

    fresh = orch.plan_task(TaskFields(title="New parent"), [SubtaskSpec(key="a", title="New a")])
    assert [fresh.task.id, fresh.subtasks["a"].id] == [5, 6]
    assert internal_ids(database_url) == [5, 6]
    for number, title in ((5, "New parent"), (6, "New a")):
        trail = orch.audit_trail(task_id=number).entries
        assert [e.action for e in trail] == ["created"]
        assert trail[0].changes["title"] == title
    gone = orch.audit_trail(task_id=4).entries
    assert [e.action for e in gone] == ["created", "deleted"]
    assert all(e.changes["title"] == "Old single" for e in gone)
    with pytest.raises(NotFound, match="task 7 not found"):
        orch.audit_trail(task_id=7)


# -- no internal id in any result ------------------------------------------------------------

#: Keys whose values name tasks, in every result model.
TASK_KEYS = {"task_id", "parent_id", "depends_on", "ready", "task_ids", "cancelled", "skipped", "stranded"}


def task_refs(value: Any, found: set[int]) -> set[int]:
    """Every task number a dumped result names: task keys, the ``id`` of task-shaped objects,
    and "task N" / "task_id=N" in its texts."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "counts":  # tasks per status, not task numbers
                continue
            if key in TASK_KEYS:
                found.update(i for i in (item if isinstance(item, list) else [item]) if isinstance(i, int))
            elif key == "id" and "specialist_type" in value and isinstance(item, int):
                found.add(item)
            task_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            task_refs(item, found)
    elif isinstance(value, str):
        found.update(int(n) for n in re.findall(r"\btask(?:_id=| )(\d+)", value, flags=re.IGNORECASE))
    return found


def test_no_result_of_the_second_project_names_an_internal_id(
    orch: Orchestrator, tmp_path: Path, database_url: str
) -> None:
    for index in range(5):
        orch.plan_task(TaskFields(title=f"A task {index}"))
    orch.initialize_session(str(make_project(tmp_path, "second")))
    results: list[BaseModel] = []
    plan = orch.plan_task(
        TaskFields(title="B feature"),
        [
            SubtaskSpec(key="design", title="Design"),
            SubtaskSpec(key="build", title="Build", depends_on_keys=["design"]),
            SubtaskSpec(key="docs", title="Docs", depends_on_keys=["design"]),
        ],
    )
    results.append(plan)
    assert internal_ids(database_url)[-4:] == [6, 7, 8, 9]  # numbers 1..4 are internal ids 6..9
    results.append(orch.get_status())
    results.append(orch.execute_task(2))
    results.append(orch.complete_task(2, "Designed", next_action="build it"))
    results.append(orch.execute_task(3))
    results.append(orch.complete_task(3, "Built"))
    results.append(orch.update_task(4, {"status": "blocked", "status_reason": "waits"}))
    results.append(orch.get_status())
    results.append(orch.cancel_task(4, "not needed"))
    results.append(orch.synthesize_results(1))
    results.append(orch.query_tasks(include_children=True, include_artifacts=True))
    results.append(orch.get_task(1))
    results.append(orch.audit_trail(limit=1000))
    results.append(orch.maintenance_coordinator("prepare_handover"))
    results.append(orch.plan_task(TaskFields(title="B later", depends_on=[2])))
    results.append(orch.delete_task(5, hard=True))
    texts = [getattr(summaries, name)(r) for name, r in (("plan", results[0]), ("execute", results[2]))]

    named = task_refs([r.model_dump(mode="json") for r in results] + texts, set())
    assert named == {1, 2, 3, 4, 5}
    with pytest.raises(NotFound):
        orch.get_task(6)


# -- MCP -------------------------------------------------------------------------------------


def test_mcp_numbers_follow_the_session_initialized_last(settings: Settings, proj_a: Path, proj_b: Path) -> None:
    async def call(client: Client, name: str, **arguments: Any) -> tuple[bool, Any]:
        result = await client.call_tool(PREFIX + name, arguments)
        text = "\n".join(getattr(block, "text", "") for block in result.content)
        return bool(result.is_error), result.structured_content if not result.is_error else text

    async def main() -> None:
        async with Client(build_server(settings)) as client:
            _, a = await call(client, "initialize_session", working_directory=str(proj_a))
            await call(client, "plan_task", title="A one")
            await call(client, "plan_task", title="A two")
            _, b = await call(client, "initialize_session", working_directory=str(proj_b))
            _, planned = await call(client, "plan_task", title="B one")
            assert planned["task"]["id"] == 1

            failed, message = await call(client, "execute_task", task_id=2)
            assert failed
            assert f"task 2 not found in project {proj_b.resolve()}" in message
            assert "session_id" in message
            _, other = await call(client, "query_tasks", session_id=a["session_id"], task_ids=[2])
            assert other["tasks"][0]["status"] == "pending"

            ok_failed, started = await call(client, "execute_task", task_id=2, session_id=a["session_id"])
            assert not ok_failed
            assert (started["task"]["id"], started["task"]["title"]) == (2, "A two")

            resource = await client.read_resource("taskorch://tasks/1")
            assert json.loads(resource.contents[0].text)["title"] == "B one"  # type: ignore[union-attr]
            audit = await client.read_resource("taskorch://tasks/1/audit")
            entries = json.loads(audit.contents[0].text)["entries"]  # type: ignore[union-attr]
            assert [(e["task_id"], e["changes"].get("title")) for e in entries] == [(1, "B one")]
            assert b["session_id"] != a["session_id"]

    anyio.run(main)


# -- CLI -------------------------------------------------------------------------------------


def test_cli_resolves_numbers_in_the_project_of_its_directory(
    monkeypatch: pytest.MonkeyPatch, database_url: str, proj_a: Path, proj_b: Path
) -> None:
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    runner = CliRunner()

    def cli(*args: str | Path) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    for title in ("A one", "A two"):
        assert cli("plan-task", title, "-C", proj_a).exit_code == 0
    assert cli("plan-task", "B one", "-C", proj_b).exit_code == 0

    refused = cli("execute-task", "2", "-C", proj_b)
    assert refused.exit_code == 3
    assert f"task 2 not found in project {proj_b.resolve()}" in refused.stderr
    assert "--project" in refused.stderr
    for args in (
        ("complete-task", "2", "--summary", "x"),
        ("update-task", "2", "--title", "hijacked"),
        ("cancel-task", "2", "--reason", "x"),
        ("delete-task", "2", "--hard"),
        ("synthesize-results", "2"),
    ):
        assert cli(*args, "-C", proj_b).exit_code == 3, args

    monkeypatch.chdir(proj_a)
    started = cli("execute-task", "2", "--json")  # the current directory is project A
    assert started.exit_code == 0, started.stderr
    assert json.loads(started.stdout)["task"]["title"] == "A two"
    shown = json.loads(cli("query-tasks", "--json", "-C", proj_a).stdout)
    assert {t["title"]: t["status"] for t in shown["tasks"]} == {"A one": "pending", "A two": "in_progress"}


# -- migration -------------------------------------------------------------------------------


def test_migration_numbers_existing_tasks_per_project(database_url: str) -> None:
    """A database at revision 0004 with tasks of two projects, some deleted, gets numbers in id
    order per project (deleted tasks known from the audit trail keep their place)."""
    db = Database(database_url)
    with db.engine.connect() as conn, conn.begin():
        cfg = Config()
        cfg.set_main_option("script_location", "taskorch.store:migrations")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004_waiting_index")
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    old_sessions = set(sessions.c.keys()) - {"next_task_number"}
    with db.engine.connect() as conn, conn.begin():
        for sid, root in ((1, "/p/one"), (2, "/p/two")):
            values = {"id": sid, "name": root, "project_root": root, "created_at": at, "last_active_at": at}
            conn.execute(insert(sessions).values({k: v for k, v in values.items() if k in old_sessions}))

        def task(task_id: int, session_id: int, parent_id: int | None = None) -> None:
            conn.execute(
                insert(tasks).values(
                    id=task_id,
                    session_id=session_id,
                    parent_id=parent_id,
                    title=f"task {task_id}",
                    description="",
                    task_type="feature",
                    complexity="moderate",
                    priority="medium",
                    priority_rank=2,
                    specialist_type="implementer",
                    routing_reason="",
                    status="pending",
                    acceptance_criteria=[],
                    context="",
                    version=1,
                    unmet_dependencies=0,
                    open_subtasks=0,
                    has_subtasks=False,
                    archived=False,
                    created_at=at,
                    updated_at=at,
                    assignees=[],
                    remote_fields=[],
                ),
            )
            conn.execute(
                insert(task_events).values(
                    session_id=session_id,
                    task_id=task_id,
                    tool="plan_task",
                    action="created",
                    changes={},
                    created_at=at,
                )
            )

        # Project one: 1, 2 (deleted later), 4 (a subtask of 1). Project two: 3, 5 (deleted), 6.
        for args in ((1, 1), (2, 1), (3, 2), (4, 1, 1), (5, 2), (6, 2), (7, 2)):
            task(*args)
        conn.execute(insert(task_labels).values(task_id=4, label="kept"))
        conn.execute(insert(task_dependencies).values(task_id=4, depends_on_id=1))
        conn.execute(tasks.delete().where(tasks.c.id.in_([2, 5, 7])))
    db.dispose()

    migrated = Database(database_url)
    migrated.ensure_schema()
    with migrated.engine.connect() as conn:
        numbers = dict(conn.execute(tasks.select().with_only_columns(tasks.c.id, tasks.c.number)).all())
        parents = dict(conn.execute(tasks.select().with_only_columns(tasks.c.id, tasks.c.parent_number)).all())
        counters = dict(
            conn.execute(sessions.select().with_only_columns(sessions.c.id, sessions.c.next_task_number)).all()
        )
        events = conn.execute(
            task_events.select().with_only_columns(task_events.c.task_id, task_events.c.task_number)
        ).all()
        labels = conn.execute(task_labels.select()).all()
        deps = conn.execute(task_dependencies.select()).all()
        sequence = conn.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = 'tasks'").scalar_one()
    migrated.dispose()
    assert numbers == {1: 1, 4: 3, 3: 1, 6: 3}
    assert parents == {1: None, 4: 1, 3: None, 6: None}
    assert counters == {1: 4, 2: 5}
    assert sorted(events) == [(1, 1), (2, 2), (3, 1), (4, 3), (5, 2), (6, 3), (7, 4)]
    assert (labels, deps) == ([(4, "kept")], [(4, 1)])  # the table rebuild cascaded nowhere
    assert sequence == 7

    orch = Orchestrator(Settings(database_url=database_url))
    try:
        planned = orch.plan_task(TaskFields(title="after"), session_id=2)
        assert planned.task.id == 5
        assert max(internal_ids(database_url)) == 8
    finally:
        orch.close()
