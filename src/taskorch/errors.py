"""The one exception tree of taskorch.

Every layer raises these; each edge maps them once (the MCP server to a tool error, the CLI to
an exit code and a message). A message is written for the caller: it says what was wrong and
how to fix it, and never carries a secret, a stack trace or a machine path it was not given.

A store error means the call changed nothing (its transaction was rolled back), except where the
message says otherwise: a connection lost while committing leaves the outcome unknown.

    TaskorchError                 base; exit code 1
    ├── InvalidInput              bad argument value; exit code 2
    │   └── DependencyCycle       a plan or update would make the dependency graph cyclic
    ├── NotFound                  an id that names nothing; exit code 3
    ├── Conflict                  the request is valid but the current state forbids it; exit code 4
    │   ├── InvalidTransition     the status transition table forbids the move
    │   ├── DependenciesUnfinished execute_task while dependencies are still open
    │   ├── VersionMismatch       optimistic concurrency: expected_version is stale
    │   └── ClaimedByOther        another actor holds the task's claim (execute_task, complete_task)
    ├── Unauthorized              no valid API token (HTTP 401); exit code 12
    ├── Forbidden                 the token's scope does not allow the call (HTTP 403); exit code 13
    ├── StoreUnavailable          the database cannot be opened, reached or migrated; exit code 5
    │   ├── StoreBusy             another writer held the lock past the busy timeout; exit code 7
    │   ├── StoreConnectionLost   the server connection dropped during the call; exit code 8
    │   ├── StoreFull             the disk (or the database's size limit) is full; exit code 9
    │   ├── StoreReadOnly         the database refuses writes (permissions, read-only mount); exit code 10
    │   └── StoreReplaced         the database file was deleted or replaced under the process; exit code 11
    └── PlatformError             a Git platform call failed; exit code 6
        ├── RateLimited           primary or secondary rate limit; ``retry_after`` seconds
        ├── PlatformUnavailable   5xx, timeout, dropped connection: worth retrying
        ├── AuthenticationFailed  401, or 403 that is not a rate limit; or no token
        └── PlatformRejected      any other 4xx: the request itself is wrong (not retried)
"""

from __future__ import annotations

from collections.abc import Sequence

from taskorch.hints import PLAIN, Message, Param, Words, render

__all__ = [
    "AuthenticationFailed",
    "ClaimedByOther",
    "Conflict",
    "DependenciesUnfinished",
    "DependencyCycle",
    "Forbidden",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "PlatformError",
    "PlatformRejected",
    "PlatformUnavailable",
    "RateLimited",
    "StoreBusy",
    "StoreConnectionLost",
    "StoreFull",
    "StoreReadOnly",
    "StoreReplaced",
    "StoreUnavailable",
    "TaskorchError",
    "Unauthorized",
    "VersionMismatch",
]


class TaskorchError(Exception):
    """Base of every error taskorch raises on purpose; ``str(error)`` is safe to show a client.

    The message is text, or a :data:`~taskorch.hints.Message` whose hints (the call to make, the
    argument to change) each face words in its own terms with :meth:`render`; ``str(error)`` is
    the neutral wording (:data:`~taskorch.hints.PLAIN`).
    """

    exit_code = 1
    kind = "error"

    def __init__(self, message: str | Message = "") -> None:
        self.message: Message = (message,) if isinstance(message, str) else tuple(message)
        super().__init__(render(self.message))

    def render(self, words: Words = PLAIN) -> str:
        """The message in ``words`` (e.g. the CLI's commands and flags, the MCP tools and arguments)."""
        return render(self.message, words)


class InvalidInput(TaskorchError):
    """An argument has a value taskorch cannot accept.

    ``field`` names the argument (dotted for nested values, e.g. ``subtasks.2.depends_on``);
    ``fix`` says how to fix it, as text or a :data:`~taskorch.hints.Message` (e.g. naming the
    call to make instead). Each face words the field and the fix in its own terms.
    """

    exit_code = 2
    kind = "invalid_input"

    def __init__(self, field: str, problem: str, fix: str | Message | None = None) -> None:
        self.field = field
        self.problem = problem
        self.fix_message: Message = () if not fix else (fix,) if isinstance(fix, str) else tuple(fix)
        self.fix = render(self.fix_message) if fix else None
        message: Message = (Param(field), f": {problem}")
        if fix:
            message += (" Fix: ", *self.fix_message)
        super().__init__(message)


class DependencyCycle(InvalidInput):
    """The dependencies given would form a cycle; ``cycle`` lists it in order, first repeated last."""

    kind = "dependency_cycle"

    def __init__(self, field: str, cycle: Sequence[str]) -> None:
        self.cycle = list(cycle)
        super().__init__(
            field,
            "these dependencies form a cycle: " + " -> ".join(self.cycle) + ".",
            "remove one of the dependencies in the cycle.",
        )


class NotFound(TaskorchError):
    """An id (session, conflict) or a task number names nothing that exists (in this project)."""

    exit_code = 3
    kind = "not_found"


class Conflict(TaskorchError):
    """The request is well formed, but the current state of the data forbids it."""

    exit_code = 4
    kind = "conflict"


class InvalidTransition(Conflict):
    """The status transition table does not allow moving a task from one status to another."""

    kind = "invalid_transition"


class DependenciesUnfinished(Conflict):
    """A task cannot start: ``blockers`` holds the numbers of its unfinished dependencies."""

    kind = "dependencies_unfinished"

    def __init__(self, message: str | Message, blockers: Sequence[int]) -> None:
        self.blockers = list(blockers)
        super().__init__(message)


class VersionMismatch(Conflict):
    """Optimistic concurrency: the caller's ``expected_version`` is not the stored version."""

    kind = "version_mismatch"


class ClaimedByOther(Conflict):
    """Another actor holds the task's claim: ``holder`` until ``expires_at`` (an aware UTC datetime)."""

    kind = "claimed_by_other"

    def __init__(self, message: str | Message, *, holder: str, expires_at: object) -> None:
        self.holder = holder
        self.expires_at = expires_at
        super().__init__(message)


class Unauthorized(TaskorchError):
    """No API token, or one that is unknown or revoked (the HTTP server answers 401)."""

    exit_code = 12
    kind = "unauthorized"


class Forbidden(TaskorchError):
    """The API token's scope does not allow the call (the HTTP server answers 403)."""

    exit_code = 13
    kind = "forbidden"


class StoreUnavailable(TaskorchError):
    """The database cannot be opened, reached or is not at the newest migration.

    The subclasses name the causes an operator can act on; each message says what to do.
    """

    exit_code = 5
    kind = "store_unavailable"


class StoreBusy(StoreUnavailable):
    """Another writer kept the database locked longer than the busy timeout (SQLite), or the
    server aborted the transaction for a lock conflict or deadlock (PostgreSQL). Retrying later helps."""

    exit_code = 7
    kind = "store_busy"


class StoreConnectionLost(StoreUnavailable):
    """The connection to the database server was lost during the call (server shut down or
    restarted, session terminated). The next call opens a new connection."""

    exit_code = 8
    kind = "store_connection_lost"


class StoreFull(StoreUnavailable):
    """The database cannot grow: its disk is full, or it reached a configured size limit."""

    exit_code = 9
    kind = "store_full"


class StoreReadOnly(StoreUnavailable):
    """The database refuses writes: file or directory permissions, a read-only mount or URL
    (``mode=ro``), a read-only server or a user without write permission."""

    exit_code = 10
    kind = "store_read_only"


class StoreReplaced(StoreUnavailable):
    """The SQLite database file was deleted or replaced while the process had it open; writes
    would go to a file that no longer exists, so they are refused until ``restart_server``."""

    exit_code = 11
    kind = "store_replaced"


class PlatformError(TaskorchError):
    """A call to a Git platform failed. ``status`` is the HTTP status, if there was a response.

    Messages name the operation and the platform's own error text, never a token or header.
    """

    exit_code = 6
    kind = "platform_error"
    retryable = False

    def __init__(self, message: str | Message, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class RateLimited(PlatformError):
    """The platform asked us to slow down; wait ``retry_after`` seconds before the next request.

    GitHub: 429, or 403 with ``x-ratelimit-remaining: 0`` or a secondary-limit message; the wait
    comes from ``retry-after`` or ``x-ratelimit-reset``
    (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
    """

    kind = "rate_limited"
    retryable = True

    def __init__(self, message: str | Message, *, retry_after: float, status: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status)


class PlatformUnavailable(PlatformError):
    """A 5xx answer, a timeout or a dropped connection: the same request may succeed later."""

    kind = "platform_unavailable"
    retryable = True


class AuthenticationFailed(PlatformError):
    """No token, a rejected token, or a token without the permission the call needs."""

    kind = "authentication_failed"


class PlatformRejected(PlatformError):
    """The platform refused the request itself (404, 410, 422, ...): retrying will not help."""

    kind = "platform_rejected"
