"""Background sync: rounds that pull and drain the outbox, the wake-up after a local change, and
two workers on one database where one dies mid-drain (SQLite and PostgreSQL) losing and
duplicating nothing."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from standins.github import FakeGitHub
from taskorch.config import Settings
from taskorch.platforms.github import GitHubPlatform
from taskorch.services.app import Orchestrator
from taskorch.services.background import BackgroundSync
from taskorch.services.models import SubtaskSpec, TaskFields
from taskorch.store.coordination import claim_outbox_tasks, repository_lock
from taskorch.store.tables import sync_outbox, tasks
from taskorch.sync.template import find_marker

TOKEN = "ghp_SECRETtoken0123456789abcdefSECRET"


class Killed(BaseException):
    """The worker's process is gone: nothing after this point of it runs."""


class KillableTransport(httpx.BaseTransport):
    """The fake GitHub, until the ``kill_at``-th issue creation: that one is applied, then the
    worker hangs (killed before reading the answer) until the test lets it die."""

    def __init__(self, inner: httpx.BaseTransport, kill_at: int) -> None:
        self.inner = inner
        self.kill_at = kill_at
        self.creations = 0
        self.hanging = threading.Event()
        self.dead = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.dead.is_set():
            raise Killed
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/issues"):
            self.creations += 1
            if self.creations == self.kill_at:
                self.hanging.set()
                self.dead.wait()
                raise Killed
        return response


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    from postgres_server import schema_url

    schema = request.getfixturevalue("schema")
    return schema_url(schema).render_as_string(hide_password=False)


@pytest.fixture
def make(
    fake_github: FakeGitHub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Orchestrator]]:
    monkeypatch.setenv("GH_TEST_TOKEN", TOKEN)
    made: list[Orchestrator] = []

    def build(url: str, transport: httpx.BaseTransport | None = None, *, connect: bool = True) -> Orchestrator:
        def factory(config: Any) -> GitHubPlatform:
            from taskorch.sync.secrets import resolve_token

            return GitHubPlatform.connect(
                resolve_token(config["api_token_name"]),
                config["repository_url"],
                base_url="https://api.github.com",
                transport=transport or fake_github.transport(),
            )

        settings = Settings(database_url=url, git_integration="basic", mutation_spacing=0.0)
        orch = Orchestrator(settings, platform_factory=factory, sleep=lambda _s: None)
        orch.initialize_session(str(project))
        if connect:
            orch.git_connect("octo-org/shop", api_token_name="GH_TEST_TOKEN", auto_sync_enabled=True)
        made.append(orch)
        return orch

    yield build
    for orch in made:
        orch.close()


def plan(orch: Orchestrator, subtasks: int) -> None:
    orch.plan_task(
        TaskFields(title="Ship the importer", description="CSV in, tasks out."),
        [SubtaskSpec(key=f"s{i}", title=f"Step {i}") for i in range(subtasks)],
    )


def one_issue_per_task(orch: Orchestrator, fake: FakeGitHub) -> None:
    """Every task has exactly one issue carrying its marker, and its link names that issue."""
    from taskorch.store.tables import feature_issue_links

    with orch.db.transaction(write=False) as conn:
        links = conn.execute(
            select(
                feature_issue_links.c.task_id, feature_issue_links.c.idempotency_key, feature_issue_links.c.issue_number
            )
        ).all()
        task_count = conn.execute(select(func.count()).select_from(tasks)).scalar_one()
    assert len(links) == task_count
    for task_id, key, number in links:
        carrying = [n for n, issue in fake.issues.items() if find_marker(issue.get("body")) == key]
        assert carrying == [number], f"task {task_id}: link says #{number}, marker on {carrying}"


def outbox_counts(orch: Orchestrator) -> dict[str, int]:
    with orch.db.transaction(write=False) as conn:
        rows = conn.execute(select(sync_outbox.c.status, func.count()).group_by(sync_outbox.c.status)).all()
    return {str(status): int(count) for status, count in rows}


def test_a_round_pulls_and_drains_the_outbox(
    make: Callable[..., Orchestrator], fake_github: FakeGitHub, tmp_path: Path
) -> None:
    orch = make(f"sqlite:///{tmp_path / 'round.db'}")
    plan(orch, 2)
    worker = BackgroundSync(orch, interval=0)
    report = worker.run_once()
    assert report.pulled == ["octo-org/shop"], report
    assert len(set(report.pushed)) == 3, report
    one_issue_per_task(orch, fake_github)
    assert outbox_counts(orch) == {"done": outbox_counts(orch)["done"]}
    fake_github.edit_issue(1, title="Ship the CSV importer")
    assert worker.run_once().pushed == []
    assert orch.get_task(1).title == "Ship the CSV importer"


def test_a_project_without_auto_sync_is_left_alone(make: Callable[..., Orchestrator], tmp_path: Path) -> None:
    orch = make(f"sqlite:///{tmp_path / 'manual.db'}", connect=False)
    orch.git_connect("octo-org/shop", api_token_name="GH_TEST_TOKEN", auto_sync_enabled=False)
    report = BackgroundSync(orch, interval=0).run_once()
    assert report.pulled == [] and report.pushed == []


def test_a_local_change_wakes_the_worker(
    make: Callable[..., Orchestrator], fake_github: FakeGitHub, tmp_path: Path
) -> None:
    orch = make(f"sqlite:///{tmp_path / 'wake.db'}")
    worker = BackgroundSync(orch, interval=3600)  # only a wake-up can bring the next round
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while worker.rounds < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.rounds >= 1
        plan(orch, 1)  # captures two creations: wakes the worker
        while len(fake_github.issues) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(fake_github.issues) == 2
    finally:
        worker.stop()
    one_issue_per_task(orch, fake_github)


def test_one_puller_per_repository(make: Callable[..., Orchestrator], shared_url: str) -> None:
    orch = make(shared_url)
    name = BackgroundSync.lock_name("github", "octo-org/shop")
    now = datetime.now(UTC)
    with repository_lock(orch.db, name, "a", now=now, ttl=60) as first:
        assert first
        with repository_lock(orch.db, name, "b", now=now, ttl=60) as second:
            assert not second
        report = BackgroundSync(orch, holder="b", interval=0).run_once()
        assert report.skipped_pull == ["octo-org/shop"] and report.pulled == []
    with repository_lock(orch.db, name, "b", now=now, ttl=60) as again:
        assert again


def test_claims_exclude_tasks_another_worker_holds_until_they_expire(
    make: Callable[..., Orchestrator], shared_url: str
) -> None:
    orch = make(shared_url)
    plan(orch, 3)
    now = datetime.now(UTC)
    session_id = orch.current_session_id
    assert session_id is not None
    with orch.db.transaction() as conn:
        first = claim_outbox_tasks(conn, session_id, "a", now=now, ttl=60, limit=2)
    with orch.db.transaction() as conn:
        second = claim_outbox_tasks(conn, session_id, "b", now=now, ttl=60, limit=10)
    assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
    with orch.db.transaction() as conn:
        assert claim_outbox_tasks(conn, session_id, "c", now=now, ttl=60) == []
    later = now + timedelta(seconds=61)
    with orch.db.transaction() as conn:
        assert sorted(claim_outbox_tasks(conn, session_id, "c", now=later, ttl=60)) == sorted(first + second)


@pytest.mark.parametrize("kill_at", [1, 3])
def test_killing_one_of_two_workers_mid_drain_loses_and_duplicates_nothing(
    make: Callable[..., Orchestrator], fake_github: FakeGitHub, shared_url: str, kill_at: int
) -> None:
    dying_transport = KillableTransport(fake_github.transport(), kill_at=kill_at)
    survivor = make(shared_url)
    dying = make(shared_url, dying_transport, connect=False)
    plan(survivor, 7)  # 8 tasks: 8 creations and 7 sub-issue links
    start = datetime.now(UTC)
    clock = {"now": start}
    a = BackgroundSync(dying, holder="server-a", interval=0, batch=4, claim_ttl=120)
    b = BackgroundSync(survivor, holder="server-b", interval=0, batch=4, claim_ttl=120, clock=lambda: clock["now"])

    def run_a() -> None:
        with contextlib.suppress(Killed):
            a.run_once()

    thread = threading.Thread(target=run_a, daemon=True)
    thread.start()
    try:
        assert dying_transport.hanging.wait(60), "server A never reached its fatal creation"
        created_before_b = len(fake_github.issues)
        assert created_before_b == kill_at  # killed mid-drain, after the creation was applied
        b.run_once()  # takes what A has not claimed; A's tasks wait for its claims to expire
        with survivor.db.transaction(write=False) as conn:
            held = conn.execute(
                select(func.count()).where(sync_outbox.c.status == "pending", sync_outbox.c.claimed_by == "server-a")
            ).scalar_one()
        assert held > 0
        clock["now"] = start + timedelta(seconds=121)
        b.run_once()
        b.run_once()  # sub-issue links that waited for their parent's adoption
    finally:
        dying_transport.dead.set()
        thread.join(30)
    one_issue_per_task(survivor, fake_github)
    assert len(fake_github.issues) == 8
    counts = outbox_counts(survivor)
    assert counts.get("pending", 0) == 0 and counts.get("failed", 0) == 0, counts
