"""Reading the task graph: filtered queries and the session status.

Both are computed in SQL over indexes: ``get_status`` reads the per-status counters and a few
short index ranges, so its cost does not grow with the tasks it does not show; ``query_tasks``
takes its total from the counters when the filters allow it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    RowMapping,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    text,
    union_all,
)

from taskorch.domain.model import ACTIVE_STATUSES, TaskStatus
from taskorch.services import views
from taskorch.services.models import BlockedTask, QueryBrief, QueryResult, StatusResult, TaskBrief, TaskRow
from taskorch.store import repository as repo
from taskorch.store import search
from taskorch.store.tables import WAITING_SQL, task_dependencies, task_labels, tasks

__all__ = ["SORT_KEYS", "get_status", "query_briefs", "query_tasks"]

SortKey = Literal["created_at", "updated_at", "priority", "due_date", "title", "id"]
SORT_KEYS: dict[str, Any] = {
    "created_at": tasks.c.created_at,
    "updated_at": tasks.c.updated_at,
    "priority": tasks.c.priority_rank,
    "due_date": tasks.c.due_date,
    "title": tasks.c.title,
    "id": tasks.c.id,
}

#: How many tasks each list of get_status shows (by default; ``limit`` changes it).
STATUS_LIST_LIMIT = 10


def query_tasks(
    conn: Connection,
    *,
    session_id: int,
    status: Sequence[str] = (),
    task_type: Sequence[str] = (),
    specialist_type: Sequence[str] = (),
    complexity: Sequence[str] = (),
    priority: Sequence[str] = (),
    parent_id: int | None = None,
    roots_only: bool = False,
    labels: Sequence[str] = (),
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    text: str | None = None,
    task_ids: Sequence[int] = (),
    include_archived: bool = False,
    sort: SortKey = "created_at",
    order: Literal["asc", "desc"] = "desc",
    limit: int = 20,
    offset: int = 0,
    include_children: bool = False,
    include_artifacts: bool = False,
) -> QueryResult:
    """Tasks of a session matching every filter given (lists match any of their values).

    ``parent_id`` and ``task_ids`` are task numbers of the project. ``labels`` must all be
    present. ``text`` is a full-text search over titles, descriptions, labels and artifacts.
    ``total`` counts every match before ``limit``/``offset``.
    """
    total, rows = _matching(conn, session_id, filters=locals(), columns=(tasks,))
    return QueryResult(
        total=total,
        limit=limit,
        offset=offset,
        tasks=views.task_views(conn, rows, include_children=include_children, include_artifacts=include_artifacts),
    )


_ROW_COLUMNS = (
    tasks.c.id,
    tasks.c.number,
    tasks.c.title,
    tasks.c.status,
    tasks.c.priority,
    tasks.c.parent_number,
    tasks.c.version,
)


def query_briefs(conn: Connection, *, session_id: int, **filters: Any) -> QueryBrief:
    """:func:`query_tasks` with one :class:`TaskRow` per task (``include_children`` and
    ``include_artifacts`` are ignored): the same filters, total, order and paging."""
    filters.pop("include_children", None)
    filters.pop("include_artifacts", None)
    limit, offset = int(filters.get("limit", 20)), int(filters.get("offset", 0))
    total, rows = _matching(
        conn, session_id, filters={"limit": limit, "offset": offset, **filters}, columns=_ROW_COLUMNS
    )
    ids = [row["id"] for row in rows]
    labels = repo.labels_of(conn, ids)
    deps = repo.dependency_numbers_of(conn, ids)
    return QueryBrief(
        total=total,
        limit=limit,
        offset=offset,
        tasks=[
            TaskRow(
                id=row["number"],
                title=row["title"],
                status=row["status"],
                priority=row["priority"],
                parent_id=row["parent_number"],
                labels=labels[row["id"]],
                depends_on=deps[row["id"]],
                version=row["version"],
            )
            for row in rows
        ],
    )


@functools.cache
def _plain_page(sort: str, order: str, columns: tuple[Any, ...]) -> Any:
    """The page of a session's live tasks in ``sort`` ``order`` (bound: sid, lim, off)."""
    return (
        select(*columns)
        .where(tasks.c.session_id == bindparam("sid"), tasks.c.archived.is_(False))
        .order_by(*_ordering(sort, order))
        .limit(bindparam("lim"))
        .offset(bindparam("off"))
    )


def _ordering(sort: str, order: str) -> list[Any]:
    key = SORT_KEYS[sort]
    ordering = [key.asc() if order == "asc" else key.desc()]
    if sort != "id":
        ordering.append(tasks.c.id.asc() if order == "asc" else tasks.c.id.desc())
    return ordering


def _matching(
    conn: Connection, session_id: int, *, filters: dict[str, Any], columns: Sequence[Any]
) -> tuple[int, list[RowMapping]]:
    """The total of tasks matching ``filters`` (the arguments of :func:`query_tasks`) and the
    page of them, as rows of ``columns``."""
    status: Sequence[str] = filters.get("status", ())
    task_type: Sequence[str] = filters.get("task_type", ())
    specialist_type: Sequence[str] = filters.get("specialist_type", ())
    complexity: Sequence[str] = filters.get("complexity", ())
    priority: Sequence[str] = filters.get("priority", ())
    parent_id: int | None = filters.get("parent_id")
    roots_only: bool = filters.get("roots_only", False)
    labels: Sequence[str] = filters.get("labels", ())
    created_after: datetime | None = filters.get("created_after")
    created_before: datetime | None = filters.get("created_before")
    updated_after: datetime | None = filters.get("updated_after")
    updated_before: datetime | None = filters.get("updated_before")
    text: str | None = filters.get("text")
    task_ids: Sequence[int] = filters.get("task_ids", ())
    include_archived: bool = filters.get("include_archived", False)
    sort: SortKey = filters.get("sort", "created_at")
    order: Literal["asc", "desc"] = filters.get("order", "desc")
    limit: int = filters.get("limit", 20)
    offset: int = filters.get("offset", 0)
    plain = (
        not any(
            filters.get(name)
            for name in (
                "status",
                "task_type",
                "specialist_type",
                "complexity",
                "priority",
                "parent_id",
                "roots_only",
                "labels",
                "created_after",
                "created_before",
                "updated_after",
                "updated_before",
                "task_ids",
                "include_archived",
            )
        )
        and filters.get("text") is None
    )
    if plain:
        # The common call (no filter): a statement built once per sort, order and columns.
        counts = repo.stored_counts(conn, session_id)
        statement = _plain_page(sort, order, tuple(columns))
        page = {"sid": session_id, "lim": limit, "off": offset}
        return sum(counts.values()), list(conn.execute(statement, page).mappings())
    where: list[ColumnElement[bool]] = [tasks.c.session_id == session_id]
    if not include_archived:
        where.append(tasks.c.archived.is_(False))
    for column, values in (
        (tasks.c.status, status),
        (tasks.c.task_type, task_type),
        (tasks.c.specialist_type, specialist_type),
        (tasks.c.complexity, complexity),
        (tasks.c.priority, priority),
    ):
        if values:
            where.append(column.in_(list(values)))
    only_status = (
        not any(
            (
                task_type,
                specialist_type,
                complexity,
                priority,
                labels,
                text,
                task_ids,
                include_archived,
                created_after,
                created_before,
                updated_after,
                updated_before,
                roots_only,
            )
        )
        and parent_id is None
    )
    if parent_id is not None:
        where.append(tasks.c.parent_number == parent_id)
    if roots_only:
        where.append(tasks.c.parent_id.is_(None))
    if task_ids:
        where.append(tasks.c.number.in_(list(task_ids)))
    for label in dict.fromkeys(labels):
        where.append(tasks.c.id.in_(select(task_labels.c.task_id).where(task_labels.c.label == label)))
    for column, bound, op in (
        (tasks.c.created_at, created_after, "ge"),
        (tasks.c.created_at, created_before, "lt"),
        (tasks.c.updated_at, updated_after, "ge"),
        (tasks.c.updated_at, updated_before, "lt"),
    ):
        if bound is not None:
            where.append(column >= bound if op == "ge" else column < bound)
    if text is not None:
        matches = search.matching_task_ids(conn.dialect.name, text)
        if matches is None:
            where.append(tasks.c.id.is_(None))  # no searchable word: nothing matches
        else:
            where.append(tasks.c.id.in_(matches))

    condition = and_(*where)
    if only_status:
        counts = repo.stored_counts(conn, session_id)
        total = sum(n for s, n in counts.items() if not status or s in status)
    else:
        total = int(conn.execute(select(func.count()).select_from(tasks).where(condition)).scalar_one())

    ordering = _ordering(sort, order)
    rows = list(
        conn.execute(select(*columns).where(condition).order_by(*ordering).limit(limit).offset(offset)).mappings()
    )
    return total, rows


# The statements of get_status, built once (building them costs more than running them).
_SID: BindParameter[int] = bindparam("sid")
_LIMIT: BindParameter[int] = bindparam("lim")
_LIVE = and_(tasks.c.session_id == _SID, tasks.c.archived.is_(False))
_READY = (
    select(*views.BRIEF_COLUMNS)
    .where(
        _LIVE,
        tasks.c.status == TaskStatus.PENDING.value,
        tasks.c.unmet_dependencies == 0,
        tasks.c.open_subtasks == 0,
        tasks.c.has_subtasks.is_(False),
    )
    .order_by(tasks.c.priority_rank, tasks.c.id)
    .limit(_LIMIT)
)
_AWAITING = (
    select(*views.BRIEF_COLUMNS)
    .where(
        _LIVE,
        tasks.c.has_subtasks.is_(True),
        tasks.c.open_subtasks == 0,
        tasks.c.status.in_([s.value for s in ACTIVE_STATUSES]),
    )
    .order_by(tasks.c.priority_rank, tasks.c.id)
    .limit(_LIMIT)
)
_LATEST = {
    status: select(*views.BRIEF_COLUMNS)
    .where(_LIVE, tasks.c.status == status.value)
    .order_by(tasks.c.updated_at.desc(), tasks.c.id.desc())
    .limit(_LIMIT)
    for status in (TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED)
}
_WAITING_COLUMNS = (
    *views.BRIEF_COLUMNS,
    tasks.c.status_reason,
    tasks.c.unmet_dependencies,
)
#: Per dialect: the same words as ix_tasks_waiting's condition, so the planner reads that index in order.
_WAITING = {
    dialect: select(*_WAITING_COLUMNS)
    .where(tasks.c.session_id == _SID, text(condition))
    .order_by(tasks.c.priority_rank, tasks.c.id)
    .limit(_LIMIT)
    for dialect, condition in WAITING_SQL.items()
}
_BLOCKERS = (
    select(task_dependencies.c.task_id.label("waiting_id"), *views.BRIEF_COLUMNS)
    .join(tasks, tasks.c.id == task_dependencies.c.depends_on_id)
    .where(
        task_dependencies.c.task_id.in_(bindparam("ids", expanding=True)),
        tasks.c.status != TaskStatus.COMPLETED.value,
    )
    .order_by(tasks.c.id)
)


#: get_status's five lists (ready, awaiting synthesis, in progress, recently completed, waiting)
#: in one statement, per dialect: each member is its own statement above as a subquery (its
#: index range, order and limit), tagged with its position; the same columns in each.
_ORDER_COLUMNS = (tasks.c.status_reason, tasks.c.unmet_dependencies, tasks.c.priority_rank, tasks.c.updated_at)
_BLOCKED_LIMIT: BindParameter[int] = bindparam("blim")


def _lists_statement(dialect: str) -> CompoundSelect[Any]:
    members = [
        *(
            member.add_columns(*_ORDER_COLUMNS)
            for member in (_READY, _AWAITING, _LATEST[TaskStatus.IN_PROGRESS], _LATEST[TaskStatus.COMPLETED])
        ),
        _WAITING[dialect].add_columns(tasks.c.priority_rank, tasks.c.updated_at).limit(_BLOCKED_LIMIT),
    ]
    subqueries = [member.subquery() for member in members]
    return union_all(
        *(select(literal_column(str(index)).label("list"), *sub.c) for index, sub in enumerate(subqueries))
    )


_LISTS = {dialect: _lists_statement(dialect) for dialect in WAITING_SQL}


def _by_priority(row: RowMapping) -> tuple[int, int]:
    return row["priority_rank"], row["id"]


def _by_latest(row: RowMapping) -> tuple[datetime, int]:
    return row["updated_at"], row["id"]


def ready_queue(conn: Connection, session_id: int, limit: int = STATUS_LIST_LIMIT) -> list[TaskBrief]:
    """Pending tasks without subtasks whose dependencies are all completed, by priority then age."""
    return views.briefs_of(conn, _READY, {"sid": session_id, "lim": limit})


def awaiting_synthesis(conn: Connection, session_id: int, limit: int = STATUS_LIST_LIMIT) -> list[TaskBrief]:
    """Unfinished parents whose subtasks are all finished: call synthesize_results on them."""
    return views.briefs_of(conn, _AWAITING, {"sid": session_id, "lim": limit})


def blocked_tasks(conn: Connection, session_id: int, limit: int = STATUS_LIST_LIMIT) -> list[BlockedTask]:
    """Tasks marked blocked, and pending tasks waiting on unfinished dependencies, with blockers."""
    waiting = _WAITING.get(conn.dialect.name, _WAITING["sqlite"])
    return _blocked(conn, list(conn.execute(waiting, {"sid": session_id, "lim": limit}).mappings()))


def _blocked(conn: Connection, rows: list[RowMapping]) -> list[BlockedTask]:
    """The waiting ``rows`` (with ``status_reason`` and ``unmet_dependencies``) with their blockers."""
    ids = [r["id"] for r in rows]
    blockers: dict[int, list[TaskBrief]] = {i: [] for i in ids}
    if ids:
        for row in conn.execute(_BLOCKERS, {"ids": ids}).mappings():
            blockers[row["waiting_id"]].append(views.brief(row))
    out = []
    for row in rows:
        if row["status"] == TaskStatus.BLOCKED.value:
            reason = row["status_reason"] or "marked blocked"
        else:
            unmet = row["unmet_dependencies"]
            reason = f"waiting on {unmet} unfinished dependenc{'y' if unmet == 1 else 'ies'}"
        out.append(BlockedTask(task=views.brief(row), blockers=blockers[row["id"]], reason=reason))
    return out


def get_status(
    conn: Connection,
    *,
    session_id: int,
    project_root: str,
    limit: int = STATUS_LIST_LIMIT,
    blocked_limit: int | None = None,
) -> StatusResult:
    """Counts by status, the ready queue, blocked, in-progress and recently completed tasks
    (at most ``limit`` tasks in each list; ``blocked_limit``, default ``limit``, blocked ones)."""
    counts = repo.stored_counts(conn, session_id)
    lists: list[list[RowMapping]] = [[], [], [], [], []]
    statement = _LISTS.get(conn.dialect.name, _LISTS["sqlite"])
    parameters = {"sid": session_id, "lim": limit, "blim": limit if blocked_limit is None else blocked_limit}
    for row in conn.execute(statement, parameters).mappings():
        lists[row["list"]].append(row)
    # Each list in its member's order (a compound statement keeps no order of its own).
    ready, awaiting, in_progress, completed, waiting = (
        sorted(rows, key=_by_latest, reverse=True) if index in (2, 3) else sorted(rows, key=_by_priority)
        for index, rows in enumerate(lists)
    )
    return StatusResult(
        session_id=session_id,
        project_root=project_root,
        counts=counts,
        total=sum(counts.values()),
        ready=[views.brief(row) for row in ready],
        awaiting_synthesis=[views.brief(row) for row in awaiting],
        blocked=_blocked(conn, waiting),
        in_progress=[views.brief(row) for row in in_progress],
        recently_completed=[views.brief(row) for row in completed],
    )
