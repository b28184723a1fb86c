"""The Git integration end to end against the stateful GitHub fake: push, pull, conflicts,
faults, crash-safe creation, secrets, and the cost of a disabled integration."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from standins.github import FakeGitHub, ManualClock
from taskorch.config import Settings
from taskorch.errors import Conflict, InvalidInput
from taskorch.platforms.github import GitHubPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.sync.template import find_marker

TOKEN = "ghp_SECRETtoken0123456789abcdefSECRET"


class Sleeps:
    """Records the waits the engine asks for instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_orch(
    fake_github: FakeGitHub, database_url: str, project: Path, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)
    made: list[Orchestrator] = []

    def factory(config: Any) -> GitHubPlatform:
        from taskorch.sync.secrets import resolve_token

        return GitHubPlatform.connect(
            resolve_token(config["api_token_name"]),
            config["repository_url"],
            base_url="https://api.github.com",
            transport=fake_github.transport(),
        )

    def make(**connect: Any) -> Orchestrator:
        settings = Settings(database_url=database_url, git_integration="basic", mutation_spacing=0.0)
        orch = Orchestrator(settings, platform_factory=factory, sleep=sleeps)
        orch.initialize_session(str(project))
        if connect is not None:
            orch.git_connect("octo-org/shop", api_token_name="GH_TEST_TOKEN", **connect)
        made.append(orch)
        return orch

    yield make
    for orch in made:
        orch.close()


@pytest.fixture
def orch(make_orch: Any) -> Orchestrator:
    return make_orch(auto_sync_enabled=True)  # type: ignore[no-any-return]


def plan(orch: Orchestrator) -> dict[str, int]:
    result = orch.plan_task(
        TaskFields(
            title="Add rate limiting",
            description="Stop credential stuffing.",
            labels=["auth"],
            acceptance_criteria=["429 over the limit"],
        ),
        [
            SubtaskSpec(key="impl", title="Implement the limiter"),
            SubtaskSpec(key="tests", title="Test the limiter", task_type="testing", depends_on_keys=["impl"]),
        ],
    )
    ids = {k: b.id for k, b in result.subtasks.items()}
    ids["parent"] = result.task.id
    return ids


def issue_of(orch: Orchestrator, fake: FakeGitHub, task_id: int) -> dict[str, Any]:
    """The fake's issue linked to the task; fails unless exactly one issue carries its marker."""
    from sqlalchemy import select

    from taskorch.store.tables import feature_issue_links

    with orch.db.transaction(write=False) as conn:
        key, number = conn.execute(
            select(feature_issue_links.c.idempotency_key, feature_issue_links.c.issue_number).where(
                feature_issue_links.c.task_id == task_id
            )
        ).one()
    carrying = [n for n, issue in fake.issues.items() if find_marker(issue.get("body")) == key]
    assert carrying == [number], f"task {task_id}: link says #{number}, marker found on {carrying}"
    return fake.issues[number]


def create_on_github(fake: FakeGitHub, **fields: Any) -> int:
    """An issue opened by a person on github.com."""
    request = httpx.Request(
        "POST",
        f"https://api.github.com/repos/{fake.owner}/{fake.repo}/issues",
        json=fields,
        headers={"Authorization": "Bearer someone-else", "Accept": "application/vnd.github+json"},
    )
    response = fake.handle(request)
    assert response.status_code == 201
    return int(response.json()["number"])


def label_names(issue: dict[str, Any]) -> set[str]:
    return {label["name"] for label in issue["labels"]}


# -- push ----------------------------------------------------------------------------------


def test_planned_tasks_become_issues_with_sub_issues(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    result = orch.git_sync()
    assert result.sync is not None
    assert {link.task_id for link in result.sync.created} == set(ids.values())
    assert len(fake_github.issues) == 3
    parent = issue_of(orch, fake_github, ids["parent"])
    assert parent["title"] == "Add rate limiting"
    assert "Stop credential stuffing." in parent["body"]
    assert "- [ ] 429 over the limit" in parent["body"]
    assert find_marker(parent["body"]) is not None
    assert {"auth", "type: feature", "role: coordinator"} <= label_names(parent)
    children = set(fake_github.sub_issues.get(parent["number"], []))
    assert children == {issue_of(orch, fake_github, ids[k])["number"] for k in ("impl", "tests")}
    status = orch.git_config()
    assert "Issues linked: 3 synced." in status.detail


def test_progress_moves_the_issue_with_one_mutation_per_change(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    orch.git_sync()
    before = len(fake_github.requests)
    orch.execute_task(ids["impl"])
    orch.git_sync(pull=False)
    pushed = fake_github.requests[before:]
    # One update of the subtask's issue, one of its parent's body (which draws its subtasks).
    assert [(r.method, r.status) for r in pushed] == [("PATCH", 200), ("PATCH", 200)]
    issue = issue_of(orch, fake_github, ids["impl"])
    assert "status: in progress" in label_names(issue) and issue["state"] == "open"
    orch.complete_task(ids["impl"], "done")
    orch.git_sync(pull=False)
    issue = issue_of(orch, fake_github, ids["impl"])
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert "status: in progress" not in label_names(issue)
    orch.cancel_task(ids["tests"], "descoped")
    orch.git_sync(pull=False)
    issue = issue_of(orch, fake_github, ids["tests"])
    assert issue["state"] == "closed" and issue["state_reason"] == "not_planned"


def test_the_parent_issue_draws_its_subtasks_and_follows_their_status(
    orch: Orchestrator, fake_github: FakeGitHub
) -> None:
    ids = plan(orch)
    orch.git_sync()
    body = issue_of(orch, fake_github, ids["parent"])["body"]
    assert "```mermaid\nflowchart TD" in body
    assert f"t{ids['impl']} --> t{ids['tests']}" in body
    assert "Implement the limiter<br/>pending, ready" in body
    child_body = issue_of(orch, fake_github, ids["impl"])["body"]
    assert "mermaid" not in child_body
    orch.execute_task(ids["impl"])
    orch.complete_task(ids["impl"], "done")
    orch.git_sync()
    body = issue_of(orch, fake_github, ids["parent"])["body"]
    assert "Implement the limiter<br/>completed" in body
    assert "Test the limiter<br/>pending, ready" in body
    assert find_marker(body) is not None
    assert orch.git_conflicts().conflicts == []


def test_a_subtask_changed_on_github_is_redrawn_in_its_parents_issue(
    orch: Orchestrator, fake_github: FakeGitHub
) -> None:
    """The sync's own edit of a subtask (taken from the platform) redraws the parent's body in
    the same sync, as a local edit does (found by the randomized model test, seed 119)."""
    ids = plan(orch)
    orch.git_sync()
    orch.git_sync()
    fake_github.edit_issue(issue_of(orch, fake_github, ids["impl"])["number"], title="Implement the bucket")
    result = orch.git_sync()
    assert result.sync is not None and result.sync.pulled == [ids["impl"]]
    assert orch.get_task(ids["impl"]).title == "Implement the bucket"
    assert "Implement the bucket<br/>pending, ready" in issue_of(orch, fake_github, ids["parent"])["body"]


def test_every_remote_operation_is_logged_and_audited(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    from sqlalchemy import select

    from taskorch.store.tables import sync_status_logs

    ids = plan(orch)
    orch.git_sync()
    with orch.db.transaction(write=False) as conn:
        rows = list(conn.execute(select(sync_status_logs)).mappings())
    creates = [r for r in rows if r["operation"] == "create_issue"]
    assert {r["task_id"] for r in creates} == set(ids.values())
    assert all(r["operation_status"] == "completed" and r["issue_number"] for r in creates)
    bulk = [r for r in rows if r["operation_type"] == "bulk_sync"]
    assert bulk and bulk[-1]["operation_status"] == "completed" and bulk[-1]["execution_time_seconds"] is not None
    trail = orch.audit_trail(task_id=ids["impl"]).entries
    assert any(e.tool == "sync" and e.action == "issue_linked" for e in trail)


# -- pull ----------------------------------------------------------------------------------


def test_changes_on_github_flow_back(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, ids["impl"])["number"]
    fake_github.edit_issue(
        number, title="Implement the token bucket", labels=["auth", "perf", "type: feature"], assignees=["mona"]
    )
    result = orch.git_sync()
    assert result.sync is not None and ids["impl"] in result.sync.pulled
    task = orch.get_task(ids["impl"])
    assert task.title == "Implement the token bucket"
    assert task.labels == ["auth", "perf"]
    assert task.assignees == ["mona"]
    assert "title" in task.remote_fields
    trail = orch.audit_trail(task_id=ids["impl"]).entries
    assert any(e.tool == "sync" and e.changes.get("title") for e in trail)
    fake_github.edit_issue(number, state="closed", state_reason="completed")
    orch.git_sync()
    assert orch.get_task(ids["impl"]).status == "completed"
    assert [t.id for t in orch.get_status().ready] == [ids["tests"]]


def test_a_no_op_pull_costs_one_conditional_request(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    """Once the watermark rests, a pull with nothing new is one 304. The watermark moves to the
    newest change a pull saw; the first pull after it moved sends the ETag of a listing from the
    old watermark, which GitHub answers in full unless the two listings happen to hold the same
    issues (all changes within one second): so the test settles until the watermark stays put,
    and every change gets its own second here (as on a slow machine), whatever the machine."""
    fake_github.clock = ManualClock(step=timedelta(seconds=1))
    plan(orch)
    orch.git_sync()
    watermarks = [_watermark(orch)]
    for _ in range(3):  # bounded: the watermark rests after the sync that saw the last change
        orch.git_sync()
        watermarks.append(_watermark(orch))
        if watermarks[-1] == watermarks[-2]:
            break
    assert watermarks[-1] == watermarks[-2], watermarks
    before = len(fake_github.requests)
    result = orch.git_sync()
    assert result.sync is not None and result.sync.not_modified
    spent = fake_github.requests[before:]
    assert len(spent) == 1 and spent[0].status == 304


def _watermark(orch: Orchestrator) -> Any:
    from sqlalchemy import select

    from taskorch.store.tables import sync_state

    with orch.db.transaction(write=False) as conn:
        return conn.execute(select(sync_state.c.since)).all()


def test_remote_text_is_data_never_code(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, ids["impl"])["number"]
    hostile = "{{ ''.__class__.__mro__[1].__subclasses__() }} {% for x in range(10**9) %}x{% endfor %}"
    fake_github.edit_issue(number, body=hostile)
    orch.git_sync()
    task = orch.get_task(ids["impl"])
    assert task.description == hostile
    assert "description" in task.remote_fields
    context = orch.execute_task(ids["impl"])
    assert "untrusted" in context.next_step.lower() or "platform" in context.next_step.lower()
    orch.update_task(ids["impl"], {"title": "Implement the limiter, carefully"})
    orch.git_sync()
    issue = fake_github.issues[number]
    assert issue["title"] == "Implement the limiter, carefully"
    assert issue["body"] == hostile  # kept verbatim: never rendered, never evaluated


def test_a_sandboxed_template_refuses_unsafe_code(make_orch: Any) -> None:
    with pytest.raises(InvalidInput, match="issue_template"):
        make_orch(issue_template="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    orch = make_orch(issue_template="{{ title }}: {{ description }}")
    assert orch.git_config().config.custom_template


# -- conflicts -----------------------------------------------------------------------------


def test_a_field_changed_on_both_sides_is_a_conflict_resolved_by_hand(
    orch: Orchestrator, fake_github: FakeGitHub
) -> None:
    ids = plan(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, ids["impl"])["number"]
    orch.update_task(ids["impl"], {"title": "Local title"})
    fake_github.edit_issue(number, title="Remote title")
    result = orch.git_sync()
    assert result.sync is not None
    [conflict] = result.sync.conflicts
    assert (conflict.field, conflict.local_value, conflict.remote_value) == ("title", "Local title", "Remote title")
    assert fake_github.issues[number]["title"] == "Remote title"  # nothing overwritten
    assert orch.get_task(ids["impl"]).title == "Local title"
    assert [c.id for c in orch.git_conflicts().conflicts or []] == [conflict.id]
    orch.git_resolve_conflict(conflict.id, "local")
    orch.git_sync()
    assert fake_github.issues[number]["title"] == "Local title"
    assert orch.git_conflicts().conflicts == []
    with pytest.raises(Conflict, match="already resolved"):
        orch.git_resolve_conflict(conflict.id, "remote")


@pytest.mark.parametrize(("policy", "expected"), [("local_wins", "Local"), ("remote_wins", "Remote")])
def test_conflict_policies(make_orch: Any, fake_github: FakeGitHub, policy: str, expected: str) -> None:
    orch = make_orch(auto_sync_enabled=True, conflict_policy=policy)
    ids = plan(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, ids["impl"])["number"]
    orch.update_task(ids["impl"], {"title": "Local"})
    fake_github.edit_issue(number, title="Remote")
    result = orch.git_sync()
    assert result.sync is not None and result.sync.conflicts == []
    assert orch.get_task(ids["impl"]).title == expected
    assert fake_github.issues[number]["title"] == expected


def test_reopening_a_finished_task_on_github_is_a_conflict(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    orch.execute_task(ids["impl"])
    orch.complete_task(ids["impl"], "done")
    orch.git_sync()
    number = issue_of(orch, fake_github, ids["impl"])["number"]
    fake_github.edit_issue(number, state="open", state_reason="reopened")
    result = orch.git_sync()
    assert result.sync is not None
    assert [c.field for c in result.sync.conflicts] == ["status"]
    assert orch.get_task(ids["impl"]).status == "completed"
    conflict = result.sync.conflicts[0]
    with pytest.raises(Conflict, match="finished tasks stay final"):
        orch.git_resolve_conflict(conflict.id, "remote")
    assert orch.get_task(ids["impl"]).status == "completed"
    orch.git_resolve_conflict(conflict.id, "local")
    orch.git_sync()
    assert fake_github.issues[number]["state"] == "closed"


# -- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "502", "503", "timeout", "drop_before", "drop_after"])
def test_creation_survives_faults_without_duplicates(
    orch: Orchestrator, fake_github: FakeGitHub, sleeps: Sleeps, fault: str
) -> None:
    ids = plan(orch)
    fake_github.inject(fault, method="POST", path=r"/issues$", times=2)
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == []
    assert len(fake_github.issues) == 3
    markers = [find_marker(i["body"]) for i in fake_github.issues.values()]
    assert len(set(markers)) == 3
    assert {link.task_id for link in result.sync.created} == set(ids.values())
    assert sleeps.calls, "the engine backed off before retrying"


@pytest.mark.parametrize(("fault", "wait"), [("429", 1.0), ("secondary", None), ("primary", None)])
def test_rate_limits_are_waited_out(
    orch: Orchestrator, fake_github: FakeGitHub, sleeps: Sleeps, fault: str, wait: float | None
) -> None:
    plan(orch)
    fake_github.inject(fault, method="POST", times=1)
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == [] and len(fake_github.issues) == 3
    assert sleeps.calls and (wait is None or wait in sleeps.calls)
    assert result.sync.rate_limit["remaining"] is not None


def test_a_long_rate_limit_stops_the_run_and_the_next_one_finishes(
    make_orch: Any, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    orch = make_orch(auto_sync_enabled=True)
    object.__setattr__(orch.settings, "max_retry_wait", 0.5)
    orch._git = None
    plan(orch)
    fake_github.inject("secondary", method="POST", times=1)
    first = orch.git_sync()
    assert first.sync is not None and first.sync.stopped and first.sync.pending == 3
    second = orch.git_sync()
    assert second.sync is not None and second.sync.pending == 0
    assert len(fake_github.issues) == 3


def test_a_rejected_request_fails_the_task_and_not_the_run(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    orch.git_sync()
    orch.update_task(ids["impl"], {"milestone": "v9.9"})
    result = orch.git_sync()
    assert result.sync is not None
    [failure] = result.sync.failed
    assert failure.task_id == ids["impl"] and "v9.9" in failure.error
    orch.git_create_milestone("v9.9", "the next one", date(2027, 1, 31))
    orch.git_update_issue(ids["impl"])
    milestone = fake_github.issues[issue_of(orch, fake_github, ids["impl"])["number"]]["milestone"]
    assert milestone is not None and milestone["title"] == "v9.9"


def test_create_milestone_is_idempotent(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    first = orch.git_create_milestone("v1.0", "first", date(2027, 3, 1))
    second = orch.git_create_milestone("v1.0", "first, revised", None)
    assert first.milestone and second.milestone and first.milestone["number"] == second.milestone["number"]
    assert [m["title"] for m in fake_github.milestones.values()] == ["v1.0"]
    assert "updated" in second.detail


# -- links ---------------------------------------------------------------------------------


def test_link_task_adopts_an_existing_issue(make_orch: Any, fake_github: FakeGitHub) -> None:
    orch = make_orch()
    number = create_on_github(fake_github, title="Crash on login", body="Steps: ...", labels=["bug"])
    task = orch.plan_task(TaskFields(title="Fix login crash", task_type="bugfix")).task
    result = orch.git_link_task(task.id, number)
    assert result.link is not None and result.link.issue_number == number
    linked = orch.get_task(task.id)
    assert linked.title == "Crash on login" and linked.labels == ["bug"]
    with pytest.raises(Conflict, match="already linked"):
        orch.git_link_task(task.id, number)


def test_manual_creation_without_auto_sync(make_orch: Any, fake_github: FakeGitHub) -> None:
    orch = make_orch()
    task = orch.plan_task(TaskFields(title="Only on request")).task
    orch.git_sync()
    assert fake_github.issues == {}
    result = orch.git_create_issue(task.id)
    assert result.link is not None and result.link.sync_status == "synced"
    again = orch.git_create_issue(task.id)
    assert again.link is not None and again.link.issue_number == result.link.issue_number
    assert len(fake_github.issues) == 1


# -- secrets -------------------------------------------------------------------------------


def test_the_token_never_leaves_its_variable(
    orch: Orchestrator, fake_github: FakeGitHub, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ids = plan(orch)
    fake_github.inject("500", times=3)
    fake_github.inject("primary", method="PATCH", times=1)
    results = [orch.git_sync().model_dump_json()]
    orch.update_task(ids["impl"], {"milestone": "nope"})
    results.append(orch.git_sync().model_dump_json())
    results.append(orch.health_check().model_dump_json())
    results.append(orch.git_config().model_dump_json())
    for text in results:
        assert TOKEN not in text
    assert TOKEN not in caplog.text
    orch.close()
    raw = Path(database_url.removeprefix("sqlite:///"))
    for path in raw.parent.glob(raw.name + "*"):
        assert TOKEN.encode() not in path.read_bytes()


def test_connect_refuses_a_token_in_place_of_its_name(make_orch: Any) -> None:
    orch = make_orch()
    with pytest.raises(InvalidInput, match="looks like a token"):
        orch.git_connect("octo-org/shop", api_token_name=TOKEN)


# -- disabled ------------------------------------------------------------------------------


def test_a_disabled_integration_imports_nothing_and_lists_no_git_tool(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".git").mkdir(parents=True)
    code = f"""
import anyio, json, sys
from mcp import Client
from taskorch.config import Settings
from taskorch.mcp.server import build_server

async def main():
    server = build_server(Settings(database_url="sqlite:///{tmp_path}/d.db"))
    async with Client(server, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        await client.call_tool("orchestrator_initialize_session", {{"working_directory": "{project}"}})
        await client.call_tool("orchestrator_plan_task", {{"title": "x"}})
    loaded = sorted(m for m in sys.modules if m.startswith(("githubkit", "taskorch.sync", "taskorch.platforms",
                                                            "jinja2", "keyring")))
    print(json.dumps({{"names": names, "loaded": loaded}}))

anyio.run(main)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert not [n for n in report["names"] if "git" in n or "board" in n]
    assert report["loaded"] == []


def test_progress_comments_follow_the_work(make_orch: Any, fake_github: FakeGitHub) -> None:
    orch = make_orch(auto_sync_enabled=True, progress_comments=True)
    ids = plan(orch)
    orch.git_sync()
    orch.execute_task(ids["impl"])
    orch.complete_task(ids["impl"], "done", file_paths=["src/limiter.py"], artifact_type="code")
    orch.git_sync()
    number = issue_of(orch, fake_github, ids["impl"])["number"]
    bodies = [comment["body"] for comment in fake_github.comments.get(number, [])]
    assert bodies == [
        "taskorch: status pending -> in_progress.",
        "taskorch: status in_progress -> completed.",
        "taskorch: work recorded (code; src/limiter.py).",
    ]


# -- defects: each of these failed before its fix ----------------------------------------------


def _one_task(orch: Orchestrator, **fields: Any) -> int:
    return orch.plan_task(TaskFields(title="Limit logins", description="Per account.", **fields)).task.id


def test_managed_labels_follow_the_task(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    task = _one_task(orch)
    orch.git_sync()
    orch.update_task(task, {"task_type": "bugfix", "complexity": "complex", "specialist_type": "debugger"})
    orch.git_sync()
    names = label_names(issue_of(orch, fake_github, task))
    assert {"type: bugfix", "complexity: complex", "role: debugger"} <= names
    assert not {"type: feature", "complexity: simple"} & names


def test_an_applied_update_whose_answer_was_lost_is_recognised(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    task = _one_task(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, task)["number"]
    orch.update_task(task, {"title": "Limit logins per account"})
    # Every attempt is applied on GitHub, every answer lost.
    fake_github.inject("drop_after", method="PATCH", path=rf"/issues/{number}$", times=5)
    first = orch.git_sync()
    assert first.sync is not None and first.sync.failed
    assert fake_github.issues[number]["title"] == "Limit logins per account"
    orch.update_task(task, {"title": "Limit logins per account and address"})
    second = orch.git_sync()
    assert second.sync is not None and second.sync.conflicts == []
    assert fake_github.issues[number]["title"] == "Limit logins per account and address"
    assert orch.get_task(task).title == "Limit logins per account and address"


def test_a_field_in_conflict_is_never_written_by_the_push_of_another(
    orch: Orchestrator, fake_github: FakeGitHub
) -> None:
    task = _one_task(orch, labels=["auth"])
    orch.git_sync()
    number = issue_of(orch, fake_github, task)["number"]
    managed = sorted(n for n in label_names(fake_github.issues[number]) if ": " in n)
    # Status changed on both sides: a conflict.
    orch.execute_task(task)
    fake_github.edit_issue(number, labels=[*managed, "auth", "status: blocked"])
    result = orch.git_sync()
    assert result.sync is not None and [c.field for c in result.sync.conflicts] == ["status"]
    # A label change pushed now must leave the platform's status label alone.
    orch.update_task(task, {"labels": ["auth", "perf"]})
    orch.git_sync()
    names = label_names(fake_github.issues[number])
    assert "perf" in names and "status: blocked" in names and "status: in progress" not in names
    # And the other way round: labels in conflict, a status push leaves the platform's labels alone.
    [conflict] = orch.git_conflicts().conflicts or []
    orch.git_resolve_conflict(conflict.id, "local")
    orch.git_sync()
    orch.update_task(task, {"labels": ["auth", "perf", "api"]})
    current = label_names(fake_github.issues[number])
    fake_github.edit_issue(number, labels=[*(current - {"perf"}), "ops"])
    result = orch.git_sync()
    assert result.sync is not None and [c.field for c in result.sync.conflicts] == ["labels"]
    orch.complete_task(task, "done")
    orch.git_sync()
    issue = fake_github.issues[number]
    assert issue["state"] == "closed"
    assert "ops" in label_names(issue) and "api" not in label_names(issue) and "perf" not in label_names(issue)


def _lose_the_create_answer(orch: Orchestrator, fake_github: FakeGitHub) -> int:
    """The issue is created but its answer lost, and the search for its marker fails: the run
    ends with the issue on GitHub and the task not yet linked. Returns the issue's number."""
    before = set(fake_github.issues)
    fake_github.inject("drop_after", method="POST", path=r"/issues$", times=1)
    fake_github.inject("500", method="GET", path=r"/issues$", times=5)
    result = orch.git_sync(pull=False)
    assert result.sync is not None and result.sync.failed and result.sync.created == []
    [number] = set(fake_github.issues) - before
    return number


def test_an_adopted_issue_keeps_the_edit_made_after_the_lost_create(
    orch: Orchestrator, fake_github: FakeGitHub
) -> None:
    task = _one_task(orch)
    number = _lose_the_create_answer(orch, fake_github)
    fake_github.edit_issue(number, title="Limit logins (per account, per address)")
    orch.git_sync()
    assert len(fake_github.issues) == 1
    assert orch.get_task(task).title == "Limit logins (per account, per address)"
    orch.update_task(task, {"labels": ["auth"]})
    orch.git_sync()
    assert fake_github.issues[number]["title"] == "Limit logins (per account, per address)"


def test_the_pull_keeps_its_watermark_before_issues_not_yet_linked(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from standins.github import ManualClock
    from taskorch.store.tables import sync_state

    fake_github.clock = ManualClock(datetime.now(UTC), step=timedelta(seconds=1))
    linked = _one_task(orch)
    orch.git_sync()
    _one_task(orch)
    unlinked = _lose_the_create_answer(orch, fake_github)
    fake_github.edit_issue(issue_of(orch, fake_github, linked)["number"], title="Edited later")
    orch.git_sync(push=False)  # sees the unlinked issue, cannot adopt it (no push)
    with orch.db.transaction(write=False) as conn:
        since, etag = conn.execute(select(sync_state.c.since, sync_state.c.etag)).one()
    assert since is not None and since.strftime("%Y-%m-%dT%H:%M:%SZ") <= fake_github.issues[unlinked]["updated_at"]
    assert etag is None  # the next pull lists it again instead of answering 304


def test_a_lost_sub_issue_link_is_retried_until_done(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    fake_github.inject("500", method="POST", path=r"/sub_issues$", times=10)
    orch.git_sync()
    orch.git_sync()
    assert len(fake_github.issues) == 3 and fake_github.pending_faults() == 0
    parent = issue_of(orch, fake_github, ids["parent"])["number"]
    children = {issue_of(orch, fake_github, ids[k])["number"] for k in ("impl", "tests")}
    assert set(fake_github.sub_issues.get(parent, [])) == children


def test_the_marker_is_found_anywhere_in_the_body(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    task = _one_task(orch)
    number = _lose_the_create_answer(orch, fake_github)
    body = fake_github.issues[number]["body"]
    fake_github.edit_issue(number, body=body + "\n\nSeen on staging too.")
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == []
    assert list(fake_github.issues) == [number]
    issue_of(orch, fake_github, task)


def test_label_names_are_compared_without_case(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    task = _one_task(orch, labels=["Bug"])
    orch.git_sync()
    number = issue_of(orch, fake_github, task)["number"]
    assert "bug" in label_names(fake_github.issues[number])  # GitHub kept its own label's spelling
    fake_github.edit_issue(number, labels=[*label_names(fake_github.issues[number]), "perf"])
    result = orch.git_sync()
    assert result.sync is not None and result.sync.conflicts == []
    assert {label.casefold() for label in orch.get_task(task).labels} == {"bug", "perf"}
    orch.update_task(task, {"title": "Limit logins per account"})
    orch.git_sync()
    assert {"bug", "perf"} <= label_names(fake_github.issues[number])


# -- dependencies ------------------------------------------------------------------------------


def _blocked_by_on_github(fake: FakeGitHub, blocked: int, blocking: int, *, method: str = "POST") -> None:
    """A person adds (or, with DELETE, removes) "blocked by" on github.com."""
    base = f"https://api.github.com/repos/{fake.owner}/{fake.repo}/issues/{blocked}/dependencies/blocked_by"
    blocking_id = fake.issues[blocking]["id"]
    request = httpx.Request(
        method,
        base if method == "POST" else f"{base}/{blocking_id}",
        json={"issue_id": blocking_id} if method == "POST" else None,
        headers={"Authorization": "Bearer someone-else", "Accept": "application/vnd.github+json"},
    )
    assert fake.handle(request).status_code in (200, 201)


def test_dependencies_become_blocked_by_links_both_ways(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    fake_github.clock = ManualClock(step=timedelta(seconds=1))  # an edit and its undo differ in updated_at
    ids = plan(orch)  # "tests" depends on "impl"
    orch.git_sync()
    impl, tests = (issue_of(orch, fake_github, ids[k])["number"] for k in ("impl", "tests"))
    assert fake_github.blocked_by.get(tests) == [impl]
    orch.update_task(ids["tests"], {"depends_on": []})
    orch.git_sync()
    assert fake_github.blocked_by.get(tests) == []
    # A person adds one on github.com: the task takes it.
    _blocked_by_on_github(fake_github, tests, impl)
    result = orch.git_sync()
    assert result.sync is not None and result.sync.conflicts == [] and ids["tests"] in result.sync.pulled
    assert orch.get_task(ids["tests"]).depends_on == [ids["impl"]]
    # ... and removes it again.
    _blocked_by_on_github(fake_github, tests, impl, method="DELETE")
    orch.git_sync()
    assert orch.get_task(ids["tests"]).depends_on == []
    assert fake_github.blocked_by.get(tests) == []
    events = [r for r in fake_github.mutations() if "/dependencies/" in r.path]
    assert [(r.method, r.status) for r in events] == [("POST", 201), ("DELETE", 200), ("POST", 201), ("DELETE", 200)]


def test_a_dependency_that_would_close_a_cycle_is_a_conflict(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    orch.git_sync()
    impl, tests = (issue_of(orch, fake_github, ids[k])["number"] for k in ("impl", "tests"))
    _blocked_by_on_github(fake_github, impl, tests)  # impl blocked by tests: tests already waits for impl
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == []
    [conflict] = result.sync.conflicts
    assert conflict.field == "dependencies" and "cycle" in conflict.detail
    assert orch.get_task(ids["impl"]).depends_on == []
    resolved = orch.git_resolve_conflict(conflict.id, "local")
    assert "keeps its dependencies" in resolved.detail
    orch.git_sync()
    assert fake_github.blocked_by.get(impl) == []  # the local answer went to GitHub
    assert orch.get_task(ids["impl"]).depends_on == []
    assert orch.git_conflicts().conflicts == []


def test_a_failed_dependency_link_is_retried_until_done(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    fake_github.inject("500", method="POST", path=r"/dependencies/blocked_by$", times=10)
    orch.git_sync()
    orch.git_sync()
    assert fake_github.pending_faults() == 0
    impl, tests = (issue_of(orch, fake_github, ids[k])["number"] for k in ("impl", "tests"))
    assert fake_github.blocked_by.get(tests) == [impl]


def test_a_lost_dependency_answer_is_not_a_failure(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    ids = plan(orch)
    fake_github.inject("drop_after", method="POST", path=r"/dependencies/blocked_by$", times=1)
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == []
    impl, tests = (issue_of(orch, fake_github, ids[k])["number"] for k in ("impl", "tests"))
    assert fake_github.blocked_by.get(tests) == [impl]
    assert orch.git_sync().sync.failed == []  # type: ignore[union-attr]


def test_a_platform_without_dependencies_says_so(
    fake_github: FakeGitHub, database_url: str, project: Path, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace as replace_fields

    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)

    def factory(config: Any) -> GitHubPlatform:
        platform = GitHubPlatform.connect(TOKEN, config["repository_url"], transport=fake_github.transport())
        platform.capabilities = replace_fields(platform.capabilities, issue_dependencies=False)
        return platform

    settings = Settings(database_url=database_url, git_integration="basic", mutation_spacing=0.0)
    orch = Orchestrator(settings, platform_factory=factory, sleep=sleeps)
    try:
        orch.initialize_session(str(project))
        orch.git_connect("octo-org/shop", api_token_name="GH_TEST_TOKEN", auto_sync_enabled=True)
        plan(orch)
        result = orch.git_sync()
        assert "has no issue dependencies" in result.detail and "stay in taskorch" in result.detail
        assert result.sync is not None and result.sync.notes and fake_github.blocked_by == {}
        assert not any("/dependencies/" in r.path for r in fake_github.requests)
    finally:
        orch.close()


# -- import policy -----------------------------------------------------------------------------


def test_issues_opened_on_github_are_not_imported_by_default(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    create_on_github(fake_github, title="Login is slow", body="Takes 9 s.")
    result = orch.git_sync()
    assert result.sync is not None and result.sync.imported == []
    assert orch.git_config().config.import_policy == "off"  # type: ignore[union-attr]


def test_the_import_policy_makes_tasks_of_issues_opened_by_a_person(
    orch: Orchestrator, fake_github: FakeGitHub
) -> None:
    orch.git_create_milestone("v1.0", "First", None)
    milestone = next(iter(fake_github.milestones))
    before = create_on_github(fake_github, title="Opened before the policy", body="Old.", labels=["triage"])
    orch.git_sync()  # the policy is off: nothing imported, the watermark moves past it
    with pytest.raises(InvalidInput, match="import_policy"):
        orch.git_set_import_policy("some")
    assert orch.git_set_import_policy("label:Triage").config.import_policy == "label:Triage"  # type: ignore[union-attr]
    chosen = create_on_github(
        fake_github,
        title="Login is slow",
        body="Takes 9 s.\n\n<!-- an HTML comment from the template -->",
        labels=["triage", "perf"],
        assignees=["octocat"],
        milestone=milestone,
    )
    ignored = create_on_github(fake_github, title="Not for taskorch", body="x")
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == [] and len(result.sync.imported) == 2
    assert "2 imported" in result.detail
    tasks = {orch.get_task(n).title: orch.get_task(n) for n in result.sync.imported}
    assert set(tasks) == {"Login is slow", "Opened before the policy"}  # the policy reset the watermark
    task = tasks["Login is slow"]
    assert task.description.startswith("Takes 9 s.")
    assert set(task.labels) == {"triage", "perf"} and task.assignees == ["octocat"] and task.milestone == "v1.0"
    assert {"title", "description"} <= set(task.remote_fields)
    trail = orch.audit_trail(task_id=task.id).entries
    assert [(e.tool, e.action) for e in trail][:2] == [("sync", "created"), ("sync", "import")]
    # Linked: never imported twice, and it now carries taskorch's labels.
    again = orch.git_sync()
    assert again.sync is not None and again.sync.imported == []
    assert "type: feature" in label_names(fake_github.issues[chosen])
    assert fake_github.issues[chosen]["title"] == "Login is slow" and ignored not in _linked_numbers(orch)
    assert before in _linked_numbers(orch)
    # Edits on either side keep flowing.
    fake_github.edit_issue(chosen, title="Login takes 9 s")
    orch.git_sync()
    assert orch.get_task(task.id).title == "Login takes 9 s"


def test_import_all_skips_closed_issues_and_issues_of_taskorch(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    task = _one_task(orch)
    orch.git_sync()
    orch.git_set_import_policy("all")
    opened = create_on_github(fake_github, title="Open one")
    closed = create_on_github(fake_github, title="Closed one")
    fake_github.edit_issue(closed, state="closed")
    result = orch.git_sync()
    assert result.sync is not None and len(result.sync.imported) == 1
    assert orch.get_task(result.sync.imported[0]).title == "Open one"
    assert sorted(_linked_numbers(orch)) == sorted([opened, issue_of(orch, fake_github, task)["number"]])
    orch.git_set_import_policy("off")
    create_on_github(fake_github, title="After off")
    assert orch.git_sync().sync.imported == []  # type: ignore[union-attr]


def _linked_numbers(orch: Orchestrator) -> list[int]:
    from sqlalchemy import select

    from taskorch.store.tables import feature_issue_links

    with orch.db.transaction(write=False) as conn:
        return [int(r[0]) for r in conn.execute(select(feature_issue_links.c.issue_number)) if r[0] is not None]


# -- milestone entries -------------------------------------------------------------------------


def test_the_milestone_is_an_outbox_entry_of_its_own(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    task = _one_task(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, task)["number"]
    orch.update_task(task, {"title": "Limit logins per account", "milestone": "v9"})  # v9 is not on GitHub
    result = orch.git_sync()
    assert result.sync is not None
    assert fake_github.issues[number]["title"] == "Limit logins per account"  # the update went out alone
    assert [f.operation for f in result.sync.failed] == ["milestone"] and "v9" in result.sync.failed[0].error
    orch.git_create_milestone("v9", "", None)
    orch.update_task(task, {"milestone": "v9"})
    before = len(fake_github.requests)
    result = orch.git_sync()
    assert result.sync is not None and result.sync.failed == [] and result.sync.pending == 0
    assert fake_github.issues[number]["milestone"]["title"] == "v9"
    [patch] = [r for r in fake_github.requests[before:] if r.method == "PATCH"]
    assert set(patch.json or {}) == {"milestone"}


def test_a_failed_milestone_update_is_retried_until_done(orch: Orchestrator, fake_github: FakeGitHub) -> None:
    orch.git_create_milestone("v1.0", "", None)
    task = _one_task(orch)
    orch.git_sync()
    number = issue_of(orch, fake_github, task)["number"]
    orch.update_task(task, {"milestone": "v1.0"})
    fake_github.inject("500", method="PATCH", path=rf"/issues/{number}$", times=10)
    first = orch.git_sync()
    assert first.sync is not None and {f.operation for f in first.sync.failed} == {"milestone"}
    assert first.sync.pending == 1
    orch.git_sync()
    assert fake_github.pending_faults() == 0
    assert fake_github.issues[number]["milestone"]["title"] == "v1.0"
