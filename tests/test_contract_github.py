"""Every REST request the GitHub adapter sends is valid for GitHub's official API description.

A Prism mock serves the description (from ``../shared``) on 127.0.0.1 and validates each request:
an invalid one gets 422 or an ``sl-violations`` header entry located in the request. Its answers
are the description's static examples, so these tests check requests, never answers' content.
GraphQL (Projects v2) is not covered: the description has no schema for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime

import httpx
import pytest

from prism_mock import Recorder, private_cache, request_violations, served
from taskorch.errors import PlatformError
from taskorch.platforms.base import IssueChanges
from taskorch.platforms.github import GitHubPlatform, issue_from_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = private_cache(tmp_path_factory.mktemp("contract-cache"), shared_files=["api.github.com.json"])
    with served("github", env, title="GitHub") as url:
        yield url


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def github(prism_url: str, recorder: Recorder) -> Iterator[GitHubPlatform]:
    platform = GitHubPlatform.connect("test-token", "octo-org/shop", base_url=prism_url, transport=recorder)
    yield platform
    platform.close()


CHILD = issue_from_json(
    {"id": 42, "node_id": "I_42", "number": 8, "title": "Child", "state": "open", "updated_at": "2024-05-01T10:00:00Z"}
)
WHEN = datetime(2024, 6, 30, 7, 0, tzinfo=UTC)
Operation = Callable[[GitHubPlatform], object]

# (name, the call, the (method, path pattern) it must send)
OPERATIONS: list[tuple[str, Operation, tuple[str, str]]] = [
    (
        "create_issue",
        lambda gh: gh.create_issue(
            IssueChanges(title="Add cart", body="Details", labels=("bug", "ui"), assignees=("octocat",), milestone=1)
        ),
        ("POST", r"/repos/octo-org/shop/issues"),
    ),
    (
        "create_issue_cleared_milestone",
        lambda gh: gh.create_issue(IssueChanges(title="No milestone", milestone=None, labels=())),
        ("POST", r"/repos/octo-org/shop/issues"),
    ),
    (
        "create_issue_closed",
        lambda gh: gh.create_issue(IssueChanges(title="Done already", state="closed", state_reason="completed")),
        ("PATCH", r"/repos/octo-org/shop/issues/\d+"),
    ),
    (
        "update_issue_all_fields",
        lambda gh: gh.update_issue(
            7,
            IssueChanges(
                title="New title",
                body="New body",
                state="closed",
                state_reason="not_planned",
                labels=("bug",),
                assignees=("octocat", "hubot"),
                milestone=2,
            ),
        ),
        ("PATCH", r"/repos/octo-org/shop/issues/7"),
    ),
    (
        "update_issue_clear_milestone_reopen",
        lambda gh: gh.update_issue(7, IssueChanges(state="open", state_reason="reopened", milestone=None)),
        ("PATCH", r"/repos/octo-org/shop/issues/7"),
    ),
    (
        "update_issue_null_state_reason",
        lambda gh: gh.update_issue(7, IssueChanges(state="open", state_reason=None, assignees=(), labels=())),
        ("PATCH", r"/repos/octo-org/shop/issues/7"),
    ),
    ("get_issue", lambda gh: gh.get_issue(7), ("GET", r"/repos/octo-org/shop/issues/7")),
    (
        "list_issues_since_conditional",
        lambda gh: gh.list_issues_since(datetime(2024, 5, 1, 12, 30, tzinfo=UTC), 'W/"abc"'),
        ("GET", r"/repos/octo-org/shop/issues"),
    ),
    ("list_issues_everything", lambda gh: gh.list_issues_since(None, None), ("GET", r"/repos/octo-org/shop/issues")),
    (
        "add_comment",
        lambda gh: gh.add_comment(7, "Synced by taskorch"),
        ("POST", r"/repos/octo-org/shop/issues/7/comments"),
    ),
    ("add_sub_issue", lambda gh: gh.add_sub_issue(7, CHILD), ("POST", r"/repos/octo-org/shop/issues/7/sub_issues")),
    (
        "add_dependency",
        lambda gh: gh.add_dependency(7, CHILD),
        ("POST", r"/repos/octo-org/shop/issues/7/dependencies/blocked_by"),
    ),
    (
        "remove_dependency",
        lambda gh: gh.remove_dependency(7, CHILD),
        ("DELETE", r"/repos/octo-org/shop/issues/7/dependencies/blocked_by/42"),
    ),
    (
        "list_dependencies",
        lambda gh: gh.list_dependencies(7),
        ("GET", r"/repos/octo-org/shop/issues/7/dependencies/blocked_by"),
    ),
    ("list_milestones", lambda gh: gh.list_milestones(), ("GET", r"/repos/octo-org/shop/milestones")),
    (
        "create_milestone_due",
        lambda gh: gh.create_milestone("v1.0", "First release", WHEN),
        ("POST", r"/repos/octo-org/shop/milestones"),
    ),
    (
        "create_milestone_undated",
        lambda gh: gh.create_milestone("v2.0", "", None),
        ("POST", r"/repos/octo-org/shop/milestones"),
    ),
    (
        "update_milestone_all_fields",
        lambda gh: gh.update_milestone(1, title="v1.1", description="Patch", due_on=WHEN, state="closed"),
        ("PATCH", r"/repos/octo-org/shop/milestones/1"),
    ),
    ("update_milestone_nothing", lambda gh: gh.update_milestone(1), ("GET", r"/repos/octo-org/shop/milestones/1")),
    (
        "get_release_by_tag",
        lambda gh: gh.get_release_by_tag("v1.0.0"),
        ("GET", r"/repos/octo-org/shop/releases/tags/v1\.0\.0"),
    ),
    (
        "create_release",
        lambda gh: gh.create_release(
            "v1.0.0", name="v1.0.0", body="## Added\n\n- Cart", target_commitish="a" * 40, prerelease=False
        ),
        ("POST", r"/repos/octo-org/shop/releases"),
    ),
    (
        "create_prerelease_without_target",
        lambda gh: gh.create_release(
            "v2.0.0-rc.1", name="v2.0.0-rc.1", body="", target_commitish=None, prerelease=True
        ),
        ("POST", r"/repos/octo-org/shop/releases"),
    ),
    (
        "update_release",
        lambda gh: gh.update_release(1, name="v1.0.0", body="Updated notes"),
        ("PATCH", r"/repos/octo-org/shop/releases/1"),
    ),
]


@pytest.mark.parametrize(("name", "operation", "expected"), OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_request_is_valid_for_githubs_description(
    github: GitHubPlatform, recorder: Recorder, name: str, operation: Operation, expected: tuple[str, str]
) -> None:
    recorder.exchanges.clear()
    # The answers are static examples (an example issue may even be a pull request), so a failure
    # to interpret them is not what is tested here; every request is.
    with suppress(PlatformError):
        operation(github)
    assert recorder.exchanges, f"{name} sent no request"
    method, pattern = expected
    assert any(x.method == method and re.fullmatch(pattern, x.path) for x in recorder.exchanges), recorder.exchanges
    for exchange in recorder.exchanges:
        assert exchange.status != 422, f"{exchange.method} {exchange.path} rejected: {exchange.violations}"
        assert not exchange.violations, f"{exchange.method} {exchange.path}: {exchange.violations}"
        assert exchange.status < 400, f"{exchange.method} {exchange.path} answered {exchange.status}"
    # every answer went through the rate-budget bookkeeping without failing
    github.rate_budget()


def test_the_mock_does_flag_an_invalid_request(prism_url: str) -> None:
    """The check above can fail: a milestone without its required title is flagged."""
    response = httpx.post(f"{prism_url}/repos/octo-org/shop/milestones", json={"description": "no title"})
    assert response.status_code == 422
    assert request_violations(response)
