"""An index of a parent's subtasks in priority order, for complete_task's open-siblings list.

``ix_tasks_siblings`` on ``tasks (parent_id, priority_rank, id)`` replaces ``ix_tasks_parent``
(``parent_id`` alone, a prefix of it): the first open siblings are read in index order instead
of sorting every subtask of the parent, and a plan's insert still maintains one index on
``parent_id``. An index is added and one dropped (no rebuild), so the migration is cheap on both
dialects.

Revision ID: 0011_sibling_index
Revises: 0010_code_host
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0011_sibling_index"
down_revision = "0010_code_host"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_siblings", "tasks", ["parent_id", "priority_rank", "id"])
    op.drop_index("ix_tasks_parent", "tasks")


def downgrade() -> None:
    op.create_index("ix_tasks_parent", "tasks", ["parent_id"])
    op.drop_index("ix_tasks_siblings", "tasks")
