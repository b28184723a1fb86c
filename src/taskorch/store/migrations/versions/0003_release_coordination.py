"""Release coordination: versions, notes, tag and platform release of a release plan.

Revision ID: 0003_release_coordination
Revises: 0002_git_integration
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_release_coordination"
down_revision = "0002_git_integration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("release_milestones") as batch:
        batch.add_column(sa.Column("version", sa.String(100), nullable=True))
        batch.add_column(sa.Column("notes", sa.Text, nullable=True))
        batch.add_column(sa.Column("notes_template", sa.String(16), nullable=True))
        batch.add_column(sa.Column("previous_tag", sa.String(200), nullable=True))
        batch.add_column(sa.Column("tag_sha", sa.String(64), nullable=True))
        batch.add_column(sa.Column("release_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("release_url", sa.Text, nullable=True))
        batch.add_column(sa.Column("steps", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("release_milestones") as batch:
        for column in (
            "steps",
            "release_url",
            "release_id",
            "tag_sha",
            "previous_tag",
            "notes_template",
            "notes",
            "version",
        ):
            batch.drop_column(column)
