"""Changing planned tasks: partial update, cancellation, archive and deletion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from taskorch.domain.model import ACTIVE_STATUSES, TaskStatus
from taskorch.errors import Conflict, DependencyCycle, InvalidInput, VersionMismatch
from taskorch.hints import REQUIRED, Hint, Message, attach, render
from taskorch.services import views
from taskorch.services.models import CancelResult, DeleteResult, ReopenResult, UpdateResult
from taskorch.services.planning import ancestors, check_dependencies
from taskorch.specialists import RoleLibrary
from taskorch.store import repository as repo

__all__ = ["PLAIN_FIELDS", "cancel_task", "delete_task", "reopen_task", "update_task"]

#: Fields of update_task written as plain columns.
PLAIN_FIELDS = (
    "title",
    "description",
    "task_type",
    "complexity",
    "priority",
    "specialist_type",
    "estimated_effort",
    "due_date",
    "acceptance_criteria",
    "context",
    "assignees",
    "milestone",
)
#: Statuses update_task may set; the others have their own tool (and checks).
_SETTABLE = {TaskStatus.PENDING, TaskStatus.BLOCKED}
_STATUS_VERB = {
    TaskStatus.IN_PROGRESS: ("execute_task", " (it checks dependencies)"),
    TaskStatus.COMPLETED: ("complete_task", " (it records the work)"),
    TaskStatus.CANCELLED: ("cancel_task", ""),
}


def update_task(
    conn: Connection,
    *,
    task_id: int,
    changes: dict[str, Any],
    expected_version: int | None,
    roles: RoleLibrary,
    at: datetime,
) -> UpdateResult:
    """Apply the given fields only. ``changes`` may hold the plain fields, ``labels``,
    ``depends_on``, ``status`` (pending or blocked) and ``status_reason``.

    Raises :class:`VersionMismatch` when ``expected_version`` is stale, :class:`InvalidInput`,
    :class:`DependencyCycle`, :class:`InvalidTransition`, :class:`Conflict` (archived).
    """
    task = repo.get_task(conn, task_id, for_update=True)
    number = task["number"]
    if expected_version is not None and task["version"] != expected_version:
        raise VersionMismatch(
            (
                f"task {number} is at version {task['version']}, not {expected_version}: someone changed it "
                "since you read it. Read it again (",
                Hint("show_task", {"task_id": number}),
                ") and retry.",
            )
        )
    if task["archived"]:
        raise Conflict(f"task {number} is archived; archived tasks cannot be changed.")
    specialist = changes.get("specialist_type")
    if specialist is not None and specialist not in roles:
        raise InvalidInput(
            "specialist_type", f"unknown role {specialist!r}.", f"use one of: {', '.join(roles.names())}."
        )
    if "title" in changes and not str(changes["title"]).strip():
        raise InvalidInput("title", "is empty.", "give a short title.")
    target = changes.get("status")
    if target is not None:
        target = TaskStatus(target)
        if target not in _SETTABLE:
            verb, why = _STATUS_VERB[target]
            raise InvalidInput(
                "status",
                f"this update does not set {target.value}.",
                ("use ", Hint(verb, {"task_id": number}), f"{why}; an update sets only pending or blocked."),
            )
    deps: list[int] = []
    if "depends_on" in changes:
        chain_ids = [row["id"] for row in ancestors(conn, task_id)]
        deps = check_dependencies(
            conn,
            task["session_id"],
            list(dict.fromkeys(changes["depends_on"])),
            field="depends_on",
            forbidden=chain_ids,
        )
        cycle = repo.dependency_cycle(conn, task_id, deps)
        if cycle is not None:
            numbers = repo.numbers_of(conn, cycle)
            raise DependencyCycle("depends_on", [f"task {numbers[i]}" for i in cycle])

    changed: list[str] = []
    plain = {k: changes[k] for k in PLAIN_FIELDS if k in changes}
    changed += repo.update_fields(conn, task, plain, tool="update_task", at=at)
    if "labels" in changes:
        task = repo.get_task(conn, task_id)
        if repo.replace_labels(conn, task, changes["labels"], tool="update_task", at=at):
            changed.append("labels")
    if "depends_on" in changes:
        task = repo.get_task(conn, task_id)
        if repo.replace_dependencies(conn, task, deps, tool="update_task", at=at):
            changed.append("depends_on")
    if target is not None:
        task = repo.get_task(conn, task_id)
        reason = changes.get("status_reason")
        if target.value != task["status"]:
            repo.change_status(conn, task, target, tool="update_task", at=at, extra={"status_reason": reason})
            changed.append("status")
    elif "status_reason" in changes:
        task = repo.get_task(conn, task_id)
        changed += repo.update_fields(
            conn, task, {"status_reason": changes["status_reason"]}, tool="update_task", at=at
        )
    final = repo.get_task(conn, task_id)
    return UpdateResult(task=views.task_views(conn, [final])[0], changed=sorted(set(changed)))


def cancel_task(conn: Connection, *, task_id: int, reason: str, cascade: bool, at: datetime) -> CancelResult:
    """Cancel a task (and, with ``cascade``, its unfinished subtasks); artifacts are kept.

    Raises :class:`Conflict` when the task has open subtasks and ``cascade`` is false, or is archived;
    :class:`InvalidTransition` when it is already finished.
    """
    task = repo.get_task(conn, task_id, for_update=True)
    if task["archived"]:
        raise Conflict(f"task {task['number']} is archived; archived tasks cannot be changed.")
    if TaskStatus(task["status"]) not in ACTIVE_STATUSES:
        repo.change_status(conn, task, TaskStatus.CANCELLED, tool="cancel_task", at=at)  # raises, with the reason
    subtree = repo.subtree_ids(conn, task_id)
    rows = repo.get_tasks(conn, subtree)
    open_descendants = [i for i in subtree[1:] if rows[i]["status"] in ACTIVE_STATUSES and not rows[i]["archived"]]
    if open_descendants and not cascade:
        raise Conflict(
            (
                f"task {task['number']} has {len(open_descendants)} open subtask(s) "
                f"({', '.join(str(rows[i]['number']) for i in open_descendants[:20])}). Cancel them too with ",
                Hint("cancel_task", {"task_id": task["number"], "reason": REQUIRED, "cascade": True}),
                ", or finish them first.",
            )
        )
    cancelled: list[int] = []
    skipped = [i for i in subtree[1:] if i not in open_descendants]
    # Deepest first, so each parent's open-subtask counter reaches zero before it is cancelled.
    for i in reversed([task_id, *open_descendants]):
        row = repo.get_task(conn, i)
        repo.change_status(conn, row, TaskStatus.CANCELLED, tool="cancel_task", at=at, extra={"status_reason": reason})
        cancelled.append(i)
    dependents = repo.get_tasks(conn, repo.dependents_of(conn, cancelled))
    stranded = sorted(row["number"] for row in dependents.values() if row["status"] in ACTIVE_STATUSES)
    return CancelResult(
        cancelled=sorted(rows[i]["number"] for i in cancelled),
        skipped=sorted(rows[i]["number"] for i in skipped),
        reason=reason,
        stranded=stranded,
    )


def delete_task(conn: Connection, *, task_id: int, hard: bool, cascade: bool, at: datetime) -> DeleteResult:
    """Archive a task and its subtasks (default), or delete them for good (``hard``).

    A hard delete of a task with subtasks needs ``cascade``. Refused (:class:`Conflict`) when an
    unfinished task to be removed is a dependency of a task that stays.
    """
    task = repo.get_task(conn, task_id, for_update=True)
    subtree = repo.subtree_ids(conn, task_id)
    numbers = repo.numbers_of(conn, subtree)  # read before a hard delete removes them
    if not hard:
        if task["archived"]:
            raise Conflict(
                (
                    f"task {task['number']} is already archived. Delete it for good with ",
                    Hint("delete_task", {"task_id": task["number"], "hard": True}),
                    ".",
                )
            )
        archived = repo.archive_tasks(conn, subtree, tool="delete_task", at=at)
        return DeleteResult(mode="archived", task_ids=sorted(numbers[i] for i in archived))
    if len(subtree) > 1 and not cascade:
        raise Conflict(
            (
                f"task {task['number']} has {len(subtree) - 1} subtask(s); a hard delete would remove them too. "
                "Confirm with ",
                Hint("delete_task", {"task_id": task["number"], "hard": True, "cascade": True}),
                ", or archive instead with ",
                Hint("delete_task", {"task_id": task["number"]}),
                ".",
            )
        )
    deleted = repo.delete_tasks(conn, subtree, tool="delete_task", at=at)
    return DeleteResult(mode="deleted", task_ids=sorted(numbers[i] for i in deleted))


def reopen_task(conn: Connection, *, task_id: int, reason: str, at: datetime) -> ReopenResult:
    """Move a task completed by mistake back to pending, recorded with ``reason``.

    Its artifacts and audit trail stay. Its parent counts it as open again; pending dependents
    that were ready wait for it again (``waiting_again``); dependents already started or
    completed are left as they are (``started_dependents``: their work may rest on it). A linked
    issue reopens with the next sync (the status change is in the outbox).

    Raises :class:`InvalidTransition` unless the task is completed, :class:`Conflict` when it is
    archived or its parent is completed (reopen the parent first).
    """
    task = repo.get_task(conn, task_id, for_update=True)
    number = task["number"]
    if task["archived"]:
        raise Conflict(f"task {number} is archived; archived tasks cannot be changed.")
    if task["parent_id"] is not None and task["status"] == TaskStatus.COMPLETED.value:
        parent = repo.get_task(conn, task["parent_id"])
        if parent["status"] == TaskStatus.COMPLETED.value:
            raise Conflict(
                (
                    f"task {number}'s parent, task {parent['number']}, is completed: reopen the parent first (",
                    Hint("reopen_task", {"task_id": parent["number"], "reason": REQUIRED}),
                    ").",
                )
            )
    dependents = repo.get_tasks(conn, repo.dependents_of(conn, [task_id]))
    ready_before = {
        row["number"]
        for row in dependents.values()
        if row["status"] == TaskStatus.PENDING.value and row["unmet_dependencies"] == 0 and not row["archived"]
    }
    started = sorted(
        row["number"]
        for row in dependents.values()
        if row["status"] in (TaskStatus.IN_PROGRESS.value, TaskStatus.COMPLETED.value) and not row["archived"]
    )
    repo.change_status(
        conn, task, TaskStatus.PENDING, tool="reopen_task", at=at, extra={"status_reason": reason}, reopen=True
    )
    repo.reindex(conn, task_id)
    message: Message = (
        f"Task {number} is pending again. Start it with ",
        Hint("execute_task", {"task_id": number}),
        " when its work is to be redone.",
    )
    if started:
        message += (f" Task(s) {', '.join(map(str, started))} already started on its result: check them.",)
    result = ReopenResult(
        task=views.brief(repo.get_task(conn, task_id)),
        reason=reason,
        waiting_again=sorted(ready_before),
        started_dependents=started,
        parent_id=task["parent_number"],
        next_step=render(message),
    )
    return attach(result, message)
