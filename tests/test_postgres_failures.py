"""Lost PostgreSQL connections, when a server is reachable (skipped otherwise, like test_postgres.py).

An administrator's ``pg_terminate_backend`` ends the orchestrator's connections: between two calls
the pool replaces them unseen; inside a call (while a statement runs, or at COMMIT) the call fails
with :class:`StoreConnectionLost`, nothing of it is stored, and the next call works. The kill waits
for the backend to exit (``pg_terminate_backend(pid, timeout)``), so no test depends on timing.
Each test works in a schema of its own, as in test_postgres.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from sqlalchemy import Connection, Engine, event, text

from postgres_server import schema_url
from taskorch.config import Settings
from taskorch.errors import StoreConnectionLost
from taskorch.mcp.server import PREFIX, build_server
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields

pytestmark = pytest.mark.usefixtures("admin")

#: A password the server (trust authentication) never asks for: it must appear in no message.
PASSWORD = "s3cret-pw"


@pytest.fixture
def pg_url(schema: str) -> str:
    """The schema's URL, with a password and an application_name naming the schema."""
    url = schema_url(schema).update_query_dict({"application_name": schema}, append=False)
    if url.password is None:
        url = url.set(password=PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def pg(pg_url: str, project: Path) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(Settings(database_url=pg_url))
    orchestrator.initialize_session(str(project))
    yield orchestrator
    orchestrator.close()


def terminate(admin: Engine, *, pid: int | None = None, application: str | None = None) -> int:
    """End one backend, or every backend of an application, and wait until they have exited."""
    where = "pid = :pid" if pid is not None else "application_name = :app"
    with admin.connect() as conn:
        ended = conn.execute(
            text(
                f"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 30000)) FROM pg_stat_activity WHERE {where}"
            ),
            {"pid": pid, "app": application},
        ).scalar_one()
    return int(ended)


def tasks_in(admin: Engine, schema: str) -> int:
    with admin.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{schema}".tasks')).scalar_one())


def backend_pid(conn: Connection) -> int:
    return int(conn.connection.dbapi_connection.info.backend_pid)  # type: ignore[union-attr]


def assert_named_lost(message: str) -> None:
    assert "connection to the database at" in message and "was lost" in message
    assert "Fix:" in message
    assert PASSWORD not in message


def test_a_connection_killed_between_calls_is_replaced_transparently(
    pg: Orchestrator, admin: Engine, schema: str
) -> None:
    pg.plan_task(TaskFields(title="Before the kill"))
    with pg.db.transaction(write=False) as conn:
        before = backend_pid(conn)
    assert terminate(admin, application=schema) >= 1  # every pooled connection of this orchestrator

    pg.plan_task(TaskFields(title="After the kill"))  # pool_pre_ping found the dead one and replaced it
    with pg.db.transaction(write=False) as conn:
        assert backend_pid(conn) != before
    assert tasks_in(admin, schema) == 2
    assert pg.health_check().status == "ok"


class KillWhen:
    """Ends the backend of the connection about to run a statement (or COMMIT) that matches."""

    def __init__(self, admin: Engine, engine: Engine) -> None:
        self.admin = admin
        self.engine = engine
        self.statement_prefix: str | None = None
        self.on_commit = False
        self.seen = 0
        self.skip = 0
        self.killed: list[int] = []
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "commit", self._before_commit)

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before_execute)
        event.remove(self.engine, "commit", self._before_commit)

    def _kill(self, conn: Connection) -> None:
        pid = backend_pid(conn)
        assert terminate(self.admin, pid=pid) == 1
        self.killed.append(pid)

    def _before_execute(self, conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.statement_prefix and statement.lstrip().upper().startswith(self.statement_prefix):
            self.seen += 1
            if self.seen > self.skip:
                self.statement_prefix = None
                self._kill(conn)

    def _before_commit(self, conn: Connection) -> None:
        if self.on_commit:
            self.on_commit = False
            self._kill(conn)


@pytest.fixture
def kill_when(pg: Orchestrator, admin: Engine) -> Iterator[KillWhen]:
    killer = KillWhen(admin, pg.db.engine)
    yield killer
    killer.remove()


def plan(orch: Orchestrator, title: str) -> None:
    orch.plan_task(
        TaskFields(title=title),
        [SubtaskSpec(key="a", title="First"), SubtaskSpec(key="b", title="Second", depends_on_keys=["a"])],
    )


def test_a_connection_killed_inside_a_call_is_named_and_leaves_nothing_half_written(
    pg: Orchestrator, admin: Engine, schema: str, kill_when: KillWhen
) -> None:
    plan(pg, "Kept")
    # after the parent and its subtasks were inserted, at their audit rows
    kill_when.statement_prefix, kill_when.skip = "INSERT INTO TASK_EVENTS", 1
    with pytest.raises(StoreConnectionLost) as info:
        plan(pg, "Half of it would be written")
    assert len(kill_when.killed) == 1
    message = str(info.value)
    assert_named_lost(message)
    assert "Nothing of this call was written" in message and "retry" in message
    assert info.value.exit_code == 8 and info.value.kind == "store_connection_lost"
    assert tasks_in(admin, schema) == 3

    plan(pg, "The next call works")
    assert tasks_in(admin, schema) == 6
    findings = pg.maintenance_coordinator("validate_structure", dry_run=True).findings
    assert findings == []


def test_a_connection_killed_at_commit_says_the_outcome_is_unknown(
    pg: Orchestrator, admin: Engine, schema: str, kill_when: KillWhen
) -> None:
    kill_when.on_commit = True
    with pytest.raises(StoreConnectionLost) as info:
        plan(pg, "Lost at COMMIT")
    message = str(info.value)
    assert_named_lost(message)
    assert "while committing" in message and "may or may not have been committed" in message
    assert tasks_in(admin, schema) == 0  # the backend ended before it saw COMMIT
    plan(pg, "The next call works")
    assert tasks_in(admin, schema) == 3


def test_a_killed_connection_reaches_the_mcp_client_as_a_named_error(
    pg_url: str, project: Path, admin: Engine, schema: str
) -> None:
    armed: list[str] = []

    def before_execute(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if armed and statement.lstrip().upper().startswith("INSERT INTO TASKS"):
            armed.clear()
            assert terminate(admin, pid=backend_pid(conn)) == 1

    async def main() -> tuple[str, bool]:
        async with Client(build_server(Settings(database_url=pg_url)), mode="legacy") as client:
            init = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(project)})
            assert not init.is_error
            armed.append("kill")
            refused = await client.call_tool(PREFIX + "plan_task", {"title": "Killed"})
            again = await client.call_tool(PREFIX + "plan_task", {"title": "Works"})
            assert refused.is_error
            return refused.content[0].text, again.is_error  # type: ignore[union-attr]

    event.listen(Engine, "before_cursor_execute", before_execute)
    try:
        text_, again_failed = anyio.run(main)
    finally:
        event.remove(Engine, "before_cursor_execute", before_execute)
    assert text_.startswith("store_connection_lost: ")
    assert_named_lost(text_)
    assert again_failed is False
    assert tasks_in(admin, schema) == 1
