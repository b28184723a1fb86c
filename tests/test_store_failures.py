"""Store failures on SQLite are named, change nothing, and reach every face with the cause and the fix.

Each failure is produced for real, without timing: disk full through ``PRAGMA max_page_count``,
a read-only store through ``PRAGMA query_only`` or a ``mode=ro`` URL (root ignores file
permissions), a busy store through a second connection holding ``BEGIN IMMEDIATE`` with a short
busy timeout, and a replaced store by deleting or swapping the file under a live orchestrator.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from sqlalchemy import event
from sqlalchemy.pool import ConnectionPoolEntry, Pool
from typer.testing import CliRunner

from taskorch.cli.app import app
from taskorch.config import Settings
from taskorch.errors import (
    InvalidInput,
    StoreBusy,
    StoreFull,
    StoreReadOnly,
    StoreReplaced,
    StoreUnavailable,
    TaskorchError,
)
from taskorch.mcp.server import PREFIX, build_server
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.db import Database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "taskorch.db"


@pytest.fixture
def pragmas() -> Iterator[list[str]]:
    """Statements run on every new SQLite connection while the list holds them (any engine)."""
    statements: list[str] = []

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            for statement in statements:
                dbapi_connection.execute(statement)

    event.listen(Pool, "connect", on_connect)
    try:
        yield statements
    finally:
        event.remove(Pool, "connect", on_connect)


def count(path: Path, table: str) -> int:
    """Rows in a table, read through a connection of its own."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def big_plan(orch: Orchestrator) -> None:
    orch.plan_task(
        TaskFields(title="A large plan", description="d" * 4000),
        [SubtaskSpec(key=f"s{i}", title=f"Step {i}", description="x" * 4000) for i in range(40)],
    )


def mcp_error(settings: Settings, project: Path, tool: str, arguments: dict[str, Any]) -> str:
    """The text of the error a client gets from one tool call (after initialize_session, unless
    that is the call)."""

    async def main() -> str:
        async with Client(build_server(settings), mode="legacy") as client:
            if tool != "initialize_session":
                init = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(project)})
                assert not init.is_error
            result = await client.call_tool(PREFIX + tool, arguments)
            assert result.is_error, result.structured_content
            return "\n".join(getattr(block, "text", "") for block in result.content)

    return anyio.run(main)


def cli(database_url: str, *args: str | Path) -> tuple[int, str]:
    result = CliRunner(env={"TASKORCH_DATABASE_URL": database_url}).invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.stdout == "" or result.exit_code == 0
    return result.exit_code, result.stderr


def assert_named(text: str, kind: str) -> None:
    assert text.startswith(f"{kind}: "), text
    assert "Fix:" in text
    assert "Traceback" not in text and "sqlalchemy" not in text.lower()


# -- disk full -----------------------------------------------------------------------------------


def test_disk_full_is_named_and_writes_nothing(
    orch: Orchestrator, db_path: Path, pragmas: list[str], project: Path, database_url: str
) -> None:
    orch.plan_task(TaskFields(title="Written before the disk filled"))
    pages = count_pages(db_path)
    pragmas.append(f"PRAGMA max_page_count = {pages}")
    orch.db.engine.dispose()  # new connections get the limit

    with pytest.raises(StoreFull) as info:
        big_plan(orch)
    message = str(info.value)
    assert "is full" in message and "Nothing of this call was written" in message
    assert "Fix: free space" in message
    assert info.value.exit_code == 9 and info.value.kind == "store_full"
    assert isinstance(info.value, StoreUnavailable)
    assert count(db_path, "tasks") == 1
    assert orch.get_status().total == 1  # reads still work

    code, stderr = cli(database_url, "plan-task", "Too big", "--description", "x" * 4000, "--project", project)
    assert code == 9
    assert stderr.startswith("error:") and "is full" in stderr
    assert_named(mcp_error(Settings(database_url=database_url), project, "plan_task", big_plan_args()), "store_full")
    assert count(db_path, "tasks") == 1

    pragmas.clear()  # space is free again
    orch.db.engine.dispose()
    big_plan(orch)
    assert count(db_path, "tasks") == 42


def count_pages(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])


def big_plan_args() -> dict[str, Any]:
    return {
        "title": "A large plan",
        "subtasks": [{"key": f"s{i}", "title": f"Step {i}", "description": "x" * 4000} for i in range(40)],
    }


# -- read-only -----------------------------------------------------------------------------------


def test_read_only_store_is_named_reported_by_health_and_recovers(
    orch: Orchestrator, db_path: Path, pragmas: list[str], project: Path, database_url: str
) -> None:
    orch.plan_task(TaskFields(title="Written while writable"))
    pragmas.append("PRAGMA query_only = ON")
    orch.db.engine.dispose()

    with pytest.raises(StoreReadOnly) as info:
        orch.plan_task(TaskFields(title="Refused"))
    message = str(info.value)
    assert "read-only" in message and "writable by the user" in message and "Fix:" in message
    assert info.value.exit_code == 10
    assert count(db_path, "tasks") == 1

    orch.db.engine.dispose()
    health = orch.health_check()
    assert health.status == "failing"
    assert health.database["reachable"] is True and health.database["writable"] is False
    assert health.database["error_kind"] == "store_read_only"
    assert health.components["database"] == "store read only"
    reconnect = orch.reconnect_test()
    assert reconnect.ok is False and reconnect.detail.startswith("store_read_only:")

    code, stderr = cli(database_url, "plan-task", "Refused", "--project", project)
    assert (code, stderr.startswith("error:")) == (10, True)
    assert "read-only" in stderr
    settings = Settings(database_url=database_url)
    arguments = {"working_directory": str(project)}
    assert_named(mcp_error(settings, project, "initialize_session", arguments), "store_read_only")
    assert count(db_path, "tasks") == 1

    # The permission returns: the connection that saw the error was closed, so the next call
    # opens a fresh one, without a restart.
    orch.db.engine.dispose()
    with pytest.raises(StoreReadOnly):
        orch.plan_task(TaskFields(title="Still refused"))
    pragmas.clear()
    orch.plan_task(TaskFields(title="Written again"))
    assert count(db_path, "tasks") == 2
    assert orch.health_check().status == "ok"
    assert orch.reconnect_test().ok is True


def test_a_database_opened_read_only_by_its_url(orch: Orchestrator, db_path: Path, project: Path) -> None:
    orch.plan_task(TaskFields(title="Existing"))
    orch.close()
    read_only = Orchestrator(Settings(database_url=f"sqlite:///file:{db_path}?mode=ro&uri=true"))
    try:
        assert read_only.query_tasks(session_id=1).total == 1
        with pytest.raises(StoreReadOnly, match="mode=ro"):
            read_only.initialize_session(str(project))
        health = read_only.health_check()
        assert health.status == "failing" and health.database["writable"] is False
        assert "file:" not in health.database["error"]
    finally:
        read_only.close()
    assert count(db_path, "tasks") == 1


# -- busy ----------------------------------------------------------------------------------------


@pytest.fixture
def holder(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another writer: a connection of its own, to hold the write lock with BEGIN IMMEDIATE."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def test_busy_store_names_the_other_writer_and_the_fix(
    db_path: Path, holder: sqlite3.Connection, project: Path, database_url: str
) -> None:
    short = f"{database_url}?timeout=0.05"
    orch = Orchestrator(Settings(database_url=short))
    try:
        orch.initialize_session(str(project))
        assert orch.db.busy_timeout == 0.05
        holder.execute("BEGIN IMMEDIATE")

        with pytest.raises(StoreBusy) as info:
            orch.plan_task(TaskFields(title="Waits too long"))
        message = str(info.value)
        assert "another writer" in message and "busy timeout of 0.05 s" in message
        assert "another taskorch server or CLI" in message and f"fuser {db_path}" in message
        assert "?timeout=SECONDS" in message and "Fix: retry" in message
        assert info.value.exit_code == 7

        assert orch.get_status().total == 0  # readers are not blocked (WAL)
        health = orch.health_check()
        assert health.status == "degraded" and health.database["error_kind"] == "store_busy"

        code, stderr = cli(short, "plan-task", "Waits too long", "--project", project)
        assert code == 7 and "another writer" in stderr
        arguments = {"working_directory": str(project)}
        assert_named(mcp_error(Settings(database_url=short), project, "initialize_session", arguments), "store_busy")

        holder.execute("ROLLBACK")
        orch.plan_task(TaskFields(title="Written once the lock is free"))
        assert count(db_path, "tasks") == 1
    finally:
        orch.close()


def test_sqlite_options_in_the_url(database_url: str) -> None:
    db = Database(f"{database_url}?timeout=2.5&synchronous=full")
    assert (db.busy_timeout, db.synchronous) == (2.5, "full")
    with db.transaction(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 2500
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
    db.dispose()
    default = Database(database_url)
    with default.transaction(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
    default.dispose()
    with pytest.raises(InvalidInput, match="synchronous"):
        Database(f"{database_url}?synchronous=sometimes")
    with pytest.raises(InvalidInput, match="timeout"):
        Database(f"{database_url}?timeout=-1")


# -- the file deleted or replaced under a running server -------------------------------------------


def remove_database(path: Path) -> None:
    for file in path.parent.glob(path.name + "*"):
        file.unlink()


def test_a_deleted_database_file_refuses_writes_and_is_not_silently_recreated(
    orch: Orchestrator, db_path: Path, project: Path
) -> None:
    orch.plan_task(TaskFields(title="Lost with the file"))
    remove_database(db_path)

    with pytest.raises(StoreReplaced) as info:
        orch.plan_task(TaskFields(title="Would be acknowledged and lost"))
    message = str(info.value)
    assert f"the database file {db_path} was deleted while taskorch was running" in message
    assert "restart_server" in message and "Fix:" in message
    assert info.value.exit_code == 11
    assert not db_path.exists()  # nothing created in its place

    health = orch.health_check()
    assert health.status == "failing"
    assert health.database["error_kind"] == "store_replaced"
    assert health.components["database"] == "store replaced"
    assert orch.reconnect_test().detail.startswith("store_replaced:")
    # With no connection left in the pool, nothing that opens one directly recreates the file.
    shutdown = orch.shutdown_prepare()
    assert shutdown.ready is False and shutdown.checkpoint.startswith("failed: store_replaced:")
    with pytest.raises(StoreReplaced):
        orch.maintenance_coordinator("vacuum", dry_run=True)
    assert not db_path.exists()

    with pytest.raises(StoreReplaced, match="create_new_database=true"):
        orch.restart_server("the file is gone")
    assert not db_path.exists()

    restarted = orch.restart_server("start over", create_new_database=True)
    assert "created a new, empty database" in restarted.restart.components["database"]
    assert db_path.exists()
    orch.initialize_session(str(project))
    assert orch.get_status().total == 0
    orch.plan_task(TaskFields(title="In the new database"))
    assert count(db_path, "tasks") == 1
    assert orch.health_check().status == "ok"


def test_a_replaced_database_file_refuses_writes_until_restart(
    orch: Orchestrator, db_path: Path, project: Path, tmp_path: Path
) -> None:
    orch.plan_task(TaskFields(title="In the backup"))
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db_path) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    orch.plan_task(TaskFields(title="Only in the old file"))

    remove_database(db_path)
    shutil.copyfile(backup, db_path)  # restored from the backup: another file at the same path
    with pytest.raises(StoreReplaced, match="replaced by another file"):
        orch.plan_task(TaskFields(title="Refused"))
    assert orch.health_check().status == "failing"
    assert count(db_path, "tasks") == 1

    restarted = orch.restart_server("restored from backup")
    assert "opened the new file" in restarted.restart.components["database"]
    orch.initialize_session(str(project))
    assert [t.title for t in orch.query_tasks().tasks] == ["In the backup"]
    orch.plan_task(TaskFields(title="Written to the restored file"))
    assert count(db_path, "tasks") == 2


def test_replaced_file_through_the_mcp_client(db_path: Path, project: Path, database_url: str) -> None:
    async def main() -> tuple[str, dict[str, Any], str]:
        async with Client(build_server(Settings(database_url=database_url)), mode="legacy") as client:
            init = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(project)})
            assert not init.is_error
            remove_database(db_path)
            refused = await client.call_tool(PREFIX + "plan_task", {"title": "lost"})
            health = await client.call_tool(PREFIX + "health_check", {})
            restart = await client.call_tool(PREFIX + "restart_server", {"reason": "file gone"})
            assert refused.is_error and restart.is_error and not health.is_error
            assert isinstance(health.structured_content, dict)
            return refused.content[0].text, health.structured_content, restart.content[0].text  # type: ignore[union-attr]

    refused, health, restart = anyio.run(main)
    assert_named(refused, "store_replaced")
    assert health["status"] == "failing" and health["database"]["error_kind"] == "store_replaced"
    assert_named(restart, "store_replaced")
    assert "create_new_database=true" in restart
    assert not db_path.exists()


# -- the tree ------------------------------------------------------------------------------------


def test_store_errors_have_distinct_kinds_and_exit_codes() -> None:
    classes: list[type[TaskorchError]] = [StoreUnavailable, StoreBusy, StoreFull, StoreReadOnly, StoreReplaced]
    from taskorch.errors import StoreConnectionLost

    classes.append(StoreConnectionLost)
    assert all(issubclass(c, StoreUnavailable) for c in classes)
    assert len({c.exit_code for c in classes}) == len(classes)
    assert len({c.kind for c in classes}) == len(classes)
    assert {c.exit_code for c in classes}.isdisjoint({0, 1, 2, 3, 4, 6})
