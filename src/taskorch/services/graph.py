"""The task graph of a project: its nodes read from the store, and its pictures.

:func:`~taskorch.store.taskgraph.graph_nodes` reads the live tasks of a session (or the subtasks of one parent) as
:class:`~taskorch.domain.taskgraph.GraphNode` values in three indexed queries (tasks,
dependencies, issue links); :func:`task_graph` adds the critical path and a picture in the format
asked for. The layout and the pictures themselves are pure functions in
:mod:`taskorch.domain.taskgraph`; the sync layer draws a parent's issue body from the same
functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from taskorch.domain import taskgraph
from taskorch.domain.model import TaskStatus
from taskorch.store.taskgraph import graph_nodes

__all__ = ["GraphFormat", "GraphNodeView", "GraphResult", "render", "task_graph"]

GraphFormat = Literal["mermaid", "svg", "dot"]


class GraphNodeView(BaseModel):
    """One task of the graph: its number, title, status, parent number, dependency numbers, the
    actor holding its claim, its linked issue number, and whether it is ready to start."""

    id: int
    title: str
    status: TaskStatus
    parent_id: int | None
    depends_on: list[int]
    claimed_by: str | None
    issue_number: int | None
    ready: bool


class GraphResult(BaseModel):
    """The project's live tasks as a graph, with its critical path and a picture."""

    session_id: int
    tasks: list[GraphNodeView]
    critical_path: list[int] = Field(
        description="Numbers of the longest chain of unfinished tasks linked by dependencies, first to do first."
    )
    format: GraphFormat
    picture: str = Field(description="The graph as Mermaid (a fenced Markdown block), SVG or Graphviz DOT text.")


def render(nodes: Sequence[taskgraph.GraphNode], fmt: GraphFormat) -> str:
    """``nodes`` as Mermaid, SVG (standalone, viewable on its own) or DOT text."""
    if fmt == "mermaid":
        return taskgraph.mermaid(nodes)
    if fmt == "dot":
        return taskgraph.dot(nodes)
    return taskgraph.svg(taskgraph.layout(nodes))


def task_graph(conn: Connection, session_id: int, fmt: GraphFormat = "mermaid") -> GraphResult:
    """The graph of session ``session_id`` with its critical path and its picture in ``fmt``."""
    nodes = graph_nodes(conn, session_id)
    return GraphResult(
        session_id=session_id,
        tasks=[
            GraphNodeView(
                id=n.number,
                title=n.title,
                status=TaskStatus(n.status),
                parent_id=n.parent,
                depends_on=list(n.depends_on),
                claimed_by=n.claimed_by,
                issue_number=n.issue_number,
                ready=n.ready,
            )
            for n in nodes
        ],
        critical_path=taskgraph.critical_path(nodes),
        format=fmt,
        picture=render(nodes, fmt),
    )
