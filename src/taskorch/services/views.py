"""Turning rows into the result models, loading related rows in batches (no N+1 queries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, select

from taskorch.services.models import ArtifactView, TaskBrief, TaskView
from taskorch.store import repository as repo
from taskorch.store.tables import artifacts, tasks

__all__ = ["artifacts_of", "brief", "briefs", "task_views"]

_BRIEF_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.status,
    tasks.c.priority,
    tasks.c.specialist_type,
    tasks.c.parent_id,
)


def brief(row: RowMapping) -> TaskBrief:
    return TaskBrief(
        id=row["id"],
        title=row["title"],
        status=row["status"],
        priority=row["priority"],
        specialist_type=row["specialist_type"],
        parent_id=row["parent_id"],
    )


def briefs(
    conn: Connection, where: ColumnElement[bool], *, order_by: Sequence[ColumnElement[Any]], limit: int
) -> list[TaskBrief]:
    """Briefs of the tasks matching a SQL condition, ordered and limited in SQL."""
    query = select(*_BRIEF_COLUMNS).where(where).order_by(*order_by).limit(limit)
    return [brief(row) for row in conn.execute(query).mappings()]


def artifacts_of(conn: Connection, task_ids: Sequence[int]) -> dict[int, list[ArtifactView]]:
    out: dict[int, list[ArtifactView]] = {i: [] for i in task_ids}
    if task_ids:
        query = select(artifacts).where(artifacts.c.task_id.in_(list(task_ids))).order_by(artifacts.c.id)
        for row in conn.execute(query).mappings():
            out[row["task_id"]].append(ArtifactView.model_validate(dict(row)))
    return out


def task_views(
    conn: Connection,
    rows: Sequence[RowMapping],
    *,
    include_children: bool = False,
    include_artifacts: bool = False,
) -> list[TaskView]:
    """Whole views of ``rows``, with labels and dependencies (and optionally children, artifacts)."""
    ids = [row["id"] for row in rows]
    labels = repo.labels_of(conn, ids)
    deps = repo.dependencies_of(conn, ids)
    children: dict[int, list[TaskBrief]] = {i: [] for i in ids}
    if include_children and ids:
        query = (
            select(*_BRIEF_COLUMNS).where(tasks.c.parent_id.in_(ids), tasks.c.archived.is_(False)).order_by(tasks.c.id)
        )
        for child in conn.execute(query).mappings():
            children[child["parent_id"]].append(brief(child))
    arts = artifacts_of(conn, ids) if include_artifacts else {}
    views = []
    for row in rows:
        data = {k: row[k] for k in TaskView.model_fields if k in row}
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
