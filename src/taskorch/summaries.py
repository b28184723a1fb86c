"""The short human-readable text of each result, shared by the MCP tools and the CLI.

One line or a few: the structured content carries the data; this says what happened and what to
do next, for clients that show only text. A summary that names a call to make returns a
:data:`~taskorch.hints.Message`, which each face words (:func:`taskorch.hints.render`); a
result's ``next_step`` is already worded by the face (:func:`taskorch.hints.finish`).

Importing this module costs nothing beyond :mod:`taskorch.hints`: the result models are named for
type checking only, so the CLI can import it before it needs pydantic.
"""

from __future__ import annotations

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
        UpdateResult,
    )


def _brief(task: TaskBrief) -> str:
    return f"#{task.id} {task.title} [{task.status.value}, {task.specialist_type}]"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no tasks"


def session(r: SessionResult) -> str:
    verb = "Resumed" if r.resumed else "Created"
    return f"{verb} session {r.session_id} for {r.project_root}: {_counts(r.counts)}. {r.next_step}"


def status(r: StatusResult) -> str:
    lines = [f"Session {r.session_id}: {_counts(r.counts)}."]
    if r.ready:
        lines.append("Ready: " + "; ".join(_brief(t) for t in r.ready))
    if r.awaiting_synthesis:
        lines.append("Awaiting synthesis: " + "; ".join(_brief(t) for t in r.awaiting_synthesis))
    if r.in_progress:
        lines.append("In progress: " + "; ".join(_brief(t) for t in r.in_progress))
    if r.blocked:
        lines.append("Blocked: " + "; ".join(f"{_brief(b.task)} ({b.reason})" for b in r.blocked))
    return "\n".join(lines)


def plan(r: PlanResult) -> str:
    extra = f" with {len(r.subtasks)} subtask(s)" if r.subtasks else ""
    return f"Planned task {r.task.id} '{r.task.title}'{extra}. {r.next_step}"


def execute(r: ExecuteResult) -> str:
    return f"Task {r.task.id} '{r.task.title}' is in progress as {r.specialist.title}. {r.next_step}"


def complete(r: CompleteResult) -> str:
    text = f"Completed task {r.task.id} (artifact {r.artifact_id})."
    if r.missing_files:
        text += f" Warning: recorded but not found in the project: {', '.join(r.missing_files)}."
    return f"{text} {r.next_step}"


def reopen(r: ReopenResult) -> str:
    text = f"Reopened task {r.task.id} ({r.reason})."
    if r.waiting_again:
        text += f" Task(s) {', '.join(map(str, r.waiting_again))} wait for it again."
    return f"{text} {r.next_step}"


def query(r: QueryResult) -> str:
    shown = "; ".join(f"#{t.id} {t.title} [{t.status.value}]" for t in r.tasks)
    return f"{r.total} task(s) match; showing {len(r.tasks)} from offset {r.offset}." + (f" {shown}" if shown else "")


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
    lines += [f"- task {m.get('task_id')} -> {m.get('column') or 'board'}" for m in r.moved if "task_id" in m]
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
