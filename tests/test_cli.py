"""The ``taskorch`` command line through Typer's test runner, over a temporary SQLite database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from taskorch.cli.app import app
from taskorch.config import TOOLSETS

Invoke = Callable[..., Result]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, project: Path) -> Invoke:
    """The CLI run from inside ``project`` (the default of --project), as a person would."""
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    monkeypatch.chdir(project)
    monkeypatch.delenv("TASKORCH_TOOLSETS", raising=False)
    runner = CliRunner()

    def invoke(*args: str | Path, input: str | None = None) -> Result:
        return runner.invoke(app, [str(arg) for arg in args], input=input)

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
    assert result.stdout == ""
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture
def planned(cli: Invoke, project: Path, tmp_path: Path) -> dict[str, Any]:
    """A parent "Widget feature" with subtasks design and build (build depends on design)."""
    subtasks = tmp_path / "subtasks.json"
    subtasks.write_text(
        json.dumps(
            [
                {"key": "design", "title": "Design the widget", "task_type": "design", "labels": ["ui"]},
                {"key": "build", "title": "Build the widget", "depends_on_keys": ["design"], "priority": "high"},
            ]
        ),
        encoding="utf-8",
    )
    plan: dict[str, Any] = as_json(
        cli("plan-task", "Widget feature", "--subtasks-json", subtasks, "--label", "ui", "--project", project, "--json")
    )
    return plan


def ids_of(plan: dict[str, Any]) -> dict[str, int]:
    return {"parent": plan["task"]["id"], **{key: brief["id"] for key, brief in plan["subtasks"].items()}}


def query(cli: Invoke, project: Path, *args: str | Path) -> dict[str, Any]:
    found: dict[str, Any] = as_json(
        cli("query-tasks", "--project", project, "--json", "--sort", "id", "--order", "asc", *args)
    )
    return found


# -- planning and status -----------------------------------------------------------------------


def test_plan_task_with_subtasks_json(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    assert planned["task"]["title"] == "Widget feature"
    assert planned["task"]["labels"] == ["ui"]
    assert set(planned["subtasks"]) == {"design", "build"}
    assert planned["ready"] == [ids["design"]]
    tasks = {t["id"]: t for t in query(cli, project)["tasks"]}
    assert tasks[ids["build"]]["depends_on"] == [ids["design"]]
    assert tasks[ids["build"]]["priority"] == "high"
    assert tasks[ids["design"]]["parent_id"] == ids["parent"]


def test_plan_task_prints_a_table_and_the_next_step(cli: Invoke, project: Path) -> None:
    result = ok(cli("plan-task", "Write the changelog", "--task-type", "documentation", "--project", project))
    assert "Planned task 1 'Write the changelog'" in result.stdout
    assert "documenter" in result.stdout


def test_a_large_plan_lists_its_first_ready_subtasks_and_names_the_command_for_the_rest(
    cli: Invoke, project: Path, tmp_path: Path
) -> None:
    subtasks = tmp_path / "many.json"
    specs = [
        {"key": f"k{i}", "title": f"Step {i}", "depends_on_keys": [f"k{i - 1}"] if i % 2 else []} for i in range(80)
    ]
    subtasks.write_text(json.dumps(specs), encoding="utf-8")
    plan = as_json(cli("plan-task", "Big", "--subtasks-json", subtasks, "--project", project, "--json"))
    assert len(plan["numbers"]) == 80 and len(plan["ready"]) == 40
    assert sorted(b["id"] for b in plan["subtasks"].values()) == plan["ready"]  # the 40 ready ones, under 50
    assert "taskorch query-tasks --parent-id 1 lists them all" in plan["next_step"]

    text = ok(cli("plan-task", "Bigger", "--subtasks-json", subtasks, "--project", project)).stdout
    assert "Planned: 40 of 80" in text  # the table holds the ready ones
    assert "Subtasks (80), key -> number: k0=" in text
    assert "taskorch query-tasks --parent-id 82" in " ".join(text.split())
    assert "orchestrator_" not in text


def test_get_status_table_and_json(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    table = ok(cli("get-status", "--project", project)).stdout
    assert "Design the widget" in table
    assert "Build the widget" in table
    # Build waits on design: pending, so counted as pending and listed as waiting, not as blocked.
    assert "Ready" in table and "Waiting on dependencies (status pending): 1" in table
    assert "Blocked" not in table

    status = as_json(cli("get-status", "--project", project, "--json"))
    assert status["counts"] == {"pending": 3, "in_progress": 0, "blocked": 0, "completed": 0, "cancelled": 0}
    assert status["total"] == 3
    assert status["project_root"] == str(project.resolve())
    assert [t["id"] for t in status["ready"]] == [ids["design"]]
    assert [b["task"]["id"] for b in status["blocked"]] == [ids["build"]]


# -- execution ---------------------------------------------------------------------------------


def test_execute_and_complete_with_file_paths(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    started = ok(cli("execute-task", ids["design"]))
    assert f"task {ids['design']}: Design the widget" in started.stdout
    assert f"taskorch complete-task {ids['design']} --summary SUMMARY" in " ".join(started.stdout.split())
    assert "orchestrator_" not in started.stdout

    done = as_json(
        cli(
            "complete-task",
            ids["design"],
            "--summary",
            "Widget designed",
            "--file-path",
            "docs/widget.md",
            "--file-path",
            project / "src" / "widget.py",
            "--artifact-type",
            "design",
            "--json",
        )
    )
    assert done["task"]["status"] == "completed"
    assert [t["id"] for t in done["unblocked"]] == [ids["build"]]

    found = query(cli, project, "--status", "completed", "--include-artifacts")
    assert [t["id"] for t in found["tasks"]] == [ids["design"]]
    (artifact,) = found["tasks"][0]["artifacts"]
    assert artifact["summary"] == "Widget designed"
    assert artifact["artifact_type"] == "design"
    assert artifact["file_paths"] == ["docs/widget.md", "src/widget.py"]


def test_query_tasks_json_full_text(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ok(cli("plan-task", "Tune the cache", "--description", "Evict with the aardvark policy", "--project", project))
    found = query(cli, project, "--text", "aardvark")
    assert found["total"] == 1
    assert [t["title"] for t in found["tasks"]] == ["Tune the cache"]
    assert query(cli, project, "--text", "widget")["total"] == 3
    assert query(cli, project, "--label", "ui")["total"] == 2
    page = query(cli, project, "--limit", "1", "--offset", "1")
    assert (page["total"], len(page["tasks"])) == (4, 1)
    assert page["tasks"][0]["id"] == ids_of(planned)["design"]


def test_update_task(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    task_id = ids_of(planned)["build"]
    before = query(cli, project, "--text", "build")["tasks"][0]
    updated = as_json(
        cli(
            "update-task",
            task_id,
            "--expected-version",
            str(before["version"]),
            "--title",
            "Build the widget fast",
            "--priority",
            "critical",
            "--json",
        )
    )
    assert updated["changed"] == ["priority", "title"]
    assert updated["task"]["title"] == "Build the widget fast"
    assert updated["task"]["version"] > before["version"]

    stale = cli("update-task", task_id, "--expected-version", str(before["version"]), "--title", "Lost update")
    message = failed(stale, 4)
    assert "version" in message
    after = query(cli, project, "--text", "build")["tasks"][0]
    assert (after["title"], after["version"]) == ("Build the widget fast", updated["task"]["version"])

    plain = ok(cli("update-task", task_id, "--status", "blocked", "--status-reason", "waiting for design"))
    assert plain.stdout.strip()
    assert query(cli, project, "--status", "blocked")["tasks"][0]["status_reason"] == "waiting for design"


def test_cancel_task(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    message = failed(cli("cancel-task", ids["parent"], "--reason", "descoped"), 4)
    assert "cascade" in message
    cancelled = as_json(cli("cancel-task", ids["parent"], "--reason", "descoped", "--cascade", "--json"))
    assert cancelled["cancelled"] == sorted(ids.values())
    assert cancelled["reason"] == "descoped"
    assert query(cli, project, "--status", "cancelled")["total"] == 3


def test_delete_task(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    archived = as_json(cli("delete-task", ids["parent"], "--json"))
    assert archived == {"mode": "archived", "task_ids": sorted(ids.values())}
    assert query(cli, project)["total"] == 0
    assert query(cli, project, "--include-archived")["total"] == 3

    failed(cli("delete-task", ids["parent"], "--hard"), 4)
    deleted = as_json(cli("delete-task", ids["parent"], "--hard", "--cascade", "--json"))
    assert deleted == {"mode": "deleted", "task_ids": sorted(ids.values())}
    assert query(cli, project, "--include-archived")["total"] == 0


def test_synthesize_results(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    for key in ("design", "build"):
        ok(cli("execute-task", ids[key]))
        ok(cli("complete-task", ids[key], "--summary", f"Finished the {key} step"))
    synthesis = as_json(cli("synthesize-results", ids["parent"], "--json"))
    assert synthesis["parent_status"] == "completed"
    assert "Finished the design step" in synthesis["synthesis"]
    assert "Finished the build step" in synthesis["synthesis"]
    rendered = ok(cli("synthesize-results", ids["parent"])).stdout
    assert "Synthesis: Widget feature" in rendered
    assert "Finished the build step" in rendered
    status = as_json(cli("get-status", "--project", project, "--json"))
    assert status["counts"]["completed"] == 3


# -- maintenance, health, audit ----------------------------------------------------------------


def test_maintenance_prepare_handover(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    report = ok(cli("maintenance-coordinator", "prepare_handover", "--project", project)).stdout
    assert "Handover" in report
    assert "Design the widget" in report
    data = as_json(cli("maintenance-coordinator", "prepare_handover", "--project", project, "--json"))
    assert data["report"].startswith("# Handover")
    validation = as_json(cli("maintenance-coordinator", "validate_structure", "--project", project, "--json"))
    assert (validation["findings"], validation["dry_run"]) == ([], True)
    unknown = failed(cli("maintenance-coordinator", "explode", "--project", project), 2)
    assert "explode" in unknown


def test_health_check(cli: Invoke) -> None:
    health = as_json(cli("health-check", "--json"))
    assert health["status"] == "ok"
    assert health["database"]["at_head"] is True
    assert ok(cli("health-check")).stdout.strip()


def test_audit_json(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    ids = ids_of(planned)
    ok(cli("execute-task", ids["design"]))
    entries = as_json(cli("audit", "--project", project, "--json"))["entries"]
    assert (entries[0]["tool"], entries[0]["action"]) == ("initialize_session", "session")
    assert {e["task_id"] for e in entries if e["tool"] == "plan_task"} == set(ids.values())
    assert entries[-1]["tool"] == "execute_task"
    one = as_json(cli("audit", "--project", project, "--task-id", ids["design"], "--json"))["entries"]
    assert {e["task_id"] for e in one} == {ids["design"]}
    assert [e["action"] for e in one] == ["created", "status"]


# -- errors ------------------------------------------------------------------------------------


def test_unknown_task_id_exits_3(cli: Invoke, project: Path) -> None:
    ok(cli("get-status", "--project", project))
    message = failed(cli("execute-task", "999"), 3)
    assert f"task 999 not found in project {project}" in message
    failed(cli("complete-task", "999", "--summary", "x"), 3)


def test_invalid_subtasks_json_exits_2(cli: Invoke, project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[{not json", encoding="utf-8")
    assert "--subtasks-json" in failed(cli("plan-task", "P", "--subtasks-json", broken, "--project", project), 2)
    not_a_list = tmp_path / "object.json"
    not_a_list.write_text('{"key": "a", "title": "A"}', encoding="utf-8")
    assert "list" in failed(cli("plan-task", "P", "--subtasks-json", not_a_list, "--project", project), 2)
    missing_key = tmp_path / "missing.json"
    missing_key.write_text('[{"title": "A"}]', encoding="utf-8")
    assert "key" in failed(cli("plan-task", "P", "--subtasks-json", missing_key, "--project", project), 2)
    cycle = tmp_path / "cycle.json"
    cycle.write_text(
        json.dumps(
            [{"key": "a", "title": "A", "depends_on_keys": ["b"]}, {"key": "b", "title": "B", "depends_on_keys": ["a"]}]
        ),
        encoding="utf-8",
    )
    assert "cycle" in failed(cli("plan-task", "P", "--subtasks-json", cycle, "--project", project), 2)
    assert query(cli, project)["total"] == 0


def test_update_task_refuses_status_completed(cli: Invoke, project: Path, planned: dict[str, Any]) -> None:
    task_id = ids_of(planned)["design"]
    message = failed(cli("update-task", task_id, "--status", "completed"), 2)
    assert "--status" in message
    assert query(cli, project, "--status", "pending")["total"] == 3


# -- the command set ---------------------------------------------------------------------------


def _commands(typer_app: typer.Typer = app) -> dict[str, Any]:
    group = typer.main.get_command(typer_app)
    assert isinstance(group, TyperGroup)
    return dict(group.commands)


def undocumented(typer_app: typer.Typer) -> list[str]:
    """Names of the commands of ``typer_app`` whose help text is empty."""
    missing = []
    for info in typer_app.registered_commands:
        assert info.callback is not None
        if not (info.help or info.callback.__doc__ or "").strip():
            missing.append(info.name or info.callback.__name__.replace("_", "-"))
    missing += [name for name, command in _commands(typer_app).items() if not (command.help or "").strip()]
    return sorted(set(missing))


def test_every_command_is_documented() -> None:
    assert len(app.registered_commands) >= 16
    assert undocumented(app) == []


def test_an_undocumented_command_is_caught() -> None:
    probe = typer.Typer()

    @probe.command("documented")
    def documented() -> None:
        """Has a docstring."""

    @probe.command("bare")
    def bare() -> None:
        pass

    assert undocumented(probe) == ["bare"]


def test_every_tool_has_a_command_of_the_same_name() -> None:
    commands = set(_commands())
    tools = {name.replace("_", "-") for names in TOOLSETS.values() for name in names}
    assert tools <= commands, sorted(tools - commands)
    assert "serve" in commands
    # The demo drives the stand-ins, which are not installed: it runs from the repository.
    assert "demo" not in commands


def test_help_lists_the_commands(cli: Invoke) -> None:
    result = ok(cli("--help"))
    for name in ("plan-task", "execute-task", "complete-task", "serve"):
        assert name in result.stdout
