"""Webhook deliveries: queued fast by the HTTP face, turned into targeted pulls by the worker.

* :meth:`WebhookService.receive` verifies a raw delivery (:func:`taskorch.webhooks.parse_delivery`,
  the secret looked up by name: ``TASKORCH_WEBHOOK_SECRET_<PLATFORM>`` in the environment or the
  keyring, never the database) and records it in ``webhook_deliveries`` in one short transaction.
  A delivery id seen before is refused (:class:`~taskorch.errors.Conflict`): the unique index
  decides, also between two servers.
* :meth:`WebhookService.process_pending` (the background worker's job) takes each pending
  delivery, and for every project connected to the repository it names, under that repository's
  pull lock, fetches the named issues from the platform (``get_issue`` through the engine's retry
  loop) and merges each into its linked task with ``SyncEngine.merge_remote``: the same
  three-way merge as a normal pull. The body's content is never used: only the issue numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, update

from taskorch.errors import Conflict, PlatformError, TaskorchError
from taskorch.store.tables import feature_issue_links, git_integration_config, tasks, webhook_deliveries
from taskorch.webhooks import Delivery, parse_delivery

if TYPE_CHECKING:
    from taskorch.services.app import Orchestrator

__all__ = ["MAX_ATTEMPTS", "Received", "WebhookService", "same_repository"]

log = logging.getLogger(__name__)

#: Attempts before a delivery whose pull keeps failing is given up (the periodic pull remains).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Received:
    """A queued delivery: its row ``id``, ``status`` (``pending``: issues to pull; ``ignored``:
    nothing named, e.g. a ping) and the ``delivery`` itself."""

    id: int
    status: str
    delivery: Delivery


def same_repository(configured: str, named: str) -> bool:
    """Whether a connection's ``repository_url`` (``owner/name`` or a URL) is the repository a
    delivery names (``owner/name``), without case."""
    ours = configured.strip().lower().removesuffix("/").removesuffix(".git")
    theirs = named.strip().lower().strip("/")
    return bool(theirs) and (ours == theirs or ours.endswith("/" + theirs))


class WebhookService:
    """Webhook deliveries of one orchestrator's database. ``secret_of(name)`` finds a secret by
    name (default: environment, then keyring); ``max_age`` seconds a delivery may be old."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        secret_of: Callable[[str], str] | None = None,
        max_age: float = 600.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        if secret_of is None:
            from taskorch.sync.secrets import resolve_token

            secret_of = resolve_token
        self.secret_of = secret_of
        self.max_age = max_age
        self.clock = clock or orchestrator.clock

    def receive(self, platform: str, headers: Mapping[str, str], body: bytes) -> Received:
        """Verify and queue one delivery (one transaction). Raises ``Unauthorized`` (signature),
        ``InvalidInput`` (malformed or stale), ``Conflict`` (a delivery id seen before), or the
        secret lookup's error when no secret is set."""
        now = self.clock()
        delivery = parse_delivery(platform, headers, body, secret_of=self.secret_of, now=now, max_age=self.max_age)
        status = "pending" if delivery.issues and delivery.repository else "ignored"
        try:
            with self.orchestrator.db.transaction() as conn:
                row_id = conn.execute(
                    insert(webhook_deliveries)
                    .values(
                        platform=delivery.platform,
                        delivery_id=delivery.delivery_id,
                        event=delivery.event,
                        repository=delivery.repository,
                        issue_numbers=list(delivery.issues),
                        status=status,
                        attempts=0,
                        received_at=now,
                        done_at=None if status == "pending" else now,
                    )
                    .returning(webhook_deliveries.c.id)
                ).scalar_one()
        except (sa_exc.IntegrityError, TaskorchError) as exc:
            if isinstance(exc, TaskorchError) and not self._seen(delivery):
                raise
            raise Conflict(
                f"{platform} delivery {delivery.delivery_id!r} was received before: a replay is refused. "
                "Fix: nothing to do; the first delivery is (or was) processed."
            ) from None
        return Received(int(row_id), status, delivery)

    def _seen(self, delivery: Delivery) -> bool:
        with self.orchestrator.db.transaction(write=False) as conn:
            found = conn.execute(
                select(webhook_deliveries.c.id).where(
                    webhook_deliveries.c.platform == delivery.platform,
                    webhook_deliveries.c.delivery_id == delivery.delivery_id,
                )
            ).first()
        return found is not None

    # -- processing ---------------------------------------------------------------------------

    def process_pending(self, holder: str, *, limit: int = 50) -> dict[str, int]:
        """Process up to ``limit`` pending deliveries; return counts by outcome (``done``,
        ``waiting``: another worker holds the repository's lock, ``retry``, ``failed``)."""
        from taskorch.services.background import BackgroundSync
        from taskorch.store.coordination import repository_lock

        db = self.orchestrator.db
        outcome = {"done": 0, "waiting": 0, "retry": 0, "failed": 0}
        with db.transaction(write=False) as conn:
            pending = list(
                conn.execute(
                    select(webhook_deliveries)
                    .where(webhook_deliveries.c.status == "pending")
                    .order_by(webhook_deliveries.c.id)
                    .limit(limit)
                ).mappings()
            )
            configs = list(conn.execute(select(git_integration_config)).mappings())
        for delivery in pending:
            targets = [
                c
                for c in configs
                if c["platform"] == delivery["platform"]
                and same_repository(c["repository_url"], delivery["repository"])
            ]
            error: str | None = None
            waiting = False
            for config in targets:
                name = BackgroundSync.lock_name(config["platform"], config["repository_url"])
                with repository_lock(db, name, holder, now=self.clock(), ttl=900.0) as got:
                    if not got:
                        waiting = True
                        continue
                    try:
                        self._pull_issues(config["session_id"], delivery["issue_numbers"])
                    except PlatformError as exc:
                        error = str(exc)
            if waiting and error is None:
                outcome["waiting"] += 1
                continue
            self._finish(delivery, error, outcome)
        return outcome

    def _pull_issues(self, session_id: int, numbers: list[Any]) -> None:
        """Fetch each linked issue named and merge it into its task (the pull's merge). Issues are
        named by number (``"12"``) or by Jira key (``"SHOP-12"``: the number of the key)."""
        wanted = [int(n) for n in (str(named).rpartition("-")[2] for named in numbers) if n.isascii() and n.isdigit()]
        if not wanted:
            return
        with self.orchestrator.git.connected(session_id) as engine:
            with self.orchestrator.db.transaction(write=False) as conn:
                links = list(
                    conn.execute(
                        select(feature_issue_links).where(
                            feature_issue_links.c.repository == engine.repository,
                            feature_issue_links.c.issue_number.in_(wanted),
                            feature_issue_links.c.task_id.in_(
                                select(tasks.c.id).where(tasks.c.session_id == session_id)
                            ),
                        )
                    ).mappings()
                )
            for link in links:
                number = int(link["issue_number"])

                def fetch(n: int = number) -> Any:
                    return engine.platform.get_issue(n)

                engine.merge_remote(link, engine.call("get_issue", fetch, mutation=False))

    def _finish(self, delivery: Mapping[Any, Any], error: str | None, outcome: dict[str, int]) -> None:
        attempts = int(delivery["attempts"]) + 1
        at = self.clock()
        if error is None:
            values: dict[str, Any] = {"status": "done", "attempts": attempts, "done_at": at, "error": None}
            outcome["done"] += 1
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "failed", "attempts": attempts, "done_at": at, "error": error}
            outcome["failed"] += 1
        else:
            values = {"attempts": attempts, "error": error}
            outcome["retry"] += 1
        with self.orchestrator.db.transaction() as conn:
            conn.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery["id"], webhook_deliveries.c.status == "pending")
                .values(**values)
            )
