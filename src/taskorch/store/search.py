"""Full-text search over a task's title, description and artifacts.

One document per task in ``task_fts``: an FTS5 table on SQLite (rowid = task id), a ``tsvector``
with a GIN index on PostgreSQL. The services call :func:`index_task` whenever the text of a task
or its artifacts changes, in the same transaction, and :func:`matching_task_ids` to filter.

Queries are plain words, all of which must match (prefix match on the last word, so "migr"
finds "migration"). User text is never passed to the engine's own query syntax.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, Select, bindparam, column, select, table, text

__all__ = ["append_to_document", "index_new_tasks", "index_task", "matching_task_ids", "remove_task", "terms"]

_WORD = re.compile(r"\w+", re.UNICODE)
_fts = table("task_fts", column("rowid"), column("task_id"), column("document"))


def terms(query: str) -> list[str]:
    """Split a search query into the words matched; punctuation and operators are dropped."""
    return _WORD.findall(query.lower())[:16]


def index_task(conn: Connection, task_id: int, document: str) -> None:
    """Write (or rewrite) the search document of ``task_id``."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("DELETE FROM task_fts WHERE rowid = :id"), {"id": task_id})
        conn.execute(
            text("INSERT INTO task_fts (rowid, document) VALUES (:id, :doc)"),
            {"id": task_id, "doc": document},
        )
    else:
        conn.execute(
            text(
                "INSERT INTO task_fts (task_id, document) VALUES (:id, to_tsvector('simple', :doc)) "
                "ON CONFLICT (task_id) DO UPDATE SET document = EXCLUDED.document"
            ),
            {"id": task_id, "doc": document},
        )


_APPEND = {
    "sqlite": text("UPDATE task_fts SET document = document || :sep || :doc WHERE rowid = :id"),
    "postgresql": text("UPDATE task_fts SET document = document || to_tsvector('simple', :doc) WHERE task_id = :id"),
}


def append_to_document(conn: Connection, task_id: int, document: str) -> bool:
    """Add ``document`` at the end of the search document of ``task_id``, as a new line, in one
    statement; False (nothing written) when the task has no document yet."""
    if conn.dialect.name == "sqlite":
        result = conn.execute(_APPEND["sqlite"], {"id": task_id, "doc": document, "sep": "\n"})
    else:
        result = conn.execute(_APPEND["postgresql"], {"id": task_id, "doc": document})
    return bool(result.rowcount)


def index_new_tasks(conn: Connection, documents: list[tuple[int, str]]) -> None:
    """Write the search documents of tasks that have none yet (just inserted), in one statement."""
    if not documents:
        return
    rows = [{"id": task_id, "doc": document} for task_id, document in documents]
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO task_fts (rowid, document) VALUES (:id, :doc)"), rows)
    else:
        conn.execute(text("INSERT INTO task_fts (task_id, document) VALUES (:id, to_tsvector('simple', :doc))"), rows)


def remove_task(conn: Connection, task_ids: list[int]) -> None:
    """Drop the search documents of hard-deleted tasks."""
    if not task_ids:
        return
    key = "rowid" if conn.dialect.name == "sqlite" else "task_id"
    conn.execute(
        text(f"DELETE FROM task_fts WHERE {key} IN :ids").bindparams(bindparam("ids", expanding=True)),
        {"ids": task_ids},
    )


def matching_task_ids(dialect: str, query: str) -> Select[tuple[int]] | None:
    """A ``SELECT`` of the ids of tasks matching every word of ``query``; ``None`` if it has no word."""
    words = terms(query)
    if not words:
        return None
    if dialect == "sqlite":
        # Each word quoted, so FTS5 reads it as a string, never as an operator; last one a prefix.
        expr = " ".join(f'"{w}"' for w in words[:-1]) + (" " if len(words) > 1 else "") + f'"{words[-1]}"*'
        return select(_fts.c.rowid).where(text("task_fts MATCH :fts_query").bindparams(fts_query=expr))
    tsquery = " & ".join([*words[:-1], words[-1] + ":*"])
    return select(_fts.c.task_id).where(
        text("document @@ to_tsquery('simple', :fts_query)").bindparams(fts_query=tsquery)
    )
