"""A stateful stand-in for Jira Cloud: the platform REST API v3 and the Jira Software agile API 1.0.

One :class:`FakeJira` is one Jira Cloud site with one software project (``SHOP`` by default) whose
state lives in plain dictionaries tests can read and edit. It answers through
:meth:`FakeJira.handle` (an ``httpx`` handler; :meth:`FakeJira.transport` wraps it) or over real
HTTP on 127.0.0.1 (:meth:`FakeJira.serve`, yielding the site root; the APIs are under
``/rest/api/3`` and ``/rest/agile/1.0``).

Payloads follow Atlassian's official OpenAPI descriptions of both APIs (field names, status codes,
the error body ``{"errorMessages": [...], "errors": {field: message}}``); with a validator every
exchange is checked against them as it happens. Behaviour follows Atlassian's pages:

* issues, fields, ``update`` verbs, properties, transitions, links, comments, worklogs:
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/ and the groups
  beside it; entity properties: https://developer.atlassian.com/cloud/jira/platform/jira-entity-properties/
* issue links: https://developer.atlassian.com/cloud/jira/platform/issue-linking-model/ . For the
  "Blocks" type (outward description "blocks", inward "is blocked by"), ``POST /issueLink`` with
  ``inwardIssue: A, outwardIssue: B`` makes **A block B**, as Jira Cloud does (the reverse of what
  the field names suggest; integrations commonly get it wrong). Reading A then shows
  ``{"outwardIssue": B}`` (A "blocks" B) and reading B shows ``{"inwardIssue": A}`` (B "is blocked
  by" A); ``GET /issueLink/{id}`` answers ``inwardIssue: A, outwardIssue: B`` as it was created.
  ``links`` stores ``{"id", "type", "inward": A, "outward": B}`` in the request's terms.
* search: ``/rest/api/3/search/jql`` with token pagination (``nextPageToken``, ``isLast``); the
  default ``fields`` is ``id`` only; unbounded queries and unknown body properties (``startAt``
  of the old endpoint) are refused, as Jira does:
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/ . A token
  is bound to its query and holds an offset into the result, evaluated afresh for each page: an
  issue edited between pages moves in an ``ORDER BY updated`` result as it would in Jira's index.
* JQL: a subset (see :func:`standins.jira_model.parse_jql`); dates have minute precision and are
  read in the account's time zone (``GET /myself`` tells it), timestamps in answers carry
  milliseconds and the offset (``2025-01-06T10:00:00.000+0100``).
* rate limits: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ — a 429 carries
  ``Retry-After`` (seconds), ``X-RateLimit-Reset`` (ISO 8601, ``yyyy-MM-ddTHH:mmZ``),
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``RateLimit-Reason``; every answer carries
  ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` and ``X-RateLimit-NearLimit: true`` below 20 %.
* workflows (:class:`~standins.jira_model.Workflow`): Jira Software's simplified workflow by
  default (To Do, In Progress, Done, global transitions); ``Workflow.with_blocked()`` (a Blocked
  status, directed transitions, multi-step paths) and ``Workflow.without_path()`` (statuses no
  transition reaches) for testing how an adapter walks or reports a workflow. Entering a done
  status sets the resolution ("Done", or the transition's ``fields.resolution``); leaving clears it.
* agile boards (made from a filter; columns To Do / In Progress / Done by status category),
  sprints (future -> active with dates -> closed; unfinished issues go back to the backlog; one
  active sprint per board), backlog and rank (``rank``; ``ORDER BY Rank`` follows it):
  https://developer.atlassian.com/cloud/jira/software/rest/intro/

Authentication: ``Authorization: Basic base64(email:api_token)`` or ``Authorization: Bearer
<token>``; any non-empty token is accepted, none is answered 401. The token is never kept.

Faults (:meth:`FakeJira.inject`): ``500``/``502``/``503``, ``timeout`` (``httpx.ReadTimeout``; over
HTTP the connection is held), ``drop_before`` / ``drop_after`` (the connection drops before / after
the change is applied), ``429`` with ``Retry-After``. It never reaches the network beyond the
127.0.0.1 port it serves on.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import httpx

from standins.github import ManualClock
from standins.jira_model import (
    CATEGORIES,
    JqlError,
    JqlQuery,
    Status,
    Transition,
    Workflow,
    adf_paragraphs,
    adf_problem,
    format_duration,
    jira_time,
    parse_duration,
    parse_jira_time,
    parse_jql,
    sort_issues,
)
from standins.serving import Outcome, answer, serve_http

__all__ = ["FAULTS", "FakeJira", "ManualClock", "Recorded", "Status", "Transition", "Workflow"]

Json = dict[str, Any]

API = "/rest/api/3"
AGILE = "/rest/agile/1.0"
SITE = "https://your-domain.atlassian.net"

#: The fault kinds :meth:`FakeJira.inject` accepts.
FAULTS: frozenset[str] = frozenset({"500", "502", "503", "timeout", "drop_before", "drop_after", "429"})


class SpecValidator(Protocol):
    """What the stand-in asks of a validator: check one exchange (``path`` is the request's full
    path, e.g. ``/rest/api/3/issue``)."""

    def check(self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None) -> Any: ...


ISSUE_TYPES: tuple[tuple[str, str, str, int, bool], ...] = (
    # id, name, description, hierarchyLevel, subtask
    ("10000", "Epic", "A big user story that needs to be broken down.", 1, False),
    ("10001", "Task", "A small, distinct piece of work.", 0, False),
    ("10002", "Story", "Functionality or a feature expressed as a user goal.", 0, False),
    ("10003", "Bug", "A problem or error.", 0, False),
    ("10004", "Sub-task", "A small piece of work that's part of a larger task.", -1, True),
)
PRIORITIES: tuple[tuple[str, str, str], ...] = (
    ("1", "Highest", "#d04437"),
    ("2", "High", "#f15C75"),
    ("3", "Medium", "#f79232"),
    ("4", "Low", "#707070"),
    ("5", "Lowest", "#999999"),
)
DEFAULT_PRIORITY = "3"
RESOLUTIONS: tuple[tuple[str, str, str], ...] = (
    ("10000", "Done", "Work has been completed on this issue."),
    ("10001", "Won't Do", "This issue won't be actioned."),
    ("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
    ("10003", "Cannot Reproduce", "All attempts at reproducing this issue failed."),
)
LINK_TYPES: tuple[tuple[str, str, str, str], ...] = (
    ("10000", "Blocks", "is blocked by", "blocks"),
    ("10001", "Cloners", "is cloned by", "clones"),
    ("10002", "Duplicate", "is duplicated by", "duplicates"),
    ("10003", "Relates", "relates to", "relates to"),
)
COMPONENTS: tuple[tuple[str, str], ...] = (("10000", "Backend"), ("10001", "Frontend"), ("10002", "Docs"))

#: The fields of an issue ``fields=*navigable`` leaves out.
_NOT_NAVIGABLE = frozenset({"comment", "worklog", "timetracking", "attachment"})
#: What ``PUT /issue`` and ``POST /issue`` accept in ``fields``.
_EDITABLE = frozenset(
    {
        "summary",
        "description",
        "labels",
        "assignee",
        "priority",
        "components",
        "duedate",
        "fixVersions",
        "timetracking",
        "parent",
        "reporter",
        "environment",
    }
)


@dataclass(frozen=True)
class Recorded:
    """One request the stand-in received.

    ``path`` is the URL path as sent (``/rest/api/3/issue/SHOP-1``); ``query`` the query string
    (last value wins); ``json`` the decoded body (or ``None``); ``status`` the status produced —
    also when ``drop_after`` kept it from the client — or ``None`` (``timeout``, ``drop_before``);
    ``fault`` the injected fault that hit it; ``applied`` whether it reached the API and was not
    refused (a 4xx is not applied); ``authenticated`` whether credentials were sent; ``headers``
    the request's header names (lower case), never their values.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None
    fault: str | None
    applied: bool
    authenticated: bool
    headers: frozenset[str]

    @property
    def is_mutation(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class _Fault:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    times: int
    retry_after: int


@dataclass
class _Req:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    request: httpx.Request


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by a route to answer with an error status and Jira's error body."""

    def __init__(self, status: int, messages: Sequence[str] = (), errors: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {list(messages)} {dict(errors or {})}")
        self.status = status
        self.body: Json = {"errorMessages": list(messages), "errors": dict(errors or {})}


def _bad(messages: Sequence[str] = (), **errors: str) -> ApiError:
    return ApiError(400, messages, errors)


def _issue_missing() -> ApiError:
    return ApiError(404, ["Issue does not exist or you do not have permission to see it."])


_ROUTES: tuple[tuple[str, str, str], ...] = (
    # platform API
    ("GET", API + r"/myself", "get_myself"),
    ("GET", API + r"/serverInfo", "get_server_info"),
    ("GET", API + r"/project/(?P<project>[^/]+)", "get_project"),
    ("GET", API + r"/project/(?P<project>[^/]+)/components", "get_components"),
    ("GET", API + r"/project/(?P<project>[^/]+)/versions", "get_project_versions"),
    ("GET", API + r"/project/(?P<project>[^/]+)/statuses", "get_project_statuses"),
    ("GET", API + r"/issuetype/project", "get_issue_types"),
    ("GET", API + r"/priority", "get_priorities"),
    ("GET", API + r"/priority/search", "search_priorities"),
    ("GET", API + r"/resolution", "get_resolutions"),
    ("GET", API + r"/user/assignable/search", "assignable_users"),
    ("POST", API + r"/issue", "create_issue"),
    ("GET", API + r"/issue/(?P<issue>[^/]+)", "get_issue"),
    ("PUT", API + r"/issue/(?P<issue>[^/]+)", "edit_issue_api"),
    ("DELETE", API + r"/issue/(?P<issue>[^/]+)", "delete_issue_api"),
    ("GET", API + r"/issue/(?P<issue>[^/]+)/transitions", "get_transitions"),
    ("POST", API + r"/issue/(?P<issue>[^/]+)/transitions", "do_transition"),
    ("GET", API + r"/issue/(?P<issue>[^/]+)/properties", "list_properties"),
    ("GET", API + r"/issue/(?P<issue>[^/]+)/properties/(?P<prop>[^/]+)", "get_property"),
    ("PUT", API + r"/issue/(?P<issue>[^/]+)/properties/(?P<prop>[^/]+)", "set_property"),
    ("DELETE", API + r"/issue/(?P<issue>[^/]+)/properties/(?P<prop>[^/]+)", "delete_property"),
    ("GET", API + r"/issue/(?P<issue>[^/]+)/comment", "list_comments"),
    ("POST", API + r"/issue/(?P<issue>[^/]+)/comment", "add_comment_api"),
    ("GET", API + r"/issue/(?P<issue>[^/]+)/worklog", "list_worklogs"),
    ("POST", API + r"/issue/(?P<issue>[^/]+)/worklog", "add_worklog"),
    ("POST", API + r"/issueLink", "create_link"),
    ("GET", API + r"/issueLink/(?P<link>[^/]+)", "get_link"),
    ("DELETE", API + r"/issueLink/(?P<link>[^/]+)", "delete_link"),
    ("GET", API + r"/issueLinkType", "get_link_types"),
    ("GET", API + r"/search/jql", "search_get"),
    ("POST", API + r"/search/jql", "search_post"),
    ("POST", API + r"/version", "create_version"),
    ("GET", API + r"/version/(?P<version>[^/]+)", "get_version"),
    ("PUT", API + r"/version/(?P<version>[^/]+)", "update_version"),
    ("POST", API + r"/filter", "create_filter"),
    ("GET", API + r"/filter/(?P<filter>[^/]+)", "get_filter"),
    # agile API
    ("GET", AGILE + r"/board", "list_boards"),
    ("POST", AGILE + r"/board", "create_board"),
    ("GET", AGILE + r"/board/(?P<board>[^/]+)", "get_board"),
    ("GET", AGILE + r"/board/(?P<board>[^/]+)/configuration", "get_board_configuration"),
    ("GET", AGILE + r"/board/(?P<board>[^/]+)/issue", "board_issues"),
    ("GET", AGILE + r"/board/(?P<board>[^/]+)/backlog", "board_backlog"),
    ("GET", AGILE + r"/board/(?P<board>[^/]+)/sprint", "board_sprints"),
    ("POST", AGILE + r"/sprint", "create_sprint"),
    ("GET", AGILE + r"/sprint/(?P<sprint>[^/]+)", "get_sprint"),
    ("POST", AGILE + r"/sprint/(?P<sprint>[^/]+)", "update_sprint_partial"),
    ("PUT", AGILE + r"/sprint/(?P<sprint>[^/]+)", "update_sprint_full"),
    ("GET", AGILE + r"/sprint/(?P<sprint>[^/]+)/issue", "sprint_issues"),
    ("POST", AGILE + r"/sprint/(?P<sprint>[^/]+)/issue", "move_to_sprint"),
    ("PUT", AGILE + r"/issue/rank", "rank_issues"),
    ("POST", AGILE + r"/backlog/issue", "move_to_backlog"),
)

_Handler = Callable[[_Req, dict[str, str]], _Reply]


class FakeJira:
    """Jira Cloud, as far as one software project's issues, workflow, properties, links,
    comments, worklogs, versions, filters, boards and sprints go (see the module docstring).

    State, all public and editable (plain dictionaries):

    * ``issues: dict[int, dict]`` — the number of the key (``SHOP-12`` -> 12) -> the issue as Jira
      holds it: ``id`` and ``key`` beside the raw ``fields`` values (``summary``, ``description``
      (ADF or ``None``), ``issuetype``, ``status``, ``resolution``, ``resolutiondate``,
      ``priority``, ``labels``, ``components``, ``assignee``, ``reporter``, ``duedate``,
      ``fixVersions``, ``parent`` (``{"id", "key"}`` or ``None``), ``created``, ``updated``,
      ``timeoriginalestimate`` / ``timeestimate`` / ``timespent`` (seconds or ``None``));
      ``issuelinks``, ``subtasks`` and the embedded objects are rendered fresh on every read;
    * ``links: list[dict]`` — ``{"id", "type": "Blocks", "inward": key, "outward": key}``, in the
      terms of ``POST /issueLink`` (``inward`` blocks ``outward``; see the module docstring);
    * ``properties: dict[str, dict[str, Any]]`` — issue key -> {property key -> JSON value};
    * ``comments`` / ``worklogs: dict[str, list[dict]]`` — issue key -> its comments / worklogs;
    * ``versions``, ``filters``, ``boards``, ``sprints: dict[int, dict]`` — by id;
    * ``rank: list[int]`` — issue numbers in rank order (new issues rank last);
    * ``users: dict[str, dict]`` — accountId -> user; :meth:`add_user` adds one; ``myself`` is
      the account the API answers as (its ``timeZone`` is ``time_zone``);
    * ``requests: list[Recorded]`` — every request received, in order;
    * ``rate_limit`` / ``rate_remaining`` — the burst budget of ``rate_window`` seconds (an
      exhausted budget is answered 429);
    * ``search_lag`` (a ``timedelta``, default zero) — how long a new issue stays out of
      ``/search/jql`` results, as Jira's eventually consistent index can keep it (reads by key
      find it at once);
    * ``credentials_valid`` (false: every request is 401), ``hold_seconds`` (how long a
      ``timeout`` fault holds a served connection at most);
    * ``site_url`` — the base of every ``self`` link (the served address while :meth:`serve` runs).
    """

    def __init__(
        self,
        project_key: str = "SHOP",
        *,
        clock: ManualClock | Callable[[], datetime] | None = None,
        workflow: Workflow | None = None,
        time_zone: str = "Europe/Berlin",
        validator: SpecValidator | object | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,9}", project_key):
            raise ValueError(f"{project_key!r} is not a Jira project key (2-10 upper-case letters and digits)")
        self.project_key = project_key
        self.project_id = str(10000 + zlib.crc32(project_key.encode()) % 90000)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.workflow = workflow or Workflow.simplified()
        self.time_zone = time_zone
        self.validator = validator
        self.site_url = SITE
        self.credentials_valid = True
        self.hold_seconds = 30.0
        self.rate_limit = 1000
        self.rate_remaining = 1000
        self.rate_window = 60
        self.search_lag = timedelta(0)

        self.issues: dict[int, Json] = {}
        self.links: list[Json] = []
        self.properties: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[Json]] = {}
        self.worklogs: dict[str, list[Json]] = {}
        self.versions: dict[int, Json] = {}
        self.filters: dict[int, Json] = {}
        self.boards: dict[int, Json] = {}
        self.sprints: dict[int, Json] = {}
        self.rank: list[int] = []
        self.users: dict[str, Json] = {}
        self.requests: list[Recorded] = []
        self.internal_errors: list[str] = []

        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._ids: dict[str, int] = {}
        self._rate_reset = self._now() + timedelta(seconds=self.rate_window)
        self.myself = self.add_user("Sync Bot", email="sync-bot@example.com", time_zone=time_zone)
        self._routes: list[tuple[str, re.Pattern[str], _Handler]] = [
            (method, re.compile(f"^{regex}$"), getattr(self, name)) for method, regex, name in _ROUTES
        ]

    # -- public API for tests ------------------------------------------------------------------

    def add_user(self, display_name: str, *, email: str | None = None, time_zone: str | None = None) -> Json:
        """Add a user (an Atlassian account) named ``display_name``; returns the user object.
        The accountId is derived from the name, so the same name gives the same account."""
        with self._lock:
            seed = zlib.crc32(display_name.encode())
            account = (
                f"712020:{seed:08x}-{len(self.users):04x}-4a1b-9c2d-{zlib.crc32(display_name[::-1].encode()):012x}"
            )
            existing = next((u for u in self.users.values() if u["displayName"] == display_name), None)
            if existing is not None:
                return existing
            slug = re.sub(r"[^a-z0-9]+", ".", display_name.casefold()).strip(".")
            user = {
                "accountId": account,
                "accountType": "atlassian",
                "active": True,
                "displayName": display_name,
                "emailAddress": email or f"{slug}@example.com",
                "timeZone": time_zone or self.time_zone,
                "locale": "en_US",
            }
            self.users[account] = user
            return user

    def user_named(self, display_name: str) -> Json:
        """The user called ``display_name``. Raises ``KeyError``."""
        for user in self.users.values():
            if user["displayName"] == display_name:
                return user
        raise KeyError(display_name)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request. Raises ``httpx.ReadTimeout`` for a ``timeout`` fault and
        ``httpx.RemoteProtocolError`` for ``drop_before`` / ``drop_after``."""
        return answer(self._process(request), request)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering from this stand-in (any host; the path decides)."""
        return httpx.MockTransport(self.handle)

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Serve over HTTP on 127.0.0.1, on ``port`` (0: a free one), from a background thread;
        yields the site root (``http://127.0.0.1:PORT``; the APIs are under ``/rest/api/3`` and
        ``/rest/agile/1.0``). ``drop_*`` faults close the connection without an answer;
        ``timeout`` holds it (up to ``hold_seconds``) and then closes it."""

        def failed(where: str, exc: Exception) -> httpx.Response:  # a bug in the stand-in, kept for the test
            self.internal_errors.append(f"{where}: {exc!r}")
            body = json.dumps({"errorMessages": [f"stand-in failed: {exc}"], "errors": {}}).encode()
            return httpx.Response(500, content=body)

        with serve_http(self._process, port=port, hold_seconds=lambda: self.hold_seconds, failed=failed) as url:
            previous = self.site_url
            self.site_url = url
            try:
                yield url
            finally:
                self.site_url = previous

    def inject(
        self, fault: str, *, method: str | None = None, path: str | None = None, times: int = 1, retry_after: int = 1
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and ``path`` (a regex searched in
        the URL path, e.g. ``r"/issue$"``) fail with ``fault`` (one of :data:`FAULTS`):

        * ``"500"`` / ``"502"`` / ``"503"``: that status, nothing applied;
        * ``"timeout"``: ``httpx.ReadTimeout`` (over HTTP: no answer), nothing applied;
        * ``"drop_before"``: the connection drops, nothing applied;
        * ``"drop_after"``: the request is applied, then the connection drops before the answer;
        * ``"429"``: 429 with ``Retry-After: retry_after`` and Jira's rate-limit headers.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        with self._lock:
            compiled = re.compile(path) if path else None
            self._faults.append(_Fault(fault, method.upper() if method else None, compiled, times, retry_after))

    def clear_faults(self) -> int:
        """Drop the faults not triggered yet; returns how many requests they would have hit."""
        with self._lock:
            left = sum(f.times for f in self._faults)
            self._faults = []
            return left

    def pending_faults(self) -> int:
        """How many injected fault hits are still to happen."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def mutations(self) -> list[Recorded]:
        """The recorded requests that try to change something, applied or not."""
        with self._lock:
            return [r for r in self.requests if r.is_mutation]

    def add_issue(self, summary: str, **fields: Any) -> Json:
        """Create an issue as a person would in Jira's UI (not recorded as a request); ``fields``
        are ``POST /issue`` fields (``issuetype`` defaults to Task). Returns the stored issue."""
        with self._lock:
            payload = {"project": {"key": self.project_key}, "summary": summary, **fields}
            payload.setdefault("issuetype", {"name": "Task"})
            if isinstance(payload.get("description"), str):
                payload["description"] = adf_paragraphs(payload["description"])
            number = self._create(payload, {}, self.myself)
            return self.issues[number]

    def edit_issue(self, number: int, **fields: Any) -> Json:
        """Change an issue as a person in Jira's UI would: ``summary``, ``description`` (an ADF
        document, or plain text made into paragraphs), ``labels``, ``assignee`` (an accountId or
        ``None``), ``priority`` / ``resolution`` (names), ``components`` (names), ``duedate``,
        ``status`` (a status name: the issue walks the workflow's shortest path there, one
        transition at a time). Bumps ``updated``. Raises ``KeyError`` for an unknown issue and ``ValueError`` for a
        change Jira would refuse (including a status the workflow cannot reach)."""
        with self._lock:
            issue = self._issue_by_number(number)
            status = fields.pop("status", None)
            resolution = fields.pop("resolution", None)
            changes: Json = {}
            for name, value in fields.items():
                if name == "description" and isinstance(value, str):
                    changes[name] = adf_paragraphs(value)
                elif name == "assignee":
                    changes[name] = None if value is None else {"accountId": value}
                elif name == "priority":
                    changes[name] = {"name": value}
                elif name == "components":
                    changes[name] = [{"name": v} for v in value]
                else:
                    changes[name] = value
            try:
                self._apply_fields(issue, changes, creating=False)
                if status is not None:
                    target = self.workflow.status(status).name
                    route = self.workflow.path(issue["status"]["name"], target)
                    if route is None:
                        raise ValueError(f"the workflow has no path from {issue['status']['name']!r} to {target!r}")
                    for index, step in enumerate(route):
                        last = index == len(route) - 1
                        self._move(issue, step, {"name": resolution} if resolution and last else None)
                elif resolution is not None:
                    issue["resolution"] = self._resolution({"name": resolution})
            except ApiError as exc:
                raise ValueError(exc.body) from exc
            except KeyError as exc:
                raise ValueError(f"unknown status {status!r}") from exc
            self._touch(issue)
            return issue

    def delete_issue(self, number: int) -> None:
        """Delete an issue as an admin in Jira's UI would, with its sub-tasks, links, properties,
        comments and worklogs; reads of it then answer 404."""
        with self._lock:
            issue = self._issue_by_number(number)
            doomed = [number] + [
                n
                for n, other in self.issues.items()
                if (other.get("parent") or {}).get("key") == issue["key"] and other["issuetype"]["subtask"]
            ]
            self._forget(doomed)

    def _forget(self, numbers: Sequence[int]) -> None:
        keys = {self.issues[n]["key"] for n in numbers}
        for number in numbers:
            del self.issues[number]
        self.links = [link for link in self.links if not {link["inward"], link["outward"]} & keys]
        for key in keys:
            self.properties.pop(key, None)
            self.comments.pop(key, None)
            self.worklogs.pop(key, None)
        self.rank = [n for n in self.rank if n not in numbers]
        for sprint in self.sprints.values():
            sprint["issues"] = [n for n in sprint["issues"] if n not in numbers]

    def transition(self, number: int, status_name: str) -> None:
        """Move an issue to ``status_name`` through one transition available from its current
        status, as a person clicking it would (bumps ``updated``). Raises ``ValueError`` when no
        such transition is available."""
        with self._lock:
            issue = self._issue_by_number(number)
            current = issue["status"]["name"]
            step = next(
                (t for t in self.workflow.available(current) if t.to.casefold() == status_name.casefold()), None
            )
            if step is None:
                raise ValueError(f"no transition from {current!r} to {status_name!r}")
            self._move(issue, step, None)
            self._touch(issue)

    def status_of(self, number: int) -> str:
        """The status name of issue ``number``."""
        with self._lock:
            return str(self._issue_by_number(number)["status"]["name"])

    def key(self, number: int) -> str:
        return f"{self.project_key}-{number}"

    # -- processing ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _stamp(self, moment: datetime | None = None) -> str:
        return jira_time(moment or self._now(), self.time_zone)

    def _next(self, kind: str, start: int = 1) -> int:
        self._ids[kind] = self._ids.get(kind, start - 1) + 1
        return self._ids[kind]

    def _process(self, request: httpx.Request) -> Outcome:
        with self._lock:
            return self._process_locked(request)

    def _process_locked(self, request: httpx.Request) -> Outcome:
        path = request.url.path
        raw = request.read()
        body: Any = None
        body_ok = True
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body_ok = False
        method = request.method.upper()
        query = dict(request.url.params.items())
        authenticated = self._has_credentials(request)
        fault = self._take_fault(method, path)
        header_names = frozenset(key.lower() for key in request.headers)

        def record(status: int | None, applied: bool) -> None:
            self.requests.append(
                Recorded(
                    method,
                    path,
                    query,
                    body,
                    status,
                    fault.kind if fault else None,
                    applied,
                    authenticated,
                    header_names,
                )
            )

        if fault is not None and fault.kind in {"timeout", "drop_before"}:
            record(None, False)
            self._validate(request, None, path)
            return Outcome("timeout" if fault.kind == "timeout" else "drop")
        if fault is not None and fault.kind != "drop_after":
            response = self._fault_response(fault, request)
            record(response.status_code, False)
            self._validate(request, response, path)
            return Outcome("respond", response)
        response = self._serve(_Req(method, path, query, body, request), authenticated, body_ok)
        record(response.status_code, response.status_code < 400)
        self._validate(request, response, path)
        if fault is not None:
            return Outcome("drop")
        return Outcome("respond", response)

    def _validate(self, request: httpx.Request, response: httpx.Response | None, path: str) -> None:
        check = getattr(self.validator, "check", None)
        if check is not None:
            check(request, response, path=path)

    @staticmethod
    def _has_credentials(request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer":
            return bool(token)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token, validate=True).decode()
            except ValueError:
                return False
            email, _, secret = decoded.partition(":")
            return bool(email and secret)
        return False

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method and fault.method != method:
                continue
            if fault.path and not fault.path.search(path):
                continue
            fault.times -= 1
            self._faults = [f for f in self._faults if f.times > 0]
            return fault
        return None

    def _rate_headers(self) -> dict[str, str]:
        now = self._now()
        if now >= self._rate_reset:
            self.rate_remaining = self.rate_limit
            self._rate_reset = now + timedelta(seconds=self.rate_window)
        headers = {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(max(0, self.rate_remaining))}
        if self.rate_remaining < self.rate_limit * 0.2:
            headers["X-RateLimit-NearLimit"] = "true"
        return headers

    def _limited(self, retry_after: int) -> dict[str, str]:
        reset = self._now() + timedelta(seconds=retry_after)
        return {
            **self._rate_headers(),
            "X-RateLimit-Remaining": "0",
            "Retry-After": str(retry_after),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
            "RateLimit-Reason": "jira-burst-based",
        }

    def _response(self, status: int, body: Any, headers: Mapping[str, str], request: httpx.Request) -> httpx.Response:
        merged = {"X-AREQUESTID": f"{self._next('request', 1000):08x}", **headers}
        if body is None:
            return httpx.Response(status, headers=merged, request=request)
        merged["Content-Type"] = "application/json;charset=UTF-8"
        content = json.dumps(body, separators=(",", ":")).encode()
        return httpx.Response(status, headers=merged, content=content, request=request)

    def _fault_response(self, fault: _Fault, request: httpx.Request) -> httpx.Response:
        if fault.kind == "429":
            body = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
            return self._response(429, body, self._limited(fault.retry_after), request)
        messages = {
            "500": "Internal server error",
            "502": "Bad gateway",
            "503": "Service unavailable. Please try again later.",
        }
        body = {"errorMessages": [messages[fault.kind]], "errors": {}}
        return self._response(int(fault.kind), body, self._rate_headers(), request)

    def _serve(self, req: _Req, authenticated: bool, body_ok: bool) -> httpx.Response:
        if not authenticated or not self.credentials_valid:
            headers = {**self._rate_headers(), "WWW-Authenticate": 'Basic realm="protected-area"'}
            body = {
                "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
                "errors": {},
            }
            return self._response(401, body, headers, req.request)
        self._rate_headers()
        if self.rate_remaining <= 0:
            wait = max(1, int((self._rate_reset - self._now()).total_seconds()))
            body = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
            return self._response(429, body, self._limited(wait), req.request)
        self.rate_remaining -= 1
        if not body_ok:
            body = {"errorMessages": ["Unexpected character in the request body: it is not valid JSON."], "errors": {}}
            return self._response(400, body, self._rate_headers(), req.request)
        reply = self._dispatch(req)
        return self._response(reply.status, reply.body, {**self._rate_headers(), **reply.headers}, req.request)

    def _dispatch(self, req: _Req) -> _Reply:
        path_known = False
        for method, pattern, handler in self._routes:
            match = pattern.match(req.path)
            if match is None:
                continue
            path_known = True
            if method != req.method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            try:
                return handler(req, params)
            except ApiError as exc:
                return _Reply(exc.status, exc.body)
        if path_known:
            return _Reply(405, {"errorMessages": [f"Method {req.method} is not allowed here."], "errors": {}})
        return _Reply(404, {"errorMessages": ["No resource found for this path."], "errors": {}})

    # -- JSON builders -------------------------------------------------------------------------

    @property
    def _api(self) -> str:
        return self.site_url + API

    @property
    def _agile(self) -> str:
        return self.site_url + AGILE

    def _user_json(self, user: Json, *, full: bool = False) -> Json:
        avatar = f"https://avatar-management.example.com/default/{user['accountId'][-8:]}"
        out = {
            "self": f"{self._api}/user?accountId={quote(user['accountId'])}",
            "accountId": user["accountId"],
            "accountType": user["accountType"],
            "emailAddress": user["emailAddress"],
            "avatarUrls": {size: f"{avatar}/{size.split('x')[0]}" for size in ("48x48", "24x24", "16x16", "32x32")},
            "displayName": user["displayName"],
            "active": user["active"],
            "timeZone": user["timeZone"],
        }
        if full:
            out["locale"] = user["locale"]
            out["groups"] = {"size": 1, "items": []}
            out["applicationRoles"] = {"size": 1, "items": []}
            out["expand"] = "groups,applicationRoles"
        return out

    def _issue_type_json(self, type_id: str) -> Json:
        for tid, name, description, level, subtask in ISSUE_TYPES:
            if tid == type_id:
                return {
                    "self": f"{self._api}/issuetype/{tid}",
                    "id": tid,
                    "description": description,
                    "iconUrl": f"{self.site_url}/images/icons/issuetypes/{name.lower()}.svg",
                    "name": name,
                    "subtask": subtask,
                    "avatarId": 10300 + int(tid) % 100,
                    "hierarchyLevel": level,
                }
        raise KeyError(type_id)

    def _status_json(self, status: Status) -> Json:
        category_id, category_name, color = CATEGORIES[status.category]
        return {
            "self": f"{self._api}/status/{status.id}",
            "description": "",
            "iconUrl": f"{self.site_url}/",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{self._api}/statuscategory/{category_id}",
                "id": category_id,
                "key": status.category,
                "colorName": color,
                "name": category_name,
            },
        }

    def _priority_json(self, priority_id: str) -> Json:
        for pid, name, _color in PRIORITIES:
            if pid == priority_id:
                return {
                    "self": f"{self._api}/priority/{pid}",
                    "iconUrl": f"{self.site_url}/images/icons/priorities/{name.lower()}.svg",
                    "name": name,
                    "id": pid,
                }
        raise KeyError(priority_id)

    def _resolution_json(self, resolution_id: str) -> Json:
        for rid, name, description in RESOLUTIONS:
            if rid == resolution_id:
                return {"self": f"{self._api}/resolution/{rid}", "id": rid, "description": description, "name": name}
        raise KeyError(resolution_id)

    def _component_json(self, component_id: str) -> Json:
        name = dict(COMPONENTS)[component_id]
        return {"self": f"{self._api}/component/{component_id}", "id": component_id, "name": name}

    def _project_ref(self) -> Json:
        return {
            "self": f"{self._api}/project/{self.project_id}",
            "id": self.project_id,
            "key": self.project_key,
            "name": self.project_key.title(),
            "projectTypeKey": "software",
            "simplified": False,
        }

    def _link_type_json(self, type_id: str) -> Json:
        for lid, name, inward, outward in LINK_TYPES:
            if lid == type_id:
                return {
                    "id": lid,
                    "name": name,
                    "inward": inward,
                    "outward": outward,
                    "self": f"{self._api}/issueLinkType/{lid}",
                }
        raise KeyError(type_id)

    def _link_type_named(self, name: str) -> str:
        for lid, type_name, _inward, _outward in LINK_TYPES:
            if type_name.casefold() == name.casefold():
                return lid
        raise KeyError(name)

    def _version_json(self, version: Json) -> Json:
        out = {
            "self": f"{self._api}/version/{version['id']}",
            "id": str(version["id"]),
            "name": version["name"],
            "archived": version["archived"],
            "released": version["released"],
            "projectId": int(self.project_id),
        }
        if version.get("description"):
            out["description"] = version["description"]
        for name in ("startDate", "releaseDate"):
            if version.get(name):
                out[name] = version[name]
                when = date.fromisoformat(version[name])
                out["user" + name[0].upper() + name[1:]] = f"{when.day}/{when.strftime('%b')}/{when.strftime('%y')}"
        if version.get("releaseDate") and not version["released"]:
            today = self._now().astimezone(ZoneInfo(self.time_zone)).date()
            out["overdue"] = date.fromisoformat(version["releaseDate"]) < today
        return out

    def _issue_ref(self, number: int) -> Json:
        """The short form of an issue embedded in another (links, sub-tasks, parent)."""
        issue = self.issues[number]
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self._api}/issue/{issue['id']}",
            "fields": {
                "summary": issue["summary"],
                "status": copy.deepcopy(issue["status"]),
                "priority": copy.deepcopy(issue["priority"]),
                "issuetype": copy.deepcopy(issue["issuetype"]),
            },
        }

    def _timetracking(self, issue: Json) -> Json:
        out: Json = {}
        if issue.get("timeoriginalestimate") is not None:
            out["originalEstimate"] = format_duration(issue["timeoriginalestimate"])
            out["originalEstimateSeconds"] = issue["timeoriginalestimate"]
        if issue.get("timeestimate") is not None:
            out["remainingEstimate"] = format_duration(issue["timeestimate"])
            out["remainingEstimateSeconds"] = issue["timeestimate"]
        if issue.get("timespent"):
            out["timeSpent"] = format_duration(issue["timespent"])
            out["timeSpentSeconds"] = issue["timespent"]
        return out

    def _issue_fields(self, number: int) -> Json:
        """Every field of issue ``number`` as ``GET /issue`` renders it (``*all``)."""
        issue = self.issues[number]
        key = issue["key"]
        fields = {k: copy.deepcopy(v) for k, v in issue.items() if k not in {"id", "key"}}
        fields["project"] = self._project_ref()
        fields["fixVersions"] = [
            self._version_json(self.versions[int(v["id"])])
            for v in issue["fixVersions"]
            if int(v["id"]) in self.versions
        ]
        parent = issue.get("parent")
        if parent is not None:
            parent_number = self._number_of(parent["key"])
            fields["parent"] = self._issue_ref(parent_number) if parent_number in self.issues else parent
        else:
            fields.pop("parent", None)
        fields["subtasks"] = [
            self._issue_ref(n)
            for n, other in sorted(self.issues.items())
            if (other.get("parent") or {}).get("key") == key and other["issuetype"]["subtask"]
        ]
        links = []
        for link in self.links:
            type_json = self._link_type_json(self._link_type_named(link["type"]))
            if link["inward"] == key and self._number_of(link["outward"]) in self.issues:
                other = {"outwardIssue": self._issue_ref(self._number_of(link["outward"]))}
            elif link["outward"] == key and self._number_of(link["inward"]) in self.issues:
                other = {"inwardIssue": self._issue_ref(self._number_of(link["inward"]))}
            else:
                continue
            links.append({"id": link["id"], "self": f"{self._api}/issueLink/{link['id']}", "type": type_json, **other})
        fields["issuelinks"] = links
        fields["timetracking"] = self._timetracking(issue)
        fields["aggregatetimespent"] = issue.get("timespent")
        fields["statuscategorychangedate"] = issue.get("statuscategorychangedate")
        comments = self.comments.get(key, [])
        fields["comment"] = {
            "comments": [self._comment_json(c) for c in comments],
            "self": f"{self._api}/issue/{issue['id']}/comment",
            "maxResults": len(comments),
            "total": len(comments),
            "startAt": 0,
        }
        worklogs = self.worklogs.get(key, [])
        fields["worklog"] = {
            "startAt": 0,
            "maxResults": 20,
            "total": len(worklogs),
            "worklogs": [self._worklog_json(w) for w in worklogs[:20]],
        }
        sprint = self._sprint_of(number)
        fields["customfield_10020"] = [self._sprint_json(sprint)] if sprint is not None else None
        return fields

    def _render_issue(
        self, number: int, wanted: set[str] | None, property_keys: Sequence[str] = (), expand: Sequence[str] = ()
    ) -> Json:
        issue = self.issues[number]
        out: Json = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue["id"],
            "self": f"{self._api}/issue/{issue['id']}",
            "key": issue["key"],
        }
        everything = self._issue_fields(number)
        if wanted is None:
            out["fields"] = everything
        else:
            out["fields"] = {
                name: everything.get(name) for name in wanted if name in everything or name.startswith("customfield_")
            }
        if property_keys:
            stored = self.properties.get(issue["key"], {})
            keys = list(stored) if "*all" in property_keys else [k for k in property_keys if k in stored]
            out["properties"] = {k: copy.deepcopy(stored[k]) for k in keys}
        if "names" in expand:
            out["names"] = {name: _FIELD_NAMES.get(name, name) for name in out["fields"]}
        if "transitions" in expand:
            out["transitions"] = [self._transition_json(t) for t in self.workflow.available(issue["status"]["name"])]
        if "renderedFields" in expand:
            out["renderedFields"] = {"description": _adf_html(issue.get("description"))}
        return out

    def _transition_json(self, transition: Transition) -> Json:
        return {
            "id": transition.id,
            "name": transition.name,
            "to": self._status_json(self.workflow.status(transition.to)),
            "hasScreen": False,
            "isGlobal": transition.is_global,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }

    def _comment_json(self, comment: Json) -> Json:
        author = self._user_json(self.users[comment["author"]])
        return {
            "self": f"{self._api}/issue/{comment['issueId']}/comment/{comment['id']}",
            "id": comment["id"],
            "author": author,
            "body": copy.deepcopy(comment["body"]),
            "updateAuthor": author,
            "created": comment["created"],
            "updated": comment["updated"],
            "jsdPublic": True,
        }

    def _worklog_json(self, worklog: Json, *, properties: bool = False) -> Json:
        author = self._user_json(self.users[worklog["author"]])
        out = {
            "self": f"{self._api}/issue/{worklog['issueId']}/worklog/{worklog['id']}",
            "author": author,
            "updateAuthor": author,
            "created": worklog["created"],
            "updated": worklog["updated"],
            "started": worklog["started"],
            "timeSpent": format_duration(worklog["timeSpentSeconds"]),
            "timeSpentSeconds": worklog["timeSpentSeconds"],
            "id": worklog["id"],
            "issueId": worklog["issueId"],
        }
        if worklog.get("comment") is not None:
            out["comment"] = copy.deepcopy(worklog["comment"])
        if properties:
            out["properties"] = [
                {"key": k, "value": copy.deepcopy(v)} for k, v in worklog.get("properties", {}).items()
            ]
        return out

    # -- lookups -------------------------------------------------------------------------------

    def _number_of(self, key: str) -> int:
        prefix, _, number = key.rpartition("-")
        if prefix.upper() != self.project_key or not number.isdigit():
            return -1
        return int(number)

    def _issue_by_number(self, number: int) -> Json:
        if number not in self.issues:
            raise KeyError(f"no issue {self.key(number)}")
        return self.issues[number]

    def _find(self, id_or_key: str) -> int:
        """The number of the issue called ``id_or_key`` (an id or a key); 404 otherwise."""
        if id_or_key.isdigit():
            for number, issue in self.issues.items():
                if issue["id"] == id_or_key:
                    return number
            raise _issue_missing()
        number = self._number_of(id_or_key)
        if number not in self.issues:
            raise _issue_missing()
        return number

    def _find_ref(self, ref: Any, field_name: str) -> int:
        """An issue named in a body as ``{"key": ...}`` or ``{"id": ...}``."""
        if not isinstance(ref, Mapping):
            raise _bad(**{field_name: f"The {field_name} must be an object with an id or key."})
        value = ref.get("key") or ref.get("id")
        if not isinstance(value, str | int) or not str(value):
            raise _bad(**{field_name: f"The {field_name} must name an issue by id or key."})
        try:
            return self._find(str(value))
        except ApiError:
            raise ApiError(404, ["Issue does not exist or you do not have permission to see it."]) from None

    def _touch(self, issue: Json) -> None:
        issue["updated"] = self._stamp()

    def _sprint_of(self, number: int) -> Json | None:
        for sprint in self.sprints.values():
            if number in sprint["issues"] and sprint["state"] != "closed":
                return sprint
        return None

    # -- field handling ------------------------------------------------------------------------

    def _resolution(self, value: Any) -> Json:
        if not isinstance(value, Mapping):
            raise _bad(resolution="The resolution must be an object with a name or id.")
        for rid, name, _description in RESOLUTIONS:
            if value.get("id") == rid or str(value.get("name", "")).casefold() == name.casefold():
                return self._resolution_json(rid)
        raise _bad(resolution=f"Resolution '{value.get('name') or value.get('id')}' is not valid.")

    def _user_ref(self, value: Any, field_name: str) -> Json | None:
        if value is None:
            return None
        if not isinstance(value, Mapping) or not isinstance(value.get("accountId"), str | None):
            raise _bad(**{field_name: f"Specify the {field_name} by accountId."})
        account = value.get("accountId")
        if account is None:
            return None
        if account not in self.users:
            raise _bad(**{field_name: f"User with accountId '{account}' does not exist."})
        return self._user_json(self.users[account])

    def _priority(self, value: Any) -> Json:
        if isinstance(value, Mapping):
            for pid, name, _color in PRIORITIES:
                if value.get("id") == pid or str(value.get("name", "")).casefold() == name.casefold():
                    return self._priority_json(pid)
        raise _bad(priority=f"Specify a valid priority ({value!r} is not one).")

    def _components(self, value: Any) -> list[Json]:
        if not isinstance(value, list):
            raise _bad(components="Components must be a list.")
        out = []
        for item in value:
            found = None
            if isinstance(item, Mapping):
                found = next(
                    (cid for cid, name in COMPONENTS if item.get("id") == cid or item.get("name") == name), None
                )
            if found is None:
                name = item.get("name") if isinstance(item, Mapping) else item
                raise _bad(components=f"Component name '{name}' is not valid")
            out.append(self._component_json(found))
        return out

    def _fix_versions(self, value: Any) -> list[Json]:
        if not isinstance(value, list):
            raise _bad(fixVersions="Fix versions must be a list.")
        out = []
        for item in value:
            match = None
            if isinstance(item, Mapping):
                match = next(
                    (
                        v
                        for v in self.versions.values()
                        if str(item.get("id", "")) == str(v["id"]) or item.get("name") == v["name"]
                    ),
                    None,
                )
            if match is None:
                name = item.get("name") or item.get("id") if isinstance(item, Mapping) else item
                raise _bad(fixVersions=f"Version name '{name}' is not valid")
            out.append({"id": str(match["id"]), "name": match["name"]})
        return out

    @staticmethod
    def _labels(value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(labels="Labels must be a list of strings.")
        for label in value:
            _check_label(label)
        return list(dict.fromkeys(value))

    def _apply_fields(self, issue: Json, fields: Mapping[str, Any], *, creating: bool) -> None:
        """Validate and apply ``fields`` (POST/PUT ``fields``) to ``issue``; raises 400."""
        errors: dict[str, str] = {}
        for name in fields:
            if name not in _EDITABLE and name not in {"project", "issuetype"}:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        if not creating and ("project" in fields or "issuetype" in fields):
            for name in ("project", "issuetype"):
                if name in fields:
                    errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        if errors:
            raise ApiError(400, [], errors)
        staged = dict(issue)
        for name, value in fields.items():
            if name == "summary":
                if not isinstance(value, str) or not value.strip():
                    raise _bad(summary="You must specify a summary of the issue.")
                if len(value) > 255:
                    raise _bad(summary="Summary must be less than 255 characters.")
                if "\n" in value:
                    raise _bad(summary="The summary is invalid because it contains newline characters.")
                staged["summary"] = value
            elif name in {"description", "environment"}:
                if value is not None and adf_problem(value) is not None:
                    raise _bad(
                        **{name: "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}
                    )
                staged[name] = copy.deepcopy(value)
            elif name == "labels":
                staged["labels"] = self._labels(value if value is not None else [])
            elif name in {"assignee", "reporter"}:
                staged[name] = self._user_ref(value, name)
            elif name == "priority":
                staged["priority"] = self._priority(value)
            elif name == "components":
                staged["components"] = self._components(value)
            elif name == "fixVersions":
                staged["fixVersions"] = self._fix_versions(value)
            elif name == "duedate":
                if value is not None:
                    try:
                        date.fromisoformat(str(value))
                    except ValueError:
                        raise _bad(duedate="Error parsing date string: " + str(value)) from None
                staged["duedate"] = value
            elif name == "timetracking":
                if not isinstance(value, Mapping):
                    raise _bad(timetracking="Time tracking must be an object.")
                for key, target in (
                    ("originalEstimate", "timeoriginalestimate"),
                    ("remainingEstimate", "timeestimate"),
                ):
                    if key in value:
                        try:
                            staged[target] = parse_duration(str(value[key]))
                        except ValueError:
                            raise _bad(
                                timetracking=f"The {key} specified is not valid. Try a value such as '3w 4d 12h'."
                            ) from None
                if "originalEstimate" in value and "remainingEstimate" not in value and not staged.get("timespent"):
                    staged["timeestimate"] = staged["timeoriginalestimate"]
            elif name == "parent":
                staged["parent"] = self._parent(value, staged)
        issue.update(staged)

    def _parent(self, value: Any, issue: Json) -> Json | None:
        subtask = bool(issue["issuetype"]["subtask"])
        if value is None:
            if subtask:
                raise _bad(parent="A sub-task must have a parent.")
            return None
        number = self._find_ref(value, "parent")
        parent = self.issues[number]
        level = parent["issuetype"]["hierarchyLevel"]
        own = issue["issuetype"]["hierarchyLevel"]
        if level != own + 1 or parent["key"] == issue.get("key"):
            raise _bad(parent="Given parent work item does not belong to appropriate hierarchy.")
        return {"id": parent["id"], "key": parent["key"]}

    def _issue_type(self, value: Any) -> Json:
        if isinstance(value, Mapping):
            for tid, name, _description, _level, _subtask in ISSUE_TYPES:
                if value.get("id") == tid or str(value.get("name", "")).casefold() == name.casefold():
                    return self._issue_type_json(tid)
        raise _bad(issuetype="Specify an issue type")

    def _create(self, fields: Mapping[str, Any], update: Mapping[str, Any], actor: Json) -> int:
        project = fields.get("project")
        if not isinstance(project, Mapping) or not (
            project.get("key") == self.project_key or str(project.get("id", "")) == self.project_id
        ):
            raise _bad(project="Specify a valid project ID or key")
        if "issuetype" not in fields:
            raise _bad(issuetype="Specify an issue type")
        issue_type = self._issue_type(fields["issuetype"])
        if not fields.get("summary"):
            raise _bad(summary="You must specify a summary of the issue.")
        if issue_type["subtask"] and not fields.get("parent"):
            raise _bad(parent="Given parent work item does not belong to appropriate hierarchy.")
        stamp = self._stamp()
        status = self.workflow.initial
        issue: Json = {
            "id": "",
            "key": "",
            "summary": "",
            "description": None,
            "environment": None,
            "issuetype": issue_type,
            "status": self._status_json(status),
            "statuscategorychangedate": stamp,
            "resolution": None,
            "resolutiondate": None,
            "priority": self._priority_json(DEFAULT_PRIORITY),
            "labels": [],
            "components": [],
            "assignee": None,
            "reporter": self._user_json(actor),
            "creator": self._user_json(actor),
            "duedate": None,
            "fixVersions": [],
            "parent": None,
            "created": stamp,
            "updated": stamp,
            "lastViewed": None,
            "timeoriginalestimate": None,
            "timeestimate": None,
            "timespent": None,
        }
        self._apply_fields(issue, {k: v for k, v in fields.items() if k not in {"project", "issuetype"}}, creating=True)
        self._apply_update(issue, update)
        number = self._next("issue")
        issue["id"] = str(10000 + number)
        issue["key"] = self.key(number)
        if status.category == "done":
            issue["resolution"] = self._resolution_json(RESOLUTIONS[0][0])
        self.issues[number] = issue
        self.rank.append(number)
        return number

    def _apply_update(self, issue: Json, update: Mapping[str, Any]) -> None:
        """Jira's ``update`` verbs (``set``, ``add``, ``remove``, ``edit``) per field."""
        if not isinstance(update, Mapping):
            raise _bad(["The update must be an object."])
        for name, operations in update.items():
            if name not in _EDITABLE:
                raise ApiError(
                    400, [], {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."}
                )
            if not isinstance(operations, list):
                raise _bad(**{name: "The operations must be a list."})
            for operation in operations:
                if not isinstance(operation, Mapping) or len(operation) != 1:
                    raise _bad(**{name: "Each operation must have exactly one verb."})
                verb, value = next(iter(operation.items()))
                if verb == "set" or (verb == "edit" and name == "timetracking"):
                    self._apply_fields(issue, {name: value}, creating=False)
                elif verb in {"add", "remove"} and name in {"labels", "components", "fixVersions"}:
                    self._list_verb(issue, name, verb, value)
                else:
                    raise _bad(**{name: f"The operation '{verb}' is not supported for the field '{name}'."})

    def _list_verb(self, issue: Json, name: str, verb: str, value: Any) -> None:
        if name == "labels":
            if not isinstance(value, str):
                raise _bad(labels="A label must be a string.")
            _check_label(value)
            if verb == "add" and value not in issue["labels"]:
                issue["labels"] = [*issue["labels"], value]
            elif verb == "remove":
                issue["labels"] = [label for label in issue["labels"] if label != value]
            return
        resolved = self._components([value]) if name == "components" else self._fix_versions([value])
        ids = {entry["id"] for entry in resolved}
        current = [entry for entry in issue[name] if entry["id"] not in ids]
        issue[name] = current + resolved if verb == "add" else current

    def _move(self, issue: Json, transition: Transition, resolution: Any) -> None:
        before = self.workflow.status(issue["status"]["name"])
        after = self.workflow.status(transition.to)
        issue["status"] = self._status_json(after)
        if before.category != after.category:
            issue["statuscategorychangedate"] = self._stamp()
        if after.category == "done":
            if resolution is not None:
                issue["resolution"] = self._resolution(resolution)
            elif before.category != "done" or issue.get("resolution") is None:
                issue["resolution"] = self._resolution_json(RESOLUTIONS[0][0])
            if before.category != "done":
                issue["resolutiondate"] = self._stamp()
        else:
            if resolution is not None:
                raise _bad(resolution="Resolution can only be set when moving to a done status.")
            issue["resolution"] = None
            issue["resolutiondate"] = None

    # -- query parameters ----------------------------------------------------------------------

    @staticmethod
    def _list_param(value: Any) -> list[str]:
        if value is None:
            return []
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    @staticmethod
    def _wanted_fields(requested: Sequence[str], default: str) -> set[str] | None:
        """The field names to render (``None``: all) for a ``fields`` parameter."""
        names = list(requested) or [default]
        include: set[str] | None = set()
        exclude: set[str] = set()
        for name in names:
            if name.startswith("-"):
                exclude.add(name[1:])
            elif name == "*all":
                include = None
            elif name == "*navigable":
                if include is not None:
                    include |= set(_ALL_FIELD_NAMES) - _NOT_NAVIGABLE
            elif include is not None:
                include.add(name)
        if include is None:
            return None if not exclude else set(_ALL_FIELD_NAMES) - exclude
        return include - exclude

    @staticmethod
    def _int(value: Any, name: str, default: int) -> int:
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad([f"The value '{value}' of '{name}' is not a number."]) from None

    # -- platform routes -----------------------------------------------------------------------

    def get_myself(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, self._user_json(self.myself, full=True))

    def get_server_info(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(
            200,
            {
                "baseUrl": self.site_url,
                "displayUrl": self.site_url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100280,
                "buildDate": "2025-01-06T00:00:00.000+0000",
                "serverTime": self._stamp(),
                "scmInfo": "0" * 40,
                "serverTitle": "Jira",
                "serverTimeZone": "Etc/UTC",
            },
        )

    def _check_project(self, key: str) -> None:
        if key not in {self.project_key, self.project_id}:
            raise ApiError(404, ["No project could be found with key '" + key + "'."])

    def get_project(self, req: _Req, params: dict[str, str]) -> _Reply:
        self._check_project(params["project"])
        body = {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            **self._project_ref(),
            "description": "",
            "lead": self._user_json(self.myself),
            "components": [self._component_json(cid) for cid, _name in COMPONENTS],
            "issueTypes": [self._issue_type_json(tid) for tid, *_rest in ISSUE_TYPES],
            "assigneeType": "UNASSIGNED",
            "versions": [self._version_json(v) for v in self.versions.values()],
            "name": self.project_key.title(),
            "roles": {},
            "avatarUrls": dict.fromkeys(
                ("48x48", "24x24", "16x16", "32x32"), f"{self._api}/universal_avatar/view/type/project/avatar/10400"
            ),
            "style": "classic",
            "isPrivate": False,
            "properties": {},
        }
        return _Reply(200, body)

    def get_components(self, req: _Req, params: dict[str, str]) -> _Reply:
        self._check_project(params["project"])
        return _Reply(
            200,
            [
                {
                    **self._component_json(cid),
                    "project": self.project_key,
                    "projectId": int(self.project_id),
                    "assigneeType": "PROJECT_DEFAULT",
                    "realAssigneeType": "PROJECT_DEFAULT",
                    "isAssigneeTypeValid": False,
                }
                for cid, _name in COMPONENTS
            ],
        )

    def get_project_statuses(self, req: _Req, params: dict[str, str]) -> _Reply:
        self._check_project(params["project"])
        statuses = [{**self._status_json(s), "untranslatedName": s.name} for s in self.workflow.statuses]
        return _Reply(
            200,
            [
                {
                    "self": f"{self._api}/issuetype/{tid}",
                    "id": tid,
                    "name": name,
                    "subtask": subtask,
                    "statuses": statuses,
                }
                for tid, name, _description, _level, subtask in ISSUE_TYPES
            ],
        )

    def get_issue_types(self, req: _Req, params: dict[str, str]) -> _Reply:
        if req.query.get("projectId") not in {self.project_id, self.project_key}:
            raise ApiError(404, ["The project was not found or the user does not have permission to view it."])
        return _Reply(200, [self._issue_type_json(tid) for tid, *_rest in ISSUE_TYPES])

    def get_priorities(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(
            200,
            [
                {**self._priority_json(pid), "statusColor": color, "description": name}
                for pid, name, color in PRIORITIES
            ],
        )

    def search_priorities(self, req: _Req, params: dict[str, str]) -> _Reply:
        values = [
            {
                **self._priority_json(pid),
                "statusColor": color,
                "description": name,
                "isDefault": pid == DEFAULT_PRIORITY,
            }
            for pid, name, color in PRIORITIES
        ]
        return _Reply(
            200,
            {
                "self": f"{self._api}/priority/search",
                "maxResults": 50,
                "startAt": 0,
                "total": len(values),
                "isLast": True,
                "values": values,
            },
        )

    def get_resolutions(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, [self._resolution_json(rid) for rid, *_rest in RESOLUTIONS])

    def assignable_users(self, req: _Req, params: dict[str, str]) -> _Reply:
        if req.query.get("project") and req.query["project"] not in {self.project_key, self.project_id}:
            raise ApiError(404, ["Project not found."])
        query = req.query.get("query", "").casefold()
        users = [
            self._user_json(u)
            for u in self.users.values()
            if not query or query in u["displayName"].casefold() or query in u["emailAddress"].casefold()
        ]
        start = self._int(req.query.get("startAt"), "startAt", 0)
        size = self._int(req.query.get("maxResults"), "maxResults", 50)
        return _Reply(200, users[start : start + size])

    def create_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = _known_keys(req.body, _ISSUE_BEAN)
        fields = body.get("fields")
        if not isinstance(fields, Mapping):
            raise _bad(["The request must contain fields."])
        properties = body.get("properties", [])
        if not isinstance(properties, list) or not all(
            isinstance(p, Mapping) and isinstance(p.get("key"), str) and "value" in p for p in properties
        ):
            raise _bad(["Properties must be a list of objects with a key and a value."])
        for prop in properties:
            _check_property_key(prop["key"])
        transition = body.get("transition")
        if isinstance(transition, Mapping):
            available = {t.id for t in self.workflow.available(self.workflow.initial.name)}
            if str(transition.get("id", "")) not in available:
                raise _bad([f"Transition id '{transition.get('id', '')}' is not valid for this issue."])
        number = self._create(fields, body.get("update") or {}, self.myself)
        issue = self.issues[number]
        if properties:
            self.properties[issue["key"]] = {p["key"]: copy.deepcopy(p["value"]) for p in properties}
        if isinstance(transition, Mapping):
            self._transition_issue(number, transition, {})
        return _Reply(201, {"id": issue["id"], "key": issue["key"], "self": f"{self._api}/issue/{issue['id']}"})

    def get_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        wanted = self._wanted_fields(self._list_param(req.query.get("fields")), "*all")
        props = self._list_param(req.query.get("properties"))
        expand = self._list_param(req.query.get("expand"))
        return _Reply(200, self._render_issue(number, wanted, props, expand))

    def edit_issue_api(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        body = _known_keys(req.body, _ISSUE_BEAN)
        issue = self.issues[number]
        staged = copy.deepcopy(issue)
        fields = body.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise _bad(["fields must be an object."])
        overlap = set(fields) & set(body.get("update") or {})
        if overlap:
            name = sorted(overlap)[0]
            raise _bad(**{name: "Field '" + name + "' cannot be set in both fields and update."})
        self._apply_fields(staged, fields, creating=False)
        self._apply_update(staged, body.get("update") or {})
        properties = body.get("properties") or []
        for prop in properties:
            if not isinstance(prop, Mapping) or not isinstance(prop.get("key"), str):
                raise _bad(["Properties must be a list of objects with a key and a value."])
            _check_property_key(prop["key"])
        changed = staged != issue
        issue.clear()
        issue.update(staged)
        for prop in properties:
            self.properties.setdefault(issue["key"], {})[prop["key"]] = copy.deepcopy(prop.get("value"))
        if changed:
            self._touch(issue)
        if req.query.get("returnIssue") == "true":  # as GET /issue/{key} answers, with its expand
            return _Reply(200, self._render_issue(number, None, (), self._list_param(req.query.get("expand"))))
        return _Reply(204)

    def delete_issue_api(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        key = self.issues[number]["key"]
        children = [n for n, other in self.issues.items() if (other.get("parent") or {}).get("key") == key]
        subtasks = [n for n in children if self.issues[n]["issuetype"]["subtask"]]
        if subtasks and req.query.get("deleteSubtasks") != "true":
            raise _bad(["The issue has subtasks. Set deleteSubtasks=true to delete them with it."])
        for child in set(children) - set(subtasks):
            self.issues[child]["parent"] = None  # an epic's children stay, without their parent
        self._forget([number, *subtasks])
        return _Reply(204)

    def get_transitions(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        available = self.workflow.available(self.issues[number]["status"]["name"])
        if req.query.get("transitionId"):
            available = [t for t in available if t.id == req.query["transitionId"]]
        return _Reply(200, {"expand": "transitions", "transitions": [self._transition_json(t) for t in available]})

    def _transition_issue(self, number: int, transition: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
        issue = self.issues[number]
        wanted = str(transition.get("id", ""))
        step = next((t for t in self.workflow.available(issue["status"]["name"]) if t.id == wanted), None)
        if step is None:
            raise _bad([f"Transition id '{wanted}' is not valid for this issue."])
        unknown = set(fields) - {"resolution", *_EDITABLE}
        if unknown:
            name = sorted(unknown)[0]
            raise _bad(**{name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."})
        staged = copy.deepcopy(issue)
        self._apply_fields(staged, {k: v for k, v in fields.items() if k != "resolution"}, creating=False)
        self._move(staged, step, fields.get("resolution"))
        issue.clear()
        issue.update(staged)
        self._touch(issue)

    def do_transition(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        body = _known_keys(req.body, _ISSUE_BEAN)
        transition = body.get("transition")
        if not isinstance(transition, Mapping) or not transition.get("id"):
            raise _bad(["Missing 'transition' identifier"])
        fields = body.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise _bad(["fields must be an object."])
        self._transition_issue(number, transition, fields)
        if body.get("update"):
            issue = self.issues[number]
            self._apply_update(issue, body["update"])
        return _Reply(204)

    def list_properties(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        issue = self.issues[number]
        keys = self.properties.get(issue["key"], {})
        return _Reply(
            200,
            {"keys": [{"key": k, "self": f"{self._api}/issue/{issue['id']}/properties/{quote(k)}"} for k in keys]},
        )

    def get_property(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self.issues[self._find(params["issue"])]
        stored = self.properties.get(issue["key"], {})
        if params["prop"] not in stored:
            raise ApiError(404, [f"The property with key '{params['prop']}' does not exist."])
        return _Reply(200, {"key": params["prop"], "value": copy.deepcopy(stored[params["prop"]])})

    def set_property(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self.issues[self._find(params["issue"])]
        _check_property_key(params["prop"])
        if not req.request.content:
            raise _bad(["The property value must be valid JSON."])
        raw = req.request.content
        if len(raw) > 32768:
            raise _bad(["The property value exceeds the maximum size of 32768 bytes."])
        stored = self.properties.setdefault(issue["key"], {})
        created = params["prop"] not in stored
        stored[params["prop"]] = copy.deepcopy(req.body)
        return _Reply(201 if created else 200)

    def delete_property(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self.issues[self._find(params["issue"])]
        stored = self.properties.get(issue["key"], {})
        if params["prop"] not in stored:
            raise ApiError(404, [f"The property with key '{params['prop']}' does not exist."])
        del stored[params["prop"]]
        return _Reply(204)

    def _page(self, req: _Req, items: Sequence[Any], default: int = 50) -> tuple[int, int, list[Any]]:
        start = max(0, self._int(req.query.get("startAt"), "startAt", 0))
        size = max(0, min(5000, self._int(req.query.get("maxResults"), "maxResults", default)))
        return start, size, list(items[start : start + size])

    def list_comments(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self.issues[self._find(params["issue"])]
        comments = self.comments.get(issue["key"], [])
        if req.query.get("orderBy") in {"-created", "-+created"}:
            comments = list(reversed(comments))
        start, size, chunk = self._page(req, comments, 5000)
        return _Reply(
            200,
            {
                "startAt": start,
                "maxResults": size,
                "total": len(comments),
                "comments": [self._comment_json(c) for c in chunk],
            },
        )

    def add_comment(self, key: str, body: Any, author: Json | None = None) -> Json:
        """Comment on issue ``key`` as a person would: ``body`` is an ADF document or plain text,
        ``author`` a user from :attr:`users` (default: the API's own account). Bumps ``updated``;
        returns the stored comment."""
        author = author or self.myself
        with self._lock:
            issue = self.issues[self._find(key)]
            if isinstance(body, str):
                body = adf_paragraphs(body)
            stamp = self._stamp()
            comment = {
                "id": str(self._next("comment", 10000)),
                "issueId": issue["id"],
                "author": author["accountId"],
                "body": copy.deepcopy(body),
                "created": stamp,
                "updated": stamp,
            }
            self.comments.setdefault(issue["key"], []).append(comment)
            self._touch(issue)
            return comment

    def add_comment_api(self, req: _Req, params: dict[str, str]) -> _Reply:
        self._find(params["issue"])
        body = req.body if isinstance(req.body, Mapping) else {}
        document = body.get("body")
        if document is None:
            raise _bad(comment="Comment body can not be empty!")
        if adf_problem(document) is not None:
            raise _bad(comment="Operation value must be an Atlassian Document (see the Atlassian Document Format)")
        comment = self.add_comment(params["issue"], document, self.myself)
        return _Reply(201, self._comment_json(comment))

    def list_worklogs(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self.issues[self._find(params["issue"])]
        worklogs = self.worklogs.get(issue["key"], [])
        if req.query.get("startedAfter"):
            after = self._int(req.query["startedAfter"], "startedAfter", 0)
            worklogs = [w for w in worklogs if parse_jira_time(w["started"]).timestamp() * 1000 > after]
        start, size, chunk = self._page(req, worklogs, 5000)
        return _Reply(
            200,
            {
                "startAt": start,
                "maxResults": size,
                "total": len(worklogs),
                "worklogs": [
                    self._worklog_json(w, properties="properties" in req.query.get("expand", "").split(","))
                    for w in chunk
                ],
            },
        )

    def add_worklog(self, req: _Req, params: dict[str, str]) -> _Reply:
        number = self._find(params["issue"])
        issue = self.issues[number]
        body = req.body if isinstance(req.body, Mapping) else {}
        seconds: int | None = None
        if body.get("timeSpentSeconds") is not None:
            seconds = self._int(body["timeSpentSeconds"], "timeSpentSeconds", 0)
        elif body.get("timeSpent"):
            try:
                seconds = parse_duration(str(body["timeSpent"]))
            except ValueError:
                raise _bad(timeLogged="Invalid time duration entered.") from None
        if not seconds or seconds <= 0:
            raise _bad(timeLogged="You must indicate the time spent working.")
        started = body.get("started")
        if started is not None:
            try:
                started = jira_time(parse_jira_time(str(started)), self.time_zone)
            except ValueError:
                raise _bad(
                    started="Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."
                ) from None
        comment = body.get("comment")
        if comment is not None and adf_problem(comment) is not None:
            raise _bad(comment="Operation value must be an Atlassian Document (see the Atlassian Document Format)")
        stamp = self._stamp()
        worklog = {
            "id": str(self._next("worklog", 10000)),
            "issueId": issue["id"],
            "author": self.myself["accountId"],
            "comment": copy.deepcopy(comment),
            "created": stamp,
            "updated": stamp,
            "started": started or stamp,
            "timeSpentSeconds": seconds,
            "properties": {
                str(item["key"]): copy.deepcopy(item.get("value"))
                for item in body.get("properties") or []
                if isinstance(item, Mapping) and item.get("key")
            },
        }
        self.worklogs.setdefault(issue["key"], []).append(worklog)
        issue["timespent"] = (issue.get("timespent") or 0) + seconds
        if issue.get("timeestimate") is not None and req.query.get("adjustEstimate", "auto") == "auto":
            issue["timeestimate"] = max(0, issue["timeestimate"] - seconds)
        self._touch(issue)
        return _Reply(201, self._worklog_json(worklog))

    def create_link(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, Mapping) else {}
        link_type = body.get("type")
        if not isinstance(link_type, Mapping) or not (link_type.get("name") or link_type.get("id")):
            raise _bad(["Issue link type must be specified by name or id."])
        try:
            type_id = str(link_type["id"]) if link_type.get("id") else self._link_type_named(str(link_type["name"]))
            type_json = self._link_type_json(type_id)
        except KeyError:
            raise ApiError(
                404, [f"No issue link type with name '{link_type.get('name') or link_type.get('id')}' found."]
            ) from None
        if "inwardIssue" not in body or "outwardIssue" not in body:
            raise _bad(["Both the inward and outward issue must be given."])
        inward = self.issues[self._find_ref(body["inwardIssue"], "inwardIssue")]
        outward = self.issues[self._find_ref(body["outwardIssue"], "outwardIssue")]
        if inward["key"] == outward["key"]:
            raise _bad(["You cannot link an issue to itself."])
        existing = next(
            (
                link
                for link in self.links
                if link["type"] == type_json["name"]
                and link["inward"] == inward["key"]
                and link["outward"] == outward["key"]
            ),
            None,
        )
        if existing is None:
            self.links.append(
                {
                    "id": str(self._next("link", 10000)),
                    "type": type_json["name"],
                    "inward": inward["key"],
                    "outward": outward["key"],
                }
            )
            self._touch(inward)
            self._touch(outward)
        if isinstance(body.get("comment"), Mapping) and body["comment"].get("body") is not None:
            self.add_comment(inward["key"], body["comment"]["body"], self.myself)
        return _Reply(201)

    def _link(self, link_id: str) -> Json:
        link = next((link for link in self.links if link["id"] == link_id), None)
        if link is None:
            raise ApiError(404, ["No issue link with id '" + link_id + "' exists."])
        return link

    def get_link(self, req: _Req, params: dict[str, str]) -> _Reply:
        link = self._link(params["link"])
        return _Reply(
            200,
            {
                "id": link["id"],
                "self": f"{self._api}/issueLink/{link['id']}",
                "type": self._link_type_json(self._link_type_named(link["type"])),
                "inwardIssue": self._issue_ref(self._number_of(link["inward"])),
                "outwardIssue": self._issue_ref(self._number_of(link["outward"])),
            },
        )

    def delete_link(self, req: _Req, params: dict[str, str]) -> _Reply:
        link = self._link(params["link"])
        self.links.remove(link)
        for key in (link["inward"], link["outward"]):
            if self._number_of(key) in self.issues:
                self._touch(self.issues[self._number_of(key)])
        return _Reply(204)

    def get_link_types(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, {"issueLinkTypes": [self._link_type_json(lid) for lid, *_rest in LINK_TYPES]})

    # -- search --------------------------------------------------------------------------------

    def _value_of(self, issue: Json, name: str) -> Any:
        if name in {"updated", "created", "resolutiondate"}:
            raw = issue.get(name)
            return parse_jira_time(raw) if raw else None
        if name == "key":
            return issue["key"]
        if name == "id":
            return issue["id"]
        if name == "project":
            return [self.project_key, self.project_id]
        if name == "status":
            return issue["status"]["name"]
        if name == "parent":
            parent = issue.get("parent")
            return [parent["key"], parent["id"]] if parent else None
        if name == "labels":
            return issue["labels"]
        return None

    def _sort_value(self, issue: Json, name: str) -> Any:
        if name in {"updated", "created"}:
            return parse_jira_time(issue[name])
        if name in {"key", "id"}:
            return self._number_of(issue["key"])
        if name == "rank":
            number = self._number_of(issue["key"])
            return self.rank.index(number) if number in self.rank else len(self.rank)
        return 0

    def _run_jql(self, jql: str, *, require_bound: bool = True, indexed: bool = False) -> list[int]:
        try:
            query = parse_jql(jql)
            if require_bound and not query.bounded:
                raise JqlError(
                    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                )
            self._check_jql_values(query)
            now = self._now()
            visible = now - self.search_lag if indexed else None
            hits = [
                issue
                for issue in self.issues.values()
                if query.matches(functools.partial(self._value_of, issue), now, self.time_zone)
                and (visible is None or parse_jira_time(issue["created"]) <= visible)
            ]
        except JqlError as exc:
            raise _bad(exc.messages) from None
        ordered = sort_issues(hits, query.order, self._sort_value)
        return [self._number_of(issue["key"]) for issue in ordered]

    def _check_jql_values(self, query: JqlQuery) -> None:
        """Jira refuses a query naming a project or an issue key that does not exist (or that the
        user cannot see), listing each such value."""
        problems = []
        for clause in query.clauses:
            if clause.field == "project":
                problems += [
                    f"The value '{value}' does not exist for the field 'project'."
                    for value in clause.values
                    if value.upper() not in {self.project_key, self.project_id}
                ]
            elif clause.field in {"key", "issuekey", "parent"}:
                problems += [
                    f"An issue with key '{value}' does not exist for field '{clause.field}'."
                    for value in clause.values
                    if not value.isdigit() and self._number_of(value.upper()) not in self.issues
                ]
        if problems:
            raise JqlError(*problems)

    def _search(self, req: _Req, args: Mapping[str, Any]) -> _Reply:
        jql = str(args.get("jql") or "")
        fields = self._list_param(args.get("fields"))
        wanted = self._wanted_fields(fields, "id")
        id_only = wanted is not None and wanted <= {"id", "key"}
        limit = 5000 if id_only else 100
        size = max(1, min(limit, self._int(args.get("maxResults"), "maxResults", 50)))
        numbers = self._run_jql(jql, indexed=True)
        token = args.get("nextPageToken")
        digest = f"{zlib.crc32(jql.encode()):08x}"
        offset = 0
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)))
                offset = int(decoded["o"])
                if decoded["q"] != digest:
                    raise ValueError("another query")
            except (ValueError, KeyError, TypeError):
                raise _bad(["The provided next page token is invalid or expired."]) from None
        chunk = numbers[offset : offset + size]
        props = self._list_param(args.get("properties"))
        expand = self._list_param(args.get("expand"))
        issues = []
        for number in chunk:
            rendered = self._render_issue(number, None if wanted is None else wanted - {"id", "key"}, props, expand)
            if wanted is not None and not (wanted - {"id", "key"}):
                rendered.pop("fields")
            issues.append(rendered)
        body: Json = {"issues": issues}
        if offset + size < len(numbers):
            next_token = base64.urlsafe_b64encode(json.dumps({"o": offset + size, "q": digest}).encode()).decode()
            body["nextPageToken"] = next_token.rstrip("=")
            body["isLast"] = False
        else:
            body["isLast"] = True
        return _Reply(200, body)

    def search_get(self, req: _Req, params: dict[str, str]) -> _Reply:
        return self._search(req, req.query)

    def search_post(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = _known_keys(req.body, _SEARCH_BEAN)
        return self._search(req, body)

    # -- versions and filters ------------------------------------------------------------------

    def _version(self, version_id: str) -> Json:
        try:
            return self.versions[int(version_id)]
        except (ValueError, KeyError):
            raise ApiError(404, [f"Could not find version for id '{version_id}'"]) from None

    def _version_fields(self, version: Json, body: Mapping[str, Any]) -> None:
        if "name" in body:
            name = str(body["name"] or "").strip()
            if not name:
                raise _bad(name="You must specify a valid version name")
            if len(name) > 255:
                raise _bad(name="The version name must not exceed 255 characters.")
            if any(
                v["name"].casefold() == name.casefold() and v["id"] != version.get("id") for v in self.versions.values()
            ):
                raise _bad(name="A version with this name already exists in this project.")
            version["name"] = name
        if "description" in body:
            version["description"] = body["description"]
        for name in ("startDate", "releaseDate"):
            if name in body:
                value = body[name]
                if value is not None:
                    try:
                        date.fromisoformat(str(value))
                    except ValueError:
                        raise _bad(**{name: "Please enter the date in the following format: yyyy-MM-dd"}) from None
                version[name] = value
        for name in ("released", "archived"):
            if name in body:
                if not isinstance(body[name], bool):
                    raise _bad(**{name: f"{name} must be true or false."})
                version[name] = body[name]
        if version.get("released") and not version.get("releaseDate"):
            version["releaseDate"] = self._now().astimezone(ZoneInfo(self.time_zone)).date().isoformat()

    def create_version(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, Mapping) else {}
        project = body.get("projectId", body.get("project"))
        if str(project) not in {self.project_id, self.project_key}:
            raise (
                ApiError(404, ["Project not found."])
                if project is not None
                else _bad(project="Project must be specified.")
            )
        if not body.get("name"):
            raise _bad(name="You must specify a valid version name")
        version: Json = {
            "id": 0,
            "name": "",
            "description": None,
            "archived": False,
            "released": False,
            "startDate": None,
            "releaseDate": None,
        }
        self._version_fields(version, body)
        version["id"] = self._next("version", 10000)
        self.versions[version["id"]] = version
        return _Reply(201, self._version_json(version))

    def get_version(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, self._version_json(self._version(params["version"])))

    def update_version(self, req: _Req, params: dict[str, str]) -> _Reply:
        version = self._version(params["version"])
        body = req.body if isinstance(req.body, Mapping) else {}
        staged = dict(version)
        self._version_fields(staged, body)
        version.update(staged)
        return _Reply(200, self._version_json(version))

    def get_project_versions(self, req: _Req, params: dict[str, str]) -> _Reply:
        self._check_project(params["project"])
        return _Reply(200, [self._version_json(v) for v in self.versions.values()])

    def _filter_json(self, item: Json) -> Json:
        return {
            "self": f"{self._api}/filter/{item['id']}",
            "id": str(item["id"]),
            "name": item["name"],
            "description": item.get("description") or "",
            "owner": self._user_json(self.myself),
            "jql": item["jql"],
            "viewUrl": f"{self.site_url}/issues/?filter={item['id']}",
            "searchUrl": f"{self._api}/search?jql={quote(item['jql'])}",
            "favourite": item.get("favourite", False),
            "favouritedCount": 0,
            "sharePermissions": [],
            "editPermissions": [],
            "subscriptions": {"size": 0, "items": [], "max-results": 0, "start-index": 0, "end-index": 0},
        }

    def create_filter(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, Mapping) else {}
        name = str(body.get("name") or "").strip()
        if not name:
            raise _bad(filterName="You must specify a name to save this filter as.")
        if any(f["name"] == name for f in self.filters.values()):
            raise _bad(filterName="Filter with same name already exists.")
        jql = str(body.get("jql") or "")
        if jql:
            self._run_jql(jql, require_bound=False)
        filter_id = self._next("filter", 10000)
        item: Json = {
            "id": filter_id,
            "name": name,
            "jql": jql,
            "description": body.get("description"),
            "favourite": bool(body.get("favourite", False)),
        }
        self.filters[filter_id] = item
        return _Reply(200, self._filter_json(item))

    def get_filter(self, req: _Req, params: dict[str, str]) -> _Reply:
        try:
            item = self.filters[int(params["filter"])]
        except (ValueError, KeyError):
            raise _bad(
                [
                    "The selected filter is not available to you, perhaps it has been deleted or had its "
                    "permissions changed."
                ]
            ) from None
        return _Reply(200, self._filter_json(item))

    # -- agile (boards, sprints, backlog, rank) ------------------------------------------------

    def _sprint_json(self, sprint: Json) -> Json:
        out = {
            "id": sprint["id"],
            "self": f"{self._agile}/sprint/{sprint['id']}",
            "state": sprint["state"],
            "name": sprint["name"],
            "originBoardId": sprint["originBoardId"],
        }
        for name in ("startDate", "endDate", "completeDate", "createdDate", "goal"):
            if sprint.get(name) is not None:
                out[name] = sprint[name]
        return out

    def _board(self, board_id: str) -> Json:
        try:
            return self.boards[int(board_id)]
        except (ValueError, KeyError):
            raise ApiError(
                404,
                [
                    "The requested board cannot be viewed because it either does not exist or you do not have "
                    "permission to view it."
                ],
            ) from None

    def _sprint(self, sprint_id: str) -> Json:
        try:
            return self.sprints[int(sprint_id)]
        except (ValueError, KeyError):
            raise ApiError(
                404, [f"Sprint with id {sprint_id} does not exist or you do not have permission to see it."]
            ) from None

    def _board_json(self, board: Json) -> Json:
        return {
            "id": board["id"],
            "self": f"{self._agile}/board/{board['id']}",
            "name": board["name"],
            "type": board["type"],
            "location": {
                "projectId": int(self.project_id),
                "displayName": f"{self.project_key.title()} ({self.project_key})",
                "projectName": self.project_key.title(),
                "projectKey": self.project_key,
                "projectTypeKey": "software",
                "avatarURI": f"{self.site_url}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=small",
                "name": f"{self.project_key.title()} ({self.project_key})",
            },
            "isPrivate": False,
        }

    def _default_columns(self) -> list[Json]:
        """Jira's columns for a board made from a filter: To Do, In Progress and Done, each
        holding the workflow's statuses of that category."""
        return [
            {
                "name": CATEGORIES[category][1],
                "statuses": [s.id for s in self.workflow.statuses if s.category == category],
            }
            for category in ("new", "indeterminate", "done")
        ]

    def _paged_values(self, req: _Req, items: Sequence[Any]) -> Json:
        start, size, chunk = self._page(req, items, 50)
        return {
            "maxResults": size,
            "startAt": start,
            "total": len(items),
            "isLast": start + size >= len(items),
            "values": chunk,
        }

    def list_boards(self, req: _Req, params: dict[str, str]) -> _Reply:
        boards = list(self.boards.values())
        project = req.query.get("projectKeyOrId")
        if project and project not in {self.project_key, self.project_id}:
            boards = []
        if req.query.get("name"):
            boards = [b for b in boards if req.query["name"].casefold() in b["name"].casefold()]
        if req.query.get("type"):
            kinds = set(self._list_param(req.query["type"]))
            boards = [b for b in boards if b["type"] in kinds]
        if req.query.get("filterId"):
            boards = [b for b in boards if str(b["filterId"]) == req.query["filterId"]]
        return _Reply(200, self._paged_values(req, [self._board_json(b) for b in boards]))

    def create_board(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, Mapping) else {}
        name = str(body.get("name") or "").strip()
        kind = body.get("type")
        errors = {}
        if not name:
            errors["name"] = "Board name is required."
        if kind not in {"scrum", "kanban"}:
            errors["type"] = "Board type must be 'scrum' or 'kanban'."
        filter_id = body.get("filterId")
        if filter_id is None:
            errors["filterId"] = "Filter id is required."
        if errors:
            raise ApiError(400, [], errors)
        if not isinstance(filter_id, int) or filter_id not in self.filters:
            raise _bad([f"Filter with id '{filter_id}' does not exist or you do not have permission to view it."])
        board_id = self._next("board", 1)
        board: Json = {
            "id": board_id,
            "name": name,
            "type": kind,
            "filterId": filter_id,
            "columns": self._default_columns(),
        }
        self.boards[board_id] = board
        return _Reply(201, self._board_json(board))

    def get_board(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, self._board_json(self._board(params["board"])))

    def get_board_configuration(self, req: _Req, params: dict[str, str]) -> _Reply:
        board = self._board(params["board"])
        config = {
            "id": board["id"],
            "name": board["name"],
            "type": board["type"],
            "self": f"{self._agile}/board/{board['id']}/configuration",
            "location": {"type": "project", "projectKeyOrId": self.project_id},
            "filter": {"id": str(board["filterId"]), "self": f"{self._api}/filter/{board['filterId']}"},
            "columnConfig": {
                "columns": [
                    {
                        "name": column["name"],
                        "statuses": [{"id": sid, "self": f"{self._api}/status/{sid}"} for sid in column["statuses"]],
                    }
                    for column in board["columns"]
                ],
                "constraintType": "issueCount",
            },
            "ranking": {"rankCustomFieldId": 10019},
        }
        if board["type"] == "scrum":
            config["estimation"] = {
                "type": "field",
                "field": {"fieldId": "timeoriginalestimate", "displayName": "Original estimate"},
            }
        else:
            config["subQuery"] = {"query": "resolution = EMPTY OR resolution changed AFTER -2w"}
        return _Reply(200, config)

    def _agile_issue(self, number: int, wanted: set[str] | None) -> Json:
        rendered = self._render_issue(number, wanted)
        if wanted is None or "sprint" in wanted:
            sprint = self._sprint_of(number)
            rendered["fields"]["sprint"] = self._sprint_json(sprint) if sprint is not None else None
        if wanted is None or "closedSprints" in wanted:
            closed = [s for s in self.sprints.values() if s["state"] == "closed" and number in s["issues"]]
            rendered["fields"]["closedSprints"] = [self._sprint_json(s) for s in closed]
        return rendered

    def _agile_search(self, req: _Req, numbers: Sequence[int]) -> _Reply:
        if req.query.get("jql"):
            narrowed = set(self._run_jql(req.query["jql"], require_bound=False))
            numbers = [n for n in numbers if n in narrowed]
        ranked = sorted(numbers, key=lambda n: self.rank.index(n) if n in self.rank else len(self.rank))
        wanted = self._wanted_fields(self._list_param(req.query.get("fields")), "*navigable")
        start, size, chunk = self._page(req, ranked, 50)
        size = min(size, 100)
        chunk = ranked[start : start + size]
        return _Reply(
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(ranked),
                "issues": [self._agile_issue(n, wanted) for n in chunk],
            },
        )

    def _board_numbers(self, board: Json) -> list[int]:
        return self._run_jql(self.filters[board["filterId"]]["jql"], require_bound=False)

    def board_issues(self, req: _Req, params: dict[str, str]) -> _Reply:
        board = self._board(params["board"])
        return self._agile_search(req, self._board_numbers(board))

    def board_backlog(self, req: _Req, params: dict[str, str]) -> _Reply:
        board = self._board(params["board"])
        if board["type"] != "scrum":
            raise _bad(["The board does not support the backlog (it is a kanban board without one)."])
        backlog = [
            n
            for n in self._board_numbers(board)
            if self._sprint_of(n) is None and self.issues[n]["status"]["statusCategory"]["key"] != "done"
        ]
        return self._agile_search(req, backlog)

    def board_sprints(self, req: _Req, params: dict[str, str]) -> _Reply:
        board = self._board(params["board"])
        if board["type"] != "scrum":
            raise _bad(["The board does not support sprints"])
        states = set(self._list_param(req.query.get("state"))) or {"future", "active", "closed"}
        unknown = states - {"future", "active", "closed"}
        if unknown:
            raise _bad([f"The sprint state '{sorted(unknown)[0]}' is not valid."])
        sprints = [
            self._sprint_json(s)
            for s in self.sprints.values()
            if s["originBoardId"] == board["id"] and s["state"] in states
        ]
        return _Reply(200, self._paged_values(req, sprints))

    def _sprint_date(self, value: Any, name: str) -> str:
        try:
            moment = parse_jira_time(str(value))
        except ValueError:
            raise _bad(**{name: f"The {name} '{value}' is not a valid date."}) from None
        return moment.astimezone(ZoneInfo(self.time_zone)).isoformat(timespec="milliseconds")

    def create_sprint(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, Mapping) else {}
        name = str(body.get("name") or "").strip()
        if not name:
            raise _bad(name="The sprint name is required.")
        if len(name) > 30:
            raise _bad(name="The sprint name must not be longer than 30 characters.")
        board = self._board(str(body.get("originBoardId", "")))
        if board["type"] != "scrum":
            raise _bad(["The board does not support sprints"])
        sprint_id = self._next("sprint", 1)
        sprint: Json = {
            "id": sprint_id,
            "state": "future",
            "name": name,
            "originBoardId": board["id"],
            "createdDate": self._now().astimezone(ZoneInfo(self.time_zone)).isoformat(timespec="milliseconds"),
            "startDate": None,
            "endDate": None,
            "completeDate": None,
            "goal": body.get("goal") or None,
            "issues": [],
        }
        for key in ("startDate", "endDate"):
            if body.get(key):
                sprint[key] = self._sprint_date(body[key], key)
        self.sprints[sprint_id] = sprint
        return _Reply(201, self._sprint_json(sprint))

    def get_sprint(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, self._sprint_json(self._sprint(params["sprint"])))

    def _update_sprint(self, req: _Req, params: dict[str, str]) -> _Reply:
        sprint = self._sprint(params["sprint"])
        body = req.body if isinstance(req.body, Mapping) else {}
        staged = dict(sprint)
        if "name" in body:
            name = str(body["name"] or "").strip()
            if not name or len(name) > 30:
                raise _bad(name="The sprint name must be 1 to 30 characters.")
            staged["name"] = name
        if "goal" in body:
            staged["goal"] = body["goal"] or None
        for key in ("startDate", "endDate"):
            if body.get(key):
                if sprint["state"] == "closed":
                    raise _bad([f"The {key} of a closed sprint cannot be changed."])
                staged[key] = self._sprint_date(body[key], key)
        state = body.get("state")
        if state is not None and state != sprint["state"]:
            if (sprint["state"], state) == ("future", "active"):
                if not staged.get("startDate") or not staged.get("endDate"):
                    raise _bad(["A sprint can only be started with a start date and an end date."])
                if any(
                    s["state"] == "active" and s["originBoardId"] == sprint["originBoardId"]
                    for s in self.sprints.values()
                ):
                    raise _bad(["This board already has an active sprint."])
            elif (sprint["state"], state) == ("active", "closed"):
                staged["completeDate"] = (
                    self._now().astimezone(ZoneInfo(self.time_zone)).isoformat(timespec="milliseconds")
                )
                done = [
                    n
                    for n in sprint["issues"]
                    if n in self.issues and self.issues[n]["status"]["statusCategory"]["key"] == "done"
                ]
                for number in set(sprint["issues"]) - set(done):
                    if number in self.issues:
                        self._touch(self.issues[number])
                staged["issues"] = done  # incomplete issues go back to the backlog
            else:
                raise _bad([f"A {sprint['state']} sprint cannot become {state}."])
            staged["state"] = state
        sprint.update(staged)
        return _Reply(200, self._sprint_json(sprint))

    def update_sprint_partial(self, req: _Req, params: dict[str, str]) -> _Reply:
        return self._update_sprint(req, params)

    def update_sprint_full(self, req: _Req, params: dict[str, str]) -> _Reply:
        return self._update_sprint(req, params)

    def sprint_issues(self, req: _Req, params: dict[str, str]) -> _Reply:
        sprint = self._sprint(params["sprint"])
        return self._agile_search(req, [n for n in sprint["issues"] if n in self.issues])

    def _issue_list(self, body: Any) -> list[int]:
        issues = body.get("issues") if isinstance(body, Mapping) else None
        if not isinstance(issues, list) or not issues:
            raise _bad(issues="The issues to move must be listed.")
        if len(issues) > 50:
            raise _bad(issues="At most 50 issues can be moved at once.")
        numbers = []
        for ref in issues:
            try:
                numbers.append(self._find(str(ref)))
            except ApiError:
                raise _bad([f"Issue '{ref}' does not exist or you do not have permission to see it."]) from None
        return numbers

    def _rank(self, numbers: Sequence[int], body: Mapping[str, Any], *, required: bool) -> None:
        before, after = body.get("rankBeforeIssue"), body.get("rankAfterIssue")
        if before and after:
            raise _bad(["Only one of rankBeforeIssue and rankAfterIssue can be given."])
        if not before and not after:
            if required:
                raise _bad(["One of rankBeforeIssue and rankAfterIssue must be given."])
            return
        anchor = self._find(str(before or after))
        if anchor in numbers:
            raise _bad(["An issue cannot be ranked relative to itself."])
        moving = [n for n in self.rank if n in set(numbers)]
        rest = [n for n in self.rank if n not in set(numbers)]
        position = rest.index(anchor) + (0 if before else 1)
        self.rank = rest[:position] + moving + rest[position:]

    def move_to_sprint(self, req: _Req, params: dict[str, str]) -> _Reply:
        sprint = self._sprint(params["sprint"])
        if sprint["state"] == "closed":
            raise _bad(["Issues cannot be moved to a closed sprint."])
        numbers = self._issue_list(req.body)
        for number in numbers:
            if self.issues[number]["issuetype"]["subtask"]:
                raise _bad(
                    [f"Sub-task {self.issues[number]['key']} moves with its parent; it cannot be moved on its own."]
                )
        for number in numbers:
            for other in self.sprints.values():
                if other["state"] != "closed" and number in other["issues"] and other is not sprint:
                    other["issues"].remove(number)
            if number not in sprint["issues"]:
                sprint["issues"].append(number)
                self._touch(self.issues[number])
        self._rank(numbers, req.body, required=False)
        return _Reply(204)

    def move_to_backlog(self, req: _Req, params: dict[str, str]) -> _Reply:
        numbers = self._issue_list(req.body)
        for number in numbers:
            for sprint in self.sprints.values():
                if sprint["state"] != "closed" and number in sprint["issues"]:
                    sprint["issues"].remove(number)
                    self._touch(self.issues[number])
        return _Reply(204)

    def rank_issues(self, req: _Req, params: dict[str, str]) -> _Reply:
        numbers = self._issue_list(req.body)
        self._rank(numbers, req.body, required=True)
        return _Reply(204)


#: The properties of the request beans the stand-in checks (IssueUpdateDetails,
#: SearchAndReconcileRequestBean in Atlassian's description).
_ISSUE_BEAN = frozenset({"fields", "update", "properties", "transition", "historyMetadata"})
_SEARCH_BEAN = frozenset(
    {"jql", "nextPageToken", "maxResults", "fields", "expand", "properties"}
    | {"fieldsByKeys", "failFast", "reconcileIssues"}
)

_FIELD_NAMES = {
    "summary": "Summary",
    "description": "Description",
    "issuetype": "Issue Type",
    "status": "Status",
    "resolution": "Resolution",
    "resolutiondate": "Resolved",
    "priority": "Priority",
    "labels": "Labels",
    "components": "Components",
    "assignee": "Assignee",
    "reporter": "Reporter",
    "creator": "Creator",
    "duedate": "Due date",
    "fixVersions": "Fix versions",
    "parent": "Parent",
    "subtasks": "Sub-tasks",
    "issuelinks": "Linked Issues",
    "created": "Created",
    "updated": "Updated",
    "timetracking": "Time tracking",
    "comment": "Comment",
    "worklog": "Log Work",
    "project": "Project",
    "customfield_10020": "Sprint",
}
_ALL_FIELD_NAMES = (
    *_FIELD_NAMES,
    "environment",
    "statuscategorychangedate",
    "timeoriginalestimate",
    "timeestimate",
    "timespent",
    "aggregatetimespent",
    "lastViewed",
)


def _known_keys(body: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    """``body`` as an object whose keys are all ``allowed``; Jira refuses unknown properties of
    its request beans with 400."""
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise _bad(["Can not deserialize the request body: an object is expected."])
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _bad([f'Unrecognized field "{unknown[0]}" (known properties: {", ".join(sorted(allowed))})'])
    return body


def _check_label(label: str) -> None:
    if not label or re.search(r"\s", label):
        raise _bad(labels=f"The label '{label}' contains spaces which is invalid.")
    if len(label) > 255:
        raise _bad(labels="The label must not exceed 255 characters.")


def _check_property_key(key: str) -> None:
    if not key or len(key) > 255:
        raise _bad(["The property key must be between 1 and 255 characters long."])


def _adf_html(document: Any) -> str | None:
    from html import escape

    from standins.jira_model import adf_text

    if document is None:
        return None
    return "".join(f"<p>{escape(block)}</p>" for block in adf_text(document).split("\n\n") if block)
