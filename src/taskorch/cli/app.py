"""The ``taskorch`` command: the MCP tools' verbs for people, plus ``serve``.

Each command parses its options, calls the same :class:`~taskorch.services.app.Orchestrator`
method as the MCP tool of the same name, and prints Rich tables (or JSON with ``--json``). A
:class:`~taskorch.errors.TaskorchError` becomes ``error: <message>`` on stderr and its exit code.

The session is the project of ``--project`` (default: the current directory), found in a read
transaction, and created on first use as the MCP face's initialize_session would
(:meth:`~taskorch.services.app.Orchestrator.use_project`).

Messages and next steps are worded for the command line (:mod:`taskorch.cli.words`): commands
and flags, never MCP tool names.

Start-up is kept short: the module imports Typer, Rich's console and table, and the enums of
the options; pydantic, SQLAlchemy and the services load when a command needs them
(``tests/test_cli_display.py`` checks which modules ``--help`` and ``--version`` import).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from taskorch import summaries
from taskorch.cli.ids import ConflictIdArg, IssueNumberArg, TaskArg, task_id_parser
from taskorch.cli.terminal import cells, print_json, safe, safe_markdown
from taskorch.cli.words import CLI_WORDS
from taskorch.domain.model import ArtifactType, Complexity, Priority, TaskStatus, TaskType
from taskorch.errors import InvalidInput, PlatformError, TaskorchError
from taskorch.hints import Message, finish, render

if TYPE_CHECKING:
    from pydantic import BaseModel

    from taskorch.services.app import Orchestrator
    from taskorch.services.maintenance import Action
    from taskorch.services.models import GitResult, TaskBrief, TaskView

#: Every command (and group) answers -h as well as --help.
CONTEXT = {"help_option_names": ["-h", "--help"]}


def _typer(help_text: str) -> typer.Typer:
    """A command group with plain help: flags shown as flags, never cut off at 80 columns."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        context_settings=CONTEXT,
        pretty_exceptions_enable=False,
    )


app = typer.Typer(
    name="taskorch",
    help="Task orchestrator for AI coding assistants: plan, execute, complete and synthesize work.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings=CONTEXT,
    pretty_exceptions_enable=False,
)

out = Console()
err = Console(stderr=True)
M = TypeVar("M", bound="BaseModel")

ProjectOpt = Annotated[
    Path,
    typer.Option(
        "--project", "-C", help="A directory inside the project (default: the current directory).", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _version(value: bool) -> None:
    if value:
        from taskorch import __version__

        out.print(f"taskorch {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Task orchestrator for AI coding assistants: plan, execute, complete and synthesize work.

    Shell completion: taskorch --install-completion (then open a new shell).
    """


def _enum_values(enum: type[Enum]) -> str:
    return ", ".join(str(m.value) for m in enum)


@contextmanager
def _orchestrator() -> Iterator[Orchestrator]:
    from taskorch.services.app import Orchestrator

    orchestrator = Orchestrator()
    try:
        yield orchestrator
    finally:
        orchestrator.close()


def _fail(exc: TaskorchError) -> typer.Exit:
    """Print ``error: <message>`` (worded for the command line) on stderr; the exit to raise."""
    err.print(Text.assemble(("error", "bold red"), ": ", safe(exc.render(CLI_WORDS))), soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _run(
    fn: Callable[[Orchestrator], M],
    *,
    as_json: bool,
    render: Callable[[M], None] | None = None,
    summary: Callable[[M], str | Message] | None = None,
    project: Path | None = None,
) -> M:
    """Call one service method; print the result; map errors to exit codes."""
    from pydantic import ValidationError

    from taskorch.services.fields import input_error

    try:
        with _orchestrator() as orchestrator:
            try:
                if project is not None:
                    orchestrator.use_project(_project_path(project))
                result = fn(orchestrator)
            except (TaskorchError, ValidationError):
                raise
            except Exception as exc:  # a database error outside a transaction (VACUUM, checkpoint)
                named = orchestrator.db.named_error(exc)
                if named is None:
                    raise
                raise named from None
    except TaskorchError as exc:
        raise _fail(exc) from None
    except ValidationError as exc:
        raise _fail(input_error(exc)) from None
    finish(result, CLI_WORDS)
    if as_json:
        print_json(out, result.model_dump_json())
    else:
        if render is not None:
            render(result)
        if summary is not None:
            out.print(safe(_words(summary(result))))
    return result


def _words(message: str | Message) -> str:
    """A message worded for the command line."""
    return render(message, CLI_WORDS)


def _project_path(project: Path) -> str:
    """``--project`` as an absolute path, symlinks not yet followed (the service checks where they lead)."""
    return str(project.expanduser().absolute())


def _table(title: str, *columns: str) -> Table:
    """A table whose number and status columns never wrap or shrink; titles wrap instead."""
    table = Table(title=title, title_justify="left")
    for col in columns:
        if col in ("id", "task", "parent", "v", "status", "priority", "at"):
            table.add_column(col, no_wrap=True, min_width=len(col), overflow="fold")
        else:
            table.add_column(col, overflow="fold")
    return table


def _brief_table(title: str, tasks: list[TaskBrief]) -> None:
    if not tasks:
        return
    table = _table(title, "id", "title", "status", "priority", "specialist", "parent")
    for t in tasks:
        table.add_row(*cells(t.id, t.title, t.status.value, t.priority.value, t.specialist_type, t.parent_id or ""))
    out.print(table)


def _task_table(title: str, tasks: list[TaskView]) -> None:
    table = _table(title, "id", "title", "status", "type", "priority", "specialist", "labels", "depends on", "v")
    for t in tasks:
        table.add_row(
            *cells(
                t.id,
                t.title,
                t.status.value,
                t.task_type.value,
                t.priority.value,
                t.specialist_type,
                ", ".join(t.labels),
                ", ".join(map(str, t.depends_on)),
                t.version,
            )
        )
    out.print(table)


# -- serve --------------------------------------------------------------------------------


@app.command()
def serve(
    toolsets: Annotated[
        str | None,
        typer.Option(help="Comma-separated toolsets to expose: core, maintenance, lifecycle (default all)."),
    ] = None,
    transport: Annotated[str, typer.Option(help="stdio (default), or http for a team server at /mcp.")] = "stdio",
    host: Annotated[str, typer.Option(help="http: the address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: the TCP port.")] = 8765,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="http: no tokens (loopback addresses only).")] = False,
    sync: Annotated[
        bool | None,
        typer.Option(
            "--sync/--no-sync",
            help="Background sync of projects with auto sync on, every TASKORCH_SYNC_INTERVAL seconds "
            "(default: on over http; on stdio only with --sync or TASKORCH_BACKGROUND_SYNC=1).",
        ),
    ] = None,
) -> None:
    """Run the MCP server on stdio (what Claude Code, Cursor, VS Code and Claude Desktop launch), or over HTTP."""
    from taskorch.cli.team import serve_transport

    raise typer.Exit(serve_transport(transport, toolsets, host, port, no_auth, sync=sync))


# -- sessions and status -------------------------------------------------------------------


@app.command("initialize-session")
def initialize_session(
    working_directory: Annotated[Path, typer.Argument(help="A directory inside the project.")] = Path(),
    name: Annotated[str | None, typer.Option(help="Session name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or resume the session of a project (its Git root)."""
    path = _project_path(working_directory)
    _run(lambda o: o.initialize_session(path, name), as_json=as_json, summary=summaries.session)


@app.command("get-status")
def get_status(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Counts by status, the ready queue, blocked and waiting tasks, work in progress and recent
    completions.

    The counts are by status. "Blocked" lists the tasks whose status is blocked; "Waiting on
    dependencies" the pending tasks whose dependencies are unfinished (their status is pending,
    so the counts show them as pending).
    """

    def render(r: Any) -> None:
        counts = Table(title=safe(f"Tasks by status, session {r.session_id}: {r.project_root}"), title_justify="left")
        for status in r.counts:
            counts.add_column(status, no_wrap=True, justify="right")
        counts.add_row(*(str(n) for n in r.counts.values()))
        out.print(counts)
        _brief_table("Ready", r.ready)
        _brief_table("Awaiting synthesis (run taskorch synthesize-results TASK)", r.awaiting_synthesis)
        _brief_table("In progress", r.in_progress)
        marked = [b for b in r.blocked if b.task.status.value == "blocked"]
        waiting = [b for b in r.blocked if b.task.status.value != "blocked"]
        for title, rows in (
            (f"Blocked (status blocked): {r.counts.get('blocked', len(marked))}", marked),
            (f"Waiting on dependencies (status pending): {len(waiting)}", waiting),
        ):
            if not rows:
                continue
            table = _table(title, "id", "title", "reason", "blockers")
            for b in rows:
                table.add_row(*cells(b.task.id, b.task.title, b.reason, ", ".join(str(x.id) for x in b.blockers)))
            out.print(table)
        _brief_table("Recently completed", r.recently_completed)

    _run(lambda o: o.get_status(), as_json=as_json, render=render, project=project)


# -- tasks ---------------------------------------------------------------------------------


@app.command("plan-task")
def plan_task(
    title: Annotated[str, typer.Argument(help="Short imperative title.")],
    description: Annotated[str, typer.Option(help="What to do and why.")] = "",
    task_type: Annotated[TaskType, typer.Option(help="Kind of work.")] = TaskType.FEATURE,
    complexity: Annotated[Complexity, typer.Option()] = Complexity.MODERATE,
    priority: Annotated[Priority, typer.Option()] = Priority.MEDIUM,
    specialist_type: Annotated[str | None, typer.Option(help="Role; omit to let the router choose.")] = None,
    estimated_effort: Annotated[str | None, typer.Option(help="e.g. 2h")] = None,
    due_date: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")] = None,
    label: Annotated[list[str] | None, typer.Option(help="A label (repeatable).")] = None,
    acceptance: Annotated[list[str] | None, typer.Option(help="An acceptance criterion (repeatable).")] = None,
    context: Annotated[str, typer.Option(help="Background for the specialist.")] = "",
    depends_on: Annotated[
        list[int] | None,
        typer.Option(parser=task_id_parser, help="Number of a task of the project to wait for (repeatable)."),
    ] = None,
    subtasks_json: Annotated[
        str | None,
        typer.Option(help="JSON file (or - for stdin) with a list of subtasks: {key, title, depends_on_keys, ...}."),
    ] = None,
    parent_id: Annotated[
        int | None, typer.Option(parser=task_id_parser, help="Plan under this task (its number in the project).")
    ] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create one task, or a parent plus subtasks, in one atomic call."""
    from pydantic import ValidationError

    from taskorch.services.fields import input_error
    from taskorch.services.models import TaskFields

    try:
        fields = TaskFields(
            title=title,
            description=description,
            task_type=task_type,
            complexity=complexity,
            priority=priority,
            specialist_type=specialist_type,
            estimated_effort=estimated_effort,
            due_date=due_date.date() if due_date else None,
            labels=label or [],
            acceptance_criteria=acceptance or [],
            context=context,
            depends_on=depends_on or [],
        )
        subtasks = _read_subtasks(subtasks_json) if subtasks_json else []
    except ValidationError as exc:
        raise _fail(input_error(exc)) from None
    except TaskorchError as exc:
        raise _fail(exc) from None

    def render(r: Any) -> None:
        # A large plan lists its first ready subtasks only; the summary's next step names the rest.
        title = "Planned" if len(r.subtasks) == len(r.numbers) else f"Planned: {len(r.subtasks)} of {len(r.numbers)}"
        _brief_table(title, list(r.subtasks.values()))
        for decision in r.routing:
            out.print(safe(f"task {decision.task_id} -> {decision.specialist_type}: {decision.reason}"))

    _run(
        lambda o: o.plan_task(fields, subtasks, parent_id=parent_id),
        as_json=as_json,
        render=render,
        summary=summaries.plan,
        project=project,
    )


def _read_subtasks(source: str) -> list[Any]:
    """The subtasks of ``--subtasks-json`` (``SubtaskSpec``); a rejected one names its place in
    the list, as the MCP tool does (``subtasks.2.title: is empty. Fix: ...``)."""
    from pydantic import ValidationError

    from taskorch.services.fields import input_error
    from taskorch.services.models import SubtaskSpec

    specs = []
    for index, item in enumerate(_read_json_list(source)):
        try:
            specs.append(SubtaskSpec.model_validate(item))
        except ValidationError as exc:
            error = input_error(exc)
            raise InvalidInput(f"subtasks.{index}.{error.field}", error.problem, error.fix) from None
    return specs


def _read_json_list(source: str) -> list[Any]:
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        data = json.loads(raw)
    except OSError as exc:
        raise InvalidInput(
            "--subtasks-json", f"cannot read {source!r}: {exc.strerror}.", "give a readable file."
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "--subtasks-json", f"not valid JSON ({exc.msg} at line {exc.lineno}).", "fix the file."
        ) from None
    if not isinstance(data, list):
        raise InvalidInput(
            "--subtasks-json", "must hold a JSON list of subtasks.", 'e.g. [{"key": "a", "title": "..."}]'
        )
    return data


@app.command("execute-task")
def execute_task(
    task_id: TaskArg,
    force: Annotated[
        bool, typer.Option("--force", help="Take the task over even while another actor's claim on it runs.")
    ] = False,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Start a task and print its specialist context (taskorch show reads it without starting)."""
    _run(
        lambda o: o.execute_task(task_id, force=force),
        as_json=as_json,
        render=_print_context,
        summary=lambda r: r.next_step,
        project=project,
    )


def _print_context(r: Any) -> None:
    """The specialist context of a task (execute-task and show)."""
    out.print(Text.assemble(safe(r.specialist.title, "bold"), safe(f" — task {r.task.id}: {r.task.title}")))
    for parent in r.ancestry:
        out.print(safe(f"  part of task {parent.id}: {parent.title} ({parent.status.value})"))
    out.print(safe_markdown(r.specialist.instructions))
    for dep in r.dependency_results:
        if not dep.artifacts:
            out.print(safe(f"from task {dep.task_id} ({dep.specialist_type}): nothing recorded yet"))
        for art in dep.artifacts:
            out.print(safe(f"from task {dep.task_id} ({dep.specialist_type}): {art.summary}"))
    if r.acceptance_criteria:
        out.print(Text("Acceptance criteria", style="bold"))
    for criterion in r.acceptance_criteria:
        out.print(safe(f"- [ ] {criterion}"))


def _changes_text(changes: dict[str, Any]) -> str:
    """An audit entry's changes in words: ``status: pending -> in_progress; labels: ui``."""

    def value(v: Any) -> str:
        if v is None or v in ("", []):
            return "(none)"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, list):
            return ", ".join(value(x) for x in v)
        if isinstance(v, dict):
            return ", ".join(f"{k}={value(x)}" for k, x in v.items())
        return str(v)

    parts = []
    for name, change in changes.items():
        if isinstance(change, list) and len(change) == 2 and name not in ("labels", "depends_on", "file_paths"):
            parts.append(f"{name}: {value(change[0])} -> {value(change[1])}")
        else:
            parts.append(f"{name}: {value(change)}")
    return "; ".join(parts)


@app.command("show")
def show(task_id: TaskArg, project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """One task as execute-task would present it, without starting it: the role's instructions,
    its parents, what its dependencies produced, its acceptance criteria, its own work, its
    history and its linked issue."""

    def render(r: Any) -> None:
        t = r.task
        _print_context(r)
        facts = _table(f"Task {t.id}", "field", "value")
        rows: list[tuple[str, object]] = [
            ("status", t.status.value + (f" ({t.status_reason})" if t.status_reason else "")),
            ("type, priority, complexity", f"{t.task_type.value}, {t.priority.value}, {t.complexity.value}"),
            ("parent", t.parent_id or "(none)"),
            ("depends on", ", ".join(map(str, t.depends_on)) or "(none)"),
            ("subtasks", ", ".join(f"{c.id} ({c.status.value})" for c in t.children or []) or "(none)"),
            ("labels", ", ".join(t.labels) or "(none)"),
            ("version", t.version),
        ]
        if r.issue is not None:
            number = f"#{r.issue.issue_number}" if r.issue.issue_number else "(not created yet)"
            rows.append(("issue", f"{r.issue.repository} {number} {r.issue.issue_url or ''} ({r.issue.sync_status})"))
        if r.jira_key:
            from taskorch.release.keys import branch_name

            rows.append(("branch, commits", f"{branch_name(r.jira_key, t.title)}; start messages with {r.jira_key}"))
        for name, value in rows:
            facts.add_row(*cells(name, value))
        out.print(facts)
        if t.description:
            out.print(Text("Description", style="bold"))
            out.print(safe_markdown(t.description))
        for art in t.artifacts or []:
            files = f" files: {', '.join(art.file_paths)}" if art.file_paths else ""
            out.print(safe(f"work recorded ({art.artifact_type.value}): {art.summary}{files}"))
        trail = _table("History", "at", "by", "action", "changes")
        for e in r.audit:
            trail.add_row(*cells(e.at.isoformat(timespec="seconds"), e.tool, e.action, _changes_text(e.changes)))
        out.print(trail)

    _run(lambda o: o.show_task(task_id), as_json=as_json, render=render, project=project)


@app.command("next")
def next_task(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """The next ready task of the project (highest priority first) and the command to start it.

    Exits 0 with a line saying so when nothing is ready. With --json: the task, or null.
    """
    try:
        with _orchestrator() as orchestrator:
            orchestrator.use_project(_project_path(project))
            status = orchestrator.get_status()
    except TaskorchError as exc:
        raise _fail(exc) from None
    task = status.ready[0] if status.ready else None
    if as_json:
        print_json(out, "null" if task is None else task.model_dump_json())
        return
    if task is None:
        waiting = len(status.blocked)
        line = "Nothing is ready"
        if status.in_progress:
            line += f"; {len(status.in_progress)} task(s) in progress"
        if waiting:
            line += f"; {waiting} blocked or waiting on dependencies (taskorch get-status shows them)"
        elif not status.total:
            line += "; no tasks yet (plan one with taskorch plan-task TITLE)"
        out.print(safe(line + "."))
        return
    out.print(Text.assemble(("next: ", "bold"), safe(f"task {task.id}: {task.title}")))
    out.print(safe(f"role: {task.specialist_type}, priority: {task.priority.value}"))
    out.print(safe(f"start it with: taskorch execute-task {task.id}"))


@app.command("tree")
def tree(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """The plan as a tree: every live task under its parent, with its number and status."""
    from rich.tree import Tree

    def render(r: Any) -> None:
        children: dict[int | None, list[Any]] = {}
        for t in r.tasks:
            children.setdefault(t.parent_id, []).append(t)
        known = {t.id for t in r.tasks}
        root = Tree(safe(f"{r.project_root} ({len(r.tasks)} task(s))", "bold"))

        def label(t: Any) -> Text:
            return Text.assemble(
                safe(f"{t.id} ", "bold"),
                safe(f"[{t.status.value}] ", _STATUS_STYLE.get(t.status.value, "")),
                safe(t.title),
            )

        def add(node: Tree, parent: int | None) -> None:
            for t in children.get(parent, []):
                add(node.add(label(t)), t.id)

        add(root, None)
        for parent, orphans in children.items():  # a parent archived while its subtasks live
            if parent is not None and parent not in known:
                for t in orphans:
                    add(root.add(label(t)), t.id)
        if not r.tasks:
            root.add(Text("no tasks yet: plan one with taskorch plan-task TITLE"))
        out.print(root)

    _run(lambda o: o.task_tree(), as_json=as_json, render=render, project=project)


_STATUS_STYLE = {"completed": "green", "in_progress": "yellow", "blocked": "red", "cancelled": "dim"}


@app.command("reopen-task")
def reopen_task(
    task_id: TaskArg,
    reason: Annotated[str, typer.Option(help="Why the task is reopened (kept in its history).")],
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Move a task completed by mistake back to pending (its recorded work and history stay).

    Pending tasks that depend on it wait for it again; its parent counts it as open; a linked
    issue reopens with the next sync.
    """
    _run(lambda o: o.reopen_task(task_id, reason), as_json=as_json, summary=summaries.reopen, project=project)


@app.command("complete-task")
def complete_task(
    task_id: TaskArg,
    summary: Annotated[str, typer.Option(help="What was done, briefly.")],
    detailed_work: Annotated[str, typer.Option(help="Details, decisions, results.")] = "",
    file_path: Annotated[list[str] | None, typer.Option(help="A file created or changed (repeatable).")] = None,
    artifact_type: Annotated[ArtifactType, typer.Option()] = ArtifactType.CODE,
    next_action: Annotated[str | None, typer.Option(help="Follow-up, if any.")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Record the work of an in-progress task and complete it.

    File paths that do not exist in the project are recorded all the same (the work may have
    deleted a file), with a warning on stderr.
    """
    result = _run(
        lambda o: o.complete_task(task_id, summary, detailed_work, file_path or [], artifact_type, next_action),
        as_json=as_json,
        summary=summaries.complete,
        project=project,
    )
    if result.missing_files and not as_json:
        err.print(
            safe(f"warning: not found in the project (recorded anyway): {', '.join(result.missing_files)}"),
            soft_wrap=True,
        )


@app.command("query-tasks")
def query_tasks(
    status: Annotated[list[TaskStatus] | None, typer.Option(help="Status (repeatable).")] = None,
    task_type: Annotated[list[TaskType] | None, typer.Option(help="Task type (repeatable).")] = None,
    specialist_type: Annotated[list[str] | None, typer.Option(help="Role (repeatable).")] = None,
    complexity: Annotated[list[Complexity] | None, typer.Option()] = None,
    priority: Annotated[list[Priority] | None, typer.Option()] = None,
    parent_id: Annotated[int | None, typer.Option(parser=task_id_parser)] = None,
    roots_only: Annotated[bool, typer.Option("--roots-only", help="Only tasks without a parent.")] = False,
    label: Annotated[list[str] | None, typer.Option(help="Required label (repeatable).")] = None,
    created_after: Annotated[datetime | None, typer.Option()] = None,
    created_before: Annotated[datetime | None, typer.Option()] = None,
    updated_after: Annotated[datetime | None, typer.Option()] = None,
    updated_before: Annotated[datetime | None, typer.Option()] = None,
    text: Annotated[str | None, typer.Option(help="Full-text search.")] = None,
    include_archived: Annotated[bool, typer.Option("--include-archived")] = False,
    sort: Annotated[str, typer.Option(help="created_at, updated_at, priority, due_date, title or id.")] = "created_at",
    order: Annotated[str, typer.Option(help="asc or desc.")] = "desc",
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    include_artifacts: Annotated[bool, typer.Option("--include-artifacts")] = False,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Find tasks by status, type, role, labels, dates and full text."""
    from taskorch.services.query import SORT_KEYS

    if sort not in SORT_KEYS:
        raise _fail(InvalidInput("--sort", f"{sort!r} is not a sort key.", f"use one of: {', '.join(SORT_KEYS)}."))
    if order not in ("asc", "desc"):
        raise _fail(InvalidInput("--order", f"{order!r} is not an order.", "use asc or desc."))

    def utc(value: datetime | None) -> datetime | None:
        return value.astimezone() if value is not None else None

    filters: dict[str, Any] = {
        "status": [s.value for s in status or []],
        "task_type": [t.value for t in task_type or []],
        "specialist_type": specialist_type or [],
        "complexity": [c.value for c in complexity or []],
        "priority": [p.value for p in priority or []],
        "parent_id": parent_id,
        "roots_only": roots_only,
        "labels": label or [],
        "created_after": utc(created_after),
        "created_before": utc(created_before),
        "updated_after": utc(updated_after),
        "updated_before": utc(updated_before),
        "text": text,
        "include_archived": include_archived,
        "sort": sort,
        "order": order,
        "limit": limit,
        "offset": offset,
        "include_artifacts": include_artifacts,
    }
    _run(
        lambda o: o.query_tasks(**filters),
        as_json=as_json,
        render=lambda r: _task_table(f"{r.total} task(s)", r.tasks),
        project=project,
    )


@app.command("update-task")
def update_task(
    task_id: TaskArg,
    expected_version: Annotated[
        int | None, typer.Option(help="Refuse if the task is no longer at this version.")
    ] = None,
    title: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    task_type: Annotated[TaskType | None, typer.Option()] = None,
    complexity: Annotated[Complexity | None, typer.Option()] = None,
    priority: Annotated[Priority | None, typer.Option()] = None,
    specialist_type: Annotated[str | None, typer.Option()] = None,
    estimated_effort: Annotated[str | None, typer.Option()] = None,
    due_date: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    label: Annotated[list[str] | None, typer.Option(help="Replaces the labels (repeatable).")] = None,
    depends_on: Annotated[
        list[int] | None, typer.Option(parser=task_id_parser, help="Replaces the dependencies (repeatable).")
    ] = None,
    no_dependencies: Annotated[bool, typer.Option("--no-dependencies", help="Remove every dependency.")] = False,
    status: Annotated[str | None, typer.Option(help="pending or blocked.")] = None,
    status_reason: Annotated[str | None, typer.Option()] = None,
    assignee: Annotated[list[str] | None, typer.Option(help="Replaces the assignees (repeatable login).")] = None,
    milestone: Annotated[str | None, typer.Option(help="Milestone title.")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Change only the fields given."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "title": title,
            "description": description,
            "task_type": task_type.value if task_type else None,
            "complexity": complexity.value if complexity else None,
            "priority": priority.value if priority else None,
            "specialist_type": specialist_type,
            "estimated_effort": estimated_effort,
            "due_date": due_date.date() if due_date else None,
            "labels": label,
            "depends_on": depends_on,
            "status": status,
            "status_reason": status_reason,
            "assignees": sorted(dict.fromkeys(assignee)) if assignee else None,
            "milestone": milestone,
        }.items()
        if v is not None
    }
    if no_dependencies:
        changes["depends_on"] = []
    if status is not None and status not in ("pending", "blocked"):
        raise _fail(InvalidInput("--status", f"{status!r} cannot be set here.", "use pending or blocked."))
    _run(
        lambda o: o.update_task(task_id, changes, expected_version),
        as_json=as_json,
        summary=summaries.update,
        project=project,
    )


@app.command("cancel-task")
def cancel_task(
    task_id: TaskArg,
    reason: Annotated[str, typer.Option(help="Why the task is cancelled.")],
    cascade: Annotated[bool, typer.Option("--cascade", help="Cancel open subtasks too.")] = False,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Cancel a task (its recorded work is kept)."""
    _run(lambda o: o.cancel_task(task_id, reason, cascade), as_json=as_json, summary=summaries.cancel, project=project)


@app.command("delete-task")
def delete_task(
    task_id: TaskArg,
    hard: Annotated[bool, typer.Option("--hard", help="Delete for good instead of archiving.")] = False,
    cascade: Annotated[bool, typer.Option("--cascade", help="Confirm a hard delete of subtasks too.")] = False,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Archive a task and its subtasks, or delete them for good with --hard."""
    _run(lambda o: o.delete_task(task_id, hard, cascade), as_json=as_json, summary=summaries.delete, project=project)


@app.command("synthesize-results")
def synthesize_results(parent_task_id: TaskArg, project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Combine completed subtasks' results into the parent."""
    _run(
        lambda o: o.synthesize_results(parent_task_id),
        as_json=as_json,
        render=lambda r: out.print(safe_markdown(r.synthesis)),
        summary=summaries.synthesis,
        project=project,
    )


@app.command("audit")
def audit(
    task_id: Annotated[
        int | None, typer.Option(parser=task_id_parser, help="Only this task's history (its number in the project).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """The audit trail: every change, by which tool, with old and new values."""
    try:
        with _orchestrator() as o:
            o.use_project(_project_path(project))
            trail = o.audit_trail(task_id=task_id, limit=limit)
    except TaskorchError as exc:
        raise _fail(exc) from None
    if as_json:
        print_json(out, trail.model_dump_json())
        return
    table = _table("Audit trail", "at", "task", "by", "action", "changes")
    for e in trail.entries:
        table.add_row(
            *cells(e.at.isoformat(timespec="seconds"), e.task_id or "", e.tool, e.action, _changes_text(e.changes))
        )
    out.print(table)


# -- maintenance and lifecycle -------------------------------------------------------------


@app.command("maintenance-coordinator")
def maintenance_coordinator(
    action: Annotated[
        str,
        typer.Argument(help="scan_cleanup, validate_structure, archive_completed, vacuum or prepare_handover."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run/--apply", help="Only report (the default), or make the changes.")
    ] = True,
    older_than_days: Annotated[int, typer.Option(min=0, max=36500)] = 30,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Housekeeping of the session's data (a dry run unless --apply)."""
    actions = ("scan_cleanup", "validate_structure", "archive_completed", "vacuum", "prepare_handover")
    if action not in actions:
        raise _fail(InvalidInput("action", f"{action!r} is not an action.", f"use one of: {', '.join(actions)}."))
    _run(
        lambda o: o.maintenance_coordinator(cast("Action", action), dry_run, older_than_days),
        as_json=as_json,
        render=lambda r: out.print(safe_markdown(r.report)) if r.report else None,
        summary=lambda r: "" if r.report else summaries.maintenance(r),
        project=project,
    )


@app.command("health-check")
def health_check(as_json: JsonOpt = False) -> None:
    """Database, migrations, integrity, disk, version and components."""
    _run(lambda o: o.health_check(), as_json=as_json, summary=summaries.health)


@app.command("restart-server")
def restart_server(
    reason: Annotated[str, typer.Option()] = "requested from the CLI",
    create_new_database: Annotated[
        bool,
        typer.Option(
            "--create-new-database",
            help="Only when the SQLite file was deleted while running: start over with a new, empty database.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restart the components in process (recorded in the restart history)."""
    _run(lambda o: o.restart_server(reason, create_new_database), as_json=as_json, summary=summaries.restart)


@app.command("shutdown-prepare")
def shutdown_prepare(as_json: JsonOpt = False) -> None:
    """Checkpoint the database and say whether it is safe to stop."""
    _run(lambda o: o.shutdown_prepare(), as_json=as_json, summary=summaries.shutdown)


@app.command("reconnect-test")
def reconnect_test(as_json: JsonOpt = False) -> None:
    """Drop and re-establish the database connection, with timings."""
    _run(lambda o: o.reconnect_test(), as_json=as_json, summary=summaries.reconnect)


@app.command("restart-status")
def restart_status(limit: Annotated[int, typer.Option(min=1, max=200)] = 20, as_json: JsonOpt = False) -> None:
    """The restart history."""
    _run(lambda o: o.restart_status(limit), as_json=as_json, summary=summaries.restart_status)


# -- Git platform integration --------------------------------------------------------------

git_app = _typer("Keep tasks in step with GitHub or GitLab issues.")
board_app = _typer("The project's board (GitHub Projects v2, a GitLab issue board of status:: lists, or a Jira board).")
app.add_typer(git_app, name="git")
app.add_typer(board_app, name="board")


@git_app.command("connect")
def git_connect(
    repository: Annotated[
        str,
        typer.Argument(
            help="owner/name, group/sub/project, gitlab:group/sub/project, bitbucket:workspace/repo, jira:KEY, or "
            "the repository's URL."
        ),
    ],
    platform: Annotated[
        str | None, typer.Option(help="github, gitlab, bitbucket or jira (default: from the repository, else github).")
    ] = None,
    jira: Annotated[
        str | None,
        typer.Option(
            help="Keep the issues in this Jira Cloud project, the repository being the code host (required for "
            "bitbucket:, whose issue tracker Atlassian removed): the site https://SITE.atlassian.net with "
            "--jira-project KEY, or https://SITE.atlassian.net/browse/KEY."
        ),
    ] = None,
    jira_project: Annotated[str | None, typer.Option(help="The Jira project's key, e.g. SHOP.")] = None,
    code_token_name: Annotated[
        str | None,
        typer.Option(
            help="With --jira: NAME of the code host's token (default BITBUCKET_TOKEN, GITHUB_TOKEN or GITLAB_TOKEN); "
            "--token-name is then Jira's (default JIRA_API_TOKEN)."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="The instance, e.g. https://gitlab.example.com (default: TASKORCH_GITLAB_URL or gitlab.com)."
        ),
    ] = None,
    token_name: Annotated[
        str | None,
        typer.Option(
            help="NAME of the environment variable or keyring entry holding the token (default GITHUB_TOKEN or "
            "GITLAB_TOKEN; any name: the allow-list TASKORCH_ALLOWED_TOKEN_NAMES binds assistants connecting over "
            "MCP, not the CLI)."
        ),
    ] = None,
    tier: Annotated[str, typer.Option(help="basic, project or full.")] = "basic",
    label: Annotated[list[str] | None, typer.Option(help="A label every issue gets (repeatable).")] = None,
    auto_sync: Annotated[
        bool, typer.Option("--auto-sync", help="Create issues for tasks as they are planned.")
    ] = False,
    template_file: Annotated[Path | None, typer.Option(help="Jinja2 issue body template.")] = None,
    conflict_policy: Annotated[str, typer.Option(help="manual, local_wins, remote_wins or newest_wins.")] = "manual",
    progress_comments: Annotated[
        bool, typer.Option("--progress-comments", help="Comment on issues when tasks move.")
    ] = False,
    status_map: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=VALUE overriding the status_mapping (repeatable): a board column by key (proposed, "
            "approved, in_progress, blocked, completed, cancelled; on Jira the workflow status) or "
            "label:<status> (the label carrying it), e.g. --status-map 'blocked=In Progress'.",
        ),
    ] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Connect the project to a repository (no network until the first sync)."""
    try:
        template = template_file.read_text(encoding="utf-8") if template_file else None
    except OSError as exc:
        raise _fail(
            InvalidInput("--template-file", f"cannot read it: {exc.strerror}.", "give a readable file.")
        ) from None
    mapping: dict[str, str] = {}
    for entry in status_map or ():
        key, sep, value = entry.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise _fail(
                InvalidInput(
                    "--status-map",
                    f"{entry!r} is not KEY=VALUE.",
                    "pass e.g. --status-map 'blocked=In Progress' or --status-map 'label:in_progress=status::doing'.",
                )
            )
        mapping[key.strip()] = value.strip()
    from taskorch.services.connection import ConnectionConfig

    config = ConnectionConfig(
        repository=repository,
        platform=platform,
        base_url=url,
        api_token_name=token_name,
        tier=tier,
        default_labels=tuple(label or ()),
        auto_sync_enabled=auto_sync,
        issue_template=template,
        conflict_policy=conflict_policy,
        progress_comments=progress_comments,
        status_mapping=mapping,
        jira=jira,
        jira_project=jira_project,
        code_token_name=code_token_name,
    )
    _run(
        lambda o: o.git_connect(config, trusted=True),  # the user: any variable, keyring entry or host
        as_json=as_json,
        summary=summaries.git,
        project=project,
    )


@git_app.command("import-policy")
def git_import_policy(
    policy: Annotated[str, typer.Argument(help="off, all, or label:NAME.")],
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Which issues opened on the platform become tasks at the next sync (default: off)."""
    _run(lambda o: o.git_set_import_policy(policy), as_json=as_json, summary=summaries.git, project=project)


@git_app.command("status")
def git_status(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """The connection, links by sync status, pending outbox, open conflicts, rate limit (no network)."""
    _run(lambda o: o.git_config(), as_json=as_json, summary=summaries.git, project=project)


@git_app.command("create-issue")
def git_create_issue(task_id: TaskArg, project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Create the task's issue now. Exits 6 when it could not be created (the reason on stderr)."""
    _exit_if_incomplete(
        _run(lambda o: o.git_create_issue(task_id), as_json=as_json, summary=summaries.git, project=project)
    )


@git_app.command("update-issue")
def git_update_issue(task_id: TaskArg, project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Push the task's current values to its issue now. Exits 6 when the update failed or is pending."""
    _exit_if_incomplete(
        _run(lambda o: o.git_update_issue(task_id), as_json=as_json, summary=summaries.git, project=project)
    )


@git_app.command("link-task")
def git_link_task(
    task_id: TaskArg, issue_number: IssueNumberArg, project: ProjectOpt = Path(), as_json: JsonOpt = False
) -> None:
    """Link an existing issue to a task; the task takes the issue's values."""
    _run(lambda o: o.git_link_task(task_id, issue_number), as_json=as_json, summary=summaries.git, project=project)


@git_app.command("create-milestone")
def git_create_milestone(
    title: str,
    description: Annotated[str, typer.Option()] = "",
    due_on: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create (or update) a milestone on the platform."""
    due = due_on.date() if due_on else None
    _run(
        lambda o: o.git_create_milestone(title, description, due),
        as_json=as_json,
        summary=summaries.git,
        project=project,
    )


@git_app.command("conflicts")
def git_conflicts(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Fields changed on both sides since they last agreed, waiting for a decision."""

    def render(r: Any) -> None:
        table = Table(title="Open conflicts", title_justify="left")
        for col in ("id", "task", "field", "here", "on the platform", "detail"):
            table.add_column(col)
        for c in r.conflicts or []:
            table.add_row(*cells(c.id, c.task_id, c.field, str(c.local_value)[:40], str(c.remote_value)[:40], c.detail))
        out.print(table)

    _run(lambda o: o.git_conflicts(), as_json=as_json, render=render, project=project)


@git_app.command("resolve")
def git_resolve(
    conflict_id: ConflictIdArg,
    use: Annotated[str, typer.Option(help="local (keep the task's value) or remote (take the issue's).")],
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Resolve a conflict."""
    _run(lambda o: o.git_resolve_conflict(conflict_id, use), as_json=as_json, summary=summaries.git, project=project)


#: Exit code of a Git command whose run left work undone: some operations failed, or changes are
#: still pending (a long rate limit stopped the run). The same code as a failed platform call.
SYNC_INCOMPLETE = PlatformError.exit_code


def _exit_if_incomplete(result: GitResult) -> None:
    """After the result is printed: exit :data:`SYNC_INCOMPLETE` when part of the run failed or
    is still pending, saying what on stderr."""
    run = result.sync
    if run is None or (not run.failed and not run.pending):
        return
    parts = [f"{len(run.failed)} failed"] if run.failed else []
    if run.pending:
        parts.append(f"{run.pending} change(s) still pending" + (f" ({run.stopped})" if run.stopped else ""))
    lines = [f"error: sync incomplete: {', '.join(parts)}."]
    lines += [f"  task {f.task_id} {f.operation}: {f.error}" for f in run.failed[:10]]
    if len(run.failed) > 10:
        lines.append(f"  ... and {len(run.failed) - 10} more (taskorch git status)")
    lines.append("Fix what the errors name, then run `taskorch sync` again: pending changes are kept.")
    err.print("\n".join(lines), highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(SYNC_INCOMPLETE)


@app.command("sync")
def sync(
    pull_only: Annotated[bool, typer.Option("--pull-only", help="Only bring remote changes in.")] = False,
    push_only: Annotated[bool, typer.Option("--push-only", help="Only send local changes out.")] = False,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Pull changes made on the platform, then push local changes, with a progress bar.

    Exit codes: 0 when everything was pulled and pushed (open conflicts are listed and still exit
    0: they wait for `taskorch git resolve`); 6 when any change failed or is still pending (e.g. a
    rate limit longer than TASKORCH_MAX_RETRY_WAIT stopped the run), with what failed on stderr, or
    when the platform could not be used at all (no token, rejected token); 4 when the project has
    no repository connected; 2 for bad options; 5 when the database is unavailable.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("pushing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=as_json,
    ) as bar:
        job = bar.add_task("push", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        result = _run(
            lambda o: o.git_sync(pull=not push_only, push=not pull_only, progress=progress),
            as_json=as_json,
            summary=summaries.git,
            project=project,
        )
    _exit_if_incomplete(result)


BoardTypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type",
        help="sprint_board: a Jira Software scrum board, with sprints; else the platform's board "
        "(github_projects_v2, gitlab_issue_board, jira_board).",
    ),
]
SprintOpt = Annotated[
    int | None, typer.Option("--sprint", help="Sprint id; default: the active sprint, else the next one.")
]
DayOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@board_app.command("create")
def board_create(
    title: str, board_type: BoardTypeOpt = None, project: ProjectOpt = Path(), as_json: JsonOpt = False
) -> None:
    """Create the project board (needs the project tier); on Jira, find the project's board of that name."""
    _run(
        lambda o: o.board_manager("create_board", title=title, board_type=board_type),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


@board_app.command("add")
def board_add(task_id: TaskArg, project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Add a task's issue to the board."""
    _run(
        lambda o: o.board_manager("add_to_board", task_ids=[task_id]),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


@board_app.command("move")
def board_move(
    task_id: TaskArg,
    column: Annotated[str | None, typer.Option(help="Column; default: the one the task's status maps to.")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Move a task's card."""
    _run(
        lambda o: o.board_manager("move_card", task_ids=[task_id], column=column),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


@board_app.command("update-progress")
def board_update_progress(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Move every linked task's card to the column of its status."""
    _run(lambda o: o.board_manager("update_progress"), as_json=as_json, summary=summaries.board, project=project)


@board_app.command("sync-milestones")
def board_sync_milestones(project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Make sure every release milestone exists on the platform."""
    _run(lambda o: o.board_manager("sync_milestones"), as_json=as_json, summary=summaries.board, project=project)


@board_app.command("log-work")
def board_log_work(
    task_id: TaskArg,
    time_spent: Annotated[str, typer.Argument(help="e.g. 1h30m, 45m, 2h.")],
    comment: Annotated[str | None, typer.Option(help="What the time went on.")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Log time spent on a task's issue (Jira worklog, GitLab spent time); retried by sync if it fails."""
    _run(
        lambda o: o.board_manager("log_work", task_ids=[task_id], time_spent=time_spent, comment=comment),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


sprint_app = _typer("Sprints on the project's Jira Software scrum board.")
board_app.add_typer(sprint_app, name="sprint")


@sprint_app.command("create")
def sprint_create(
    name: str,
    start: DayOpt = None,
    end: DayOpt = None,
    goal: Annotated[str | None, typer.Option(help="The sprint's goal.")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create a future sprint on the board (or show the open one of that name)."""
    _run(
        lambda o: o.board_manager("create_sprint", title=name, start_date=_day(start), end_date=_day(end), goal=goal),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


@sprint_app.command("add")
def sprint_add(
    task_ids: Annotated[list[int], typer.Argument(metavar="TASK...", help="Task numbers.")],
    sprint: SprintOpt = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Put tasks' issues in a sprint."""
    _run(
        lambda o: o.board_manager("add_to_sprint", task_ids=task_ids, sprint_id=sprint),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


@sprint_app.command("start")
def sprint_start(
    sprint: SprintOpt = None,
    start: DayOpt = None,
    end: DayOpt = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Start a sprint (default: the next one); a board runs one sprint at a time."""
    _run(
        lambda o: o.board_manager("start_sprint", sprint_id=sprint, start_date=_day(start), end_date=_day(end)),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


@sprint_app.command("close")
def sprint_close(sprint: SprintOpt = None, project: ProjectOpt = Path(), as_json: JsonOpt = False) -> None:
    """Close the active sprint; its unfinished issues go back to the backlog."""
    _run(
        lambda o: o.board_manager("close_sprint", sprint_id=sprint),
        as_json=as_json,
        summary=summaries.board,
        project=project,
    )


release_app = _typer("Plan, tag and publish releases from finished work.")
app.add_typer(release_app, name="release")


@release_app.command("plan")
def release_plan(
    version: Annotated[str | None, typer.Argument(help="SemVer, e.g. 1.4.0; omit to have one proposed.")] = None,
    task: Annotated[
        list[int] | None,
        typer.Option(parser=task_id_parser, help="An included task number (repeatable); default: finished work."),
    ] = None,
    target_date: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Create or update a release plan and report its readiness."""
    due = target_date.date() if target_date else None
    _run(
        lambda o: o.release_plan(version, task, due, description),
        as_json=as_json,
        summary=summaries.release,
        project=project,
    )


@release_app.command("milestone")
def release_milestone(
    version: Annotated[str | None, typer.Argument()] = None, project: ProjectOpt = Path(), as_json: JsonOpt = False
) -> None:
    """Create (or update) the release's platform milestone and put its issues on it."""
    _run(lambda o: o.release_milestone(version), as_json=as_json, summary=summaries.release, project=project)


@release_app.command("changelog")
def release_changelog(
    version: Annotated[str | None, typer.Argument()] = None,
    template: Annotated[str, typer.Option(help="automated, manual or hybrid.")] = "automated",
    write: Annotated[bool, typer.Option("--write", help="Update CHANGELOG.md in the project.")] = False,
    notes: Annotated[str | None, typer.Option(help="Hand-written notes (hybrid).")] = None,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Release notes grouped by kind, from finished tasks and Conventional Commits."""
    if template not in ("automated", "manual", "hybrid"):
        raise _fail(InvalidInput("--template", f"{template!r} is not a template.", "use automated, manual or hybrid."))
    chosen = cast(Literal["automated", "manual", "hybrid"], template)
    _run(
        lambda o: o.release_changelog(version, chosen, write, notes),
        as_json=as_json,
        summary=summaries.release,
        project=project,
    )


@release_app.command("tag")
def release_tag(
    version: Annotated[str | None, typer.Argument()] = None,
    commit: Annotated[str, typer.Option(help="The commit to tag.")] = "HEAD",
    push: Annotated[bool, typer.Option("--push", help="Push the tag to the remote.")] = False,
    remote: Annotated[str, typer.Option()] = "origin",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the steps without doing them.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Release despite open included tasks.")] = False,
    via_api: Annotated[
        bool, typer.Option("--via-api", help="With --push: create the tag through Bitbucket Cloud's refs API.")
    ] = False,
    project: ProjectOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Tag, push, publish the platform release (with Jira: release the version), close the milestone; resumes
    after a failure."""
    _run(
        lambda o: o.release_tag(version, commit, push, remote, dry_run, force, via_api=via_api),
        as_json=as_json,
        summary=summaries.release,
        project=project,
    )


from taskorch.cli.team import token_app  # noqa: E402 (team mode's commands live in their own module)

app.add_typer(token_app, name="token")

from taskorch.cli.views import graph, web  # noqa: E402 (the graph and web view commands' own module)

app.command("graph")(graph)
app.command("web")(web)

from taskorch.cli.webhooks import webhook_app  # noqa: E402

app.add_typer(webhook_app, name="webhook")

from taskorch.cli.notify import notify_app  # noqa: E402

app.add_typer(notify_app, name="notify")


def main() -> None:
    """Run the Typer app (the console script is :func:`taskorch.cli.main`).

    Before it parses anything, Typer turns the signature of every command of the tree into a
    Click command (about 30 ms for all of them). A top-level command named on the command line
    (``taskorch get-status ...``) therefore runs from a copy of the app holding that command
    alone: the same options, help and errors. Anything else (no command, a group such as
    ``git``, a mistyped name, shell completion) runs the whole tree.
    """
    _app_for(sys.argv[1:2], completing=any(k.endswith("_COMPLETE") for k in os.environ))()


def _app_for(first: list[str], *, completing: bool) -> typer.Typer:
    """``app``, or a copy of it holding only the top-level command ``first`` names."""
    if completing or not first:
        return app
    for info in app.registered_commands:
        if info.callback is not None and (info.name or info.callback.__name__.lower().replace("_", "-")) == first[0]:
            single = copy.copy(app)
            single.registered_commands = [info]
            single.registered_groups = []
            return single
    return app
