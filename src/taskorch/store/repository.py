"""Reads and writes of tasks that keep the store's invariants, on a connection in a transaction.

Every function here takes the caller's connection and never commits: the service that calls it
owns the transaction (one tool call, one transaction). The invariants kept here, and only here:

* ``status_counts`` holds, per session and status, the number of live (not archived) tasks;
* ``tasks.unmet_dependencies`` counts a task's dependencies that are not completed;
* ``tasks.open_subtasks`` counts a task's live subtasks that are not completed or cancelled;
* ``tasks.version`` grows by one with every change of the row;
* every change writes its audit row in ``task_events`` and refreshes the search document.

``maintenance`` recomputes the derived columns from scratch and reports any drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    RowMapping,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)

from taskorch.domain.caller import current_caller
from taskorch.domain.graph import find_cycle
from taskorch.domain.model import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Priority,
    TaskStatus,
    check_transition,
)
from taskorch.errors import Conflict, NotFound
from taskorch.hints import REQUIRED, Hint
from taskorch.store import search
from taskorch.store.tables import (
    artifacts,
    sessions,
    status_counts,
    task_dependencies,
    task_events,
    task_labels,
    tasks,
)

__all__ = [
    "NewTask",
    "StatusChange",
    "archive_tasks",
    "change_status",
    "delete_tasks",
    "dependencies_of",
    "dependency_cycle",
    "dependency_numbers_of",
    "dependents_of",
    "event_row",
    "get_task",
    "get_tasks",
    "index_new_artifact",
    "insert_task",
    "insert_tasks",
    "labels_of",
    "numbers_of",
    "record_event",
    "record_events",
    "reindex",
    "replace_dependencies",
    "replace_labels",
    "session_row",
    "subtree_ids",
    "summary_rows",
    "task_by_number",
    "task_id_of",
    "update_fields",
    "utcnow",
]


# Statements of the hot paths, built once: building SQLAlchemy statement objects costs more than
# running them. Values arrive as bound parameters.
_IDS: BindParameter[int] = bindparam("ids", expanding=True)
_TASK_BY_ID = select(tasks).where(tasks.c.id == bindparam("id"))
_TASK_BY_ID_FOR_UPDATE = _TASK_BY_ID.with_for_update()
_TASKS_BY_IDS = select(tasks).where(tasks.c.id.in_(_IDS))
_NUMBERS_BY_IDS = select(tasks.c.id, tasks.c.number).where(tasks.c.id.in_(_IDS))
_LABELS_BY_IDS = (
    select(task_labels.c.task_id, task_labels.c.label)
    .where(task_labels.c.task_id.in_(_IDS))
    .order_by(task_labels.c.task_id, task_labels.c.label)
)
_DEPENDENCIES_BY_IDS = (
    select(task_dependencies.c.task_id, task_dependencies.c.depends_on_id)
    .where(task_dependencies.c.task_id.in_(_IDS))
    .order_by(task_dependencies.c.task_id, task_dependencies.c.depends_on_id)
)
_DEPENDENCY_NUMBERS_BY_IDS = (
    select(task_dependencies.c.task_id, tasks.c.number)
    .join(tasks, tasks.c.id == task_dependencies.c.depends_on_id)
    .where(task_dependencies.c.task_id.in_(_IDS))
    .order_by(task_dependencies.c.task_id, tasks.c.number)
)
_INSERT_EVENT = insert(task_events).values(
    task_number=select(tasks.c.number).where(tasks.c.id == bindparam("tid")).scalar_subquery()
)
_TITLE_AND_DESCRIPTION = select(tasks.c.title, tasks.c.description).where(tasks.c.id == bindparam("id"))
_ARTIFACT_TEXTS = select(artifacts.c.summary, artifacts.c.detailed_work, artifacts.c.file_paths).where(
    artifacts.c.task_id == bindparam("id")
)
_TASK_BY_NUMBER = select(tasks).where(tasks.c.session_id == bindparam("sid"), tasks.c.number == bindparam("n"))
_TASK_BY_NUMBER_FOR_UPDATE = _TASK_BY_NUMBER.with_for_update()
_IDS_BY_NUMBERS = (
    select(tasks.c.id)
    .where(tasks.c.session_id == bindparam("sid"), tasks.c.number.between(bindparam("lo"), bindparam("hi")))
    .order_by(tasks.c.number)
)
_BUMP_COUNT = (
    update(status_counts)
    .where(status_counts.c.session_id == bindparam("sid"), status_counts.c.status == bindparam("st"))
    .values(count=status_counts.c.count + bindparam("delta"))
)
#: One status's count down by one and another's up by one, in one statement.
_MOVE_COUNT = (
    update(status_counts)
    .where(
        status_counts.c.session_id == bindparam("sid"),
        status_counts.c.status.in_([bindparam("old"), bindparam("new")]),
    )
    .values(count=status_counts.c.count + case((status_counts.c.status == bindparam("old"), -1), else_=1))
)
_BUMP_OPEN = (
    update(tasks).where(tasks.c.id == bindparam("pid")).values(open_subtasks=tasks.c.open_subtasks + bindparam("delta"))
)
_BUMP_OPEN_NEW_CHILD = (
    update(tasks)
    .where(tasks.c.id == bindparam("pid"))
    .values(open_subtasks=tasks.c.open_subtasks + bindparam("delta"), has_subtasks=True)
)
_BUMP_OPEN_RETURNING = _BUMP_OPEN.returning(tasks.c.open_subtasks, tasks.c.archived)
_BUMP_UNMET = (
    update(tasks)
    .where(
        tasks.c.id.in_(select(task_dependencies.c.task_id).where(task_dependencies.c.depends_on_id == bindparam("tid")))
    )
    .values(unmet_dependencies=tasks.c.unmet_dependencies + bindparam("delta"))
)
_BUMP_UNMET_RETURNING = _BUMP_UNMET.returning(*tasks.c)
#: Executed with the new values as parameters: the SET clause names the keys given.
_UPDATE_TASK = update(tasks).where(tasks.c.id == bindparam("tid"))
_SUMMARY_ROWS = select(
    tasks.c.id,
    tasks.c.number,
    tasks.c.title,
    tasks.c.status,
    tasks.c.priority,
    tasks.c.priority_rank,
    tasks.c.specialist_type,
    tasks.c.parent_id,
    tasks.c.parent_number,
    tasks.c.unmet_dependencies,
    tasks.c.open_subtasks,
).where(tasks.c.id.in_(_IDS))
_SESSION_BY_ID = select(sessions).where(sessions.c.id == bindparam("id"))
_TASK_ID_BY_NUMBER = select(tasks.c.id).where(tasks.c.session_id == bindparam("sid"), tasks.c.number == bindparam("n"))
_STORED_COUNTS = select(status_counts.c.status, status_counts.c.count).where(
    status_counts.c.session_id == bindparam("sid")
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# -- reads ---------------------------------------------------------------------------------


def session_row(conn: Connection, session_id: int) -> RowMapping | None:
    """The sessions row, or None."""
    return conn.execute(_SESSION_BY_ID, {"id": session_id}).mappings().first()


def task_id_of(conn: Connection, session_id: int, number: int) -> int | None:
    """The internal id of task ``number`` of the session, or None."""
    found = conn.execute(_TASK_ID_BY_NUMBER, {"sid": session_id, "n": number}).scalar()
    return None if found is None else int(found)


def task_by_number(conn: Connection, session_id: int, number: int, *, for_update: bool = False) -> RowMapping | None:
    """The row of task ``number`` of the session, or None; ``for_update`` locks it on PostgreSQL."""
    query = _TASK_BY_NUMBER_FOR_UPDATE if for_update else _TASK_BY_NUMBER
    return conn.execute(query, {"sid": session_id, "n": number}).mappings().first()


def get_task(conn: Connection, task_id: int, *, for_update: bool = False) -> RowMapping:
    """The task row; raises :class:`NotFound`. ``for_update`` locks it on PostgreSQL."""
    query = _TASK_BY_ID_FOR_UPDATE if for_update else _TASK_BY_ID
    row = conn.execute(query, {"id": task_id}).mappings().first()
    if row is None:
        # Callers resolve numbers first, so this is a task deleted meanwhile; the internal id is
        # never shown.
        raise NotFound(("the task no longer exists. Find the project's task numbers with ", Hint("query_tasks"), "."))
    return row


def get_tasks(conn: Connection, task_ids: Iterable[int]) -> dict[int, RowMapping]:
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        return {}
    rows = conn.execute(_TASKS_BY_IDS, {"ids": ids}).mappings()
    return {row["id"]: row for row in rows}


def summary_rows(conn: Connection, task_ids: Iterable[int]) -> dict[int, RowMapping]:
    """Id -> the columns of a brief plus ``priority_rank``, ``unmet_dependencies`` and
    ``open_subtasks`` of each of ``task_ids`` (a plan's answer: no texts loaded)."""
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        return {}
    return {row["id"]: row for row in conn.execute(_SUMMARY_ROWS, {"ids": ids}).mappings()}


def numbers_of(conn: Connection, task_ids: Iterable[int]) -> dict[int, int]:
    """Internal id -> number of each of ``task_ids`` that exists, in one query."""
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        return {}
    return {int(i): int(n) for i, n in conn.execute(_NUMBERS_BY_IDS, {"ids": ids})}


def labels_of(conn: Connection, task_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each task's labels, sorted (every id present, ``[]`` when it has none)."""
    return _grouped(conn, _LABELS_BY_IDS, task_ids)


def dependencies_of(conn: Connection, task_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each task's dependency ids, sorted (every id present, ``[]`` when it has none)."""
    return _grouped(conn, _DEPENDENCIES_BY_IDS, task_ids)


def dependency_numbers_of(conn: Connection, task_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each task's dependencies as task numbers, sorted (every id present), in one query."""
    return _grouped(conn, _DEPENDENCY_NUMBERS_BY_IDS, task_ids)


def _grouped(conn: Connection, query: Any, task_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The (task id, value) rows of ``query`` for ``task_ids``, grouped by task (every id present)."""
    out: dict[int, list[Any]] = {i: [] for i in task_ids}
    if task_ids:
        for task_id, item in conn.execute(query, {"ids": list(task_ids)}):
            out[task_id].append(item)
    return out


def dependents_of(conn: Connection, task_ids: Sequence[int]) -> list[int]:
    """Ids of live tasks that depend on any of ``task_ids`` (excluding ``task_ids`` themselves)."""
    if not task_ids:
        return []
    query = (
        select(task_dependencies.c.task_id)
        .join(tasks, tasks.c.id == task_dependencies.c.task_id)
        .where(task_dependencies.c.depends_on_id.in_(list(task_ids)), tasks.c.archived.is_(False))
        .distinct()
        .order_by(task_dependencies.c.task_id)
    )
    excluded = set(task_ids)
    return [i for (i,) in conn.execute(query) if i not in excluded]


def subtree_ids(conn: Connection, root_id: int) -> list[int]:
    """``root_id`` and all its descendants, parents before children."""
    out = [root_id]
    frontier = [root_id]
    while frontier:
        children = [
            i for (i,) in conn.execute(select(tasks.c.id).where(tasks.c.parent_id.in_(frontier)).order_by(tasks.c.id))
        ]
        out.extend(children)
        frontier = children
    return out


# -- audit and search ----------------------------------------------------------------------


def record_event(
    conn: Connection,
    *,
    session_id: int,
    task_id: int | None,
    tool: str,
    action: str,
    changes: Mapping[str, Any],
    at: datetime | None = None,
) -> None:
    """Append one audit row: which tool did what to which task, with old and new values.

    The task's number is stored with it (read in the same statement), so the trail names the task
    by its number even after a hard delete. The actor is the caller of the request being served
    (:func:`taskorch.domain.caller.current_caller`: a token's name over HTTP, ``local`` otherwise).
    """
    conn.execute(
        _INSERT_EVENT,
        event_row(session_id=session_id, task_id=task_id, tool=tool, action=action, changes=changes, at=at),
    )


def event_row(
    *,
    session_id: int,
    task_id: int | None,
    tool: str,
    action: str,
    changes: Mapping[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """The parameters of one audit row as :func:`record_event` writes it, for :func:`record_events`."""
    return {
        "session_id": session_id,
        "task_id": task_id,
        "tid": task_id,
        "tool": tool,
        "action": action,
        "changes": {
            k: _jsonable(v) if not isinstance(v, list) else [_jsonable(x) for x in v] for k, v in changes.items()
        },
        "created_at": at or utcnow(),
        "actor": current_caller().actor,
    }


def record_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append the audit rows built by :func:`event_row`, in order, in one statement."""
    if rows:
        conn.execute(_INSERT_EVENT, list(rows))


def reindex(conn: Connection, task_id: int) -> None:
    """Rewrite the search document of a task from its title, description, labels and artifacts."""
    row = conn.execute(_TITLE_AND_DESCRIPTION, {"id": task_id}).first()
    if row is None:
        return
    parts = [row.title, row.description]
    parts.extend(labels_of(conn, [task_id])[task_id])
    for summary, detail, paths in conn.execute(_ARTIFACT_TEXTS, {"id": task_id}):
        parts.extend([summary, detail, " ".join(paths)])
    search.index_task(conn, task_id, "\n".join(p for p in parts if p))


def index_new_artifact(
    conn: Connection, task_id: int, summary: str, detailed_work: str, file_paths: Sequence[str]
) -> None:
    """Add the text of the artifact just recorded to the task's search document.

    The document :func:`reindex` writes ends with the artifacts' texts in the order they were
    recorded, so the newest one is appended in one statement; a task without a document gets
    it whole.
    """
    text = "\n".join(p for p in (summary, detailed_work, " ".join(file_paths)) if p)
    if not text or not search.append_to_document(conn, task_id, text):
        reindex(conn, task_id)


# -- counters ------------------------------------------------------------------------------


def _bump_count(conn: Connection, session_id: int, status: str, delta: int) -> None:
    if delta:
        conn.execute(_BUMP_COUNT, {"sid": session_id, "st": status, "delta": delta})


def _bump_open_subtasks(conn: Connection, parent_id: int | None, delta: int, *, new_child: bool = False) -> None:
    if parent_id is not None and delta:
        conn.execute(_BUMP_OPEN_NEW_CHILD if new_child else _BUMP_OPEN, {"pid": parent_id, "delta": delta})


def _bump_unmet_of_dependents(conn: Connection, task_id: int, delta: int) -> None:
    conn.execute(_BUMP_UNMET, {"tid": task_id, "delta": delta})


def _count_unmet(conn: Connection, dependency_ids: Sequence[int]) -> int:
    if not dependency_ids:
        return 0
    return int(
        conn.execute(
            select(func.count())
            .select_from(tasks)
            .where(tasks.c.id.in_(list(dependency_ids)), tasks.c.status != TaskStatus.COMPLETED.value)
        ).scalar_one()
    )


# -- writes --------------------------------------------------------------------------------


def insert_task(
    conn: Connection,
    *,
    session_id: int,
    parent_id: int | None,
    fields: Mapping[str, Any],
    depends_on: Sequence[int],
    tool: str,
    at: datetime,
) -> int:
    """Insert a pending task with its labels and dependencies; return its internal id.

    The task gets the next number of its session, and its parent's number is copied.

    ``fields`` holds the task's own columns (title, description, task_type, complexity, priority,
    specialist_type, routing_reason, estimated_effort, due_date, acceptance_criteria, context)
    plus ``labels``. The caller has checked ids and cycles.
    """
    values = dict(fields)
    labels = list(values.pop("labels", []))
    values["priority_rank"] = Priority(values["priority"]).rank
    # The session's counter only grows: a number is never given twice, even after a hard delete.
    number = (
        int(
            conn.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(next_task_number=sessions.c.next_task_number + 1)
                .returning(sessions.c.next_task_number)
            ).scalar_one()
        )
        - 1
    )
    parent_number = (
        None if parent_id is None else select(tasks.c.number).where(tasks.c.id == parent_id).scalar_subquery()
    )
    inserted = conn.execute(
        insert(tasks)
        .values(
            session_id=session_id,
            number=number,
            parent_number=parent_number,
            parent_id=parent_id,
            status=TaskStatus.PENDING.value,
            version=1,
            unmet_dependencies=_count_unmet(conn, depends_on),
            open_subtasks=0,
            has_subtasks=False,
            archived=False,
            assignees=values.pop("assignees", []),
            remote_fields=[],
            created_at=at,
            updated_at=at,
            **values,
        )
        .returning(tasks.c.id, tasks.c.parent_number)
    ).one()
    task_id, stored_parent_number = int(inserted[0]), inserted[1]
    if labels:
        conn.execute(insert(task_labels), [{"task_id": task_id, "label": label} for label in labels])
    if depends_on:
        conn.execute(
            insert(task_dependencies),
            [{"task_id": task_id, "depends_on_id": d} for d in dict.fromkeys(depends_on)],
        )
    _bump_count(conn, session_id, TaskStatus.PENDING.value, 1)
    _bump_open_subtasks(conn, parent_id, 1, new_child=True)
    snapshot = {k: v for k, v in values.items() if k != "priority_rank"}
    record_event(
        conn,
        session_id=session_id,
        task_id=task_id,
        tool=tool,
        action="created",
        changes={
            **snapshot,
            "status": TaskStatus.PENDING.value,
            "parent_id": stored_parent_number,
            "labels": labels,
            "depends_on": sorted(numbers_of(conn, depends_on).values()),
        },
        at=at,
    )
    reindex(conn, task_id)
    return task_id


@dataclass(frozen=True)
class NewTask:
    """One task of :func:`insert_tasks`: its columns (as ``insert_task``'s ``fields``), the
    internal ids of existing tasks it depends on, and the positions of earlier tasks of the same
    batch it depends on."""

    fields: Mapping[str, Any]
    depends_on: Sequence[int] = ()
    after: Sequence[int] = field(default_factory=tuple)


#: Rows of tasks (and audit rows) per executemany in :func:`insert_tasks`: a 1,000-task plan's
#: rows and their bound parameters at once raised the peak of memory by about 2 MiB more.
_INSERT_BLOCK = 250


def insert_tasks(
    conn: Connection, *, session_id: int, parent_id: int | None, new: Sequence[NewTask], tool: str, at: datetime
) -> list[int]:
    """Insert pending tasks under ``parent_id`` in a few set-based statements; return their
    internal ids, in order.

    The same rows as :func:`insert_task` called once per task, in order: consecutive numbers
    from the session's counter (one block, one ``UPDATE ... RETURNING``), labels, dependencies,
    counters, one ``created`` audit row each and the search documents. ``NewTask.after`` holds
    positions of earlier tasks of ``new`` (the caller orders them topologically); the caller has
    checked ids and cycles.
    """
    count = len(new)
    if not count:
        return []
    last = conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(next_task_number=sessions.c.next_task_number + count)
        .returning(sessions.c.next_task_number)
    ).scalar_one()
    first = int(last) - count
    parent_number = (
        None if parent_id is None else conn.execute(select(tasks.c.number).where(tasks.c.id == parent_id)).scalar_one()
    )
    external = list(dict.fromkeys(d for task in new for d in task.depends_on))
    known: dict[int, tuple[int, str]] = {}
    if external:
        query = select(tasks.c.id, tasks.c.number, tasks.c.status).where(tasks.c.id.in_(external))
        known = {int(i): (int(n), s) for i, n, s in conn.execute(query)}
    rows: list[dict[str, Any]] = []
    snapshots: list[tuple[dict[str, Any], list[str]]] = []
    for index, task in enumerate(new):
        values = dict(task.fields)
        labels = list(values.pop("labels", []))
        assignees = values.pop("assignees", [])
        deps = list(dict.fromkeys(task.depends_on))
        unmet = len(set(task.after)) + sum(1 for d in deps if known[d][1] != TaskStatus.COMPLETED.value)
        snapshots.append((dict(values), labels))
        if len(rows) == _INSERT_BLOCK:
            conn.execute(insert(tasks), rows)
            rows = []
        rows.append(
            {
                **values,
                "priority_rank": Priority(values["priority"]).rank,
                "session_id": session_id,
                "number": first + index,
                "parent_number": parent_number,
                "parent_id": parent_id,
                "status": TaskStatus.PENDING.value,
                "version": 1,
                "unmet_dependencies": unmet,
                "open_subtasks": 0,
                "has_subtasks": False,
                "archived": False,
                "assignees": assignees,
                "remote_fields": [],
                "created_at": at,
                "updated_at": at,
            }
        )
    # An executemany per block of rows, then the ids in one read by their numbers (unique in the
    # session): an INSERT ... RETURNING whose rows must come back in order runs one statement per
    # row on SQLite.
    conn.execute(insert(tasks), rows)
    del rows  # each list below is built after the one before is written: a lower peak of memory
    ids = [
        int(i)
        for i in conn.execute(_IDS_BY_NUMBERS, {"sid": session_id, "lo": first, "hi": first + count - 1}).scalars()
    ]
    if len(ids) != count:  # pragma: no cover - the numbers were reserved by this transaction
        raise RuntimeError(f"inserted {count} tasks but found {len(ids)} by their numbers")
    labels_rows = [{"task_id": ids[i], "label": label} for i, (_, labels) in enumerate(snapshots) for label in labels]
    if labels_rows:
        conn.execute(insert(task_labels), labels_rows)
    del labels_rows
    dep_rows: list[dict[str, int]] = []
    for index, task in enumerate(new):
        targets = list(dict.fromkeys([*task.depends_on, *(ids[p] for p in task.after)]))
        dep_rows += [{"task_id": ids[index], "depends_on_id": d} for d in targets]
    if dep_rows:
        conn.execute(insert(task_dependencies), dep_rows)
    del dep_rows
    _bump_count(conn, session_id, TaskStatus.PENDING.value, count)
    _bump_open_subtasks(conn, parent_id, count, new_child=True)
    events: list[dict[str, Any]] = []
    actor = current_caller().actor
    for index, task in enumerate(new):
        if len(events) == _INSERT_BLOCK:
            conn.execute(insert(task_events), events)
            events = []
        numbers = sorted(
            [*(known[d][0] for d in dict.fromkeys(task.depends_on)), *(first + p for p in set(task.after))]
        )
        snapshot, labels = snapshots[index]
        changes = {
            **snapshot,
            "status": TaskStatus.PENDING.value,
            "parent_id": parent_number,
            "labels": labels,
            "depends_on": numbers,
        }
        events.append(
            {
                "session_id": session_id,
                "task_id": ids[index],
                "task_number": first + index,
                "tool": tool,
                "action": "created",
                "changes": {
                    k: _jsonable(v) if not isinstance(v, list) else [_jsonable(x) for x in v]
                    for k, v in changes.items()
                },
                "created_at": at,
                "actor": actor,
            }
        )
    conn.execute(insert(task_events), events)
    del events
    # As reindex writes them: title, description, the labels sorted.
    documents = [
        (ids[index], "\n".join(p for p in [snapshot["title"], snapshot.get("description") or "", *sorted(labels)] if p))
        for index, (snapshot, labels) in enumerate(snapshots)
    ]
    search.index_new_tasks(conn, documents)
    return ids


@dataclass(frozen=True)
class StatusChange:
    """What :func:`change_status` did, so its caller need not read it back.

    ``task``: the task's row as written (the row given, updated). ``parent``: the parent's
    ``open_subtasks`` and ``archived`` after the change, when its count moved (else None).
    ``dependents``: on completion, the rows of the tasks that depend on it, as updated.
    """

    task: Mapping[Any, Any]
    parent: RowMapping | None = None
    dependents: list[RowMapping] = field(default_factory=list)


def change_status(
    conn: Connection,
    task: Mapping[Any, Any],
    target: TaskStatus,
    *,
    tool: str,
    at: datetime,
    extra: Mapping[str, Any] | None = None,
    reopen: bool = False,
    unaudited: Mapping[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> StatusChange:
    """Move ``task`` to ``target`` after checking the transition table; keep every counter true.

    ``extra`` holds other columns changed in the same step (e.g. ``status_reason``), audited
    with the status; ``unaudited`` columns written in the same statement without an audit
    entry of their own (a claim ended by the completion). ``reopen`` allows only the way back
    from completed (``REOPENING``): the parent counts the task open again and its dependents
    wait for it again. The audit row is written, or appended to ``events`` when given (for
    :func:`record_events`). Raises :class:`InvalidTransition`.
    """
    current = TaskStatus(task["status"])
    check_transition(task["number"], current, target, reopen=reopen)
    values: dict[str, Any] = {"status": target.value, "updated_at": at, "version": task["version"] + 1}
    if target is TaskStatus.IN_PROGRESS and task["started_at"] is None:
        values["started_at"] = at
    if target in TERMINAL_STATUSES:
        values["completed_at"] = at
    elif current in TERMINAL_STATUSES:
        values["completed_at"] = None
    values.update(extra or {})
    values.update(unaudited or {})
    conn.execute(_UPDATE_TASK, {"tid": task["id"], **values})
    parent: RowMapping | None = None
    dependents: list[RowMapping] = []
    if not task["archived"]:
        if current is not target:
            conn.execute(_MOVE_COUNT, {"sid": task["session_id"], "old": current.value, "new": target.value})
        if task["parent_id"] is not None:
            delta = 0
            if current in ACTIVE_STATUSES and target in TERMINAL_STATUSES:
                delta = -1
            elif current in TERMINAL_STATUSES and target in ACTIVE_STATUSES:
                delta = 1
            if delta:
                parent = (
                    conn.execute(_BUMP_OPEN_RETURNING, {"pid": task["parent_id"], "delta": delta}).mappings().first()
                )
    if target is TaskStatus.COMPLETED:
        dependents = list(conn.execute(_BUMP_UNMET_RETURNING, {"tid": task["id"], "delta": -1}).mappings())
    elif current is TaskStatus.COMPLETED:
        _bump_unmet_of_dependents(conn, task["id"], 1)
    changes: dict[str, Any] = {"status": [current.value, target.value]}
    for key, new in (extra or {}).items():
        changes[key] = [_jsonable(task[key]), _jsonable(new)]
    event = event_row(
        session_id=task["session_id"], task_id=task["id"], tool=tool, action="status", changes=changes, at=at
    )
    if events is None:
        conn.execute(_INSERT_EVENT, event)
    else:
        events.append(event)
    return StatusChange(task={**task, **values}, parent=parent, dependents=dependents)


def update_fields(
    conn: Connection, task: RowMapping, changes: Mapping[str, Any], *, tool: str, at: datetime
) -> list[str]:
    """Write changed plain columns (not status, labels or dependencies); return the changed names."""
    diff = {k: v for k, v in changes.items() if task[k] != v}
    if not diff:
        return []
    values = dict(diff)
    if "priority" in values:
        values["priority_rank"] = Priority(values["priority"]).rank
    values.update(updated_at=at, version=task["version"] + 1)
    remote = list(task["remote_fields"] or [])
    if tool != "sync" and remote and set(remote) & diff.keys():
        # A local rewrite replaces the platform's text: it is ours again.
        values["remote_fields"] = [f for f in remote if f not in diff]
    conn.execute(update(tasks).where(tasks.c.id == task["id"]).values(**values))
    record_event(
        conn,
        session_id=task["session_id"],
        task_id=task["id"],
        tool=tool,
        action="updated",
        changes={k: [_jsonable(task[k]), _jsonable(v)] for k, v in diff.items()},
        at=at,
    )
    if {"title", "description"} & diff.keys():
        reindex(conn, task["id"])
    return sorted(diff)


def _touch(conn: Connection, task_id: int, at: datetime) -> None:
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(updated_at=at, version=tasks.c.version + 1))


def replace_labels(conn: Connection, task: RowMapping, labels: Sequence[str], *, tool: str, at: datetime) -> bool:
    """Set the task's labels to exactly ``labels``; return whether anything changed."""
    old = labels_of(conn, [task["id"]])[task["id"]]
    new = sorted(dict.fromkeys(labels))
    if old == new:
        return False
    conn.execute(delete(task_labels).where(task_labels.c.task_id == task["id"]))
    if new:
        conn.execute(insert(task_labels), [{"task_id": task["id"], "label": label} for label in new])
    _touch(conn, task["id"], at)
    record_event(
        conn,
        session_id=task["session_id"],
        task_id=task["id"],
        tool=tool,
        action="updated",
        changes={"labels": [old, new]},
        at=at,
    )
    reindex(conn, task["id"])
    return True


def replace_dependencies(
    conn: Connection, task: RowMapping, depends_on: Sequence[int], *, tool: str, at: datetime
) -> bool:
    """Set the task's dependencies to exactly ``depends_on`` (checked by the caller for cycles)."""
    old = dependencies_of(conn, [task["id"]])[task["id"]]
    new = sorted(dict.fromkeys(depends_on))
    if old == new:
        return False
    numbers = numbers_of(conn, [*old, *new])
    conn.execute(delete(task_dependencies).where(task_dependencies.c.task_id == task["id"]))
    if new:
        conn.execute(insert(task_dependencies), [{"task_id": task["id"], "depends_on_id": d} for d in new])
    conn.execute(update(tasks).where(tasks.c.id == task["id"]).values(unmet_dependencies=_count_unmet(conn, new)))
    _touch(conn, task["id"], at)
    record_event(
        conn,
        session_id=task["session_id"],
        task_id=task["id"],
        tool=tool,
        action="updated",
        changes={"depends_on": [sorted(numbers[i] for i in old), sorted(numbers[i] for i in new)]},
        at=at,
    )
    return True


def _refuse_if_depended_on(conn: Connection, rows: Iterable[RowMapping], verb: str) -> None:
    """Refuse to hide an unfinished task that a live task outside ``rows`` still waits for.

    A completed dependency is already satisfied, so archiving or deleting it strands nobody.
    """
    rows = list(rows)
    ids = [r["id"] for r in rows]
    unfinished = [r for r in rows if r["status"] != TaskStatus.COMPLETED.value]
    outside = [i for i in dependents_of(conn, [r["id"] for r in unfinished]) if i not in set(ids)]
    if outside:
        shown = ", ".join(str(n) for n in sorted(numbers_of(conn, outside[:20]).values()))
        raise Conflict(
            (
                f"cannot {verb} task(s) {', '.join(str(r['number']) for r in unfinished[:20])}: unfinished, and "
                f"task(s) {shown} depend on them. Remove those dependencies first (",
                Hint("update_task", {"task_id": REQUIRED, "depends_on": REQUIRED}),
                f"), or {verb} the dependent tasks too.",
            )
        )


def archive_tasks(conn: Connection, ids: Sequence[int], *, tool: str, at: datetime) -> list[int]:
    """Hide live tasks from queries and counts (their rows, artifacts and audit stay)."""
    rows = [r for r in get_tasks(conn, ids).values() if not r["archived"]]
    if not rows:
        return []
    live_ids = [r["id"] for r in rows]
    _refuse_if_depended_on(conn, rows, "archive")
    conn.execute(
        update(tasks)
        .where(tasks.c.id.in_(live_ids))
        .values(archived=True, archived_at=at, updated_at=at, version=tasks.c.version + 1)
    )
    for row in rows:
        _bump_count(conn, row["session_id"], row["status"], -1)
        # Also when the parent is archived with it: a parent counts only live subtasks.
        if row["status"] in ACTIVE_STATUSES:
            _bump_open_subtasks(conn, row["parent_id"], -1)
        record_event(
            conn,
            session_id=row["session_id"],
            task_id=row["id"],
            tool=tool,
            action="archived",
            changes={"archived": [False, True]},
            at=at,
        )
    return sorted(live_ids)


def delete_tasks(conn: Connection, ids: Sequence[int], *, tool: str, at: datetime) -> list[int]:
    """Remove tasks for good, with their labels, dependencies, artifacts and search documents.

    The audit trail keeps a ``deleted`` row with the task's last values.
    """
    rows = get_tasks(conn, ids)
    if not rows:
        return []
    doomed = sorted(rows)
    _refuse_if_depended_on(conn, rows.values(), "delete")
    gone = set(doomed)
    for row in rows.values():
        if not row["archived"]:
            _bump_count(conn, row["session_id"], row["status"], -1)
            if row["status"] in ACTIVE_STATUSES and row["parent_id"] not in gone:
                _bump_open_subtasks(conn, row["parent_id"], -1)
        record_event(
            conn,
            session_id=row["session_id"],
            task_id=row["id"],
            tool=tool,
            action="deleted",
            changes={"title": row["title"], "status": row["status"], "parent_id": row["parent_number"]},
            at=at,
        )
    search.remove_task(conn, doomed)
    # Children first, so the self-referencing foreign key never points at a deleted row.
    for task_id in sorted(doomed, reverse=True):
        conn.execute(delete(tasks).where(tasks.c.id == task_id))
    # A surviving parent that lost its last subtask is a plain task again.
    parents = {r["parent_id"] for r in rows.values() if r["parent_id"] is not None and r["parent_id"] not in gone}
    for parent_id in parents:
        remaining = select(func.count()).select_from(tasks).where(tasks.c.parent_id == parent_id).scalar_subquery()
        conn.execute(update(tasks).where(tasks.c.id == parent_id).values(has_subtasks=remaining > 0))
    return doomed


def recount(conn: Connection, session_id: int) -> dict[str, int]:
    """Count live tasks by status from the tasks table itself (used by maintenance)."""
    rows = conn.execute(
        select(tasks.c.status, func.count())
        .where(tasks.c.session_id == session_id, tasks.c.archived.is_(False))
        .group_by(tasks.c.status)
    )
    counts = {s.value: 0 for s in TaskStatus}
    counts.update({status: int(n) for status, n in rows})
    return counts


def stored_counts(conn: Connection, session_id: int) -> dict[str, int]:
    rows = conn.execute(_STORED_COUNTS, {"sid": session_id})
    counts = {s.value: 0 for s in TaskStatus}
    counts.update({status: int(n) for status, n in rows})
    return counts


def init_counts(conn: Connection, session_id: int) -> None:
    """Create the zeroed counter rows of a new session (one per status)."""
    conn.execute(insert(status_counts), [{"session_id": session_id, "status": s.value, "count": 0} for s in TaskStatus])


def set_counts(conn: Connection, session_id: int, counts: Mapping[str, int]) -> None:
    stmt = (
        update(status_counts)
        .where(and_(status_counts.c.session_id == session_id, status_counts.c.status == bindparam("s")))
        .values(count=bindparam("n"))
    )
    conn.execute(stmt, [{"s": s, "n": n} for s, n in counts.items()])


def dependency_cycle(conn: Connection, task_id: int, depends_on: Sequence[int]) -> list[int] | None:
    """The cycle ``task -> dep -> ... -> task`` (task ids) that giving the task exactly
    ``depends_on`` would close, or ``None``."""
    graph: dict[int, list[int]] = {task_id: list(depends_on)}
    frontier = [d for d in depends_on if d != task_id]
    seen = {task_id}
    while frontier:
        frontier = [d for d in dict.fromkeys(frontier) if d not in seen]
        if not frontier:
            break
        seen.update(frontier)
        for node in frontier:
            graph.setdefault(node, [])
        rows = conn.execute(
            select(task_dependencies.c.task_id, task_dependencies.c.depends_on_id).where(
                task_dependencies.c.task_id.in_(frontier)
            )
        )
        following = []
        for node, dep in rows:
            graph[node].append(dep)
            following.append(dep)
        frontier = following
    return find_cycle(graph)
