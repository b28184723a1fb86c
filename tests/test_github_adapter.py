"""The GitHub adapter against mocked HTTP: field mapping, bodies, listing, errors, boards, secrecy."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple

import httpx
import pytest
import respx

from standins.github import FakeGitHub
from taskorch.errors import (
    AuthenticationFailed,
    InvalidInput,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
)
from taskorch.platforms.base import UNSET, BoardRef, IssueChanges, Platform, RemoteIssue
from taskorch.platforms.github import GitHubPlatform, issue_body, issue_from_json, map_github_error

API = "https://api.github.com"
TOKEN = "ghp_SECRET_test_token_123"
ISSUES = "/repos/octo-org/shop/issues"


def issue_json(number: int = 7, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": 1000 + number,
        "node_id": f"I_kwDO{number}",
        "number": number,
        "url": f"{API}{ISSUES}/{number}",
        "html_url": f"https://github.com/octo-org/shop/issues/{number}",
        "title": f"Issue {number}",
        "body": "Some text",
        "state": "open",
        "state_reason": None,
        "labels": [{"id": 2, "name": "zeta"}, {"id": 1, "name": "alpha"}],
        "assignees": [{"login": "mona"}, {"login": "hubot"}],
        "milestone": {"number": 3, "title": "v1"},
        "updated_at": "2024-05-01T10:00:00Z",
    }
    data.update(overrides)
    return data


def milestone_json(number: int = 3, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": number,
        "title": f"v{number}",
        "description": None,
        "state": "open",
        "due_on": "2024-06-30T07:00:00Z",
        "html_url": f"https://github.com/octo-org/shop/milestone/{number}",
    }
    data.update(overrides)
    return data


def remote_issue(number: int = 9) -> RemoteIssue:
    return issue_from_json(issue_json(number))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def gh(api: respx.MockRouter) -> Iterator[GitHubPlatform]:
    platform = GitHubPlatform.connect(TOKEN, "octo-org/shop")
    yield platform
    platform.close()


def sent_json(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# -- construction -------------------------------------------------------------------------------


def test_connect_builds_a_platform_with_the_neutral_interface(gh: GitHubPlatform) -> None:
    assert isinstance(gh, Platform)
    assert gh.name == "github"
    assert gh.repository == "octo-org/shop"
    assert TOKEN not in repr(gh)


def test_connect_accepts_a_url_and_rejects_bad_input() -> None:
    platform = GitHubPlatform.connect(TOKEN, "https://github.com/octo-org/shop.git")
    assert platform.repository == "octo-org/shop"
    platform.close()
    with pytest.raises(AuthenticationFailed):
        GitHubPlatform.connect("  ", "octo-org/shop")
    with pytest.raises(InvalidInput):
        GitHubPlatform.connect(TOKEN, "not a repository")


def test_requests_carry_token_user_agent_and_api_version(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.get(f"{ISSUES}/7").respond(200, json=issue_json(7))
    gh.get_issue(7)
    request = route.calls.last.request
    assert request.headers["authorization"] == f"token {TOKEN}"
    assert request.headers["user-agent"].startswith("taskorch/")
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"


# -- field mapping ------------------------------------------------------------------------------


def test_issue_from_json_maps_every_field() -> None:
    issue = issue_from_json(issue_json(7, body=None, labels=["b", {"name": "a"}, "b"]))
    assert issue == RemoteIssue(
        number=7,
        id=1007,
        node_id="I_kwDO7",
        url="https://github.com/octo-org/shop/issues/7",
        title="Issue 7",
        body="",
        state="open",
        state_reason=None,
        labels=("a", "b"),
        assignees=("hubot", "mona"),
        milestone=3,
        updated_at=datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
    )
    assert issue.updated_at.tzinfo is not None


def test_issue_from_json_without_milestone_and_closed() -> None:
    issue = issue_from_json(issue_json(8, milestone=None, state="closed", state_reason="completed", assignees=[]))
    assert (issue.milestone, issue.state, issue.state_reason, issue.assignees) == (None, "closed", "completed", ())


def test_issue_body_sends_only_set_fields() -> None:
    assert issue_body(IssueChanges()) == {}
    assert issue_body(IssueChanges(title="T", labels=("x", "y"))) == {"title": "T", "labels": ["x", "y"]}
    assert issue_body(IssueChanges(milestone=None)) == {"milestone": None}
    assert issue_body(IssueChanges(milestone=4, assignees=())) == {"milestone": 4, "assignees": []}
    # state_reason travels only with state
    assert issue_body(IssueChanges(state_reason="not_planned")) == {}
    assert issue_body(IssueChanges(state="closed", state_reason="not_planned")) == {
        "state": "closed",
        "state_reason": "not_planned",
    }
    assert issue_body(IssueChanges(state="open", state_reason=None)) == {"state": "open", "state_reason": None}
    assert UNSET not in issue_body(IssueChanges(title="T", body="B")).values()


# -- issues -------------------------------------------------------------------------------------


def test_create_issue_posts_the_set_fields(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.post(ISSUES).respond(201, json=issue_json(11, title="New"))
    issue = gh.create_issue(IssueChanges(title="New", body="B", labels=("bug",), milestone=3))
    assert sent_json(route) == {"title": "New", "body": "B", "labels": ["bug"], "milestone": 3}
    assert issue.number == 11
    assert issue.title == "New"


def test_create_issue_closed_follows_with_an_update(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    create = api.post(ISSUES).respond(201, json=issue_json(12))
    update = api.patch(f"{ISSUES}/12").respond(200, json=issue_json(12, state="closed", state_reason="completed"))
    issue = gh.create_issue(IssueChanges(title="Done", state="closed", state_reason="completed"))
    assert sent_json(create) == {"title": "Done"}
    assert sent_json(update) == {"state": "closed", "state_reason": "completed"}
    assert issue.state == "closed"


def test_create_issue_needs_a_title(gh: GitHubPlatform) -> None:
    with pytest.raises(InvalidInput):
        gh.create_issue(IssueChanges(body="no title"))


def test_update_issue_patches_only_set_fields(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.patch(f"{ISSUES}/7").respond(200, json=issue_json(7, milestone=None))
    issue = gh.update_issue(7, IssueChanges(milestone=None, assignees=("mona",)))
    assert sent_json(route) == {"milestone": None, "assignees": ["mona"]}
    assert issue.milestone is None


def test_update_issue_with_nothing_to_change_reads_instead(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    patch = api.patch(f"{ISSUES}/7").respond(200, json=issue_json(7))
    get = api.get(f"{ISSUES}/7").respond(200, json=issue_json(7))
    gh.update_issue(7, IssueChanges())
    assert not patch.called
    assert get.call_count == 1


def test_get_issue_refuses_a_pull_request(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    api.get(f"{ISSUES}/5").respond(200, json=issue_json(5, pull_request={"url": "x"}))
    with pytest.raises(PlatformRejected, match="pull request"):
        gh.get_issue(5)


def test_add_comment_and_sub_issue_bodies(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    comment = api.post(f"{ISSUES}/7/comments").respond(201, json={"id": 1, "body": "hi"})
    sub = api.post(f"{ISSUES}/7/sub_issues").respond(201, json=issue_json(7))
    gh.add_comment(7, "hi")
    gh.add_sub_issue(7, remote_issue(9))
    assert sent_json(comment) == {"body": "hi"}
    assert sent_json(sub) == {"sub_issue_id": 1009}


# -- listing ------------------------------------------------------------------------------------


def paged_handler(pages: list[list[dict[str, Any]]], etag: str = 'W/"page1"') -> Callable[[httpx.Request], Any]:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {"ETag": f'W/"page{page}"'} if page > 1 else {"ETag": etag}
        if page < len(pages):
            headers["Link"] = (
                f'<{API}{ISSUES}?state=all&per_page=2&page={page + 1}>; rel="next", '
                f'<{API}{ISSUES}?state=all&per_page=2&page={len(pages)}>; rel="last"'
            )
        return httpx.Response(200, json=pages[page - 1], headers=headers)

    return handler


def test_list_issues_since_follows_link_and_skips_pull_requests(api: respx.MockRouter) -> None:
    pages = [
        [issue_json(1), issue_json(2, pull_request={"url": "pr"})],
        [issue_json(3), issue_json(4)],
        [issue_json(5, pull_request={"url": "pr"})],
    ]
    route = api.get(ISSUES).mock(side_effect=paged_handler(pages))
    gh = GitHubPlatform.connect(TOKEN, "octo-org/shop")
    gh.per_page = 2
    since = datetime(2024, 5, 1, 14, 0, 30, 999, tzinfo=timezone(timedelta(hours=2)))
    listing = gh.list_issues_since(since, 'W/"old"')
    gh.close()

    assert [issue.number for issue in listing.issues] == [1, 3, 4]
    assert listing.requests == 3
    assert listing.etag == 'W/"page1"'
    assert listing.not_modified is False
    first = route.calls[0].request
    assert dict(first.url.params) == {
        "state": "all",
        "sort": "updated",
        "direction": "asc",
        "per_page": "2",
        "since": "2024-05-01T12:00:30Z",
    }
    assert first.headers["if-none-match"] == 'W/"old"'
    assert "if-none-match" not in route.calls[1].request.headers
    assert route.calls[2].request.url.params["page"] == "3"


def test_list_issues_since_without_since_or_etag(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.get(ISSUES).respond(200, json=[issue_json(1)], headers={"ETag": '"e1"'})
    listing = gh.list_issues_since(None, None)
    request = route.calls.last.request
    assert "since" not in request.url.params
    assert "if-none-match" not in request.headers
    assert request.url.params["per_page"] == "100"
    assert (listing.etag, listing.requests, len(listing.issues)) == ('"e1"', 1, 1)


def test_list_issues_since_naive_datetime_is_utc(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.get(ISSUES).respond(200, json=[])
    gh.list_issues_since(datetime(2024, 1, 2, 3, 4, 5), None)
    assert route.calls.last.request.url.params["since"] == "2024-01-02T03:04:05Z"


def test_not_modified_is_one_request(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.get(ISSUES).respond(304, headers={"ETag": '"same"', "x-ratelimit-remaining": "4990"})
    listing = gh.list_issues_since(datetime(2024, 5, 1, tzinfo=UTC), '"same"')
    assert listing.not_modified is True
    assert listing.issues == []
    assert listing.etag == '"same"'
    assert listing.requests == 1
    assert route.call_count == 1
    assert route.calls.last.request.headers["if-none-match"] == '"same"'


def test_next_link_to_another_host_is_not_followed(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    api.get(ISSUES).respond(200, json=[], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'})
    with pytest.raises(PlatformRejected, match="next-page link"):
        gh.list_issues_since(None, None)
    assert len(api.calls) == 1


# -- milestones ---------------------------------------------------------------------------------


def test_list_milestones_reads_every_page(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2":
            return httpx.Response(200, json=[milestone_json(2, state="closed", due_on=None)])
        link = f'<{API}/repos/octo-org/shop/milestones?state=all&page=2>; rel="next"'
        return httpx.Response(200, json=[milestone_json(1)], headers={"Link": link})

    route = api.get("/repos/octo-org/shop/milestones").mock(side_effect=handler)
    milestones = gh.list_milestones()
    assert [(m.number, m.state, m.due_on) for m in milestones] == [
        (1, "open", datetime(2024, 6, 30, 7, tzinfo=UTC)),
        (2, "closed", None),
    ]
    assert milestones[0].description == ""
    assert route.calls[0].request.url.params["state"] == "all"
    assert route.call_count == 2


def test_create_and_update_milestone_bodies(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    create = api.post("/repos/octo-org/shop/milestones").respond(201, json=milestone_json(4))
    update = api.patch("/repos/octo-org/shop/milestones/4").respond(200, json=milestone_json(4, state="closed"))
    read = api.get("/repos/octo-org/shop/milestones/4").respond(200, json=milestone_json(4))
    due = datetime(2024, 6, 30, 9, tzinfo=timezone(timedelta(hours=2)))
    assert gh.create_milestone("v4", "Fourth", due).number == 4
    assert sent_json(create) == {"title": "v4", "description": "Fourth", "due_on": "2024-06-30T07:00:00Z"}
    gh.create_milestone("v4", "", None)
    assert sent_json(create) == {"title": "v4", "description": ""}
    assert gh.update_milestone(4, state="closed").state == "closed"
    assert sent_json(update) == {"state": "closed"}
    gh.update_milestone(4)
    assert update.call_count == 1
    assert read.call_count == 1


# -- errors -------------------------------------------------------------------------------------

RESET_IN = 120


class ErrorCase(NamedTuple):
    """One failed answer: its status, body and headers (``"RESET"`` = now + RESET_IN), and what it maps to."""

    id: str
    status: int
    body: dict[str, Any] | str | None
    headers: dict[str, str]
    expected: type[PlatformError]
    wait: float | None = None

    def answer(self) -> httpx.Response:
        headers = {k: str(int(time.time()) + RESET_IN) if v == "RESET" else v for k, v in self.headers.items()}
        if isinstance(self.body, str):
            return httpx.Response(self.status, text=self.body, headers=headers)
        return httpx.Response(self.status, json=self.body, headers=headers)


SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
PRIMARY_HEADERS = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "RESET"}
VALIDATION = {"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "already_exists"}]}
ERROR_CASES = [
    ErrorCase("429-retry-after", 429, {"message": "Too many"}, {"Retry-After": "30"}, RateLimited, 30.0),
    ErrorCase("429-bare", 429, None, {}, RateLimited, 60.0),
    ErrorCase("403-primary", 403, {"message": "API rate limit exceeded"}, PRIMARY_HEADERS, RateLimited, RESET_IN),
    ErrorCase("403-secondary", 403, {"message": SECONDARY}, {}, RateLimited, 60.0),
    ErrorCase("403-retry-after", 403, {"message": "Slow down"}, {"Retry-After": "7"}, RateLimited, 7.0),
    ErrorCase("401", 401, {"message": "Bad credentials"}, {}, AuthenticationFailed),
    ErrorCase("403-forbidden", 403, {"message": "Resource not accessible by integration"}, {}, AuthenticationFailed),
    ErrorCase("404", 404, {"message": "Not Found"}, {}, PlatformRejected),
    ErrorCase("410", 410, {"message": "Issues are disabled"}, {}, PlatformRejected),
    ErrorCase("422", 422, VALIDATION, {}, PlatformRejected),
    ErrorCase("500", 500, {"message": "Server Error"}, {}, PlatformUnavailable),
    ErrorCase("502", 502, "<html>bad gateway</html>", {}, PlatformUnavailable),
    ErrorCase("503", 503, None, {}, PlatformUnavailable),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.id for case in ERROR_CASES])
def test_http_errors_map_to_platform_errors(api: respx.MockRouter, gh: GitHubPlatform, case: ErrorCase) -> None:
    api.post(ISSUES).mock(side_effect=lambda request: case.answer())
    with pytest.raises(PlatformError) as caught:
        gh.create_issue(IssueChanges(title="x"))
    error = caught.value
    assert type(error) is case.expected
    assert error.status == case.status
    assert str(error).startswith(f"GitHub POST {ISSUES} answered {case.status}")
    if isinstance(error, RateLimited):
        assert case.wait is not None
        assert case.wait - 5 <= error.retry_after <= case.wait + 1
    assert error.retryable is isinstance(error, RateLimited | PlatformUnavailable)


def test_validation_message_names_the_error_codes(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    body = {
        "message": "Validation Failed",
        "errors": [{"resource": "Label", "field": "name", "code": "already_exists"}],
    }
    api.post(ISSUES).respond(422, json=body)
    with pytest.raises(PlatformRejected) as caught:
        gh.create_issue(IssueChanges(title="x"))
    assert str(caught.value) == f"GitHub POST {ISSUES} answered 422: Validation Failed (already_exists)"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("Connection refused"),
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_failures_are_unavailable(
    api: respx.MockRouter, gh: GitHubPlatform, failure: httpx.TransportError
) -> None:
    api.get(f"{ISSUES}/7").mock(side_effect=failure)
    with pytest.raises(PlatformUnavailable) as caught:
        gh.get_issue(7)
    assert caught.value.retryable
    assert caught.value.status is None
    assert str(caught.value).startswith(f"GitHub GET {ISSUES}/7 ")


def test_map_github_error_uses_the_clock_for_reset() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    request = httpx.Request("GET", f"{API}{ISSUES}")

    def failed(status: int, headers: dict[str, str], body: dict[str, Any] | None = None) -> Exception:
        from githubkit.exception import RequestFailed
        from githubkit.response import Response

        raw = httpx.Response(status, json=body or {"message": "x"}, headers=headers, request=request)
        return RequestFailed(Response(raw, Any))

    reset = int(now.timestamp()) + 90
    primary = map_github_error(
        "GET", ISSUES, failed(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}), now=now
    )
    assert isinstance(primary, RateLimited)
    assert primary.retry_after == 90
    past = map_github_error(
        "GET", ISSUES, failed(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}), now=now
    )
    assert isinstance(past, RateLimited)
    assert past.retry_after == 1
    dated = map_github_error("GET", ISSUES, failed(429, {"retry-after": "Wed, 01 May 2024 12:00:45 GMT"}), now=now)
    assert isinstance(dated, RateLimited)
    assert dated.retry_after == 45
    other = map_github_error("GET", ISSUES, ValueError("boom"), now=now)
    assert isinstance(other, PlatformUnavailable)


def test_non_json_success_is_a_platform_error(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    api.get(f"{ISSUES}/7").respond(200, text="<html>login</html>")
    with pytest.raises(PlatformUnavailable, match="not JSON"):
        gh.get_issue(7)
    api.get(f"{ISSUES}/8").respond(200, json={"number": 8})
    with pytest.raises(PlatformError, match="cannot be read"):
        gh.get_issue(8)


# -- rate budget --------------------------------------------------------------------------------


def test_rate_budget_follows_the_last_response(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    assert gh.rate_budget().remaining is None
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4321",
        "x-ratelimit-reset": "1714564800",
        "x-ratelimit-resource": "core",
    }
    api.get(f"{ISSUES}/7").respond(200, json=issue_json(7), headers=headers)
    gh.get_issue(7)
    budget = gh.rate_budget()
    assert (budget.limit, budget.remaining, budget.resource) == (5000, 4321, "core")
    assert budget.reset_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    api.get(f"{ISSUES}/8").respond(
        404, json={"message": "Not Found"}, headers={**headers, "x-ratelimit-remaining": "4320"}
    )
    with pytest.raises(PlatformRejected):
        gh.get_issue(8)
    assert gh.rate_budget().remaining == 4320


# -- Projects v2 --------------------------------------------------------------------------------

STATUS_FIELD = {
    "id": "PVTSSF_status",
    "name": "Status",
    "options": [
        {"id": "opt_todo", "name": "Todo"},
        {"id": "opt_prog", "name": "In Progress"},
        {"id": "opt_done", "name": "Done"},
    ],
}
PROJECT = {
    "id": "PVT_board",
    "number": 4,
    "url": "https://github.com/orgs/octo-org/projects/4",
    "title": "Shop",
    "fields": {"nodes": [{}, {"id": "PVTF_title", "name": "Title"}, STATUS_FIELD]},
}
BOARD = BoardRef(
    id="PVT_board",
    number=4,
    url="https://github.com/orgs/octo-org/projects/4",
    title="Shop",
    status_field_id="PVTSSF_status",
    status_options={"Todo": "opt_todo", "In Progress": "opt_prog", "Done": "opt_done"},
)


GRAPHQL_HEADERS = {"x-ratelimit-resource": "graphql", "x-ratelimit-remaining": "4999"}


def graphql_router(answers: dict[str, list[dict[str, Any]]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answers GraphQL posts by operation name, in order."""

    def handler(request: httpx.Request) -> httpx.Response:
        document = json.loads(request.content)["query"]
        for name, queue in answers.items():
            if f" {name}(" in document:
                return httpx.Response(200, json=queue.pop(0), headers=GRAPHQL_HEADERS)
        raise AssertionError(f"unexpected GraphQL document {document[:60]!r}")

    return handler


def graphql_calls(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


def test_create_board_reads_the_status_field(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.post("/graphql").mock(
        side_effect=graphql_router(
            {
                "RepositoryIds": [{"data": {"repository": {"id": "R_shop", "owner": {"id": "O_octo"}}}}],
                "CreateBoard": [{"data": {"createProjectV2": {"projectV2": PROJECT}}}],
            }
        )
    )
    board = gh.create_board("Shop")
    assert board == BOARD
    first, second = graphql_calls(route)
    assert first["variables"] == {"owner": "octo-org", "name": "shop"}
    assert "createProjectV2" in second["query"]
    assert second["variables"] == {"ownerId": "O_octo", "title": "Shop", "repositoryId": "R_shop"}
    assert gh.rate_budget().resource == "graphql"


def test_get_board_falls_back_from_organization_to_user(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    not_org = {
        "data": {"organization": None},
        "errors": [{"type": "NOT_FOUND", "path": ["organization"], "message": "Could not resolve to an Organization"}],
    }
    route = api.post("/graphql").mock(
        side_effect=graphql_router(
            {"OrganizationBoard": [not_org], "UserBoard": [{"data": {"user": {"projectV2": PROJECT}}}]}
        )
    )
    assert gh.get_board(4) == BOARD
    assert [call["variables"] for call in graphql_calls(route)] == [{"login": "octo-org", "number": 4}] * 2


def test_get_board_unknown_number_is_rejected(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    api.post("/graphql").mock(
        side_effect=graphql_router(
            {
                "OrganizationBoard": [{"data": {"organization": {"projectV2": None}}}],
                "UserBoard": [{"data": {"user": None}, "errors": [{"type": "NOT_FOUND", "message": "no user"}]}],
            }
        )
    )
    with pytest.raises(PlatformRejected, match="no project number 99"):
        gh.get_board(99)


def test_add_to_board_and_set_status(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.post("/graphql").mock(
        side_effect=graphql_router(
            {
                "AddItem": [{"data": {"addProjectV2ItemById": {"item": {"id": "PVTI_1"}}}}],
                "SetStatus": [{"data": {"updateProjectV2ItemFieldValue": {"projectV2Item": {"id": "PVTI_1"}}}}],
            }
        )
    )
    item_id = gh.add_to_board(BOARD, remote_issue(9))
    gh.set_board_status(BOARD, item_id, "in progress")
    add, status = graphql_calls(route)
    assert item_id == "PVTI_1"
    assert add["variables"] == {"projectId": "PVT_board", "contentId": "I_kwDO9"}
    assert "addProjectV2ItemById" in add["query"]
    assert status["variables"] == {
        "projectId": "PVT_board",
        "itemId": "PVTI_1",
        "fieldId": "PVTSSF_status",
        "optionId": "opt_prog",
    }
    assert "updateProjectV2ItemFieldValue" in status["query"]


def test_unknown_status_option_names_the_options(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.post("/graphql").respond(200, json={"data": {}})
    with pytest.raises(PlatformRejected, match="Todo, In Progress, Done"):
        gh.set_board_status(BOARD, "PVTI_1", "Blocked")
    with pytest.raises(PlatformRejected, match="no single-select Status"):
        gh.set_board_status(BoardRef(id="P", number=1, url="", title="T"), "PVTI_1", "Todo")
    assert not route.called


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ([{"type": "FORBIDDEN", "message": "Resource not accessible"}], PlatformRejected),
        ([{"message": "Something went wrong"}], PlatformRejected),
        ([{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}], RateLimited),
        ([{"type": "INSUFFICIENT_SCOPES", "message": "needs project scope"}], AuthenticationFailed),
    ],
)
def test_graphql_errors_map(
    api: respx.MockRouter, gh: GitHubPlatform, errors: list[dict[str, str]], expected: type[PlatformError]
) -> None:
    api.post("/graphql").respond(200, json={"data": None, "errors": errors})
    with pytest.raises(PlatformError) as caught:
        gh.add_to_board(BOARD, remote_issue(9))
    assert type(caught.value) is expected
    assert str(caught.value).startswith("GitHub POST /graphql (AddItem) answered with GraphQL errors: ")
    assert errors[0]["message"] in str(caught.value)


def test_graphql_http_failure_maps_like_rest(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    api.post("/graphql").respond(401, json={"message": "Bad credentials"})
    with pytest.raises(AuthenticationFailed, match=r"GitHub POST /graphql \(AddItem\) answered 401"):
        gh.add_to_board(BOARD, remote_issue(9))


def test_enterprise_server_paths() -> None:
    with respx.mock(base_url="https://ghe.example.com", assert_all_called=True) as router:
        rest = router.get("/api/v3/repos/octo-org/shop/issues/7").respond(200, json=issue_json(7))
        graphql = router.post("/api/graphql").respond(
            200, json={"data": {"addProjectV2ItemById": {"item": {"id": "I"}}}}
        )
        gh = GitHubPlatform.connect(TOKEN, "octo-org/shop", base_url="https://ghe.example.com/api/v3")
        gh.get_issue(7)
        assert gh.add_to_board(BOARD, remote_issue(9)) == "I"
        gh.close()
    assert rest.called
    assert graphql.called


# -- the injected client --------------------------------------------------------------------------


def test_injected_client_with_a_mock_transport() -> None:
    from githubkit import GitHub

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=issue_json(7))

    client: GitHub[Any] = GitHub(TOKEN, transport=httpx.MockTransport(handler), http_cache=False, auto_retry=False)
    gh = GitHubPlatform(client, "octo-org", "shop", per_page=50)
    assert gh.get_issue(7).number == 7
    assert seen[0].url.path == f"{ISSUES}/7"
    gh.close()
    with pytest.raises(InvalidInput):
        GitHubPlatform(client, "octo-org", "shop", per_page=101)


def test_no_automatic_retry_on_server_errors(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    route = api.get(f"{ISSUES}/7").respond(502)
    with pytest.raises(PlatformUnavailable):
        gh.get_issue(7)
    assert route.call_count == 1


# -- secrecy ------------------------------------------------------------------------------------


def _every_failure() -> list[Callable[[httpx.Request], httpx.Response]]:
    def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
        def handler(request: httpx.Request) -> httpx.Response:
            raise exc

        return handler

    def answering(case: ErrorCase) -> Callable[[httpx.Request], httpx.Response]:
        return lambda request: case.answer()

    answers = [answering(case) for case in ERROR_CASES]
    answers += [
        raising(httpx.ConnectTimeout("timed out")),
        raising(httpx.ConnectError("Connection refused")),
        raising(httpx.ReadError("Connection reset by peer")),
        lambda request: httpx.Response(200, json={"errors": [{"type": "FORBIDDEN", "message": "nope"}]}),
        lambda request: httpx.Response(200, text="not json"),
    ]
    return answers


def test_the_token_never_shows(api: respx.MockRouter, gh: GitHubPlatform) -> None:
    assert TOKEN not in repr(gh)
    assert TOKEN not in str(vars(gh).get("repository"))
    failures = _every_failure()
    caught: list[BaseException] = []
    for failure in failures:
        api.routes.clear()
        api.route().mock(side_effect=failure)
        for call in (
            lambda: gh.create_issue(IssueChanges(title="x")),
            lambda: gh.list_issues_since(None, '"e"'),
            lambda: gh.add_to_board(BOARD, remote_issue(9)),
        ):
            with pytest.raises(PlatformError) as failed:
                call()
            caught.append(failed.value)
    assert len(caught) == 3 * len(failures)
    kinds = {type(error) for error in caught}
    assert {RateLimited, AuthenticationFailed, PlatformRejected, PlatformUnavailable} <= kinds
    for error in caught:
        shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
        assert TOKEN not in shown
        assert "authorization" not in shown.lower()


# -- round trip against the stateful fake ---------------------------------------------------------


@pytest.fixture
def fake() -> FakeGitHub:
    return FakeGitHub("octo-org", "shop")


@pytest.fixture
def on_fake(fake: FakeGitHub) -> Iterator[GitHubPlatform]:
    platform = GitHubPlatform.connect(TOKEN, "octo-org/shop", transport=fake.transport())
    yield platform
    platform.close()


def test_round_trip_against_the_fake(fake: FakeGitHub, on_fake: GitHubPlatform) -> None:
    gh = on_fake
    milestone = gh.create_milestone("v1", "First", datetime(2030, 1, 1, tzinfo=UTC))
    created = gh.create_issue(
        IssueChanges(
            title="Cart", body="Add a cart", labels=("bug", "ui"), assignees=("octocat",), milestone=milestone.number
        )
    )
    assert gh.get_issue(created.number) == created
    assert (created.labels, created.milestone, created.state) == (("bug", "ui"), milestone.number, "open")

    first = gh.list_issues_since(None, None)
    assert [issue.number for issue in first.issues] == [created.number]
    assert first.etag
    unchanged = gh.list_issues_since(None, first.etag)
    assert (unchanged.not_modified, unchanged.requests, unchanged.issues) == (True, 1, [])

    closed = gh.update_issue(created.number, IssueChanges(state="closed", state_reason="not_planned", milestone=None))
    assert (closed.state, closed.state_reason, closed.milestone) == ("closed", "not_planned", None)
    changed = gh.list_issues_since(created.updated_at, first.etag)
    assert not changed.not_modified
    assert [issue.state for issue in changed.issues] == ["closed"]

    child = gh.create_issue(IssueChanges(title="Cart button"))
    gh.add_sub_issue(created.number, child)
    assert fake.sub_issues[created.number] == [child.number]
    gh.add_comment(created.number, "Synced")
    assert fake.comments[created.number][-1]["body"] == "Synced"

    assert gh.update_milestone(milestone.number, state="closed").state == "closed"
    assert [(m.title, m.state) for m in gh.list_milestones()] == [("v1", "closed")]
    with pytest.raises(PlatformRejected, match="already_exists"):
        gh.create_milestone("v1", "again", None)

    board = gh.create_board("Shop")
    assert "In Progress" in board.status_options
    assert gh.get_board(board.number) == board
    item = gh.add_to_board(board, child)
    gh.set_board_status(board, item, "in progress")
    assert fake.project_status(child.number, board.number) == "In Progress"

    budget = gh.rate_budget()
    assert budget.limit is not None
    assert budget.remaining is not None
    assert budget.remaining < budget.limit


def test_pagination_against_the_fake(fake: FakeGitHub) -> None:
    from githubkit import GitHub

    client: GitHub[Any] = GitHub(TOKEN, transport=fake.transport(), http_cache=False, auto_retry=False)
    gh = GitHubPlatform(client, "octo-org", "shop", per_page=2)
    numbers = [gh.create_issue(IssueChanges(title=f"Issue {n}")).number for n in range(5)]
    listing = gh.list_issues_since(None, None)
    assert [issue.number for issue in listing.issues] == numbers
    assert listing.requests == 3


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("429", RateLimited),
        ("secondary", RateLimited),
        ("primary", RateLimited),
        ("500", PlatformUnavailable),
        ("502", PlatformUnavailable),
        ("503", PlatformUnavailable),
        ("timeout", PlatformUnavailable),
        ("drop_before", PlatformUnavailable),
    ],
)
def test_faults_of_the_fake(
    fake: FakeGitHub, on_fake: GitHubPlatform, fault: str, expected: type[PlatformError]
) -> None:
    fake.inject(fault, method="POST", retry_after=30)
    with pytest.raises(PlatformError) as caught:
        on_fake.create_issue(IssueChanges(title="x"))
    assert type(caught.value) is expected
    if isinstance(caught.value, RateLimited):
        assert 1 <= caught.value.retry_after <= 31
    assert TOKEN not in str(caught.value)


def test_bad_credentials_on_the_fake(fake: FakeGitHub, on_fake: GitHubPlatform) -> None:
    fake.credentials_valid = False
    with pytest.raises(AuthenticationFailed, match="Bad credentials"):
        on_fake.get_issue(1)
