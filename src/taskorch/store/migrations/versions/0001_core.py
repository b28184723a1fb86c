"""Core orchestrator schema: sessions, tasks, labels, dependencies, artifacts, audit, counters.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskorch.store.tables import UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("project_root", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_active_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("project_root", name="uq_sessions_project_root"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("task_type", sa.String(32), nullable=False),
        sa.Column("complexity", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.Integer, nullable=False),
        sa.Column("specialist_type", sa.String(64), nullable=False),
        sa.Column("routing_reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("estimated_effort", sa.String(64), nullable=True),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("acceptance_criteria", sa.JSON, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("synthesis", sa.Text, nullable=True),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("unmet_dependencies", sa.Integer, nullable=False),
        sa.Column("open_subtasks", sa.Integer, nullable=False),
        sa.Column("has_subtasks", sa.Boolean, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("archived_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_tasks_session_id_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["tasks.id"], name="fk_tasks_parent_id_tasks", ondelete="CASCADE"),
    )
    op.create_index(
        "ix_tasks_ready",
        "tasks",
        [
            "session_id",
            "archived",
            "status",
            "unmet_dependencies",
            "open_subtasks",
            "has_subtasks",
            "priority_rank",
            "id",
        ],
    )
    op.create_index("ix_tasks_parents", "tasks", ["session_id", "has_subtasks", "open_subtasks"])
    op.create_index("ix_tasks_session_status_updated", "tasks", ["session_id", "archived", "status", "updated_at"])
    op.create_index("ix_tasks_session_created", "tasks", ["session_id", "archived", "created_at"])
    op.create_index("ix_tasks_parent", "tasks", ["parent_id"])

    op.create_table(
        "task_labels",
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "label", name="pk_task_labels"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_labels_task_id_tasks", ondelete="CASCADE"),
    )
    op.create_index("ix_task_labels_label", "task_labels", ["label", "task_id"])

    op.create_table(
        "task_dependencies",
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("depends_on_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "depends_on_id", name="pk_task_dependencies"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_task_dependencies_task_id_tasks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["depends_on_id"],
            ["tasks.id"],
            name="fk_task_dependencies_depends_on_id_tasks",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_task_dependencies_depends_on", "task_dependencies", ["depends_on_id", "task_id"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("artifact_type", sa.String(32), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("detailed_work", sa.Text, nullable=False),
        sa.Column("file_paths", sa.JSON, nullable=False),
        sa.Column("next_action", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_artifacts"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_artifacts_task_id_tasks", ondelete="CASCADE"),
    )
    op.create_index("ix_artifacts_task", "artifacts", ["task_id", "id"])

    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=True),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("changes", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_events"),
    )
    op.create_index("ix_task_events_task", "task_events", ["task_id", "id"])
    op.create_index("ix_task_events_session", "task_events", ["session_id", "id"])

    op.create_table(
        "status_counts",
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "status", name="pk_status_counts"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_status_counts_session_id_sessions", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "server_restarts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=True),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("components", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_server_restarts"),
    )

    # Full-text search over titles, descriptions and artifacts. One document per task,
    # rewritten by taskorch.store.search whenever its text changes.
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE task_fts USING fts5(document, tokenize = 'unicode61 remove_diacritics 2')")
    elif dialect == "postgresql":
        op.execute(
            "CREATE TABLE task_fts (task_id INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE, "
            "document TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_task_fts_document ON task_fts USING GIN (document)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS task_fts")
    for table in (
        "server_restarts",
        "status_counts",
        "task_events",
        "artifacts",
        "task_dependencies",
        "task_labels",
        "tasks",
        "sessions",
    ):
        op.drop_table(table)
