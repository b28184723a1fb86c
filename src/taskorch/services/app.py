"""The orchestrator: one object the MCP server and the CLI share, one method per tool.

Each public method runs as exactly one database transaction: it either does everything it says
or, raising a :class:`~taskorch.errors.TaskorchError`, changes nothing.

Sessions: :meth:`Orchestrator.initialize_session` binds a session to a project (the Git
repository root of a working directory). Methods that work on a session take ``session_id``; when
it is omitted they use the session this process initialized last, so an assistant that started
with ``initialize_session`` need not repeat it.

Tasks are named by their number in the project (``tasks.number``), never by the store's internal
id: every ``task_id`` argument is a number resolved within the session (raising
:class:`~taskorch.errors.NotFound` naming the project when it has no such task), and every task
reference in a result, a text or an error message is a number.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, RowMapping, desc, func, insert, select, text
from sqlalchemy.engine import make_url

from taskorch.config import Settings, project_roles_dir
from taskorch.domain.caller import current_caller
from taskorch.domain.model import ArtifactType
from taskorch.errors import InvalidInput, StoreBusy, StoreReplaced, StoreUnavailable, TaskorchError
from taskorch.hints import REQUIRED, Hint, Message, attach, render
from taskorch.services import projects, query, sessions, views
from taskorch.services.fields import text_arguments
from taskorch.services.models import (
    AuditTrail,
    CancelResult,
    CompleteResult,
    DeleteResult,
    ExecuteResult,
    HealthResult,
    MaintenanceResult,
    PlanResult,
    QueryBrief,
    QueryResult,
    ReconnectResult,
    RestartRecord,
    RestartResult,
    RestartStatusResult,
    SessionResult,
    ShutdownResult,
    StatusResult,
    SubtaskSpec,
    SynthesisResult,
    TaskChanges,
    TaskFields,
    TaskView,
    UpdateResult,
)
from taskorch.services.runtime import Housekeeper, Runtime
from taskorch.store import repository as repo
from taskorch.store.db import HEAD_REVISION, Database
from taskorch.store.tables import server_restarts

if TYPE_CHECKING:
    from taskorch.services import maintenance
    from taskorch.services.connection import ConnectionConfig
    from taskorch.services.git import GitService, PlatformFactory
    from taskorch.services.graph import GraphFormat, GraphResult
    from taskorch.services.models import BoardResult, GitResult, ReleaseResult, ReopenResult, ShowResult, TreeResult
    from taskorch.services.release import ReleaseService
    from taskorch.specialists import RoleLibrary

__all__ = ["Orchestrator"]

#: Seconds between two WAL checkpoints of the housekeeping worker.
HOUSEKEEPING_INTERVAL_SECONDS = 300.0
#: Free disk space under which health_check reports ``degraded``, in bytes.
LOW_DISK_BYTES = 256 * 1024 * 1024


class Orchestrator:
    """The services of taskorch over one database.

    ``settings`` come from the environment by default, and ``restart_server`` re-reads them
    with ``reload_settings`` (default: the environment when no settings were given, else the
    same settings). ``clock`` returns the current UTC time (tests pass a controllable one).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = repo.utcnow,
        runtime: Runtime | None = None,
        reload_settings: Callable[[], Settings] | None = None,
        platform_factory: PlatformFactory | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        # restart_server re-reads the settings from where they came from.
        self._reload_settings = reload_settings or (Settings.from_env if settings is None else lambda: self.settings)
        self.db = Database(self.settings.database_url)
        self.clock = clock
        self.runtime = runtime or Runtime()
        # The current session of each caller (actor and MCP session; see taskorch.domain.caller).
        self._current_sessions: dict[tuple[str, str | None], int] = {}
        self._roles: dict[str, tuple[float | None, RoleLibrary]] = {}
        self._platform_factory = platform_factory
        self._sleep = sleep
        self._git: GitService | None = None
        # Whether any project of this database has an integration (checked once per process, so
        # a database without one pays a single query, and no sync code is imported).
        self._git_configured: bool | None = None
        self._roles_lock = threading.Lock()

    @property
    def current_session_id(self) -> int | None:
        """The session the current caller initialized last (per caller, never process-wide)."""
        return self._current_sessions.get(current_caller().session_key)

    @current_session_id.setter
    def current_session_id(self, value: int | None) -> None:
        if value is None:
            self._current_sessions.pop(current_caller().session_key, None)
        else:
            self._current_sessions[current_caller().session_key] = value

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        if self.runtime.housekeeper is not None:
            self.runtime.housekeeper.stop()
        self.db.dispose()

    def start_background(self) -> None:
        """Start the housekeeping worker (the server does; one-shot CLI calls do not)."""
        if self.runtime.housekeeper is None:
            self.runtime.housekeeper = Housekeeper(self._checkpoint_job, HOUSEKEEPING_INTERVAL_SECONDS)
        self.runtime.housekeeper.start()

    def _checkpoint_job(self) -> None:
        self.checkpoint("PASSIVE")

    def checkpoint(self, mode: Literal["PASSIVE", "TRUNCATE"] = "PASSIVE") -> str:
        """Checkpoint SQLite's write-ahead log; return what it did, in words."""
        if self.db.dialect != "sqlite":
            return "not needed (PostgreSQL)"
        with self.db.engine.connect() as conn:
            # On the DBAPI connection, outside a transaction: SQLAlchemy's autobegin would issue
            # BEGIN IMMEDIATE, and SQLite refuses to checkpoint inside a transaction.
            busy, log_frames, done = conn.connection.cursor().execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return f"{mode.lower()} checkpoint: {done} of {log_frames} WAL frames written" + (" (busy)" if busy else "")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction that also captures outbox entries for linked or auto-synced tasks."""
        captured = 0
        with self.db.transaction() as conn:
            capturing = self._capturing(conn)
            if capturing:
                from taskorch.sync import outbox

                mark = outbox.last_event_id(conn)
            yield conn
            if capturing:
                captured = self._capture(conn, mark)
        if captured:
            from taskorch.services import background

            background.wake()  # committed: a background worker of this process pushes it soon

    def _capturing(self, conn: Connection) -> bool:
        if self._git_configured is None:
            from taskorch.store.tables import git_integration_config

            self._git_configured = conn.execute(select(git_integration_config.c.id).limit(1)).first() is not None
        return self._git_configured

    def _capture(self, conn: Connection, mark: int) -> int:
        from taskorch.store.tables import git_integration_config
        from taskorch.sync import outbox

        return sum(
            outbox.capture(conn, after_event_id=mark, config=config, at=self.clock())
            for config in conn.execute(select(git_integration_config)).mappings()
        )

    @property
    def git(self) -> GitService:
        """The Git platform integration (imported on first use)."""
        if self._git is None:
            from taskorch.services.git import GitService

            self._git = GitService(
                self.db, self.settings, platform_factory=self._platform_factory, clock=self.clock, sleep=self._sleep
            )
        return self._git

    def roles_for(self, project_root: str) -> RoleLibrary:
        """The role library of a project (built-ins plus its ``.taskorch/roles``), cached until the
        project's roles directory changes."""
        roles_dir = project_roles_dir(project_root)
        try:
            stamp: float | None = roles_dir.stat().st_mtime
        except OSError:
            stamp = None
        with self._roles_lock:
            cached = self._roles.get(project_root)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            from taskorch.specialists import RoleLibrary

            library = RoleLibrary.load(project_root)
            self._roles[project_root] = (stamp, library)
            return library

    def _session(self, conn: Connection, session_id: int | None) -> RowMapping:
        chosen = session_id if session_id is not None else self.current_session_id
        if chosen is None:
            raise InvalidInput(
                "session_id",
                "no session is active in this server" + (" for this caller." if current_caller().remote else "."),
                (
                    "call ",
                    Hint("initialize_session", {"working_directory": REQUIRED}),
                    " first"
                    + (
                        "; a client without an MCP session (the stateless protocol revision) passes the "
                        "session_id it returned on every call."
                        if current_caller().remote
                        else "."
                    ),
                ),
            )
        return sessions.get_session(conn, chosen)

    def _scoped(self, conn: Connection, session_id: int | None, number: int) -> tuple[RowMapping, int]:
        """The session (given or current) and the internal id of its task ``number``."""
        session = self._session(conn, session_id)
        return session, sessions.resolve_task(conn, session, number)

    def _locked(self, conn: Connection, session_id: int | None, number: int) -> tuple[RowMapping, RowMapping]:
        """The session (given or current) and the row of its task ``number``, read in one query
        and locked for the transaction on PostgreSQL; raises :class:`NotFound`."""
        session = self._session(conn, session_id)
        task = repo.task_by_number(conn, session["id"], number, for_update=True)
        if task is None:
            raise sessions.task_not_found(conn, session, number)
        return session, task

    def _resolve(self, session_id: int | None, numbers: Sequence[int]) -> tuple[int, list[int]]:
        """The session id and the internal ids of task ``numbers`` in it (one read transaction)."""
        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            return int(session["id"]), sessions.resolve_tasks(conn, session, numbers)

    # -- sessions ---------------------------------------------------------------------------

    @text_arguments(lines=("working_directory", "name", "repository"))
    def initialize_session(
        self, working_directory: str, name: str | None = None, repository: str | None = None
    ) -> SessionResult:
        """Create or resume the session of the project containing ``working_directory``.

        System directories and the home directory itself are refused as projects; when symlinks
        led elsewhere, ``resolved_from`` holds the path given and ``next_step`` says so.
        """
        identity = projects.identify_project(working_directory, repository)
        root, location = identity.root, identity.location
        if name is not None and not name.strip():
            raise InvalidInput("name", "is empty.", "omit it, or give a short name.")
        with self.db.transaction() as conn:
            row, resumed = sessions.open_session(conn, root, name.strip() if name else None, self.clock(), identity.key)
            counts = repo.stored_counts(conn, row["id"])
            ready = query.ready_queue(conn, row["id"])
            status = query.get_status(conn, session_id=row["id"], project_root=row["project_root"])
        self.current_session_id = row["id"]
        next_step: Message
        if ready:
            next_step = (f"{len(ready)} task(s) ready: call ", Hint("execute_task", {"task_id": ready[0].id}), ".")
        elif sum(counts.values()) == 0:
            next_step = ("No tasks yet: plan the work with ", Hint("plan_task", {"title": REQUIRED}), ".")
        else:
            next_step = ("Nothing is ready; see what blocks the work with ", Hint("get_status"), ".")
        if location is not None and location.resolved_from is not None:
            next_step = (f"{location.note()} ", *next_step)
        result = SessionResult(
            session_id=row["id"],
            name=row["name"],
            project_root=row["project_root"],
            resumed=resumed,
            counts=counts,
            ready=ready,
            in_progress=status.in_progress,
            next_step=render(next_step),
            resolved_from=location.resolved_from if location is not None else None,
            project_key=row["project_key"],
            project_reason=identity.reason,
        )
        return attach(result, next_step)

    @text_arguments(lines=("working_directory",))
    def use_project(self, working_directory: str) -> int:
        """Make the session of the project containing ``working_directory`` current, and return
        its id: found in a read transaction, or created (as :meth:`initialize_session` does) only
        when the project has none yet. The command line calls this before each project command."""
        identity = projects.identify_project(working_directory)
        with self.db.transaction(write=False) as conn:
            row = sessions.find_session(conn, identity.key)
        if row is None:
            return self.initialize_session(working_directory).session_id
        self.current_session_id = int(row["id"])
        return int(row["id"])

    def get_status(
        self, session_id: int | None = None, limit: int = query.STATUS_LIST_LIMIT, blocked_limit: int | None = None
    ) -> StatusResult:
        """Counts and the session's lists (ready, awaiting synthesis, blocked, in progress,
        recently completed), each of at most ``limit`` tasks (``blocked_limit`` blocked ones)."""
        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            return query.get_status(
                conn,
                session_id=session["id"],
                project_root=session["project_root"],
                limit=limit,
                blocked_limit=blocked_limit,
            )

    # -- tasks ------------------------------------------------------------------------------

    def plan_task(
        self,
        task: TaskFields,
        subtasks: Sequence[SubtaskSpec] = (),
        *,
        parent_id: int | None = None,
        session_id: int | None = None,
    ) -> PlanResult:
        """Plan a task (under task number ``parent_id`` of the project, if given) with subtasks."""
        from taskorch.services import planning

        with self._write() as conn:
            session = self._session(conn, session_id)
            parent = None if parent_id is None else sessions.resolve_task(conn, session, parent_id)
            return planning.plan_task(
                conn,
                session_id=session["id"],
                task=task,
                subtasks=subtasks,
                parent_id=parent,
                roles=self.roles_for(session["project_root"]),
                at=self.clock(),
            )

    def execute_task(self, task_id: int, session_id: int | None = None, force: bool = False) -> ExecuteResult:
        """Start task number ``task_id`` of the project and claim it for the caller (see
        :mod:`taskorch.services.claims`); raises :class:`NotFound`, ``DependenciesUnfinished``,
        ``ClaimedByOther`` (unless ``force``)."""
        from taskorch.services import claims, execution

        with self._write() as conn:
            session, task = self._locked(conn, session_id, task_id)
            claim = claims.claim(conn, task, at=self.clock(), ttl=self.settings.claim_ttl, force=force)
            return execution.execute_task(
                conn, task=task, claim=claim, roles=self.roles_for(session["project_root"]), at=self.clock()
            )

    @text_arguments(texts=("summary", "detailed_work", "next_action"))
    def complete_task(
        self,
        task_id: int,
        summary: str,
        detailed_work: str = "",
        file_paths: Sequence[str] = (),
        artifact_type: ArtifactType = ArtifactType.GENERAL,
        next_action: str | None = None,
        session_id: int | None = None,
    ) -> CompleteResult:
        """Complete task number ``task_id`` of the project with an artifact; raises :class:`NotFound`."""
        from taskorch.services import claims, execution

        if not summary.strip():
            raise InvalidInput("summary", "is empty.", "say in a sentence or two what was done.")
        try:
            kind = ArtifactType(artifact_type)
        except ValueError:
            raise InvalidInput(
                "artifact_type",
                f"{artifact_type!r} is not an artifact type.",
                f"use one of: {', '.join(t.value for t in ArtifactType)}.",
            ) from None
        with self._write() as conn:
            session, task = self._locked(conn, session_id, task_id)
            claims.check_holder(conn, task, at=self.clock(), tool="complete_task")
            return execution.complete_task(
                conn,
                task=task,
                project_root=session["project_root"],
                summary=summary.strip(),
                detailed_work=detailed_work,
                file_paths=file_paths,
                artifact_type=kind,
                next_action=next_action,
                at=self.clock(),
            )

    def get_task(self, task_id: int, session_id: int | None = None) -> TaskView:
        """Task number ``task_id`` of the project with its subtasks and artifacts; raises :class:`NotFound`."""
        with self.db.transaction(write=False) as conn:
            _session, internal = self._scoped(conn, session_id, task_id)
            row = repo.get_task(conn, internal)
            return views.task_views(conn, [row], include_children=True, include_artifacts=True)[0]

    def show_task(self, task_id: int, session_id: int | None = None) -> ShowResult:
        """Task number ``task_id`` as execute_task would present it, without starting it, with its
        artifacts, subtasks, audit trail and linked issue. Raises :class:`NotFound`."""
        from taskorch.services import showing

        with self.db.transaction(write=False) as conn:
            session, internal = self._scoped(conn, session_id, task_id)
            return showing.show_task(conn, task_id=internal, roles=self.roles_for(session["project_root"]))

    def task_tree(self, session_id: int | None = None) -> TreeResult:
        """The project's live tasks by number, each with its ``parent_id``: the plan as a tree."""
        from taskorch.services import showing

        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            return showing.task_tree(conn, session_id=session["id"], project_root=session["project_root"])

    def task_graph(self, session_id: int | None = None, fmt: GraphFormat = "mermaid") -> GraphResult:
        """The project's live tasks as a graph (parents, dependencies, claims, issues, readiness)
        with its critical path and a picture as Mermaid, SVG or DOT; see :mod:`taskorch.services.graph`."""
        from taskorch.services import graph

        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            return graph.task_graph(conn, session["id"], fmt)

    @text_arguments(texts=("reason",))
    def reopen_task(self, task_id: int, reason: str, session_id: int | None = None) -> ReopenResult:
        """Move completed task number ``task_id`` back to pending, recorded with ``reason``; see
        :func:`taskorch.services.editing.reopen_task`. Raises :class:`InvalidInput` (empty reason),
        :class:`NotFound`, :class:`InvalidTransition` (not completed), :class:`Conflict`."""
        from taskorch.services import editing

        if not reason.strip():
            raise InvalidInput("reason", "is empty.", "say why the task is reopened.")
        with self._write() as conn:
            _session, internal = self._scoped(conn, session_id, task_id)
            return editing.reopen_task(conn, task_id=internal, reason=reason.strip(), at=self.clock())

    def query_tasks(self, session_id: int | None = None, **filters: Any) -> QueryResult:
        """See :func:`taskorch.services.query.query_tasks` for the filters."""
        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            return query.query_tasks(conn, session_id=session["id"], **filters)

    def query_briefs(self, session_id: int | None = None, **filters: Any) -> QueryBrief:
        """:meth:`query_tasks` with one row per task (number, title, status, priority, parent,
        labels, dependencies, version) instead of whole tasks."""
        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            return query.query_briefs(conn, session_id=session["id"], **filters)

    def update_task(
        self,
        task_id: int,
        changes: dict[str, Any],
        expected_version: int | None = None,
        session_id: int | None = None,
    ) -> UpdateResult:
        """Change task number ``task_id`` of the project (``depends_on`` holds task numbers too)."""
        from taskorch.services import claims, editing

        if not changes:
            raise InvalidInput("changes", "nothing to update.", "pass at least one field to change.")
        changes = TaskChanges.checked(changes)
        with self._write() as conn:
            session, internal = self._scoped(conn, session_id, task_id)
            claims.renew(conn, internal, at=self.clock(), ttl=self.settings.claim_ttl)
            return editing.update_task(
                conn,
                task_id=internal,
                changes=changes,
                expected_version=expected_version,
                roles=self.roles_for(session["project_root"]),
                at=self.clock(),
            )

    @text_arguments(texts=("reason",))
    def cancel_task(
        self, task_id: int, reason: str, cascade: bool = False, session_id: int | None = None
    ) -> CancelResult:
        """Cancel task number ``task_id`` of the project; raises :class:`NotFound`, ``Conflict``."""
        from taskorch.services import editing

        if not reason.strip():
            raise InvalidInput("reason", "is empty.", "say why the task is cancelled.")
        with self._write() as conn:
            _session, internal = self._scoped(conn, session_id, task_id)
            return editing.cancel_task(conn, task_id=internal, reason=reason.strip(), cascade=cascade, at=self.clock())

    def delete_task(
        self, task_id: int, hard: bool = False, cascade: bool = False, session_id: int | None = None
    ) -> DeleteResult:
        """Archive (or hard-delete) task number ``task_id`` of the project; raises :class:`NotFound`."""
        from taskorch.services import editing

        with self._write() as conn:
            _session, internal = self._scoped(conn, session_id, task_id)
            return editing.delete_task(conn, task_id=internal, hard=hard, cascade=cascade, at=self.clock())

    def synthesize_results(self, parent_task_id: int, session_id: int | None = None) -> SynthesisResult:
        """Synthesize the subtasks of task number ``parent_task_id`` of the project."""
        from taskorch.services import synthesis

        with self._write() as conn:
            _session, internal = self._scoped(conn, session_id, parent_task_id)
            return synthesis.synthesize_results(conn, parent_task_id=internal, at=self.clock())

    def audit_trail(self, session_id: int | None = None, task_id: int | None = None, limit: int = 50) -> AuditTrail:
        """The newest ``limit`` audit entries of a session (or of its task number ``task_id``, also
        after a hard delete), oldest first. Raises :class:`NotFound` for a number the project never had."""
        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            entries = views.audit_entries(conn, session["id"], task_number=task_id, limit=limit)
            if task_id is not None and not entries:
                sessions.resolve_task(conn, session, task_id)  # NotFound unless the project has it
        return AuditTrail(entries=entries[::-1])

    # -- maintenance ------------------------------------------------------------------------

    def maintenance_coordinator(
        self,
        action: maintenance.Action,
        dry_run: bool = True,
        older_than_days: int = 30,
        session_id: int | None = None,
    ) -> MaintenanceResult:
        from taskorch.services import maintenance

        if older_than_days < 0:
            raise InvalidInput("older_than_days", "is negative.", "give a number of days, e.g. 30.")
        if action == "vacuum":
            return self._vacuum(dry_run)
        with self._write() if action != "prepare_handover" else self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            at = self.clock()
            if action == "scan_cleanup":
                return maintenance.scan_cleanup(
                    conn,
                    session_id=session["id"],
                    stale_after=timedelta(hours=self.settings.stale_after_hours),
                    dry_run=dry_run,
                    at=at,
                )
            if action == "validate_structure":
                return maintenance.validate_structure(conn, session_id=session["id"], dry_run=dry_run)
            if action == "archive_completed":
                return maintenance.archive_completed(
                    conn, session_id=session["id"], older_than_days=older_than_days, dry_run=dry_run, at=at
                )
            if action == "prepare_handover":
                return maintenance.prepare_handover(conn, session=session)
        raise InvalidInput("action", f"unknown action {action!r}.", "see the tool's description for the actions.")

    def _vacuum(self, dry_run: bool) -> MaintenanceResult:
        from taskorch.services.models import Finding

        self.db.ensure_schema()
        if self.db.dialect != "sqlite":
            if not dry_run:
                with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM ANALYZE")
            return MaintenanceResult(
                action="vacuum",
                dry_run=dry_run,
                changed=0,
                findings=[
                    Finding(
                        kind="vacuum",
                        detail="VACUUM ANALYZE " + ("would run" if dry_run else "ran"),
                        fixed=not dry_run,
                    )
                ],
            )
        with self.db.engine.connect() as conn:
            # VACUUM cannot run inside a transaction: use the DBAPI connection (see checkpoint).
            sql = conn.connection.cursor()
            page_size = sql.execute("PRAGMA page_size").fetchone()[0]
            before_pages = sql.execute("PRAGMA page_count").fetchone()[0]
            free_pages = sql.execute("PRAGMA freelist_count").fetchone()[0]
            findings = [
                Finding(
                    kind="size",
                    detail=f"{before_pages * page_size} bytes, {free_pages * page_size} of them free pages",
                )
            ]
            changed = 0
            if not dry_run:
                sql.execute("VACUUM")
                sql.execute("ANALYZE")
                after = sql.execute("PRAGMA page_count").fetchone()[0]
                findings.append(
                    Finding(
                        kind="vacuum",
                        fixed=True,
                        detail=f"rebuilt: {after * page_size} bytes ({(before_pages - after) * page_size} reclaimed)",
                    )
                )
                changed = 1
        return MaintenanceResult(action="vacuum", dry_run=dry_run, findings=findings, changed=changed)

    # -- Git platform integration -----------------------------------------------------------

    def _session_id(self, session_id: int | None) -> int:
        with self.db.transaction(write=False) as conn:
            return int(self._session(conn, session_id)["id"])

    def git_connect(
        self,
        config: ConnectionConfig | str,
        *,
        session_id: int | None = None,
        trusted: bool = True,
        **options: Any,
    ) -> GitResult:
        """Connect the project to a repository (one call; no network until the first sync).

        ``config`` is a :class:`~taskorch.services.connection.ConnectionConfig`, or a repository
        reference with the config's other fields as keyword ``options``. ``trusted=False`` is for a
        caller other than the user (the MCP face): ``api_token_name`` must then be allowed by
        ``settings.allowed_token_names`` (``TASKORCH_ALLOWED_TOKEN_NAMES``), and the platform's
        address comes from the settings only. Everything, the issue template's trial render
        included, is checked before the write transaction opens. Raises :class:`InvalidInput`,
        :class:`NotFound` (no session).
        """
        from taskorch.services.connection import ConnectionConfig
        from taskorch.services.models import GitResult

        if isinstance(config, str):
            config = ConnectionConfig.of(config, **options)
        elif options:
            raise TypeError("pass the options inside the ConnectionConfig")
        allowed: Callable[[str], bool] | None = None
        if not trusted:
            from taskorch.sync.secrets import token_name_allowed

            allowed = partial(token_name_allowed, allowed=self.settings.allowed_token_names)

        from taskorch.platforms.registry import platform_spec

        checked = self.git.check_connect(config, token_name_allowed=allowed, trusted=trusted)
        with self.db.transaction() as conn:
            session = self._session(conn, session_id)
            view = self.git.connect(conn, session["id"], checked)
        self._git_configured = True
        return GitResult(
            action="connect",
            config=view,
            detail=f"connected to {view.repository} on {platform_spec(view.platform).title} ({view.tier} tier)"
            + self.git.lacking(view),
        )

    def project_git_tier(self, session_id: int | None = None) -> str | None:
        """The integration tier of the session's project, or None when it has none."""
        chosen = session_id if session_id is not None else self.current_session_id
        if chosen is None:
            return None
        with self.db.transaction(write=False) as conn:
            if not self._capturing(conn):
                return None
            from taskorch.store.tables import git_integration_config

            row = conn.execute(
                select(git_integration_config.c.tier).where(git_integration_config.c.session_id == chosen)
            ).first()
        return None if row is None else str(row[0])

    def git_set_import_policy(self, policy: str, session_id: int | None = None) -> GitResult:
        """Set which issues opened on the platform become tasks at the next pull: ``off``, ``all``
        or ``label:NAME``. Raises :class:`InvalidInput`, :class:`Conflict` (nothing connected)."""
        from taskorch.services.models import GitResult

        with self.db.transaction() as conn:
            session = self._session(conn, session_id)
            view = self.git.set_import_policy(conn, session["id"], policy)
        detail = {
            "off": "issues opened on the platform are not imported",
            "all": "every open issue not linked to a task becomes a task at the next sync",
        }.get(view.import_policy, f"open issues labelled '{view.import_policy[6:]}' become tasks at the next sync")
        return GitResult(action="set_import_policy", config=view, detail=detail)

    def git_config(self, session_id: int | None = None) -> GitResult:
        from taskorch.services.git import config_view
        from taskorch.services.models import GitResult

        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
            view = config_view(self.git.config_row(conn, session["id"]))
        status = self.git.status(session["id"])
        return GitResult(action="status", config=view, detail=_git_status_text(view.tier, status))

    def git_create_issue(self, task_id: int, session_id: int | None = None) -> GitResult:
        """Create the issue of task number ``task_id`` of the project."""
        sid, (internal,) = self._resolve(session_id, [task_id])
        return self.git.create_issue(sid, internal)

    def git_update_issue(self, task_id: int, session_id: int | None = None) -> GitResult:
        """Push task number ``task_id`` of the project to its issue."""
        sid, (internal,) = self._resolve(session_id, [task_id])
        return self.git.update_issue(sid, internal)

    def git_link_task(self, task_id: int, issue_number: int, session_id: int | None = None) -> GitResult:
        """Link task number ``task_id`` of the project to an existing issue."""
        if issue_number < 1:
            raise InvalidInput("issue_number", "must be a positive issue number.", "e.g. 42.")
        sid, (internal,) = self._resolve(session_id, [task_id])
        return self.git.link_task(sid, internal, issue_number)

    def git_sync(
        self,
        session_id: int | None = None,
        *,
        pull: bool = True,
        push: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> GitResult:
        return self.git.sync(self._session_id(session_id), pull=pull, push=push, progress=progress)

    @text_arguments(lines=("title",), texts=("description",))
    def git_create_milestone(
        self, title: str, description: str = "", due_on: date | None = None, session_id: int | None = None
    ) -> GitResult:
        return self.git.create_milestone(self._session_id(session_id), title, description, due_on)

    def git_conflicts(self, session_id: int | None = None, include_resolved: bool = False) -> GitResult:
        from taskorch.services.models import GitResult

        found = self.git.conflicts(self._session_id(session_id), include_resolved=include_resolved)
        return GitResult(action="list_conflicts", conflicts=found, detail=f"{len(found)} conflict(s)")

    @text_arguments(lines=("resolution",))
    def git_resolve_conflict(self, conflict_id: int, resolution: str, session_id: int | None = None) -> GitResult:
        return self.git.resolve_conflict(self._session_id(session_id), conflict_id, resolution)

    @text_arguments(
        lines=("action", "title", "column", "status_mapping", "board_type", "time_spent"), texts=("goal", "comment")
    )
    def board_manager(
        self,
        action: str,
        *,
        task_ids: Sequence[int] = (),
        title: str | None = None,
        column: str | None = None,
        status_mapping: dict[str, str] | None = None,
        board_type: str | None = None,
        sprint_id: int | None = None,
        start_date: date | None = None,
        end_date: date | None = None,
        goal: str | None = None,
        time_spent: str | None = None,
        comment: str | None = None,
        session_id: int | None = None,
    ) -> BoardResult:
        """The project board: create_board, add_to_board, move_card, update_progress, sync_milestones;
        sprints (create_sprint, add_to_sprint, start_sprint, close_sprint) on a platform with
        iterations; log_work (``time_spent`` such as ``1h30m``) on a platform with time tracking.

        ``task_ids`` are task numbers of the project; ``title`` names the board or the sprint."""
        from taskorch.services.sprints import SprintService, parse_time_spent

        sid, internal_ids = self._resolve(session_id, task_ids)
        sprints = SprintService(self.git)
        if action in ("create_board", "create_sprint"):
            if not title or not title.strip():
                raise InvalidInput("title", "is empty.", "name the board or sprint, e.g. the feature or 'Sprint 1'.")
            if action == "create_sprint":
                return sprints.create_sprint(sid, title.strip(), start_date, end_date, goal)
            return self.git.create_board(sid, title.strip(), status_mapping, board_type)
        if action in ("add_to_board", "move_card", "add_to_sprint", "log_work"):
            if not task_ids:
                raise InvalidInput("feature_id", "is missing.", "pass the id of the task whose card to place.")
            if action == "add_to_sprint":
                return sprints.add_to_sprint(sid, internal_ids, sprint_id)
            if action == "log_work":
                if not time_spent:
                    raise InvalidInput("time_spent", "is missing.", "pass the time spent, e.g. '1h30m'.")
                return sprints.log_work(sid, internal_ids[0], parse_time_spent(time_spent), comment)
            return self.git.board_move(sid, internal_ids, column if action == "move_card" else None, action)
        if action == "start_sprint":
            return sprints.start_sprint(sid, sprint_id, start_date, end_date)
        if action == "close_sprint":
            return sprints.close_sprint(sid, sprint_id)
        if action == "update_progress":
            return self.git.board_move(sid, self.git.linked_task_ids(sid), None, action)
        if action == "sync_milestones":
            return self.git.sync_milestones(sid)
        raise InvalidInput("action", f"unknown action {action!r}.", "see the tool's description for the actions.")

    # -- release coordination ---------------------------------------------------------------

    @property
    def releases(self) -> ReleaseService:
        from taskorch.services.release import ReleaseService

        return ReleaseService(self.db, self.git, self._write, clock=self.clock)

    def _session_root(self, session_id: int | None) -> tuple[int, str]:
        with self.db.transaction(write=False) as conn:
            session = self._session(conn, session_id)
        return int(session["id"]), str(session["project_root"])

    @text_arguments(lines=("version",), texts=("description",))
    def release_plan(
        self,
        version: str | None = None,
        included_features: Sequence[int] | None = None,
        target_date: date | None = None,
        description: str | None = None,
        session_id: int | None = None,
    ) -> ReleaseResult:
        """Create or update a release plan with its readiness report; proposes a version if none.

        ``included_features`` are task numbers of the project."""
        sid, root = self._session_root(session_id)
        included = None if included_features is None else self._resolve(sid, included_features)[1]
        return self.releases.plan_release(
            sid, root, version=version, included=included, target_date=target_date, description=description
        )

    @text_arguments(lines=("version",))
    def release_milestone(self, version: str | None = None, session_id: int | None = None) -> ReleaseResult:
        sid, _root = self._session_root(session_id)
        return self.releases.create_milestone(sid, version)

    @text_arguments(lines=("version", "template", "commit"), texts=("notes",))
    def release_changelog(
        self,
        version: str | None = None,
        template: Literal["automated", "manual", "hybrid"] = "automated",
        write: bool = False,
        notes: str | None = None,
        commit: str = "HEAD",
        session_id: int | None = None,
    ) -> ReleaseResult:
        if template not in ("automated", "manual", "hybrid"):
            raise InvalidInput(
                "release_notes_template", f"{template!r} is not a template.", "use automated, manual or hybrid."
            )
        sid, root = self._session_root(session_id)
        return self.releases.generate_changelog(
            sid,
            root,
            version=version,
            template=template,
            write=write,
            notes=notes,
            commit=commit,
        )

    @text_arguments(lines=("version", "commit", "remote"))
    def release_tag(
        self,
        version: str | None = None,
        commit: str = "HEAD",
        push: bool = False,
        remote: str = "origin",
        dry_run: bool = False,
        force: bool = False,
        session_id: int | None = None,
        via_api: bool = False,
    ) -> ReleaseResult:
        sid, root = self._session_root(session_id)
        return self.releases.tag_release(
            sid,
            root,
            version=version,
            commit=commit,
            push=push,
            remote=remote,
            dry_run=dry_run,
            force=force,
            via_api=via_api,
        )

    # -- health and lifecycle ---------------------------------------------------------------

    def health_check(self) -> HealthResult:
        """Database reachable, migrated and writable, integrity, disk space, uptime, version, components.

        ``status`` is ``failing`` when the database cannot be read or written (``database.error``
        then says why and what to do: read-only, full, file replaced, unreachable), ``degraded``
        when it works but writes wait for another writer, disk space is low or a background
        worker failed. Writability is proven by a write rolled back, so nothing changes.
        """
        database: dict[str, Any] = {
            "dialect": self.db.dialect,
            "url": make_url(self.db.url).render_as_string(hide_password=True),
            "head_revision": HEAD_REVISION,
        }
        components: dict[str, str] = {}
        status: Literal["ok", "degraded", "failing"] = "ok"
        try:
            started = time.perf_counter()
            revision = self.db.current_revision()
            with self.db.transaction(write=False) as conn:
                conn.execute(text("SELECT 1"))
                sqlite = self.db.dialect == "sqlite"
                check = conn.exec_driver_sql("PRAGMA quick_check").scalar_one() if sqlite else "ok"
            database.update(
                reachable=True,
                revision=self.db.current_revision(),
                migrated_on_open=revision != HEAD_REVISION,
                integrity=check,
                latency_seconds=round(time.perf_counter() - started, 6),
            )
            database["at_head"] = database["revision"] == HEAD_REVISION
            components["database"] = "ok" if check == "ok" else f"integrity: {check}"
            if check != "ok":
                status = "failing"
            self.db.probe_write()
            database["writable"] = True
        except StoreBusy as exc:  # it works; writes wait for another writer
            database.update(writable=False, error=str(exc), error_kind=exc.kind)
            components["database"] = "busy: another writer holds the lock"
            if status == "ok":
                status = "degraded"
        except TaskorchError as exc:
            database.setdefault("reachable", False)
            database.update(writable=False, error=str(exc), error_kind=exc.kind)
            components["database"] = "unreachable" if type(exc) is StoreUnavailable else exc.kind.replace("_", " ")
            status = "failing"
        disk: dict[str, Any] = {}
        db_path = self.db.file_path
        if db_path is not None:
            try:
                usage = shutil.disk_usage(db_path.parent)
            except OSError as exc:
                disk = {"path": "database directory", "error": exc.strerror or type(exc).__name__}
                status = "failing"
            else:
                disk = {"path": "database directory", "free_bytes": usage.free, "total_bytes": usage.total}
                if usage.free < LOW_DISK_BYTES and status == "ok":
                    status = "degraded"
        elif self.db.dialect == "sqlite":
            disk = {"path": None, "detail": "an in-memory database"}
        else:
            disk = {"path": None, "detail": "the database is a server; its disk is not visible from here"}
        keeper = self.runtime.housekeeper
        components["housekeeper"] = keeper.state if keeper else "not started (one-shot process)"
        if keeper is not None and keeper.state.startswith("failed") and status == "ok":
            status = "degraded"
        git = self._git_health()
        if git is not None:
            components["git"] = git
        components["roles"] = f"{len(self._roles)} project librar{'y' if len(self._roles) == 1 else 'ies'} cached"
        from taskorch import __version__  # read from the installed metadata: tens of milliseconds

        return HealthResult(
            status=status,
            version=__version__,
            uptime_seconds=round(self.runtime.uptime_seconds, 3),
            database=database,
            disk=disk,
            components=components,
        )

    def _git_health(self) -> str | None:
        """Connected repositories and the rate budget each has left, or None without any."""
        try:
            with self.db.transaction(write=False) as conn:
                if not self._capturing(conn):
                    return None
                from taskorch.store.tables import git_integration_config, sync_state

                rows = list(
                    conn.execute(
                        select(git_integration_config.c.repository_url, sync_state.c.rate_limit).outerjoin(
                            sync_state, sync_state.c.session_id == git_integration_config.c.session_id
                        )
                    )
                )
        except TaskorchError:
            return None
        parts = []
        for repository, rate in rows:
            remaining = (rate or {}).get("remaining")
            parts.append(f"{repository} (rate limit remaining: {remaining if remaining is not None else 'unknown'})")
        return "connected: " + ", ".join(parts)

    def shutdown_prepare(self) -> ShutdownResult:
        """Checkpoint the database and say whether the process can stop now."""
        try:
            checkpoint = self.checkpoint("TRUNCATE")
        except TaskorchError as exc:  # report, do not fail: the answer is "not ready"
            checkpoint = f"failed: {exc.kind}: {exc}"
        except Exception as exc:
            checkpoint = f"failed: {type(exc).__name__}"
        in_flight = max(self.runtime.in_flight - 1, 0)  # this call itself is in flight
        keeper = self.runtime.housekeeper
        background = {"housekeeper": keeper.state if keeper else "not started"}
        busy = background["housekeeper"] == "busy"
        ready = in_flight == 0 and not busy and not checkpoint.startswith("failed")
        detail = (
            "safe to stop now"
            if ready
            else (f"{in_flight} other call(s) in flight" if in_flight else "background work or checkpoint pending")
        )
        return ShutdownResult(
            ready=ready,
            in_flight_calls=in_flight,
            background_work=background,
            checkpoint=checkpoint,
            detail=detail,
        )

    @text_arguments(texts=("reason",))
    def restart_server(self, reason: str = "requested", create_new_database: bool = False) -> RestartResult:
        """Restart the components in process: reload settings, reopen the database, restart workers.

        The client's connection is untouched. The restart is recorded whether it succeeds or not,
        except when the database itself cannot take the record.

        A SQLite file replaced while the server ran is opened (``components.database`` says so).
        A file *deleted* while it ran is not silently recreated empty: the restart raises
        :class:`StoreReplaced` unless ``create_new_database`` is true, which starts an empty
        database at that path. Raises :class:`StoreUnavailable` (or a subclass) when the
        database cannot be reopened.
        """
        started_at = self.clock()
        started = time.perf_counter()
        components: dict[str, str] = {}
        error: TaskorchError | None = None
        keeper_was_running = self.runtime.housekeeper is not None
        try:
            if self.runtime.housekeeper is not None:
                self.runtime.housekeeper.stop()
                components["housekeeper"] = "stopped"
            new_settings = self._reload_settings()
            url_changed = new_settings.database_url != self.settings.database_url
            self.settings = new_settings
            components["settings"] = "reloaded"
            self.db.dispose()
            if url_changed:
                self.db = Database(new_settings.database_url)
            file_state = self.db.file_state()
            if file_state == "missing" and not create_new_database:
                raise StoreReplaced(
                    f"{self.db.location} was deleted while taskorch was running, and restart_server does not "
                    "create a new, empty database in its place (this restart is not recorded). Fix: restore "
                    "the file from a backup and call restart_server again, or call restart_server with "
                    "create_new_database=true (CLI: restart-server --create-new-database) to start over with "
                    "an empty database."
                )
            if file_state in ("missing", "replaced"):
                self.db.accept_current_file()
            self.db.mark_schema_unknown()
            self.db.ensure_schema()
            components["database"] = "reopened" + (" (new URL)" if url_changed else "")
            if file_state == "replaced":
                components["database"] += " (the file was replaced while running: opened the new file)"
            elif file_state == "missing":
                components["database"] += " (the file was deleted while running: created a new, empty database)"
            with self._roles_lock:
                self._roles.clear()
            self._git = None
            self._git_configured = None
            components["roles"] = "cache cleared"
            if keeper_was_running:
                self.runtime.housekeeper = Housekeeper(self._checkpoint_job, HOUSEKEEPING_INTERVAL_SECONDS)
                self.runtime.housekeeper.start()
                components["housekeeper"] = "restarted"
        except StoreReplaced:
            raise  # recording it would create the very database the restart refused to create
        except TaskorchError as exc:
            error = exc
        except Exception as exc:  # recorded, never leaked: the type names the failure
            error = StoreUnavailable(f"{type(exc).__name__} during restart")
        duration = time.perf_counter() - started
        record = {
            "reason": reason,
            "started_at": started_at,
            "duration_seconds": duration,
            "ok": error is None,
            "error": None if error is None else str(error),
            "components": components,
        }
        try:
            with self.db.transaction() as conn:
                record_id = conn.execute(
                    insert(server_restarts).values(**record).returning(server_restarts.c.id)
                ).scalar_one()
        except TaskorchError as exc:
            if error is None:
                raise _store_error(exc, f"the restart succeeded but could not be recorded: {exc}") from None
            raise _store_error(error, f"restart failed and could not be recorded: {error}") from None
        if error is not None:
            raise _store_error(error, f"restart {record_id} failed: {error}")
        return RestartResult(restart=RestartRecord.model_validate({"id": record_id, **record}))

    def reconnect_test(self) -> ReconnectResult:
        """Drop every database connection, reconnect, read and prove a write (rolled back), and
        time each step (seconds). ``ok`` is false, with the reason in ``detail``, when the store
        cannot be reached or written (read-only, full, file replaced)."""
        t0 = time.perf_counter()
        self.db.dispose()
        t1 = time.perf_counter()
        t2 = t1
        try:
            with self.db.transaction(write=False) as conn:
                t2 = time.perf_counter()
                conn.execute(select(func.count()).select_from(server_restarts)).scalar_one()
            self.db.probe_write()
            t3 = time.perf_counter()
        except TaskorchError as exc:
            return ReconnectResult(
                ok=False,
                disconnect_seconds=round(t1 - t0, 6),
                reconnect_seconds=round(t2 - t1, 6),
                first_query_seconds=0.0,
                detail=f"{exc.kind}: {exc}",
            )
        return ReconnectResult(
            ok=True,
            disconnect_seconds=round(t1 - t0, 6),
            reconnect_seconds=round(t2 - t1, 6),
            first_query_seconds=round(t3 - t2, 6),
            detail="connections dropped and re-established; a query and a write (rolled back) succeeded",
        )

    def restart_status(self, limit: int = 20) -> RestartStatusResult:
        with self.db.transaction(write=False) as conn:
            total = conn.execute(select(func.count()).select_from(server_restarts)).scalar_one()
            rows = conn.execute(select(server_restarts).order_by(desc(server_restarts.c.id)).limit(limit)).mappings()
            restarts = [RestartRecord.model_validate(dict(r)) for r in rows]
        return RestartStatusResult(
            restarts=restarts, total=int(total), uptime_seconds=round(self.runtime.uptime_seconds, 3)
        )


def _git_status_text(tier: str, status: dict[str, Any]) -> str:
    """:meth:`GitService.status` in words, one fact per line."""
    links = status["links"]
    linked = ", ".join(f"{n} {state}" for state, n in sorted(links.items())) if links else "none yet"
    budget = status["rate_limit"]
    if budget.get("remaining") is not None:
        rate = f"{budget['remaining']} request(s) left" + (f" of {budget['limit']}" if budget.get("limit") else "")
        if budget.get("reset_at"):
            rate += f", resets at {budget['reset_at']}"
    else:
        rate = "not known before the first sync"
    return "\n".join(
        [
            f"Connected to {status['repository']} ({tier} tier).",
            f"Issues linked: {linked}.",
            f"Changes waiting to be pushed: {status['outbox_pending']}.",
            f"Open conflicts: {status['open_conflicts']}.",
            f"Last pull: {status['last_pull_at'] or 'never'}.",
            f"Rate limit: {rate}.",
        ]
    )


def _store_error(error: TaskorchError, message: str) -> StoreUnavailable:
    """A restart's failure: the same store error with ``message``, or StoreUnavailable for others."""
    return type(error)(message) if isinstance(error, StoreUnavailable) else StoreUnavailable(message)
