"""The Jira Cloud stand-in itself: driven with plain httpx, every exchange checked against
Atlassian's official OpenAPI descriptions of the platform API v3 and the agile API 1.0 when
``../shared/specs`` has them (the tests still run without them, unchecked)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.openapi import SpecValidator, Violation
from standins.jira import FakeJira, ManualClock, Workflow

SPECS = Path(__file__).resolve().parents[1].parent / "shared" / "specs"
PLATFORM_SPEC = SPECS / "jira-cloud-platform.v3.json"
AGILE_SPEC = SPECS / "jira-software-cloud.v3.json"
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
API = "/rest/api/3"
AGILE = "/rest/agile/1.0"


class JiraSpecs:
    """Both Atlassian descriptions behind the one ``check`` the stand-in calls: paths under
    ``/rest/agile/1.0`` go to the agile description, the rest to the platform one."""

    def __init__(self, platform: SpecValidator, agile: SpecValidator) -> None:
        self.platform = platform
        self.agile = agile

    def fork(self) -> JiraSpecs:
        return JiraSpecs(self.platform.fork(), self.agile.fork())

    def check(self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None) -> Any:
        """Check one exchange. A request the stand-in refused (4xx) may break the description —
        tests send such requests on purpose — so only its answer is held to it."""
        target = path or request.url.path
        validator = self.agile if target.startswith(AGILE) else self.platform
        found = validator.check(request, response, path=target)
        if response is not None and 400 <= response.status_code < 500:
            excused = [v for v in found if v.where.startswith("request.")]
            for violation in excused:
                validator.violations.remove(violation)
            found = [v for v in found if v not in excused]
        return found

    @property
    def violations(self) -> list[Violation]:
        return [*self.platform.violations, *self.agile.violations]

    @property
    def checked(self) -> int:
        return self.platform.checked + self.agile.checked


def _string_query_parameters(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the agile description's generator slip mended: a few query parameters
    (``type`` of ``GET /board``, ``state`` of ``GET /board/{boardId}/sprint``, ``fields`` of the
    board and sprint issue lists) are declared as property-less objects, which no query string
    can be; Atlassian's reference pages document them as (comma-separated) strings."""
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if not isinstance(parameter, dict) or parameter.get("in") != "query":
                    continue
                schema = parameter.get("schema", {})
                if schema.get("type") == "object" and not schema.get("properties"):
                    parameter["schema"] = {"type": "string"}
                elif schema.get("type") == "array" and schema.get("items", {}).get("type") == "object":
                    parameter["schema"] = {"type": "array", "items": {"type": "string"}}
    return spec


@functools.cache
def _load_specs() -> tuple[JiraSpecs | None, str]:
    missing = [path for path in (PLATFORM_SPEC, AGILE_SPEC) if not path.is_file()]
    if missing:
        return None, f"Atlassian's OpenAPI descriptions are unavailable: {', '.join(map(str, missing))} missing"
    agile = _string_query_parameters(json.loads(AGILE_SPEC.read_text(encoding="utf-8")))
    return JiraSpecs(SpecValidator.from_file(PLATFORM_SPEC), SpecValidator(agile)), ""


@pytest.fixture(scope="session")
def jira_specs() -> JiraSpecs:
    """Both descriptions, parsed once per session; skips when ``../shared/specs`` lacks them."""
    specs, reason = _load_specs()
    if specs is None:
        pytest.skip(reason)
    return specs


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def jira(clock: ManualClock) -> Iterator[FakeJira]:
    """A fresh stand-in (project SHOP, Europe/Berlin), validated when the descriptions are there;
    the test fails at teardown if an exchange broke them."""
    master, _reason = _load_specs()
    validator = master.fork() if master is not None else None
    fake = FakeJira(clock=clock, validator=validator)
    yield fake
    assert not fake.internal_errors
    if validator is not None:
        assert [str(v) for v in validator.violations] == []


@pytest.fixture
def client(jira: FakeJira) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url="https://shop.atlassian.net", transport=jira.transport(), auth=("me@example.com", "api-token")
    ) as http:
        yield http


def adf(*paragraphs: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]} for text in paragraphs],
    }


def create(client: httpx.Client, summary: str, **fields: Any) -> str:
    properties = fields.pop("properties", None)
    body: dict[str, Any] = {
        "fields": {"project": {"key": "SHOP"}, "summary": summary, "issuetype": {"name": "Task"}, **fields}
    }
    if properties is not None:
        body["properties"] = properties
    response = client.post(f"{API}/issue", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def search(client: httpx.Client, jql: str, **extra: Any) -> dict[str, Any]:
    response = client.post(f"{API}/search/jql", json={"jql": jql, **extra})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def keys(result: dict[str, Any]) -> list[str]:
    return [issue["key"] for issue in result["issues"]]


# -- authentication and metadata ---------------------------------------------------------------


def test_requests_need_credentials_and_tokens_are_not_kept(jira: FakeJira) -> None:
    transport = jira.transport()
    with httpx.Client(base_url="https://shop.atlassian.net", transport=transport) as anonymous:
        refused = anonymous.get(f"{API}/myself")
    assert refused.status_code == 401
    assert refused.json()["errorMessages"]
    with httpx.Client(
        base_url="https://shop.atlassian.net", transport=transport, headers={"Authorization": "Bearer oauth-token"}
    ) as bearer:
        assert bearer.get(f"{API}/myself").status_code == 200
    with httpx.Client(base_url="https://shop.atlassian.net", transport=transport, auth=("me@example.com", "")) as empty:
        assert empty.get(f"{API}/myself").status_code == 401
    assert [r.authenticated for r in jira.requests] == [False, True, False]
    assert "authorization" in jira.requests[1].headers
    assert "oauth-token" not in repr(jira.requests) + repr(vars(jira))


def test_myself_server_info_and_project_metadata(jira: FakeJira, client: httpx.Client) -> None:
    me = client.get(f"{API}/myself").json()
    assert (me["timeZone"], me["accountId"]) == ("Europe/Berlin", jira.myself["accountId"])
    assert client.get(f"{API}/serverInfo").json()["deploymentType"] == "Cloud"
    project = client.get(f"{API}/project/SHOP").json()
    assert (project["key"], project["id"]) == ("SHOP", jira.project_id)
    sub_task = next(t for t in project["issueTypes"] if t["subtask"])
    assert sub_task["name"] == "Sub-task"
    types = client.get(f"{API}/issuetype/project", params={"projectId": jira.project_id}).json()
    assert {t["name"] for t in types} >= {"Task", "Sub-task", "Epic", "Bug", "Story"}
    priorities = client.get(f"{API}/priority/search").json()["values"]
    assert [p["name"] for p in priorities if p["isDefault"]] == ["Medium"]
    assert len(client.get(f"{API}/priority").json()) == 5
    assert [c["name"] for c in client.get(f"{API}/project/SHOP/components").json()] == ["Backend", "Frontend", "Docs"]
    alice = jira.add_user("Alice Example")
    found = client.get(f"{API}/user/assignable/search", params={"project": "SHOP", "query": "alice"}).json()
    assert [u["accountId"] for u in found] == [alice["accountId"]]
    assert client.get(f"{API}/project/NOPE").status_code == 404
    assert [r["name"] for r in client.get(f"{API}/resolution").json()][:2] == ["Done", "Won't Do"]
    statuses = client.get(f"{API}/project/SHOP/statuses").json()
    task_statuses = next(t["statuses"] for t in statuses if t["name"] == "Task")
    assert [(s["name"], s["statusCategory"]["key"]) for s in task_statuses] == [
        ("To Do", "new"),
        ("In Progress", "indeterminate"),
        ("Done", "done"),
    ]


# -- issues ------------------------------------------------------------------------------------


def test_create_read_edit_round_trip(jira: FakeJira, client: httpx.Client, clock: ManualClock) -> None:
    alice = jira.add_user("Alice Example")
    key = create(
        client,
        "Checkout fails",
        description=adf("Steps to reproduce"),
        labels=["bug", "checkout"],
        priority={"name": "High"},
        components=[{"name": "Backend"}],
        assignee={"accountId": alice["accountId"]},
        duedate="2025-02-01",
        timetracking={"originalEstimate": "1d 2h"},
    )
    assert key == "SHOP-1" and jira.issues[1]["key"] == key
    issue = client.get(f"{API}/issue/{key}").json()
    fields = issue["fields"]
    assert fields["summary"] == "Checkout fails"
    assert fields["description"] == adf("Steps to reproduce")
    assert (fields["status"]["name"], fields["status"]["statusCategory"]["key"]) == ("To Do", "new")
    assert fields["labels"] == ["bug", "checkout"]
    assert fields["priority"]["name"] == "High"
    assert [c["name"] for c in fields["components"]] == ["Backend"]
    assert fields["assignee"]["accountId"] == alice["accountId"]
    assert fields["duedate"] == "2025-02-01"
    assert fields["timetracking"]["originalEstimateSeconds"] == 10 * 3600
    assert fields["timetracking"]["originalEstimate"] == "1d 2h"
    assert fields["created"] == fields["updated"] == "2025-01-06T10:00:00.000+0100"
    assert fields["resolution"] is None and fields["issuetype"]["name"] == "Task"

    clock.advance(minutes=5, milliseconds=250)
    edited = client.put(
        f"{API}/issue/{key}",
        json={
            "fields": {"summary": "Checkout fails on Safari", "assignee": None},
            "update": {"labels": [{"add": "ui"}, {"remove": "bug"}]},
        },
    )
    assert edited.status_code == 204 and not edited.content
    fields = client.get(f"{API}/issue/{key}", params={"fields": "summary,labels,assignee,updated"}).json()["fields"]
    assert fields == {
        "summary": "Checkout fails on Safari",
        "labels": ["checkout", "ui"],
        "assignee": None,
        "updated": "2025-01-06T10:05:00.250+0100",
    }
    assert client.get(f"{API}/issue/{jira.issues[1]['id']}").json()["key"] == key  # by id too
    returned = client.put(f"{API}/issue/{key}", params={"returnIssue": "true"}, json={"fields": {"duedate": None}})
    assert returned.status_code == 200 and returned.json()["fields"]["duedate"] is None
    assert returned.json() == client.get(f"{API}/issue/{key}").json()  # the format of GET /issue/{key}
    expanded = client.put(
        f"{API}/issue/{key}", params={"returnIssue": "true", "expand": "names"}, json={"fields": {"duedate": None}}
    ).json()
    assert expanded["names"]["summary"] == "Summary" and "properties" not in expanded
    rendered = client.get(f"{API}/issue/{key}", params={"expand": "renderedFields", "fields": "description"}).json()
    assert rendered["renderedFields"]["description"] == "<p>Steps to reproduce</p>"
    assert client.get(f"{API}/issue/SHOP-99").status_code == 404


def test_descriptions_must_be_atlassian_documents(client: httpx.Client) -> None:
    bad_documents: list[Any] = [
        "plain text",
        {"type": "doc", "content": []},  # no version
        {"type": "doc", "version": 1, "content": [{"type": "text", "text": "bare text at the root"}]},
        {"type": "doc", "version": 1, "content": [{"type": "markdown", "content": []}]},
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]},
        {"type": "doc", "version": 1, "content": [{"type": "bulletList", "content": [{"type": "paragraph"}]}]},
    ]
    for document in bad_documents:
        response = client.post(
            f"{API}/issue",
            json={
                "fields": {
                    "project": {"key": "SHOP"},
                    "summary": "x",
                    "issuetype": {"name": "Task"},
                    "description": document,
                }
            },
        )
        assert response.status_code == 400, document
        assert response.json() == {
            "errorMessages": [],
            "errors": {
                "description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            },
        }
    rich = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Plan"}]},
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [{"type": "text", "text": "bold", "marks": [{"type": "strong"}]}],
                            }
                        ],
                    }
                ],
            },
            {"type": "codeBlock", "attrs": {"language": "python"}, "content": [{"type": "text", "text": "x = 1"}]},
            {"type": "rule"},
        ],
    }
    assert create(client, "rich", description=rich) == "SHOP-1"


def test_labels_with_spaces_are_refused_and_unknown_fields_too(client: httpx.Client) -> None:
    response = client.post(
        f"{API}/issue",
        json={
            "fields": {
                "project": {"key": "SHOP"},
                "summary": "x",
                "issuetype": {"name": "Task"},
                "labels": ["needs review"],
            }
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"labels": "The label 'needs review' contains spaces which is invalid."}
    key = create(client, "ok")
    added = client.put(f"{API}/issue/{key}", json={"update": {"labels": [{"add": "two words"}]}})
    assert added.status_code == 400 and "labels" in added.json()["errors"]
    status = client.put(f"{API}/issue/{key}", json={"fields": {"status": {"name": "Done"}}})
    assert status.status_code == 400 and "status" in status.json()["errors"]
    typo = client.put(f"{API}/issue/{key}", json={"field": {"summary": "x"}})
    assert typo.status_code == 400 and 'Unrecognized field "field"' in typo.json()["errorMessages"][0]
    old_paging = client.post(f"{API}/search/jql", json={"jql": "project = SHOP", "startAt": 50})
    assert old_paging.status_code == 400 and '"startAt"' in old_paging.json()["errorMessages"][0]
    missing = client.post(f"{API}/issue", json={"fields": {"project": {"key": "SHOP"}, "issuetype": {"name": "Task"}}})
    assert missing.status_code == 400 and "summary" in missing.json()["errors"]


def test_sub_tasks_need_a_parent_and_only_epics_parent_standard_issues(jira: FakeJira, client: httpx.Client) -> None:
    parent = create(client, "Parent")
    orphan = client.post(
        f"{API}/issue",
        json={"fields": {"project": {"key": "SHOP"}, "summary": "orphan", "issuetype": {"name": "Sub-task"}}},
    )
    assert orphan.status_code == 400 and "parent" in orphan.json()["errors"]
    child = create(client, "Child", issuetype={"name": "Sub-task"}, parent={"key": parent})
    task_under_task = client.post(
        f"{API}/issue",
        json={
            "fields": {
                "project": {"key": "SHOP"},
                "summary": "x",
                "issuetype": {"name": "Task"},
                "parent": {"key": parent},
            }
        },
    )
    assert task_under_task.status_code == 400 and "parent" in task_under_task.json()["errors"]
    epic = create(client, "Epic", issuetype={"name": "Epic"})
    story = create(client, "Story", issuetype={"name": "Story"}, parent={"key": epic})

    parent_fields = client.get(f"{API}/issue/{parent}", params={"fields": "subtasks,parent"}).json()["fields"]
    assert [s["key"] for s in parent_fields["subtasks"]] == [child]
    assert parent_fields["subtasks"][0]["fields"]["status"]["name"] == "To Do"
    assert "parent" not in parent_fields or parent_fields["parent"] is None
    child_fields = client.get(f"{API}/issue/{child}").json()["fields"]
    assert child_fields["parent"]["key"] == parent and child_fields["issuetype"]["subtask"] is True
    assert client.get(f"{API}/issue/{story}").json()["fields"]["parent"]["key"] == epic
    assert jira.issues[2]["parent"] == {"id": jira.issues[1]["id"], "key": parent}

    assert client.delete(f"{API}/issue/{parent}").status_code == 400  # it has a sub-task
    assert client.delete(f"{API}/issue/{parent}", params={"deleteSubtasks": "true"}).status_code == 204
    assert client.get(f"{API}/issue/{child}").status_code == 404 and sorted(jira.issues) == [3, 4]
    assert client.delete(f"{API}/issue/{epic}").status_code == 204
    assert client.get(f"{API}/issue/{story}", params={"fields": "parent"}).json()["fields"] == {}  # no parent now


# -- workflow ----------------------------------------------------------------------------------


def test_simplified_workflow_transitions_and_resolution(jira: FakeJira, client: httpx.Client) -> None:
    key = create(client, "Work")
    offered = client.get(f"{API}/issue/{key}/transitions").json()["transitions"]
    assert [(t["id"], t["to"]["name"]) for t in offered] == [("21", "In Progress"), ("31", "Done")]
    assert all(t["isGlobal"] for t in offered)
    assert client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "21"}}).status_code == 204
    assert jira.status_of(1) == "In Progress"
    refused = client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "21"}})
    assert refused.status_code == 400
    assert refused.json() == {"errorMessages": ["Transition id '21' is not valid for this issue."], "errors": {}}

    done = client.post(
        f"{API}/issue/{key}/transitions",
        json={"transition": {"id": "31"}, "fields": {"resolution": {"name": "Won't Do"}}},
    )
    assert done.status_code == 204
    fields = client.get(f"{API}/issue/{key}", params={"fields": "status,resolution,resolutiondate"}).json()["fields"]
    assert (fields["status"]["statusCategory"]["key"], fields["resolution"]["name"]) == ("done", "Won't Do")
    assert fields["resolutiondate"] is not None
    client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "11"}})
    fields = client.get(f"{API}/issue/{key}", params={"fields": "status,resolution,resolutiondate"}).json()["fields"]
    assert (fields["status"]["name"], fields["resolution"], fields["resolutiondate"]) == ("To Do", None, None)
    client.post(f"{API}/issue/{key}/transitions", json={"transition": {"id": "31"}})
    assert jira.issues[1]["resolution"]["name"] == "Done"  # the default resolution
    new_issue = {"project": {"key": "SHOP"}, "summary": "Born in progress", "issuetype": {"name": "Task"}}
    bad_start = client.post(f"{API}/issue", json={"fields": new_issue, "transition": {"id": "11"}})
    assert bad_start.status_code == 400 and len(jira.issues) == 1  # refused before anything is created
    started = client.post(f"{API}/issue", json={"fields": new_issue, "transition": {"id": "21"}})
    assert started.status_code == 201 and jira.status_of(2) == "In Progress"
    expanded = client.get(f"{API}/issue/{key}", params={"expand": "transitions,names", "fields": "status"}).json()
    assert [t["to"]["name"] for t in expanded["transitions"]] == ["To Do", "In Progress"]
    assert expanded["names"] == {"status": "Status"}


def test_a_workflow_with_blocked_needs_paths_and_a_person_walks_them(clock: ManualClock) -> None:
    jira = FakeJira(clock=clock, workflow=Workflow.with_blocked())
    issue = jira.add_issue("Blocked work")
    number = int(issue["key"].split("-")[1])
    assert [t.to for t in jira.workflow.available("To Do")] == ["In Progress", "Done"]
    assert [t.name for t in jira.workflow.path("Blocked", "Done") or []] == ["Unblock", "Request review", "Approve"]
    with pytest.raises(ValueError, match="no transition"):
        jira.transition(number, "In Review")
    jira.transition(number, "In Progress")
    jira.transition(number, "Blocked")
    clock.advance(minutes=1)
    jira.edit_issue(number, status="Done")
    assert jira.status_of(number) == "Done" and jira.issues[number]["resolution"]["name"] == "Done"
    assert jira.issues[number]["updated"] == "2025-01-06T10:01:00.000+0100"

    jira.transition(number, "To Do")
    jira.edit_issue(number, status="Done", resolution="Won't Do")  # the one-step "Won't do" path
    assert jira.issues[number]["resolution"]["name"] == "Won't Do"
    jira.transition(number, "To Do")
    jira.transition(number, "In Progress")
    jira.edit_issue(number, status="Done", resolution="Duplicate")  # via In Review; resolved on arrival
    assert jira.issues[number]["resolution"]["name"] == "Duplicate"

    stuck = FakeJira(clock=clock, workflow=Workflow.without_path())
    stuck.add_issue("Final")
    assert stuck.workflow.path("To Do", "Archived") is None
    with pytest.raises(ValueError, match="no path"):
        stuck.edit_issue(1, status="Archived")
    stuck.edit_issue(1, status="Done")
    assert stuck.workflow.available("Done") == [] and stuck.workflow.path("Done", "To Do") is None


# -- properties --------------------------------------------------------------------------------


def test_properties_are_stored_atomically_and_survive_description_edits(jira: FakeJira, client: httpx.Client) -> None:
    marker = {"task": "t-1", "revision": 3}
    key = create(
        client, "Tracked", description=adf("written by taskorch"), properties=[{"key": "taskorch", "value": marker}]
    )
    assert jira.properties[key] == {"taskorch": marker}
    jira.edit_issue(1, description="A person rewrote all of it")
    client.put(f"{API}/issue/{key}", json={"fields": {"description": adf("and again")}})
    assert client.get(f"{API}/issue/{key}/properties/taskorch").json() == {"key": "taskorch", "value": marker}
    with_props = client.get(f"{API}/issue/{key}", params={"properties": "taskorch,absent", "fields": "summary"}).json()
    assert with_props["properties"] == {"taskorch": marker}

    assert client.put(f"{API}/issue/{key}/properties/other", json=[1, 2]).status_code == 201
    assert client.put(f"{API}/issue/{key}/properties/other", json={"v": 2}).status_code == 200
    assert client.get(f"{API}/issue/{key}/properties").json()["keys"][1]["key"] == "other"
    assert client.delete(f"{API}/issue/{key}/properties/other").status_code == 204
    missing = client.get(f"{API}/issue/{key}/properties/other")
    assert missing.status_code == 404 and missing.json()["errorMessages"]

    refused = client.post(
        f"{API}/issue",
        json={
            "fields": {"project": {"key": "SHOP"}, "summary": "x", "issuetype": {"name": "Task"}, "labels": ["a b"]},
            "properties": [{"key": "taskorch", "value": {"task": "t-2"}}],
        },
    )
    assert refused.status_code == 400
    assert list(jira.properties) == [key] and len(jira.issues) == 1  # nothing half-created


# -- links -------------------------------------------------------------------------------------


def test_blocks_links_read_from_both_sides(jira: FakeJira, client: httpx.Client, clock: ManualClock) -> None:
    blocker, blocked = create(client, "Schema"), create(client, "API")
    types = client.get(f"{API}/issueLinkType").json()["issueLinkTypes"]
    assert {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}.items() <= next(
        t for t in types if t["name"] == "Blocks"
    ).items()
    clock.advance(minutes=2)
    created = client.post(
        f"{API}/issueLink",
        json={"type": {"name": "Blocks"}, "inwardIssue": {"key": blocker}, "outwardIssue": {"key": blocked}},
    )
    assert created.status_code == 201 and not created.content
    assert jira.links == [{"id": jira.links[0]["id"], "type": "Blocks", "inward": blocker, "outward": blocked}]
    # Duplicates are answered as created and add nothing.
    client.post(
        f"{API}/issueLink",
        json={"type": {"name": "Blocks"}, "inwardIssue": {"key": blocker}, "outwardIssue": {"key": blocked}},
    )
    assert len(jira.links) == 1

    on_blocker = client.get(f"{API}/issue/{blocker}", params={"fields": "issuelinks,updated"}).json()["fields"]
    on_blocked = client.get(f"{API}/issue/{blocked}", params={"fields": "issuelinks,updated"}).json()["fields"]
    (seen_from_blocker,) = on_blocker["issuelinks"]
    (seen_from_blocked,) = on_blocked["issuelinks"]
    assert seen_from_blocker["outwardIssue"]["key"] == blocked and "inwardIssue" not in seen_from_blocker  # "blocks"
    assert (
        seen_from_blocked["inwardIssue"]["key"] == blocker and "outwardIssue" not in seen_from_blocked
    )  # "is blocked by"
    assert on_blocker["updated"] == on_blocked["updated"] == "2025-01-06T10:02:00.000+0100"

    link_id = seen_from_blocker["id"]
    link = client.get(f"{API}/issueLink/{link_id}").json()
    assert (link["inwardIssue"]["key"], link["outwardIssue"]["key"], link["type"]["name"]) == (
        blocker,
        blocked,
        "Blocks",
    )
    assert client.delete(f"{API}/issueLink/{link_id}").status_code == 204
    assert jira.links == [] and client.get(f"{API}/issue/{blocked}").json()["fields"]["issuelinks"] == []
    assert client.get(f"{API}/issueLink/{link_id}").status_code == 404
    unknown = client.post(
        f"{API}/issueLink",
        json={"type": {"name": "Blocks"}, "inwardIssue": {"key": blocker}, "outwardIssue": {"key": "SHOP-42"}},
    )
    assert unknown.status_code == 404


# -- search ------------------------------------------------------------------------------------


def test_jql_dates_have_minute_precision_in_the_accounts_time_zone(clock: ManualClock) -> None:
    """The account is in Asia/Kolkata (+05:30). Two edits in the same minute are both found by
    ``updated >= "that minute"``, read in the account's zone, not in UTC; the next minute finds
    neither; and a query written in UTC by mistake finds the wrong set."""
    master, _reason = _load_specs()
    validator = master.fork() if master is not None else None
    jira = FakeJira(clock=clock, time_zone="Asia/Kolkata", validator=validator)
    with httpx.Client(
        base_url="https://shop.atlassian.net", transport=jira.transport(), auth=("me@example.com", "t")
    ) as client:
        assert client.get(f"{API}/myself").json()["timeZone"] == "Asia/Kolkata"
        clock.now = datetime(2025, 1, 6, 9, 0, 5, tzinfo=UTC)  # 14:30:05 in Kolkata
        first = create(client, "first")
        clock.now = datetime(2025, 1, 6, 9, 0, 40, 500000, tzinfo=UTC)
        second = create(client, "second")
        updated = client.get(f"{API}/issue/{second}", params={"fields": "updated"}).json()["fields"]["updated"]
        assert updated == "2025-01-06T14:30:40.500+0530"

        def found(jql: str) -> list[str]:
            return keys(search(client, jql))

        assert found('project = SHOP AND updated >= "2025-01-06 14:30" ORDER BY updated ASC') == [first, second]
        assert found('project = SHOP AND updated > "2025-01-06 14:30" ORDER BY updated ASC') == [first, second]
        assert found('project = SHOP AND updated >= "2025-01-06 14:31"') == []
        assert found('project = SHOP AND updated >= "2025/01/06 14:30" AND updated < "2025-01-06 14:31"') != []
        assert found('project = SHOP AND updated >= "2025-01-06 09:00"') == [
            second,
            first,
        ]  # UTC read as local: too early
        assert found('project = SHOP AND updated >= "2025-01-06"') == [second, first]
        # A person edits "first" later in the same minute; a watermark query at that minute sees it again.
        clock.now = datetime(2025, 1, 6, 9, 0, 59, tzinfo=UTC)
        jira.edit_issue(1, summary="first, edited")
        assert found('project = SHOP AND updated >= "2025-01-06 14:30" ORDER BY updated ASC') == [second, first]
        clock.now = datetime(2025, 1, 6, 9, 5, tzinfo=UTC)
        assert found('project = SHOP AND updated >= "-5m" ORDER BY key ASC') == [first, second]
        assert found('project = SHOP AND updated >= "-4m"') == []
    if validator is not None:
        assert [str(v) for v in validator.violations] == []


def test_search_pages_with_next_page_token(jira: FakeJira, client: httpx.Client, clock: ManualClock) -> None:
    for number in range(7):
        clock.advance(seconds=10)
        create(client, f"issue {number}")
    jql = "project = SHOP ORDER BY key ASC"
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        extra: dict[str, Any] = {"maxResults": 3, "fields": ["summary"]}
        if token:
            extra["nextPageToken"] = token
        page = search(client, jql, **extra)
        pages += 1
        seen += keys(page)
        assert all(set(issue["fields"]) == {"summary"} for issue in page["issues"])
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert (pages, seen) == (3, [f"SHOP-{n}" for n in range(1, 8)])

    by_get = client.get(f"{API}/search/jql", params={"jql": jql, "maxResults": 5, "fields": "summary,status"})
    assert by_get.status_code == 200 and len(by_get.json()["issues"]) == 5 and by_get.json()["isLast"] is False
    only_ids = search(client, "project = SHOP ORDER BY updated DESC")
    assert only_ids["issues"][0] == {
        "expand": only_ids["issues"][0]["expand"],
        "id": jira.issues[7]["id"],
        "self": only_ids["issues"][0]["self"],
        "key": "SHOP-7",
    }
    bad_token = client.post(f"{API}/search/jql", json={"jql": jql, "nextPageToken": "bm90IGEgdG9rZW4"})
    assert bad_token.status_code == 400
    other_query = client.post(
        f"{API}/search/jql",
        json={"jql": "project = SHOP ORDER BY key DESC", "nextPageToken": token or by_get.json()["nextPageToken"]},
    )
    assert other_query.status_code == 400
    found = search(client, 'key in (SHOP-2, "SHOP-5") AND status = "To Do"', fields=["summary"], properties=["none"])
    assert sorted(keys(found)) == ["SHOP-2", "SHOP-5"]
    jira.delete_issue(5)
    gone = client.post(f"{API}/search/jql", json={"jql": "key in (SHOP-2, SHOP-5)"})
    assert gone.status_code == 400
    assert gone.json()["errorMessages"] == ["An issue with key 'SHOP-5' does not exist for field 'key'."]
    other_project = client.post(f"{API}/search/jql", json={"jql": "project = OTHER"})
    assert other_project.json()["errorMessages"] == ["The value 'OTHER' does not exist for the field 'project'."]


def test_new_issues_can_lag_behind_search_as_jiras_index_does(
    jira: FakeJira, client: httpx.Client, clock: ManualClock
) -> None:
    jira.search_lag = timedelta(seconds=30)
    key = create(client, "Fresh")
    assert keys(search(client, "project = SHOP")) == []
    assert client.get(f"{API}/issue/{key}").status_code == 200  # a read by key finds it at once
    clock.advance(seconds=30)
    assert keys(search(client, "project = SHOP")) == [key]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("", "Unbounded JQL queries are not allowed here"),
        ("ORDER BY updated DESC", "Unbounded JQL queries are not allowed here"),
        ("project = SHOP OR project = OTHER", "'OR' is not supported"),
        ("project = SHOP AND colour = red", "Field 'colour' does not exist"),
        ("project = SHOP AND assignee = currentUser()", "The field 'assignee' is not supported"),
        (
            'project = SHOP AND updated >= "06.01.2025 10:00"',
            "Date value '06.01.2025 10:00' for field 'updated' is invalid",
        ),
        ("project = SHOP ORDER BY summary ASC", "Not able to sort using field 'summary'"),
        ("project = SHOP updated", "Expecting either 'OR' or 'AND'"),
    ],
)
def test_jql_outside_the_subset_is_refused_as_jira_refuses(client: httpx.Client, jql: str, message: str) -> None:
    response = client.post(f"{API}/search/jql", json={"jql": jql})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"errorMessages", "errors"} and message in body["errorMessages"][0]


# -- comments, worklogs, versions, filters -----------------------------------------------------


def test_comments_and_worklogs(jira: FakeJira, client: httpx.Client, clock: ManualClock) -> None:
    key = create(client, "Logged", timetracking={"originalEstimate": "4h"})
    clock.advance(minutes=1)
    comment = client.post(f"{API}/issue/{key}/comment", json={"body": adf("Progress: 50%")})
    assert comment.status_code == 201
    assert comment.json()["author"]["accountId"] == jira.myself["accountId"]
    assert client.post(f"{API}/issue/{key}/comment", json={"body": "plain"}).status_code == 400
    jira.add_comment(key, "A person's note", jira.add_user("Bob Builder"))
    page = client.get(f"{API}/issue/{key}/comment").json()
    assert page["total"] == 2 and page["comments"][0]["body"] == adf("Progress: 50%")
    assert page["comments"][1]["author"]["displayName"] == "Bob Builder"

    worklog = client.post(
        f"{API}/issue/{key}/worklog",
        json={"timeSpent": "1h 30m", "started": "2025-01-06T08:00:00.000+0000", "comment": adf("pairing")},
    )
    assert worklog.status_code == 201
    assert (worklog.json()["timeSpentSeconds"], worklog.json()["started"]) == (5400, "2025-01-06T09:00:00.000+0100")
    client.post(f"{API}/issue/{key}/worklog", json={"timeSpentSeconds": 1800})
    assert client.post(f"{API}/issue/{key}/worklog", json={"timeSpent": "soon"}).status_code == 400
    assert client.get(f"{API}/issue/{key}/worklog").json()["total"] == 2
    tracking = client.get(f"{API}/issue/{key}", params={"fields": "timetracking"}).json()["fields"]["timetracking"]
    assert (tracking["timeSpentSeconds"], tracking["remainingEstimateSeconds"]) == (7200, 7200)
    assert jira.issues[1]["updated"] == "2025-01-06T10:01:00.000+0100"


def test_versions_are_created_assigned_and_released(jira: FakeJira, client: httpx.Client) -> None:
    created = client.post(
        f"{API}/version",
        json={
            "name": "1.0",
            "projectId": int(jira.project_id),
            "description": "First release",
            "releaseDate": "2025-02-01",
        },
    )
    assert created.status_code == 201
    version = created.json()
    assert (version["name"], version["released"], version["releaseDate"]) == ("1.0", False, "2025-02-01")
    duplicate = client.post(f"{API}/version", json={"name": "1.0", "projectId": int(jira.project_id)})
    assert duplicate.status_code == 400 and "name" in duplicate.json()["errors"]

    key = create(client, "Shipped", fixVersions=[{"id": version["id"]}])
    other = create(client, "Also shipped")
    client.put(f"{API}/issue/{other}", json={"update": {"fixVersions": [{"add": {"name": "1.0"}}]}})
    found = [
        issue["fields"]["fixVersions"][0]["name"]
        for issue in search(client, "project = SHOP", fields=["fixVersions"])["issues"]
    ]
    assert found == ["1.0", "1.0"]
    unknown = client.put(f"{API}/issue/{key}", json={"fields": {"fixVersions": [{"name": "9.9"}]}})
    assert unknown.status_code == 400

    released = client.put(f"{API}/version/{version['id']}", json={"released": True, "releaseDate": "2025-01-20"})
    assert released.status_code == 200 and (released.json()["released"], released.json()["releaseDate"]) == (
        True,
        "2025-01-20",
    )
    assert client.get(f"{API}/version/{version['id']}").json()["released"] is True
    assert [v["name"] for v in client.get(f"{API}/project/SHOP/versions").json()] == ["1.0"]
    assert client.get(f"{API}/version/999").status_code == 404


def test_filters_hold_jql(jira: FakeJira, client: httpx.Client) -> None:
    response = client.post(f"{API}/filter", json={"name": "SHOP board", "jql": "project = SHOP ORDER BY Rank ASC"})
    assert response.status_code == 200
    created = response.json()
    assert created["jql"] == "project = SHOP ORDER BY Rank ASC"
    assert client.get(f"{API}/filter/{created['id']}").json()["name"] == "SHOP board"
    bad = client.post(f"{API}/filter", json={"name": "bad", "jql": "project = SHOP OR x = y"})
    assert bad.status_code == 400


# -- faults and rate limits --------------------------------------------------------------------


def test_injected_faults(jira: FakeJira, client: httpx.Client) -> None:
    jira.inject("503", method="POST", path=r"/issue$")
    refused = client.post(
        f"{API}/issue", json={"fields": {"project": {"key": "SHOP"}, "summary": "x", "issuetype": {"name": "Task"}}}
    )
    assert refused.status_code == 503 and refused.json()["errorMessages"] and jira.issues == {}
    jira.inject("timeout", path=r"/myself$")
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"{API}/myself")
    jira.inject("drop_before", method="POST")
    with pytest.raises(httpx.RemoteProtocolError):
        create(client, "dropped before")
    assert jira.issues == {}
    jira.inject("drop_after", method="POST", path=r"/issue$")
    with pytest.raises(httpx.RemoteProtocolError):
        create(client, "dropped after")
    assert [issue["summary"] for issue in jira.issues.values()] == ["dropped after"]
    assert [(r.fault, r.status, r.applied) for r in jira.requests] == [
        ("503", 503, False),
        ("timeout", None, False),
        ("drop_before", None, False),
        ("drop_after", 201, True),
    ]
    jira.inject("500", times=3)
    assert jira.pending_faults() == 3
    assert client.get(f"{API}/myself").status_code == 500
    assert jira.clear_faults() == 2 and jira.pending_faults() == 0
    assert client.get(f"{API}/myself").status_code == 200
    with pytest.raises(ValueError, match="unknown fault"):
        jira.inject("418")


def test_rate_limits_answer_429_with_atlassians_headers(
    jira: FakeJira, client: httpx.Client, clock: ManualClock
) -> None:
    jira.inject("429", retry_after=7)
    limited = client.get(f"{API}/myself")
    assert limited.status_code == 429
    headers = limited.headers
    assert headers["Retry-After"] == "7"
    assert headers["X-RateLimit-Reset"] == "2025-01-06T09:00Z"  # ISO 8601 to the minute, UTC
    assert headers["X-RateLimit-Remaining"] == "0" and int(headers["X-RateLimit-Limit"]) > 0
    assert headers["RateLimit-Reason"] == "jira-burst-based"

    jira.rate_limit = 10
    jira.rate_remaining = 3
    answered = client.get(f"{API}/myself")
    assert answered.headers["X-RateLimit-Remaining"] == "2" and "X-RateLimit-NearLimit" not in answered.headers
    near = client.get(f"{API}/myself")  # below 20 % of the budget left
    assert near.headers["X-RateLimit-Remaining"] == "1" and near.headers["X-RateLimit-NearLimit"] == "true"
    client.get(f"{API}/myself")
    exhausted = client.get(f"{API}/myself")
    assert exhausted.status_code == 429 and int(exhausted.headers["Retry-After"]) >= 1
    clock.advance(seconds=jira.rate_window)
    assert client.get(f"{API}/myself").status_code == 200


def test_serves_over_http_on_loopback(jira: FakeJira) -> None:
    with jira.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        auth = ("me@example.com", "token")
        created = httpx.post(
            f"{url}{API}/issue",
            auth=auth,
            json={"fields": {"project": {"key": "SHOP"}, "summary": "Over HTTP", "issuetype": {"name": "Task"}}},
        )
        assert created.status_code == 201 and created.json()["self"].startswith(url)
        jira.inject("drop_after", method="PUT")
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.put(f"{url}{API}/issue/SHOP-1", auth=auth, json={"fields": {"summary": "Applied anyway"}})
        assert jira.issues[1]["summary"] == "Applied anyway"
    assert jira.site_url == "https://your-domain.atlassian.net"


def test_the_validator_sees_every_exchange_and_catches_a_bad_one(jira_specs: JiraSpecs, clock: ManualClock) -> None:
    validator = jira_specs.fork()
    jira = FakeJira(clock=clock, validator=validator)
    with httpx.Client(base_url="https://x.atlassian.net", transport=jira.transport(), auth=("a@b.c", "t")) as client:
        client.get(f"{API}/myself")
        client.get(f"{API}/myself", params={"colour": "red"})  # not a parameter of getCurrentUser
    assert validator.checked == 2
    assert [v.where for v in validator.violations] == ["request.query"]


# -- agile: boards, sprints, backlog, rank -----------------------------------------------------


def make_board(client: httpx.Client, kind: str = "scrum") -> dict[str, Any]:
    saved = client.post(f"{API}/filter", json={"name": f"SHOP {kind}", "jql": "project = SHOP ORDER BY Rank ASC"})
    response = client.post(
        f"{AGILE}/board", json={"name": f"SHOP {kind}", "type": kind, "filterId": int(saved.json()["id"])}
    )
    assert response.status_code == 201, response.text
    board: dict[str, Any] = response.json()
    return board


def test_a_board_is_made_from_a_filter_and_found_again(jira: FakeJira, client: httpx.Client) -> None:
    board = make_board(client, "kanban")
    assert (board["type"], board["location"]["projectKey"]) == ("kanban", "SHOP")
    no_filter = client.post(f"{AGILE}/board", json={"name": "x", "type": "scrum", "filterId": 999})
    assert no_filter.status_code == 400
    found = client.get(
        f"{AGILE}/board", params={"projectKeyOrId": "SHOP", "name": "SHOP kanban", "type": "kanban"}
    ).json()
    assert [b["id"] for b in found["values"]] == [board["id"]] and found["isLast"] is True
    assert client.get(f"{AGILE}/board", params={"projectKeyOrId": "OTHER"}).json()["values"] == []
    assert client.get(f"{AGILE}/board/{board['id']}").json()["name"] == "SHOP kanban"
    assert client.get(f"{AGILE}/board/999").status_code == 404
    config = client.get(f"{AGILE}/board/{board['id']}/configuration").json()
    columns = {c["name"]: [s["id"] for s in c["statuses"]] for c in config["columnConfig"]["columns"]}
    assert columns == {"To Do": ["10000"], "In Progress": ["3"], "Done": ["10001"]}
    assert config["filter"]["id"] == str(jira.boards[board["id"]]["filterId"])
    assert client.get(f"{AGILE}/board/{board['id']}/sprint").status_code == 400  # kanban boards have none


def test_board_issues_follow_rank(jira: FakeJira, client: httpx.Client) -> None:
    board = make_board(client)
    first, second, third = create(client, "one"), create(client, "two"), create(client, "three")
    listed = client.get(f"{AGILE}/board/{board['id']}/issue", params={"fields": "summary,status"}).json()
    assert keys(listed) == [first, second, third] and listed["total"] == 3
    assert set(listed["issues"][0]["fields"]) == {"summary", "status"}
    assert client.put(f"{AGILE}/issue/rank", json={"issues": [third], "rankBeforeIssue": first}).status_code == 204
    assert client.put(f"{AGILE}/issue/rank", json={"issues": [first], "rankAfterIssue": second}).status_code == 204
    ranked = client.get(f"{AGILE}/board/{board['id']}/issue", params={"fields": "summary"}).json()
    assert keys(ranked) == [third, second, first] and jira.rank == [3, 2, 1]
    assert search(client, "project = SHOP ORDER BY Rank ASC")["issues"][0]["key"] == third
    both = client.put(
        f"{AGILE}/issue/rank", json={"issues": [first], "rankBeforeIssue": second, "rankAfterIssue": third}
    )
    assert both.status_code == 400
    narrowed = client.get(f"{AGILE}/board/{board['id']}/issue", params={"jql": f"key = {second}"}).json()
    assert keys(narrowed) == [second]


def test_sprints_are_created_filled_started_and_closed(
    jira: FakeJira, client: httpx.Client, clock: ManualClock
) -> None:
    board = make_board(client)
    done_key, open_key, sub_parent = create(client, "finished"), create(client, "unfinished"), create(client, "parent")
    child = create(client, "child", issuetype={"name": "Sub-task"}, parent={"key": sub_parent})
    created = client.post(
        f"{AGILE}/sprint", json={"name": "Sprint 1", "originBoardId": board["id"], "goal": "Ship checkout"}
    )
    assert created.status_code == 201
    sprint = created.json()
    assert (sprint["state"], sprint["goal"], sprint["originBoardId"]) == ("future", "Ship checkout", board["id"])
    clock.advance(minutes=3)
    moved = client.post(f"{AGILE}/sprint/{sprint['id']}/issue", json={"issues": [done_key, open_key]})
    assert moved.status_code == 204
    assert jira.issues[1]["updated"] == "2025-01-06T10:03:00.000+0100"
    refused_sub_task = client.post(f"{AGILE}/sprint/{sprint['id']}/issue", json={"issues": [child]})
    assert refused_sub_task.status_code == 400
    in_sprint = client.get(f"{AGILE}/sprint/{sprint['id']}/issue", params={"fields": "summary,sprint"}).json()
    assert keys(in_sprint) == [done_key, open_key]
    assert in_sprint["issues"][0]["fields"]["sprint"]["id"] == sprint["id"]
    backlog = client.get(f"{AGILE}/board/{board['id']}/backlog", params={"fields": "summary"}).json()
    assert keys(backlog) == [sub_parent, child]
    platform_view = client.get(f"{API}/issue/{done_key}", params={"fields": "customfield_10020"}).json()["fields"]
    assert platform_view["customfield_10020"][0]["name"] == "Sprint 1"

    no_dates = client.post(f"{AGILE}/sprint/{sprint['id']}", json={"state": "active"})
    assert no_dates.status_code == 400
    started = client.post(
        f"{AGILE}/sprint/{sprint['id']}",
        json={
            "state": "active",
            "startDate": "2025-01-06T10:00:00.000+01:00",
            "endDate": "2025-01-20T10:00:00.000+01:00",
        },
    )
    assert started.status_code == 200 and started.json()["state"] == "active"
    second = client.post(f"{AGILE}/sprint", json={"name": "Sprint 2", "originBoardId": board["id"]}).json()
    cannot = client.put(
        f"{AGILE}/sprint/{second['id']}",
        json={
            "state": "active",
            "startDate": "2025-01-20T10:00:00.000+01:00",
            "endDate": "2025-02-03T10:00:00.000+01:00",
        },
    )
    assert cannot.status_code == 400  # one active sprint per board
    active = client.get(f"{AGILE}/board/{board['id']}/sprint", params={"state": "active"}).json()["values"]
    assert [s["id"] for s in active] == [sprint["id"]]

    jira.transition(1, "Done")
    closed = client.post(f"{AGILE}/sprint/{sprint['id']}", json={"state": "closed"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed" and "completeDate" in closed.json()
    assert client.get(f"{AGILE}/sprint/{sprint['id']}").json()["state"] == "closed"
    backlog = keys(client.get(f"{AGILE}/board/{board['id']}/backlog", params={"fields": "summary"}).json())
    assert open_key in backlog and done_key not in backlog  # the unfinished issue went back to the backlog
    assert client.post(f"{AGILE}/sprint/{sprint['id']}/issue", json={"issues": [open_key]}).status_code == 400
    reopen = client.post(f"{AGILE}/sprint/{sprint['id']}", json={"state": "active"})
    assert reopen.status_code == 400

    client.post(f"{AGILE}/sprint/{second['id']}/issue", json={"issues": [open_key]})
    assert client.post(f"{AGILE}/backlog/issue", json={"issues": [open_key]}).status_code == 204
    assert jira.sprints[second["id"]]["issues"] == []
