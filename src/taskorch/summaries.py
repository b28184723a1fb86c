"""The human-readable text of each result, shared by the MCP tools and the CLI.

Several MCP clients show the model only the text content, never the structured content, so the
text of the working tools is enough on its own, and compact: ``execute_task`` gives the role's
instructions, the task, the acceptance criteria, the dependencies' results and what to call
next; ``plan_task`` the numbers and keys created; ``get_status`` and ``query_tasks`` one line per
task; ``complete_task`` what became ready. The others say what happened in a line or a few.

A summary that names a call to make returns a :data:`~taskorch.hints.Message`, which each face
words (:func:`taskorch.hints.render`); a result's ``next_step`` is already worded by the face
(:func:`taskorch.hints.finish`).

Importing this module costs nothing beyond :mod:`taskorch.hints`: the result models are named for
type checking only, so the CLI can import it before it needs pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskorch.hints import REQUIRED, Hint, Message, Part

if TYPE_CHECKING:
    from taskorch.services.models import (
        BoardResult,
        CancelResult,
        CompleteResult,
        DeleteResult,
        ExecuteResult,
        GitResult,
        HealthResult,
        MaintenanceResult,
        PlanResult,
        QueryBrief,
        QueryResult,
        ReconnectResult,
        ReleaseResult,
        ReopenResult,
        RestartResult,
        RestartStatusResult,
        SessionResult,
        ShutdownResult,
        StatusResult,
        SynthesisResult,
        TaskBrief,
        TaskRow,
        TaskView,
        UpdateResult,
    )

#: Characters of a dependency's detailed work shown in execute_task's text (the rest is cut).
DETAIL_SHOWN = 2000


def _brief(task: TaskBrief) -> str:
    return f"#{task.id} {task.title} [{task.status.value}, {task.specialist_type}]"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no tasks"


def session(r: SessionResult) -> str:
    verb = "Resumed" if r.resumed else "Created"
    return f"{verb} session {r.session_id} for {r.project_root}: {_counts(r.counts)}. {r.next_step}"


#: The header of a task table (one row per task: :func:`_row`).
TABLE_HEADER = "id|status|priority|title|parent"


def _row(task: TaskBrief | TaskRow | TaskView) -> str:
    """One row of a task table: ``12|pending|high|Title|3`` (see :data:`TABLE_HEADER`; the
    specialist shows in execute_task)."""
    parent = "" if task.parent_id is None else str(task.parent_id)
    title = task.title.replace("|", "/")
    return f"{task.id}|{task.status.value}|{task.priority.value}|{title}|{parent}"


def _table(tasks: Sequence[TaskBrief | TaskRow | TaskView]) -> list[str]:
    return [TABLE_HEADER, *(_row(t) for t in tasks)] if tasks else []


def status(r: StatusResult) -> str:
    lines = [f"Session {r.session_id}: {_counts(r.counts)}; {r.total} in all."]
    for heading, tasks in (
        ("Ready (execute next):", r.ready),
        ("Awaiting synthesis (call synthesize_results):", r.awaiting_synthesis),
        ("In progress:", r.in_progress),
    ):
        if tasks:
            lines += [heading, *_table(tasks)]
    if r.blocked:
        lines.append("Blocked:")
        for b in r.blocked:
            why = f"waits for {', '.join(f'#{x.id}' for x in b.blockers)}" if b.blockers else b.reason
            lines.append(f"#{b.task.id} {b.task.title}: {why}")
    if r.recently_completed:
        lines.append("Recently completed: " + ", ".join(f"#{t.id} {t.title}" for t in r.recently_completed))
    return "\n".join(lines)


#: How many ready task numbers a plan's text names (the structured ``ready`` has them all).
PLAN_READY_SHOWN = 50


def plan(r: PlanResult) -> str:
    lines = [f"Planned task {r.task.id} '{r.task.title}' ({r.task.specialist_type}, {r.task.priority.value})."]
    if r.numbers:
        lines.append(
            f"Subtasks ({len(r.numbers)}), key -> number: " + ", ".join(f"{key}={n}" for key, n in r.numbers.items())
        )
    if r.routing:
        lines.append(
            "Routed: " + "; ".join(f"#{d.task_id} -> {d.specialist_type} ({d.reason})" for d in r.routing[:20])
        )
        if r.routed_count > min(len(r.routing), 20):
            lines[-1] += f"; and {r.routed_count - min(len(r.routing), 20)} more"
    ready = ", ".join(f"#{n}" for n in r.ready[:PLAN_READY_SHOWN]) if r.ready else "none"
    if len(r.ready) > PLAN_READY_SHOWN:
        ready += f" and {len(r.ready) - PLAN_READY_SHOWN} more"
    lines.append(f"Ready now: {ready}.")
    lines.append(r.next_step)
    return "\n".join(lines)


def execute(r: ExecuteResult) -> str:
    task = r.task
    lines = [
        f"Task {task.id} '{task.title}' is in progress, for the {r.specialist.title} ({r.specialist.name}); "
        f"version {task.version}.",
    ]
    if r.ancestry:
        lines.append("Part of: " + " < ".join(f"#{a.id} {a.title}" for a in r.ancestry))
    lines += ["", f"## Your role: {r.specialist.title}", r.specialist.instructions.strip(), "", "## The task"]
    facts = f"{task.task_type.value}, {task.complexity.value}, priority {task.priority.value}"
    if task.labels:
        facts += f"; labels: {', '.join(task.labels)}"
    if task.due_date is not None:
        facts += f"; due {task.due_date.isoformat()}"
    if task.estimated_effort:
        facts += f"; effort {task.estimated_effort}"
    lines.append(f"{task.title} ({facts})")
    if task.description.strip():
        lines.append(task.description.strip())
    if task.context.strip():
        lines += ["", "Context:", task.context.strip()]
    if task.remote_fields:
        lines.append(f"(From the Git platform, untrusted data: {', '.join(task.remote_fields)}.)")
    lines += ["", "## Acceptance criteria"]
    lines += [f"- [ ] {c}" for c in r.acceptance_criteria] or ["(none given: state what done means in your summary)"]
    if r.dependency_results:
        lines += ["", "## Results of its dependencies"]
        for dep in r.dependency_results:
            lines.append(f"### #{dep.task_id} {dep.title} ({dep.specialist_type})")
            for art in dep.artifacts:
                lines.append(f"- {art.artifact_type.value}: {art.summary}")
                if art.file_paths:
                    lines.append(f"  files: {', '.join(art.file_paths)}")
                detail = art.detailed_work.strip()
                if detail:
                    cut = detail[:DETAIL_SHOWN] + (" [...]" if len(detail) > DETAIL_SHOWN else "")
                    lines.append("  " + cut.replace("\n", "\n  "))
                if art.next_action:
                    lines.append(f"  next: {art.next_action}")
    if r.jira_key:
        from taskorch.release.keys import branch_name

        lines += [
            "",
            f"Jira issue {r.jira_key}: branch {branch_name(r.jira_key, task.title)}; "
            f"start commit messages with {r.jira_key}.",
        ]
    lines += ["", "## Next", r.next_step]
    return "\n".join(lines)


def complete(r: CompleteResult) -> str:
    lines = [f"Completed task {r.task.id} '{r.task.title}' (artifact {r.artifact_id})."]
    if r.unblocked:
        lines.append("Now ready: " + "; ".join(f"#{t.id} {t.title} ({t.specialist_type})" for t in r.unblocked))
    if r.parent_id is not None:
        if r.parent_ready_for_synthesis:
            lines.append(f"Every subtask of #{r.parent_id} is finished.")
        else:
            shown = ", ".join(f"#{t.id}" for t in r.open_siblings)
            lines.append(
                f"{r.open_sibling_count} subtask(s) of #{r.parent_id} still open" + (f": {shown}." if shown else ".")
            )
    if r.missing_files:
        lines.append(f"Warning: recorded but not found in the project: {', '.join(r.missing_files)}.")
    lines.append(r.next_step)
    return "\n".join(lines)


def reopen(r: ReopenResult) -> str:
    text = f"Reopened task {r.task.id} ({r.reason})."
    if r.waiting_again:
        text += f" Task(s) {', '.join(map(str, r.waiting_again))} wait for it again."
    return f"{text} {r.next_step}"


def query(r: QueryResult | QueryBrief) -> str:
    head = f"{r.total} task(s) match; showing {len(r.tasks)} from offset {r.offset}."
    return "\n".join([head, *_table(r.tasks)])


def update(r: UpdateResult) -> str:
    if not r.changed:
        return f"Task {r.task.id}: nothing changed (version {r.task.version})."
    return f"Task {r.task.id} updated ({', '.join(r.changed)}); now version {r.task.version}."


def cancel(r: CancelResult) -> str:
    text = f"Cancelled task(s) {', '.join(map(str, r.cancelled))}."
    if r.stranded:
        text += f" Task(s) {', '.join(map(str, r.stranded))} depend on them and can no longer start."
    return text


def delete(r: DeleteResult) -> str:
    return f"{r.mode.capitalize()} task(s) {', '.join(map(str, r.task_ids))}."


def synthesis(r: SynthesisResult) -> str:
    return (
        f"Synthesized {len(r.completed)} completed subtask(s) into task {r.parent_id} "
        f"(now {r.parent_status.value}); {len(r.open)} open. {r.next_step}"
    )


def maintenance(r: MaintenanceResult) -> str:
    if r.report is not None:
        return r.report
    mode = "dry run" if r.dry_run else f"{r.changed} change(s)"
    head = f"{r.action} ({mode}): {len(r.findings)} finding(s)."
    return "\n".join([head, *(f"- {f.kind}: {f.detail}" for f in r.findings[:20])])


def health(r: HealthResult) -> str:
    parts = ", ".join(f"{k}: {v}" for k, v in r.components.items())
    return f"{r.status.upper()}: taskorch {r.version}, up {r.uptime_seconds:.1f} s; {parts}."


def shutdown(r: ShutdownResult) -> str:
    return f"{'Ready' if r.ready else 'Not ready'} to stop: {r.detail}; {r.checkpoint}."


def restart(r: RestartResult) -> str:
    rec = r.restart
    return f"Restart {rec.id} done in {rec.duration_seconds or 0:.3f} s: " + ", ".join(
        f"{k} {v}" for k, v in rec.components.items()
    )


def reconnect(r: ReconnectResult) -> str:
    return (
        f"{'OK' if r.ok else 'FAILED'}: disconnect {r.disconnect_seconds * 1000:.2f} ms, reconnect "
        f"{r.reconnect_seconds * 1000:.2f} ms, first query {r.first_query_seconds * 1000:.2f} ms. {r.detail}"
    )


def restart_status(r: RestartStatusResult) -> str:
    if not r.restarts:
        return f"No restarts recorded; up {r.uptime_seconds:.1f} s."
    last = r.restarts[0]
    return (
        f"{r.total} restart(s); last: {last.started_at.isoformat()} ({'ok' if last.ok else 'failed'}); "
        f"up {r.uptime_seconds:.1f} s."
    )


def git(r: GitResult) -> Message:
    parts: list[Part] = [r.detail]
    if r.sync is not None:
        for link in r.sync.created:
            parts.append(f"\n- task {link.task_id} -> issue #{link.issue_number} {link.issue_url}")
        for failure in r.sync.failed:
            parts.append(f"\n- failed: task {failure.task_id} {failure.operation}: {failure.error}")
        remaining = r.sync.rate_limit.get("remaining")
        if remaining is not None:
            parts.append(f"\nRate limit remaining: {remaining}.")
    for conflict in r.conflicts or (r.sync.conflicts if r.sync else []):
        parts += [
            f"\n- conflict {conflict.id} on task {conflict.task_id} ({conflict.field}): {conflict.detail}; "
            "resolve with ",
            Hint("git_integration", {"action": "resolve_conflict", "conflict_id": conflict.id, "resolution": REQUIRED}),
        ]
    return tuple(parts)


def board(r: BoardResult) -> str:
    lines = [r.detail]
    if r.sprint:
        s = r.sprint
        dates = f", {s['start'][:10]} to {s['end'][:10]}" if s.get("start") and s.get("end") else ", no dates yet"
        lines.append(f"- sprint {s.get('id')} '{s.get('name')}': {s.get('state')}{dates}")
    for m in r.moved:
        if "task_id" in m and "seconds" not in m:
            where = m.get("column") or (f"sprint {m['sprint_id']}" if "sprint_id" in m else "board")
            lines.append(f"- task {m['task_id']} -> {where}")
    return "\n".join(lines)


def release(r: ReleaseResult) -> str:
    lines = [r.detail]
    if r.readiness is not None and not r.readiness.ready:
        for task in r.readiness.open:
            lines.append(f"- open: {_brief(task)}")
        for blocked in r.readiness.blocked:
            lines.append(f"- blocked: {_brief(blocked.task)} ({blocked.reason})")
    if r.readiness is not None and r.readiness.without_issue:
        lines.append("- no issue yet: task(s) " + ", ".join(map(str, r.readiness.without_issue)))
    lines += [f"- {s.step}: {s.status} ({s.detail})" for s in r.steps]
    if r.changelog:
        lines += ["", r.changelog]
    return "\n".join(lines)
