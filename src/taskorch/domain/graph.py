"""The dependency graph: cycle detection and dependency order, over plain ids.

Pure functions on adjacency mappings ``node -> the nodes it depends on``. Node ids are any
hashable value (task ids, or a plan's local keys before the tasks exist).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

__all__ = ["find_cycle", "topological_order"]

N = TypeVar("N", bound=Hashable)


def find_cycle(depends_on: Mapping[N, Iterable[N]]) -> list[N] | None:
    """Return one cycle as ``[a, b, ..., a]`` if the graph has one, else ``None``.

    Nodes that appear only as a dependency (not as a key) are leaves. Iterative depth-first
    search, so deep chains (100,000 tasks in a line) do not hit the recursion limit.
    O(nodes + edges).
    """
    white, grey, black = 0, 1, 2
    colour: dict[N, int] = {}
    for root in depends_on:
        if colour.get(root, white) != white:
            continue
        path: list[N] = [root]
        stack = [iter(depends_on.get(root, ()))]
        colour[root] = grey
        while stack:
            advanced = False
            for nxt in stack[-1]:
                state = colour.get(nxt, white)
                if state == grey:
                    start = path.index(nxt)
                    return [*path[start:], nxt]
                if state == white:
                    colour[nxt] = grey
                    path.append(nxt)
                    stack.append(iter(depends_on.get(nxt, ())))
                    advanced = True
                    break
            if not advanced:
                colour[path.pop()] = black
                stack.pop()
    return None


def topological_order(depends_on: Mapping[N, Iterable[N]]) -> list[N]:
    """Order the keys so that every node comes after the nodes it depends on.

    Ties keep the mapping's insertion order. Raises ``ValueError`` on a cycle (call
    :func:`find_cycle` first for a readable one).
    """
    keys = list(depends_on)
    deps = {k: [d for d in depends_on[k] if d in depends_on] for k in keys}
    remaining = {k: len(set(v)) for k, v in deps.items()}
    dependents: dict[N, list[N]] = {k: [] for k in keys}
    for k, v in deps.items():
        for d in set(v):
            dependents[d].append(k)
    ready = [k for k in keys if remaining[k] == 0]
    order: list[N] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for dependent in dependents[node]:
            remaining[dependent] -= 1
            if remaining[dependent] == 0:
                ready.append(dependent)
    if len(order) != len(keys):
        raise ValueError("the dependency graph has a cycle")
    return order
