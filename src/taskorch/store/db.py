"""The database handle: engine set-up, one-transaction-per-call, and migrations.

SQLite runs in WAL mode with a busy timeout and ``BEGIN IMMEDIATE`` for writing transactions,
so two processes writing the same file queue behind each other instead of failing with
"database is locked" (a deferred transaction that later tries to write cannot wait, it fails:
https://www.sqlite.org/lang_transaction.html). PostgreSQL rows read for update are locked with
``SELECT ... FOR UPDATE`` by the services.

Migrations are Alembic's; :meth:`Database.ensure_schema` compares the stored revision with
:data:`HEAD_REVISION` first, so an up-to-date database never imports Alembic at start-up.

Failures of the store are named in one place, :meth:`Database.named_error`, and raised as the
subclasses of :class:`~taskorch.errors.StoreUnavailable` (disk full, read-only, busy, connection
lost, file replaced) with the cause and the fix, whether they happen at connect time, while a
statement runs or at COMMIT.

SQLite options ride in the URL's query string: ``timeout=SECONDS`` (pysqlite's own: how long a
writer waits for another, default :data:`SQLITE_BUSY_TIMEOUT_SECONDS`) and ``synchronous=normal``
(the default) or ``full`` (``PRAGMA synchronous``: ``full`` also survives power loss, at the cost
of an fsync per commit; https://www.sqlite.org/pragma.html#pragma_synchronous).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.pool import ConnectionPoolEntry

from taskorch.errors import (
    InvalidInput,
    StoreBusy,
    StoreConnectionLost,
    StoreFull,
    StoreReadOnly,
    StoreReplaced,
    StoreUnavailable,
)

__all__ = ["HEAD_REVISION", "Database"]

log = logging.getLogger(__name__)

#: The newest Alembic revision. A test checks it against the migration scripts.
HEAD_REVISION = "0011_sibling_index"

#: Seconds a writer waits for another process's write transaction before giving up (the
#: default of the URL's ``timeout`` option).
SQLITE_BUSY_TIMEOUT_SECONDS = 60.0
#: The values of the URL's ``synchronous`` option (SQLite's ``PRAGMA synchronous``).
SQLITE_SYNCHRONOUS = ("normal", "full", "extra")

FileState = Literal["unopened", "same", "missing", "replaced"]

# SQLite primary result codes (https://www.sqlite.org/rescode.html).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26
_SQLITE_READONLY_DBMOVED = 1032


class Database:
    """One engine and the rules for using it.

    ``url`` is a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``). A SQLite
    file's directory is created if missing. Nothing connects until first use.

    SQLite: the file's identity (device and inode) is recorded when the first connection opens
    it; every later connection checks it first (one ``stat``), so a file deleted or replaced
    under a running process is refused with :class:`StoreReplaced` instead of writes going to
    a file nobody will read again. :meth:`accept_current_file` forgets the identity (restart).
    """

    def __init__(self, url: str) -> None:
        """Raises :class:`InvalidInput` for a URL SQLAlchemy cannot parse or a bad SQLite option."""
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise InvalidInput(
                "TASKORCH_DATABASE_URL",
                "is not a database URL.",
                "use sqlite:////absolute/path.db or postgresql+psycopg://user@host/dbname.",
            ) from None
        self.dialect = parsed.get_backend_name()
        if self.dialect == "postgresql":
            from taskorch.store.tables import declare_postgresql_options

            declare_postgresql_options()
        #: The database in words for messages: its file, or its URL without the password.
        self.location = (
            f"the database file {(parsed.database or ':memory:').removeprefix('file:')}"
            if self.dialect == "sqlite"
            else f"the database at {parsed.render_as_string(hide_password=True)}"
        )
        #: Seconds a SQLite writer waits for another writer (URL option ``timeout``).
        self.busy_timeout = SQLITE_BUSY_TIMEOUT_SECONDS
        #: SQLite's ``PRAGMA synchronous`` (URL option ``synchronous``).
        self.synchronous = "normal"
        self._engine_url: URL = parsed
        self._sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            self.busy_timeout = _timeout_option(parsed)
            self.synchronous = _synchronous_option(parsed)
            self._engine_url = parsed.difference_update_query(["synchronous"])
            self._sqlite_path = _sqlite_file(parsed)
        self._engine: Engine | None = None
        self._lock = threading.RLock()
        self._schema_ready = False
        self._file_identity: tuple[int, int] | None = None

    # -- engine -----------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        if self._sqlite_path is not None:
            try:
                self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot open the database at {self._sqlite_path}: cannot create its directory "
                    f"({exc.strerror}). Check TASKORCH_DATABASE_URL and that the path is writable."
                ) from None
        if self.dialect == "sqlite":
            engine = create_engine(
                self._engine_url,
                connect_args={"timeout": self.busy_timeout, "check_same_thread": False},
            )
            # Any new connection, whoever asks for it (checkpoint, VACUUM), checks the file first:
            # opening a deleted file would silently create an empty one in its place.
            event.listen(engine, "do_connect", self._sqlite_before_connect)
            event.listen(engine, "connect", self._sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        return create_engine(self._engine_url, pool_pre_ping=True)

    def dispose(self) -> None:
        """Close every pooled connection; the next use opens new ones."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _sqlite_before_connect(self, *_args: Any) -> None:
        self._check_file()

    def _sqlite_on_connect(self, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own BEGIN is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            _set_wal(cursor, self.busy_timeout)
            cursor.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        if self._file_identity is None and self._sqlite_path is not None:
            with self._lock:
                if self._file_identity is None:
                    self._file_identity = _identity(self._sqlite_path)

    # -- the file under a running process ---------------------------------------------------

    @property
    def file_path(self) -> Path | None:
        """The SQLite database file (absolute), or ``None`` for a server or an in-memory database."""
        return self._sqlite_path

    def file_state(self) -> FileState:
        """Whether the SQLite file is still the one first opened (one ``stat``).

        ``unopened``: nothing recorded yet (or PostgreSQL, or in memory); ``same``; ``missing``:
        deleted; ``replaced``: another file is at the path now.
        """
        recorded = self._file_identity
        if recorded is None or self._sqlite_path is None:
            return "unopened"
        current = _identity(self._sqlite_path)
        if current is None:
            return "missing"
        return "same" if current == recorded else "replaced"

    def accept_current_file(self) -> None:
        """Forget the recorded file identity: the next connection opens (or creates) whatever
        file is at the path now, and records it. Only for an explicit restart."""
        with self._lock:
            self._file_identity = None

    def _check_file(self) -> None:
        state = self.file_state()
        if state in ("missing", "replaced"):
            raise StoreReplaced(
                _replaced_message(self.location, "deleted" if state == "missing" else "replaced by another file")
            )

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``write=True`` takes SQLite's write lock at BEGIN (waiting up to :attr:`busy_timeout`
        seconds for other writers). Raises :class:`InvalidInput` when the database refuses a
        value (PostgreSQL refuses NUL characters in text), and :class:`StoreUnavailable` or one
        of its subclasses (:meth:`named_error`) when the store fails at connect time, while a
        statement runs or at COMMIT; the transaction is then rolled back.
        """
        committing = False
        with self._named_errors(committing=lambda: committing):
            self.ensure_schema()
            with self._connect(write=write) as conn, conn.begin():
                yield conn
                committing = True

    def probe_write(self) -> None:
        """Prove the store accepts a write: a write transaction that rewrites the Alembic
        revision to itself and is rolled back. Raises like :meth:`transaction` (e.g.
        :class:`StoreReadOnly`); changes nothing."""
        with self._named_errors(), self._connect(write=True) as conn:
            trans = conn.begin()
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                trans.rollback()

    @contextmanager
    def _named_errors(self, committing: Callable[[], bool] | None = None) -> Iterator[None]:
        """Raise :meth:`named_error` for a store failure inside the block; ``committing()`` says
        whether the block had reached COMMIT."""
        try:
            yield
        except DataError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "a value is out of range"
            raise InvalidInput(
                "arguments", f"the database refused a value: {reason}.", "remove NUL characters from the text."
            ) from None
        except DBAPIError as exc:
            named = self.named_error(exc, committing=committing is not None and committing())
            if named is None:
                raise
            raise named from None

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[Connection]:
        self._check_file()
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise (self.named_error(exc, connecting=True) or exc) from None
        try:
            conn.execution_options(taskorch_write=write)
            yield conn
        finally:
            conn.close()

    # -- naming failures --------------------------------------------------------------------

    def named_error(
        self, exc: BaseException, *, committing: bool = False, connecting: bool = False
    ) -> StoreUnavailable | None:
        """The :class:`StoreUnavailable` subclass for a database failure, or ``None`` when
        ``exc`` is not one (a bug, a constraint).

        ``exc`` is a SQLAlchemy ``DBAPIError`` or a bare driver error. ``committing``: it was
        raised by COMMIT (a lost connection then leaves the outcome unknown); ``connecting``:
        while opening a connection (a refused connection is then "cannot open", not "lost").
        After a read-only error the pooled connections are closed, since SQLite remembers
        read-only-ness per connection: the next call reopens the file.
        """
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
        reason = _first_line(orig)
        named = self._classify(orig, invalidated=invalidated, reason=reason, committing=committing)
        if connecting and type(named) in (type(None), StoreUnavailable, StoreConnectionLost):
            return StoreUnavailable(_describe_unreachable(self.url, reason))
        if isinstance(named, StoreReadOnly):
            self._dispose_pool()
        return named

    def _classify(
        self, orig: BaseException | None, *, invalidated: bool, reason: str, committing: bool
    ) -> StoreUnavailable | None:
        unchanged = "Nothing of this call was written."
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int):
            primary = code & 0xFF
            if code == _SQLITE_READONLY_DBMOVED:
                return StoreReplaced(_replaced_message(self.location, "moved or deleted"))
            if primary == _SQLITE_FULL:
                return StoreFull(
                    f"{self.location} cannot grow: the disk that holds it is full, or the database reached its "
                    f"size limit ({reason}). {unchanged} Fix: free space on that disk (the file and its -wal "
                    "file grow with each write), then retry."
                )
            if primary in (_SQLITE_READONLY, _SQLITE_PERM):
                return StoreReadOnly(
                    f"{self.location} is read-only for taskorch ({reason}). {unchanged} Fix: make the file, its "
                    "-wal and -shm files and its directory writable by the user running taskorch, check that "
                    "the file system is not mounted read-only and that TASKORCH_DATABASE_URL does not open it "
                    "with mode=ro; then retry (the next call reopens the file)."
                )
            if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
                return StoreBusy(
                    f"{self.location} stayed locked by another writer for longer than the busy timeout of "
                    f"{self.busy_timeout:g} s ({reason}): another taskorch server or CLI, or another program "
                    f"with the file open (`fuser {self._sqlite_path}` lists them), is in a long write "
                    f"transaction. {unchanged} Fix: retry when that writer is done; to wait longer, add "
                    "?timeout=SECONDS to TASKORCH_DATABASE_URL."
                )
            if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
                return StoreUnavailable(
                    f"cannot read or write {self.location} ({reason}). {unchanged} Fix: check that the disk "
                    "is attached and healthy and that the path in TASKORCH_DATABASE_URL exists; then retry."
                )
            if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                return StoreUnavailable(
                    f"{self.location} is damaged or is not a taskorch database ({reason}). {unchanged} Fix: "
                    "restore it from a backup, or point TASKORCH_DATABASE_URL at the right file."
                )
            return None
        state = getattr(orig, "sqlstate", None)
        if invalidated or (isinstance(state, str) and (state.startswith("08") or state in _PG_LOST)):
            if committing:
                return StoreConnectionLost(
                    f"the connection to {self.location} was lost while committing ({reason}): the server was "
                    "shut down or restarted, or the session was ended. The call may or may not have been "
                    "committed. Fix: check its effect (get_status, query_tasks) before repeating it; the next "
                    "call opens a new connection."
                )
            return StoreConnectionLost(
                f"the connection to {self.location} was lost during the call ({reason}): the server was shut "
                "down or restarted, or the session was ended. Nothing of this call was written: the server "
                "rolled it back. Fix: retry; the next call opens a new connection."
            )
        if state == "53100":
            return StoreFull(
                f"the PostgreSQL server of {self.location} has no disk space left ({reason}). {unchanged} Fix: "
                "free disk space on the server (or ask its administrator to), then retry."
            )
        if state in ("25006", "42501"):
            return StoreReadOnly(
                f"{self.location} refuses writes ({reason}): the server is read-only (a standby, or "
                f"default_transaction_read_only) or the user may not write these tables. {unchanged} Fix: "
                "point TASKORCH_DATABASE_URL at the primary server, with a user that owns the schema; then retry."
            )
        if state in ("40P01", "40001", "55P03"):
            return StoreBusy(
                f"{self.location} aborted the transaction because of another writer ({reason}). {unchanged} Fix: retry."
            )
        if isinstance(state, str) and state.startswith("53"):
            return StoreUnavailable(
                f"the PostgreSQL server of {self.location} is out of resources ({reason}). {unchanged} Fix: "
                "retry later, or ask its administrator to raise the limit."
            )
        return None

    def _dispose_pool(self) -> None:
        """Close the pooled connections but keep the engine (and its event listeners)."""
        engine = self._engine
        if engine is not None:
            engine.dispose()

    # -- schema -----------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The Alembic revision stored in the database, or ``None`` for an empty database.

        Raises :class:`StoreUnavailable` (or a subclass) as :meth:`transaction` does."""
        with self._named_errors(), self._connect(write=False) as conn:
            return _read_revision(conn)

    def ensure_schema(self) -> None:
        """Migrate to :data:`HEAD_REVISION` if needed; cheap once done (one check per process)."""
        if self._schema_ready:
            return
        with self._lock:
            if self._schema_ready:
                return
            if self.current_revision() != HEAD_REVISION:
                self.upgrade()
            self._schema_ready = True

    def upgrade(self) -> None:
        """Run Alembic's upgrade to head, inside one write transaction.

        Two processes starting on a new database at once are serialized (SQLite: the write lock;
        PostgreSQL: an advisory lock per schema); the second finds the schema at head and does
        nothing. Raises :class:`StoreUnavailable`
        (or a subclass) as :meth:`transaction` does.
        """
        from alembic import command
        from alembic.config import Config

        with self._named_errors(), self._connect(write=True) as conn:
            sqlite = self.dialect == "sqlite"
            if sqlite:
                # A migration may rebuild a table (Alembic's batch mode); with foreign keys on,
                # dropping the old table would cascade into every table referring to it. The
                # pragma only takes effect outside a transaction, hence before BEGIN.
                conn.connection.cursor().execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        # PostgreSQL has no database-wide write lock: processes starting together
                        # on a new schema queue on an advisory lock of that schema instead.
                        conn.exec_driver_sql(
                            "SELECT pg_advisory_xact_lock(hashtext('taskorch migrate ' || current_schema()))"
                        )
                    revision = _read_revision(conn)
                    if revision == HEAD_REVISION:
                        return
                    log.info("migrating database from %s to %s", revision or "empty", HEAD_REVISION)
                    cfg = Config()
                    cfg.set_main_option("script_location", "taskorch.store:migrations")
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise StoreUnavailable(
                            "the migration left rows that break a foreign key; the database was not changed. "
                            "Run `PRAGMA foreign_key_check` on it to see them."
                        )
            finally:
                if sqlite:
                    conn.connection.cursor().execute("PRAGMA foreign_keys = ON")

    def mark_schema_unknown(self) -> None:
        """Forget that the schema was checked (after reconnecting to a possibly other database)."""
        self._schema_ready = False


#: PostgreSQL SQLSTATEs of a connection the server ended (admin_shutdown, crash_shutdown,
#: cannot_connect_now); class 08 (connection exceptions) is matched by its prefix.
_PG_LOST = ("57P01", "57P02", "57P03")


def _read_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError) as exc:
        if _no_such_table(exc):
            return None  # no alembic_version table yet
        raise
    return None if row is None else str(row[0])


def _no_such_table(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "42P01" or "no such table" in str(exc.orig)


def _sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL opens (``file:`` URIs included), or None in memory."""
    database = url.database or ""
    if url.query.get("uri") in ("true", "1") and database.startswith("file:"):
        database = database.removeprefix("file:")
        if url.query.get("mode") == "memory":
            return None
    if not database or database == ":memory:":
        return None
    return Path(os.path.abspath(Path(database).expanduser()))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino)


def _option(url: URL, name: str) -> str | None:
    value = url.query.get(name)
    if isinstance(value, tuple):
        value = value[-1] if value else None
    return value


def _timeout_option(url: URL) -> float:
    raw = _option(url, "timeout")
    if raw is None:
        return SQLITE_BUSY_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise InvalidInput(
            "TASKORCH_DATABASE_URL",
            f"timeout={raw!r} is not a number of seconds.",
            f"use e.g. ?timeout={SQLITE_BUSY_TIMEOUT_SECONDS:g}.",
        )
    return value


def _synchronous_option(url: URL) -> str:
    raw = _option(url, "synchronous")
    if raw is None:
        return "normal"
    if raw.lower() not in SQLITE_SYNCHRONOUS:
        raise InvalidInput(
            "TASKORCH_DATABASE_URL",
            f"synchronous={raw!r} is not a SQLite synchronous mode.",
            f"use one of: {', '.join(SQLITE_SYNCHRONOUS)}.",
        )
    return raw.lower()


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines() if error is not None else []
    return lines[0] if lines else "unknown error"


def _describe_unreachable(url: str, reason: str) -> str:
    safe = make_url(url).render_as_string(hide_password=True)
    return (
        f"cannot open the database at {safe}: {reason}. "
        "Check TASKORCH_DATABASE_URL, that the server is running and that the path is writable."
    )


def _replaced_message(where: str, what: str) -> str:
    return (
        f"{where} was {what} while taskorch was running, so it is no longer used: a write would go to a file "
        "that no longer exists and be lost. Fix: restart the server (or call restart_server) to open the file "
        "now at that path; if it was deleted by mistake, restore it from a backup first."
    )


def _set_wal(cursor: Any, timeout: float) -> None:
    """Switch to WAL, waiting out another process that holds the file while it does the same.

    Changing the journal mode needs an exclusive lock and SQLite answers "database is locked" at
    once instead of calling the busy handler, so two processes opening a new database together
    would otherwise fail. WAL is persistent: once one process has set it, this is a read.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("taskorch_write", True)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
