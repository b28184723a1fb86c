"""Every kind of request the Jira adapter sends is valid for Atlassian's official descriptions.

Two Prism mocks (from ``../shared``) serve the Jira Cloud platform API v3 and the Jira Software
agile API 1.0 on 127.0.0.1 and validate each request: an invalid one gets 422 or an
``sl-violations`` header entry located in the request. Prism answers with the descriptions'
static examples, which a create-then-read flow cannot use, so the adapter runs its real flows
against the Jira stand-in while a tee sends each request to Prism as well: every request of the
flows is checked, and the stand-in's answers drive the adapter. ``POST /rest/api/3/filter`` is
not in the trimmed description Prism serves (it answers 404 without checking); the stand-in's
own validation covers it. The agile description declares only OAuth 2.0 on its operations
(``basicAuth`` is defined but used by none), so the flows run with a bearer token, the form an
OAuth 2.0 app uses; the basic-auth header is checked in test_jira_adapter.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx
import pytest

from prism_mock import Exchange, private_cache, request_violations, served
from standins.jira import FakeJira, ManualClock, Workflow
from taskorch.platforms.base import IssueChanges
from taskorch.platforms.jira import JiraPlatform

pytestmark = pytest.mark.slow

MARKER = "<!-- taskorch:key=0123456789abcdef0123456789abcdef -->"
#: Paths the trimmed platform description does not serve (Prism answers 404 without a check).
NOT_SERVED = {("POST", "/rest/api/3/filter")}


@dataclass
class Tee(httpx.BaseTransport):
    """Answers from the stand-in; sends a copy of each request to the Prism mock of its API
    (agile paths to the agile one) and keeps what Prism said of it."""

    fake: FakeJira
    platform_url: str
    agile_url: str
    exchanges: list[Exchange] = field(default_factory=list)
    inner: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        base = self.agile_url if request.url.path.startswith("/rest/agile/") else self.platform_url
        copy = httpx.Request(
            request.method,
            httpx.URL(base).join(request.url.raw_path.decode()),
            headers=[(k, v) for k, v in request.headers.items() if k.lower() not in ("host", "content-length")],
            content=content,
        )
        checked = self.inner.handle_request(copy)
        checked.read()
        self.exchanges.append(
            Exchange(request.method, request.url.path, checked.status_code, request_violations(checked))
        )
        return self.fake.handle(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def prism_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    env = private_cache(tmp_path_factory.mktemp("contract-cache"))
    with served("jira", env, title="Jira") as platform_url, served("jira-agile", env, title="Jira Software") as agile:
        yield platform_url, agile


def _run_every_flow(jira: JiraPlatform, fake: FakeJira) -> None:
    """Every adapter method, so that every kind of request it sends is made at least once."""
    version = jira.create_milestone("1.0", "First", datetime(2025, 2, 1, tzinfo=UTC))
    jira.list_milestones()
    dev = fake.add_user("Dev")["accountId"]
    parent = jira.create_issue(
        IssueChanges(
            title="Parent",
            body=f"# Plan\n\n- [ ] one\n\n```mermaid\ngraph TD\n```\n\n{MARKER}",
            labels=("needs review", "type: feature", "status: in progress"),
            assignees=(dev,),
            milestone=version.number,
            state="open",
            priority="high",
            due_date=date(2025, 3, 1),
            estimate_seconds=5400,
        )
    )
    child = jira.create_issue(IssueChanges(title="Child", body=MARKER, parent=parent.number))
    other = jira.create_issue(IssueChanges(title="Other", body=MARKER))
    jira.get_issue(parent.number)
    jira.update_issue(
        parent.number,
        IssueChanges(
            title="Parent 2",
            body=f"New\n\n{MARKER}",
            labels=("status: blocked",),
            assignees=(),
            milestone=None,
            priority="critical",
            due_date=None,
            estimate_seconds=1800,
        ),
    )
    jira.update_issue(parent.number, IssueChanges(state="closed", state_reason="completed", labels=()))
    jira.update_issue(other.number, IssueChanges(state="closed", state_reason="not_planned"))
    jira.update_issue(child.number, IssueChanges(title="Child 2"))  # no move: PUT ?returnIssue=true
    jira.list_issues_since(None, None)
    state = jira.list_issues_since(datetime(2025, 1, 6, 9, 0, tzinfo=UTC), None).etag
    jira.list_issues_since(datetime(2025, 1, 6, 9, 0, tzinfo=UTC), state)  # the pull state carried
    jira.add_comment(child.number, "Progress **note**")
    jira.log_work(child.number, 3600, "Worked")
    jira.add_sub_issue(parent.number, child)
    jira.add_sub_issue(other.number, jira.get_issue(parent.number))  # refused, then a Relates link
    jira.add_dependency(child.number, other)
    jira.list_dependencies(child.number)
    jira.remove_dependency(child.number, other)
    jira.update_milestone(version.number, title="1.0.0", description="Notes", state="closed")
    jira.update_milestone(version.number, state="open", due_on=datetime(2025, 3, 1, tzinfo=UTC))
    board = jira.create_board("Sprints", board_type="scrum")
    jira.create_board("Sprints", board_type="scrum")
    sprint = jira.create_sprint(board.number, "Sprint 1", goal="Ship")
    jira.start_sprint(sprint.id)
    jira.add_to_board(board, child)  # a sub-task: it moves with its parent
    jira.add_to_board(board, other)
    jira.set_board_status(board, "SHOP-2", "In Progress")
    jira.close_sprint(sprint.id)


def _template(path: str) -> str:
    """``/rest/api/3/issue/SHOP-1/comment`` -> ``/rest/api/3/issue/{id}/comment``."""
    prefix, rest = re.match(r"(/rest/(?:api/3|agile/1\.0))(.*)", path).groups()  # type: ignore[union-attr]
    return prefix + re.sub(r"/(SHOP-\d+|\d+)(?=/|$)", "/{id}", rest)


def test_every_request_is_valid_for_atlassians_descriptions(prism_urls: tuple[str, str]) -> None:
    fake = FakeJira(clock=ManualClock(datetime(2025, 1, 6, 9, 0, tzinfo=UTC)), workflow=Workflow.with_blocked())
    tee = Tee(fake, *prism_urls)
    jira = JiraPlatform.connect("test-token", "SHOP", site_url=fake.site_url, transport=tee)
    try:
        _run_every_flow(jira, fake)
    finally:
        jira.close()
    assert not fake.internal_errors
    kinds = {(x.method, _template(x.path)) for x in tee.exchanges}
    for exchange in tee.exchanges:
        where = f"{exchange.method} {exchange.path}"
        if (exchange.method, exchange.path) in NOT_SERVED:
            continue
        assert exchange.status != 422, f"{where} rejected: {exchange.violations}"
        assert not exchange.violations, f"{where}: {exchange.violations}"
        assert exchange.status < 400, f"{where} answered {exchange.status}"
    expected = {
        ("POST", "/rest/api/3/issue"),
        ("GET", "/rest/api/3/issue/{id}"),
        ("PUT", "/rest/api/3/issue/{id}"),
        ("GET", "/rest/api/3/issue/{id}/transitions"),
        ("POST", "/rest/api/3/issue/{id}/transitions"),
        ("GET", "/rest/api/3/project/SHOP/statuses"),
        ("POST", "/rest/api/3/search/jql"),
        ("GET", "/rest/api/3/myself"),
        ("POST", "/rest/api/3/issue/{id}/comment"),
        ("POST", "/rest/api/3/issue/{id}/worklog"),
        ("POST", "/rest/api/3/issueLink"),
        ("DELETE", "/rest/api/3/issueLink/{id}"),
        ("GET", "/rest/api/3/project/SHOP/versions"),
        ("GET", "/rest/api/3/project/SHOP"),
        ("POST", "/rest/api/3/version"),
        ("PUT", "/rest/api/3/version/{id}"),
        ("POST", "/rest/api/3/filter"),
        ("GET", "/rest/agile/1.0/board"),
        ("POST", "/rest/agile/1.0/board"),
        ("GET", "/rest/agile/1.0/board/{id}"),
        ("GET", "/rest/agile/1.0/board/{id}/configuration"),
        ("GET", "/rest/agile/1.0/board/{id}/sprint"),
        ("POST", "/rest/agile/1.0/sprint"),
        ("POST", "/rest/agile/1.0/sprint/{id}"),
        ("POST", "/rest/agile/1.0/sprint/{id}/issue"),
    }
    assert expected <= kinds, sorted(expected - kinds)


def test_the_mock_does_flag_an_invalid_request(prism_urls: tuple[str, str]) -> None:
    response = httpx.post(
        f"{prism_urls[0]}/rest/api/3/issueLink", json={"type": "Blocks"}, headers={"Authorization": "Bearer t"}
    )
    assert response.status_code == 422 or request_violations(response)
