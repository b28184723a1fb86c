"""The task graph: layout, critical path, Mermaid / DOT / SVG escaping, `taskorch graph`, and the
diagrams carried by the handover and the synthesis."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taskorch.cli.app import app
from taskorch.domain.taskgraph import GraphNode, critical_path, dot, layout, mermaid, mermaid_label, svg
from taskorch.services.app import Orchestrator
from taskorch.services.models import SubtaskSpec, TaskFields

HOSTILE = 'Fix "quotes" [x] <script>alert(1)</script> & `tick` #1;\x1b[31m\u2028end'


def chain() -> list[GraphNode]:
    return [
        GraphNode(1, "root", "in_progress"),
        GraphNode(2, "a", "completed", parent=1),
        GraphNode(3, "b", "pending", parent=1, depends_on=(2,), ready=True),
        GraphNode(4, "c", "pending", parent=1, depends_on=(3,)),
        GraphNode(5, "d", "blocked", depends_on=(4, 99)),
        GraphNode(6, "e", "pending", depends_on=(3,)),
    ]


def test_critical_path_is_the_longest_chain_of_unfinished_dependencies() -> None:
    assert critical_path(chain()) == [3, 4, 5]
    assert critical_path([GraphNode(1, "x", "pending"), GraphNode(2, "y", "completed", depends_on=(1,))]) == []


def test_layout_puts_every_task_below_its_parent_and_dependencies() -> None:
    drawing = layout(chain())
    y = {p.node.number: p.y for p in drawing.nodes}
    for a, b, _kind in drawing.edges:
        assert y[a] < y[b]
    assert (99, 5, "depends") not in drawing.edges  # a task not in the picture is left out
    assert {p.node.number for p in drawing.nodes if p.critical} == {3, 4, 5}
    boxes = {(p.x, p.y) for p in drawing.nodes}
    assert len(boxes) == len(drawing.nodes)  # no two boxes on one spot


def test_mermaid_labels_cannot_break_out() -> None:
    label = mermaid_label(HOSTILE)
    assert not re.search(r"[\"<>\[\]`&\x00-\x1f\u2028]", label.replace("#", "").replace(";", ""))
    text = mermaid([GraphNode(7, HOSTILE, "pending", ready=True)])
    assert text.startswith("```mermaid\nflowchart TD\n") and text.endswith("```\n")
    assert "<script>" not in text and text.count("```") == 2
    node_line = next(line for line in text.splitlines() if line.strip().startswith("t7["))
    assert node_line.count('"') == 2


def test_dot_and_svg_escape_titles() -> None:
    nodes = [GraphNode(7, HOSTILE, "pending"), GraphNode(8, "next", "pending", depends_on=(7,))]
    text = dot(nodes)
    assert "\x1b" not in text and '\\"quotes\\"' in text and "t7 -> t8" in text
    picture = svg(layout(nodes), link=lambda n: f"/task/{n}?a=1&b=2")
    root = ET.fromstring(picture)  # well-formed XML: nothing escaped its text
    assert not any(el.tag.endswith("script") for el in root.iter())
    assert "<script>" not in picture and "&lt;script&gt;" in picture


def plan(orch: Orchestrator) -> dict[str, int]:
    result = orch.plan_task(
        TaskFields(title="Ship search"),
        [
            SubtaskSpec(key="api", title="Search API"),
            SubtaskSpec(key="ui", title="Search [UI] <b>", depends_on_keys=["api"]),
        ],
    )
    return {"parent": result.task.id, **{k: b.id for k, b in result.subtasks.items()}}


def test_handover_and_synthesis_carry_the_diagram(orch: Orchestrator) -> None:
    ids = plan(orch)
    report = orch.maintenance_coordinator("prepare_handover").report or ""
    assert "## Task graph" in report and "```mermaid" in report
    assert f"t{ids['parent']} -.-> t{ids['api']}" in report
    assert "<b>" not in report.split("```mermaid")[1]
    orch.execute_task(ids["api"])
    orch.complete_task(ids["api"], "done")
    synthesis = orch.synthesize_results(ids["parent"]).synthesis
    assert "### Subtasks" in synthesis
    assert "Search API<br/>completed" in synthesis
    assert f"t{ids['api']} --> t{ids['ui']}" in synthesis


def test_task_graph_service_and_cli(orch: Orchestrator, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = plan(orch)
    result = orch.task_graph()
    assert [t.id for t in result.tasks] == sorted(ids.values())
    assert result.critical_path == [ids["api"], ids["ui"]]
    assert next(t for t in result.tasks if t.id == ids["api"]).ready
    monkeypatch.setenv("TASKORCH_DATABASE_URL", orch.settings.database_url)
    monkeypatch.chdir(project)
    runner = CliRunner()
    out = runner.invoke(app, ["graph"])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("```mermaid")
    out = runner.invoke(app, ["graph", "--format", "dot"])
    assert out.stdout.startswith("digraph tasks {")
    target = project / "graph.svg"
    out = runner.invoke(app, ["graph", "--format", "svg", "--output", str(target)])
    assert out.exit_code == 0, out.output
    ET.fromstring(target.read_text(encoding="utf-8"))
    data = json.loads(runner.invoke(app, ["graph", "--json"]).stdout)
    assert data["critical_path"] == [ids["api"], ids["ui"]]
