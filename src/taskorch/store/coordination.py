"""Cooperation of several workers on one database: leases, advisory locks and outbox claims.

* :func:`repository_lock` -- one puller per repository. PostgreSQL: a session-level
  ``pg_try_advisory_lock`` on a connection of its own, released when the block ends or, if the
  process dies, when its connection closes (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS).
  SQLite: a row of ``sync_leases`` with an expiry, so a killed holder's lease runs out.
* :func:`try_lease` / :func:`release_lease` -- named leases (``sync_leases``) on both dialects.
* :func:`claim_outbox_tasks` -- pending ``sync_outbox`` entries claimed per task with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease (``claimed_by`` / ``claimed_until``): two
  workers never push one task at the same time, and a killed worker's claim expires.

Every function taking a ``Connection`` runs in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, insert, or_, select, text, update

from taskorch.store.db import Database
from taskorch.store.tables import sync_leases, sync_outbox

__all__ = [
    "advisory_key",
    "claim_outbox_tasks",
    "release_lease",
    "release_outbox_claims",
    "repository_lock",
    "try_lease",
]


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` from a lock's name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def try_lease(conn: Connection, name: str, holder: str, *, now: datetime, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl`` seconds; False when
    another holder's lease has not expired yet."""
    until = now + timedelta(seconds=ttl)
    taken = conn.execute(
        update(sync_leases)
        .where(sync_leases.c.name == name, or_(sync_leases.c.holder == holder, sync_leases.c.expires_at <= now))
        .values(holder=holder, expires_at=until)
    ).rowcount
    if taken:
        return True
    if conn.execute(select(sync_leases.c.name).where(sync_leases.c.name == name)).first() is not None:
        return False
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        inserted = conn.execute(
            pg_insert(sync_leases).values(name=name, holder=holder, expires_at=until).on_conflict_do_nothing()
        ).rowcount
        return bool(inserted)
    conn.execute(insert(sync_leases).values(name=name, holder=holder, expires_at=until))
    return True


def release_lease(conn: Connection, name: str, holder: str) -> None:
    """Give the lease up (only if ``holder`` still holds it)."""
    conn.execute(delete(sync_leases).where(sync_leases.c.name == name, sync_leases.c.holder == holder))


@contextmanager
def repository_lock(db: Database, name: str, holder: str, *, now: datetime, ttl: float) -> Iterator[bool]:
    """Yield whether this worker holds the lock ``name`` for the block (never waits).

    PostgreSQL: an advisory lock on a dedicated connection (the lease table is not used, and a
    dead process's lock goes with its connection). SQLite: the lease ``name`` for ``ttl`` seconds."""
    if db.dialect == "postgresql":
        key = advisory_key(name)
        with db.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())
            conn.commit()  # a session-level lock outlives the transaction; do not sit idle in one
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    with db.transaction() as conn:
        got = try_lease(conn, name, holder, now=now, ttl=ttl)
    try:
        yield got
    finally:
        if got:
            with db.transaction() as conn:
                release_lease(conn, name, holder)


def claim_outbox_tasks(
    conn: Connection,
    session_id: int,
    holder: str,
    *,
    now: datetime,
    ttl: float,
    limit: int = 20,
    exclude: Sequence[int] = (),
) -> list[int]:
    """Claim the pending outbox entries of up to ``limit`` tasks for ``holder`` until
    ``now + ttl`` seconds; return the claimed tasks' internal ids, oldest entry first.

    Entries are picked with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serializes writers), so
    racing workers pick different rows without waiting. A task is claimed whole, and only if none
    of its entries (done ones included: the holder may still be pushing the task) is locked by
    another transaction or claimed by another worker whose claim has not expired. Tasks in
    ``exclude`` (already tried in this round) are left alone."""
    live_claim = and_(sync_outbox.c.claimed_until.is_not(None), sync_outbox.c.claimed_until > now)
    candidates = conn.execute(
        select(sync_outbox.c.id, sync_outbox.c.task_id)
        .where(
            sync_outbox.c.session_id == session_id,
            sync_outbox.c.status == "pending",
            or_(~live_claim, sync_outbox.c.claimed_by == holder),
            *([sync_outbox.c.task_id.not_in(list(exclude))] if exclude else []),
        )
        .order_by(sync_outbox.c.id)
        .limit(limit * 5)
        .with_for_update(skip_locked=True)
    ).all()
    task_ids = list(dict.fromkeys(row.task_id for row in candidates))[:limit]
    if not task_ids:
        return []
    rows = conn.execute(
        select(sync_outbox.c.id, sync_outbox.c.task_id, sync_outbox.c.claimed_by, sync_outbox.c.claimed_until).where(
            sync_outbox.c.task_id.in_(task_ids), or_(sync_outbox.c.status == "pending", live_claim)
        )
    ).all()
    locked = set(
        conn.execute(
            select(sync_outbox.c.id)
            .where(sync_outbox.c.id.in_([r.id for r in rows]))
            .order_by(sync_outbox.c.id)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    busy = {
        r.task_id
        for r in rows
        if r.id not in locked
        or (r.claimed_by not in (None, holder) and r.claimed_until is not None and r.claimed_until > now)
    }
    mine = [t for t in task_ids if t not in busy]
    if mine:
        conn.execute(
            update(sync_outbox)
            .where(sync_outbox.c.task_id.in_(mine), sync_outbox.c.status == "pending")
            .values(claimed_by=holder, claimed_until=now + timedelta(seconds=ttl))
        )
    return mine


def release_outbox_claims(conn: Connection, holder: str, task_ids: Sequence[int]) -> None:
    """Drop ``holder``'s claims on these tasks' entries (pushed or not)."""
    if task_ids:
        conn.execute(
            update(sync_outbox)
            .where(sync_outbox.c.claimed_by == holder, sync_outbox.c.task_id.in_(list(task_ids)))
            .values(claimed_by=None, claimed_until=None)
        )
