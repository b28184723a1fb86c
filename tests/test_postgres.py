"""The core services on PostgreSQL, when a server is reachable (see ``postgres_server`` for which
server, and when the module is skipped). Each test works in a schema of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import ValidationError
from sqlalchemy import create_engine, text

from postgres_server import schema_url
from taskorch.config import Settings
from taskorch.errors import (
    Conflict,
    DependenciesUnfinished,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from taskorch.mcp.server import PREFIX, build_server
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.db import HEAD_REVISION, Database

# Every test needs the server: all are skipped, with the reason, when it cannot be reached.
pytestmark = pytest.mark.usefixtures("admin")


@pytest.fixture
def pg_url(schema: str) -> str:
    return schema_url(schema).render_as_string(hide_password=False)


@pytest.fixture
def pg(pg_url: str, project: Path) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(Settings(database_url=pg_url))
    orchestrator.initialize_session(str(project))
    yield orchestrator
    orchestrator.close()


def plan_feature(orch: Orchestrator) -> dict[str, int]:
    """A parent with design -> build -> (tests, docs); ids by key, the parent under 'parent'."""
    result = orch.plan_task(
        TaskFields(title="Add rate limiting to the login", labels=["auth"], acceptance_criteria=["429 over the limit"]),
        [
            SubtaskSpec(key="design", title="Design the limiter migration", task_type="design"),
            SubtaskSpec(key="build", title="Implement the limiter", depends_on_keys=["design"], priority="high"),
            SubtaskSpec(key="tests", title="Test the limiter", task_type="testing", depends_on_keys=["build"]),
            SubtaskSpec(key="docs", title="Document the limits", task_type="documentation", depends_on_keys=["build"]),
        ],
    )
    ids = {key: brief.id for key, brief in result.subtasks.items()}
    ids["parent"] = result.task.id
    return ids


def run(orch: Orchestrator, task_id: int, summary: str = "done", **kwargs: Any) -> None:
    orch.execute_task(task_id)
    orch.complete_task(task_id, summary, **kwargs)


def scalar(pg_url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def assert_consistent(orch: Orchestrator) -> None:
    result = orch.maintenance_coordinator("validate_structure", dry_run=True)
    assert result.findings == [], result.findings


# -- schema ------------------------------------------------------------------------------------------


def test_an_empty_schema_is_migrated_to_head(pg_url: str, schema: str, project: Path) -> None:
    database = Database(pg_url)
    assert database.dialect == "postgresql"
    assert database.current_revision() is None
    orch = Orchestrator(Settings(database_url=pg_url))
    try:
        health = orch.health_check()
        assert health.database["migrated_on_open"] is True
        assert health.database["revision"] == HEAD_REVISION
        assert orch.initialize_session(str(project)).resumed is False
    finally:
        orch.close()
    assert Database(pg_url).current_revision() == HEAD_REVISION

    tables = scalar(
        pg_url,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = :s",
        s=schema,
    ).split(",")
    expected = {"alembic_version", "sessions", "tasks", "task_fts", "status_counts", "task_events", "artifacts"}
    assert expected <= set(tables)
    assert scalar(pg_url, "SELECT version_num FROM alembic_version") == HEAD_REVISION
    # A second orchestrator on the migrated schema finds it at head and resumes the session.
    again = Orchestrator(Settings(database_url=pg_url))
    try:
        assert again.health_check().database["migrated_on_open"] is False
        assert again.initialize_session(str(project)).resumed is True
    finally:
        again.close()


def test_processes_starting_together_on_an_empty_schema_migrate_it_once(pg_url: str) -> None:
    """Four handles migrate one new schema at once: one runs the migration, the others wait for
    it and find the schema at head (no "relation already exists")."""
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_database() -> None:
        database = Database(pg_url)
        try:
            start.wait()
            database.ensure_schema()
        except BaseException as exc:  # collected and reported below
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=open_database, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)  # a safety net only: without the lock the handles can deadlock
    assert not any(thread.is_alive() for thread in threads), "the migrations did not finish"
    assert errors == []
    assert Database(pg_url).current_revision() == HEAD_REVISION


# -- the task lifecycle ----------------------------------------------------------------------------


def test_plan_execute_complete_and_synthesize(pg: Orchestrator, project: Path) -> None:
    ids = plan_feature(pg)
    status = pg.get_status()
    assert [t.id for t in status.ready] == [ids["design"]]
    assert status.counts["pending"] == 5

    with pytest.raises(DependenciesUnfinished) as refused:
        pg.execute_task(ids["build"])
    assert refused.value.blockers == [ids["design"]]

    context = pg.execute_task(ids["design"])
    assert context.task.status == "in_progress"
    assert [a.id for a in context.ancestry] == [ids["parent"]]
    done = pg.complete_task(
        ids["design"], "Token bucket per account", detailed_work="10 per minute", file_paths=["docs/limiter.md"]
    )
    assert [t.id for t in done.unblocked] == [ids["build"]]

    build = pg.execute_task(ids["build"])
    assert [d.task_id for d in build.dependency_results] == [ids["design"]]
    assert build.dependency_results[0].artifacts[0].summary == "Token bucket per account"
    pg.complete_task(ids["build"], "Limiter in the login view", file_paths=[str(project / "src" / "auth.py")])
    run(pg, ids["tests"], "Tests for 429")
    partial = pg.synthesize_results(ids["parent"])
    assert partial.parent_status == "pending"
    assert [t.id for t in partial.open] == [ids["docs"]]

    last = pg.execute_task(ids["docs"])
    assert last.task.status == "in_progress"
    finished = pg.complete_task(ids["docs"], "Documented the limits")
    assert finished.parent_ready_for_synthesis is True
    synthesis = pg.synthesize_results(ids["parent"])
    assert synthesis.parent_status == "completed"
    assert "Token bucket per account" in synthesis.synthesis
    assert "`src/auth.py`" in synthesis.synthesis

    parent = pg.get_task(ids["parent"])
    assert parent.status == "completed" and parent.synthesis == synthesis.synthesis
    counts = pg.get_status().counts
    assert counts["completed"] == 5 and sum(counts.values()) == 5
    actions = [e.action for e in pg.audit_trail(task_id=ids["design"]).entries]
    assert actions == ["created", "status", "status", "artifact"]
    assert_consistent(pg)


def test_full_text_search_uses_the_tsvector_documents(pg: Orchestrator, pg_url: str) -> None:
    ids = plan_feature(pg)
    other = pg.plan_task(
        TaskFields(title='Design "NEAR( * OR title: parser', description="Robert'); DROP TABLE tasks;--")
    )

    def found(query: str) -> list[int]:
        return sorted(t.id for t in pg.query_tasks(text=query, limit=50).tasks)

    assert found("migr") == [ids["design"]]  # a prefix of the last word
    assert found("limiter implement") == [ids["build"]]  # every word must match
    assert found("LIMITER") == sorted([ids["design"], ids["build"], ids["tests"]])
    assert found("auth") == [ids["parent"]]  # labels are indexed
    assert found('"NEAR( * OR title:') == [other.task.id]  # operators are plain words
    assert found("drop table tasks") == [other.task.id]
    assert found("((( *** :::") == []  # no word at all matches nothing
    assert pg.query_tasks(text="limiter", limit=1).total == 3

    run(pg, ids["design"], "Chose a sliding window", detailed_work="Redis sorted sets keyed by account")
    assert found("sorted sets") == [ids["design"]]  # artifacts are indexed when recorded
    pg.update_task(ids["tests"], {"title": "Exercise the throttle"})
    assert found("throttle") == [ids["tests"]]  # the document follows the title
    assert ids["tests"] not in found("limiter")

    assert scalar(pg_url, "SELECT count(*) FROM task_fts") == 6
    pg.delete_task(other.task.id, hard=True)
    assert scalar(pg_url, "SELECT count(*) FROM task_fts") == 5
    assert scalar(pg_url, "SELECT count(*) FROM tasks") == 5
    assert_consistent(pg)


def test_update_is_partial_and_refuses_a_stale_version(pg: Orchestrator) -> None:
    task = pg.plan_task(TaskFields(title="Tune the cache", labels=["perf"], estimated_effort="2h")).task
    assert task.version == 1
    updated = pg.update_task(task.id, {"priority": "high", "labels": ["perf", "db"]}, expected_version=1)
    assert sorted(updated.changed) == ["labels", "priority"]
    assert updated.task.version == 3  # one per changed column group
    with pytest.raises(VersionMismatch, match="version 3, not 1"):
        pg.update_task(task.id, {"title": "Lost"}, expected_version=1)
    again = pg.get_task(task.id)
    assert (again.title, again.version) == ("Tune the cache", 3)
    assert (again.labels, again.estimated_effort) == (["db", "perf"], "2h")
    assert pg.update_task(task.id, {"estimated_effort": None}, expected_version=3).task.estimated_effort is None
    with pytest.raises(NotFound):
        pg.update_task(2**31 - 1, {"title": "x"})


def test_cancel_cascades_and_names_stranded_dependents(pg: Orchestrator) -> None:
    ids = plan_feature(pg)
    waiting = pg.plan_task(TaskFields(title="Announce the limits", depends_on=[ids["docs"]])).task.id
    run(pg, ids["design"], "designed")
    with pytest.raises(Conflict, match="cascade=true"):
        pg.cancel_task(ids["parent"], "descoped")
    result = pg.cancel_task(ids["parent"], "descoped", cascade=True)
    assert result.cancelled == sorted([ids["parent"], ids["build"], ids["tests"], ids["docs"]])
    assert result.skipped == [ids["design"]]
    assert result.stranded == [waiting]
    assert pg.get_task(ids["design"]).artifacts  # recorded work is kept
    counts = pg.get_status().counts
    assert (counts["cancelled"], counts["completed"], counts["pending"]) == (4, 1, 1)
    assert_consistent(pg)


def test_archive_then_hard_delete(pg: Orchestrator, pg_url: str) -> None:
    ids = plan_feature(pg)
    keep = pg.plan_task(TaskFields(title="Unrelated")).task.id
    needs_design = pg.plan_task(TaskFields(title="Depends on the design", depends_on=[ids["design"]])).task.id
    with pytest.raises(Conflict, match="depend on them"):
        pg.delete_task(ids["parent"])  # the design is unfinished and a remaining task waits for it
    pg.delete_task(needs_design, hard=True)

    archived = pg.delete_task(ids["parent"])  # its subtasks are still open
    assert archived.mode == "archived"
    assert archived.task_ids == sorted(ids.values())
    assert pg.query_tasks().total == 1
    assert pg.query_tasks(include_archived=True).total == 6
    assert sum(pg.get_status().counts.values()) == 1
    assert_consistent(pg)
    with pytest.raises(Conflict, match="archived"):
        pg.execute_task(ids["design"])

    with pytest.raises(Conflict, match="cascade=true"):
        pg.delete_task(ids["parent"], hard=True)
    deleted = pg.delete_task(ids["parent"], hard=True, cascade=True)
    assert deleted.mode == "deleted" and deleted.task_ids == sorted(ids.values())
    assert pg.query_tasks(include_archived=True).total == 1
    assert scalar(pg_url, "SELECT count(*) FROM tasks") == 1
    assert scalar(pg_url, "SELECT count(*) FROM task_fts") == 1
    assert scalar(pg_url, "SELECT count(*) FROM task_dependencies") == 0
    # The audit trail outlives the rows.
    assert [e.action for e in pg.audit_trail(task_id=ids["design"]).entries][-1] == "deleted"
    assert pg.get_task(keep).status == "pending"
    assert_consistent(pg)


# -- maintenance and health ------------------------------------------------------------------------


def test_validate_structure_finds_and_repairs_drift(pg: Orchestrator, pg_url: str) -> None:
    ids = plan_feature(pg)
    run(pg, ids["design"], "designed")
    pg.cancel_task(ids["docs"], "not needed")
    assert_consistent(pg)  # the SQLite-only PRAGMA checks do not run here

    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE tasks SET unmet_dependencies = 7 WHERE id = :i"), {"i": ids["tests"]})
            conn.execute(text("UPDATE status_counts SET count = count + 3 WHERE status = 'pending'"))
    finally:
        engine.dispose()
    found = pg.maintenance_coordinator("validate_structure", dry_run=True)
    assert sorted(f.kind for f in found.findings) == ["derived_counters", "status_counts"]
    assert found.changed == 0
    fixed = pg.maintenance_coordinator("validate_structure", dry_run=False)
    assert fixed.changed == 2 and all(f.fixed for f in fixed.findings)
    assert_consistent(pg)
    assert pg.get_task(ids["tests"]).depends_on == [ids["build"]]

    cleanup = pg.maintenance_coordinator("scan_cleanup", dry_run=True)
    assert cleanup.findings == []
    handover = pg.maintenance_coordinator("prepare_handover")
    assert handover.report is not None and "Implement the limiter" in handover.report
    vacuum = pg.maintenance_coordinator("vacuum", dry_run=True)
    assert [f.detail for f in vacuum.findings] == ["VACUUM ANALYZE would run"]


def test_health_check_and_reconnect(pg: Orchestrator) -> None:
    health = pg.health_check()
    assert health.status == "ok", health
    assert health.database["dialect"] == "postgresql"
    assert health.database["reachable"] is True and health.database["at_head"] is True
    assert health.database["integrity"] == "ok"
    assert health.disk["path"] is None  # a server's disk is not visible from here
    assert pg.checkpoint() == "not needed (PostgreSQL)"
    reconnect = pg.reconnect_test()
    assert reconnect.ok, reconnect.detail
    assert pg.get_status().total == 0


def test_unreachable_server_is_reported_without_secrets() -> None:
    url = "postgresql+psycopg://taskorch:s3cret-pw@127.0.0.1:1/none?connect_timeout=2"
    orch = Orchestrator(Settings(database_url=url))
    try:
        health = orch.health_check()
    finally:
        orch.close()
    assert health.status == "failing"
    assert health.database["reachable"] is False
    assert "s3cret-pw" not in str(health.model_dump())


# -- values PostgreSQL refuses -----------------------------------------------------------------------


def test_nul_characters_are_refused_cleanly_and_change_nothing(pg: Orchestrator, pg_url: str) -> None:
    task = pg.plan_task(TaskFields(title="Clean")).task
    with pytest.raises(ValidationError, match=r"U\+0000 \(NUL\)"):
        TaskFields(title="bad\x00title")
    with pytest.raises(InvalidInput, match="NUL"):
        pg.update_task(task.id, {"description": "tab\tnul\x00"})
    with pytest.raises(InvalidInput, match="NUL"):
        pg.complete_task(task.id, "nul\x00")
    assert scalar(pg_url, "SELECT count(*) FROM tasks") == 1
    assert pg.get_task(task.id).version == 1
    # Line feeds, tabs and any Unicode are stored as given (CR LF as LF).
    odd = "\u202e 𝕌𝕟𝕚 ｔａｓｋ\t\r\n"
    assert pg.update_task(task.id, {"description": odd}).task.description == odd.replace("\r\n", "\n")
    assert_consistent(pg)

    async def through_mcp() -> Any:
        async with Client(build_server(Settings(database_url=pg_url)), mode="legacy") as client:
            return await client.call_tool(PREFIX + "update_task", {"task_id": task.id, "title": "nul\x00"})

    result = anyio.run(through_mcp)
    assert result.is_error
    assert result.content[0].text.startswith("invalid_input:")


# -- concurrency ---------------------------------------------------------------------------------------


def test_threads_incrementing_with_expected_version_lose_no_update(pg: Orchestrator, pg_url: str) -> None:
    planned = pg.plan_task(TaskFields(title="counter", estimated_effort="n=0"))
    counter, session = planned.task.id, planned.session_id
    threads_count, increments = 2, 40
    barrier = threading.Barrier(threads_count)
    retries = [0] * threads_count
    errors: list[str] = []

    def work(index: int) -> None:
        orch = Orchestrator(Settings(database_url=pg_url))  # its own engine, as a second server would have
        try:
            barrier.wait(30)
            for _ in range(increments):
                for _attempt in range(1000):
                    task = orch.get_task(counter, session_id=session)
                    value = int(task.estimated_effort.removeprefix("n="))
                    try:
                        orch.update_task(
                            counter,
                            {"estimated_effort": f"n={value + 1}"},
                            expected_version=task.version,
                            session_id=session,
                        )
                        break
                    except VersionMismatch:
                        retries[index] += 1
                else:
                    raise AssertionError("no update got through in 1000 attempts")
        except Exception as exc:
            errors.append(f"thread {index}: {type(exc).__name__}: {exc}")
        finally:
            orch.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    final = pg.get_task(counter)
    assert final.estimated_effort == f"n={threads_count * increments}"
    assert final.version == 1 + threads_count * increments
    updates = [e for e in pg.audit_trail(task_id=counter, limit=1000).entries if e.action == "updated"]
    assert len(updates) == threads_count * increments
    assert_consistent(pg)


def test_task_numbers_are_per_project_and_never_reused(pg: Orchestrator, tmp_path: Path) -> None:
    first = plan_feature(pg)
    assert sorted(first.values()) == [1, 2, 3, 4, 5]
    other_root = tmp_path / "other"
    (other_root / ".git").mkdir(parents=True)
    other = pg.initialize_session(str(other_root)).session_id
    assert pg.plan_task(TaskFields(title="Other one")).task.id == 1
    with pytest.raises(NotFound, match=f"task 5 not found in project {other_root.resolve()}"):
        pg.execute_task(5)
    assert pg.delete_task(1, hard=True).task_ids == [1]
    assert pg.plan_task(TaskFields(title="Other two")).task.id == 2
    assert [e.action for e in pg.audit_trail(other, task_id=1).entries] == ["created", "deleted"]
    assert [e.action for e in pg.audit_trail(other, task_id=2).entries] == ["created"]
