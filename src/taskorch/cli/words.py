"""The CLI face's wording of hints: ``taskorch`` commands and their flags.

``Hint("update_task", {"task_id": 3, "depends_on": []})`` reads
``taskorch update-task 3 --no-dependencies``; ``Param("cascade", "cancel_task")`` reads
``--cascade``. :data:`COMMANDS` maps each verb (and, for the Git tools, each action) and its
parameters to the command and its flags; ``tests/test_cli_words.py`` checks every command and
flag named here exists in the Typer app. See :mod:`taskorch.hints`.

Nothing here imports Typer, Rich or the services: wording an error costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskorch.hints import REQUIRED, Hint, Param

__all__ = ["CLI_WORDS", "COMMANDS", "CliWords", "Command"]


@dataclass(frozen=True)
class Command:
    """A ``taskorch`` command: ``path`` after ``taskorch`` (``("git", "connect")``), the
    parameters it takes as ``arguments`` (in order, with their metavar), and ``flags`` mapping
    the other parameters to their option. ``values`` spells particular values of a parameter as
    a flag of their own, e.g. ``depends_on=[]`` as ``--no-dependencies``."""

    path: tuple[str, ...]
    arguments: Mapping[str, str] = field(default_factory=dict)
    flags: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[tuple[str, str], str] = field(default_factory=dict)


_TASK = {"task_id": "TASK"}

#: Every verb a service hint may name, and its CLI spelling.
COMMANDS: dict[str, Command] = {
    "initialize_session": Command(("initialize-session",), {"working_directory": "DIRECTORY"}),
    "get_status": Command(("get-status",)),
    "plan_task": Command(
        ("plan-task",),
        {"title": "TITLE"},
        {"depends_on": "--depends-on", "parent_id": "--parent-id", "subtasks": "--subtasks-json"},
    ),
    "execute_task": Command(("execute-task",), _TASK, {"force": "--force"}),
    "complete_task": Command(
        ("complete-task",),
        _TASK,
        {
            "summary": "--summary",
            "detailed_work": "--detailed-work",
            "file_paths": "--file-path",
            "artifact_type": "--artifact-type",
            "next_action": "--next-action",
        },
    ),
    "show_task": Command(("show",), _TASK),
    "next_task": Command(("next",)),
    "task_tree": Command(("tree",)),
    "query_tasks": Command(("query-tasks",), {}, {"status": "--status", "text": "--text", "parent_id": "--parent-id"}),
    "update_task": Command(
        ("update-task",),
        _TASK,
        {
            "expected_version": "--expected-version",
            "depends_on": "--depends-on",
            "status": "--status",
            "status_reason": "--status-reason",
            "labels": "--label",
            "title": "--title",
            "specialist_type": "--specialist-type",
        },
        {("depends_on", "[]"): "--no-dependencies"},
    ),
    "cancel_task": Command(("cancel-task",), _TASK, {"reason": "--reason", "cascade": "--cascade"}),
    "delete_task": Command(("delete-task",), _TASK, {"hard": "--hard", "cascade": "--cascade"}),
    "reopen_task": Command(("reopen-task",), _TASK, {"reason": "--reason"}),
    "synthesize_results": Command(("synthesize-results",), {"parent_task_id": "TASK"}),
    "audit_trail": Command(("audit",), {}, {"task_id": "--task-id"}),
    "maintenance_coordinator": Command(
        ("maintenance-coordinator",), {"action": "ACTION"}, {"dry_run": "--dry-run"}, {("dry_run", "false"): "--apply"}
    ),
    "restart_server": Command(("restart-server",), {}, {"create_new_database": "--create-new-database"}),
    "health_check": Command(("health-check",)),
    "git_integration.connect": Command(
        ("git", "connect"),
        {"repository": "OWNER/NAME"},
        {
            "api_token_name": "--token-name",
            "tier": "--tier",
            "conflict_policy": "--conflict-policy",
            "jira": "--jira",
            "jira_project": "--jira-project",
            "code_token_name": "--code-token-name",
        },
    ),
    "git_integration.sync_status": Command(
        ("git", "status"),
    ),
    "git_integration.create_issue": Command(("git", "create-issue"), _TASK),
    "git_integration.update_issue": Command(("git", "update-issue"), _TASK),
    "git_integration.link_task": Command(("git", "link-task"), {**_TASK, "issue_number": "ISSUE_NUMBER"}),
    "git_integration.list_conflicts": Command(("git", "conflicts")),
    "git_integration.resolve_conflict": Command(
        ("git", "resolve"), {"conflict_id": "CONFLICT_ID"}, {"resolution": "--use"}
    ),
    "git_integration.sync": Command(("sync",)),
    "project_board_manager.create_board": Command(("board", "create"), {"title": "TITLE"}, {"board_type": "--type"}),
    "project_board_manager.create_sprint": Command(("board", "sprint", "create"), {"title": "NAME"}),
    "project_board_manager.close_sprint": Command(("board", "sprint", "close"), {}, {"sprint_id": "--sprint"}),
    "project_board_manager.add_to_board": Command(("board", "add"), _TASK),
    "release_coordinator.plan_release": Command(("release", "plan"), {"version": "VERSION"}, {"included": "--task"}),
    "release_coordinator.tag_release": Command(
        ("release", "tag"),
        {"version": "VERSION"},
        {"force": "--force", "dry_run": "--dry-run", "push": "--push", "tag_via_api": "--via-api"},
    ),
}

#: Parameters named without a command (an error's field): those every command taking them spells
#: the same way. Others keep their name (``title`` is an argument of plan-task, an option of
#: update-task).
PARAMS: dict[str, str] = {
    "session_id": "--project DIRECTORY",
    "depends_on": "--depends-on",
    "labels": "--label",
    "acceptance_criteria": "--acceptance",
    "file_paths": "--file-path",
    "expected_version": "--expected-version",
    "cascade": "--cascade",
    "force": "--force",
    "jira": "--jira",
    "jira_project": "--jira-project",
    "code_token_name": "--code-token-name",
}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_value(v) for v in value) + "]"
    return str(value)


def _quoted(text: str) -> str:
    """A value as typed at a shell prompt: quoted when it holds spaces or shell characters."""
    if text and all(c.isalnum() or c in "-_./:@=+," for c in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


class CliWords:
    """Commands and flags, as a person types them (``taskorch update-task 3 --no-dependencies``)."""

    def command(self, hint: Hint) -> tuple[Command | None, dict[str, Any]]:
        """The command a hint names and its remaining arguments (``action`` folded into the command)."""
        args = dict(hint.args)
        action = args.get("action")
        if isinstance(action, str) and f"{hint.verb}.{action}" in COMMANDS:
            del args["action"]
            return COMMANDS[f"{hint.verb}.{action}"], args
        return COMMANDS.get(hint.verb), args

    def call(self, hint: Hint) -> str:
        command, args = self.command(hint)
        if command is None:  # a verb without a command: say it in words rather than invent one
            return hint.verb.replace("_", " ")
        words = ["taskorch", *command.path]
        for name, metavar in command.arguments.items():
            if name in args:
                value = args.pop(name)
                words.append(metavar if value is REQUIRED else _quoted(_value(value)))
        for name, value in args.items():
            special = command.values.get((name, _value(value)))
            if special is not None:
                words.append(special)
                continue
            flag = command.flags.get(name)
            if flag is None:
                continue  # a parameter the CLI takes from elsewhere (session_id: --project)
            if value is REQUIRED:
                words.append(f"{flag} {flag.removeprefix('--').replace('-', '_').upper()}")
            elif isinstance(value, bool):
                if value:
                    words.append(flag)
            elif isinstance(value, list | tuple):
                words += [f"{flag} {_quoted(_value(item))}" for item in value]
            else:
                words.append(f"{flag} {_quoted(_value(value))}")
        return " ".join(words)

    def param(self, param: Param) -> str:
        """The option of a parameter (``--depends-on``); an argument keeps its name (``title``)."""
        name = PARAMS.get(param.name, param.name)
        command = COMMANDS.get(param.verb or "")
        if command is not None and param.name in command.flags:
            name = command.flags[param.name]
        if param.value is None or param.value is True or not name.startswith("--"):
            return name
        return f"{name} {_quoted(_value(param.value))}"


#: The wording of every message and next step the CLI prints.
CLI_WORDS = CliWords()
