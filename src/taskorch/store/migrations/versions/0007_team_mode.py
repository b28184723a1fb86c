"""Team mode: who did what, projects by repository, claims on tasks, and API tokens.

* ``task_events.actor``: who made the change (an API token's name over HTTP, ``local`` for stdio
  and the CLI). Existing rows get ``local``.
* ``sessions.project_key``: what identifies the project: ``git:<host>/<path>`` from the normalised
  URL of its ``origin`` remote, else ``path:<root>``. Existing sessions get ``path:<project_root>``
  and move to their repository's key the next time ``initialize_session`` sees their remote.
* ``tasks.claimed_by`` / ``tasks.claim_expires_at``: the actor working on the task and until when
  its lease runs (renewed by its later calls on the task).
* ``api_tokens``: bearer tokens of ``taskorch serve --transport http``, stored as SHA-256 hashes
  only, with their scope (read, write, admin) and the time they were revoked.

Columns are added (no table rebuild), so the migration is cheap on both dialects.

Revision ID: 0007_team_mode
Revises: 0006_sync_in_flight
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskorch.store.tables import UTCDateTime

revision = "0007_team_mode"
down_revision = "0006_sync_in_flight"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("task_events", sa.Column("actor", sa.String(200), nullable=False, server_default="local"))
    op.add_column("sessions", sa.Column("project_key", sa.Text, nullable=True))
    op.execute(sa.text("UPDATE sessions SET project_key = 'path:' || project_root"))
    op.create_index("ix_sessions_project_key", "sessions", ["project_key"], unique=True)
    op.add_column("tasks", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("tasks", sa.Column("claim_expires_at", UTCDateTime, nullable=True))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("claim_expires_at")
        batch.drop_column("claimed_by")
    op.drop_index("ix_sessions_project_key", "sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("project_key")
    with op.batch_alter_table("task_events") as batch:
        batch.drop_column("actor")
