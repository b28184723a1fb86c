"""The rows of the task graph: a session's live tasks as :class:`GraphNode` values.

Read by the services (the web view, ``taskorch graph``, handover and synthesis diagrams) and by
the sync engine (the diagram in a parent's issue body), in three indexed queries: tasks,
dependencies, issue links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection, and_, select

from taskorch.domain import taskgraph
from taskorch.domain.model import TaskStatus
from taskorch.store.tables import feature_issue_links, task_dependencies, tasks

__all__ = ["graph_nodes", "subtask_diagram"]


def graph_nodes(conn: Connection, session_id: int, *, parent_id: int | None = None) -> list[taskgraph.GraphNode]:
    """The live (not archived) tasks of session ``session_id`` as graph nodes, by number; only
    the subtasks of internal task id ``parent_id`` when given (their parent edge left out).

    Readiness is the ready queue's rule: pending, no unmet dependency, no subtask."""
    where = and_(tasks.c.session_id == session_id, tasks.c.archived.is_(False))
    if parent_id is not None:
        where = and_(where, tasks.c.parent_id == parent_id)
    rows = list(
        conn.execute(
            select(
                tasks.c.id,
                tasks.c.number,
                tasks.c.title,
                tasks.c.status,
                tasks.c.parent_number,
                tasks.c.unmet_dependencies,
                tasks.c.has_subtasks,
                tasks.c.claimed_by,
            )
            .where(where)
            .order_by(tasks.c.number)
        )
    )
    ids = [r.id for r in rows]
    depends: dict[int, list[int]] = {}
    issues: dict[int, int] = {}
    for chunk in _chunks(ids):
        dep = tasks.alias("dep")
        for task_id, dep_number in conn.execute(
            select(task_dependencies.c.task_id, dep.c.number)
            .join(dep, dep.c.id == task_dependencies.c.depends_on_id)
            .where(task_dependencies.c.task_id.in_(chunk))
        ):
            depends.setdefault(task_id, []).append(dep_number)
        for task_id, issue_number in conn.execute(
            select(feature_issue_links.c.task_id, feature_issue_links.c.issue_number).where(
                feature_issue_links.c.task_id.in_(chunk), feature_issue_links.c.issue_number.is_not(None)
            )
        ):
            issues[task_id] = issue_number
    return [
        taskgraph.GraphNode(
            number=r.number,
            title=r.title,
            status=r.status,
            parent=None if parent_id is not None else r.parent_number,
            depends_on=tuple(sorted(depends.get(r.id, ()))),
            claimed_by=r.claimed_by,
            issue_number=issues.get(r.id),
            ready=r.status == TaskStatus.PENDING.value and r.unmet_dependencies == 0 and not r.has_subtasks,
        )
        for r in rows
    ]


def _chunks(ids: Sequence[int], size: int = 900) -> list[Sequence[int]]:
    """``ids`` in slices small enough for SQLite's bound-parameter limit."""
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def subtask_diagram(conn: Connection, session_id: int, parent_id: int) -> str:
    """The Markdown section (a heading and a fenced Mermaid block) of the live subtasks of
    internal task id ``parent_id`` and the dependencies between them, with status and readiness;
    empty when it has none."""
    # Status and readiness only: claims and issue numbers would redraw the body on every claim
    # and after every sub-issue's creation (the platform lists sub-issues itself).
    nodes = [replace(n, claimed_by=None, issue_number=None) for n in graph_nodes(conn, session_id, parent_id=parent_id)]
    lines = taskgraph.markdown_diagram(nodes, heading="### Subtasks")
    return "\n".join(lines) + "\n" if lines else ""
