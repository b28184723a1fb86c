"""What every part of the sync engine shares: the engine's state (database, platform, run
report, milestone cache), its one door to the platform (:meth:`EngineCore.call`), the local and
remote values of a linked task, the sync state and logs, and the outbox's :func:`enqueue`.

The push (:mod:`taskorch.sync.push`), the pull (:mod:`taskorch.sync.pull`) and the merge
(:mod:`taskorch.sync.merge`) are mixins on :class:`EngineCore`;
:class:`taskorch.sync.engine.SyncEngine` puts them together.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, RowMapping

from taskorch.domain.model import TaskStatus
from taskorch.errors import PlatformRejected
from taskorch.platforms.base import Platform, RemoteIssue
from taskorch.platforms.registry import DEFAULT_CONVENTIONS, LabelConventions
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.store.db import Database
from taskorch.store.taskgraph import subtask_diagram
from taskorch.sync import mapping
from taskorch.sync.remote import RemoteCaller
from taskorch.sync.reports import (
    ConflictReport,
    FailureReport,
    LinkReport,
)

__all__ = [
    "COALESCED_OPERATIONS",
    "CREATION_OPERATIONS",
    "DEFAULT_STATUS_MAPPING",
    "EngineCore",
    "RunState",
    "board_column",
    "enqueue",
    "new_idempotency_key",
    "pending_count",
]

log = logging.getLogger(__name__)


T = TypeVar("T")


#: How far before the recorded intent a marker search looks, in seconds (clock skew).
MARKER_SEARCH_SLACK_SECONDS = 300


#: Values in flight kept per field (the most recent ones).
IN_FLIGHT_KEPT = 5


#: Outbox operations that never overwrite a field, so they may go out without a fresh pull
#: (a ``dependency`` entry removes only a dependency both sides agreed on).
CREATION_OPERATIONS = ("create_issue", "add_sub_issue", "board_card", "dependency")


#: Operations of which one pending entry per task is enough (a later one is reused).
COALESCED_OPERATIONS = ("update_issue", "milestone", "board_card", "add_sub_issue")


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


@dataclass
class RunState:
    # updated, pulled and failed hold internal task ids until the result turns them into numbers.
    created: list[LinkReport] = field(default_factory=list)
    imported: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    pulled: list[int] = field(default_factory=list)
    conflicts: list[ConflictReport] = field(default_factory=list)
    failed: list[FailureReport] = field(default_factory=list)
    not_modified: bool = False
    stopped: str | None = None
    #: Issues the pull met carrying the marker of a link not completed yet, by idempotency key.
    unlinked: dict[str, RemoteIssue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class EngineCore:
    """The state and shared helpers of :class:`~taskorch.sync.engine.SyncEngine` (see there)."""

    def __init__(
        self,
        db: Database,
        session_id: int,
        config: Mapping[Any, Any],
        platform: Platform,
        *,
        mutation_spacing: float,
        max_retry_wait: float,
        clock: Callable[[], datetime] = repo.utcnow,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        conventions: LabelConventions = DEFAULT_CONVENTIONS,
    ) -> None:
        self.db = db
        self.conventions = conventions
        self.session_id = session_id
        self.config = dict(config)
        self.platform = platform
        self.max_retry_wait = max_retry_wait
        self.clock = clock
        self.sleep = sleep
        self.remote = RemoteCaller(
            spacing=mutation_spacing,
            max_retry_wait=max_retry_wait,
            sleep=sleep,
            monotonic=monotonic,
            log=lambda what, task_id, detail: self._log_event("retry", what, task_id, detail),
        )
        self.spacer = self.remote.spacer
        self.repository = str(config["repository_url"])
        self.default_labels: list[str] = list(config["default_labels"] or [])
        self._run = RunState()
        self._milestones: dict[str, str] | None = None  # str(number) -> title
        self._board: Any = None

    def call(self, what: str, fn: Callable[[], T], *, mutation: bool, task_id: int | None = None) -> T:
        """One platform call through the run's :class:`~taskorch.sync.remote.RemoteCaller`
        (spacing, rate limits, retries, each retry logged)."""
        return self.remote.call(what, fn, mutation=mutation, task_id=task_id)

    def _task_and_link(self, conn: Connection, task_id: int) -> tuple[Mapping[Any, Any], RowMapping | None, list[str]]:
        row = repo.get_task(conn, task_id)
        link = sync_store.link_of(conn, task_id)
        labels = repo.labels_of(conn, [task_id])[task_id]
        task: Mapping[Any, Any] = row
        if row["has_subtasks"]:  # a parent's body carries its subtasks' diagram (kept in step by outbox.capture)
            task = {**row, "subtask_diagram": subtask_diagram(conn, row["session_id"], task_id)}
        return task, link, labels

    def _local(self, task: Mapping[Any, Any], labels: Sequence[str], link: Mapping[Any, Any]) -> dict[str, Any]:
        return mapping.local_values(
            task,
            labels,
            template=self.config.get("issue_template"),
            verbatim_body=bool((link["base"] or {}).get("_verbatim")),
            default_labels=self.default_labels,
        )

    def _call_listing(self, since: datetime | None, etag: str | None) -> Any:
        listing = self.call("list_issues", lambda: self.platform.list_issues_since(since, etag), mutation=False)
        self.remote.spent(listing.requests - 1)
        return listing

    def _remote(self, issue: RemoteIssue) -> dict[str, Any]:
        titles = self._milestone_titles(issue.milestone)
        return mapping.remote_values(
            issue, default_labels=self.default_labels, milestone_titles=titles, conventions=self.conventions
        )

    def merge_remote(self, link: RowMapping, issue: RemoteIssue) -> None:
        """Merge one issue into its linked task; provided by :class:`~taskorch.sync.merge.MergeMixin`."""
        raise NotImplementedError

    # -- milestones ---------------------------------------------------------------------------

    def _milestone_titles(self, number: int | None) -> dict[str, str]:
        if self._milestones is None:
            with self.db.transaction(write=False) as conn:
                state = sync_store.state_of(conn, self.session_id)
            self._milestones = dict(state["milestones"]) if state is not None and state["milestones"] else {}
        if number is not None and str(number) not in self._milestones:
            self._refresh_milestones()
        return self._milestones

    def _milestone_numbers(self, title: str | None) -> dict[str, int]:
        titles = self._milestone_titles(None)
        if title is not None and title not in titles.values():
            self._refresh_milestones()
            titles = self._milestone_titles(None)
            if title not in titles.values():
                raise PlatformRejected(
                    f"milestone {title!r} does not exist in {self.repository}; create it with the create_milestone "
                    "action, or clear the task's milestone"
                )
        return {t: int(n) for n, t in titles.items()}

    def _refresh_milestones(self) -> None:
        milestones = self.call("list_milestones", self.platform.list_milestones, mutation=False)
        self._milestones = {str(m.number): m.title for m in milestones}
        with self.db.transaction() as conn:
            self._ensure_state(conn)
            sync_store.update_state(conn, self.session_id, milestones=self._milestones)

    # -- state and logs -----------------------------------------------------------------------

    def _ensure_state(self, conn: Connection) -> RowMapping:
        return sync_store.ensure_state(conn, self.session_id)

    def _pending_count(self) -> int:
        with self.db.transaction(write=False) as conn:
            return pending_count(conn, self.session_id)

    def log(
        self,
        conn: Connection,
        operation_type: str,
        operation: str,
        status: str,
        *,
        task_id: int | None = None,
        issue_number: int | None = None,
        records: int = 0,
        errors: int = 0,
        requests: int = 0,
        duration: float | None = None,
        error_details: str | None = None,
    ) -> int:
        """Write one ``sync_status_logs`` row in the caller's transaction; return its id."""
        at = self.clock()
        return int(
            sync_store.insert_log(
                conn,
                session_id=self.session_id,
                operation_type=operation_type,
                operation=operation,
                platform=self.platform.name,
                repository=self.repository,
                task_id=task_id,
                issue_number=issue_number,
                operation_status=status,
                records_processed=records,
                errors_encountered=errors,
                requests=requests,
                execution_time_seconds=duration,
                error_details=error_details,
                started_at=at,
                completed_at=None if status == "started" else at,
            )
        )

    def _record_remote(
        self,
        conn: Connection,
        operation_type: str,
        operation: str,
        *,
        task_id: int,
        issue_number: int,
        action: str,
        changes: Mapping[str, Any],
        at: datetime,
    ) -> None:
        """One completed remote operation (one request): its sync log row and its audit entry."""
        self.log(
            conn,
            operation_type,
            operation,
            "completed",
            task_id=task_id,
            issue_number=issue_number,
            records=1,
            requests=1,
        )
        repo.record_event(
            conn, session_id=self.session_id, task_id=task_id, tool="sync", action=action, changes=changes, at=at
        )

    def _log_event(self, status: str, operation: str, task_id: int | None, detail: str) -> None:
        with self.db.transaction() as conn:
            self.log(conn, "issue_sync", operation, status, task_id=task_id, errors=1, error_details=detail)

    def _log_start(self, operation_type: str, operation: str) -> int:
        with self.db.transaction() as conn:
            return self.log(conn, operation_type, operation, "started")

    def _log_finish(
        self,
        log_id: int,
        status: str,
        *,
        records: int,
        errors: int,
        requests: int,
        duration: float,
        error_details: str | None,
    ) -> None:
        with self.db.transaction() as conn:
            sync_store.update_log(
                conn,
                log_id,
                operation_status=status,
                records_processed=records,
                errors_encountered=errors,
                requests=requests,
                execution_time_seconds=duration,
                error_details=error_details,
                completed_at=self.clock(),
            )


def enqueue(
    conn: Connection, session_id: int, task_id: int, operation: str, payload: Mapping[Any, Any], at: datetime
) -> None:
    """Add an outbox entry in the caller's transaction; a pending entry of the same task and
    operation is reused for the operations of :data:`COALESCED_OPERATIONS`, and a pending
    ``dependency`` entry of the same task and payload (``{"on": blocking task id}``)."""
    if operation == "dependency" and any(
        p == dict(payload) for p in sync_store.pending_payloads(conn, task_id, operation)
    ):
        return
    if operation in COALESCED_OPERATIONS and sync_store.has_pending(conn, task_id, operation):
        return
    sync_store.insert_entry(conn, session_id, task_id, operation, payload, at)


def pending_count(conn: Connection, session_id: int) -> int:
    """Outbox entries of the session still waiting to reach the platform."""
    return sync_store.pending_count(conn, session_id)


def board_column(task: Mapping[Any, Any], status_mapping: Mapping[str, str]) -> str | None:
    """The board column a task belongs in.

    The mapping's keys follow the spec's vocabulary: ``proposed`` (pending, waiting on
    dependencies), ``approved`` (pending and ready), ``in_progress``, ``blocked``, ``completed``,
    ``cancelled``.
    """
    status = task["status"]
    if status == TaskStatus.PENDING.value:
        key = "approved" if task["unmet_dependencies"] == 0 else "proposed"
    else:
        key = status
    merged = {**DEFAULT_STATUS_MAPPING, **status_mapping}
    return merged.get(key)


DEFAULT_STATUS_MAPPING = {
    "proposed": "Backlog",
    "approved": "To Do",
    "in_progress": "In Progress",
    "blocked": "Backlog",
    "completed": "Done",
    "cancelled": "Done",
}
