"""Sprints on the project's board and worklogs of time spent, over the connection's platform.

Sprints live on the platform, never in taskorch's database: the connection keeps only its board
number (``git_integration_config.board_number``), and every action reads the board's sprints
afresh, so a sprint someone started or closed in Jira is seen as it is. A platform without
``iterations`` (:class:`~taskorch.platforms.base.Capabilities`; GitHub and GitLab in taskorch)
is refused in plain words before any request. Jira Software's rules hold: sprints belong to a
scrum board, a board has one active sprint at a time, starting one needs its dates, and closing
it sends its unfinished issues back to the backlog
(https://developer.atlassian.com/cloud/jira/software/rest/api-group-sprint/).

A worklog is an outbox entry (operation ``worklog``) pushed at once: a failure leaves it pending,
retried by the next sync, so time logged is never lost; the platform must have
``time_tracking`` (Jira: ``POST /issue/{key}/worklog``; GitLab: ``add_spent_time``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol, cast, runtime_checkable

from taskorch.errors import Conflict, InvalidInput, PlatformRejected
from taskorch.hints import REQUIRED, Hint
from taskorch.platforms.base import BoardRef, lacks
from taskorch.services.models import BoardResult
from taskorch.store import sync_repository as sync_store
from taskorch.sync.core import enqueue
from taskorch.sync.engine import SyncEngine

__all__ = ["SprintPlatform", "SprintService", "parse_time_spent", "sprint_view"]

#: The longest worklog taskorch accepts in one call, in seconds (a working week's worth, 5 x 24h).
MAX_WORKLOG_SECONDS = 5 * 24 * 3600
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hm])")


@runtime_checkable
class SprintPlatform(Protocol):
    """What an adapter with ``iterations`` offers beyond :class:`~taskorch.platforms.base.Platform`
    (Jira: :class:`~taskorch.platforms.jira.JiraPlatform`). Sprints are objects with ``id``,
    ``name``, ``state`` (``future``, ``active``, ``closed``), ``start``, ``end`` and ``goal``."""

    def create_board(self, title: str, *, board_type: Literal["kanban", "scrum"] = "kanban") -> BoardRef: ...

    def list_sprints(self, board_number: int, *, states: Sequence[str] = ("active", "future")) -> Sequence[Any]: ...

    def create_sprint(
        self,
        board_number: int,
        name: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        goal: str | None = None,
    ) -> Any: ...

    def start_sprint(self, sprint_id: int, *, start: datetime | None = None, end: datetime | None = None) -> Any: ...

    def close_sprint(self, sprint_id: int) -> Any: ...

    def add_to_sprint(self, sprint_id: int, numbers: Sequence[int]) -> None: ...


def parse_time_spent(text: str) -> int:
    """``"1h30m"``, ``"2h"``, ``"45m"``, ``"1.5h"`` or ``"90"`` (minutes) -> seconds, at least one
    minute (Jira's smallest unit) and at most :data:`MAX_WORKLOG_SECONDS`; else
    :class:`InvalidInput` naming ``time_spent``."""
    raw = text.strip().lower()
    seconds: float | None = None
    if raw.isdigit():
        seconds = int(raw) * 60
    elif raw and _DURATION.sub("", raw).strip() == "":
        seconds = sum(float(n) * (3600 if unit == "h" else 60) for n, unit in _DURATION.findall(raw))
    if seconds is None or not 60 <= seconds <= MAX_WORKLOG_SECONDS:
        raise InvalidInput(
            "time_spent",
            f"{text[:40]!r} is not a time spent between 1m and 120h.",
            "write hours and minutes, e.g. '1h30m', '45m' or '2h'.",
        )
    return int(seconds)


def sprint_view(sprint: Any) -> dict[str, Any]:
    """A sprint as a tool shows it: id, name, state, start, end (ISO 8601 or ``None``), goal."""
    return {
        "id": sprint.id,
        "name": sprint.name,
        "state": sprint.state,
        "start": sprint.start.isoformat() if sprint.start else None,
        "end": sprint.end.isoformat() if sprint.end else None,
        "goal": sprint.goal,
    }


def _moment(day: date | None) -> datetime | None:
    """A sprint's date as 12:00 UTC that day: it reads as the same day in every time zone from
    UTC-11 to UTC+11, whatever zone the Jira account shows times in."""
    return None if day is None else datetime.combine(day, time(12, 0), UTC)


class SprintService:
    """Sprint actions of ``project_board_manager`` and worklogs, over a
    :class:`~taskorch.services.git.GitService`."""

    def __init__(self, git: Any) -> None:
        self.git = git

    # -- sprints ------------------------------------------------------------------------------

    def _sprints(self, session_id: int) -> tuple[SyncEngine, SprintPlatform, int]:
        """The engine, its adapter as a :class:`SprintPlatform` and the board number; refuses a
        platform without iterations and a connection without a board."""
        engine, config = self.git._board_engine(session_id)
        missing = lacks(engine.platform, "iterations")
        if missing is None and not isinstance(engine.platform, SprintPlatform):
            missing = f"{engine.platform.name} has no sprints in taskorch"
        if missing is not None:
            engine.platform.close()
            raise Conflict(
                f"{missing}; sprints need a Jira Software board: "
                "connect the project's Jira project to plan sprints, or group work by milestone."
            )
        if not config["board_number"]:
            engine.platform.close()
            raise Conflict(
                (
                    "no board yet: create a scrum board first with ",
                    Hint(
                        "project_board_manager",
                        {"action": "create_board", "board_type": "sprint_board", "title": REQUIRED},
                    ),
                    ".",
                )
            )
        return engine, cast(SprintPlatform, engine.platform), int(config["board_number"])

    @staticmethod
    def _list(engine: SyncEngine, platform: SprintPlatform, board: int) -> list[Any]:
        try:
            return list(
                engine.call(
                    "list_sprints", lambda: platform.list_sprints(board, states=("active", "future")), mutation=False
                )
            )
        except PlatformRejected as exc:
            if exc.status in (400, 404):
                raise Conflict(
                    (
                        f"board #{board} has no sprints ({exc}); a kanban board has none. Create a scrum board with ",
                        Hint(
                            "project_board_manager",
                            {"action": "create_board", "board_type": "sprint_board", "title": REQUIRED},
                        ),
                        ".",
                    )
                ) from None
            raise

    @staticmethod
    def _chosen(sprints: Sequence[Any], sprint_id: int | None, board: int) -> Any:
        if sprint_id is None:
            return None
        found = next((s for s in sprints if s.id == sprint_id), None)
        if found is None:
            known = ", ".join(f"{s.id} ({s.name}, {s.state})" for s in sprints) or "none"
            raise InvalidInput(
                "sprint_id", f"{sprint_id} is no open sprint of board #{board}.", f"its open sprints: {known}."
            )
        return found

    def create_sprint(
        self, session_id: int, name: str, start: date | None, end: date | None, goal: str | None
    ) -> BoardResult:
        """A future sprint on the board, or the open one of that name already there (a rerun
        after a lost answer does not make a second)."""
        if start and end and end < start:
            raise InvalidInput("end_date", "is before start_date.", "end the sprint on or after its first day.")
        engine, platform, board = self._sprints(session_id)
        try:
            existing = next((s for s in self._list(engine, platform, board) if s.name == name), None)
            if existing is not None:
                return self._result(
                    "create_sprint", board, existing, f"sprint '{name}' exists already ({existing.state})"
                )
            sprint = engine.call(
                "create_sprint",
                lambda: platform.create_sprint(board, name, start=_moment(start), end=_moment(end), goal=goal or None),
                mutation=True,
            )
        finally:
            engine.platform.close()
        return self._result("create_sprint", board, sprint, f"sprint '{name}' created on board #{board} (future)")

    def add_to_sprint(self, session_id: int, task_ids: Sequence[int], sprint_id: int | None) -> BoardResult:
        """Put the tasks' issues in the sprint ``sprint_id``, else the active one, else the first
        future one."""
        numbers = self._issue_numbers(session_id, task_ids)
        engine, platform, board = self._sprints(session_id)
        try:
            sprints = self._list(engine, platform, board)
            sprint = self._chosen(sprints, sprint_id, board) or next(
                (s for s in sprints if s.state == "active"), next(iter(sprints), None)
            )
            if sprint is None:
                raise Conflict(
                    (
                        f"board #{board} has no open sprint; create one with ",
                        Hint("project_board_manager", {"action": "create_sprint", "title": REQUIRED}),
                        ".",
                    )
                )
            issues = list(dict.fromkeys(n for _, n in numbers))
            engine.call("add_to_sprint", lambda: platform.add_to_sprint(sprint.id, issues), mutation=True)
        finally:
            engine.platform.close()
        moved = [{"task_id": task, "issue_number": n, "sprint_id": sprint.id} for task, n in numbers]
        return self._result(
            "add_to_sprint", board, sprint, f"{len(moved)} issue(s) in sprint '{sprint.name}'", moved=moved
        )

    def start_sprint(self, session_id: int, sprint_id: int | None, start: date | None, end: date | None) -> BoardResult:
        """Start ``sprint_id`` (else the first future sprint): one active sprint per board, so an
        active other one is a :class:`Conflict`; ``start`` defaults to now, ``end`` to two weeks
        later (or the dates the sprint was created with)."""
        engine, platform, board = self._sprints(session_id)
        try:
            sprints = self._list(engine, platform, board)
            active = next((s for s in sprints if s.state == "active"), None)
            sprint = self._chosen(sprints, sprint_id, board) or active or next(iter(sprints), None)
            if sprint is None:
                raise Conflict(
                    (
                        f"board #{board} has no sprint to start; create one with ",
                        Hint("project_board_manager", {"action": "create_sprint", "title": REQUIRED}),
                        ".",
                    )
                )
            if sprint.state == "active":
                return self._result("start_sprint", board, sprint, f"sprint '{sprint.name}' is active already")
            if active is not None:
                raise Conflict(
                    (
                        f"sprint '{active.name}' ({active.id}) is active on board #{board}, and Jira runs one at a "
                        "time: close it first with ",
                        Hint("project_board_manager", {"action": "close_sprint", "sprint_id": active.id}),
                        ".",
                    )
                )
            begin = _moment(start) or sprint.start
            finish = _moment(end) or (sprint.end if begin is None or (sprint.end and sprint.end > begin) else None)
            started = engine.call(
                "start_sprint", lambda: platform.start_sprint(sprint.id, start=begin, end=finish), mutation=True
            )
        finally:
            engine.platform.close()
        return self._result("start_sprint", board, started, f"sprint '{started.name}' started")

    def close_sprint(self, session_id: int, sprint_id: int | None) -> BoardResult:
        """Close ``sprint_id``, else the active sprint; Jira sends its unfinished issues back to
        the backlog."""
        engine, platform, board = self._sprints(session_id)
        try:
            sprints = self._list(engine, platform, board)
            sprint = self._chosen(sprints, sprint_id, board) or next((s for s in sprints if s.state == "active"), None)
            if sprint is None or sprint.state != "active":
                raise Conflict(
                    f"board #{board} has no active sprint{'' if sprint is None else ' ' + repr(sprint.name)} to close; "
                    "only an active sprint can be closed."
                )
            closed = engine.call("close_sprint", lambda: platform.close_sprint(sprint.id), mutation=True)
        finally:
            engine.platform.close()
        return self._result(
            "close_sprint", board, closed, f"sprint '{closed.name}' closed; its unfinished issues went to the backlog"
        )

    def _issue_numbers(self, session_id: int, task_ids: Sequence[int]) -> list[tuple[int, int]]:
        """(task number, issue number) of each task; a task without an issue is a :class:`Conflict`.
        A subtask whose parent has an issue is its parent's issue: in Jira a sub-task moves with
        its parent into and out of sprints and cannot be moved on its own."""
        if not task_ids:
            raise InvalidInput("feature_id", "is missing.", "pass the id of the task whose issue to add.")
        out: list[tuple[int, int]] = []
        with self.git.db.transaction(write=False) as conn:
            for task_id in task_ids:
                task = self.git._task_in_session(conn, session_id, task_id)
                link = sync_store.link_of(conn, task_id)
                if link is None or link["issue_number"] is None:
                    raise Conflict(
                        (
                            f"task {task['number']} has no issue yet; create it with ",
                            Hint("git_integration", {"action": "create_issue", "task_id": task["number"]}),
                            ".",
                        )
                    )
                number = int(link["issue_number"])
                parent = sync_store.link_of(conn, task["parent_id"]) if task["parent_id"] is not None else None
                if parent is not None and parent["issue_number"] is not None:
                    number = int(parent["issue_number"])
                out.append((int(task["number"]), number))
        return out

    @staticmethod
    def _result(
        action: str, board: int, sprint: Any, detail: str, *, moved: list[dict[str, Any]] | None = None
    ) -> BoardResult:
        return BoardResult(
            action=action, board={"number": board}, sprint=sprint_view(sprint), moved=moved or [], detail=detail
        )

    # -- worklogs -----------------------------------------------------------------------------

    def log_work(self, session_id: int, task_id: int, seconds: int, comment: str | None) -> BoardResult:
        """Log ``seconds`` of work on the task's issue: an outbox entry, pushed now; when the push
        fails it stays pending and the next sync retries it."""
        engine = self.git.engine(session_id)
        try:
            missing = lacks(engine.platform, "time_tracking")
        finally:
            engine.platform.close()
        if missing is not None:
            raise Conflict(f"{missing}; note the time in a comment or the task's artifacts instead.")
        at = self.git.clock()
        with self.git.db.transaction() as conn:
            task = self.git._task_in_session(conn, session_id, task_id)
            if sync_store.link_of(conn, task_id) is None:
                raise Conflict(
                    (
                        f"task {task['number']} has no issue to log work on; create it with ",
                        Hint("git_integration", {"action": "create_issue", "task_id": task["number"]}),
                        ".",
                    )
                )
            # Jira's "started" is when the work began: the time spent, back from now.
            began = at - timedelta(seconds=seconds)
            payload = {"seconds": seconds, "comment": comment or None, "started": began.isoformat()}
            enqueue(conn, session_id, task_id, "worklog", payload, at)
        result = self.git.push_tasks(session_id, [task_id])
        failed = [f.error for f in result.failed if f.operation == "worklog"]
        with self.git.db.transaction(write=False) as conn:
            waiting = [p for p in sync_store.pending_payloads(conn, task_id, "worklog") if p == payload]
        minutes = f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if waiting:
            why = "; ".join(failed) or "not pushed yet"
            detail = f"{minutes} for task {task['number']} is pending ({why}); the next sync retries it"
        elif failed:
            detail = f"{minutes} for task {task['number']} was refused: {'; '.join(failed)}"
        else:
            detail = f"{minutes} logged on task {task['number']}'s issue"
        return BoardResult(
            action="log_work",
            moved=[{"task_id": task["number"], "seconds": seconds, "pending": bool(waiting)}],
            detail=detail,
        )
