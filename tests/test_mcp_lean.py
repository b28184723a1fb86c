"""The MCP face is lean and readable on its own, through the SDK's in-memory client (both protocol
modes): flat output schemas, a bounded tool list, texts that carry what a text-only client needs,
refusals worded as taskorch's errors, and the detail levels of get_status and query_tasks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from taskorch.config import TOOLSETS, Settings
from taskorch.mcp.schemas import flat_output_schema, flatten
from taskorch.mcp.server import PREFIX, build_server
from taskorch.services.models import StatusResult
from taskorch.services.planning import PLAN_LISTED

MODES = ("legacy", "auto")
#: The part of tools/list a model reads (name, description, inputSchema) for the core tools, bytes.
CORE_TOOLS_BUDGET = 12_000
#: Typical answers (text plus structuredContent) of get_status and query_tasks (20 tasks), bytes.
ANSWER_BUDGET = 4_000


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def schema_problems(schema: Any, path: str = "#") -> list[str]:
    """Where a schema uses $defs, $ref or a nullable anyOf (paths)."""
    found: list[str] = []
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            found += schema_problems(item, f"{path}/{index}")
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("$defs", "$ref"):
                found.append(f"{path}/{key}")
            if key == "anyOf" and any(option == {"type": "null"} for option in value):
                found.append(f"{path}/anyOf")
            found += schema_problems(value, f"{path}/{key}")
    return found


def run(mode: str, settings: Settings, scenario: Any) -> None:
    async def main() -> None:
        with anyio.fail_after(60):
            async with Client(build_server(settings), mode=mode) as client:
                await scenario(client)

    anyio.run(main)


async def ok(client: Client, name: str, **arguments: Any) -> CallToolResult:
    result = await client.call_tool(PREFIX + name, arguments)
    assert not result.is_error, text_of(result)
    return result


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_schema_problem_finder_sees_refs_and_nullable_any_of() -> None:
    schema = {"$defs": {"A": {}}, "properties": {"a": {"$ref": "#/$defs/A"}, "b": {"anyOf": [{}, {"type": "null"}]}}}
    assert schema_problems(schema) == ["#/$defs", "#/properties/a/$ref", "#/properties/b/anyOf"]


def test_flatten_inlines_definitions_and_writes_nullable_fields_as_type_arrays() -> None:
    schema = {
        "$defs": {"Level": {"enum": ["a", "b"], "type": "string", "description": "A docstring.", "title": "Level"}},
        "properties": {
            "level": {"anyOf": [{"$ref": "#/$defs/Level"}, {"type": "null"}], "description": "How much."},
            "title": {"type": "string", "title": "Title"},
            "id": {"type": "integer", "maximum": 2**31 - 1, "minimum": 1},
        },
        "title": "Model",
        "type": "object",
    }
    assert flatten(schema, output=True) == {
        "properties": {
            "level": {"enum": ["a", "b", None], "type": ["string", "null"], "description": "How much."},
            "title": {"type": "string"},
            "id": {"type": "integer", "minimum": 1},
        },
        "type": "object",
    }
    # An optional argument of an input schema is published as its type: omitting it says "none".
    optional = {"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}
    assert flatten(optional) == {"properties": {"a": {"type": "string"}}}
    status = flat_output_schema(StatusResult)
    assert schema_problems(status) == []
    assert status["properties"]["ready"]["items"]["properties"]["parent_id"] == {"type": ["integer", "null"]}


def test_tool_schemas_are_flat_and_the_tool_list_a_model_reads_stays_in_budget(mode: str, settings: Settings) -> None:
    async def scenario(client: Client) -> None:
        tools = (await client.list_tools()).tools
        assert len(tools) == 16
        for tool in tools:
            assert schema_problems(tool.output_schema) == [], tool.name
            assert schema_problems(tool.input_schema) == [], tool.name
        core = {PREFIX + name for name in TOOLSETS["core"]}
        seen = [
            {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
            for t in tools
            if t.name in core
        ]
        assert len(seen) == len(core)
        assert size(seen) <= CORE_TOOLS_BUDGET

    run(mode, settings, scenario)


def test_execute_task_text_alone_carries_instructions_criteria_dependencies_and_next_call(
    mode: str, settings: Settings, project: Path
) -> None:
    async def scenario(client: Client) -> None:
        await ok(client, "initialize_session", working_directory=str(project))
        plan = (
            await ok(
                client,
                "plan_task",
                title="Ship the importer",
                subtasks=[
                    {"key": "design", "title": "Design the importer", "specialist_type": "architect"},
                    {
                        "key": "build",
                        "title": "Build the importer",
                        "description": "Stream rows; never load the file whole.",
                        "specialist_type": "implementer",
                        "depends_on_keys": ["design"],
                        "acceptance_criteria": ["Imports a 10 MB file", "Reports the bad rows"],
                        "labels": ["io"],
                    },
                ],
            )
        ).structured_content
        assert plan is not None
        design, build = plan["subtasks"]["design"]["id"], plan["subtasks"]["build"]["id"]
        plan_text = text_of(await ok(client, "get_status"))
        assert f"{design}|pending|medium|Design the importer|{plan['task']['id']}" in plan_text
        await ok(client, "execute_task", task_id=design)
        done = await ok(
            client,
            "complete_task",
            task_id=design,
            summary="Chose a streaming parser",
            detailed_work="csv.reader over the open file; errors collected per row.",
            file_paths=["docs/importer.md"],
        )
        assert f"#{build} Build the importer" in text_of(done)
        assert f"task_id={build}" in text_of(done)

        result = await ok(client, "execute_task", task_id=build)
        text = text_of(result)
        structured = result.structured_content
        assert structured is not None
        # The role's instructions, whole.
        assert structured["specialist"]["instructions"].strip() in text
        assert "## Your role: Implementer" in text
        # The task and its criteria.
        assert "Stream rows; never load the file whole." in text
        assert "- [ ] Imports a 10 MB file" in text and "- [ ] Reports the bad rows" in text
        assert "labels: io" in text
        # What the dependency produced.
        assert f"#{design} Design the importer (architect)" in text
        assert "Chose a streaming parser" in text
        assert "csv.reader over the open file" in text and "docs/importer.md" in text
        # What to call next.
        assert f"orchestrator_complete_task with task_id={build}" in text

    run(mode, settings, scenario)


def test_plan_text_lists_keys_and_numbers(mode: str, settings: Settings, project: Path) -> None:
    async def scenario(client: Client) -> None:
        await ok(client, "initialize_session", working_directory=str(project))
        result = await ok(
            client,
            "plan_task",
            title="Parent",
            subtasks=[{"key": "a", "title": "A"}, {"key": "b", "title": "B", "depends_on_keys": ["a"]}],
        )
        text = text_of(result)
        assert "key -> number: a=2, b=3" in text
        assert "Ready now: #2." in text

    run(mode, settings, scenario)


def test_a_large_plan_answers_with_numbers_and_its_first_ready_subtasks(
    mode: str, settings: Settings, project: Path
) -> None:
    """Over 50 subtasks the answer maps every key to its number, lists the briefs of the first
    ready ones by priority and says how to read the rest; the text alone carries the same."""

    async def scenario(client: Client) -> None:
        await ok(client, "initialize_session", working_directory=str(project))
        count = 300
        subtasks = [
            {
                "key": f"s{i}",
                "title": f"Port the report module {i}",
                "priority": "high" if i % 7 == 3 else "medium",
                "depends_on_keys": [f"s{i - 1}"] if i % 3 else [],
            }
            for i in range(count)
        ]
        result = await ok(client, "plan_task", title="Port the reports", subtasks=subtasks)
        plan = result.structured_content
        assert plan is not None
        parent = plan["task"]["id"]
        assert sorted(plan["numbers"]) == sorted(s["key"] for s in subtasks)
        assert sorted(plan["numbers"].values()) == list(range(parent + 1, parent + 1 + count))
        ready = sorted(plan["numbers"][s["key"]] for s in subtasks if not s["depends_on_keys"])
        assert plan["ready"] == ready
        high = {plan["numbers"][s["key"]] for s in subtasks if s["priority"] == "high"}
        first = sorted(ready, key=lambda n: (n not in high, n))[:PLAN_LISTED]
        assert sorted(b["id"] for b in plan["subtasks"].values()) == sorted(first)
        assert {d["task_id"] for d in plan["routing"]} <= {parent, *first}
        assert plan["routed_count"] == count + 1
        assert f"{PREFIX}query_tasks with parent_id={parent} lists them all." in plan["next_step"]
        assert size(plan) < 30_000  # 300 full briefs and decisions took about 60,000
        text = text_of(result)
        assert "key -> number: " + ", ".join(f"{key}={n}" for key, n in plan["numbers"].items()) in text
        assert f"and {len(ready) - 50} more." in text and plan["next_step"] in text
        await client.session.validate_tool_result(PREFIX + "plan_task", result)

        small = (await ok(client, "plan_task", title="Small", subtasks=subtasks[:PLAN_LISTED])).structured_content
        assert small is not None and list(small["subtasks"]) == list(small["numbers"])
        assert len(small["numbers"]) == PLAN_LISTED
        assert "query_tasks" not in small["next_step"]

    run(mode, settings, scenario)


def test_get_status_and_query_tasks_answers_stay_small_with_detail_levels(
    mode: str, settings: Settings, project: Path
) -> None:
    async def scenario(client: Client) -> None:
        await ok(client, "initialize_session", working_directory=str(project))
        subtasks = [
            {
                "key": f"s{i}",
                "title": f"Refactor the schema migration step {i}",
                "labels": ["db", "perf"][: i % 3],
                "depends_on_keys": [f"s{i - 1}"] if i % 2 else [],
            }
            for i in range(30)
        ]
        plan = (await ok(client, "plan_task", title="Migrate the store", subtasks=subtasks)).structured_content
        assert plan is not None
        for task_id in plan["ready"][:4]:
            await ok(client, "execute_task", task_id=task_id)

        status = await ok(client, "get_status")
        assert status.structured_content is not None
        assert size(status.structured_content) + len(text_of(status).encode()) <= ANSWER_BUDGET
        assert len(status.structured_content["ready"]) == 5
        assert len(status.structured_content["blocked"]) == 3
        full = (await ok(client, "get_status", detail="full")).structured_content
        assert full is not None and len(full["ready"]) == 11 and len(full["blocked"]) == 15

        brief = await ok(client, "query_tasks", limit=20)
        rows = (brief.structured_content or {})["tasks"]
        assert len(rows) == 20
        assert size(brief.structured_content) + len(text_of(brief).encode()) <= ANSWER_BUDGET
        assert set(rows[0]) <= {"id", "title", "status", "priority", "version", "parent_id", "labels", "depends_on"}
        assert "id|status|priority|title|parent" in text_of(brief)
        whole = (await ok(client, "query_tasks", limit=20, detail="full")).structured_content
        assert whole is not None and "description" in whole["tasks"][0]
        # The client validated both shapes against the one published schema; so does this:
        for result in (brief, status):
            await client.session.validate_tool_result(
                PREFIX + ("query_tasks" if result is brief else "get_status"), result
            )

    run(mode, settings, scenario)


def test_refusals_read_like_taskorch_errors_without_the_sdk_prefix(
    mode: str, settings: Settings, project: Path
) -> None:
    async def scenario(client: Client) -> None:
        await ok(client, "initialize_session", working_directory=str(project))
        cases: list[tuple[str, dict[str, Any], str]] = [
            (
                "plan_task",
                {"title": "Plan", "subtasks": [{"key": "a", "title": "A"}, {"key": "b", "title": ""}]},
                "invalid_input: subtasks.1.title: is empty. Fix: give at least 1 character.",
            ),
            (
                "plan_task",
                {"title": "Plan", "subtasks": [{"key": "a", "title": "A", "owner": "me"}]},
                "invalid_input: subtasks.0.owner: is not an accepted field here. Fix: remove it",
            ),
            (
                "plan_task",
                {"title": "Plan", "complexity": "huge"},
                "invalid_input: complexity: is not one of the accepted values. Fix: use one of: 'trivial'",
            ),
            ("complete_task", {"task_id": 1}, "invalid_input: summary: is required. Fix: pass it."),
            ("execute_task", {"task_id": 99}, "not_found: task 99 not found in project"),
        ]
        for name, arguments, expected in cases:
            result = await client.call_tool(PREFIX + name, arguments)
            assert result.is_error
            text = text_of(result)
            assert text.startswith(expected), text
            assert "Error executing tool" not in text
            assert "pydantic" not in text and "https://" not in text

    run(mode, settings, scenario)
