"""What a sync run reports, in the sync layer's own types (plain frozen dataclasses).

The services turn these into the tool results (``taskorch.services.models``); the engine never
imports the services. Task ids in a finished :class:`SyncReport` are task *numbers* in their
project; ``rate_limit`` is ``{"limit": int|None, "remaining": int|None, "reset_at": ISO str|None}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ConflictReport", "FailureReport", "LinkReport", "SyncReport", "conflict_report", "link_report"]


@dataclass(frozen=True)
class LinkReport:
    """A task's link to its issue. ``sync_status``: synced, pending, failed or manual (conflict)."""

    task_id: int
    platform: str
    repository: str
    issue_number: int | None
    issue_url: str | None
    sync_status: str
    last_synced: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class ConflictReport:
    """A field changed on both sides since they last agreed (``status`` open or resolved)."""

    id: int
    task_id: int
    field: str
    base_value: Any
    local_value: Any
    remote_value: Any
    detail: str
    status: str
    resolution: str | None = None


@dataclass(frozen=True)
class FailureReport:
    """One operation that failed (``task_id`` is ``None`` for the pull)."""

    task_id: int | None
    operation: str
    error: str


@dataclass(frozen=True)
class SyncReport:
    """What a run moved; ``requests`` counts HTTP requests, ``duration_seconds`` wall time."""

    repository: str
    created: list[LinkReport]
    updated: list[int]
    pulled: list[int]
    conflicts: list[ConflictReport]
    failed: list[FailureReport]
    pending: int
    not_modified: bool
    requests: int
    duration_seconds: float
    rate_limit: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None


def link_report(row: Mapping[Any, Any], number: int) -> LinkReport:
    """The ``feature_issue_links`` ``row`` of the task whose number in its project is ``number``."""
    return LinkReport(
        task_id=number,
        platform=row["platform"],
        repository=row["repository"],
        issue_number=row["issue_number"],
        issue_url=row["issue_url"],
        sync_status=row["sync_status"],
        last_synced=row["last_synced"],
        error=row["error"],
    )


def conflict_report(row: Mapping[Any, Any], number: int) -> ConflictReport:
    """The ``sync_conflicts`` ``row`` on the task whose number in its project is ``number``."""
    return ConflictReport(
        id=row["id"],
        task_id=number,
        field=row["field"],
        base_value=row["base_value"],
        local_value=row["local_value"],
        remote_value=row["remote_value"],
        detail=row["detail"],
        status=row["status"],
        resolution=row["resolution"],
    )
