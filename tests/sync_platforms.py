"""One face over both platform stand-ins, so a sync test runs against GitHub and GitLab alike.

A :class:`Harness` holds a stand-in (``standins.github.FakeGitHub`` or
``standins.gitlab.FakeGitLab``), the repository reference to connect, the platform factory an
:class:`~taskorch.services.app.Orchestrator` is given, and the stand-in's state in one shape
(:class:`Issue`), plus the edits a person makes on the platform. ``harness(platform)`` is the
context manager the parametrised fixtures use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from standins.github import FakeGitHub
from standins.gitlab import FakeGitLab
from taskorch.platforms.base import Platform
from taskorch.sync.template import find_marker

__all__ = ["PLATFORMS", "TOKEN", "Harness", "Issue", "harness"]

PLATFORMS = ["github", "gitlab"]
TOKEN = "test-token-for-the-stand-in"
#: The status label of each status a person may set on the platform, per platform.
_STATUS_LABELS = {
    "github": {"in_progress": "status: in progress", "blocked": "status: blocked"},
    "gitlab": {
        "pending": "status::to do",
        "in_progress": "status::in progress",
        "blocked": "status::blocked",
        "cancelled": "status::cancelled",
    },
}


@dataclass(frozen=True)
class Issue:
    """An issue of either stand-in, in one shape."""

    number: int
    title: str
    body: str
    state: str  # open | closed
    labels: tuple[str, ...]
    assignees: tuple[str, ...]

    @property
    def marker(self) -> str | None:
        return find_marker(self.body)


class Harness:
    """A stand-in of ``platform`` and how to reach it (see the module docstring)."""

    def __init__(self, platform: str, fake: FakeGitHub | FakeGitLab, base_url: str | None) -> None:
        self.platform = platform
        self.fake = fake
        self.base_url = base_url
        self.timeout = 30.0

    @property
    def repository(self) -> str:
        """The reference ``git connect`` is given."""
        return "octo-org/shop" if self.platform == "github" else "gitlab:group/sub/project"

    def environment(self) -> dict[str, str]:
        """The settings that point a separate process at the stand-in (served over HTTP)."""
        assert self.base_url is not None
        variable = "TASKORCH_GITHUB_API_URL" if self.platform == "github" else "TASKORCH_GITLAB_URL"
        return {variable: self.base_url}

    def settings_overrides(self) -> dict[str, str]:
        """Settings fields that point an in-process orchestrator at the stand-in."""
        if self.platform == "gitlab" and self.base_url is not None:
            return {"gitlab_url": self.base_url}
        return {}

    def factory(self) -> Callable[[Mapping[Any, Any]], Platform]:
        """A platform factory bound to the stand-in (no token lookup)."""
        if isinstance(self.fake, FakeGitHub):
            from taskorch.platforms.github import GitHubPlatform

            github = self.fake
            return lambda config: GitHubPlatform.connect(
                TOKEN, str(config["repository_url"]), transport=github.transport()
            )
        import requests

        from taskorch.platforms.gitlab import GitLabPlatform

        url = self.base_url
        assert url is not None
        timeout = self.timeout
        return lambda config: GitLabPlatform.connect(
            TOKEN, "group/sub/project", url=url, session=requests.Session(), timeout=timeout
        )

    # -- state --------------------------------------------------------------------------------

    def issues(self) -> dict[int, Issue]:
        """Every issue of the stand-in, by number (GitLab: iid)."""
        out: dict[int, Issue] = {}
        if isinstance(self.fake, FakeGitHub):
            for number, raw in self.fake.issues.items():
                out[number] = Issue(
                    number=number,
                    title=str(raw["title"]),
                    body=str(raw.get("body") or ""),
                    state=str(raw["state"]),
                    labels=tuple(sorted(label["name"] for label in raw["labels"])),
                    assignees=tuple(sorted(person["login"] for person in raw["assignees"])),
                )
            return out
        users = {user["id"]: name for name, user in self.fake.users.items()}
        for number, raw in self.fake.issues.items():
            out[number] = Issue(
                number=number,
                title=str(raw["title"]),
                body=str(raw.get("description") or ""),
                state="open" if raw["state"] == "opened" else "closed",
                labels=tuple(sorted(raw["labels"])),
                assignees=tuple(sorted(users[uid] for uid in raw["assignee_ids"])),
            )
        return out

    def children(self, parent: int) -> list[int]:
        """The sub-issues of ``parent`` (GitLab: the issues its task list names, each also linked)."""
        if isinstance(self.fake, FakeGitHub):
            return list(self.fake.sub_issues.get(parent, []))
        from taskorch.platforms.gitlab import split_task_list

        _text, listed = split_task_list(str(self.fake.issues[parent].get("description") or ""))
        linked = {
            link["target"] if link["source"] == parent else link["source"]
            for link in self.fake.links
            if parent in (link["source"], link["target"])
        }
        return [child for child in listed if child in linked]

    def status_label(self, status: str) -> str | None:
        return _STATUS_LABELS[self.platform].get(status)

    def add_user(self, name: str) -> None:
        if isinstance(self.fake, FakeGitLab):
            self.fake.add_user(name)

    # -- a person's edits on the platform ------------------------------------------------------

    def edit(self, number: int, **fields: Any) -> None:
        """Edit an issue as a person would: ``title``, ``body``, ``labels`` (names), ``assignees``
        (usernames), ``state`` (open | closed)."""
        if isinstance(self.fake, FakeGitHub):
            self.fake.edit_issue(number, **fields)
            return
        changes: dict[str, Any] = {}
        if "title" in fields:
            changes["title"] = fields["title"]
        if "body" in fields:
            changes["description"] = fields["body"]
        if "labels" in fields:
            changes["labels"] = ",".join(fields["labels"])
        if "assignees" in fields:
            changes["assignee_ids"] = [self.fake.add_user(name)["id"] for name in fields["assignees"]]
        if "state" in fields:
            changes["state_event"] = "close" if fields["state"] == "closed" else "reopen"
        self.fake.edit_issue(number, **changes)

    def inject(self, fault: str, **options: Any) -> None:
        """Inject a fault (names as the stand-in has them; a GitHub ``PATCH`` is GitLab's ``PUT``)."""
        if isinstance(self.fake, FakeGitLab) and options.get("method") == "PATCH":
            options["method"] = "PUT"
        self.fake.inject(fault, **options)


@contextmanager
def harness(platform: str, *, serve: bool = False, **options: Any) -> Iterator[Harness]:
    """A fresh stand-in of ``platform``; GitLab is always served over HTTP (python-gitlab speaks
    ``requests``), GitHub only with ``serve=True`` (else in process through an httpx transport)."""
    if platform == "github":
        github = FakeGitHub(**options)
        if serve:
            with github.serve() as url:
                yield Harness("github", github, url)
        else:
            yield Harness("github", github, None)
        return
    gitlab = FakeGitLab("group/sub/project", **options)
    gitlab.rate_reset = 4_102_444_800  # 2100: the budget never resets under a test
    gitlab.rate_limit = gitlab.rate_remaining = 1_000_000
    with gitlab.serve() as url:
        yield Harness("gitlab", gitlab, url)
