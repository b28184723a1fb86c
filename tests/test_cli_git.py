"""The Git commands of the CLI (`taskorch git ...`, `taskorch sync`, `taskorch board ...`) against
the GitHub stand-in served on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from standins.github import FakeGitHub
from taskorch.cli.app import app


@pytest.fixture
def git_cli(
    monkeypatch: pytest.MonkeyPatch, database_url: str, fake_github: FakeGitHub, project: Path
) -> Iterator[Any]:
    with fake_github.serve() as url:
        monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
        monkeypatch.setenv("TASKORCH_GITHUB_API_URL", url)
        monkeypatch.setenv("TASKORCH_MUTATION_SPACING", "0")
        monkeypatch.setenv("CLI_GITHUB_TOKEN", "test-token-for-the-fake")
        runner = CliRunner()

        def invoke(*args: str) -> Result:
            return runner.invoke(app, [*args])

        yield invoke


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output + result.stderr
    return result


def test_connect_plan_sync_and_resolve_from_the_cli(
    git_cli: Any, project: Path, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    where = ["--project", str(project)]
    ok(
        git_cli(
            "git",
            "connect",
            "octo-org/shop",
            "--token-name",
            "CLI_GITHUB_TOKEN",
            "--auto-sync",
            "--label",
            "taskorch",
            "--tier",
            "project",
            *where,
        )
    )
    subtasks = tmp_path / "plan.json"
    subtasks.write_text(json.dumps([{"key": "a", "title": "Part A"}, {"key": "b", "title": "Part B"}]))
    ok(git_cli("plan-task", "Feature X", "--subtasks-json", str(subtasks), *where))
    synced = json.loads(ok(git_cli("sync", "--json", *where)).stdout)
    assert len(synced["sync"]["created"]) == 3 and len(fake_github.issues) == 3
    status = ok(git_cli("git", "status", *where)).stdout
    assert "octo-org/shop" in status and "test-token" not in status
    number = next(n for n, i in fake_github.issues.items() if i["title"] == "Part A")
    task_id = next(link["task_id"] for link in synced["sync"]["created"] if link["issue_number"] == number)
    ok(git_cli("update-task", str(task_id), "--title", "Part A, local", *where))
    fake_github.edit_issue(number, title="Part A, remote")
    ok(git_cli("sync", *where))
    conflicts = json.loads(ok(git_cli("git", "conflicts", "--json", *where)).stdout)["conflicts"]
    assert [c["field"] for c in conflicts] == ["title"]
    ok(git_cli("git", "resolve", str(conflicts[0]["id"]), "--use", "local", *where))
    ok(git_cli("sync", *where))
    assert fake_github.issues[number]["title"] == "Part A, local"
    board = json.loads(ok(git_cli("board", "create", "Feature X", "--json", *where)).stdout)
    assert board["board"]["number"] >= 1
    ok(git_cli("board", "update-progress", *where))
    assert fake_github.project_status(number) == "To Do"
    ok(git_cli("git", "create-milestone", "v1.0", "--due-on", "2027-02-01", *where))
    assert [m["title"] for m in fake_github.milestones.values()] == ["v1.0"]


def test_cli_git_errors_are_clear(git_cli: Any, project: Path) -> None:
    result = git_cli("sync", "--project", str(project))
    assert result.exit_code == 4
    assert "no Git repository connected" in result.stderr
    bad = git_cli("git", "connect", "not a repo", "--project", str(project))
    assert bad.exit_code == 2 and "owner/name" in bad.stderr
    missing = git_cli("git", "connect", "octo-org/shop", "--token-name", "NO_SUCH_TOKEN_VAR", "--project", str(project))
    assert missing.exit_code == 0  # connecting needs no network and no token yet
    result = git_cli("sync", "--project", str(project))
    assert result.exit_code == 6 and "NO_SUCH_TOKEN_VAR" in result.stderr and "keyring" in result.stderr
