"""The CLI's JSON input (``plan-task --subtasks-json``) is refused like an MCP argument: the
field path with the subtask's index, what was wrong and the fix, exit code 2, nothing planned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from taskorch.cli.app import app


@pytest.mark.parametrize(
    ("subtasks", "expected"),
    [
        (
            [{"key": "a", "title": "A"}, {"key": "b", "title": ""}],
            "subtasks.1.title: is empty. Fix: give at least 1 character.",
        ),
        (
            [{"key": "a", "title": "A", "owner": "me"}],
            "subtasks.0.owner: is not an accepted field here. Fix: remove it",
        ),
        (
            [{"key": "a", "title": "A", "priority": "urgent"}],
            "subtasks.0.priority: is not one of the accepted values. Fix: use one of: 'low'",
        ),
        ([{"title": "No key"}], "subtasks.0.key: is required. Fix: pass it."),
    ],
)
def test_subtasks_json_errors_name_the_subtask_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    project: Path,
    tmp_path: Path,
    subtasks: list[dict[str, Any]],
    expected: str,
) -> None:
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    monkeypatch.chdir(project)
    source = tmp_path / "plan.json"
    source.write_text(json.dumps(subtasks))
    runner = CliRunner()

    result = runner.invoke(app, ["plan-task", "Parent", "--subtasks-json", str(source)])
    assert result.exit_code == 2, result.stdout
    assert expected in result.stderr
    assert "pydantic" not in result.stderr and "https://" not in result.stderr

    listed = runner.invoke(app, ["query-tasks", "--json"])
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout)["total"] == 0
