"""What the web view shows, read from the store with the services' own calls; read only.

One function per page, each taking the :class:`~taskorch.services.app.Orchestrator` and a
session id (the project), each one read transaction or a few: :func:`projects`, :func:`graph`,
:func:`board`, :func:`releases` (with burndowns from the audit trail), :func:`sync_health`,
:func:`activity`, and :func:`stamp`, which changes whenever anything a page shows may have
changed (the pages poll it). Raises :class:`~taskorch.errors.NotFound` for an unknown session.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from taskorch.domain import taskgraph
from taskorch.domain.model import TaskStatus
from taskorch.services import sessions, views
from taskorch.services.models import AuditEntry, ConflictView, Readiness, ReleaseView
from taskorch.services.webhooks import same_repository
from taskorch.store.tables import (
    git_integration_config,
    release_milestones,
    status_counts,
    sync_conflicts,
    sync_outbox,
    sync_state,
    sync_status_logs,
    task_events,
    task_labels,
    tasks,
    webhook_deliveries,
)
from taskorch.store.tables import (
    sessions as sessions_table,
)
from taskorch.store.taskgraph import graph_nodes

if TYPE_CHECKING:
    from taskorch.services.app import Orchestrator

__all__ = [
    "Board",
    "Burndown",
    "Card",
    "ProjectView",
    "ReleasePanel",
    "SyncHealth",
    "WebhookDelivery",
    "activity",
    "board",
    "graph",
    "projects",
    "releases",
    "stamp",
    "sync_health",
]

#: Most cards a board column shows (the column says how many more there are).
CARDS_PER_COLUMN = 200
FINISHED = frozenset({TaskStatus.COMPLETED.value, TaskStatus.CANCELLED.value})


class ProjectView(BaseModel):
    session_id: int
    name: str
    project_root: str
    counts: dict[str, int] = Field(description="Live tasks by status.")


class Card(BaseModel):
    """A task on the board: number, title, status, role, labels, assignees, claim, issue."""

    id: int
    title: str
    status: TaskStatus
    specialist_type: str
    labels: list[str]
    assignees: list[str]
    claimed_by: str | None
    issue_number: int | None
    ready: bool


class Column(BaseModel):
    name: str
    cards: list[Card]
    total: int = Field(description="Cards in the column, also those beyond the ones listed.")


class Board(BaseModel):
    """Columns by status, or by the platform board's columns (``platform_columns``) when the
    project has a board on its Git platform."""

    platform_columns: bool
    columns: list[Column]


class Burndown(BaseModel):
    """Remaining and completed tasks of a release over time: one point per change, UTC."""

    points: list[tuple[datetime, int, int]] = Field(description="(at, remaining, completed) after each change.")


class ReleasePanel(BaseModel):
    release: ReleaseView
    readiness: Readiness
    changelog: str
    burndown: Burndown


class SyncLog(BaseModel):
    id: int
    operation_type: str
    operation: str
    status: str
    records: int
    errors: int
    requests: int
    seconds: float | None
    error: str | None
    started_at: datetime


class WebhookDelivery(BaseModel):
    """A webhook delivery received for the connection's repository, as queued and processed."""

    platform: str
    delivery_id: str
    event: str
    status: str = Field(description="pending | done | ignored | failed")
    attempts: int
    received_at: datetime
    done_at: datetime | None
    error: str | None


class SyncHealth(BaseModel):
    """One connection: where, outbox depth and oldest pending entry, open conflicts, the rate
    budget as last seen, the last pull, the latest sync log rows and webhook deliveries."""

    platform: str
    repository: str
    tier: str
    outbox_pending: int
    outbox_failed: int
    outbox_oldest: datetime | None
    conflicts: list[ConflictView]
    rate_limit: dict[str, Any]
    last_pull_at: datetime | None
    logs: list[SyncLog]
    deliveries: list[WebhookDelivery] = Field(default_factory=list)


def _session(o: Orchestrator, conn: Any, session_id: int) -> Any:
    return sessions.get_session(conn, session_id)


def projects(o: Orchestrator) -> list[ProjectView]:
    """Every project (session) of the database with its live task counts, by name."""
    with o.db.transaction(write=False) as conn:
        counts: dict[int, dict[str, int]] = {}
        for sid, status, n in conn.execute(
            select(status_counts.c.session_id, status_counts.c.status, status_counts.c.count)
        ):
            if n:
                counts.setdefault(sid, {})[status] = n
        rows = conn.execute(
            select(sessions_table.c.id, sessions_table.c.name, sessions_table.c.project_root).order_by(
                sessions_table.c.name, sessions_table.c.id
            )
        )
        return [
            ProjectView(session_id=r.id, name=r.name, project_root=r.project_root, counts=counts.get(r.id, {}))
            for r in rows
        ]


def graph(o: Orchestrator, session_id: int) -> taskgraph.Layout:
    """The project's task graph laid out (see :func:`taskorch.domain.taskgraph.layout`)."""
    with o.db.transaction(write=False) as conn:
        _session(o, conn, session_id)
        return taskgraph.layout(graph_nodes(conn, session_id))


def board(o: Orchestrator, session_id: int) -> Board:
    """The project's cards in columns: the platform board's columns when one is configured
    (the same placement the sync engine uses), else one column per status."""
    from taskorch.sync.engine import DEFAULT_STATUS_MAPPING, board_column

    with o.db.transaction(write=False) as conn:
        _session(o, conn, session_id)
        config = conn.execute(
            select(git_integration_config.c.board_number, git_integration_config.c.status_mapping).where(
                git_integration_config.c.session_id == session_id
            )
        ).first()
        nodes = {n.number: n for n in graph_nodes(conn, session_id)}
        rows = list(
            conn.execute(
                select(
                    tasks.c.id,
                    tasks.c.number,
                    tasks.c.status,
                    tasks.c.specialist_type,
                    tasks.c.assignees,
                    tasks.c.unmet_dependencies,
                    tasks.c.priority_rank,
                )
                .where(tasks.c.session_id == session_id, tasks.c.archived.is_(False))
                .order_by(tasks.c.priority_rank, tasks.c.number)
            ).mappings()
        )
        labels: dict[int, list[str]] = {}
        for task_id, label in conn.execute(
            select(task_labels.c.task_id, task_labels.c.label)
            .join(tasks, tasks.c.id == task_labels.c.task_id)
            .where(tasks.c.session_id == session_id, tasks.c.archived.is_(False))
        ):
            labels.setdefault(task_id, []).append(label)
    platform = config is not None and config.board_number is not None
    mapping = dict(config.status_mapping or {}) if config is not None else {}
    names = (
        list(dict.fromkeys([*{**DEFAULT_STATUS_MAPPING, **mapping}.values()]))
        if platform
        else [s.value for s in TaskStatus]
    )
    columns: dict[str, Column] = {name: Column(name=name, cards=[], total=0) for name in names}
    for row in rows:
        node = nodes[row["number"]]
        name = (board_column(row, mapping) or "Backlog") if platform else row["status"]
        column = columns.setdefault(name, Column(name=name, cards=[], total=0))
        column.total += 1
        if len(column.cards) < CARDS_PER_COLUMN:
            column.cards.append(
                Card(
                    id=node.number,
                    title=node.title,
                    status=TaskStatus(node.status),
                    specialist_type=row["specialist_type"],
                    labels=sorted(labels.get(row["id"], [])),
                    assignees=list(row["assignees"] or []),
                    claimed_by=node.claimed_by,
                    issue_number=node.issue_number,
                    ready=node.ready,
                )
            )
    return Board(platform_columns=platform, columns=list(columns.values()))


def _burndown(conn: Any, task_ids: list[int]) -> Burndown:
    created = finished = 0
    done: set[int] = set()
    points: list[tuple[datetime, int, int]] = []
    if not task_ids:
        return Burndown(points=[])
    events = conn.execute(
        select(task_events.c.task_id, task_events.c.action, task_events.c.changes, task_events.c.created_at)
        .where(task_events.c.task_id.in_(task_ids), task_events.c.action.in_(["created", "status"]))
        .order_by(task_events.c.id)
    )
    for task_id, action, changes, at in events:
        if action == "created":
            created += 1
        else:
            new = (changes.get("status") or [None, None])[1]
            if new in FINISHED and task_id not in done:
                done.add(task_id)
                finished += 1
            elif new not in FINISHED and task_id in done:
                done.discard(task_id)
                finished -= 1
        if points and points[-1][0] == at:
            points[-1] = (at, created - finished, finished)
        else:
            points.append((at, created - finished, finished))
    return Burndown(points=points)


def releases(o: Orchestrator, session_id: int) -> list[ReleasePanel]:
    """Every release plan of the project, newest first, with its readiness, its notes (see
    :meth:`~taskorch.services.release.ReleaseService.preview`) and its burndown."""
    from taskorch.services.release import release_view
    from taskorch.store import repository as repo

    service = o.releases
    with o.db.transaction(write=False) as conn:
        _session(o, conn, session_id)
        panels = []
        for row in conn.execute(
            select(release_milestones)
            .where(release_milestones.c.session_id == session_id)
            .order_by(release_milestones.c.id.desc())
        ).mappings():
            readiness, notes, ids = service.preview(conn, row)
            view = release_view(row, repo.numbers_of(conn, row["included_features"] or []))
            panels.append(
                ReleasePanel(release=view, readiness=readiness, changelog=notes, burndown=_burndown(conn, ids))
            )
        return panels


#: How many of a platform's latest deliveries are looked at for one connection's repository.
DELIVERIES_SCANNED = 500


def _deliveries(conn: Any, platform: str, repository_url: str, limit: int) -> list[WebhookDelivery]:
    """The latest deliveries of ``platform`` naming the connection's repository, newest first.

    The repository is matched as the webhook worker matches it (``owner/name`` against an
    ``owner/name`` or a URL), so the latest :data:`DELIVERIES_SCANNED` of the platform are read and
    filtered here rather than by SQL."""
    rows = conn.execute(
        select(webhook_deliveries)
        .where(webhook_deliveries.c.platform == platform)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(DELIVERIES_SCANNED)
    ).mappings()
    found = [
        WebhookDelivery(
            platform=r["platform"],
            delivery_id=r["delivery_id"],
            event=r["event"],
            status=r["status"],
            attempts=r["attempts"],
            received_at=r["received_at"],
            done_at=r["done_at"],
            error=r["error"],
        )
        for r in rows
        if same_repository(repository_url, r["repository"] or "")
    ]
    return found[:limit]


def sync_health(o: Orchestrator, session_id: int, log_limit: int = 20, delivery_limit: int = 20) -> SyncHealth | None:
    """The project's connection to its Git platform, or ``None`` when it has none."""
    with o.db.transaction(write=False) as conn:
        _session(o, conn, session_id)
        config = (
            conn.execute(select(git_integration_config).where(git_integration_config.c.session_id == session_id))
            .mappings()
            .first()
        )
        if config is None:
            return None
        outbox: dict[str, tuple[int, datetime | None]] = {
            status: (n, oldest)
            for status, n, oldest in conn.execute(
                select(sync_outbox.c.status, func.count(), func.min(sync_outbox.c.created_at))
                .where(sync_outbox.c.session_id == session_id, sync_outbox.c.status.in_(["pending", "failed"]))
                .group_by(sync_outbox.c.status)
            )
        }
        state = conn.execute(select(sync_state).where(sync_state.c.session_id == session_id)).mappings().first()
        logs = [
            SyncLog(
                id=r["id"],
                operation_type=r["operation_type"],
                operation=r["operation"],
                status=r["operation_status"],
                records=r["records_processed"],
                errors=r["errors_encountered"],
                requests=r["requests"],
                seconds=r["execution_time_seconds"],
                error=r["error_details"],
                started_at=r["started_at"],
            )
            for r in conn.execute(
                select(sync_status_logs)
                .where(sync_status_logs.c.session_id == session_id)
                .order_by(sync_status_logs.c.id.desc())
                .limit(log_limit)
            ).mappings()
        ]
        deliveries = _deliveries(conn, config["platform"], config["repository_url"], delivery_limit)
    return SyncHealth(
        platform=config["platform"],
        repository=config["repository_url"],
        tier=config["tier"],
        outbox_pending=outbox.get("pending", (0, None))[0],
        outbox_failed=outbox.get("failed", (0, None))[0],
        outbox_oldest=min((v[1] for v in outbox.values() if v[1] is not None), default=None),
        conflicts=o.git.conflicts(session_id),
        rate_limit=dict(state["rate_limit"]) if state else {},
        last_pull_at=state["last_pull_at"] if state else None,
        logs=logs,
        deliveries=deliveries,
    )


def activity(
    o: Orchestrator,
    session_id: int,
    *,
    actor: str | None = None,
    task_id: int | None = None,
    tool: str | None = None,
    limit: int = 100,
) -> tuple[list[AuditEntry], dict[str, list[str]]]:
    """The newest ``limit`` audit entries (newest first) matching every filter given (``task_id``
    is a task number), and the actors and tools the project's trail names (for the filters)."""
    with o.db.transaction(write=False) as conn:
        _session(o, conn, session_id)
        entries = views.audit_entries(conn, session_id, task_number=task_id, actor=actor, tool=tool, limit=limit)
        in_project = task_events.c.session_id == session_id
        choices = {
            "actor": sorted(
                a for (a,) in conn.execute(select(task_events.c.actor).where(in_project).distinct()) if a is not None
            ),
            "tool": sorted(
                t for (t,) in conn.execute(select(task_events.c.tool).where(in_project).distinct()) if t is not None
            ),
        }
    return entries, choices


def stamp(o: Orchestrator, session_id: int) -> str:
    """A short text that changes whenever the project's tasks, sync log or conflicts change."""
    with o.db.transaction(write=False) as conn:
        _session(o, conn, session_id)
        parts = [
            conn.execute(
                select(func.coalesce(func.max(task_events.c.id), 0)).where(task_events.c.session_id == session_id)
            ).scalar_one(),
            conn.execute(
                select(func.coalesce(func.max(sync_status_logs.c.id), 0)).where(
                    sync_status_logs.c.session_id == session_id
                )
            ).scalar_one(),
            conn.execute(
                select(func.count()).where(sync_conflicts.c.session_id == session_id, sync_conflicts.c.status == "open")
            ).scalar_one(),
        ]
    return "-".join(str(p) for p in parts)
