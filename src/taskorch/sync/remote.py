"""Every call to a platform goes through one loop: spacing of mutations, rate limits waited out,
transient failures retried with backoff, creations that look up before they retry.

Used by the sync engine, the board and milestone services and the release publication alike; an
adapter never retries by itself. Rules (the brief's "Rate limits"; GitHub's "Best practices for
using the REST API", GitLab's "Rate limits"):

* a *mutation* waits until ``spacing`` seconds have passed since the previous one, and mutations
  never overlap (one caller, one thread);
* :class:`~taskorch.errors.RateLimited` is waited out for its ``retry_after`` seconds when that is
  at most ``max_retry_wait``, else the run stops with :class:`SyncStopped` (the rest waits in the
  outbox);
* :class:`~taskorch.errors.PlatformUnavailable` (5xx, timeout, dropped connection) is retried with
  exponential backoff and jitter, at most :data:`MAX_TRANSIENT_ATTEMPTS` attempts;
* a creation is never simply repeated: before each retry :meth:`RemoteCaller.create` calls its
  ``lookup`` (by marker, by tag, ...) and returns what an earlier attempt made.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from taskorch.errors import PlatformRejected, PlatformUnavailable, RateLimited

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "BACKOFF_MAX_SECONDS",
    "MAX_TRANSIENT_ATTEMPTS",
    "RemoteCaller",
    "RetryLog",
    "Spacer",
    "SyncStopped",
]

T = TypeVar("T")

#: Attempts for one request that keeps failing with 5xx, timeouts or dropped connections.
MAX_TRANSIENT_ATTEMPTS = 5
#: First backoff after a transient failure, in seconds; doubles per attempt, with jitter.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0

#: ``log(operation, task_id, detail)``: records one retry or stop (a ``sync_status_logs`` row).
RetryLog = Callable[[str, "int | None", str], None]


class SyncStopped(Exception):
    """A run stops early (a rate limit longer than allowed); the rest waits in the outbox."""


class Spacer:
    """Keeps at least ``interval`` seconds between two mutations (GitHub's best practice)."""

    def __init__(self, interval: float, sleep: Callable[[float], None], monotonic: Callable[[], float]) -> None:
        self.interval = interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._last: float | None = None
        self.waited = 0.0

    def wait(self) -> None:
        if self._last is not None and self.interval > 0:
            remaining = self.interval - (self._monotonic() - self._last)
            if remaining > 0:
                self._sleep(remaining)
                self.waited += remaining
        self._last = self._monotonic()


class RemoteCaller:
    """The one retry loop. ``sleep`` (seconds) and ``monotonic`` are injectable so tests never
    wait; ``log`` records each retry; ``requests`` counts the HTTP requests spent (a call that
    spends more, such as a paged listing, adds the rest with :meth:`spent`)."""

    def __init__(
        self,
        *,
        spacing: float,
        max_retry_wait: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        log: RetryLog,
    ) -> None:
        self.spacer = Spacer(spacing, sleep, monotonic)
        self.max_retry_wait = max_retry_wait
        self.sleep = sleep
        self.log = log
        self.requests = 0

    def spent(self, extra: int) -> None:
        """Count ``extra`` requests a call made beyond its first."""
        self.requests += max(extra, 0)

    def call(self, what: str, fn: Callable[[], T], *, mutation: bool, task_id: int | None = None) -> T:
        """Call ``fn`` once per attempt until it answers. Raises :class:`SyncStopped` for a rate
        limit longer than ``max_retry_wait``, the last :class:`PlatformUnavailable` after
        :data:`MAX_TRANSIENT_ATTEMPTS` attempts, and any other platform error at once."""
        attempt = 0
        while True:
            try:
                return self._attempt(what, fn, mutation=mutation, task_id=task_id)
            except PlatformUnavailable as exc:
                attempt += 1
                if attempt >= MAX_TRANSIENT_ATTEMPTS:
                    raise
                self._backoff(what, task_id, attempt, f"{exc}; retry {attempt}")

    def create(
        self,
        what: str,
        create: Callable[[], T],
        *,
        lookup: Callable[[], T | None],
        before_attempt: Callable[[int], None] = lambda attempt: None,
        attempts: int = 0,
        exists: Callable[[PlatformRejected], bool] = lambda exc: False,
        task_id: int | None = None,
    ) -> T:
        """Create something at most once. ``attempts`` counts the attempts made before (by an
        earlier process, say): when it is positive, ``lookup`` runs first and its find is returned.
        ``before_attempt(n)`` runs before the ``n``-th request is sent (commit the attempt count
        and what is sent there). A rejection for which ``exists(exc)`` holds ("already exists")
        and every lost answer lead back to ``lookup``. Raises like :meth:`call`."""
        while True:
            if attempts > 0:
                found = lookup()
                if found is not None:
                    return found
            attempts += 1
            before_attempt(attempts)
            try:
                return self._attempt(what, create, mutation=True, task_id=task_id)
            except PlatformRejected as exc:
                if not exists(exc) or attempts >= MAX_TRANSIENT_ATTEMPTS:
                    raise
                self._backoff(what, task_id, attempts, f"{exc}; looking it up")
            except PlatformUnavailable as exc:
                if attempts >= MAX_TRANSIENT_ATTEMPTS:
                    raise
                self._backoff(what, task_id, attempts, f"{exc}; looking it up before retrying")

    def _attempt(self, what: str, fn: Callable[[], T], *, mutation: bool, task_id: int | None) -> T:
        """One request, with a rate limit waited out (and the request repeated) in between."""
        while True:
            if mutation:
                self.spacer.wait()
            self.requests += 1
            try:
                return fn()
            except RateLimited as exc:
                if exc.retry_after > self.max_retry_wait:
                    self.log(what, task_id, f"rate limited for {exc.retry_after:.0f} s; stopping")
                    raise SyncStopped(
                        f"rate limited for {exc.retry_after:.0f} s (more than the {self.max_retry_wait:.0f} s "
                        "allowed); the rest stays in the outbox for the next sync"
                    ) from None
                self.log(what, task_id, f"rate limited; waiting {exc.retry_after:.1f} s")
                self.sleep(exc.retry_after)

    def _backoff(self, what: str, task_id: int | None, attempt: int, detail: str) -> None:
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        delay *= 0.5 + random.random() / 2  # jitter, not security
        self.log(what, task_id, f"{detail} in {delay:.2f} s")
        self.sleep(delay)
