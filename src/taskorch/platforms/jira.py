"""The Jira Cloud adapter: one Jira project's issues, versions, boards and sprints.

It implements :class:`~taskorch.platforms.base.Platform` over Jira Cloud's REST API v3 and the
Jira Software (agile) API 1.0, through an injected :class:`httpx.Client`. The sync engine speaks
GitHub's conventions; Jira's differences stay here:

* **Numbers.** :attr:`RemoteIssue.number` is the number of the key (``SHOP-12`` -> 12), ``id``
  Jira's issue id, ``node_id`` the key, ``url`` ``{site}/browse/SHOP-12``.
* **Descriptions** are Atlassian Document Format, converted from and to Markdown by
  :mod:`taskorch.platforms.adf`. So that a description nobody edited reads back exactly as it was
  written (a conversion normalises spacing and escapes), the ``taskorch`` issue property keeps the
  Markdown sent together with a digest of the Markdown its ADF renders to: when the description
  still renders to that digest, the Markdown sent is returned, else the description's own
  rendering (a person's edit). A Markdown text too long for a property (32 KB) is kept
  compressed; one too long even then is not kept, and the rendering is returned.
* **Idempotency.** The engine's marker (``<!-- taskorch:key=HEX -->``, see
  ``taskorch.sync.template``) never goes into the description people edit: a creation sends the
  key as the ``taskorch`` issue entity property in the create request itself (atomic with the
  creation), every read asks for that property (``properties=taskorch``) and appends the marker
  to :attr:`RemoteIssue.body`, so the engine finds a lost creation by its marker in a listing.
* **Status** moves only through workflow transitions. An issue's status category (``new``,
  ``indeterminate``, ``done``), name and resolution read as the engine's state, close reason and
  status label: ``done`` is closed (``not_planned`` when the resolution is Won't Do, Duplicate,
  Cannot Reproduce or Declined, or the status is the one mapped for cancelled tasks); a status
  named as the blocked one reads as the blocked label; another ``indeterminate`` one as in
  progress; ``new`` as pending. Writing, the target status of each task status is a name
  (``statuses``, the board columns of the connection's ``status_mapping``: pending -> the
  ``approved`` column, by default To Do / In Progress / Blocked / Done / Done), else for every
  status but blocked any status of the matching category. A path is found through
  ``GET /issue/{key}/transitions`` (transitions cached per issue type and status; several steps
  when needed); a transition into ``done`` sets the resolution Done or Won't Do when its screen has
  the field. A workflow without the target status (e.g. no Blocked) is a
  :class:`~taskorch.errors.PlatformRejected` (409) that names the statuses there are and how to map
  one, raised before anything moves; the other fields of the update are applied first. Mapped
  to a status that does not read back as the task's status (blocked mapped to In Progress, or a
  Won't Do the transition's screen cannot take), the ``taskorch`` property notes the task's
  status for as long as the issue stays in that status, so the sync does not flip it back.
  Status labels are never sent as Jira labels.
* **Labels** cannot contain spaces in Jira: ``": "`` becomes ``":"`` and other white space
  ``-`` (``needs review`` -> ``needs-review``, ``type: feature`` -> ``type:feature``). The
  ``taskorch`` property remembers the spelling taskorch sent for each label it changed, so
  ``needs-review`` reads back as ``needs review`` and the sync does not see a change; a label a
  person adds in Jira reads as it is.
* **Assignees** are Atlassian account ids (Jira has one assignee; two are refused, never faked).
* **Planning facts** (:attr:`IssueChanges.priority`, ``due_date``, ``estimate_seconds``) are the
  ``priority`` (by name, :data:`PRIORITY_NAMES`: Jira's default scheme), ``duedate`` and
  ``timetracking.originalEstimate`` (in hours and minutes, ``"2h 30m"``, so that the site's
  working-day length does not matter). An estimate or priority of ``None`` is not sent (Jira's
  own stays); a due date of ``None`` clears it. They are not read back.
* **Milestones** are versions (``fixVersions``; the issue's milestone is its first one). Closing
  a milestone releases the version (``released``, with today's date when it has none). Jira has
  no release object: ``releases`` is not a capability.
* **Sub-tasks**: a child created with :attr:`IssueChanges.parent` is a Sub-task of that issue
  from the start; :meth:`add_sub_issue` sets ``parent`` when Jira allows it, else links the two
  with a "Relates" link and logs that it did.
* **Dependencies** are "Blocks" links (outward description "blocks", inward "is blocked by").
  ``POST /issueLink`` with ``inwardIssue: A, outwardIssue: B`` records "A blocks B"; reading B,
  the link shows ``inwardIssue: A``, read as "B is blocked by A".
* **Incremental pull**: JQL ``updated >= "yyyy-MM-dd HH:mm"`` has minute precision and is read
  in the account's time zone (``GET /myself``): ``since`` is floored to the minute in that zone
  (no same-minute edit is skipped) and the answers are filtered by their exact ``updated``
  (the same issues are not read again and again). No conditional requests: the listing's etag
  carries the adapter's own pull state instead (``jira;project=SHOP;tz=Europe/Berlin;
  checked=2026-12-03;max=6``: the account's time zone and the day it was read, and the highest
  issue number seen), so that a quiet pull is the search and one read by key. The zone is read
  again when it was read on another day (UTC); a state that is malformed, of another project or
  absent is ignored, and then the zone and the highest number are looked up afresh.

It never retries or sleeps, and no message carries the token or a header.

Atlassian documentation followed:

* issues: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/
* search: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-post
* JQL dates: https://support.atlassian.com/jira-software-cloud/docs/jql-fields/#Updated
* entity properties: https://developer.atlassian.com/cloud/jira/platform/jira-entity-properties/
* transitions: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get
* issue links: https://developer.atlassian.com/cloud/jira/platform/issue-linking-model/
* versions: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-project-versions/
* comments and worklogs: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/
  and https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-worklogs/
* boards and sprints: https://developer.atlassian.com/cloud/jira/software/rest/api-group-board/ and
  https://developer.atlassian.com/cloud/jira/software/rest/api-group-sprint/
* rate limits: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
* authentication: https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from taskorch.errors import (
    AuthenticationFailed,
    InvalidInput,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    RateLimited,
)
from taskorch.platforms.adf import adf_to_markdown, markdown_to_adf
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
)
from taskorch.platforms.registry import DEFAULT_CONVENTIONS, LabelConventions

__all__ = [
    "DEFAULT_STATUSES",
    "DEFAULT_WAIT_SECONDS",
    "PRIORITY_NAMES",
    "PROPERTY_KEY",
    "JiraPlatform",
    "RemoteSprint",
    "jira_label",
    "map_jira_error",
    "parse_project_key",
]

log = logging.getLogger(__name__)

#: How long to wait on a 429 that names no time.
DEFAULT_WAIT_SECONDS = 60.0
#: The issue entity property taskorch keeps its idempotency key (and what it sent) in.
PROPERTY_KEY = "taskorch"
#: The workflow status of each board key (the task status; pending tasks use ``approved``).
DEFAULT_STATUSES: Mapping[str, str] = {
    "proposed": "To Do",
    "approved": "To Do",
    "in_progress": "In Progress",
    "blocked": "Blocked",
    "completed": "Done",
    "cancelled": "Done",
}
#: Resolutions read as "not planned" (GitHub's close reason of a cancelled task).
NOT_PLANNED_RESOLUTIONS = frozenset({"won't do", "won't fix", "duplicate", "cannot reproduce", "declined"})
#: The Jira priority (by name, in Jira's default priority scheme) of each task priority.
PRIORITY_NAMES: Mapping[str, str] = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low"}
_RESOLUTION = {"completed": "Done", "cancelled": "Won't Do"}
_CATEGORY = {"pending": "new", "in_progress": "indeterminate", "completed": "done", "cancelled": "done"}
_CATEGORY_RANK = {"new": 0, "indeterminate": 1, "done": 2}
_STATE_OF: Mapping[str, tuple[Literal["open", "closed"], str | None]] = {
    "pending": ("open", None),
    "in_progress": ("open", None),
    "blocked": ("open", None),
    "completed": ("closed", "completed"),
    "cancelled": ("closed", "not_planned"),
}
_FIELDS = (
    "summary",
    "description",
    "status",
    "resolution",
    "resolutiondate",
    "labels",
    "assignee",
    "fixVersions",
    "updated",
    "issuelinks",
    "parent",
    "issuetype",
)
#: The fields an edit's answer must carry to stand for a read (the others may be absent when empty).
_ANSWERED_FIELDS = frozenset({"summary", "status", "labels", "updated", "issuetype"})
_MARKER = re.compile(r"<!-- taskorch:key=([0-9a-f]{32}) -->")
_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")
_PROPERTY_LIMIT = 32_000  # bytes of JSON a property value may hold (Jira: 32,768)
_PAGE = 100
_SUMMARY_LIMIT = 255
_MAX_PAGES = 10_000
_MESSAGE_LIMIT = 300
_STATE_PREFIX = "jira"  # the first part of the pull state carried in the listing's etag
_STATE_PART = re.compile(r"^(project|tz|checked|max)=([A-Za-z0-9_+\-/.]{1,64})$")


def parse_project_key(key: str) -> str:
    """A Jira project key (``SHOP``: an upper-case letter, then upper-case letters, digits or
    ``_``). Raises :class:`InvalidInput` naming ``project_key``."""
    text = key.strip()
    if not _KEY.match(text):
        raise InvalidInput("project_key", f"{key!r} is not a Jira project key.", "pass e.g. 'SHOP'.")
    return text


def jira_label(label: str) -> str:
    """The Jira form of a label: Jira labels have no spaces, so ``": "`` becomes ``":"`` and any
    other run of white space ``-`` (``needs review`` -> ``needs-review``)."""
    return re.sub(r"\s+", "-", re.sub(r":\s+", ":", label.strip()))


@dataclass(frozen=True)
class RemoteSprint:
    """A Jira Software sprint. ``state`` is ``future``, ``active`` or ``closed``."""

    id: int
    name: str
    state: str
    board_id: int | None
    start: datetime | None
    end: datetime | None
    goal: str


# ---------------------------------------------------------------------------------------------
# Error mapping
# ---------------------------------------------------------------------------------------------


def map_jira_error(method: str, path: str, response: httpx.Response, *, now: datetime) -> PlatformError:
    """A Jira error answer -> the :class:`PlatformError` the engine understands.

    * 429 -> :class:`RateLimited`, waiting ``Retry-After`` seconds, else until
      ``X-RateLimit-Reset``, else 60 s (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/);
    * 401 and 403 -> :class:`AuthenticationFailed`;
    * 5xx -> :class:`PlatformUnavailable`;
    * any other 4xx (400 invalid fields, 404 no such issue or no permission to see it, 409) ->
      :class:`PlatformRejected` with Jira's ``errorMessages`` and ``errors``.

    The message names the call (``Jira POST /rest/api/3/issue answered 400: ...``), never a header.
    """
    status = response.status_code
    where = f"Jira {method} {path}"
    message = _jira_message(response) or response.reason_phrase or "no message"
    text = f"{where} answered {status}: {message}"
    if status == 429:
        wait = _wait_seconds(response.headers, now)
        return RateLimited(f"{text} (rate limited; retry after {wait:g} s)", retry_after=wait, status=status)
    if status in (401, 403):
        return AuthenticationFailed(
            f"{text}. Check the Jira API token, the account e-mail (TASKORCH_JIRA_EMAIL) and the "
            "account's permissions in this project.",
            status=status,
        )
    if status >= 500:
        return PlatformUnavailable(text, status=status)
    return PlatformRejected(text, status=status)


def _jira_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    if not parts and body.get("message"):
        parts.append(str(body["message"]))
    text = "; ".join(parts)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _wait_seconds(headers: httpx.Headers, now: datetime) -> float:
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(float(raw), 1.0)
        except ValueError:
            pass
    reset = _parse_reset(headers.get("x-ratelimit-reset"))
    if reset is not None:
        return max((reset - now).total_seconds(), 1.0)
    return DEFAULT_WAIT_SECONDS


def _parse_reset(raw: str | None) -> datetime | None:
    """``X-RateLimit-Reset``: an ISO 8601 time (``2025-01-06T10:00Z``)."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    raw = headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------------------------


def _split_marker(body: str) -> tuple[str, str | None]:
    """``body`` -> (the text without markers, as ``strip_marker`` gives it; the first key)."""
    match = _MARKER.search(body)
    pieces = _MARKER.split(body)[::2]
    if len(pieces) == 1:
        return pieces[0].rstrip(), None
    kept = [pieces[0].rstrip(), *(piece.strip("\n").rstrip() for piece in pieces[1:])]
    return "\n\n".join(piece for piece in kept if piece.strip()), match.group(1) if match else None


def _summary(title: str) -> str:
    """A title as a Jira summary: at most 255 characters (cut, with an ellipsis)."""
    return title if len(title) <= _SUMMARY_LIMIT else title[: _SUMMARY_LIMIT - 1] + "…"


def _keep_markdown(prop: dict[str, Any], text: str) -> None:
    """Keep ``text`` in the property value: as it is, else compressed (zlib, base64) when the
    value would pass Jira's 32 KB limit, else not at all."""
    prop.pop("markdown", None)
    prop.pop("markdown_z", None)
    prop["markdown"] = text
    if len(json.dumps(prop).encode()) <= _PROPERTY_LIMIT:
        return
    del prop["markdown"]
    prop["markdown_z"] = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    if len(json.dumps(prop).encode()) > _PROPERTY_LIMIT:
        del prop["markdown_z"]


def _kept_markdown(prop: Mapping[str, Any]) -> str | None:
    if isinstance(prop.get("markdown"), str):
        return str(prop["markdown"])
    if isinstance(prop.get("markdown_z"), str):
        try:
            return zlib.decompress(base64.b64decode(prop["markdown_z"])).decode()
        except (ValueError, zlib.error):
            return None
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _returned_issue(data: Mapping[str, Any]) -> bool:
    """Whether an edit's answer (``returnIssue=true``) is an issue with the fields read back."""
    fields = data.get("fields")
    return isinstance(data.get("key"), str) and isinstance(fields, Mapping) and _ANSWERED_FIELDS.issubset(fields)


def _parse_time(raw: Any) -> datetime:
    """Jira's ``2025-01-06T10:00:00.000+0100`` -> an aware datetime."""
    moment = datetime.fromisoformat(str(raw))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _jira_time(moment: datetime) -> str:
    """An aware datetime -> Jira's ``2025-01-06T10:00:00.000+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


# ---------------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------------


class JiraPlatform:
    """One Jira Cloud project, through an injected :class:`httpx.Client` whose base URL is the
    site (``https://SITE.atlassian.net``) and which carries the credentials.

    ``statuses`` maps board keys (``approved``, ``in_progress``, ``blocked``, ``completed``,
    ``cancelled``, ``proposed``) to workflow status names (defaults: :data:`DEFAULT_STATUSES`);
    ``conventions`` says which labels carry a status (the engine's, with the connection's
    ``label:<status>`` overrides); ``issue_types`` maps a task type (from the ``type: X`` label) to
    an issue type name (default ``Task``; a child created under a parent is a ``Sub-task``);
    ``clock`` gives the current time (for rate-limit waits and release dates).
    """

    name = "jira"
    capabilities = Capabilities(
        sub_issues=True,
        issue_dependencies=True,
        boards=True,
        iterations=True,
        time_tracking=True,
        releases=False,
        conditional_requests=False,
        milestones=True,
        parent_at_creation=True,
    )

    def __init__(
        self,
        client: httpx.Client,
        project_key: str,
        *,
        statuses: Mapping[str, str] | None = None,
        conventions: LabelConventions = DEFAULT_CONVENTIONS,
        issue_types: Mapping[str, str] | None = None,
        sub_task_type: str = "Sub-task",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.repository = parse_project_key(project_key)
        self._client = client
        self._site = str(client.base_url).rstrip("/")
        host = urlsplit(self._site).netloc.lower()
        self.ref = RepositoryRef(platform="jira", host=host, path=self.repository)
        self._statuses = {**DEFAULT_STATUSES, **(statuses or {})}
        self._conventions = conventions
        self._issue_types = dict(issue_types or {})
        self._sub_task_type = sub_task_type
        self._clock = clock or (lambda: datetime.now(UTC))
        self._budget = RateBudget(limit=None, remaining=None, reset_at=None, resource="jira")
        self._zone: ZoneInfo | None = None
        self._zone_checked: date | None = None  # the day (UTC) the zone was read from GET /myself
        self._project: dict[str, Any] | None = None
        self._workflow_statuses: dict[str, list[dict[str, Any]]] | None = None
        self._types: list[dict[str, Any]] = []
        self._highest: int | None = None  # the highest issue number seen (search is eventually consistent)
        self._transitions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._board_types: dict[int, str] = {}

    @classmethod
    def connect(
        cls,
        token: str,
        project_key: str,
        *,
        site_url: str,
        email: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        statuses: Mapping[str, str] | None = None,
        conventions: LabelConventions = DEFAULT_CONVENTIONS,
        issue_types: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> JiraPlatform:
        """The adapter for project ``project_key`` on the site ``site_url``.

        With ``email``, the token is an Atlassian API token sent with basic auth
        (``email:token``); without, it is an OAuth 2.0 access token sent as ``Bearer``.
        ``transport`` replaces the network (tests). Raises :class:`AuthenticationFailed` for an
        empty token and :class:`InvalidInput` for a bad key or URL.
        """
        if not token:
            raise AuthenticationFailed("No Jira token was given; set JIRA_API_TOKEN (with TASKORCH_JIRA_EMAIL).")
        parts = urlsplit(site_url.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InvalidInput(
                "site_url", f"{site_url!r} is not a Jira site URL.", "pass e.g. https://shop.atlassian.net."
            )
        auth: httpx.Auth = httpx.BasicAuth(email, token) if email else _Bearer(token)
        client = httpx.Client(
            base_url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}",
            auth=auth,
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        return cls(
            client, project_key, statuses=statuses, conventions=conventions, issue_types=issue_types, clock=clock
        )

    def __repr__(self) -> str:
        return f"JiraPlatform(project={self.repository!r}, site={self._site!r})"

    def close(self) -> None:
        self._client.close()

    def rate_budget(self) -> RateBudget:
        """What the last answer's ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` said."""
        return self._budget

    # -- requests -------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """One request; the JSON answer (``None`` for an empty one). Paths start with
        ``/rest/``. Raises the :class:`PlatformError` subclasses of :func:`map_jira_error`."""
        try:
            response = self._client.request(method, path, params=params, json=body)
        except httpx.TimeoutException:
            raise PlatformUnavailable(f"Jira {method} {path} timed out; Jira may be slow or unreachable.") from None
        except httpx.TransportError as error:
            raise PlatformUnavailable(
                f"Jira {method} {path} could not reach Jira ({type(error).__name__}); the connection failed."
            ) from None
        self._note_budget(response.headers)
        if response.status_code >= 400:
            raise map_jira_error(method, path, response, now=self._clock())
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise PlatformError(f"Jira {method} {path} answered with something other than JSON.") from None

    def _note_budget(self, headers: httpx.Headers) -> None:
        limit = _int_header(headers, "x-ratelimit-limit")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset = _parse_reset(headers.get("x-ratelimit-reset"))
        if limit is not None or remaining is not None or reset is not None:
            self._budget = RateBudget(limit=limit, remaining=remaining, reset_at=reset, resource="jira")

    def _key(self, number: int) -> str:
        return f"{self.repository}-{number}"

    def _number(self, key: str) -> int | None:
        prefix, _, digits = key.rpartition("-")
        return int(digits) if prefix == self.repository and digits.isdigit() else None

    # -- issues ---------------------------------------------------------------------------------

    def get_issue(self, number: int) -> RemoteIssue:
        return self._issue_from_json(self._raw_issue(number))

    def _raw_issue(self, number: int) -> dict[str, Any]:
        path = f"/rest/api/3/issue/{self._key(number)}"
        data = self._request("GET", path, params={"fields": ",".join(_FIELDS), "properties": PROPERTY_KEY})
        if not isinstance(data, dict):
            raise PlatformError(f"Jira GET {path} answered with something other than an issue.")
        return data

    def create_issue(self, changes: IssueChanges) -> RemoteIssue:
        """``POST /issue`` with the fields and the ``taskorch`` property, then the transitions
        to the status asked for (a new issue starts in the workflow's first status)."""
        if isinstance(changes.title, Unset):
            raise InvalidInput("title", "an issue needs a title.", "give the task a title.")
        prop: dict[str, Any] = {}
        fields: dict[str, Any] = {"project": {"key": self.repository}}
        labels = () if isinstance(changes.labels, Unset) else changes.labels
        parent = None if isinstance(changes.parent, Unset) else changes.parent
        if parent is not None and not self._is_sub_task(self._raw_issue(parent)):
            fields["parent"] = {"key": self._key(parent)}
            fields["issuetype"] = self._issue_type_field(self._sub_task_type, sub_task=True)
        else:  # no parent, or a sub-task (which cannot have sub-tasks): add_sub_issue links them
            fields["issuetype"] = self._issue_type_field(self._issue_type(labels), sub_task=False)
        self._content_fields(changes, fields, prop)
        path = "/rest/api/3/issue"
        created = self._request(
            "POST", path, body={"fields": fields, "properties": [{"key": PROPERTY_KEY, "value": prop}]}
        )
        key = str(answered(lambda d: d["key"], created, "a created issue", f"Jira POST {path}"))
        number = self._number(key)
        if number is None:
            raise PlatformError(f"Jira POST {path} answered with the key {key!r}, not one of {self.repository}.")
        self._highest = max(self._highest or 0, number)
        raw = self._raw_issue(number)
        wanted = self._wanted_status(changes, self._issue_from_json(raw))
        if wanted is not None and wanted != self._task_status(self._issue_from_json(raw)):
            return self._issue_from_json(self._move_and_read(raw, number, wanted))
        return self._issue_from_json(raw)

    def update_issue(self, number: int, changes: IssueChanges) -> RemoteIssue:
        """Read the issue (its ``taskorch`` property, which the edit merges into, and its
        status), edit the fields (one ``PUT /issue/{key}`` carrying the property too), then move
        through the workflow when the status changed. Without a move the edit is sent with
        ``returnIssue=true`` and its answer, the issue as ``GET /issue`` gives it, is the result
        with the property just written (an edit gives no properties); an answer without the
        fields is followed by a read. Nothing to edit and no move: the issue as read. Raises
        :class:`PlatformRejected` (409) when the workflow has no status for the task's status
        (see the module).

        https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-put
        """
        raw = self._raw_issue(number)
        current = self._issue_from_json(raw)
        old_prop = self._property(raw)
        prop = dict(old_prop)
        fields: dict[str, Any] = {}
        self._content_fields(changes, fields, prop)
        wanted = self._wanted_status(changes, current)
        moving = wanted is not None and wanted != self._task_status(current)
        if fields or prop != old_prop:
            body: dict[str, Any] = {"fields": fields}
            if prop != old_prop:
                body["properties"] = [{"key": PROPERTY_KEY, "value": prop}]
            path = f"/rest/api/3/issue/{self._key(number)}"
            if not moving:
                edited = self._request("PUT", path, params={"returnIssue": "true"}, body=body)
                if not (isinstance(edited, dict) and _returned_issue(edited)):
                    return self.get_issue(number)
                return self._issue_from_json({**edited, "properties": {PROPERTY_KEY: prop}})
            self._request("PUT", path, body=body)
        if wanted is not None and moving:
            return self._issue_from_json(self._move_and_read(raw, number, wanted))
        return current

    def _move_and_read(self, raw: Mapping[str, Any], number: int, task_status: str) -> dict[str, Any]:
        """Move the issue to ``task_status`` and read it again.

        When the status reached does not read back as ``task_status`` by itself (a cancelled task
        whose done transition could not set Won't Do because its screen has no resolution; a
        blocked task mapped to the status in-progress tasks use), the ``taskorch`` property notes
        it: ``{"note": {"status", "status_id", "resolved"}}``, which reads as ``task_status`` for as
        long as the issue stays in that status (and, for a done one, is not resolved again). A note
        that is no longer needed is removed."""
        self._move(raw, task_status)
        after = self._raw_issue(number)
        old = self._property(after)
        prop = {k: v for k, v in old.items() if k != "note"}
        fields = after["fields"]
        state, reason, label = self._status_fields(fields, prop)
        if self._status_from(state, reason, [label] if label else []) != task_status:
            prop["note"] = {
                "status": task_status,
                "status_id": str((fields.get("status") or {}).get("id")),
                "resolved": fields.get("resolutiondate"),
            }
        if prop != old:
            key = quote(str(after["key"]), safe="")
            self._request("PUT", f"/rest/api/3/issue/{key}/properties/{PROPERTY_KEY}", body=prop)
            after["properties"] = {PROPERTY_KEY: prop}
        return after

    @staticmethod
    def _is_sub_task(raw: Mapping[str, Any]) -> bool:
        return bool((raw["fields"].get("issuetype") or {}).get("subtask"))

    def _content_fields(self, changes: IssueChanges, fields: dict[str, Any], prop: dict[str, Any]) -> None:
        """Fill ``fields`` and the property value ``prop`` from title, body, labels, assignees,
        milestone and the planning facts of ``changes``. A title longer than Jira's summary (255 characters) is cut, and
        kept whole in the property so that it reads back whole while the summary is unchanged."""
        if not isinstance(changes.title, Unset):
            summary = _summary(changes.title)
            fields["summary"] = summary
            prop.pop("title", None)
            if summary != changes.title:
                prop["title"] = changes.title
        if not isinstance(changes.body, Unset):
            text, key = _split_marker(changes.body)
            document = markdown_to_adf(text)
            fields["description"] = document
            if key is not None:
                prop["key"] = key
            prop["rendered"] = _digest(adf_to_markdown(document))
            _keep_markdown(prop, text)
        if not isinstance(changes.labels, Unset):
            spelled: dict[str, str] = {}
            for label in changes.labels:
                if self._conventions.is_status_label(label):
                    continue
                form = jira_label(label)
                if form:
                    spelled.setdefault(form, label)
            fields["labels"] = sorted(spelled)
            prop["labels"] = {form: label for form, label in sorted(spelled.items()) if form != label}
        if not isinstance(changes.assignees, Unset):
            if len(changes.assignees) > 1:
                raise PlatformRejected(
                    f"Jira issues have one assignee; {len(changes.assignees)} were given "
                    f"({', '.join(changes.assignees)}). Assign one account id.",
                    status=400,
                )
            fields["assignee"] = {"accountId": changes.assignees[0]} if changes.assignees else None
        if not isinstance(changes.milestone, Unset):
            fields["fixVersions"] = [] if changes.milestone is None else [{"id": str(changes.milestone)}]
        if isinstance(changes.priority, str):
            fields["priority"] = {"name": PRIORITY_NAMES.get(changes.priority, changes.priority.capitalize())}
        if not isinstance(changes.due_date, Unset):
            fields["duedate"] = None if changes.due_date is None else changes.due_date.isoformat()
        if isinstance(changes.estimate_seconds, int) and changes.estimate_seconds >= 60:
            hours, minutes = divmod(changes.estimate_seconds // 60, 60)
            estimate = f"{hours}h {minutes}m" if hours and minutes else f"{hours}h" if hours else f"{minutes}m"
            fields["timetracking"] = {"originalEstimate": estimate}

    def _issue_type_field(self, name: str, *, sub_task: bool) -> dict[str, str]:
        """The ``issuetype`` of a new issue: the project's type called ``name``, else (for a
        sub-task) its first sub-task type, whatever it is called (company-managed projects say
        "Sub-task", team-managed ones "Subtask"); by name when the project lists neither."""
        self._project_statuses()
        wanted = [t for t in self._types if bool(t.get("subtask")) == sub_task]
        found = next((t for t in wanted if str(t.get("name", "")).casefold() == name.casefold()), None)
        if found is None and sub_task and wanted:
            found = wanted[0]
        return {"id": str(found["id"])} if found is not None else {"name": name}

    def _issue_type(self, labels: Sequence[str]) -> str:
        for label in labels:
            if label.casefold().startswith("type: "):
                return self._issue_types.get(label[len("type: ") :].strip(), "Task")
        return "Task"

    def _property(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        props = raw.get("properties")
        value = props.get(PROPERTY_KEY) if isinstance(props, Mapping) else None
        return dict(value) if isinstance(value, Mapping) else {}

    def _issue_from_json(self, raw: Mapping[str, Any]) -> RemoteIssue:
        key = str(raw.get("key") or "")
        return answered(self._parse_issue, raw, "an issue", f"Jira issue {key}")

    def _parse_issue(self, raw: Mapping[str, Any]) -> RemoteIssue:
        key = str(raw["key"])
        number = self._number(key)
        if number is None:
            raise ValueError(f"{key!r} is not an issue of {self.repository}")
        fields = raw["fields"]
        prop = self._property(raw)
        text = adf_to_markdown(fields.get("description"))
        kept = _kept_markdown(prop)
        if kept is not None and prop.get("rendered") == _digest(text):
            text = kept
        if isinstance(prop.get("key"), str) and re.fullmatch(r"[0-9a-f]{32}", prop["key"]):
            text = f"{text}\n\n<!-- taskorch:key={prop['key']} -->" if text else f"<!-- taskorch:key={prop['key']} -->"
        spelled = prop.get("labels") if isinstance(prop.get("labels"), Mapping) else {}
        assert isinstance(spelled, Mapping)
        labels = [str(spelled.get(label, label)) for label in fields.get("labels") or []]
        state, reason, status_label = self._status_fields(fields, prop)
        if status_label:
            labels.append(status_label)
        assignee = fields.get("assignee")
        versions = fields.get("fixVersions") or []
        blocked_by = self._blocked_by(fields.get("issuelinks") or [])
        return RemoteIssue(
            number=number,
            id=int(raw["id"]),
            node_id=key,
            url=f"{self._site}/browse/{key}",
            title=self._title(str(fields.get("summary") or ""), prop),
            body=text,
            state=state,
            state_reason=reason,
            labels=tuple(sorted(dict.fromkeys(labels))),
            assignees=(str(assignee["accountId"]),) if isinstance(assignee, Mapping) else (),
            milestone=int(versions[0]["id"]) if versions else None,
            updated_at=_parse_time(fields["updated"]),
            blocked_by_count=len(blocked_by),
            blocked_by=blocked_by,
        )

    @staticmethod
    def _title(summary: str, prop: Mapping[str, Any]) -> str:
        whole = prop.get("title")
        if isinstance(whole, str) and whole != summary and _summary(whole) == summary:
            return whole
        return summary

    def _blocked_by(self, links: Iterable[Any]) -> tuple[int, ...]:
        """The numbers of the issues of this project blocking the issue whose ``issuelinks`` these
        are: "Blocks" links that show the other issue as ``inwardIssue`` ("is blocked by")."""
        out: list[int] = []
        for link in links:
            if not isinstance(link, Mapping) or (link.get("type") or {}).get("name") != "Blocks":
                continue
            other = link.get("inwardIssue")
            if isinstance(other, Mapping):
                number = self._number(str(other.get("key") or ""))
                if number is not None and number not in out:
                    out.append(number)
        return tuple(out)

    # -- status -----------------------------------------------------------------------------------

    def _status_fields(
        self, fields: Mapping[str, Any], prop: Mapping[str, Any]
    ) -> tuple[Literal["open", "closed"], str | None, str | None]:
        """(state, close reason, status label) of an issue's Jira status and resolution, or of the
        property's note while the issue is where the note says (see :meth:`_move_and_read`)."""
        status = fields.get("status") or {}
        note = prop.get("note")
        if (
            isinstance(note, Mapping)
            and note.get("status") in _STATE_OF
            and str(note.get("status_id")) == str(status.get("id"))
            and note.get("resolved") == fields.get("resolutiondate")
        ):
            noted = str(note["status"])
            state_of, reason_of = _STATE_OF[noted]
            return state_of, reason_of, None if state_of == "closed" else self._conventions.label_for(noted)
        name = str(status.get("name") or "").casefold()
        category = str((status.get("statusCategory") or {}).get("key") or "new")
        if category == "done":
            resolution = str((fields.get("resolution") or {}).get("name") or "").casefold()
            cancelled_status = self._statuses["cancelled"].casefold()
            by_status = name == cancelled_status and cancelled_status != self._statuses["completed"].casefold()
            return "closed", "not_planned" if by_status or resolution in NOT_PLANNED_RESOLUTIONS else "completed", None
        blocked = self._statuses["blocked"].casefold()
        if name == blocked and blocked != self._statuses["in_progress"].casefold():
            return "open", None, self._conventions.label_for("blocked")
        if category == "indeterminate" or name == self._statuses["in_progress"].casefold():
            return "open", None, self._conventions.label_for("in_progress")
        return "open", None, self._conventions.label_for("pending")

    def _task_status(self, issue: RemoteIssue) -> str:
        return self._status_from(issue.state, issue.state_reason, issue.labels)

    def _status_from(self, state: str, reason: str | None, labels: Iterable[str]) -> str:
        if state == "closed":
            return "cancelled" if reason == "not_planned" else "completed"
        keys = {label.casefold() for label in labels}
        for status in ("blocked", "in_progress"):
            label = self._conventions.label_for(status)
            if label is not None and label.casefold() in keys:
                return status
        return "pending"

    def _wanted_status(self, changes: IssueChanges, current: RemoteIssue) -> str | None:
        """The task status ``changes`` ask for, or ``None`` when they do not touch it."""
        if isinstance(changes.state, Unset) and isinstance(changes.labels, Unset):
            return None
        state = current.state if isinstance(changes.state, Unset) else changes.state
        reason = current.state_reason if isinstance(changes.state_reason, Unset) else changes.state_reason
        labels = current.labels if isinstance(changes.labels, Unset) else changes.labels
        return self._status_from(state, reason, labels)

    def _project_statuses(self) -> dict[str, list[dict[str, Any]]]:
        """The statuses of each issue type of the project (``GET /project/{key}/statuses``), by
        issue type id; cached."""
        if self._workflow_statuses is None:
            path = f"/rest/api/3/project/{self.repository}/statuses"
            types = answered_items(self._request("GET", path), f"Jira GET {path}")
            self._types = [{"id": t.get("id"), "name": t.get("name"), "subtask": t.get("subtask")} for t in types]
            self._workflow_statuses = {
                str(t.get("id")): [s for s in t.get("statuses") or [] if isinstance(s, dict)] for t in types
            }
        return self._workflow_statuses

    def _target_status(self, raw: Mapping[str, Any], task_status: str, name: str | None = None) -> dict[str, Any]:
        """The workflow status (``{"id", "name", "statusCategory"}``) for ``task_status`` (or the
        status called ``name``) in the issue's workflow. Raises :class:`PlatformRejected` (409)
        naming the statuses there are."""
        fields = raw["fields"]
        issue_type = fields.get("issuetype") or {}
        available = self._project_statuses().get(str(issue_type.get("id")), [])
        if not available:  # an issue type the listing did not name: every status of the project
            available = [s for statuses in self._project_statuses().values() for s in statuses]
        key = "approved" if task_status == "pending" else task_status
        wanted = (name or self._statuses[key]).casefold()
        found = next((s for s in available if str(s.get("name", "")).casefold() == wanted), None)
        if found is None and name is None and task_status in _CATEGORY:
            category = _CATEGORY[task_status]
            found = next((s for s in available if (s.get("statusCategory") or {}).get("key") == category), None)
        if found is None:
            names = ", ".join(dict.fromkeys(str(s.get("name")) for s in available)) or "none"
            raise PlatformRejected(
                f"Jira: the workflow of {raw['key']} ({issue_type.get('name', 'issue')}) has no status "
                f"{(name or self._statuses[key])!r} for a {task_status.replace('_', ' ')} task "
                f"(its statuses: {names}). "
                f'Map one in the connection\'s status_mapping, e.g. {{"{key}": "<one of them>"}}.',
                status=409,
            )
        return found

    def _issue_transitions(self, key: str, type_id: str, status_id: str) -> list[dict[str, Any]]:
        cached = self._transitions.get((type_id, status_id))
        if cached is None:
            path = f"/rest/api/3/issue/{key}/transitions"
            data = self._request("GET", path, params={"expand": "transitions.fields"})
            items = data.get("transitions") if isinstance(data, dict) else None
            cached = answered_items(items, f"Jira GET {path}")
            self._transitions[(type_id, status_id)] = cached
        return cached

    def _move(self, raw: Mapping[str, Any], task_status: str, *, status_name: str | None = None) -> bool:
        """Walk the issue through its workflow to the status of ``task_status`` (or the one called
        ``status_name``): a direct transition when there is one, else a path through the
        transitions seen so far, else a step to a status not visited yet (the one closest to the
        target's category first; a walk that explores and then finds no way on stops there,
        with the issue in the last status reached). At most as many steps as the workflow has
        statuses. Returns
        whether the resolution of ``task_status`` (Done, Won't Do) was set, or none was needed: a
        transition's screen (``expand=transitions.fields``) says whether it takes one; a transition
        answered without its fields is sent one."""
        target = self._target_status(raw, task_status, status_name)
        fields = raw["fields"]
        key = str(raw["key"])
        type_id = str((fields.get("issuetype") or {}).get("id"))
        current = str((fields.get("status") or {}).get("id"))
        visited = {current}
        target_id = str(target.get("id"))
        target_rank = _CATEGORY_RANK.get(str((target.get("statusCategory") or {}).get("key")), 1)
        steps = len(self._project_statuses().get(type_id, [])) + 2
        resolved = task_status not in _RESOLUTION
        for _ in range(steps):
            if current == target_id:
                return resolved
            transitions = self._issue_transitions(key, type_id, current)
            step = next((t for t in transitions if str((t.get("to") or {}).get("id")) == target_id), None)
            if step is None:
                step = self._known_path_step(type_id, current, target_id, transitions)
            if step is None:
                fresh = [t for t in transitions if str((t.get("to") or {}).get("id")) not in visited]
                fresh.sort(
                    key=lambda t: abs(
                        _CATEGORY_RANK.get(str(((t.get("to") or {}).get("statusCategory") or {}).get("key")), 1)
                        - target_rank
                    )
                )
                step = fresh[0] if fresh else None
            if step is None:
                seen = ", ".join(sorted(str(s) for s in visited))
                raise PlatformRejected(
                    f"Jira: no workflow path takes {key} to {target.get('name')!r} (statuses reached, by id: {seen}); "
                    "change the workflow or map another status in the connection's status_mapping.",
                    status=409,
                )
            to = step.get("to") or {}
            body: dict[str, Any] = {"transition": {"id": str(step.get("id"))}}
            resolution = _RESOLUTION.get(task_status)
            screen = step.get("fields")
            if (
                resolution
                and (to.get("statusCategory") or {}).get("key") == "done"
                and (not isinstance(screen, Mapping) or "resolution" in screen)
            ):
                body["fields"] = {"resolution": {"name": resolution}}
                resolved = True
            self._request("POST", f"/rest/api/3/issue/{key}/transitions", body=body)
            current = str(to.get("id"))
            visited.add(current)
        if current != target_id:
            raise PlatformRejected(
                f"Jira: no workflow path took {key} to {target.get('name')!r} in {steps} transitions.", status=409
            )
        return resolved

    def _known_path_step(
        self, type_id: str, start: str, target: str, transitions: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The first transition of a shortest path from ``start`` to ``target`` through the
        transitions cached for this issue type, or ``None``."""
        graph = {status: items for (t, status), items in self._transitions.items() if t == type_id}
        queue: deque[tuple[str, dict[str, Any] | None]] = deque([(start, None)])
        seen = {start}
        while queue:
            status, first = queue.popleft()
            for transition in graph.get(status, transitions if status == start else []):
                to = str((transition.get("to") or {}).get("id"))
                if to in seen:
                    continue
                step = first or transition
                if to == target:
                    return step
                seen.add(to)
                queue.append((to, step))
        return None

    # -- listing --------------------------------------------------------------------------------

    def _time_zone(self) -> ZoneInfo:
        """The account's time zone (``GET /myself``), in which JQL reads dates; cached."""
        if self._zone is None:
            data = self._request("GET", "/rest/api/3/myself")
            name = str(data.get("timeZone") or "UTC") if isinstance(data, dict) else "UTC"
            try:
                self._zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = ZoneInfo("UTC")
            self._zone_checked = self._clock().astimezone(UTC).date()
        return self._zone

    def _adopt_pull_state(self, etag: str | None) -> None:
        """Take the time zone and the highest issue number from a pull state this adapter wrote
        (see :meth:`_pull_state`) when it knows neither yet. A malformed part, a state of another
        project, a zone not read today (UTC) or an unknown zone name is ignored."""
        if not etag:
            return
        prefix, *parts = etag.split(";")
        found: dict[str, str] = {}
        for part in parts:
            match = _STATE_PART.match(part)
            if match is None:
                return
            found[match[1]] = match[2]
        if prefix != _STATE_PREFIX or found.get("project") != self.repository:
            return
        digits = found.get("max", "")
        if self._highest is None and digits.isdigit():
            self._highest = int(digits)
        today = self._clock().astimezone(UTC).date()
        try:
            checked = date.fromisoformat(found.get("checked", ""))
            zone = ZoneInfo(found.get("tz", ""))
        except (ZoneInfoNotFoundError, ValueError):
            return
        if self._zone is None and checked == today:
            self._zone, self._zone_checked = zone, checked

    def _pull_state(self) -> str:
        """The pull state carried in the listing's etag: ``jira;project=KEY`` with
        ``;tz=ZONE;checked=YYYY-MM-DD`` when the zone is known and ``;max=N`` when the highest
        issue number is."""
        parts = [_STATE_PREFIX, f"project={self.repository}"]
        if self._zone is not None and self._zone_checked is not None:
            parts += [f"tz={self._zone.key}", f"checked={self._zone_checked.isoformat()}"]
        if self._highest is not None:
            parts.append(f"max={self._highest}")
        return ";".join(parts)

    def jql_since(self, since: datetime) -> str:
        """``since`` floored to the minute in the account's time zone, as JQL writes it."""
        moment = since if since.tzinfo else since.replace(tzinfo=UTC)
        return moment.astimezone(self._time_zone()).strftime("%Y-%m-%d %H:%M")

    def list_issues_since(self, since: datetime | None, etag: str | None) -> IssueListing:
        """Issues of the project updated at or after ``since``, oldest first: ``POST /search/jql``
        with ``updated >= "<since floored to the minute in the account's zone>"``, newest first
        (``ORDER BY updated DESC, key DESC``), page after page (``nextPageToken``) until a page
        reaches an issue updated before ``since`` (those of the floored minute before it are not
        read again and again: a quiet pull is one page however many issues share the
        watermark's minute), keeping those whose exact ``updated`` is not before ``since``, each
        once. Newest first, an issue edited while the pages are read moves to the front, behind
        the pages already read, where the next pull (from this listing's newest ``updated``)
        finds it; nothing behind it moves past a page boundary unread.
        Jira has no conditional requests: ``etag`` is the pull state an earlier listing returned
        (see the module; ignored when malformed), and the listing's ``etag`` is the state after
        this one; ``not_modified`` is always false.

        Jira's search index is eventually consistent: an issue created a moment ago may be
        missing from search for a while, though a read by key finds it. So the issues numbered
        above the highest one seen are read by key until the first that does not exist (one
        request, answered 404, when nothing is new; the highest number comes from one
        ``ORDER BY key DESC`` search when neither the adapter nor the pull state knows it). A
        creation whose answer was lost is so found by its marker at once."""
        self._adopt_pull_state(etag)
        requests = 0
        clauses = [f'project = "{self.repository}"']
        if since is not None:
            if self._zone is None:
                requests += 1
            clauses.append(f'updated >= "{self.jql_since(since)}"')
        jql = " AND ".join(clauses) + " ORDER BY updated DESC, key DESC"
        issues: list[RemoteIssue] = []
        seen: set[int] = set()
        highest = 0
        token: str | None = None
        path = "/rest/api/3/search/jql"
        for _ in range(_MAX_PAGES):
            body: dict[str, Any] = {
                "jql": jql,
                "fields": list(_FIELDS),
                "properties": [PROPERTY_KEY],
                "maxResults": _PAGE,
            }
            if token:
                body["nextPageToken"] = token
            page = self._request("POST", path, body=body)
            requests += 1
            if not isinstance(page, dict):
                raise PlatformError(f"Jira POST {path} answered with something other than a search result.")
            reached = False  # an issue updated before since: the pages after this one are older
            for item in answered_items(page.get("issues"), f"Jira POST {path}"):
                issue = self._issue_from_json(item)
                highest = max(highest, issue.number)
                if since is not None and issue.updated_at < since:
                    reached = True
                elif issue.number not in seen:
                    seen.add(issue.number)
                    issues.append(issue)
            token = page.get("nextPageToken")
            if reached or page.get("isLast", True) or not token:
                break
        if self._highest is None and since is not None:
            newest = self._request(
                "POST", path, body={"jql": f"project = {self.repository} ORDER BY key DESC", "maxResults": 1}
            )
            requests += 1
            for item in answered_items((newest or {}).get("issues") if isinstance(newest, dict) else None, path):
                highest = max(highest, self._number(str(item.get("key") or "")) or 0)
        self._highest = max(self._highest or 0, highest)
        for number in range(self._highest + 1, self._highest + _PAGE + 1):
            requests += 1
            try:
                issue = self.get_issue(number)
            except PlatformRejected as error:
                if error.status != 404:
                    raise
                break
            self._highest = number
            if number not in seen and (since is None or issue.updated_at >= since):
                issues.append(issue)
        issues.sort(key=lambda i: (i.updated_at, i.number))
        return IssueListing(issues=issues, etag=self._pull_state(), not_modified=False, requests=requests)

    # -- comments, worklogs ---------------------------------------------------------------------

    def add_comment(self, number: int, body: str) -> None:
        """``POST /issue/{key}/comment`` with the Markdown as ADF."""
        self._request("POST", f"/rest/api/3/issue/{self._key(number)}/comment", body={"body": markdown_to_adf(body)})

    def log_work(
        self,
        number: int,
        seconds: int,
        comment: str | None = None,
        *,
        started: datetime | None = None,
        key: str | None = None,
    ) -> None:
        """Record ``seconds`` (at least 60: Jira's smallest unit is a minute) of work on the issue
        (``POST /issue/{key}/worklog``), started at ``started`` (default: now), with a comment.

        With an idempotency ``key``, the worklog carries it as its ``taskorch`` entity property
        (sent in the create request itself), and the worklogs started at that moment are read
        first (``GET /issue/{key}/worklog?startedAfter=...&expand=properties``): a worklog already
        holding the key was logged by an earlier attempt whose answer was lost, and none is added.
        Worklog properties: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-worklog-properties/
        """
        if seconds < 60:
            raise InvalidInput("seconds", f"{seconds} is less than a minute.", "log at least 60 seconds.")
        moment = started or self._clock()
        path = f"/rest/api/3/issue/{self._key(number)}/worklog"
        body: dict[str, Any] = {"timeSpentSeconds": int(seconds), "started": _jira_time(moment)}
        if comment:
            body["comment"] = markdown_to_adf(comment)
        if key is not None:
            if self._worklog_logged(path, moment, key):
                return
            body["properties"] = [{"key": PROPERTY_KEY, "value": {"key": key}}]
        self._request("POST", path, body=body)

    def _worklog_logged(self, path: str, started: datetime, key: str) -> bool:
        """Whether a worklog started around ``started`` or later carries the idempotency ``key``
        (the search starts a minute earlier: Jira may keep ``started`` to the second or minute)."""
        after = int(started.timestamp() * 1000) - 60_000
        start = 0
        while True:
            page = self._request(
                "GET", path, params={"startedAfter": after, "expand": "properties", "startAt": start, "maxResults": 100}
            )
            worklogs = [w for w in (page or {}).get("worklogs") or [] if isinstance(w, Mapping)]
            for worklog in worklogs:
                for item in worklog.get("properties") or []:
                    if (
                        isinstance(item, Mapping)
                        and item.get("key") == PROPERTY_KEY
                        and (item.get("value") or {}).get("key") == key
                    ):
                        return True
            start += len(worklogs)
            if not worklogs or start >= int((page or {}).get("total") or 0):
                return False

    # -- sub-tasks and dependencies -------------------------------------------------------------

    def add_sub_issue(self, parent_number: int, child: RemoteIssue) -> None:
        """Make ``child`` a child of ``parent_number``: nothing when it already is (it was created
        with :attr:`IssueChanges.parent`); else set its ``parent`` (Jira allows it for a
        sub-task or below an epic); when Jira refuses (a standard issue cannot become a sub-task
        over REST), link the two with a "Relates" link and log that it did."""
        parent_key = self._key(parent_number)
        raw = self._raw_issue(child.number)
        current = (raw["fields"].get("parent") or {}).get("key")
        if current == parent_key:
            return
        try:
            self._request(
                "PUT", f"/rest/api/3/issue/{self._key(child.number)}", body={"fields": {"parent": {"key": parent_key}}}
            )
        except PlatformRejected as error:
            if error.status != 400:
                raise
            self._request(
                "POST",
                "/rest/api/3/issueLink",
                body={
                    "type": {"name": "Relates"},
                    "inwardIssue": {"key": parent_key},
                    "outwardIssue": {"key": self._key(child.number)},
                },
            )
            log.warning(
                "Jira would not make %s a child of %s (%s); they are linked with a 'Relates' link instead.",
                self._key(child.number),
                parent_key,
                error,
            )

    def add_dependency(self, blocked_number: int, blocking: RemoteIssue) -> str | None:
        """A "Blocks" link: ``inwardIssue`` the blocking issue, ``outwardIssue`` the blocked one
        (Jira records "inward blocks outward"). A link that exists already is answered as created."""
        self._request(
            "POST",
            "/rest/api/3/issueLink",
            body={
                "type": {"name": "Blocks"},
                "inwardIssue": {"key": self._key(blocking.number)},
                "outwardIssue": {"key": self._key(blocked_number)},
            },
        )
        return None

    def remove_dependency(self, blocked_number: int, blocking: RemoteIssue) -> None:
        """Delete every "Blocks" link that shows ``blocking`` as blocking ``blocked_number``."""
        raw = self._raw_issue(blocked_number)
        wanted = self._key(blocking.number)
        for link in raw["fields"].get("issuelinks") or []:
            if (link.get("type") or {}).get("name") != "Blocks":
                continue
            if (link.get("inwardIssue") or {}).get("key") == wanted and link.get("id"):
                self._request("DELETE", f"/rest/api/3/issueLink/{quote(str(link['id']), safe='')}")

    def list_dependencies(self, number: int) -> list[int]:
        return list(self._blocked_by(self._raw_issue(number)["fields"].get("issuelinks") or []))

    # -- versions (milestones) ------------------------------------------------------------------

    def _project_id(self) -> str:
        if self._project is None:
            path = f"/rest/api/3/project/{self.repository}"
            data = self._request("GET", path)
            if not isinstance(data, dict) or "id" not in data:
                raise PlatformError(f"Jira GET {path} answered with something other than a project.")
            self._project = data
        return str(self._project["id"])

    def _milestone(self, data: Any) -> RemoteMilestone:
        def parse(d: Any) -> RemoteMilestone:
            raw_date = d.get("releaseDate")
            due = datetime.combine(date.fromisoformat(str(raw_date)), datetime.min.time(), UTC) if raw_date else None
            return RemoteMilestone(
                number=int(d["id"]),
                title=str(d["name"]),
                description=str(d.get("description") or ""),
                state="closed" if d.get("released") else "open",
                due_on=due,
                url=f"{self._site}/projects/{self.repository}/versions/{d['id']}",
            )

        return answered(parse, data, "a version", "Jira version")

    def list_milestones(self) -> list[RemoteMilestone]:
        """The project's versions (``GET /project/{key}/versions``)."""
        path = f"/rest/api/3/project/{self.repository}/versions"
        return [self._milestone(v) for v in answered_items(self._request("GET", path), f"Jira GET {path}")]

    def create_milestone(self, title: str, description: str, due_on: datetime | None) -> RemoteMilestone:
        """A version (``POST /version``); ``due_on`` is its release date."""
        body: dict[str, Any] = {"name": title, "description": description, "projectId": int(self._project_id())}
        if due_on is not None:
            body["releaseDate"] = due_on.date().isoformat()
        return self._milestone(self._request("POST", "/rest/api/3/version", body=body))

    def update_milestone(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        due_on: datetime | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> RemoteMilestone:
        """``PUT /version/{id}``; ``state="closed"`` releases the version (its release date
        ``due_on``, else today in the account's time zone), ``"open"`` unreleases it."""
        body: dict[str, Any] = {}
        if title is not None:
            body["name"] = title
        if description is not None:
            body["description"] = description
        if due_on is not None:
            body["releaseDate"] = due_on.date().isoformat()
        if state == "closed":
            body["released"] = True
            if due_on is None:  # released today, as Jira's release dialog proposes
                body["releaseDate"] = self._clock().astimezone(self._time_zone()).date().isoformat()
        elif state == "open":
            body["released"] = False
        return self._milestone(self._request("PUT", f"/rest/api/3/version/{number}", body=body))

    # -- releases: not a Jira object ------------------------------------------------------------

    def _no_releases(self) -> PlatformRejected:
        return PlatformRejected(
            "Jira has no release object: a release is the project's version, released through the "
            "milestone methods (update_milestone(state='closed')).",
            status=404,
        )

    def get_release_by_tag(self, tag: str) -> RemoteRelease | None:
        raise self._no_releases()

    def create_release(
        self, tag: str, *, name: str, body: str, target_commitish: str | None, prerelease: bool
    ) -> RemoteRelease:
        raise self._no_releases()

    def update_release(self, release_id: int, *, name: str, body: str) -> RemoteRelease:
        raise self._no_releases()

    # -- boards ---------------------------------------------------------------------------------

    def create_board(self, title: str, *, board_type: Literal["kanban", "scrum"] = "kanban") -> BoardRef:
        """The project's board called ``title``, created when there is none: a filter with the
        project's JQL (``POST /rest/api/3/filter``), then ``POST /rest/agile/1.0/board``
        (``board_type`` ``kanban`` or ``scrum``; a scrum board has sprints)."""
        path = "/rest/agile/1.0/board"
        found = self._request("GET", path, params={"projectKeyOrId": self.repository, "name": title})
        for board in answered_items(
            (found or {}).get("values") if isinstance(found, dict) else None, f"Jira GET {path}"
        ):
            if board.get("name") == title:
                return self.get_board(int(board["id"]))
        jql = f"project = {self.repository} ORDER BY Rank ASC"
        made = self._request("POST", "/rest/api/3/filter", body={"name": f"{title} ({self.repository})", "jql": jql})
        filter_id = answered(lambda d: int(d["id"]), made, "a filter", "Jira POST /rest/api/3/filter")
        board = self._request(
            "POST",
            path,
            body={
                "name": title,
                "type": board_type,
                "filterId": filter_id,
                "location": {"type": "project", "projectKeyOrId": self.repository},
            },
        )
        return self.get_board(answered(lambda d: int(d["id"]), board, "a board", f"Jira POST {path}"))

    def get_board(self, number: int) -> BoardRef:
        """The board and its columns (``status_options``: column name -> the id of its first
        status), from ``GET /board/{id}`` and ``GET /board/{id}/configuration``."""
        path = f"/rest/agile/1.0/board/{number}"
        data = self._request("GET", path)
        name = answered(lambda d: str(d["name"]), data, "a board", f"Jira GET {path}")
        self._board_types[number] = str(data.get("type") or "kanban")
        options = {name_: ids[0] for name_, ids in self._board_columns(number).items() if ids}
        return BoardRef(
            id=str(number),
            number=number,
            url=f"{self._site}/jira/software/c/projects/{self.repository}/boards/{number}",
            title=name,
            status_field_id=None,
            status_options=options,
        )

    def _board_columns(self, number: int) -> dict[str, list[str]]:
        path = f"/rest/agile/1.0/board/{number}/configuration"
        data = self._request("GET", path)
        columns = ((data or {}).get("columnConfig") or {}).get("columns") if isinstance(data, dict) else None
        return {
            str(column.get("name")): [str(s.get("id")) for s in column.get("statuses") or [] if isinstance(s, dict)]
            for column in answered_items(columns, f"Jira GET {path}")
        }

    def add_to_board(self, board: BoardRef, issue: RemoteIssue) -> str:
        """A board shows the issues its filter finds, so the issue is on it already; on a scrum
        board it is also put in the active sprint (else the first future one; with none it stays
        in the backlog), unless it is a sub-task (those move with their parent). Returns the issue
        key (the card's id)."""
        key = self._key(issue.number)
        if self._board_types.get(board.number) is None:
            self.get_board(board.number)
        if self._board_types.get(board.number) == "scrum" and not self._is_sub_task(self._raw_issue(issue.number)):
            sprints = self.list_sprints(board.number, states=("active", "future"))
            chosen = next((s for s in sprints if s.state == "active"), None) or next(iter(sprints), None)
            if chosen is not None:
                self.add_to_sprint(chosen.id, [issue.number])
        return key

    def set_board_status(self, board: BoardRef, item_id: str, option_name: str) -> None:
        """Move the card to the column called ``option_name``: through the workflow to the
        column's first status, unless the issue's status is in that column already."""
        columns = self._board_columns(board.number)
        statuses = next((ids for name, ids in columns.items() if name.casefold() == option_name.casefold()), None)
        if not statuses:
            raise PlatformRejected(
                f"Jira board {board.title!r} has no column {option_name!r} (its columns: {', '.join(columns)}).",
                status=404,
            )
        number = self._number(item_id)
        if number is None:
            raise InvalidInput(
                "item_id", f"{item_id!r} is not an issue key of {self.repository}.", "pass e.g. 'SHOP-12'."
            )
        raw = self._raw_issue(number)
        if str((raw["fields"].get("status") or {}).get("id")) in statuses:
            return
        target = next(
            (
                s
                for statuses_ in self._project_statuses().values()
                for s in statuses_
                if str(s.get("id")) == statuses[0]
            ),
            None,
        )
        name = str(target.get("name")) if target else option_name
        category = str(((target or {}).get("statusCategory") or {}).get("key") or "indeterminate")
        task_status = {"new": "pending", "indeterminate": "in_progress", "done": "completed"}.get(
            category, "in_progress"
        )
        self._move(raw, task_status, status_name=name)

    # -- sprints --------------------------------------------------------------------------------

    def _sprint(self, data: Any) -> RemoteSprint:
        def parse(d: Any) -> RemoteSprint:
            return RemoteSprint(
                id=int(d["id"]),
                name=str(d["name"]),
                state=str(d.get("state") or "future"),
                board_id=int(d["originBoardId"]) if d.get("originBoardId") is not None else None,
                start=_parse_time(d["startDate"]) if d.get("startDate") else None,
                end=_parse_time(d["endDate"]) if d.get("endDate") else None,
                goal=str(d.get("goal") or ""),
            )

        return answered(parse, data, "a sprint", "Jira sprint")

    def list_sprints(self, board_number: int, *, states: Sequence[str] = ("active", "future")) -> list[RemoteSprint]:
        """The board's sprints in ``states`` (``GET /board/{id}/sprint``, every page). The states
        are filtered here: the official description types the ``state`` parameter as an object,
        so the comma-separated form the documentation gives would not validate."""
        path = f"/rest/agile/1.0/board/{board_number}/sprint"
        out: list[RemoteSprint] = []
        start = 0
        for _ in range(_MAX_PAGES):
            page = self._request("GET", path, params={"startAt": start, "maxResults": 50})
            values = answered_items((page or {}).get("values") if isinstance(page, dict) else None, f"Jira GET {path}")
            out += [sprint for sprint in map(self._sprint, values) if sprint.state in states]
            start += len(values)
            if not values or (isinstance(page, dict) and page.get("isLast", True)):
                break
        return out

    def create_sprint(
        self,
        board_number: int,
        name: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        goal: str | None = None,
    ) -> RemoteSprint:
        """A future sprint on a scrum board (``POST /rest/agile/1.0/sprint``)."""
        body: dict[str, Any] = {"name": name, "originBoardId": board_number}
        if start is not None:
            body["startDate"] = _jira_time(start)
        if end is not None:
            body["endDate"] = _jira_time(end)
        if goal:
            body["goal"] = goal
        return self._sprint(self._request("POST", "/rest/agile/1.0/sprint", body=body))

    def start_sprint(
        self, sprint_id: int, *, start: datetime | None = None, end: datetime | None = None
    ) -> RemoteSprint:
        """Start the sprint (state ``active``); Jira needs both dates: ``start`` defaults to now
        and ``end`` to two weeks after it."""
        begin = start or self._clock()
        finish = end or begin + timedelta(days=14)
        body = {"state": "active", "startDate": _jira_time(begin), "endDate": _jira_time(finish)}
        return self._sprint(self._request("POST", f"/rest/agile/1.0/sprint/{sprint_id}", body=body))

    def close_sprint(self, sprint_id: int) -> RemoteSprint:
        """Close an active sprint (its unfinished issues go back to the backlog, as in Jira)."""
        return self._sprint(self._request("POST", f"/rest/agile/1.0/sprint/{sprint_id}", body={"state": "closed"}))

    def add_to_sprint(self, sprint_id: int, numbers: Sequence[int]) -> None:
        """Move issues into the sprint (``POST /sprint/{id}/issue``, 50 per request)."""
        keys = [self._key(n) for n in numbers]
        for start in range(0, len(keys), 50):
            self._request(
                "POST", f"/rest/agile/1.0/sprint/{sprint_id}/issue", body={"issues": keys[start : start + 50]}
            )


class _Bearer(httpx.Auth):
    """``Authorization: Bearer <token>`` (OAuth 2.0 access tokens); the token is never shown."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "_Bearer(***)"
