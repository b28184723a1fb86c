"""A stateful fake of the GitHub REST API (and the GraphQL subset for Projects v2).

One :class:`FakeGitHub` is one repository (``owner/repo``) on a GitHub that keeps its state in
plain dictionaries tests can read and edit. It answers through :meth:`FakeGitHub.handle` (an
``httpx`` handler; :meth:`FakeGitHub.transport` wraps it for clients such as githubkit) or over real
HTTP on 127.0.0.1 (:meth:`FakeGitHub.serve`, for a separate process).

What it models, following GitHub's documentation:

* issues (create, read, update, list with ``state`` / ``since`` / ``sort`` / ``direction`` /
  ``labels`` / ``milestone`` / ``assignee`` filters and ``Link`` pagination), comments, sub-issues,
  issue dependencies ("blocked by": add, remove, list; at most 50 per issue; both issues' ``updated_at``
  move, as a sub-issue's do),
  labels (unknown labels named on an issue are created, colour ``ededed``), milestones (duplicate
  titles are ``already_exists``), releases and tags, ``/search/issues``, ``/rate_limit``, ``/user``;
* conditional requests: every ``GET`` answered 200 carries an ``ETag``; a matching
  ``If-None-Match`` is answered 304 with no body and costs no rate limit;
* rate limits: ``x-ratelimit-*`` headers on every answer, one unit per counted request from the
  ``core``, ``search`` or ``graphql`` budget; an exhausted budget is answered 403;
* authentication: ``Authorization: Bearer <token>`` or ``token <token>``; the token itself is
  never kept;
* injected faults (:meth:`FakeGitHub.inject`): 5xx, timeouts, dropped connections before or after
  the change is applied, 429, secondary and primary rate limits;
* ``POST /graphql`` for Projects v2: a small GraphQL executor (aliases, variables, fragments,
  ``@include`` / ``@skip``) over repositories, organizations, users, issues, projects, fields and
  items, and the mutations ``createProjectV2``, ``addProjectV2ItemById``,
  ``updateProjectV2ItemFieldValue``, ``clearProjectV2ItemFieldValue``, ``deleteProjectV2Item`` and
  ``linkProjectV2ToRepository``. Selecting a field the fake does not model is answered with
  GitHub's ``undefinedField`` error, so a query cannot silently rely on something unmodelled.

With a validator (the test suite's, built from GitHub's official OpenAPI description), every REST
exchange is checked against the description as it happens.

It is taskorch's stand-in for GitHub, kept beside the package rather than installed with it: the
tests, the demo and the benchmarks run against it, and ``python -m standins github`` serves it to
try the integration by hand. It never reaches the network beyond the 127.0.0.1 port it serves on.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import math
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import quote

import httpx

from standins.serving import Outcome, answer, serve_http


class SpecValidator(Protocol):
    """What the fake asks of a validator: check one exchange, collect what breaks the spec."""

    def check(self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None) -> Any: ...


__all__ = [
    "FAULTS",
    "FakeGitHub",
    "ManualClock",
    "Project",
    "ProjectField",
    "ProjectItem",
    "Recorded",
]

Json = dict[str, Any]

API = "https://api.github.com"
WEB = "https://github.com"
DOCS = "https://docs.github.com/rest"

#: The fault kinds :meth:`FakeGitHub.inject` accepts.
FAULTS: frozenset[str] = frozenset(
    {"500", "502", "503", "timeout", "drop_before", "drop_after", "429", "secondary", "primary"}
)

DEFAULT_LABELS: tuple[tuple[str, str, str], ...] = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)

STATUS_OPTIONS: tuple[tuple[str, str], ...] = (
    ("Backlog", "GRAY"),
    ("To Do", "BLUE"),
    ("In Progress", "YELLOW"),
    ("Done", "GREEN"),
)
"""The options of the single-select "Status" field of a new project, with their colours."""

_PROJECT_FIELDS: tuple[tuple[str, str], ...] = (
    ("Title", "TITLE"),
    ("Assignees", "ASSIGNEES"),
    ("Status", "SINGLE_SELECT"),
    ("Labels", "LABELS"),
    ("Linked pull requests", "LINKED_PULL_REQUESTS"),
    ("Milestone", "MILESTONE"),
    ("Repository", "REPOSITORY"),
    ("Reviewers", "REVIEWERS"),
    ("Parent issue", "PARENT_ISSUE"),
    ("Sub-issues progress", "SUB_ISSUES_PROGRESS"),
)
#: The REST API versions the fake answers (``X-GitHub-Api-Version``); the first is the default.
API_VERSIONS: tuple[str, ...] = ("2022-11-28", "2026-03-10")
_SETTABLE = {"TEXT": "text", "NUMBER": "number", "DATE": "date", "SINGLE_SELECT": "singleSelectOptionId"}


# -- small helpers -----------------------------------------------------------------------------


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def _page(title: str, body: str) -> str:
    return f"<!doctype html><title>{_html(title)}</title><h1>{_html(title)}</h1>{body}\n"


class ManualClock:
    """A clock tests move by hand: ``clock()`` returns ``now``; ``advance(seconds=...)`` moves it.

    With ``step``, every reading advances the clock by that much afterwards, so consecutive
    changes get distinct (second-resolution) timestamps.
    """

    def __init__(self, start: datetime | None = None, *, step: timedelta = timedelta(0)) -> None:
        self.now = (start or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)).astimezone(UTC)
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + self.step
        return current

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by ``timedelta(**delta)``; returns the new time."""
        self.now += timedelta(**delta)
        return self.now


def iso(moment: datetime) -> str:
    """GitHub's timestamp form: UTC, second resolution, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC). Raises ``ValueError``."""
    moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """One request the fake received.

    ``query`` is the query string (last value wins), ``json`` the decoded JSON body (``None`` when
    there was none). ``status`` is the status the fake produced — also when a ``drop_after`` fault
    kept it from the client — and ``None`` when none was produced (``timeout``, ``drop_before``).
    ``counted`` says whether it used rate limit; ``authenticated`` whether a token was sent;
    ``fault`` the injected fault that hit it; ``applied`` whether it reached the API (a 4xx answer is
    not applied). ``graphql`` is ``"query"`` or ``"mutation"`` for ``/graphql``, and
    ``graphql_fields`` the root fields it selected.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None
    counted: bool
    authenticated: bool
    fault: str | None = None
    applied: bool = True
    graphql: str | None = None
    graphql_fields: tuple[str, ...] = ()

    @property
    def is_mutation(self) -> bool:
        """``POST``/``PATCH``/``PUT``/``DELETE`` on REST, or a GraphQL mutation."""
        if self.path == "/graphql":
            return self.graphql == "mutation"
        return self.method in {"POST", "PATCH", "PUT", "DELETE"}


@dataclass
class ProjectField:
    """A Projects v2 field. ``options`` maps option id -> option name (single-select fields)."""

    id: str
    name: str
    data_type: str
    options: dict[str, str] = field(default_factory=dict)
    colors: dict[str, str] = field(default_factory=dict)

    def option_id(self, name: str) -> str:
        """The id of the option called ``name``; ``KeyError`` if there is none."""
        for option_id, option_name in self.options.items():
            if option_name == name:
                return option_id
        raise KeyError(name)


@dataclass
class ProjectItem:
    """An issue on a project. ``status`` is the name of its Status option (``None`` when unset);
    ``values`` maps field id -> the value set (an option id for single-select fields)."""

    id: str
    project_id: str
    content_id: str
    issue_number: int
    database_id: int
    created_at: str
    updated_at: str
    status: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Project:
    """A Projects v2 board owned by an organization or a user."""

    id: str
    number: int
    title: str
    owner_login: str
    owner_id: str
    url: str
    database_id: int
    created_at: str
    updated_at: str
    fields: list[ProjectField]
    items: dict[str, ProjectItem] = field(default_factory=dict)
    repository_ids: list[str] = field(default_factory=list)
    closed: bool = False

    def field_named(self, name: str) -> ProjectField:
        """The field called ``name``; ``KeyError`` if there is none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def item_for(self, issue_number: int) -> ProjectItem | None:
        """The item holding issue ``issue_number``, if it is on the board."""
        return next((item for item in self.items.values() if item.issue_number == issue_number), None)


@dataclass
class _Fault:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    times: int
    retry_after: int


@dataclass
class _Bucket:
    limit: int
    remaining: int
    reset: int

    @property
    def used(self) -> int:
        return self.limit - self.remaining


@dataclass
class _Req:
    method: str
    path: str
    url: httpx.URL
    query: dict[str, str]
    headers: httpx.Headers
    body: Any
    raw: bytes
    request: httpx.Request
    version: str = "2022-11-28"


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by a route to answer with an error status and GitHub's error body."""

    def __init__(self, status: int, body: Json, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body.get("message", status))
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _error(status: int, message: str, docs: str = DOCS) -> ApiError:
    return ApiError(status, {"message": message, "documentation_url": docs, "status": str(status)})


def _not_found() -> ApiError:
    return _error(404, "Not Found")


def _invalid(message: str, docs: str = DOCS) -> ApiError:
    return ApiError(422, {"message": message, "documentation_url": docs, "status": "422"})


def _validation_failed(resource: str, field_name: str, code: str, docs: str = DOCS, **extra: Any) -> ApiError:
    entry = {"resource": resource, "code": code, "field": field_name, **extra}
    body = {"message": "Validation Failed", "errors": [entry], "documentation_url": docs, "status": "422"}
    return ApiError(422, body)


class _GqlError(Exception):
    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


# -- the fake ----------------------------------------------------------------------------------

_Handler = Callable[[_Req, dict[str, str]], _Reply]

_REPO_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", r"/issues", "list_issues"),
    ("POST", r"/issues", "create_issue"),
    ("GET", r"/issues/(?P<number>\d+)", "get_issue"),
    ("PATCH", r"/issues/(?P<number>\d+)", "update_issue"),
    ("GET", r"/issues/(?P<number>\d+)/comments", "list_comments"),
    ("POST", r"/issues/(?P<number>\d+)/comments", "create_comment"),
    ("GET", r"/issues/(?P<number>\d+)/sub_issues", "list_sub_issues"),
    ("POST", r"/issues/(?P<number>\d+)/sub_issues", "add_sub_issue"),
    ("DELETE", r"/issues/(?P<number>\d+)/sub_issue", "remove_sub_issue"),
    ("GET", r"/issues/(?P<number>\d+)/parent", "get_parent"),
    ("GET", r"/issues/(?P<number>\d+)/dependencies/blocked_by", "list_blocked_by"),
    ("POST", r"/issues/(?P<number>\d+)/dependencies/blocked_by", "add_blocked_by"),
    ("DELETE", r"/issues/(?P<number>\d+)/dependencies/blocked_by/(?P<issue_id>\d+)", "remove_blocked_by"),
    ("GET", r"/labels", "list_labels"),
    ("POST", r"/labels", "create_label"),
    ("GET", r"/labels/(?P<name>[^/]+)", "get_label"),
    ("GET", r"/milestones", "list_milestones"),
    ("POST", r"/milestones", "create_milestone"),
    ("GET", r"/milestones/(?P<number>\d+)", "get_milestone"),
    ("PATCH", r"/milestones/(?P<number>\d+)", "update_milestone"),
    ("DELETE", r"/milestones/(?P<number>\d+)", "delete_milestone"),
    ("GET", r"/releases", "list_releases"),
    ("POST", r"/releases", "create_release"),
    ("GET", r"/releases/latest", "latest_release"),
    ("GET", r"/releases/tags/(?P<tag>.+)", "release_by_tag"),
    ("GET", r"/releases/(?P<id>\d+)", "get_release"),
    ("PATCH", r"/releases/(?P<id>\d+)", "update_release"),
    ("DELETE", r"/releases/(?P<id>\d+)", "delete_release"),
    ("GET", r"/tags", "list_tags"),
)
_TOP_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", r"/rate_limit", "rate_limit"),
    ("GET", r"/user", "get_user"),
    ("GET", r"/search/issues", "search_issues"),
    ("POST", r"/graphql", "graphql"),
)


class FakeGitHub:
    """GitHub, as far as one repository's issues, milestones, labels, releases and Projects v2
    boards go (see the module docstring for the behaviour).

    State, all public and editable (``issues`` etc. hold the JSON objects exactly as the API
    returns them; derived fields — embedded labels and milestone, ``comments``,
    ``sub_issues_summary``, ``parent_issue_url`` — are refreshed whenever an object is served):

    * ``issues: dict[int, dict]`` — number -> issue object;
    * ``comments: dict[int, list[dict]]`` — issue number -> its comment objects, oldest first;
    * ``milestones: dict[int, dict]`` — number -> milestone object;
    * ``labels: dict[str, dict]`` — name -> label object;
    * ``sub_issues: dict[int, list[int]]`` — parent number -> child numbers, in order;
    * ``blocked_by: dict[int, list[int]]`` — issue number -> the numbers of the issues blocking it;
    * ``releases: dict[int, dict]`` — id -> release object; ``tags: dict[str, str]`` — tag -> sha;
    * ``projects: dict[str, Project]`` — project node id -> :class:`Project` (with its items);
    * ``requests: list[Recorded]`` — every request received, in order;
    * ``rate_limit_limit`` / ``rate_limit_remaining`` — the ``core`` budget (``search`` and
      ``graphql`` budgets are in ``buckets``);
    * ``latency`` — seconds slept before answering each request;
    * ``credentials_valid`` — when false, every request is answered 401 "Bad credentials";
    * ``hold_seconds`` — how long :meth:`serve` holds a connection hit by a ``timeout`` fault;
    * ``api_url`` / ``web_url`` — the bases of the ``url`` and ``html_url`` values of new objects:
      GitHub's, except while :meth:`serve` runs, when both are the served address (whose web
      pages :meth:`web_page` answers), so no link of a local server points at github.com.
    """

    def __init__(
        self,
        owner: str = "octo-org",
        repo: str = "shop",
        *,
        validator: SpecValidator | None = None,
        clock: Callable[[], datetime] | None = None,
        latency: float = 0.0,
        owner_type: Literal["Organization", "User"] = "Organization",
        viewer: str = "sync-bot",
        default_labels: bool = True,
    ) -> None:
        self.owner = owner
        self.repo = repo
        self.validator = validator
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.latency = latency
        self.owner_type = owner_type
        self.viewer = viewer
        self.credentials_valid = True
        self.hold_seconds = 30.0
        self.api_url = API
        self.web_url = WEB

        self.issues: dict[int, Json] = {}
        self.comments: dict[int, list[Json]] = {}
        self.milestones: dict[int, Json] = {}
        self.labels: dict[str, Json] = {}
        self.sub_issues: dict[int, list[int]] = {}
        self.blocked_by: dict[int, list[int]] = {}
        self.releases: dict[int, Json] = {}
        self.tags: dict[str, str] = {}
        self.projects: dict[str, Project] = {}
        self.deleted_issues: set[int] = set()
        self.requests: list[Recorded] = []
        self.internal_errors: list[str] = []

        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._seq = 0
        self._milestone_seq = 0
        self._release_seq = 0
        self._project_numbers: dict[str, int] = {}
        self._users: dict[str, Json] = {}
        self.repo_id = 100_000_000 + zlib.crc32(f"{owner}/{repo}".encode()) % 900_000_000
        self.repo_node_id = "R_kgDO" + _b64(f"repo:{self.repo_id}")
        reset = int(self._now().timestamp()) + 3600
        self.buckets: dict[str, _Bucket] = {
            "core": _Bucket(5000, 5000, reset),
            "search": _Bucket(30, 30, int(self._now().timestamp()) + 60),
            "graphql": _Bucket(5000, 5000, reset),
        }
        if default_labels:
            for name, color, description in DEFAULT_LABELS:
                self._new_label(name, color, description, default=True)
        self._routes: list[tuple[str, re.Pattern[str], _Handler]] = [
            (method, re.compile(f"^{re.escape(f'/repos/{owner}/{repo}')}{regex}$", re.IGNORECASE), getattr(self, name))
            for method, regex, name in _REPO_ROUTES
        ] + [(method, re.compile(f"^{regex}$"), getattr(self, name)) for method, regex, name in _TOP_ROUTES]

    # -- public API for tests ----------------------------------------------------------------

    @property
    def rate_limit_limit(self) -> int:
        return self.buckets["core"].limit

    @rate_limit_limit.setter
    def rate_limit_limit(self, value: int) -> None:
        self.buckets["core"].limit = value

    @property
    def rate_limit_remaining(self) -> int:
        return self.buckets["core"].remaining

    @rate_limit_remaining.setter
    def rate_limit_remaining(self, value: int) -> None:
        self.buckets["core"].remaining = value

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request. Raises ``httpx.ReadTimeout`` for a ``timeout`` fault and
        ``httpx.RemoteProtocolError`` for ``drop_before`` / ``drop_after``."""
        return answer(self._process(request), request)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering from this fake (any host; the path decides)."""
        return httpx.MockTransport(self.handle)

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Serve this fake over HTTP on 127.0.0.1 from a background thread, on ``port`` (0: a free
        one); yields the base URL, e.g. ``http://127.0.0.1:54321``. ``drop_*`` faults close the connection without
        an answer; ``timeout`` holds it (up to ``hold_seconds``) and then closes it."""

        def failed(where: str, exc: Exception) -> httpx.Response:
            self.internal_errors.append(f"{where}: {exc!r}")
            return self._json_response(500, {"message": f"fake failed: {exc}"})

        with serve_http(
            self._process, port=port, hold_seconds=lambda: self.hold_seconds, failed=failed, web_page=self.web_page
        ) as url:
            bases = self.api_url, self.web_url
            self.api_url = self.web_url = url
            try:
                yield url
            finally:
                self.api_url, self.web_url = bases

    def web_page(self, path: str) -> tuple[int, str] | None:
        """The stand-in's web page at ``path`` (the path of an ``html_url``): the repository's
        issues, an issue, a milestone or a release, as a small HTML page with its status code;
        ``None`` for a path of the API. Pages are not counted, recorded or rate limited."""
        repo_path = f"/{self.owner}/{self.repo}"
        path = path.split("?", 1)[0].rstrip("/")
        if path != repo_path and not path.startswith(repo_path + "/"):
            return None
        rest = path[len(repo_path) :]
        with self._lock:
            if rest in {"", "/issues"}:
                rows = [
                    f'<li><a href="{_html(i["html_url"])}">#{n}</a> {_html(i["title"])} ({i["state"]})</li>'
                    for n, i in sorted(self.issues.items())
                ]
                return 200, _page(f"{self.owner}/{self.repo}: issues", "<ul>" + "".join(rows) + "</ul>")
            found = re.fullmatch(r"/(issues|pull|milestone)/(\d+)", rest)
            if found and found.group(1) in {"issues", "pull"} and int(found.group(2)) in self.issues:
                issue = self.issues[int(found.group(2))]
                labels = ", ".join(label["name"] for label in issue["labels"])
                facts = f"{issue['state']}" + (f" ({issue['state_reason']})" if issue.get("state_reason") else "")
                return 200, _page(
                    f"#{issue['number']} {issue['title']}",
                    f"<p>{_html(facts)}; labels: {_html(labels)}</p><pre>{_html(issue.get('body') or '')}</pre>",
                )
            if found and found.group(1) == "milestone" and int(found.group(2)) in self.milestones:
                milestone = self.milestones[int(found.group(2))]
                return 200, _page(f"Milestone {milestone['title']}", f"<p>{_html(milestone['state'])}</p>")
            release = next((r for r in self.releases.values() if r["html_url"].endswith(path)), None)
            if release is not None:
                return 200, _page(f"Release {release['tag_name']}", f"<pre>{_html(release.get('body') or '')}</pre>")
        return 404, _page("Not Found", f"<p>Nothing at {_html(path)} on this stand-in.</p>")

    def mutations(self) -> list[Recorded]:
        """The recorded requests that try to change something (see :attr:`Recorded.is_mutation`),
        applied or not."""
        with self._lock:
            return [r for r in self.requests if r.is_mutation]

    def inject(
        self,
        fault: str,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        retry_after: int = 1,
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and ``path`` (a regex searched in the
        URL path) fail with ``fault`` (one of :data:`FAULTS`):

        * ``"500"`` / ``"502"`` / ``"503"``: that status, nothing applied;
        * ``"timeout"``: ``httpx.ReadTimeout`` (over HTTP: no answer), nothing applied;
        * ``"drop_before"``: the connection drops, nothing applied;
        * ``"drop_after"``: the request is applied, then the connection drops before the answer;
        * ``"429"``: 429 with ``Retry-After``;
        * ``"secondary"``: 403 with GitHub's secondary-rate-limit message and ``Retry-After``;
        * ``"primary"``: 403 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` in
          ``retry_after`` seconds.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        with self._lock:
            self._faults.append(
                _Fault(
                    fault, method.upper() if method else None, re.compile(path) if path else None, times, retry_after
                )
            )

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

    def edit_issue(self, number: int, *, actor: str = "octocat", **fields: Any) -> Json:
        """Change an issue as a person on github.com would: ``title``, ``body``, ``state`` (with
        ``state_reason``), ``labels`` (names; unknown ones are created), ``assignees`` (logins),
        ``milestone`` (number or ``None``). Bumps ``updated_at`` when something changed. Returns the
        issue object."""
        allowed = {"title", "body", "state", "state_reason", "labels", "assignees", "milestone"}
        unknown = set(fields) - allowed
        if unknown:
            raise TypeError(f"edit_issue() got unexpected fields {sorted(unknown)}")
        with self._lock:
            issue = self._issue(number)
            try:
                self._apply_issue_changes(issue, fields, actor)
            except ApiError as exc:
                raise ValueError(exc.body.get("errors") or exc.body.get("message")) from exc
            return self._refresh_issue(issue)

    def add_comment(self, number: int, body: str, *, author: str = "octocat") -> Json:
        """Comment on an issue as ``author`` (bumps the issue's ``updated_at``). Returns the comment."""
        with self._lock:
            return self._new_comment(self._issue(number), body, author)

    def add_pull_request(self, title: str, body: str | None = None, *, author: str = "octocat") -> Json:
        """Open a pull request (as ``author``). GitHub numbers pull requests with issues and lists
        them among issues, marked by a ``pull_request`` object; returns that issue object."""
        with self._lock:
            issue = self._new_issue(title, body, author=author)
            number = issue["number"]
            pull = f"{self._repo_api}/pulls/{number}"
            issue["html_url"] = f"{self._repo_web}/pull/{number}"
            issue["node_id"] = "PR_kwDO" + _b64(f"pull:{issue['id']}")
            issue["pull_request"] = {
                "url": pull,
                "html_url": issue["html_url"],
                "diff_url": f"{issue['html_url']}.diff",
                "patch_url": f"{issue['html_url']}.patch",
                "merged_at": None,
            }
            issue["draft"] = False
            return self._refresh_issue(issue)

    def delete_issue(self, number: int) -> None:
        """Delete an issue as an admin would: it then answers 410 Gone."""
        with self._lock:
            self._issue(number)
            self.deleted_issues.add(number)

    def project(self, number: int, owner: str | None = None) -> Project:
        """The project numbered ``number`` of ``owner`` (default: the repository's owner)."""
        login = owner or self.owner
        for candidate in self.projects.values():
            if candidate.number == number and candidate.owner_login == login:
                return candidate
        raise KeyError(f"no project {number} for {login}")

    def project_status(self, issue_number: int, project_number: int | None = None) -> str | None:
        """The Status option name of issue ``issue_number`` on a project (the only project when
        ``project_number`` is omitted); ``None`` when unset. ``KeyError`` if it is not on it."""
        with self._lock:
            if project_number is None:
                if len(self.projects) != 1:
                    raise KeyError(f"{len(self.projects)} projects exist; name one")
                board = next(iter(self.projects.values()))
            else:
                board = self.project(project_number)
            item = board.item_for(issue_number)
            if item is None:
                raise KeyError(f"issue #{issue_number} is not on project {board.number}")
            return item.status

    # -- processing ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _stamp(self) -> str:
        return iso(self._now())

    def _process(self, request: httpx.Request) -> Outcome:
        if self.latency > 0:
            time.sleep(self.latency)
        with self._lock:
            return self._process_locked(request)

    def _process_locked(self, request: httpx.Request) -> Outcome:
        path = request.url.path
        if path.startswith("/api/v3/"):
            path = path[len("/api/v3") :]
        elif path == "/api/graphql":
            path = "/graphql"
        raw = request.read()
        body: Any = None
        body_ok = True
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body_ok = False
        req = _Req(
            method=request.method.upper(),
            path=path,
            url=request.url,
            query=dict(request.url.params.items()),
            headers=request.headers,
            body=body,
            raw=raw,
            request=request,
            version=request.headers.get("x-github-api-version") or API_VERSIONS[0],
        )
        authenticated = self._has_token(request)
        graphql_kind, graphql_fields = self._graphql_summary(req) if path == "/graphql" else (None, ())
        fault = self._take_fault(req.method, path)

        def record(status: int | None, counted: bool, applied: bool) -> None:
            self.requests.append(
                Recorded(
                    method=req.method,
                    path=path,
                    query=req.query,
                    json=body,
                    status=status,
                    counted=counted,
                    authenticated=authenticated,
                    fault=fault.kind if fault else None,
                    applied=applied,
                    graphql=graphql_kind,
                    graphql_fields=graphql_fields,
                )
            )

        if fault is not None and fault.kind in {"timeout", "drop_before"}:
            record(None, counted=False, applied=False)
            self._validate(request, None, path)
            return Outcome("timeout" if fault.kind == "timeout" else "drop")
        if fault is not None and fault.kind not in {"drop_after"}:
            response = self._fault_response(fault, self._resource(path), request)
            record(response.status_code, counted=False, applied=False)
            self._validate(request, response, path)
            return Outcome("respond", response)
        if not body_ok:
            body_400 = {"message": "Problems parsing JSON", "documentation_url": DOCS}
            response = self._json_response(400, body_400, self._rate_headers(self._resource(path)), request)
            record(400, counted=False, applied=False)
            self._validate(request, response, path)
            return Outcome("respond", response)
        response, counted = self._serve(req, authenticated)
        record(response.status_code, counted=counted, applied=response.status_code < 400)
        self._validate(request, response, path)
        if fault is not None:
            return Outcome("drop")
        return Outcome("respond", response)

    def _validate(self, request: httpx.Request, response: httpx.Response | None, path: str) -> None:
        if self.validator is not None:
            self.validator.check(request, response, path=path)

    @staticmethod
    def _has_token(request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        return scheme.lower() in {"bearer", "token"} and bool(token.strip())

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times <= 0:
                continue
            if fault.method and fault.method != method:
                continue
            if fault.path and not fault.path.search(path):
                continue
            fault.times -= 1
            self._faults = [f for f in self._faults if f.times > 0]
            return fault
        return None

    @staticmethod
    def _resource(path: str) -> str:
        if path == "/graphql":
            return "graphql"
        if path.startswith("/search/"):
            return "search"
        return "core"

    def _bucket(self, resource: str) -> _Bucket:
        bucket = self.buckets[resource]
        now = int(self._now().timestamp())
        if now >= bucket.reset:
            bucket.remaining = bucket.limit
            bucket.reset = now + (60 if resource == "search" else 3600)
        return bucket

    def _rate_headers(self, resource: str, *, remaining: int | None = None, reset: int | None = None) -> dict[str, str]:
        bucket = self._bucket(resource)
        left = bucket.remaining if remaining is None else remaining
        return {
            "x-ratelimit-limit": str(bucket.limit),
            "x-ratelimit-remaining": str(left),
            "x-ratelimit-reset": str(bucket.reset if reset is None else reset),
            "x-ratelimit-used": str(bucket.limit - left),
            "x-ratelimit-resource": resource,
        }

    def _json_response(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None, request: httpx.Request | None = None
    ) -> httpx.Response:
        self._seq += 1
        merged = {
            "content-type": "application/json; charset=utf-8",
            "x-github-media-type": "github.v3; format=json",
            "x-github-request-id": f"FA4E:{self._seq:06X}",
            **(headers or {}),
        }
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        if body is None:
            merged.pop("content-type")
        return httpx.Response(status, headers=merged, content=content, request=request)

    def _fault_response(self, fault: _Fault, resource: str, request: httpx.Request) -> httpx.Response:
        headers = self._rate_headers(resource)
        kind = fault.kind
        if kind in {"500", "502", "503"}:
            message = {"500": "Server Error", "502": "Server Error", "503": "Service Unavailable"}[kind]
            return self._json_response(int(kind), {"message": message}, headers, request)
        if kind == "429":
            headers["retry-after"] = str(fault.retry_after)
            body = {"message": "Too many requests. Please retry later.", "documentation_url": _RATE_DOCS}
            return self._json_response(429, body, headers, request)
        if kind == "secondary":
            headers["retry-after"] = str(fault.retry_after)
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                f"If you reach out to GitHub Support for help, please include the request ID FA4E:{self._seq:06X}."
            )
            docs = _RATE_DOCS + "#about-secondary-rate-limits"
            return self._json_response(403, {"message": message, "documentation_url": docs}, headers, request)
        reset = int(self._now().timestamp()) + fault.retry_after
        headers = self._rate_headers(resource, remaining=0, reset=reset)
        return self._json_response(403, self._primary_limit_body(), headers, request)

    def _primary_limit_body(self) -> Json:
        user_id = self._user(self.viewer)["id"]
        return {
            "message": f"API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, "
            f"please include the request ID FA4E:{self._seq:06X}.",
            "documentation_url": _RATE_DOCS + "#about-the-primary-rate-limit",
        }

    def _serve(self, req: _Req, authenticated: bool) -> tuple[httpx.Response, bool]:
        resource = self._resource(req.path)
        request = req.request
        if not authenticated or not self.credentials_valid:
            message = "Requires authentication" if not authenticated else "Bad credentials"
            if req.path == "/graphql" and not authenticated:
                message = "This endpoint requires you to be authenticated."
            body = {"message": message, "documentation_url": DOCS, "status": "401"}
            return self._json_response(401, body, self._rate_headers(resource), request), False
        if req.version not in API_VERSIONS and req.path != "/graphql":
            body = {
                "message": f"The API version '{req.version}' is not supported.",
                "documentation_url": "https://docs.github.com/rest/about-the-rest-api/api-versions",
                "status": "400",
            }
            return self._json_response(400, body, self._rate_headers(resource), request), False
        exempt = req.path == "/rate_limit"
        bucket = self._bucket(resource)
        if not exempt and bucket.remaining <= 0:
            return self._json_response(403, self._primary_limit_body(), self._rate_headers(resource), request), False
        reply = self._dispatch(req)
        reply.body = self._as_version(reply.body, req)
        content = b"" if reply.body is None else json.dumps(reply.body, separators=(",", ":")).encode()
        extra = dict(reply.headers)
        status = reply.status
        if req.method == "GET" and status == 200:
            etag = 'W/"' + hashlib.sha256(content).hexdigest() + '"'
            extra["etag"] = etag
            extra["cache-control"] = "private, max-age=60, s-maxage=60"
            extra["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            if _etag_matches(req.headers.get("if-none-match"), etag):
                status = 304
        counted = not exempt and status != 304
        if counted:
            bucket.remaining = max(0, bucket.remaining - 1)
        headers = {**self._rate_headers(resource), **extra}
        if req.path != "/graphql":
            headers["x-github-api-version-selected"] = req.version
        if status == 304:
            return self._json_response(304, None, headers, request), counted
        return self._json_response(status, reply.body, headers, request), counted

    @staticmethod
    def _as_version(body: Any, req: _Req) -> Any:
        """``body`` as API ``req.version`` shapes it: from 2026-03-10 on, issues lose the singular
        ``assignee``, a pull request's ``merged_at`` is left out rather than null, and
        ``/rate_limit`` loses ``rate``."""
        if req.version < "2026-03-10" or req.path == "/graphql":
            return body
        if req.path == "/rate_limit" and isinstance(body, dict):
            body.pop("rate", None)
        if isinstance(body, list):
            candidates = body
        elif isinstance(body, dict) and isinstance(body.get("items"), list):
            candidates = body["items"]
        else:
            candidates = [body]
        for candidate in candidates:
            if isinstance(candidate, dict) and {"number", "comments_url", "events_url"} <= candidate.keys():
                candidate.pop("assignee", None)
                pull = candidate.get("pull_request")
                if isinstance(pull, dict) and pull.get("merged_at") is None:
                    pull.pop("merged_at", None)
        return body

    def _dispatch(self, req: _Req) -> _Reply:
        for method, pattern, handler in self._routes:
            match = pattern.match(req.path)
            if match is not None and method == req.method:
                try:
                    return handler(req, match.groupdict())
                except ApiError as exc:
                    return _Reply(exc.status, exc.body, exc.headers)
        return _Reply(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})

    # -- JSON builders ------------------------------------------------------------------------

    @property
    def _repo_api(self) -> str:
        return f"{self.api_url}/repos/{self.owner}/{self.repo}"

    @property
    def _repo_web(self) -> str:
        return f"{self.web_url}/{self.owner}/{self.repo}"

    def _user(self, login: str, kind: str = "User") -> Json:
        user = self._users.get(login)
        if user is None:
            uid = 1_000 + zlib.crc32(login.lower().encode()) % 90_000_000
            prefix = "O_kgDO" if kind == "Organization" else "U_kgDO"
            user = {
                "login": login,
                "id": uid,
                "node_id": prefix + _b64(f"{kind}:{uid}"),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "gravatar_id": "",
                "url": f"{self.api_url}/users/{login}",
                "html_url": f"{self.web_url}/{login}",
                "followers_url": f"{self.api_url}/users/{login}/followers",
                "following_url": f"{self.api_url}/users/{login}/following{{/other_user}}",
                "gists_url": f"{self.api_url}/users/{login}/gists{{/gist_id}}",
                "starred_url": f"{self.api_url}/users/{login}/starred{{/owner}}{{/repo}}",
                "subscriptions_url": f"{self.api_url}/users/{login}/subscriptions",
                "organizations_url": f"{self.api_url}/users/{login}/orgs",
                "repos_url": f"{self.api_url}/users/{login}/repos",
                "events_url": f"{self.api_url}/users/{login}/events{{/privacy}}",
                "received_events_url": f"{self.api_url}/users/{login}/received_events",
                "type": kind,
                "user_view_type": "public",
                "site_admin": False,
            }
            self._users[login] = user
        return dict(user)

    @property
    def owner_node_id(self) -> str:
        """The GraphQL node id of the repository's owner (an organization by default)."""
        return str(self._user(self.owner, self.owner_type)["node_id"])

    def _association(self, login: str) -> str:
        if login == self.viewer:
            return "OWNER" if self.owner_type == "User" and login == self.owner else "MEMBER"
        return "NONE"

    @staticmethod
    def _reactions(url: str) -> Json:
        counts = dict.fromkeys(("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0)
        return {"url": f"{url}/reactions", "total_count": 0, **counts}

    def _new_label(
        self, name: str, color: str = "ededed", description: str | None = None, *, default: bool = False
    ) -> Json:
        self._seq += 1
        label_id = 5_000_000_000 + len(self.labels) + 1
        label = {
            "id": label_id,
            "node_id": "LA_kwDO" + _b64(f"label:{label_id}"),
            "url": f"{self._repo_api}/labels/{quote(name)}",
            "name": name,
            "color": color,
            "default": default,
            "description": description,
            "archived_at": None,
            "archived_by": None,
        }
        self.labels[name] = label
        return label

    def _label_named(self, name: str) -> Json | None:
        found = self.labels.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((label for key, label in self.labels.items() if key.lower() == lowered), None)

    def _refresh_milestone(self, milestone: Json) -> Json:
        number = milestone["number"]
        related = [
            i
            for n, i in self.issues.items()
            if n not in self.deleted_issues and i.get("milestone") and i["milestone"]["number"] == number
        ]
        milestone["open_issues"] = sum(1 for i in related if i["state"] == "open")
        milestone["closed_issues"] = sum(1 for i in related if i["state"] == "closed")
        return milestone

    def _refresh_issue(self, issue: Json) -> Json:
        names = [label["name"] for label in issue.get("labels", [])]
        issue["labels"] = [dict(found) for name in names if (found := self._label_named(name)) is not None]
        if issue.get("milestone"):
            current = self.milestones.get(issue["milestone"]["number"])
            issue["milestone"] = copy.deepcopy(self._refresh_milestone(current)) if current else None
        issue["assignee"] = issue["assignees"][0] if issue.get("assignees") else None
        number = issue["number"]
        issue["comments"] = len(self.comments.get(number, []))
        children = [self.issues[c] for c in self.sub_issues.get(number, []) if c in self.issues]
        done = sum(1 for child in children if child["state"] == "closed")
        issue["sub_issues_summary"] = {
            "total": len(children),
            "completed": done,
            "percent_completed": (done * 100 // len(children)) if children else 0,
        }
        blockers = [self.issues[b] for b in self.blocked_by.get(number, []) if b in self.issues]
        blocking = [n for n, kids in self.blocked_by.items() if number in kids and n in self.issues]
        issue["issue_dependencies_summary"] = {
            "blocked_by": sum(1 for b in blockers if b["state"] == "open"),
            "blocking": len(blocking) if issue["state"] == "open" else 0,
            "total_blocked_by": len(blockers),
            "total_blocking": len(blocking),
        }
        parent = self._parent_of(number)
        issue["parent_issue_url"] = f"{self._repo_api}/issues/{parent}" if parent is not None else None
        return issue

    def _render_issue(self, issue: Json) -> Json:
        return copy.deepcopy(self._refresh_issue(issue))

    def _parent_of(self, number: int) -> int | None:
        return next((parent for parent, kids in self.sub_issues.items() if number in kids), None)

    def _issue(self, number: int) -> Json:
        issue = self.issues.get(number)
        if issue is None:
            raise KeyError(f"no issue #{number}")
        return issue

    def _issue_for_api(self, number: str) -> Json:
        key = int(number)
        if key in self.deleted_issues:
            raise _error(410, "This issue was deleted")
        issue = self.issues.get(key)
        if issue is None:
            raise _not_found()
        return issue

    # -- issues -------------------------------------------------------------------------------

    def _labels_from(self, value: Any) -> list[Json]:
        if not isinstance(value, list):
            raise _invalid(f"Invalid request.\n\nFor 'properties/labels', {json.dumps(value)} is not an array.")
        result: list[Json] = []
        for entry in value:
            name = entry.get("name") if isinstance(entry, dict) else entry
            if not isinstance(name, str) or not name.strip():
                raise _validation_failed("Label", "name", "invalid")
            label = self._label_named(name) or self._new_label(name)
            if all(existing["name"] != label["name"] for existing in result):
                result.append(dict(label))
        return result

    def _assignees_from(self, value: Any) -> list[Json]:
        if not isinstance(value, list):
            raise _invalid(f"Invalid request.\n\nFor 'properties/assignees', {json.dumps(value)} is not an array.")
        logins: list[str] = []
        for entry in value:
            login = entry.get("login") if isinstance(entry, dict) else entry
            if not isinstance(login, str) or not login:
                raise _validation_failed("Issue", "assignees", "invalid")
            if login not in logins:
                logins.append(login)
        return [self._user(login) for login in logins[:10]]

    def _milestone_from(self, value: Any) -> Json | None:
        if value is None:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise _validation_failed("Issue", "milestone", "invalid", value=str(value)) from None
        milestone = self.milestones.get(number)
        if milestone is None:
            raise _validation_failed("Issue", "milestone", "invalid", value=number)
        return copy.deepcopy(milestone)

    def _apply_issue_changes(self, issue: Json, changes: Mapping[str, Any], actor: str) -> bool:
        """Apply PATCH-style ``changes``; returns whether anything changed (and bumps
        ``updated_at`` if so). Raises :class:`ApiError` for invalid values, before changing anything."""
        updates: Json = {}
        if "title" in changes and changes["title"] is not None:
            title = changes["title"]
            if not isinstance(title, str | int) or isinstance(title, bool) or not str(title).strip():
                raise _validation_failed("Issue", "title", "missing_field")
            updates["title"] = str(title)
        if "body" in changes:
            body = changes["body"]
            if body is not None and not isinstance(body, str):
                raise _invalid("Invalid request.\n\nFor 'properties/body', the value is not a string.")
            updates["body"] = body
        if "labels" in changes:
            updates["labels"] = self._labels_from(changes["labels"])
        if "assignees" in changes:
            updates["assignees"] = self._assignees_from(changes["assignees"] or [])
        elif "assignee" in changes:
            updates["assignees"] = [self._user(changes["assignee"])] if changes["assignee"] else []
        if "milestone" in changes:
            updates["milestone"] = self._milestone_from(changes["milestone"])
        state = changes.get("state")
        if state is not None and state not in {"open", "closed"}:
            raise _validation_failed("Issue", "state", "invalid", value=str(state))
        reason = changes.get("state_reason")
        if reason is not None and reason not in {"completed", "not_planned", "duplicate", "reopened"}:
            raise _validation_failed("Issue", "state_reason", "invalid", value=str(reason))
        now = self._stamp()
        if state == "closed":
            if issue["state"] != "closed":
                updates.update(state="closed", closed_at=now, closed_by=self._user(actor))
                updates["state_reason"] = reason if reason not in {None, "reopened"} else "completed"
            elif "state_reason" in changes and reason not in {None, "reopened"}:
                updates["state_reason"] = reason
        elif state == "open" and issue["state"] != "open":
            updates.update(state="open", closed_at=None, closed_by=None, state_reason="reopened")
        changed = False
        for key, value in updates.items():
            if key in {"labels", "assignees"}:
                before = sorted(entry.get("name") or entry.get("login") for entry in issue.get(key, []))
                after = sorted(entry.get("name") or entry.get("login") for entry in value)
                if before == after:
                    continue
            elif key == "milestone":
                before_number = issue["milestone"]["number"] if issue.get("milestone") else None
                if before_number == (value["number"] if value else None):
                    continue
            elif issue.get(key) == value:
                continue
            issue[key] = value
            changed = True
        if changed:
            issue["updated_at"] = now
        return changed

    def create_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, dict) else {}
        title = body.get("title")
        if title is None or (isinstance(title, str) and not title.strip()):
            raise _invalid('Invalid request.\n\n"title" wasn\'t supplied.', DOCS + "/issues/issues#create-an-issue")
        labels = self._labels_from(body["labels"]) if "labels" in body else []
        assignees = self._assignees_from(body.get("assignees") or [])
        if not assignees and body.get("assignee") and req.version < "2026-03-10":
            assignees = [self._user(body["assignee"])]
        milestone = self._milestone_from(body.get("milestone"))
        issue = self._new_issue(str(title), body.get("body"), labels=labels, assignees=assignees, milestone=milestone)
        return _Reply(201, self._render_issue(issue), {"location": issue["url"]})

    def _new_issue(
        self,
        title: str,
        body: str | None,
        *,
        author: str | None = None,
        labels: list[Json] | None = None,
        assignees: list[Json] | None = None,
        milestone: Json | None = None,
    ) -> Json:
        author = author or self.viewer
        number = max(self.issues, default=0) + 1
        issue_id = 3_000_000_000 + self.repo_id % 1_000_000 * 1000 + number
        url = f"{self._repo_api}/issues/{number}"
        now = self._stamp()
        issue: Json = {
            "url": url,
            "repository_url": self._repo_api,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self._repo_web}/issues/{number}",
            "id": issue_id,
            "node_id": "I_kwDO" + _b64(f"issue:{issue_id}"),
            "number": number,
            "title": title,
            "user": self._user(author),
            "labels": labels or [],
            "state": "open",
            "locked": False,
            "assignee": None,
            "assignees": assignees or [],
            "milestone": milestone,
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "author_association": self._association(author),
            "active_lock_reason": None,
            "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
            "parent_issue_url": None,
            "body": body,
            "closed_by": None,
            "reactions": self._reactions(url),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "state_reason": None,
        }
        self.issues[number] = issue
        return issue

    def get_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, self._render_issue(self._issue_for_api(params["number"])))

    def update_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self._issue_for_api(params["number"])
        changes = dict(req.body) if isinstance(req.body, dict) else {}
        if req.version >= "2026-03-10":
            changes.pop("assignee", None)
        self._apply_issue_changes(issue, changes, self.viewer)
        return _Reply(200, self._render_issue(issue))

    def list_issues(self, req: _Req, params: dict[str, str]) -> _Reply:
        q = req.query
        state = q.get("state", "open")
        if state not in {"open", "closed", "all"}:
            raise _validation_failed("Issue", "state", "invalid", value=state)
        items = [i for n, i in self.issues.items() if n not in self.deleted_issues]
        for issue in items:
            self._refresh_issue(issue)
        if state != "all":
            items = [i for i in items if i["state"] == state]
        if "since" in q:
            try:
                since = parse_time(q["since"])
            except ValueError:
                raise _validation_failed("Issue", "since", "invalid", value=q["since"]) from None
            items = [i for i in items if parse_time(i["updated_at"]) >= since]
        if q.get("labels"):
            wanted = [name.strip().lower() for name in q["labels"].split(",") if name.strip()]
            items = [i for i in items if set(wanted) <= {label["name"].lower() for label in i["labels"]}]
        if "milestone" in q:
            wanted_milestone = q["milestone"]
            if wanted_milestone == "none":
                items = [i for i in items if not i["milestone"]]
            elif wanted_milestone == "*":
                items = [i for i in items if i["milestone"]]
            else:
                items = [i for i in items if i["milestone"] and str(i["milestone"]["number"]) == wanted_milestone]
        if "assignee" in q:
            who = q["assignee"]
            if who == "none":
                items = [i for i in items if not i["assignees"]]
            elif who == "*":
                items = [i for i in items if i["assignees"]]
            else:
                items = [i for i in items if who.lower() in {a["login"].lower() for a in i["assignees"]}]
        if "creator" in q:
            items = [i for i in items if i["user"]["login"].lower() == q["creator"].lower()]
        sort = q.get("sort", "created")
        keys: dict[str, Callable[[Json], Any]] = {
            "created": lambda i: i["number"],
            "updated": lambda i: (i["updated_at"], i["number"]),
            "comments": lambda i: (i["comments"], i["number"]),
        }
        if sort not in keys:
            raise _validation_failed("Issue", "sort", "invalid", value=sort)
        items.sort(key=keys[sort], reverse=q.get("direction", "desc") != "asc")
        page, headers = self._paginate(req, items)
        return _Reply(200, [copy.deepcopy(i) for i in page], headers)

    # -- pagination ---------------------------------------------------------------------------

    @staticmethod
    def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
        try:
            return int(query.get(name, default))
        except ValueError:
            return default

    def _paginate(self, req: _Req, items: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
        per_page = min(100, max(1, self._int_param(req.query, "per_page", 30)))
        page = max(1, self._int_param(req.query, "page", 1))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = list(items[(page - 1) * per_page : page * per_page])
        links: list[str] = []

        def link(number: int, rel: str) -> str:
            return f'<{req.url.copy_set_param("page", str(number))}>; rel="{rel}"'

        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        return chunk, ({"link": ", ".join(links)} if links else {})

    # -- comments -----------------------------------------------------------------------------

    def _new_comment(self, issue: Json, text: str, author: str) -> Json:
        self._seq += 1
        comment_id = 2_000_000_000 + sum(len(c) for c in self.comments.values()) + 1
        now = self._stamp()
        url = f"{self._repo_api}/issues/comments/{comment_id}"
        comment = {
            "id": comment_id,
            "node_id": "IC_kwDO" + _b64(f"comment:{comment_id}"),
            "url": url,
            "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
            "body": text,
            "user": self._user(author),
            "created_at": now,
            "updated_at": now,
            "issue_url": issue["url"],
            "author_association": self._association(author),
            "performed_via_github_app": None,
            "reactions": self._reactions(url),
        }
        self.comments.setdefault(issue["number"], []).append(comment)
        issue["updated_at"] = now
        self._refresh_issue(issue)
        return copy.deepcopy(comment)

    def create_comment(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self._issue_for_api(params["number"])
        body = req.body if isinstance(req.body, dict) else {}
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise _invalid('Invalid request.\n\n"body" wasn\'t supplied.')
        comment = self._new_comment(issue, text, self.viewer)
        return _Reply(201, comment, {"location": comment["url"]})

    def list_comments(self, req: _Req, params: dict[str, str]) -> _Reply:
        issue = self._issue_for_api(params["number"])
        items = list(self.comments.get(issue["number"], []))
        if "since" in req.query:
            try:
                since = parse_time(req.query["since"])
            except ValueError:
                raise _validation_failed("IssueComment", "since", "invalid") from None
            items = [c for c in items if parse_time(c["updated_at"]) >= since]
        page, headers = self._paginate(req, items)
        return _Reply(200, copy.deepcopy(page), headers)

    # -- sub-issues ---------------------------------------------------------------------------

    def add_sub_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        parent = self._issue_for_api(params["number"])
        body = req.body if isinstance(req.body, dict) else {}
        child_id = body.get("sub_issue_id")
        if not isinstance(child_id, int) or isinstance(child_id, bool):
            raise _invalid("Invalid request.\n\nFor 'properties/sub_issue_id', the value is not an integer.")
        child = next((i for n, i in self.issues.items() if i["id"] == child_id and n not in self.deleted_issues), None)
        if child is None:
            raise _not_found()
        docs = DOCS + "/issues/sub-issues#add-sub-issue"

        def refuse(message: str) -> ApiError:
            return _validation_failed("Issue", "sub_issue_id", "custom", docs, message=message)

        if child["number"] == parent["number"]:
            raise refuse("An issue cannot be a sub-issue of itself")
        ancestor: int | None = parent["number"]
        while ancestor is not None:
            if ancestor == child["number"]:
                raise refuse("Adding this sub-issue would create a cycle")
            ancestor = self._parent_of(ancestor)
        current = self._parent_of(child["number"])
        if current == parent["number"]:
            raise refuse("Issue may not contain duplicate sub-issues")
        if current is not None and not body.get("replace_parent"):
            raise refuse("Sub issue may only have one parent")
        if len(self.sub_issues.get(parent["number"], [])) >= 100:
            raise refuse("Parent cannot have more than 100 sub-issues")
        if current is not None:
            self.sub_issues[current].remove(child["number"])
        self.sub_issues.setdefault(parent["number"], []).append(child["number"])
        now = self._stamp()
        parent["updated_at"] = child["updated_at"] = now
        self._refresh_issue(parent)
        return _Reply(201, self._render_issue(child), {"location": child["url"]})

    def remove_sub_issue(self, req: _Req, params: dict[str, str]) -> _Reply:
        parent = self._issue_for_api(params["number"])
        body = req.body if isinstance(req.body, dict) else {}
        child_id = body.get("sub_issue_id")
        kids = self.sub_issues.get(parent["number"], [])
        child = next((self.issues[n] for n in kids if self.issues[n]["id"] == child_id), None)
        if child is None:
            raise _not_found()
        kids.remove(child["number"])
        parent["updated_at"] = child["updated_at"] = self._stamp()
        return _Reply(200, self._render_issue(child))

    def list_sub_issues(self, req: _Req, params: dict[str, str]) -> _Reply:
        parent = self._issue_for_api(params["number"])
        kids = [self.issues[n] for n in self.sub_issues.get(parent["number"], []) if n not in self.deleted_issues]
        page, headers = self._paginate(req, kids)
        return _Reply(200, [self._render_issue(i) for i in page], headers)

    def get_parent(self, req: _Req, params: dict[str, str]) -> _Reply:
        child = self._issue_for_api(params["number"])
        parent = self._parent_of(child["number"])
        if parent is None:
            raise _not_found()
        return _Reply(200, self._render_issue(self.issues[parent]))

    # -- issue dependencies -------------------------------------------------------------------

    def add_blocked_by(self, req: _Req, params: dict[str, str]) -> _Reply:
        blocked = self._issue_for_api(params["number"])
        body = req.body if isinstance(req.body, dict) else {}
        blocking_id = body.get("issue_id")
        if not isinstance(blocking_id, int) or isinstance(blocking_id, bool):
            raise _invalid("Invalid request.\n\nFor 'properties/issue_id', the value is not an integer.")
        blocking = next(
            (i for n, i in self.issues.items() if i["id"] == blocking_id and n not in self.deleted_issues), None
        )
        if blocking is None:
            raise _not_found()
        docs = DOCS + "/issues/issue-dependencies#add-a-dependency-an-issue-is-blocked-by"

        def refuse(message: str) -> ApiError:
            return _validation_failed("IssueDependency", "issue_id", "custom", docs, message=message)

        blockers = self.blocked_by.setdefault(blocked["number"], [])
        if blocking["number"] == blocked["number"]:
            raise refuse("An issue cannot be blocked by itself")
        if blocking["number"] in blockers:
            raise refuse("Issue is already blocked by this issue")
        if len(blockers) >= 50:
            raise refuse("An issue cannot be blocked by more than 50 issues")
        blockers.append(blocking["number"])
        blocked["updated_at"] = blocking["updated_at"] = self._stamp()
        return _Reply(201, self._render_issue(blocking), {"location": blocking["url"]})

    def remove_blocked_by(self, req: _Req, params: dict[str, str]) -> _Reply:
        blocked = self._issue_for_api(params["number"])
        blockers = self.blocked_by.get(blocked["number"], [])
        blocking = next((self.issues[n] for n in blockers if self.issues[n]["id"] == int(params["issue_id"])), None)
        if blocking is None:
            raise _not_found()
        blockers.remove(blocking["number"])
        blocked["updated_at"] = blocking["updated_at"] = self._stamp()
        return _Reply(200, self._render_issue(blocking))

    def list_blocked_by(self, req: _Req, params: dict[str, str]) -> _Reply:
        blocked = self._issue_for_api(params["number"])
        numbers = [n for n in self.blocked_by.get(blocked["number"], []) if n not in self.deleted_issues]
        page, headers = self._paginate(req, [self.issues[n] for n in numbers])
        return _Reply(200, [self._render_issue(i) for i in page], headers)

    # -- labels -------------------------------------------------------------------------------

    def list_labels(self, req: _Req, params: dict[str, str]) -> _Reply:
        page, headers = self._paginate(req, list(self.labels.values()))
        return _Reply(200, copy.deepcopy(page), headers)

    def get_label(self, req: _Req, params: dict[str, str]) -> _Reply:
        label = self._label_named(params["name"])
        if label is None:
            raise _not_found()
        return _Reply(200, dict(label))

    def create_label(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, dict) else {}
        name = body.get("name")
        docs = DOCS + "/issues/labels#create-a-label"
        if not isinstance(name, str) or not name.strip():
            raise _invalid('Invalid request.\n\n"name" wasn\'t supplied.', docs)
        if self._label_named(name) is not None:
            raise _validation_failed("Label", "name", "already_exists", docs)
        color = str(body.get("color") or "ededed").lstrip("#").lower()
        if not re.fullmatch(r"[0-9a-f]{6}", color):
            raise _validation_failed("Label", "color", "invalid", docs)
        label = self._new_label(name, color, body.get("description"))
        return _Reply(201, dict(label), {"location": label["url"]})

    # -- milestones ---------------------------------------------------------------------------

    def _milestone_for_api(self, number: str) -> Json:
        milestone = self.milestones.get(int(number))
        if milestone is None:
            raise _not_found()
        return milestone

    @staticmethod
    def _due_on(value: Any) -> str | None:
        if value is None:
            return None
        try:
            return iso(parse_time(str(value)))
        except ValueError:
            raise _validation_failed("Milestone", "due_on", "invalid", value=str(value)) from None

    def create_milestone(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, dict) else {}
        docs = DOCS + "/issues/milestones#create-a-milestone"
        title = body.get("title")
        if not isinstance(title, str) or not title.strip():
            raise _invalid('Invalid request.\n\n"title" wasn\'t supplied.', docs)
        if any(m["title"] == title for m in self.milestones.values()):
            raise _validation_failed("Milestone", "title", "already_exists", docs)
        state = body.get("state", "open")
        if state not in {"open", "closed"}:
            raise _validation_failed("Milestone", "state", "invalid", docs)
        self._milestone_seq += 1
        number = self._milestone_seq
        milestone_id = 9_000_000 + self.repo_id % 1000 * 1000 + number
        now = self._stamp()
        url = f"{self._repo_api}/milestones/{number}"
        milestone: Json = {
            "url": url,
            "html_url": f"{self._repo_web}/milestone/{number}",
            "labels_url": f"{url}/labels",
            "id": milestone_id,
            "node_id": "MI_kwDO" + _b64(f"milestone:{milestone_id}"),
            "number": number,
            "state": state,
            "title": title,
            "description": body.get("description"),
            "creator": self._user(self.viewer),
            "open_issues": 0,
            "closed_issues": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": now if state == "closed" else None,
            "due_on": self._due_on(body.get("due_on")),
        }
        self.milestones[number] = milestone
        return _Reply(201, copy.deepcopy(milestone), {"location": url})

    def get_milestone(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, copy.deepcopy(self._refresh_milestone(self._milestone_for_api(params["number"]))))

    def update_milestone(self, req: _Req, params: dict[str, str]) -> _Reply:
        milestone = self._milestone_for_api(params["number"])
        body = req.body if isinstance(req.body, dict) else {}
        docs = DOCS + "/issues/milestones#update-a-milestone"
        updates: Json = {}
        if "title" in body:
            title = body["title"]
            if not isinstance(title, str) or not title.strip():
                raise _validation_failed("Milestone", "title", "missing_field", docs)
            if any(m["title"] == title and m is not milestone for m in self.milestones.values()):
                raise _validation_failed("Milestone", "title", "already_exists", docs)
            updates["title"] = title
        if "description" in body:
            updates["description"] = body["description"]
        if "due_on" in body:
            updates["due_on"] = self._due_on(body["due_on"])
        if "state" in body:
            if body["state"] not in {"open", "closed"}:
                raise _validation_failed("Milestone", "state", "invalid", docs)
            if body["state"] != milestone["state"]:
                updates["state"] = body["state"]
                updates["closed_at"] = self._stamp() if body["state"] == "closed" else None
        if any(milestone.get(k) != v for k, v in updates.items()):
            milestone.update(updates)
            milestone["updated_at"] = self._stamp()
        return _Reply(200, copy.deepcopy(self._refresh_milestone(milestone)))

    def delete_milestone(self, req: _Req, params: dict[str, str]) -> _Reply:
        milestone = self._milestone_for_api(params["number"])
        del self.milestones[milestone["number"]]
        for issue in self.issues.values():
            if issue.get("milestone") and issue["milestone"]["number"] == milestone["number"]:
                issue["milestone"] = None
        return _Reply(204)

    def list_milestones(self, req: _Req, params: dict[str, str]) -> _Reply:
        q = req.query
        state = q.get("state", "open")
        items = [self._refresh_milestone(m) for m in self.milestones.values()]
        if state != "all":
            items = [m for m in items if m["state"] == state]
        if q.get("sort", "due_on") == "completeness":

            def completeness(m: Json) -> tuple[float, int]:
                total = m["open_issues"] + m["closed_issues"]
                return (m["closed_issues"] / total if total else 0.0, m["number"])

            items.sort(key=completeness)
        else:
            items.sort(key=lambda m: (m["due_on"] is None, m["due_on"] or "", m["number"]))
        if q.get("direction", "asc") == "desc":
            items.reverse()
        page, headers = self._paginate(req, items)
        return _Reply(200, copy.deepcopy(page), headers)

    # -- releases and tags --------------------------------------------------------------------

    def _commit_sha(self, commitish: str) -> str:
        return commitish if re.fullmatch(r"[0-9a-f]{40}", commitish) else _sha(f"{self.repo_id}:{commitish}")

    def _tag_json(self, name: str) -> Json:
        sha = self.tags[name]
        return {
            "name": name,
            "commit": {"sha": sha, "url": f"{self._repo_api}/commits/{sha}"},
            "zipball_url": f"{self._repo_api}/zipball/refs/tags/{quote(name)}",
            "tarball_url": f"{self._repo_api}/tarball/refs/tags/{quote(name)}",
            "node_id": "REF_kwDO" + _b64(f"tag:{self.repo_id}:{name}"),
        }

    def _release_for_api(self, release_id: str) -> Json:
        release = self.releases.get(int(release_id))
        if release is None:
            raise _not_found()
        return release

    def create_release(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, dict) else {}
        docs = DOCS + "/releases/releases#create-a-release"
        tag = body.get("tag_name")
        if not isinstance(tag, str) or not tag.strip():
            raise _invalid('Invalid request.\n\n"tag_name" wasn\'t supplied.', docs)
        if any(r["tag_name"] == tag for r in self.releases.values()):
            raise _validation_failed("Release", "tag_name", "already_exists", docs)
        self._release_seq += 1
        release_id = 150_000_000 + self.repo_id % 1000 * 1000 + self._release_seq
        draft = bool(body.get("draft", False))
        commitish = str(body.get("target_commitish") or "main")
        now = self._stamp()
        url = f"{self._repo_api}/releases/{release_id}"
        notes = body.get("body")
        if body.get("generate_release_notes") and not notes:
            notes = f"**Full Changelog**: {self._repo_web}/commits/{tag}"
        release: Json = {
            "url": url,
            "html_url": f"{self._repo_web}/releases/tag/{quote(tag)}",
            "assets_url": f"{url}/assets",
            "upload_url": f"https://uploads.github.com/repos/{self.owner}/{self.repo}/releases/{release_id}"
            "/assets{?name,label}",
            "tarball_url": f"{self._repo_api}/tarball/{quote(tag)}",
            "zipball_url": f"{self._repo_api}/zipball/{quote(tag)}",
            "id": release_id,
            "node_id": "RE_kwDO" + _b64(f"release:{release_id}"),
            "tag_name": tag,
            "target_commitish": commitish,
            "name": body.get("name") or tag,
            "body": notes,
            "draft": draft,
            "prerelease": bool(body.get("prerelease", False)),
            "immutable": False,
            "created_at": now,
            "updated_at": now,
            "published_at": None if draft else now,
            "author": self._user(self.viewer),
            "assets": [],
        }
        self.releases[release_id] = release
        if not draft and tag not in self.tags:
            self.tags[tag] = self._commit_sha(commitish)
        return _Reply(201, copy.deepcopy(release), {"location": url})

    def get_release(self, req: _Req, params: dict[str, str]) -> _Reply:
        return _Reply(200, copy.deepcopy(self._release_for_api(params["id"])))

    def release_by_tag(self, req: _Req, params: dict[str, str]) -> _Reply:
        release = next((r for r in self.releases.values() if r["tag_name"] == params["tag"] and not r["draft"]), None)
        if release is None:
            raise _not_found()
        return _Reply(200, copy.deepcopy(release))

    def latest_release(self, req: _Req, params: dict[str, str]) -> _Reply:
        published = [r for r in self.releases.values() if not r["draft"] and not r["prerelease"]]
        if not published:
            raise _not_found()
        return _Reply(200, copy.deepcopy(max(published, key=lambda r: (r["published_at"], r["id"]))))

    def update_release(self, req: _Req, params: dict[str, str]) -> _Reply:
        release = self._release_for_api(params["id"])
        body = req.body if isinstance(req.body, dict) else {}
        docs = DOCS + "/releases/releases#update-a-release"
        if "tag_name" in body and body["tag_name"] != release["tag_name"]:
            if any(r["tag_name"] == body["tag_name"] for r in self.releases.values()):
                raise _validation_failed("Release", "tag_name", "already_exists", docs)
            release["tag_name"] = body["tag_name"]
            release["html_url"] = f"{self._repo_web}/releases/tag/{quote(body['tag_name'])}"
        for key in ("target_commitish", "name", "body", "prerelease"):
            if key in body:
                release[key] = body[key]
        if "draft" in body and bool(body["draft"]) != release["draft"]:
            release["draft"] = bool(body["draft"])
            release["published_at"] = None if release["draft"] else self._stamp()
        if not release["draft"] and release["tag_name"] not in self.tags:
            self.tags[release["tag_name"]] = self._commit_sha(release["target_commitish"])
        release["updated_at"] = self._stamp()
        return _Reply(200, copy.deepcopy(release))

    def delete_release(self, req: _Req, params: dict[str, str]) -> _Reply:
        release = self._release_for_api(params["id"])
        del self.releases[release["id"]]
        return _Reply(204)

    def list_releases(self, req: _Req, params: dict[str, str]) -> _Reply:
        items = sorted(self.releases.values(), key=lambda r: (r["created_at"], r["id"]), reverse=True)
        page, headers = self._paginate(req, items)
        return _Reply(200, copy.deepcopy(page), headers)

    def list_tags(self, req: _Req, params: dict[str, str]) -> _Reply:
        names = sorted(self.tags, reverse=True)
        page, headers = self._paginate(req, names)
        return _Reply(200, [self._tag_json(name) for name in page], headers)

    # -- search, rate limit, user -------------------------------------------------------------

    def _search_predicate(self, key: str, value: str) -> Callable[[Json], bool] | None:
        """The filter for one ``key:value`` search qualifier; ``None`` when it is not one the fake
        knows (it is then searched for as text, as GitHub does with unknown qualifiers)."""
        lowered = value.lower()
        if key in {"is", "type"} and lowered == "issue":
            return lambda issue: "pull_request" not in issue
        if key in {"is", "type"} and lowered in {"pr", "pull-request"}:
            return lambda issue: "pull_request" in issue
        if key in {"is", "state"} and lowered in {"open", "closed"}:
            return lambda issue: bool(issue["state"] == lowered)
        if key == "label":
            return lambda issue: lowered in {label["name"].lower() for label in issue["labels"]}
        if key == "author":
            return lambda issue: bool(issue["user"]["login"].lower() == lowered)
        if key == "assignee":
            return lambda issue: lowered in {a["login"].lower() for a in issue["assignees"]}
        if key == "milestone":
            return lambda issue: bool(issue["milestone"]) and issue["milestone"]["title"] == value
        if key == "no" and lowered in {"label", "milestone", "assignee"}:
            attribute = {"label": "labels", "milestone": "milestone", "assignee": "assignees"}[lowered]
            return lambda issue: not issue[attribute]
        return None

    def search_issues(self, req: _Req, params: dict[str, str]) -> _Reply:
        query = req.query.get("q")
        docs = "https://docs.github.com/rest/search/search#search-issues-and-pull-requests"
        if not query:
            raise _validation_failed("Search", "q", "missing", docs)
        terms: list[str] = []
        repo_ok = True
        filters: list[Callable[[Json], bool]] = []
        text_fields: tuple[str, ...] = ("title", "body")
        for token in re.findall(r'-?[\w.-]+:"[^"]*"|-?[\w.-]+:\S+|"[^"]*"|\S+', query):
            if token.startswith('"') or ":" not in token:
                terms.append(token.strip('"').lower())
                continue
            negate = token.startswith("-")
            key, _, value = token.lstrip("-").partition(":")
            key, value = key.lower(), value.strip('"')
            if key == "repo":
                repo_ok = repo_ok and value.lower() == f"{self.owner}/{self.repo}".lower()
                continue
            if key == "in":
                chosen = tuple(part for part in value.lower().split(",") if part in {"title", "body"})
                text_fields = chosen or text_fields
                continue
            predicate = self._search_predicate(key, value)
            if predicate is None:
                terms.append(token.lower())
            elif negate:
                filters.append(lambda issue, p=predicate: not p(issue))  # type: ignore[misc]
            else:
                filters.append(predicate)
        if not repo_ok:
            raise _validation_failed(
                "Search",
                "q",
                "invalid",
                docs,
                message="The listed users and repositories cannot be searched either because the resources do not "
                "exist or you do not have permission to view them.",
            )
        found: list[Json] = []
        for number, issue in self.issues.items():
            if number in self.deleted_issues:
                continue
            self._refresh_issue(issue)
            haystack = " ".join(str(issue.get(f) or "") for f in text_fields).lower()
            if all(term in haystack for term in terms) and all(f(issue) for f in filters):
                found.append(issue)
        sort = req.query.get("sort")
        descending = req.query.get("order", "desc") != "asc"
        if sort in {"created", "updated", "comments"}:
            key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
            found.sort(key=lambda i: (i[key], i["number"]), reverse=descending)
        else:
            found.sort(key=lambda i: i["number"], reverse=True)
        page, headers = self._paginate(req, found)
        items = []
        for issue in page:
            item = copy.deepcopy(issue)
            item.pop("parent_issue_url", None)
            if item.get("body") is None:
                item.pop("body", None)  # a search result's body is a string or absent, never null
            item["score"] = 1.0
            items.append(item)
        search_type = (
            req.query.get("search_type") if req.query.get("search_type") in {"semantic", "hybrid"} else "lexical"
        )
        result: Json = {
            "total_count": len(found),
            "incomplete_results": False,
            "items": items,
            "search_type": search_type,
        }
        if search_type != "lexical":
            result["lexical_fallback_reason"] = ["quoted_text"] if '"' in query else ["no_text_terms"]
            result["search_type"] = "lexical"
        return _Reply(200, result, headers)

    def rate_limit(self, req: _Req, params: dict[str, str]) -> _Reply:
        resources = {
            name: {"limit": b.limit, "remaining": b.remaining, "reset": b.reset, "used": b.used}
            for name, b in ((n, self._bucket(n)) for n in self.buckets)
        }
        return _Reply(200, {"resources": resources, "rate": dict(resources["core"])})

    def get_user(self, req: _Req, params: dict[str, str]) -> _Reply:
        user = self._user(self.viewer)
        created = "2020-01-01T00:00:00Z"
        user.update(
            user_view_type="private",
            name="Sync Bot",
            company=None,
            blog="",
            location=None,
            email=None,
            hireable=None,
            bio=None,
            twitter_username=None,
            public_repos=0,
            public_gists=0,
            followers=0,
            following=0,
            created_at=created,
            updated_at=created,
            private_gists=0,
            total_private_repos=0,
            owned_private_repos=0,
            disk_usage=0,
            collaborators=0,
            two_factor_authentication=True,
        )
        return _Reply(200, user, {"x-oauth-scopes": "repo, project"})

    # -- GraphQL ------------------------------------------------------------------------------

    def _graphql_summary(self, req: _Req) -> tuple[str | None, tuple[str, ...]]:
        body = req.body if isinstance(req.body, dict) else {}
        query = body.get("query")
        if not isinstance(query, str):
            return None, ()
        try:
            document = _parse_graphql(query)
            operation = _pick_operation(document, body.get("operationName"))
        except _GqlError:
            return "query", ()
        names = tuple(sel.name for sel in operation.selections if isinstance(sel, _GqlField))
        return operation.kind, names

    def graphql(self, req: _Req, params: dict[str, str]) -> _Reply:
        body = req.body if isinstance(req.body, dict) else None
        if body is None or not isinstance(body.get("query"), str):
            return _Reply(200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]})
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return _Reply(200, {"errors": [{"message": "Variables are invalid JSON."}]})
        try:
            document = _parse_graphql(body["query"])
            operation = _pick_operation(document, body.get("operationName"))
            resolved = _resolve_variables(operation, variables)
        except _GqlError as exc:
            return _Reply(200, {"errors": [{"message": exc.message}]})
        snapshot = copy.deepcopy((self.projects, self._project_numbers)) if operation.kind == "mutation" else None
        root = self._gql_mutation_root() if operation.kind == "mutation" else self._gql_query_root()
        run = _GqlRun(document, resolved, operation.kind)
        data = run.selections(root, operation.selections, [])
        if run.invalid:
            if snapshot is not None:
                self.projects, self._project_numbers = snapshot
            return _Reply(200, {"errors": run.invalid})
        result: Json = {"data": data}
        if run.errors:
            result["errors"] = run.errors
        return _Reply(200, result)

    def _gql_query_root(self) -> Json:
        return {
            "__typename": "Query",
            "repository": lambda a: self._gql_repository_named(_req_arg(a, "owner"), _req_arg(a, "name")),
            "organization": lambda a: self._gql_owner_named(_req_arg(a, "login"), "Organization"),
            "user": lambda a: self._gql_owner_named(_req_arg(a, "login"), "User"),
            "viewer": lambda a: self._gql_owner(self.viewer, "User"),
            "node": lambda a: self._gql_node(_req_arg(a, "id")),
            "nodes": lambda a: [self._gql_node(i, strict=False) for i in _req_arg(a, "ids")],
            "rateLimit": lambda a: self._gql_rate_limit(),
        }

    def _gql_mutation_root(self) -> Json:
        return {
            "__typename": "Mutation",
            "createProjectV2": lambda a: self._gql_create_project(_input(a)),
            "addProjectV2ItemById": lambda a: self._gql_add_item(_input(a)),
            "updateProjectV2ItemFieldValue": lambda a: self._gql_update_item_field(_input(a)),
            "clearProjectV2ItemFieldValue": lambda a: self._gql_clear_item_field(_input(a)),
            "deleteProjectV2Item": lambda a: self._gql_delete_item(_input(a)),
            "linkProjectV2ToRepository": lambda a: self._gql_link_repository(_input(a)),
        }

    def _gql_rate_limit(self) -> Json:
        bucket = self._bucket("graphql")
        reset = datetime.fromtimestamp(bucket.reset, UTC)
        return {
            "__typename": "RateLimit",
            "limit": bucket.limit,
            "cost": 1,
            "remaining": bucket.remaining,
            "used": bucket.used,
            "resetAt": iso(reset),
            "nodeCount": 0,
        }

    def _gql_repository(self) -> Json:
        return {
            "__typename": "Repository",
            "__implements": {"Node", "ProjectV2Recent", "RepositoryInfo"},
            "id": self.repo_node_id,
            "databaseId": self.repo_id,
            "name": self.repo,
            "nameWithOwner": f"{self.owner}/{self.repo}",
            "url": self._repo_web,
            "owner": lambda a: self._gql_owner(self.owner, self.owner_type),
            "issue": lambda a: self._gql_issue_number(_req_arg(a, "number")),
            "projectV2": lambda a: self._gql_project_numbered(
                [p for p in self.projects.values() if self.repo_node_id in p.repository_ids], _req_arg(a, "number")
            ),
            "projectsV2": lambda a: _connection(
                "ProjectV2",
                [self._gql_project(p) for p in self.projects.values() if self.repo_node_id in p.repository_ids],
                a,
            ),
        }

    def _gql_repository_named(self, owner: str, name: str) -> Json:
        if owner.lower() != self.owner.lower() or name.lower() != self.repo.lower():
            raise _GqlError(f"Could not resolve to a Repository with the name '{owner}/{name}'.", "NOT_FOUND")
        return self._gql_repository()

    def _gql_owner_named(self, login: str, kind: str) -> Json:
        known = {self.owner: self.owner_type, self.viewer: "User"}
        match = next((k for k in known if k.lower() == login.lower()), None)
        if match is None or known[match] != kind:
            article = "an" if kind == "Organization" else "a"
            raise _GqlError(f"Could not resolve to {article} {kind} with the login of '{login}'.", "NOT_FOUND")
        return self._gql_owner(match, kind)

    def _gql_owner(self, login: str, kind: str) -> Json:
        user = self._user(login, kind)
        owned = [p for p in self.projects.values() if p.owner_login == login]
        return {
            "__typename": kind,
            "__implements": {"Node", "ProjectV2Owner", "RepositoryOwner", "Actor", "ProjectV2Recent"},
            "id": user["node_id"],
            "databaseId": user["id"],
            "login": login,
            "name": login,
            "url": user["html_url"],
            "projectV2": lambda a: self._gql_project_numbered(owned, _req_arg(a, "number")),
            "projectsV2": lambda a: _connection("ProjectV2", [self._gql_project(p) for p in owned], a),
        }

    def _gql_project_numbered(self, candidates: Sequence[Project], number: Any) -> Json:
        for candidate in candidates:
            if candidate.number == number:
                return self._gql_project(candidate)
        raise _GqlError(f"Could not resolve to a ProjectV2 with the number {number}.", "NOT_FOUND")

    def _gql_issue(self, issue: Json) -> Json:
        number = issue["number"]
        self._refresh_issue(issue)
        reason = issue.get("state_reason")
        return {
            "__typename": "Issue",
            "__implements": {"Node", "Assignable", "Closable", "Comment", "Labelable", "ProjectV2Owner"},
            "id": issue["node_id"],
            "databaseId": issue["id"],
            "number": number,
            "title": issue["title"],
            "body": issue.get("body") or "",
            "url": issue["html_url"],
            "state": issue["state"].upper(),
            "stateReason": reason.upper() if reason else None,
            "closed": issue["state"] == "closed",
            "closedAt": issue["closed_at"],
            "createdAt": issue["created_at"],
            "updatedAt": issue["updated_at"],
            "repository": lambda a: self._gql_repository(),
            "projectItems": lambda a: _connection(
                "ProjectV2Item",
                [
                    self._gql_item(p, item)
                    for p in self.projects.values()
                    for item in p.items.values()
                    if item.issue_number == number
                ],
                a,
            ),
        }

    def _gql_issue_number(self, number: Any) -> Json:
        issue = self.issues.get(number) if isinstance(number, int) else None
        if issue is None or number in self.deleted_issues:
            raise _GqlError(f"Could not resolve to an issue or pull request with the number of {number}.", "NOT_FOUND")
        return self._gql_issue(issue)

    def _gql_project(self, project: Project) -> Json:
        return {
            "__typename": "ProjectV2",
            "__implements": {"Node", "Closable", "Updatable"},
            "id": project.id,
            "databaseId": project.database_id,
            "number": project.number,
            "title": project.title,
            "url": project.url,
            "closed": project.closed,
            "public": False,
            "shortDescription": None,
            "readme": None,
            "createdAt": project.created_at,
            "updatedAt": project.updated_at,
            "owner": lambda a: self._gql_owner(
                project.owner_login, self.owner_type if project.owner_login == self.owner else "User"
            ),
            "fields": lambda a: _connection(
                "ProjectV2FieldConfiguration", [self._gql_field(project, f) for f in project.fields], a
            ),
            "field": lambda a: self._gql_field_named(project, _req_arg(a, "name")),
            "items": lambda a: _connection(
                "ProjectV2Item", [self._gql_item(project, i) for i in project.items.values()], a
            ),
            "repositories": lambda a: _connection(
                "Repository", [self._gql_repository() for r in project.repository_ids if r == self.repo_node_id], a
            ),
        }

    def _gql_field_named(self, project: Project, name: str) -> Json | None:
        try:
            return self._gql_field(project, project.field_named(name))
        except KeyError:
            return None

    def _gql_field(self, project: Project, project_field: ProjectField) -> Json:
        node: Json = {
            "__typename": "ProjectV2SingleSelectField"
            if project_field.data_type == "SINGLE_SELECT"
            else "ProjectV2Field",
            "__implements": {"Node", "ProjectV2FieldCommon"},
            "id": project_field.id,
            "name": project_field.name,
            "dataType": project_field.data_type,
            "createdAt": project.created_at,
            "updatedAt": project.updated_at,
            "project": lambda a: self._gql_project(project),
        }
        if project_field.data_type == "SINGLE_SELECT":

            def options(args: Mapping[str, Any]) -> list[Json]:
                names = args.get("names")
                return [
                    {
                        "__typename": "ProjectV2SingleSelectFieldOption",
                        "id": option_id,
                        "name": name,
                        "nameHTML": name,
                        "color": project_field.colors.get(option_id, "GRAY"),
                        "description": "",
                        "descriptionHTML": "",
                    }
                    for option_id, name in project_field.options.items()
                    if names is None or name in names
                ]

            node["options"] = options
        return node

    def _gql_item(self, project: Project, item: ProjectItem) -> Json:
        def value_node(project_field: ProjectField) -> Json | None:
            field_node = self._gql_field(project, project_field)
            if project_field.data_type == "TITLE":
                issue = self.issues.get(item.issue_number)
                title = issue["title"] if issue else ""
                return {"__typename": "ProjectV2ItemFieldTextValue", "text": title, "field": field_node}
            value = item.values.get(project_field.id)
            if value is None:
                return None
            if project_field.data_type == "SINGLE_SELECT":
                name = project_field.options.get(value)
                return {
                    "__typename": "ProjectV2ItemFieldSingleSelectValue",
                    "name": name,
                    "nameHTML": name,
                    "optionId": value,
                    "color": project_field.colors.get(value, "GRAY"),
                    "field": field_node,
                }
            kind = {"TEXT": ("Text", "text"), "NUMBER": ("Number", "number"), "DATE": ("Date", "date")}
            type_name, attribute = kind.get(project_field.data_type, ("Text", "text"))
            return {"__typename": f"ProjectV2ItemField{type_name}Value", attribute: value, "field": field_node}

        def by_name(args: Mapping[str, Any]) -> Json | None:
            try:
                return value_node(project.field_named(_req_arg(args, "name")))
            except KeyError:
                return None

        def all_values(args: Mapping[str, Any]) -> Json:
            nodes = [v for f in project.fields if (v := value_node(f)) is not None]
            return _connection("ProjectV2ItemFieldValue", nodes, args)

        return {
            "__typename": "ProjectV2Item",
            "__implements": {"Node"},
            "id": item.id,
            "databaseId": item.database_id,
            "type": "ISSUE",
            "isArchived": False,
            "createdAt": item.created_at,
            "updatedAt": item.updated_at,
            "content": lambda a: self._gql_issue(self.issues[item.issue_number]),
            "project": lambda a: self._gql_project(project),
            "fieldValueByName": by_name,
            "fieldValues": all_values,
        }

    def _gql_node(self, node_id: Any, *, strict: bool = True) -> Json | None:
        if node_id == self.repo_node_id:
            return self._gql_repository()
        for login, kind in ((self.owner, self.owner_type), (self.viewer, "User")):
            if self._user(login, kind)["node_id"] == node_id:
                return self._gql_owner(login, kind)
        for number, issue in self.issues.items():
            if issue["node_id"] == node_id and number not in self.deleted_issues:
                return self._gql_issue(issue)
        for project in self.projects.values():
            if project.id == node_id:
                return self._gql_project(project)
            for project_field in project.fields:
                if project_field.id == node_id:
                    return self._gql_field(project, project_field)
            if node_id in project.items:
                return self._gql_item(project, project.items[node_id])
        if strict:
            raise _GqlError(f"Could not resolve to a node with the global id of '{node_id}'", "NOT_FOUND")
        return None

    def _project_by_id(self, project_id: Any) -> Project:
        project = self.projects.get(project_id) if isinstance(project_id, str) else None
        if project is None:
            raise _GqlError(f"Could not resolve to a node with the global id of '{project_id}'", "NOT_FOUND")
        return project

    def _gql_create_project(self, data: Mapping[str, Any]) -> Json:
        owner_id = _req_arg(data, "ownerId")
        title = _req_arg(data, "title")
        owners = {
            self._user(login, kind)["node_id"]: (login, kind)
            for login, kind in ((self.owner, self.owner_type), (self.viewer, "User"))
        }
        if owner_id not in owners:
            raise _GqlError(f"Could not resolve to a node with the global id of '{owner_id}'", "NOT_FOUND")
        repository_id = data.get("repositoryId")
        if repository_id is not None and repository_id != self.repo_node_id:
            raise _GqlError(f"Could not resolve to a node with the global id of '{repository_id}'", "NOT_FOUND")
        if not isinstance(title, str) or not title.strip():
            raise _GqlError("Title can't be blank", "UNPROCESSABLE")
        login, kind = owners[owner_id]
        number = self._project_numbers.get(login, 0) + 1
        self._project_numbers[login] = number
        database_id = 20_000_000 + len(self.projects) + 1
        project_id = "PVT_kwDO" + _b64(f"project:{database_id}")
        fields: list[ProjectField] = []
        for index, (name, data_type) in enumerate(_PROJECT_FIELDS, start=1):
            prefix = "PVTSSF_lADO" if data_type == "SINGLE_SELECT" else "PVTF_lADO"
            project_field = ProjectField(prefix + _b64(f"field:{database_id}:{index}"), name, data_type)
            if data_type == "SINGLE_SELECT":
                for option_name, color in STATUS_OPTIONS:
                    option_id = _sha(f"{database_id}:{name}:{option_name}")[:8]
                    project_field.options[option_id] = option_name
                    project_field.colors[option_id] = color
            fields.append(project_field)
        scope = "orgs" if kind == "Organization" else "users"
        now = self._stamp()
        project = Project(
            id=project_id,
            number=number,
            title=title,
            owner_login=login,
            owner_id=owner_id,
            url=f"{self.web_url}/{scope}/{login}/projects/{number}",
            database_id=database_id,
            created_at=now,
            updated_at=now,
            fields=fields,
            repository_ids=[repository_id] if repository_id else [],
        )
        self.projects[project_id] = project
        return _payload("CreateProjectV2Payload", data, projectV2=self._gql_project(project))

    def _gql_add_item(self, data: Mapping[str, Any]) -> Json:
        project = self._project_by_id(_req_arg(data, "projectId"))
        content_id = _req_arg(data, "contentId")
        issue = next(
            (i for n, i in self.issues.items() if i["node_id"] == content_id and n not in self.deleted_issues), None
        )
        if issue is None:
            raise _GqlError(f"Could not resolve to a node with the global id of '{content_id}'", "NOT_FOUND")
        item = project.item_for(issue["number"])
        if item is None:
            database_id = 90_000_000 + sum(len(p.items) for p in self.projects.values()) + 1
            now = self._stamp()
            item = ProjectItem(
                id="PVTI_lADO" + _b64(f"item:{database_id}"),
                project_id=project.id,
                content_id=content_id,
                issue_number=issue["number"],
                database_id=database_id,
                created_at=now,
                updated_at=now,
            )
            project.items[item.id] = item
            project.updated_at = now
        return _payload("AddProjectV2ItemByIdPayload", data, item=self._gql_item(project, item))

    def _item_and_field(self, data: Mapping[str, Any]) -> tuple[Project, ProjectItem, ProjectField]:
        project = self._project_by_id(_req_arg(data, "projectId"))
        item_id = _req_arg(data, "itemId")
        item = project.items.get(item_id) if isinstance(item_id, str) else None
        if item is None:
            raise _GqlError(f"Could not resolve to a node with the global id of '{item_id}'", "NOT_FOUND")
        field_id = _req_arg(data, "fieldId")
        project_field = next((f for f in project.fields if f.id == field_id), None)
        if project_field is None:
            raise _GqlError(f"Could not resolve to a node with the global id of '{field_id}'", "NOT_FOUND")
        return project, item, project_field

    def _gql_update_item_field(self, data: Mapping[str, Any]) -> Json:
        project, item, project_field = self._item_and_field(data)
        value = _req_arg(data, "value")
        if not isinstance(value, dict) or len([v for v in value.values() if v is not None]) != 1:
            raise _GqlError("Exactly one value type must be provided.", "UNPROCESSABLE")
        expected = _SETTABLE.get(project_field.data_type)
        if expected is None or value.get(expected) is None:
            raise _GqlError(
                f"The field '{project_field.name}' ({project_field.data_type}) cannot be updated with "
                f"{', '.join(k for k in value if value[k] is not None)}.",
                "UNPROCESSABLE",
            )
        new_value = value[expected]
        if project_field.data_type == "SINGLE_SELECT" and new_value not in project_field.options:
            raise _GqlError("The single select option Id does not belong to the field", "UNPROCESSABLE")
        item.values[project_field.id] = new_value
        if project_field.name == "Status":
            item.status = project_field.options[new_value]
        item.updated_at = project.updated_at = self._stamp()
        return _payload("UpdateProjectV2ItemFieldValuePayload", data, projectV2Item=self._gql_item(project, item))

    def _gql_clear_item_field(self, data: Mapping[str, Any]) -> Json:
        project, item, project_field = self._item_and_field(data)
        item.values.pop(project_field.id, None)
        if project_field.name == "Status":
            item.status = None
        item.updated_at = project.updated_at = self._stamp()
        return _payload("ClearProjectV2ItemFieldValuePayload", data, projectV2Item=self._gql_item(project, item))

    def _gql_delete_item(self, data: Mapping[str, Any]) -> Json:
        project = self._project_by_id(_req_arg(data, "projectId"))
        item_id = _req_arg(data, "itemId")
        if item_id not in project.items:
            raise _GqlError(f"Could not resolve to a node with the global id of '{item_id}'", "NOT_FOUND")
        del project.items[item_id]
        return _payload("DeleteProjectV2ItemPayload", data, deletedItemId=item_id)

    def _gql_link_repository(self, data: Mapping[str, Any]) -> Json:
        project = self._project_by_id(_req_arg(data, "projectId"))
        repository_id = _req_arg(data, "repositoryId")
        if repository_id != self.repo_node_id:
            raise _GqlError(f"Could not resolve to a node with the global id of '{repository_id}'", "NOT_FOUND")
        if repository_id not in project.repository_ids:
            project.repository_ids.append(repository_id)
        return _payload("LinkProjectV2ToRepositoryPayload", data, repository=self._gql_repository())


_RATE_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in header.split(","))


# -- a small GraphQL executor --------------------------------------------------------------------


@dataclass
class _GqlVar:
    name: str


@dataclass
class _GqlEnum:
    name: str


@dataclass
class _GqlField:
    alias: str | None
    name: str
    args: dict[str, Any]
    directives: list[tuple[str, dict[str, Any]]]
    selections: list[Any] | None
    line: int
    column: int


@dataclass
class _GqlInline:
    type_condition: str | None
    directives: list[tuple[str, dict[str, Any]]]
    selections: list[Any]


@dataclass
class _GqlSpread:
    name: str
    directives: list[tuple[str, dict[str, Any]]]


@dataclass
class _GqlOperation:
    kind: str
    name: str | None
    variables: dict[str, tuple[str, Any]]
    selections: list[Any]


@dataclass
class _GqlDocument:
    operations: list[_GqlOperation]
    fragments: dict[str, tuple[str, list[Any]]]


_TOKEN = re.compile(
    r'(?P<skip>[\s,\ufeff]+|#[^\n\r]*)|(?P<block>"""(?:\\"""|[^"]|"(?!""))*""")|(?P<string>"(?:\\.|[^"\\\n])*")'
    r"|(?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<spread>\.\.\.)|(?P<punct>[!$&():=@\[\]{|}])"
)


def _tokenize(source: str) -> list[tuple[str, str, int, int]]:
    tokens: list[tuple[str, str, int, int]] = []
    pos = 0
    line, line_start = 1, 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise _GqlError(f"Parse error on {source[pos]!r} ({line}:{pos - line_start + 1})")
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "skip":
            tokens.append((kind, text, line, pos - line_start + 1))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + text.rfind("\n") + 1
        pos = match.end()
    tokens.append(("eof", "", line, pos - line_start + 1))
    return tokens


class _GqlParser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        token_kind, text, _, _ = self.tokens[self.pos]
        return (value is None or text == value) and (kind is None or token_kind == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str, int, int]:
        token = self.tokens[self.pos]
        if not self.peek(value, kind):
            shown = token[1] or "end of document"
            raise _GqlError(f'Parse error on "{shown}" ({token[2]}:{token[3]})')
        self.pos += 1
        return token

    def document(self) -> _GqlDocument:
        operations: list[_GqlOperation] = []
        fragments: dict[str, tuple[str, list[Any]]] = {}
        while not self.peek(kind="eof"):
            if self.peek("{"):
                operations.append(_GqlOperation("query", None, {}, self.selection_set()))
            elif self.peek("fragment"):
                self.take()
                name = self.take(kind="name")[1]
                self.take("on")
                type_name = self.take(kind="name")[1]
                self.directives()
                fragments[name] = (type_name, self.selection_set())
            elif self.peek("query") or self.peek("mutation") or self.peek("subscription"):
                kind = self.take()[1]
                op_name = self.take(kind="name")[1] if self.peek(kind="name") else None
                variables = self.variable_definitions() if self.peek("(") else {}
                self.directives()
                operations.append(_GqlOperation(kind, op_name, variables, self.selection_set()))
            else:
                self.take("{")
        if not operations:
            raise _GqlError("No operations in the document")
        return _GqlDocument(operations, fragments)

    def variable_definitions(self) -> dict[str, tuple[str, Any]]:
        result: dict[str, tuple[str, Any]] = {}
        self.take("(")
        while not self.peek(")"):
            self.take("$")
            name = self.take(kind="name")[1]
            self.take(":")
            type_text = self.type_reference()
            default = self.value(const=True) if self.peek("=") and self.take("=") else None
            result[name] = (type_text, default)
        self.take(")")
        return result

    def type_reference(self) -> str:
        if self.peek("["):
            self.take("[")
            inner = self.type_reference()
            self.take("]")
            text = f"[{inner}]"
        else:
            text = self.take(kind="name")[1]
        if self.peek("!"):
            self.take("!")
            text += "!"
        return text

    def directives(self) -> list[tuple[str, dict[str, Any]]]:
        found: list[tuple[str, dict[str, Any]]] = []
        while self.peek("@"):
            self.take("@")
            name = self.take(kind="name")[1]
            found.append((name, self.arguments() if self.peek("(") else {}))
        return found

    def selection_set(self) -> list[Any]:
        self.take("{")
        selections: list[Any] = []
        while not self.peek("}"):
            if self.peek(kind="spread"):
                self.take()
                if self.peek("on"):
                    self.take()
                    type_name = self.take(kind="name")[1]
                    directives = self.directives()
                    selections.append(_GqlInline(type_name, directives, self.selection_set()))
                elif self.peek("{") or self.peek("@"):
                    directives = self.directives()
                    selections.append(_GqlInline(None, directives, self.selection_set()))
                else:
                    name = self.take(kind="name")[1]
                    selections.append(_GqlSpread(name, self.directives()))
                continue
            _, first, line, column = self.take(kind="name")
            alias, name = None, first
            if self.peek(":"):
                self.take(":")
                alias, name = first, self.take(kind="name")[1]
            args = self.arguments() if self.peek("(") else {}
            directives = self.directives()
            sub = self.selection_set() if self.peek("{") else None
            selections.append(_GqlField(alias, name, args, directives, sub, line, column))
        self.take("}")
        if not selections:
            raise _GqlError("Parse error: empty selection set")
        return selections

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        args: dict[str, Any] = {}
        while not self.peek(")"):
            name = self.take(kind="name")[1]
            self.take(":")
            args[name] = self.value()
        self.take(")")
        return args

    def value(self, const: bool = False) -> Any:
        kind, text, _, _ = self.tokens[self.pos]
        if text == "$" and not const:
            self.take("$")
            return _GqlVar(self.take(kind="name")[1])
        if kind == "number":
            self.take()
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "string":
            self.take()
            return json.loads(text)
        if kind == "block":
            self.take()
            return text[3:-3].replace('\\"""', '"""').strip()
        if text == "[":
            self.take("[")
            items = []
            while not self.peek("]"):
                items.append(self.value(const))
            self.take("]")
            return items
        if text == "{":
            self.take("{")
            obj: dict[str, Any] = {}
            while not self.peek("}"):
                key = self.take(kind="name")[1]
                self.take(":")
                obj[key] = self.value(const)
            self.take("}")
            return obj
        if kind == "name":
            self.take()
            return {"true": True, "false": False, "null": None}.get(text, _GqlEnum(text))
        self.take("a value")
        return None


def _parse_graphql(source: str) -> _GqlDocument:
    return _GqlParser(source).document()


def _pick_operation(document: _GqlDocument, name: Any) -> _GqlOperation:
    if name:
        for operation in document.operations:
            if operation.name == name:
                return operation
        raise _GqlError(f'No operation named "{name}"')
    if len(document.operations) > 1:
        raise _GqlError("An operation name is required")
    return document.operations[0]


def _resolve_variables(operation: _GqlOperation, given: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (type_text, default) in operation.variables.items():
        if name in given:
            values[name] = given[name]
        elif default is not None:
            values[name] = _plain(default, {})
        elif type_text.endswith("!"):
            raise _GqlError(f"Variable ${name} of type {type_text} was provided invalid value")
        else:
            values[name] = None
    return values


def _plain(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, _GqlVar):
        if value.name not in variables:
            raise _GqlError(f"Variable ${value.name} is used but not declared")
        return variables[value.name]
    if isinstance(value, _GqlEnum):
        return value.name
    if isinstance(value, list):
        return [_plain(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, variables) for k, v in value.items()}
    return value


def _req_arg(args: Mapping[str, Any], name: str) -> Any:
    if name not in args or args[name] is None:
        raise _GqlError(f"Argument '{name}' is required", "MISSING_ARGUMENT")
    return args[name]


def _input(args: Mapping[str, Any]) -> Mapping[str, Any]:
    data = _req_arg(args, "input")
    if not isinstance(data, dict):
        raise _GqlError("Argument 'input' must be an input object")
    return data


def _payload(type_name: str, data: Mapping[str, Any], **fields: Any) -> Json:
    return {"__typename": type_name, "clientMutationId": data.get("clientMutationId"), **fields}


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _connection(type_name: str, nodes: Sequence[Any], args: Mapping[str, Any]) -> Json:
    """A GraphQL connection over ``nodes`` honouring ``first`` / ``last`` / ``after`` / ``before``
    (GitHub requires ``first`` or ``last``, at most 100)."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise _GqlError(
            f"You must provide a `first` or `last` value to properly paginate the `{type_name}` connection.",
            "MISSING_PAGINATION_BOUNDARIES",
        )
    for name, amount in (("first", first), ("last", last)):
        if amount is not None and not 0 <= amount <= 100:
            raise _GqlError(
                f"Requesting {amount} records on the connection exceeds the `{name}` limit of 100 records.",
                "EXCESSIVE_PAGINATION",
            )
    indexed = list(enumerate(nodes))

    def position(cursor: Any) -> int:
        try:
            return int(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
        except (ValueError, IndexError):
            raise _GqlError(f"`{cursor}` does not appear to be a valid cursor.") from None

    if args.get("after") is not None:
        after = position(args["after"])
        indexed = [(i, n) for i, n in indexed if i > after]
    if args.get("before") is not None:
        before = position(args["before"])
        indexed = [(i, n) for i, n in indexed if i < before]
    window = indexed
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    page_info = {
        "__typename": "PageInfo",
        "hasNextPage": bool(window) and window[-1][0] < (indexed[-1][0] if indexed else -1),
        "hasPreviousPage": bool(window) and window[0][0] > (indexed[0][0] if indexed else 0),
        "startCursor": _cursor(window[0][0]) if window else None,
        "endCursor": _cursor(window[-1][0]) if window else None,
    }
    return {
        "__typename": f"{type_name}Connection",
        "nodes": [n for _, n in window],
        "edges": [{"__typename": f"{type_name}Edge", "node": n, "cursor": _cursor(i)} for i, n in window],
        "totalCount": len(nodes),
        "pageInfo": page_info,
    }


class _GqlRun:
    """Executes one operation's selection sets against the fake's object graph. Objects are
    dicts with ``__typename`` (and ``__implements``); a field is a value or a callable taking the
    field's arguments. ``invalid`` collects validation errors (the answer is then only errors),
    ``errors`` execution errors (the field becomes null)."""

    def __init__(self, document: _GqlDocument, variables: Mapping[str, Any], kind: str) -> None:
        self.document = document
        self.variables = variables
        self.kind = kind
        self.errors: list[Json] = []
        self.invalid: list[Json] = []

    def _included(self, directives: Sequence[tuple[str, dict[str, Any]]]) -> bool:
        for name, args in directives:
            condition = bool(_plain(args.get("if"), self.variables))
            if (name == "include" and not condition) or (name == "skip" and condition):
                return False
        return True

    @staticmethod
    def _matches(obj: Mapping[str, Any], type_condition: str | None) -> bool:
        return (
            type_condition is None
            or type_condition == obj["__typename"]
            or type_condition in obj.get("__implements", ())
        )

    def _collect(self, obj: Mapping[str, Any], selections: Sequence[Any]) -> Iterator[_GqlField]:
        for selection in selections:
            if isinstance(selection, _GqlField):
                if self._included(selection.directives):
                    yield selection
            elif isinstance(selection, _GqlInline):
                if self._included(selection.directives) and self._matches(obj, selection.type_condition):
                    yield from self._collect(obj, selection.selections)
            elif isinstance(selection, _GqlSpread):
                fragment = self.document.fragments.get(selection.name)
                if fragment is None:
                    self.invalid.append({"message": f"Fragment {selection.name} was used, but not defined"})
                    continue
                type_condition, inner = fragment
                if self._included(selection.directives) and self._matches(obj, type_condition):
                    yield from self._collect(obj, inner)

    def selections(self, obj: Mapping[str, Any], selections: Sequence[Any], path: list[Any]) -> Json:
        out: Json = {}
        for selection in self._collect(obj, selections):
            key = selection.alias or selection.name
            value = self.field(obj, selection, [*path, key])
            if isinstance(out.get(key), dict) and isinstance(value, dict):
                out[key] = _merge(out[key], value)
            else:
                out[key] = value
        return out

    def field(self, obj: Mapping[str, Any], selection: _GqlField, path: list[Any]) -> Any:
        if selection.name == "__typename":
            return obj["__typename"]
        location = [{"line": selection.line, "column": selection.column}]
        if selection.name.startswith("__") or selection.name not in obj:
            type_name = obj["__typename"]
            self.invalid.append(
                {
                    "path": [self.kind, *[p for p in path if isinstance(p, str)]],
                    "extensions": {"code": "undefinedField", "typeName": type_name, "fieldName": selection.name},
                    "locations": location,
                    "message": f"Field '{selection.name}' doesn't exist on type '{type_name}'",
                }
            )
            return None
        raw = obj[selection.name]
        if callable(raw):
            try:
                args = {name: _plain(value, self.variables) for name, value in selection.args.items()}
                raw = raw(args)
            except _GqlError as exc:
                error: Json = {"path": path, "locations": location, "message": exc.message}
                if exc.kind:
                    error = {"type": exc.kind, **error}
                self.errors.append(error)
                return None
        return self.complete(raw, selection, path)

    def complete(self, raw: Any, selection: _GqlField, path: list[Any]) -> Any:
        if raw is None:
            return None
        if isinstance(raw, list):
            return [self.complete(item, selection, [*path, index]) for index, item in enumerate(raw)]
        if isinstance(raw, dict) and "__typename" in raw:
            if selection.selections is None:
                self.invalid.append(
                    {
                        "message": f"Field must have selections (field '{selection.name}' returns "
                        f"{raw['__typename']} but has no selections. Did you mean '{selection.name} {{ ... }}'?)"
                    }
                )
                return None
            return self.selections(raw, selection.selections, path)
        if selection.selections is not None:
            self.invalid.append(
                {"message": f"Selections can't be made on scalars (field '{selection.name}' returns a scalar)"}
            )
            return None
        return raw


def _merge(left: Json, right: Json) -> Json:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
