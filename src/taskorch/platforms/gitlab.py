"""The GitLab adapter: one project's issues, notes, links, milestones, boards, releases and time
tracking, on GitLab.com or a self-managed instance.

It implements :class:`~taskorch.platforms.base.Platform` over GitLab's REST API (v4) through an
injected :class:`gitlab.Gitlab` client (python-gitlab), whose ``requests`` session the caller may
hand in (tests bind one to the local stand-in). Like the GitHub adapter it sends raw requests
(``Gitlab.http_request``) rather than python-gitlab's managers, because the sync engine needs the
response headers (``Link``, ``X-Next-Page``, ``RateLimit-*``, ``Retry-After``) and GitLab's JSON
as it is.

What it must never do:

* retry, sleep or back off: every request is sent with ``obey_rate_limit=False``,
  ``retry_transient_errors=False`` and ``max_retries=0`` (python-gitlab would otherwise sleep and
  retry on 429 and 5xx), and every failure becomes one :class:`~taskorch.errors.PlatformError`
  subclass (see :func:`map_gitlab_error`); the engine decides what to do;
* let the token out: it lives only inside the python-gitlab client (sent as ``PRIVATE-TOKEN``, or
  ``Authorization: Bearer`` for an OAuth token); no message, ``repr`` or exception chain built here
  carries a header or the token.

How each Platform method maps to GitLab (``:id`` is the URL-encoded project path, so nested
groups such as ``group/sub/project`` work; the neutral issue ``number`` is GitLab's ``iid``, the
neutral ``id`` GitLab's global ``id``, a milestone's neutral ``number`` its global ``id``):

====================  =====================================================================
create_issue          ``POST /projects/:id/issues`` (+ ``PUT`` with ``state_event=close`` to
                      create it closed); assignees by user id (``GET /users?username=``, cached)
update_issue          ``PUT /projects/:id/issues/:iid`` (``state_event`` close/reopen)
get_issue             ``GET /projects/:id/issues/:iid``
list_issues_since     ``GET /projects/:id/issues?updated_after=&order_by=updated_at&sort=asc``
                      ``&per_page=100``, following ``Link: rel="next"`` / ``X-Next-Page``
add_comment           ``POST /projects/:id/issues/:iid/notes``
add_sub_issue         fallback for child items: ``POST /projects/:id/issues/:iid/links``
                      (``relates_to``) plus a task list block in the parent's description
add_blocking_link     ``POST .../links`` with ``link_type=blocks`` (falls back to ``relates_to``)
add_dependency        ``add_blocking_link(blocking, blocked)``
remove_dependency     ``GET .../links`` then ``DELETE .../links/:issue_link_id`` of the
                      ``is_blocked_by`` link
list_dependencies     ``GET .../links``, the ``is_blocked_by`` ones
list/create/update    ``GET/POST/PUT /projects/:id/milestones[/:milestone_id]``
_milestone            (``state_event`` close/activate; ``due_date`` is a date)
get_release_by_tag    ``GET /projects/:id/releases/:tag_name``
create_release        ``POST /projects/:id/releases`` (``ref`` creates the tag; ``milestones``)
update_release        ``PUT /projects/:id/releases/:tag_name``
create_board          ``POST /projects/:id/boards`` + a label and a list per ``status::`` label
                      (``POST /projects/:id/labels``, ``POST .../boards/:board_id/lists``)
get_board             ``GET /projects/:id/boards/:board_id``
add_to_board          no request: every open issue of the project is on its boards
set_board_status      ``PUT /projects/:id/issues/:iid`` with ``add_labels``/``remove_labels``
                      (exactly one ``status::`` label remains), or ``state_event=close`` for
                      the Closed list
set_time_estimate     ``POST /projects/:id/issues/:iid/time_estimate?duration=2h30m``
add_spent_time        ``POST /projects/:id/issues/:iid/add_spent_time?duration=...``
rate_budget           ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` / ``-Name`` headers
====================  =====================================================================

What GitLab (Free tier) cannot do, and how it is reported:

* **child items**: an issue cannot be the child of another issue over REST (the work item
  hierarchy gives issues only *task* children, and epics are a paid feature), so
  :meth:`GitLabPlatform.add_sub_issue` always uses the fallback and says so in
  :attr:`GitLabPlatform.SUB_ISSUES`: a ``relates_to`` link plus a line ``- [ ] #<iid>`` in a block
  of the parent's description that this adapter owns (and strips from the description it
  reports, so the engine never sees it as a remote edit);
* **blocking links** (``blocks``) are a paid feature: on Free GitLab answers 403/400; the link is
  then made ``relates_to`` and :meth:`GitLabPlatform.add_blocking_link` returns ``"relates_to"``;
* **scoped labels** are plain labels on Free: GitLab does not remove the other label of the same
  scope, so the adapter computes the label set itself (see :func:`with_scoped_label`) and refuses
  a label set holding two labels of one scope;
* **several assignees** and **weight** are paid features that Free silently ignores: every create
  and update compares what GitLab stored with what was sent and raises
  :class:`~taskorch.errors.PlatformRejected` naming the field (the same check catches any other
  ignored parameter, such as an unknown ``milestone_id`` or user);
* **conditional requests**: GitLab's REST API does not answer 304 to ``If-None-Match`` on issue
  lists; the adapter still sends it when given an ETag (and honours a 304), but a quiet pull costs
  one request: one page holding only what changed at or after the watermark;
* **releases** have no numeric id, no draft and no pre-release flag: :class:`RemoteRelease.id`
  is a number this adapter hands out per tag (valid for the adapter's lifetime), ``draft`` and
  ``prerelease`` are always false; **issues** have no ``state_reason`` (always ``None``; a
  cancelled task is told by its ``status::cancelled`` label).

GitLab documentation followed:

* REST basics, pagination, encoding of paths: https://docs.gitlab.com/api/rest/
* issues: https://docs.gitlab.com/api/issues/
* notes: https://docs.gitlab.com/api/notes/
* issue links: https://docs.gitlab.com/api/issue_links/
* labels and scoped labels: https://docs.gitlab.com/api/labels/ and
  https://docs.gitlab.com/user/project/labels/#scoped-labels
* milestones: https://docs.gitlab.com/api/milestones/
* issue boards and lists: https://docs.gitlab.com/api/boards/
* releases: https://docs.gitlab.com/api/releases/
* time tracking: https://docs.gitlab.com/api/issues/#set-a-time-estimate-for-an-issue
* users: https://docs.gitlab.com/api/users/#list-users
* rate limits: https://docs.gitlab.com/user/gitlab_com/#rate-limits-on-gitlabcom and
  https://docs.gitlab.com/security/rate_limits/
"""

from __future__ import annotations

import email.utils
import itertools
import math
import re
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

from taskorch.errors import (
    AuthenticationFailed,
    InvalidInput,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
)
from taskorch.platforms.base import (
    UNSET,
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
)

if TYPE_CHECKING:
    import gitlab
    import requests

__all__ = [
    "DEFAULT_BOARD_STATUSES",
    "DEFAULT_URL",
    "DEFAULT_WAIT_SECONDS",
    "STATUS_SCOPE",
    "TOKEN_VARIABLE",
    "URL_VARIABLE",
    "GitLabPlatform",
    "IssueExtras",
    "format_duration",
    "issue_from_json",
    "map_gitlab_error",
    "parse_project_path",
    "scope_of",
    "split_task_list",
    "with_scoped_label",
]

DEFAULT_URL = "https://gitlab.com"
"""GitLab.com; a self-managed instance is named by :data:`URL_VARIABLE`."""

URL_VARIABLE = "TASKORCH_GITLAB_URL"
"""The environment variable naming a self-managed GitLab's base URL (e.g. https://gitlab.example.com)."""

TOKEN_VARIABLE = "GITLAB_TOKEN"
"""The environment variable the token is read from by default."""

DEFAULT_WAIT_SECONDS = 60.0
"""How long to wait on a 429 that names no time."""

STATUS_SCOPE = "status::"
"""The scope of the labels that carry a task's status (``status::in progress``)."""

DEFAULT_BOARD_STATUSES: tuple[str, ...] = ("to do", "in progress", "blocked")
"""The ``status::`` lists a new board gets, left to right (the brief's status table; completed
and cancelled issues are closed and sit in the board's built-in Closed list)."""

SUB_ISSUE_FALLBACK = "linked issues plus a task list in the parent's description"

_MESSAGE_LIMIT = 300
_MAX_PAGES = 10_000
_TASK_LIST_START = "<!-- taskorch:subtasks -->"
_TASK_LIST_END = "<!-- /taskorch:subtasks -->"
_PROJECT_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")
_CLOSED_OPTIONS = frozenset({"closed", "done"})
_OPEN_OPTIONS = frozenset({"open", "backlog"})


# ---------------------------------------------------------------------------------------------
# Small public helpers
# ---------------------------------------------------------------------------------------------


def parse_project_path(project: str) -> str:
    """``"group/sub/project"`` (or its https URL, with or without ``.git``, or an SSH remote) ->
    the full path ``"group/sub/project"``. Nested groups are allowed; at least two parts.

    Raises :class:`~taskorch.errors.InvalidInput`.
    """
    text = project.strip()
    if text.startswith(("https://", "http://")):
        text = urlsplit(text).path
    elif text.startswith("git@"):
        text = text.split(":", 1)[-1]
    elif text.startswith("gitlab:"):
        text = text[len("gitlab:") :]
    text = text.removesuffix(".git").strip("/")
    text = text.split("/-/", 1)[0]
    parts = text.split("/")
    if len(parts) < 2 or not all(_PROJECT_PART.match(part) for part in parts):
        raise InvalidInput(
            "repository",
            f"{project!r} is not a GitLab project path.",
            "pass e.g. 'group/sub/project' or its https URL.",
        )
    return "/".join(parts)


def scope_of(label: str) -> str | None:
    """The scope of a scoped label (``"status::in progress"`` -> ``"status::"``; GitLab takes the
    part up to the *last* ``::``), or ``None`` for a plain label."""
    head, separator, _ = label.rpartition("::")
    return f"{head}::".casefold() if separator and head else None


def with_scoped_label(labels: Sequence[str], label: str) -> tuple[str, ...]:
    """``labels`` with ``label`` added and every other label of its scope removed (compared
    without case), sorted: what GitLab's paid tiers do by themselves and Free does not."""
    scope = scope_of(label)
    kept = [
        name for name in labels if name.casefold() != label.casefold() and (scope is None or scope_of(name) != scope)
    ]
    return labels_tuple([*kept, label])


def split_task_list(description: str) -> tuple[str, list[int]]:
    """A description -> (the text without the adapter's task list block, the child iids it lists).

    The block is what :meth:`GitLabPlatform.add_sub_issue` appends: ``\\n\\n`` then the block at
    the end of the description; one moved elsewhere by a person is still found and removed.
    """
    start = description.find(_TASK_LIST_START)
    end = description.find(_TASK_LIST_END, start)
    if start < 0 or end < 0:
        return description, []
    block = description[start : end + len(_TASK_LIST_END)]
    children = [int(iid) for iid in re.findall(r"^- \[[ xX]\] #(\d+)[ \t]*$", block, re.M)]
    before, after = description[:start], description[end + len(_TASK_LIST_END) :]
    if not after:
        return before.removesuffix("\n\n") if before.endswith("\n\n") else before, children
    return before + after.lstrip("\n"), children


def _with_task_list(description: str, children: Sequence[int]) -> str:
    """``description`` with the task list block of ``children`` at its end (none: unchanged)."""
    if not children:
        return description
    lines = "\n".join(f"- [ ] #{iid}" for iid in children)
    block = f"{_TASK_LIST_START}\n**Subtasks**\n\n{lines}\n{_TASK_LIST_END}"
    return f"{description}\n\n{block}" if description else block


def format_duration(seconds: int) -> str:
    """Seconds -> GitLab's duration text in hours, minutes and seconds (``9000`` -> ``"2h30m"``).

    Days and weeks are avoided on purpose: GitLab counts a day as 8 hours. Raises
    :class:`~taskorch.errors.InvalidInput` for a negative or zero value.
    """
    if seconds <= 0:
        raise InvalidInput("duration", f"{seconds} s is not a positive duration.")
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")


@dataclass(frozen=True)
class IssueExtras:
    """GitLab issue fields beyond :class:`IssueChanges`; :data:`~taskorch.platforms.base.UNSET`
    leaves one as it is.

    ``due_date`` a calendar date (``None`` clears it); ``weight`` a non-negative integer (a paid
    feature; ``None`` clears it); ``confidential`` visible only to project members when true.
    """

    due_date: date | Unset | None = UNSET
    weight: int | Unset | None = UNSET
    confidential: bool | Unset = UNSET


# ---------------------------------------------------------------------------------------------
# Error mapping
# ---------------------------------------------------------------------------------------------


def map_gitlab_error(
    method: str,
    path: str,
    error: BaseException,
    headers: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
) -> PlatformError:
    """Turn a failed GitLab call into the one :class:`PlatformError` the engine understands.

    ``method``/``path`` name the call in the message (``"POST"``, ``"/projects/g%2Fp/issues"``);
    ``headers`` are the failed response's headers when there was one; ``now`` is the clock for
    ``RateLimit-Reset`` (default: the current time). The rules:

    * 429 -> :class:`RateLimited`, waiting ``Retry-After`` seconds, else until ``RateLimit-Reset``,
      else 60 s (at least 1 s);
    * 401 and 403 -> :class:`AuthenticationFailed`;
    * 5xx, timeouts, refused or dropped connections, a 2xx body that is not JSON ->
      :class:`PlatformUnavailable`;
    * any other 4xx (and a redirect of a write) -> :class:`PlatformRejected`, with GitLab's
      ``message``/``error`` (field errors flattened: ``title has already been taken``).

    The message never carries a header, the request's credentials or the token.
    """
    import gitlab.exceptions
    import requests

    where = f"GitLab {method} {path}"
    clock = now or datetime.now(UTC)
    if isinstance(error, gitlab.exceptions.GitlabParsingError):
        return PlatformUnavailable(f"{where} answered with a body that is not JSON.")
    if isinstance(error, gitlab.exceptions.RedirectError):
        return PlatformRejected(f"{where} was redirected; check the GitLab URL (use https and the exact host).")
    if isinstance(error, gitlab.exceptions.GitlabError) and error.response_code is not None:
        return _error_from_response(where, int(error.response_code), error.error_message, headers or {}, clock)
    if isinstance(error, requests.Timeout):
        return PlatformUnavailable(f"{where} timed out; GitLab may be slow or unreachable.")
    if isinstance(error, requests.RequestException | OSError):
        return PlatformUnavailable(f"{where} could not reach GitLab ({type(error).__name__}); the connection failed.")
    return PlatformUnavailable(f"{where} failed: {type(error).__name__}.")


def _error_from_response(
    where: str, status: int, message: Any, headers: Mapping[str, str], now: datetime
) -> PlatformError:
    text = f"{where} answered {status}: {_gitlab_message(message) or 'no message'}"
    if status == 429:
        wait = _wait_seconds(headers, now)
        return RateLimited(f"{text} (rate limited; retry after {wait:g} s)", retry_after=wait, status=status)
    if status in (401, 403):
        return AuthenticationFailed(
            f"{text}. Check that the GitLab token is valid, has the 'api' scope and may use this project.",
            status=status,
        )
    if status >= 500:
        return PlatformUnavailable(text, status=status)
    return PlatformRejected(text, status=status)


def _wait_seconds(headers: Mapping[str, str], now: datetime) -> float:
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after:
        seconds = _parse_retry_after(retry_after, now)
        if seconds is not None:
            return max(1.0, seconds)
    reset = _int(lowered.get("ratelimit-reset"))
    if reset is not None:
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


def _gitlab_message(message: Any) -> str:
    """GitLab's ``message`` is a string, or field errors ``{"title": ["has already been taken"]}``."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    if isinstance(message, dict):
        parts = []
        for key, value in message.items():
            values = value if isinstance(value, list) else [value]
            parts.append(f"{key} {', '.join(str(v) for v in values)}")
        return _clip("; ".join(parts))
    if isinstance(message, list):
        return _clip("; ".join(str(item) for item in message))
    return _clip(str(message or ""))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _int(value: str | None) -> int | None:
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
    """GitLab's ``2024-05-01T10:00:00.123Z`` -> an aware UTC datetime (``None`` stays ``None``)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _format_time(value: datetime) -> str:
    """An aware (or naive, taken as UTC) datetime -> ``YYYY-MM-DDTHH:MM:SS.fffZ``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def issue_from_json(data: Mapping[str, Any]) -> RemoteIssue:
    """An issue object of GitLab's Issues API -> :class:`RemoteIssue`.

    ``number`` is the ``iid``, ``id`` the global id, ``node_id`` the GraphQL global id
    (``gid://gitlab/Issue/<id>``), ``state`` ``opened`` -> ``open``, ``labels`` sorted names,
    ``assignees`` sorted usernames, ``milestone`` the milestone's global ``id``, ``body`` the
    ``description`` without this adapter's task list block, ``url`` the ``web_url``.
    Raises ``KeyError``/``TypeError``/``ValueError`` on a malformed object.
    """
    state = {"opened": "open", "closed": "closed"}.get(str(data["state"]))
    if state is None:
        raise ValueError(f"unknown issue state {data['state']!r}")
    labels = [label["name"] if isinstance(label, dict) else str(label) for label in data.get("labels") or []]
    assignees = [person["username"] for person in data.get("assignees") or [] if isinstance(person, dict)]
    milestone = data.get("milestone")
    updated_at = _parse_time(data["updated_at"])
    if updated_at is None:
        raise ValueError("issue without updated_at")
    body, _children = split_task_list(str(data.get("description") or ""))
    return RemoteIssue(
        number=int(data["iid"]),
        id=int(data["id"]),
        node_id=f"gid://gitlab/Issue/{int(data['id'])}",
        url=str(data.get("web_url") or ""),
        title=str(data["title"]),
        body=body,
        state="open" if state == "open" else "closed",
        state_reason=None,
        labels=labels_tuple(labels),
        assignees=labels_tuple(assignees),
        milestone=int(milestone["id"]) if isinstance(milestone, dict) else None,
        updated_at=updated_at,
    )


def milestone_from_json(data: Mapping[str, Any]) -> RemoteMilestone:
    """A milestone object -> :class:`RemoteMilestone` (``number`` is the global ``id``; ``active``
    -> ``open``; ``due_date`` ``YYYY-MM-DD`` -> midnight UTC)."""
    state = {"active": "open", "closed": "closed"}.get(str(data["state"]))
    if state is None:
        raise ValueError(f"unknown milestone state {data['state']!r}")
    due = data.get("due_date")
    return RemoteMilestone(
        number=int(data["id"]),
        title=str(data["title"]),
        description=str(data.get("description") or ""),
        state="open" if state == "open" else "closed",
        due_on=datetime.combine(date.fromisoformat(str(due)), datetime.min.time(), UTC) if due else None,
        url=str(data.get("web_url") or ""),
    )


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------


class GitLabPlatform:
    """One GitLab project, through an injected :class:`gitlab.Gitlab` client.

    ``GitLabPlatform(client, "group/sub/project", per_page=100)``; or :meth:`connect` to build the
    client from a token and an optional ``requests.Session``. Every method raises only
    :class:`~taskorch.errors.PlatformError` subclasses for platform failures (and
    :class:`~taskorch.errors.InvalidInput` for a bad argument).
    """

    name = "gitlab"
    #: Sub-issues through the fallback (a link plus a task list), scoped status labels kept to one
    #: per scope by the adapter itself (so Free behaves as the paid tiers), boards of label lists.
    #: Issue lists carry no ETag: a quiet pull is one ``updated_after`` request instead.
    capabilities = Capabilities(
        sub_issues=True,
        issue_dependencies=True,
        scoped_labels=True,
        boards=True,
        time_tracking=True,
        releases=True,
        milestones=True,
    )
    SUB_ISSUES: ClassVar[str] = SUB_ISSUE_FALLBACK
    """How :meth:`add_sub_issue` makes a child: always the fallback (see the module docstring)."""

    def __init__(self, client: gitlab.Gitlab, project: str, *, per_page: int = 100) -> None:
        self.repository = parse_project_path(project)
        host = urlsplit(str(client.url)).hostname or "gitlab.com"
        self.ref = RepositoryRef(platform="gitlab", host=host, path=self.repository)
        if not 1 <= per_page <= 100:
            raise InvalidInput("per_page", f"{per_page} is outside 1..100.", "GitLab pages hold at most 100 items.")
        self.per_page = per_page
        self._client = client
        self._project_id = quote(self.repository, safe="")
        self._budget = RateBudget(limit=None, remaining=None, reset_at=None)
        self._user_ids: dict[str, int] = {}
        self._project_number: int | None = None
        self._release_ids = itertools.count(1)
        self._release_tags: dict[int, str] = {}
        self._local = threading.local()
        self._owns_session = False
        self._hook = self._record_response
        hooks: MutableMapping[str, Any] = client.session.hooks
        hooks.setdefault("response", []).append(self._hook)

    @classmethod
    def connect(
        cls,
        token: str,
        project: str,
        *,
        url: str = DEFAULT_URL,
        oauth: bool = False,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        per_page: int = 100,
    ) -> GitLabPlatform:
        """Build a python-gitlab client for ``token`` and ``project`` (``"group/sub/project"`` or its URL).

        ``url`` is the instance's base URL (``https://gitlab.com``, or a self-managed one); the API
        is ``{url}/api/v4``. The token goes out as ``PRIVATE-TOKEN`` (personal, project or group
        access token), or as ``Authorization: Bearer`` with ``oauth=True``. ``session`` is the
        ``requests.Session`` to send through (a new one by default; an injected one stays the
        caller's to close); ``timeout`` is in seconds; ``per_page`` the page size of lists (1..100).
        The client never retries. Raises
        :class:`AuthenticationFailed` for an empty token and :class:`InvalidInput` for a malformed
        project or URL.
        """
        import gitlab
        import requests

        from taskorch import __version__

        path = parse_project_path(project)
        if not token or not token.strip():
            raise AuthenticationFailed("No GitLab token was given; set GITLAB_TOKEN before enabling GitLab sync.")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InvalidInput("url", f"{url!r} is not a GitLab base URL.", "pass e.g. https://gitlab.example.com.")
        owned = session is None
        http = session or requests.Session()
        client = gitlab.Gitlab(
            url.strip().rstrip("/"),
            timeout=timeout,
            user_agent=f"taskorch/{__version__}",
            retry_transient_errors=False,
            private_token=None if oauth else token.strip(),
            oauth_token=token.strip() if oauth else None,
            session=http,
        )
        platform = cls(client, path, per_page=per_page)
        platform._owns_session = owned
        return platform

    @classmethod
    def from_environment(
        cls,
        project: str,
        *,
        environ: Mapping[str, str],
        token_variable: str = TOKEN_VARIABLE,
        session: requests.Session | None = None,
    ) -> GitLabPlatform:
        """:meth:`connect` with the token from ``environ[token_variable]`` (default ``GITLAB_TOKEN``)
        and the base URL from ``environ["TASKORCH_GITLAB_URL"]`` (default https://gitlab.com).
        A missing token raises :class:`AuthenticationFailed` naming the variable, never a value."""
        token = environ.get(token_variable, "")
        if not token.strip():
            raise AuthenticationFailed(
                f"{token_variable} is not set; put a GitLab access token with the 'api' scope there."
            )
        url = environ.get(URL_VARIABLE, "").strip() or DEFAULT_URL
        return cls.connect(token, project, url=url, session=session)

    def __repr__(self) -> str:
        return f"GitLabPlatform(repository={self.repository!r}, url={self._client.url!r})"

    # -- issues ---------------------------------------------------------------------------------

    def create_issue(self, changes: IssueChanges, *, extras: IssueExtras | None = None) -> RemoteIssue:
        """POST /projects/:id/issues ("New issue") with ``title``, ``description``, ``labels``
        (comma-separated), ``assignee_ids``, ``milestone_id`` and the ``extras``.

        ``changes.title`` is required. GitLab creates every issue open, so ``state="closed"`` costs
        a second mutation (``state_event=close``). What GitLab stored is compared with what was
        sent: a silently ignored field raises :class:`PlatformRejected` naming it and the new
        issue's number.
        """
        if isinstance(changes.title, Unset) or not changes.title.strip():
            raise InvalidInput("title", "an issue needs a non-empty title.")
        payload = self._issue_payload(changes, extras, description=None)
        payload.pop("state_event", None)
        if payload.get("due_date", "") is None:  # a new issue has none: nothing to clear
            del payload["due_date"]
        path = self._project_path("issues")
        data = self._json("POST", path, post_data=payload)
        issue = self._verified(data, payload, "POST", path, created=True)
        if changes.state == "closed":
            return self.update_issue(issue.number, IssueChanges(state="closed"))
        return issue

    def update_issue(self, number: int, changes: IssueChanges, *, extras: IssueExtras | None = None) -> RemoteIssue:
        """PUT /projects/:id/issues/:iid ("Edit an issue") with only the set fields
        (``state`` -> ``state_event`` ``close``/``reopen``; ``milestone=None`` -> ``milestone_id=0``;
        ``assignees=()`` -> ``assignee_ids=0``).

        A new ``body`` keeps the adapter's task list block of the current description (one read
        first). An empty change sends nothing and reads the issue. Ignored fields raise
        :class:`PlatformRejected` naming them.
        """
        description: str | None = None
        if not isinstance(changes.body, Unset):
            current = self._raw_issue(number)
            _text, children = split_task_list(str(current.get("description") or ""))
            description = _with_task_list(changes.body, children)
        payload = self._issue_payload(changes, extras, description=description)
        if not payload:
            return self.get_issue(number)
        path = self._project_path(f"issues/{int(number)}")
        return self._verified(self._json("PUT", path, post_data=payload), payload, "PUT", path, created=False)

    def get_issue(self, number: int) -> RemoteIssue:
        """GET /projects/:id/issues/:iid ("Single project issue")."""
        path = self._project_path(f"issues/{int(number)}")
        return self._issue(self._raw_issue(number), "GET", path)

    def list_issues_since(self, since: datetime | None, etag: str | None) -> IssueListing:
        """GET /projects/:id/issues?order_by=updated_at&sort=asc&per_page=N[&updated_after=T]
        ("List project issues"), open and closed, oldest change first.

        ``since`` is sent as ``YYYY-MM-DDTHH:MM:SS.fffZ`` (naive = UTC); GitLab includes issues
        updated at exactly that time. With ``etag`` the first page carries ``If-None-Match``; a 304
        gives ``IssueListing(issues=[], etag=etag, not_modified=True, requests=1)`` (GitLab's REST
        API does not send one today). Pages are followed by ``Link: rel="next"``, else
        ``X-Next-Page``; ``etag`` is the first page's ``ETag`` (or ``None``), ``requests`` the
        number of pages fetched. A quiet pull costs one request.
        """
        path = self._project_path("issues")
        query: dict[str, Any] = {"order_by": "updated_at", "sort": "asc", "per_page": self.per_page}
        if since is not None:
            query["updated_after"] = _format_time(since)
        headers = {"If-None-Match": etag} if etag else None
        try:
            response = self._send("GET", path, query=query, headers=headers)
        except PlatformRejected as error:
            if error.status == 304:
                return IssueListing(issues=[], etag=etag, not_modified=True, requests=1)
            raise
        first_etag = response.headers.get("ETag")
        pages = self._pages("GET", path, query, response)
        issues = [self._issue(item, "GET", path) for page in pages for item in self._items(page, "GET", path)]
        return IssueListing(issues=issues, etag=first_etag, not_modified=False, requests=len(pages))

    def add_comment(self, number: int, body: str) -> None:
        """POST /projects/:id/issues/:iid/notes ``{"body": body}`` ("Create new issue note")."""
        self._send("POST", self._project_path(f"issues/{int(number)}/notes"), post_data={"body": body})

    # -- links ----------------------------------------------------------------------------------

    def add_sub_issue(self, parent_number: int, child: RemoteIssue) -> None:
        """Make ``child`` a subtask of ``parent_number`` the way Free GitLab can (see
        :attr:`SUB_ISSUES`): a ``relates_to`` link (POST /projects/:id/issues/:iid/links; an
        existing link, answered 409, counts as done), then ``- [ ] #<child>`` in the task list block
        of the parent's description unless it is there already (a read and at most one PUT).
        Idempotent; two or three requests.
        """
        self._link(parent_number, child.number, "relates_to")
        current = self._raw_issue(parent_number)
        description = str(current.get("description") or "")
        text, children = split_task_list(description)
        if child.number in children:
            return
        wanted = _with_task_list(text, [*children, child.number])
        path = self._project_path(f"issues/{int(parent_number)}")
        stored = self._json("PUT", path, post_data={"description": wanted})
        if not isinstance(stored, dict) or str(stored.get("description") or "") != wanted:
            raise PlatformRejected(f"GitLab PUT {path} did not store the task list of #{parent_number}.")

    def add_blocking_link(self, blocking: int, blocked: int) -> Literal["blocks", "relates_to"]:
        """Record that issue ``blocking`` blocks issue ``blocked``: POST /projects/:id/issues/:blocking/links
        with ``link_type=blocks``. Blocking links are a paid feature: when GitLab answers 403 or 400
        to it, the link is made ``relates_to`` instead. Returns the link type that was stored
        (an existing link, answered 409, counts as stored). One or two mutations.
        """
        try:
            self._link(blocking, blocked, "blocks")
        except (AuthenticationFailed, PlatformRejected) as error:
            if error.status not in (400, 403):
                raise
            self._link(blocking, blocked, "relates_to")
            return "relates_to"
        return "blocks"

    def add_dependency(self, blocked_number: int, blocking: RemoteIssue) -> str | None:
        """Issue ``blocking`` blocks ``blocked_number``: :meth:`add_blocking_link`. Returns ``None``
        for a ``blocks`` link, or the sentence saying the link was stored as ``relates_to`` (Free)."""
        stored = self.add_blocking_link(blocking.number, blocked_number)
        if stored == "blocks":
            return None
        return (
            f"GitLab stored #{blocking.number} -> #{blocked_number} as a relates_to link: blocking links need a paid "
            "tier, so the dependency is kept by taskorch only"
        )

    def remove_dependency(self, blocked_number: int, blocking: RemoteIssue) -> None:
        """GET /projects/:id/issues/:blocked/links, then DELETE /projects/:id/issues/:blocked/links/:issue_link_id
        ("Delete an issue link") of the ``is_blocked_by`` link to ``blocking`` when there is one.
        A ``relates_to`` link (the Free fallback, or a sub-issue's) is left alone."""
        path = self._project_path(f"issues/{int(blocked_number)}/links")
        for item in self._items(self._json("GET", path), "GET", path):
            if item.get("link_type") == "is_blocked_by" and item.get("iid") == blocking.number:
                try:
                    self._send("DELETE", f"{path}/{int(item['issue_link_id'])}")
                except PlatformRejected as error:
                    if error.status != 404:
                        raise

    def list_dependencies(self, number: int) -> list[int]:
        """The iids of the issues linked to ``number`` as ``is_blocked_by`` (:meth:`list_links`)."""
        return [iid for iid, kind in self.list_links(number) if kind == "is_blocked_by"]

    def list_links(self, number: int) -> list[tuple[int, str]]:
        """GET /projects/:id/issues/:iid/links ("List issue relations") -> ``[(iid, link_type)]`` of
        this project's linked issues, in GitLab's order."""
        path = self._project_path(f"issues/{int(number)}/links")
        links: list[tuple[int, str]] = []
        for item in self._items(self._json("GET", path), "GET", path):
            if item.get("project_id") is not None and "iid" in item:
                links.append((int(item["iid"]), str(item.get("link_type") or "relates_to")))
        return links

    def _link(self, source: int, target: int, link_type: str) -> None:
        path = self._project_path(f"issues/{int(source)}/links")
        payload = {
            "target_project_id": self._numeric_project_id(),
            "target_issue_iid": int(target),
            "link_type": link_type,
        }
        try:
            self._send("POST", path, post_data=payload)
        except PlatformRejected as error:
            if error.status != 409:  # "Issue(s) already assigned": the link exists
                raise

    # -- time tracking --------------------------------------------------------------------------

    def set_time_estimate(self, number: int, seconds: int) -> int:
        """POST /projects/:id/issues/:iid/time_estimate?duration=2h30m ("Set a time estimate for an
        issue"); ``seconds`` > 0. Returns GitLab's stored ``time_estimate`` in seconds; a different
        value than sent raises :class:`PlatformRejected`."""
        path = self._project_path(f"issues/{int(number)}/time_estimate")
        data = self._json("POST", path, query={"duration": format_duration(seconds)})
        stored = int(data.get("time_estimate") or 0) if isinstance(data, dict) else -1
        if stored != int(seconds):
            raise PlatformRejected(f"GitLab POST {path} stored an estimate of {stored} s instead of {seconds} s.")
        return stored

    def add_spent_time(self, number: int, seconds: int, summary: str | None = None) -> int:
        """POST /projects/:id/issues/:iid/add_spent_time?duration=...[&summary=...] ("Add spent time
        for an issue"); returns the issue's ``total_time_spent`` in seconds afterwards."""
        path = self._project_path(f"issues/{int(number)}/add_spent_time")
        query: dict[str, Any] = {"duration": format_duration(seconds)}
        if summary:
            query["summary"] = summary
        data = self._json("POST", path, query=query)
        return int(data.get("total_time_spent") or 0) if isinstance(data, dict) else 0

    # -- milestones -----------------------------------------------------------------------------

    def list_milestones(self) -> list[RemoteMilestone]:
        """GET /projects/:id/milestones?per_page=N (active and closed), every page."""
        path = self._project_path("milestones")
        query: dict[str, Any] = {"per_page": self.per_page}
        pages = self._pages("GET", path, query, self._send("GET", path, query=query))
        return [self._milestone(item, "GET", path) for page in pages for item in self._items(page, "GET", path)]

    def create_milestone(self, title: str, description: str, due_on: datetime | None) -> RemoteMilestone:
        """POST /projects/:id/milestones ``{"title", "description", "due_date"?: "YYYY-MM-DD"}``
        (the UTC date of ``due_on``)."""
        payload: dict[str, Any] = {"title": title, "description": description}
        if due_on is not None:
            payload["due_date"] = _utc_date(due_on)
        path = self._project_path("milestones")
        return self._milestone(self._json("POST", path, post_data=payload), "POST", path)

    def update_milestone(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        due_on: datetime | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> RemoteMilestone:
        """PUT /projects/:id/milestones/:milestone_id (``number`` is the milestone's ``id``) with the
        given fields; ``state`` -> ``state_event`` ``activate``/``close``. With nothing to change
        it reads the milestone (GET) instead."""
        payload: dict[str, Any] = {}
        if title is not None:
            payload["title"] = title
        if description is not None:
            payload["description"] = description
        if due_on is not None:
            payload["due_date"] = _utc_date(due_on)
        if state is not None:
            payload["state_event"] = "close" if state == "closed" else "activate"
        path = self._project_path(f"milestones/{int(number)}")
        method = "PUT" if payload else "GET"
        return self._milestone(self._json(method, path, post_data=payload or None), method, path)

    # -- releases -------------------------------------------------------------------------------

    def get_release_by_tag(self, tag: str) -> RemoteRelease | None:
        """GET /projects/:id/releases/:tag_name ("Get a release by a tag name"); 404 -> None."""
        path = self._project_path(f"releases/{quote(tag, safe='')}")
        try:
            data = self._json("GET", path)
        except PlatformRejected as error:
            if error.status == 404:
                return None
            raise
        return self._release(data, "GET", path)

    def create_release(
        self,
        tag: str,
        *,
        name: str,
        body: str,
        target_commitish: str | None,
        prerelease: bool,
        milestones: Sequence[str] = (),
    ) -> RemoteRelease:
        """POST /projects/:id/releases ``{"tag_name", "name", "description", "ref"?, "milestones"?}``
        ("Create a release"). ``target_commitish`` becomes ``ref`` (GitLab then creates the tag if
        it does not exist); ``milestones`` are milestone titles. GitLab has no pre-release flag:
        ``prerelease`` is not sent and the result says ``prerelease=False``. A release that exists
        already is answered 409 (:class:`PlatformRejected`)."""
        payload: dict[str, Any] = {"tag_name": tag, "name": name, "description": body}
        if target_commitish:
            payload["ref"] = target_commitish
        if milestones:
            payload["milestones"] = list(milestones)
        path = self._project_path("releases")
        return self._release(self._json("POST", path, post_data=payload), "POST", path)

    def update_release(
        self, release_id: int, *, name: str, body: str, milestones: Sequence[str] | None = None
    ) -> RemoteRelease:
        """PUT /projects/:id/releases/:tag_name ("Update a release") ``{"name", "description",
        "milestones"?}``. ``release_id`` is the id this adapter gave the release
        (:meth:`get_release_by_tag` or :meth:`create_release`); an unknown one raises
        :class:`PlatformRejected`."""
        tag = self._release_tags.get(int(release_id))
        if tag is None:
            raise PlatformRejected(
                f"GitLab releases are named by tag; release id {release_id} was not read by this connection. "
                "Look the release up by its tag first."
            )
        return self.update_release_by_tag(tag, name=name, body=body, milestones=milestones)

    def update_release_by_tag(
        self, tag: str, *, name: str, body: str, milestones: Sequence[str] | None = None
    ) -> RemoteRelease:
        """PUT /projects/:id/releases/:tag_name; see :meth:`update_release`."""
        payload: dict[str, Any] = {"name": name, "description": body}
        if milestones is not None:
            payload["milestones"] = list(milestones)
        path = self._project_path(f"releases/{quote(tag, safe='')}")
        return self._release(self._json("PUT", path, post_data=payload), "PUT", path)

    # -- boards ---------------------------------------------------------------------------------

    def create_board(self, title: str, *, statuses: Sequence[str] = DEFAULT_BOARD_STATUSES) -> BoardRef:
        """POST /projects/:id/boards ``{"name": title}``, then one list per ``status::<status>``
        label, left to right: the label is created first when the project lacks it
        (POST /projects/:id/labels; 409 "already exists" is fine, then it is looked up), then
        POST /projects/:id/boards/:board_id/lists ``{"label_id"}``. Returns the board as
        :meth:`get_board` reads it."""
        path = self._project_path("boards")
        board = self._json("POST", path, post_data={"name": title})
        if not isinstance(board, dict) or "id" not in board:
            raise PlatformError(f"GitLab POST {path} answered with a board that cannot be read.")
        board_id = int(board["id"])
        for status in statuses:
            label_id = self._ensure_label(f"{STATUS_SCOPE}{status}")
            self._send("POST", self._project_path(f"boards/{board_id}/lists"), post_data={"label_id": label_id})
        return self.get_board(board_id)

    def get_board(self, number: int) -> BoardRef:
        """GET /projects/:id/boards/:board_id -> :class:`BoardRef`.

        ``id``/``number`` are the board id; ``status_field_id`` is ``"status::"`` (the scope whose
        labels are the board's columns); ``status_options`` maps each column name to what moving a
        card there sets: the list's label (``"in progress" -> "status::in progress"``; a list whose
        label has another scope keeps its full name), plus the built-in ``"Open"`` (no status
        label) and ``"Closed"`` (closes the issue) lists.
        """
        path = self._project_path(f"boards/{int(number)}")
        data = self._json("GET", path)
        try:
            options: dict[str, str] = {"Open": ""}
            for item in sorted(data.get("lists") or [], key=lambda entry: int(entry.get("position") or 0)):
                label = item.get("label")
                if not isinstance(label, dict):
                    continue
                label_name = str(label["name"])
                column = label_name[len(STATUS_SCOPE) :] if scope_of(label_name) == STATUS_SCOPE else label_name
                options[column] = label_name
            options["Closed"] = "closed"
            return BoardRef(
                id=str(int(data["id"])),
                number=int(data["id"]),
                url=f"{self._web_root()}/-/boards/{int(data['id'])}",
                title=str(data.get("name") or ""),
                status_field_id=STATUS_SCOPE,
                status_options=options,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PlatformError(f"GitLab GET {path} answered with a board that cannot be read ({error}).") from None

    def add_to_board(self, board: BoardRef, issue: RemoteIssue) -> str:
        """No request: every open issue of the project is on its boards (in the column its labels
        say). Returns the board item id, which on GitLab is the issue's ``iid`` as text."""
        return str(issue.number)

    def set_board_status(self, board: BoardRef, item_id: str, option_name: str) -> None:
        """Move the card (``item_id`` = the issue's iid) to the column ``option_name`` (matched
        without case; ``Done`` means Closed and ``Backlog`` means Open).

        A label column: GET the issue, then PUT ``add_labels=<label>`` and ``remove_labels=<every
        other status:: label it has>`` (and ``state_event=reopen`` if it was closed), so exactly one
        ``status::`` label remains on Free too. Closed: PUT ``state_event=close``. Open: remove the
        ``status::`` labels. An unknown column raises :class:`PlatformRejected` naming the columns.
        """
        wanted = option_name.strip().casefold()
        label = next((value for name, value in board.status_options.items() if name.casefold() == wanted), None)
        if label is None and wanted in _CLOSED_OPTIONS:
            label = "closed"
        elif label is None and wanted in _OPEN_OPTIONS:
            label = ""
        if label is None:
            available = ", ".join(board.status_options) or "none"
            raise PlatformRejected(f"Board {board.number} has no column {option_name!r}; the columns are: {available}.")
        number = int(item_id)
        path = self._project_path(f"issues/{number}")
        if label == "closed":
            self._verified(
                self._json("PUT", path, post_data={"state_event": "close"}),
                {"state_event": "close"},
                "PUT",
                path,
                created=False,
            )
            return
        current = self._raw_issue(number)
        present = [str(name) for name in current.get("labels") or []]
        remove = [name for name in present if scope_of(name) == STATUS_SCOPE and name.casefold() != label.casefold()]
        payload: dict[str, Any] = {}
        if label:
            payload["add_labels"] = label
        if remove:
            payload["remove_labels"] = ",".join(remove)
        if current.get("state") == "closed":
            payload["state_event"] = "reopen"
        if not payload:
            return
        stored = self._json("PUT", path, post_data=payload)
        labels = [str(name) for name in (stored.get("labels") if isinstance(stored, dict) else None) or []]
        status_labels = sorted(name for name in labels if scope_of(name) == STATUS_SCOPE)
        expected = [label] if label else []
        if [name.casefold() for name in status_labels] != [name.casefold() for name in expected]:
            raise PlatformRejected(
                f"GitLab PUT {path} left the status labels {status_labels} instead of {expected} on #{number}."
            )

    def _ensure_label(self, name: str) -> int:
        path = self._project_path("labels")
        try:
            data = self._json("POST", path, post_data={"name": name, "color": "#428BCA"})
        except PlatformRejected as error:
            if error.status != 409:
                raise
            found = self._json("GET", self._project_path(f"labels/{quote(name, safe='')}"))
            return int(found["id"])
        return int(data["id"])

    # -- budget and lifetime --------------------------------------------------------------------

    def rate_budget(self) -> RateBudget:
        """``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (Unix seconds) / ``-Name`` of the last
        response that carried them (error answers included); all ``None`` before the first one."""
        return self._budget

    def close(self) -> None:
        """Detach from the session; close it if :meth:`connect` made it. Idempotent."""
        hooks = self._client.session.hooks.get("response") or []
        if self._hook in hooks:
            hooks.remove(self._hook)
        if self._owns_session:
            self._owns_session = False
            self._client.session.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _project_path(self, rest: str) -> str:
        return f"/projects/{self._project_id}/{rest}"

    def _web_root(self) -> str:
        return f"{self._client.url}/{self.repository}"

    def _record_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """A ``requests`` response hook: keeps the headers of this thread's last response."""
        self._local.headers = response.headers
        self._observe(response.headers)
        return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        post_data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One HTTP request through python-gitlab, never retried; maps every failure. ``path`` is
        under ``/api/v4`` or an absolute URL (a next-page link)."""
        import gitlab.exceptions
        import requests

        self._local.headers = None
        try:
            response = self._client.http_request(
                method.lower(),
                path,
                query_data=dict(query or {}),
                post_data=post_data,
                obey_rate_limit=False,
                retry_transient_errors=False,
                max_retries=0,
                extra_headers=dict(headers) if headers else None,
            )
        except (gitlab.exceptions.GitlabError, requests.RequestException, OSError) as error:
            failed = getattr(self._local, "headers", None)
            raise map_gitlab_error(method, _shown(path), error, failed) from None
        return response

    def _json(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, post_data: Any = None) -> Any:
        return self._decode(self._send(method, path, query=query, post_data=post_data), method, path)

    @staticmethod
    def _decode(response: requests.Response, method: str, path: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise PlatformUnavailable(
                f"GitLab {method} {_shown(path)} answered {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            ) from None

    def _pages(self, method: str, path: str, query: Mapping[str, Any], first: requests.Response) -> list[Any]:
        """The JSON of every page from ``first`` on: ``Link: rel="next"`` (same origin only), else
        ``X-Next-Page``; one request per further page."""
        pages: list[Any] = [self._decode(first, method, path)]
        seen: set[str] = set()
        response = first
        while len(pages) < _MAX_PAGES:
            next_url = response.links.get("next", {}).get("url")
            if next_url:
                self._check_same_origin(next_url, method, path)
                target, params = next_url, None
            else:
                next_page = (response.headers.get("X-Next-Page") or "").strip()
                if not next_page:
                    break
                target, params = path, {**query, "page": next_page}
            key = f"{target}?{params}"
            if key in seen:
                break
            seen.add(key)
            response = self._send(method, target, query=params)
            pages.append(self._decode(response, method, path))
        return pages

    def _check_same_origin(self, url: str, method: str, path: str) -> None:
        base = urlsplit(self._client.api_url)
        target = urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise PlatformRejected(
                f"GitLab {method} {_shown(path)}: the next-page link points away from {base.hostname}."
            )

    def _raw_issue(self, number: int) -> dict[str, Any]:
        path = self._project_path(f"issues/{int(number)}")
        data = self._json("GET", path)
        if not isinstance(data, dict):
            raise PlatformError(f"GitLab GET {_shown(path)} answered with something other than an issue.")
        if isinstance(data.get("project_id"), int):
            self._project_number = data["project_id"]
        return data

    def _numeric_project_id(self) -> int:
        """The project's numeric id (issue links take it as ``target_project_id``): learnt from an
        issue already read, else GET /projects/:id once."""
        if self._project_number is None:
            path = f"/projects/{self._project_id}"
            data = self._json("GET", path)
            try:
                self._project_number = int(data["id"])
            except (KeyError, TypeError, ValueError):
                raise PlatformError(f"GitLab GET {path} answered with a project that cannot be read.") from None
        return self._project_number

    def _user_id(self, username: str) -> int:
        """GET /users?username=<name> -> the user's id (cached per adapter). Unknown -> PlatformRejected."""
        key = username.casefold()
        if key not in self._user_ids:
            found = self._json("GET", "/users", query={"username": username})
            match = [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []
            if not match:
                raise PlatformRejected(f"GitLab has no user {username!r}; an assignee must be a GitLab username.")
            self._user_ids[key] = int(match[0]["id"])
        return self._user_ids[key]

    def _issue_payload(
        self, changes: IssueChanges, extras: IssueExtras | None, *, description: str | None
    ) -> dict[str, Any]:
        """:class:`IssueChanges` (+ extras) -> the body of "New issue" / "Edit an issue"::

        {"title": str, "description": str, "state_event": "close"|"reopen", "labels": "a,b",
         "assignee_ids": [int] | 0, "milestone_id": int | 0, "due_date": "YYYY-MM-DD" | null,
         "weight": int | null, "confidential": bool}
        """
        payload: dict[str, Any] = {}
        if not isinstance(changes.title, Unset):
            payload["title"] = changes.title
        if description is not None:
            payload["description"] = description
        elif not isinstance(changes.body, Unset):
            payload["description"] = changes.body
        if not isinstance(changes.state, Unset):
            payload["state_event"] = "close" if changes.state == "closed" else "reopen"
        if not isinstance(changes.labels, Unset):
            payload["labels"] = ",".join(_checked_labels(changes.labels))
        if not isinstance(changes.assignees, Unset):
            ids = [self._user_id(login) for login in changes.assignees]
            payload["assignee_ids"] = ids or 0
        if not isinstance(changes.milestone, Unset):
            payload["milestone_id"] = int(changes.milestone) if changes.milestone is not None else 0
        if not isinstance(changes.due_date, Unset):
            payload["due_date"] = changes.due_date.isoformat() if changes.due_date else None
        if extras is not None:
            if not isinstance(extras.due_date, Unset):
                payload["due_date"] = extras.due_date.isoformat() if extras.due_date else None
            if not isinstance(extras.weight, Unset):
                if extras.weight is not None and extras.weight < 0:
                    raise InvalidInput("weight", f"{extras.weight} is negative.")
                payload["weight"] = extras.weight
            if not isinstance(extras.confidential, Unset):
                payload["confidential"] = bool(extras.confidential)
        return payload

    def _verified(self, data: Any, payload: Mapping[str, Any], method: str, path: str, *, created: bool) -> RemoteIssue:
        """The answered issue, after checking GitLab stored every field of ``payload``."""
        issue = self._issue(data, method, path)
        mismatched = _mismatches(data, payload)
        if mismatched:
            where = f"issue #{issue.number} was created, but" if created else f"#{issue.number}:"
            details = "; ".join(f"{name}: sent {sent!r}, stored {stored!r}" for name, sent, stored in mismatched)
            raise PlatformRejected(
                f"GitLab {method} {_shown(path)}: {where} GitLab ignored {', '.join(m[0] for m in mismatched)} "
                f"({details}). On GitLab Free, weight and several assignees are not available.",
                status=None,
            )
        return issue

    @staticmethod
    def _items(page: Any, method: str, path: str) -> list[dict[str, Any]]:
        return answered_items(page, f"GitLab {method} {_shown(path)}")

    @staticmethod
    def _issue(data: Any, method: str, path: str) -> RemoteIssue:
        return answered(issue_from_json, data, "an issue", f"GitLab {method} {_shown(path)}")

    @staticmethod
    def _milestone(data: Any, method: str, path: str) -> RemoteMilestone:
        return answered(milestone_from_json, data, "a milestone", f"GitLab {method} {_shown(path)}")

    def _release(self, data: Any, method: str, path: str) -> RemoteRelease:
        try:
            tag = str(data["tag_name"])
            release_id = next((rid for rid, name in self._release_tags.items() if name == tag), None)
            if release_id is None:
                release_id = next(self._release_ids)
                self._release_tags[release_id] = tag
            links = data.get("_links") or {}
            return RemoteRelease(
                id=release_id,
                tag_name=tag,
                name=str(data.get("name") or ""),
                body=str(data.get("description") or ""),
                url=str(links.get("self") or f"{self._web_root()}/-/releases/{quote(tag, safe='')}"),
                draft=False,
                prerelease=False,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PlatformError(
                f"GitLab {method} {_shown(path)} answered with a release that cannot be read ({error})."
            ) from None

    def _observe(self, headers: Mapping[str, str]) -> None:
        limit = _int(headers.get("RateLimit-Limit"))
        remaining = _int(headers.get("RateLimit-Remaining"))
        reset = _int(headers.get("RateLimit-Reset"))
        if limit is None and remaining is None and reset is None:
            return
        self._budget = RateBudget(
            limit=limit,
            remaining=remaining,
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
            resource=headers.get("RateLimit-Name"),
        )


def _shown(path: str) -> str:
    """A request path for messages: an absolute next-page URL loses its scheme, host and query."""
    if path.startswith(("http://", "https://")):
        return urlsplit(path).path.removeprefix("/api/v4")
    return path


def _utc_date(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date().isoformat()


def _checked_labels(labels: Sequence[str]) -> list[str]:
    """Labels to send: no comma in a name (GitLab splits on it), at most one per scope."""
    scopes: dict[str, str] = {}
    names: list[str] = []
    for label in labels:
        if "," in label or not label.strip():
            raise InvalidInput("labels", f"{label!r} is not a GitLab label name (empty, or holds a comma).")
        scope = scope_of(label)
        if scope is not None:
            if scope in scopes and scopes[scope].casefold() != label.casefold():
                raise InvalidInput(
                    "labels",
                    f"{scopes[scope]!r} and {label!r} share the scope {scope!r}; an issue has one label per scope.",
                    "keep one of them (with_scoped_label computes the set).",
                )
            scopes[scope] = label
        names.append(label)
    return list(dict.fromkeys(names))


def _mismatches(data: Any, payload: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The fields of ``payload`` GitLab did not store as sent: ``[(field, sent, stored)]``."""
    if not isinstance(data, dict):
        return []
    found: list[tuple[str, Any, Any]] = []
    if "title" in payload and data.get("title") != payload["title"]:
        found.append(("title", payload["title"], data.get("title")))
    if "description" in payload and str(data.get("description") or "") != str(payload["description"] or ""):
        found.append(("description", payload["description"], data.get("description")))
    if "state_event" in payload:
        wanted = "closed" if payload["state_event"] == "close" else "opened"
        if data.get("state") != wanted:
            found.append(("state", wanted, data.get("state")))
    if "labels" in payload:
        sent = {name.casefold() for name in str(payload["labels"]).split(",") if name}
        stored_labels = [lab["name"] if isinstance(lab, dict) else str(lab) for lab in data.get("labels") or []]
        if {name.casefold() for name in stored_labels} != sent:
            found.append(("labels", sorted(sent), sorted(stored_labels)))
    if "assignee_ids" in payload:
        sent_ids = sorted(payload["assignee_ids"] or [])
        stored_ids = sorted(int(p["id"]) for p in data.get("assignees") or [] if isinstance(p, dict))
        if sent_ids != stored_ids:
            found.append(("assignees", sent_ids, stored_ids))
    if "milestone_id" in payload:
        milestone = data.get("milestone")
        stored_id = int(milestone["id"]) if isinstance(milestone, dict) else 0
        if stored_id != payload["milestone_id"]:
            found.append(("milestone", payload["milestone_id"] or None, stored_id or None))
    for name in ("due_date", "weight", "confidential"):
        if name in payload and data.get(name) != payload[name]:
            found.append((name, payload[name], data.get(name)))
    return found
