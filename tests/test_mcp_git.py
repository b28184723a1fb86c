"""The Git tools through the MCP client, against the fake GitHub served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from standins.github import FakeGitHub
from taskorch.config import Settings
from taskorch.mcp.server import build_server

TOKEN_NAME = "TASKORCH_MCP_GIT_TEST_TOKEN"  # allowed over MCP: TASKORCH_*_TOKEN


@pytest.fixture
def github_url(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(TOKEN_NAME, "test-token-for-the-fake")
    with fake_github.serve() as url:
        yield url


def settings(database_url: str, url: str, tier: str) -> Settings:
    return Settings(database_url=database_url, git_integration=tier, github_api_url=url, mutation_spacing=0.0)


async def call(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result: CallToolResult = await client.call_tool(name, args)
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    return result.structured_content or {}


async def connect(client: Client, project: Path, **issue_config: Any) -> dict[str, Any]:
    """Initialize the project's session and connect it to octo-org/shop on the stand-in."""
    await call(client, "orchestrator_initialize_session", {"working_directory": str(project)})
    config = {"api_token_name": TOKEN_NAME, **issue_config}
    return await call(
        client,
        "orchestrator_git_integration",
        {"action": "connect", "repository": "octo-org/shop", "issue_config": config},
    )


async def error(client: Client, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_issue_flow_through_the_tools(
    mode: str, database_url: str, project: Path, fake_github: FakeGitHub, github_url: str
) -> None:
    async def scenario() -> None:
        server = build_server(settings(database_url, github_url, "basic"))
        async with Client(server, mode=mode) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "orchestrator_git_integration" in names
            assert "orchestrator_project_board_manager" not in names
            await call(client, "orchestrator_initialize_session", {"working_directory": str(project)})
            connected = await call(
                client,
                "orchestrator_git_integration",
                {
                    "action": "connect",
                    "repository": "https://github.com/octo-org/shop.git",
                    "issue_config": {"api_token_name": TOKEN_NAME, "default_labels": ["taskorch"]},
                },
            )
            assert connected["config"]["repository"] == "octo-org/shop"
            assert "test-token" not in str(connected)
            plan = await call(client, "orchestrator_plan_task", {"title": "Add search", "labels": ["search"]})
            task_id = plan["task"]["id"]
            message = await error(client, "orchestrator_git_integration", {"action": "create_issue"})
            assert "task_id" in message and "required" in message
            created = await call(client, "orchestrator_git_integration", {"action": "create_issue", "task_id": task_id})
            number = created["link"]["issue_number"]
            assert fake_github.issues[number]["title"] == "Add search"
            assert {"search", "taskorch"} <= {label["name"] for label in fake_github.issues[number]["labels"]}
            await call(client, "orchestrator_update_task", {"task_id": task_id, "title": "Add full-text search"})
            fake_github.edit_issue(number, labels=["search", "taskorch", "backend"])
            synced = await call(client, "orchestrator_git_integration", {"action": "sync_status"})
            assert synced["sync"]["pulled"] == [task_id] and synced["sync"]["updated"] == [task_id]
            assert fake_github.issues[number]["title"] == "Add full-text search"
            status = await call(client, "orchestrator_git_integration", {"action": "status"})
            assert status["config"]["api_token_name"] == TOKEN_NAME
            task = await call(client, "orchestrator_query_tasks", {"task_ids": [task_id]})
            assert task["tasks"][0]["labels"] == ["backend", "search"]
            await call(client, "orchestrator_update_task", {"task_id": task_id, "title": "Local"})
            fake_github.edit_issue(number, title="Remote")
            conflicted = await call(client, "orchestrator_git_integration", {"action": "sync_status"})
            [conflict] = conflicted["sync"]["conflicts"]
            listed = await call(client, "orchestrator_git_integration", {"action": "list_conflicts"})
            assert [c["id"] for c in listed["conflicts"]] == [conflict["id"]]
            await call(
                client,
                "orchestrator_git_integration",
                {"action": "resolve_conflict", "conflict_id": conflict["id"], "resolution": "remote"},
            )
            task = await call(client, "orchestrator_query_tasks", {"task_ids": [task_id]})
            assert task["tasks"][0]["title"] == "Remote"
            milestone = await call(
                client,
                "orchestrator_git_integration",
                {"action": "create_milestone", "milestone": {"title": "v1.0", "due_on": "2027-01-31"}},
            )
            assert milestone["milestone"]["title"] == "v1.0"

    anyio.run(scenario)


def test_git_tools_appear_for_a_connected_project(
    database_url: str, project: Path, github_url: str, fake_github: FakeGitHub
) -> None:
    async def scenario() -> None:
        async with Client(build_server(settings(database_url, github_url, "project")), mode="legacy") as client:
            await connect(client, project, tier="project")
        # A server started without TASKORCH_GIT_INTEGRATION lists the tools once the session's
        # project turns out to be connected.
        async with Client(build_server(settings(database_url, github_url, "disabled")), mode="legacy") as client:
            before = {t.name for t in (await client.list_tools()).tools}
            assert not {n for n in before if "git" in n or "board" in n}
            await call(client, "orchestrator_initialize_session", {"working_directory": str(project)})
            after = {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
            assert {"orchestrator_git_integration", "orchestrator_project_board_manager"} <= after

    anyio.run(scenario)


def test_board_follows_the_tasks(database_url: str, project: Path, github_url: str, fake_github: FakeGitHub) -> None:
    async def scenario() -> None:
        async with Client(build_server(settings(database_url, github_url, "project")), mode="legacy") as client:
            await connect(client, project, tier="project", auto_sync_enabled=True)
            plan = await call(
                client,
                "orchestrator_plan_task",
                {
                    "title": "Checkout",
                    "subtasks": [
                        {"key": "api", "title": "Checkout API"},
                        {"key": "ui", "title": "Checkout UI", "depends_on_keys": ["api"]},
                    ],
                },
            )
            api, ui = plan["subtasks"]["api"]["id"], plan["subtasks"]["ui"]["id"]
            board = await call(
                client, "orchestrator_project_board_manager", {"action": "create_board", "title": "Checkout"}
            )
            assert board["board"]["number"] >= 1
            await call(client, "orchestrator_git_integration", {"action": "sync_status"})
            moved = await call(client, "orchestrator_project_board_manager", {"action": "update_progress"})
            columns = {m["task_id"]: m["column"] for m in moved["moved"]}
            assert columns[api] == "To Do" and columns[ui] == "Backlog"
            await call(client, "orchestrator_execute_task", {"task_id": api})
            await call(client, "orchestrator_git_integration", {"action": "sync_status"})
            api_issue = next(n for n, i in fake_github.issues.items() if i["title"] == "Checkout API")
            assert fake_github.project_status(api_issue) == "In Progress"
            await call(
                client,
                "orchestrator_project_board_manager",
                {"action": "move_card", "feature_id": api, "column": "Done"},
            )
            assert fake_github.project_status(api_issue) == "Done"
            message = await error(client, "orchestrator_project_board_manager", {"action": "move_card"})
            assert "feature_id" in message

    anyio.run(scenario)


def test_assignment_and_milestone_reach_the_issue(
    database_url: str, project: Path, github_url: str, fake_github: FakeGitHub
) -> None:
    async def scenario() -> None:
        async with Client(build_server(settings(database_url, github_url, "project")), mode="legacy") as client:
            await connect(client, project, tier="project", auto_sync_enabled=True)
            task_id = (await call(client, "orchestrator_plan_task", {"title": "Refunds"}))["task"]["id"]
            await call(
                client, "orchestrator_git_integration", {"action": "create_milestone", "milestone": {"title": "v2.0"}}
            )
            message = await error(
                client, "orchestrator_update_task", {"task_id": task_id, "assignees": ["not a login"]}
            )
            assert "assignees" in message
            updated = await call(
                client,
                "orchestrator_update_task",
                {"task_id": task_id, "assignees": ["mona", "hubot", "mona"], "milestone": "v2.0"},
            )
            assert updated["task"]["assignees"] == ["hubot", "mona"]
            await call(client, "orchestrator_git_integration", {"action": "sync_status"})
            [issue] = fake_github.issues.values()
            assert sorted(a["login"] for a in issue["assignees"]) == ["hubot", "mona"]
            assert issue["milestone"]["title"] == "v2.0"
            await call(
                client, "orchestrator_update_task", {"task_id": task_id, "assignees": [], "clear": ["milestone"]}
            )
            await call(client, "orchestrator_git_integration", {"action": "sync_status"})
            assert issue["number"] in fake_github.issues
            cleared = fake_github.issues[issue["number"]]
            assert cleared["assignees"] == [] and cleared["milestone"] is None

    anyio.run(scenario)
