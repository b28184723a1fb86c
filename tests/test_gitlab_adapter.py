"""The GitLab adapter against the GitLab stand-in served on 127.0.0.1: every Platform method, the
Free-tier fallbacks, pagination, rate limits, each injected fault mapped to its error, and secrecy.

python-gitlab's own managers are driven against the stand-in too, so the stand-in answers what
the client library expects."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import gitlab
import pytest
import requests

from standins.gitlab import FakeGitLab, SteppingClock
from taskorch.errors import (
    AuthenticationFailed,
    InvalidInput,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
)
from taskorch.platforms.base import IssueChanges, Platform
from taskorch.platforms.gitlab import (
    GitLabPlatform,
    IssueExtras,
    format_duration,
    map_gitlab_error,
    parse_project_path,
    scope_of,
    split_task_list,
    with_scoped_label,
)

TOKEN = "glpat-SECRET_test_token_123"
PROJECT = "group/sub/project"


@pytest.fixture
def fake() -> FakeGitLab:
    stand_in = FakeGitLab(PROJECT, clock=SteppingClock())
    stand_in.rate_reset = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    stand_in.add_user("mona")
    stand_in.add_user("hubot")
    return stand_in


@pytest.fixture
def base_url(fake: FakeGitLab) -> Iterator[str]:
    with fake.serve() as url:
        yield url


Connect = Callable[..., GitLabPlatform]


@pytest.fixture
def connect(base_url: str) -> Iterator[Connect]:
    made: list[GitLabPlatform] = []

    def build(project: str = PROJECT, **options: Any) -> GitLabPlatform:
        options.setdefault("timeout", 10.0)
        platform = GitLabPlatform.connect(TOKEN, project, url=base_url, session=requests.Session(), **options)
        made.append(platform)
        return platform

    yield build
    for platform in made:
        platform.close()


@pytest.fixture
def gl(connect: Connect) -> GitLabPlatform:
    return connect()


def count(fake: FakeGitLab, method: str, path_end: str) -> int:
    return len([r for r in fake.requests if r.method == method and r.path.endswith(path_end)])


# -- construction ------------------------------------------------------------------------------


def test_implements_the_platform_protocol(gl: GitLabPlatform) -> None:
    assert isinstance(gl, Platform)
    assert gl.name == "gitlab"
    assert gl.repository == PROJECT
    assert (gl.ref.platform, gl.ref.host, gl.ref.path) == ("gitlab", "127.0.0.1", PROJECT)
    assert gl.capabilities.boards and gl.capabilities.scoped_labels and not gl.capabilities.conditional_requests


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("group/sub/project", "group/sub/project"),
        ("a/b/c/d", "a/b/c/d"),
        ("https://gitlab.example.com/group/sub/project.git", "group/sub/project"),
        ("https://gitlab.com/group/project/-/issues", "group/project"),
        ("git@gitlab.example.com:group/sub/project.git", "group/sub/project"),
        ("gitlab:group/sub/project", "group/sub/project"),
    ],
)
def test_project_paths_may_be_nested_or_urls(given: str, expected: str) -> None:
    assert parse_project_path(given) == expected


@pytest.mark.parametrize("bad", ["project", "", "group//project", "group/pro ject", "../etc/passwd"])
def test_malformed_project_paths_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_project_path(bad)


def test_an_empty_token_or_bad_settings_are_refused(base_url: str) -> None:
    with pytest.raises(AuthenticationFailed):
        GitLabPlatform.connect("  ", PROJECT, url=base_url)
    with pytest.raises(InvalidInput):
        GitLabPlatform.connect(TOKEN, PROJECT, url="gitlab.example.com")
    client = gitlab.Gitlab(base_url, private_token=TOKEN)
    with pytest.raises(InvalidInput):
        GitLabPlatform(client, PROJECT, per_page=101)


def test_settings_from_the_environment(fake: FakeGitLab, base_url: str) -> None:
    environ = {"GITLAB_TOKEN": TOKEN, "TASKORCH_GITLAB_URL": base_url}
    platform = GitLabPlatform.from_environment(PROJECT, environ=environ)
    assert platform.get_release_by_tag("none") is None
    assert "private-token" in fake.requests[-1].headers
    platform.close()
    with pytest.raises(AuthenticationFailed, match="MY_GITLAB is not set") as caught:
        GitLabPlatform.from_environment(PROJECT, environ=environ, token_variable="MY_GITLAB")
    assert TOKEN not in str(caught.value)
    default = GitLabPlatform.from_environment(PROJECT, environ={"GITLAB_TOKEN": "x"})
    assert default._client.url == "https://gitlab.com"  # no request is made
    default.close()


def test_python_gitlab_is_imported_only_when_gitlab_is_used() -> None:
    import subprocess
    import sys

    code = "import sys, taskorch.platforms.gitlab; print('gitlab' in sys.modules, 'requests' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_nested_paths_are_sent_url_encoded(fake: FakeGitLab, base_url: str) -> None:
    deep = FakeGitLab("top/middle/lower/project", clock=SteppingClock())
    with deep.serve() as url:
        platform = GitLabPlatform.connect(TOKEN, "top/middle/lower/project", url=url, session=requests.Session())
        seen: list[str] = []
        platform._client.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request.path_url))
        issue = platform.create_issue(IssueChanges(title="deep"))
        platform.close()
    assert issue.number == 1
    assert seen == ["/api/v4/projects/top%2Fmiddle%2Flower%2Fproject/issues"]


def test_private_token_or_oauth_bearer_is_sent(fake: FakeGitLab, connect: Connect) -> None:
    connect().get_release_by_tag("none")
    connect(oauth=True).get_release_by_tag("none")
    first, second = fake.requests
    assert "private-token" in first.headers and "authorization" not in first.headers
    assert "authorization" in second.headers and "private-token" not in second.headers


# -- issues ------------------------------------------------------------------------------------


def test_create_issue_sends_every_field_and_reads_the_answer(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    milestone = gl.create_milestone("v1", "first", None)
    issue = gl.create_issue(
        IssueChanges(
            title="Add login",
            body="Details",
            labels=("type: feature", "status::to do"),
            assignees=("mona",),
            milestone=milestone.number,
        ),
        extras=IssueExtras(due_date=date(2025, 3, 1), confidential=True),
    )
    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("POST", f"/projects/{PROJECT}/issues")
    assert sent.json == {
        "title": "Add login",
        "description": "Details",
        "labels": "type: feature,status::to do",
        "assignee_ids": [fake.users["mona"]["id"]],
        "milestone_id": milestone.number,
        "due_date": "2025-03-01",
        "confidential": True,
    }
    assert issue.number == 1 and issue.id == fake.issues[1]["id"]
    assert issue.node_id == f"gid://gitlab/Issue/{issue.id}"
    assert issue.url.endswith(f"/{PROJECT}/-/issues/1")
    assert (issue.title, issue.body, issue.state, issue.state_reason) == ("Add login", "Details", "open", None)
    assert issue.labels == ("status::to do", "type: feature")
    assert issue.assignees == ("mona",)
    assert issue.milestone == milestone.number
    assert fake.issues[1]["confidential"] is True and fake.issues[1]["due_date"] == "2025-03-01"


def test_usernames_are_looked_up_once(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="one", assignees=("mona",)))
    gl.create_issue(IssueChanges(title="two", assignees=("Mona",)))
    assert count(fake, "GET", "/users") == 1
    with pytest.raises(PlatformRejected, match="no user 'nobody'"):
        gl.create_issue(IssueChanges(title="three", assignees=("nobody",)))


def test_create_closed_costs_a_second_mutation(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    issue = gl.create_issue(IssueChanges(title="done already", state="closed"))
    assert issue.state == "closed"
    assert [(r.method, r.json) for r in fake.mutations()] == [
        ("POST", {"title": "done already"}),
        ("PUT", {"state_event": "close"}),
    ]


def test_create_needs_a_title(gl: GitLabPlatform) -> None:
    with pytest.raises(InvalidInput, match="title"):
        gl.create_issue(IssueChanges(body="no title"))


def test_update_issue_maps_state_milestone_and_assignees(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    milestone = gl.create_milestone("v1", "", None)
    gl.create_issue(IssueChanges(title="t", assignees=("mona",), milestone=milestone.number))
    closed = gl.update_issue(1, IssueChanges(state="closed", state_reason="not_planned"))
    assert closed.state == "closed" and fake.requests[-1].json == {"state_event": "close"}
    reopened = gl.update_issue(1, IssueChanges(state="open", milestone=None, assignees=()))
    assert fake.requests[-1].json == {"state_event": "reopen", "milestone_id": 0, "assignee_ids": 0}
    assert (reopened.state, reopened.milestone, reopened.assignees) == ("open", None, ())


def test_an_empty_update_only_reads(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    before = len(fake.mutations())
    assert gl.update_issue(1, IssueChanges()).title == "t"
    assert len(fake.mutations()) == before


def test_get_issue_and_a_missing_one(gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    assert gl.get_issue(1).title == "t"
    with pytest.raises(PlatformRejected) as caught:
        gl.get_issue(99)
    assert caught.value.status == 404


# -- verification of what GitLab stored ---------------------------------------------------------


def test_free_tier_ignoring_weight_is_reported_with_the_created_issue(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    with pytest.raises(PlatformRejected, match=r"issue #1 was created, but GitLab ignored weight") as caught:
        gl.create_issue(IssueChanges(title="weighty"), extras=IssueExtras(weight=3))
    assert "sent 3, stored None" in str(caught.value)
    assert fake.issues[1]["title"] == "weighty"


def test_free_tier_keeping_one_of_two_assignees_is_reported(gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    with pytest.raises(PlatformRejected, match=r"#1: GitLab ignored assignees"):
        gl.update_issue(1, IssueChanges(assignees=("mona", "hubot")))


def test_an_unknown_milestone_silently_dropped_is_reported(gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    with pytest.raises(PlatformRejected, match="ignored milestone"):
        gl.update_issue(1, IssueChanges(milestone=123456))


def test_premium_stores_weight_and_several_assignees(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    fake.tier = "premium"
    issue = gl.create_issue(IssueChanges(title="t", assignees=("mona", "hubot")), extras=IssueExtras(weight=5))
    assert issue.assignees == ("hubot", "mona")
    assert fake.issues[1]["weight"] == 5
    gl.update_issue(1, IssueChanges(), extras=IssueExtras(weight=None, due_date=None, confidential=False))
    assert fake.issues[1]["weight"] is None


def test_negative_weight_and_commas_in_labels_are_refused(gl: GitLabPlatform) -> None:
    with pytest.raises(InvalidInput, match="weight"):
        gl.create_issue(IssueChanges(title="t"), extras=IssueExtras(weight=-1))
    with pytest.raises(InvalidInput, match="labels"):
        gl.create_issue(IssueChanges(title="t", labels=("a,b",)))


# -- scoped labels -----------------------------------------------------------------------------


def test_scoped_label_helpers() -> None:
    assert scope_of("status::in progress") == "status::"
    assert scope_of("a::b::c") == "a::b::"
    assert scope_of("plain") is None
    assert scope_of("::odd") is None
    assert with_scoped_label(["bug", "status::to do", "Status::Blocked"], "status::in progress") == (
        "bug",
        "status::in progress",
    )


def test_a_label_set_with_two_labels_of_one_scope_is_refused(gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    with pytest.raises(InvalidInput, match="share the scope"):
        gl.update_issue(1, IssueChanges(labels=("status::to do", "status::in progress")))


def test_free_gitlab_keeps_both_scoped_labels_so_the_adapter_removes_the_old_one(
    fake: FakeGitLab, gl: GitLabPlatform
) -> None:
    gl.create_issue(IssueChanges(title="t", labels=("bug", "status::to do")))
    fake.edit_issue(1, add_labels="status::blocked")  # a person on Free: now two status labels
    assert fake.status_labels(1) == ["status::blocked", "status::to do"]
    board = gl.create_board("Work")
    gl.set_board_status(board, "1", "In Progress")
    assert fake.status_labels(1) == ["status::in progress"]
    assert "bug" in fake.issues[1]["labels"]
    put = fake.requests[-1]
    assert put.json == {"add_labels": "status::in progress", "remove_labels": "status::blocked,status::to do"}


# -- listing -----------------------------------------------------------------------------------


def test_list_since_pages_oldest_first(fake: FakeGitLab, connect: Connect) -> None:
    for n in range(5):
        fake.add_issue(f"issue {n}")
    fake.edit_issue(1, title="changed last")
    gl = connect(per_page=2)
    listing = gl.list_issues_since(None, None)
    assert [i.number for i in listing.issues] == [2, 3, 4, 5, 1]
    assert listing.requests == 3 and not listing.not_modified
    first = next(r for r in fake.requests if r.path.endswith("/issues"))
    assert first.query == {"order_by": "updated_at", "sort": "asc", "per_page": "2"}


def test_list_since_sends_updated_after_and_includes_the_boundary(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    for n in range(3):
        fake.add_issue(f"issue {n}")
    watermark = datetime.fromisoformat(fake.issues[2]["updated_at"].replace("Z", "+00:00"))
    listing = gl.list_issues_since(watermark, None)
    assert [i.number for i in listing.issues] == [2, 3]
    assert fake.requests[-1].query["updated_after"] == fake.issues[2]["updated_at"]
    naive = gl.list_issues_since(watermark.replace(tzinfo=None), None)
    assert [i.number for i in naive.issues] == [2, 3]


def test_pages_are_followed_by_x_next_page_without_a_link_header(fake: FakeGitLab, connect: Connect) -> None:
    fake.send_link_header = False
    for n in range(5):
        fake.add_issue(f"issue {n}")
    listing = connect(per_page=2).list_issues_since(None, None)
    assert [i.number for i in listing.issues] == [1, 2, 3, 4, 5]
    assert listing.requests == 3
    assert [r.query.get("page") for r in fake.requests] == [None, "2", "3"]


def test_a_quiet_pull_of_a_thousand_issues_costs_one_request(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    for n in range(1000):
        fake.add_issue(f"issue {n}")
    full = gl.list_issues_since(None, None)
    assert len(full.issues) == 1000 and full.requests == 10
    watermark = max(issue.updated_at for issue in full.issues)
    before = len(fake.requests)
    quiet = gl.list_issues_since(watermark, full.etag)
    assert quiet.requests == 1 and len(fake.requests) - before == 1
    assert [i.number for i in quiet.issues] == [1000]  # only the boundary issue comes back


def test_if_none_match_is_sent_and_a_304_is_honoured(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    fake.add_issue("one")
    first = gl.list_issues_since(None, None)
    assert first.etag and first.etag.startswith('W/"')
    fake.honour_if_none_match = True
    again = gl.list_issues_since(None, first.etag)
    assert again.not_modified and again.issues == [] and again.requests == 1 and again.etag == first.etag
    assert "if-none-match" in fake.requests[-1].headers


def test_a_next_page_link_to_another_host_is_refused(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    for n in range(3):
        fake.add_issue(f"issue {n}")
    gl.per_page = 1
    original = fake._paginate

    def hostile(req: Any, items: Any) -> Any:
        reply = original(req, items)
        reply.headers["Link"] = '<https://evil.example.com/api/v4/projects/x/issues?page=2>; rel="next"'
        return reply

    fake._paginate = hostile  # type: ignore[method-assign]
    with pytest.raises(PlatformRejected, match="points away"):
        gl.list_issues_since(None, None)


# -- comments, links, sub-issues -------------------------------------------------------------------


def test_add_comment_posts_a_note(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    before = fake.issues[1]["updated_at"]
    gl.add_comment(1, "Progress: 50%")
    assert fake.notes[1][0]["body"] == "Progress: 50%"
    assert fake.requests[-1].path == f"/projects/{PROJECT}/issues/1/notes"
    assert fake.issues[1]["updated_at"] > before
    assert gl.get_issue(1).updated_at > datetime.fromisoformat(before.replace("Z", "+00:00"))


def test_sub_issues_fall_back_to_a_link_and_a_task_list(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    assert "task list" in GitLabPlatform.SUB_ISSUES
    parent = gl.create_issue(IssueChanges(title="parent", body="The plan."))
    child = gl.create_issue(IssueChanges(title="child"))
    other = gl.create_issue(IssueChanges(title="other"))
    gl.add_sub_issue(parent.number, child)
    gl.add_sub_issue(parent.number, child)  # a retry after a lost answer changes nothing
    gl.add_sub_issue(parent.number, other)
    assert [(link["source"], link["target"], link["link_type"]) for link in fake.links] == [
        (1, 2, "relates_to"),
        (1, 3, "relates_to"),
    ]
    stored = fake.issues[1]["description"]
    assert "- [ ] #2\n- [ ] #3" in stored and stored.startswith("The plan.\n\n")
    assert gl.get_issue(1).body == "The plan."  # the block is the adapter's, not a remote edit
    assert gl.list_links(1) == [(2, "relates_to"), (3, "relates_to")]


def test_a_new_body_keeps_the_task_list(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    parent = gl.create_issue(IssueChanges(title="parent", body="old"))
    gl.add_sub_issue(parent.number, gl.create_issue(IssueChanges(title="child")))
    updated = gl.update_issue(1, IssueChanges(body="new text"))
    assert updated.body == "new text"
    assert split_task_list(fake.issues[1]["description"]) == ("new text", [2])


@pytest.mark.parametrize("body", ["", "text", "text\n", "a\n\nb\n\n"])
def test_task_list_round_trip(body: str) -> None:
    from taskorch.platforms.gitlab import _with_task_list

    assert split_task_list(_with_task_list(body, [4, 5])) == (body, [4, 5])
    assert split_task_list(body) == (body, [])


def test_blocking_links_fall_back_to_relates_to_on_free(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    for title in ("a", "b"):
        gl.create_issue(IssueChanges(title=title))
    assert gl.add_blocking_link(1, 2) == "relates_to"
    statuses = [r.status for r in fake.requests if r.path.endswith("/links")]
    assert statuses == [403, 201]
    assert fake.links[0]["link_type"] == "relates_to"


def test_blocking_links_on_premium(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    fake.tier = "premium"
    for title in ("a", "b"):
        gl.create_issue(IssueChanges(title=title))
    assert gl.add_blocking_link(1, 2) == "blocks"
    assert gl.add_blocking_link(1, 2) == "blocks"  # 409: the link exists
    assert gl.list_links(2) == [(1, "is_blocked_by")]
    assert fake.issues and gl.get_issue(2).number == 2


# -- milestones --------------------------------------------------------------------------------


def test_milestones_create_list_update_close(fake: FakeGitLab, connect: Connect) -> None:
    gl = connect(per_page=2)
    due = datetime(2025, 6, 30, 23, 0, tzinfo=UTC)
    created = gl.create_milestone("v1", "first", due)
    assert fake.requests[-1].json == {"title": "v1", "description": "first", "due_date": "2025-06-30"}
    assert (created.title, created.state, created.due_on) == ("v1", "open", datetime(2025, 6, 30, tzinfo=UTC))
    for title in ("v2", "v3"):
        gl.create_milestone(title, "", None)
    assert sorted(m.title for m in gl.list_milestones()) == ["v1", "v2", "v3"]
    closed = gl.update_milestone(created.number, state="closed", title="v1.0")
    assert (closed.state, closed.title) == ("closed", "v1.0")
    assert fake.requests[-1].json == {"title": "v1.0", "state_event": "close"}
    assert gl.update_milestone(created.number, state="open").state == "open"
    assert gl.update_milestone(created.number).title == "v1.0"
    assert fake.requests[-1].method == "GET"


def test_a_duplicate_milestone_is_rejected_with_gitlabs_field_error(gl: GitLabPlatform) -> None:
    gl.create_milestone("v1", "", None)
    with pytest.raises(PlatformRejected, match="title has already been taken") as caught:
        gl.create_milestone("v1", "", None)
    assert caught.value.status == 400


# -- boards ------------------------------------------------------------------------------------


def test_create_board_makes_a_list_per_status_label(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    board = gl.create_board("Sprint")
    assert board.title == "Sprint" and board.url.endswith(f"/{PROJECT}/-/boards/{board.number}")
    assert board.status_field_id == "status::"
    assert board.status_options == {
        "Open": "",
        "to do": "status::to do",
        "in progress": "status::in progress",
        "blocked": "status::blocked",
        "Closed": "closed",
    }
    assert [item["label"]["name"] for item in fake.boards[board.number]["lists"]] == [
        "status::to do",
        "status::in progress",
        "status::blocked",
    ]
    second = gl.create_board("Another")  # the labels exist now: 409, then looked up
    assert second.status_options == board.status_options
    assert gl.get_board(board.number) == board


def test_moving_cards_is_a_label_change(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    board = gl.create_board("Work")
    issue = gl.create_issue(IssueChanges(title="card", labels=("bug",)))
    before = len(fake.requests)
    item = gl.add_to_board(board, issue)
    assert item == "1" and len(fake.requests) == before  # every open issue is on the board already
    gl.set_board_status(board, item, "To Do")
    assert fake.issues_in_list(board.number, "status::to do") == [1]
    gl.set_board_status(board, item, "in progress")
    assert fake.issues_in_list(board.number, "status::in progress") == [1]
    assert fake.issues_in_list(board.number, "status::to do") == []
    gl.set_board_status(board, item, "Done")
    assert fake.issues_in_list(board.number, "Closed") == [1]
    gl.set_board_status(board, item, "Blocked")  # reopens it into the column
    assert fake.issues_in_list(board.number, "status::blocked") == [1]
    gl.set_board_status(board, item, "Backlog")
    assert fake.issues_in_list(board.number, "Open") == [1]
    assert fake.issues[1]["labels"] == ["bug"]
    with pytest.raises(PlatformRejected, match="no column 'Review'"):
        gl.set_board_status(board, item, "Review")


def test_a_person_moving_a_card_flows_back_as_labels(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    board = gl.create_board("Work")
    gl.create_issue(IssueChanges(title="card"))
    fake.edit_issue(1, add_labels="status::in progress")
    assert gl.get_issue(1).labels == ("status::in progress",)
    assert fake.issues_in_list(board.number, "status::in progress") == [1]


# -- releases ----------------------------------------------------------------------------------


def test_releases_create_or_update_by_tag(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    assert gl.get_release_by_tag("v1.0.0") is None
    gl.create_milestone("v1", "", None)
    created = gl.create_release(
        "v1.0.0", name="v1.0.0", body="## Changes", target_commitish="abc123", prerelease=True, milestones=["v1"]
    )
    assert fake.requests[-1].json == {
        "tag_name": "v1.0.0",
        "name": "v1.0.0",
        "description": "## Changes",
        "ref": "abc123",
        "milestones": ["v1"],
    }
    assert (created.tag_name, created.body, created.draft, created.prerelease) == ("v1.0.0", "## Changes", False, False)
    assert created.url.endswith("/-/releases/v1.0.0")
    assert "v1.0.0" in fake.tags
    assert [m["title"] for m in gl._json("GET", gl._project_path("releases/v1.0.0"))["milestones"]] == ["v1"]
    found = gl.get_release_by_tag("v1.0.0")
    assert found is not None and found.id == created.id
    updated = gl.update_release(found.id, name="v1.0.0", body="## Changes\n- more")
    assert updated.body == "## Changes\n- more" and fake.releases["v1.0.0"]["description"] == "## Changes\n- more"
    with pytest.raises(PlatformRejected) as caught:
        gl.create_release("v1.0.0", name="x", body="", target_commitish=None, prerelease=False)
    assert caught.value.status == 409


def test_updating_a_release_id_never_read_is_refused(gl: GitLabPlatform) -> None:
    with pytest.raises(PlatformRejected, match="named by tag"):
        gl.update_release(42, name="x", body="y")


def test_tags_with_slashes_are_encoded(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    release = gl.create_release("release/2025.1", name="r", body="b", target_commitish="main", prerelease=False)
    assert gl.get_release_by_tag("release/2025.1") == release


# -- time tracking -----------------------------------------------------------------------------


def test_time_estimate_and_spent_time(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    assert gl.set_time_estimate(1, 9000) == 9000
    assert fake.requests[-1].query == {"duration": "2h30m"}
    assert fake.issues[1]["time_estimate"] == 9000
    assert gl.add_spent_time(1, 1800, summary="pairing") == 1800
    assert gl.add_spent_time(1, 45) == 1845
    with pytest.raises(InvalidInput):
        gl.set_time_estimate(1, 0)


@pytest.mark.parametrize(("seconds", "text"), [(1, "1s"), (60, "1m"), (3600, "1h"), (90061, "25h1m1s")])
def test_format_duration_avoids_days(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


# -- rate limits and faults --------------------------------------------------------------------


def test_rate_budget_comes_from_ratelimit_headers(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    assert gl.rate_budget().remaining is None
    gl.create_issue(IssueChanges(title="t"))
    budget = gl.rate_budget()
    assert budget.limit == 2000 and budget.remaining == fake.rate_remaining
    assert budget.reset_at == datetime.fromtimestamp(fake.rate_reset, UTC)
    assert budget.resource == "throttle_authenticated_api"


def test_an_exhausted_budget_is_rate_limited_without_retrying(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    fake.rate_remaining = 0
    fake.rate_reset = int(fake.clock.now.timestamp()) + 3600  # type: ignore[attr-defined]
    with pytest.raises(RateLimited) as caught:
        gl.get_issue(1)
    assert 3500 < caught.value.retry_after <= 3600
    assert caught.value.status == 429
    assert len(fake.requests) == 1
    assert gl.rate_budget().remaining == 0


def test_a_429_with_retry_after(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    fake.inject("429", retry_after=7)
    with pytest.raises(RateLimited) as caught:
        gl.create_issue(IssueChanges(title="t"))
    assert caught.value.retry_after == 7 and caught.value.retryable
    assert len(fake.requests) == 1 and fake.issues == {}


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_are_unavailable_and_not_retried(fake: FakeGitLab, gl: GitLabPlatform, status: str) -> None:
    fake.inject(status)
    with pytest.raises(PlatformUnavailable) as caught:
        gl.create_issue(IssueChanges(title="t"))
    assert caught.value.status == int(status) and caught.value.retryable
    assert len(fake.requests) == 1 and fake.issues == {}


def test_a_timeout_is_unavailable(fake: FakeGitLab, connect: Connect) -> None:
    gl = connect(timeout=0.3)  # the stand-in never answers this request, whatever the machine's speed
    fake.inject("timeout")
    with pytest.raises(PlatformUnavailable, match="timed out"):
        gl.create_issue(IssueChanges(title="t"))
    assert len(fake.requests) == 1 and fake.issues == {}


@pytest.mark.parametrize(("fault", "applied"), [("drop_before", False), ("drop_after", True)])
def test_dropped_connections_are_unavailable(fake: FakeGitLab, gl: GitLabPlatform, fault: str, applied: bool) -> None:
    fake.inject(fault, method="POST")
    with pytest.raises(PlatformUnavailable, match="could not reach GitLab"):
        gl.create_issue(IssueChanges(title="t"))
    assert (1 in fake.issues) is applied
    assert len(fake.requests) == 1


def test_bad_credentials_and_forbidden_are_authentication_failures(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    fake.credentials_valid = False
    with pytest.raises(AuthenticationFailed) as caught:
        gl.get_issue(1)
    assert caught.value.status == 401
    fake.credentials_valid = True
    fake.forbidden = True
    with pytest.raises(AuthenticationFailed) as caught:
        gl.get_issue(1)
    assert caught.value.status == 403
    assert len(fake.requests) == 2


def test_other_client_errors_are_rejected(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    gl.create_issue(IssueChanges(title="t"))
    with pytest.raises(PlatformRejected, match="due_date is invalid") as caught:
        gl._json("PUT", gl._project_path("issues/1"), post_data={"due_date": "soon"})
    assert caught.value.status == 400 and not caught.value.retryable


def test_an_unreachable_instance_is_unavailable() -> None:
    with FakeGitLab().serve() as url:
        pass  # the port is closed again
    gl = GitLabPlatform.connect(TOKEN, PROJECT, url=url, timeout=2)
    with pytest.raises(PlatformUnavailable):
        gl.get_issue(1)
    gl.close()


def test_map_gitlab_error_waits() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    error = gitlab.exceptions.GitlabHttpError("Retry later", 429)
    reset = {"RateLimit-Reset": str(int((now + timedelta(seconds=42)).timestamp()))}
    assert map_gitlab_error("GET", "/x", error, reset, now=now).retry_after == 42  # type: ignore[attr-defined]
    dated = {"Retry-After": "Wed, 01 Jan 2025 00:00:30 GMT"}
    assert map_gitlab_error("GET", "/x", error, dated, now=now).retry_after == 30  # type: ignore[attr-defined]
    assert map_gitlab_error("GET", "/x", error, {}, now=now).retry_after == 60  # type: ignore[attr-defined]
    # python-gitlab hands over GitLab's "message" as it came: here a mapping of field errors
    fields = gitlab.exceptions.GitlabHttpError({"title": ["is too long"]}, 400)  # type: ignore[arg-type]
    assert "title is too long" in str(map_gitlab_error("POST", "/x", fields))


# -- secrecy -----------------------------------------------------------------------------------


def test_no_token_in_errors_reprs_or_records(fake: FakeGitLab, gl: GitLabPlatform) -> None:
    failures: list[PlatformError] = []
    fake.credentials_valid = False
    for fault in (None, "500", "429", "drop_before"):
        if fault:
            fake.credentials_valid = True
            fake.inject(fault)
        try:
            gl.create_issue(IssueChanges(title="t"))
        except PlatformError as failure:
            failures.append(failure)
    assert len(failures) == 4
    for error in failures:
        text = "".join(traceback.format_exception(error))
        assert TOKEN not in text and "glpat-" not in text
        assert error.__cause__ is None
    assert TOKEN not in repr(gl)
    assert all(TOKEN not in repr(record) for record in fake.requests)


# -- the stand-in speaks what python-gitlab expects -------------------------------------------------


def test_python_gitlab_managers_work_against_the_stand_in(fake: FakeGitLab, base_url: str) -> None:
    client = gitlab.Gitlab(base_url, private_token=TOKEN, per_page=2)
    project = client.projects.get(PROJECT)
    assert project.path_with_namespace == PROJECT
    for n in range(3):
        project.issues.create({"title": f"issue {n}", "labels": ["bug", "status::to do"]})
    issues = project.issues.list(get_all=True, order_by="created_at", sort="asc")
    assert [i.iid for i in issues] == [1, 2, 3]
    assert issues[0].labels == ["bug", "status::to do"]
    issue = project.issues.get(1)
    issue.state_event = "close"
    issue.save()
    assert fake.issues[1]["state"] == "closed"
    issue.notes.create({"body": "hi"})
    assert [n.body for n in issue.notes.list(get_all=True)] == ["hi"]
    issue.time_estimate("1h30m")
    assert project.issues.get(1).time_stats()["time_estimate"] == 5400
    source, target = issue.links.create({"target_project_id": project.id, "target_issue_iid": 2})
    assert (source.iid, target.iid) == (1, 2)
    milestone = project.milestones.create({"title": "v1"})
    assert project.milestones.get(milestone.id).title == "v1"
    board = project.boards.create({"name": "Work"})
    label = project.labels.create({"name": "status::doing", "color": "#428BCA"})
    board.lists.create({"label_id": label.id})
    assert [lst.label["name"] for lst in project.boards.get(board.id).lists.list()] == ["status::doing"]
    project.releases.create({"tag_name": "v1", "ref": "main", "description": "notes", "milestones": ["v1"]})
    assert project.releases.get("v1").description == "notes"
    assert [t.name for t in project.tags.list(get_all=True)] == ["v1"]
    assert [u.username for u in client.users.list(username="mona")] == ["mona"]
    assert fake.internal_errors == []
