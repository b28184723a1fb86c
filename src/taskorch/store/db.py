"""The database handle: engine set-up, one-transaction-per-call, and migrations.

SQLite runs in WAL mode with a busy timeout and ``BEGIN IMMEDIATE`` for writing transactions,
so two processes writing the same file queue behind each other instead of failing with
"database is locked" (a deferred transaction that later tries to write cannot wait, it fails:
https://www.sqlite.org/lang_transaction.html). PostgreSQL rows read for update are locked with
``SELECT ... FOR UPDATE`` by the services.

Migrations are Alembic's; :meth:`Database.ensure_schema` compares the stored revision with
:data:`HEAD_REVISION` first, so an up-to-date database never imports Alembic at start-up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.pool import ConnectionPoolEntry

from taskorch.errors import InvalidInput, StoreUnavailable

__all__ = ["HEAD_REVISION", "Database"]

log = logging.getLogger(__name__)

#: The newest Alembic revision. A test checks it against the migration scripts.
HEAD_REVISION = "0005_task_numbers"

#: Seconds a writer waits for another process's write transaction before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 60.0


class Database:
    """One engine and the rules for using it.

    ``url`` is a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``). A SQLite
    file's directory is created if missing. Nothing connects until first use.
    """

    def __init__(self, url: str) -> None:
        """Raises :class:`InvalidInput` for a URL SQLAlchemy cannot parse."""
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
        self._sqlite_path = (
            Path(parsed.database).expanduser()
            if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:"
            else None
        )
        self._engine: Engine | None = None
        self._lock = threading.RLock()
        self._schema_ready = False

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
                self.url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        return create_engine(self.url, pool_pre_ping=True)

    def dispose(self) -> None:
        """Close every pooled connection; the next use opens new ones."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``write=True`` takes SQLite's write lock at BEGIN (waiting up to
        :data:`SQLITE_BUSY_TIMEOUT_SECONDS` for other writers). Raises
        :class:`StoreUnavailable` when the database cannot be reached, and :class:`InvalidInput`
        when it refuses a value (PostgreSQL refuses NUL characters in text).
        """
        self.ensure_schema()
        try:
            with self._connect(write=write) as conn, conn.begin():
                yield conn
        except DataError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "a value is out of range"
            raise InvalidInput(
                "arguments", f"the database refused a value: {reason}.", "remove NUL characters from the text."
            ) from None

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except OperationalError as exc:
            raise StoreUnavailable(_describe_unreachable(self.url, exc)) from None
        try:
            conn.execution_options(taskorch_write=write)
            yield conn
        finally:
            conn.close()

    # -- schema -----------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The Alembic revision stored in the database, or ``None`` for an empty database."""
        with self._connect(write=False) as conn:
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

        Two processes starting on a new database at once are serialized by the write lock;
        the second finds the schema at head and does nothing.
        """
        from alembic import command
        from alembic.config import Config

        with self._connect(write=True) as conn:
            sqlite = self.dialect == "sqlite"
            if sqlite:
                # A migration may rebuild a table (Alembic's batch mode); with foreign keys on,
                # dropping the old table would cascade into every table referring to it. The
                # pragma only takes effect outside a transaction, hence before BEGIN.
                conn.connection.cursor().execute("PRAGMA foreign_keys = OFF")
            try:
                with conn.begin():
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


def _read_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError):
        return None  # no alembic_version table yet
    return None if row is None else str(row[0])


def _describe_unreachable(url: str, exc: DBAPIError) -> str:
    safe = make_url(url).render_as_string(hide_password=True)
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "unknown error"
    return (
        f"cannot open the database at {safe}: {reason}. "
        "Check TASKORCH_DATABASE_URL, that the server is running and that the path is writable."
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own BEGIN is always DEFERRED).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _set_wal(cursor: Any) -> None:
    """Switch to WAL, waiting out another process that holds the file while it does the same.

    Changing the journal mode needs an exclusive lock and SQLite answers "database is locked" at
    once instead of calling the busy handler, so two processes opening a new database together
    would otherwise fail. WAL is persistent: once one process has set it, this is a read.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
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
