"""One face over the platform stand-ins, so a sync test runs against GitHub, GitLab and Jira alike.

A :class:`Harness` holds a stand-in (``standins.github.FakeGitHub``,
``standins.gitlab.FakeGitLab`` or ``standins.jira.FakeJira``), the repository reference to
connect, the platform factory an :class:`~taskorch.services.app.Orchestrator` is given, and the
stand-in's state in one shape (:class:`Issue`), plus the edits a person makes on the platform.
``harness(platform)`` is the context manager the parametrised fixtures use.

Jira carries a status as a workflow status, not a label. The face stays the label one: an
:class:`Issue` of Jira lists, beside its Jira labels, the status label of its workflow status
(In Progress and In Review: ``status: in progress``, Blocked: ``status: blocked``; a done status
is a closed issue), and an edit whose labels change that status label is a person moving the
issue through the workflow to the status it names (To Do when none). Jira's stand-in runs the
workflow with a Blocked status and directed transitions (``Workflow.with_blocked()``), so the
adapter walks multi-step paths. Its children are the sub-tasks whose ``parent`` is the issue; its
marker is the idempotency key in the ``taskorch`` issue property, and its assignees are account
ids (:meth:`Harness.add_user` makes accounts whose id is the name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from standins.github import FakeGitHub
from standins.gitlab import FakeGitLab
from standins.jira import FakeJira, Workflow
from taskorch.platforms.adf import adf_to_markdown
from taskorch.platforms.base import Platform
from taskorch.sync.template import find_marker

__all__ = ["JIRA_SITE", "PLATFORMS", "TOKEN", "Harness", "Issue", "harness"]

PLATFORMS = ["github", "gitlab", "jira"]
#: The Jira site of a stand-in reached in process (the settings' TASKORCH_JIRA_URL).
JIRA_SITE = "https://shop.atlassian.net"
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
    "jira": {"in_progress": "status: in progress", "blocked": "status: blocked"},
}
#: Jira: the workflow status a person moves an issue to for each status label (none: To Do),
#: and the status label each open workflow status reads as.
_JIRA_MOVES = {None: "To Do", "status: in progress": "In Progress", "status: blocked": "Blocked"}
_JIRA_LABELS = {"In Progress": "status: in progress", "In Review": "status: in progress", "Blocked": "status: blocked"}


@dataclass(frozen=True)
class Issue:
    """An issue of any stand-in, in one shape."""

    number: int
    title: str
    body: str
    state: str  # open | closed
    labels: tuple[str, ...]
    assignees: tuple[str, ...]
    #: The idempotency key kept outside the body (Jira: the ``taskorch`` issue property).
    property_key: str | None = None

    @property
    def marker(self) -> str | None:
        return self.property_key if self.property_key is not None else find_marker(self.body)


class Harness:
    """A stand-in of ``platform`` and how to reach it (see the module docstring)."""

    def __init__(self, platform: str, fake: FakeGitHub | FakeGitLab | FakeJira, base_url: str | None) -> None:
        self.platform = platform
        self.fake = fake
        self.base_url = base_url
        self.timeout = 30.0

    @property
    def repository(self) -> str:
        """The reference ``git connect`` is given."""
        return {"github": "octo-org/shop", "gitlab": "gitlab:group/sub/project", "jira": "jira:SHOP"}[self.platform]

    def environment(self) -> dict[str, str]:
        """The settings that point a separate process at the stand-in (served over HTTP)."""
        assert self.base_url is not None
        variable = {"github": "TASKORCH_GITHUB_API_URL", "gitlab": "TASKORCH_GITLAB_URL", "jira": "TASKORCH_JIRA_URL"}
        return {variable[self.platform]: self.base_url}

    def settings_overrides(self) -> dict[str, str]:
        """Settings fields that point an in-process orchestrator at the stand-in."""
        if self.platform == "gitlab" and self.base_url is not None:
            return {"gitlab_url": self.base_url}
        if self.platform == "jira":
            return {"jira_url": self.base_url or JIRA_SITE}
        return {}

    def factory(self) -> Callable[[Mapping[Any, Any]], Platform]:
        """A platform factory bound to the stand-in (no token lookup)."""
        if isinstance(self.fake, FakeGitHub):
            from taskorch.platforms.github import GitHubPlatform

            github = self.fake
            return lambda config: GitHubPlatform.connect(
                TOKEN, str(config["repository_url"]), transport=github.transport()
            )
        if isinstance(self.fake, FakeJira):
            from taskorch.platforms.jira import JiraPlatform

            jira = self.fake
            site = self.base_url or JIRA_SITE
            transport = None if self.base_url else jira.transport()
            jira_timeout = self.timeout
            return lambda config: JiraPlatform.connect(
                TOKEN, jira.project_key, site_url=site, transport=transport, timeout=jira_timeout
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
        if isinstance(self.fake, FakeJira):
            return {number: self._jira_issue(number, raw) for number, raw in self.fake.issues.items()}
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

    def _jira_issue(self, number: int, raw: Mapping[str, Any]) -> Issue:
        assert isinstance(self.fake, FakeJira)
        prop = self.fake.properties.get(str(raw["key"]), {}).get("taskorch") or {}
        spelled = prop.get("labels") or {}  # the spelling taskorch sent for a label Jira cannot hold
        status = raw["status"]
        closed = status["statusCategory"]["key"] == "done"
        labels = [str(spelled.get(label, label)) for label in raw["labels"]]
        if not closed and status["name"] in _JIRA_LABELS:
            labels.append(_JIRA_LABELS[status["name"]])
        return Issue(
            number=number,
            title=str(raw["summary"]),
            body=adf_to_markdown(raw.get("description")),
            state="closed" if closed else "open",
            labels=tuple(sorted(labels)),
            assignees=(str(raw["assignee"]["accountId"]),) if raw.get("assignee") else (),
            property_key=prop.get("key"),
        )

    def children(self, parent: int) -> list[int]:
        """The sub-issues of ``parent`` (GitLab: the issues its task list names, each also linked;
        Jira: the sub-tasks whose parent it is)."""
        if isinstance(self.fake, FakeGitHub):
            return list(self.fake.sub_issues.get(parent, []))
        if isinstance(self.fake, FakeJira):
            key = self.fake.key(parent)
            return [n for n, raw in self.fake.issues.items() if (raw.get("parent") or {}).get("key") == key]
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
        elif isinstance(self.fake, FakeJira):  # an account whose id is the name, as a task names it
            user = dict(self.fake.add_user(name), accountId=name)
            self.fake.users[name] = user

    # -- a person's edits on the platform ------------------------------------------------------

    def edit(self, number: int, **fields: Any) -> None:
        """Edit an issue as a person would: ``title``, ``body``, ``labels`` (names), ``assignees``
        (usernames), ``state`` (open | closed). On Jira, labels that change the issue's status
        label move it through the workflow (see the module docstring); ``state`` closes it
        (Done) or reopens it (To Do)."""
        if isinstance(self.fake, FakeGitHub):
            self.fake.edit_issue(number, **fields)
            return
        if isinstance(self.fake, FakeJira):
            self._jira_edit(number, fields)
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

    def _jira_edit(self, number: int, fields: Mapping[str, Any]) -> None:
        assert isinstance(self.fake, FakeJira)
        changes: dict[str, Any] = {}
        if "title" in fields:
            changes["summary"] = fields["title"]
        if "body" in fields:
            changes["description"] = fields["body"]
        if "assignees" in fields:
            assert len(fields["assignees"]) <= 1, "a Jira issue has one assignee"
            changes["assignee"] = fields["assignees"][0] if fields["assignees"] else None
        if "labels" in fields:
            labels = list(fields["labels"])
            moves = [label for label in labels if label in _JIRA_MOVES]
            raw = self.fake.issues[number]
            prop = self.fake.properties.get(str(raw["key"]), {}).get("taskorch") or {}
            jira_form = {sent: form for form, sent in (prop.get("labels") or {}).items()}
            changes["labels"] = [jira_form.get(label, label) for label in labels if label not in _JIRA_MOVES]
            current = self._jira_issue(number, raw)
            was = [label for label in current.labels if label in _JIRA_MOVES]
            if current.state == "open" and moves != was:
                changes["status"] = _JIRA_MOVES[moves[0] if moves else None]
        if "state" in fields:
            changes["status"] = "Done" if fields["state"] == "closed" else "To Do"
        self.fake.edit_issue(number, **changes)

    def inject(self, fault: str, **options: Any) -> None:
        """Inject a fault (names as the stand-in has them; a GitHub ``PATCH`` is GitLab's and Jira's
        ``PUT``)."""
        if isinstance(self.fake, FakeGitLab | FakeJira) and options.get("method") == "PATCH":
            options["method"] = "PUT"
        self.fake.inject(fault, **options)


@contextmanager
def harness(platform: str, *, serve: bool = False, **options: Any) -> Iterator[Harness]:
    """A fresh stand-in of ``platform``; GitLab is always served over HTTP (python-gitlab speaks
    ``requests``), GitHub and Jira only with ``serve=True`` (else in process through an httpx
    transport)."""
    if platform == "jira":
        jira = FakeJira("SHOP", workflow=Workflow.with_blocked(), **options)
        jira.rate_limit = jira.rate_remaining = 1_000_000  # the burst budget never runs out under a test
        if serve:
            with jira.serve() as url:
                yield Harness("jira", jira, url)
        else:
            jira.site_url = JIRA_SITE
            yield Harness("jira", jira, None)
        return
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
