"""`taskorch sync`, `git create-issue` and `git update-issue` exit 6 when part of the run failed or
is still pending, saying what on stderr; 0 only when everything went through."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from standins.github import FakeGitHub
from taskorch.cli.app import SYNC_INCOMPLETE, app
from taskorch.errors import PlatformError


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, fake_github: FakeGitHub, project: Path) -> Iterator[Any]:
    with fake_github.serve() as url:
        monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
        monkeypatch.setenv("TASKORCH_GITHUB_API_URL", url)
        monkeypatch.setenv("TASKORCH_MUTATION_SPACING", "0")
        monkeypatch.setenv("TASKORCH_MAX_RETRY_WAIT", "0.5")  # a secondary rate limit stops the run
        monkeypatch.setenv("EXIT_TEST_TOKEN", "test-token-for-the-fake")
        monkeypatch.chdir(project)  # every command works on the project of the current directory
        runner = CliRunner()

        def invoke(*args: str) -> Result:
            return runner.invoke(app, list(args))

        yield invoke


def test_the_exit_code_is_the_platform_errors() -> None:
    assert SYNC_INCOMPLETE == PlatformError.exit_code == 6


def test_sync_exits_non_zero_when_part_of_it_failed_or_is_pending(
    cli: Any, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    assert cli("git", "connect", "octo-org/shop", "--token-name", "EXIT_TEST_TOKEN", "--auto-sync").exit_code == 0
    subtasks = tmp_path / "plan.json"
    subtasks.write_text(json.dumps([{"key": "a", "title": "Part A"}, {"key": "b", "title": "Part B"}]))
    planned = cli("plan-task", "Feature X", "--subtasks-json", str(subtasks), "--json")
    assert planned.exit_code == 0, planned.stderr

    fake_github.inject("secondary", method="POST", times=1)
    stopped = cli("sync")
    assert stopped.exit_code == SYNC_INCOMPLETE, stopped.output
    assert "sync incomplete: 3 change(s) still pending" in stopped.stderr
    assert "rate limited" in stopped.stderr and "taskorch sync" in stopped.stderr

    finished = cli("sync", "--json")
    assert finished.exit_code == 0, finished.stderr
    created = json.loads(finished.stdout)["sync"]["created"]
    assert len(created) == 3 and len(fake_github.issues) == 3

    task_id = str(created[0]["task_id"])
    assert cli("update-task", task_id, "--milestone", "v9.9").exit_code == 0
    rejected = cli("sync", "--json")
    assert rejected.exit_code == SYNC_INCOMPLETE
    assert json.loads(rejected.stdout)["sync"]["failed"][0]["task_id"] == int(task_id)  # the JSON is still printed
    assert "sync incomplete: 1 failed" in rejected.stderr
    assert f"task {task_id} " in rejected.stderr and "v9.9" in rejected.stderr

    assert cli("sync").exit_code == 0  # nothing left to do: the failure was reported once


def test_create_issue_exits_non_zero_when_the_issue_is_not_created(
    cli: Any, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    assert cli("git", "connect", "octo-org/shop", "--token-name", "EXIT_TEST_TOKEN").exit_code == 0
    task_id = str(json.loads(cli("plan-task", "Solo", "--json").stdout)["task"]["id"])
    fake_github.inject("secondary", method="POST", times=1)
    waiting = cli("git", "create-issue", task_id)
    assert waiting.exit_code == SYNC_INCOMPLETE, waiting.output
    assert "issue not created yet" in waiting.stdout and "still pending" in waiting.stderr
    created = cli("git", "create-issue", task_id)
    assert created.exit_code == 0, created.stderr
    assert len(fake_github.issues) == 1
