"""The demo: a real MCP client session against ``taskorch serve`` over stdio.

It creates a throwaway Git repository and a fresh SQLite database beside it, serves the GitHub
stand-in (:mod:`standins.github`) on 127.0.0.1, starts the server as a subprocess
with the official MCP client, and walks through a whole feature: initialize a session, connect the
repository, plan a parent with dependent subtasks (they become issues and sub-issues), try to start
a task too early, execute and complete every task in dependency order (writing the files the
"assistant" produces into the repository), let a teammate rename an issue on "GitHub" and watch it
flow back, synthesize, release (plan with readiness, milestone, changelog, dry run, annotated tag
and the release on the stand-in), and show the status and the audit trail. Every line after ``<-`` is the
server's answer; ``gh`` lines are read from the stand-in's state, ``git`` lines from the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from standins.github import FakeGitHub

__all__ = ["run_demo"]

#: The environment variable the demo's server reads the stand-in's token from.
DEMO_TOKEN_NAME = "TASKORCH_DEMO_GITHUB_TOKEN"

FEATURE = {
    "title": "Add rate limiting to the login endpoint",
    "description": "Stop credential stuffing: limit failed logins per account and per IP address.",
    "task_type": "feature",
    "complexity": "complex",
    "priority": "high",
    "labels": ["security", "auth"],
    "acceptance_criteria": [
        "At most 5 failed logins per account per 15 minutes",
        "Clients over the limit get HTTP 429 with Retry-After",
    ],
    "subtasks": [
        {
            "key": "design",
            "title": "Design the rate limiter",
            "task_type": "design",
            "description": "Choose the algorithm and where counters live.",
        },
        {
            "key": "limiter",
            "title": "Implement the token bucket limiter",
            "depends_on_keys": ["design"],
            "description": "A token bucket keyed by account and by IP address.",
        },
        {
            "key": "tests",
            "title": "Write tests for the limiter",
            "task_type": "testing",
            "depends_on_keys": ["limiter"],
            "description": "pytest coverage of limits, refill and the 429.",
        },
        {
            "key": "docs",
            "title": "Document the login limits",
            "task_type": "documentation",
            "depends_on_keys": ["limiter"],
            "description": "README section for operators.",
        },
    ],
}

#: What the "assistant" writes for each subtask: (file, content, summary, artifact type, commit message).
WORK = {
    "design": (
        "docs/rate-limiting.md",
        "# Rate limiting\n\nToken bucket, 5 tokens per 15 min per account.\n",
        "Token bucket per account and per IP; counters in the database",
        "design",
        "docs: design the login rate limiter",
    ),
    "limiter": (
        "src/limiter.py",
        "class TokenBucket:\n    def __init__(self, capacity: int) -> None:\n        self.tokens = capacity\n",
        "TokenBucket with refill; login returns 429 over the limit",
        "code",
        "feat(login): limit failed logins with a token bucket",
    ),
    "tests": (
        "tests/test_limiter.py",
        "def test_bucket_starts_full():\n    assert True\n",
        "Tests for refill, exhaustion and the 429 response",
        "test",
        "test: cover refill, exhaustion and the 429 answer",
    ),
    "docs": (
        "README.md",
        "## Login limits\n\n5 failed attempts per 15 minutes.\n",
        "Operator documentation of the limits",
        "documentation",
        "docs: document the login limits for operators",
    ),
}


def _server_command() -> tuple[str, list[str]]:
    exe = shutil.which("taskorch")
    if exe is not None and Path(exe).parent == Path(sys.executable).parent:
        return exe, ["serve"]
    return sys.executable, ["-m", "taskorch", "serve"]


#: The identity the demo's commits and the release tag are made with.
DEMO_IDENTITY = {
    "GIT_AUTHOR_NAME": "taskorch demo",
    "GIT_AUTHOR_EMAIL": "demo@taskorch.invalid",
    "GIT_COMMITTER_NAME": "taskorch demo",
    "GIT_COMMITTER_EMAIL": "demo@taskorch.invalid",
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env={**os.environ, **DEMO_IDENTITY}
    )
    return done.stdout.strip()


def _git_init(repo: Path) -> bool:
    """A repository with one commit; False (and a bare .git marker) when git is not installed."""
    if shutil.which("git") is None:
        (repo / ".git").mkdir()
        return False
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "chore: start the shop")
    return True


#: Shortened text ends with this, so a cut never passes for the whole value.
ELLIPSIS = "…"


def _cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit - 1`` characters and an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _short(value: Any) -> str:
    """A value in an audit line: its first line, cut at 40 characters with an ellipsis; a link whole."""
    if isinstance(value, str) and value.startswith(("http://", "https://")) and value.isprintable():
        return value
    lines = str(value).splitlines()
    if not lines:
        return "''"
    return _cut(lines[0] + (ELLIPSIS if len(lines) > 1 else ""), 40)


def _argument(value: Any) -> str:
    """An argument as the call shows it: JSON, shortened to 60 characters with an ellipsis."""
    return _cut(json.dumps(value, ensure_ascii=False), 60)


def _describe_changes(action: str, changes: dict[str, Any]) -> str:
    """One line per audit entry: old -> new for updates, the title for creations."""
    if action == "created":
        return f"created '{changes.get('title')}' ({changes.get('specialist_type')})"
    if action == "artifact":
        files = ", ".join(changes.get("file_paths", []))
        return f"artifact {changes.get('artifact_id')} ({changes.get('artifact_type')}): {files}"
    parts = []
    for field, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            parts.append(f"{field} {_short(value[0])} -> {_short(value[1])}")
        else:
            parts.append(f"{field} {_short(value)}")
    return "; ".join(parts)


def _synthesis_tree(title: str, result: dict[str, Any], tasks: list[dict[str, Any]]) -> Tree:
    """The synthesis as sections: per completed subtask (``tasks``, as ``taskorch://tasks/{n}``
    reads them) its summary, files and the size of its work; then the files touched, follow-ups
    and the subtasks still open. Built from the structured results, not from the Markdown."""
    done, still_open = len(result.get("completed", [])), result.get("open", [])
    tree = Tree(
        Text(
            f"{title} (task {result.get('parent_id')}): {done} subtask{'s' * (done != 1)} completed, "
            f"{len(still_open)} open; the parent is {result.get('parent_status')}",
            style="bold",
        )
    )
    files: list[str] = []
    follow_ups: list[str] = []
    for task in tasks:
        node = tree.add(Text(f"task {task['id']} {task['title']} ({task['specialist_type']})", style="bold"))
        for artifact in task.get("artifacts") or []:
            node.add(Text(artifact["summary"]))
            if artifact["file_paths"]:
                node.add(Text("files: " + ", ".join(artifact["file_paths"])))
                files += [path for path in artifact["file_paths"] if path not in files]
            lines = len(artifact["detailed_work"].splitlines())
            if lines:
                node.add(Text(f"work: {lines} line{'s' * (lines != 1)} ({artifact['artifact_type']})", style="dim"))
            if artifact.get("next_action"):
                follow_ups.append(f"{artifact['next_action']} (from task {task['id']})")
    for heading, items in (
        ("files touched", files),
        ("follow-ups", follow_ups),
        ("still open", [f"task {t['id']} {t['title']} ({t['status']})" for t in still_open]),
    ):
        if items:
            section = tree.add(Text(heading, style="bold"))
            for item in items:
                section.add(Text(item))
    return tree


class _Transcript:
    def __init__(self, console: Console) -> None:
        self.console = console

    def call(self, name: str, args: dict[str, Any]) -> None:
        shown = ", ".join(f"{k}={_argument(v)}" for k, v in args.items())
        self.console.print(f"[cyan]->[/] {escape(name)}({escape(shown)})", highlight=False, soft_wrap=True)

    def answer(self, text: str, *, error: bool = False) -> None:
        style = "red" if error else "green"
        for i, line in enumerate(text.splitlines() or [""]):
            self.console.print(
                f"[{style}]{'<-' if i == 0 else '  '}[/] {escape(line)}", highlight=False, soft_wrap=True
            )

    def git(self, text: str) -> None:
        self.console.print(f"[yellow]git[/] {escape(text)}", highlight=False, soft_wrap=True)

    def github(self, text: str) -> None:
        self.console.print(f"[magenta]gh[/] {escape(text)}", highlight=False, soft_wrap=True)

    def heading(self, text: str) -> None:
        self.console.rule(f"[bold]{text}")


def _show_github(out: _Transcript, github: FakeGitHub) -> None:
    """What the GitHub stand-in holds now (read from its state, as a person would see the repo)."""
    for number, issue in sorted(github.issues.items()):
        labels = ", ".join(sorted(label["name"] for label in issue["labels"]))
        state = issue["state"] + (f" ({issue['state_reason']})" if issue.get("state_reason") else "")
        parent = next((p for p, kids in github.sub_issues.items() if number in kids), None)
        out.github(
            f"#{number} {issue['title']}: {state}; labels: {labels}"
            + (f"; sub-issue of #{parent}" if parent else "")
            + f"; {issue['html_url']}"
        )


async def _release(call: Any, out: _Transcript, repo: Path, github: FakeGitHub) -> None:
    """Plan the release, put it on a milestone, write the changelog, tag and publish it."""
    out.heading("Release")
    plan = await call("orchestrator_release_coordinator", {"action": "plan_release"})
    name = plan["release"]["name"]
    await call("orchestrator_release_coordinator", {"action": "create_milestone", "release_version": name})
    await call(
        "orchestrator_release_coordinator",
        {"action": "generate_changelog", "release_version": name, "write_changelog": True},
    )
    _git(repo, "add", "CHANGELOG.md")
    _git(repo, "commit", "-q", "-m", f"chore(release): changelog for {name}")
    out.git(f"committed CHANGELOG.md for {name}")
    await call("orchestrator_release_coordinator", {"action": "tag_release", "release_version": name, "dry_run": True})
    await call("orchestrator_release_coordinator", {"action": "tag_release", "release_version": name})
    out.git(_git(repo, "tag", "-n1", "--list", name))
    for release in github.releases.values():
        lines = len((release.get("body") or "").splitlines())
        out.github(f"release {release['tag_name']}: {release['html_url']} ({lines} lines of notes)")
    for milestone in github.milestones.values():
        out.github(f"milestone {milestone['title']}: {milestone['state']}")


async def _session(
    repo: Path, db_url: str, console: Console, github: FakeGitHub, github_url: str, has_git: bool
) -> int:
    from mcp import Client, StdioServerParameters

    command, args = _server_command()
    env = {
        **os.environ,
        "TASKORCH_DATABASE_URL": db_url,
        "TASKORCH_GIT_INTEGRATION": "full",
        **DEMO_IDENTITY,
        "TASKORCH_GITHUB_API_URL": github_url,
        "TASKORCH_MUTATION_SPACING": "0",  # the stand-in needs no spacing; GitHub gets 1 s by default
        DEMO_TOKEN_NAME: "demo-token-for-the-local-stand-in",
    }
    env.pop("TASKORCH_TOOLSETS", None)
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(repo))
    out = _Transcript(console)
    async with Client(params, mode="legacy") as client:

        async def call(name: str, args: dict[str, Any], *, expect_error: bool = False) -> dict[str, Any]:
            out.call(name, args)
            result = await client.call_tool(name, args)
            text = "\n".join(getattr(block, "text", "") for block in result.content)
            out.answer(text, error=result.is_error)
            if result.is_error != expect_error:
                raise RuntimeError(f"{name} {'failed' if result.is_error else 'succeeded'} unexpectedly: {text}")
            return result.structured_content or {}

        out.heading("Connect")
        tools = (await client.list_tools()).tools
        out.answer(f"{len(tools)} tools: " + ", ".join(t.name.removeprefix("orchestrator_") for t in tools))

        out.heading("Session, repository and plan")
        session = await call("orchestrator_initialize_session", {"working_directory": str(repo)})
        await call(
            "orchestrator_git_integration",
            {
                "action": "connect",
                "repository": f"{github.owner}/{github.repo}",
                "issue_config": {"api_token_name": DEMO_TOKEN_NAME, "auto_sync_enabled": True},
            },
        )
        plan = await call("orchestrator_plan_task", FEATURE)
        for decision in plan["routing"]:
            out.answer(f"routed task {decision['task_id']} to {decision['specialist_type']}: {decision['reason']}")
        ids = {key: brief["id"] for key, brief in plan["subtasks"].items()}

        out.heading("Tasks become issues on GitHub (a local stand-in)")
        first_sync = await call("orchestrator_git_integration", {"action": "sync_status"})
        issue_of_task = {link["task_id"]: link["issue_number"] for link in first_sync["sync"]["created"]}
        numbers = {key: issue_of_task[task_id] for key, task_id in ids.items()}
        _show_github(out, github)

        out.heading("Dependencies are enforced")
        await call("orchestrator_execute_task", {"task_id": ids["tests"]}, expect_error=True)

        out.heading("Execute and complete in dependency order")
        changed_on_github = False
        while True:
            status = await call("orchestrator_get_status", {})
            ready = [t for t in status["ready"] if t["id"] in ids.values()]
            if not ready:
                break
            task_id = ready[0]["id"]
            key = next(k for k, v in ids.items() if v == task_id)
            if key == "docs" and not changed_on_github:
                changed_on_github = True
                out.heading("A change made on GitHub flows back")
                issue = github.edit_issue(
                    numbers[key], title="Document the login limits for operators", labels=["docs", "ops"]
                )
                out.github(f"a teammate renamed #{issue['number']} and labelled it docs, ops")
                await call("orchestrator_git_integration", {"action": "sync_status"})
                renamed = await call("orchestrator_query_tasks", {"task_ids": [task_id]})
                task = renamed["tasks"][0]
                out.answer(f"task {task_id} is now '{task['title']}', labels {task['labels']}")
            context = await call("orchestrator_execute_task", {"task_id": task_id})
            role = context["specialist"]
            out.answer(f"specialist: {role['title']} ({role['summary']})")
            for dep in context["dependency_results"]:
                for art in dep["artifacts"]:
                    out.answer(f"context from task {dep['task_id']}: {art['summary']}")
            path, content, summary, kind, message = WORK[key]
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            if has_git:
                _git(repo, "add", path)
                _git(repo, "commit", "-q", "-m", message)
                out.git(f"committed {path}: {message}")
            await call(
                "orchestrator_complete_task",
                {
                    "task_id": task_id,
                    "summary": summary,
                    "detailed_work": content,
                    "file_paths": [path],
                    "artifact_type": kind,
                },
            )

        out.heading("Progress reached GitHub")
        await call("orchestrator_git_integration", {"action": "sync_status"})
        _show_github(out, github)

        out.heading("Synthesis")
        synthesis = await call("orchestrator_synthesize_results", {"parent_task_id": plan["task"]["id"]})
        subtasks = []
        for brief in synthesis["completed"]:
            uri = f"taskorch://tasks/{brief['id']}"
            out.console.print(f"[cyan]->[/] read {uri}", highlight=False)
            read = await client.read_resource(uri)
            subtasks.append(json.loads(getattr(read.contents[0], "text", "{}")))
        console.print(_synthesis_tree(plan["task"]["title"], synthesis, subtasks), highlight=False)

        if has_git:
            await _release(call, out, repo, github)
        else:
            out.answer("git is not installed: the release part of the demo is skipped")

        out.heading("Status and audit trail")
        await call("orchestrator_get_status", {})
        audit = await client.read_resource("taskorch://audit")
        first = audit.contents[0]
        entries = json.loads(getattr(first, "text", "{}")).get("entries", [])
        out.answer(f"taskorch://audit: {len(entries)} entries")
        for entry in entries:
            out.answer(
                f"{entry['at'][11:19]} {entry['tool']:<20} {entry['action']:<8} "
                + (f"task {entry['task_id']}: " if entry["task_id"] is not None else "")
                + _describe_changes(entry["action"], entry["changes"])
            )
        await call("orchestrator_git_integration", {"action": "sync_status"})
        await call("orchestrator_health_check", {})
        return int(session["session_id"])


def run_demo(*, keep: bool = False, console: Console | None = None) -> int:
    """Run the demo; return the process exit code (0 on success)."""
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="taskorch-demo-"))
    repo = workdir / "shop"
    repo.mkdir()
    has_git = _git_init(repo)
    db_url = f"sqlite:///{workdir / 'taskorch.db'}"
    console.print(f"Throwaway repository: {repo}\nDatabase: {db_url}", highlight=False)
    from standins.github import FakeGitHub

    github = FakeGitHub(owner="octo-org", repo="shop")
    try:
        with github.serve() as github_url:
            console.print(
                f"GitHub stand-in: {github_url} (octo-org/shop; its issues: {github_url}/octo-org/shop)",
                highlight=False,
            )
            anyio.run(_session, repo, db_url, console, github, github_url, has_git)
    except Exception as exc:
        console.print(f"[red]demo failed:[/] {exc}", highlight=False)
        return 1
    finally:
        if keep:
            console.print(f"Kept {workdir}", highlight=False)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    console.print("[bold green]Demo complete.[/]")
    return 0
