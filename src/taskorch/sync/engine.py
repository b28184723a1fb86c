"""The sync engine: drain the outbox to the platform, pull the platform's changes back.

:class:`SyncEngine` coordinates a run; the work is in its parts: :mod:`taskorch.sync.core`
(shared state, platform calls, logs, :func:`enqueue`), :mod:`taskorch.sync.push`,
:mod:`taskorch.sync.pull` and :mod:`taskorch.sync.merge` (``merge_remote``, the entry point a
webhook uses). The SQL of the sync tables is in :mod:`taskorch.store.sync_repository`.

Rules it keeps (see ARCHITECTURE.md, "Sync"):

* **No transaction spans a network call.** Each step reads what it needs, calls the platform,
  then records the outcome in a short transaction of its own.
* **Idempotent creation.** A link row with an idempotency key is committed before an issue is
  created; the key travels in the issue body as a hidden marker. The outbox entry's attempt count
  is committed *before* the create request, so a retry (after a crash, a timeout or a dropped
  connection) first looks for an issue carrying the marker and adopts it instead of creating a
  second one.
* **Three-way merge.** Per linked field, ``base`` is the last value both sides agreed on. A field
  changed on one side only is taken from that side; changed on both is a conflict, settled by the
  configured policy (manual: queued for a person or an assistant; local_wins; remote_wins;
  newest_wins). Nothing is overwritten silently.
* **Incremental pull.** ``since`` watermark plus If-None-Match on the first page; the watermark
  and ETag are saved only after a run with no failure.
* **Rate limits.** Mutations go one at a time, spaced by ``mutation_spacing`` seconds; a rate
  limit is waited out (up to ``max_retry_wait``), 5xx/timeouts are retried with exponential
  backoff; every attempt is logged in ``sync_status_logs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from taskorch.errors import PlatformError
from taskorch.store import repository as repo
from taskorch.store import sync_repository as sync_store
from taskorch.sync.core import (
    DEFAULT_STATUS_MAPPING,
    RunState,
    board_column,
    enqueue,
    new_idempotency_key,
    pending_count,
)
from taskorch.sync.merge import MergeMixin, take_remote_value
from taskorch.sync.pull import PullMixin
from taskorch.sync.push import PushMixin
from taskorch.sync.remote import SyncStopped
from taskorch.sync.reports import FailureReport, SyncReport

__all__ = [
    "DEFAULT_STATUS_MAPPING",
    "SyncEngine",
    "SyncStopped",
    "board_column",
    "enqueue",
    "new_idempotency_key",
    "pending_count",
    "take_remote_value",
]


class SyncEngine(PushMixin, PullMixin, MergeMixin):
    """Syncs one session's tasks with one repository.

    ``config`` is the session's ``git_integration_config`` row (its ``status_mapping`` the board
    column of each board key); ``conventions`` how the platform's labels carry a status (the
    repository's, from the platform registry). ``sleep`` and ``monotonic`` are injectable so tests
    do not wait; ``clock`` gives UTC now.
    """

    # -- public -----------------------------------------------------------------------------

    def run(
        self,
        *,
        pull: bool = True,
        push: bool = True,
        task_ids: Sequence[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SyncReport:
        """Pull, then push; returns what moved. Never raises for a platform failure: failures
        are reported in the result and logged, and a rerun picks up where this one stopped."""
        self._run = RunState()
        self.remote.requests = 0
        t0 = time.perf_counter()
        log_id = self._log_start("bulk_sync", "sync")
        try:
            pulled = True
            if pull:
                try:
                    self.pull()
                except PlatformError as exc:
                    pulled = False
                    self._run.failed.append(FailureReport(task_id=None, operation="pull", error=str(exc)))
            if push:
                # Without a fresh pull, an update could overwrite a change made on the platform since
                # the last one: only creations go out, updates wait for the next run.
                self.push(task_ids=task_ids, progress=progress, updates=pulled or not pull)
        except SyncStopped as exc:
            self._run.stopped = str(exc)
        duration = time.perf_counter() - t0
        pending = self._pending_count()
        status = "failed" if self._run.failed else "completed"
        self._log_finish(
            log_id,
            status,
            records=len(self._run.created) + len(self._run.updated) + len(self._run.pulled) + len(self._run.imported),
            errors=len(self._run.failed),
            requests=self.remote.requests,
            duration=duration,
            error_details="; ".join(f.error for f in self._run.failed[:10]) or self._run.stopped,
        )
        budget = self.platform.rate_budget()
        rate = {
            "limit": budget.limit,
            "remaining": budget.remaining,
            "reset_at": budget.reset_at.isoformat() if budget.reset_at else None,
        }
        with self.db.transaction() as conn:
            self._ensure_state(conn)
            sync_store.update_state(conn, self.session_id, rate_limit=rate)
            # The run collected internal ids; the result names tasks by their numbers.
            numbers = repo.numbers_of(
                conn,
                [
                    *self._run.updated,
                    *self._run.pulled,
                    *self._run.imported,
                    *(f.task_id for f in self._run.failed if f.task_id),
                ],
            )
        failed = [replace(f, task_id=numbers.get(f.task_id)) if f.task_id is not None else f for f in self._run.failed]
        return SyncReport(
            repository=self.repository,
            created=self._run.created,
            updated=sorted({numbers[i] for i in self._run.updated if i in numbers}),
            pulled=sorted({numbers[i] for i in self._run.pulled if i in numbers}),
            imported=sorted({numbers[i] for i in self._run.imported if i in numbers}),
            conflicts=self._run.conflicts,
            failed=failed,
            pending=pending,
            not_modified=self._run.not_modified,
            requests=self.remote.requests,
            duration_seconds=round(duration, 4),
            rate_limit=rate,
            stopped=self._run.stopped,
            notes=list(self._run.notes),
        )
