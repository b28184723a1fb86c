"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; never ``create_all``.

Timestamps are UTC (:class:`UTCDateTime`). Every table a change touches is written in the same
transaction as the change (one tool call, one transaction), including the audit rows in
``task_events`` and the per-status counters in ``status_counts``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

__all__ = [
    "artifacts",
    "metadata",
    "server_restarts",
    "sessions",
    "status_counts",
    "task_dependencies",
    "task_events",
    "task_labels",
    "tasks",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on every dialect (SQLite stores it naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; taskorch stores UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("project_root", Text, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_active_at", UTCDateTime, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("task_type", String(32), nullable=False),
    Column("complexity", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("specialist_type", String(64), nullable=False),
    Column("routing_reason", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("estimated_effort", String(64), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("acceptance_criteria", JSON, nullable=False),
    Column("context", Text, nullable=False, default=""),
    Column("synthesis", Text, nullable=True),
    Column("status_reason", Text, nullable=True),
    # Optimistic concurrency: bumped by every change of the row.
    Column("version", Integer, nullable=False, default=1),
    # Maintained in the same transaction as the change that moves them, so the ready queue is
    # an index range scan: dependencies not yet completed, subtasks not yet finished.
    Column("unmet_dependencies", Integer, nullable=False, default=0),
    Column("open_subtasks", Integer, nullable=False, default=0),
    # Set when the first subtask is planned: a parent is synthesized, not executed.
    Column("has_subtasks", Boolean, nullable=False, default=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("archived_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    Index(
        "ix_tasks_ready",
        "session_id",
        "archived",
        "status",
        "unmet_dependencies",
        "open_subtasks",
        "has_subtasks",
        "priority_rank",
        "id",
    ),
    Index("ix_tasks_parents", "session_id", "has_subtasks", "open_subtasks"),
    Index("ix_tasks_session_status_updated", "session_id", "archived", "status", "updated_at"),
    Index("ix_tasks_session_created", "session_id", "archived", "created_at"),
    Index("ix_tasks_parent", "parent_id"),
)

task_labels = Table(
    "task_labels",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(100), primary_key=True),
    Index("ix_task_labels_label", "label", "task_id"),
)

task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_dependencies_depends_on", "depends_on_id", "task_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("artifact_type", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("detailed_work", Text, nullable=False, default=""),
    Column("file_paths", JSON, nullable=False),
    Column("next_action", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_artifacts_task", "task_id", "id"),
)

# The audit trail. No foreign key to tasks: a hard-deleted task keeps its history.
task_events = Table(
    "task_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=True),
    Column("tool", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    # {field: [old, new]} for updates; {field: new} snapshots for creations and deletions.
    Column("changes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_task_events_task", "task_id", "id"),
    Index("ix_task_events_session", "session_id", "id"),
)

# How many live (not archived) tasks a session has in each status, kept in step with the
# tasks table in the same transaction, so get_status never counts rows it does not show.
status_counts = Table(
    "status_counts",
    metadata,
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
)

server_restarts = Table(
    "server_restarts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_seconds", Float, nullable=True),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Column("components", JSON, nullable=False),
)
