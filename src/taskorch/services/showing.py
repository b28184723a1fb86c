"""Reading without changing: one task as its specialist would receive it, and the plan as a tree."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, select

from taskorch.services import views
from taskorch.services.execution import specialist_context
from taskorch.services.models import IssueLinkView, ShowResult, TaskBrief, TreeResult
from taskorch.specialists import RoleLibrary
from taskorch.store import repository as repo
from taskorch.store.tables import feature_issue_links, tasks

__all__ = ["AUDIT_SHOWN", "TREE_LIMIT", "show_task", "task_tree"]

#: How many audit entries show_task returns (the newest; the audit command pages further).
AUDIT_SHOWN = 50
#: At most this many tasks in a tree (the first by number).
TREE_LIMIT = 10_000


def show_task(conn: Connection, *, task_id: int, roles: RoleLibrary) -> ShowResult:
    """Everything execute_task would hand the specialist of ``task_id`` (internal id), plus the
    task's artifacts and subtasks, its newest :data:`AUDIT_SHOWN` audit entries and its linked
    issue. Changes nothing: the task is not started. Raises :class:`NotFound`."""
    task = repo.get_task(conn, task_id)
    context = specialist_context(conn, task, roles, include_artifacts=True)
    audit = views.audit_entries(conn, task["session_id"], task_number=task["number"], limit=AUDIT_SHOWN)[::-1]
    return ShowResult(**context, audit=audit, issue=_issue(conn, task))


def _issue(conn: Connection, task: RowMapping) -> IssueLinkView | None:
    link = (
        conn.execute(select(feature_issue_links).where(feature_issue_links.c.task_id == task["id"])).mappings().first()
    )
    if link is None:
        return None
    return IssueLinkView(
        task_id=task["number"],
        platform=link["platform"],
        repository=link["repository"],
        issue_number=link["issue_number"],
        issue_url=link["issue_url"],
        sync_status=link["sync_status"],
        last_synced=link["last_synced"],
        error=link["error"],
    )


def task_tree(conn: Connection, *, session_id: int, project_root: str) -> TreeResult:
    """The live (not archived) tasks of the session, by number (at most :data:`TREE_LIMIT`), as
    briefs with ``parent_id``."""
    briefs: list[TaskBrief] = views.briefs(
        conn,
        (tasks.c.session_id == session_id) & tasks.c.archived.is_(False),
        order_by=[tasks.c.number],
        limit=TREE_LIMIT,
    )
    return TreeResult(session_id=session_id, project_root=project_root, tasks=briefs)
