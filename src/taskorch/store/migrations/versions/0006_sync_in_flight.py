"""The values a push has sent and not yet seen confirmed.

* ``feature_issue_links.in_flight``: per linked field, the values sent to the platform whose
  answer has not been read yet (``{"title": ["v1", "v2"], ...}``, most recent last; ``NULL`` when
  none). Written before a create or update request, so a pull that finds one of them on the
  platform (the answer was lost, or the process died after sending) takes it as ours instead of
  a remote change, and an issue adopted by its marker gets what was sent as its base.

Revision ID: 0006_sync_in_flight
Revises: 0005_task_numbers
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sync_in_flight"
down_revision = "0005_task_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feature_issue_links", sa.Column("in_flight", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feature_issue_links") as batch:
        batch.drop_column("in_flight")
