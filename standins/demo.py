"""The demo: a real MCP client session against ``taskorch serve`` over stdio.

It creates a throwaway Git repository and a fresh SQLite database beside it, serves the GitHub
stand-in (:mod:`standins.github`), or with ``platform="gitlab"`` the GitLab stand-in
(:mod:`standins.gitlab`), or with ``platform="bitbucket"`` the Bitbucket Cloud stand-in
(:mod:`standins.bitbucket`: code and tags) and the Jira Cloud one (:mod:`standins.jira`: issues
with sub-tasks and Blocks links, the workflow, a scrum board with a sprint, worklogs, versions),
on 127.0.0.1, starts the server as a subprocess
with the official MCP client, and walks through a whole feature: initialize a session, connect the
repository, plan a parent with dependent subtasks (they become issues and sub-issues), try to start
a task too early, execute and complete every task in dependency order (writing the files the
"assistant" produces into the repository), let a teammate rename an issue on "GitHub" and watch it
flow back, synthesize, release (plan with readiness, milestone, changelog, dry run, annotated tag
and the release on the stand-in), and show the status and the audit trail. Every line after ``<-`` is the
server's answer; ``gh`` (``gl``, ``jira``) lines are read from the stand-in's state, ``git`` lines from the
repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:
    from collections.abc import Iterator

    from standins.github import FakeGitHub
    from standins.gitlab import FakeGitLab

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
    def __init__(self, console: Console, tag: str = "gh") -> None:
        self.console = console
        self.tag = tag

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
        self.console.print(f"[magenta]{self.tag}[/] {escape(text)}", highlight=False, soft_wrap=True)

    def heading(self, text: str) -> None:
        self.console.rule(f"[bold]{text}")


class _Forge:
    """The platform stand-in the demo runs against: how to serve it, point the server at it, show
    its state, and edit an issue as a teammate would."""

    title = "GitHub"
    tag = "gh"
    repository = "octo-org/shop"

    def __init__(self) -> None:
        from standins.github import FakeGitHub

        self.fake: FakeGitHub = FakeGitHub(owner="octo-org", repo="shop")

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.fake.serve() as url:
            yield url

    def banner(self, url: str) -> str:
        return f"GitHub stand-in: {url} (octo-org/shop; its issues: {url}/octo-org/shop)"

    def environment(self, url: str) -> dict[str, str]:
        return {"TASKORCH_GITHUB_API_URL": url}

    def show(self, out: _Transcript) -> None:
        """What the stand-in holds now (read from its state, as a person would see the repo)."""
        github = self.fake
        for number, issue in sorted(github.issues.items()):
            labels = ", ".join(sorted(label["name"] for label in issue["labels"]))
            state = issue["state"] + (f" ({issue['state_reason']})" if issue.get("state_reason") else "")
            parent = next((p for p, kids in github.sub_issues.items() if number in kids), None)
            out.github(
                f"#{number} {issue['title']}: {state}; labels: {labels}"
                + (f"; sub-issue of #{parent}" if parent else "")
                + f"; {issue['html_url']}"
            )

    def rename(self, number: int, title: str, labels: list[str]) -> None:
        self.fake.edit_issue(number, title=title, labels=labels)

    def connect_arguments(self) -> dict[str, Any]:
        """What ``git_integration`` connect is given besides the repository and the token name."""
        return {}

    def tag_arguments(self, repo: Path) -> dict[str, Any]:
        """What ``tag_release`` is given besides the version (the code host may take the tag)."""
        return {}

    def sprint_board(self) -> bool:
        """Whether the platform runs sprints (the demo then plans one on a scrum board)."""
        return False

    def releases(self) -> list[str]:
        lines = []
        for release in self.fake.releases.values():
            count = len((release.get("body") or "").splitlines())
            lines.append(f"release {release['tag_name']}: {release['html_url']} ({count} lines of notes)")
        lines += [f"milestone {m['title']}: {m['state']}" for m in self.fake.milestones.values()]
        return lines


class _GitLabForge(_Forge):
    title = "GitLab"
    tag = "gl"
    repository = "gitlab:group/shop"

    def __init__(self) -> None:
        from standins.gitlab import FakeGitLab

        self.lab: FakeGitLab = FakeGitLab("group/shop")
        self.lab.rate_limit = self.lab.rate_remaining = 1_000_000

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.lab.serve() as url:
            yield url

    def banner(self, url: str) -> str:
        return f"GitLab stand-in: {url} (group/shop; API under {url}/api/v4)"

    def environment(self, url: str) -> dict[str, str]:
        return {"TASKORCH_GITLAB_URL": url}

    def show(self, out: _Transcript) -> None:
        from standins.gitlab import scope_of

        lab = self.lab
        listed = {
            iid: [int(n) for n in re.findall(r"^- \[[ xX]\] #(\d+)", raw["description"] or "", re.M)]
            for iid, raw in lab.issues.items()
        }
        parent_of = {child: iid for iid, children in listed.items() for child in children}
        for iid, issue in sorted(lab.issues.items()):
            labels = ", ".join(issue["labels"])
            scoped = [name for name in issue["labels"] if scope_of(name) == "status"]
            out.github(
                f"#{iid} {issue['title']}: {issue['state']}; labels: {labels}"
                + (f"; board list: {scoped[0].partition('::')[2]}" if scoped and issue["state"] == "opened" else "")
                + (f"; subtask of #{parent_of[iid]} (linked, in its task list)" if iid in parent_of else "")
                + f"; {lab.web_url}/-/issues/{iid}"
            )

    def rename(self, number: int, title: str, labels: list[str]) -> None:
        current = [name for name in self.lab.issues[number]["labels"] if name not in ("auth", "security")]
        self.lab.edit_issue(number, title=title, labels=",".join([*current, *labels]))

    def releases(self) -> list[str]:
        lines = []
        for tag, release in self.lab.releases.items():
            count = len((release.get("description") or "").splitlines())
            lines.append(f"release {tag}: {self.lab.web_url}/-/releases/{tag} ({count} lines of notes)")
        lines += [f"milestone {m['title']}: {m['state']}" for m in self.lab.milestones.values()]
        return lines


class _BitbucketForge(_Forge):
    """Bitbucket Cloud for the code and tags, Jira Cloud for the issues, versions, board and
    sprints: both stand-ins served on 127.0.0.1."""

    title = "Jira (with Bitbucket Cloud)"
    tag = "jira"
    repository = "bitbucket:acme/shop"
    project = "SHOP"

    def __init__(self) -> None:
        from standins.bitbucket import FakeBitbucket
        from standins.jira import FakeJira

        self.bitbucket: FakeBitbucket = FakeBitbucket("acme", "shop")
        self.bitbucket.rate_limit = 1_000_000
        self.jira: FakeJira = FakeJira(self.project)
        self.jira.rate_limit = self.jira.rate_remaining = 1_000_000
        self.site = ""
        self.api = ""

    @contextmanager
    def serve(self) -> Iterator[str]:
        with self.bitbucket.serve() as api, self.jira.serve() as site:
            self.api, self.site = api, site
            yield site

    def banner(self, url: str) -> str:
        return (
            f"Jira Cloud stand-in: {url} (project {self.project}; {url}/browse/{self.project})\n"
            f"Bitbucket Cloud stand-in: {self.api} (acme/shop: code and tags)"
        )

    def environment(self, url: str) -> dict[str, str]:
        return {
            "TASKORCH_JIRA_URL": url,
            "TASKORCH_BITBUCKET_API_URL": self.api,
            "BITBUCKET_TOKEN": "demo-token-for-the-local-stand-in",
        }

    def connect_arguments(self) -> dict[str, Any]:
        return {"jira": f"{self.site}/browse/{self.project}"}

    def tag_arguments(self, repo: Path) -> dict[str, Any]:
        # The commits reached Bitbucket (a push, in real life); the tag goes through its refs API.
        for sha in _git(repo, "rev-list", "--reverse", "HEAD").split():
            self.bitbucket.add_commit(_git(repo, "log", "-1", "--format=%s", sha), sha=sha)
        return {"push": True, "tag_via_api": True}

    def sprint_board(self) -> bool:
        return True

    def show(self, out: _Transcript) -> None:
        jira = self.jira
        for number, issue in sorted(jira.issues.items()):
            key = issue["key"]
            parent = issue.get("parent")
            blocked_by = [link["inward"] for link in jira.links if link["outward"] == key]
            sprint = jira._sprint_of(number)
            out.github(
                f"{key} {issue['summary']} [{issue['issuetype']['name']}]: {issue['status']['name']}"
                + (f"; labels: {', '.join(issue['labels'])}" if issue["labels"] else "")
                + (f"; sub-task of {parent['key']}" if parent else "")
                + (f"; blocked by {', '.join(blocked_by)}" if blocked_by else "")
                + (f"; in {sprint['name']} ({sprint['state']})" if sprint else "")
                + (f"; comments: {len(jira.comments[key])}" if jira.comments.get(key) else "")
                + (f"; worklogs: {len(jira.worklogs[key])}" if jira.worklogs.get(key) else "")
                + f"; {self.site}/browse/{key}"
            )

    def rename(self, number: int, title: str, labels: list[str]) -> None:
        current = [name for name in self.jira.issues[number]["labels"] if name not in ("auth", "security")]
        self.jira.edit_issue(number, summary=title, labels=[*current, *labels])

    def releases(self) -> list[str]:
        lines = []
        for version in self.jira.versions.values():
            count = len((version.get("description") or "").splitlines())
            state = "released" if version.get("released") else "unreleased"
            lines.append(f"Jira version {version['name']}: {state} {version.get('releaseDate') or ''} ({count} lines)")
        for name, tag in self.bitbucket.tags.items():
            lines.append(f"Bitbucket tag {name} -> {str(tag['target'])[:12]}")
        for sprint in self.jira.sprints.values():
            lines.append(f"sprint {sprint['name']}: {sprint['state']}, {len(sprint['issues'])} issue(s)")
        return lines


FORGES: dict[str, type[_Forge]] = {"github": _Forge, "gitlab": _GitLabForge, "bitbucket": _BitbucketForge}


async def _plan_sprint(call: Any, out: _Transcript, forge: _Forge, ids: dict[str, int]) -> None:
    """A scrum board for the project, a sprint with the feature in it, started."""
    out.heading("A sprint board follows the work")
    await call(
        "orchestrator_project_board_manager",
        {"action": "create_board", "title": "Shop sprints", "board_type": "sprint_board"},
    )
    await call(
        "orchestrator_project_board_manager",
        {"action": "create_sprint", "title": "Sprint 1", "goal": "Login rate limiting"},
    )
    # A sub-task moves with its parent in Jira: adding the design subtask puts the feature in.
    await call("orchestrator_project_board_manager", {"action": "add_to_sprint", "feature_id": ids["design"]})
    await call("orchestrator_project_board_manager", {"action": "start_sprint"})
    forge.show(out)


async def _release(call: Any, out: _Transcript, repo: Path, forge: _Forge) -> None:
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
    tagging = forge.tag_arguments(repo)
    await call(
        "orchestrator_release_coordinator",
        {"action": "tag_release", "release_version": name, "dry_run": True, **tagging},
    )
    await call("orchestrator_release_coordinator", {"action": "tag_release", "release_version": name, **tagging})
    out.git(_git(repo, "tag", "-n1", "--list", name))
    for line in forge.releases():
        out.github(line)


async def _session(repo: Path, db_url: str, console: Console, forge: _Forge, url: str, has_git: bool) -> int:
    from mcp import Client, StdioServerParameters

    command, args = _server_command()
    env = {
        **os.environ,
        "TASKORCH_DATABASE_URL": db_url,
        "TASKORCH_GIT_INTEGRATION": "full",
        **DEMO_IDENTITY,
        **forge.environment(url),
        "TASKORCH_MUTATION_SPACING": "0",  # the stand-in needs no spacing; GitHub gets 1 s by default
        DEMO_TOKEN_NAME: "demo-token-for-the-local-stand-in",
    }
    env.pop("TASKORCH_TOOLSETS", None)
    env.pop("TASKORCH_JIRA_EMAIL", None)  # the stand-in takes the token as a bearer token
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(repo))
    out = _Transcript(console, forge.tag)
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
                "repository": forge.repository,
                "issue_config": {
                    "api_token_name": DEMO_TOKEN_NAME,
                    "auto_sync_enabled": True,
                    # Boards and sprints come with the project tier; progress notes as Jira comments.
                    **({"tier": "full", "progress_comments": True} if forge.sprint_board() else {}),
                },
                **forge.connect_arguments(),
            },
        )
        plan = await call("orchestrator_plan_task", FEATURE)
        for decision in plan["routing"]:
            out.answer(f"routed task {decision['task_id']} to {decision['specialist_type']}: {decision['reason']}")
        ids = {key: brief["id"] for key, brief in plan["subtasks"].items()}

        out.heading(f"Tasks become issues on {forge.title} (a local stand-in)")
        first_sync = await call("orchestrator_git_integration", {"action": "sync_status"})
        issue_of_task = {link["task_id"]: link["issue_number"] for link in first_sync["sync"]["created"]}
        numbers = {key: issue_of_task[task_id] for key, task_id in ids.items()}
        forge.show(out)

        if forge.sprint_board():
            await _plan_sprint(call, out, forge, ids)

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
                out.heading(f"A change made on {forge.title} flows back")
                forge.rename(numbers[key], "Document the login limits for operators", ["docs", "ops"])
                out.github(f"a teammate renamed #{numbers[key]} and labelled it docs, ops")
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

        out.heading(f"Progress reached {forge.title}")
        await call("orchestrator_git_integration", {"action": "sync_status"})
        if forge.sprint_board():
            await call(
                "orchestrator_project_board_manager",
                {"action": "log_work", "feature_id": ids["limiter"], "time_spent": "2h30m", "comment": "Token bucket"},
            )
        forge.show(out)

        out.heading("Synthesis")
        synthesis = await call("orchestrator_synthesize_results", {"parent_task_id": plan["task"]["id"]})
        subtasks = []
        for brief in synthesis["completed"]:
            uri = f"taskorch://tasks/{brief['id']}"
            out.console.print(f"[cyan]->[/] read {uri}", highlight=False)
            read = await client.read_resource(uri)
            subtasks.append(json.loads(getattr(read.contents[0], "text", "{}")))
        console.print(_synthesis_tree(plan["task"]["title"], synthesis, subtasks), highlight=False)

        if forge.sprint_board():
            out.heading("The sprint closes with the work done")
            await call("orchestrator_git_integration", {"action": "sync_status"})
            await call("orchestrator_project_board_manager", {"action": "update_progress"})
            await call("orchestrator_project_board_manager", {"action": "close_sprint"})
            forge.show(out)

        if has_git:
            await _release(call, out, repo, forge)
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


def run_demo(*, keep: bool = False, console: Console | None = None, platform: str = "github") -> int:
    """Run the demo against the ``platform`` stand-in (github, gitlab, or bitbucket: Bitbucket
    Cloud with Jira Cloud); return the process exit code (0 on success)."""
    console = console or Console()
    workdir = Path(tempfile.mkdtemp(prefix="taskorch-demo-"))
    repo = workdir / "shop"
    repo.mkdir()
    has_git = _git_init(repo)
    db_url = f"sqlite:///{workdir / 'taskorch.db'}"
    console.print(f"Throwaway repository: {repo}\nDatabase: {db_url}", highlight=False)
    forge = FORGES[platform]()
    try:
        with forge.serve() as url:
            console.print(forge.banner(url), highlight=False)
            anyio.run(_session, repo, db_url, console, forge, url, has_git)
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
