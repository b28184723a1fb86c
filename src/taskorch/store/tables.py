"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; never ``create_all``.

Timestamps are UTC (:class:`UTCDateTime`). Every table a change touches is written in the same
transaction as the change (one tool call, one transaction), including the audit rows in
``task_events`` and the per-status counters in ``status_counts``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)

__all__ = [
    "WAITING_SQL",
    "api_tokens",
    "artifacts",
    "declare_postgresql_options",
    "feature_issue_links",
    "git_integration_config",
    "metadata",
    "notification_outbox",
    "notification_rules",
    "release_milestones",
    "scan_cursors",
    "server_restarts",
    "sessions",
    "status_counts",
    "sync_conflicts",
    "sync_leases",
    "sync_outbox",
    "sync_state",
    "sync_status_logs",
    "task_dependencies",
    "task_events",
    "task_labels",
    "tasks",
    "webhook_deliveries",
]

#: The condition of ix_tasks_waiting, spelled per dialect; a query must use the same words for the
#: planner to pick the partial index (https://www.sqlite.org/partialindex.html).
WAITING_SQL = {
    "sqlite": "archived = 0 AND (status = 'blocked' OR (status = 'pending' AND unmet_dependencies > 0))",
    "postgresql": "archived = false AND (status = 'blocked' OR (status = 'pending' AND unmet_dependencies > 0))",
}

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on every dialect (SQLite stores it naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; taskorch stores UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("project_root", Text, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_active_at", UTCDateTime, nullable=False),
    # Revision 0005: the number the session's next task gets. Numbers are the public reference of
    # a task, per project; the counter only grows, so a number is never given twice.
    Column("next_task_number", Integer, nullable=False, server_default=text("1")),
    # Revision 0006: what identifies the project, ``git:<host>/<path>`` (the normalised URL of its
    # origin remote, so every clone reaches one task graph) or ``path:<root>`` without a remote.
    Column("project_key", Text, nullable=True),
    Index("ix_sessions_project_key", "project_key", unique=True),
)

tasks = Table(
    "tasks",
    metadata,
    # Internal key, never shown: tools, the CLI and texts name a task by its number. On SQLite
    # AUTOINCREMENT keeps the id of a deleted task from being given again (revision 0005).
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    # Revision 0005: the task's number in its project (from sessions.next_task_number), and its
    # parent's number (a parent never changes, so the copy cannot drift).
    Column("number", Integer, nullable=False),
    Column("parent_number", Integer, nullable=True),
    Column("parent_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("task_type", String(32), nullable=False),
    Column("complexity", String(32), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("specialist_type", String(64), nullable=False),
    Column("routing_reason", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("estimated_effort", String(64), nullable=True),
    Column("due_date", Date, nullable=True),
    Column("acceptance_criteria", JSON, nullable=False),
    Column("context", Text, nullable=False, default=""),
    Column("synthesis", Text, nullable=True),
    Column("status_reason", Text, nullable=True),
    # Optimistic concurrency: bumped by every change of the row.
    Column("version", Integer, nullable=False, default=1),
    # Maintained in the same transaction as the change that moves them, so the ready queue is
    # an index range scan: dependencies not yet completed, subtasks not yet finished.
    Column("unmet_dependencies", Integer, nullable=False, default=0),
    Column("open_subtasks", Integer, nullable=False, default=0),
    # Set when the first subtask is planned: a parent is synthesized, not executed.
    Column("has_subtasks", Boolean, nullable=False, default=False),
    # Revision 0002: issue fields that flow both ways, and which fields hold platform text.
    Column("assignees", JSON, nullable=False),
    Column("milestone", String(200), nullable=True),
    Column("remote_fields", JSON, nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("archived_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    # Revision 0006: the actor working on the task (execute_task claims it) and when its lease ends.
    Column("claimed_by", String(200), nullable=True),
    Column("claim_expires_at", UTCDateTime, nullable=True),
    Index(
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
    Index("ix_tasks_parents", "session_id", "has_subtasks", "open_subtasks"),
    # Revision 0004: the tasks waiting on something (get_status's blocked list) as an index of
    # their own, so listing the first few never reads the thousands behind them.
    Index(
        "ix_tasks_waiting",
        "session_id",
        "priority_rank",
        "id",
        sqlite_where=text(WAITING_SQL["sqlite"]),
        # postgresql_where: see declare_postgresql_options.
    ),
    Index("ix_tasks_session_status_updated", "session_id", "archived", "status", "updated_at"),
    Index("ix_tasks_session_created", "session_id", "archived", "created_at"),
    # Revision 0011: a parent's subtasks in priority order (complete_task's open siblings).
    Index("ix_tasks_siblings", "parent_id", "priority_rank", "id"),
    Index("ix_tasks_session_number", "session_id", "number", unique=True),
    sqlite_autoincrement=True,
)


def declare_postgresql_options() -> None:
    """Give ``ix_tasks_waiting`` its PostgreSQL condition (``postgresql_where``); idempotent.

    :class:`~taskorch.store.db.Database` calls it when it opens a PostgreSQL database. It is not
    declared with the index because naming a dialect's option imports that dialect (tens of
    milliseconds), which a process on SQLite never needs.
    """
    index = next(ix for ix in tasks.indexes if ix.name == "ix_tasks_waiting")
    index.dialect_kwargs["postgresql_where"] = text(WAITING_SQL["postgresql"])


task_labels = Table(
    "task_labels",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("label", String(100), primary_key=True),
    Index("ix_task_labels_label", "label", "task_id"),
)

task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_dependencies_depends_on", "depends_on_id", "task_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("artifact_type", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("detailed_work", Text, nullable=False, default=""),
    Column("file_paths", JSON, nullable=False),
    Column("next_action", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_artifacts_task", "task_id", "id"),
)

# The audit trail. No foreign key to tasks: a hard-deleted task keeps its history.
task_events = Table(
    "task_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, nullable=False),
    Column("task_id", Integer, nullable=True),
    # Revision 0005: the task's number, kept after a hard delete (numbers are never reused).
    Column("task_number", Integer, nullable=True),
    Column("tool", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    # {field: [old, new]} for updates; {field: new} snapshots for creations and deletions.
    Column("changes", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Revision 0006: who made the change: an API token's name over HTTP, ``local`` for stdio and the CLI.
    Column("actor", String(200), nullable=False, server_default=text("'local'")),
    Index("ix_task_events_task", "task_id", "id"),
    Index("ix_task_events_session", "session_id", "id"),
    Index("ix_task_events_session_task", "session_id", "task_number", "id"),
)

# How many live (not archived) tasks a session has in each status, kept in step with the
# tasks table in the same transaction, so get_status never counts rows it does not show.
status_counts = Table(
    "status_counts",
    metadata,
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
)

server_restarts = Table(
    "server_restarts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("duration_seconds", Float, nullable=True),
    Column("ok", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Column("components", JSON, nullable=False),
)

# Bearer tokens of the HTTP server (revision 0006): only the SHA-256 of each token is stored.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("scope", String(16), nullable=False),  # read | write | admin
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)

# -- Git platform integration (revision 0002) ------------------------------------------------

git_integration_config = Table(
    "git_integration_config",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("platform", String(16), nullable=False),
    Column("repository_url", Text, nullable=False),
    # The *name* of the environment variable or keyring entry holding the token, never the token.
    Column("api_token_name", String(200), nullable=False),
    Column("default_labels", JSON, nullable=False),
    Column("auto_sync_enabled", Boolean, nullable=False),
    Column("issue_template", Text, nullable=True),
    Column("tier", String(16), nullable=False),
    Column("conflict_policy", String(16), nullable=False),
    Column("progress_comments", Boolean, nullable=False),
    Column("status_mapping", JSON, nullable=False),
    Column("board_number", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Revision 0007: which issues opened on the platform become tasks: off | all | label:<name>.
    Column("import_policy", String(64), nullable=False, default="off", server_default=text("'off'")),
    # Revision 0010: the repository holding the code, tags and releases when the issues live on
    # another platform (Bitbucket Cloud code with Jira issues); NULL: the issue platform's own.
    Column("code_platform", String(16), nullable=True),
    Column("code_repository", Text, nullable=True),
    Column("code_token_name", String(200), nullable=True),
)

feature_issue_links = Table(
    "feature_issue_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("platform", String(16), nullable=False),
    Column("repository", Text, nullable=False),
    Column("issue_number", Integer, nullable=True),
    Column("issue_url", Text, nullable=True),
    # Revision 0009: 64-bit, as GitHub's issue ids passed 2**31 (PostgreSQL's integer refused them).
    Column("issue_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=True),
    Column("issue_node_id", String(100), nullable=True),
    Column("sync_status", String(16), nullable=False),  # synced | pending | failed | manual
    Column("last_synced", UTCDateTime, nullable=True),
    # Recorded (and committed) before the issue is created; its marker in the issue body lets a
    # retry after a crash find the issue instead of creating a second one.
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("intent_at", UTCDateTime, nullable=False),
    # Per linked field, the last value both sides agreed on (the base of the three-way merge),
    # and the remote values as last seen.
    Column("base", JSON, nullable=False),
    Column("remote", JSON, nullable=False),
    Column("board_item_id", String(100), nullable=True),
    Column("error", Text, nullable=True),
    # Revision 0006: per field, the values sent whose answer was not read yet (most recent last),
    # so our own change is recognised when a pull finds it, and an adopted issue's base is what
    # was sent.
    Column("in_flight", JSON, nullable=True),
    Index("ix_feature_issue_links_issue", "repository", "issue_number"),
)

release_milestones = Table(
    "release_milestones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("target_date", Date, nullable=True),
    Column("platform_milestone_id", Integer, nullable=True),
    Column("included_features", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # planning | active | completed | cancelled
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Revision 0003: release coordination. ``name`` is the tag and milestone title (v1.2.0).
    Column("version", String(100), nullable=True),
    Column("notes", Text, nullable=True),
    Column("notes_template", String(16), nullable=True),
    Column("previous_tag", String(200), nullable=True),
    Column("tag_sha", String(64), nullable=True),
    Column("release_id", Integer, nullable=True),
    Column("release_url", Text, nullable=True),
    # Which steps of tag_release are done, so a rerun after a failure resumes.
    Column("steps", JSON, nullable=False),
    Index("ix_release_milestones_session_name", "session_id", "name", unique=True),
)

sync_status_logs = Table(
    "sync_status_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, nullable=False),
    Column("operation_type", String(32), nullable=False),  # issue_sync | milestone_sync | status_update | bulk_sync
    Column("operation", String(64), nullable=False),  # e.g. create_issue, update_issue, pull
    Column("platform", String(16), nullable=False),
    Column("repository", Text, nullable=False),
    Column("task_id", Integer, nullable=True),
    Column("issue_number", Integer, nullable=True),
    Column("operation_status", String(16), nullable=False),  # started | completed | failed | retry
    Column("records_processed", Integer, nullable=False),
    Column("errors_encountered", Integer, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("execution_time_seconds", Float, nullable=True),
    Column("error_details", Text, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Index("ix_sync_status_logs_session", "session_id", "id"),
)

# The transactional outbox: written in the same transaction as the local change it carries.
sync_outbox = Table(
    "sync_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("operation", String(32), nullable=False),  # create_issue | update_issue | comment
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    # Revision 0009: the background worker holding the entry's task, and until when (a killed
    # worker's claim runs out and another takes the task over).
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Index("ix_sync_outbox_pending", "session_id", "status", "id"),
    Index("ix_sync_outbox_task", "task_id", "id"),
)

sync_conflicts = Table(
    "sync_conflicts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("task_id", Integer, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("field", String(32), nullable=False),
    Column("base_value", JSON, nullable=True),
    Column("local_value", JSON, nullable=True),
    Column("remote_value", JSON, nullable=True),
    Column("detail", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("resolution", String(16), nullable=True),  # local | remote
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Index("ix_sync_conflicts_open", "session_id", "status", "task_id"),
)

# Per session: the pull watermark and validator, saved only after a clean run.
sync_state = Table(
    "sync_state",
    metadata,
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("since", UTCDateTime, nullable=True),
    Column("etag", String(200), nullable=True),
    Column("last_pull_at", UTCDateTime, nullable=True),
    Column("rate_limit", JSON, nullable=False),
    Column("milestones", JSON, nullable=False),  # number -> title, as last listed
)


# -- Team sync (revision 0009): background workers, webhooks, notifications ---------------------

# Named leases: one holder at a time until ``expires_at`` (a killed holder's lease runs out). The
# SQLite stand-in for PostgreSQL's advisory locks (one puller per repository), and the single
# writer of the notification scan on both dialects.
sync_leases = Table(
    "sync_leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Webhook deliveries, verified and queued by the HTTP face, processed by the background worker.
# (platform, delivery_id) is unique: a replayed delivery is refused by the database itself.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("platform", String(16), nullable=False),  # github | gitlab | jira
    Column("delivery_id", String(200), nullable=False),
    Column("event", String(100), nullable=False),
    Column("repository", Text, nullable=True),  # "owner/name" or Jira's project key
    Column("issue_numbers", JSON, nullable=False),  # the issues it names (numbers; Jira keys)
    Column("status", String(16), nullable=False),  # pending | done | ignored | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("received_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_webhook_deliveries_platform_delivery_id", "platform", "delivery_id", unique=True),
    Index("ix_webhook_deliveries_status", "status", "id"),
)

# Notification rules: which events of a project go to which incoming webhook (its URL is looked
# up by name, like tokens: ``url_name`` is an environment variable or keyring entry).
notification_rules = Table(
    "notification_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("service", String(16), nullable=False),  # slack | teams | discord | generic
    Column("url_name", String(200), nullable=False),
    Column("events", JSON, nullable=False),  # list of event kinds
    Column("digest", String(16), nullable=False),  # none | daily | weekly
    Column("min_interval_seconds", Float, nullable=False),  # rate limit: at most one post per interval
    Column("last_sent_at", UTCDateTime, nullable=True),
    Column("last_digest_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notification_rules_session_name", "session_id", "name", unique=True),
)

# The notifications' outbox: one row per (rule, event); the unique key deduplicates an event seen
# twice, delivery is at least once (a row stays pending until the service answered 2xx).
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rule_id", Integer, ForeignKey("notification_rules.id", ondelete="CASCADE"), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),  # the event's neutral form: kind, project, task, text
    Column("status", String(16), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", UTCDateTime, nullable=True),
    Index("ix_notification_outbox_rule_event_key", "rule_id", "event_key", unique=True),
    Index("ix_notification_outbox_status", "status", "id"),
)

# Where a scan of an append-only table stopped (the notification scan of task_events and
# sync_status_logs), by name.
scan_cursors = Table(
    "scan_cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("last_id", Integer, nullable=False),
)
