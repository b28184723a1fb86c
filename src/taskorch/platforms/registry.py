"""The Git platforms taskorch can connect to, by name, and what differs between them.

Everything outside the adapters that depends on the platform comes from here: the services and
the sync engine look a platform up by its name (``"github"``, ``"gitlab"``) and never name one
themselves. A :class:`PlatformSpec` holds

* how to build the adapter (``build(token, ref, base_url, settings, status_mapping)``; the
  adapter modules are imported only then, so a project without an integration never imports a platform library);
* where the platform is: its default host, the setting naming its base URL
  (``TASKORCH_GITHUB_API_URL``, ``TASKORCH_GITLAB_URL``) and how a host becomes a base URL;
* which repository paths it accepts (GitHub ``owner/name``; GitLab ``group/sub/project``);
* the token variable connect uses by default (``GITHUB_TOKEN``, ``GITLAB_TOKEN``);
* its label conventions (:class:`LabelConventions`) and default board columns, both overridable
  per repository through the connection's ``status_mapping`` (see :func:`split_overrides`).

The default status mapping follows the brief's table:

===========  ==================================  ==================================
task         GitHub                              GitLab
===========  ==================================  ==================================
pending      open                                opened + ``status::to do``
in_progress  open + ``status: in progress``      opened + ``status::in progress``
blocked      open + ``status: blocked``          opened + ``status::blocked``
completed    closed (reason completed)           closed
cancelled    closed (reason not_planned)         closed + ``status::cancelled``
===========  ==================================  ==================================

GitLab's scoped labels (``scope::value``) and issue boards: https://docs.gitlab.com/user/project/labels/#scoped-labels
and https://docs.gitlab.com/user/project/issue_board/ ; GitHub's close reasons:
https://docs.github.com/en/rest/issues/issues#update-an-issue
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from taskorch.errors import InvalidInput
from taskorch.platforms.base import Capabilities, RepositoryRef, parse_repository

if TYPE_CHECKING:
    from taskorch.config import Settings
    from taskorch.platforms.base import Platform

__all__ = [
    "BOARD_KEYS",
    "DEFAULT_CONVENTIONS",
    "LABEL_KEY_PREFIX",
    "PLATFORMS",
    "TASK_STATUSES",
    "LabelConventions",
    "PlatformSpec",
    "jira_reference",
    "jira_site",
    "jira_url",
    "platform_spec",
    "resolve_repository",
    "split_overrides",
    "stored_reference",
]

#: The board column keys of a status mapping (the spec's vocabulary): ``proposed`` is a pending
#: task waiting on dependencies, ``approved`` a pending task that is ready.
BOARD_KEYS = ("proposed", "approved", "in_progress", "blocked", "completed", "cancelled")
#: Task statuses, in the order of the brief's table.
TASK_STATUSES = ("pending", "in_progress", "blocked", "completed", "cancelled")
#: A status mapping key ``label:<status>`` overrides the label that carries ``<status>``.
LABEL_KEY_PREFIX = "label:"


@dataclass(frozen=True)
class LabelConventions:
    """How an issue's state and labels carry a task's status on one platform.

    ``status_labels`` maps a task status to the label it puts on the issue (a status without
    one has no label: the open or closed state says it all); ``status_prefix`` marks, compared
    without case, the labels that belong to the status (``"status: "``, GitLab's scope
    ``"status::"``); ``cancelled_by_reason`` says a cancelled task is a closed issue whose close
    reason is ``not_planned`` (GitHub), otherwise it is told by its ``cancelled`` label.
    """

    status_labels: Mapping[str, str]
    status_prefix: str
    cancelled_by_reason: bool

    def label_for(self, status: str) -> str | None:
        """The label that carries ``status``, or ``None``."""
        return self.status_labels.get(status)

    def is_status_label(self, label: str) -> bool:
        """Whether ``label`` belongs to the status field (by prefix or as one of its labels)."""
        key = label.casefold()
        return key.startswith(self.status_prefix.casefold()) or key in {
            value.casefold() for value in self.status_labels.values()
        }

    def with_labels(self, overrides: Mapping[str, str]) -> LabelConventions:
        """These conventions with some statuses carried by other labels."""
        if not overrides:
            return self
        return replace(self, status_labels=MappingProxyType({**self.status_labels, **overrides}))


def _frozen(values: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(values))


#: Open or closed with a close reason, plus a ``status: …`` label for in progress and blocked
#: (GitHub's, and the form the sync layer assumes when handed no conventions).
DEFAULT_CONVENTIONS = LabelConventions(
    status_labels=_frozen({"in_progress": "status: in progress", "blocked": "status: blocked"}),
    status_prefix="status: ",
    cancelled_by_reason=True,
)


@dataclass(frozen=True)
class PlatformSpec:
    """One platform: how to reach it, what it accepts, how it carries a task's status.

    ``build(token, ref, base_url, settings, status_mapping)`` makes the adapter (a
    :class:`~taskorch.platforms.base.Platform`; ``status_mapping`` is the connection's overrides);
    ``api_url(ref, configured)`` is the base URL of the repository's host given the configured
    one (``settings_field`` of :class:`~taskorch.config.Settings`, set by ``url_variable``);
    ``default_host(configured)`` is the host of a reference that names none. ``min_segments`` /
    ``max_segments`` bound the repository path (``None``: no upper bound).
    """

    name: str
    title: str
    token_variable: str
    url_variable: str
    settings_field: str
    min_segments: int
    max_segments: int | None
    path_example: str
    conventions: LabelConventions
    board_columns: Mapping[str, str]
    build: Callable[[str, RepositoryRef, str, Settings, Mapping[str, str]], Platform]
    api_url: Callable[[RepositoryRef, str], str]
    default_host: Callable[[str], str]
    capabilities: Callable[[], Capabilities]
    notes: tuple[str, ...] = field(default=())
    #: Empty for a platform that holds issues; for a code host only (Bitbucket Cloud, whose issue
    #: tracker was removed) the sentence saying so, and the connection names a Jira project.
    no_issues: str = ""
    #: What ``project_board_manager``'s ``board_type`` calls the board this platform makes
    #: (``github_projects_v2``); empty for a platform without boards.
    board_type: str = ""

    def lacking(self, tier: str) -> list[str]:
        """What the platform cannot do that the ``tier`` would use, in words, then its notes."""
        wanted = ["sub_issues", "milestones", "conditional_requests"]
        if tier in ("project", "full"):
            wanted += ["boards", "issue_dependencies", "iterations", "time_tracking"]
        if tier == "full":
            wanted.append("releases")
        have = self.capabilities()
        missing = [name.replace("_", " ") for name in wanted if not getattr(have, name)]
        return ([f"no {', '.join(missing)}"] if missing else []) + list(self.notes)

    def configured_url(self, settings: Settings) -> str:
        """The base URL the settings name for this platform."""
        return str(getattr(settings, self.settings_field))

    def check_path(self, ref: RepositoryRef) -> None:
        """Raise :class:`InvalidInput` naming ``repository`` when the platform has no such path."""
        count = len(ref.segments)
        if count < self.min_segments or (self.max_segments is not None and count > self.max_segments):
            raise InvalidInput(
                "repository",
                f"{ref.path!r} is not a {self.title} repository path.",
                f"pass e.g. '{self.path_example}'.",
            )

    def columns(self, overrides: Mapping[str, str]) -> dict[str, str]:
        """The board column of each board key, with the repository's overrides."""
        return {**self.board_columns, **{k: v for k, v in overrides.items() if k in BOARD_KEYS}}

    def label_conventions(self, overrides: Mapping[str, str]) -> LabelConventions:
        """The label conventions with the repository's ``label:<status>`` overrides."""
        _columns, labels = split_overrides(overrides)
        return self.conventions.with_labels(labels)


#: A Jira project key: a letter, then letters, digits or ``_`` (Jira's default key format).
_JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{1,49}")
#: The project key in a Jira URL: ``/browse/KEY``, ``/browse/KEY-12``, ``/projects/KEY``.
_JIRA_URL_KEY = re.compile(r"/(?:browse|projects)/([A-Za-z][A-Za-z0-9_]*)(?:-\d+)?(?:/|$)")
#: Where the settings name the Jira Cloud site (``TASKORCH_JIRA_URL``).
JIRA_URL_FIELD = "jira_url"


#: The placeholder site the settings hold when ``TASKORCH_JIRA_URL`` is not set.
_JIRA_PLACEHOLDER = "your-domain.atlassian.net"


def jira_site(settings: Settings) -> str:
    """The Jira Cloud site the settings name (``TASKORCH_JIRA_URL``), or ``""`` when it is not set."""
    site = str(getattr(settings, JIRA_URL_FIELD, "") or "").strip().rstrip("/")
    return "" if _netloc(site) == _JIRA_PLACEHOLDER else site


def jira_reference(jira: str | None, project: str | None, *, settings: Settings) -> RepositoryRef:
    """The Jira project a connection names -> ``RepositoryRef(platform="jira", host=SITE, path=KEY)``.

    ``jira`` is the site (``https://SITE.atlassian.net``), a URL in the project
    (``https://SITE.atlassian.net/browse/KEY``, ``.../browse/KEY-12``, ``.../projects/KEY``), the
    key alone or ``None`` (both: the site the settings name, ``TASKORCH_JIRA_URL``); ``project`` the key, needed
    when ``jira`` names none (and equal to it when it does). Keys are upper-cased. Its stored form,
    :func:`jira_url`, parses back. Raises :class:`InvalidInput` naming ``jira`` or ``jira_project``.
    """
    text = (jira or "").strip()
    if text and "://" not in text and _JIRA_KEY.fullmatch(text.upper()):  # the key alone: the configured site
        text, project = "", project or text
    text = text or jira_site(settings)
    if not text:
        raise InvalidInput(
            "jira",
            "names no Jira Cloud site.",
            "pass the site, e.g. https://SITE.atlassian.net, or set TASKORCH_JIRA_URL.",
        )
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(
            "jira", f"{text[:100]!r} is not a Jira Cloud URL.", "pass e.g. https://SITE.atlassian.net/browse/KEY."
        )
    found = _JIRA_URL_KEY.search(parts.path)
    if found is None and parts.path.strip("/"):
        raise InvalidInput(
            "jira",
            f"{text[:100]!r} names no project.",
            "pass the site alone, or https://SITE.atlassian.net/browse/KEY.",
        )
    keys = {key.strip().upper() for key in (found.group(1) if found else None, project) if key and key.strip()}
    if not keys:
        raise InvalidInput("jira_project", "is required: the Jira site names no project.", "pass its key, e.g. SHOP.")
    if len(keys) > 1:
        raise InvalidInput("jira_project", f"names {' and '.join(sorted(keys))}: two projects.", "pass one of them.")
    key = keys.pop()
    if not _JIRA_KEY.fullmatch(key):
        raise InvalidInput("jira_project", f"{key[:60]!r} is not a Jira project key.", "pass e.g. SHOP.")
    return RepositoryRef(platform="jira", host=parts.netloc.lower(), path=key)


def jira_url(ref: RepositoryRef, settings: Settings) -> str:
    """The stored form of a Jira reference: ``https://SITE/browse/KEY`` (the scheme of the
    settings' site when it is that host, so a stand-in on http keeps working)."""
    configured = urlsplit(jira_site(settings))
    scheme = configured.scheme if configured.netloc.lower() == ref.host and configured.scheme else "https"
    return f"{scheme}://{ref.host}/browse/{ref.path}"


def stored_reference(platform: str, repository_url: str, settings: Settings) -> RepositoryRef:
    """A connection row's repository (``platform``, ``repository_url``, or ``code_platform``,
    ``code_repository``) -> its :class:`RepositoryRef`."""
    if platform == "jira":
        return jira_reference(repository_url, None, settings=settings)
    text = repository_url.strip()
    if text.startswith(f"{platform}:") and "://" not in text[:12]:
        text = text[len(platform) + 1 :]
    ref = parse_repository(text, platform=platform)
    if not ref.host:
        spec = platform_spec(platform)
        ref = RepositoryRef(platform=platform, host=spec.default_host(spec.configured_url(settings)), path=ref.path)
    return ref


def split_overrides(mapping: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A connection's ``status_mapping`` -> (board column overrides by board key, status label
    overrides by task status). Keys are board keys (:data:`BOARD_KEYS`) or ``label:<status>``."""
    columns = {k: v for k, v in mapping.items() if k in BOARD_KEYS}
    labels = {
        k[len(LABEL_KEY_PREFIX) :]: v
        for k, v in mapping.items()
        if k.startswith(LABEL_KEY_PREFIX) and k[len(LABEL_KEY_PREFIX) :] in TASK_STATUSES
    }
    return columns, labels


def _netloc(url: str) -> str:
    return urlsplit(url.strip()).netloc.lower()


# -- GitHub ---------------------------------------------------------------------------------------


def _build_github(
    token: str, ref: RepositoryRef, base_url: str, settings: Settings, status_mapping: Mapping[str, str]
) -> Platform:
    from taskorch.platforms.github import GitHubPlatform

    return GitHubPlatform.connect(token, f"https://{ref.host}/{ref.path}", base_url=base_url)


def _github_capabilities() -> Capabilities:
    from taskorch.platforms.github import GitHubPlatform

    return GitHubPlatform.capabilities


def _github_api_url(ref: RepositoryRef, configured: str) -> str:
    # The setting names where github.com's API is served (api.github.com, or a stand-in); a
    # GitHub Enterprise Server host serves it under /api/v3.
    if ref.host in ("github.com", _netloc(configured)):
        return configured
    return f"https://{ref.host}/api/v3"


_GITHUB = PlatformSpec(
    name="github",
    title="GitHub",
    token_variable="GITHUB_TOKEN",
    url_variable="TASKORCH_GITHUB_API_URL",
    settings_field="github_api_url",
    min_segments=2,
    max_segments=2,
    path_example="octo-org/shop",
    conventions=DEFAULT_CONVENTIONS,
    board_columns=_frozen(
        {
            "proposed": "Backlog",
            "approved": "To Do",
            "in_progress": "In Progress",
            "blocked": "Backlog",
            "completed": "Done",
            "cancelled": "Done",
        }
    ),
    build=_build_github,
    api_url=_github_api_url,
    default_host=lambda configured: "github.com",
    board_type="github_projects_v2",
    capabilities=_github_capabilities,
)


# -- GitLab ---------------------------------------------------------------------------------------


def _build_gitlab(
    token: str, ref: RepositoryRef, base_url: str, settings: Settings, status_mapping: Mapping[str, str]
) -> Platform:
    from taskorch.platforms.gitlab import GitLabPlatform

    return GitLabPlatform.connect(token, ref.path, url=base_url)


def _gitlab_capabilities() -> Capabilities:
    from taskorch.platforms.gitlab import GitLabPlatform

    return GitLabPlatform.capabilities


def _instance_url(ref: RepositoryRef, configured: str) -> str:
    # The setting names the instance (https://gitlab.com, a self-managed GitLab, a Jira site such
    # as https://SITE.atlassian.net, or a stand-in); another host is reached over https at its
    # root (python-gitlab adds /api/v4; the Jira adapter /rest/...).
    if ref.host == _netloc(configured):
        return configured.rstrip("/")
    return f"https://{ref.host}"


_GITLAB = PlatformSpec(
    name="gitlab",
    title="GitLab",
    token_variable="GITLAB_TOKEN",
    url_variable="TASKORCH_GITLAB_URL",
    settings_field="gitlab_url",
    min_segments=2,
    max_segments=None,
    path_example="group/sub/project",
    conventions=LabelConventions(
        status_labels=_frozen(
            {
                "pending": "status::to do",
                "in_progress": "status::in progress",
                "blocked": "status::blocked",
                "cancelled": "status::cancelled",
            }
        ),
        status_prefix="status::",
        cancelled_by_reason=False,
    ),
    # A GitLab board's lists are the status labels; completed and cancelled issues are closed.
    board_columns=_frozen(
        {
            "proposed": "to do",
            "approved": "to do",
            "in_progress": "in progress",
            "blocked": "blocked",
            "completed": "Closed",
            "cancelled": "Closed",
        }
    ),
    build=_build_gitlab,
    api_url=_instance_url,
    default_host=lambda configured: _netloc(configured) or "gitlab.com",
    board_type="gitlab_issue_board",
    capabilities=_gitlab_capabilities,
    notes=(
        "a quiet pull is one updated_after request (GitLab answers no 304)",
        "subtasks are linked issues (relates_to) plus a task list in the parent's description "
        "(GitLab has no issue-to-issue child items over REST)",
        "several assignees are a paid feature: on Free a push naming two is refused, never faked",
        "dependencies are `blocks` links, a paid feature: on Free they are stored as relates_to and the sync says so",
    ),
)


# -- Jira Cloud -----------------------------------------------------------------------------------


def _build_jira(
    token: str, ref: RepositoryRef, base_url: str, settings: Settings, status_mapping: Mapping[str, str]
) -> Platform:
    from taskorch.platforms.jira import JiraPlatform

    return JiraPlatform.connect(
        token,
        ref.path,
        site_url=base_url,
        email=settings.jira_email,
        statuses=_JIRA.columns(status_mapping),
        conventions=_JIRA.label_conventions(status_mapping),
    )


def _jira_capabilities() -> Capabilities:
    from taskorch.platforms.jira import JiraPlatform

    return JiraPlatform.capabilities


# The "repository" is the project key; a status is a workflow status (the board column names are
# the status names the task statuses move to through transitions), never a label.
_JIRA = PlatformSpec(
    name="jira",
    title="Jira Cloud",
    token_variable="JIRA_API_TOKEN",
    url_variable="TASKORCH_JIRA_URL",
    settings_field="jira_url",
    min_segments=1,
    max_segments=1,
    path_example="jira:SHOP",
    conventions=DEFAULT_CONVENTIONS,
    board_columns=_frozen(
        {
            "proposed": "To Do",
            "approved": "To Do",
            "in_progress": "In Progress",
            "blocked": "Blocked",
            "completed": "Done",
            "cancelled": "Done",
        }
    ),
    build=_build_jira,
    api_url=_instance_url,
    default_host=_netloc,
    board_type="jira_board",
    capabilities=_jira_capabilities,
    notes=(
        "labels have no spaces in Jira: 'needs review' is sent as needs-review (and read back as "
        "'needs review'); 'type: feature' as type:feature",
        "a task's status moves the issue through the workflow's transitions to the status named by "
        "the board columns of status_mapping (To Do, In Progress, Blocked, Done); a workflow "
        "without that status refuses the push until one is mapped",
        "assignees are Atlassian account ids, one per issue",
        "subtasks are Jira sub-tasks created under their parent's issue; one whose parent's issue "
        "came later, or whose parent is itself a sub-task, is linked to it with a Relates link",
        "milestones are versions (fixVersions); closing one releases it; Jira has no release object",
        "a task's priority, due date and estimated effort are sent as priority (Highest/High/Medium/Low), "
        "due date and original estimate, and never read back: a change made in Jira stays until the task's changes",
        "the account e-mail for the API token comes from TASKORCH_JIRA_EMAIL",
    ),
)


# -- Bitbucket Cloud (code host only) ------------------------------------------------------------


def _build_bitbucket(
    token: str, ref: RepositoryRef, base_url: str, settings: Settings, status_mapping: Mapping[str, str]
) -> Platform:
    from taskorch.platforms.bitbucket import BitbucketPlatform

    username = settings.bitbucket_username or None
    return BitbucketPlatform.connect(token, ref.path, base_url=base_url, username=username)


def _bitbucket_capabilities() -> Capabilities:
    from taskorch.platforms.bitbucket import BitbucketPlatform

    return BitbucketPlatform.capabilities


_BITBUCKET = PlatformSpec(
    name="bitbucket",
    title="Bitbucket Cloud",
    token_variable="BITBUCKET_TOKEN",
    url_variable="TASKORCH_BITBUCKET_API_URL",
    settings_field="bitbucket_api_url",
    min_segments=2,
    max_segments=2,
    path_example="acme/shop",
    conventions=DEFAULT_CONVENTIONS,
    board_columns=_GITHUB.board_columns,
    build=_build_bitbucket,
    # Bitbucket Cloud is one service: every repository is on bitbucket.org, its API where the
    # setting says (api.bitbucket.org/2.0, or a stand-in).
    api_url=lambda ref, configured: configured.rstrip("/"),
    default_host=lambda configured: "bitbucket.org",
    capabilities=_bitbucket_capabilities,
    notes=(
        "code host only: Atlassian removed Bitbucket Cloud's issue tracker on 2026-08-20, so issues, versions, "
        "boards and sprints live in the linked Jira Cloud project",
        "a release is the tag plus the released Jira version and CHANGELOG.md: a Bitbucket repository has no "
        "release object",
    ),
    no_issues="Bitbucket Cloud's issue tracker no longer exists (Atlassian removed it, with its API, on 2026-08-20): "
    "taskorch keeps a Bitbucket team's issues, versions and boards in the linked Jira Cloud project and uses the "
    "repository for tags and releases.",
)

#: Every platform taskorch can connect to, by name.
PLATFORMS: Mapping[str, PlatformSpec] = MappingProxyType(
    {spec.name: spec for spec in (_GITHUB, _GITLAB, _JIRA, _BITBUCKET)}
)


def platform_spec(name: str) -> PlatformSpec:
    """The platform called ``name``; raises :class:`InvalidInput` naming ``platform``."""
    spec = PLATFORMS.get(name)
    if spec is None:
        raise InvalidInput("platform", f"{name!r} is not supported.", f"use one of: {', '.join(PLATFORMS)}.")
    return spec


def resolve_repository(
    repository: str, *, platform: str | None, settings: Settings, url: str | None = None
) -> tuple[PlatformSpec, RepositoryRef]:
    """A repository reference -> its platform and :class:`RepositoryRef`.

    The platform is ``platform`` when given, else the reference's prefix (``gitlab:group/p``),
    else the platform whose host the reference or ``url`` names (``https://gitlab.com/...``, a host
    called ``gitlab.*``), else GitHub. A path
    without a host is on ``url``'s host when given (the CLI's ``--url``), else on the platform's
    default host (GitLab: the host of ``TASKORCH_GITLAB_URL``). Raises :class:`InvalidInput`
    naming ``repository``, ``platform`` or ``url``.
    """
    text = repository.strip()
    prefixed = next((name for name in PLATFORMS if text.startswith(f"{name}:") and "://" not in text[:12]), None)
    if platform is None:
        platform = prefixed
    if platform is None:
        if "://" in text:
            host = _netloc(text)
        elif text.startswith("git@"):
            host = text[4:].partition(":")[0].lower()
        else:
            host = _netloc(url) if url else ""
        platform = next(
            (
                spec.name
                for spec in PLATFORMS.values()
                if host and host == spec.default_host(spec.configured_url(settings))
            ),
            None,
        ) or next((name for name in PLATFORMS if host.startswith(f"{name}.")), None)
    spec = platform_spec(platform or "github")
    if prefixed is not None and prefixed != spec.name:
        raise InvalidInput(
            "platform", f"{repository!r} names {prefixed}, not {spec.name}.", f"pass platform={prefixed}."
        )
    if prefixed is not None:
        text = text[len(prefixed) + 1 :]
    ref = parse_repository(text, platform=spec.name)
    default_host = spec.default_host(spec.configured_url(settings))
    if url is not None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path.strip("/"):
            raise InvalidInput("url", f"{url!r} is not an instance URL.", "pass e.g. https://gitlab.example.com.")
        default_host = parts.netloc.lower()
        if ("://" in text or text.startswith("git@")) and ref.host != default_host:
            raise InvalidInput("url", f"{url!r} is not the host of {repository!r}.", "pass one of them.")
    if "://" not in text and not text.startswith("git@"):
        ref = RepositoryRef(platform=spec.name, host=default_host, path=ref.path)
    spec.check_path(ref)
    return spec, ref
