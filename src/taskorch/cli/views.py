"""``taskorch graph`` and ``taskorch web``: the task graph as text, and the read-only web view.

``graph [--format mermaid|svg|dot] [--output FILE]`` prints the project's graph (or writes it to
FILE); ``web [--port N] [--no-browser]`` serves the web view on 127.0.0.1 for one person (no
token: nothing but this machine can reach it) and opens it in the browser.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["graph", "web"]

ProjectOpt = Annotated[
    Path,
    typer.Option(
        "--project", "-C", help="A directory inside the project (default: the current directory).", show_default=False
    ),
]


class GraphFormatOpt(StrEnum):
    mermaid = "mermaid"
    svg = "svg"
    dot = "dot"


def graph(
    fmt: Annotated[
        GraphFormatOpt, typer.Option("--format", "-f", help="mermaid (a Markdown block), svg or dot (Graphviz).")
    ] = GraphFormatOpt.mermaid,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the picture to this file instead of printing it.")
    ] = None,
    project: ProjectOpt = Path(),
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON.")] = False,
) -> None:
    """The task graph: parents, subtasks and dependencies with status, the critical path marked."""
    from taskorch.cli.app import _run

    def render(result: Any) -> None:
        if output is not None:
            output.write_text(result.picture, encoding="utf-8")
            print(f"wrote {output} ({len(result.tasks)} task(s))", file=sys.stderr)
        else:
            sys.stdout.write(result.picture)

    _run(lambda o: o.task_graph(fmt=fmt.value), as_json=as_json, render=render, project=project)


def web(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0: any free port).")] = 8770,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the browser.")] = False,
    project: ProjectOpt = Path(),
) -> None:
    """Serve the read-only web view (graph, board, releases, sync health, activity) on 127.0.0.1."""
    from taskorch.web.serve import serve_local

    raise typer.Exit(serve_local(port=port, open_browser=not no_browser, project=str(project.expanduser().absolute())))
