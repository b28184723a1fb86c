"""Team sync: background workers, webhook deliveries and notifications.

* ``sync_outbox.claimed_by`` / ``claimed_until``: the background worker holding the entry's task
  and until when; a killed worker's claim runs out and another worker takes the task over.
* ``sync_leases``: named leases (one puller per repository on SQLite; PostgreSQL uses advisory
  locks for that, and the lease for the notification scan).
* ``feature_issue_links.issue_id`` becomes 64-bit on PostgreSQL (GitHub's issue ids passed 2**31).
* ``webhook_deliveries``: verified deliveries queued for the worker, unique per platform and
  delivery id (a replay is refused by the database).
* ``notification_rules``, ``notification_outbox``, ``scan_cursors``: rules per project, one
  outbox row per rule and event (unique, so an event is never sent twice by design), and where
  the scan of the audit trail and the sync log stopped.

Tables and nullable columns are added (no rebuild), so the migration is cheap on both dialects.

Revision ID: 0009_team_sync
Revises: 0008_import_policy
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from taskorch.store.tables import UTCDateTime

revision = "0009_team_sync"
down_revision = "0008_import_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GitHub's issue ids passed 2**31: PostgreSQL's integer refused them (SQLite's is 64-bit).
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("feature_issue_links", "issue_id", type_=sa.BigInteger, existing_nullable=True)
    op.add_column("sync_outbox", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("sync_outbox", sa.Column("claimed_until", UTCDateTime, nullable=True))
    op.create_index("ix_sync_outbox_task", "sync_outbox", ["task_id", "id"])
    op.create_table(
        "sync_leases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_sync_leases"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("repository", sa.Text, nullable=True),
        sa.Column("issue_numbers", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_platform_delivery_id", "webhook_deliveries", ["platform", "delivery_id"], unique=True
    )
    op.create_index("ix_webhook_deliveries_status", "webhook_deliveries", ["status", "id"])
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("url_name", sa.String(200), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("min_interval_seconds", sa.Float, nullable=False),
        sa.Column("last_sent_at", UTCDateTime, nullable=True),
        sa.Column("last_digest_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_rules"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_notification_rules_session_id_sessions", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_notification_rules_session_name", "notification_rules", ["session_id", "name"], unique=True)
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.Integer, nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification_outbox"),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["notification_rules.id"],
            name="fk_notification_outbox_rule_id_notification_rules",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_notification_outbox_rule_event_key", "notification_outbox", ["rule_id", "event_key"], unique=True
    )
    op.create_index("ix_notification_outbox_status", "notification_outbox", ["status", "id"])
    op.create_table(
        "scan_cursors",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scan_cursors"),
    )


def downgrade() -> None:
    op.drop_table("scan_cursors")
    op.drop_table("notification_outbox")
    op.drop_table("notification_rules")
    op.drop_table("webhook_deliveries")
    op.drop_table("sync_leases")
    op.drop_index("ix_sync_outbox_task", "sync_outbox")
    with op.batch_alter_table("sync_outbox") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("feature_issue_links", "issue_id", type_=sa.Integer, existing_nullable=True)
