"""``taskorch notify add|list|remove|digest``: notification rules of the current project.

Incoming-webhook URLs are named, never given: ``--url-name SLACK_WEBHOOK_URL`` names the
environment variable or keyring entry (service ``taskorch``) holding the URL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from taskorch.cli.terminal import safe
from taskorch.errors import TaskorchError

__all__ = ["notify_app"]

notify_app = typer.Typer(
    help="Notifications to Slack, Microsoft Teams, Discord or a generic webhook.", no_args_is_help=True
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
T = TypeVar("T")

ProjectOpt = Annotated[Path | None, typer.Option("--project", help="Project root (default: the current directory).")]


def _with(fn: Callable[[Any, int], T], project: Path | None) -> T:
    from taskorch.services.app import Orchestrator
    from taskorch.services.notifications import NotificationService

    try:
        orch = Orchestrator()
        try:
            session_id = orch.initialize_session(str(project or Path.cwd())).session_id
            return fn(NotificationService(orch), session_id)
        finally:
            orch.close()
    except TaskorchError as exc:
        err.print(Text.assemble(("error", "bold red"), ": ", safe(exc)), soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


@notify_app.command("add")
def notify_add(
    name: Annotated[str, typer.Argument(help="The rule's name, e.g. team-slack.")],
    service: Annotated[str, typer.Option(help="slack, teams, discord or generic.")],
    url_name: Annotated[str, typer.Option(help="Env variable or keyring entry holding the webhook URL.")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="task_completed, task_blocked, conflict_opened, release_published, sync_failing (repeatable).",
        ),
    ] = None,
    digest: Annotated[str, typer.Option(help="none, daily or weekly progress digest.")] = "none",
    min_interval: Annotated[float, typer.Option(help="Seconds between two posts of this rule (rate limit).")] = 60.0,
    project: ProjectOpt = None,
) -> None:
    """Send a project's events to an incoming webhook."""
    rule = _with(
        lambda s, sid: s.add_rule(
            sid,
            name,
            service=service,
            url_name=url_name,
            events=event or [],
            digest=digest,
            min_interval_seconds=min_interval,
        ),
        project,
    )
    out.print(Text(f"rule {rule.name}: {', '.join(rule.events) or 'no events'} -> {rule.service} ({rule.url_name})"))


@notify_app.command("list")
def notify_list(project: ProjectOpt = None) -> None:
    """The project's rules (URL names only, never URLs)."""
    rules = _with(lambda s, sid: s.list_rules(sid), project)
    if not rules:
        out.print("no notification rules")
    for rule in rules:
        out.print(
            Text(
                f"{rule.name}: {rule.service} via {rule.url_name}; events {', '.join(rule.events) or '-'}; "
                f"digest {rule.digest}; at most one post per {rule.min_interval_seconds:g} s"
            )
        )


@notify_app.command("remove")
def notify_remove(name: Annotated[str, typer.Argument(help="The rule's name.")], project: ProjectOpt = None) -> None:
    """Remove a rule and what it still had queued."""
    _with(lambda s, sid: s.remove_rule(sid, name), project)
    out.print(Text(f"rule {name} removed"))


@notify_app.command("digest")
def notify_digest(
    period: Annotated[str, typer.Option(help="daily or weekly.")] = "daily", project: ProjectOpt = None
) -> None:
    """Print the progress digest: what finished, what is blocked, what is next."""
    event = _with(lambda s, sid: s.digest(sid, period), project)
    out.print(Text(f"{event['title']}\n{event['text']}"))
