"""The PostgreSQL server the PostgreSQL tests share, and a schema of its own for each test.

The server is ``TASKORCH_TEST_POSTGRES_URL`` if set, else ``postgresql+psycopg://postgres@127.0.0.1:5432/test``.
A module using :func:`admin` is skipped when the server cannot be reached, and fails instead when
``TASKORCH_TEST_POSTGRES_REQUIRED`` is set (CI sets it after ``scripts/start-postgres``). Each test
works in a schema created empty and dropped afterwards (the URL's ``options=-csearch_path=<schema>``
points every connection at it), so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

__all__ = ["BASE_URL", "admin", "schema", "schema_url"]

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BASE_URL = os.environ.get("TASKORCH_TEST_POSTGRES_URL", "").strip() or DEFAULT_URL


@pytest.fixture(scope="module")
def admin() -> Iterator[Engine]:
    """An engine on the server's default schema: creates and drops the test schemas."""
    shown = make_url(BASE_URL).render_as_string(hide_password=True)
    engine = create_engine(BASE_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        message = f"PostgreSQL is not reachable at {shown} ({reason}); set TASKORCH_TEST_POSTGRES_URL"
        if os.environ.get("TASKORCH_TEST_POSTGRES_REQUIRED"):
            pytest.fail(message + " (required: TASKORCH_TEST_POSTGRES_REQUIRED is set)")
        pytest.skip(message)
    yield engine
    engine.dispose()


def schema_url(schema: str) -> URL:
    """The server's URL with every connection's search_path set to ``schema``."""
    url = make_url(BASE_URL)
    options = " ".join(filter(None, [url.query.get("options", ""), f"-csearch_path={schema}"]))
    return url.update_query_dict({"options": options})


@pytest.fixture
def schema(admin: Engine) -> Iterator[str]:
    """A new empty schema's name, dropped with everything in it after the test."""
    name = f"taskorch_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
