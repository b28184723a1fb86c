"""The code host of a connection whose issues live elsewhere (Bitbucket Cloud code, Jira issues).

* ``git_integration_config.code_platform`` / ``code_repository`` / ``code_token_name``: the
  platform (``bitbucket``, ``github``, ``gitlab``), the repository reference and the NAME of the
  token of the repository that holds the code, tags and releases, when it is not the issue
  platform of the row (``platform`` / ``repository_url`` / ``api_token_name``, e.g. a Jira
  project). ``NULL``: the issue platform's repository is the code host too (GitHub, GitLab), or
  there is none (a Jira project alone).

Nullable columns are added (no rebuild), so the migration is cheap on both dialects.

Revision ID: 0010_code_host
Revises: 0009_team_sync
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_code_host"
down_revision = "0009_team_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("git_integration_config", sa.Column("code_platform", sa.String(16), nullable=True))
    op.add_column("git_integration_config", sa.Column("code_repository", sa.Text, nullable=True))
    op.add_column("git_integration_config", sa.Column("code_token_name", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("git_integration_config") as batch:
        batch.drop_column("code_token_name")
        batch.drop_column("code_repository")
        batch.drop_column("code_platform")
