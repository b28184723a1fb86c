"""Pictures of the task graph: a layered layout, the critical path, and Mermaid, DOT and SVG text.

Pure functions over :class:`GraphNode` values (no I/O, nothing of ours but the statuses). A node
is a task named by its number; its edges are its dependencies (``depends_on``, drawn solid, from
the dependency to the task) and its parent (``parent``, drawn dashed, from the parent to the
subtask). Numbers a node names that are not in the picture (archived or deleted tasks) are left
out.

Everything a person or a platform wrote (titles, claims) is escaped for the target language:
Mermaid labels through :func:`mermaid_label`, DOT strings through :func:`dot_string`, SVG text
through :func:`xml_text`; control characters become spaces. Layout and rendering are linear in
nodes plus edges (a few barycentre sweeps), so a 10,000-task project lays out in well under a
second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "STATUS_MARKS",
    "UNFINISHED",
    "GraphNode",
    "Layout",
    "PlacedNode",
    "critical_path",
    "dot",
    "dot_string",
    "layout",
    "markdown_diagram",
    "mermaid",
    "mermaid_label",
    "svg",
    "xml_text",
]

#: The statuses of work still to do.
UNFINISHED = frozenset({"pending", "in_progress", "blocked"})
#: Status as a mark and a word, so colour is never the only signal.
STATUS_MARKS: Mapping[str, str] = {
    "pending": "○",
    "in_progress": "◐",
    "blocked": "⊘",
    "completed": "✓",
    "cancelled": "✗",
}
#: Most tasks a Markdown diagram shows (Mermaid stops drawing long before 10,000 boxes).
MARKDOWN_LIMIT = 150
#: Longest title shown in a picture, in characters (the rest becomes an ellipsis).
TITLE_LIMIT = 60

NODE_WIDTH = 230
NODE_HEIGHT = 58
COLUMN_GAP = 24
LAYER_GAP = 70
MARGIN = 16


@dataclass(frozen=True)
class GraphNode:
    """One task in a picture: ``number`` in its project, ``status`` (a TaskStatus value),
    ``parent`` number, ``depends_on`` numbers, the actor holding its claim, its linked issue
    number, and whether it is in the ready queue."""

    number: int
    title: str
    status: str
    parent: int | None = None
    depends_on: tuple[int, ...] = ()
    claimed_by: str | None = None
    issue_number: int | None = None
    ready: bool = False


@dataclass(frozen=True)
class PlacedNode:
    """A node with its box: ``x``, ``y`` (top left), in SVG user units (pixels at 100 %)."""

    node: GraphNode
    layer: int
    x: int
    y: int
    critical: bool


@dataclass(frozen=True)
class Layout:
    """A layered drawing: ``nodes`` placed, ``edges`` as (from, to, kind) with kind ``depends``
    or ``parent``, the critical path (numbers, first to do first), and the size of the picture."""

    nodes: list[PlacedNode]
    edges: list[tuple[int, int, str]]
    critical: list[int]
    width: int
    height: int
    by_number: dict[int, PlacedNode] = field(default_factory=dict)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _clean(text: str, limit: int = TITLE_LIMIT) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _edges(nodes: Sequence[GraphNode]) -> list[tuple[int, int, str]]:
    present = {n.number for n in nodes}
    out: list[tuple[int, int, str]] = []
    for n in nodes:
        if n.parent is not None and n.parent in present:
            out.append((n.parent, n.number, "parent"))
        out += [(d, n.number, "depends") for d in dict.fromkeys(n.depends_on) if d in present and d != n.number]
    return out


def _topological(numbers: Iterable[int], edges: Iterable[tuple[int, int, str]]) -> list[int]:
    """Kahn's order of ``numbers`` along ``edges``; nodes on a cycle (never stored) come last."""
    order_in = list(numbers)
    indegree = dict.fromkeys(order_in, 0)
    successors: dict[int, list[int]] = {n: [] for n in order_in}
    for a, b, _kind in edges:
        if a in indegree and b in indegree:
            successors[a].append(b)
            indegree[b] += 1
    queue = [n for n in order_in if indegree[n] == 0]
    out: list[int] = []
    while queue:
        current = queue.pop()
        out.append(current)
        for nxt in successors[current]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    seen = set(out)
    return out + [n for n in order_in if n not in seen]


def critical_path(nodes: Sequence[GraphNode]) -> list[int]:
    """The longest chain of unfinished tasks linked by dependencies, first to do first.

    Counted in tasks; ties go to the chain whose tasks have the smallest numbers. Empty when no
    unfinished task depends on another unfinished one (a chain of one is no path).
    """
    unfinished = {n.number: n for n in nodes if n.status in UNFINISHED}
    edges = [(a, b, k) for a, b, k in _edges(nodes) if k == "depends" and a in unfinished and b in unfinished]
    predecessors: dict[int, list[int]] = {n: [] for n in unfinished}
    for a, b, _k in edges:
        predecessors[b].append(a)
    length: dict[int, int] = {}
    best_from: dict[int, int | None] = {}
    for number in _topological(sorted(unfinished), edges):
        choices = sorted((-length.get(p, 1), p) for p in predecessors[number] if p in length)
        if choices:
            length[number] = 1 - choices[0][0]
            best_from[number] = choices[0][1]
        else:
            length[number] = 1
            best_from[number] = None
    if not length:
        return []
    end = min(length, key=lambda n: (-length[n], n))
    if length[end] < 2:
        return []
    path: list[int] = []
    current: int | None = end
    while current is not None:
        path.append(current)
        current = best_from[current]
    return path[::-1]


def layout(nodes: Sequence[GraphNode], sweeps: int = 4) -> Layout:
    """A layered (Sugiyama-style) drawing, top to bottom.

    Layers by longest path from the sources (a task sits below its parent and every dependency),
    order within a layer by the barycentre of the neighbours in the layer above, then below,
    ``sweeps`` times; boxes are :data:`NODE_WIDTH` by :data:`NODE_HEIGHT`. O(sweeps * (nodes +
    edges) + nodes log nodes).
    """
    edges = _edges(nodes)
    by_number = {n.number: n for n in nodes}
    order = _topological([n.number for n in nodes], edges)
    preds: dict[int, list[int]] = {n: [] for n in by_number}
    succs: dict[int, list[int]] = {n: [] for n in by_number}
    for a, b, _k in edges:
        preds[b].append(a)
        succs[a].append(b)
    layer: dict[int, int] = {}
    for number in order:
        layer[number] = max((layer[p] + 1 for p in preds[number] if p in layer), default=0)
    layers: list[list[int]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for number in sorted(by_number):
        layers[layer[number]].append(number)
    position = {n: i for row in layers for i, n in enumerate(row)}

    def sweep(rows: Iterable[list[int]], neighbours: Mapping[int, list[int]]) -> None:
        for row in rows:
            keyed = []
            for index, number in enumerate(row):
                near = neighbours[number]
                centre = sum(position[m] for m in near) / len(near) if near else float(index)
                keyed.append((centre, index, number))
            keyed.sort()
            row[:] = [number for _c, _i, number in keyed]
            for index, number in enumerate(row):
                position[number] = index

    for _ in range(sweeps):
        sweep(layers[1:], preds)
        sweep(reversed(layers[:-1]), succs)
    critical = critical_path(nodes)
    on_path = set(critical)
    widest = max((len(row) for row in layers), default=0)
    width = 2 * MARGIN + widest * NODE_WIDTH + max(0, widest - 1) * COLUMN_GAP
    placed: list[PlacedNode] = []
    for depth, row in enumerate(layers):
        row_width = len(row) * NODE_WIDTH + max(0, len(row) - 1) * COLUMN_GAP
        left = (width - row_width) // 2
        for index, number in enumerate(row):
            placed.append(
                PlacedNode(
                    node=by_number[number],
                    layer=depth,
                    x=left + index * (NODE_WIDTH + COLUMN_GAP),
                    y=MARGIN + depth * (NODE_HEIGHT + LAYER_GAP),
                    critical=number in on_path,
                )
            )
    height = 2 * MARGIN + len(layers) * NODE_HEIGHT + max(0, len(layers) - 1) * LAYER_GAP
    return Layout(
        nodes=placed,
        edges=edges,
        critical=critical,
        width=max(width, NODE_WIDTH + 2 * MARGIN),
        height=max(height, NODE_HEIGHT + 2 * MARGIN),
        by_number={p.node.number: p for p in placed},
    )


# -- Mermaid ------------------------------------------------------------------------------------

_MERMAID_SAFE = re.compile(r"[\w .,:;!?()/+=@-]", re.UNICODE)


def mermaid_label(text: str) -> str:
    """``text`` for a quoted Mermaid label: control characters as spaces, every character that
    could end the label or be read as markup (quotes, brackets, ``<``, ``&``, backticks, ``#``)
    as a Mermaid entity code (``#60;``)."""
    return "".join(ch if _MERMAID_SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in _clean(text))


def mermaid(nodes: Sequence[GraphNode], *, critical: bool = True) -> str:
    """A ```` ```mermaid ```` flowchart (top down) of ``nodes``: each box "#number mark title"
    with its status in words, dependency edges solid, parent edges dotted, the critical path in a
    ``critical`` class. Returns the fenced block, ending with a newline."""
    path = set(critical_path(nodes)) if critical else set()
    lines = ["```mermaid", "flowchart TD"]
    for n in sorted(nodes, key=lambda n: n.number):
        extra = []
        if n.ready:
            extra.append("ready")
        if n.claimed_by:
            extra.append(f"claimed by {n.claimed_by}")
        if n.issue_number is not None:
            extra.append(f"issue {n.issue_number}")
        words = n.status.replace("_", " ") + (", " + ", ".join(extra) if extra else "")
        mark = STATUS_MARKS.get(n.status, "")
        head = mermaid_label(f"#{n.number} {mark} {n.title}")
        label = f"{head}<br/>{mermaid_label(words)}"
        kind = n.status if n.status in STATUS_MARKS else "pending"
        lines.append(f'    t{n.number}["{label}"]:::{kind}')
    for a, b, kind in _edges(nodes):
        lines.append(f"    t{a} {'-.->' if kind == 'parent' else '-->'} t{b}")
    lines += [
        "    classDef pending fill:#f4f4f5,stroke:#71717a,color:#18181b",
        "    classDef in_progress fill:#dbeafe,stroke:#1d4ed8,color:#1e3a8a",
        "    classDef blocked fill:#fee2e2,stroke:#b91c1c,color:#7f1d1d",
        "    classDef completed fill:#dcfce7,stroke:#15803d,color:#14532d",
        "    classDef cancelled fill:#e5e7eb,stroke:#9ca3af,color:#4b5563,stroke-dasharray:4 3",
    ]
    if path:
        lines.append("    classDef critical stroke:#c2410c,stroke-width:3px")
        lines.append("    class " + ",".join(f"t{n}" for n in sorted(path)) + " critical")
    lines.append("```")
    return "\n".join(lines) + "\n"


def markdown_diagram(nodes: Sequence[GraphNode], heading: str = "## Task graph") -> list[str]:
    """Lines of a Markdown section holding the Mermaid diagram of ``nodes``: the unfinished tasks
    only when there are more than :data:`MARKDOWN_LIMIT`, and a line saying
    so; no lines when there is no node."""
    if not nodes:
        return []
    shown = list(nodes)
    note: list[str] = []
    if len(shown) > MARKDOWN_LIMIT:
        unfinished = [n for n in shown if n.status in UNFINISHED][:MARKDOWN_LIMIT]
        note = [f"Showing {len(unfinished)} unfinished of {len(shown)} tasks.", ""]
        shown = unfinished
    return [heading, "", *note, mermaid(shown).rstrip("\n")]


# -- DOT ----------------------------------------------------------------------------------------

_DOT_COLOURS = {
    "pending": "#f4f4f5",
    "in_progress": "#dbeafe",
    "blocked": "#fee2e2",
    "completed": "#dcfce7",
    "cancelled": "#e5e7eb",
}


def dot_string(text: str) -> str:
    """``text`` as a DOT double-quoted string (backslashes and quotes escaped, no control
    characters)."""
    return '"' + _clean(text, 10_000).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(nodes: Sequence[GraphNode]) -> str:
    """Graphviz DOT of ``nodes`` (top to bottom), the critical path drawn bold."""
    path = set(critical_path(nodes))
    lines = ["digraph tasks {", "  rankdir=TB;", '  node [shape=box, style="rounded,filled", fontname="sans-serif"];']
    for n in sorted(nodes, key=lambda n: n.number):
        label = f"#{n.number} {STATUS_MARKS.get(n.status, '')} {_clean(n.title)}\n{n.status.replace('_', ' ')}"
        attrs = [f"label={dot_string(label)}", f'fillcolor="{_DOT_COLOURS.get(n.status, "#ffffff")}"']
        if n.number in path:
            attrs.append('penwidth=3, color="#c2410c"')
        lines.append(f"  t{n.number} [{', '.join(attrs)}];")
    for a, b, kind in _edges(nodes):
        style = " [style=dashed]" if kind == "parent" else (" [penwidth=3]" if a in path and b in path else "")
        lines.append(f"  t{a} -> t{b}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- SVG ----------------------------------------------------------------------------------------


def xml_text(text: str) -> str:
    """``text`` for XML character data or a double-quoted attribute."""
    return (
        _CONTROL.sub(" ", text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def svg(drawing: Layout, *, link: Callable[[int], str] | None = None, standalone: bool = True) -> str:
    """The drawing as SVG text: a box per task (class ``status-<status>``, ``critical``,
    ``ready``), its number, status mark and word, title, claim and issue; edges as paths with an
    arrow head. ``link(number)`` gives each box an ``<a href>`` (the web view's task details);
    ``standalone`` adds the XML namespace and inline styles so the file is viewable on its own
    (the web view styles it from its stylesheet instead, under its Content-Security-Policy)."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="taskgraph" width="{drawing.width}" '
        f'height="{drawing.height}" viewBox="0 0 {drawing.width} {drawing.height}" role="img" '
        'aria-labelledby="taskgraph-title">',
        '<title id="taskgraph-title">Task graph: tasks as boxes, dependencies as arrows</title>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
    ]
    if standalone:
        out.append(f"<style>{STANDALONE_CSS}</style>")
    critical_edges = set(zip(drawing.critical, drawing.critical[1:], strict=False))
    for a, b, kind in drawing.edges:
        start, end = drawing.by_number[a], drawing.by_number[b]
        x1, y1 = start.x + NODE_WIDTH // 2, start.y + NODE_HEIGHT
        x2, y2 = end.x + NODE_WIDTH // 2, end.y
        bend = max(20, (y2 - y1) // 2)
        classes = f"edge {kind}" + (" critical" if (a, b) in critical_edges and kind == "depends" else "")
        out.append(
            f'<path class="{classes}" d="M {x1} {y1} C {x1} {y1 + bend}, {x2} {y2 - bend}, {x2} {y2}" '
            'marker-end="url(#arrow)"/>'
        )
    for placed in drawing.nodes:
        n = placed.node
        classes = f"node status-{xml_text(n.status)}" + (" critical" if placed.critical else "")
        classes += " ready" if n.ready else ""
        mark = STATUS_MARKS.get(n.status, "?")
        words = n.status.replace("_", " ")
        if n.ready:
            words = "▶ ready"
        facts = []
        if n.claimed_by:
            facts.append(f"⚑ {n.claimed_by}")
        if n.issue_number is not None:
            facts.append(f"issue #{n.issue_number}")
        detail = " · ".join([words, *facts])
        summary = xml_text(f"Task {n.number}, {n.status.replace('_', ' ')}: {_clean(n.title, 300)}")
        head = f'<g class="{classes}" data-task="{n.number}">'
        if link is not None:
            head += f'<a href="{xml_text(link(n.number))}" aria-label="{summary}">'
        out.append(head)
        out.append(f"<title>{summary}</title>")
        out.append(f'<rect x="{placed.x}" y="{placed.y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="8" ry="8"/>')
        out.append(
            f'<text x="{placed.x + 10}" y="{placed.y + 22}" class="label">'
            f'<tspan class="num">#{n.number} {mark}</tspan> {xml_text(_clean(n.title, 26))}</text>'
        )
        out.append(
            f'<text x="{placed.x + 10}" y="{placed.y + 44}" class="detail">{xml_text(_clean(detail, 36))}</text>'
        )
        out.append("</a></g>" if link is not None else "</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


#: Styles of a standalone SVG file (the web view has the same rules in its stylesheet).
STANDALONE_CSS = (
    "text{font-family:sans-serif;font-size:13px;fill:#18181b}.detail{font-size:11px;fill:#3f3f46}"
    ".num{font-weight:bold}.node rect{stroke-width:1.5px}"
    ".status-pending rect{fill:#f4f4f5;stroke:#71717a}.status-in_progress rect{fill:#dbeafe;stroke:#1d4ed8}"
    ".status-blocked rect{fill:#fee2e2;stroke:#b91c1c}.status-completed rect{fill:#dcfce7;stroke:#15803d}"
    ".status-cancelled rect{fill:#e5e7eb;stroke:#9ca3af;stroke-dasharray:4 3}"
    ".ready rect{stroke-width:3px}.critical rect{stroke:#c2410c;stroke-width:3.5px}"
    ".edge{fill:none;stroke:#71717a;stroke-width:1.3px}.edge.parent{stroke-dasharray:5 4}"
    ".edge.critical{stroke:#c2410c;stroke-width:3px}.arrowhead{fill:#71717a}"
)
