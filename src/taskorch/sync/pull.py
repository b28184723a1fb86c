"""The pull: list the issues changed since the watermark, import the new ones the import
policy takes, and merge each linked one into its task."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from taskorch.domain.model import Complexity, Priority, TaskType
from taskorch.errors import PlatformError
from taskorch.platforms.base import RemoteIssue
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.sync import mapping
from taskorch.sync.core import EngineCore, new_idempotency_key
from taskorch.sync.merge import mark_remote
from taskorch.sync.reports import FailureReport
from taskorch.sync.template import find_marker

__all__ = ["PullMixin"]


class PullMixin(EngineCore):
    """Listing since the watermark (If-None-Match on the first page), imports, and the merge of
    each linked issue."""

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
            mark_remote(conn, task_id, "title")
            mark_remote(conn, task_id, "description")
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
