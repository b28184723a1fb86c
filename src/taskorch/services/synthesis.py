"""Synthesis: combine the completed subtasks' results into one account stored on the parent.

When every subtask is finished and at least one completed, the parent is completed too (through
in_progress, so both moves are valid transitions and both are audited).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, RowMapping, select

from taskorch.domain.model import ACTIVE_STATUSES, TaskStatus
from taskorch.errors import Conflict, InvalidInput
from taskorch.hints import REQUIRED, Hint, Message, attach, render
from taskorch.services import views
from taskorch.services.models import ArtifactView, SynthesisResult
from taskorch.store import repository as repo
from taskorch.store.tables import tasks
from taskorch.store.taskgraph import subtask_diagram

__all__ = ["render_synthesis", "synthesize_results"]

#: Longest detailed_work quoted per artifact in the synthesis, in characters.
DETAIL_LIMIT = 2000


def render_synthesis(
    parent: RowMapping, children: list[RowMapping], artifacts: dict[int, list[ArtifactView]], diagram: str = ""
) -> str:
    """Markdown: per completed subtask its summary, work, files and follow-ups; then what is open;
    then ``diagram`` (the subtasks' Mermaid section), when given."""
    completed = [c for c in children if c["status"] == TaskStatus.COMPLETED.value]
    open_ = [c for c in children if c["status"] in ACTIVE_STATUSES]
    cancelled = [c for c in children if c["status"] == TaskStatus.CANCELLED.value]
    lines = [
        f"# Synthesis: {parent['title']}",
        "",
        f"{len(completed)} of {len(children)} subtasks completed"
        + (f", {len(cancelled)} cancelled" if cancelled else "")
        + (f", {len(open_)} still open" if open_ else "")
        + ".",
    ]
    files: list[str] = []
    follow_ups: list[str] = []
    for child in completed:
        lines += ["", f"## {child['title']} (task {child['number']}, {child['specialist_type']})"]
        for art in artifacts.get(child["id"], []):
            lines += ["", art.summary.strip()]
            detail = art.detailed_work.strip()
            if detail:
                if len(detail) > DETAIL_LIMIT:
                    detail = detail[:DETAIL_LIMIT].rstrip() + " [...]"
                lines += ["", detail]
            if art.file_paths:
                lines += ["", "Files: " + ", ".join(f"`{p}`" for p in art.file_paths)]
                files += [p for p in art.file_paths if p not in files]
            if art.next_action:
                follow_ups.append(f"- {art.next_action.strip()} (from task {child['number']})")
    if files:
        lines += ["", "## Files touched", "", *(f"- `{p}`" for p in files)]
    if follow_ups:
        lines += ["", "## Follow-ups", "", *follow_ups]
    if open_:
        lines += [
            "",
            "## Still open",
            "",
            *(f"- task {c['number']}: {c['title']} ({c['status']})" for c in open_),
        ]
    if cancelled:
        lines += [
            "",
            "## Cancelled",
            "",
            *(
                f"- task {c['number']}: {c['title']}" + (f" ({c['status_reason']})" if c["status_reason"] else "")
                for c in cancelled
            ),
        ]
    if diagram:
        lines += ["", diagram.rstrip("\n")]
    return "\n".join(lines) + "\n"


def synthesize_results(conn: Connection, *, parent_task_id: int, at: datetime) -> SynthesisResult:
    """Store the synthesis on the parent; complete the parent when all its subtasks are finished.

    Raises :class:`InvalidInput` (no subtasks), :class:`Conflict` (archived parent).
    """
    parent = repo.get_task(conn, parent_task_id, for_update=True)
    number = parent["number"]
    if parent["archived"]:
        raise Conflict(f"task {number} is archived; archived tasks cannot be changed.")
    children = list(
        conn.execute(
            select(tasks)
            .where(tasks.c.parent_id == parent_task_id, tasks.c.archived.is_(False))
            .order_by(tasks.c.number)
        ).mappings()
    )
    if not children:
        raise InvalidInput(
            "parent_task_id",
            f"task {number} has no subtasks to synthesize.",
            (
                "pass the number of a task planned with subtasks, or complete this task with ",
                Hint("complete_task", {"task_id": number, "summary": REQUIRED}),
                ".",
            ),
        )
    arts = views.artifacts_of(conn, [c["id"] for c in children])
    text = render_synthesis(parent, children, arts, subtask_diagram(conn, parent["session_id"], parent_task_id))
    repo.update_fields(conn, parent, {"synthesis": text}, tool="synthesize_results", at=at)
    repo.reindex(conn, parent_task_id)

    open_children = [c for c in children if c["status"] in ACTIVE_STATUSES]
    completed = [c for c in children if c["status"] == TaskStatus.COMPLETED.value]
    status = TaskStatus(parent["status"])
    if not open_children and completed and status in ACTIVE_STATUSES:
        if status is not TaskStatus.IN_PROGRESS:
            repo.change_status(
                conn,
                repo.get_task(conn, parent_task_id),
                TaskStatus.IN_PROGRESS,
                tool="synthesize_results",
                at=at,
            )
        repo.change_status(
            conn, repo.get_task(conn, parent_task_id), TaskStatus.COMPLETED, tool="synthesize_results", at=at
        )
        status = TaskStatus.COMPLETED
    next_step: Message
    if open_children:
        next_step = (
            f"{len(open_children)} subtask(s) are still open; finish them (",
            Hint("get_status"),
            " shows the ready queue) and synthesize again.",
        )
    elif status is TaskStatus.COMPLETED:
        next_step = (f"Task {number} is completed with its synthesis. See what is next with ", Hint("get_status"), ".")
    else:
        next_step = ("No subtask was completed; re-plan the work or cancel this task.",)
    result = SynthesisResult(
        parent_id=number,
        synthesis=text,
        completed=[views.brief(c) for c in completed],
        open=[views.brief(c) for c in open_children],
        parent_status=status,
        next_step=render(next_step),
    )
    return attach(result, next_step)
