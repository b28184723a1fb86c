"""Which issues opened on the platform become tasks.

* ``git_integration_config.import_policy``: ``off`` (the default: none), ``all`` (every open issue
  not linked to a task) or ``label:<name>`` (the open issues carrying that label). Applied by the
  pull.

Revision ID: 0008_import_policy
Revises: 0007_team_mode
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_import_policy"
down_revision = "0007_team_mode"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "git_integration_config",
        sa.Column("import_policy", sa.String(64), nullable=False, server_default=sa.text("'off'")),
    )


def downgrade() -> None:
    with op.batch_alter_table("git_integration_config") as batch:
        batch.drop_column("import_policy")
