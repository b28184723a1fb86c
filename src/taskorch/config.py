"""Settings, read from the environment (``TASKORCH_*``).

=============================  ==========================================================
variable                       meaning
=============================  ==========================================================
TASKORCH_DATABASE_URL          SQLAlchemy URL; default: a SQLite file in the user data dir
TASKORCH_TOOLSETS              comma-separated toolsets to expose over MCP (default: all):
                               core, maintenance, lifecycle
TASKORCH_STALE_AFTER_HOURS     an in_progress task untouched this long is stale (default 24)
TASKORCH_LOG_LEVEL             stderr log level of ``taskorch serve`` (default WARNING)
TASKORCH_GIT_INTEGRATION       disabled (default), basic (issue sync), project (boards,
                               milestones, assignment) or full (releases)
TASKORCH_GITHUB_API_URL        GitHub's REST base URL (default https://api.github.com;
                               GitHub Enterprise: https://HOST/api/v3)
TASKORCH_GITLAB_URL            GitLab's base URL (default https://gitlab.com; a self-managed
                               instance: https://gitlab.example.com)
TASKORCH_JIRA_URL              the Jira Cloud site (e.g. https://shop.atlassian.net)
TASKORCH_JIRA_EMAIL            the Atlassian account e-mail that goes with JIRA_API_TOKEN
                               (basic auth); unset: the token is an OAuth bearer token
TASKORCH_MUTATION_SPACING      seconds between two mutating requests (default 1.0, as
                               GitHub's best practices ask)
TASKORCH_MAX_RETRY_WAIT        longest wait, in seconds, a sync accepts from a rate limit
                               before it stops and leaves the rest for the next run (120)
TASKORCH_SYNC_INTERVAL         seconds between background syncs of ``taskorch serve`` for
                               projects with auto sync on (default 60; 0 turns it off)
TASKORCH_WEBHOOK_MAX_AGE       seconds a webhook delivery may be old (its event time) before
                               it is refused as stale (default 600)
TASKORCH_BACKGROUND_SYNC       1: ``taskorch serve`` on stdio syncs in the background too
                               (as ``--sync``; over http it is on unless ``--no-sync``)
TASKORCH_CLAIM_TTL             seconds a claim of ``execute_task`` lasts before another actor
                               may take the task over (default 1800); renewed by the holder's
                               later calls on the task
TASKORCH_ALLOWED_TOKEN_NAMES   comma-separated token names (``fnmatch`` patterns allowed, e.g.
                               ``MYORG_*``) an assistant may name in a connect over MCP
                               (default GITHUB_TOKEN,GITLAB_TOKEN,JIRA_API_TOKEN,
                               BITBUCKET_TOKEN); ``TASKORCH_*_TOKEN`` names are always allowed.
                               The CLI, run by the user, may name any variable.
TASKORCH_BITBUCKET_API_URL     Bitbucket Cloud's REST root (default https://api.bitbucket.org/2.0)
TASKORCH_BITBUCKET_USERNAME    sends the Bitbucket token as HTTP Basic with this user: the
                               Atlassian account e-mail for an API token, the username for an
                               app password; unset: Bearer (workspace, project or repository
                               access token, OAuth)
=============================  ==========================================================

A project can add or override specialist roles in ``<project root>/.taskorch/roles/*.md``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from taskorch.errors import InvalidInput

__all__ = [
    "ALWAYS_ALLOWED_TOKEN_NAMES",
    "DEFAULT_ALLOWED_TOKEN_NAMES",
    "GIT_TIERS",
    "TOKEN_NAME_PATTERN",
    "TOOLSETS",
    "Settings",
    "default_database_url",
    "project_roles_dir",
]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Integration tiers, each including the ones before it.
GIT_TIERS = ("disabled", "basic", "project", "full")
#: Git tools (without prefix) and the tier that lists them.
GIT_TOOLS: dict[str, str] = {
    "git_integration": "basic",
    "project_board_manager": "project",
    "release_coordinator": "full",
}

#: The token names a caller other than the user (an assistant over MCP) may use to connect a
#: platform, when ``TASKORCH_ALLOWED_TOKEN_NAMES`` is not set.
DEFAULT_ALLOWED_TOKEN_NAMES: tuple[str, ...] = ("GITHUB_TOKEN", "GITLAB_TOKEN", "JIRA_API_TOKEN", "BITBUCKET_TOKEN")
#: Allowed besides that list: taskorch's own token variables. Not every ``TASKORCH_*`` name:
#: ``TASKORCH_DATABASE_URL`` may hold a database password.
ALWAYS_ALLOWED_TOKEN_NAMES = "TASKORCH_*_TOKEN"
#: A token name: an environment variable name, or a keyring entry name (which may also use ``.``
#: and ``-`` after the first character); 1 to 128 characters.
TOKEN_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$"
_TOKEN_NAME_OR_PATTERN = re.compile(r"^[A-Za-z_*][A-Za-z0-9_.*?\-]{0,127}$")

#: Which tools each toolset holds (names without the ``orchestrator_`` prefix).
TOOLSETS: dict[str, tuple[str, ...]] = {
    "core": (
        "initialize_session",
        "get_status",
        "plan_task",
        "execute_task",
        "complete_task",
        "query_tasks",
        "update_task",
        "cancel_task",
        "delete_task",
        "synthesize_results",
    ),
    "maintenance": ("maintenance_coordinator", "health_check"),
    "lifecycle": ("restart_server", "shutdown_prepare", "reconnect_test", "restart_status"),
}


def default_database_url() -> str:
    """``sqlite:///<user data dir>/taskorch.db`` (platformdirs decides the directory per OS)."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('taskorch', appauthor=False) / 'taskorch.db'}"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults. Build one with :meth:`from_env`."""

    database_url: str
    toolsets: tuple[str, ...] = tuple(TOOLSETS)
    stale_after_hours: float = 24.0
    log_level: str = "WARNING"
    git_integration: str = "disabled"
    github_api_url: str = "https://api.github.com"
    gitlab_url: str = "https://gitlab.com"
    jira_url: str = "https://your-domain.atlassian.net"
    jira_email: str | None = None
    mutation_spacing: float = 1.0
    max_retry_wait: float = 120.0
    sync_interval: float = 60.0
    claim_ttl: float = 1800.0
    webhook_max_age: float = 600.0
    allowed_token_names: tuple[str, ...] = DEFAULT_ALLOWED_TOKEN_NAMES
    bitbucket_api_url: str = "https://api.bitbucket.org/2.0"
    bitbucket_username: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``TASKORCH_*`` variables; raises :class:`InvalidInput` naming a bad variable."""
        env = os.environ if environ is None else environ
        url = env.get("TASKORCH_DATABASE_URL", "").strip() or default_database_url()
        raw_toolsets = env.get("TASKORCH_TOOLSETS", "").strip()
        toolsets = tuple(TOOLSETS) if raw_toolsets in ("", "all") else _parse_toolsets(raw_toolsets)
        stale = env.get("TASKORCH_STALE_AFTER_HOURS", "").strip()
        try:
            stale_hours = float(stale) if stale else 24.0
        except ValueError:
            raise InvalidInput(
                "TASKORCH_STALE_AFTER_HOURS", f"{stale!r} is not a number.", "set it to hours, e.g. 24."
            ) from None
        if stale_hours <= 0:
            raise InvalidInput("TASKORCH_STALE_AFTER_HOURS", "must be positive.", "set it to hours, e.g. 24.")
        level = env.get("TASKORCH_LOG_LEVEL", "WARNING").strip().upper() or "WARNING"
        if level not in LOG_LEVELS:
            raise InvalidInput(
                "TASKORCH_LOG_LEVEL", f"{level!r} is not a log level.", f"use one of: {', '.join(LOG_LEVELS)}."
            )
        tier = env.get("TASKORCH_GIT_INTEGRATION", "").strip().lower() or "disabled"
        if tier not in GIT_TIERS:
            raise InvalidInput(
                "TASKORCH_GIT_INTEGRATION", f"{tier!r} is not a tier.", f"use one of: {', '.join(GIT_TIERS)}."
            )
        return cls(
            database_url=url,
            toolsets=toolsets,
            stale_after_hours=stale_hours,
            log_level=level,
            git_integration=tier,
            github_api_url=env.get("TASKORCH_GITHUB_API_URL", "").strip() or "https://api.github.com",
            gitlab_url=env.get("TASKORCH_GITLAB_URL", "").strip().rstrip("/") or "https://gitlab.com",
            jira_url=env.get("TASKORCH_JIRA_URL", "").strip().rstrip("/") or "https://your-domain.atlassian.net",
            jira_email=env.get("TASKORCH_JIRA_EMAIL", "").strip() or None,
            mutation_spacing=_seconds(env, "TASKORCH_MUTATION_SPACING", 1.0),
            max_retry_wait=_seconds(env, "TASKORCH_MAX_RETRY_WAIT", 120.0),
            sync_interval=_seconds(env, "TASKORCH_SYNC_INTERVAL", 60.0),
            claim_ttl=_seconds(env, "TASKORCH_CLAIM_TTL", 1800.0),
            webhook_max_age=_seconds(env, "TASKORCH_WEBHOOK_MAX_AGE", 600.0),
            allowed_token_names=_token_names(env.get("TASKORCH_ALLOWED_TOKEN_NAMES", "")),
            bitbucket_api_url=env.get("TASKORCH_BITBUCKET_API_URL", "").strip().rstrip("/")
            or "https://api.bitbucket.org/2.0",
            bitbucket_username=env.get("TASKORCH_BITBUCKET_USERNAME", "").strip(),
        )

    def tool_names(self) -> list[str]:
        """The tool names (without prefix) the enabled toolsets expose, in a stable order."""
        return [name for toolset in self.toolsets for name in TOOLSETS[toolset]] + git_tool_names(self.git_integration)


def git_tool_names(tier: str) -> list[str]:
    """The Git tools a tier lists (none when disabled)."""
    rank = GIT_TIERS.index(tier) if tier in GIT_TIERS else 0
    return [name for name, needs in GIT_TOOLS.items() if rank >= GIT_TIERS.index(needs)]


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(name, f"{raw!r} is not a number of seconds.", f"e.g. {default:g}.") from None
    if value < 0:
        raise InvalidInput(name, "is negative.", f"e.g. {default:g}.")
    return value


def _token_names(raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not names:
        return DEFAULT_ALLOWED_TOKEN_NAMES
    bad = sum(1 for name in names if not _TOKEN_NAME_OR_PATTERN.fullmatch(name))
    if bad:  # not repeated: a misplaced value may be a token
        raise InvalidInput(
            "TASKORCH_ALLOWED_TOKEN_NAMES",
            f"{bad} of its entries is not a variable name or name pattern.",
            "list names separated by commas, e.g. GITHUB_TOKEN,MYORG_GITHUB_TOKEN (patterns such as MYORG_* work).",
        )
    return names


def _parse_toolsets(raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [n for n in names if n not in TOOLSETS]
    if unknown:
        raise InvalidInput(
            "TASKORCH_TOOLSETS",
            f"unknown toolset(s): {', '.join(unknown)}.",
            f"use 'all' or a comma-separated list of: {', '.join(TOOLSETS)}.",
        )
    return names


def project_roles_dir(project_root: str | Path) -> Path:
    """Where a project keeps its own specialist roles."""
    return Path(project_root) / ".taskorch" / "roles"
