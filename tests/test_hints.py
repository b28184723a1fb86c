"""Hints: the services say what to do next once; the MCP face and the CLI word it their way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from taskorch.cli.app import app
from taskorch.cli.words import CLI_WORDS, COMMANDS, PARAMS
from taskorch.errors import Conflict, InvalidInput
from taskorch.hints import PLAIN, REQUIRED, Hint, Param, attach, finish, render
from taskorch.mcp.words import MCP_WORDS
from taskorch.services.models import ExecuteResult

SRC = Path(__file__).resolve().parents[1] / "src" / "taskorch"


def test_no_inner_layer_writes_an_mcp_tool_name() -> None:
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for layer in ("services", "store", "sync", "release", "domain", "platforms", "specialists")
        for path in sorted((SRC / layer).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "orchestrator_" in line
    ]
    assert found == []


def _click_command(path: tuple[str, ...]) -> Any:
    """The Click command of ``taskorch PATH...`` (Typer's own copy of Click)."""
    command: Any = typer.main.get_command(app)
    for name in path:
        assert hasattr(command, "commands"), f"{path}: {name} is not under a group"
        sub = command.commands.get(name)
        assert sub is not None, f"taskorch {' '.join(path)}: no command {name!r}"
        command = sub
    return command


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_every_command_and_flag_of_the_mapping_exists(verb: str) -> None:
    mapped = COMMANDS[verb]
    command = _click_command(mapped.path)
    options = _options(command)
    arguments = [p.name for p in command.params if p.param_type_name == "argument"]
    for flag in [*mapped.flags.values(), *mapped.values.values()]:
        assert flag in options, f"taskorch {' '.join(mapped.path)} has no option {flag}"
    assert len(mapped.arguments) <= len(arguments), f"taskorch {' '.join(mapped.path)}: too many arguments"


def test_every_parameter_spelled_without_a_command_exists_on_some_command() -> None:
    every = set().union(*(_options(_click_command(c.path)) for c in COMMANDS.values()))
    every |= _options(_click_command(("get-status",)))
    for name, spelled in PARAMS.items():
        assert spelled.split()[0] in every, f"{name}: {spelled}"


def test_each_face_words_a_hint_its_way() -> None:
    hint = Hint("update_task", {"task_id": 3, "depends_on": []})
    assert render(("remove it with ", hint, "."), MCP_WORDS) == (
        "remove it with orchestrator_update_task with task_id=3, depends_on=[]."
    )
    assert (
        render(("remove it with ", hint, "."), CLI_WORDS) == "remove it with taskorch update-task 3 --no-dependencies."
    )
    assert render((hint,), PLAIN) == "update_task with task_id=3, depends_on=[]"

    cascade = Hint("cancel_task", {"task_id": 4, "reason": REQUIRED, "cascade": True})
    assert MCP_WORDS.call(cascade) == "orchestrator_cancel_task with task_id=4, reason, cascade=true"
    assert CLI_WORDS.call(cascade) == "taskorch cancel-task 4 --reason REASON --cascade"

    connect = Hint("git_integration", {"action": "connect", "repository": REQUIRED, "tier": "project"})
    assert CLI_WORDS.call(connect) == "taskorch git connect OWNER/NAME --tier project"
    assert MCP_WORDS.call(connect) == "orchestrator_git_integration with action=connect, repository, tier=project"

    read = Hint("show_task", {"task_id": 7})
    assert MCP_WORDS.call(read) == "orchestrator_query_tasks with task_ids=[7]"
    assert CLI_WORDS.call(read) == "taskorch show 7"

    assert CLI_WORDS.param(Param("force", value=True)) == "--force"
    assert MCP_WORDS.param(Param("force", value=True)) == "force=true"
    assert CLI_WORDS.param(Param("session_id")) == "--project DIRECTORY"
    assert CLI_WORDS.call(Hint("plan_task", {"title": "Fix the login page"})) == (
        "taskorch plan-task 'Fix the login page'"
    )


def test_errors_carry_their_hints_to_each_face() -> None:
    error = Conflict(("task 2 has open subtasks. Cancel them with ", Hint("cancel_task", {"task_id": 2}), "."))
    assert str(error) == "task 2 has open subtasks. Cancel them with cancel_task with task_id=2."
    assert "orchestrator_cancel_task with task_id=2" in error.render(MCP_WORDS)
    assert "taskorch cancel-task 2." in error.render(CLI_WORDS)

    invalid = InvalidInput("depends_on", "task 9 does not exist.", ("list them with ", Hint("query_tasks"), "."))
    assert invalid.render(CLI_WORDS) == "--depends-on: task 9 does not exist. Fix: list them with taskorch query-tasks."
    assert invalid.render(MCP_WORDS) == (
        "depends_on: task 9 does not exist. Fix: list them with orchestrator_query_tasks."
    )
    assert invalid.fix == "list them with query_tasks."


def test_a_result_keeps_its_next_step_message_out_of_its_data() -> None:
    result = ExecuteResult.model_construct(next_step="")
    attach(result, ("Call ", Hint("execute_task", {"task_id": 5}), "."))
    assert result.next_step == "Call execute_task with task_id=5."
    assert "_taskorch" not in result.model_dump_json()
    assert finish(result, MCP_WORDS).next_step == "Call orchestrator_execute_task with task_id=5."
    assert finish(result, CLI_WORDS).next_step == "Call taskorch execute-task 5."


def test_cli_words_never_name_an_mcp_tool() -> None:
    for verb, command in COMMANDS.items():
        name, _, action = verb.partition(".")
        args = {"action": action} if action else {}
        args |= dict.fromkeys([*command.arguments, *command.flags], REQUIRED)
        text = CLI_WORDS.call(Hint(name, args))
        assert text.startswith("taskorch "), text
        assert not re.search(r"orchestrator_|\w=", text), text
