"""Claims: the actor executing a task holds it for a lease, so two actors never work one task.

``execute_task`` claims the task for the caller's actor until ``now + ttl`` (``TASKORCH_CLAIM_TTL``
seconds, default 1800); the holder's later calls on the task (``execute_task`` again,
``update_task``) renew the lease. Another actor's ``execute_task`` is refused with
:class:`~taskorch.errors.ClaimedByOther`, naming the holder and the lease's end, unless the lease
has expired or ``force`` is given; its ``complete_task`` is refused while the lease runs. Completing
a task ends its claim. A takeover (of an expired lease, or forced) is audited as its own row,
naming both actors; a first claim shows as the ``execute_task`` status row with its actor, and a
renewal is not audited (it would write a row per call).

The functions here run inside the caller's transaction, on a task row they lock first
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write transactions are serialized already), so
two actors racing for one task are ordered by the database: the second one sees the first's claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, RowMapping, update

from taskorch.domain.caller import current_caller
from taskorch.errors import ClaimedByOther
from taskorch.hints import Hint
from taskorch.store import repository as repo
from taskorch.store.tables import tasks

__all__ = ["check_holder", "claim", "release", "renew"]


def _held_by_other(task: RowMapping, actor: str, at: datetime) -> bool:
    holder = task["claimed_by"]
    expires = task["claim_expires_at"]
    return holder is not None and holder != actor and expires is not None and expires > at


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def claim(conn: Connection, task_id: int, *, at: datetime, ttl: float, force: bool = False) -> RowMapping:
    """Claim task ``task_id`` (internal id) for the current actor until ``at + ttl`` seconds.

    Returns the task row as it was before the claim (locked). Raises :class:`ClaimedByOther`
    when another actor's lease runs past ``at`` and ``force`` is false.
    """
    actor = current_caller().actor
    task = repo.get_task(conn, task_id, for_update=True)
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
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(claimed_by=actor, claim_expires_at=until))
    if holder is not None and holder != actor:  # a takeover: from an expired lease, or forced
        changes: dict[str, object] = {"claimed_by": [holder, actor], "claim_expires_at": [expires, until]}
        if expires is not None and expires > at:
            changes["forced"] = True
        repo.record_event(
            conn, session_id=task["session_id"], task_id=task_id, tool="execute_task", action="claimed", changes=changes
        )
    return task


def check_holder(conn: Connection, task_id: int, *, at: datetime, tool: str) -> None:
    """Refuse ``tool`` on task ``task_id`` while another actor's lease on it runs
    (:class:`ClaimedByOther`); locks the row."""
    actor = current_caller().actor
    task = repo.get_task(conn, task_id, for_update=True)
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
