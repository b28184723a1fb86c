"""Notifications: rules per project, events found in the audit trail, an outbox, and digests.

* **Rules** (``notification_rules``): a project's events of some kinds (:data:`EVENTS`) go to a
  Slack, Teams, Discord or generic incoming webhook whose URL lives in the environment or the
  keyring under ``url_name`` (like tokens: the URL is a secret and never enters the database, a
  log or an answer).
* **Events** are found by :meth:`NotificationService.scan`, which reads ``task_events`` and
  ``sync_status_logs`` after a cursor (``scan_cursors``) and writes one ``notification_outbox`` row
  per matching rule and event, keyed ``(rule, event)`` and unique, in the same transaction as the
  cursor moves: nothing is missed and nothing is queued twice. Kinds: ``task_completed`` and
  ``task_blocked`` (status changes), ``conflict_opened``, ``release_published`` (the release step
  of ``tag_release`` done) and ``sync_failing`` (a failed sync run).
* **Delivery** (:meth:`deliver`): at least once; a row stays pending until the service answers
  2xx, retried with backoff, given up after :data:`MAX_ATTEMPTS`. Rate limit: one post per rule
  per ``min_interval_seconds``; the rest waits its turn.
* **Digest** (:meth:`digest`): what finished, what is blocked, what is next, over the last day or
  week; rules with ``digest`` daily/weekly get one per period, queued like any event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from taskorch.errors import InvalidInput, NotFound
from taskorch.notifications import EVENTS, SERVICES, render
from taskorch.store.tables import (
    notification_outbox,
    notification_rules,
    scan_cursors,
    sessions,
    sync_status_logs,
    task_events,
    tasks,
)

if TYPE_CHECKING:
    from taskorch.services.app import Orchestrator

__all__ = ["DIGEST_PERIODS", "MAX_ATTEMPTS", "NotificationService", "RuleView"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
DIGEST_PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
#: Poster: ``post(url, json_body) -> HTTP status``; raises ``OSError``/``httpx.HTTPError`` on failure.
Poster = Callable[[str, dict[str, Any]], int]


@dataclass(frozen=True)
class RuleView:
    """A rule as shown: ``name``, ``service``, ``url_name`` (never the URL), ``events``, ``digest``
    (none|daily|weekly), ``min_interval_seconds``."""

    name: str
    service: str
    url_name: str
    events: list[str]
    digest: str
    min_interval_seconds: float


def _post(url: str, body: dict[str, Any]) -> int:
    import httpx

    return httpx.post(url, json=body, timeout=10.0).status_code


class NotificationService:
    """Notifications of one orchestrator's database. ``url_of(name)`` finds a webhook URL by name
    (default: environment, then keyring); ``post`` sends (injectable); ``clock`` gives UTC now."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        url_of: Callable[[str], str] | None = None,
        post: Poster = _post,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        if url_of is None:
            from taskorch.sync.secrets import resolve_token

            url_of = resolve_token
        self.url_of = url_of
        self.post = post
        self.clock = clock or orchestrator.clock

    # -- rules ----------------------------------------------------------------------------------

    def add_rule(
        self,
        session_id: int,
        name: str,
        *,
        service: str,
        url_name: str,
        events: Sequence[str],
        digest: str = "none",
        min_interval_seconds: float = 60.0,
    ) -> RuleView:
        """Add a rule (one transaction); raises :class:`InvalidInput` naming a bad value, e.g. a
        URL given where its name is expected."""
        from taskorch.sync.secrets import check_token_name

        if service not in SERVICES:
            raise InvalidInput("service", f"{service!r} is not a service.", f"use one of: {', '.join(SERVICES)}.")
        unknown = [e for e in events if e not in EVENTS]
        if unknown or not (events or digest != "none"):
            raise InvalidInput(
                "events", f"unknown or none: {', '.join(unknown) or '(none)'}.", f"name some of: {', '.join(EVENTS)}."
            )
        if digest not in ("none", *DIGEST_PERIODS):
            raise InvalidInput("digest", f"{digest!r} is not a period.", "use none, daily or weekly.")
        if min_interval_seconds < 0:
            raise InvalidInput("min_interval_seconds", "is negative.", "e.g. 60.")
        check_token_name(url_name)
        with self.orchestrator.db.transaction() as conn:
            exists = conn.execute(
                select(notification_rules.c.id).where(
                    notification_rules.c.session_id == session_id, notification_rules.c.name == name
                )
            ).first()
            if exists is not None:
                raise InvalidInput("name", f"a rule named {name!r} exists.", "remove it first or pick another name.")
            conn.execute(
                insert(notification_rules).values(
                    session_id=session_id,
                    name=name,
                    service=service,
                    url_name=url_name,
                    events=list(dict.fromkeys(events)),
                    digest=digest,
                    min_interval_seconds=min_interval_seconds,
                    created_at=self.clock(),
                )
            )
        return RuleView(name, service, url_name, list(dict.fromkeys(events)), digest, min_interval_seconds)

    def list_rules(self, session_id: int) -> list[RuleView]:
        with self.orchestrator.db.transaction(write=False) as conn:
            rows = conn.execute(
                select(notification_rules)
                .where(notification_rules.c.session_id == session_id)
                .order_by(notification_rules.c.name)
            ).mappings()
            return [
                RuleView(
                    r["name"], r["service"], r["url_name"], list(r["events"]), r["digest"], r["min_interval_seconds"]
                )
                for r in rows
            ]

    def remove_rule(self, session_id: int, name: str) -> None:
        """Remove a rule and its queued notifications; :class:`NotFound` when there is none."""
        with self.orchestrator.db.transaction() as conn:
            removed = conn.execute(
                delete(notification_rules).where(
                    notification_rules.c.session_id == session_id, notification_rules.c.name == name
                )
            ).rowcount
        if not removed:
            raise NotFound(f"no notification rule named {name!r} in this project. Fix: see `taskorch notify list`.")

    # -- events ---------------------------------------------------------------------------------

    def scan(self) -> int:
        """Queue the events written since the last scan for every matching rule; return how many
        notifications were queued. One transaction (cursor and rows together)."""
        with self.orchestrator.db.transaction() as conn:
            rules = list(conn.execute(select(notification_rules)).mappings())
            events_after = self._cursor(conn, "task_events")
            logs_after = self._cursor(conn, "sync_status_logs")
            found: list[tuple[int, str, str, dict[str, Any]]] = []  # session, kind, key, event
            last_event = events_after
            for row in conn.execute(
                select(task_events).where(task_events.c.id > events_after).order_by(task_events.c.id).limit(5000)
            ).mappings():
                last_event = row["id"]
                kind = _event_kind(row)
                if kind is not None:
                    found.append((row["session_id"], kind, f"event:{row['id']}", _describe(kind, row)))
            last_log = logs_after
            for row in conn.execute(
                select(sync_status_logs)
                .where(sync_status_logs.c.id > logs_after)
                .order_by(sync_status_logs.c.id)
                .limit(5000)
            ).mappings():
                last_log = row["id"]
                if row["operation_type"] == "bulk_sync" and row["operation_status"] == "failed":
                    found.append(
                        (
                            row["session_id"],
                            "sync_failing",
                            f"sync:{row['id']}",
                            {
                                "title": f"Sync with {row['repository']} failing",
                                "text": str(row["error_details"] or "")[:500],
                            },
                        )
                    )
            queued = 0
            for session_id, kind, key, event in found:
                for rule in rules:
                    if rule["session_id"] == session_id and kind in rule["events"]:
                        queued += self._queue(conn, rule, kind, key, {**event, "kind": kind})
            queued += self._due_digests(conn, rules)
            self._move_cursor(conn, "task_events", last_event)
            self._move_cursor(conn, "sync_status_logs", last_log)
        return queued

    @staticmethod
    def _cursor(conn: Connection, name: str) -> int:
        value = conn.execute(select(scan_cursors.c.last_id).where(scan_cursors.c.name == name)).scalar()
        if value is not None:
            return int(value)
        # A new cursor starts at the end: rules are about what happens from now on.
        table = task_events if name == "task_events" else sync_status_logs
        start = conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar() or 0
        conn.execute(insert(scan_cursors).values(name=name, last_id=start))
        return int(start)

    @staticmethod
    def _move_cursor(conn: Connection, name: str, last_id: int) -> None:
        conn.execute(update(scan_cursors).where(scan_cursors.c.name == name).values(last_id=last_id))

    def _queue(self, conn: Connection, rule: Any, kind: str, key: str, event: dict[str, Any]) -> int:
        exists = conn.execute(
            select(notification_outbox.c.id).where(
                notification_outbox.c.rule_id == rule["id"], notification_outbox.c.event_key == key
            )
        ).first()
        if exists is not None:
            return 0
        conn.execute(
            insert(notification_outbox).values(
                rule_id=rule["id"],
                event_key=key,
                kind=kind,
                payload=event,
                status="pending",
                attempts=0,
                created_at=self.clock(),
            )
        )
        return 1

    def _due_digests(self, conn: Connection, rules: Sequence[Any]) -> int:
        now = self.clock()
        queued = 0
        for rule in rules:
            period = DIGEST_PERIODS.get(rule["digest"])
            if period is None or (rule["last_digest_at"] is not None and rule["last_digest_at"] + period > now):
                continue
            event = {"kind": "digest", **self._digest_event(conn, rule["session_id"], now - period, rule["digest"])}
            queued += self._queue(conn, rule, "digest", f"digest:{now.date().isoformat()}", event)
            conn.execute(
                update(notification_rules).where(notification_rules.c.id == rule["id"]).values(last_digest_at=now)
            )
        return queued

    # -- digest ---------------------------------------------------------------------------------

    def digest(self, session_id: int, period: str = "daily") -> dict[str, Any]:
        """The digest of the last day or week: ``title``, ``text`` (finished, blocked, next)."""
        if period not in DIGEST_PERIODS:
            raise InvalidInput("period", f"{period!r} is not a period.", "use daily or weekly.")
        with self.orchestrator.db.transaction(write=False) as conn:
            return self._digest_event(conn, session_id, self.clock() - DIGEST_PERIODS[period], period)

    def _digest_event(self, conn: Connection, session_id: int, since: datetime, period: str) -> dict[str, Any]:
        from taskorch.services.query import ready_queue

        project = conn.execute(select(sessions.c.name).where(sessions.c.id == session_id)).scalar() or "project"
        finished = conn.execute(
            select(tasks.c.number, tasks.c.title)
            .where(tasks.c.session_id == session_id, tasks.c.status == "completed", tasks.c.updated_at >= since)
            .order_by(tasks.c.number)
            .limit(20)
        ).all()
        blocked = conn.execute(
            select(tasks.c.number, tasks.c.title)
            .where(tasks.c.session_id == session_id, tasks.c.status == "blocked", tasks.c.archived.is_(False))
            .order_by(tasks.c.number)
            .limit(20)
        ).all()
        upcoming = ready_queue(conn, session_id, limit=5)

        def lines(rows: Sequence[Any]) -> str:
            return "\n".join(f"- #{n} {t}" for n, t in rows) or "- none"

        text = (
            f"Finished:\n{lines(finished)}\nBlocked:\n{lines(blocked)}\n"
            f"Next:\n{lines([(b.id, b.title) for b in upcoming])}"
        )
        return {"title": f"{project}: {period} progress", "text": text, "project": project}

    # -- delivery -------------------------------------------------------------------------------

    def deliver(self, holder: str = "local", *, limit: int = 50) -> dict[str, int]:
        """Post pending notifications whose rule's rate limit allows; counts by outcome (``sent``,
        ``retry``, ``failed``, ``waiting``: rate-limited)."""
        now = self.clock()
        outcome = {"sent": 0, "retry": 0, "failed": 0, "waiting": 0}
        db = self.orchestrator.db
        with db.transaction() as conn:
            rows = list(
                conn.execute(
                    select(notification_outbox, notification_rules.c.service, notification_rules.c.url_name)
                    .join(notification_rules, notification_rules.c.id == notification_outbox.c.rule_id)
                    .where(
                        notification_outbox.c.status == "pending",
                        or_(
                            notification_outbox.c.next_attempt_at.is_(None),
                            notification_outbox.c.next_attempt_at <= now,
                        ),
                        or_(notification_outbox.c.claimed_until.is_(None), notification_outbox.c.claimed_until <= now),
                    )
                    .order_by(notification_outbox.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=notification_outbox)
                ).mappings()
            )
            if rows:
                conn.execute(
                    update(notification_outbox)
                    .where(notification_outbox.c.id.in_([r["id"] for r in rows]))
                    .values(claimed_by=holder, claimed_until=now + timedelta(minutes=5))
                )
        for row in rows:
            self._deliver_one(row, holder, outcome)
        return outcome

    def _deliver_one(self, row: Any, holder: str, outcome: dict[str, int]) -> None:
        db = self.orchestrator.db
        now = self.clock()
        with db.transaction() as conn:
            rule = (
                conn.execute(select(notification_rules).where(notification_rules.c.id == row["rule_id"]))
                .mappings()
                .one()
            )
            if (
                rule["last_sent_at"] is not None
                and rule["last_sent_at"] + timedelta(seconds=rule["min_interval_seconds"]) > now
            ):
                outcome["waiting"] += 1
                conn.execute(
                    update(notification_outbox)
                    .where(notification_outbox.c.id == row["id"])
                    .values(claimed_by=None, claimed_until=None)
                )
                return
        error: str | None = None
        try:
            status = self.post(self.url_of(row["url_name"]), render(row["service"], row["payload"]))
            if not 200 <= status < 300:
                error = f"the service answered HTTP {status}"
        except Exception as exc:  # the URL is never part of the message
            error = f"could not post: {type(exc).__name__}"
        with db.transaction() as conn:
            done = and_(notification_outbox.c.id == row["id"], notification_outbox.c.claimed_by == holder)
            if error is None:
                conn.execute(
                    update(notification_outbox)
                    .where(done)
                    .values(status="done", done_at=now, claimed_by=None, claimed_until=None)
                )
                conn.execute(
                    update(notification_rules).where(notification_rules.c.id == row["rule_id"]).values(last_sent_at=now)
                )
                outcome["sent"] += 1
                return
            attempts = int(row["attempts"]) + 1
            failed = attempts >= MAX_ATTEMPTS
            conn.execute(
                update(notification_outbox)
                .where(done)
                .values(
                    attempts=attempts,
                    last_error=error,
                    status="failed" if failed else "pending",
                    next_attempt_at=now + timedelta(seconds=min(3600, 30 * 2**attempts)),
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            outcome["failed" if failed else "retry"] += 1
            log.warning("notification %s not sent: %s", row["id"], error)

    def run(self, holder: str = "local") -> dict[str, int]:
        """Scan, then deliver: the background worker's job."""
        queued = self.scan()
        return {"queued": queued, **self.deliver(holder)}


def _event_kind(row: Any) -> str | None:
    changes = row["changes"] or {}
    if row["action"] == "status" and isinstance(changes.get("status"), list) and len(changes["status"]) == 2:
        new = changes["status"][1]
        return {"completed": "task_completed", "blocked": "task_blocked"}.get(new)
    if row["action"] == "conflict":
        return "conflict_opened"
    if row["action"] == "release_release" and changes.get("status") == "done":
        return "release_published"
    return None


def _describe(kind: str, row: Any) -> dict[str, Any]:
    number = row["task_number"]
    changes = row["changes"] or {}
    if kind == "task_completed":
        return {"title": f"Task #{number} completed", "text": f"by {row['actor']}"}
    if kind == "task_blocked":
        return {"title": f"Task #{number} blocked", "text": f"by {row['actor']}"}
    if kind == "conflict_opened":
        return {"title": f"Sync conflict on task #{number}", "text": str(changes.get("detail", ""))[:500]}
    return {"title": "Release published", "text": ""}
