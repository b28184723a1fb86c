"""The sync engine: drain the outbox to the platform, pull the platform's changes back.

Rules it keeps (see ARCHITECTURE.md, "Sync"):

* **No transaction spans a network call.** Each step reads what it needs, calls the platform,
  then records the outcome in a short transaction of its own.
* **Idempotent creation.** A link row with an idempotency key is committed before an issue is
  created; the key travels in the issue body as a hidden marker. The outbox entry's attempt count
  is committed *before* the create request, so a retry (after a crash, a timeout or a dropped
  connection) first looks for an issue carrying the marker and adopts it instead of creating a
  second one.
* **Three-way merge.** Per linked field, ``base`` is the last value both sides agreed on. A field
  changed on one side only is taken from that side; changed on both is a conflict, settled by the
  configured policy (manual: queued for a person or an assistant; local_wins; remote_wins;
  newest_wins). Nothing is overwritten silently.
* **Incremental pull.** ``since`` watermark plus If-None-Match on the first page; the watermark
  and ETag are saved only after a run with no failure.
* **Rate limits.** Mutations go one at a time, spaced by ``mutation_spacing`` seconds; a rate
  limit is waited out (up to ``max_retry_wait``), 5xx/timeouts are retried with exponential
  backoff; every attempt is logged in ``sync_status_logs``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, RowMapping, update

from taskorch.domain.model import TERMINAL_STATUSES, Complexity, Priority, TaskStatus, TaskType
from taskorch.errors import (
    InvalidTransition,
    PlatformError,
    PlatformRejected,
    TaskorchError,
)
from taskorch.platforms.base import Platform, RemoteIssue, lacks
from taskorch.platforms.registry import DEFAULT_CONVENTIONS, LabelConventions
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.store.db import Database
from taskorch.store.tables import (
    tasks,
)
from taskorch.store.taskgraph import subtask_diagram
from taskorch.sync import mapping
from taskorch.sync.remote import RemoteCaller, SyncStopped
from taskorch.sync.reports import (
    ConflictReport,
    FailureReport,
    LinkReport,
    SyncReport,
    conflict_report,
    link_report,
)
from taskorch.sync.template import find_marker, marker

__all__ = [
    "DEFAULT_STATUS_MAPPING",
    "SyncEngine",
    "SyncStopped",
    "board_column",
    "enqueue",
    "new_idempotency_key",
    "pending_count",
    "take_remote_value",
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
class _Run:
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


class SyncEngine:
    """Syncs one session's tasks with one repository.

    ``config`` is the session's ``git_integration_config`` row (its ``status_mapping`` the board
    column of each board key); ``conventions`` how the platform's labels carry a status (the
    repository's, from the platform registry). ``sleep`` and ``monotonic`` are injectable so tests
    do not wait; ``clock`` gives UTC now.
    """

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
        self._run = _Run()
        self._milestones: dict[str, str] | None = None  # str(number) -> title
        self._board: Any = None

    # -- public -----------------------------------------------------------------------------

    def run(
        self,
        *,
        pull: bool = True,
        push: bool = True,
        task_ids: Sequence[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncReport:
        """Pull, then push; returns what moved. Never raises for a platform failure: failures
        are reported in the result and logged, and a rerun picks up where this one stopped."""
        self._run = _Run()
        self.remote.requests = 0
        t0 = time.perf_counter()
        log_id = self._log_start("bulk_sync", "sync")
        try:
            pulled = True
            if pull:
                try:
                    self.pull()
                except PlatformError as exc:
                    pulled = False
                    self._run.failed.append(FailureReport(task_id=None, operation="pull", error=str(exc)))
            if push:
                # Without a fresh pull, an update could overwrite a change made on the platform since
                # the last one: only creations go out, updates wait for the next run.
                self.push(task_ids=task_ids, progress=progress, updates=pulled or not pull)
        except SyncStopped as exc:
            self._run.stopped = str(exc)
        duration = time.perf_counter() - t0
        pending = self._pending_count()
        status = "failed" if self._run.failed else "completed"
        self._log_finish(
            log_id,
            status,
            records=len(self._run.created) + len(self._run.updated) + len(self._run.pulled) + len(self._run.imported),
            errors=len(self._run.failed),
            requests=self.remote.requests,
            duration=duration,
            error_details="; ".join(f.error for f in self._run.failed[:10]) or self._run.stopped,
        )
        budget = self.platform.rate_budget()
        rate = {
            "limit": budget.limit,
            "remaining": budget.remaining,
            "reset_at": budget.reset_at.isoformat() if budget.reset_at else None,
        }
        with self.db.transaction() as conn:
            self._ensure_state(conn)
            sync_store.update_state(conn, self.session_id, rate_limit=rate)
            # The run collected internal ids; the result names tasks by their numbers.
            numbers = repo.numbers_of(
                conn,
                [
                    *self._run.updated,
                    *self._run.pulled,
                    *self._run.imported,
                    *(f.task_id for f in self._run.failed if f.task_id),
                ],
            )
        failed = [replace(f, task_id=numbers.get(f.task_id)) if f.task_id is not None else f for f in self._run.failed]
        return SyncReport(
            repository=self.repository,
            created=self._run.created,
            updated=sorted({numbers[i] for i in self._run.updated if i in numbers}),
            pulled=sorted({numbers[i] for i in self._run.pulled if i in numbers}),
            imported=sorted({numbers[i] for i in self._run.imported if i in numbers}),
            conflicts=self._run.conflicts,
            failed=failed,
            pending=pending,
            not_modified=self._run.not_modified,
            requests=self.remote.requests,
            duration_seconds=round(duration, 4),
            rate_limit=rate,
            stopped=self._run.stopped,
            notes=list(self._run.notes),
        )

    # -- platform calls with retry -----------------------------------------------------------

    def call(self, what: str, fn: Callable[[], T], *, mutation: bool, task_id: int | None = None) -> T:
        """One platform call through the run's :class:`~taskorch.sync.remote.RemoteCaller`
        (spacing, rate limits, retries, each retry logged)."""
        return self.remote.call(what, fn, mutation=mutation, task_id=task_id)

    # -- push -------------------------------------------------------------------------------

    def push(
        self,
        *,
        task_ids: Sequence[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
        updates: bool = True,
    ) -> None:
        """Drain the outbox in order (optionally only for ``task_ids``); ``progress(done, total)``
        is called after each entry."""
        total = self._pending_count()
        done = 0
        waiting: set[int] = set()  # entries that must wait for another (an update before its issue exists)
        progressed_since_wait = False
        while True:
            with self.db.transaction(write=False) as conn:
                batch = sync_store.pending_entries(
                    conn,
                    self.session_id,
                    task_ids=task_ids,
                    operations=None if updates else CREATION_OPERATIONS,
                    excluding=waiting,
                )
            if not batch:
                if waiting and progressed_since_wait:
                    # An entry that waited for another (a sub-issue for its parent's creation)
                    # gets one more turn once something moved.
                    waiting.clear()
                    progressed_since_wait = False
                    continue
                return
            progressed = False
            for entry in batch:
                if self._push_entry(entry):
                    progressed = True
                    progressed_since_wait = True
                else:
                    waiting.add(entry["id"])
                done += 1
                if progress is not None:
                    progress(min(done, total), total)
            if not progressed and not waiting:
                return

    def _push_entry(self, entry: RowMapping) -> bool:
        """Process one outbox entry; return whether it left the pending state."""
        op = entry["operation"]
        try:
            if op == "create_issue":
                return self._push_create(entry)
            if op == "update_issue":
                return self._push_update(entry)
            if op == "milestone":
                return self._push_milestone(entry)
            if op == "comment":
                return self._push_comment(entry)
            if op == "add_sub_issue":
                return self._push_sub_issue(entry)
            if op == "board_card":
                return self._push_board_card(entry)
            if op == "dependency":
                return self._push_dependency(entry)
            self._finish_entry(entry["id"], "failed", f"unknown operation {op!r}")
            return True
        except SyncStopped:
            raise
        except PlatformError as exc:
            retryable = exc.retryable
            self._record_failure(entry, str(exc), permanent=not retryable)
            return not retryable
        except TaskorchError as exc:
            self._record_failure(entry, str(exc), permanent=True)
            return True

    def _record_failure(self, entry: Mapping[Any, Any], error: str, *, permanent: bool) -> None:
        self._run.failed.append(FailureReport(task_id=entry["task_id"], operation=entry["operation"], error=error))
        at = self.clock()
        with self.db.transaction() as conn:
            values: dict[str, Any] = {"last_error": error}
            if permanent:
                values.update(status="failed", done_at=at)
            sync_store.update_entry(conn, entry["id"], **values)
            sync_store.update_link_of_task(
                conn, entry["task_id"], sync_status="failed" if permanent else "pending", error=error
            )
            self.log(
                conn,
                "issue_sync",
                entry["operation"],
                "failed",
                task_id=entry["task_id"],
                errors=1,
                error_details=error,
            )

    def _finish_entry(self, entry_id: int, status: str, error: str | None = None) -> None:
        with self.db.transaction() as conn:
            sync_store.update_entry(conn, entry_id, status=status, done_at=self.clock(), last_error=error)

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

    def _push_create(self, entry: RowMapping) -> bool:
        with self.db.transaction(write=False) as conn:
            task, link, labels = self._task_and_link(conn, entry["task_id"])
        if link is None:
            self._finish_entry(entry["id"], "failed", "no link intent recorded for this task")
            return True
        if link["issue_number"] is not None:
            self._finish_entry(entry["id"], "done")
            return True
        values = self._local(task, labels, link)
        numbers = self._milestone_numbers(values["milestone"])
        changes = mapping.changes_for(
            mapping.FIELDS,
            values,
            marker_text=marker(link["idempotency_key"]),
            default_labels=self.default_labels,
            milestone_numbers=numbers,
            conventions=self.conventions,
        )
        entry_id = entry["id"]

        def before_attempt(attempt: int) -> None:
            with self.db.transaction() as conn:  # committed before the request: a retry will search first
                sync_store.update_entry(conn, entry_id, attempts=attempt)
                self._record_in_flight(conn, link["id"], mapping.FIELDS, values)

        issue = self.remote.create(
            "create_issue",
            lambda: self.platform.create_issue(changes),
            lookup=lambda: self._find_by_marker(link),
            before_attempt=before_attempt,
            attempts=int(entry["attempts"]),
            task_id=task["id"],
        )
        self._record_created(entry, task, link, issue)
        return True

    def _record_in_flight(
        self, conn: Connection, link_id: int, fields: Sequence[str], values: Mapping[str, Any]
    ) -> None:
        """Note, before a request is sent, the values it carries for ``fields`` (in the caller's
        transaction, committed before the request), so a pull that meets them on the platform
        knows them for ours even if the answer is lost."""
        flight = sync_store.in_flight_of(conn, link_id) or {}
        for f in fields:
            value = mapping.comparable(f, values[f])
            sent = [v for v in flight.get(f, []) if not mapping.same(f, v, value)]
            flight[f] = [*sent, value][-IN_FLIGHT_KEPT:]
        sync_store.update_link(conn, link_id, in_flight=flight)

    def _find_by_marker(self, link: Mapping[Any, Any]) -> RemoteIssue | None:
        seen = self._run.unlinked.get(link["idempotency_key"])
        if seen is not None:  # this run's pull met it: no second listing
            return seen
        since = link["intent_at"] - timedelta(seconds=MARKER_SEARCH_SLACK_SECONDS)
        listing = self._call_listing(since, None)
        key = link["idempotency_key"]
        return next((i for i in listing.issues if find_marker(i.body) == key), None)

    def _call_listing(self, since: datetime | None, etag: str | None) -> Any:
        listing = self.call("list_issues", lambda: self.platform.list_issues_since(since, etag), mutation=False)
        self.remote.spent(listing.requests - 1)
        return listing

    def _record_created(
        self, entry: Mapping[Any, Any], task: Mapping[Any, Any], link: Mapping[Any, Any], issue: RemoteIssue
    ) -> None:
        """Link the created (or adopted) issue. Its base is what was sent (the values in flight of
        the last attempt), so a difference on the issue (a person's edit made before the answer was
        read) is merged like any remote edit instead of becoming the agreed value."""
        remote = self._remote(issue)
        at = self.clock()
        with self.db.transaction() as conn:
            base = _agreed_base(remote, sync_store.in_flight_of(conn, link["id"]) or {})
            sync_store.update_link(
                conn,
                link["id"],
                issue_number=issue.number,
                issue_url=issue.url,
                issue_id=issue.id,
                issue_node_id=issue.node_id,
                sync_status="synced",
                last_synced=at,
                base=base,
                remote=remote,
                in_flight=None,
                error=None,
            )
            sync_store.update_entry(conn, entry["id"], status="done", done_at=at)
            # Updates queued before the issue existed are carried by the creation itself.
            sync_store.complete_pending(conn, task["id"], "update_issue", up_to=entry["id"], inclusive=False, at=at)
            self._follow_ups(conn, task, at)
            self._record_remote(
                conn,
                "issue_sync",
                "create_issue",
                task_id=task["id"],
                issue_number=issue.number,
                action="issue_linked",
                changes={"issue_number": issue.number, "issue_url": issue.url, "repository": self.repository},
                at=at,
            )
            row = sync_store.link_by_id(conn, link["id"])
        self._run.created.append(link_report(row, task["number"]))
        if any(not mapping.same(f, base.get(f), remote[f]) for f in mapping.FIELDS):
            self.merge_remote(row, issue)  # the issue changed after it was sent: merged like any remote edit

    def _follow_ups(self, conn: Connection, task: Mapping[Any, Any], at: datetime) -> None:
        """Queue the remote effects that follow a creation, each an outbox entry of its own
        (retried until done): the sub-issue link to the parent's issue, the board card."""
        if task["parent_id"] is not None and self.platform.capabilities.sub_issues:
            enqueue(conn, self.session_id, task["id"], "add_sub_issue", {}, at)
        if self._board_configured():
            enqueue(conn, self.session_id, task["id"], "board_card", {}, at)
        # Dependencies in both directions, now that this end of them has an issue.
        for blocking in repo.dependencies_of(conn, [task["id"]])[task["id"]]:
            enqueue(conn, self.session_id, task["id"], "dependency", {"on": blocking}, at)
        for blocked in repo.dependents_of(conn, [task["id"]]):
            if sync_store.link_of(conn, blocked) is not None:
                enqueue(conn, self.session_id, blocked, "dependency", {"on": task["id"]}, at)

    def _push_dependency(self, entry: RowMapping) -> bool:
        """Make the platform agree with the task about one dependency (``payload["on"]``, the
        blocking task's id): add it when the task has it and the link's agreed set does not, remove
        it when the agreed set has it and the task no longer does. Waits until both issues exist."""
        blocking_id = int(entry["payload"].get("on") or 0)
        with self.db.transaction(write=False) as conn:
            task, link, _labels = self._task_and_link(conn, entry["task_id"])
            other = sync_store.link_of(conn, blocking_id)
            want = blocking_id in repo.dependencies_of(conn, [task["id"]])[task["id"]]
            blocking_number = repo.numbers_of(conn, [blocking_id]).get(blocking_id)
        if link is None or other is None:
            self._finish_entry(entry["id"], "done")  # an end without an issue: nothing to link
            return True
        if link["issue_number"] is None or other["issue_number"] is None:
            return False  # one of the issues is not created yet
        missing = lacks(self.platform, "issue_dependencies")
        if missing is not None:
            self._run.note(f"{missing}; dependencies between tasks stay in taskorch only")
            self._finish_entry(entry["id"], "done")
            return True
        number, other_number = int(link["issue_number"]), int(other["issue_number"])
        agreed = set((link["base"] or {}).get("dependencies") or [])
        related = set((link["base"] or {}).get("_dependencies_related") or [])
        blocking = self._issue_ref({"title": ""}, other)
        if want and other_number not in agreed | related:
            note = self._add_dependency(task["id"], number, blocking)
            if note is not None:
                self._run.note(note)
                related.add(other_number)
            else:
                agreed.add(other_number)
            action = "dependency_added"
        elif not want and other_number in agreed | related:
            if other_number in agreed:
                try:
                    self.call(
                        "remove_dependency",
                        lambda: self.platform.remove_dependency(number, blocking),
                        mutation=True,
                        task_id=task["id"],
                    )
                except PlatformRejected as exc:
                    if exc.status != 404:  # not there (a retry after a lost answer) is what we wanted
                        raise
            agreed.discard(other_number)
            related.discard(other_number)
            action = "dependency_removed"
        else:
            self._finish_entry(entry["id"], "done")
            return True
        at = self.clock()
        with self.db.transaction() as conn:
            current = sync_store.link_of(conn, task["id"])
            if current is not None:
                base = dict(current["base"] or {})
                base["dependencies"] = sorted(agreed)
                base["_dependencies_related"] = sorted(related)
                sync_store.update_link(conn, current["id"], base=base)
            sync_store.update_entry(conn, entry["id"], status="done", done_at=at)
            self._record_remote(
                conn,
                "issue_sync",
                action,
                task_id=task["id"],
                issue_number=number,
                action=action,
                changes={"issue_number": number, "blocked_by": other_number, "task": blocking_number},
                at=at,
            )
        return True

    def _add_dependency(self, task_id: int, number: int, blocking: RemoteIssue) -> str | None:
        """Add the dependency; a refusal because it exists already (a retry after a lost answer)
        counts as done, checked by listing the issue's dependencies."""
        try:
            return self.call(
                "add_dependency",
                lambda: self.platform.add_dependency(number, blocking),
                mutation=True,
                task_id=task_id,
            )
        except PlatformRejected as exc:
            if exc.status != 422:
                raise
            present = self.call(
                "list_dependencies", lambda: self.platform.list_dependencies(number), mutation=False, task_id=task_id
            )
            if blocking.number not in present:
                raise
            return None

    def _board_configured(self) -> bool:
        return (
            self.platform.capabilities.boards
            and self.config.get("tier") in ("project", "full")
            and bool(self.config.get("board_number"))
        )

    def _push_sub_issue(self, entry: RowMapping) -> bool:
        """Make the task's issue a sub-issue of its parent's; waits until both issues exist."""
        with self.db.transaction(write=False) as conn:
            task, link, _labels = self._task_and_link(conn, entry["task_id"])
            parent = None
            if task["parent_id"] is not None:
                parent = sync_store.link_of(conn, task["parent_id"])
        if link is None or task["parent_id"] is None or parent is None:
            self._finish_entry(entry["id"], "done")  # unlinked, or no parent issue will ever exist
            return True
        if link["issue_number"] is None or parent["issue_number"] is None:
            return False  # one of the issues is not created yet
        parent_number = int(parent["issue_number"])
        child = self._issue_ref(task, link)
        try:
            self.call(
                "add_sub_issue",
                lambda: self.platform.add_sub_issue(parent_number, child),
                mutation=True,
                task_id=task["id"],
            )
        except PlatformRejected as exc:
            # Already a sub-issue (a retry after a lost answer) is the outcome we wanted.
            if exc.status != 422:
                raise
        self._finish_entry(entry["id"], "done")
        with self.db.transaction() as conn:
            self.log(
                conn,
                "issue_sync",
                "add_sub_issue",
                "completed",
                task_id=task["id"],
                issue_number=child.number,
                records=1,
                requests=1,
            )
        return True

    def _push_board_card(self, entry: RowMapping) -> bool:
        """Put the task's issue on the board, in the column its status maps to."""
        with self.db.transaction(write=False) as conn:
            task, link, _labels = self._task_and_link(conn, entry["task_id"])
        if link is None or not self._board_configured():
            self._finish_entry(entry["id"], "done")
            return True
        if link["issue_number"] is None:
            return False
        self._sync_board(task, self._issue_ref(task, link))
        self._finish_entry(entry["id"], "done")
        return True

    def _issue_ref(self, task: Mapping[Any, Any], link: Mapping[Any, Any]) -> RemoteIssue:
        """The linked issue as far as the link knows it (number and ids), without a request."""
        return RemoteIssue(
            number=int(link["issue_number"]),
            id=int(link["issue_id"] or 0),
            node_id=str(link["issue_node_id"] or ""),
            url=str(link["issue_url"] or ""),
            title=str(task["title"]),
            body="",
            state="open",
            state_reason=None,
            labels=(),
            assignees=(),
            milestone=None,
            updated_at=self.clock(),
        )

    def _sync_board(self, task: Mapping[Any, Any], issue: RemoteIssue) -> None:
        if not self._board_configured():
            return
        if self._board is None:
            number = int(self.config["board_number"])
            self._board = self.call("get_board", lambda: self.platform.get_board(number), mutation=False)
        board = self._board
        item_id = self.call(
            "add_to_board", lambda: self.platform.add_to_board(board, issue), mutation=True, task_id=task["id"]
        )
        option = board_column(task, self.config.get("status_mapping") or {})
        if option:
            self.call(
                "move_card",
                lambda: self.platform.set_board_status(board, item_id, option),
                mutation=True,
                task_id=task["id"],
            )
        with self.db.transaction() as conn:
            sync_store.update_link_of_task(conn, task["id"], board_item_id=item_id)

    def _push_update(self, entry: RowMapping) -> bool:
        """Push the task's changed fields (all but the milestone, which is an entry of its own:
        queued here when it changed) in one update."""
        return self._push_fields(entry, milestone=False)

    def _push_milestone(self, entry: RowMapping) -> bool:
        """Push the task's milestone alone (one update); a milestone the platform does not have
        fails this entry only."""
        return self._push_fields(entry, milestone=True)

    def _push_fields(self, entry: RowMapping, *, milestone: bool) -> bool:
        with self.db.transaction(write=False) as conn:
            task, link, labels = self._task_and_link(conn, entry["task_id"])
            open_fields = sync_store.open_conflict_fields(conn, entry["task_id"])
        if link is None or link["issue_number"] is None:
            if link is None:
                self._finish_entry(entry["id"], "done")
                return True
            return False  # the issue is not created yet; the creation entry comes first
        values = self._local(task, labels, link)
        base = link["base"] or {}
        changed = [f for f in mapping.FIELDS if not mapping.same(f, values[f], base.get(f)) and f not in open_fields]
        if milestone:
            changed = [f for f in changed if f == "milestone"]
        elif "milestone" in changed:
            changed.remove("milestone")
            with self.db.transaction() as conn:
                enqueue(conn, self.session_id, task["id"], "milestone", {}, self.clock())
        if not changed:
            self._complete_updates(task["id"], entry["id"], entry["operation"])
            return True
        numbers = self._milestone_numbers(values["milestone"]) if "milestone" in changed else {}
        changes = mapping.changes_for(
            changed,
            values,
            marker_text=marker(link["idempotency_key"]),
            default_labels=self.default_labels,
            milestone_numbers=numbers,
            remote=link["remote"] or None,
            conventions=self.conventions,
        )
        number = int(link["issue_number"])
        with self.db.transaction() as conn:
            self._record_in_flight(conn, link["id"], changed, values)
        issue = self.call(
            "update_issue", lambda: self.platform.update_issue(number, changes), mutation=True, task_id=task["id"]
        )
        remote = self._remote(issue)
        at = self.clock()
        with self.db.transaction() as conn:
            new_base = dict(base)
            for f in changed:
                new_base[f] = values[f]
            sent = sync_store.in_flight_of(conn, link["id"]) or {}
            flight = {f: v for f, v in sent.items() if f not in changed} or None
            sync_store.update_link(
                conn,
                link["id"],
                base=new_base,
                remote=remote,
                in_flight=flight,
                sync_status="synced" if not open_fields else "manual",
                last_synced=at,
                error=None,
            )
            self._record_remote(
                conn,
                "status_update" if changed == ["status"] else "issue_sync",
                "update_issue",
                task_id=task["id"],
                issue_number=number,
                action="issue_updated",
                changes={"issue_number": number, "fields": changed},
                at=at,
            )
            if "status" in changed and self._board_configured():
                enqueue(conn, self.session_id, task["id"], "board_card", {}, at)
        self._complete_updates(task["id"], entry["id"], entry["operation"])
        self._run.updated.append(task["id"])
        return True

    def _complete_updates(self, task_id: int, up_to: int, operation: str = "update_issue") -> None:
        """Mark every pending ``operation`` entry of the task up to ``up_to`` done (they are
        coalesced)."""
        with self.db.transaction() as conn:
            sync_store.complete_pending(conn, task_id, operation, up_to=up_to, inclusive=True, at=self.clock())

    def _push_comment(self, entry: RowMapping) -> bool:
        with self.db.transaction(write=False) as conn:
            link = sync_store.link_of(conn, entry["task_id"])
        if link is None:
            self._finish_entry(entry["id"], "done")
            return True
        if link["issue_number"] is None:
            return False
        number = int(link["issue_number"])
        body = str(entry["payload"].get("body", ""))
        self.call(
            "add_comment", lambda: self.platform.add_comment(number, body), mutation=True, task_id=entry["task_id"]
        )
        self._finish_entry(entry["id"], "done")
        with self.db.transaction() as conn:
            self.log(
                conn,
                "issue_sync",
                "add_comment",
                "completed",
                task_id=entry["task_id"],
                issue_number=number,
                records=1,
                requests=1,
            )
        return True

    # -- pull -------------------------------------------------------------------------------

    def pull(self) -> None:
        """Fetch issues changed since the watermark and merge them into their tasks."""
        t0 = time.perf_counter()
        with self.db.transaction() as conn:
            state = self._ensure_state(conn)
        requests_before = self.remote.requests
        listing = self._call_listing(state["since"], state["etag"])
        if listing.not_modified:
            self._run.not_modified = True
            with self.db.transaction() as conn:
                sync_store.update_state(conn, self.session_id, last_pull_at=self.clock())
                self.log(
                    conn, "issue_sync", "pull", "completed", records=0, requests=1, duration=time.perf_counter() - t0
                )
            return
        with self.db.transaction(write=False) as conn:
            links = sync_store.linked_issues(conn, self.session_id, self.repository)
            pending_keys = sync_store.pending_keys(conn, self.session_id)
        failures_before = len(self._run.failed)
        newest = state["since"]
        hold: datetime | None = None  # the first issue of ours not linked yet: the watermark stays before it
        for issue in listing.issues:
            if newest is None or issue.updated_at > newest:
                newest = issue.updated_at
            link = links.get(issue.number)
            if link is None:
                key = find_marker(issue.body)
                if key is not None and key in pending_keys:
                    self._run.unlinked[key] = issue
                    if hold is None or issue.updated_at < hold:
                        hold = issue.updated_at
                elif key is None and self._imports(issue):
                    try:
                        self._import(issue)
                    except PlatformError as exc:
                        self._run.failed.append(FailureReport(task_id=None, operation="import", error=str(exc)))
                continue
            try:
                self.merge_remote(link, self._with_dependencies(link, issue))
            except PlatformError as exc:
                self._run.failed.append(FailureReport(task_id=link["task_id"], operation="pull", error=str(exc)))
        clean = len(self._run.failed) == failures_before
        with self.db.transaction() as conn:
            values: dict[str, Any] = {"last_pull_at": self.clock()}
            if clean and hold is not None:
                # "since" lists issues updated at or after it: the held issue is listed again, and
                # without an ETag the next pull cannot be answered 304 before it is linked.
                values.update(since=hold if newest is None else min(newest, hold), etag=None)
            elif clean:
                values.update(since=newest, etag=listing.etag)
            sync_store.update_state(conn, self.session_id, **values)
            self.log(
                conn,
                "issue_sync",
                "pull",
                "completed" if clean else "failed",
                records=len(listing.issues),
                errors=len(self._run.failed) - failures_before,
                requests=self.remote.requests - requests_before,
                duration=time.perf_counter() - t0,
            )

    def _imports(self, issue: RemoteIssue) -> bool:
        """Whether the connection's ``import_policy`` makes this unlinked, open issue a task:
        ``all``, or ``label:NAME`` with the label on the issue (without case); ``off`` never."""
        policy = str(self.config.get("import_policy") or "off")
        if issue.state != "open" or policy == "off":
            return False
        if policy == "all":
            return True
        wanted = mapping.label_key(policy.removeprefix("label:"))
        return policy.startswith("label:") and any(mapping.label_key(label) == wanted for label in issue.labels)

    def _import(self, issue: RemoteIssue) -> None:
        """Make a task of an issue opened on the platform, linked to it in the same transaction
        (so it is never imported twice): title, body as description (kept verbatim), labels,
        assignees and milestone; title and description marked as platform text; audited as tool
        ``sync``, action ``import``. The issue is then merged like any linked issue (taskorch's
        managed labels are queued for it)."""
        remote = self._remote(issue)
        at = self.clock()
        with self.db.transaction() as conn:
            if sync_store.task_ids_of_issues(conn, self.session_id, self.repository, [issue.number]):
                return
            labels = [str(label)[:50] for label in remote["labels"] if str(label).strip()][:20]
            task_id = repo.insert_task(
                conn,
                session_id=self.session_id,
                parent_id=None,
                fields={
                    "title": issue.title[:300] or f"Issue #{issue.number}",
                    "description": str(remote["body"]),
                    "task_type": TaskType.FEATURE.value,
                    "complexity": Complexity.MODERATE.value,
                    "priority": Priority.MEDIUM.value,
                    "specialist_type": "implementer",
                    "routing_reason": f"imported from issue #{issue.number}",
                    "acceptance_criteria": [],
                    "context": "",
                    "labels": labels,
                    "assignees": list(remote["assignees"]),
                    "milestone": remote["milestone"],
                },
                depends_on=[],
                tool="sync",
                at=at,
            )
            _mark_remote(conn, task_id, "title")
            _mark_remote(conn, task_id, "description")
            sync_store.insert_link(
                conn,
                task_id=task_id,
                platform=self.platform.name,
                repository=self.repository,
                issue_number=issue.number,
                issue_url=issue.url,
                issue_id=issue.id,
                issue_node_id=issue.node_id,
                sync_status="pending",
                idempotency_key=new_idempotency_key(),
                intent_at=at,
                base={"_verbatim": True},
                remote={},
            )
            repo.record_event(
                conn,
                session_id=self.session_id,
                task_id=task_id,
                tool="sync",
                action="import",
                changes={"issue_number": issue.number, "issue_url": issue.url, "repository": self.repository},
                at=at,
            )
            link = sync_store.link_of(conn, task_id)
        assert link is not None
        self._run.imported.append(task_id)
        self.merge_remote(link, self._with_dependencies(link, issue))

    def _with_dependencies(self, link: Mapping[Any, Any], issue: RemoteIssue) -> RemoteIssue:
        """``issue`` with the numbers of the issues blocking it, when the platform has dependencies
        and there may be some (one request; none when the listing says no issue blocks it and the
        link knows of none)."""
        if not self.platform.capabilities.issue_dependencies or issue.blocked_by is not None:
            return issue
        base = link["base"] or {}
        if issue.blocked_by_count == 0 and not base.get("dependencies"):
            return replace(issue, blocked_by=())
        numbers = self.call(
            "list_dependencies",
            lambda: self.platform.list_dependencies(issue.number),
            mutation=False,
            task_id=link["task_id"],
        )
        return replace(issue, blocked_by=tuple(numbers))

    def _remote(self, issue: RemoteIssue) -> dict[str, Any]:
        titles = self._milestone_titles(issue.milestone)
        return mapping.remote_values(
            issue, default_labels=self.default_labels, milestone_titles=titles, conventions=self.conventions
        )

    def merge_remote(self, link: RowMapping, issue: RemoteIssue) -> None:
        """The three-way merge of one linked issue into its task (one transaction): fields changed
        on one side are taken from it, fields changed on both are settled by the policy or opened
        as conflicts, and local changes still to push are queued in the outbox. Values the link
        has in flight that the issue now shows are taken as ours, not as remote edits.

        The entry point for anything that brings an issue as the platform has it: the pull, an
        adoption, and next a webhook. ``link`` is the ``feature_issue_links`` row; no request is
        made except, for an unknown milestone number, one listing of milestones."""
        remote = self._remote(issue)
        policy = self.config.get("conflict_policy") or "manual"
        at = self.clock()
        # The body is rendered from a snapshot, outside the write transaction (a template is
        # bounded, but a render must not hold the write lock); rendered again inside only if the
        # task changed in between.
        with self.db.transaction(write=False) as conn:
            seen, seen_link, seen_labels = self._task_and_link(conn, link["task_id"])
        rendered = self._local(seen, seen_labels, seen_link) if seen_link is not None else None
        with self.db.transaction() as conn:
            task, link_now, labels = self._task_and_link(conn, link["task_id"])
            assert link_now is not None
            base = dict(link_now["base"] or {})
            unchanged = (
                rendered is not None
                and seen_link is not None
                and task["version"] == seen["version"]
                and labels == seen_labels
                and (link_now["base"] or {}).get("_verbatim") == (seen_link["base"] or {}).get("_verbatim")
            )
            local = rendered if unchanged and rendered is not None else self._local(task, labels, link_now)
            took_remote = False
            needs_push = False
            status_line = "synced"
            flight = dict(link_now["in_flight"] or {})
            for f in mapping.FIELDS:
                b, lv, rv = base.get(f), local[f], remote[f]
                if f in flight:
                    if any(mapping.same(f, rv, sent) for sent in flight[f]):
                        # Our own update, applied though its answer was lost: agreed, not a remote edit.
                        b = base[f] = rv
                        del flight[f]
                    elif not mapping.same(f, rv, b):
                        del flight[f]  # changed on the platform since: what we sent is history
                if mapping.same(f, lv, rv):
                    base[f] = lv
                    continue
                if f in mapping.LOCAL_ONLY:  # taskorch's own labels: put back, never taken
                    base[f] = rv
                    needs_push = True
                    continue
                if mapping.same(f, lv, b):
                    if self._apply_remote(conn, link_now, f, rv, at, base):
                        base[f] = rv
                        took_remote = True
                    else:
                        status_line = "manual"
                    continue
                if mapping.same(f, rv, b):
                    needs_push = True
                    continue
                winner = self._decide(policy, task, issue)
                if winner == "remote":
                    if self._apply_remote(conn, link_now, f, rv, at, base):
                        base[f] = rv
                        took_remote = True
                    else:
                        status_line = "manual"
                elif winner == "local":
                    base[f] = rv  # remote is now "seen"; the local value differs and will be pushed
                    needs_push = True
                else:
                    self._open_conflict(
                        conn,
                        link_now,
                        f,
                        b,
                        lv,
                        rv,
                        f"{f} changed both here and on the platform since they last agreed",
                    )
                    status_line = "manual"
            if issue.blocked_by is not None:
                took, conflicted = self._merge_dependencies(conn, task, link_now, issue.blocked_by, base, at)
                took_remote = took_remote or took
                if conflicted:
                    status_line = "manual"
            if needs_push:
                self._enqueue_update(conn, task["id"], at)
                if status_line == "synced":
                    status_line = "pending"
            sync_store.update_link(
                conn,
                link_now["id"],
                base=base,
                remote=remote,
                last_synced=at,
                sync_status=status_line,
                in_flight=flight or None,
            )
        if took_remote:
            self._run.pulled.append(link["task_id"])

    def _merge_dependencies(
        self,
        conn: Connection,
        task: Mapping[Any, Any],
        link: Mapping[Any, Any],
        blocked_by: Sequence[int],
        base: dict[str, Any],
        at: datetime,
    ) -> tuple[bool, bool]:
        """The three-way merge of the task's dependencies, one dependency at a time (issue
        numbers; dependencies on issues not linked to a task of the project are left out): one
        added or removed on one side only is taken from it. A dependency taken from the platform
        that would close a cycle is a conflict, never applied. Changes the platform lacks are queued
        as ``dependency`` entries. Returns (took something from the platform, opened a conflict);
        updates ``base["dependencies"]``."""
        current = repo.dependencies_of(conn, [task["id"]])[task["id"]]
        number_of = sync_store.issue_numbers_of(conn, current)
        task_of = {n: t for t, n in number_of.items()}
        task_of.update(sync_store.task_ids_of_issues(conn, self.session_id, self.repository, blocked_by))
        related = set(base.get("_dependencies_related") or [])
        local = set(number_of.values())
        remote = {n for n in blocked_by if n in task_of} | (related & local)
        agreed = set(base.get("dependencies") or [])

        def kept(n: int) -> bool:
            in_local, in_remote = n in local, n in remote
            if in_local == in_remote:
                return in_local
            return in_local if in_local != (n in agreed) else in_remote

        result = {n for n in local | remote if kept(n)}
        wanted = [d for d in current if number_of.get(d) is None or number_of[d] in result]
        conflicted = False
        for n in sorted(result - local):
            cycle = sync_store.dependency_cycle(conn, task["id"], [*wanted, task_of[n]])
            if cycle is None:
                wanted.append(task_of[n])
                continue
            result.discard(n)
            numbers = repo.numbers_of(conn, cycle)
            shown = " -> ".join(f"task {numbers[i]}" for i in cycle)
            self._open_conflict(
                conn,
                link,
                "dependencies",
                sorted(agreed),
                sorted(local),
                sorted(remote),
                f"issue #{link['issue_number']} is blocked by #{n} on the platform, but that dependency would close "
                f"the cycle {shown}; remove it on the platform, or resolve with local to remove it there",
            )
            conflicted = True
        took = result != local
        if took:
            repo.replace_dependencies(conn, repo.get_task(conn, task["id"]), wanted, tool="sync", at=at)
        for n in sorted(result ^ remote):
            if n not in related:
                enqueue(conn, self.session_id, task["id"], "dependency", {"on": task_of[n]}, at)
        base["dependencies"] = sorted(remote & (result | agreed) - related)
        return took, conflicted

    def _decide(self, policy: str, task: Mapping[Any, Any], issue: RemoteIssue) -> str | None:
        if policy == "local_wins":
            return "local"
        if policy == "remote_wins":
            return "remote"
        if policy == "newest_wins":
            return "remote" if issue.updated_at > task["updated_at"] else "local"
        return None

    def _apply_remote(
        self, conn: Connection, link: Mapping[Any, Any], f: str, value: Any, at: datetime, base: dict[str, Any]
    ) -> bool:
        """Take the platform's value of field ``f`` into the task; False (and a conflict) when the
        task cannot take it (a finished task reopened, a parent closed with open subtasks)."""
        reason = take_remote_value(conn, link, f, value, tool="sync", at=at, base=base)
        if reason is None:
            return True
        status = repo.get_task(conn, link["task_id"])["status"]
        self._open_conflict(conn, link, f, status, status, value, reason)
        return False

    def _open_conflict(
        self, conn: Connection, link: Mapping[Any, Any], f: str, base: Any, local: Any, remote: Any, detail: str
    ) -> None:
        existing = sync_store.open_conflict_id(conn, link["task_id"], f)
        if existing is not None:
            sync_store.update_conflict(conn, existing, local_value=local, remote_value=remote, detail=detail)
            conflict_id = existing
        else:
            conflict_id = sync_store.insert_conflict(
                conn,
                session_id=self.session_id,
                task_id=link["task_id"],
                field=f,
                base_value=base,
                local_value=local,
                remote_value=remote,
                detail=detail,
                status="open",
                created_at=self.clock(),
            )
            repo.record_event(
                conn,
                session_id=self.session_id,
                task_id=link["task_id"],
                tool="sync",
                action="conflict",
                changes={"field": f, "detail": detail},
                at=self.clock(),
            )
        row = sync_store.conflict_by_id(conn, conflict_id)
        assert row is not None  # written above, in this transaction
        self._run.conflicts.append(conflict_report(row, repo.numbers_of(conn, [row["task_id"]])[row["task_id"]]))

    def _enqueue_update(self, conn: Connection, task_id: int, at: datetime) -> None:
        enqueue(conn, self.session_id, task_id, "update_issue", {}, at)

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


def _agreed_base(remote: Mapping[str, Any], flight: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """The base of a newly linked issue: per field, the platform's value when it is one we sent,
    else the value the last attempt sent (the platform's value then differs from it, and is merged
    as a remote edit). A field with nothing recorded in flight takes the platform's value."""
    base: dict[str, Any] = {}
    for f in mapping.FIELDS:
        sent = list(flight.get(f) or [])
        if not sent or any(mapping.same(f, remote[f], v) for v in sent):
            base[f] = remote[f]
        else:
            base[f] = sent[-1]
    return base


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


def take_remote_value(
    conn: Connection,
    link: Mapping[Any, Any],
    field: str,
    value: Any,
    *,
    tool: str,
    at: datetime,
    base: dict[str, Any],
) -> str | None:
    """Write the platform's value of a linked ``field`` into the task, as ``tool`` (audited).
    ``dependencies`` is the numbers of the issues blocking the task's issue.

    Title and body are marked in ``remote_fields`` (untrusted text), a body taken from the platform
    is kept verbatim from then on (``base["_verbatim"]``). Returns ``None`` when done, or why the task
    cannot take the value: a finished task stays final, a parent with open subtasks cannot close,
    and any other move the transition table refuses.
    """
    task = repo.get_task(conn, link["task_id"], for_update=True)
    if field == "title":
        repo.update_fields(conn, task, {"title": str(value)[:300] or task["title"]}, tool=tool, at=at)
        _mark_remote(conn, task["id"], "title")
    elif field == "body":
        repo.update_fields(conn, repo.get_task(conn, task["id"]), {"description": str(value)}, tool=tool, at=at)
        _mark_remote(conn, task["id"], "description")
        base["_verbatim"] = True
    elif field == "labels":
        repo.replace_labels(conn, task, [str(v)[:50] for v in value][:20], tool=tool, at=at)
    elif field in ("assignees", "milestone"):
        repo.update_fields(conn, task, {field: list(value) if field == "assignees" else value}, tool=tool, at=at)
    elif field == "status":
        return _take_remote_status(conn, task, TaskStatus(str(value)), tool=tool, at=at)
    elif field == "dependencies":
        return _take_remote_dependencies(conn, link, task, [int(n) for n in value], tool=tool, at=at, base=base)
    return None


def _take_remote_dependencies(
    conn: Connection,
    link: Mapping[Any, Any],
    task: RowMapping,
    numbers: Sequence[int],
    *,
    tool: str,
    at: datetime,
    base: dict[str, Any],
) -> str | None:
    """Give the task the dependencies the platform has (issue numbers; those of issues linked to
    no task are left out), unless that closes a cycle."""
    task_of = sync_store.task_ids_of_issues(conn, task["session_id"], link["repository"], numbers)
    current = repo.dependencies_of(conn, [task["id"]])[task["id"]]
    linked = sync_store.issue_numbers_of(conn, current)
    wanted = [d for d in current if d not in linked] + [task_of[n] for n in numbers if n in task_of]
    cycle = sync_store.dependency_cycle(conn, task["id"], wanted)
    if cycle is not None:
        shown = " -> ".join(f"task {n}" for n in repo.numbers_of(conn, cycle).values())
        return f"the platform's dependencies would close the cycle {shown}"
    repo.replace_dependencies(conn, task, wanted, tool=tool, at=at)
    base["dependencies"] = sorted(n for n in numbers if n in task_of)
    return None


def _take_remote_status(conn: Connection, task: RowMapping, goal: TaskStatus, *, tool: str, at: datetime) -> str | None:
    current = TaskStatus(task["status"])
    if current in TERMINAL_STATUSES:
        return (
            f"reopened on the platform as {goal.value}, but task {task['number']} is {current.value} "
            "and finished tasks stay final; plan a new task or keep the local status"
        )
    if goal in TERMINAL_STATUSES and task["open_subtasks"] > 0:
        return f"closed on the platform, but task {task['number']} still has {task['open_subtasks']} open subtask(s)"
    path = [goal]
    if goal is TaskStatus.COMPLETED and current is not TaskStatus.IN_PROGRESS:
        path = [TaskStatus.IN_PROGRESS, goal]
    try:
        for step in path:
            repo.change_status(
                conn,
                repo.get_task(conn, task["id"]),
                step,
                tool=tool,
                at=at,
                extra={"status_reason": "changed on the platform"},
            )
    except InvalidTransition as exc:
        return str(exc)
    return None


def _mark_remote(conn: Connection, task_id: int, field_name: str) -> None:
    row = repo.get_task(conn, task_id)
    fields = list(row["remote_fields"] or [])
    if field_name not in fields:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(remote_fields=[*fields, field_name]))


def pending_count(conn: Connection, session_id: int) -> int:
    """Outbox entries of the session still waiting to reach the platform."""
    return sync_store.pending_count(conn, session_id)
