"""The store: migrations match the tables, SQLite settings, the counters' invariants."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from taskorch.errors import StoreUnavailable
from taskorch.store.db import HEAD_REVISION, Database
from taskorch.store.tables import metadata


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", "taskorch.store:migrations")
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    db = Database(database_url)
    db.ensure_schema()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True})
        diff = [d for d in compare_metadata(context, metadata) if not _is_fts(d)]
    assert diff == []
    db.dispose()


def _is_fts(diff: object) -> bool:
    return "task_fts" in repr(diff)


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(database_url: str) -> None:
    db = Database(database_url)
    with db.transaction(write=False) as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 10_000
    assert db.current_revision() == HEAD_REVISION
    db.dispose()


def test_transaction_rolls_back_on_error(database_url: str) -> None:
    db = Database(database_url)
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO server_restarts (reason, started_at, ok, components) "
                "VALUES ('x', '2026-01-01 00:00:00', 1, '{}')"
            )
        )
        raise RuntimeError("boom")
    with db.transaction(write=False) as conn:
        assert conn.execute(text("SELECT count(*) FROM server_restarts")).scalar_one() == 0
    db.dispose()


def test_unreachable_database_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    db = Database(f"sqlite:///{tmp_path}/nowhere/../file/x.db")
    with pytest.raises(StoreUnavailable, match="cannot open the database"):
        db.ensure_schema()
    secret_db = Database("postgresql+psycopg://user:s3cret-pw@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreUnavailable) as info:
        secret_db.ensure_schema()
    assert "s3cret-pw" not in str(info.value)
    assert "TASKORCH_DATABASE_URL" in str(info.value)


def test_a_malformed_url_names_the_variable() -> None:
    from taskorch.errors import InvalidInput

    with pytest.raises(InvalidInput, match="TASKORCH_DATABASE_URL"):
        Database("not a url at all")
