"""The running process: uptime, in-flight calls and the background housekeeping worker.

The MCP server's health, shutdown and restart tools report on and act on this state. The CLI,
which runs one call and exits, has a runtime with no worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

__all__ = ["Housekeeper", "Runtime"]

log = logging.getLogger(__name__)


class Housekeeper:
    """A daemon thread that runs ``job`` every ``interval`` seconds until stopped.

    The server's job checkpoints SQLite's write-ahead log, so the WAL file does not grow without
    bound between restarts. ``state`` is ``running``, ``busy`` (inside the job), ``stopped`` or
    ``failed: <error type>``.
    """

    def __init__(self, job: Callable[[], None], interval: float) -> None:
        self._job = job
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = threading.Lock()
        self.runs = 0
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        if self._thread is None or not self._thread.is_alive():
            return "stopped" if self.last_error is None else f"failed: {self.last_error}"
        return "busy" if self._busy.locked() else "running"

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="taskorch-housekeeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the worker to stop and wait for a job in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def run_once(self) -> None:
        with self._busy:
            self._job()
            self.runs += 1

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # keep running: the next tick may succeed
                self.last_error = type(exc).__name__
                log.warning("housekeeping failed: %s", type(exc).__name__)


class Runtime:
    """Process-wide state: start time, calls in flight, the housekeeping worker."""

    def __init__(self) -> None:
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.housekeeper: Housekeeper | None = None

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def call(self) -> Iterator[None]:
        """Count a tool call as in flight for the duration of the block."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
