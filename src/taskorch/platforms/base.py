"""The platform-neutral interface every Git platform adapter implements.

The sync engine speaks only these types. An adapter (GitHub today; GitLab and Bitbucket Cloud
next) maps them to its platform's API and raises the :class:`~taskorch.errors.PlatformError`
subclasses: :class:`RateLimited` (with the seconds to wait), :class:`PlatformUnavailable`
(retryable), :class:`AuthenticationFailed`, :class:`PlatformRejected`.

Adapters take their HTTP client from outside, so tests hand them a fake transport and never
touch the network. An adapter never retries by itself: the engine decides, logs and backs off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from taskorch.errors import PlatformError

__all__ = [
    "DEFAULT_HOSTS",
    "SINGLE_SEGMENT_PLATFORMS",
    "UNSET",
    "BoardRef",
    "Capabilities",
    "IssueChanges",
    "IssueListing",
    "Platform",
    "RateBudget",
    "RemoteIssue",
    "RemoteMilestone",
    "RemoteRelease",
    "RepositoryRef",
    "Unset",
    "answered",
    "answered_items",
    "labels_tuple",
    "lacks",
    "parse_repository",
]

T = TypeVar("T")


class Unset:
    """Marks a field of :class:`IssueChanges` that is not to be changed."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = Unset()

IssueState = Literal["open", "closed"]


@dataclass(frozen=True)
class RemoteIssue:
    """An issue as the platform has it.

    ``id`` is the platform's database id (GitHub's sub-issue API takes it), ``node_id`` its global
    id (GitHub's GraphQL and Projects v2 take it). ``milestone`` is the milestone *number*.
    ``state_reason`` is GitHub's ``completed`` / ``not_planned`` / ``reopened`` or ``None``.
    """

    number: int
    id: int
    node_id: str
    url: str
    title: str
    body: str
    state: IssueState
    state_reason: str | None
    labels: tuple[str, ...]
    assignees: tuple[str, ...]
    milestone: int | None
    updated_at: datetime
    #: How many issues block this one, when the listing says (GitHub's
    #: ``issue_dependencies_summary.total_blocked_by``); ``None`` when unknown.
    blocked_by_count: int | None = None
    #: The numbers of the issues blocking this one, when fetched (``list_dependencies``); ``None``
    #: when not known, and then the merge leaves the task's dependencies alone.
    blocked_by: tuple[int, ...] | None = None


@dataclass(frozen=True)
class IssueChanges:
    """The fields of an issue to set; :data:`UNSET` leaves a field as it is.

    ``labels`` and ``assignees`` replace the whole set. ``milestone=None`` clears it.
    ``parent`` is the number of the parent's issue, given at creation when the parent is linked
    already: an adapter whose platform fixes the parent at creation (Jira's sub-tasks) uses it;
    the others ignore it and link the two with :meth:`Platform.add_sub_issue`.

    ``priority`` (the task's: ``critical``, ``high``, ``medium``, ``low``), ``due_date`` (``None``
    clears it) and ``estimate_seconds`` (the task's estimated effort; ``None``: none given) are
    the task's planning facts, sent to a platform with such fields and ignored by the others;
    the sync never reads them back.
    """

    title: str | Unset = UNSET
    body: str | Unset = UNSET
    state: IssueState | Unset = UNSET
    state_reason: str | Unset | None = UNSET
    labels: tuple[str, ...] | Unset = UNSET
    assignees: tuple[str, ...] | Unset = UNSET
    milestone: int | Unset | None = UNSET
    parent: int | Unset | None = UNSET
    priority: str | Unset | None = UNSET
    due_date: date | Unset | None = UNSET
    estimate_seconds: int | Unset | None = UNSET

    def is_empty(self) -> bool:
        return all(isinstance(getattr(self, name), Unset) for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class IssueListing:
    """The answer to "which issues changed since?".

    ``not_modified`` is true when the platform answered 304 to the conditional request (on GitHub
    that costs no rate limit); then ``issues`` is empty. ``etag`` is the validator of the first page,
    to send as If-None-Match next time. ``requests`` counts the HTTP requests spent.
    """

    issues: list[RemoteIssue]
    etag: str | None
    not_modified: bool
    requests: int


@dataclass(frozen=True)
class RemoteMilestone:
    number: int
    title: str
    description: str
    state: Literal["open", "closed"]
    due_on: datetime | None
    url: str


@dataclass(frozen=True)
class RemoteRelease:
    """A platform release: the page that presents a tag with its notes."""

    id: int
    tag_name: str
    name: str
    body: str
    url: str
    draft: bool
    prerelease: bool


@dataclass(frozen=True)
class BoardRef:
    """A project board: its global id, number and URL, and its Status options by name."""

    id: str
    number: int
    url: str
    title: str
    status_field_id: str | None = None
    status_options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RateBudget:
    """What is left of the platform's request budget (from the last response's headers)."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    resource: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do on its platform; the engine and the tools ask this instead of
    assuming, and say plainly in their result what a platform cannot do.

    * ``sub_issues``: :meth:`Platform.add_sub_issue` works (GitHub sub-issues; GitLab child items);
    * ``issue_dependencies``: native "blocked by" links between issues
      (:meth:`Platform.add_dependency`, :meth:`Platform.remove_dependency`,
      :meth:`Platform.list_dependencies`);
    * ``scoped_labels``: ``scope::value`` labels, one per scope (GitLab paid tiers);
    * ``boards``: :meth:`Platform.create_board`, :meth:`Platform.add_to_board`, ...;
    * ``iterations``, ``time_tracking``: sprints / iterations, estimates and spent time;
    * ``releases``: :meth:`Platform.create_release` and friends;
    * ``conditional_requests``: :meth:`Platform.list_issues_since` honours its ``etag``
      (If-None-Match; a 304 answer is cheap);
    * ``milestones``: the milestone methods work;
    * ``parent_at_creation``: a child issue is only a true child when it is created under its
      parent (:attr:`IssueChanges.parent`; Jira sub-tasks: an issue created without a parent
      cannot become one later), so the engine creates a sub-task's issue after its parent's.
    """

    sub_issues: bool = False
    issue_dependencies: bool = False
    scoped_labels: bool = False
    boards: bool = False
    iterations: bool = False
    time_tracking: bool = False
    releases: bool = False
    conditional_requests: bool = False
    milestones: bool = False
    parent_at_creation: bool = False


def lacks(platform: Platform, capability: str) -> str | None:
    """``None`` when ``platform`` can do ``capability`` (a :class:`Capabilities` field), else the
    sentence a tool result shows: "gitlab (gitlab.example.com/group/app) has no boards"."""
    if getattr(platform.capabilities, capability):
        return None
    return f"{platform.name} ({platform.repository}) has no {capability.replace('_', ' ')} in taskorch"


@runtime_checkable
class Platform(Protocol):
    """One repository on one Git platform.

    Every method may raise :class:`~taskorch.errors.PlatformError` subclasses. Methods that
    change something are *mutations*; the engine spaces them (``mutation_spacing``) and never
    runs two at once. ``name`` is the platform (``"github"``), ``repository`` the path as shown to
    people, ``ref`` the full :class:`RepositoryRef`; ``capabilities`` says which of the optional
    methods (sub-issues, boards, releases, ...) work, and the engine never calls one that does not.
    An adapter takes its HTTP client from outside and never retries
    (:class:`~taskorch.sync.remote.RemoteCaller` does).
    """

    name: str
    repository: str
    ref: RepositoryRef
    capabilities: Capabilities

    def create_issue(self, changes: IssueChanges) -> RemoteIssue:
        """Create an issue; ``changes.title`` is required. One mutation."""
        ...

    def update_issue(self, number: int, changes: IssueChanges) -> RemoteIssue:
        """Set the given fields. One mutation."""
        ...

    def get_issue(self, number: int) -> RemoteIssue: ...

    def list_issues_since(self, since: datetime | None, etag: str | None) -> IssueListing:
        """All issues (open and closed, not pull requests) updated at or after ``since``, oldest
        first, with a conditional request on the first page when ``etag`` is given."""
        ...

    def add_comment(self, number: int, body: str) -> None:
        """One mutation."""
        ...

    def add_sub_issue(self, parent_number: int, child: RemoteIssue) -> None:
        """Make ``child`` a sub-issue of ``parent_number``. One mutation."""
        ...

    def add_dependency(self, blocked_number: int, blocking: RemoteIssue) -> str | None:
        """Record that issue ``blocked_number`` is blocked by ``blocking`` (needs its ``number`` and
        ``id``). Returns ``None``, or a sentence saying how the platform stored it instead when it
        could not store a dependency (GitLab Free: a ``relates_to`` link). A dependency that exists
        already is not an error. One or two mutations; only when ``capabilities.issue_dependencies``.
        """
        ...

    def remove_dependency(self, blocked_number: int, blocking: RemoteIssue) -> None:
        """Remove the dependency of ``blocked_number`` on ``blocking``; one that does not exist is
        not an error. Only when ``capabilities.issue_dependencies``."""
        ...

    def list_dependencies(self, number: int) -> list[int]:
        """The numbers of the issues of this repository blocking issue ``number``, in the
        platform's order. Only when ``capabilities.issue_dependencies``."""
        ...

    def list_milestones(self) -> list[RemoteMilestone]: ...

    def create_milestone(self, title: str, description: str, due_on: datetime | None) -> RemoteMilestone: ...

    def update_milestone(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        due_on: datetime | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> RemoteMilestone: ...

    def get_release_by_tag(self, tag: str) -> RemoteRelease | None:
        """The release of ``tag``, or ``None`` when the tag has none."""
        ...

    def create_release(
        self, tag: str, *, name: str, body: str, target_commitish: str | None, prerelease: bool
    ) -> RemoteRelease:
        """One mutation."""
        ...

    def update_release(self, release_id: int, *, name: str, body: str) -> RemoteRelease:
        """One mutation."""
        ...

    def create_board(self, title: str) -> BoardRef: ...

    def get_board(self, number: int) -> BoardRef: ...

    def add_to_board(self, board: BoardRef, issue: RemoteIssue) -> str:
        """Add the issue to the board; return the board item id (idempotent on GitHub)."""
        ...

    def set_board_status(self, board: BoardRef, item_id: str, option_name: str) -> None:
        """Set the item's Status field to the option called ``option_name``."""
        ...

    def rate_budget(self) -> RateBudget: ...

    def close(self) -> None: ...


#: The host a repository is on when its reference names none, per platform.
DEFAULT_HOSTS = {"github": "github.com", "gitlab": "gitlab.com"}
#: Platforms whose "repository" is one segment (Jira: the project key) and the prefixes
#: (``jira:KEY``) that name them.
SINGLE_SEGMENT_PLATFORMS = ("jira",)


@dataclass(frozen=True)
class RepositoryRef:
    """A repository: its platform (``"github"``, ``"gitlab"``, ...), host (``"github.com"``, a
    GitHub Enterprise or self-managed GitLab host) and full path (``"owner/name"``, or GitLab's
    ``"group/sub/project"``: two or more segments)."""

    platform: str
    host: str
    path: str

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.split("/"))

    def __str__(self) -> str:
        """The path on the platform's default host, else ``https://HOST/PATH`` (both parse back)."""
        if self.host == DEFAULT_HOSTS.get(self.platform):
            return self.path
        return f"https://{self.host}/{self.path}"


def parse_repository(repository: str, *, platform: str = "github") -> RepositoryRef:
    """A repository reference -> :class:`RepositoryRef`.

    Accepts ``group/sub/project`` (host: the platform's default), ``PLATFORM:path``
    (``gitlab:group/sub/project``), ``https://HOST/path(.git)`` and ``git@HOST:path(.git)``. Each
    path segment is letters, digits, ``-``, ``_`` or ``.`` (at most 100 characters); at least two
    segments, except for Jira (``jira:KEY`` or ``https://SITE/KEY``: one segment, the project key).
    Raises :class:`~taskorch.errors.InvalidInput` naming ``repository``.
    """
    from taskorch.errors import InvalidInput

    text = repository.strip()
    host: str | None = None
    for name in (*DEFAULT_HOSTS, *SINGLE_SEGMENT_PLATFORMS):
        if text.startswith(f"{name}:") and not text.startswith(f"{name}://"):
            platform, text = name, text[len(name) + 1 :]
            break
    if text.startswith(("https://", "http://")):
        rest = text.split("://", 1)[1]
        host, _, text = rest.partition("/")
    elif text.startswith("git@"):
        host, _, text = text[len("git@") :].partition(":")
    text = text.removesuffix(".git").strip("/")
    parts = text.split("/")
    fewest = 1 if platform in SINGLE_SEGMENT_PLATFORMS else 2
    if (
        (fewest == 1 and len(parts) != 1)
        or len(parts) < fewest
        or not all(parts)
        or any(not _valid_name(p) for p in parts)
        or host == ""
    ):
        raise InvalidInput(
            "repository",
            f"{repository!r} is not a repository path (owner/name, or group/sub/project).",
            "pass e.g. 'octo-org/shop', 'gitlab:group/sub/project' or the repository's https URL.",
        )
    return RepositoryRef(platform=platform, host=(host or DEFAULT_HOSTS.get(platform, "")).lower(), path=text)


def _valid_name(part: str) -> bool:
    return all(c.isalnum() or c in "-_." for c in part) and len(part) <= 100


def labels_tuple(values: Sequence[str]) -> tuple[str, ...]:
    """Labels as a sorted, de-duplicated tuple (the form compared during sync)."""
    return tuple(sorted(dict.fromkeys(values)))


def answered_items(page: Any, where: str) -> list[dict[str, Any]]:
    """The objects of a list answer to ``where`` (e.g. ``"GitHub GET /repos/o/r/issues"``);
    raises :class:`~taskorch.errors.PlatformError` when the answer is not a list."""
    if not isinstance(page, list):
        raise PlatformError(f"{where} answered with something other than a list.")
    return [item for item in page if isinstance(item, dict)]


def answered(parse: Callable[[Any], T], data: Any, what: str, where: str) -> T:
    """``parse(data)``, an answer to ``where`` holding ``what`` (e.g. "an issue"); a malformed
    answer raises :class:`~taskorch.errors.PlatformError` naming both."""
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError) as error:
        raise PlatformError(f"{where} answered with {what} that cannot be read ({error}).") from None
