"""The SQL of the sync tables: links, outbox, conflicts, sync logs and sync state.

Every function runs in the caller's transaction (``conn``) and neither commits nor calls a
platform. Task ids are internal ids; issue numbers are the platform's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from taskorch.store.tables import (
    feature_issue_links,
    sync_conflicts,
    sync_outbox,
    sync_state,
    sync_status_logs,
    tasks,
)

__all__ = [
    "complete_pending",
    "conflict_by_id",
    "ensure_state",
    "has_pending",
    "in_flight_of",
    "insert_conflict",
    "insert_entry",
    "insert_link",
    "insert_log",
    "issue_numbers_of",
    "issue_task_ids",
    "link_by_id",
    "link_of",
    "link_status_counts",
    "linked_issues",
    "linked_task_ids",
    "open_conflict_count",
    "open_conflict_fields",
    "open_conflict_id",
    "pending_count",
    "pending_entries",
    "pending_keys",
    "pending_payloads",
    "session_conflicts",
    "state_of",
    "task_ids_of_issues",
    "task_ids_of_numbers",
    "update_conflict",
    "update_entry",
    "update_link",
    "update_link_of_task",
    "update_log",
    "update_state",
]


def link_of(conn: Connection, task_id: int) -> RowMapping | None:
    """The ``feature_issue_links`` row of the task, or ``None`` when it has none."""
    return conn.execute(select(feature_issue_links).where(feature_issue_links.c.task_id == task_id)).mappings().first()


def issue_numbers_of(conn: Connection, task_ids: Iterable[int]) -> dict[int, int]:
    """task id -> the number of its issue, for the tasks whose issue exists."""
    ids = list(task_ids)
    if not ids:
        return {}
    query = select(feature_issue_links.c.task_id, feature_issue_links.c.issue_number).where(
        feature_issue_links.c.task_id.in_(ids), feature_issue_links.c.issue_number.is_not(None)
    )
    return {int(task_id): int(number) for task_id, number in conn.execute(query)}


def task_ids_of_issues(conn: Connection, session_id: int, repository: str, numbers: Iterable[int]) -> dict[int, int]:
    """issue number -> the id of the session's task linked to it, for the linked ones."""
    wanted = list(numbers)
    if not wanted:
        return {}
    query = (
        select(feature_issue_links.c.issue_number, feature_issue_links.c.task_id)
        .join_from(feature_issue_links, tasks, feature_issue_links.c.task_id == tasks.c.id)
        .where(
            tasks.c.session_id == session_id,
            feature_issue_links.c.repository == repository,
            feature_issue_links.c.issue_number.in_(wanted),
        )
    )
    return {int(number): int(task_id) for number, task_id in conn.execute(query)}


def task_ids_of_numbers(conn: Connection, session_id: int, numbers: Iterable[int]) -> dict[int, int]:
    """task number (in its project) -> internal id, for the session's tasks that exist."""
    wanted = list(numbers)
    if not wanted:
        return {}
    query = select(tasks.c.number, tasks.c.id).where(tasks.c.session_id == session_id, tasks.c.number.in_(wanted))
    return {int(number): int(task_id) for number, task_id in conn.execute(query)}


# -- links (feature_issue_links) ---------------------------------------------------------------


def link_by_id(conn: Connection, link_id: int) -> RowMapping:
    """The ``feature_issue_links`` row with this id (it must exist)."""
    return conn.execute(select(feature_issue_links).where(feature_issue_links.c.id == link_id)).mappings().one()


def in_flight_of(conn: Connection, link_id: int) -> dict[str, Any] | None:
    """The link's ``in_flight`` column: field -> values sent whose answer was not read, or ``None``."""
    row = conn.execute(select(feature_issue_links.c.in_flight).where(feature_issue_links.c.id == link_id)).scalar_one()
    return None if row is None else dict(row)


def linked_issues(conn: Connection, session_id: int, repository: str) -> dict[int, RowMapping]:
    """issue number -> link row, for the session's tasks linked to an existing issue of ``repository``."""
    query = select(feature_issue_links).where(
        feature_issue_links.c.repository == repository,
        feature_issue_links.c.issue_number.is_not(None),
        feature_issue_links.c.task_id.in_(select(tasks.c.id).where(tasks.c.session_id == session_id)),
    )
    return {row["issue_number"]: row for row in conn.execute(query).mappings()}


def pending_keys(conn: Connection, session_id: int) -> set[str]:
    """The idempotency keys of the session's links whose issue is not created (or adopted) yet."""
    query = select(feature_issue_links.c.idempotency_key).where(
        feature_issue_links.c.issue_number.is_(None),
        feature_issue_links.c.task_id.in_(select(tasks.c.id).where(tasks.c.session_id == session_id)),
    )
    return {row[0] for row in conn.execute(query)}


def linked_task_ids(conn: Connection, task_ids: Iterable[int]) -> set[int]:
    """The ids among ``task_ids`` of the tasks that have a link row (created or intended)."""
    query = select(feature_issue_links.c.task_id).where(feature_issue_links.c.task_id.in_(list(task_ids)))
    return {row[0] for row in conn.execute(query)}


def insert_link(conn: Connection, **values: Any) -> None:
    """Add a ``feature_issue_links`` row with these column values."""
    conn.execute(insert(feature_issue_links).values(**values))


def update_link(conn: Connection, link_id: int, **values: Any) -> None:
    """Set these columns of the link row with this id."""
    conn.execute(update(feature_issue_links).where(feature_issue_links.c.id == link_id).values(**values))


def update_link_of_task(conn: Connection, task_id: int, **values: Any) -> None:
    """Set these columns of the task's link row (none when the task has none)."""
    conn.execute(update(feature_issue_links).where(feature_issue_links.c.task_id == task_id).values(**values))


# -- outbox (sync_outbox) -----------------------------------------------------------------------


def pending_entries(
    conn: Connection,
    session_id: int,
    *,
    task_ids: Iterable[int] | None = None,
    operations: Sequence[str] | None = None,
    excluding: Collection[int] = (),
    limit: int = 100,
) -> list[RowMapping]:
    """The session's pending outbox rows in id order, at most ``limit``: only those of
    ``task_ids`` and ``operations`` when given, never those whose id is in ``excluding``."""
    query = (
        select(sync_outbox)
        .where(sync_outbox.c.session_id == session_id, sync_outbox.c.status == "pending")
        .order_by(sync_outbox.c.id)
        .limit(limit)
    )
    if task_ids is not None:
        query = query.where(sync_outbox.c.task_id.in_(list(task_ids)))
    if operations is not None:
        query = query.where(sync_outbox.c.operation.in_(operations))
    if excluding:
        query = query.where(sync_outbox.c.id.not_in(excluding))
    return list(conn.execute(query).mappings())


def pending_payloads(conn: Connection, task_id: int, operation: str) -> list[dict[str, Any]]:
    """The payloads of the task's pending ``operation`` entries."""
    query = select(sync_outbox.c.payload).where(
        sync_outbox.c.task_id == task_id, sync_outbox.c.status == "pending", sync_outbox.c.operation == operation
    )
    return [dict(row[0] or {}) for row in conn.execute(query)]


def has_pending(conn: Connection, task_id: int, operation: str) -> bool:
    """Whether the task has a pending ``operation`` entry."""
    query = select(sync_outbox.c.id).where(
        sync_outbox.c.task_id == task_id, sync_outbox.c.status == "pending", sync_outbox.c.operation == operation
    )
    return conn.execute(query).first() is not None


def insert_entry(
    conn: Connection, session_id: int, task_id: int, operation: str, payload: Mapping[Any, Any], at: Any
) -> None:
    """Add a pending outbox entry (no attempts yet)."""
    conn.execute(
        insert(sync_outbox).values(
            session_id=session_id,
            task_id=task_id,
            operation=operation,
            payload=dict(payload),
            status="pending",
            attempts=0,
            created_at=at,
        )
    )


def update_entry(conn: Connection, entry_id: int, **values: Any) -> None:
    """Set these columns of the outbox entry with this id."""
    conn.execute(update(sync_outbox).where(sync_outbox.c.id == entry_id).values(**values))


def complete_pending(conn: Connection, task_id: int, operation: str, *, up_to: int, inclusive: bool, at: Any) -> None:
    """Mark done the task's pending ``operation`` entries whose id is below ``up_to`` (or equal
    to it when ``inclusive``): coalesced entries carried by one request."""
    bound = sync_outbox.c.id <= up_to if inclusive else sync_outbox.c.id < up_to
    conn.execute(
        update(sync_outbox)
        .where(
            sync_outbox.c.task_id == task_id,
            sync_outbox.c.status == "pending",
            sync_outbox.c.operation == operation,
            bound,
        )
        .values(status="done", done_at=at)
    )


def pending_count(conn: Connection, session_id: int) -> int:
    """Outbox entries of the session still waiting to reach the platform."""
    query = (
        select(func.count())
        .select_from(sync_outbox)
        .where(sync_outbox.c.session_id == session_id, sync_outbox.c.status == "pending")
    )
    return int(conn.execute(query).scalar_one())


# -- conflicts (sync_conflicts) -----------------------------------------------------------------


def open_conflict_fields(conn: Connection, task_id: int) -> set[str]:
    """The fields of the task with an open conflict."""
    query = select(sync_conflicts.c.field).where(sync_conflicts.c.task_id == task_id, sync_conflicts.c.status == "open")
    return {row[0] for row in conn.execute(query)}


def open_conflict_id(conn: Connection, task_id: int, field: str) -> int | None:
    """The id of the task's open conflict on ``field``, or ``None``."""
    row = conn.execute(
        select(sync_conflicts.c.id).where(
            sync_conflicts.c.task_id == task_id, sync_conflicts.c.field == field, sync_conflicts.c.status == "open"
        )
    ).first()
    return None if row is None else int(row[0])


def insert_conflict(conn: Connection, **values: Any) -> int:
    """Add a ``sync_conflicts`` row with these column values; return its id."""
    return int(conn.execute(insert(sync_conflicts).values(**values).returning(sync_conflicts.c.id)).scalar_one())


def update_conflict(conn: Connection, conflict_id: int, **values: Any) -> None:
    """Set these columns of the conflict with this id."""
    conn.execute(update(sync_conflicts).where(sync_conflicts.c.id == conflict_id).values(**values))


def conflict_by_id(conn: Connection, conflict_id: int) -> RowMapping | None:
    """The ``sync_conflicts`` row with this id, or ``None``."""
    return conn.execute(select(sync_conflicts).where(sync_conflicts.c.id == conflict_id)).mappings().first()


# -- sync state (sync_state: watermark, ETag, rate limit, milestones) ------------------------------


def state_of(conn: Connection, session_id: int) -> RowMapping | None:
    """The session's ``sync_state`` row, or ``None`` before its first run."""
    return conn.execute(select(sync_state).where(sync_state.c.session_id == session_id)).mappings().first()


def ensure_state(conn: Connection, session_id: int) -> RowMapping:
    """The session's ``sync_state`` row, added empty (no watermark) when missing."""
    row = state_of(conn, session_id)
    if row is None:
        conn.execute(insert(sync_state).values(session_id=session_id, rate_limit={}, milestones={}))
        row = conn.execute(select(sync_state).where(sync_state.c.session_id == session_id)).mappings().one()
    return row


def update_state(conn: Connection, session_id: int, **values: Any) -> None:
    """Set these columns of the session's ``sync_state`` row (none when it has none)."""
    conn.execute(update(sync_state).where(sync_state.c.session_id == session_id).values(**values))


# -- sync logs (sync_status_logs) ---------------------------------------------------------------


def insert_log(conn: Connection, **values: Any) -> int:
    """Add a ``sync_status_logs`` row with these column values; return its id."""
    return int(conn.execute(insert(sync_status_logs).values(**values).returning(sync_status_logs.c.id)).scalar_one())


def update_log(conn: Connection, log_id: int, **values: Any) -> None:
    """Set these columns of the ``sync_status_logs`` row with this id."""
    conn.execute(update(sync_status_logs).where(sync_status_logs.c.id == log_id).values(**values))


# -- reports on the session's links and conflicts ---------------------------------------------------


def link_status_counts(conn: Connection, session_id: int) -> dict[str, int]:
    """sync status -> how many of the session's link rows have it (statuses without a row absent)."""
    counts: dict[str, int] = {}
    for (status,) in conn.execute(
        select(feature_issue_links.c.sync_status)
        .join_from(feature_issue_links, tasks, feature_issue_links.c.task_id == tasks.c.id)
        .where(tasks.c.session_id == session_id)
    ):
        counts[status] = counts.get(status, 0) + 1
    return counts


def issue_task_ids(conn: Connection, session_id: int) -> list[int]:
    """The ids, ascending, of the session's tasks linked to an existing issue."""
    query = (
        select(feature_issue_links.c.task_id)
        .join_from(feature_issue_links, tasks, feature_issue_links.c.task_id == tasks.c.id)
        .where(tasks.c.session_id == session_id, feature_issue_links.c.issue_number.is_not(None))
        .order_by(feature_issue_links.c.task_id)
    )
    return [row[0] for row in conn.execute(query)]


def open_conflict_count(conn: Connection, session_id: int) -> int:
    """How many conflicts of the session are open."""
    query = (
        select(func.count())
        .select_from(sync_conflicts)
        .where(sync_conflicts.c.session_id == session_id, sync_conflicts.c.status == "open")
    )
    return int(conn.execute(query).scalar_one())


def session_conflicts(conn: Connection, session_id: int, *, include_resolved: bool) -> list[RowMapping]:
    """The session's conflict rows (the open ones only unless ``include_resolved``) in id order,
    each with its task's ``number``."""
    query = (
        select(sync_conflicts, tasks.c.number)
        .join_from(sync_conflicts, tasks, sync_conflicts.c.task_id == tasks.c.id)
        .where(sync_conflicts.c.session_id == session_id)
    )
    if not include_resolved:
        query = query.where(sync_conflicts.c.status == "open")
    return list(conn.execute(query.order_by(sync_conflicts.c.id)).mappings())
