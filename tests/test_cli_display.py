"""The CLI as a person meets it: show, next, tree, reopen-task, --version, -h, completion, help
that fits 80 columns, messages in the CLI's own words, and what a command imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from taskorch.cli.app import app

Invoke = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, project: Path) -> Invoke:
    """The CLI run from inside ``project`` (the default of --project), as a person would."""
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    monkeypatch.chdir(project)
    runner = CliRunner()

    def invoke(*args: str | int | Path) -> Result:
        return runner.invoke(app, [str(arg) for arg in args])

    return invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.stderr == ""
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def failed(result: Result, code: int) -> str:
    """Check the exit code and that the error went to stderr only; return stderr."""
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.stderr.startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture
def planned(cli: Invoke, tmp_path: Path) -> dict[str, Any]:
    """A parent "Widget feature" with subtasks design and build (build depends on design)."""
    subtasks = tmp_path / "subtasks.json"
    subtasks.write_text(
        json.dumps(
            [
                {"key": "design", "title": "Design the widget", "acceptance_criteria": ["It is drawn"]},
                {"key": "build", "title": "Build the widget", "depends_on_keys": ["design"]},
            ]
        ),
        encoding="utf-8",
    )
    plan: dict[str, Any] = as_json(cli("plan-task", "Widget feature", "--subtasks-json", subtasks, "--json"))
    return plan


def ids_of(plan: dict[str, Any]) -> dict[str, int]:
    return {"parent": plan["task"]["id"], **{key: brief["id"] for key, brief in plan["subtasks"].items()}}


#: Python reprs that must never reach a person.
REPRS = re.compile(r"\bNone\b|\bTrue\b|\bFalse\b|\{'|\['|': ")


def human(result: Any) -> str:
    """stdout and stderr, checked free of MCP wording and Python reprs."""
    text = result.stdout + result.stderr
    assert "orchestrator_" not in text, text
    assert not re.search(r"\b[a-z_]+=(true|false|\[|\d)", text), text  # tool-argument syntax
    assert not REPRS.search(text), text
    return text


def start_and_finish(cli: Invoke, task: int, *files: str) -> Any:
    ok(cli("execute-task", task))
    args = [arg for f in files for arg in ("--file-path", f)]
    return cli("complete-task", task, "--summary", f"Did task {task}", *args)


# -- show, next, tree --------------------------------------------------------------------------


def test_show_prints_the_context_without_starting_the_task(
    cli: Invoke, tmp_path: Path, planned: dict[str, Any]
) -> None:
    ids = ids_of(planned)
    ok(cli("update-task", ids["design"], "--title", "Design the widget"))
    before = as_json(cli("show", ids["build"], "--json"))
    shown = human(ok(cli("show", ids["build"])))
    assert f"task {ids['build']}: Build the widget" in shown
    assert f"part of task {ids['parent']}: Widget feature" in shown
    assert "nothing recorded yet" in shown  # its dependency, design, has no work yet
    assert "History" in shown and "created" in shown
    after = as_json(cli("show", ids["build"], "--json"))
    assert after["task"]["status"] == "pending"  # not started: a dependency is unfinished anyway
    assert after["audit"] == before["audit"]
    assert after["specialist"]["instructions"]
    assert after["issue"] is None

    ok(cli("execute-task", ids["design"]))
    ok(cli("complete-task", ids["design"], "--summary", "Sketched it"))
    ready = as_json(cli("show", ids["build"], "--json"))
    assert ready["task"]["status"] == "pending"
    assert [d["task_id"] for d in ready["dependency_results"]] == [ids["design"]]
    assert "from task" in ok(cli("show", ids["build"])).stdout
    assert "Sketched it" in " ".join(ok(cli("show", ids["build"])).stdout.split())


def test_show_of_an_unknown_number_says_how_to_list_them(cli: Invoke, planned: dict[str, Any]) -> None:
    message = failed(cli("show", "99"), 3)
    human_text = " ".join(message.split())
    assert "taskorch query-tasks" in human_text
    assert "orchestrator_" not in message


def test_next_names_the_task_its_role_and_the_command(cli: Invoke, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    text = human(ok(cli("next")))
    assert f"task {ids['design']}: Design the widget" in text
    assert "role: " in text
    assert f"taskorch execute-task {ids['design']}" in text
    assert as_json(cli("next", "--json"))["id"] == ids["design"]

    ok(cli("execute-task", ids["design"]))
    idle = human(ok(cli("next")))
    assert idle.startswith("Nothing is ready")
    assert "1 task(s) in progress" in idle
    assert json.loads(ok(cli("next", "--json")).stdout) is None


def test_next_in_an_empty_project(cli: Invoke) -> None:
    text = human(ok(cli("next")))
    assert "Nothing is ready" in text and "taskorch plan-task" in text


def test_tree_shows_every_task_under_its_parent_with_status(cli: Invoke, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    ok(cli("execute-task", ids["design"]))
    runner = CliRunner(env={"COLUMNS": "40"})
    result = runner.invoke(app, ["tree"])
    assert result.exit_code == 0, result.output
    text = human(result)
    lines = text.splitlines()
    parent = next(i for i, line in enumerate(lines) if f"{ids['parent']} [pending]" in line)
    design = next(i for i, line in enumerate(lines) if f"{ids['design']} [in_progress]" in line)
    build = next(i for i, line in enumerate(lines) if f"{ids['build']} [pending]" in line)
    assert parent < design < build
    indent = lines[design].index(str(ids["design"]))
    assert indent > lines[parent].index(str(ids["parent"]))  # nested under the parent
    tree = as_json(cli("tree", "--json"))
    assert [(t["id"], t["parent_id"]) for t in tree["tasks"]] == [
        (ids["parent"], None),
        (ids["design"], ids["parent"]),
        (ids["build"], ids["parent"]),
    ]


# -- reopen and completion with files ------------------------------------------------------------


def test_reopen_moves_a_completed_task_back_and_its_dependents_wait_again(cli: Invoke, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    ok(start_and_finish(cli, ids["design"]))
    assert as_json(cli("next", "--json"))["id"] == ids["build"]

    reopened = as_json(cli("reopen-task", ids["design"], "--reason", "completed by mistake", "--json"))
    assert reopened["task"]["status"] == "pending"
    assert reopened["waiting_again"] == [ids["build"]]
    assert reopened["started_dependents"] == []
    assert f"taskorch execute-task {ids['design']}" in reopened["next_step"]
    assert as_json(cli("next", "--json"))["id"] == ids["design"]  # build waits for design again

    status = as_json(cli("get-status", "--json"))
    assert status["counts"]["completed"] == 0 and status["counts"]["pending"] == 3
    assert [b["task"]["id"] for b in status["blocked"]] == [ids["build"]]
    trail = as_json(cli("audit", "--task-id", ids["design"], "--json"))["entries"]
    assert trail[-1]["tool"] == "reopen_task"
    assert trail[-1]["changes"]["status"] == ["completed", "pending"]
    assert trail[-1]["changes"]["status_reason"][1] == "completed by mistake"

    # The parent's open-subtask count is right again: it cannot complete while design is open.
    ok(start_and_finish(cli, ids["design"]))
    ok(start_and_finish(cli, ids["build"]))
    synthesis = as_json(cli("synthesize-results", ids["parent"], "--json"))
    assert synthesis["parent_status"] == "completed"


def test_reopen_refuses_what_is_not_completed_and_under_a_completed_parent(
    cli: Invoke, planned: dict[str, Any]
) -> None:
    ids = ids_of(planned)
    message = human_error(failed(cli("reopen-task", ids["design"], "--reason", "why"), 4))
    assert "only a completed task can be reopened" in message
    assert failed(cli("reopen-task", ids["design"], "--reason", " "), 2)

    ok(start_and_finish(cli, ids["design"]))
    ok(start_and_finish(cli, ids["build"]))
    ok(cli("synthesize-results", ids["parent"]))
    refused = human_error(failed(cli("reopen-task", ids["build"], "--reason", "oops"), 4))
    assert f"reopen the parent first (taskorch reopen-task {ids['parent']} --reason REASON)" in refused
    as_json(cli("reopen-task", ids["parent"], "--reason", "more to do", "--json"))
    again = as_json(cli("reopen-task", ids["build"], "--reason", "oops", "--json"))
    assert again["task"]["status"] == "pending"


def test_a_completed_task_tells_how_to_reopen_it(cli: Invoke, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    ok(start_and_finish(cli, ids["design"]))
    message = human_error(failed(cli("execute-task", ids["design"]), 4))
    assert f"reopen it with taskorch reopen-task {ids['design']} --reason REASON" in message


def test_completing_with_a_missing_file_records_it_and_warns(
    cli: Invoke, project: Path, planned: dict[str, Any]
) -> None:
    ids = ids_of(planned)
    (project / "docs").mkdir()
    (project / "docs" / "design.md").write_text("# Design\n", encoding="utf-8")
    result = start_and_finish(cli, ids["design"], "docs/design.md", "docs/typo.md")
    assert result.exit_code == 0, result.output
    assert "warning: not found in the project (recorded anyway): docs/typo.md" in result.stderr
    assert "Warning: recorded but not found in the project: docs/typo.md" in " ".join(result.stdout.split())
    shown = as_json(cli("show", ids["design"], "--json"))
    assert shown["task"]["artifacts"][0]["file_paths"] == ["docs/design.md", "docs/typo.md"]

    ok(cli("execute-task", ids["build"]))
    clean = as_json(cli("complete-task", ids["build"], "--summary", "Built", "--file-path", "docs/design.md", "--json"))
    assert clean["missing_files"] == []


def human_error(stderr: str) -> str:
    text = " ".join(stderr.split())
    assert "orchestrator_" not in text
    return text


# -- words: no MCP tool names, no Python reprs --------------------------------------------------


def test_cli_output_never_names_an_mcp_tool(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    outputs = [
        cli("get-status"),
        cli("execute-task", ids["build"]),  # refused: design is unfinished
        cli("complete-task", ids["build"], "--summary", "x"),  # refused: never started
        cli("execute-task", ids["parent"]),  # refused: open subtasks
        cli("synthesize-results", ids["design"]),  # refused: no subtasks
        cli("update-task", ids["design"], "--expected-version", "99", "--title", "x"),  # stale version
        cli("cancel-task", ids["parent"], "--reason", "no"),  # refused: needs --cascade
        cli("delete-task", ids["parent"], "--hard"),  # refused: needs --cascade
        cli("execute-task", "42"),
        cli("execute-task", ids["design"]),
        cli("complete-task", ids["design"], "--summary", "Designed"),
        cli("maintenance-coordinator", "prepare_handover"),
        cli("git", "status"),
        cli("audit"),
    ]
    text = "\n".join(r.stdout + r.stderr for r in outputs)
    assert "orchestrator_" not in text
    assert not re.search(r"\b(task_id|parent_task_id|cascade|hard|depends_on|action)=", text)
    flat = " ".join(text.split())
    assert f"taskorch update-task {ids['build']} --no-dependencies" in flat
    assert "--cascade" in flat
    assert f"taskorch show {ids['design']}" in flat
    assert "taskorch git connect OWNER/NAME" in flat


def test_git_status_is_words_not_a_dict(cli: Invoke) -> None:
    ok(cli("git", "connect", "octo-org/shop"))
    text = human(ok(cli("git", "status")))
    assert "Connected to octo-org/shop (basic tier)." in text
    assert "Issues linked: none yet." in text
    assert "Last pull: never." in text


# -- help, version, completion -----------------------------------------------------------------


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if hasattr(command, "commands"):
            found += _commands(command, (*prefix, name))
    return found


ALL_COMMANDS = _commands(typer.main.get_command(app))


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=[" ".join(p) for p in ALL_COMMANDS])
def test_help_fits_80_columns_and_shows_flags_as_flags(path: tuple[str, ...]) -> None:
    runner = CliRunner(env={"COLUMNS": "80"})
    for flag in ("--help", "-h"):
        result = runner.invoke(app, [*path, flag])
        assert result.exit_code == 0, result.output
        assert "…" not in result.stdout
        assert "<bool>" not in result.stdout
        assert "--no-no-" not in result.stdout
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    for param in command.params:
        for option in (*param.opts, *param.secondary_opts):
            if option.startswith("--"):
                assert option in result.stdout, f"{option} is cut off or missing"


def test_boolean_options_read_as_flags() -> None:
    runner = CliRunner(env={"COLUMNS": "80"})
    assert "--json" in runner.invoke(app, ["get-status", "-h"]).stdout
    assert "--no-dependencies" in runner.invoke(app, ["update-task", "-h"]).stdout
    assert "--dry-run / --apply" in runner.invoke(app, ["maintenance-coordinator", "-h"]).stdout
    assert "--cascade" in runner.invoke(app, ["cancel-task", "-h"]).stdout


def test_version_and_completion() -> None:
    from taskorch import __version__

    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0
    assert version.stdout.strip() == f"taskorch {__version__}"
    root = runner.invoke(app, ["-h"]).stdout
    assert "--install-completion" in root and "--show-completion" in root


def _imports(*args: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after ``taskorch ARGS``."""
    code = (
        "import sys\n"
        "from taskorch.cli import main\n"
        f"sys.argv = ['taskorch', *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(done.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize("args", [("--version",), ("--help",)])
def test_version_and_help_import_no_database_or_models(args: tuple[str, ...]) -> None:
    modules = _imports(*args)
    for heavy in ("sqlalchemy", "pydantic", "alembic", "taskorch.services.app", "rich.markdown", "typer.rich_utils"):
        assert heavy not in modules, heavy


#: What a read command must not import: the services that write, the router, the platform,
#: sync, web and notification code, migrations and templates.
READ_COMMAND_SPARES = (
    "alembic",
    "githubkit",
    "gitlab",
    "jinja2",
    "httpx",
    "mcp",
    "taskorch.services.editing",
    "taskorch.services.claims",
    "taskorch.services.synthesis",
    "taskorch.services.maintenance",
    "taskorch.services.git",
    "taskorch.sync",
    "taskorch.web",
    "taskorch.notifications",
    "taskorch.platforms",
    "typer.rich_utils",
)


@pytest.mark.parametrize("args", [("get-status",), ("next",), ("show", "1")])
def test_read_commands_import_only_what_they_read(cli: Invoke, args: tuple[str, ...]) -> None:
    ok(cli("plan-task", "Add a login page"))
    modules = _imports(*args)
    assert "taskorch.services.query" in modules  # the command did run
    for heavy in READ_COMMAND_SPARES:
        assert heavy not in modules, heavy
    if args[0] != "show":  # show prints the role's Markdown instructions; the others need no router
        for heavy in (
            "rich.markdown",
            "taskorch.specialists",
            "taskorch.services.planning",
            "taskorch.services.execution",
        ):
            assert heavy not in modules, heavy
