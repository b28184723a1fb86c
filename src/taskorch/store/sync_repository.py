"""The SQL of the sync tables: links, outbox, conflicts, sync logs and sync state.

Every function runs in the caller's transaction (``conn``) and neither commits nor calls a
platform. Task ids are internal ids; issue numbers are the platform's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, RowMapping, select

from taskorch.domain.graph import find_cycle
from taskorch.store.tables import feature_issue_links, task_dependencies, tasks

__all__ = [
    "dependency_cycle",
    "issue_numbers_of",
    "link_of",
    "task_ids_of_issues",
    "task_ids_of_numbers",
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
