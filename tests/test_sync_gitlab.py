"""GitLab end to end through the services, against the GitLab stand-in: connect by reference,
issues with scoped status labels, sub-issues, both-way sync, conflicts, boards whose lists are
the status labels, milestones, releases, progress notes, and what GitLab cannot do said plainly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from standins.gitlab import FakeGitLab
from sync_platforms import TOKEN, Harness, harness
from taskorch.config import Settings
from taskorch.errors import InvalidInput
from taskorch.services.app import Orchestrator
from taskorch.services.connection import ConnectionConfig
from taskorch.services.models import SubtaskSpec, TaskFields


@pytest.fixture
def lab() -> Iterator[Harness]:
    with harness("gitlab") as made:
        made.add_user("mona")
        yield made


@pytest.fixture
def make_orch(lab: Harness, database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    made: list[Orchestrator] = []

    def make(**connect: Any) -> Orchestrator:
        assert lab.base_url is not None
        settings = Settings(database_url=database_url, mutation_spacing=0.0, gitlab_url=lab.base_url)
        orch = Orchestrator(settings, sleep=lambda seconds: None)  # the registry's own factory
        orch.initialize_session(str(project))
        orch.git_connect(lab.repository, **connect)
        made.append(orch)
        return orch

    yield make
    for orch in made:
        orch.close()


def _plan(orch: Orchestrator) -> dict[str, int]:
    result = orch.plan_task(
        TaskFields(title="Add rate limiting", labels=["auth"]),
        [
            SubtaskSpec(key="impl", title="Implement"),
            SubtaskSpec(key="docs", title="Document", depends_on_keys=["impl"]),
        ],
    )
    return {"parent": result.task.id, **{k: b.id for k, b in result.subtasks.items()}}


def _issue_of(orch: Orchestrator, lab: Harness, task_id: int) -> int:
    result = orch.git_config()
    assert result.config is not None
    from sqlalchemy import select

    from taskorch.store.tables import feature_issue_links

    with orch.db.transaction(write=False) as conn:
        number = conn.execute(
            select(feature_issue_links.c.issue_number).where(feature_issue_links.c.task_id == task_id)
        ).scalar_one()
    return int(number)


def test_connect_by_reference_names_the_platform_and_what_it_lacks(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True, tier="full")
    result = orch.git_config()
    assert result.config is not None and result.config.platform == "gitlab"
    assert result.config.api_token_name == "GITLAB_TOKEN"
    assert result.config.repository.endswith("/group/sub/project")
    assert result.config.status_mapping["label:in_progress"] == "status::in progress"
    connect = orch.git_connect(lab.repository, tier="full")
    assert "on GitLab:\n- no conditional requests" in connect.detail
    # Dependencies are native (blocks links), with the Free fallback named; subtasks use task lists.
    lacking = connect.detail.split("on GitLab:\n- ", 1)[1].split("\n", 1)[0]
    assert "issue dependencies" not in lacking
    assert "relates_to" in connect.detail and "task list" in connect.detail


def test_tasks_become_gitlab_issues_with_scoped_status_and_sub_issues(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True)
    ids = _plan(orch)
    result = orch.git_sync()
    assert result.sync is not None and not result.sync.failed, result.sync
    issues = lab.issues()
    assert len(issues) == 3
    parent = _issue_of(orch, lab, ids["parent"])
    assert sorted(lab.children(parent)) == sorted(_issue_of(orch, lab, ids[k]) for k in ("impl", "docs"))
    impl = _issue_of(orch, lab, ids["impl"])
    assert "status::to do" in issues[impl].labels and "type: feature" in issues[impl].labels

    orch.execute_task(ids["impl"])
    before = len(lab.fake.mutations())
    orch.git_sync()
    assert lab.issues()[impl].labels.count("status::in progress") == 1
    assert "status::to do" not in lab.issues()[impl].labels
    # One mutation for the task's issue, one redrawing the parent's body (its subtask diagram).
    sent = sorted(m.path.rsplit("/", 1)[-1] for m in lab.fake.mutations()[before:])
    assert sent == sorted([str(impl), str(parent)]), sent
    orch.complete_task(ids["impl"], summary="done")
    orch.git_sync()
    assert lab.issues()[impl].state == "closed"
    assert not [label for label in lab.issues()[impl].labels if label.startswith("status::")]

    orch.cancel_task(ids["docs"], reason="not needed")
    orch.git_sync()
    docs = lab.issues()[_issue_of(orch, lab, ids["docs"])]
    assert docs.state == "closed" and "status::cancelled" in docs.labels


def test_changes_on_gitlab_flow_back_and_a_quiet_pull_costs_at_most_two_reads(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True)
    ids = _plan(orch)
    orch.git_sync()
    impl = _issue_of(orch, lab, ids["impl"])
    lab.edit(impl, title="Implement the limiter", labels=["auth", "ops", "status::blocked", "type: feature"])
    result = orch.git_sync()
    assert result.sync is not None and not result.sync.failed
    task = orch.get_task(ids["impl"])
    assert task.title == "Implement the limiter" and task.status == "blocked"
    assert "ops" in task.labels
    orch.git_sync()
    before = len(lab.fake.requests)
    quiet = orch.git_sync()
    # One updated_after listing; an issue the previous run pushed to is listed again (its
    # updated_at moved past the watermark) and, GitLab listings carrying no "blocked by" count,
    # costs one read of its links. Never a mutation, never more than the issue's bound of two.
    sent = [(r.method, r.path) for r in lab.fake.requests[before:]]
    assert quiet.sync is not None and quiet.sync.requests == len(sent) <= 2
    assert sent[0] == ("GET", "/projects/group/sub/project/issues")
    assert all(method == "GET" for method, _path in sent)


def test_a_field_changed_on_both_sides_is_a_conflict(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True)
    ids = _plan(orch)
    orch.git_sync()
    impl = _issue_of(orch, lab, ids["impl"])
    orch.update_task(ids["impl"], {"title": "Local title"})
    lab.edit(impl, title="Remote title")
    result = orch.git_sync()
    assert result.sync is not None and [c.field for c in result.sync.conflicts] == ["title"]
    assert lab.issues()[impl].title == "Remote title"
    conflict = orch.git_conflicts().conflicts
    assert conflict
    orch.git_resolve_conflict(conflict[0].id, "local")
    orch.git_sync()
    assert lab.issues()[impl].title == "Local title"


def test_a_board_of_status_lists_moves_cards_by_label(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True, tier="project")
    ids = _plan(orch)
    orch.git_sync()
    board = orch.board_manager("create_board", title="Rate limiting")
    assert board.board is not None and {"to do", "in progress", "blocked", "Closed"} <= set(board.board["columns"])
    assert "lacks" not in board.detail
    impl = _issue_of(orch, lab, ids["impl"])
    moved = orch.board_manager("move_card", task_ids=[ids["impl"]], column="in progress")
    assert moved.moved and moved.moved[0]["column"] == "in progress"
    assert isinstance(lab.fake, FakeGitLab) and lab.fake.status_labels(impl) == ["status::in progress"]
    # The move is a label change on the platform: it flows back as the task's status.
    orch.git_sync()
    assert orch.get_task(ids["impl"]).status == "in_progress"
    assert lab.fake.issues_in_list(int(board.board["number"]), "status::in progress") == [impl]
    orch.board_manager("update_progress")
    assert lab.fake.status_labels(impl) == ["status::in progress"]


def test_milestones_and_releases_on_gitlab(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True, tier="full")
    first = orch.git_create_milestone("v1.0.0", "first")
    again = orch.git_create_milestone("v1.0.0", "first, again")
    assert first.milestone is not None and again.milestone is not None
    assert first.milestone["number"] == again.milestone["number"] and "updated" in again.detail
    assert isinstance(lab.fake, FakeGitLab) and len(lab.fake.milestones) == 1
    sid = orch._session_id(None)
    release, verb = orch.git.publish_release(sid, "v1.0.0", "notes", "a" * 40, False)
    assert verb == "created" and release.tag_name == "v1.0.0"
    # A rerun after a lost answer: GitLab refuses a second release (409); the tag decides.
    release, verb = orch.git.publish_release(sid, "v1.0.0", "notes, revised", "a" * 40, False)
    assert verb == "updated" and lab.fake.releases["v1.0.0"]["description"] == "notes, revised"
    assert len(lab.fake.releases) == 1


def test_a_release_created_by_another_run_meanwhile_is_updated_not_duplicated(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(tier="full")
    sid = orch._session_id(None)
    assert isinstance(lab.fake, FakeGitLab)
    fake = lab.fake
    # The first lookup says "none"; then the creation is refused with 409 as another run made it.
    fake.inject("drop_after", method="POST", path=r"/releases$")
    release, verb = orch.git.publish_release(sid, "v2.0.0", "notes", "b" * 40, False)
    assert release.tag_name == "v2.0.0" and verb == "updated"
    assert len(fake.releases) == 1


def test_progress_notes_follow_the_work(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True, progress_comments=True)
    ids = _plan(orch)
    orch.git_sync()
    orch.execute_task(ids["impl"])
    orch.git_sync()
    assert isinstance(lab.fake, FakeGitLab)
    notes = [n["body"] for n in lab.fake.notes.get(_issue_of(orch, lab, ids["impl"]), []) if not n.get("system")]
    assert any("pending -> in_progress" in body for body in notes), notes


def test_a_tool_may_not_name_another_host(make_orch: Any, lab: Harness) -> None:
    orch = make_orch()
    with pytest.raises(InvalidInput) as refused:
        orch.git_connect(
            ConnectionConfig("https://gitlab.evil.example/group/project", platform="gitlab"), trusted=False
        )
    assert refused.value.field == "repository" and "TASKORCH_GITLAB_URL" in str(refused.value)
    with pytest.raises(InvalidInput) as refused_url:
        orch.git_connect(
            ConnectionConfig("group/project", platform="gitlab", base_url="https://gitlab.evil.example"), trusted=False
        )
    assert refused_url.value.field == "base_url"
    # The user may: the CLI's --url names a self-managed instance.
    view = orch.git_connect(
        ConnectionConfig("group/sub/project", platform="gitlab", base_url="https://gitlab.example.com")
    ).config
    assert view is not None and view.repository == "https://gitlab.example.com/group/sub/project"


def test_a_github_reference_keeps_its_two_segments(make_orch: Any) -> None:
    orch = make_orch()
    with pytest.raises(InvalidInput) as refused:
        orch.git_connect("octo/a/b", platform="github")
    assert refused.value.field == "repository"


def test_a_due_date_is_sent_to_gitlab_and_cleared(make_orch: Any, lab: Harness) -> None:
    orch = make_orch(auto_sync_enabled=True)
    task = orch.plan_task(TaskFields(title="Dated", due_date=date(2027, 1, 15)), []).task.id
    orch.git_sync()
    number = _issue_of(orch, lab, task)
    assert isinstance(lab.fake, FakeGitLab) and lab.fake.issues[number]["due_date"] == "2027-01-15"
    orch.update_task(task, {"due_date": None})
    orch.git_sync()
    assert lab.fake.issues[number]["due_date"] is None
