"""A test double for the Jira side of a Bitbucket connection: :class:`JiraVersions`, an in-memory
platform whose milestones are Jira versions, as the Jira adapter maps them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

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
)

__all__ = ["JiraVersions"]


class JiraVersions:
    """A Jira project as far as its versions go (the milestone methods, as the Jira adapter maps
    them: ``update_milestone(n, state="closed", description=notes)`` releases version ``n``);
    every call is kept in ``calls``. Issue methods are not used by a release and fail loudly."""

    name = "jira"
    capabilities = Capabilities(milestones=True)

    def __init__(self, site: str = "https://shop.atlassian.net", key: str = "SHOP") -> None:
        self.site = site
        self.repository = key
        self.ref = RepositoryRef(platform="jira", host=site.split("://", 1)[1], path=key)
        self.versions: dict[int, RemoteMilestone] = {}
        self.calls: list[tuple[str, Any]] = []

    def _url(self, number: int) -> str:
        return f"{self.site}/projects/{self.repository}/versions/{number}"

    def list_milestones(self) -> list[RemoteMilestone]:
        self.calls.append(("list_milestones", None))
        return list(self.versions.values())

    def create_milestone(self, title: str, description: str, due_on: datetime | None) -> RemoteMilestone:
        self.calls.append(("create_milestone", title))
        number = 10_000 + len(self.versions)
        version = RemoteMilestone(number, title, description, "open", due_on, self._url(number))
        self.versions[number] = version
        return version

    def update_milestone(
        self,
        number: int,
        *,
        title: str | None = None,
        description: str | None = None,
        due_on: datetime | None = None,
        state: Literal["open", "closed"] | None = None,
    ) -> RemoteMilestone:
        self.calls.append(("update_milestone", (number, state)))
        old = self.versions[number]
        self.versions[number] = dataclasses.replace(
            old,
            title=title if title is not None else old.title,
            description=description if description is not None else old.description,
            due_on=due_on if due_on is not None else old.due_on,
            state=state or old.state,
        )
        return self.versions[number]

    def rate_budget(self) -> RateBudget:
        return RateBudget(limit=None, remaining=None, reset_at=datetime.now(UTC))

    def close(self) -> None:
        self.calls.append(("close", None))

    def _unused(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("a release never touches Jira issues, releases or boards")

    def create_issue(self, changes: IssueChanges) -> RemoteIssue:
        self._unused()

    def update_issue(self, number: int, changes: IssueChanges) -> RemoteIssue:
        self._unused()

    def get_issue(self, number: int) -> RemoteIssue:
        self._unused()

    def list_issues_since(self, since: datetime | None, etag: str | None) -> IssueListing:
        self._unused()

    def add_comment(self, number: int, body: str) -> None:
        self._unused()

    def add_sub_issue(self, parent_number: int, child: RemoteIssue) -> None:
        self._unused()

    def add_dependency(self, blocked_number: int, blocking: RemoteIssue) -> str | None:
        self._unused()

    def remove_dependency(self, blocked_number: int, blocking: RemoteIssue) -> None:
        self._unused()

    def list_dependencies(self, number: int) -> list[int]:
        self._unused()

    def get_release_by_tag(self, tag: str) -> RemoteRelease | None:
        self._unused()

    def create_release(
        self, tag: str, *, name: str, body: str, target_commitish: str | None, prerelease: bool
    ) -> RemoteRelease:
        self._unused()

    def update_release(self, release_id: int, *, name: str, body: str) -> RemoteRelease:
        self._unused()

    def create_board(self, title: str) -> BoardRef:
        self._unused()

    def get_board(self, number: int) -> BoardRef:
        self._unused()

    def add_to_board(self, board: BoardRef, issue: RemoteIssue) -> str:
        self._unused()

    def set_board_status(self, board: BoardRef, item_id: str, option_name: str) -> None:
        self._unused()
