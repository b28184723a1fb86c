"""The GitHub adapter: one repository's issues, milestones and Projects v2 boards.

It implements :class:`~taskorch.platforms.base.Platform` over GitHub's REST API (issues,
comments, sub-issues, milestones) and its GraphQL API (Projects v2), through an injected
:class:`githubkit.GitHub` client. It sends raw requests (``client.request``) rather than the
generated endpoint methods, because the sync engine needs the response headers (``ETag``,
``Link``, ``x-ratelimit-*``) and GitHub's JSON as it is.

What it must never do:

* retry, sleep or back off: every failure becomes one :class:`~taskorch.errors.PlatformError`
  subclass (see :func:`map_github_error`) and the engine decides what to do;
* let the token out: it lives only inside the githubkit client, and no message, ``repr`` or
  exception chain built here carries a header or the token.

GitHub documentation followed:

* issues: https://docs.github.com/en/rest/issues/issues
* comments: https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
* sub-issues: https://docs.github.com/en/rest/issues/sub-issues#add-sub-issue
* issue dependencies: https://docs.github.com/en/rest/issues/issue-dependencies
* milestones: https://docs.github.com/en/rest/issues/milestones
* pagination: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
* conditional requests: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api
* rate limits: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
* errors: https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
* Projects v2: https://docs.github.com/en/issues/planning-and-tracking-with-projects/automating-your-project/using-the-api-to-manage-projects
* GraphQL limits: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
from githubkit import GitHub
from githubkit.exception import GitHubException, GraphQLFailed, RequestError, RequestFailed, RequestTimeout
from githubkit.response import Response

from taskorch.errors import (
    AuthenticationFailed,
    InvalidInput,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
)
from taskorch.platforms.base import (
    BoardRef,
    Capabilities,
    IssueChanges,
    IssueListing,
    RateBudget,
    RemoteIssue,
    RemoteMilestone,
    RemoteRelease,
    RepositoryRef,
    Unset,
    answered,
    answered_items,
    labels_tuple,
    parse_repository,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_WAIT_SECONDS",
    "GitHubPlatform",
    "GraphQLErrors",
    "issue_body",
    "issue_from_json",
    "map_github_error",
    "milestone_from_json",
    "owner_and_name",
]

DEFAULT_WAIT_SECONDS = 60.0
"""How long to wait on a rate limit that names no time (GitHub: "wait at least one minute")."""

API_VERSION = "2022-11-28"
"""The REST API version every request asks for (header ``X-GitHub-Api-Version``)."""

_MESSAGE_LIMIT = 300
_MAX_PAGES = 10_000


class GraphQLErrors(GitHubException):
    """A GraphQL answer (HTTP 200) that carries an ``errors`` list.

    ``errors`` holds GitHub's error objects as they came: ``{"type": "NOT_FOUND", "message": ...,
    "path": [...]}``; ``data`` the partial data (or ``None``); ``headers`` the response headers
    (kept only to read the rate-limit headers; never shown).
    """

    def __init__(self, errors: list[dict[str, Any]], data: dict[str, Any] | None, headers: httpx.Headers) -> None:
        self.errors = errors
        self.data = data
        self.headers = headers
        super().__init__("GraphQL answered with errors")

    def types(self) -> set[str]:
        return {str(error.get("type")) for error in self.errors if error.get("type")}


def owner_and_name(ref: RepositoryRef) -> tuple[str, str]:
    """A GitHub repository path is ``owner/name``: two segments. Raises
    :class:`~taskorch.errors.InvalidInput` for a longer path (GitLab's nested groups)."""
    if len(ref.segments) != 2:
        raise InvalidInput(
            "repository", f"{ref.path!r} is not owner/name.", "pass e.g. 'octo-org/shop' or its https URL."
        )
    return ref.segments[0], ref.segments[1]


# ---------------------------------------------------------------------------------------------
# Error mapping
# ---------------------------------------------------------------------------------------------


def map_github_error(method: str, path: str, error: BaseException, *, now: datetime | None = None) -> PlatformError:
    """Turn a failed GitHub call into the one :class:`PlatformError` the engine understands.

    ``method`` and ``path`` name the call in the message (``"POST"``, ``"/repos/o/r/issues"``);
    ``now`` is the clock used for ``x-ratelimit-reset`` (default: the current time). The rules,
    from "Rate limits for the REST API" and "Troubleshooting the REST API":

    * 429 -> :class:`RateLimited`;
    * 403 with ``x-ratelimit-remaining: 0`` (primary limit) -> :class:`RateLimited`, waiting until
      ``x-ratelimit-reset`` (at least 1 s);
    * 403 whose message mentions a secondary rate limit, or that has ``retry-after`` ->
      :class:`RateLimited`, waiting ``retry-after`` seconds (default 60);
    * any other 401/403 -> :class:`AuthenticationFailed`;
    * 5xx, timeouts, refused or dropped connections -> :class:`PlatformUnavailable`;
    * any other 4xx -> :class:`PlatformRejected` with GitHub's ``message`` and its
      ``errors[].code`` values, e.g.
      ``GitHub POST /repos/o/r/issues answered 422: Validation Failed (already_exists)``;
    * a GraphQL ``errors`` list -> :class:`PlatformRejected` (``RATE_LIMITED`` ->
      :class:`RateLimited`, ``INSUFFICIENT_SCOPES`` -> :class:`AuthenticationFailed`).

    The message never carries a header, the request's credentials or the token.
    """
    clock = now or datetime.now(UTC)
    where = f"GitHub {method} {path}"
    if isinstance(error, RequestFailed):
        raw = error.response.raw_response
        return _error_from_response(where, raw.status_code, raw.reason_phrase, raw.headers, _safe_json(raw), clock)
    if isinstance(error, GraphQLErrors):
        return _error_from_graphql(where, error.errors, error.headers, clock)
    if isinstance(error, GraphQLFailed):
        errors = [{"type": item.type, "message": item.message} for item in (error.response.errors or [])]
        return _error_from_graphql(where, errors, httpx.Headers(), clock)
    if isinstance(error, RequestTimeout):
        return PlatformUnavailable(f"{where} timed out; GitHub may be slow or unreachable.")
    if isinstance(error, RequestError):
        return _transport_error(where, error.exc)
    if isinstance(error, httpx.TransportError | OSError):
        return _transport_error(where, error)
    return PlatformUnavailable(f"{where} failed: {type(error).__name__}.")


def _transport_error(where: str, cause: BaseException) -> PlatformError:
    if isinstance(cause, httpx.TimeoutException):
        return PlatformUnavailable(f"{where} timed out; GitHub may be slow or unreachable.")
    return PlatformUnavailable(f"{where} could not reach GitHub ({type(cause).__name__}); the connection failed.")


def _error_from_response(
    where: str, status: int, reason: str, headers: httpx.Headers, body: Any, now: datetime
) -> PlatformError:
    message = _github_message(body) or reason or "no message"
    text = f"{where} answered {status}: {message}"
    if status == 429:
        wait = _wait_seconds(headers, now)
        return RateLimited(f"{text} (rate limited; retry after {wait:g} s)", retry_after=wait, status=status)
    if status == 403:
        primary = headers.get("x-ratelimit-remaining") == "0"
        secondary = "secondary rate limit" in message.lower() or "retry-after" in headers
        if primary or secondary:
            wait = _wait_seconds(headers, now)
            kind = "secondary rate limit" if secondary and not primary else "rate limit exhausted"
            return RateLimited(f"{text} ({kind}; retry after {wait:g} s)", retry_after=wait, status=status)
    if status in (401, 403):
        return AuthenticationFailed(
            f"{text}. Check that the GitHub token is valid and may use this repository.", status=status
        )
    if status >= 500:
        return PlatformUnavailable(text, status=status)
    codes = _error_codes(body)
    if codes:
        text += f" ({', '.join(codes)})"
    return PlatformRejected(text, status=status)


def _error_from_graphql(
    where: str, errors: list[dict[str, Any]], headers: httpx.Headers, now: datetime
) -> PlatformError:
    types = [str(error["type"]) for error in errors if error.get("type")]
    messages = [_clip(str(error.get("message", ""))) for error in errors if error.get("message")]
    text = f"{where} answered with GraphQL errors: {'; '.join(dict.fromkeys(messages)) or 'no message'}"
    if types:
        text += f" ({', '.join(dict.fromkeys(types))})"
    if any(kind in ("RATE_LIMITED", "RATE_LIMIT") for kind in types):
        wait = _wait_seconds(headers, now, primary_by_reset=True)
        return RateLimited(f"{text}; retry after {wait:g} s", retry_after=wait)
    if "INSUFFICIENT_SCOPES" in types:
        return AuthenticationFailed(f"{text}. The token needs the 'project' scope or permission.")
    return PlatformRejected(text)


def _wait_seconds(headers: httpx.Headers, now: datetime, *, primary_by_reset: bool = False) -> float:
    """Seconds to wait: ``retry-after`` if given, else until ``x-ratelimit-reset`` when the budget is
    spent, else one minute. Never less than 1."""
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = _parse_retry_after(retry_after, now)
        if seconds is not None:
            return max(1.0, seconds)
    reset = _int_header(headers, "x-ratelimit-reset")
    if reset is not None and (primary_by_reset or headers.get("x-ratelimit-remaining") == "0"):
        return max(1.0, float(math.ceil(reset - now.timestamp())))
    return DEFAULT_WAIT_SECONDS


def _parse_retry_after(value: str, now: datetime) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return float(math.ceil((when - now).total_seconds()))


def _github_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return _clip(body["message"])
    return ""


def _error_codes(body: Any) -> list[str]:
    """``errors[].code`` of a 4xx body (``custom`` codes give their message instead)."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    codes: list[str] = []
    for item in body["errors"]:
        if isinstance(item, dict):
            code = item.get("code")
            if code == "custom" and isinstance(item.get("message"), str):
                codes.append(_clip(item["message"]))
            elif isinstance(code, str):
                codes.append(code)
        elif isinstance(item, str):
            codes.append(_clip(item))
    return list(dict.fromkeys(codes))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, httpx.ResponseNotRead):
        return None


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# JSON <-> neutral types
# ---------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    """GitHub's ``YYYY-MM-DDTHH:MM:SSZ`` -> an aware UTC datetime (``None`` stays ``None``)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _format_time(value: datetime) -> str:
    """An aware (or naive, taken as UTC) datetime -> ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_from_json(data: Mapping[str, Any]) -> RemoteIssue:
    """An issue object of the REST API -> :class:`RemoteIssue`.

    ``labels`` (objects or plain names) become sorted names, ``assignees`` sorted logins,
    ``milestone`` its number, ``updated_at`` an aware UTC datetime, ``url`` the ``html_url``.
    Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed object.
    """
    labels = [label["name"] if isinstance(label, dict) else str(label) for label in data.get("labels") or []]
    assignees = [person["login"] for person in data.get("assignees") or [] if isinstance(person, dict)]
    milestone = data.get("milestone")
    summary = data.get("issue_dependencies_summary")
    blocked_by_count = summary.get("total_blocked_by") if isinstance(summary, dict) else None
    state = data["state"]
    if state not in ("open", "closed"):
        raise ValueError(f"unknown issue state {state!r}")
    updated_at = _parse_time(data["updated_at"])
    if updated_at is None:
        raise ValueError("issue without updated_at")
    return RemoteIssue(
        number=int(data["number"]),
        id=int(data["id"]),
        node_id=str(data["node_id"]),
        url=str(data.get("html_url") or data.get("url") or ""),
        title=str(data["title"]),
        body=str(data.get("body") or ""),
        state=state,
        state_reason=data.get("state_reason"),
        labels=labels_tuple(labels),
        assignees=labels_tuple(assignees),
        milestone=int(milestone["number"]) if isinstance(milestone, dict) else None,
        updated_at=updated_at,
        blocked_by_count=int(blocked_by_count) if isinstance(blocked_by_count, int) else None,
    )


def issue_body(changes: IssueChanges) -> dict[str, Any]:
    """:class:`IssueChanges` -> the JSON body of "Create an issue" / "Update an issue".

    Only set fields appear; ``milestone=None`` sends ``null`` (clears it); ``state_reason`` is sent
    only together with ``state`` (GitHub ignores it otherwise). Shape::

        {"title": str, "body": str, "state": "open"|"closed", "state_reason": str|None,
         "labels": [str], "assignees": [str], "milestone": int|None}
    """
    body: dict[str, Any] = {}
    if not isinstance(changes.title, Unset):
        body["title"] = changes.title
    if not isinstance(changes.body, Unset):
        body["body"] = changes.body
    if not isinstance(changes.state, Unset):
        body["state"] = changes.state
        if not isinstance(changes.state_reason, Unset):
            body["state_reason"] = changes.state_reason
    if not isinstance(changes.labels, Unset):
        body["labels"] = list(changes.labels)
    if not isinstance(changes.assignees, Unset):
        body["assignees"] = list(changes.assignees)
    if not isinstance(changes.milestone, Unset):
        body["milestone"] = changes.milestone
    return body


def milestone_from_json(data: Mapping[str, Any]) -> RemoteMilestone:
    """A milestone object of the REST API -> :class:`RemoteMilestone` (``url`` is the ``html_url``)."""
    state = data["state"]
    if state not in ("open", "closed"):
        raise ValueError(f"unknown milestone state {state!r}")
    return RemoteMilestone(
        number=int(data["number"]),
        title=str(data["title"]),
        description=str(data.get("description") or ""),
        state=state,
        due_on=_parse_time(data.get("due_on")),
        url=str(data.get("html_url") or data.get("url") or ""),
    )


def _board_from_node(node: Mapping[str, Any]) -> BoardRef:
    """A ``ProjectV2`` node (``id number url title fields{nodes{id name options{id name}}}``) -> BoardRef."""
    field_id: str | None = None
    options: dict[str, str] = {}
    nodes = [item for item in ((node.get("fields") or {}).get("nodes") or []) if isinstance(item, dict)]
    candidates = [item for item in nodes if "options" in item and isinstance(item.get("name"), str)]
    status = next((item for item in candidates if item["name"] == "Status"), None)
    status = status or next((item for item in candidates if item["name"].casefold() == "status"), None)
    if status is not None:
        field_id = str(status["id"])
        options = {str(option["name"]): str(option["id"]) for option in status.get("options") or []}
    return BoardRef(
        id=str(node["id"]),
        number=int(node["number"]),
        url=str(node.get("url") or ""),
        title=str(node.get("title") or ""),
        status_field_id=field_id,
        status_options=options,
    )


# ---------------------------------------------------------------------------------------------
# GraphQL documents (Projects v2)
# ---------------------------------------------------------------------------------------------

_BOARD_FIELDS = """
fragment BoardFields on ProjectV2 {
  id
  number
  url
  title
  fields(first: 100) {
    nodes {
      ... on ProjectV2SingleSelectField { id name options { id name } }
    }
  }
}
"""

_REPOSITORY_IDS = """
query RepositoryIds($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) { id owner { id } }
}
"""

_CREATE_BOARD = (
    """
mutation CreateBoard($ownerId: ID!, $title: String!, $repositoryId: ID!) {
  createProjectV2(input: {ownerId: $ownerId, title: $title, repositoryId: $repositoryId}) {
    projectV2 { ...BoardFields }
  }
}
"""
    + _BOARD_FIELDS
)

_ORGANIZATION_BOARD = (
    """
query OrganizationBoard($login: String!, $number: Int!) {
  organization(login: $login) { projectV2(number: $number) { ...BoardFields } }
}
"""
    + _BOARD_FIELDS
)

_USER_BOARD = (
    """
query UserBoard($login: String!, $number: Int!) {
  user(login: $login) { projectV2(number: $number) { ...BoardFields } }
}
"""
    + _BOARD_FIELDS
)

_ADD_ITEM = """
mutation AddItem($projectId: ID!, $contentId: ID!) {
  addProjectV2ItemById(input: {projectId: $projectId, contentId: $contentId}) { item { id } }
}
"""

_SET_STATUS = """
mutation SetStatus($projectId: ID!, $itemId: ID!, $fieldId: ID!, $optionId: String!) {
  updateProjectV2ItemFieldValue(
    input: {projectId: $projectId, itemId: $itemId, fieldId: $fieldId, value: {singleSelectOptionId: $optionId}}
  ) { projectV2Item { id } }
}
"""


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------


class GitHubPlatform:
    """One GitHub repository, through an injected :class:`githubkit.GitHub` client.

    ``GitHubPlatform(client, "octo-org", "shop", per_page=100)``; or
    :meth:`connect` to build the client from a token. Every method raises only
    :class:`~taskorch.errors.PlatformError` subclasses for platform failures (and
    :class:`~taskorch.errors.InvalidInput` for a bad argument).
    """

    name = "github"
    #: Iterations and time tracking are not GitHub issue features.
    capabilities = Capabilities(
        sub_issues=True,
        issue_dependencies=True,
        boards=True,
        releases=True,
        conditional_requests=True,
        milestones=True,
    )

    def __init__(
        self, client: GitHub[Any], owner: str, repo: str, *, per_page: int = 100, host: str = "github.com"
    ) -> None:
        self.owner, self.repo = owner_and_name(parse_repository(f"{owner}/{repo}"))
        self.ref = RepositoryRef(platform="github", host=host, path=f"{self.owner}/{self.repo}")
        if not 1 <= per_page <= 100:
            raise InvalidInput("per_page", f"{per_page} is outside 1..100.", "GitHub pages hold at most 100 items.")
        self.repository = f"{self.owner}/{self.repo}"
        self.per_page = per_page
        self._client = client
        self._budget = RateBudget(limit=None, remaining=None, reset_at=None)
        self._resources = ExitStack()

    @classmethod
    def connect(
        cls,
        token: str,
        repository: str,
        *,
        base_url: str = "https://api.github.com",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> GitHubPlatform:
        """Build a githubkit client for ``token`` and ``repository`` (``"owner/name"`` or its URL).

        The client never retries (``auto_retry=False``: the engine backs off itself) and keeps no
        HTTP cache (``http_cache=False``: the engine sends its own ``If-None-Match``). ``base_url``
        is GitHub's API root (``https://HOST/api/v3`` on GitHub Enterprise Server); ``timeout`` is
        in seconds. Raises :class:`AuthenticationFailed` for an empty token and
        :class:`InvalidInput` for a malformed repository.
        """
        from taskorch import __version__

        ref = parse_repository(repository)
        owner, repo = owner_and_name(ref)
        if not token or not token.strip():
            raise AuthenticationFailed("No GitHub token was given; set one before enabling GitHub sync.")
        client: GitHub[Any] = GitHub(
            token.strip(),
            base_url=base_url,
            user_agent=f"taskorch/{__version__}",
            timeout=httpx.Timeout(timeout),
            transport=transport,
            http_cache=False,
            auto_retry=False,
        )
        platform = cls(client, owner, repo, host=ref.host)
        platform._resources.enter_context(client)  # one connection pool for every request, until close()
        return platform

    def __repr__(self) -> str:
        return f"GitHubPlatform(repository={self.repository!r})"

    # -- issues ---------------------------------------------------------------------------------

    def create_issue(self, changes: IssueChanges) -> RemoteIssue:
        """POST /repos/{owner}/{repo}/issues ("Create an issue").

        ``changes.title`` is required. GitHub creates every issue open, so ``state="closed"`` costs
        a second mutation (an update right after the create).
        """
        if isinstance(changes.title, Unset) or not changes.title.strip():
            raise InvalidInput("title", "an issue needs a non-empty title.")
        body = issue_body(changes)
        body.pop("state", None)
        body.pop("state_reason", None)
        path = self._repo_path("issues")
        issue = self._issue(self._json("POST", path, json=body), "POST", path)
        if changes.state == "closed":
            return self.update_issue(issue.number, IssueChanges(state="closed", state_reason=changes.state_reason))
        return issue

    def update_issue(self, number: int, changes: IssueChanges) -> RemoteIssue:
        """PATCH /repos/{owner}/{repo}/issues/{number} ("Update an issue") with only the set fields.

        An empty :class:`IssueChanges` sends nothing and reads the issue instead.
        """
        body = issue_body(changes)
        if not body:
            return self.get_issue(number)
        path = self._repo_path(f"issues/{int(number)}")
        return self._issue(self._json("PATCH", path, json=body), "PATCH", path)

    def get_issue(self, number: int) -> RemoteIssue:
        """GET /repos/{owner}/{repo}/issues/{number} ("Get an issue"); a pull request is rejected."""
        path = self._repo_path(f"issues/{int(number)}")
        data = self._json("GET", path)
        if isinstance(data, dict) and "pull_request" in data:
            raise PlatformRejected(f"GitHub GET {path}: #{number} is a pull request, not an issue.")
        return self._issue(data, "GET", path)

    def list_issues_since(self, since: datetime | None, etag: str | None) -> IssueListing:
        """GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc&per_page=N[&since=T].

        ``since`` is sent as ``YYYY-MM-DDTHH:MM:SSZ`` (a naive datetime is taken as UTC). With
        ``etag`` the first page carries ``If-None-Match``; a 304 answer ("Use conditional
        requests") returns ``IssueListing(issues=[], etag=etag, not_modified=True, requests=1)``.
        Otherwise the ``Link: <...>; rel="next"`` header is followed to the last page; pull
        requests (items with a ``pull_request`` key) are skipped; ``etag`` is the first page's
        ``ETag`` and ``requests`` the number of pages fetched.
        """
        path = self._repo_path("issues")
        params: dict[str, str | int] = {
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "per_page": self.per_page,
        }
        if since is not None:
            params["since"] = _format_time(since)
        headers = {"If-None-Match": etag} if etag else None
        response = self._send("GET", path, params=params, headers=headers)
        if response.status_code == 304:
            return IssueListing(issues=[], etag=etag, not_modified=True, requests=1)
        first_etag = response.headers.get("etag")
        issues: list[RemoteIssue] = []
        pages = self._pages("GET", path, response)
        for page in pages:
            for item in self._items(page, "GET", path):
                if "pull_request" not in item:
                    issues.append(self._issue(item, "GET", path))
        return IssueListing(issues=issues, etag=first_etag, not_modified=False, requests=len(pages))

    def add_comment(self, number: int, body: str) -> None:
        """POST /repos/{owner}/{repo}/issues/{number}/comments ``{"body": body}``."""
        self._send("POST", self._repo_path(f"issues/{int(number)}/comments"), json={"body": body})

    def add_sub_issue(self, parent_number: int, child: RemoteIssue) -> None:
        """POST /repos/{owner}/{repo}/issues/{parent}/sub_issues ``{"sub_issue_id": child.id}`` ("Add sub-issue").

        ``child.id`` is the database id, not the number.
        """
        path = self._repo_path(f"issues/{int(parent_number)}/sub_issues")
        self._send("POST", path, json={"sub_issue_id": child.id})

    # -- issue dependencies ---------------------------------------------------------------------

    def add_dependency(self, blocked_number: int, blocking: RemoteIssue) -> str | None:
        """POST /repos/{owner}/{repo}/issues/{blocked}/dependencies/blocked_by ``{"issue_id": blocking.id}``
        ("Add a dependency an issue is blocked by"); ``blocking.id`` is the database id, not the
        number. One mutation; a dependency that exists already is answered 422
        (:class:`PlatformRejected`, ``status`` 422), which the caller takes as done. Returns ``None``.
        """
        path = self._repo_path(f"issues/{int(blocked_number)}/dependencies/blocked_by")
        self._send("POST", path, json={"issue_id": int(blocking.id)})
        return None

    def remove_dependency(self, blocked_number: int, blocking: RemoteIssue) -> None:
        """DELETE /repos/{owner}/{repo}/issues/{blocked}/dependencies/blocked_by/{blocking.id}
        ("Remove dependency an issue is blocked by"). One mutation; a dependency that does not exist
        is answered 404 (:class:`PlatformRejected`, ``status`` 404), which the caller takes as done."""
        path = self._repo_path(f"issues/{int(blocked_number)}/dependencies/blocked_by/{int(blocking.id)}")
        self._send("DELETE", path)

    def list_dependencies(self, number: int) -> list[int]:
        """GET /repos/{owner}/{repo}/issues/{number}/dependencies/blocked_by?per_page=N ("List
        dependencies an issue is blocked by"), every page -> the blocking issues' numbers (issues of
        other repositories are left out)."""
        path = self._repo_path(f"issues/{int(number)}/dependencies/blocked_by")
        response = self._send("GET", path, params={"per_page": self.per_page})
        numbers: list[int] = []
        own = f"/repos/{self.owner}/{self.repo}".casefold()
        for page in self._pages("GET", path, response):
            for item in self._items(page, "GET", path):
                repository_url = str(item.get("repository_url") or "")
                if repository_url and not repository_url.casefold().endswith(own):
                    continue
                numbers.append(self._issue(item, "GET", path).number)
        return numbers

    # -- milestones -----------------------------------------------------------------------------

    def list_milestones(self) -> list[RemoteMilestone]:
        """GET /repos/{owner}/{repo}/milestones?state=all&per_page=N, every page (``Link`` rel="next")."""
        path = self._repo_path("milestones")
        response = self._send("GET", path, params={"state": "all", "per_page": self.per_page})
        milestones: list[RemoteMilestone] = []
        for page in self._pages("GET", path, response):
            milestones.extend(self._milestone(item, "GET", path) for item in self._items(page, "GET", path))
        return milestones

    def create_milestone(self, title: str, description: str, due_on: datetime | None) -> RemoteMilestone:
        """POST /repos/{owner}/{repo}/milestones ``{"title", "description", "due_on"?}`` ("Create a milestone")."""
        body: dict[str, Any] = {"title": title, "description": description}
        if due_on is not None:
            body["due_on"] = _format_time(due_on)
        path = self._repo_path("milestones")
        return self._milestone(self._json("POST", path, json=body), "POST", path)

    def update_milestone(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        due_on: datetime | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> RemoteMilestone:
        """PATCH /repos/{owner}/{repo}/milestones/{number} with the given fields (``None`` = unchanged).

        With nothing to change it reads the milestone (GET) instead.
        """
        body: dict[str, Any] = {}
        if title is not None:
            body["title"] = title
        if description is not None:
            body["description"] = description
        if due_on is not None:
            body["due_on"] = _format_time(due_on)
        if state is not None:
            body["state"] = state
        path = self._repo_path(f"milestones/{int(number)}")
        method = "PATCH" if body else "GET"
        return self._milestone(self._json(method, path, json=body or None), method, path)

    # -- releases -------------------------------------------------------------------------------

    def get_release_by_tag(self, tag: str) -> RemoteRelease | None:
        """GET /repos/{owner}/{repo}/releases/tags/{tag} ("Get a release by tag name"); 404 -> None."""
        path = self._repo_path(f"releases/tags/{quote(tag, safe='')}")
        try:
            data = self._json("GET", path)
        except PlatformRejected as error:
            if error.status == 404:
                return None
            raise
        return self._release(data, "GET", path)

    def create_release(
        self, tag: str, *, name: str, body: str, target_commitish: str | None, prerelease: bool
    ) -> RemoteRelease:
        """POST /repos/{owner}/{repo}/releases ("Create a release") for an existing tag."""
        payload: dict[str, Any] = {
            "tag_name": tag,
            "name": name,
            "body": body,
            "draft": False,
            "prerelease": prerelease,
        }
        if target_commitish:
            payload["target_commitish"] = target_commitish
        path = self._repo_path("releases")
        return self._release(self._json("POST", path, json=payload), "POST", path)

    def update_release(self, release_id: int, *, name: str, body: str) -> RemoteRelease:
        """PATCH /repos/{owner}/{repo}/releases/{release_id} ("Update a release")."""
        path = self._repo_path(f"releases/{int(release_id)}")
        return self._release(self._json("PATCH", path, json={"name": name, "body": body}), "PATCH", path)

    @staticmethod
    def _release(data: Any, method: str, path: str) -> RemoteRelease:
        try:
            return RemoteRelease(
                id=int(data["id"]),
                tag_name=str(data["tag_name"]),
                name=str(data.get("name") or ""),
                body=str(data.get("body") or ""),
                url=str(data.get("html_url") or ""),
                draft=bool(data.get("draft")),
                prerelease=bool(data.get("prerelease")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PlatformError(
                f"GitHub {method} {path} answered with a release that cannot be read ({error})."
            ) from None

    # -- Projects v2 ----------------------------------------------------------------------------

    def create_board(self, title: str) -> BoardRef:
        """Create a Projects v2 board owned by the repository's owner and linked to the repository.

        Two GraphQL calls: ``repository(owner, name) { id owner { id } }``, then
        ``createProjectV2(input: {ownerId, title, repositoryId})`` reading the new project's fields;
        the single-select field named "Status" fills ``status_field_id``/``status_options``.
        """
        ids = self._graphql("RepositoryIds", _REPOSITORY_IDS, {"owner": self.owner, "name": self.repo})
        repository = ids.get("repository")
        if not isinstance(repository, dict):
            raise PlatformRejected(f"GitHub POST /graphql (RepositoryIds): repository {self.repository} not found.")
        variables = {"ownerId": repository["owner"]["id"], "title": title, "repositoryId": repository["id"]}
        created = self._graphql("CreateBoard", _CREATE_BOARD, variables)
        node = (created.get("createProjectV2") or {}).get("projectV2")
        if not isinstance(node, dict):
            raise PlatformRejected("GitHub POST /graphql (CreateBoard): no project came back.")
        return self._board(node, "CreateBoard")

    def get_board(self, number: int) -> BoardRef:
        """The owner's project ``number``: ``organization(login).projectV2(number)``, then, if the
        owner is not an organization, ``user(login).projectV2(number)``. Unknown -> PlatformRejected."""
        variables = {"login": self.owner, "number": int(number)}
        for operation, query, owner_kind in (
            ("OrganizationBoard", _ORGANIZATION_BOARD, "organization"),
            ("UserBoard", _USER_BOARD, "user"),
        ):
            data = self._graphql(operation, query, variables, tolerate_not_found=True)
            node = (data.get(owner_kind) or {}).get("projectV2")
            if isinstance(node, dict):
                return self._board(node, operation)
        raise PlatformRejected(f"GitHub has no project number {number} owned by {self.owner}.")

    def add_to_board(self, board: BoardRef, issue: RemoteIssue) -> str:
        """``addProjectV2ItemById(input: {projectId, contentId: issue.node_id})`` -> the item id.

        GitHub returns the existing item when the issue is already on the board.
        """
        data = self._graphql("AddItem", _ADD_ITEM, {"projectId": board.id, "contentId": issue.node_id})
        item = (data.get("addProjectV2ItemById") or {}).get("item")
        if not isinstance(item, dict) or not item.get("id"):
            raise PlatformRejected("GitHub POST /graphql (AddItem): no project item came back.")
        return str(item["id"])

    def set_board_status(self, board: BoardRef, item_id: str, option_name: str) -> None:
        """``updateProjectV2ItemFieldValue`` setting the Status field to ``option_name``.

        The option is matched without regard to case; an unknown option (or a board without a
        Status field) raises :class:`PlatformRejected` naming the options there are.
        """
        if board.status_field_id is None:
            raise PlatformRejected(f"Project {board.number} ({board.title}) has no single-select Status field.")
        wanted = option_name.strip().casefold()
        option_id = next((oid for name, oid in board.status_options.items() if name.casefold() == wanted), None)
        if option_id is None:
            available = ", ".join(board.status_options) or "none"
            raise PlatformRejected(
                f"Project {board.number} has no Status option {option_name!r}; the options are: {available}."
            )
        variables = {"projectId": board.id, "itemId": item_id, "fieldId": board.status_field_id, "optionId": option_id}
        self._graphql("SetStatus", _SET_STATUS, variables)

    # -- budget and lifetime --------------------------------------------------------------------

    def rate_budget(self) -> RateBudget:
        """The ``x-ratelimit-limit/-remaining/-reset/-resource`` headers of the last response that
        carried them (error answers included); all ``None`` before the first one."""
        return self._budget

    def close(self) -> None:
        """Close the connection pool of a client built by :meth:`connect` (an injected client is the
        caller's to close). Idempotent."""
        self._resources.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _repo_path(self, rest: str) -> str:
        return f"/repos/{self.owner}/{self.repo}/{rest}"

    def _send(
        self,
        method: str,
        path: str,
        *,
        url: str | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response[Any]:
        """One HTTP request; records the rate-limit headers; maps every failure. ``path`` names the
        call in messages, ``url`` (absolute, e.g. a ``Link``) overrides where it goes."""
        try:
            response = self._client.request(
                method,
                url or path,
                params=params,
                json=json,
                headers={"X-GitHub-Api-Version": API_VERSION, **(headers or {})},
            )
        except RequestFailed as error:
            self._observe(error.response.headers)
            raise map_github_error(method, path, error) from None
        except (GitHubException, httpx.TransportError) as error:
            raise map_github_error(method, path, error) from None
        self._observe(response.headers)
        return response

    def _json(self, method: str, path: str, *, json: Any = None) -> Any:
        return self._decode(self._send(method, path, json=json), method, path)

    @staticmethod
    def _decode(response: Response[Any], method: str, path: str) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise PlatformUnavailable(
                f"GitHub {method} {path} answered {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            ) from None

    def _pages(self, method: str, path: str, first: Response[Any]) -> list[Any]:
        """The JSON of every page from ``first`` on, following ``Link: rel="next"`` on the same host
        (one request per page after the first)."""
        pages: list[Any] = [self._decode(first, method, path)]
        seen: set[str] = set()
        response = first
        while len(pages) < _MAX_PAGES:
            next_url = response.raw_response.links.get("next", {}).get("url")
            if not next_url or next_url in seen:
                break
            seen.add(next_url)
            self._check_same_origin(next_url, method, path)
            response = self._send(method, path, url=next_url)
            pages.append(self._decode(response, method, path))
        return pages

    def _check_same_origin(self, url: str, method: str, path: str) -> None:
        base = self._client.config.base_url
        target = httpx.URL(url)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            raise PlatformRejected(f"GitHub {method} {path}: the next-page link points away from {base.host}.")

    @staticmethod
    def _items(page: Any, method: str, path: str) -> list[dict[str, Any]]:
        return answered_items(page, f"GitHub {method} {path}")

    @staticmethod
    def _issue(data: Any, method: str, path: str) -> RemoteIssue:
        return answered(issue_from_json, data, "an issue", f"GitHub {method} {path}")

    @staticmethod
    def _milestone(data: Any, method: str, path: str) -> RemoteMilestone:
        return answered(milestone_from_json, data, "a milestone", f"GitHub {method} {path}")

    @staticmethod
    def _board(node: Mapping[str, Any], operation: str) -> BoardRef:
        try:
            return _board_from_node(node)
        except (KeyError, TypeError, ValueError) as error:
            raise PlatformError(
                f"GitHub POST /graphql ({operation}) answered with an unreadable project ({error})."
            ) from None

    def _graphql(
        self, operation: str, query: str, variables: dict[str, Any], *, tolerate_not_found: bool = False
    ) -> dict[str, Any]:
        """POST the GraphQL document; return ``data``.

        An ``errors`` list raises (see :func:`map_github_error`), except that with
        ``tolerate_not_found`` errors that are all ``NOT_FOUND`` give the partial ``data`` (or ``{}``).
        """
        path = f"/graphql ({operation})"
        response = self._send("POST", path, url=self._graphql_url(), json={"query": query, "variables": variables})
        body = self._decode(response, "POST", path)
        if not isinstance(body, dict):
            raise PlatformError(f"GitHub POST {path} answered with something other than a JSON object.")
        raw_data = body.get("data")
        data: dict[str, Any] | None = raw_data if isinstance(raw_data, dict) else None
        errors = body.get("errors")
        if errors:
            items = [error if isinstance(error, dict) else {"message": str(error)} for error in errors]
            failure = GraphQLErrors(items, data, response.headers)
            if tolerate_not_found and all(item.get("type") == "NOT_FOUND" for item in items):
                return data or {}
            raise map_github_error("POST", path, failure)
        if data is None:
            raise PlatformError(f"GitHub POST {path} answered without data.")
        return data

    def _graphql_url(self) -> str:
        """``/graphql`` under the API root; GitHub Enterprise Server's ``/api/v3`` root -> ``/api/graphql``."""
        base = self._client.config.base_url
        replaced, count = re.subn(r"/api/v3/?$", "/api/graphql", base.path)
        return str(base.copy_with(path=replaced)) if count else "graphql"

    def _observe(self, headers: httpx.Headers) -> None:
        limit = _int_header(headers, "x-ratelimit-limit")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset = _int_header(headers, "x-ratelimit-reset")
        if limit is None and remaining is None and reset is None:
            return
        self._budget = RateBudget(
            limit=limit,
            remaining=remaining,
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
            resource=headers.get("x-ratelimit-resource"),
        )
