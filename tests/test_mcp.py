"""The MCP server through the SDK's in-memory client, in both protocol eras the client negotiates.

Each test builds its own server over a temporary SQLite database and asserts on what a client
receives: the tool list and its schemas, structuredContent of every tool, tool errors and the
resources.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextResourceContents, ToolAnnotations

import taskorch
from taskorch import __version__
from taskorch.config import TOOLSETS, Settings
from taskorch.errors import NotFound, TaskorchError
from taskorch.mcp.server import PREFIX, build_server
from taskorch.mcp.words import MCP_WORDS
from taskorch.services.app import Orchestrator

MODES = ("legacy", "auto")
ALL_TOOLS = {PREFIX + name for names in TOOLSETS.values() for name in names}
CORE_TOOLS = {PREFIX + name for name in TOOLSETS["core"]}
SOURCE_DIR = str(Path(taskorch.__file__).resolve().parent)


def tool_text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def without_sdk_prefix(name: str, text: str) -> str:
    """The message taskorch wrote: the SDK puts ``Error executing tool <name>: `` before it."""
    return text.removeprefix(f"Error executing tool {PREFIX}{name}: ")


def title_keywords(schema: Any, path: str = "#") -> list[str]:
    """Paths of every ``title`` *keyword* in a JSON schema (a property named title is not one)."""
    found: list[str] = []
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found += title_keywords(item, f"{path}/{index}")
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key == "title":
                found.append(f"{path}/title")
            if key in ("properties", "$defs") and isinstance(value, dict):
                for name, sub in value.items():
                    found += title_keywords(sub, f"{path}/{key}/{name}")
            else:
                found += title_keywords(value, f"{path}/{key}")
    return found


class Tools:
    """The server's tools through one client, by their names without the prefix."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.session: dict[str, Any] = {}

    async def call(self, name: str, /, **arguments: Any) -> CallToolResult:
        return await self.client.call_tool(PREFIX + name, arguments)

    async def ok(self, name: str, /, **arguments: Any) -> dict[str, Any]:
        result = await self.call(name, **arguments)
        assert not result.is_error, f"{name} failed: {tool_text(result)}"
        assert isinstance(result.structured_content, dict)
        assert tool_text(result).strip(), f"{name} returned no summary text"
        return result.structured_content

    async def error(self, name: str, /, **arguments: Any) -> str:
        """Call a tool that must fail; return taskorch's message after checking nothing leaks."""
        result = await self.call(name, **arguments)
        text = tool_text(result)
        assert result.is_error, f"{name} succeeded: {result.structured_content}"
        assert not result.structured_content
        assert text.strip()
        assert "Traceback" not in text
        assert 'File "' not in text
        assert SOURCE_DIR not in text
        assert sys.prefix not in text
        return without_sdk_prefix(name, text)

    async def task(self, task_id: int) -> dict[str, Any]:
        found = await self.ok("query_tasks", task_ids=[task_id], include_archived=True, include_artifacts=True)
        assert found["total"] == 1, found
        task: dict[str, Any] = found["tasks"][0]
        return task

    async def total(self, **filters: Any) -> int:
        return int((await self.ok("query_tasks", include_archived=True, **filters))["total"])

    async def resource(self, uri: str) -> Any:
        result = await self.client.read_resource(uri)
        assert len(result.contents) == 1
        content = result.contents[0]
        assert isinstance(content, TextResourceContents)
        assert content.mime_type == "application/json"
        return json.loads(content.text)


Scenario = Callable[[Tools], Awaitable[None]]
Runner = Callable[..., None]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def decoy_database(tmp_path: Path) -> Path:
    """A database the environment names but no test server may open (it was given explicit settings)."""
    return tmp_path / "decoy" / "taskorch.db"


@pytest.fixture
def run_mcp(
    mode: str, database_url: str, project: Path, decoy_database: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runner]:
    """Run a scenario against a fresh server; by default after initializing the project's session."""
    monkeypatch.setenv("TASKORCH_DATABASE_URL", f"sqlite:///{decoy_database}")

    def run(scenario: Scenario, *, toolsets: tuple[str, ...] | None = None, initialize: bool = True) -> None:
        settings = Settings(database_url=database_url)
        if toolsets is not None:
            settings = Settings(database_url=database_url, toolsets=toolsets)

        async def main() -> None:
            with anyio.fail_after(30):
                async with Client(build_server(settings), mode=mode) as client:
                    tools = Tools(client)
                    if initialize:
                        tools.session = await tools.ok("initialize_session", working_directory=str(project))
                    await scenario(tools)

        anyio.run(main)

    yield run
    assert not decoy_database.parent.exists(), "a server built with explicit settings read the environment"


def subtask(key: str, title: str, *depends_on_keys: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, "title": title, "depends_on_keys": list(depends_on_keys), **fields}


# -- the tool list -----------------------------------------------------------------------------


def test_tool_list_is_complete_prefixed_described_and_compact(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        tools = (await t.client.list_tools()).tools
        assert len(tools) == 16
        assert {tool.name for tool in tools} == ALL_TOOLS
        for tool in tools:
            assert tool.name.startswith(PREFIX)
            assert tool.description and len(tool.description) > 20, tool.name
            assert tool.input_schema["type"] == "object", tool.name
            assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
            assert tool.output_schema.get("properties"), tool.name
            assert title_keywords(tool.input_schema) == [], tool.name
            assert title_keywords(tool.output_schema) == [], tool.name
        by_name = {tool.name: tool for tool in tools}
        plan = by_name[PREFIX + "plan_task"]
        assert plan.input_schema["properties"]["title"]["type"] == "string"
        assert plan.input_schema["properties"]["title"]["minLength"] == 1
        assert "title" in plan.input_schema["required"]
        assert "title" in plan.input_schema["properties"]["subtasks"]["items"]["properties"]
        assert "task" in (plan.output_schema or {})["properties"]
        annotations = {name: tool.annotations or ToolAnnotations() for name, tool in by_name.items()}
        assert annotations[PREFIX + "get_status"].read_only_hint is True
        assert annotations[PREFIX + "delete_task"].destructive_hint is True
        assert annotations[PREFIX + "plan_task"].read_only_hint is False

    run_mcp(scenario, initialize=False)


def test_title_keyword_finder_sees_titles() -> None:
    schema = {"title": "M", "properties": {"title": {"title": "Title", "type": "string"}}, "$defs": {}}
    assert title_keywords(schema) == ["#/title", "#/properties/title/title"]


@pytest.mark.parametrize(
    ("toolsets", "expected"),
    [
        (("core",), CORE_TOOLS),
        (("core", "lifecycle"), CORE_TOOLS | {PREFIX + name for name in TOOLSETS["lifecycle"]}),
    ],
)
def test_toolsets_limit_the_tool_list(run_mcp: Runner, toolsets: tuple[str, ...], expected: set[str]) -> None:
    async def scenario(t: Tools) -> None:
        tools = (await t.client.list_tools()).tools
        assert {tool.name for tool in tools} == expected
        result = await t.call("health_check")
        assert result.is_error
        assert "orchestrator_health_check" in tool_text(result)

    if toolsets == ("core",):
        assert len(expected) == 10
    run_mcp(scenario, toolsets=toolsets, initialize=False)


# -- the main flow -----------------------------------------------------------------------------


def test_full_flow_plan_execute_complete_synthesize(run_mcp: Runner, project: Path) -> None:
    async def scenario(t: Tools) -> None:
        assert t.session["resumed"] is False
        assert t.session["project_root"] == str(project.resolve())
        assert sum(t.session["counts"].values()) == 0

        plan = await t.ok(
            "plan_task",
            title="Ship the CSV importer",
            priority="high",
            acceptance_criteria=["Imports a 10 MB file"],
            subtasks=[
                subtask("design", "Design the importer", task_type="design"),
                subtask("build", "Build the importer", "design"),
                subtask("test", "Test the importer", "build", task_type="testing"),
            ],
        )
        parent = plan["task"]["id"]
        ids = {key: brief["id"] for key, brief in plan["subtasks"].items()}
        assert set(ids) == {"design", "build", "test"}
        assert plan["session_id"] == t.session["session_id"]
        assert plan["ready"] == [ids["design"]]
        assert "children" not in plan["task"]  # the subtasks are in plan["subtasks"]
        assert sorted(ids.values()) == list(range(parent + 1, parent + 4))
        assert (await t.task(ids["build"]))["depends_on"] == [ids["design"]]
        assert (await t.task(ids["test"]))["depends_on"] == [ids["build"]]

        status = await t.ok("get_status")
        assert status["counts"]["pending"] == 4
        assert [task["id"] for task in status["ready"]] == [ids["design"]]
        blocked = {b["task"]["id"]: [x["id"] for x in b["blockers"]] for b in status["blocked"]}
        assert blocked == {ids["build"]: [ids["design"]], ids["test"]: [ids["build"]]}

        refused = await t.error("execute_task", task_id=ids["test"])
        assert refused.startswith("dependencies_unfinished:")
        assert f"task {ids['build']} " in refused
        assert (await t.task(ids["test"]))["status"] == "pending"

        previous: str | None = None
        for key in ("design", "build", "test"):
            context = await t.ok("execute_task", task_id=ids[key])
            assert context["task"]["id"] == ids[key]
            assert context["task"]["status"] == "in_progress"
            assert [a["id"] for a in context["ancestry"]] == [parent]
            assert context["specialist"]["instructions"].strip()
            if previous is None:
                assert context["dependency_results"] == []
            else:
                (dependency,) = context["dependency_results"]
                assert dependency["task_id"] == ids[previous]
                assert dependency["artifacts"][0]["summary"] == f"{previous} is done"
            done = await t.ok(
                "complete_task",
                task_id=ids[key],
                summary=f"{key} is done",
                detailed_work=f"Details of {key}.",
                file_paths=[f"src/{key}.py"],
            )
            assert done["task"]["status"] == "completed"
            assert done["parent_id"] == parent
            assert done["parent_ready_for_synthesis"] is (key == "test")
            if key == "design":
                assert [u["id"] for u in done["unblocked"]] == [ids["build"]]
            previous = key

        synthesis = await t.ok("synthesize_results", parent_task_id=parent)
        assert synthesis["parent_id"] == parent
        assert synthesis["parent_status"] == "completed"
        assert synthesis["open"] == []
        assert sorted(c["id"] for c in synthesis["completed"]) == sorted(ids.values())
        assert synthesis["synthesis"].startswith("# Synthesis: Ship the CSV importer")
        for key in ids:
            assert f"`src/{key}.py`" in synthesis["synthesis"]
        parent_task = await t.task(parent)
        assert parent_task["status"] == "completed"
        assert parent_task["synthesis"] == synthesis["synthesis"]

        status = await t.ok("get_status")
        assert status["counts"] == {"pending": 0, "in_progress": 0, "blocked": 0, "completed": 4, "cancelled": 0}
        assert status["total"] == 4
        assert status["ready"] == [] and status["blocked"] == [] and status["in_progress"] == []
        assert parent in {task["id"] for task in status["recently_completed"]}

    run_mcp(scenario)


def test_initialize_session_resumes_the_same_project(run_mcp: Runner, project: Path) -> None:
    nested = project / "src" / "pkg"
    nested.mkdir(parents=True)

    async def scenario(t: Tools) -> None:
        again = await t.ok("initialize_session", working_directory=str(nested), name="importer work")
        assert again["session_id"] == t.session["session_id"]
        assert again["resumed"] is True
        assert again["project_root"] == str(project.resolve())
        assert again["name"] == "importer work"
        relative = await t.error("initialize_session", working_directory="src/pkg")
        assert relative.startswith("invalid_input: working_directory:")

    run_mcp(scenario)


# -- queries and edits -------------------------------------------------------------------------


def test_query_tasks_filters_and_paging(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        specs: list[dict[str, Any]] = [
            {"title": "Parse the config", "labels": ["backend", "config"], "description": "Use the kangaroo parser."},
            {"title": "Render the page", "labels": ["frontend"]},
            {"title": "Store sessions", "labels": ["backend"]},
            {"title": "Fix the login bug", "labels": ["backend", "auth"], "task_type": "bugfix"},
            {"title": "Write release notes", "task_type": "documentation"},
        ]
        ids = [(await t.ok("plan_task", **spec))["task"]["id"] for spec in specs]
        parse, render, store, fix, notes = ids
        await t.ok("execute_task", task_id=store)
        await t.ok("complete_task", task_id=store, summary="Sessions live in a wombat table")

        async def found(**filters: Any) -> list[int]:
            result = await t.ok("query_tasks", sort="id", order="asc", **filters)
            assert result["total"] == len(result["tasks"])
            return [task["id"] for task in result["tasks"]]

        assert await found() == ids
        assert await found(status=["completed"]) == [store]
        assert await found(status=["pending"]) == [parse, render, fix, notes]
        assert await found(labels=["backend"]) == [parse, store, fix]
        assert await found(labels=["backend", "config"]) == [parse]
        assert await found(task_type=["bugfix", "documentation"]) == [fix, notes]
        assert await found(text="kangaroo") == [parse]
        assert await found(text="wombat") == [store]
        assert await found(text="nothingmatchesthis") == []

        page = await t.ok("query_tasks", sort="id", order="asc", limit=2, offset=2)
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
        assert [task["id"] for task in page["tasks"]] == [store, fix]
        last = await t.ok("query_tasks", sort="id", order="asc", limit=2, offset=4)
        assert last["total"] == 5
        assert [task["id"] for task in last["tasks"]] == [notes]
        filtered_page = await t.ok("query_tasks", labels=["backend"], sort="id", order="desc", limit=1)
        assert filtered_page["total"] == 3
        assert [task["id"] for task in filtered_page["tasks"]] == [fix]

    run_mcp(scenario)


def test_update_task_with_stale_version_changes_nothing(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        planned = (await t.ok("plan_task", title="Draft the API"))["task"]
        task_id, first_version = planned["id"], planned["version"]

        updated = await t.ok(
            "update_task",
            task_id=task_id,
            expected_version=first_version,
            title="Draft the REST API",
            priority="high",
            labels=["api"],
        )
        assert updated["changed"] == ["labels", "priority", "title"]
        current = updated["task"]["version"]
        assert current > first_version
        assert (updated["task"]["title"], updated["task"]["priority"], updated["task"]["labels"]) == (
            "Draft the REST API",
            "high",
            ["api"],
        )

        stale = await t.error(
            "update_task", task_id=task_id, expected_version=first_version, title="Stale title", priority="low"
        )
        assert stale.startswith("version_mismatch:")
        assert f"version {current}" in stale

        after = await t.task(task_id)
        assert after["version"] == current
        assert (after["title"], after["priority"]) == ("Draft the REST API", "high")

        blocked = await t.ok("update_task", task_id=task_id, status="blocked", status_reason="waiting for review")
        assert blocked["task"]["status"] == "blocked"
        assert blocked["task"]["status_reason"] == "waiting for review"

    run_mcp(scenario)


def test_cancel_task_needs_cascade_for_open_subtasks(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        plan = await t.ok(
            "plan_task",
            title="Migrate the database",
            subtasks=[
                subtask("write", "Write the migration"),
                subtask("run", "Run the migration", "write"),
                subtask("clean", "Drop the old tables"),
            ],
        )
        parent = plan["task"]["id"]
        ids = {key: brief["id"] for key, brief in plan["subtasks"].items()}
        announce = (await t.ok("plan_task", title="Announce the migration", depends_on=[ids["run"]]))["task"]["id"]
        await t.ok("execute_task", task_id=ids["write"])
        await t.ok("complete_task", task_id=ids["write"], summary="Migration written")

        refused = await t.error("cancel_task", task_id=parent, reason="descoped")
        assert refused.startswith("conflict:")
        assert "cascade" in refused
        assert (await t.task(parent))["status"] == "pending"
        assert (await t.task(ids["run"]))["status"] == "pending"

        cancelled = await t.ok("cancel_task", task_id=parent, reason="descoped", cascade=True)
        assert cancelled["cancelled"] == sorted([parent, ids["run"], ids["clean"]])
        assert cancelled["skipped"] == [ids["write"]]
        assert cancelled["stranded"] == [announce]
        assert cancelled["reason"] == "descoped"

        run = await t.task(ids["run"])
        assert (run["status"], run["status_reason"]) == ("cancelled", "descoped")
        write = await t.task(ids["write"])
        assert write["status"] == "completed"
        assert len(write["artifacts"]) == 1
        status = await t.ok("get_status")
        assert status["counts"] == {"pending": 1, "in_progress": 0, "blocked": 0, "completed": 1, "cancelled": 3}

    run_mcp(scenario)


def test_delete_task_archives_by_default_and_hard_deletes_on_request(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        plan = await t.ok(
            "plan_task", title="Old spike", subtasks=[subtask("a", "Spike A"), subtask("b", "Spike B", "a")]
        )
        parent = plan["task"]["id"]
        subtree = sorted([parent, *(brief["id"] for brief in plan["subtasks"].values())])
        keep = (await t.ok("plan_task", title="Keep me"))["task"]["id"]

        archived = await t.ok("delete_task", task_id=parent)
        assert archived == {"mode": "archived", "task_ids": subtree}
        live = await t.ok("query_tasks")
        assert [task["id"] for task in live["tasks"]] == [keep]
        assert live["total"] == 1
        assert (await t.ok("get_status"))["total"] == 1
        assert await t.total() == 4
        assert (await t.task(parent))["archived"] is True

        again = await t.error("delete_task", task_id=parent)
        assert again.startswith("conflict:")
        assert "already archived" in again
        needs_cascade = await t.error("delete_task", task_id=parent, hard=True)
        assert needs_cascade.startswith("conflict:")
        assert "cascade" in needs_cascade
        assert await t.total() == 4

        deleted = await t.ok("delete_task", task_id=parent, hard=True, cascade=True)
        assert deleted == {"mode": "deleted", "task_ids": subtree}
        assert await t.total() == 1
        gone = await t.error("execute_task", task_id=subtree[1])
        assert gone.startswith(f"not_found: task {subtree[1]} not found in project")

        assert await t.ok("delete_task", task_id=keep, hard=True) == {"mode": "deleted", "task_ids": [keep]}
        assert await t.total() == 0

    run_mcp(scenario)


# -- maintenance, health and lifecycle ---------------------------------------------------------


def test_maintenance_coordinator_actions(run_mcp: Runner, project: Path) -> None:
    async def scenario(t: Tools) -> None:
        task_id = (await t.ok("plan_task", title="Tidy the repository"))["task"]["id"]

        for action in ("scan_cleanup", "validate_structure", "archive_completed"):
            result = await t.ok("maintenance_coordinator", action=action)
            assert result == {"action": action, "dry_run": True, "findings": [], "changed": 0}  # no report
        applied = await t.ok("maintenance_coordinator", action="validate_structure", dry_run=False)
        assert (applied["findings"], applied["changed"]) == ([], 0)

        await t.ok("execute_task", task_id=task_id)
        await t.ok("complete_task", task_id=task_id, summary="Tidied")
        archivable = await t.ok("maintenance_coordinator", action="archive_completed", older_than_days=0)
        assert [f["task_id"] for f in archivable["findings"]] == [task_id]
        assert archivable["changed"] == 0
        assert (await t.task(task_id))["archived"] is False

        size = await t.ok("maintenance_coordinator", action="vacuum")
        assert [f["kind"] for f in size["findings"]] == ["size"]
        assert size["changed"] == 0
        vacuumed = await t.ok("maintenance_coordinator", action="vacuum", dry_run=False)
        assert vacuumed["changed"] == 1
        assert any(f["kind"] == "vacuum" and f["fixed"] for f in vacuumed["findings"])

        handover = await t.ok("maintenance_coordinator", action="prepare_handover")
        report = handover["report"]
        assert report.startswith("# Handover")
        assert str(project.resolve()) in report
        assert "| completed | 1 |" in report
        assert "Tidy the repository" in report

        assert (await t.ok("maintenance_coordinator", action="validate_structure"))["findings"] == []

    run_mcp(scenario)


def test_health_restart_reconnect_and_shutdown(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        task_id = (await t.ok("plan_task", title="Survive the restart"))["task"]["id"]
        health = await t.ok("health_check")
        assert health["status"] == "ok"
        assert health["version"] == __version__
        assert health["database"]["reachable"] is True
        assert health["database"]["at_head"] is True
        assert health["components"]["database"] == "ok"

        before = await t.ok("restart_status")
        assert before["total"] == 0
        restarted = (await t.ok("restart_server", reason="rotate the connections"))["restart"]
        assert restarted["ok"] is True
        assert restarted["error"] is None
        assert restarted["reason"] == "rotate the connections"
        history = await t.ok("restart_status")
        assert history["total"] == 1
        assert [(r["id"], r["reason"], r["ok"]) for r in history["restarts"]] == [
            (restarted["id"], "rotate the connections", True)
        ]

        reconnect = await t.ok("reconnect_test")
        assert reconnect["ok"] is True
        assert reconnect["reconnect_seconds"] >= 0

        shutdown = await t.ok("shutdown_prepare")
        assert shutdown["ready"] is True, shutdown
        assert shutdown["in_flight_calls"] == 0
        assert shutdown["checkpoint"].startswith("truncate checkpoint")

        # The restart keeps the database the server was built with, and the session.
        assert (await t.ok("get_status"))["session_id"] == t.session["session_id"]
        assert (await t.task(task_id))["title"] == "Survive the restart"

    run_mcp(scenario)


# -- errors ------------------------------------------------------------------------------------


INVALID_ARGUMENTS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("plan_task", {"title": "", "complexity": "huge"}, ("title", "complexity")),
    ("plan_task", {"title": "Label me", "labels": ["ok", "a,b"]}, ("labels",)),
    ("plan_task", {"title": "Keys", "subtasks": [{"key": "has space", "title": "x"}]}, ("key",)),
    ("execute_task", {"task_id": 0}, ("task_id",)),
    ("complete_task", {"task_id": 1}, ("summary",)),
    ("query_tasks", {"limit": 0}, ("limit",)),
    ("update_task", {"task_id": 1, "status": "completed"}, ("status",)),
    ("update_task", {"task_id": 1, "labels": [" "]}, ("labels",)),
    ("maintenance_coordinator", {"action": "explode"}, ("action",)),
]


def test_invalid_arguments_are_tool_errors_naming_the_field(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        task_id = (await t.ok("plan_task", title="Existing"))["task"]["id"]
        assert task_id == 1
        for name, arguments, fields in INVALID_ARGUMENTS:
            message = await t.error(name, **arguments)
            for field in fields:
                assert field in message, (name, arguments, message)
        assert await t.total() == 1
        assert (await t.task(task_id))["version"] == 1

    run_mcp(scenario)


def test_taskorch_errors_become_kind_and_message(
    run_mcp: Runner, settings: Settings, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    messages: dict[str, str] = {}

    async def scenario(t: Tools) -> None:
        messages["not_found"] = await t.error("execute_task", task_id=999)
        pending = (await t.ok("plan_task", title="Not started"))["task"]["id"]
        messages["conflict"] = await t.error("complete_task", task_id=pending, summary="done")
        messages["role"] = await t.error("plan_task", title="Magic", specialist_type="wizard")
        await t.ok("execute_task", task_id=pending)
        messages["path"] = await t.error("complete_task", task_id=pending, summary="done", file_paths=[str(outside)])
        await t.ok("complete_task", task_id=pending, summary="done")
        messages["transition"] = await t.error("execute_task", task_id=pending)

    run_mcp(scenario)

    orchestrator = Orchestrator(settings)
    try:
        orchestrator.initialize_session(str(project))
        with pytest.raises(NotFound) as raised:
            orchestrator.execute_task(999)
    finally:
        orchestrator.close()
    assert messages["not_found"] == f"not_found: {raised.value.render(MCP_WORDS)}"
    assert messages["conflict"].startswith("conflict: task ")
    assert "never started" in messages["conflict"]
    assert messages["role"].startswith("invalid_input: specialist_type: unknown role 'wizard'.")
    assert messages["path"].startswith("invalid_input: file_paths[0]:")
    assert "outside the project" in messages["path"]
    assert messages["transition"].startswith("invalid_transition: ")
    kinds = {cls.kind for cls in _error_classes()}
    for message in messages.values():
        assert message.split(":", 1)[0] in kinds, message


def _error_classes() -> list[type[TaskorchError]]:
    found: list[type[TaskorchError]] = [TaskorchError]
    for cls in found:
        found += [sub for sub in cls.__subclasses__() if sub not in found]
    return found


def test_tools_need_a_session_first(run_mcp: Runner, project: Path) -> None:
    async def scenario(t: Tools) -> None:
        message = await t.error("get_status")
        assert message.startswith("invalid_input: session_id: no session is active")
        assert "orchestrator_initialize_session" in message
        session = await t.ok("initialize_session", working_directory=str(project))
        assert (await t.ok("get_status"))["session_id"] == session["session_id"]

    run_mcp(scenario, initialize=False)


def test_invalid_plans_change_nothing(run_mcp: Runner) -> None:
    async def scenario(t: Tools) -> None:
        existing = (await t.ok("plan_task", title="Existing task"))["task"]["id"]
        audit_before = len((await t.resource("taskorch://audit"))["entries"])

        plans: list[tuple[dict[str, Any], str]] = [
            (
                {"title": "Cyclic", "subtasks": [subtask("a", "A", "b"), subtask("b", "B", "a")]},
                "dependency_cycle: subtasks.depends_on_keys:",
            ),
            (
                {
                    "title": "Longer cycle",
                    "subtasks": [
                        subtask("ok", "Fine"),
                        subtask("x", "X", "z", "ok"),
                        subtask("y", "Y", "x"),
                        subtask("z", "Z", "y"),
                    ],
                },
                "dependency_cycle:",
            ),
            (
                {"title": "Unknown dependency", "depends_on": [999]},
                "invalid_input: depends_on: task 999 does not exist",
            ),
            (
                {"title": "Unknown in a subtask", "subtasks": [subtask("a", "A"), subtask("b", "B", depends_on=[999])]},
                "invalid_input: subtasks[1].depends_on: task 999",
            ),
            (
                {"title": "Unknown key", "subtasks": [subtask("a", "A", "nope")]},
                "invalid_input: subtasks[0].depends_on_keys:",
            ),
            (
                {"title": "Same key twice", "subtasks": [subtask("a", "A"), subtask("a", "A again")]},
                "invalid_input: subtasks[1].key:",
            ),
            ({"title": "Orphan", "parent_id": 999}, "not_found:"),
        ]
        for arguments, expected in plans:
            message = await t.error("plan_task", **arguments)
            assert message.startswith(expected), (arguments["title"], message)
            assert await t.total() == 1, arguments["title"]

        assert "a -> b -> a" in (await t.error("plan_task", **plans[0][0]))
        assert (await t.ok("get_status"))["total"] == 1
        assert len((await t.resource("taskorch://audit"))["entries"]) == audit_before
        assert (await t.task(existing))["version"] == 1

    run_mcp(scenario)


# -- resources ---------------------------------------------------------------------------------


def test_resources_serve_json(run_mcp: Runner, project: Path) -> None:
    async def scenario(t: Tools) -> None:
        plan = await t.ok(
            "plan_task", title="Add a schema", subtasks=[subtask("sql", "Write the schema"), subtask("orm", "Map it")]
        )
        parent = plan["task"]["id"]
        sql = plan["subtasks"]["sql"]["id"]
        await t.ok("execute_task", task_id=sql)
        await t.ok("complete_task", task_id=sql, summary="Wrote the schema", file_paths=["db/schema.sql"])

        task = await t.resource(f"taskorch://tasks/{parent}")
        assert (task["id"], task["title"], task["status"]) == (parent, "Add a schema", "pending")
        assert [child["id"] for child in task["children"]] == sorted(b["id"] for b in plan["subtasks"].values())
        assert task["artifacts"] == []
        child = await t.resource(f"taskorch://tasks/{sql}")
        assert child["status"] == "completed"
        assert [(a["summary"], a["file_paths"]) for a in child["artifacts"]] == [
            ("Wrote the schema", ["db/schema.sql"])
        ]

        trail = (await t.resource(f"taskorch://tasks/{sql}/audit"))["entries"]
        assert {entry["task_id"] for entry in trail} == {sql}
        assert [entry["id"] for entry in trail] == sorted(entry["id"] for entry in trail)
        assert (trail[0]["tool"], trail[0]["action"]) == ("plan_task", "created")
        assert [(e["tool"], e["action"]) for e in trail[1:]] == [
            ("execute_task", "status"),
            ("complete_task", "status"),
            ("complete_task", "artifact"),
        ]
        assert trail[-1]["changes"]["file_paths"] == ["db/schema.sql"]

        status = await t.resource("taskorch://status")
        assert status["session_id"] == t.session["session_id"]
        assert status["project_root"] == str(project.resolve())
        assert status["counts"]["completed"] == 1
        assert status["counts"]["pending"] == 2
        assert status == await t.ok("get_status")

        session_trail = (await t.resource("taskorch://audit"))["entries"]
        assert (session_trail[0]["tool"], session_trail[0]["action"]) == ("initialize_session", "session")
        assert len(session_trail) > len(trail)

        with pytest.raises(MCPError, match="task 999 not found in project"):
            await t.client.read_resource("taskorch://tasks/999")
        with pytest.raises(MCPError, match="positive integer"):
            await t.client.read_resource("taskorch://tasks/abc")

    run_mcp(scenario)


def test_hints_read_as_tools_and_arguments(run_mcp: Runner, project: Path) -> None:
    """Errors and next steps name the tool and its arguments; missing files are said in the text."""
    seen: dict[str, str] = {}

    async def scenario(t: Tools) -> None:
        first = (await t.ok("plan_task", title="First"))["task"]["id"]
        second = (await t.ok("plan_task", title="Second", depends_on=[first]))["task"]["id"]
        seen["refused"] = await t.error("execute_task", task_id=second)
        started = await t.ok("execute_task", task_id=first)
        seen["next"] = started["next_step"]
        result = await t.call("complete_task", task_id=first, summary="done", file_paths=["docs/missing.md"])
        seen["complete"] = tool_text(result)
        assert result.structured_content is not None
        assert result.structured_content["missing_files"] == ["docs/missing.md"]

    run_mcp(scenario)
    assert f"orchestrator_update_task with task_id={2}, depends_on=[]" in seen["refused"]
    assert "orchestrator_complete_task with task_id=1, summary, detailed_work, file_paths" in seen["next"]
    assert "not found in the project: docs/missing.md" in seen["complete"]
    assert "orchestrator_execute_task with task_id=2" in seen["complete"]
    assert "taskorch " not in "".join(seen.values())
