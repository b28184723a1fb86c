"""Turning rows into the result models, loading related rows in batches (no N+1 queries).

Every task reference leaving here is the task's number in its project (``tasks.number``,
``tasks.parent_number``), never the store's internal id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, select

from taskorch.domain.caller import LOCAL, current_caller
from taskorch.services.models import ArtifactView, AuditEntry, TaskBrief, TaskView
from taskorch.store import repository as repo
from taskorch.store.tables import artifacts, task_events, tasks

__all__ = ["BRIEF_COLUMNS", "artifacts_of", "brief", "briefs", "briefs_of", "task_views"]

#: The columns :func:`brief` reads.
BRIEF_COLUMNS = _BRIEF_COLUMNS = (
    tasks.c.id,
    tasks.c.number,
    tasks.c.title,
    tasks.c.status,
    tasks.c.priority,
    tasks.c.specialist_type,
    tasks.c.parent_id,
    tasks.c.parent_number,
    tasks.c.claimed_by,
    tasks.c.claim_expires_at,
)


def brief(row: Mapping[Any, Any]) -> TaskBrief:
    """A task in one line; ``row`` needs ``number`` and ``parent_number`` (a full tasks row has them).

    The claim is left out (its fields keep their default, ``None``, which answers omit) when it
    is the local actor's and a local caller reads it: one person's own work needs no lease shown.
    Team mode (a claim by a named actor, or any claim read by a remote caller) keeps it.
    """
    holder = row.get("claimed_by")
    if holder == LOCAL.actor and not current_caller().remote:
        holder = None
    return TaskBrief(
        id=row["number"],
        title=row["title"],
        status=row["status"],
        priority=row["priority"],
        specialist_type=row["specialist_type"],
        parent_id=row["parent_number"],
        claimed_by=holder,
        claim_expires_at=row.get("claim_expires_at") if holder is not None else None,
    )


def briefs(
    conn: Connection, where: ColumnElement[bool], *, order_by: Sequence[ColumnElement[Any]], limit: int
) -> list[TaskBrief]:
    """Briefs of the tasks matching a SQL condition, ordered and limited in SQL."""
    query = select(*_BRIEF_COLUMNS).where(where).order_by(*order_by).limit(limit)
    return [brief(row) for row in conn.execute(query).mappings()]


def briefs_of(conn: Connection, statement: Any, parameters: dict[str, Any]) -> list[TaskBrief]:
    """Briefs of the rows of a prepared ``statement`` (selecting :data:`BRIEF_COLUMNS`)."""
    return [brief(row) for row in conn.execute(statement, parameters).mappings()]


_ARTIFACTS_OF = (
    select(artifacts, tasks.c.number)
    .join(tasks, tasks.c.id == artifacts.c.task_id)
    .where(artifacts.c.task_id.in_(bindparam("ids", expanding=True)))
    .order_by(artifacts.c.id)
)
_CHILDREN_OF = (
    select(*_BRIEF_COLUMNS)
    .where(tasks.c.parent_id.in_(bindparam("ids", expanding=True)), tasks.c.archived.is_(False))
    .order_by(tasks.c.number)
)


def artifacts_of(conn: Connection, task_ids: Sequence[int]) -> dict[int, list[ArtifactView]]:
    """The artifacts of each of ``task_ids`` (internal ids), naming their task by number."""
    out: dict[int, list[ArtifactView]] = {i: [] for i in task_ids}
    if task_ids:
        for row in conn.execute(_ARTIFACTS_OF, {"ids": list(task_ids)}).mappings():
            out[row["task_id"]].append(ArtifactView.model_validate({**row, "task_id": row["number"]}))
    return out


def task_views(
    conn: Connection,
    rows: Sequence[Mapping[Any, Any]],
    *,
    include_children: bool = False,
    include_artifacts: bool = False,
    dependency_numbers: Mapping[int, list[int]] | None = None,
) -> list[TaskView]:
    """Whole views of ``rows``, with labels and dependencies (and optionally children, artifacts).

    ``dependency_numbers``: each row's dependencies as sorted task numbers, when the caller has
    read them already (by internal id; every row present)."""
    ids = [row["id"] for row in rows]
    labels = repo.labels_of(conn, ids)
    deps = repo.dependency_numbers_of(conn, ids) if dependency_numbers is None else dependency_numbers
    children: dict[int, list[TaskBrief]] = {i: [] for i in ids}
    if include_children and ids:
        for child in conn.execute(_CHILDREN_OF, {"ids": ids}).mappings():
            children[child["parent_id"]].append(brief(child))
    arts = artifacts_of(conn, ids) if include_artifacts else {}
    views = []
    for row in rows:
        data = {k: row[k] for k in TaskView.model_fields if k in row}
        data.update(id=row["number"], parent_id=row["parent_number"])
        views.append(
            TaskView(
                **data,
                labels=labels[row["id"]],
                depends_on=deps[row["id"]],
                children=children[row["id"]] if include_children else None,
                artifacts=arts[row["id"]] if include_artifacts else None,
            )
        )
    return views


def audit_entries(
    conn: Connection,
    session_id: int,
    *,
    task_number: int | None = None,
    actor: str | None = None,
    tool: str | None = None,
    limit: int,
) -> list[AuditEntry]:
    """The newest ``limit`` audit entries of a session, newest first, matching every filter given
    (a task by its number, so a hard-deleted task's history is still found)."""
    where = [task_events.c.session_id == session_id]
    if task_number is not None:
        where.append(task_events.c.task_number == task_number)
    if actor:
        where.append(task_events.c.actor == actor)
    if tool:
        where.append(task_events.c.tool == tool)
    rows = conn.execute(select(task_events).where(and_(*where)).order_by(task_events.c.id.desc()).limit(limit))
    return [
        AuditEntry(
            id=r["id"],
            at=r["created_at"],
            tool=r["tool"],
            action=r["action"],
            task_id=r["task_number"],
            changes=r["changes"],
            actor=r["actor"],
        )
        for r in rows.mappings()
    ]
