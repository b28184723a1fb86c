"""The Bitbucket Cloud adapter: the repository side of a Bitbucket team (the repository, its tags).

Atlassian removed Bitbucket Cloud's issue tracker, with its API, on 2026-08-20: the issue
endpoints answer 410 Gone. A Bitbucket Cloud team tracks its issues, versions, boards and sprints
in the linked Jira Cloud project, so in taskorch a Bitbucket connection is a *code host*: the
issue platform of the connection is Jira (:mod:`taskorch.platforms.jira`), and this adapter only
checks that the repository exists and reads and creates its tags, through Bitbucket Cloud's REST
API 2.0 (https://developer.atlassian.com/cloud/bitbucket/rest/). Its :class:`Capabilities` are
all false and every issue, milestone, release and board method of the
:class:`~taskorch.platforms.base.Platform` protocol raises
:class:`~taskorch.errors.PlatformRejected` without sending a request, saying where issues live.

====================  =====================================================================
get_repository        ``GET /repositories/{workspace}/{repo_slug}``
list_tags             ``GET /repositories/{workspace}/{repo_slug}/refs/tags`` (``sort``,
                      ``pagelen=100``), following the page's ``next`` link on the same host
get_tag               ``GET /repositories/{workspace}/{repo_slug}/refs/tags/{name}`` (404 ->
                      ``None``)
create_tag            ``POST /repositories/{workspace}/{repo_slug}/refs/tags`` with ``name``,
                      ``target.hash`` (full hash) and ``message``: an annotated tag
rate_budget           ``X-RateLimit-Limit`` / ``X-RateLimit-Resource`` (sent for access tokens)
====================  =====================================================================

Authentication (https://developer.atlassian.com/cloud/bitbucket/rest/intro/#authentication):

* without a username the token is sent as ``Authorization: Bearer <token>``: a workspace,
  project or repository access token, or an OAuth access token;
* with a username (``TASKORCH_BITBUCKET_USERNAME``) it is HTTP Basic ``username:token``: an
  Atlassian API token with the account's e-mail address, or an app password with the Bitbucket
  username.

Rate limits (https://support.atlassian.com/bitbucket-cloud/docs/api-request-limits/): requests to
``/2.0/repositories/*`` share a budget of 1,000 per rolling hour per user (scaled up to 10,000
for access tokens of large paid workspaces); an exceeded budget is answered 429. Requests made
with an access token carry ``X-RateLimit-Limit``, ``X-RateLimit-Resource`` and
``X-RateLimit-NearLimit`` (true below 20 % of the budget); there is no reset header, so a 429
without ``Retry-After`` waits :data:`DEFAULT_WAIT_SECONDS`.

Like the other adapters it takes its HTTP transport from outside and never retries: each failure
becomes one :class:`~taskorch.errors.PlatformError` (see :func:`map_bitbucket_error`), whose
message never carries a header or the token.
"""

from __future__ import annotations

import email.utils
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn
from urllib.parse import quote

import httpx

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
    answered,
)

__all__ = [
    "API_URL",
    "DEFAULT_WAIT_SECONDS",
    "ISSUES_REMOVED",
    "BitbucketPlatform",
    "BitbucketRepository",
    "RemoteTag",
    "map_bitbucket_error",
]

#: Bitbucket Cloud's REST API root.
API_URL = "https://api.bitbucket.org/2.0"
#: How long to wait on a 429 that names no time (the budget is a rolling hour; no reset header).
DEFAULT_WAIT_SECONDS = 60.0
#: What taskorch says wherever Bitbucket issues are asked for.
ISSUES_REMOVED = (
    "Bitbucket Cloud's issue tracker no longer exists (Atlassian removed it, with its API, on 2026-08-20); "
    "a Bitbucket team's issues live in the linked Jira Cloud project"
)

_MESSAGE_LIMIT = 300
_MAX_PAGES = 1_000
_PAGE_LENGTH = 100


@dataclass(frozen=True)
class BitbucketRepository:
    """A repository as Bitbucket has it: ``full_name`` (``workspace/repo_slug``), ``uuid``
    (``{...}``), ``main_branch`` (``None`` for an empty repository), ``url`` (its web page),
    ``is_private``."""

    full_name: str
    uuid: str
    main_branch: str | None
    url: str
    is_private: bool


@dataclass(frozen=True)
class RemoteTag:
    """A tag: ``name``, the full ``target`` commit hash, its ``message`` (``""`` for a lightweight
    tag), ``date`` when known, and ``url`` (its web page, when Bitbucket gives one)."""

    name: str
    target: str
    message: str
    date: datetime | None
    url: str


# ---------------------------------------------------------------------------------------------
# Error mapping
# ---------------------------------------------------------------------------------------------


def map_bitbucket_error(
    method: str, path: str, error: httpx.Response | BaseException, *, now: datetime | None = None
) -> PlatformError:
    """Turn a failed Bitbucket call (an error response, or the transport's exception) into the
    one :class:`PlatformError` the engine understands.

    ``method`` and ``path`` name the call in the message; ``now`` is the clock used for an
    HTTP-date ``Retry-After``. The rules:

    * 429 -> :class:`RateLimited`, waiting ``Retry-After`` seconds, else
      :data:`DEFAULT_WAIT_SECONDS` (at least 1 s);
    * 401, 403 -> :class:`AuthenticationFailed` (Bitbucket reports limits only as 429);
    * 410 -> :class:`PlatformRejected`; on an issue-tracker path it says the tracker was removed
      and that issues live in Jira;
    * 5xx, timeouts, refused or dropped connections -> :class:`PlatformUnavailable`;
    * any other 4xx -> :class:`PlatformRejected` with Bitbucket's ``error.message`` (and
      ``error.detail``).
    """
    where = f"Bitbucket {method} {path}"
    if isinstance(error, httpx.Response):
        return _from_response(where, path, error, now or datetime.now(UTC))
    if isinstance(error, httpx.TimeoutException):
        return PlatformUnavailable(f"{where} timed out; Bitbucket may be slow or unreachable.")
    if isinstance(error, httpx.TransportError | OSError):
        return PlatformUnavailable(
            f"{where} could not reach Bitbucket ({type(error).__name__}); the connection failed."
        )
    return PlatformUnavailable(f"{where} failed: {type(error).__name__}.")


def _from_response(where: str, path: str, response: httpx.Response, now: datetime) -> PlatformError:
    status = response.status_code
    text = f"{where} answered {status}: {_message(response) or response.reason_phrase or 'no message'}"
    if status == 429:
        wait = _wait_seconds(response.headers, now)
        return RateLimited(f"{text} (rate limited; retry after {wait:g} s)", retry_after=wait, status=status)
    if status in (401, 403):
        return AuthenticationFailed(
            f"{text}. Check that the Bitbucket token is valid, may read and write this repository, and that "
            "TASKORCH_BITBUCKET_USERNAME is set for an API token or app password (unset for an access token).",
            status=status,
        )
    if status == 410 and "/issues" in path:
        return PlatformRejected(f"{text}. {ISSUES_REMOVED}.", status=status)
    if status >= 500:
        return PlatformUnavailable(text, status=status)
    return PlatformRejected(text, status=status)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return ""
    message = error["message"]
    if isinstance(error.get("detail"), str) and error["detail"]:
        message += f" ({error['detail']})"
    return _clip(message)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _wait_seconds(headers: httpx.Headers, now: datetime) -> float:
    value = headers.get("retry-after")
    if value:
        try:
            return max(1.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_WAIT_SECONDS
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(1.0, float(math.ceil((when - now).total_seconds())))
    return DEFAULT_WAIT_SECONDS


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


def _href(links: Any, name: str) -> str:
    if isinstance(links, dict) and isinstance(links.get(name), dict):
        return str(links[name].get("href") or "")
    return ""


def repository_from_json(data: Any) -> BitbucketRepository:
    """A repository object of Bitbucket's API -> :class:`BitbucketRepository`."""
    branch = data.get("mainbranch")
    return BitbucketRepository(
        full_name=str(data["full_name"]),
        uuid=str(data.get("uuid") or ""),
        main_branch=str(branch["name"]) if isinstance(branch, dict) and branch.get("name") else None,
        url=_href(data.get("links"), "html"),
        is_private=bool(data.get("is_private", False)),
    )


def tag_from_json(data: Any) -> RemoteTag:
    """A tag object of Bitbucket's API -> :class:`RemoteTag`."""
    target = data["target"]
    when = data.get("date")
    return RemoteTag(
        name=str(data["name"]),
        target=str(target["hash"]),
        message=str(data.get("message") or ""),
        date=datetime.fromisoformat(when).astimezone(UTC) if isinstance(when, str) and when else None,
        url=_href(data.get("links"), "html"),
    )


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------


class BitbucketPlatform:
    """One Bitbucket Cloud repository, as the code host of a connection (see the module docstring).

    Build it with :meth:`connect`; ``client`` is an :class:`httpx.Client` whose base URL is the API
    root (``https://api.bitbucket.org/2.0``) and which carries the credentials.
    """

    name = "bitbucket"
    capabilities = Capabilities()

    def __init__(self, client: httpx.Client, workspace: str, repo_slug: str, *, host: str = "bitbucket.org") -> None:
        self.workspace = workspace
        self.repo_slug = repo_slug
        self.repository = f"{workspace}/{repo_slug}"
        self.ref = RepositoryRef(platform="bitbucket", host=host, path=self.repository)
        self._client = client
        self._budget = RateBudget(limit=None, remaining=None, reset_at=None)

    @classmethod
    def connect(
        cls,
        token: str,
        repository: str,
        *,
        base_url: str = API_URL,
        username: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> BitbucketPlatform:
        """A client for ``repository`` (``workspace/repo_slug``) with ``token``: Bearer, or Basic
        with ``username`` (an Atlassian account e-mail with an API token, a username with an app
        password). ``base_url`` is the API root; ``timeout`` in seconds. Raises
        :class:`AuthenticationFailed` for an empty token and :class:`InvalidInput` naming
        ``repository`` for a path that is not two segments."""
        from taskorch import __version__

        workspace, _, slug = repository.strip().strip("/").partition("/")
        if not workspace or not slug or "/" in slug:
            raise InvalidInput("repository", f"{repository!r} is not workspace/repo_slug.", "pass e.g. 'acme/shop'.")
        if not token or not token.strip():
            raise AuthenticationFailed("No Bitbucket token was given; set one before connecting Bitbucket.")
        auth: httpx.Auth | None = None
        headers = {"Accept": "application/json", "User-Agent": f"taskorch/{__version__}"}
        if username and username.strip():
            auth = httpx.BasicAuth(username.strip(), token.strip())
        else:
            headers["Authorization"] = f"Bearer {token.strip()}"
        client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
        )
        return cls(client, workspace, slug)

    def __repr__(self) -> str:
        return f"BitbucketPlatform(repository={self.repository!r})"

    # -- the repository ---------------------------------------------------------------------

    def get_repository(self) -> BitbucketRepository:
        """GET /repositories/{workspace}/{repo_slug}: the repository, which proves it exists and
        the token may read it (404: no such repository, or not visible with this token)."""
        path = self._repo_path()
        return answered(repository_from_json, self._json("GET", path), "a repository", f"Bitbucket GET {path}")

    def list_tags(self) -> list[RemoteTag]:
        """GET .../refs/tags, newest tag first (``sort=-target.date``), every page."""
        path = self._repo_path("refs", "tags")
        tags: list[RemoteTag] = []
        for page in self._pages(path, {"sort": "-target.date", "pagelen": str(_PAGE_LENGTH)}):
            values = page.get("values") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise PlatformError(f"Bitbucket GET {path} answered with something other than a page of tags.")
            tags += [answered(tag_from_json, v, "a tag", f"Bitbucket GET {path}") for v in values]
        return tags

    def get_tag(self, name: str) -> RemoteTag | None:
        """GET .../refs/tags/{name}; ``None`` when there is no such tag."""
        path = self._repo_path("refs", "tags", name)
        response = self._send("GET", path, allow=(404,))
        if response.status_code == 404:
            return None
        return answered(tag_from_json, self._decode(response, "GET", path), "a tag", f"Bitbucket GET {path}")

    def create_tag(self, name: str, target: str, message: str) -> RemoteTag:
        """POST .../refs/tags: an annotated tag ``name`` on commit ``target`` (a full hash) with
        ``message``. One mutation; an existing tag of that name is refused (400)."""
        if not name.strip() or not target.strip():
            raise InvalidInput("tag", "a tag needs a name and a target commit hash.")
        path = self._repo_path("refs", "tags")
        body = {"name": name, "target": {"hash": target}, "message": message}
        return answered(tag_from_json, self._json("POST", path, json=body), "a tag", f"Bitbucket POST {path}")

    def rate_budget(self) -> RateBudget:
        return self._budget

    def close(self) -> None:
        self._client.close()

    # -- what a Bitbucket repository does not have -----------------------------------------

    def _no_issues(self) -> NoReturn:
        raise PlatformRejected(f"{ISSUES_REMOVED}: connect the repository together with its Jira project.", status=410)

    def _nothing(self, what: str) -> NoReturn:
        raise PlatformRejected(f"a Bitbucket Cloud repository has no {what}; the linked Jira project holds them.")

    def create_issue(self, changes: IssueChanges) -> RemoteIssue:
        self._no_issues()

    def update_issue(self, number: int, changes: IssueChanges) -> RemoteIssue:
        self._no_issues()

    def get_issue(self, number: int) -> RemoteIssue:
        self._no_issues()

    def list_issues_since(self, since: datetime | None, etag: str | None) -> IssueListing:
        self._no_issues()

    def add_comment(self, number: int, body: str) -> None:
        self._no_issues()

    def add_sub_issue(self, parent_number: int, child: RemoteIssue) -> None:
        self._no_issues()

    def add_dependency(self, blocked_number: int, blocking: RemoteIssue) -> str | None:
        self._no_issues()

    def remove_dependency(self, blocked_number: int, blocking: RemoteIssue) -> None:
        self._no_issues()

    def list_dependencies(self, number: int) -> list[int]:
        self._no_issues()

    def list_milestones(self) -> list[RemoteMilestone]:
        self._nothing("milestones (Jira versions are)")

    def create_milestone(self, title: str, description: str, due_on: datetime | None) -> RemoteMilestone:
        self._nothing("milestones (Jira versions are)")

    def update_milestone(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        due_on: datetime | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> RemoteMilestone:
        self._nothing("milestones (Jira versions are)")

    def get_release_by_tag(self, tag: str) -> RemoteRelease | None:
        self._nothing("release object (a release is its tag plus the released Jira version)")

    def create_release(
        self, tag: str, *, name: str, body: str, target_commitish: str | None, prerelease: bool
    ) -> RemoteRelease:
        self._nothing("release object (a release is its tag plus the released Jira version)")

    def update_release(self, release_id: int, *, name: str, body: str) -> RemoteRelease:
        self._nothing("release object (a release is its tag plus the released Jira version)")

    def create_board(self, title: str) -> BoardRef:
        self._nothing("boards (Jira Software boards are)")

    def get_board(self, number: int) -> BoardRef:
        self._nothing("boards (Jira Software boards are)")

    def add_to_board(self, board: BoardRef, issue: RemoteIssue) -> str:
        self._nothing("boards (Jira Software boards are)")

    def set_board_status(self, board: BoardRef, item_id: str, option_name: str) -> None:
        self._nothing("boards (Jira Software boards are)")

    # -- HTTP -------------------------------------------------------------------------------

    def _repo_path(self, *rest: str) -> str:
        """``/repositories/{workspace}/{repo_slug}/...``, each segment percent-encoded (a tag name
        may hold ``/``)."""
        return "/" + "/".join(quote(part, safe="") for part in ("repositories", self.workspace, self.repo_slug, *rest))

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        url: str | None = None,
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        try:
            response = self._client.request(method, url or path.lstrip("/"), params=params, json=json)
        except httpx.HTTPError as error:
            raise map_bitbucket_error(method, path, error) from None
        self._observe(response.headers)
        if response.status_code >= 400 and response.status_code not in allow:
            raise map_bitbucket_error(method, path, response) from None
        if 300 <= response.status_code < 400:
            raise PlatformRejected(f"Bitbucket {method} {path} answered {response.status_code} (a redirect).")
        return response

    def _json(self, method: str, path: str, *, json: Any = None) -> Any:
        return self._decode(self._send(method, path, json=json), method, path)

    @staticmethod
    def _decode(response: httpx.Response, method: str, path: str) -> Any:
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise PlatformUnavailable(
                f"Bitbucket {method} {path} answered {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            ) from None

    def _pages(self, path: str, params: dict[str, str]) -> list[Any]:
        """Every page of a paginated answer, following ``next`` on the API's own host."""
        pages = [self._decode(self._send("GET", path, params=params), "GET", path)]
        seen: set[str] = set()
        while len(pages) < _MAX_PAGES:
            following = pages[-1].get("next") if isinstance(pages[-1], dict) else None
            if not isinstance(following, str) or not following or following in seen:
                break
            seen.add(following)
            base, target = self._client.base_url, httpx.URL(following)
            if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
                raise PlatformRejected(f"Bitbucket GET {path}: the next-page link points away from {base.host}.")
            pages.append(self._decode(self._send("GET", path, url=following), "GET", path))
        return pages

    def _observe(self, headers: httpx.Headers) -> None:
        limit = _int_header(headers, "x-ratelimit-limit")
        if limit is None:
            return
        # Bitbucket sends no remaining count nor reset time (the budget is a rolling hour);
        # X-RateLimit-NearLimit only says whether less than a fifth of it is left.
        self._budget = RateBudget(
            limit=limit, remaining=None, reset_at=None, resource=headers.get("x-ratelimit-resource")
        )
