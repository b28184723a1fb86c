"""Shared fixtures: a project directory (a Git root), settings on a temporary SQLite database,
and an :class:`Orchestrator` over them, closed after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskorch.config import Settings
from taskorch.services.app import Orchestrator

pytest_plugins = ["fakes.fixtures", "postgres_server"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project: a directory with a ``.git`` marker, as ``git init`` leaves it."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    return root


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'taskorch.db'}"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's TASKORCH_* settings or writes the default database."""
    for name in ("TASKORCH_DATABASE_URL", "TASKORCH_TOOLSETS", "TASKORCH_STALE_AFTER_HOURS", "TASKORCH_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASKORCH_DATABASE_URL", f"sqlite:///{tmp_path / 'env-default.db'}")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def orch(settings: Settings, project: Path) -> Iterator[Orchestrator]:
    """An orchestrator with a session initialized for ``project``."""
    orchestrator = Orchestrator(settings)
    orchestrator.initialize_session(str(project))
    yield orchestrator
    orchestrator.close()
