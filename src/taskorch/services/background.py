"""Background sync: the server drains the outbox and pulls on its own.

For every project whose connection has ``auto_sync_enabled``, a :class:`BackgroundSync` worker
runs a round every ``TASKORCH_SYNC_INTERVAL`` seconds, and soon after a local change: a write
that captured outbox entries calls :func:`wake` (in process, after its commit). A round:

1. **pull**, by one worker per repository: PostgreSQL ``pg_try_advisory_lock``, SQLite a lease
   row (:func:`taskorch.store.coordination.repository_lock`); a worker that does not get the lock
   leaves the pull to the one that has it. The pull is the service's own
   (:meth:`GitService.sync` with ``push=False``): the same merge as ``taskorch sync``;
2. **webhook deliveries** queued by the HTTP server, each a targeted pull of the issues it names
   (:mod:`taskorch.services.webhooks`), under the same lock;
3. **push**: the outbox entries of up to ``batch`` tasks at a time are claimed with
   ``FOR UPDATE SKIP LOCKED`` and a lease of ``claim_ttl`` seconds
   (:func:`~taskorch.store.coordination.claim_outbox_tasks`), pushed
   (:meth:`GitService.push_tasks`), and the claims released. Several servers on one PostgreSQL
   database share the work; a killed server's claims expire after ``claim_ttl`` and another
   server pushes those tasks, where the engine's idempotent creation (intent and marker) adopts an
   issue the dead server created instead of creating a second one;
4. **extra jobs** (notifications), each its own short transactions.

A failure of one project is logged (its error's text, which never holds a secret) and does not
stop the others; the round after retries.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskorch.config import Settings
    from taskorch.services.app import Orchestrator

__all__ = ["BackgroundSync", "RoundReport", "enabled_by_environment", "serving", "wake"]

log = logging.getLogger(__name__)

_workers: weakref.WeakSet[BackgroundSync] = weakref.WeakSet()
_workers_lock = threading.Lock()

#: Seconds a worker waits after a wake-up before its round, so a burst of writes is one round.
WAKE_DEBOUNCE_SECONDS = 0.2


def wake() -> None:
    """Ask every background worker of this process for a round soon (a write captured outbox
    entries). Cheap when there is none."""
    with _workers_lock:
        workers = list(_workers)
    for worker in workers:
        worker.wake()


def enabled_by_environment(environ: dict[str, str] | None = None) -> bool:
    """Whether ``TASKORCH_BACKGROUND_SYNC`` asks ``taskorch serve`` (stdio) for background sync
    (``1``, ``true``, ``yes`` or ``on``)."""
    env = os.environ if environ is None else environ
    return env.get("TASKORCH_BACKGROUND_SYNC", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class RoundReport:
    """What one round did: repositories pulled, tasks pushed (internal ids), projects that failed
    (``session_id -> error text``), and what the extra jobs returned."""

    pulled: list[str] = field(default_factory=list)
    pushed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped_pull: list[str] = field(default_factory=list)
    jobs: list[Any] = field(default_factory=list)


class BackgroundSync:
    """One server's background worker over ``orchestrator``'s database.

    ``holder`` names this worker in claims and leases (default: a random id per process).
    ``interval`` is seconds between rounds (``TASKORCH_SYNC_INTERVAL``; 0 = only on wake-ups),
    ``claim_ttl`` seconds before a claim or lease of a dead worker expires, ``batch`` tasks per
    claim. ``clock`` gives UTC now (tests move it to expire a dead worker's claims). ``jobs`` run
    after the sync of each round (webhook deliveries, notifications).
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        holder: str | None = None,
        interval: float | None = None,
        claim_ttl: float = 300.0,
        pull_ttl: float = 900.0,
        batch: int = 20,
        clock: Callable[[], datetime] | None = None,
        jobs: Sequence[Callable[[], Any]] = (),
    ) -> None:
        self.orchestrator = orchestrator
        self.holder = holder or f"worker-{uuid.uuid4().hex[:12]}"
        self.interval = orchestrator.settings.sync_interval if interval is None else interval
        self.claim_ttl = claim_ttl
        self.pull_ttl = pull_ttl
        self.batch = batch
        self.clock = clock or orchestrator.clock
        self.jobs = list(jobs)
        self.rounds = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._round_lock = threading.Lock()

    # -- one round ----------------------------------------------------------------------------

    def run_once(self) -> RoundReport:
        """One round over every project with auto sync on; never raises for a project's failure."""
        from sqlalchemy import select

        from taskorch.errors import TaskorchError
        from taskorch.store.tables import git_integration_config

        report = RoundReport()
        with self._round_lock:
            with self.orchestrator.db.transaction(write=False) as conn:
                configs = list(
                    conn.execute(
                        select(
                            git_integration_config.c.session_id,
                            git_integration_config.c.platform,
                            git_integration_config.c.repository_url,
                        )
                        .where(git_integration_config.c.auto_sync_enabled.is_(True))
                        .order_by(git_integration_config.c.session_id)
                    ).mappings()
                )
            for config in configs:
                try:
                    self._pull(config, report)
                    self._push(config["session_id"], report)
                except TaskorchError as exc:
                    report.failed[config["session_id"]] = str(exc)
                    log.warning("background sync of %s failed: %s", config["repository_url"], exc)
            for job in self.jobs:
                try:
                    report.jobs.append(job())
                except TaskorchError as exc:
                    log.warning("background job failed: %s", exc)
            self.rounds += 1
        return report

    @staticmethod
    def lock_name(platform: str, repository: str) -> str:
        """The name of the one-puller-per-repository lock."""
        return f"pull:{platform}:{repository.lower()}"

    def _pull(self, config: Any, report: RoundReport) -> None:
        from taskorch.store.coordination import repository_lock

        name = self.lock_name(config["platform"], config["repository_url"])
        with repository_lock(self.orchestrator.db, name, self.holder, now=self.clock(), ttl=self.pull_ttl) as got:
            if not got:
                report.skipped_pull.append(config["repository_url"])
                return
            self.orchestrator.git.sync(config["session_id"], pull=True, push=False)
            report.pulled.append(config["repository_url"])

    def _push(self, session_id: int, report: RoundReport) -> None:
        from taskorch.store.coordination import claim_outbox_tasks, release_outbox_claims

        db = self.orchestrator.db
        tried: list[int] = []
        while True:
            with db.transaction() as conn:
                claimed = claim_outbox_tasks(
                    conn,
                    session_id,
                    self.holder,
                    now=self.clock(),
                    ttl=self.claim_ttl,
                    limit=self.batch,
                    exclude=tried,
                )
            if not claimed:
                return
            tried.extend(claimed)
            try:
                self.orchestrator.git.push_tasks(session_id, claimed)
                report.pushed.extend(claimed)
            finally:
                # Not reached when the process dies: the claims then expire after claim_ttl.
                with db.transaction() as conn:
                    release_outbox_claims(conn, self.holder, claimed)

    # -- the thread ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a round soon."""
        self._wake.set()

    def start(self) -> None:
        """Run rounds in a daemon thread until :meth:`stop`; registers for :func:`wake`."""
        if self._thread is not None and self._thread.is_alive():
            return
        with _workers_lock:
            _workers.add(self)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="taskorch-background-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the round in progress (waiting up to ``timeout`` seconds)."""
        with _workers_lock:
            _workers.discard(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the store is down, say: log the kind, try again next round
                log.warning("background sync round failed: %s", type(exc).__name__)
            timeout = self.interval if self.interval > 0 else None
            woken = self._wake.wait(timeout)
            if self._stop.is_set():
                return
            if woken:
                self._stop.wait(WAKE_DEBOUNCE_SECONDS)
                self._wake.clear()


def server_jobs(orchestrator: Orchestrator, holder: str) -> list[Callable[[], Any]]:
    """The jobs a server's worker runs after each round's sync: the webhook deliveries, then the
    notifications (events scanned, queued, posted)."""
    from taskorch.services.notifications import NotificationService
    from taskorch.services.webhooks import WebhookService

    webhooks = WebhookService(orchestrator, max_age=orchestrator.settings.webhook_max_age)
    notifications = NotificationService(orchestrator)
    return [lambda: webhooks.process_pending(holder), lambda: notifications.run(holder)]


@contextmanager
def serving(settings: Settings, *, enabled: bool) -> Iterator[BackgroundSync | None]:
    """Run a background worker (its own :class:`Orchestrator` over ``settings``) for the block,
    if ``enabled`` and ``settings.sync_interval`` is not 0; yield it, or None."""
    if not enabled or settings.sync_interval <= 0:
        yield None
        return
    from taskorch.services.app import Orchestrator

    orchestrator = Orchestrator(settings)
    worker = BackgroundSync(orchestrator)
    worker.jobs.extend(server_jobs(orchestrator, worker.holder))
    worker.start()
    log.info("background sync every %g s (holder %s)", worker.interval, worker.holder)
    try:
        yield worker
    finally:
        worker.stop()
        orchestrator.close()
