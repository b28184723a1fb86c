"""The stand-ins' command: ``python -m standins github`` serves the GitHub stand-in, prints its URL
and the settings that point ``taskorch sync`` at it, and stops on Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from standins import demo
from standins.__main__ import TOKEN_NAME
from taskorch.cli.app import app

REPOSITORY = Path(__file__).resolve().parents[1]
URL = re.compile(r"http://127\.0\.0\.1:\d+")


@pytest.fixture
def standin() -> Iterator[tuple[str, list[str]]]:
    """The stand-in as a user starts it; yields its URL and the lines printed up to the URL's."""
    yield from _started("github", "--repository", "octo-org/shop")


@pytest.fixture
def gitlab_standin() -> Iterator[tuple[str, list[str]]]:
    """The GitLab stand-in as a user starts it (``python -m standins gitlab``)."""
    yield from _started("gitlab")


@pytest.fixture
def jira_standin() -> Iterator[tuple[str, list[str]]]:
    """The Jira Cloud stand-in as a user starts it (``python -m standins jira --project OPS``)."""
    yield from _started("jira", "--project", "OPS")


def _started(*arguments: str) -> Iterator[tuple[str, list[str]]]:
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    process = subprocess.Popen(
        [sys.executable, "-m", "standins", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    # Only a safety net against a hang: the test waits for the line, never for a time.
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not (lines and URL.search(lines[0])):
            line = process.stdout.readline()
            assert line, "the stand-in exited before printing its URL: " + (
                process.stderr.read() if process.stderr else ""
            )
            lines.append(line.rstrip("\n"))
        found = URL.search(lines[0])
        assert found is not None
        for line in process.stdout:  # the instructions, up to the line that ends them
            lines.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        yield found.group(), lines
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate()
        assert process.returncode == 0, errors
        assert "stopped" in rest
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
def test_the_github_standin_serves_until_interrupted(standin: tuple[str, list[str]]) -> None:
    url, lines = standin
    assert lines[0] == f"GitHub stand-in for octo-org/shop at {url}"
    assert f"  export TASKORCH_GITHUB_API_URL={url}" in lines
    auth = {"Authorization": "Bearer any-value"}
    assert httpx.get(f"{url}/repos/octo-org/shop/issues", headers=auth).json() == []
    created = httpx.post(f"{url}/repos/octo-org/shop/issues", headers=auth, json={"title": "Try <it>"}).json()
    # A local server's links point at itself, never at github.com, and its web pages answer.
    assert created["html_url"] == f"{url}/octo-org/shop/issues/1"
    assert created["url"] == f"{url}/repos/octo-org/shop/issues/1"
    page = httpx.get(created["html_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "#1 Try &lt;it&gt;" in page.text
    assert "#1</a> Try &lt;it&gt; (open)" in httpx.get(f"{url}/octo-org/shop").text
    assert httpx.get(f"{url}/octo-org/shop/issues/2").status_code == 404


@pytest.mark.slow
def test_taskorch_syncs_with_the_standin_as_printed(
    standin: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, project: Path, database_url: str
) -> None:
    """The printed settings work: connect, plan and sync create the issue on the stand-in."""
    url, lines = standin
    for line in lines:
        exported = re.match(r"\s*export (\w+)=(\S+)", line)
        if exported and exported.group(1) != "TASKORCH_DATABASE_URL":
            monkeypatch.setenv(exported.group(1), exported.group(2).strip('"'))
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    runner = CliRunner()

    def cli(*args: str) -> Result:
        result = runner.invoke(app, [*args, "--project", str(project)])
        assert result.exit_code == 0, result.output + result.stderr
        return result

    connect = next(line.split() for line in lines if "taskorch git connect" in line)
    cli(*connect[1:])
    cli("plan-task", "Try the stand-in")
    cli("sync")
    listed = httpx.get(f"{url}/repos/octo-org/shop/issues", headers={"Authorization": f"Bearer {TOKEN_NAME}"}).json()
    assert [issue["title"] for issue in listed] == ["Try the stand-in"]


# -- the demo's presentation ------------------------------------------------------------------


def test_the_demo_marks_what_it_shortens() -> None:
    assert demo._argument("short") == '"short"'
    long = demo._argument("x" * 100)
    assert len(long) == 60 and long.endswith(demo.ELLIPSIS) and long.startswith('"xxx')
    assert demo._short("one line") == "one line"
    assert demo._short("a" * 50) == "a" * 39 + demo.ELLIPSIS
    assert demo._short("first\nsecond") == "first" + demo.ELLIPSIS
    assert demo._short("http://127.0.0.1:8765/octo-org/shop/issues/12345") == (
        "http://127.0.0.1:8765/octo-org/shop/issues/12345"
    )


def test_the_demo_lays_the_synthesis_out_in_sections() -> None:
    artifact = {
        "summary": "Token bucket per account",
        "file_paths": ["docs/design.md"],
        "detailed_work": "# Design\n\n## A heading inside the work\nmore",
        "artifact_type": "design",
        "next_action": "Benchmark it",
    }
    result = {
        "parent_id": 1,
        "parent_status": "in_progress",
        "completed": [{"id": 2}],
        "open": [{"id": 3, "title": "[bold]Tests[/]", "status": "pending"}],
        "synthesis": "# Synthesis: ignored\n",
    }
    tasks = [{"id": 2, "title": "Design it", "specialist_type": "architect", "artifacts": [artifact]}]
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(demo._synthesis_tree("Rate limiting", result, tasks))
    shown = buffer.getvalue()
    assert shown.splitlines()[0] == "Rate limiting (task 1): 1 subtask completed, 1 open; the parent is in_progress"
    for line in (
        "├── task 2 Design it (architect)",
        "│   ├── Token bucket per account",
        "│   ├── files: docs/design.md",
        "│   └── work: 4 lines (design)",
        "├── files touched",
        "│   └── docs/design.md",
        "├── follow-ups",
        "│   └── Benchmark it (from task 2)",
        "└── still open",
        "    └── task 3 [bold]Tests[/] (pending)",
    ):
        assert line in shown.splitlines(), shown
    assert "A heading inside the work" not in shown


@pytest.mark.slow
def test_taskorch_syncs_with_the_gitlab_standin_as_printed(
    gitlab_standin: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch, project: Path, database_url: str
) -> None:
    """``python -m standins gitlab`` prints settings that work: the CLI connects by
    ``gitlab:group/sub/project``, plans and syncs, and the issue is on the stand-in."""
    url, lines = gitlab_standin
    assert lines[0] == f"GitLab stand-in for group/sub/project at {url}"
    assert f"  export TASKORCH_GITLAB_URL={url}" in lines
    for line in lines:
        exported = re.match(r"\s*export (\w+)=(\S+)", line)
        if exported and exported.group(1) != "TASKORCH_DATABASE_URL":
            monkeypatch.setenv(exported.group(1), exported.group(2).strip('"'))
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    runner = CliRunner()

    def cli(*args: str) -> Result:
        result = runner.invoke(app, [*args, "--project", str(project)])
        assert result.exit_code == 0, result.output + result.stderr
        return result

    connect = next(line.split() for line in lines if "taskorch git connect" in line)
    assert "gitlab:group/sub/project" in connect
    assert "on GitLab" in cli(*connect[1:]).output
    cli("plan-task", "Try the stand-in")
    cli("sync")
    listed = httpx.get(
        f"{url}/api/v4/projects/group%2Fsub%2Fproject/issues", headers={"PRIVATE-TOKEN": "any-value"}
    ).json()
    assert [issue["title"] for issue in listed] == ["Try the stand-in"]
    assert "status::to do" in listed[0]["labels"]


@pytest.mark.slow
def test_the_jira_standin_serves_until_interrupted(jira_standin: tuple[str, list[str]]) -> None:
    """``python -m standins jira`` prints its site root and the settings naming it, and answers
    the platform API there with basic authentication."""
    url, lines = jira_standin
    assert lines[0] == f"Jira Cloud stand-in for project OPS at {url}"
    assert f"  export TASKORCH_JIRA_URL={url}" in lines
    assert any(line.startswith("  export JIRA_API_TOKEN=") for line in lines)
    auth = ("me@example.com", "any-value")
    assert httpx.get(f"{url}/rest/api/3/myself", auth=auth).json()["timeZone"] == "Europe/Berlin"
    created = httpx.post(
        f"{url}/rest/api/3/issue",
        auth=auth,
        json={"fields": {"project": {"key": "OPS"}, "summary": "Try it", "issuetype": {"name": "Task"}}},
    ).json()
    assert created["key"] == "OPS-1" and created["self"].startswith(url)
    assert httpx.get(f"{url}/rest/api/3/myself").status_code == 401
