"""Revision 0011: a parent's subtasks are indexed in priority order, on SQLite and PostgreSQL.

A database at revision 0010 holding a parent and its subtasks is upgraded; the rows are kept,
``ix_tasks_siblings`` (parent_id, priority_rank, id) replaces ``ix_tasks_parent``, and on SQLite
the open-siblings statement reads that index without sorting.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text

from postgres_server import schema_url
from taskorch.store.db import HEAD_REVISION, Database

TASK_COLUMNS = (
    "id, session_id, number, parent_id, parent_number, title, description, task_type, complexity, priority, "
    "priority_rank, specialist_type, routing_reason, status, acceptance_criteria, context, version, "
    "unmet_dependencies, open_subtasks, has_subtasks, archived, created_at, updated_at, assignees, remote_fields"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database at revision 0010 with a parent (number 1) and three subtasks."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = schema_url(request.getfixturevalue("schema")).render_as_string(hide_password=False)
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", "taskorch.store:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010_code_host")
        conn.execute(
            text(
                "INSERT INTO sessions (id, name, project_root, project_key, next_task_number, created_at, "
                "last_active_at) VALUES (1, 'p', '/p', 'path:/p', 5, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        for task_id, parent, rank in ((1, None, 2), (2, 1, 3), (3, 1, 1), (4, 1, 2)):
            conn.execute(
                text(
                    f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES (:id, 1, :id, :parent, :parent, :title, '', "
                    "'feature', 'moderate', 'medium', :rank, 'implementer', '', 'pending', '[]', '', 1, 0, "
                    ":open, :has, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '[]', '[]')"
                ),
                {
                    "id": task_id,
                    "parent": parent,
                    "title": f"task {task_id}",
                    "rank": rank,
                    "open": 3 if parent is None else 0,
                    "has": parent is None,
                },
            )
    engine.dispose()
    return url


def test_revision_0011_indexes_siblings_in_priority_order(old_url: str) -> None:
    db = Database(old_url)
    db.ensure_schema()
    try:
        assert db.current_revision() == HEAD_REVISION == "0011_sibling_index"
        with db.engine.connect() as conn:
            indexes = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("tasks")}
            children = conn.execute(
                text("SELECT number FROM tasks WHERE parent_id = 1 ORDER BY priority_rank, id")
            ).scalars()
            assert list(children) == [3, 4, 2]
            if conn.dialect.name == "sqlite":
                plan = " ".join(
                    str(row[-1])
                    for row in conn.exec_driver_sql(
                        "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE parent_id = 1 AND archived = 0 "
                        "AND status IN ('pending', 'in_progress', 'blocked') ORDER BY priority_rank, id LIMIT 10"
                    )
                )
                assert "ix_tasks_siblings" in plan and "TEMP B-TREE" not in plan, plan
        assert indexes["ix_tasks_siblings"] == ["parent_id", "priority_rank", "id"]
        assert "ix_tasks_parent" not in indexes
    finally:
        db.dispose()
