"""A partial index of the tasks waiting on something, for get_status's blocked list.

Revision ID: 0004_waiting_index
Revises: 0003_release_coordination
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_waiting_index"
down_revision = "0003_release_coordination"
branch_labels = None
depends_on = None

# Frozen copy of taskorch.store.tables.WAITING_SQL as of this revision.
WAITING_SQL = {
    "sqlite": "archived = 0 AND (status = 'blocked' OR (status = 'pending' AND unmet_dependencies > 0))",
    "postgresql": "archived = false AND (status = 'blocked' OR (status = 'pending' AND unmet_dependencies > 0))",
}


def upgrade() -> None:
    op.create_index(
        "ix_tasks_waiting",
        "tasks",
        ["session_id", "priority_rank", "id"],
        sqlite_where=sa.text(WAITING_SQL["sqlite"]),
        postgresql_where=sa.text(WAITING_SQL["postgresql"]),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_waiting", "tasks")
