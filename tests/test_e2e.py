"""End to end: the installed ``taskorch`` console script as a stdio MCP server, driven by the
official client, and the demo as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).parent / "taskorch"
REPOSITORY = Path(__file__).resolve().parents[1]


def _environment(database_url: str) -> dict[str, str]:
    env = {**os.environ, "TASKORCH_DATABASE_URL": database_url}
    env.pop("TASKORCH_TOOLSETS", None)
    return env


async def _drive(params: StdioServerParameters, mode: str, project: Path, nested: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with anyio.fail_after(60):
        async with Client(params, mode=mode) as client:

            async def call(name: str, **arguments: Any) -> dict[str, Any]:
                result = await client.call_tool("orchestrator_" + name, arguments)
                text = " ".join(getattr(block, "text", "") for block in result.content)
                assert not result.is_error, f"{name}: {text}"
                assert isinstance(result.structured_content, dict)
                return result.structured_content

            seen["tools"] = [tool.name for tool in (await client.list_tools()).tools]
            seen["session"] = await call("initialize_session", working_directory=str(project))
            plan = await call(
                "plan_task",
                title="Add an export command",
                subtasks=[
                    {"key": "format", "title": "Choose the export format", "task_type": "design"},
                    {"key": "command", "title": "Implement the export command", "depends_on_keys": ["format"]},
                ],
            )
            seen["plan"] = plan
            for key in ("format", "command"):
                task_id = plan["subtasks"][key]["id"]
                seen[f"execute_{key}"] = await call("execute_task", task_id=task_id)
                seen[f"complete_{key}"] = await call(
                    "complete_task", task_id=task_id, summary=f"Did {key}", file_paths=[f"src/{key}.py"]
                )
            seen["synthesis"] = await call("synthesize_results", parent_task_id=plan["task"]["id"])
            seen["status"] = await call("get_status")
            seen["nested"] = await call("initialize_session", working_directory=str(nested))
    return seen


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_console_script_serves_a_whole_session_over_stdio(
    mode: str, project: Path, database_url: str, tmp_path: Path
) -> None:
    assert CONSOLE_SCRIPT.exists(), CONSOLE_SCRIPT
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nested = project / "src" / "export"
    nested.mkdir(parents=True)
    params = StdioServerParameters(
        command=str(CONSOLE_SCRIPT), args=["serve"], env=_environment(database_url), cwd=str(elsewhere)
    )

    seen = anyio.run(_drive, params, mode, project, nested)

    root = str(project.resolve())
    assert len(seen["tools"]) == 16
    assert seen["session"]["project_root"] == root
    assert seen["session"]["resumed"] is False
    plan = seen["plan"]
    ids = {key: brief["id"] for key, brief in plan["subtasks"].items()}
    assert plan["ready"] == [ids["format"]]
    assert seen["execute_format"]["dependency_results"] == []
    (dependency,) = seen["execute_command"]["dependency_results"]
    assert dependency["task_id"] == ids["format"]
    assert dependency["artifacts"][0]["file_paths"] == ["src/format.py"]
    assert [t["id"] for t in seen["complete_format"]["unblocked"]] == [ids["command"]]
    assert seen["complete_command"]["parent_ready_for_synthesis"] is True
    assert seen["synthesis"]["parent_status"] == "completed"
    assert "Implement the export command" in seen["synthesis"]["synthesis"]
    status = seen["status"]
    assert status["counts"]["completed"] == 3
    assert status["total"] == 3
    assert status["ready"] == []
    assert status["project_root"] == root

    # A subdirectory resolves to the project's Git root, never to the server's own directory.
    nested_session = seen["nested"]
    assert nested_session["project_root"] == root
    assert nested_session["project_root"] != str(elsewhere.resolve())
    assert nested_session["session_id"] == seen["session"]["session_id"]
    assert nested_session["resumed"] is True


def test_demo_runs_to_completion(tmp_path: Path) -> None:
    env = {**os.environ}
    for name in ("TASKORCH_DATABASE_URL", "TASKORCH_TOOLSETS", "FORCE_COLOR"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(REPOSITORY)  # the stand-ins and the demo are not installed: scripts/demo sets it too
    completed = subprocess.run(
        [sys.executable, "-m", "standins", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Demo complete." in completed.stdout
    answers = [line for line in completed.stdout.splitlines() if line.startswith("<-")]
    assert len(answers) > 10
    # The sixteen core tools plus the three of the Git integration's full tier, which the demo enables.
    assert any("19 tools" in line and "release_coordinator" in line for line in answers)
    # Tasks became issues on the stand-in, and the rename made there came back.
    assert any(line.startswith("gh #5 Document the login limits") for line in completed.stdout.splitlines())
    assert any("Document the login limits for operators" in line for line in answers)
    # It ends with a release: the annotated tag in the repository and the release on the stand-in.
    assert any(line.startswith("git v0.1.0") for line in completed.stdout.splitlines())
    assert any(line.startswith("gh release v0.1.0") for line in completed.stdout.splitlines())
    assert "demo failed" not in completed.stdout
    # The stand-in's own links, never github.com's; shortened arguments end with an ellipsis.
    assert "github.com" not in completed.stdout
    assert any(
        line.startswith("gh #2 Design the rate limiter") and line.endswith("/octo-org/shop/issues/2")
        for line in completed.stdout.splitlines()
    )
    assert any(line.startswith("->") and "…" in line for line in completed.stdout.splitlines())
    # The synthesis in sections, not the stored Markdown pasted.
    assert "├── task 2 Design the rate limiter (architect)" in completed.stdout.splitlines()
    assert not any(line.startswith("# Synthesis") for line in completed.stdout.splitlines())


def test_demo_runs_against_the_gitlab_standin(tmp_path: Path) -> None:
    env = {**os.environ}
    for name in ("TASKORCH_DATABASE_URL", "TASKORCH_TOOLSETS", "FORCE_COLOR"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(REPOSITORY)
    completed = subprocess.run(
        [sys.executable, "-m", "standins", "demo", "--platform", "gitlab"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert "Demo complete." in completed.stdout and "demo failed" not in completed.stdout
    # Scoped status labels, subtasks in the parent's task list, the rename made on GitLab came back,
    # and the release published through GitLab's Releases API.
    assert any(line.startswith("gl #2 Design the rate limiter") and "status::to do" in line for line in lines)
    assert any("subtask of #1" in line for line in lines)
    assert any("Document the login limits for operators" in line for line in lines if line.startswith("<-"))
    assert any(line.startswith("gl release v0.1.0") for line in lines)
    assert any("on GitLab:" in line for line in lines if line.startswith("<-"))


def test_demo_runs_against_bitbucket_with_jira(tmp_path: Path) -> None:
    env = {**os.environ}
    for name in ("TASKORCH_DATABASE_URL", "TASKORCH_TOOLSETS", "FORCE_COLOR", "TASKORCH_JIRA_URL"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(REPOSITORY)
    completed = subprocess.run(
        [sys.executable, "-m", "standins", "demo", "--platform", "bitbucket"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    answers = [line for line in lines if line.startswith("<-")]
    assert "Demo complete." in completed.stdout and "demo failed" not in completed.stdout
    # Tasks became Jira issues: the subtasks are sub-tasks with Blocks links, and they moved
    # through the workflow to Done with progress comments and a worklog.
    assert any(line.startswith("jira SHOP-3 Implement the token bucket limiter [Sub-task]: To Do") for line in lines)
    assert any("sub-task of SHOP-1; blocked by SHOP-2" in line for line in lines)
    assert any(line.startswith("jira SHOP-3 ") and ": Done;" in line and "worklogs: 1" in line for line in lines)
    assert any(line.startswith("jira SHOP-2 ") and "comments: " in line for line in lines)
    assert any("Document the login limits for operators" in line for line in answers)
    # A sprint board followed the work: the feature in an active sprint, then the sprint closed.
    assert any(line.startswith("jira SHOP-1 ") and "in Sprint 1 (active)" in line for line in lines)
    assert "<- sprint 'Sprint 1' started" in lines
    assert any(line.startswith("<- sprint 'Sprint 1' closed") for line in lines)
    # The release: the annotated tag, the tag on Bitbucket, the released Jira version, the changelog.
    assert any(line.startswith("git v0.1.0") for line in lines)
    assert any(line.startswith("jira Bitbucket tag v0.1.0 -> ") for line in lines)
    assert any(line.startswith("jira Jira version v0.1.0: released") for line in lines)
    assert any("a Bitbucket repository has no release object" in line for line in lines)
    assert any("[SHOP-1](http://127.0.0.1:" in line for line in lines)
    assert "atlassian.net" not in completed.stdout and "api.bitbucket.org" not in completed.stdout
