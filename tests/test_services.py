"""The services through the Orchestrator, on a temporary SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from taskorch.config import Settings
from taskorch.errors import (
    Conflict,
    DependenciesUnfinished,
    DependencyCycle,
    InvalidInput,
    InvalidTransition,
    NotFound,
    VersionMismatch,
)
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields


def plan_feature(orch: Orchestrator) -> dict[str, int]:
    """A parent with design -> impl -> (tests, docs); returns ids by key, parent under 'parent'."""
    result = orch.plan_task(
        TaskFields(title="Add rate limiting", labels=["auth"], acceptance_criteria=["429 over the limit"]),
        [
            SubtaskSpec(key="design", title="Design the limiter", task_type="design"),
            SubtaskSpec(key="impl", title="Implement the limiter", depends_on_keys=["design"], priority="high"),
            SubtaskSpec(key="tests", title="Test the limiter", task_type="testing", depends_on_keys=["impl"]),
            SubtaskSpec(key="docs", title="Document limits", task_type="documentation", depends_on_keys=["impl"]),
        ],
    )
    ids = {key: brief.id for key, brief in result.subtasks.items()}
    ids["parent"] = result.task.id
    return ids


def run(orch: Orchestrator, task_id: int, summary: str = "done", **kwargs: object) -> None:
    orch.execute_task(task_id)
    orch.complete_task(task_id, summary, **kwargs)  # type: ignore[arg-type]


def total(orch: Orchestrator) -> int:
    return orch.query_tasks(include_archived=True).total


# -- sessions ------------------------------------------------------------------------------


def test_session_binds_to_the_git_root_of_a_subdirectory(settings: Settings, project: Path) -> None:
    sub = project / "src" / "pkg"
    sub.mkdir(parents=True)
    orch = Orchestrator(settings)
    first = orch.initialize_session(str(sub), name="shop")
    again = orch.initialize_session(str(project))
    assert first.project_root == str(project.resolve())
    assert (first.resumed, again.resumed) == (False, True)
    assert again.session_id == first.session_id
    assert again.name == "shop"
    orch.close()


@pytest.mark.parametrize(
    ("path", "problem"),
    [("relative/dir", "relative path"), ("/no/such/dir/anywhere", "does not exist"), ("  ", "empty")],
)
def test_session_rejects_bad_working_directories(settings: Settings, path: str, problem: str) -> None:
    orch = Orchestrator(settings)
    with pytest.raises(InvalidInput, match=problem) as info:
        orch.initialize_session(path)
    assert info.value.field == "working_directory"
    orch.close()


def test_use_project_finds_the_session_by_reading_and_creates_it_only_when_missing(
    settings: Settings, project: Path
) -> None:
    orch = Orchestrator(settings)
    created = orch.use_project(str(project / "."))
    assert orch.current_session_id == created
    with orch.db.transaction(write=False) as conn:
        stamp = conn.execute(text("SELECT last_active_at FROM sessions")).scalar_one()
    orch.current_session_id = None
    assert orch.use_project(str(project)) == created
    assert orch.current_session_id == created
    with orch.db.transaction(write=False) as conn:  # found by a read: the session row is untouched
        assert conn.execute(text("SELECT last_active_at FROM sessions")).scalar_one() == stamp
    assert orch.get_status().session_id == created
    with pytest.raises(InvalidInput, match="relative path"):
        orch.use_project("relative/dir")
    orch.close()


def test_tools_need_a_session(settings: Settings) -> None:
    orch = Orchestrator(settings)
    with pytest.raises(InvalidInput, match="initialize_session"):
        orch.get_status()
    with pytest.raises(NotFound, match="session 99"):
        orch.get_status(session_id=99)
    orch.close()


# -- planning ------------------------------------------------------------------------------


def test_plan_creates_the_breakdown_with_routing_and_a_ready_queue(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    status = orch.get_status()
    assert status.counts["pending"] == 5
    assert [t.id for t in status.ready] == [ids["design"]]
    assert {b.task.id for b in status.blocked} == {ids["impl"], ids["tests"], ids["docs"]}
    parent = orch.get_task(ids["parent"])
    assert parent.specialist_type == "coordinator"
    assert {c.id for c in parent.children or []} == {ids[k] for k in ("design", "impl", "tests", "docs")}
    assert orch.get_task(ids["tests"]).specialist_type == "tester"
    assert orch.get_task(ids["tests"]).depends_on == [ids["impl"]]
    assert "testing" in orch.get_task(ids["tests"]).routing_reason


@pytest.mark.parametrize(
    ("subtasks", "error", "field"),
    [
        (
            [
                SubtaskSpec(key="a", title="A", depends_on_keys=["b"]),
                SubtaskSpec(key="b", title="B", depends_on_keys=["a"]),
            ],
            DependencyCycle,
            "subtasks.depends_on_keys",
        ),
        ([SubtaskSpec(key="a", title="A", depends_on_keys=["zz"])], InvalidInput, "subtasks[0].depends_on_keys"),
        ([SubtaskSpec(key="a", title="A"), SubtaskSpec(key="a", title="A2")], InvalidInput, "subtasks[1].key"),
        ([SubtaskSpec(key="a", title="A", depends_on=[999])], InvalidInput, "subtasks[0].depends_on"),
        ([SubtaskSpec(key="a", title="A", specialist_type="wizard")], InvalidInput, "subtasks[0].specialist_type"),
    ],
)
def test_an_invalid_plan_changes_nothing(
    orch: Orchestrator, subtasks: list[SubtaskSpec], error: type[Exception], field: str
) -> None:
    plan_feature(orch)
    before = total(orch)
    with pytest.raises(error) as info:
        orch.plan_task(TaskFields(title="Broken plan"), subtasks)
    assert getattr(info.value, "field", None) == field
    assert total(orch) == before
    assert orch.maintenance_coordinator("validate_structure").findings == []


def test_plan_under_a_parent_and_refuse_depending_on_an_ancestor(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    child = orch.plan_task(TaskFields(title="Benchmark the limiter"), parent_id=ids["impl"])
    assert child.task.parent_id == ids["impl"]
    with pytest.raises(InvalidInput, match="cannot finish before its subtasks"):
        orch.plan_task(TaskFields(title="Waits for its parent", depends_on=[ids["parent"]]), parent_id=ids["impl"])


# -- execution -----------------------------------------------------------------------------


def test_execute_refuses_while_dependencies_are_unfinished(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    with pytest.raises(DependenciesUnfinished) as info:
        orch.execute_task(ids["tests"])
    assert info.value.blockers == [ids["impl"]]
    assert orch.get_task(ids["tests"]).status == "pending"


def test_execute_refuses_a_parent_with_open_subtasks(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    with pytest.raises(Conflict, match="synthesize_results"):
        orch.execute_task(ids["parent"])


def test_execute_returns_the_specialist_context(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    run(orch, ids["design"], "Token bucket design", file_paths=["docs/design.md"], artifact_type="design")
    context = orch.execute_task(ids["impl"])
    assert context.task.status == "in_progress"
    assert context.specialist.name == "implementer"
    assert context.specialist.instructions.strip()
    assert [a.id for a in context.ancestry] == [ids["parent"]]
    [dep] = context.dependency_results
    assert dep.task_id == ids["design"]
    assert dep.artifacts[0].summary == "Token bucket design"
    assert dep.artifacts[0].file_paths == ["docs/design.md"]
    assert f"task_id={ids['impl']}" in context.next_step
    again = orch.execute_task(ids["impl"])  # a second call gives the context again, unchanged
    assert again.task.version == context.task.version


def test_a_project_role_overrides_the_builtin(orch: Orchestrator, project: Path) -> None:
    roles = project / ".taskorch" / "roles"
    roles.mkdir(parents=True)
    (roles / "implementer.md").write_text(
        '+++\nname = "implementer"\ntitle = "House Implementer"\nsummary = "Ours."\n'
        'task_types = ["feature"]\nkeywords = []\n+++\nAlways run make check.\n'
    )
    ids = plan_feature(orch)
    run(orch, ids["design"])
    context = orch.execute_task(ids["impl"])
    assert context.specialist.title == "House Implementer"
    assert "make check" in context.specialist.instructions


def test_complete_records_the_artifact_and_unblocks_dependents(orch: Orchestrator, project: Path) -> None:
    ids = plan_feature(orch)
    run(orch, ids["design"])
    orch.execute_task(ids["impl"])
    result = orch.complete_task(
        ids["impl"],
        "Limiter done",
        "TokenBucket class",
        [str(project / "src" / "limiter.py"), "src/../src/limiter.py", "tests/test_limiter.py"],
        "code",
        "Tune the limits",
    )
    assert {t.id for t in result.unblocked} == {ids["tests"], ids["docs"]}
    assert not result.parent_ready_for_synthesis
    task = orch.get_task(ids["impl"])
    assert task.status == "completed" and task.completed_at is not None
    [artifact] = task.artifacts or []
    assert artifact.file_paths == ["src/limiter.py", "tests/test_limiter.py"]
    assert artifact.next_action == "Tune the limits"


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", "src/../../escape.py"])
def test_complete_refuses_paths_outside_the_project_and_changes_nothing(orch: Orchestrator, bad: str) -> None:
    ids = plan_feature(orch)
    orch.execute_task(ids["design"])
    with pytest.raises(InvalidInput, match="outside the project") as info:
        orch.complete_task(ids["design"], "done", file_paths=["ok.py", bad])
    assert info.value.field == "file_paths[1]"
    task = orch.get_task(ids["design"])
    assert task.status == "in_progress"
    assert task.artifacts == []


def test_complete_refuses_a_task_never_started(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    with pytest.raises(Conflict, match="execute_task with task_id=2 first"):
        orch.complete_task(ids["design"], "done")


def test_symlink_escaping_the_project_is_refused(orch: Orchestrator, project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (project / "link").symlink_to(outside)
    ids = plan_feature(orch)
    orch.execute_task(ids["design"])
    with pytest.raises(InvalidInput, match="outside the project"):
        orch.complete_task(ids["design"], "done", file_paths=["link/secret.txt"])


# -- synthesis -----------------------------------------------------------------------------


def test_synthesis_combines_results_and_completes_the_parent(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    run(orch, ids["design"], "Chose a token bucket", file_paths=["docs/design.md"])
    run(orch, ids["impl"], "Implemented it", file_paths=["src/limiter.py"], next_action="Load test it")
    run(orch, ids["tests"], "Tested it")
    partial = orch.synthesize_results(ids["parent"])
    assert partial.parent_status == "pending"
    assert [t.id for t in partial.open] == [ids["docs"]]
    assert "Still open" in partial.synthesis
    assert orch.get_status().awaiting_synthesis == []
    last = orch.execute_task(ids["docs"])
    assert last.task.id == ids["docs"]
    done = orch.complete_task(ids["docs"], "Documented")
    assert done.parent_ready_for_synthesis
    assert [t.id for t in orch.get_status().awaiting_synthesis] == [ids["parent"]]
    assert ids["parent"] not in [t.id for t in orch.get_status().ready]
    result = orch.synthesize_results(ids["parent"])
    assert result.parent_status == "completed"
    assert result.open == []
    for expected in ("Chose a token bucket", "Implemented it", "`src/limiter.py`", "Load test it", "4 of 4"):
        assert expected in result.synthesis
    parent = orch.get_task(ids["parent"])
    assert parent.status == "completed" and parent.synthesis == result.synthesis
    assert orch.query_tasks(text="token bucket").total >= 1


def test_synthesis_needs_subtasks(orch: Orchestrator) -> None:
    single = orch.plan_task(TaskFields(title="Lonely task")).task.id
    with pytest.raises(InvalidInput, match="no subtasks"):
        orch.synthesize_results(single)


def test_complete_refuses_a_parent_with_open_subtasks(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    with pytest.raises(Conflict, match="open subtask"):
        orch.complete_task(ids["parent"], "done")


# -- query ---------------------------------------------------------------------------------


def test_query_filters(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    run(orch, ids["design"], "Sliding window rejected; token bucket chosen")
    orch.plan_task(TaskFields(title="Fix flaky CI", task_type="bugfix", priority="critical", labels=["ci", "flaky"]))
    assert orch.query_tasks(status=["completed"]).total == 1
    assert orch.query_tasks(task_type=["bugfix"]).tasks[0].title == "Fix flaky CI"
    assert orch.query_tasks(labels=["ci", "flaky"]).total == 1
    assert orch.query_tasks(labels=["ci", "auth"]).total == 0
    assert orch.query_tasks(specialist_type=["tester"]).total == 1
    assert orch.query_tasks(parent_id=ids["parent"]).total == 4
    assert orch.query_tasks(roots_only=True).total == 2
    assert orch.query_tasks(text="sliding").tasks[0].id == ids["design"]  # matched in the artifact
    assert orch.query_tasks(text="limit").total == 5  # prefix match: limiting, limiter, limits
    assert orch.query_tasks(sort="priority", order="asc", limit=1).tasks[0].title == "Fix flaky CI"
    page = orch.query_tasks(sort="id", order="asc", limit=2, offset=2)
    assert page.total == 6 and [t.id for t in page.tasks] == [ids["impl"], ids["tests"]]
    future = datetime.now(UTC) + timedelta(days=1)
    assert orch.query_tasks(created_after=future).total == 0
    assert orch.query_tasks(updated_before=future).total == 6
    with_artifacts = orch.query_tasks(task_ids=[ids["design"]], include_artifacts=True, include_children=True)
    assert with_artifacts.tasks[0].artifacts and with_artifacts.tasks[0].children == []


@pytest.mark.parametrize("query", ['"NEAR(', "title:* OR", "'; DROP TABLE tasks; --", "***", "ünïcödé"])
def test_hostile_search_text_is_a_plain_search(orch: Orchestrator, query: str) -> None:
    plan_feature(orch)
    result = orch.query_tasks(text=query)
    assert result.total == len(result.tasks) == 0
    assert total(orch) == 5


def test_total_from_counters_equals_a_real_count(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    run(orch, ids["design"])
    for statuses in ([], ["pending"], ["completed", "pending"]):
        fast = orch.query_tasks(status=statuses).total
        slow = orch.query_tasks(status=statuses, task_type=["feature", "design", "testing", "documentation"]).total
        assert fast == slow


# -- update, cancel, delete ----------------------------------------------------------------


def test_update_is_partial_and_versioned(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    before = orch.get_task(ids["docs"])
    result = orch.update_task(
        ids["docs"], {"title": "Document the limits", "labels": ["docs", "auth"]}, expected_version=before.version
    )
    assert sorted(result.changed) == ["labels", "title"]
    assert result.task.description == before.description
    assert result.task.labels == ["auth", "docs"]
    assert result.task.version > before.version
    with pytest.raises(VersionMismatch, match=f"version {result.task.version}"):
        orch.update_task(ids["docs"], {"title": "Stale write"}, expected_version=before.version)
    assert orch.get_task(ids["docs"]).title == "Document the limits"
    assert orch.update_task(ids["docs"], {"title": "Document the limits"}).changed == []


def test_update_dependencies_checks_cycles_and_moves_the_ready_queue(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    with pytest.raises(DependencyCycle):
        orch.update_task(ids["design"], {"depends_on": [ids["tests"]]})
    with pytest.raises(InvalidInput, match="itself or one of its parents"):
        orch.update_task(ids["design"], {"depends_on": [ids["design"]]})
    orch.update_task(ids["docs"], {"depends_on": []})
    assert {t.id for t in orch.get_status().ready} == {ids["design"], ids["docs"]}
    orch.update_task(ids["docs"], {"depends_on": [ids["design"]]})
    assert {t.id for t in orch.get_status().ready} == {ids["design"]}


def test_update_status_only_pending_or_blocked(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    orch.update_task(ids["design"], {"status": "blocked", "status_reason": "waiting for the security review"})
    blocked = {b.task.id: b for b in orch.get_status().blocked}
    assert blocked[ids["design"]].reason == "waiting for the security review"
    assert orch.get_status().ready == []
    with pytest.raises(InvalidInput, match="execute_task"):
        orch.update_task(ids["design"], {"status": "in_progress"})
    with pytest.raises(InvalidInput, match="unknown role"):
        orch.update_task(ids["design"], {"specialist_type": "wizard"})
    orch.update_task(ids["design"], {"status": "pending"})
    assert [t.id for t in orch.get_status().ready] == [ids["design"]]


def test_cancel_cascades_keeps_work_and_names_stranded_dependents(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    run(orch, ids["design"], "kept work")
    other = orch.plan_task(TaskFields(title="Roll out", depends_on=[ids["impl"]])).task.id
    with pytest.raises(Conflict, match="cascade=true"):
        orch.cancel_task(ids["parent"], "descoped")
    result = orch.cancel_task(ids["parent"], "descoped", cascade=True)
    assert result.cancelled == sorted([ids["parent"], ids["impl"], ids["tests"], ids["docs"]])
    assert result.skipped == [ids["design"]]
    assert result.stranded == [other]
    assert orch.get_task(ids["design"]).artifacts[0].summary == "kept work"  # type: ignore[index]
    assert orch.get_task(ids["tests"]).status_reason == "descoped"
    with pytest.raises(InvalidTransition, match="final"):
        orch.cancel_task(ids["impl"], "again")
    assert orch.maintenance_coordinator("validate_structure").findings == []


def test_delete_archives_by_default_and_hard_deletes_with_cascade(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    single = orch.plan_task(TaskFields(title="Scratch")).task.id
    archived = orch.delete_task(ids["parent"])
    assert archived.mode == "archived" and len(archived.task_ids) == 5
    assert orch.get_status().total == 1
    assert orch.query_tasks(include_archived=True).total == 6
    with pytest.raises(Conflict, match="is archived"):
        orch.execute_task(ids["design"])
    with pytest.raises(Conflict, match="cascade=true"):
        orch.delete_task(ids["parent"], hard=True)
    deleted = orch.delete_task(ids["parent"], hard=True, cascade=True)
    assert deleted.mode == "deleted" and len(deleted.task_ids) == 5
    with pytest.raises(NotFound):
        orch.get_task(ids["design"])
    assert orch.delete_task(single, hard=True).task_ids == [single]
    assert orch.get_status().total == 0
    trail = orch.audit_trail(task_id=ids["design"]).entries
    assert trail[-1].action == "deleted" and trail[-1].changes["title"] == "Design the limiter"


def test_delete_refuses_to_strand_a_dependent(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    keeper = orch.plan_task(TaskFields(title="Release", depends_on=[ids["impl"]])).task.id
    with pytest.raises(Conflict, match=f"task\\(s\\) {keeper} depend"):
        orch.delete_task(ids["parent"])
    assert orch.get_status().total == 6


# -- audit ---------------------------------------------------------------------------------


def test_every_change_is_audited_with_old_and_new_values(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    orch.update_task(ids["design"], {"priority": "critical"})
    run(orch, ids["design"])
    entries = orch.audit_trail(task_id=ids["design"]).entries
    assert [(e.tool, e.action) for e in entries] == [
        ("plan_task", "created"),
        ("update_task", "updated"),
        ("execute_task", "status"),
        ("complete_task", "status"),
        ("complete_task", "artifact"),
    ]
    assert entries[1].changes == {"priority": ["medium", "critical"]}
    assert entries[2].changes == {"status": ["pending", "in_progress"]}


# -- maintenance ---------------------------------------------------------------------------


def test_scan_cleanup_returns_stale_work_to_pending(settings: Settings, project: Path) -> None:
    now = [datetime.now(UTC)]
    orch = Orchestrator(settings, clock=lambda: now[0])
    orch.initialize_session(str(project))
    ids = plan_feature(orch)
    orch.execute_task(ids["design"])
    now[0] += timedelta(hours=settings.stale_after_hours + 1)
    dry = orch.maintenance_coordinator("scan_cleanup", dry_run=True)
    assert [f.task_id for f in dry.findings] == [ids["design"]] and dry.changed == 0
    assert orch.get_task(ids["design"]).status == "in_progress"
    fixed = orch.maintenance_coordinator("scan_cleanup", dry_run=False)
    assert fixed.changed == 1
    assert orch.get_task(ids["design"]).status == "pending"
    orch.close()


def test_validate_structure_finds_and_repairs_tampered_counters(orch: Orchestrator) -> None:
    ids = plan_feature(orch)
    with orch.db.transaction() as conn:
        conn.execute(text("UPDATE status_counts SET count = count + 3 WHERE status = 'pending'"))
        conn.execute(text("UPDATE tasks SET unmet_dependencies = 0 WHERE id = :id"), {"id": ids["tests"]})
    found = orch.maintenance_coordinator("validate_structure", dry_run=True)
    assert {f.kind for f in found.findings} == {"status_counts", "derived_counters"}
    assert orch.maintenance_coordinator("validate_structure", dry_run=False).changed == 2
    assert orch.maintenance_coordinator("validate_structure").findings == []
    assert [t.id for t in orch.get_status().ready] == [ids["design"]]


def test_archive_completed_vacuum_and_handover(settings: Settings, project: Path) -> None:
    now = [datetime.now(UTC)]
    orch = Orchestrator(settings, clock=lambda: now[0])
    orch.initialize_session(str(project))
    ids = plan_feature(orch)
    for key in ("design", "impl", "tests", "docs"):
        run(orch, ids[key], f"{key} finished")
    orch.synthesize_results(ids["parent"])
    report = orch.maintenance_coordinator("prepare_handover").report or ""
    assert "# Handover" in report and "impl finished" in report
    now[0] += timedelta(days=31)
    dry = orch.maintenance_coordinator("archive_completed", dry_run=True, older_than_days=30)
    assert len(dry.findings) == 5 and dry.changed == 0
    assert orch.maintenance_coordinator("archive_completed", dry_run=False, older_than_days=30).changed == 5
    assert orch.get_status().total == 0
    vacuum = orch.maintenance_coordinator("vacuum", dry_run=False)
    assert vacuum.changed == 1 and any(f.kind == "vacuum" for f in vacuum.findings)
    assert orch.maintenance_coordinator("validate_structure").findings == []
    orch.close()


# -- health and lifecycle ------------------------------------------------------------------


def test_health_restart_reconnect_and_shutdown(orch: Orchestrator) -> None:
    health = orch.health_check()
    assert health.status == "ok"
    assert health.database["at_head"] and health.database["integrity"] == "ok"
    assert health.disk["free_bytes"] > 0
    restart = orch.restart_server("config changed").restart
    assert restart.ok and restart.components["database"].startswith("reopened")
    history = orch.restart_status()
    assert history.total == 1 and history.restarts[0].reason == "config changed"
    reconnect = orch.reconnect_test()
    assert reconnect.ok and reconnect.reconnect_seconds >= 0
    shutdown = orch.shutdown_prepare()
    assert shutdown.ready and "checkpoint" in shutdown.checkpoint
    plan_feature(orch)  # the database still works after all of that
    assert orch.get_status().total == 5


def test_background_worker_checkpoints_and_is_restarted(orch: Orchestrator) -> None:
    orch.start_background()
    keeper = orch.runtime.housekeeper
    assert keeper is not None and keeper.state == "running"
    keeper.run_once()
    assert keeper.runs == 1
    orch.restart_server()
    assert orch.runtime.housekeeper is not None and orch.runtime.housekeeper.state == "running"
    assert orch.health_check().components["housekeeper"] == "running"


def test_complete_lists_a_few_open_siblings_and_counts_them_all(orch: Orchestrator) -> None:
    plan = orch.plan_task(TaskFields(title="Big"), [SubtaskSpec(key=f"s{i}", title=f"Step {i}") for i in range(15)])
    first = plan.subtasks["s0"].id
    orch.execute_task(first)
    done = orch.complete_task(first, "done")
    assert done.open_sibling_count == 14
    assert len(done.open_siblings) == 10
    assert [t.id for t in done.open_siblings] == sorted(t.id for t in done.open_siblings)
