"""Per-project task numbers, a counter per session, and internal ids that are never reused.

* ``tasks.number``: the public reference of a task, unique per session; ``tasks.parent_number``
  the parent's. Backfilled per session in id order, counting the tasks the audit trail knows
  were created and later deleted, so a database holding one project keeps every number its
  users saw (number = id).
* ``sessions.next_task_number``: the number the next task of the session gets.
* ``task_events.task_number``: the number of the task an audit row is about, kept after a hard
  delete.
* SQLite: ``tasks`` becomes AUTOINCREMENT (rebuilt in batch mode; :mod:`taskorch.store.db` runs
  migrations with foreign keys off, so dropping the old table cascades nowhere), and the sequence
  starts above every id the tasks table or the audit trail ever held. PostgreSQL's sequence never
  gives an id twice already.

Revision ID: 0005_task_numbers
Revises: 0004_waiting_index
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskorch.store.tables import UTCDateTime

revision = "0005_task_numbers"
down_revision = "0004_waiting_index"
branch_labels = None
depends_on = None

# Frozen copy of taskorch.store.tables.WAITING_SQL as of this revision.
WAITING_SQL = {
    "sqlite": "archived = 0 AND (status = 'blocked' OR (status = 'pending' AND unmet_dependencies > 0))",
    "postgresql": "archived = false AND (status = 'blocked' OR (status = 'pending' AND unmet_dependencies > 0))",
}


def _tasks_as_of_this_revision() -> sa.Table:
    """The tasks table after the columns below were added (what the SQLite rebuild copies)."""
    meta = sa.MetaData()
    sa.Table("sessions", meta, sa.Column("id", sa.Integer, primary_key=True))
    return sa.Table(
        "tasks",
        meta,
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
        sa.Column("assignees", sa.JSON, nullable=False),
        sa.Column("milestone", sa.String(200), nullable=True),
        sa.Column("remote_fields", sa.JSON, nullable=False),
        sa.Column("number", sa.Integer, nullable=True),
        sa.Column("parent_number", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_tasks_session_id_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["tasks.id"], name="fk_tasks_parent_id_tasks", ondelete="CASCADE"),
        sa.Index(
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
        sa.Index("ix_tasks_parents", "session_id", "has_subtasks", "open_subtasks"),
        sa.Index(
            "ix_tasks_waiting",
            "session_id",
            "priority_rank",
            "id",
            sqlite_where=sa.text(WAITING_SQL["sqlite"]),
        ),
        sa.Index("ix_tasks_session_status_updated", "session_id", "archived", "status", "updated_at"),
        sa.Index("ix_tasks_session_created", "session_id", "archived", "created_at"),
        sa.Index("ix_tasks_parent", "parent_id"),
    )


def _backfill(conn: sa.Connection) -> None:
    """Number every task per session in id order; fill the counters and the audit trail."""
    known: dict[int, set[int]] = {}
    rows = conn.execute(
        sa.text(
            "SELECT session_id, task_id FROM task_events WHERE task_id IS NOT NULL "
            "UNION SELECT session_id, id FROM tasks"
        )
    )
    for session_id, task_id in rows:
        known.setdefault(int(session_id), set()).add(int(task_id))
    numbers = [
        {"s": session_id, "t": task_id, "n": number}
        for session_id, ids in known.items()
        for number, task_id in enumerate(sorted(ids), start=1)
    ]
    if numbers:
        conn.execute(sa.text("UPDATE tasks SET number = :n WHERE id = :t AND session_id = :s"), numbers)
        conn.execute(sa.text("UPDATE task_events SET task_number = :n WHERE task_id = :t AND session_id = :s"), numbers)
        conn.execute(
            sa.text("UPDATE sessions SET next_task_number = :n WHERE id = :s"),
            [{"s": session_id, "n": len(ids) + 1} for session_id, ids in known.items()],
        )
    conn.execute(
        sa.text(
            "UPDATE tasks SET parent_number = (SELECT p.number FROM tasks AS p WHERE p.id = tasks.parent_id) "
            "WHERE parent_id IS NOT NULL"
        )
    )


def upgrade() -> None:
    conn = op.get_bind()
    op.add_column("sessions", sa.Column("next_task_number", sa.Integer, nullable=False, server_default=sa.text("1")))
    op.add_column("tasks", sa.Column("number", sa.Integer, nullable=True))
    op.add_column("tasks", sa.Column("parent_number", sa.Integer, nullable=True))
    op.add_column("task_events", sa.Column("task_number", sa.Integer, nullable=True))
    _backfill(conn)
    if conn.dialect.name == "sqlite":
        highest = conn.execute(
            sa.text(
                "SELECT max(coalesce((SELECT max(id) FROM tasks), 0), "
                "coalesce((SELECT max(task_id) FROM task_events), 0))"
            )
        ).scalar_one()
        with op.batch_alter_table(
            "tasks",
            recreate="always",
            copy_from=_tasks_as_of_this_revision(),
            table_kwargs={"sqlite_autoincrement": True},
        ) as batch:
            batch.alter_column("number", existing_type=sa.Integer, nullable=False)
        conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'tasks'"))
        conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('tasks', :seq)"), {"seq": int(highest)})
    else:
        op.alter_column("tasks", "number", existing_type=sa.Integer, nullable=False)
    op.create_index("ix_tasks_session_number", "tasks", ["session_id", "number"], unique=True)
    op.create_index("ix_task_events_session_task", "task_events", ["session_id", "task_number", "id"])


def downgrade() -> None:
    op.drop_index("ix_task_events_session_task", "task_events")
    op.drop_index("ix_tasks_session_number", "tasks")
    with op.batch_alter_table("task_events") as batch:
        batch.drop_column("task_number")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("parent_number")
        batch.drop_column("number")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("next_task_number")
