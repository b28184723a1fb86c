"""Hostile or malformed text through every face: control characters refused in what callers
write, stored text printed safely, encoded file paths and system directories refused, ids parsed
from text within bounds.

Text "from before" these rules, or from a Git platform, is written into the store directly with
SQLAlchemy, as no tool accepts it any more.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextResourceContents
from sqlalchemy import create_engine, func, select, update
from typer.testing import CliRunner, Result

import taskorch.cli.app as cli_module
from taskorch.cli.app import app
from taskorch.config import Settings
from taskorch.errors import InvalidInput
from taskorch.mcp.server import PREFIX, build_server
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields
from taskorch.store.tables import artifacts, task_events, tasks

ESC_TITLE = "Esc \x1b[31mred\x1b[0m [bold]x[/bold] \x9b2J :rocket: [waiting]"

# -- helpers -----------------------------------------------------------------------------------


def store_directly(database_url: str, task_id: int, **values: Any) -> None:
    """Write task columns as stored data from before validation, or from a platform, would be."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
    finally:
        engine.dispose()


def store_counts(database_url: str) -> tuple[int, int, int, int]:
    """(tasks, audit entries, artifacts, sum of task versions): any change moves one of them."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(tasks)).scalar_one(),
                conn.execute(select(func.count()).select_from(task_events)).scalar_one(),
                conn.execute(select(func.count()).select_from(artifacts)).scalar_one(),
                conn.execute(select(func.coalesce(func.sum(tasks.c.version), 0))).scalar_one(),
            )
    finally:
        engine.dispose()


Invoke = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, project: Path) -> Iterator[Invoke]:
    """The CLI run from inside ``project`` (task commands work on the current directory's project)."""
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    monkeypatch.chdir(project)
    runner = CliRunner()
    # Wide enough that no table cell wraps the strings asserted on.
    width = cli_module.out.width
    cli_module.out.width = 400
    cli_module.err.width = 400

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(app, [str(arg) for arg in args])

    yield invoke
    cli_module.out.width = width
    cli_module.err.width = width


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def refused(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.stderr


Scenario = Callable[[Client], Awaitable[None]]


def run_mcp(database_url: str, project: Path, scenario: Scenario, *, git: bool = False) -> None:
    settings = Settings(database_url=database_url, git_integration="basic" if git else "disabled")

    async def main() -> None:
        with anyio.fail_after(30):
            async with Client(build_server(settings), mode="legacy") as client:
                started = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(project)})
                assert not started.is_error, started.content
                await scenario(client)

    anyio.run(main)


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def call_error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(PREFIX + tool, arguments)
    assert result.is_error, (tool, arguments, result.structured_content)
    text = text_of(result)
    assert "Traceback" not in text
    return text.removeprefix(f"Error executing tool {PREFIX}{tool}: ")


# -- 1. control characters in what callers write -------------------------------------------------

#: (tool, arguments, the field the error must name); every value holds an ESC.
MCP_ONE_LINE = [
    ("plan_task", {"title": "Ship \x1b[2J it"}, "title"),
    ("plan_task", {"title": "Ok", "labels": ["api", "ui\x1b"]}, "labels.1"),
    ("plan_task", {"title": "Ok", "acceptance_criteria": ["fine", "two\nlines"]}, "acceptance_criteria.1"),
    ("plan_task", {"title": "Ok", "estimated_effort": "2h\x1b"}, "estimated_effort"),
    ("plan_task", {"title": "Ok", "specialist_type": "tester\x00"}, "specialist_type"),
    ("plan_task", {"title": "Ok", "description": "bell \x07"}, "description"),
    ("plan_task", {"title": "Ok", "context": "lone \r return"}, "context"),
    (
        "plan_task",
        {
            "title": "Ok",
            "subtasks": [{"key": "a", "title": "A"}, {"key": "b", "title": "B"}, {"key": "c", "title": "\x1bC"}],
        },
        "subtasks.2.title",
    ),
    (
        "plan_task",
        {"title": "Ok", "subtasks": [{"key": "a", "title": "A", "depends_on_keys": ["b\x1b"]}]},
        "subtasks.0.depends_on_keys.0",
    ),
    ("update_task", {"task_id": 1, "title": "Renamed \x1b"}, "title"),
    ("update_task", {"task_id": 1, "labels": ["x\x7f"]}, "labels.0"),
    ("update_task", {"task_id": 1, "milestone": "v1\x1b"}, "milestone"),
    ("update_task", {"task_id": 1, "status": "blocked", "status_reason": "wait \x1b[8m"}, "status_reason"),
    ("complete_task", {"task_id": 1, "summary": "done \x1b]0;title\x07"}, "summary"),
    ("complete_task", {"task_id": 1, "summary": "done", "next_action": "\x9b2J"}, "next_action"),
    ("cancel_task", {"task_id": 1, "reason": "gone \x1b"}, "reason"),
    ("initialize_session", {"working_directory": "/tmp", "name": "a\x1bb"}, "name"),
    ("restart_server", {"reason": "\x1b"}, "reason"),
]


@pytest.mark.parametrize(("tool", "arguments", "field"), MCP_ONE_LINE, ids=[f"{t}-{f}" for t, _, f in MCP_ONE_LINE])
def test_mcp_refuses_control_characters_naming_field_and_character(
    database_url: str, project: Path, tool: str, arguments: dict[str, Any], field: str
) -> None:
    async def scenario(client: Client) -> None:
        planned = await client.call_tool(PREFIX + "plan_task", {"title": "Existing"})
        assert not planned.is_error
        started = await client.call_tool(PREFIX + "execute_task", {"task_id": 1})
        assert not started.is_error
        before = store_counts(database_url)
        message = await call_error(client, tool, arguments)
        assert message.startswith(f"invalid_input: {field}: contains the control character U+00"), message
        assert "Fix: remove it" in message
        assert "Value error" not in message
        assert "input_value" not in message
        assert store_counts(database_url) == before

    run_mcp(database_url, project, scenario)


def test_mcp_names_the_character(database_url: str, project: Path) -> None:
    async def scenario(client: Client) -> None:
        message = await call_error(client, "plan_task", {"title": "ab\x1b[31m"})
        assert message.startswith("invalid_input: title: contains the control character U+001B (ESC) at character 3")
        message = await call_error(client, "plan_task", {"title": "x", "description": "nul\x00"})
        assert "U+0000 (NUL)" in message
        message = await call_error(client, "plan_task", {"title": "x", "labels": ["csi\x9b"]})
        assert "U+009B (CSI)" in message

    run_mcp(database_url, project, scenario)


def test_multi_line_fields_keep_line_feeds_and_tabs_and_normalise_crlf(database_url: str, project: Path) -> None:
    async def scenario(client: Client) -> None:
        planned = await client.call_tool(
            PREFIX + "plan_task",
            {"title": "Lines", "description": "one\r\ntwo\n\tthree", "context": "a\tb\r\nc"},
        )
        assert not planned.is_error, text_of(planned)
        task = planned.structured_content["task"]
        assert (task["description"], task["context"]) == ("one\ntwo\n\tthree", "a\tb\nc")

    run_mcp(database_url, project, scenario)


def test_git_and_release_arguments_refuse_control_characters(orch: Orchestrator, database_url: str) -> None:
    before = store_counts(database_url)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: orch.git_connect("octo/shop\x1b", api_token_name="GITHUB_TOKEN"), "repository"),
        (lambda: orch.git_connect("octo/shop", api_token_name="GITHUB\x1b"), "api_token_name"),
        (lambda: orch.git_connect("octo/shop", api_token_name="T", default_labels=["ok", "b\x1b"]), "default_labels.1"),
        (
            lambda: orch.git_connect("octo/shop", api_token_name="T", status_mapping={"completed": "D\x1b"}),
            "status_mapping.completed",
        ),
        (lambda: orch.git_create_milestone("v1.0\x1b"), "title"),
        (lambda: orch.git_create_milestone("v1.0", description="\x1b[2J"), "description"),
        (lambda: orch.board_manager("create_board", title="Board\n"), "title"),
        (lambda: orch.release_plan("1.0.0\x1b"), "version"),
        (lambda: orch.release_changelog("1.0.0", notes="\x1b]8;;http://x\x07"), "notes"),
        (lambda: orch.release_tag("1.0.0", commit="HEAD\x1b"), "commit"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as raised:
            call()
        assert raised.value.field == field
        assert "contains the control character U+00" in raised.value.problem
    assert store_counts(database_url) == before


def test_cli_refuses_control_characters(cli: Invoke, project: Path, database_url: str) -> None:
    ok(cli("plan-task", "Existing", "--project", project))
    ok(cli("execute-task", "1"))
    before = store_counts(database_url)
    cases: list[tuple[list[str | Path], str]] = [
        (["plan-task", "Title \x1b[31m", "--project", project], "title"),
        (["plan-task", "Ok", "--label", "a\tb", "--project", project], "labels.0"),
        (["update-task", "1", "--title", "x\x1b"], "title"),
        (["update-task", "1", "--status", "blocked", "--status-reason", "\x1b[8m"], "status_reason"),
        (["update-task", "1", "--milestone", "v1\x00"], "milestone"),
        (["complete-task", "1", "--summary", "done\x1b"], "summary"),
        (["cancel-task", "1", "--reason", "\x07"], "reason"),
        (["initialize-session", project, "--name", "a\x1bb"], "name"),
    ]
    for args, field in cases:
        message = refused(cli(*args))
        assert message.startswith(f"error: {field}: contains the control character U+00"), (args, message)
        assert "\x1b" not in message
    assert store_counts(database_url) == before


# -- 2. stored text printed safely ---------------------------------------------------------------


def test_cli_prints_stored_control_characters_and_markup_literally(
    cli: Invoke, project: Path, database_url: str
) -> None:
    ok(cli("plan-task", "Plain title", "--label", "[red]", "--project", project))
    ok(cli("update-task", "1", "--status", "blocked", "--status-reason", "[waiting] on [bold]review[/bold]"))
    store_directly(database_url, 1, title=ESC_TITLE)

    outputs = {
        "get-status": ok(cli("get-status", "--project", project)),
        "query-tasks": ok(cli("query-tasks", "--project", project)),
        "query-tasks --json": ok(cli("query-tasks", "--project", project, "--json")),
        "audit": ok(cli("audit", "--project", project)),
        "update-task": ok(cli("update-task", "1", "--status", "pending")),
    }
    for name, result in outputs.items():
        assert "\x1b" not in result.output, name
        assert "\x9b" not in result.output, name
    status = outputs["get-status"].stdout
    assert "Esc \\x1b[31mred\\x1b[0m [bold]x[/bold] \\x9b2J :rocket: [waiting]" in status
    assert "[waiting] on [bold]review[/bold]" in status
    assert "[red]" in outputs["query-tasks"].stdout
    assert "status_reason: (none) -> [waiting] on [bold]review[/bold]" in " ".join(outputs["audit"].stdout.split())
    listed = json.loads(outputs["query-tasks --json"].stdout)
    assert listed["tasks"][0]["title"] == ESC_TITLE

    started = ok(cli("execute-task", "1"))
    assert "\x1b" not in started.output
    assert "task 1: Esc \\x1b[31mred" in started.stdout


def test_cli_error_messages_print_markup_literally(cli: Invoke, project: Path) -> None:
    message = refused(cli("plan-task", "x", "--specialist-type", "[bold]wizard[/bold]", "--project", project))
    assert "'[bold]wizard[/bold]'" in message


def test_mcp_summaries_escape_stored_control_characters(database_url: str, project: Path) -> None:
    async def scenario(client: Client) -> None:
        assert not (await client.call_tool(PREFIX + "plan_task", {"title": "Plain"})).is_error
        store_directly(database_url, 1, title=ESC_TITLE)
        for tool, arguments in (("get_status", {}), ("query_tasks", {}), ("execute_task", {"task_id": 1})):
            result = await client.call_tool(PREFIX + tool, arguments)
            assert not result.is_error, text_of(result)
            assert "\x1b" not in text_of(result) and "\x9b" not in text_of(result), tool
            assert "Esc \\x1b[31mred" in text_of(result), tool
        # structuredContent carries the data as stored (JSON escapes it).
        found = await client.call_tool(PREFIX + "query_tasks", {})
        assert found.structured_content is not None
        assert found.structured_content["tasks"][0]["title"] == ESC_TITLE

    run_mcp(database_url, project, scenario)


# -- 3. file paths and project roots -------------------------------------------------------------

ENCODED_PATHS = [
    ("%2e%2e/%2e%2e/etc/passwd", "'%2e'"),
    ("src%2fapp.py", "'%2f'"),
    ("src%5C..%5Capp.py", "'%5C'"),
    ("%252e%252e/secret", "'%25'"),
    ("docs/%00.md", "'%00'"),
    ("src\uff0fapp.py", "U+FF0F"),
    ("\uff0e\uff0e/etc/passwd", "U+FF0E"),
    ("src\u2215app.py", "U+2215"),
    ("a" * 1025, "1025 characters"),
    ("src/" + "n" * 256 + "/app.py", "256 bytes"),
    ("src/app\x1b.py", "U+001B (ESC)"),
    ("src/app.py\n", "U+000A (LF)"),
]


@pytest.mark.parametrize(("path", "named"), ENCODED_PATHS)
def test_complete_task_refuses_encoded_and_overlong_paths(
    orch: Orchestrator, database_url: str, path: str, named: str
) -> None:
    task_id = orch.plan_task(TaskFields(title="Work")).task.id
    orch.execute_task(task_id)
    before = store_counts(database_url)
    with pytest.raises(InvalidInput) as raised:
        orch.complete_task(task_id, "done", file_paths=["src/app.py", path])
    assert raised.value.field == "file_paths[1]"
    assert named in str(raised.value)
    assert "Fix:" in str(raised.value)
    assert store_counts(database_url) == before
    assert orch.get_task(task_id).status.value == "in_progress"


def test_complete_task_bounds_the_number_of_paths(orch: Orchestrator) -> None:
    task_id = orch.plan_task(TaskFields(title="Work")).task.id
    orch.execute_task(task_id)
    with pytest.raises(InvalidInput, match="at most 500"):
        orch.complete_task(task_id, "done", file_paths=[f"f{i}.py" for i in range(501)])
    done = orch.complete_task(task_id, "done", file_paths=["src/100%.py", "notes/ünïcode 🚀.md", "a/b/../c.py"])
    assert done.task.status.value == "completed"


@pytest.mark.parametrize("directory", ["/", "/etc", "/usr", "/var", "/bin", "/proc", "/proc/self/cwd", "/sys", "/dev"])
def test_system_directories_are_not_projects(settings: Settings, directory: str) -> None:
    if not Path(directory).is_dir():
        pytest.skip(f"{directory} does not exist here")
    orchestrator = Orchestrator(settings)
    try:
        with pytest.raises(InvalidInput) as raised:
            orchestrator.initialize_session(directory)
        assert raised.value.field == "working_directory"
        assert raised.value.fix
    finally:
        orchestrator.close()


def test_home_directory_itself_is_not_a_project(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "code" / "shop" / ".git").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    orchestrator = Orchestrator(settings)
    try:
        for given in (str(home), "~"):
            with pytest.raises(InvalidInput, match="home directory itself"):
                orchestrator.initialize_session(given)
        # A dotfiles repository at home: a directory in it without its own repository leads home.
        (home / ".git").mkdir()
        (home / "notes").mkdir()
        with pytest.raises(InvalidInput, match="leads to the project root"):
            orchestrator.initialize_session(str(home / "notes"))
        session = orchestrator.initialize_session("~/code/shop")
        assert session.project_root == str((home / "code" / "shop").resolve())
        assert session.resolved_from is None
    finally:
        orchestrator.close()


def test_cli_project_option_refuses_system_roots(cli: Invoke) -> None:
    message = refused(cli("get-status", "--project", "/"))
    assert message.startswith("error: working_directory: '/'")
    message = refused(cli("initialize-session", "/proc/self/cwd"))
    assert "kernel file system" in message


def test_session_says_where_symlinks_led(database_url: str, project: Path, tmp_path: Path) -> None:
    (project / "src").mkdir()
    link = tmp_path / "shortcut"
    link.symlink_to(project / "src", target_is_directory=True)

    async def scenario(client: Client) -> None:
        result = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(link)})
        assert not result.is_error, text_of(result)
        session = result.structured_content
        assert session is not None
        assert session["project_root"] == str(project.resolve())
        assert session["resolved_from"] == str(link)
        assert f"{link} resolved (through symlinks) to {(project / 'src').resolve()}" in session["next_step"]
        plain = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(project / "src")})
        assert plain.structured_content is not None
        assert plain.structured_content.get("resolved_from") is None  # a default is left out
        assert "symlinks" not in plain.structured_content["next_step"]

    run_mcp(database_url, project, scenario)


# -- 4. ids given as text ------------------------------------------------------------------------

HOSTILE_IDS = ["²", "٣", "１", "0", "-1", "+1", " 1", "1.0", "0x1", "1e3", "9223372036854775808", "9" * 23, "9" * 5000]


def test_resource_uris_take_ascii_ids_within_bounds(database_url: str, project: Path) -> None:
    async def scenario(client: Client) -> None:
        assert not (await client.call_tool(PREFIX + "plan_task", {"title": "One"})).is_error
        before = store_counts(database_url)
        for text in HOSTILE_IDS:
            for uri in (f"taskorch://tasks/{text}", f"taskorch://tasks/{text}/audit"):
                with pytest.raises(MCPError) as raised:
                    await client.read_resource(uri)
                message = str(raised.value)
                assert "is not an id" in message or "out of range" in message or "Unknown resource" in message, (
                    uri[:60],
                    message[:200],
                )
                assert "Traceback" not in message
        with pytest.raises(MCPError, match="task 2147483647 not found in project"):
            await client.read_resource(f"taskorch://tasks/{2**31 - 1}")
        found = await client.read_resource("taskorch://tasks/0001")
        content = found.contents[0]
        assert isinstance(content, TextResourceContents)
        assert json.loads(content.text)["id"] == 1
        assert store_counts(database_url) == before

    run_mcp(database_url, project, scenario)


CLI_ID_COMMANDS: list[list[str]] = [
    ["execute-task", "{id}"],
    ["complete-task", "{id}", "--summary", "x"],
    ["update-task", "{id}", "--title", "x"],
    ["cancel-task", "{id}", "--reason", "x"],
    ["delete-task", "{id}"],
    ["synthesize-results", "{id}"],
    ["plan-task", "x", "--parent-id", "{id}", "--project", "{project}"],
    ["plan-task", "x", "--depends-on", "{id}", "--project", "{project}"],
    ["update-task", "1", "--depends-on", "{id}"],
    ["query-tasks", "--parent-id", "{id}", "--project", "{project}"],
    ["audit", "--task-id", "{id}", "--project", "{project}"],
    ["git", "create-issue", "{id}"],
    ["git", "link-task", "1", "{id}"],
    ["git", "resolve", "{id}", "--use", "local", "--project", "{project}"],
    ["board", "add", "{id}", "--project", "{project}"],
    ["release", "plan", "--task", "{id}", "--project", "{project}"],
]


@pytest.mark.parametrize("command", CLI_ID_COMMANDS, ids=[" ".join(c[:3]) for c in CLI_ID_COMMANDS])
def test_cli_ids_go_through_one_parser(cli: Invoke, project: Path, database_url: str, command: list[str]) -> None:
    ok(cli("plan-task", "One", "--project", project))
    before = store_counts(database_url)
    for text in ("٣", "²", "9223372036854775808", "99999999999999999999999", "-1", "0", "1_000"):
        message = refused(cli(*(part.format(id=text, project=project) for part in command)))
        if text.startswith("-") and "No such option" in message:  # a negative number reads as an option
            continue
        assert "Invalid value" in message, (command, text, message)
        assert "is not an id" in message or "out of range" in message, (command, text, message)
    assert store_counts(database_url) == before
