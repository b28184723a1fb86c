"""The project board on Jira: a Jira Software board found or created, cards moved through the
workflow, sprints on a scrum board (create, add issues, start, close; one active sprint per
board), worklogs through the outbox, and the plain refusal on a platform without sprints.

Jira is the stand-in (``standins.jira.FakeJira``) behind the real adapter; the Bitbucket side
(the code host) is its stand-in too. The MCP face runs through the SDK's in-memory client and
the CLI through Typer's runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from sqlalchemy import select
from typer.testing import CliRunner

from standins.bitbucket import FakeBitbucket
from standins.jira import FakeJira
from taskorch.config import Settings
from taskorch.errors import Conflict, InvalidInput
from taskorch.mcp.server import PREFIX, build_server
from taskorch.platforms.base import Platform
from taskorch.platforms.bitbucket import BitbucketPlatform
from taskorch.platforms.jira import JiraPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.services.sprints import parse_time_spent
from taskorch.store.tables import feature_issue_links, sync_outbox, tasks


@pytest.fixture
def jira() -> FakeJira:
    return FakeJira("SHOP")


@pytest.fixture
def settings(database_url: str, jira: FakeJira) -> Settings:
    return Settings(database_url=database_url, git_integration="full", mutation_spacing=0.0, jira_url=jira.site_url)


def factory(jira: FakeJira, bitbucket: FakeBitbucket) -> Any:
    def build(config: Any) -> Platform:
        if config["platform"] == "jira":
            return JiraPlatform.connect("t", "SHOP", site_url=jira.site_url, transport=jira.transport())
        return BitbucketPlatform.connect("t", "acme/shop", transport=bitbucket.transport())

    return build


@pytest.fixture
def orch(settings: Settings, project: Path, jira: FakeJira, monkeypatch: pytest.MonkeyPatch) -> Iterator[Orchestrator]:
    monkeypatch.setenv("JIRA_API_TOKEN", "jira-token")
    monkeypatch.setenv("BITBUCKET_TOKEN", "bitbucket-token")
    orchestrator = Orchestrator(
        settings, platform_factory=factory(jira, FakeBitbucket("acme", "shop")), sleep=lambda seconds: None
    )
    orchestrator.initialize_session(str(project))
    orchestrator.git_connect(
        "bitbucket:acme/shop", jira=f"{jira.site_url}/browse/SHOP", tier="full", auto_sync_enabled=True
    )
    yield orchestrator
    orchestrator.close()


def planned(orch: Orchestrator) -> tuple[int, int, int]:
    """A feature with two subtasks, synced: (parent, first, second) task numbers."""
    plan = orch.plan_task(
        TaskFields(title="Checkout", task_type="feature"),
        [SubtaskSpec(key="api", title="API"), SubtaskSpec(key="ui", title="UI")],
    )
    orch.git_sync()
    return plan.task.id, plan.subtasks["api"].id, plan.subtasks["ui"].id


def issue_number(orch: Orchestrator, task: int) -> int:
    """The number of the Jira issue of task number ``task`` (the only project in the database)."""
    with orch.db.transaction(write=False) as conn:
        number = conn.execute(
            select(feature_issue_links.c.issue_number)
            .join(tasks, tasks.c.id == feature_issue_links.c.task_id)
            .where(tasks.c.number == task)
        ).scalar_one()
    assert number is not None
    return int(number)


def status_of(jira: FakeJira, number: int) -> str:
    return str(jira.issues[number]["status"]["name"])


def test_a_jira_board_is_created_once_and_cards_move_through_the_workflow(orch: Orchestrator, jira: FakeJira) -> None:
    _, api, _ = planned(orch)
    made = orch.board_manager("create_board", title="Checkout board")
    again = orch.board_manager("create_board", title="Checkout board", board_type="jira_board")
    assert made.board is not None and again.board is not None
    assert again.board["number"] == made.board["number"] and len(jira.boards) == 1
    assert "To Do" in made.board["columns"]

    orch.execute_task(api)
    moved = orch.board_manager("move_card", task_ids=[api])
    assert moved.moved[0]["column"] == "In Progress"
    assert status_of(jira, issue_number(orch, api)) == "In Progress"
    orch.board_manager("move_card", task_ids=[api], column="Done")
    assert status_of(jira, issue_number(orch, api)) == "Done"


def test_a_sprint_is_planned_filled_started_and_closed(orch: Orchestrator, jira: FakeJira) -> None:
    feature, api, ui = planned(orch)
    chore = orch.plan_task(TaskFields(title="Bump dependencies", task_type="chore")).task.id
    orch.git_sync()
    orch.board_manager("create_board", title="Sprints", board_type="sprint_board")
    [board] = jira.boards.values()
    assert board["type"] == "scrum"

    created = orch.board_manager(
        "create_sprint", title="Sprint 1", start_date=date(2026, 12, 7), end_date=date(2026, 12, 18), goal="Checkout"
    )
    assert created.sprint is not None
    sprint_id = created.sprint["id"]
    assert (created.sprint["state"], created.sprint["goal"]) == ("future", "Checkout")
    # A rerun (an answer lost after Jira made it) finds the sprint instead of making a second.
    assert orch.board_manager("create_sprint", title="Sprint 1").sprint == created.sprint
    assert len(jira.sprints) == 1

    # A sub-task moves with its parent in Jira: the subtasks put the feature's issue in the sprint.
    added = orch.board_manager("add_to_sprint", task_ids=[api, ui])
    assert [m["issue_number"] for m in added.moved] == [issue_number(orch, feature)] * 2
    assert jira.sprints[sprint_id]["issues"] == [issue_number(orch, feature)]
    orch.board_manager("add_to_sprint", task_ids=[chore], sprint_id=sprint_id)

    started = orch.board_manager("start_sprint")
    assert started.sprint is not None and started.sprint["state"] == "active"
    assert started.sprint["end"].startswith("2026-12-18")
    assert "active already" in orch.board_manager("start_sprint", sprint_id=sprint_id).detail

    second = orch.board_manager("create_sprint", title="Sprint 2")
    assert second.sprint is not None
    with pytest.raises(Conflict, match="one at a time"):
        orch.board_manager("start_sprint", sprint_id=second.sprint["id"])

    orch.execute_task(chore)
    orch.complete_task(chore, "Bumped")
    orch.git_sync()
    assert status_of(jira, issue_number(orch, chore)) == "Done"
    closed = orch.board_manager("close_sprint")
    assert closed.sprint is not None and closed.sprint["state"] == "closed"
    assert "backlog" in closed.detail
    # The unfinished feature went back to the backlog; the done chore stays in the closed sprint, as in Jira.
    assert jira._sprint_of(issue_number(orch, feature)) is None
    assert jira.sprints[sprint_id]["issues"] == [issue_number(orch, chore)]
    with pytest.raises(Conflict, match="no active sprint"):
        orch.board_manager("close_sprint")
    with pytest.raises(InvalidInput, match="sprint_id"):
        orch.board_manager("close_sprint", sprint_id=sprint_id)


def test_sprints_need_a_scrum_board(orch: Orchestrator) -> None:
    planned(orch)
    with pytest.raises(Conflict, match="no board yet"):
        orch.board_manager("create_sprint", title="Sprint 1")
    orch.board_manager("create_board", title="Kanban")
    with pytest.raises(Conflict, match="kanban board has none"):
        orch.board_manager("create_sprint", title="Sprint 1")


def test_time_spent_is_read_in_hours_and_minutes() -> None:
    assert [parse_time_spent(t) for t in ("1h30m", "2h", "45m", "1.5h", "90", "1h 5m")] == [
        5400,
        7200,
        2700,
        5400,
        5400,
        3900,
    ]
    for bad in ("", "30s", "0m", "abc", "1h30x", "200h"):
        with pytest.raises(InvalidInput, match="time_spent"):
            parse_time_spent(bad)


def test_a_worklog_goes_through_the_outbox_and_survives_a_failure(orch: Orchestrator, jira: FakeJira) -> None:
    _, api, _ = planned(orch)
    key = f"SHOP-{issue_number(orch, api)}"
    jira.inject("503", method="POST", path=r"/worklog$", times=10)
    failed = orch.board_manager("log_work", task_ids=[api], time_spent="1h30m", comment="Wrote the **API**")
    assert failed.moved[0]["pending"] is True and "next sync retries it" in failed.detail
    assert jira.worklogs.get(key, []) == []

    jira.clear_faults()
    orch.git_sync()
    [worklog] = jira.worklogs[key]
    assert worklog["timeSpentSeconds"] == 5400
    # Jira's "started" is when the work began: an hour and a half before it was logged.
    with orch.db.transaction(write=False) as conn:
        [entry] = conn.execute(select(sync_outbox).where(sync_outbox.c.operation == "worklog")).mappings()
    assert entry["status"] == "done"
    began = entry["created_at"].replace(microsecond=0) - timedelta(seconds=5400)
    assert datetime.strptime(worklog["started"], "%Y-%m-%dT%H:%M:%S.%f%z") == began
    assert worklog["comment"]["type"] == "doc"  # ADF, as Jira takes it
    orch.git_sync()
    assert len(jira.worklogs[key]) == 1  # done once, never again

    logged = orch.board_manager("log_work", task_ids=[api], time_spent="15m")
    assert logged.moved[0]["pending"] is False and "logged" in logged.detail
    assert [w["timeSpentSeconds"] for w in jira.worklogs[key]] == [5400, 900]


def test_progress_comments_reach_jira_as_adf(
    settings: Settings, project: Path, jira: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", "jira-token")
    orch = Orchestrator(settings, platform_factory=factory(jira, FakeBitbucket("acme", "shop")), sleep=lambda s: None)
    try:
        orch.initialize_session(str(project))
        orch.git_connect(
            "bitbucket:acme/shop",
            jira=f"{jira.site_url}/browse/SHOP",
            tier="full",
            progress_comments=True,
            auto_sync_enabled=True,
        )
        _, api, _ = planned(orch)
        orch.execute_task(api)
        orch.git_sync()
        [comment] = jira.comments[f"SHOP-{issue_number(orch, api)}"]
        assert comment["body"]["type"] == "doc"
        assert "in_progress" in json.dumps(comment["body"])
    finally:
        orch.close()


# -- the MCP and CLI faces ---------------------------------------------------------------------


def test_sprints_through_the_mcp_tool(
    database_url: str, project: Path, jira: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIRA_API_TOKEN", "jira-token")
    with jira.serve() as site:
        settings = Settings(database_url=database_url, git_integration="full", mutation_spacing=0.0, jira_url=site)
        orch = Orchestrator(settings, sleep=lambda seconds: None)
        try:
            orch.initialize_session(str(project))
            orch.git_connect("jira:SHOP", jira=site, tier="full", auto_sync_enabled=True)
            _, api, _ = planned(orch)
        finally:
            orch.close()

        async def main() -> list[Any]:
            out = []
            async with Client(build_server(settings)) as client:
                opened = await client.call_tool(PREFIX + "initialize_session", {"working_directory": str(project)})
                assert not opened.is_error, opened.content
                for args in (
                    {"action": "create_board", "title": "Sprints", "board_type": "sprint_board"},
                    {"action": "create_sprint", "title": "Sprint 1", "goal": "Ship", "end_date": "2026-12-18"},
                    {"action": "add_to_sprint", "feature_id": api},
                    {"action": "start_sprint"},
                    {"action": "log_work", "feature_id": api, "time_spent": "2h"},
                ):
                    result = await client.call_tool(PREFIX + "project_board_manager", args)
                    assert not result.is_error, result.content
                    out.append(result.structured_content)
            return out

        created, sprint, added, started, logged = anyio.run(main)
    assert created["board"]["columns"]
    assert sprint["sprint"]["goal"] == "Ship"
    assert added["moved"][0]["sprint_id"] == sprint["sprint"]["id"]
    assert started["sprint"]["state"] == "active"
    assert logged["moved"][0]["seconds"] == 7200
    assert [w["timeSpentSeconds"] for ws in jira.worklogs.values() for w in ws] == [7200]


def test_a_worklog_whose_answer_was_lost_is_not_logged_twice(orch: Orchestrator, jira: FakeJira) -> None:
    _, api, _ = planned(orch)
    key = f"SHOP-{issue_number(orch, api)}"
    jira.inject("drop_after", method="POST", path=r"/worklog$", times=1)
    before = len(jira.requests)
    orch.board_manager("log_work", task_ids=[api], time_spent="2h")
    orch.git_sync()
    # Applied, its answer lost, tried again: the retry found the worklog by its key and sent nothing.
    sent = [(r.method, r.fault) for r in jira.requests[before:] if r.path.endswith("/worklog")]
    assert sent == [("GET", None), ("POST", "drop_after"), ("GET", None)]
    assert [w["timeSpentSeconds"] for w in jira.worklogs[key]] == [7200]
    assert jira.worklogs[key][0]["properties"]["taskorch"]["key"].startswith("worklog-")
    with orch.db.transaction(write=False) as conn:
        [entry] = conn.execute(select(sync_outbox).where(sync_outbox.c.operation == "worklog")).mappings()
    assert entry["status"] == "done"


def test_sprints_and_worklogs_from_the_cli(
    database_url: str, project: Path, jira: FakeJira, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskorch.cli.app import app

    monkeypatch.setenv("JIRA_API_TOKEN", "jira-token")
    monkeypatch.setenv("TASKORCH_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKORCH_MUTATION_SPACING", "0")
    runner = CliRunner()
    where = ["--project", str(project)]

    def ok(*args: str) -> str:
        result = runner.invoke(app, [*args, *where])
        assert result.exit_code == 0, result.output + result.stderr
        return result.stdout

    with jira.serve() as site:
        monkeypatch.setenv("TASKORCH_JIRA_URL", site)
        ok("git", "connect", "jira:SHOP", "--jira", site, "--tier", "full", "--auto-sync")
        ok("plan-task", "Checkout")
        ok("sync")
        board = json.loads(ok("board", "create", "Sprints", "--type", "sprint_board", "--json"))
        assert board["board"]["columns"]
        sprint = json.loads(
            ok("board", "sprint", "create", "Sprint 1", "--end", "2026-12-18", "--goal", "Ship", "--json")
        )["sprint"]
        assert "task 1 -> sprint" in ok("board", "sprint", "add", "1")
        assert "started" in ok("board", "sprint", "start", "--sprint", str(sprint["id"]))
        assert "logged" in ok("board", "log-work", "1", "1h", "--comment", "Checkout form")
        assert "backlog" in ok("board", "sprint", "close")
        refused = runner.invoke(app, ["board", "sprint", "close", *where])
    assert refused.exit_code != 0 and "no active sprint" in refused.output + refused.stderr
    assert jira.sprints[sprint["id"]]["state"] == "closed"
    assert [w["timeSpentSeconds"] for w in jira.worklogs["SHOP-1"]] == [3600]


# -- a platform without sprints ----------------------------------------------------------------


def test_github_says_plainly_it_has_no_sprints_nor_time_tracking(
    database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_platforms import harness

    monkeypatch.setenv("GITHUB_TOKEN", "t")
    with harness("github") as lab:
        settings = Settings(database_url=database_url, git_integration="full", mutation_spacing=0.0)
        orch = Orchestrator(settings, platform_factory=lab.factory(), sleep=lambda seconds: None)
        try:
            orch.initialize_session(str(project))
            orch.git_connect(lab.repository, tier="full", auto_sync_enabled=True)
            task = orch.plan_task(TaskFields(title="Checkout")).task.id
            orch.git_sync()
            requests = len(lab.fake.requests)
            with pytest.raises(Conflict, match=r"github \(octo-org/shop\) has no iterations.*no sprint board"):
                orch.board_manager("create_board", title="Sprints", board_type="sprint_board")
            orch.board_manager("create_board", title="Board")
            for action in ("create_sprint", "start_sprint", "close_sprint"):
                with pytest.raises(Conflict, match="has no iterations in taskorch; sprints need a Jira"):
                    orch.board_manager(action, title="Sprint 1")
            with pytest.raises(Conflict, match="has no time tracking"):
                orch.board_manager("log_work", task_ids=[task], time_spent="1h")
            with pytest.raises(InvalidInput, match="board_type"):
                orch.board_manager("create_board", title="Board", board_type="jira_board")
        finally:
            orch.close()
    assert not any("sprint" in str(r) for r in lab.fake.requests[requests:])


def test_gitlab_logs_the_time_as_spent_time_and_refuses_sprints(
    database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_platforms import harness

    monkeypatch.setenv("GITLAB_TOKEN", "t")
    with harness("gitlab") as lab:
        settings = Settings(
            database_url=database_url, git_integration="full", mutation_spacing=0.0, **lab.settings_overrides()
        )
        orch = Orchestrator(settings, platform_factory=lab.factory(), sleep=lambda seconds: None)
        try:
            orch.initialize_session(str(project))
            orch.git_connect(lab.repository, tier="full", auto_sync_enabled=True)
            task = orch.plan_task(TaskFields(title="Checkout")).task.id
            orch.git_sync()
            logged = orch.board_manager("log_work", task_ids=[task], time_spent="1h15m")
            orch.board_manager("create_board", title="Board")
            with pytest.raises(Conflict, match=r"gitlab .* has no iterations in taskorch"):
                orch.board_manager("create_sprint", title="Sprint 1")
        finally:
            orch.close()
        [issue] = lab.fake.issues.values()
    assert logged.moved[0]["pending"] is False
    assert issue["total_time_spent"] == 4500


def test_a_sub_task_on_a_scrum_board_stays_out_of_sprints(jira: FakeJira) -> None:
    """Jira moves a sub-task with its parent and refuses to move it alone: adding a sub-task's card
    to a scrum board leaves the sprints alone, its parent's card goes in the active sprint."""
    from taskorch.platforms.base import IssueChanges

    adapter = JiraPlatform.connect("t", "SHOP", site_url=jira.site_url, transport=jira.transport())
    parent = adapter.create_issue(IssueChanges(title="Checkout"))
    child = adapter.create_issue(IssueChanges(title="API", parent=parent.number))
    board = adapter.create_board("Sprints", board_type="scrum")
    sprint = adapter.create_sprint(board.number, "Sprint 1")
    adapter.start_sprint(sprint.id)
    assert adapter.add_to_board(board, child) == f"SHOP-{child.number}"
    assert jira.sprints[sprint.id]["issues"] == []
    adapter.add_to_board(board, parent)
    assert jira.sprints[sprint.id]["issues"] == [parent.number]
    adapter.close()
