"""Capturing local changes into the outbox, in the same transaction as the changes.

Every service writes an audit row (``task_events``) for each change. Before a write transaction
of a session with an integration commits, :func:`capture` reads the audit rows that transaction
wrote and turns them into outbox entries: a link intent plus ``create_issue`` for a task planned
with auto sync on, ``update_issue`` for a linked task whose synced fields changed (and for a
linked parent when a subtask is created or changes title or status: its body draws them), a
``dependency`` entry per dependency added or removed (``{"on": blocking task id}``), and a progress
comment when configured. The sync engine's own changes (tool ``sync``) are never echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from taskorch.store import sync_repository as sync_store
from taskorch.store.tables import task_events, tasks
from taskorch.sync.core import enqueue, new_idempotency_key

__all__ = ["SYNCED_FIELDS", "capture", "create_intent", "last_event_id"]

#: Task fields whose change moves the issue.
SYNCED_FIELDS = frozenset(
    {
        "title",
        "description",
        "status",
        "labels",
        "assignees",
        "milestone",
        "task_type",
        "specialist_type",
        "complexity",
        "acceptance_criteria",
        "priority",
        "due_date",
        "estimated_effort",
    }
)


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(task_events.c.id), 0))).scalar_one())


def create_intent(conn: Connection, *, task_id: int, config: Mapping[Any, Any], at: datetime) -> bool:
    """Record the intent to create the task's issue (link row + outbox entry); False if linked."""
    if sync_store.link_of(conn, task_id) is not None:
        return False
    sync_store.insert_link(
        conn,
        task_id=task_id,
        platform=config["platform"],
        repository=config["repository_url"],
        sync_status="pending",
        idempotency_key=new_idempotency_key(),
        intent_at=at,
        base={},
        remote={},
    )
    enqueue(conn, config["session_id"], task_id, "create_issue", {}, at)
    return True


def capture(conn: Connection, *, after_event_id: int, config: Mapping[Any, Any], at: datetime) -> int:
    """Turn the audit rows written after ``after_event_id`` into outbox entries; return how many."""
    events = list(
        conn.execute(
            select(task_events.c.task_id, task_events.c.action, task_events.c.changes)
            .where(
                task_events.c.id > after_event_id,
                task_events.c.session_id == config["session_id"],
                task_events.c.tool != "sync",
                task_events.c.task_id.is_not(None),
            )
            .order_by(task_events.c.id)
        )
    )
    if not events:
        return 0
    task_ids = list(dict.fromkeys(e.task_id for e in events))
    parents = _parents_to_redraw(conn, events)
    linked = sync_store.linked_task_ids(conn, [*task_ids, *parents])
    written = 0
    for parent_id in parents:
        # A parent's issue body draws its subtasks with their status: redraw it when one changes.
        if parent_id in linked and parent_id not in task_ids:
            enqueue(conn, config["session_id"], parent_id, "update_issue", {}, at)
            written += 1
    for task_id in task_ids:
        mine = [e for e in events if e.task_id == task_id]
        if task_id not in linked:
            if config["auto_sync_enabled"] and any(e.action == "created" for e in mine):
                written += create_intent(conn, task_id=task_id, config=config, at=at)
            continue
        if any(e.action in ("updated", "status") and SYNCED_FIELDS & set(e.changes) for e in mine):
            enqueue(conn, config["session_id"], task_id, "update_issue", {}, at)
            written += 1
        moved: set[int] = set()
        for e in mine:
            if e.action == "updated" and "depends_on" in e.changes:
                old, new = e.changes["depends_on"]
                moved ^= set(old) ^ set(new)
        if moved:
            ids = sync_store.task_ids_of_numbers(conn, config["session_id"], moved)
            for number in sorted(moved):
                if number in ids:
                    enqueue(conn, config["session_id"], task_id, "dependency", {"on": ids[number]}, at)
                    written += 1
        if config["progress_comments"]:
            for e in mine:
                if e.action == "status":
                    old, new = e.changes["status"]
                    enqueue(
                        conn,
                        config["session_id"],
                        task_id,
                        "comment",
                        {"body": f"taskorch: status {old} -> {new}."},
                        at,
                    )
                    written += 1
                elif e.action == "artifact":
                    files = ", ".join(e.changes.get("file_paths") or []) or "no files"
                    enqueue(
                        conn,
                        config["session_id"],
                        task_id,
                        "comment",
                        {"body": f"taskorch: work recorded ({e.changes.get('artifact_type')}; {files})."},
                        at,
                    )
                    written += 1
    return written


def _parents_to_redraw(conn: Connection, events: Sequence[Any]) -> list[int]:
    """Internal ids of the parents of the tasks whose title or status these events changed, or
    that these events created (a parent's issue body shows them)."""
    changed = [
        e.task_id
        for e in events
        if e.action == "created" or (e.action in ("updated", "status") and {"title", "status"} & set(e.changes))
    ]
    if not changed:
        return []
    return sorted(
        {
            row[0]
            for row in conn.execute(
                select(tasks.c.parent_id).where(tasks.c.id.in_(set(changed)), tasks.c.parent_id.is_not(None))
            )
        }
    )
