"""Maintenance of a session's data: stale work, structure checks, archiving, vacuum, handover.

Every action reports what it found as :class:`Finding` rows; with ``dry_run`` nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, RowMapping, func, select, text, update

from taskorch.domain.graph import find_cycle
from taskorch.domain.model import ACTIVE_STATUSES, TERMINAL_STATUSES, TaskStatus
from taskorch.services import query, views
from taskorch.services.models import Finding, MaintenanceResult
from taskorch.store import repository as repo
from taskorch.store import search
from taskorch.store.tables import artifacts, sessions, task_dependencies, tasks

__all__ = ["Action", "archive_completed", "prepare_handover", "scan_cleanup", "validate_structure"]

Action = Literal["scan_cleanup", "validate_structure", "archive_completed", "vacuum", "prepare_handover"]


def scan_cleanup(
    conn: Connection, *, session_id: int, stale_after: timedelta, dry_run: bool, at: datetime
) -> MaintenanceResult:
    """Stale in-progress tasks (untouched for ``stale_after``) go back to pending; orphaned
    artifacts and search documents are removed."""
    findings: list[Finding] = []
    changed = 0
    cutoff = at - stale_after
    stale = list(
        conn.execute(
            select(tasks)
            .where(
                tasks.c.session_id == session_id,
                tasks.c.archived.is_(False),
                tasks.c.status == TaskStatus.IN_PROGRESS.value,
                tasks.c.updated_at < cutoff,
            )
            .order_by(tasks.c.id)
        ).mappings()
    )
    hours = stale_after.total_seconds() / 3600
    for row in stale:
        findings.append(
            Finding(
                kind="stale_in_progress",
                task_id=row["number"],
                detail=f"in progress and untouched since {row['updated_at'].isoformat()} (over {hours:g} h); "
                "returned to pending so it can be picked up again"
                if not dry_run
                else f"in progress and untouched since {row['updated_at'].isoformat()} (over {hours:g} h)",
                fixed=not dry_run,
            )
        )
        if not dry_run:
            repo.change_status(
                conn,
                row,
                TaskStatus.PENDING,
                tool="maintenance_coordinator",
                at=at,
                extra={"status_reason": "stale: returned to pending by scan_cleanup"},
            )
            changed += 1
    orphans = list(
        conn.execute(
            select(artifacts.c.id, artifacts.c.task_id)
            .outerjoin(tasks, tasks.c.id == artifacts.c.task_id)
            .where(tasks.c.id.is_(None))
        )
    )
    for art_id, _task_id in orphans:
        findings.append(
            Finding(
                kind="orphaned_artifact",
                detail=f"artifact {art_id} belongs to no task",
                fixed=not dry_run,
            )
        )
    if orphans and not dry_run:
        conn.execute(artifacts.delete().where(artifacts.c.id.in_([a for a, _ in orphans])))
        changed += len(orphans)
    key = "rowid" if conn.dialect.name == "sqlite" else "task_id"
    orphan_docs = [
        int(r[0]) for r in conn.execute(text(f"SELECT {key} FROM task_fts WHERE {key} NOT IN (SELECT id FROM tasks)"))
    ]
    for _doc in orphan_docs:
        findings.append(
            Finding(
                kind="orphaned_search_document",
                detail="search document of a task that no longer exists",
                fixed=not dry_run,
            )
        )
    if orphan_docs and not dry_run:
        search.remove_task(conn, orphan_docs)
        changed += len(orphan_docs)
    return MaintenanceResult(action="scan_cleanup", dry_run=dry_run, findings=findings, changed=changed)


def validate_structure(conn: Connection, *, session_id: int, dry_run: bool) -> MaintenanceResult:
    """Foreign keys, acyclic dependencies, parent/child status consistency, the derived counters
    (fixed unless ``dry_run``) and the database's own integrity check."""
    findings: list[Finding] = []
    changed = 0
    if conn.dialect.name == "sqlite":
        for row in conn.execute(text("PRAGMA foreign_key_check")):
            findings.append(
                Finding(kind="foreign_key", detail=f"table {row[0]} row {row[1]} points at a missing {row[2]} row")
            )
        result = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
        if result != ["ok"]:
            findings += [Finding(kind="integrity", detail=str(line)) for line in result]
    edges: dict[int, list[int]] = {}
    for task_id, dep in conn.execute(
        select(task_dependencies.c.task_id, task_dependencies.c.depends_on_id)
        .join(tasks, tasks.c.id == task_dependencies.c.task_id)
        .where(tasks.c.session_id == session_id)
    ):
        edges.setdefault(task_id, []).append(dep)
    cycle = find_cycle(edges)
    if cycle:
        numbers = repo.numbers_of(conn, cycle)
        findings.append(
            Finding(
                kind="dependency_cycle",
                task_id=numbers[cycle[0]],
                detail="dependency cycle: " + " -> ".join(f"task {numbers[i]}" for i in cycle),
            )
        )
    parent = tasks.alias("parent")
    for child_id, child_status, parent_id, parent_status in conn.execute(
        select(tasks.c.number, tasks.c.status, parent.c.number, parent.c.status)
        .join(parent, parent.c.id == tasks.c.parent_id)
        .where(
            tasks.c.session_id == session_id,
            tasks.c.archived.is_(False),
            parent.c.status == TaskStatus.COMPLETED.value,
            tasks.c.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
    ):
        findings.append(
            Finding(
                kind="parent_child_status",
                task_id=parent_id,
                detail=f"parent {parent_id} is {parent_status} but subtask {child_id} is {child_status}",
            )
        )
    for (number,) in conn.execute(
        select(tasks.c.number)
        .join(parent, parent.c.id == tasks.c.parent_id)
        .where(tasks.c.session_id == session_id, parent.c.session_id != session_id)
    ):
        findings.append(Finding(kind="cross_session_parent", task_id=number, detail="its parent is in another project"))
    # The parent's number is copied into each subtask; the session's counter stays above every number.
    for task_id, number, stored_parent, real_parent in conn.execute(
        select(tasks.c.id, tasks.c.number, tasks.c.parent_number, parent.c.number)
        .join(parent, parent.c.id == tasks.c.parent_id)
        .where(tasks.c.session_id == session_id, tasks.c.parent_number.is_distinct_from(parent.c.number))
    ):
        findings.append(
            Finding(
                kind="parent_number",
                task_id=number,
                fixed=not dry_run,
                detail=f"parent_number is {stored_parent} but the parent is task {real_parent}",
            )
        )
        if not dry_run:
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(parent_number=real_parent))
            changed += 1
    highest = conn.execute(select(func.max(tasks.c.number)).where(tasks.c.session_id == session_id)).scalar_one()
    counter = conn.execute(select(sessions.c.next_task_number).where(sessions.c.id == session_id)).scalar_one()
    if highest is not None and counter <= highest:
        findings.append(
            Finding(
                kind="task_number_counter",
                fixed=not dry_run,
                detail=f"next_task_number is {counter} but task {highest} exists",
            )
        )
        if not dry_run:
            conn.execute(update(sessions).where(sessions.c.id == session_id).values(next_task_number=highest + 1))
            changed += 1

    # Derived columns, recomputed from the rows themselves.
    stored, actual = repo.stored_counts(conn, session_id), repo.recount(conn, session_id)
    if stored != actual:
        findings.append(Finding(kind="status_counts", detail=f"stored {stored}, actual {actual}", fixed=not dry_run))
        if not dry_run:
            repo.set_counts(conn, session_id, actual)
            changed += 1
    dep = tasks.alias("dep")
    unmet = (
        select(func.count())
        .select_from(task_dependencies.join(dep, dep.c.id == task_dependencies.c.depends_on_id))
        .where(task_dependencies.c.task_id == tasks.c.id, dep.c.status != TaskStatus.COMPLETED.value)
        .scalar_subquery()
    )
    child = tasks.alias("child")
    open_subs = (
        select(func.count())
        .select_from(child)
        .where(
            child.c.parent_id == tasks.c.id,
            child.c.archived.is_(False),
            child.c.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .scalar_subquery()
    )
    has_children = select(func.count()).select_from(child).where(child.c.parent_id == tasks.c.id).scalar_subquery() > 0
    for task_id, number, flag in conn.execute(
        select(tasks.c.id, tasks.c.number, tasks.c.has_subtasks).where(
            tasks.c.session_id == session_id, tasks.c.has_subtasks != has_children
        )
    ):
        findings.append(
            Finding(
                kind="derived_counters",
                task_id=number,
                fixed=not dry_run,
                detail=f"has_subtasks is {flag} but the task has {'no ' if flag else ''}subtasks",
            )
        )
        if not dry_run:
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(has_subtasks=not flag))
            changed += 1
    drift = list(
        conn.execute(
            select(
                tasks.c.id, tasks.c.number, tasks.c.unmet_dependencies, unmet, tasks.c.open_subtasks, open_subs
            ).where(
                tasks.c.session_id == session_id,
                (tasks.c.unmet_dependencies != unmet) | (tasks.c.open_subtasks != open_subs),
            )
        )
    )
    for task_id, number, stored_unmet, real_unmet, stored_open, real_open in drift:
        findings.append(
            Finding(
                kind="derived_counters",
                task_id=number,
                fixed=not dry_run,
                detail=f"unmet_dependencies {stored_unmet} (actual {real_unmet}), "
                f"open_subtasks {stored_open} (actual {real_open})",
            )
        )
        if not dry_run:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(unmet_dependencies=real_unmet, open_subtasks=real_open)
            )
            changed += 1
    return MaintenanceResult(action="validate_structure", dry_run=dry_run, findings=findings, changed=changed)


def archive_completed(
    conn: Connection, *, session_id: int, older_than_days: int, dry_run: bool, at: datetime
) -> MaintenanceResult:
    """Archive completed and cancelled tasks finished more than ``older_than_days`` days ago."""
    cutoff = at - timedelta(days=older_than_days)
    rows = list(
        conn.execute(
            select(tasks.c.id, tasks.c.number, tasks.c.title, tasks.c.status, tasks.c.completed_at)
            .where(
                tasks.c.session_id == session_id,
                tasks.c.archived.is_(False),
                tasks.c.status.in_([s.value for s in TERMINAL_STATUSES]),
                tasks.c.completed_at < cutoff,
                # A finished parent waits until none of its subtasks is still live and unfinished.
                tasks.c.open_subtasks == 0,
            )
            .order_by(tasks.c.id)
        )
    )
    findings = [
        Finding(
            kind="archivable",
            task_id=r.number,
            fixed=not dry_run,
            detail=f"{r.status} on {r.completed_at.date().isoformat()}: {r.title}",
        )
        for r in rows
    ]
    changed = 0
    if rows and not dry_run:
        changed = len(repo.archive_tasks(conn, [r.id for r in rows], tool="maintenance_coordinator", at=at))
    return MaintenanceResult(action="archive_completed", dry_run=dry_run, findings=findings, changed=changed)


def prepare_handover(conn: Connection, *, session: RowMapping) -> MaintenanceResult:
    """A Markdown handover of the session: counts, work in progress with its latest results,
    the ready queue, what is blocked and by what, the latest completions, and the task graph as
    a Mermaid diagram."""
    status = query.get_status(conn, session_id=session["id"], project_root=session["project_root"])
    lines = [
        f"# Handover: {session['name']}",
        "",
        f"Project: `{session['project_root']}`",
        "",
        "| status | tasks |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in status.counts.items()]
    numbers = [t.id for t in status.in_progress] + [t.id for t in status.recently_completed]
    rows = {
        row["number"]: row
        for row in conn.execute(
            select(tasks).where(tasks.c.session_id == session["id"], tasks.c.number.in_(numbers))
        ).mappings()
    }
    lines += ["", "## In progress", ""]
    if not status.in_progress:
        lines.append("Nothing is in progress.")
    for t in status.in_progress:
        row = rows[t.id]
        lines.append(
            f"- task {t.id}: {t.title} ({t.specialist_type}), started "
            f"{row['started_at'].isoformat() if row['started_at'] else 'unknown'}"
        )
    lines += ["", "## Ready to start", ""]
    lines += [f"- task {t.id}: {t.title} [{t.priority}, {t.specialist_type}]" for t in status.ready] or [
        "Nothing is ready."
    ]
    lines += ["", "## Blocked", ""]
    lines += [
        f"- task {b.task.id}: {b.task.title} — {b.reason}"
        + (" (" + ", ".join(f"task {x.id} {x.status}" for x in b.blockers) + ")" if b.blockers else "")
        for b in status.blocked
    ] or ["Nothing is blocked."]
    lines += ["", "## Recently completed", ""]
    latest = views.artifacts_of(conn, [rows[t.id]["id"] for t in status.recently_completed])
    for t in status.recently_completed:
        found = latest[rows[t.id]["id"]]
        summary = found[-1].summary if found else "(no artifact)"
        lines.append(f"- task {t.id}: {t.title} — {summary}")
    if not status.recently_completed:
        lines.append("Nothing completed yet.")
    from taskorch.domain.taskgraph import markdown_diagram
    from taskorch.store.taskgraph import graph_nodes

    diagram = markdown_diagram(graph_nodes(conn, session["id"]), heading="## Task graph")
    lines += ["", *diagram] if diagram else []
    lines += [
        "",
        "To resume, initialize a session on the same project, then read its status.",
    ]
    report = "\n".join(lines) + "\n"
    return MaintenanceResult(action="prepare_handover", dry_run=True, findings=[], changed=0, report=report)
