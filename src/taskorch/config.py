"""Settings, read from the environment (``TASKORCH_*``).

=============================  ==========================================================
variable                       meaning
=============================  ==========================================================
TASKORCH_DATABASE_URL          SQLAlchemy URL; default: a SQLite file in the user data dir
TASKORCH_TOOLSETS              comma-separated toolsets to expose over MCP (default: all):
                               core, maintenance, lifecycle
TASKORCH_STALE_AFTER_HOURS     an in_progress task untouched this long is stale (default 24)
TASKORCH_LOG_LEVEL             stderr log level of ``taskorch serve`` (default WARNING)
=============================  ==========================================================

A project can add or override specialist roles in ``<project root>/.taskorch/roles/*.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from taskorch.errors import InvalidInput

__all__ = ["TOOLSETS", "Settings", "default_database_url"]

#: Which tools each toolset holds (names without the ``orchestrator_`` prefix).
TOOLSETS: dict[str, tuple[str, ...]] = {
    "core": (
        "initialize_session",
        "get_status",
        "plan_task",
        "execute_task",
        "complete_task",
        "query_tasks",
        "update_task",
        "cancel_task",
        "delete_task",
        "synthesize_results",
    ),
    "maintenance": ("maintenance_coordinator", "health_check"),
    "lifecycle": ("restart_server", "shutdown_prepare", "reconnect_test", "restart_status"),
}


def default_database_url() -> str:
    """``sqlite:///<user data dir>/taskorch.db`` (platformdirs decides the directory per OS)."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('taskorch', appauthor=False) / 'taskorch.db'}"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults. Build one with :meth:`from_env`."""

    database_url: str
    toolsets: tuple[str, ...] = tuple(TOOLSETS)
    stale_after_hours: float = 24.0
    log_level: str = "WARNING"
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``TASKORCH_*`` variables; raises :class:`InvalidInput` naming a bad variable."""
        env = os.environ if environ is None else environ
        url = env.get("TASKORCH_DATABASE_URL", "").strip() or default_database_url()
        raw_toolsets = env.get("TASKORCH_TOOLSETS", "").strip()
        toolsets = tuple(TOOLSETS) if raw_toolsets in ("", "all") else _parse_toolsets(raw_toolsets)
        stale = env.get("TASKORCH_STALE_AFTER_HOURS", "").strip()
        try:
            stale_hours = float(stale) if stale else 24.0
        except ValueError:
            raise InvalidInput(
                "TASKORCH_STALE_AFTER_HOURS", f"{stale!r} is not a number.", "set it to hours, e.g. 24."
            ) from None
        if stale_hours <= 0:
            raise InvalidInput("TASKORCH_STALE_AFTER_HOURS", "must be positive.", "set it to hours, e.g. 24.")
        level = env.get("TASKORCH_LOG_LEVEL", "WARNING").strip().upper() or "WARNING"
        return cls(database_url=url, toolsets=toolsets, stale_after_hours=stale_hours, log_level=level)

    def tool_names(self) -> list[str]:
        """The tool names (without prefix) the enabled toolsets expose, in a stable order."""
        return [name for toolset in self.toolsets for name in TOOLSETS[toolset]]


def _parse_toolsets(raw: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    unknown = [n for n in names if n not in TOOLSETS]
    if unknown:
        raise InvalidInput(
            "TASKORCH_TOOLSETS",
            f"unknown toolset(s): {', '.join(unknown)}.",
            f"use 'all' or a comma-separated list of: {', '.join(TOOLSETS)}.",
        )
    return names


def project_roles_dir(project_root: str | Path) -> Path:
    """Where a project keeps its own specialist roles."""
    return Path(project_root) / ".taskorch" / "roles"
