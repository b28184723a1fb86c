"""Field mapping between a task and its issue, in the comparable form the three-way merge uses.

Both sides are reduced to the same plain values per linked field:

============  =====================================  ============================================
field         task side                              issue side
============  =====================================  ============================================
title         title                                  title
body          the rendered template (or, once the    body without the hidden marker
              body was edited on the platform, the
              description verbatim)
status        status                                 state, state_reason and a status label
labels        labels                                 labels minus the ones taskorch manages
assignees     assignees                              assignee logins
milestone     milestone title                        milestone number, named through the cache
planning      priority, due date, estimated effort   not read back (push-only)
============  =====================================  ============================================

Status follows the platform's :class:`~taskorch.platforms.registry.LabelConventions` (the brief's
table; by default pending -> open; in_progress -> open + "status: in progress"; blocked -> open +
"status: blocked"; completed -> closed (completed); cancelled -> closed (not_planned); with scoped
labels, open + "status::to do" for pending and closed + "status::cancelled" for cancelled).
Managed labels ("type: …", "role: …", "complexity: …" and the configured default labels) are
written by taskorch and never read back as the task's labels.

``planning`` is push-only: a change of the task's priority, due date or estimated effort is sent
(to platforms with such fields: Jira's priority, due date and original estimate, GitLab's due
date), and the agreed value is what was sent last; the issue's own values are never compared, so
an edit of them on the platform is neither taken nor a conflict, and a later local change
overwrites it. The effort is free text: :func:`effort_seconds` reads ``2h``, ``1d 4h``,
``30m``, ``1.5h``, ``3 days``, with a day of 8 hours and a week of 5 days (Jira's and GitLab's
defaults); text it cannot read sends no estimate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from taskorch.platforms.base import IssueChanges, RemoteIssue, labels_tuple
from taskorch.platforms.registry import DEFAULT_CONVENTIONS, LabelConventions
from taskorch.sync.template import render_body, strip_marker

__all__ = [
    "FIELDS",
    "MERGED_FIELDS",
    "PUSH_ONLY",
    "STATUS_LABELS",
    "changes_for",
    "comparable",
    "effort_seconds",
    "local_values",
    "managed_labels",
    "remote_status",
    "remote_values",
    "same",
]

FIELDS = ("title", "body", "status", "labels", "managed", "assignees", "milestone", "planning")
#: Fields taskorch sends but never reads back (see the module docstring).
PUSH_ONLY = frozenset({"planning"})
#: The fields the three-way merge compares with the issue.
MERGED_FIELDS = tuple(f for f in FIELDS if f not in PUSH_ONLY)
#: Fields carried by the issue's one label set: a push of one rebuilds the set from every one's
#: merged state (the platform replaces the whole set).
LABEL_FIELDS = ("status", "labels", "managed")
#: Fields only taskorch writes: a platform value that differs is put back, never taken.
LOCAL_ONLY = frozenset({"managed"})

#: The status labels of the default conventions.
STATUS_LABELS = dict(DEFAULT_CONVENTIONS.status_labels)
_MANAGED_PREFIXES = ("type: ", "role: ", "complexity: ")
#: Seconds per unit of an estimated effort (a working day of 8 hours, a week of 5 days).
_EFFORT_UNITS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}
_EFFORT_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|wks?|weeks?|d|days?|h|hrs?|hours?|m|mins?|minutes?)(?![a-z])")


def effort_seconds(text: str | None) -> int | None:
    """An estimated effort (``2h``, ``1d 4h``, ``30m``, ``1.5h``, ``3 days``; a day is 8 hours, a
    week 5 days) in whole minutes, as seconds; ``None`` for no text, text that is not only such
    amounts, or nothing at all."""
    compact = (text or "").strip().casefold()
    if not compact or _EFFORT_PART.sub("", compact).replace(",", "").strip():
        return None
    seconds = sum(float(amount) * _EFFORT_UNITS[unit[0]] for amount, unit in _EFFORT_PART.findall(compact))
    minutes = round(seconds / 60)
    return minutes * 60 if minutes > 0 else None


def planning_values(task: Mapping[Any, Any]) -> dict[str, Any]:
    """The task's planning facts as the link stores them: ``{"priority", "due_date" (ISO date or
    None), "estimate_seconds" (or None)}``."""
    due = task.get("due_date")
    return {
        "priority": str(task["priority"]) if task.get("priority") else None,
        "due_date": due.isoformat() if isinstance(due, date) else (str(due) if due else None),
        "estimate_seconds": effort_seconds(task.get("estimated_effort")),
    }


def managed_labels(task: Mapping[Any, Any], default_labels: Sequence[str]) -> list[str]:
    """The labels taskorch sets on the issue from the task's own fields: type, role, complexity
    and the configured default labels (the status label is the ``status`` field's)."""
    return [
        f"type: {task['task_type']}",
        f"role: {task['specialist_type']}",
        f"complexity: {task['complexity']}",
        *default_labels,
    ]


def status_labels(status: str, conventions: LabelConventions = DEFAULT_CONVENTIONS) -> list[str]:
    """The labels that carry ``status`` on the issue (by default none for pending or closed)."""
    label = conventions.label_for(status)
    return [label] if label else []


def label_key(label: str) -> str:
    """The form labels are compared in: GitHub and GitLab treat label names without case
    ("Bug" and "bug" are one label)."""
    return label.casefold()


def labels_key(labels: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({label_key(label) for label in labels}))


def comparable(field: str, value: Any) -> Any:
    """``value`` of linked ``field`` as the platform would give it back: a body without trailing
    whitespace (what :func:`remote_values` reads once the marker is removed)."""
    if field == "body" and isinstance(value, str):
        return strip_marker(value)
    return value


def same(field: str, a: Any, b: Any) -> bool:
    """Whether two values of linked ``field`` are one value for the merge (labels: without case
    and order)."""
    if field == "labels" and isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return labels_key(a) == labels_key(b)
    return bool(a == b)


def _is_managed(label: str, default_labels: Sequence[str]) -> bool:
    key = label_key(label)
    return key.startswith(_MANAGED_PREFIXES) or key in labels_key(default_labels)


def label_kind(label: str, default_labels: Sequence[str], conventions: LabelConventions = DEFAULT_CONVENTIONS) -> str:
    """Which linked field a label on the issue belongs to: ``status``, ``managed`` or ``labels``."""
    if conventions.is_status_label(label):
        return "status"
    return "managed" if _is_managed(label, default_labels) else "labels"


def unique_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """``labels`` sorted, each name once without case (the first spelling kept)."""
    kept: dict[str, str] = {}
    for label in labels:
        kept.setdefault(label_key(label), label)
    return tuple(sorted(kept.values()))


def remote_status(issue: RemoteIssue, conventions: LabelConventions = DEFAULT_CONVENTIONS) -> str:
    """The task status an issue's state and labels stand for."""
    keys = labels_key(issue.labels)

    def carries(status: str) -> bool:
        label = conventions.label_for(status)
        return label is not None and label_key(label) in keys

    if issue.state == "closed":
        if conventions.cancelled_by_reason:
            return "cancelled" if issue.state_reason == "not_planned" else "completed"
        return "cancelled" if carries("cancelled") else "completed"
    if carries("blocked"):
        return "blocked"
    if carries("in_progress"):
        return "in_progress"
    return "pending"


def render_task_body(task: Mapping[Any, Any], template: str | None, verbatim: bool) -> str:
    """The issue body of ``task``: its template rendered, then its subtasks' Mermaid diagram
    (``task["subtask_diagram"]``, a parent's) when it has one; the description alone when the
    body was taken from the platform (``verbatim``)."""
    if verbatim:
        return str(task["description"]).strip()
    # The template sees the task's number in its project, never the store's internal id.
    body = render_body(template, {**task, "id": task["number"], "parent_id": task["parent_number"]})
    diagram = str(task.get("subtask_diagram") or "").strip()
    return f"{body}\n\n{diagram}" if diagram else body


def local_values(
    task: Mapping[Any, Any],
    labels: Sequence[str],
    *,
    template: str | None,
    verbatim_body: bool,
    default_labels: Sequence[str],
) -> dict[str, Any]:
    """The task's side of every linked field (``task`` holds the task row's columns)."""
    return {
        "title": task["title"],
        "body": render_task_body({**task, "labels": list(labels)}, template, verbatim_body),
        "status": task["status"],
        "labels": list(labels_tuple(labels)),
        "managed": list(unique_labels(managed_labels(task, default_labels))),
        "assignees": sorted(task["assignees"] or []),
        "milestone": task["milestone"],
        "planning": planning_values(task),
    }


def remote_values(
    issue: RemoteIssue,
    *,
    default_labels: Sequence[str],
    milestone_titles: Mapping[str, str],
    conventions: LabelConventions = DEFAULT_CONVENTIONS,
) -> dict[str, Any]:
    """The issue's side of every merged field (``planning`` is push-only: not read back).
    ``milestone_titles`` maps str(number) -> title.
    ``_labels`` holds the issue's whole label set, so a push can keep the labels of fields it
    does not write."""
    return {
        "title": issue.title,
        "body": strip_marker(issue.body),
        "status": remote_status(issue, conventions),
        "labels": [
            label for label in labels_tuple(issue.labels) if label_kind(label, default_labels, conventions) == "labels"
        ],
        "managed": list(
            unique_labels(
                [label for label in issue.labels if label_kind(label, default_labels, conventions) == "managed"]
            )
        ),
        "assignees": sorted(issue.assignees),
        "milestone": None if issue.milestone is None else milestone_titles.get(str(issue.milestone)),
        "_labels": list(issue.labels),
    }


def label_set(
    fields: Sequence[str],
    values: Mapping[Any, Any],
    remote: Mapping[Any, Any] | None,
    *,
    default_labels: Sequence[str],
    conventions: LabelConventions = DEFAULT_CONVENTIONS,
) -> tuple[str, ...]:
    """The issue's whole label set when ``fields`` are pushed with ``values``: each label-carried
    field (status, labels, managed) contributes its local labels if it is pushed, else the labels
    the platform has for it (``remote``, as last seen; a field not pushed is never rewritten).
    Without a remote (a creation) every field is local."""
    platform_labels: list[str] | None = None
    if remote:
        platform_labels = list(remote.get("_labels") or [])
        if "_labels" not in remote:  # seen before the whole set was kept: rebuilt from the fields
            platform_labels = [
                *(remote.get("labels") or []),
                *(remote.get("managed") or []),
                *status_labels(str(remote.get("status")), conventions),
            ]
    out: list[str] = []
    for f in LABEL_FIELDS:
        if platform_labels is None or f in fields:
            out += status_labels(values["status"], conventions) if f == "status" else list(values[f])
        else:
            out += [label for label in platform_labels if label_kind(label, default_labels, conventions) == f]
    return unique_labels(out)


def _state_for(status: str) -> tuple[str, str | None]:
    if status == "completed":
        return "closed", "completed"
    if status == "cancelled":
        return "closed", "not_planned"
    return "open", None


def changes_for(
    fields: Sequence[str],
    values: Mapping[Any, Any],
    *,
    marker_text: str,
    default_labels: Sequence[str],
    milestone_numbers: Mapping[str, int],
    remote: Mapping[Any, Any] | None = None,
    conventions: LabelConventions = DEFAULT_CONVENTIONS,
) -> IssueChanges:
    """The issue changes that carry ``values`` for the given ``fields`` to the platform.

    When a label-carried field (status, labels, managed) is among ``fields``, the whole label set
    is sent (the platform replaces it), built by :func:`label_set` from ``remote`` (the platform's
    values as last seen; ``None`` for a creation) for the fields not pushed.
    """
    kwargs: dict[str, Any] = {}
    if "title" in fields:
        kwargs["title"] = values["title"]
    if "body" in fields:
        kwargs["body"] = f"{values['body']}\n\n{marker_text}"
    if "status" in fields:
        state, reason = _state_for(values["status"])
        kwargs["state"] = state
        if state == "closed":
            kwargs["state_reason"] = reason
    if any(f in fields for f in LABEL_FIELDS):
        kwargs["labels"] = label_set(fields, values, remote, default_labels=default_labels, conventions=conventions)
    if "assignees" in fields:
        kwargs["assignees"] = tuple(values["assignees"])
    if "milestone" in fields:
        title = values["milestone"]
        kwargs["milestone"] = None if title is None else milestone_numbers[title]
    if "planning" in fields:
        planning = values["planning"]
        kwargs["priority"] = planning["priority"]
        kwargs["due_date"] = date.fromisoformat(planning["due_date"]) if planning["due_date"] else None
        kwargs["estimate_seconds"] = planning["estimate_seconds"]
    return IssueChanges(**kwargs)
