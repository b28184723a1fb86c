"""The push: drain the session's outbox to the platform, one entry at a time.

Each entry is read, sent (creations through :meth:`RemoteCaller.create`, which looks for the
issue's marker before any retry) and recorded in a short transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping

from taskorch.errors import (
    PlatformError,
    PlatformRejected,
    TaskorchError,
)
from taskorch.platforms.base import RemoteIssue, lacks
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.sync import mapping
from taskorch.sync.core import (
    CREATION_OPERATIONS,
    IN_FLIGHT_KEPT,
    MARKER_SEARCH_SLACK_SECONDS,
    EngineCore,
    board_column,
    enqueue,
)
from taskorch.sync.remote import SyncStopped
from taskorch.sync.reports import FailureReport, link_report
from taskorch.sync.template import find_marker, marker

__all__ = ["PushMixin"]


class PushMixin(EngineCore):
    """Outbox draining: issue creation and adoption, field updates, milestones, comments,
    sub-issues, board cards and dependencies."""

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

    def _push_create(self, entry: RowMapping) -> bool:
        with self.db.transaction(write=False) as conn:
            task, link, labels = self._task_and_link(conn, entry["task_id"])
            parent = sync_store.link_of(conn, task["parent_id"]) if task["parent_id"] is not None else None
        if link is None:
            self._finish_entry(entry["id"], "failed", "no link intent recorded for this task")
            return True
        if link["issue_number"] is not None:
            self._finish_entry(entry["id"], "done")
            return True
        if (
            self.platform.capabilities.parent_at_creation
            and parent is not None
            and parent["issue_number"] is None
            and parent["sync_status"] != "failed"
        ):
            # The parent's issue is still to be created (its creation failed for now): created
            # now, the child could never become its sub-task. It waits for the parent's creation.
            return False
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
        if parent is not None and parent["issue_number"] is not None:
            # The parent's issue exists: a platform that fixes the parent at creation uses it.
            changes = replace(changes, parent=int(parent["issue_number"]))
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
        if any(not mapping.same(f, base.get(f), remote[f]) for f in mapping.MERGED_FIELDS):
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


def _agreed_base(remote: Mapping[str, Any], flight: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """The base of a newly linked issue: per field, the platform's value when it is one we sent,
    else the value the last attempt sent (the platform's value then differs from it, and is merged
    as a remote edit). A field with nothing recorded in flight takes the platform's value; a
    push-only field the value sent."""
    base: dict[str, Any] = {}
    for f in mapping.FIELDS:
        sent = list(flight.get(f) or [])
        if f in mapping.PUSH_ONLY:  # never read back: what was sent
            base[f] = sent[-1] if sent else None
        elif not sent or any(mapping.same(f, remote[f], v) for v in sent):
            base[f] = remote[f]
        else:
            base[f] = sent[-1]
    return base
