"""The three-way merge of one issue into its task (:meth:`MergeMixin.merge_remote`), used by
the pull, an adoption and a webhook delivery, and the conflicts it opens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, update

from taskorch.domain.model import TERMINAL_STATUSES, TaskStatus
from taskorch.errors import InvalidTransition
from taskorch.platforms.base import RemoteIssue
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.store.tables import tasks
from taskorch.sync import mapping
from taskorch.sync.core import EngineCore, enqueue
from taskorch.sync.reports import conflict_report

__all__ = [
    "MergeMixin",
    "mark_remote",
    "take_remote_value",
]


class MergeMixin(EngineCore):
    """Three-way merge per linked field and per dependency, and conflict handling."""

    def merge_remote(self, link: RowMapping, issue: RemoteIssue) -> None:
        """The three-way merge of one linked issue into its task (one transaction): fields changed
        on one side are taken from it, fields changed on both are settled by the policy or opened
        as conflicts, and local changes still to push are queued in the outbox; a field with an open
        conflict is left alone until the conflict is resolved (unless both sides now agree). Values the link
        has in flight that the issue now shows are taken as ours, not as remote edits.

        The entry point for anything that brings an issue as the platform has it: the pull, an
        adoption, and webhook deliveries (services/webhooks.py). ``link`` is the
        ``feature_issue_links`` row; no request is made except, for an unknown milestone number,
        one listing of milestones."""
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
            open_fields = sync_store.open_conflict_fields(conn, link["task_id"])
            for f in mapping.MERGED_FIELDS:  # planning is push-only: never compared
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
                if f in open_fields:
                    # Left to the conflict's resolution, as the push leaves it: neither side is
                    # taken while it is open, however the values moved since it was opened.
                    status_line = "manual"
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
            parent_id = task["parent_id"]
            if took_remote and parent_id is not None and sync_store.link_of(conn, parent_id) is not None:
                # The parent's issue body draws this task (title, status, readiness): redrawn as
                # for a local change (the outbox's capture skips the sync's own edits).
                self._enqueue_update(conn, parent_id, at)
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
            cycle = repo.dependency_cycle(conn, task["id"], [*wanted, task_of[n]])
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
        mark_remote(conn, task["id"], "title")
    elif field == "body":
        repo.update_fields(conn, repo.get_task(conn, task["id"]), {"description": str(value)}, tool=tool, at=at)
        mark_remote(conn, task["id"], "description")
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
    cycle = repo.dependency_cycle(conn, task["id"], wanted)
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


def mark_remote(conn: Connection, task_id: int, field_name: str) -> None:
    row = repo.get_task(conn, task_id)
    fields = list(row["remote_fields"] or [])
    if field_name not in fields:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(remote_fields=[*fields, field_name]))
