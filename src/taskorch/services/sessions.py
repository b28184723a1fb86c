"""Sessions: one per project, the project being the Git repository root of a working directory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Connection, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from taskorch.errors import InvalidInput, NotFound
from taskorch.hints import REQUIRED, Hint, Message, Param
from taskorch.services.paths import refuse_system_root
from taskorch.store import repository as repo
from taskorch.store.tables import sessions

__all__ = [
    "ProjectLocation",
    "find_project_root",
    "get_session",
    "locate_project",
    "open_session",
    "resolve_task",
    "resolve_tasks",
    "task_not_found",
]


class ProjectLocation(NamedTuple):
    """Where a working directory led: the project ``root``; ``resolved_from`` is the path given
    when symlinks led from it elsewhere (then ``resolved`` is the directory they led to)."""

    root: Path
    resolved: Path
    resolved_from: str | None

    def note(self) -> str:
        """One sentence saying where the symlinks led, for the caller's next step."""
        return (
            f"Note: {self.resolved_from} resolved (through symlinks) to {self.resolved}; "
            f"the session belongs to the project at {self.root}."
        )


def find_project_root(working_directory: str) -> Path:
    """The Git repository root containing ``working_directory``, else the directory itself.

    See :func:`locate_project`, which also says whether symlinks were followed.
    """
    return locate_project(working_directory).root


def locate_project(working_directory: str) -> ProjectLocation:
    """The Git repository root containing ``working_directory``, else the directory itself.

    The path must be absolute and name an existing directory: the server's own current
    directory is never used. A ``.git`` file (worktrees, submodules) counts as a root marker.
    ``/``, system directories, ``/proc``, ``/sys``, ``/dev`` and the home directory itself are
    refused (see :mod:`taskorch.services.paths`). Raises :class:`InvalidInput`.
    """
    raw = working_directory.strip()
    if not raw:
        raise InvalidInput("working_directory", "is empty.", "pass the absolute path of the project you work in.")
    if "\x00" in raw:
        raise InvalidInput("working_directory", "contains a NUL byte.", "pass the absolute path of your project.")
    try:
        path = Path(raw).expanduser()
    except RuntimeError:  # "~name" where no such user exists
        raise InvalidInput(
            "working_directory", f"{raw!r}: its home directory is unknown.", "pass an absolute path."
        ) from None
    if not path.is_absolute():
        raise InvalidInput(
            "working_directory",
            f"{raw!r} is a relative path; the server's own directory is not your project's.",
            "pass an absolute path, e.g. the output of `pwd` in your project.",
        )
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidInput("working_directory", f"{raw!r} does not exist.", "pass an existing directory.") from None
    if not resolved.is_dir():
        raise InvalidInput("working_directory", f"{raw!r} is not a directory.", "pass the project's directory.")
    root = next((c for c in (resolved, *resolved.parents) if (c / ".git").exists()), resolved)
    refuse_system_root(path, root)
    followed = Path(os.path.normpath(path)) != resolved
    return ProjectLocation(root=root, resolved=resolved, resolved_from=raw if followed else None)


def get_session(conn: Connection, session_id: int) -> RowMapping:
    row = repo.session_row(conn, session_id)
    if row is None:
        raise NotFound(
            (
                f"session {session_id} does not exist. Call ",
                Hint("initialize_session", {"working_directory": REQUIRED}),
                " to get a session id for your project.",
            )
        )
    return row


def task_not_found(conn: Connection, session: RowMapping, number: int) -> NotFound:
    """The error for a task number the session's project does not have.

    When other projects of the database have a task with that number, the message names them
    (at most three) and says how to address one; nothing of their tasks is shown.
    """
    from taskorch.store.tables import tasks

    message: Message = (
        f"task {number} not found in project {session['project_root']}. List this project's task numbers with ",
        Hint("query_tasks"),
        ".",
    )
    elsewhere = [
        str(root)
        for (root,) in conn.execute(
            select(sessions.c.project_root)
            .join(tasks, tasks.c.session_id == sessions.c.id)
            .where(tasks.c.number == number, tasks.c.session_id != session["id"])
            .order_by(sessions.c.id)
            .limit(3)
        )
    ]
    if elsewhere:
        message += (
            f" Task numbers are per project; a task {number} exists in {', '.join(elsewhere)}: to work on it, "
            "pass that project's ",
            Param("session_id"),
            " (the session of that project).",
        )
    return NotFound(message)


def resolve_task(conn: Connection, session: RowMapping, number: int) -> int:
    """The internal id of task ``number`` of ``session``'s project; raises :class:`NotFound`."""
    found = repo.task_id_of(conn, session["id"], number)
    if found is None:
        raise task_not_found(conn, session, number)
    return found


def resolve_tasks(conn: Connection, session: RowMapping, numbers: Sequence[int]) -> list[int]:
    """The internal ids of task ``numbers`` of the session, in order, in one query; raises
    :class:`NotFound` naming the first number the project does not have."""
    from taskorch.store.tables import tasks

    wanted = list(dict.fromkeys(numbers))
    if not wanted:
        return []
    found = {
        int(n): int(i)
        for n, i in conn.execute(
            select(tasks.c.number, tasks.c.id).where(tasks.c.session_id == session["id"], tasks.c.number.in_(wanted))
        )
    }
    for number in wanted:
        if number not in found:
            raise task_not_found(conn, session, number)
    return [found[n] for n in numbers]


def find_session(conn: Connection, key: str) -> RowMapping | None:
    """The session of the project ``key``, or ``None``; reads only (a session still keyed by its
    root alone is found, and re-keyed, by :func:`open_session`)."""
    return conn.execute(select(sessions).where(sessions.c.project_key == key)).mappings().first()


def open_session(
    conn: Connection, root: Path, name: str | None, at: datetime, key: str | None = None
) -> tuple[RowMapping, bool]:
    """Create the project's session, or resume it; return ``(row, resumed)``.

    ``key`` identifies the project (see :mod:`taskorch.services.projects`; default ``path:<root>``).
    A session is found by its key; else a session of the same root (made before the project had a
    remote, or before revision 0006) takes the key, so existing sessions move to their repository's
    key the first time it is seen.
    """
    root_text = str(root)
    key = key or "path:" + root_text
    row = conn.execute(select(sessions).where(sessions.c.project_key == key)).mappings().first()
    if row is None:
        row = conn.execute(select(sessions).where(sessions.c.project_root == root_text)).mappings().first()
        if row is not None:
            conn.execute(update(sessions).where(sessions.c.id == row["id"]).values(project_key=key))
            repo.record_event(
                conn,
                session_id=row["id"],
                task_id=None,
                tool="initialize_session",
                action="session",
                changes={"project_key": [row["project_key"], key]},
                at=at,
            )
    if row is not None:
        values: dict[str, object] = {"last_active_at": at}
        if name and name != row["name"]:
            values["name"] = name
        conn.execute(update(sessions).where(sessions.c.id == row["id"]).values(**values))
        return get_session(conn, row["id"]), True
    try:
        with conn.begin_nested():
            session_id = conn.execute(
                insert(sessions)
                .values(
                    name=name or root.name or root_text,
                    project_root=root_text,
                    project_key=key,
                    created_at=at,
                    last_active_at=at,
                )
                .returning(sessions.c.id)
            ).scalar_one()
            repo.init_counts(conn, session_id)
    except IntegrityError:  # another process created it between our read and our insert
        row = (
            conn.execute(
                select(sessions).where((sessions.c.project_key == key) | (sessions.c.project_root == root_text))
            )
            .mappings()
            .first()
        )
        if row is None:
            raise
        return row, True
    repo.record_event(
        conn,
        session_id=session_id,
        task_id=None,
        tool="initialize_session",
        action="session",
        changes={"project_root": root_text, "project_key": key, "name": name or root.name},
        at=at,
    )
    return get_session(conn, session_id), False
