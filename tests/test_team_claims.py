"""Claims, actors and projects keyed by their repository, through the services (an injectable
clock, no sleeping), and 20 clients racing for one ready queue on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from git_repo import git
from taskorch.cli.words import CLI_WORDS
from taskorch.config import Settings
from taskorch.domain.caller import Caller, acting_as
from taskorch.errors import ClaimedByOther, Conflict, InvalidInput
from taskorch.mcp.words import MCP_WORDS
from taskorch.services.app import Orchestrator
from taskorch.services.models import TaskFields
from taskorch.services.projects import normalise_remote

ALICE = Caller(actor="alice", scope="write", remote=True)
BOB = Caller(actor="bob", scope="write", remote=True)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def team(database_url: str, project: Path, clock: Clock) -> Iterator[tuple[Orchestrator, int]]:
    orchestrator = Orchestrator(Settings(database_url=database_url, claim_ttl=600), clock=clock)
    session = orchestrator.initialize_session(str(project))
    yield orchestrator, session.session_id
    orchestrator.close()


def _task(orchestrator: Orchestrator, sid: int, title: str = "Shared work") -> int:
    return orchestrator.plan_task(TaskFields(title=title), session_id=sid).task.id


def test_another_actor_is_refused_with_the_holder_and_the_lease_end(team: tuple[Orchestrator, int]) -> None:
    orchestrator, sid = team
    number = _task(orchestrator, sid)
    with acting_as(ALICE):
        orchestrator.execute_task(number, sid)
    with acting_as(BOB), pytest.raises(ClaimedByOther) as refused:
        orchestrator.execute_task(number, sid)
    assert isinstance(refused.value, Conflict)
    message = str(refused.value)
    assert "claimed by alice until 2026-12-01 09:10:00 UTC" in message
    assert "force=true" in message
    # Each face words the way out in its own terms.
    assert f"taskorch execute-task {number} --force" in refused.value.render(CLI_WORDS)
    assert f"orchestrator_execute_task with task_id={number}, force=true" in refused.value.render(MCP_WORDS)
    with acting_as(BOB), pytest.raises(ClaimedByOther, match="only they may complete task"):
        orchestrator.complete_task(number, "not mine", session_id=sid)
    # The holder executes again (renewing) and completes.
    with acting_as(ALICE):
        orchestrator.execute_task(number, sid)
        done = orchestrator.complete_task(number, "mine", session_id=sid)
    assert done.task.status.value == "completed"
    actors = [(e.tool, e.action, e.actor) for e in orchestrator.audit_trail(sid, number).entries]
    assert ("execute_task", "status", "alice") in actors
    assert ("complete_task", "status", "alice") in actors
    assert not any(actor == "bob" for _tool, _action, actor in actors)


def test_an_expired_lease_is_taken_over_and_the_takeover_audited(team: tuple[Orchestrator, int], clock: Clock) -> None:
    orchestrator, sid = team
    number = _task(orchestrator, sid)
    with acting_as(ALICE):
        orchestrator.execute_task(number, sid)
    clock.advance(599)
    with acting_as(ALICE):  # a later call on the task renews the lease
        orchestrator.update_task(number, {"description": "still on it"}, session_id=sid)
    clock.advance(599)
    with acting_as(BOB), pytest.raises(ClaimedByOther):
        orchestrator.execute_task(number, sid)
    clock.advance(2)
    with acting_as(BOB):
        orchestrator.execute_task(number, sid)
    status = orchestrator.get_status(sid)
    (held,) = [t for t in status.in_progress if t.id == number]
    assert held.claimed_by == "bob"
    assert held.claim_expires_at == clock.now + timedelta(seconds=600)
    takeover = [e for e in orchestrator.audit_trail(sid, number).entries if e.action == "claimed"]
    assert [(e.actor, e.changes["claimed_by"], "forced" in e.changes) for e in takeover] == [
        ("bob", ["alice", "bob"], False)
    ]


def test_force_takes_a_live_claim_over(team: tuple[Orchestrator, int]) -> None:
    orchestrator, sid = team
    number = _task(orchestrator, sid)
    with acting_as(ALICE):
        orchestrator.execute_task(number, sid)
    with acting_as(BOB):
        orchestrator.execute_task(number, sid, force=True)
        orchestrator.complete_task(number, "taken over", session_id=sid)
    (takeover,) = [e for e in orchestrator.audit_trail(sid, number).entries if e.action == "claimed"]
    assert takeover.actor == "bob"
    assert takeover.changes["forced"] is True


def test_a_refused_claim_changes_nothing(team: tuple[Orchestrator, int]) -> None:
    orchestrator, sid = team
    first = _task(orchestrator, sid, "First")
    second = orchestrator.plan_task(TaskFields(title="Second", depends_on=[first]), session_id=sid).task.id
    with acting_as(ALICE), pytest.raises(Conflict):
        orchestrator.execute_task(second, sid)  # dependencies unfinished: no claim either
    (task,) = orchestrator.query_tasks(sid, task_ids=[second]).tasks
    assert task.status.value == "pending"
    assert orchestrator.get_status(sid).ready[0].claimed_by is None


def test_each_caller_has_its_own_current_session(settings: Settings, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / ".git").mkdir(parents=True)
    (two / ".git").mkdir(parents=True)
    orchestrator = Orchestrator(settings)
    try:
        with acting_as(ALICE):
            orchestrator.initialize_session(str(one))
        with acting_as(BOB):
            orchestrator.initialize_session(str(two))
        with acting_as(ALICE):
            assert orchestrator.get_status().project_root == str(one.resolve())
        with acting_as(BOB):
            assert orchestrator.get_status().project_root == str(two.resolve())
        with (
            acting_as(Caller(actor="carol", remote=True)),
            pytest.raises(InvalidInput, match="passes the session_id it returned"),
        ):
            orchestrator.get_status()
    finally:
        orchestrator.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/Octo-Org/shop.git", "github.com/Octo-Org/shop"),
        ("git@GitHub.com:Octo-Org/shop.git", "github.com/Octo-Org/shop"),
        ("ssh://git@github.com:22/Octo-Org/shop", "github.com/Octo-Org/shop"),
        ("https://user:secret@github.com/Octo-Org/shop/", "github.com/Octo-Org/shop"),
        ("gitlab.example.com:group/sub/repo.git", "gitlab.example.com/group/sub/repo"),
        ("/srv/git/shop.git", "file:/srv/git/shop"),
        ("file:///srv/git/shop.git", "file:/srv/git/shop"),
    ],
)
def test_remote_urls_are_normalised(url: str, expected: str) -> None:
    assert normalise_remote(url) == expected


def test_two_clones_of_one_repository_are_one_project(settings: Settings, tmp_path: Path) -> None:
    clones = []
    for index, url in enumerate(("https://github.com/octo-org/shop.git", "git@github.com:octo-org/shop")):
        clone = tmp_path / f"clone{index}"
        clone.mkdir()
        git(clone, "init", "-q")
        git(clone, "remote", "add", "origin", url)
        clones.append(clone)
    lonely = tmp_path / "lonely"
    (lonely / ".git").mkdir(parents=True)
    orchestrator = Orchestrator(settings)
    try:
        first = orchestrator.initialize_session(str(clones[0]))
        second = orchestrator.initialize_session(str(clones[1] / "."))
        third = orchestrator.initialize_session(str(lonely))
        remote = orchestrator.initialize_session(
            "/elsewhere/on/a/laptop", repository="https://github.com/octo-org/shop"
        )
    finally:
        orchestrator.close()
    assert first.session_id == second.session_id == remote.session_id
    assert second.resumed is True
    assert first.project_key == "git:github.com/octo-org/shop"
    assert "origin remote" in (first.project_reason or "")
    assert third.session_id != first.session_id
    assert third.project_key == f"path:{lonely.resolve()}"
    assert "no origin remote" in (third.project_reason or "")
    assert "not on this server's machine" in (remote.project_reason or "")


def test_an_existing_session_moves_to_its_repository_key(settings: Settings, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    git(clone, "init", "-q")
    orchestrator = Orchestrator(settings)
    try:
        before = orchestrator.initialize_session(str(clone))
        git(clone, "remote", "add", "origin", "https://example.org/team/app.git")
        after = orchestrator.initialize_session(str(clone))
    finally:
        orchestrator.close()
    assert before.project_key == f"path:{clone.resolve()}"
    assert after.session_id == before.session_id
    assert after.project_key == "git:example.org/team/app"


@pytest.mark.usefixtures("admin")
def test_twenty_clients_racing_on_postgresql_never_execute_a_task_twice(schema: str, project: Path) -> None:
    from postgres_server import schema_url

    url = schema_url(schema).render_as_string(hide_password=False)
    orchestrator = Orchestrator(Settings(database_url=url))
    try:
        sid = orchestrator.initialize_session(str(project)).session_id
        for index in range(60):
            orchestrator.plan_task(TaskFields(title=f"Task {index}"), session_id=sid)
        executed: list[tuple[int, str]] = []
        refused = Counter[str]()
        lock = threading.Lock()
        errors: list[BaseException] = []
        start = threading.Barrier(20)

        def client(actor: str) -> None:
            try:
                with acting_as(Caller(actor=actor, scope="write", remote=True)):
                    start.wait()
                    while True:
                        ready = orchestrator.get_status(sid).ready
                        if not ready:
                            return
                        for brief in ready:
                            try:
                                orchestrator.execute_task(brief.id, sid)
                            except Conflict:  # claimed by another client meanwhile
                                with lock:
                                    refused[actor] += 1
                                continue
                            with lock:
                                executed.append((brief.id, actor))
                            orchestrator.complete_task(brief.id, f"done by {actor}", session_id=sid)
                            break
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(f"client-{i}",)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
        numbers = [number for number, _actor in executed]
        assert sorted(numbers) == list(range(1, 61)), Counter(numbers).most_common(3)
        status = orchestrator.get_status(sid)
        assert status.counts["completed"] == 60
        executions = [
            e
            for e in orchestrator.audit_trail(sid, limit=1000).entries
            if (e.tool, e.action) == ("execute_task", "status")
        ]
        assert len(executions) == 60
        by_task = {e.task_id: e.actor for e in executions}
        assert by_task == dict(executed)
    finally:
        orchestrator.close()


def test_token_commands_print_a_token_once_and_store_only_its_hash(database_url: str) -> None:
    import json as json_module

    from sqlalchemy import create_engine, text
    from typer.testing import CliRunner

    from taskorch.cli.app import app

    runner = CliRunner(env={"TASKORCH_DATABASE_URL": database_url})
    created = runner.invoke(app, ["token", "create", "alice", "--scope", "read", "--json"])
    assert created.exit_code == 0, created.output
    token = json_module.loads(created.output)["token"]
    assert token.startswith("tko_") and len(token) > 40
    again = runner.invoke(app, ["token", "create", "alice"])
    assert again.exit_code == 4 and "exists already" in again.output
    bad = runner.invoke(app, ["token", "create", "local"])
    assert bad.exit_code == 2
    listed = runner.invoke(app, ["token", "list"])
    assert listed.exit_code == 0 and "alice" in listed.output and token not in listed.output
    revoked = runner.invoke(app, ["token", "revoke", "alice"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert runner.invoke(app, ["token", "revoke", "nobody"]).exit_code == 3
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = [tuple(r) for r in conn.execute(text("SELECT name, token_hash, revoked_at FROM api_tokens"))]
    finally:
        engine.dispose()
    ((name, digest, revoked_at),) = stored
    assert name == "alice" and token not in digest and len(digest) == 64 and revoked_at is not None


def test_briefs_leave_out_the_local_actors_own_claim_but_keep_it_for_a_team(
    team: tuple[Orchestrator, int], clock: Clock
) -> None:
    orchestrator, sid = team
    mine = _task(orchestrator, sid, "Mine")
    theirs = _task(orchestrator, sid, "Theirs")
    orchestrator.execute_task(mine, sid)  # the local actor: one person working alone
    with acting_as(ALICE):
        orchestrator.execute_task(theirs, sid)
    local = {t.id: t for t in orchestrator.get_status(sid).in_progress}
    assert (local[mine].claimed_by, local[mine].claim_expires_at) == (None, None)
    assert "claimed_by" not in local[mine].model_dump(exclude_defaults=True)
    assert local[theirs].claimed_by == "alice"
    assert local[theirs].claim_expires_at == clock.now + timedelta(seconds=600)
    with acting_as(BOB):  # a team member sees every claim, the local actor's too
        remote = {t.id: t for t in orchestrator.get_status(sid).in_progress}
    assert remote[mine].claimed_by == "local"
    assert remote[mine].claim_expires_at == clock.now + timedelta(seconds=600)
    assert remote[theirs].claimed_by == "alice"
