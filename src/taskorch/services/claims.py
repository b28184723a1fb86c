"""Claims: the actor executing a task holds it for a lease, so two actors never work one task.

``execute_task`` claims the task for the caller's actor until ``now + ttl`` (``TASKORCH_CLAIM_TTL``
seconds, default 1800); the holder's later calls on the task (``execute_task`` again,
``update_task``) renew the lease. Another actor's ``execute_task`` is refused with
:class:`~taskorch.errors.ClaimedByOther`, naming the holder and the lease's end, unless the lease
has expired or ``force`` is given; its ``complete_task`` is refused while the lease runs. Completing
a task ends its claim. A takeover (of an expired lease, or forced) is audited as its own row,
naming both actors; a first claim shows as the ``execute_task`` status row with its actor, and a
renewal is not audited (it would write a row per call).

The functions here run inside the caller's transaction, on a task row the caller locked first
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write transactions are serialized already), so
two actors racing for one task are ordered by the database: the second one sees the first's claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, update

from taskorch.domain.caller import current_caller
from taskorch.errors import ClaimedByOther
from taskorch.hints import Hint
from taskorch.store import repository as repo
from taskorch.store.tables import tasks

__all__ = ["RELEASED", "check_holder", "claim", "release", "renew", "write"]

_SET_CLAIM = (
    update(tasks)
    .where(tasks.c.id == bindparam("tid"))
    .values(claimed_by=bindparam("claimed_by"), claim_expires_at=bindparam("claim_expires_at"))
)


def _held_by_other(task: Mapping[Any, Any], actor: str, at: datetime) -> bool:
    holder = task["claimed_by"]
    expires = task["claim_expires_at"]
    return holder is not None and holder != actor and expires is not None and expires > at


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


#: The claim columns of a task nobody holds (written with the completion, which ends the claim).
RELEASED: Mapping[str, Any] = {"claimed_by": None, "claim_expires_at": None}


def claim(
    conn: Connection, task: Mapping[Any, Any], *, at: datetime, ttl: float, force: bool = False
) -> dict[str, Any]:
    """Claim ``task`` (its row, locked by the caller) for the current actor until ``at + ttl`` seconds.

    Returns the claim's columns (``claimed_by``, ``claim_expires_at``) for the caller to write
    with the task's own change in one statement (:func:`write`, or
    :func:`taskorch.store.repository.change_status`'s ``unaudited``). A takeover is audited here.
    Raises :class:`ClaimedByOther` when another actor's lease runs past ``at`` and ``force`` is false.
    """
    actor = current_caller().actor
    holder, expires = task["claimed_by"], task["claim_expires_at"]
    if _held_by_other(task, actor, at) and not force:
        raise ClaimedByOther(
            (
                f"task {task['number']} is claimed by {holder} until {_when(expires)} (lease renewed by their calls "
                "on it). Fix: pick another task from the ready queue (",
                Hint("get_status"),
                "); or, if they stopped working on it, take it over with ",
                Hint("execute_task", {"task_id": task["number"], "force": True}),
                ".",
            ),
            holder=holder,
            expires_at=expires,
        )
    until = at + timedelta(seconds=ttl)
    if holder is not None and holder != actor:  # a takeover: from an expired lease, or forced
        changes: dict[str, object] = {"claimed_by": [holder, actor], "claim_expires_at": [expires, until]}
        if expires is not None and expires > at:
            changes["forced"] = True
        repo.record_event(
            conn,
            session_id=task["session_id"],
            task_id=task["id"],
            tool="execute_task",
            action="claimed",
            changes=changes,
        )
    return {"claimed_by": actor, "claim_expires_at": until}


def write(conn: Connection, task: Mapping[Any, Any], columns: Mapping[str, Any]) -> dict[str, Any]:
    """Write claim ``columns`` (:func:`claim`'s answer, or :data:`RELEASED`) to ``task`` alone;
    return its row with them."""
    conn.execute(_SET_CLAIM, {"tid": task["id"], **columns})
    return {**task, **columns}


def check_holder(conn: Connection, task: Mapping[Any, Any], *, at: datetime, tool: str) -> None:
    """Refuse ``tool`` on ``task`` (its row, locked by the caller) while another actor's lease on
    it runs (:class:`ClaimedByOther`)."""
    actor = current_caller().actor
    if _held_by_other(task, actor, at):
        raise ClaimedByOther(
            (
                f"task {task['number']} is claimed by {task['claimed_by']} until {_when(task['claim_expires_at'])}: "
                f"only they may {tool.replace('_', ' ')} it while the lease runs. Fix: leave it to them, or take "
                "the task over with ",
                Hint("execute_task", {"task_id": task["number"], "force": True}),
                " (or wait until the lease ends).",
            ),
            holder=task["claimed_by"],
            expires_at=task["claim_expires_at"],
        )


def renew(conn: Connection, task_id: int, *, at: datetime, ttl: float) -> None:
    """Extend the current actor's lease on task ``task_id`` to ``at + ttl`` (nothing when it holds none)."""
    conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.claimed_by == current_caller().actor)
        .values(claim_expires_at=at + timedelta(seconds=ttl))
    )


def release(conn: Connection, task_id: int) -> None:
    """End the claim on task ``task_id`` (the task is finished)."""
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(claimed_by=None, claim_expires_at=None))
