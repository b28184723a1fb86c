"""The Jira Cloud adapter against the Jira stand-in: every Platform method, the workflow walk,
the minute-precision watermark, the idempotency property, labels without spaces, links,
versions, boards and sprints, and the errors each failure becomes. Every exchange is checked
against Atlassian's OpenAPI descriptions when ``../shared/specs`` has them."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from fakes.openapi import SpecValidator
from standins.jira import FakeJira, ManualClock, Workflow
from taskorch.config import Settings
from taskorch.errors import AuthenticationFailed, InvalidInput, PlatformRejected, PlatformUnavailable, RateLimited
from taskorch.platforms.base import UNSET, IssueChanges, Platform, RemoteIssue, parse_repository
from taskorch.platforms.jira import PROPERTY_KEY, JiraPlatform, jira_label
from taskorch.platforms.registry import platform_spec, resolve_repository
from taskorch.sync.template import find_marker, strip_marker

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
KEY = "0123456789abcdef0123456789abcdef"
MARKER = f"<!-- taskorch:key={KEY} -->"
TOKEN = "secret-api-token-123"


class _Specs:
    """Atlassian's two descriptions behind the stand-in's one ``check``."""

    def __init__(self, platform: SpecValidator, agile: SpecValidator) -> None:
        self.platform, self.agile = platform, agile

    def check(self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None) -> Any:
        target = path or request.url.path
        validator = self.agile if target.startswith("/rest/agile/") else self.platform
        return validator.check(request, response, path=target)

    def violations(self) -> list[str]:
        return [str(v) for v in (*self.platform.violations, *self.agile.violations)]


@functools.cache
def _master() -> tuple[SpecValidator, SpecValidator] | None:
    files = (SPECS / "jira-cloud-platform.v3.json", SPECS / "jira-software-cloud.v3.json")
    if not all(f.is_file() for f in files):
        return None  # unchecked without ../shared: the behaviour tests still run
    return SpecValidator.from_file(files[0]), SpecValidator.from_file(files[1])


def make_fake(clock: ManualClock, **options: Any) -> tuple[FakeJira, _Specs | None]:
    master = _master()
    specs = _Specs(master[0].fork(), master[1].fork()) if master else None
    return FakeJira(clock=clock, validator=specs, **options), specs


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeJira]:
    made, specs = make_fake(clock, workflow=Workflow.with_blocked())
    yield made
    assert not made.internal_errors
    if specs is not None:
        assert specs.violations() == []


def connect(fake: FakeJira, clock: ManualClock | None = None, **options: Any) -> JiraPlatform:
    return JiraPlatform.connect(
        TOKEN,
        "SHOP",
        site_url=fake.site_url,
        email="bot@example.com",
        transport=fake.transport(),
        clock=clock,
        **options,
    )


@pytest.fixture
def jira(fake: FakeJira, clock: ManualClock) -> Iterator[JiraPlatform]:
    adapter = connect(fake, clock)
    yield adapter
    adapter.close()


def new(jira: JiraPlatform, title: str = "Add rate limiting", **changes: Any) -> RemoteIssue:
    changes.setdefault("body", f"Limit the API.\n\n{MARKER}")
    return jira.create_issue(IssueChanges(title=title, **changes))


def mutations(fake: FakeJira) -> list[tuple[str, str]]:
    """The requests that change something (a search is a POST that changes nothing)."""
    return [(r.method, r.path) for r in fake.mutations() if not r.path.endswith("/search/jql")]


# -- connecting ---------------------------------------------------------------------------------


def test_it_is_a_platform_with_jira_capabilities(jira: JiraPlatform) -> None:
    assert isinstance(jira, Platform)
    assert jira.name == "jira" and jira.repository == "SHOP"
    caps = jira.capabilities
    assert caps.sub_issues and caps.issue_dependencies and caps.boards and caps.iterations and caps.milestones
    assert not caps.releases and not caps.conditional_requests
    assert TOKEN not in repr(jira)


def test_basic_auth_with_an_email_and_bearer_without() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"timeZone": "UTC"})

    for email in ("bot@example.com", None):
        adapter = JiraPlatform.connect(
            TOKEN, "SHOP", site_url="https://shop.atlassian.net", email=email, transport=httpx.MockTransport(handler)
        )
        adapter.jql_since(START)
        adapter.close()
    assert seen[0] == "Basic " + base64.b64encode(f"bot@example.com:{TOKEN}".encode()).decode()
    assert seen[1] == f"Bearer {TOKEN}"
    with pytest.raises(AuthenticationFailed):
        JiraPlatform.connect("", "SHOP", site_url="https://shop.atlassian.net")
    with pytest.raises(InvalidInput):
        JiraPlatform.connect(TOKEN, "shop-1", site_url="https://shop.atlassian.net")


# -- issues, the marker property and labels -----------------------------------------------------


def test_create_keeps_the_marker_out_of_the_description(fake: FakeJira, jira: JiraPlatform) -> None:
    issue = new(jira, labels=("needs review", "type: feature", "status: in progress"), state="open")
    assert (issue.number, issue.node_id) == (1, "SHOP-1")
    assert issue.id == int(fake.issues[1]["id"])
    assert issue.url == f"{fake.site_url}/browse/SHOP-1"
    stored = fake.issues[1]
    assert "taskorch:key" not in str(stored["description"])
    assert stored["description"]["type"] == "doc"
    assert fake.properties["SHOP-1"][PROPERTY_KEY]["key"] == KEY
    # The marker was sent in the create request itself (atomic with it), not in a second request.
    create = next(r for r in fake.mutations() if r.path.endswith("/issue"))
    assert create.json["properties"][0]["value"]["key"] == KEY
    assert find_marker(issue.body) == KEY and strip_marker(issue.body) == "Limit the API."
    # Labels without spaces in Jira; the status label is a workflow status, never a Jira label.
    assert sorted(stored["labels"]) == ["needs-review", "type:feature"]
    assert fake.status_of(1) == "In Progress"
    assert issue.labels == ("needs review", "status: in progress", "type: feature")


def test_an_unedited_description_reads_back_as_written(jira: JiraPlatform) -> None:
    written = "* star bullet\n* another\n\nsnake_case and 2*3\nsecond line\n\n```mermaid\ngraph TD\n  A-->B\n```"
    issue = new(jira, body=f"{written}\n\n{MARKER}")
    assert strip_marker(jira.get_issue(issue.number).body) == written


def test_a_long_description_is_kept_compressed(fake: FakeJira, jira: JiraPlatform) -> None:
    written = "\n\n".join(f"Paragraph {n} with *some* words_and_more." for n in range(1500))
    new(jira, body=f"{written}\n\n{MARKER}")
    prop = fake.properties["SHOP-1"][PROPERTY_KEY]
    assert "markdown" not in prop and "markdown_z" in prop
    assert strip_marker(jira.get_issue(1).body) == written


def test_the_marker_survives_a_person_editing_the_description(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira)
    fake.edit_issue(1, description="Rewritten in Jira")
    body = jira.get_issue(1).body
    assert find_marker(body) == KEY
    assert strip_marker(body) == "Rewritten in Jira"
    listed = jira.list_issues_since(None, None).issues
    assert [find_marker(i.body) for i in listed] == [KEY]


def test_an_issue_created_in_jira_has_no_marker(fake: FakeJira, jira: JiraPlatform) -> None:
    fake.add_issue("Made by a person", description="Plain words")
    issue = jira.get_issue(1)
    assert issue.body == "Plain words" and find_marker(issue.body) is None


def test_labels_read_back_as_taskorch_spelled_them(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira, labels=("needs review",))
    fake.edit_issue(1, labels=["needs-review", "from-jira"])
    assert jira.get_issue(1).labels == ("from-jira", "needs review")
    jira.update_issue(1, IssueChanges(labels=("needs review", "second  word")))
    assert sorted(fake.issues[1]["labels"]) == ["needs-review", "second-word"]
    assert jira.get_issue(1).labels == ("needs review", "second  word")
    assert jira_label("type:  feature x") == "type:feature-x"


def test_update_changes_fields_and_one_edit_carries_the_property(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira)
    dev = fake.add_user("Dev")["accountId"]
    before = len(fake.mutations())
    issue = jira.update_issue(1, IssueChanges(title="New title", body=f"New **text**\n\n{MARKER}", assignees=(dev,)))
    assert mutations(fake)[before:] == [("PUT", "/rest/api/3/issue/SHOP-1")]
    assert (issue.title, strip_marker(issue.body), issue.assignees) == ("New title", "New **text**", (dev,))
    assert find_marker(issue.body) == KEY
    with pytest.raises(PlatformRejected, match="one assignee"):
        jira.update_issue(1, IssueChanges(assignees=(dev, dev + "x")))
    assert jira.update_issue(1, IssueChanges(assignees=())).assignees == ()


def test_an_edit_is_read_once_before_and_answered_by_the_edit_itself(fake: FakeJira, jira: JiraPlatform) -> None:
    """The read before the edit gives the property to merge into; the edit's answer
    (returnIssue=true) is the result, with the property it wrote: no read afterwards."""
    new(jira, labels=("needs review",))
    before = len(fake.requests)
    issue = jira.update_issue(1, IssueChanges(title="Renamed"))
    sent = [(r.method, r.path, dict(r.query)) for r in fake.requests[before:]]
    assert [(m, p) for m, p, _q in sent] == [("GET", "/rest/api/3/issue/SHOP-1"), ("PUT", "/rest/api/3/issue/SHOP-1")]
    assert sent[1][2].get("returnIssue") == "true"
    assert issue == jira.get_issue(1)  # the marker, the label spelled as sent, the exact updated time
    assert (issue.title, find_marker(issue.body), issue.labels) == ("Renamed", KEY, ("needs review",))
    before = len(fake.requests)
    assert jira.update_issue(1, IssueChanges()) == issue  # nothing to edit: the read alone
    assert [r.method for r in fake.requests[before:]] == ["GET"]


def test_an_edit_answered_without_the_issue_is_read_after() -> None:
    """A 204 to returnIssue=true (a proxy, an older site) is followed by a read."""
    reads: list[str] = []
    issue = {
        "id": "10001",
        "key": "SHOP-1",
        "fields": {
            "summary": "Old",
            "status": {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
            "labels": [],
            "issuetype": {"id": "10", "name": "Task"},
            "updated": "2025-01-06T10:00:00.000+0000",
        },
        "properties": {PROPERTY_KEY: {"key": KEY}},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            issue["fields"]["summary"] = "New"  # type: ignore[index]
            return httpx.Response(204)
        reads.append(request.url.path)
        return httpx.Response(200, json=issue)

    jira = JiraPlatform.connect(
        TOKEN, "SHOP", site_url="https://x.atlassian.net", transport=httpx.MockTransport(handler)
    )
    updated = jira.update_issue(1, IssueChanges(title="New"))
    assert (updated.title, find_marker(updated.body)) == ("New", KEY) and len(reads) == 2


def test_a_title_longer_than_a_summary_reads_back_whole(fake: FakeJira, jira: JiraPlatform) -> None:
    title = "Long " * 60
    issue = new(jira, title.strip())
    assert len(fake.issues[1]["summary"]) == 255 and issue.title == title.strip()
    fake.edit_issue(1, summary="Shortened in Jira")
    assert jira.get_issue(1).title == "Shortened in Jira"


def test_an_update_without_a_status_does_not_move_the_issue(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira)
    fake.transition(1, "In Progress")
    jira.update_issue(1, IssueChanges(title="Renamed"))
    assert fake.status_of(1) == "In Progress"
    # A label change that keeps the status label keeps the status.
    jira.update_issue(1, IssueChanges(labels=("status: in progress", "x")))
    assert fake.status_of(1) == "In Progress"


# -- status through the workflow --------------------------------------------------------------


def test_status_walks_the_workflow_both_ways(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira)
    assert fake.status_of(1) == "To Do"
    issue = jira.update_issue(1, IssueChanges(labels=("status: blocked",)))
    assert fake.status_of(1) == "Blocked" and "status: blocked" in issue.labels
    assert fake.issues[1]["labels"] == []
    # Blocked -> In Progress -> In Review -> Done: no direct step exists.
    issue = jira.update_issue(1, IssueChanges(state="closed", state_reason="completed", labels=()))
    assert fake.status_of(1) == "Done" and (issue.state, issue.state_reason) == ("closed", "completed")
    assert fake.issues[1]["resolution"]["name"] == "Done"
    issue = jira.update_issue(1, IssueChanges(state="open", labels=()))
    assert fake.status_of(1) == "To Do" and issue.state == "open"
    issue = jira.update_issue(1, IssueChanges(state="closed", state_reason="not_planned"))
    assert fake.issues[1]["resolution"]["name"] == "Won't Do"
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")


def test_a_status_changed_in_jira_reads_back(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira)
    fake.transition(1, "In Progress")
    assert jira.get_issue(1).labels == ("status: in progress",)
    fake.transition(1, "In Review")  # another in-progress status
    assert jira.get_issue(1).labels == ("status: in progress",)
    fake.transition(1, "Done")
    assert (jira.get_issue(1).state, jira.get_issue(1).state_reason) == ("closed", "completed")
    fake.edit_issue(1, status="To Do")
    fake.edit_issue(1, status="Done", resolution="Won't Do")
    assert jira.get_issue(1).state_reason == "not_planned"


def test_transitions_are_discovered_once_per_issue_type_and_status(fake: FakeJira, jira: JiraPlatform) -> None:
    for _ in range(2):
        new(jira, labels=("status: in progress",))
    asked = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/transitions")]
    assert len(asked) == 1


def test_no_blocked_status_is_refused_before_anything_moves(clock: ManualClock) -> None:
    fake, _specs = make_fake(clock)  # the simplified workflow: To Do, In Progress, Done
    jira = connect(fake, clock)
    new(jira)
    before = len(fake.mutations())
    with pytest.raises(PlatformRejected) as caught:
        jira.update_issue(1, IssueChanges(title="Still renamed", labels=("status: blocked",)))
    message = str(caught.value)
    assert caught.value.status == 409 and not caught.value.retryable
    assert "'Blocked'" in message and "To Do, In Progress, Done" in message and "status_mapping" in message
    assert fake.status_of(1) == "To Do" and fake.issues[1]["summary"] == "Still renamed"
    assert [m for m in mutations(fake)[before:] if m[1].endswith("/transitions")] == []
    # Mapped to a status the workflow has, the same push goes through and reads back as blocked
    # (noted in the property) while the issue stays there.
    mapped = connect(fake, clock, statuses={"blocked": "In Progress"})
    issue = mapped.update_issue(1, IssueChanges(labels=("status: blocked",)))
    assert fake.status_of(1) == "In Progress" and issue.labels == ("status: blocked",)
    assert mapped.get_issue(1).labels == ("status: blocked",)
    issue = mapped.update_issue(1, IssueChanges(labels=("status: in progress",)))
    assert issue.labels == ("status: in progress",) and "note" not in fake.properties["SHOP-1"][PROPERTY_KEY]
    mapped.update_issue(1, IssueChanges(labels=("status: blocked",)))
    fake.transition(1, "To Do")
    fake.transition(1, "Done")
    assert mapped.get_issue(1).state == "closed"  # moved on in Jira: the note no longer applies


def test_a_status_no_path_reaches_is_refused(clock: ManualClock) -> None:
    fake, _specs = make_fake(clock, workflow=Workflow.without_path())
    jira = connect(fake, clock, statuses={"cancelled": "Archived"})
    new(jira)
    with pytest.raises(PlatformRejected, match="no workflow path"):
        jira.update_issue(1, IssueChanges(state="closed", state_reason="not_planned"))


def test_a_cancelled_task_without_a_resolution_screen_still_reads_as_not_planned() -> None:
    """Real Jira names the fields of a transition's screen; a done transition without the
    resolution on it gets none, and the property notes the cancellation."""
    state: dict[str, Any] = {"status": "To Do", "props": {}, "resolved": None, "puts": []}
    statuses = {
        "To Do": {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
        "Done": {"id": "2", "name": "Done", "statusCategory": {"key": "done"}},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/statuses"):
            return httpx.Response(200, json=[{"id": "10", "statuses": list(statuses.values())}])
        if path.endswith("/transitions") and request.method == "GET":
            return httpx.Response(200, json={"transitions": [{"id": "31", "to": statuses["Done"], "fields": {}}]})
        if path.endswith("/transitions"):
            assert "fields" not in httpx.Response(200, content=request.content).json()
            state["status"], state["resolved"] = "Done", "2025-01-06T10:00:00.000+0000"
            return httpx.Response(204)
        if "/properties/" in path:
            state["props"] = httpx.Response(200, content=request.content).json()
            return httpx.Response(200)
        fields = {
            "summary": "T",
            "status": statuses[state["status"]],
            "resolution": {"name": "Done"} if state["resolved"] else None,
            "resolutiondate": state["resolved"],
            "issuetype": {"id": "10", "name": "Task"},
            "updated": "2025-01-06T10:00:00.000+0000",
        }
        return httpx.Response(
            200, json={"id": "10001", "key": "SHOP-1", "fields": fields, "properties": {PROPERTY_KEY: state["props"]}}
        )

    jira = JiraPlatform.connect(
        TOKEN, "SHOP", site_url="https://x.atlassian.net", transport=httpx.MockTransport(handler)
    )
    issue = jira.update_issue(1, IssueChanges(state="closed", state_reason="not_planned"))
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    assert state["props"]["note"] == {"status": "cancelled", "status_id": "2", "resolved": state["resolved"]}
    state["resolved"] = "2025-02-01T10:00:00.000+0000"  # resolved again by a person since
    assert jira.get_issue(1).state_reason == "completed"


# -- incremental pull ---------------------------------------------------------------------------


def test_minute_precision_in_the_account_zone(clock: ManualClock) -> None:
    fake, _specs = make_fake(clock, time_zone="Asia/Kolkata")  # UTC+05:30
    jira = connect(fake, clock)
    clock.now = datetime(2025, 1, 6, 9, 0, 10, tzinfo=UTC)
    first = new(jira, "first")
    clock.now = datetime(2025, 1, 6, 9, 0, 40, tzinfo=UTC)  # the same minute
    second = new(jira, "second")
    assert first.updated_at < second.updated_at
    listing = jira.list_issues_since(first.updated_at, None)
    assert [i.number for i in listing.issues] == [1, 2]  # the same-minute edit is not skipped
    query = [r.json["jql"] for r in fake.requests if r.path.endswith("/search/jql")][-1]
    assert 'updated >= "2025-01-06 14:30"' in query and query.endswith("ORDER BY updated DESC, key DESC")
    again = jira.list_issues_since(second.updated_at, "ignored-etag")
    assert [i.number for i in again.issues] == [2]  # the earlier one is not read again
    assert again.etag == "jira;project=SHOP;tz=Asia/Kolkata;checked=2025-01-06;max=2" and not again.not_modified
    assert jira.list_issues_since(second.updated_at + timedelta(seconds=1), None).issues == []


def test_listing_follows_next_page_tokens(fake: FakeJira, jira: JiraPlatform, clock: ManualClock) -> None:
    for n in range(120):
        clock.advance(seconds=1)
        fake.add_issue(f"issue {n}")
    listing = jira.list_issues_since(None, None)
    assert [i.number for i in listing.issues] == list(range(1, 121))
    assert listing.requests == 3  # two pages, and SHOP-121 read by key: none yet


def test_a_quiet_pull_is_one_page_however_many_issues_share_the_watermarks_minute(
    fake: FakeJira, jira: JiraPlatform, clock: ManualClock
) -> None:
    """Newest first, the listing stops at the first page reaching an issue older than since."""
    for n in range(150):
        clock.advance(milliseconds=100)
        fake.add_issue(f"issue {n}")
    newest = jira.get_issue(150).updated_at
    assert jira.get_issue(1).updated_at.replace(second=0, microsecond=0) == newest.replace(second=0, microsecond=0)
    listing = jira.list_issues_since(newest, None)
    assert [i.number for i in listing.issues] == [150]
    before = len(fake.requests)
    again = jira.list_issues_since(newest, listing.etag)
    assert [i.number for i in again.issues] == [150] and again.requests == len(fake.requests) - before == 2
    middle = jira.list_issues_since(jira.get_issue(20).updated_at, None)
    assert [i.number for i in middle.issues] == list(range(20, 151))  # oldest first, each once


def test_an_issue_edited_between_pages_is_not_lost(fake: FakeJira, clock: ManualClock) -> None:
    """Edits made while the pages are read: none of the issues behind them is skipped, and the
    edited ones are in the next pull, from the newest ``updated`` this one listed."""
    for n in range(250):
        clock.advance(seconds=1)
        fake.add_issue(f"issue {n}")
    pages = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal pages
        if request.url.path.endswith("/search/jql") and b"ORDER BY updated" in request.content:
            pages += 1
            if pages == 2:  # after the first page: one issue read already, one not yet
                clock.advance(seconds=1)
                fake.edit_issue(240, summary="edited, read already")
                fake.edit_issue(120, summary="edited, not read yet")
        return fake.handle(request)

    transport = httpx.MockTransport(handler)
    jira = JiraPlatform.connect(TOKEN, "SHOP", site_url=fake.site_url, transport=transport, clock=clock)
    listing = jira.list_issues_since(START, None)
    numbers = [i.number for i in listing.issues]
    assert pages == 3 and sorted(numbers) == sorted(set(numbers))
    assert set(range(1, 251)) - set(numbers) <= {120}  # only the edited one may wait for the next pull
    newest = max(i.updated_at for i in listing.issues)
    assert {i.number for i in jira.list_issues_since(newest, listing.etag).issues} >= {120, 240}


def test_an_issue_the_search_index_lags_behind_is_read_by_key(fake: FakeJira, clock: ManualClock) -> None:
    fake.add_issue("indexed")
    fake.search_lag = timedelta(minutes=5)
    jira = connect(fake, clock)
    fake.inject("drop_after", method="POST", path=r"/issue$")
    with pytest.raises(PlatformUnavailable):
        new(jira, "lost answer")
    listing = jira.list_issues_since(START - timedelta(minutes=1), None)
    assert [(i.number, find_marker(i.body)) for i in listing.issues] == [(1, None), (2, KEY)]
    # A fresh adapter finds the highest indexed number once, then reads the ones above it.
    fresh = connect(fake, clock)
    assert [i.number for i in fresh.list_issues_since(START, None).issues] == [1, 2]
    before = len(fake.requests)
    quiet = fresh.list_issues_since(START, None)
    assert quiet.requests == len(fake.requests) - before == 2  # the search, and SHOP-3: not there


def test_a_fresh_adapter_takes_zone_and_highest_number_from_the_pull_state(fake: FakeJira, clock: ManualClock) -> None:
    """The listing's etag carries the zone and the highest number: the next run's quiet pull is
    the search and one read by key (no GET /myself, no ORDER BY key DESC search)."""
    for n in range(3):
        clock.advance(seconds=1)
        fake.add_issue(f"issue {n}")
    first = connect(fake, clock).list_issues_since(START, None)
    assert first.etag == f"jira;project=SHOP;tz=Europe/Berlin;checked={clock.now.date().isoformat()};max=3"
    before = len(fake.requests)
    quiet = connect(fake, clock).list_issues_since(START + timedelta(hours=1), first.etag)
    sent = [(r.method, r.path) for r in fake.requests[before:]]
    assert quiet.issues == [] and quiet.requests == len(sent) == 2
    assert sent == [("POST", "/rest/api/3/search/jql"), ("GET", "/rest/api/3/issue/SHOP-4")]
    query = [r.json["jql"] for r in fake.requests if r.path.endswith("/search/jql")][-1]
    assert f'updated >= "{(START + timedelta(hours=1)).astimezone(ZoneInfo("Europe/Berlin")):%Y-%m-%d %H:%M}"' in query


@pytest.mark.parametrize(
    "etag",
    [
        None,
        'W/"abc"',
        "jira;project=OTHER;tz=UTC;checked={today};max=9",  # another project's state
        "jira;project=SHOP;tz=Nowhere/Land;checked={today};max=x",  # an unknown zone, no number
        "jira;project=SHOP;tz=../../etc/passwd;checked={today}",
        "jira;project=SHOP;tz=UTC;checked=2000-01-01;max",  # a malformed part: all of it ignored
    ],
)
def test_a_pull_state_that_does_not_hold_is_ignored(fake: FakeJira, clock: ManualClock, etag: str | None) -> None:
    fake.add_issue("one")
    jira = connect(fake, clock)
    before = len(fake.requests)
    given = etag.format(today=clock.now.date().isoformat()) if etag else None
    listing = jira.list_issues_since(START - timedelta(minutes=1), given)
    sent = [(r.method, r.path) for r in fake.requests[before:]]
    assert [i.number for i in listing.issues] == [1]
    assert sent[0] == ("GET", "/rest/api/3/myself") and sent[-1] == ("GET", "/rest/api/3/issue/SHOP-2")
    assert listing.etag is not None and "tz=Europe/Berlin" in listing.etag and listing.etag.endswith(";max=1")


def test_the_zone_of_a_pull_state_is_read_again_the_next_day(fake: FakeJira, clock: ManualClock) -> None:
    """A zone read on another day is read again: a change of the account's zone is seen within a day."""
    state = connect(fake, clock).list_issues_since(START, None).etag
    fake.time_zone = "America/New_York"
    fake.myself["timeZone"] = "America/New_York"
    clock.advance(seconds=86_400)
    before = len(fake.requests)
    listing = connect(fake, clock).list_issues_since(START, state)
    assert fake.requests[before].path == "/rest/api/3/myself"
    assert listing.etag is not None and "tz=America/New_York" in listing.etag


# -- sub-tasks and dependencies -----------------------------------------------------------------


def test_a_child_created_with_its_parent_is_a_sub_task(fake: FakeJira, jira: JiraPlatform) -> None:
    parent = new(jira, "parent")
    child = new(jira, "child", parent=parent.number)
    assert fake.issues[child.number]["issuetype"]["name"] == "Sub-task"
    assert fake.issues[child.number]["parent"]["key"] == "SHOP-1"
    before = len(fake.mutations())
    jira.add_sub_issue(parent.number, child)
    assert len(fake.mutations()) == before  # already its parent: nothing to do
    # A sub-task cannot have sub-tasks: the grandchild is a standard issue, linked afterwards.
    grandchild = new(jira, "grandchild", parent=child.number)
    assert fake.issues[grandchild.number]["issuetype"]["name"] == "Task"
    jira.add_sub_issue(child.number, grandchild)
    assert any(link["type"] == "Relates" or "Relates" in str(link["type"]) for link in fake.links)


def test_issue_types_come_from_the_project() -> None:
    """Team-managed projects call their sub-task type "Subtask"; a task type maps to an issue type."""
    sent: list[dict[str, Any]] = []
    types = [
        {"id": "1", "name": "Task", "subtask": False, "statuses": []},
        {"id": "2", "name": "Bug", "subtask": False, "statuses": []},
        {"id": "3", "name": "Subtask", "subtask": True, "statuses": []},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/statuses"):
            return httpx.Response(200, json=types)
        if request.url.path.endswith("/issue/SHOP-1"):  # the parent: a Task
            return httpx.Response(200, json={"id": "1", "key": "SHOP-1", "fields": {"issuetype": types[0]}})
        if request.method == "POST":
            sent.append(httpx.Response(200, content=request.content).json()["fields"])
        return httpx.Response(400, json={"errorMessages": ["stop here"]})

    jira = JiraPlatform.connect(
        TOKEN,
        "SHOP",
        site_url="https://x.atlassian.net",
        transport=httpx.MockTransport(handler),
        issue_types={"bug": "Bug"},
    )
    for changes in (
        IssueChanges(title="child", parent=1),
        IssueChanges(title="bug", labels=("type: bug",)),
        IssueChanges(title="other", labels=("type: chore",)),
    ):
        with pytest.raises(PlatformRejected):
            jira.create_issue(changes)
    assert [f["issuetype"] for f in sent] == [{"id": "3"}, {"id": "2"}, {"id": "1"}]


def test_a_standard_issue_cannot_become_a_sub_task_and_is_linked(fake: FakeJira, jira: JiraPlatform) -> None:
    parent, other = new(jira, "parent"), new(jira, "other", parent=UNSET)
    jira.add_sub_issue(parent.number, other)
    assert fake.issues[other.number]["issuetype"]["name"] == "Task"
    assert len(fake.links) == 1


def test_dependencies_are_blocks_links_in_the_right_direction(fake: FakeJira, jira: JiraPlatform) -> None:
    blocking, blocked = new(jira, "blocking"), new(jira, "blocked")
    assert jira.add_dependency(blocked.number, blocking) is None
    jira.add_dependency(blocked.number, blocking)  # again: not an error
    request = next(r for r in fake.mutations() if r.path.endswith("/issueLink"))
    assert request.json["inwardIssue"] == {"key": "SHOP-1"} and request.json["outwardIssue"] == {"key": "SHOP-2"}
    assert jira.list_dependencies(blocked.number) == [1]
    assert jira.list_dependencies(blocking.number) == []
    assert jira.get_issue(2).blocked_by == (1,) and jira.get_issue(1).blocked_by == ()
    jira.remove_dependency(blocked.number, blocking)
    assert jira.list_dependencies(blocked.number) == []
    jira.remove_dependency(blocked.number, blocking)  # gone already: not an error


def test_a_blocks_link_made_in_jira_reads_as_a_dependency(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira, "a"), new(jira, "b")
    with httpx.Client(base_url=fake.site_url, transport=fake.transport(), auth=("p@example.com", "t")) as person:
        made = person.post(
            "/rest/api/3/issueLink",
            json={"type": {"name": "Blocks"}, "inwardIssue": {"key": "SHOP-2"}, "outwardIssue": {"key": "SHOP-1"}},
        )
    assert made.status_code == 201
    assert jira.list_dependencies(1) == [2] and jira.list_dependencies(2) == []


# -- versions, comments, worklogs, releases -----------------------------------------------------


def test_milestones_are_versions_released_when_closed(fake: FakeJira, jira: JiraPlatform, clock: ManualClock) -> None:
    made = jira.create_milestone("1.0", "First release", datetime(2025, 2, 1, tzinfo=UTC))
    assert (made.title, made.description, made.state) == ("1.0", "First release", "open")
    assert made.due_on == datetime(2025, 2, 1, tzinfo=UTC)
    assert [m.number for m in jira.list_milestones()] == [made.number]
    issue = new(jira, milestone=made.number)
    assert issue.milestone == made.number
    assert jira.update_issue(1, IssueChanges(milestone=None)).milestone is None
    other = jira.create_milestone("1.1", "", None)
    clock.now = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Berlin
    closed = jira.update_milestone(other.number, state="closed", description="Notes")
    assert closed.state == "closed" and closed.description == "Notes"
    assert closed.due_on == datetime(2025, 3, 2, tzinfo=UTC)
    assert jira.update_milestone(made.number, state="closed").due_on == datetime(2025, 3, 2, tzinfo=UTC)
    assert jira.update_milestone(made.number, state="open", title="1.0.0").state == "open"


def test_comments_and_worklogs_are_adf(fake: FakeJira, jira: JiraPlatform) -> None:
    new(jira)
    jira.add_comment(1, "Progress: **half** done")
    jira.log_work(1, 5400, "Wrote the limiter")
    assert fake.comments["SHOP-1"][0]["body"]["type"] == "doc"
    assert fake.worklogs["SHOP-1"][0]["timeSpentSeconds"] == 5400
    with pytest.raises(InvalidInput):
        jira.log_work(1, 30)


def test_releases_are_not_a_jira_object(jira: JiraPlatform) -> None:
    for call in (
        lambda: jira.get_release_by_tag("v1"),
        lambda: jira.create_release("v1", name="v1", body="", target_commitish=None, prerelease=False),
        lambda: jira.update_release(1, name="v1", body=""),
    ):
        with pytest.raises(PlatformRejected, match="no release object"):
            call()


# -- boards and sprints ---------------------------------------------------------------------------


def test_a_board_is_found_or_created_and_moves_cards_by_status(fake: FakeJira, jira: JiraPlatform) -> None:
    board = jira.create_board("Shop")
    assert jira.create_board("Shop").number == board.number  # found, not made twice
    assert len(fake.boards) == 1 and len(fake.filters) == 1
    assert {"To Do", "In Progress", "Done"} <= set(board.status_options)
    issue = new(jira)
    item = jira.add_to_board(board, issue)
    assert item == "SHOP-1"
    jira.set_board_status(board, item, "In Progress")
    assert fake.status_of(1) == "In Progress"
    before = len(fake.mutations())
    jira.set_board_status(board, item, "In Progress")
    assert len(fake.mutations()) == before
    with pytest.raises(PlatformRejected, match="no column"):
        jira.set_board_status(board, item, "Nowhere")
    assert jira.get_board(board.number).title == "Shop"


def test_sprints_on_a_scrum_board(fake: FakeJira, jira: JiraPlatform, clock: ManualClock) -> None:
    board = jira.create_board("Sprints", board_type="scrum")
    sprint = jira.create_sprint(board.number, "Sprint 1", goal="Ship it")
    assert (sprint.state, sprint.goal, sprint.board_id) == ("future", "Ship it", board.number)
    first = new(jira, "first")
    jira.add_to_board(board, first)  # into the future sprint (no active one)
    started = jira.start_sprint(sprint.id)
    assert started.state == "active" and started.end == started.start + timedelta(days=14)  # type: ignore[operator]
    second = new(jira, "second")
    jira.add_to_board(board, second)
    jira.add_to_sprint(sprint.id, [first.number])
    assert [s.id for s in jira.list_sprints(board.number, states=("active",))] == [sprint.id]
    assert set(fake.sprints[sprint.id]["issues"]) == {1, 2}
    child = new(jira, "child", parent=first.number)
    before = len(fake.mutations())
    jira.add_to_board(board, child)  # a sub-task moves with its parent, never on its own
    assert mutations(fake)[before:] == []
    assert jira.close_sprint(sprint.id).state == "closed"


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"), [("500", PlatformUnavailable), ("503", PlatformUnavailable), ("timeout", PlatformUnavailable)]
)
def test_faults_become_retryable_errors(fake: FakeJira, jira: JiraPlatform, fault: str, error: type) -> None:
    fake.inject(fault, method="POST", path=r"/issue$")
    with pytest.raises(error) as caught:
        new(jira)
    assert caught.value.retryable and TOKEN not in str(caught.value)


def test_a_dropped_connection_is_unavailable(fake: FakeJira, jira: JiraPlatform) -> None:
    fake.inject("drop_after", method="POST", path=r"/issue$")
    with pytest.raises(PlatformUnavailable):
        new(jira)
    assert find_marker(jira.list_issues_since(None, None).issues[0].body) == KEY  # the lost creation is findable


def test_429_is_rate_limited_with_retry_after(fake: FakeJira, jira: JiraPlatform) -> None:
    fake.inject("429", method="GET", retry_after=17)
    with pytest.raises(RateLimited) as caught:
        jira.get_issue(1)
    assert caught.value.retry_after == 17
    budget = jira.rate_budget()
    assert budget.limit is not None and budget.remaining is not None


def test_rejections_name_jiras_message(fake: FakeJira, jira: JiraPlatform) -> None:
    with pytest.raises(PlatformRejected) as missing:
        jira.get_issue(99)
    assert missing.value.status == 404 and "does not exist" in str(missing.value)
    with pytest.raises(PlatformRejected) as bad:
        jira.update_issue(1, IssueChanges()) if fake.issues else jira.create_issue(IssueChanges(title="x", milestone=9))
    assert bad.value.status in (400, 404)
    fake.credentials_valid = False
    with pytest.raises(AuthenticationFailed) as denied:
        jira.list_milestones()
    assert denied.value.status == 401 and TOKEN not in str(denied.value)


def test_rate_budget_reads_the_reset_header() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2025-01-06T10:00Z"}
        return httpx.Response(429, headers=headers, json={"errorMessages": ["Rate limit exceeded."]})

    jira = JiraPlatform.connect(
        TOKEN, "SHOP", site_url="https://x.atlassian.net", transport=httpx.MockTransport(handler), clock=lambda: START
    )
    with pytest.raises(RateLimited) as caught:
        jira.list_milestones()
    assert caught.value.retry_after == 3600  # until the reset: no Retry-After header
    assert jira.rate_budget().reset_at == datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    assert jira.rate_budget().remaining == 0


# -- the registry ---------------------------------------------------------------------------------


def test_the_registry_builds_jira_from_a_key_and_the_settings(fake: FakeJira) -> None:
    settings = Settings(database_url="sqlite://", jira_url="https://shop.atlassian.net", jira_email="bot@example.com")
    spec, ref = resolve_repository("jira:SHOP", platform=None, settings=settings)
    assert (spec.name, ref.host, ref.path) == ("jira", "shop.atlassian.net", "SHOP")
    assert parse_repository(str(ref), platform="jira") == ref
    assert spec.token_variable == "JIRA_API_TOKEN" and spec.url_variable == "TASKORCH_JIRA_URL"
    assert any("needs-review" in note for note in spec.notes)
    with pytest.raises(InvalidInput):
        resolve_repository("jira:SHOP/extra", platform=None, settings=settings)
    adapter = spec.build(TOKEN, ref, spec.api_url(ref, settings.jira_url), settings, {"blocked": "On Hold"})
    assert isinstance(adapter, JiraPlatform) and adapter.repository == "SHOP"
    adapter.close()
    with fake.serve() as url:  # the status mapping reaches the adapter: blocked means "On Hold"
        here = Settings(database_url="sqlite://", jira_url=url, jira_email="bot@example.com")
        spec, ref = resolve_repository("jira:SHOP", platform=None, settings=here)
        served = spec.build(TOKEN, ref, spec.api_url(ref, here.jira_url), here, {"blocked": "On Hold"})
        new(served)  # type: ignore[arg-type]
        with pytest.raises(PlatformRejected, match="'On Hold'"):
            served.update_issue(1, IssueChanges(labels=("status: blocked",)))
        served.close()
    configured = Settings.from_env({"TASKORCH_JIRA_URL": "https://x.atlassian.net/", "TASKORCH_JIRA_EMAIL": " a@b.c "})
    assert (configured.jira_url, configured.jira_email) == ("https://x.atlassian.net", "a@b.c")
    assert Settings.from_env({}).jira_email is None
    assert platform_spec("jira").lacking("full") == ["no conditional requests, releases", *platform_spec("jira").notes]


# -- through the sync engine ------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[FakeJira, str]]:
    """A stand-in on the real clock (the engine's), served over HTTP."""
    master = _master()
    specs = _Specs(master[0].fork(), master[1].fork()) if master else None
    made = FakeJira(validator=specs, workflow=Workflow.with_blocked())
    with made.serve() as url:
        yield made, url
    assert not made.internal_errors
    if specs is not None:
        assert specs.violations() == []


@pytest.fixture
def make_orch(
    served: tuple[FakeJira, str], database_url: str, project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    from taskorch.services.app import Orchestrator

    monkeypatch.setenv("JIRA_API_TOKEN", TOKEN)
    made: list[Any] = []

    def make(**connect: Any) -> Any:
        settings = Settings(
            database_url=database_url, mutation_spacing=0.0, jira_url=served[1], jira_email="bot@example.com"
        )
        orch = Orchestrator(settings, sleep=lambda seconds: None)  # the registry's own factory
        orch.initialize_session(str(project))
        orch.git_connect("jira:SHOP", **connect)
        made.append(orch)
        return orch

    yield make
    for orch in made:
        orch.close()


def _issue_numbers(orch: Any) -> dict[int, int]:
    from sqlalchemy import select

    from taskorch.store.tables import feature_issue_links

    with orch.db.transaction(write=False) as conn:
        rows = conn.execute(select(feature_issue_links.c.task_id, feature_issue_links.c.issue_number)).all()
    return {int(task): int(number) for task, number in rows if number is not None}


def _plan(orch: Any) -> dict[str, int]:
    from taskorch.services.models import SubtaskSpec, TaskFields

    result = orch.plan_task(
        TaskFields(title="Add rate limiting", labels=["needs review"]),
        [
            SubtaskSpec(key="impl", title="Implement"),
            SubtaskSpec(key="docs", title="Document", depends_on_keys=["impl"]),
        ],
    )
    return {"parent": result.task.id, **{k: b.id for k, b in result.subtasks.items()}}


def test_the_engine_syncs_tasks_with_jira_both_ways(make_orch: Any, served: tuple[FakeJira, str]) -> None:
    fake = served[0]
    orch = make_orch(auto_sync_enabled=True)
    ids = _plan(orch)
    result = orch.git_sync()
    assert result.sync is not None and not result.sync.failed, result.sync
    numbers = _issue_numbers(orch)
    parent, impl, docs = (numbers[ids[k]] for k in ("parent", "impl", "docs"))
    assert len(fake.issues) == 3
    # Sub-tasks created with their parent; the dependency a Blocks link impl -> docs.
    assert {fake.issues[n]["parent"]["key"] for n in (impl, docs)} == {fake.key(parent)}
    assert JiraPlatform.connect(TOKEN, "SHOP", site_url=served[1]).list_dependencies(docs) == [impl]
    assert "needs-review" in fake.issues[parent]["labels"]
    assert all("taskorch:key" not in str(issue["description"]) for issue in fake.issues.values())

    # A quiet sync: labels and bodies read back as sent, nothing is pushed again.
    orch.git_sync()
    before = len(fake.mutations())
    quiet = orch.git_sync()
    assert quiet.sync is not None and not quiet.sync.updated and not quiet.sync.conflicts
    assert mutations(fake)[before:] == []

    # Status through the workflow, and back from Jira.
    orch.execute_task(ids["impl"])
    orch.git_sync()
    assert fake.status_of(impl) == "In Progress"
    fake.transition(impl, "Blocked")
    fake.edit_issue(impl, summary="Implement the limiter", description="Edited in Jira")
    orch.git_sync()
    task = orch.get_task(ids["impl"])
    assert (task.status, task.title, task.description) == ("blocked", "Implement the limiter", "Edited in Jira")


def test_a_lost_creation_is_adopted_by_its_property_marker(make_orch: Any, served: tuple[FakeJira, str]) -> None:
    from taskorch.services.models import TaskFields

    fake = served[0]
    fake.search_lag = timedelta(minutes=10)  # the search index does not show the new issue yet
    orch = make_orch(auto_sync_enabled=True)
    orch.plan_task(TaskFields(title="Only once"), [])
    fake.inject("drop_after", method="POST", path=r"/rest/api/3/issue$")
    orch.git_sync()
    orch.git_sync()
    assert len(fake.issues) == 1
    assert len([r for r in fake.mutations() if r.path == "/rest/api/3/issue"]) == 1
    assert list(_issue_numbers(orch).values()) == [1]
