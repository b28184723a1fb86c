"""Git platform integration: configuration, issue links, milestones, sync log, outbox, conflicts.

Revision ID: 0002_git_integration
Revises: 0001_core
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskorch.store.tables import UTCDateTime

revision = "0002_git_integration"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("assignees", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("milestone", sa.String(200), nullable=True))
        batch.add_column(sa.Column("remote_fields", sa.JSON, nullable=False, server_default="[]"))

    op.create_table(
        "git_integration_config",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("repository_url", sa.Text, nullable=False),
        sa.Column("api_token_name", sa.String(200), nullable=False),
        sa.Column("default_labels", sa.JSON, nullable=False),
        sa.Column("auto_sync_enabled", sa.Boolean, nullable=False),
        sa.Column("issue_template", sa.Text, nullable=True),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("conflict_policy", sa.String(16), nullable=False),
        sa.Column("progress_comments", sa.Boolean, nullable=False),
        sa.Column("status_mapping", sa.JSON, nullable=False),
        sa.Column("board_number", sa.Integer, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_git_integration_config"),
        sa.UniqueConstraint("session_id", name="uq_git_integration_config_session_id"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_git_integration_config_session_id_sessions", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "feature_issue_links",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("issue_number", sa.Integer, nullable=True),
        sa.Column("issue_url", sa.Text, nullable=True),
        sa.Column("issue_id", sa.Integer, nullable=True),
        sa.Column("issue_node_id", sa.String(100), nullable=True),
        sa.Column("sync_status", sa.String(16), nullable=False),
        sa.Column("last_synced", UTCDateTime, nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("intent_at", UTCDateTime, nullable=False),
        sa.Column("base", sa.JSON, nullable=False),
        sa.Column("remote", sa.JSON, nullable=False),
        sa.Column("board_item_id", sa.String(100), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feature_issue_links"),
        sa.UniqueConstraint("task_id", name="uq_feature_issue_links_task_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_feature_issue_links_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_feature_issue_links_task_id_tasks", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_feature_issue_links_issue", "feature_issue_links", ["repository", "issue_number"])
    op.create_table(
        "release_milestones",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("target_date", sa.Date, nullable=True),
        sa.Column("platform_milestone_id", sa.Integer, nullable=True),
        sa.Column("included_features", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_release_milestones"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_release_milestones_session_id_sessions", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_release_milestones_session_name", "release_milestones", ["session_id", "name"], unique=True)
    op.create_table(
        "sync_status_logs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("operation_type", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=True),
        sa.Column("issue_number", sa.Integer, nullable=True),
        sa.Column("operation_status", sa.String(16), nullable=False),
        sa.Column("records_processed", sa.Integer, nullable=False),
        sa.Column("errors_encountered", sa.Integer, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("execution_time_seconds", sa.Float, nullable=True),
        sa.Column("error_details", sa.Text, nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_status_logs"),
    )
    op.create_index("ix_sync_status_logs_session", "sync_status_logs", ["session_id", "id"])
    op.create_table(
        "sync_outbox",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_outbox"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_sync_outbox_session_id_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_sync_outbox_task_id_tasks", ondelete="CASCADE"),
    )
    op.create_index("ix_sync_outbox_pending", "sync_outbox", ["session_id", "status", "id"])
    op.create_table(
        "sync_conflicts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("task_id", sa.Integer, nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("base_value", sa.JSON, nullable=True),
        sa.Column("local_value", sa.JSON, nullable=True),
        sa.Column("remote_value", sa.JSON, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_conflicts"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_sync_conflicts_session_id_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_sync_conflicts_task_id_tasks", ondelete="CASCADE"),
    )
    op.create_index("ix_sync_conflicts_open", "sync_conflicts", ["session_id", "status", "task_id"])
    op.create_table(
        "sync_state",
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("since", UTCDateTime, nullable=True),
        sa.Column("etag", sa.String(200), nullable=True),
        sa.Column("last_pull_at", UTCDateTime, nullable=True),
        sa.Column("rate_limit", sa.JSON, nullable=False),
        sa.Column("milestones", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_sync_state"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_sync_state_session_id_sessions", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    for table in (
        "sync_state",
        "sync_conflicts",
        "sync_outbox",
        "sync_status_logs",
        "release_milestones",
        "feature_issue_links",
        "git_integration_config",
    ):
        op.drop_table(table)
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("remote_fields")
        batch.drop_column("milestone")
        batch.drop_column("assignees")
