"""Enumerations and the status transition table of the task model.

Nothing here does I/O. The values are the wire values of the MCP tools and the CLI, and the
strings stored in the database, so renaming a member is a migration.
"""

from __future__ import annotations

from enum import StrEnum

from taskorch.errors import InvalidTransition
from taskorch.hints import REQUIRED, Hint

__all__ = [
    "ACTIVE_STATUSES",
    "REOPENING",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "ArtifactType",
    "Complexity",
    "Priority",
    "TaskStatus",
    "TaskType",
    "check_transition",
]


class TaskStatus(StrEnum):
    """Where a task stands; completed and cancelled are final."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskType(StrEnum):
    """Kind of work; drives the specialist router."""

    FEATURE = "feature"
    BUGFIX = "bugfix"
    REFACTOR = "refactor"
    TESTING = "testing"
    DOCUMENTATION = "documentation"
    RESEARCH = "research"
    DESIGN = "design"
    DEPLOYMENT = "deployment"
    SECURITY = "security"
    ANALYSIS = "analysis"
    REVIEW = "review"
    CHORE = "chore"


class Complexity(StrEnum):
    TRIVIAL = "trivial"
    SIMPLE = "simple"
    MODERATE = "moderate"
    COMPLEX = "complex"
    VERY_COMPLEX = "very_complex"


class Priority(StrEnum):
    """Order of the ready queue: critical first."""

    # ``rank`` is what the database sorts on, ascending (1 is served first), so the ready queue
    # is one forward scan of an index.

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.CRITICAL: 1, Priority.HIGH: 2, Priority.MEDIUM: 3, Priority.LOW: 4}


class ArtifactType(StrEnum):
    """What a completed piece of work produced."""

    CODE = "code"
    TEST = "test"
    DOCUMENTATION = "documentation"
    DESIGN = "design"
    ANALYSIS = "analysis"
    CONFIGURATION = "configuration"
    REVIEW = "review"
    SYNTHESIS = "synthesis"
    GENERAL = "general"


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED})
ACTIVE_STATUSES = frozenset(set(TaskStatus) - TERMINAL_STATUSES)

#: Allowed moves, from -> the set of statuses it may go to. Terminal statuses go nowhere:
#: a finished or cancelled task is planned again rather than reopened, so its artifacts,
#: synthesis and audit trail stay true to what happened.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED, TaskStatus.CANCELLED}),
    TaskStatus.IN_PROGRESS: frozenset(
        {TaskStatus.PENDING, TaskStatus.BLOCKED, TaskStatus.COMPLETED, TaskStatus.CANCELLED}
    ),
    TaskStatus.BLOCKED: frozenset({TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

#: The one way back from a terminal status: reopen_task, an explicit call with a reason, moves a
#: task completed by mistake back to pending (its artifacts and audit trail stay).
REOPENING: dict[TaskStatus, frozenset[TaskStatus]] = {TaskStatus.COMPLETED: frozenset({TaskStatus.PENDING})}


def check_transition(task_id: int, current: TaskStatus, target: TaskStatus, *, reopen: bool = False) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> target`` is in :data:`TRANSITIONS`
    (or, with ``reopen``, in :data:`REOPENING` only).

    Moving to the status a task already has is not a transition and is refused too, so a
    caller learns that nothing would change.
    """
    table = REOPENING if reopen else TRANSITIONS
    if target in table.get(current, frozenset()):
        return
    if reopen:
        raise InvalidTransition(f"task {task_id} is {current.value}: only a completed task can be reopened.")
    allowed = sorted(TRANSITIONS[current])
    if current == target:
        problem = f"task {task_id} is already {current.value}."
    else:
        problem = f"task {task_id} cannot move from {current.value} to {target.value}."
    if allowed:
        hint = " From " + current.value + " it can move to: " + ", ".join(s.value for s in allowed) + "."
    elif current is TaskStatus.COMPLETED:
        raise InvalidTransition(
            (
                f"{problem} completed is final; if it was completed by mistake, reopen it with ",
                Hint("reopen_task", {"task_id": task_id, "reason": REQUIRED}),
                ", else plan a new task for further work.",
            )
        )
    else:
        hint = f" {current.value} is final; plan a new task for further work."
    raise InvalidTransition(problem + hint)
