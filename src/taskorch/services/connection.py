"""The parameters of a connection between a project and a repository, as one typed value.

Both faces (the MCP tool ``git_integration`` action=connect and ``taskorch git connect``) build a
:class:`ConnectionConfig`; :meth:`~taskorch.services.app.Orchestrator.git_connect` hands it to
:meth:`~taskorch.services.git.GitService.check_connect`, which validates it against the platform
registry and returns the row to store. Importing this module is cheap (no SQLAlchemy, no platform
library), so the MCP server may build one before the services are loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from taskorch.domain.text import checked_text

__all__ = ["ConnectionConfig"]

_ONE_LINE = (
    "repository",
    "api_token_name",
    "platform",
    "base_url",
    "tier",
    "conflict_policy",
    "jira",
    "jira_project",
    "code_token_name",
)


@dataclass(frozen=True)
class ConnectionConfig:
    """What ``connect`` needs to know.

    * ``repository``: ``owner/name``, ``group/sub/project``, ``gitlab:group/sub/project``,
      ``bitbucket:workspace/repo``, ``jira:KEY``, or the repository's https URL or SSH remote;
    * ``platform``: ``"github"``, ``"gitlab"``, ``"bitbucket"`` or ``"jira"``; ``None`` infers it
      from ``repository`` (its prefix or its host), else GitHub;
    * ``jira`` / ``jira_project``: the Jira Cloud project holding the issues, when the repository
      is only the code host (Bitbucket Cloud, whose issue tracker was removed; or GitHub / GitLab
      code with Jira issues): ``jira`` is the site (``https://SITE.atlassian.net``, then
      ``jira_project`` is the key) or a URL in the project (``https://SITE.atlassian.net/browse/KEY``);
      with ``repository="jira:KEY"`` there is no code host and ``jira`` may name the site;
    * ``code_token_name``: the NAME of the code host's token when the issues live in Jira
      (``None``: the code host's default, e.g. ``BITBUCKET_TOKEN``); ``api_token_name`` is then
      Jira's (default ``JIRA_API_TOKEN``);
    * ``base_url``: the instance (``https://gitlab.example.com``) for a path without a host; only
      the user may name one (the CLI's ``--url``): over MCP the address comes from the settings;
    * ``api_token_name``: the NAME of the environment variable or keyring entry holding the token
      (``None``: the platform's default, ``GITHUB_TOKEN`` or ``GITLAB_TOKEN``);
    * ``tier``: ``basic``, ``project`` (boards, milestones) or ``full`` (releases);
    * ``default_labels``: labels every issue gets; ``auto_sync_enabled``: issues for tasks as they
      are planned; ``issue_template``: a Jinja2 body template (sandboxed; ``None``: the default);
    * ``conflict_policy``: ``manual``, ``local_wins``, ``remote_wins`` or ``newest_wins``;
    * ``progress_comments``: comment (GitLab: a note) on the issue when the task moves;
    * ``status_mapping``: overrides of the platform's defaults: a board key (``proposed``,
      ``approved``, ``in_progress``, ``blocked``, ``completed``, ``cancelled``) -> board column,
      and ``label:<status>`` -> the label carrying that status (``label:in_progress`` ->
      ``status::doing``).
    """

    repository: str
    platform: str | None = None
    base_url: str | None = None
    api_token_name: str | None = None
    tier: str = "basic"
    default_labels: Sequence[str] = ()
    auto_sync_enabled: bool = False
    issue_template: str | None = None
    conflict_policy: str = "manual"
    progress_comments: bool = False
    status_mapping: Mapping[str, str] = field(default_factory=dict)
    jira: str | None = None
    jira_project: str | None = None
    code_token_name: str | None = None

    @classmethod
    def of(cls, repository: str, **options: Any) -> ConnectionConfig:
        """A config from keyword options (the names of the fields; ``None`` leaves a default).
        Raises :class:`TypeError` for an unknown option."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown connect option(s): {', '.join(unknown)}")
        return cls(repository=repository, **{k: v for k, v in options.items() if v is not None})

    def checked_text(self) -> ConnectionConfig:
        """This config with its text checked by the rules of every written field (one line,
        except the template), raising :class:`~taskorch.errors.InvalidInput` naming the field."""
        changes: dict[str, Any] = {}
        for name in _ONE_LINE:
            value = getattr(self, name)
            if isinstance(value, str):
                changes[name] = checked_text(value, field=name)
        labels = [checked_text(str(v), field=f"default_labels.{i}") for i, v in enumerate(self.default_labels)]
        mapping = {
            checked_text(str(k), field="status_mapping"): checked_text(str(v), field=f"status_mapping.{k}")
            for k, v in (self.status_mapping or {}).items()
        }
        template = (
            checked_text(self.issue_template, field="issue_template", multiline=True)
            if self.issue_template is not None
            else None
        )
        return replace(self, **changes, default_labels=tuple(labels), status_mapping=mapping, issue_template=template)
