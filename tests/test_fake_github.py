"""The fake GitHub itself: driven through githubkit (and plain httpx), every exchange checked
against GitHub's official OpenAPI description when it is available."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import (
    GraphQLFailed,
    PrimaryRateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
    SecondaryRateLimitExceeded,
)

from fakes.openapi import SpecValidator
from standins.github import FakeGitHub, ManualClock, iso

pytest_plugins = ["fakes.fixtures"]

OWNER, REPO = "octo-org", "shop"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def client(fake: FakeGitHub) -> GitHub[Any]:
    return GitHub(
        "test-token", base_url="https://api.github.com", transport=fake.transport(), auto_retry=False, http_cache=False
    )


@pytest.fixture
def gh(fake_github: FakeGitHub) -> Iterator[GitHub[Any]]:
    with client(fake_github) as github:
        yield github


@pytest.fixture
def clock(fake_github: FakeGitHub) -> ManualClock:
    manual = ManualClock(START)
    fake_github.clock = manual
    return manual


def raw(fake: FakeGitHub) -> httpx.Client:
    """A plain httpx client on the fake, with a token."""
    return httpx.Client(
        base_url="https://api.github.com", transport=fake.transport(), headers={"Authorization": "Bearer test-token"}
    )


# -- issues ------------------------------------------------------------------------------------


def test_create_read_update_round_trip(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    milestone = gh.rest.issues.create_milestone(OWNER, REPO, title="v1.0").parsed_data
    created = gh.rest.issues.create(
        OWNER,
        REPO,
        title="Checkout fails",
        body="Steps...",
        labels=["bug"],
        assignees=["alice"],
        milestone=milestone.number,
    )
    assert created.status_code == 201
    issue = created.parsed_data
    assert (issue.number, issue.state, issue.title, issue.body) == (1, "open", "Checkout fails", "Steps...")
    assert [label.name for label in issue.labels if not isinstance(label, str)] == ["bug"]
    assert [a.login for a in issue.assignees or []] == ["alice"]
    assert issue.milestone is not None and issue.milestone.number == milestone.number
    assert issue.html_url == f"https://github.com/{OWNER}/{REPO}/issues/1"
    assert issue.id == fake_github.issues[1]["id"] and issue.node_id.startswith("I_")

    fetched = gh.rest.issues.get(OWNER, REPO, 1).parsed_data
    assert fetched.title == "Checkout fails" and fetched.milestone is not None

    updated = gh.rest.issues.update(
        OWNER, REPO, 1, state="closed", state_reason="not_planned", labels=["wontfix", "ui"], milestone=None
    ).parsed_data
    assert (updated.state, updated.state_reason, updated.milestone) == ("closed", "not_planned", None)
    assert sorted(label.name for label in updated.labels if not isinstance(label, str)) == ["ui", "wontfix"]
    assert updated.closed_at is not None and updated.closed_by is not None
    assert fake_github.issues[1]["state"] == "closed"

    reopened = gh.rest.issues.update(OWNER, REPO, 1, state="open").parsed_data
    assert (reopened.state, reopened.state_reason, reopened.closed_at) == ("open", "reopened", None)

    closed = gh.rest.issues.update(OWNER, REPO, 1, state="closed").parsed_data
    assert closed.state_reason == "completed"


def test_missing_issue_is_404_and_deleted_issue_is_410(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    with pytest.raises(RequestFailed) as missing:
        gh.rest.issues.get(OWNER, REPO, 42)
    assert missing.value.response.status_code == 404
    gh.rest.issues.create(OWNER, REPO, title="doomed")
    fake_github.delete_issue(1)
    with pytest.raises(RequestFailed) as gone:
        gh.rest.issues.get(OWNER, REPO, 1)
    assert gone.value.response.status_code == 410


def test_unknown_labels_are_created(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    assert "priority: high" not in fake_github.labels
    gh.rest.issues.create(OWNER, REPO, title="x", labels=["priority: high", "BUG"])
    label = fake_github.labels["priority: high"]
    assert (label["color"], label["default"]) == ("ededed", False)
    assert [entry["name"] for entry in fake_github.issues[1]["labels"]] == ["priority: high", "bug"]
    names = [label.name for label in gh.rest.issues.list_labels_for_repo(OWNER, REPO, per_page=100).parsed_data]
    assert "priority: high" in names and names.count("bug") == 1


def test_pull_requests_are_listed_among_issues(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    gh.rest.issues.create(OWNER, REPO, title="an issue")
    fake_github.add_pull_request("a fix", author="dependabot")
    listed = gh.rest.issues.list_for_repo(OWNER, REPO, direction="asc").json()
    assert [(i["number"], "pull_request" in i) for i in listed] == [(1, False), (2, True)]
    assert listed[1]["html_url"].endswith("/pull/2") and listed[1]["user"]["login"] == "dependabot"
    found = gh.rest.search.issues_and_pull_requests(q=f"repo:{OWNER}/{REPO} is:issue").parsed_data
    assert [i.number for i in found.items] == [1]


def test_title_is_required(gh: GitHub[Any]) -> None:
    with pytest.raises(RequestFailed) as failure:
        gh.request("POST", f"/repos/{OWNER}/{REPO}/issues", json={"title": ""})
    assert failure.value.response.status_code == 422


def test_list_filters_state_and_since(fake_github: FakeGitHub, gh: GitHub[Any], clock: ManualClock) -> None:
    for title in ("one", "two", "three"):
        gh.rest.issues.create(OWNER, REPO, title=title)
        clock.advance(minutes=1)
    watermark = clock.now
    clock.advance(minutes=1)
    fake_github.edit_issue(2, state="closed", state_reason="completed")
    gh.rest.issues.create_comment(OWNER, REPO, 3, body="still happening")

    def numbers(**query: Any) -> list[int]:
        return [i.number for i in gh.rest.issues.list_for_repo(OWNER, REPO, **query).parsed_data]

    assert numbers() == [3, 1]
    assert numbers(state="closed") == [2]
    assert numbers(state="all", sort="created", direction="asc") == [1, 2, 3]
    assert numbers(state="all", since=iso(watermark), sort="updated", direction="asc") == [2, 3]
    assert numbers(state="all", since=iso(clock.now + timedelta(seconds=1))) == []


def test_since_as_a_datetime_is_not_iso_8601(github_validator: SpecValidator) -> None:
    """githubkit renders a ``datetime`` query parameter with ``str()`` (a space, not ``T``), which
    breaks the description's ``date-time`` format: callers must pass ``since`` as an ISO string."""
    fake = FakeGitHub(validator=github_validator)
    with client(fake) as github:
        github.rest.issues.list_for_repo(OWNER, REPO, since=START)
    assert [v.where for v in github_validator.violations] == ["request.query"]
    assert "is not a 'date-time'" in github_validator.violations[0].what


def test_pagination_with_link_header(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    for n in range(75):
        gh.rest.issues.create(OWNER, REPO, title=f"issue {n}")
    first = gh.rest.issues.list_for_repo(OWNER, REPO, state="all", per_page=30, direction="asc")
    links = {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["link"])}
    assert set(links) == {"next", "last"}
    assert "page=3" in links["last"] and "per_page=30" in links["next"]

    seen: list[int] = []
    url: str | None = f"/repos/{OWNER}/{REPO}/issues?state=all&per_page=30&direction=asc"
    with raw(fake_github) as http:
        while url:
            response = http.get(url)
            seen += [issue["number"] for issue in response.json()]
            match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
            url = match.group(1) if match else None
    assert seen == list(range(1, 76))

    everything = list(gh.rest.paginate(gh.rest.issues.list_for_repo, owner=OWNER, repo=REPO, state="all", per_page=100))
    assert len(everything) == 75
    too_many = gh.rest.issues.list_for_repo(OWNER, REPO, state="all", per_page=100)
    assert len(too_many.parsed_data) == 75 and "link" not in too_many.headers


def test_etag_304_costs_no_rate_limit(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    gh.rest.issues.create(OWNER, REPO, title="cached")
    first = gh.rest.issues.list_for_repo(OWNER, REPO, state="all")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    remaining = int(first.headers["x-ratelimit-remaining"])

    again = gh.rest.issues.list_for_repo(OWNER, REPO, state="all", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining == fake_github.rate_limit_remaining
    assert fake_github.requests[-1].counted is False

    single = gh.rest.issues.get(OWNER, REPO, 1)
    assert gh.rest.issues.get(OWNER, REPO, 1, headers={"If-None-Match": single.headers["etag"]}).status_code == 304

    fake_github.edit_issue(1, title="changed")
    changed = gh.rest.issues.list_for_repo(OWNER, REPO, state="all", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert fake_github.requests[-1].counted is True


def test_rate_limit_headers_decrement(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    headers = [gh.rest.issues.list_for_repo(OWNER, REPO).headers for _ in range(3)]
    remaining = [int(h["x-ratelimit-remaining"]) for h in headers]
    assert remaining == [4999, 4998, 4997]
    assert {h["x-ratelimit-limit"] for h in headers} == {"5000"}
    assert {h["x-ratelimit-resource"] for h in headers} == {"core"}
    assert [int(h["x-ratelimit-used"]) for h in headers] == [1, 2, 3]
    assert int(headers[0]["x-ratelimit-reset"]) > datetime.now(UTC).timestamp()

    overview = gh.rest.rate_limit.get().parsed_data
    assert overview.resources.core.remaining == 4997 == fake_github.rate_limit_remaining
    assert fake_github.requests[-1].counted is False

    fake_github.rate_limit_remaining = 1
    gh.rest.issues.list_for_repo(OWNER, REPO)
    with pytest.raises(PrimaryRateLimitExceeded):
        gh.rest.issues.list_for_repo(OWNER, REPO)


def test_authentication_is_required_and_the_token_never_kept(fake_github: FakeGitHub) -> None:
    with httpx.Client(base_url="https://api.github.com", transport=fake_github.transport()) as anonymous:
        response = anonymous.get(f"/repos/{OWNER}/{REPO}/issues")
    assert response.status_code == 401
    assert response.json()["message"] == "Requires authentication"
    assert fake_github.requests[-1].authenticated is False

    with client(fake_github) as github:
        github.rest.issues.create(OWNER, REPO, title="secret-free")
    assert fake_github.requests[-1].authenticated is True
    assert "test-token" not in repr(fake_github.requests) + repr(vars(fake_github))

    fake_github.credentials_valid = False
    with client(fake_github) as github, pytest.raises(RequestFailed) as failure:
        github.rest.issues.get(OWNER, REPO, 1)
    assert failure.value.response.status_code == 401


def test_unknown_route_is_404() -> None:
    fake = FakeGitHub()
    with raw(fake) as http:
        response = http.get("/repos/octo-org/shop/wikis")
        elsewhere = http.get("/repos/someone/else/issues")
    assert response.status_code == elsewhere.status_code == 404
    assert response.json()["message"] == "Not Found" and "documentation_url" in response.json()


# -- comments, sub-issues, milestones, labels ---------------------------------------------------------


def test_comments_bump_updated_at(fake_github: FakeGitHub, gh: GitHub[Any], clock: ManualClock) -> None:
    created = gh.rest.issues.create(OWNER, REPO, title="talk").parsed_data
    clock.advance(minutes=5)
    comment = gh.rest.issues.create_comment(OWNER, REPO, 1, body="first!")
    assert comment.status_code == 201 and comment.parsed_data.body == "first!"
    issue = gh.rest.issues.get(OWNER, REPO, 1).parsed_data
    assert issue.comments == 1
    assert issue.updated_at == created.updated_at + timedelta(minutes=5)
    clock.advance(minutes=1)
    fake_github.add_comment(1, "from a person", author="octocat")
    bodies = [c.body for c in gh.rest.issues.list_comments(OWNER, REPO, 1).parsed_data]
    assert bodies == ["first!", "from a person"]
    assert fake_github.issues[1]["updated_at"] == "2025-03-01T12:06:00Z"


def test_edit_issue_as_a_person(fake_github: FakeGitHub, gh: GitHub[Any], clock: ManualClock) -> None:
    gh.rest.issues.create(OWNER, REPO, title="to edit", labels=["bug"])
    gh.rest.issues.create_milestone(OWNER, REPO, title="Sprint 1")
    clock.advance(hours=1)
    fake_github.edit_issue(1, title="edited", labels=["enhancement", "triaged"], assignees=["bob"], milestone=1)
    issue = gh.rest.issues.get(OWNER, REPO, 1).parsed_data
    assert issue.title == "edited"
    assert sorted(label.name for label in issue.labels if not isinstance(label, str)) == ["enhancement", "triaged"]
    assert issue.milestone is not None and issue.milestone.title == "Sprint 1" and issue.milestone.open_issues == 1
    assert issue.updated_at == START + timedelta(hours=1)
    clock.advance(hours=1)
    fake_github.edit_issue(1, title="edited")
    assert fake_github.issues[1]["updated_at"] == "2025-03-01T13:00:00Z"
    fake_github.edit_issue(1, state="closed", state_reason="not_planned", actor="carol")
    closed = fake_github.issues[1]
    assert (closed["state_reason"], closed["closed_by"]["login"]) == ("not_planned", "carol")
    with pytest.raises(ValueError):
        fake_github.edit_issue(1, milestone=99)


def test_sub_issues(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    for title in ("parent", "child", "other parent"):
        gh.rest.issues.create(OWNER, REPO, title=title)
    child_id = fake_github.issues[2]["id"]
    added = gh.rest.issues.add_sub_issue(OWNER, REPO, 1, sub_issue_id=child_id)
    assert added.status_code == 201 and added.parsed_data.number == 2
    assert fake_github.sub_issues == {1: [2]}
    assert [i.number for i in gh.rest.issues.list_sub_issues(OWNER, REPO, 1).parsed_data] == [2]
    assert gh.rest.issues.get_parent(OWNER, REPO, 2).parsed_data.number == 1
    assert fake_github.issues[2]["parent_issue_url"].endswith("/issues/1")

    with pytest.raises(RequestFailed) as elsewhere:
        gh.rest.issues.add_sub_issue(OWNER, REPO, 3, sub_issue_id=child_id)
    assert elsewhere.value.response.status_code == 422
    with pytest.raises(RequestFailed) as twice:
        gh.rest.issues.add_sub_issue(OWNER, REPO, 1, sub_issue_id=child_id)
    assert twice.value.response.status_code == 422

    gh.rest.issues.add_sub_issue(OWNER, REPO, 3, sub_issue_id=child_id, replace_parent=True)
    assert fake_github.sub_issues == {1: [], 3: [2]}
    gh.rest.issues.update(OWNER, REPO, 2, state="closed")
    summary = gh.rest.issues.get(OWNER, REPO, 3).parsed_data.sub_issues_summary
    assert summary is not None and (summary.total, summary.completed, summary.percent_completed) == (1, 1, 100)


def test_milestones(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    due = datetime(2025, 6, 30, tzinfo=UTC)
    created = gh.rest.issues.create_milestone(OWNER, REPO, title="v1.0", description="first", due_on=due)
    assert created.status_code == 201 and created.parsed_data.number == 1
    assert created.parsed_data.due_on == due

    with pytest.raises(RequestFailed) as duplicate:
        gh.rest.issues.create_milestone(OWNER, REPO, title="v1.0")
    assert duplicate.value.response.status_code == 422
    assert duplicate.value.response.json()["errors"][0] == {
        "resource": "Milestone",
        "code": "already_exists",
        "field": "title",
    }

    gh.rest.issues.create_milestone(OWNER, REPO, title="v2.0")
    closed = gh.rest.issues.update_milestone(OWNER, REPO, 2, state="closed").parsed_data
    assert closed.state == "closed" and closed.closed_at is not None
    assert [m.title for m in gh.rest.issues.list_milestones(OWNER, REPO).parsed_data] == ["v1.0"]
    assert [m.title for m in gh.rest.issues.list_milestones(OWNER, REPO, state="all").parsed_data] == ["v1.0", "v2.0"]


def test_search_issues_finds_a_quoted_phrase(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    gh.rest.issues.create(OWNER, REPO, title="Payment", body="Charge fails\n\n<!-- taskorch:task=T-17 -->")
    gh.rest.issues.create(OWNER, REPO, title="Other", body="<!-- taskorch:task=T-18 -->")
    result = gh.rest.search.issues_and_pull_requests(q=f'repo:{OWNER}/{REPO} is:issue "taskorch:task=T-17"').parsed_data
    assert result.total_count == 1 and result.items[0].number == 1
    closed = gh.rest.search.issues_and_pull_requests(q=f"repo:{OWNER}/{REPO} is:issue is:closed payment")
    assert closed.parsed_data.total_count == 0
    assert closed.headers["x-ratelimit-resource"] == "search"
    with pytest.raises(RequestFailed) as other_repo:
        gh.rest.search.issues_and_pull_requests(q='repo:someone/else "x"')
    assert other_repo.value.response.status_code == 422


def test_releases_and_tags(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    with pytest.raises(RequestFailed) as absent:
        gh.rest.repos.get_release_by_tag(OWNER, REPO, "v1.0.0")
    assert absent.value.response.status_code == 404

    release = gh.rest.repos.create_release(OWNER, REPO, tag_name="v1.0.0", name="First", body="notes").parsed_data
    assert (release.tag_name, release.name, release.draft) == ("v1.0.0", "First", False)
    assert gh.rest.repos.get_release_by_tag(OWNER, REPO, "v1.0.0").parsed_data.id == release.id
    assert [t.name for t in gh.rest.repos.list_tags(OWNER, REPO).parsed_data] == ["v1.0.0"]

    with pytest.raises(RequestFailed) as duplicate:
        gh.rest.repos.create_release(OWNER, REPO, tag_name="v1.0.0")
    assert duplicate.value.response.json()["errors"][0]["code"] == "already_exists"

    edited = gh.rest.repos.update_release(OWNER, REPO, release.id, body="better notes").parsed_data
    assert edited.body == "better notes"
    assert [r.id for r in gh.rest.repos.list_releases(OWNER, REPO).parsed_data] == [release.id]


def test_authenticated_user(gh: GitHub[Any]) -> None:
    me = gh.rest.users.get_authenticated().parsed_data
    assert me.login == "sync-bot"


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_apply_nothing(fake_github: FakeGitHub, gh: GitHub[Any], status: str) -> None:
    fake_github.inject(status, method="POST", path=r"/issues$")
    with pytest.raises(RequestFailed) as failure:
        gh.rest.issues.create(OWNER, REPO, title="x")
    assert failure.value.response.status_code == int(status)
    assert fake_github.issues == {}
    assert gh.rest.issues.create(OWNER, REPO, title="x").status_code == 201


def test_timeout_applies_nothing(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("timeout", method="POST")
    with pytest.raises(RequestTimeout):
        gh.rest.issues.create(OWNER, REPO, title="x")
    assert fake_github.issues == {}
    assert (fake_github.requests[-1].fault, fake_github.requests[-1].status) == ("timeout", None)


def test_drop_before_applies_nothing(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("drop_before", method="POST")
    with pytest.raises(RequestError) as failure:
        gh.rest.issues.create(OWNER, REPO, title="x")
    assert isinstance(failure.value.__cause__, httpx.RemoteProtocolError)
    assert fake_github.issues == {}


def test_drop_after_applies_the_mutation(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("drop_after", method="POST", path=r"/issues$")
    with pytest.raises(RequestError) as failure:
        gh.rest.issues.create(OWNER, REPO, title="created but unanswered", body="<!-- taskorch:task=T-1 -->")
    assert isinstance(failure.value.__cause__, httpx.RemoteProtocolError)
    assert [i["title"] for i in fake_github.issues.values()] == ["created but unanswered"]
    recorded = fake_github.mutations()[-1]
    assert (recorded.fault, recorded.status, recorded.applied) == ("drop_after", 201, True)
    found = gh.rest.search.issues_and_pull_requests(q=f'repo:{OWNER}/{REPO} is:issue "taskorch:task=T-1"')
    assert found.parsed_data.total_count == 1


def test_429_has_retry_after(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("429")
    with pytest.raises(SecondaryRateLimitExceeded) as failure:
        gh.rest.issues.list_for_repo(OWNER, REPO)
    assert failure.value.response.status_code == 429
    assert failure.value.response.headers["retry-after"] == "1"
    assert failure.value.retry_after == timedelta(seconds=1)


def test_secondary_rate_limit(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("secondary", method="POST", retry_after=7)
    with pytest.raises(SecondaryRateLimitExceeded) as failure:
        gh.rest.issues.create(OWNER, REPO, title="x")
    response = failure.value.response
    assert response.status_code == 403 and response.headers["retry-after"] == "7"
    assert "secondary rate limit" in response.json()["message"]
    assert fake_github.issues == {}


def test_primary_rate_limit(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("primary", retry_after=30)
    with pytest.raises(PrimaryRateLimitExceeded) as failure:
        gh.rest.issues.list_for_repo(OWNER, REPO)
    headers = failure.value.response.headers
    assert failure.value.response.status_code == 403 and headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(headers["x-ratelimit-reset"]) - datetime.now(UTC).timestamp() <= 31
    assert "API rate limit exceeded" in failure.value.response.json()["message"]


def test_faults_match_method_path_and_times(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    fake_github.inject("503", method="PATCH", path=r"/issues/\d+$", times=2)
    gh.rest.issues.create(OWNER, REPO, title="x")
    gh.rest.issues.get(OWNER, REPO, 1)
    for _ in range(2):
        with pytest.raises(RequestFailed):
            gh.rest.issues.update(OWNER, REPO, 1, title="y")
    assert fake_github.pending_faults() == 0
    assert gh.rest.issues.update(OWNER, REPO, 1, title="y").parsed_data.title == "y"
    with pytest.raises(ValueError):
        fake_github.inject("504")


# -- over real HTTP ----------------------------------------------------------------------------


def test_serve_over_http(fake_github: FakeGitHub) -> None:
    fake_github.hold_seconds = 2.0
    with (
        fake_github.serve() as base,
        httpx.Client(base_url=base, headers={"Authorization": "token test-token"}, timeout=1.0) as http,
    ):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
        created = http.post(f"/repos/{OWNER}/{REPO}/issues", json={"title": "over the wire"})
        assert created.status_code == 201
        assert http.get(f"/repos/{OWNER}/{REPO}/issues/1").json()["title"] == "over the wire"

        fake_github.inject("drop_after", method="POST")
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"/repos/{OWNER}/{REPO}/issues", json={"title": "applied, unanswered"})
        assert fake_github.issues[2]["title"] == "applied, unanswered"

        fake_github.inject("drop_before", method="POST")
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"/repos/{OWNER}/{REPO}/issues", json={"title": "never applied"})
        assert len(fake_github.issues) == 2

        fake_github.inject("timeout", method="GET")
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"/repos/{OWNER}/{REPO}/issues", timeout=0.3)

        listing = http.get(f"/repos/{OWNER}/{REPO}/issues", params={"per_page": 1})
        assert listing.status_code == 200 and listing.headers["link"].startswith(f"<{base}/repos/")
        assert (
            http.get(
                f"/repos/{OWNER}/{REPO}/issues",
                params={"per_page": 1},
                headers={"If-None-Match": listing.headers["etag"]},
            ).status_code
            == 304
        )

    with client(fake_github) as github:
        assert github.rest.issues.get(OWNER, REPO, 2).parsed_data.title == "applied, unanswered"


def test_serve_handles_concurrent_clients(fake_github: FakeGitHub) -> None:
    fake_github.latency = 0.005

    def create(n: int) -> int:
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer test-token"}) as http:
            response = http.post(f"/repos/{OWNER}/{REPO}/issues", json={"title": f"parallel {n}"})
            return int(response.json()["number"])

    with fake_github.serve() as base, ThreadPoolExecutor(max_workers=6) as pool:
        numbers = sorted(pool.map(create, range(30)))
    assert numbers == list(range(1, 31))
    assert sorted(i["title"] for i in fake_github.issues.values()) == sorted(f"parallel {n}" for n in range(30))


# -- GraphQL: Projects v2 ----------------------------------------------------------------------

REPOSITORY = (
    "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { id owner { id login } } }"
)
CREATE = """
mutation($owner: ID!, $title: String!, $repo: ID) {
  createProjectV2(input: {ownerId: $owner, title: $title, repositoryId: $repo}) {
    projectV2 { id number url title }
  }
}"""
FIELDS = """
query($login: String!, $number: Int!) {
  organization(login: $login) {
    projectV2(number: $number) {
      id
      fields(first: 20) {
        nodes {
          ... on ProjectV2SingleSelectField { id name options { id name } }
        }
      }
    }
  }
}"""
ADD = "mutation($p: ID!, $c: ID!) { addProjectV2ItemById(input: {projectId: $p, contentId: $c}) { item { id } } }"
SET_STATUS = """
mutation($p: ID!, $i: ID!, $f: ID!, $o: String!) {
  updateProjectV2ItemFieldValue(input: {projectId: $p, itemId: $i, fieldId: $f, value: {singleSelectOptionId: $o}}) {
    projectV2Item { id fieldValueByName(name: "Status") { ... on ProjectV2ItemFieldSingleSelectValue { name } } }
  }
}"""


def test_graphql_project_flow(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    issue = gh.rest.issues.create(OWNER, REPO, title="on the board").parsed_data
    repo = gh.graphql.request(REPOSITORY, {"owner": OWNER, "name": REPO})["repository"]
    assert repo["owner"]["login"] == OWNER

    created = gh.graphql.request(CREATE, {"owner": repo["owner"]["id"], "title": "Roadmap", "repo": repo["id"]})
    project = created["createProjectV2"]["projectV2"]
    assert project["number"] == 1 and project["title"] == "Roadmap"
    assert project["url"] == f"https://github.com/orgs/{OWNER}/projects/1" and project["id"].startswith("PVT_")

    board = gh.graphql.request(FIELDS, {"login": OWNER, "number": 1})["organization"]["projectV2"]
    status = next(node for node in board["fields"]["nodes"] if node.get("name") == "Status")
    assert {} in board["fields"]["nodes"]  # fields that are not single-select match no fragment
    options = {option["name"]: option["id"] for option in status["options"]}
    assert list(options) == ["Backlog", "To Do", "In Progress", "Done"]

    item = gh.graphql.request(ADD, {"p": project["id"], "c": issue.node_id})["addProjectV2ItemById"]["item"]
    again = gh.graphql.request(ADD, {"p": project["id"], "c": issue.node_id})["addProjectV2ItemById"]["item"]
    assert item == again and len(fake_github.projects[project["id"]].items) == 1
    assert fake_github.project_status(1) is None

    moved = gh.graphql.request(
        SET_STATUS, {"p": project["id"], "i": item["id"], "f": status["id"], "o": options["In Progress"]}
    )
    assert moved["updateProjectV2ItemFieldValue"]["projectV2Item"]["fieldValueByName"] == {"name": "In Progress"}
    assert fake_github.project_status(issue.number) == "In Progress"
    assert fake_github.project(1).item_for(issue.number) is not None

    by_node = gh.graphql.request(
        "query($id: ID!) { node(id: $id) { ... on ProjectV2 { number title } } }", {"id": project["id"]}
    )
    assert by_node["node"] == {"number": 1, "title": "Roadmap"}

    graphql_mutations = [r.graphql_fields for r in fake_github.mutations() if r.path == "/graphql"]
    assert graphql_mutations == [
        ("createProjectV2",),
        ("addProjectV2ItemById",),
        ("addProjectV2ItemById",),
        ("updateProjectV2ItemFieldValue",),
    ]


def test_graphql_errors(fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    with pytest.raises(GraphQLFailed) as missing:
        gh.graphql.request(FIELDS, {"login": OWNER, "number": 9})
    assert missing.value.response.errors[0].type == "NOT_FOUND"
    assert missing.value.response.data == {"organization": {"projectV2": None}}

    owner_id = fake_github.owner_node_id
    with pytest.raises(GraphQLFailed) as undefined:
        gh.graphql.request(
            'mutation($o: ID!) { createProjectV2(input: {ownerId: $o, title: "T"}) { projectV2 { id nope } } }',
            {"o": owner_id},
        )
    assert "doesn't exist on type 'ProjectV2'" in undefined.value.response.errors[0].message
    assert fake_github.projects == {}  # a query that fails validation changes nothing

    with pytest.raises(GraphQLFailed) as syntax:
        gh.graphql.request("query { repository(owner: ", {})
    assert "Parse error" in syntax.value.response.errors[0].message

    with httpx.Client(base_url="https://api.github.com", transport=fake_github.transport()) as anonymous:
        assert anonymous.post("/graphql", json={"query": "{ viewer { login } }"}).status_code == 401


# -- the validation itself ---------------------------------------------------------------------------


def test_every_exchange_is_validated(github_spec: SpecValidator, fake_github: FakeGitHub, gh: GitHub[Any]) -> None:
    gh.rest.issues.create(OWNER, REPO, title="validated")
    gh.rest.issues.list_for_repo(OWNER, REPO)
    assert fake_github.validator is not None
    assert fake_github.validator.checked == 2
    assert fake_github.validator.violations == []


def test_an_invalid_request_is_reported(github_validator: SpecValidator) -> None:
    fake = FakeGitHub(validator=github_validator)
    with raw(fake) as http:
        response = http.post(f"/repos/{OWNER}/{REPO}/issues", json={"title": "x", "labels": 5})
        http.get(f"/repos/{OWNER}/{REPO}/issues", params={"state": "everything", "per-page": 5})
    assert response.status_code == 422
    found = [str(v) for v in github_validator.violations]
    assert any("[request.body]" in v and "labels" in v and "is not of type 'array'" in v for v in found), found
    assert any("'everything' is not one of" in v for v in found), found
    assert any("'per-page' is not a parameter" in v for v in found), found


def test_an_invalid_response_is_reported(github_validator: SpecValidator) -> None:
    fake = FakeGitHub(validator=github_validator)
    with raw(fake) as http:
        http.post(f"/repos/{OWNER}/{REPO}/issues", json={"title": "x"})
        del fake.issues[1]["locked"]
        fake.issues[1]["state_reason"] = "bored"
        http.get(f"/repos/{OWNER}/{REPO}/issues/1")
    found = [str(v) for v in github_validator.violations]
    assert any("[response.body]" in v and "'locked' is a required property" in v for v in found), found
    assert any("'bored' is not one of" in v for v in found), found


def test_validation_is_fast_enough_for_200_issues(github_validator: SpecValidator) -> None:
    fake = FakeGitHub(validator=github_validator)
    with client(fake) as github:
        for n in range(200):
            github.rest.issues.create(OWNER, REPO, title=f"issue {n}", labels=["bug"])
        list(github.rest.paginate(github.rest.issues.list_for_repo, owner=OWNER, repo=REPO, state="all", per_page=100))
    assert github_validator.violations == []
    assert github_validator.checked == 202
