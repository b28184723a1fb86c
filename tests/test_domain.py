"""The pure model: the transition table and the dependency graph."""

from __future__ import annotations

import itertools

import pytest

from taskorch.domain.graph import find_cycle, topological_order
from taskorch.domain.model import TERMINAL_STATUSES, TRANSITIONS, Priority, TaskStatus, check_transition
from taskorch.errors import InvalidTransition


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c in TaskStatus for t in TaskStatus if t in TRANSITIONS[c]],
)
def test_allowed_transitions_pass(current: TaskStatus, target: TaskStatus) -> None:
    check_transition(1, current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c in TaskStatus for t in TaskStatus if t not in TRANSITIONS[c]],
)
def test_forbidden_transitions_raise_with_the_allowed_moves(current: TaskStatus, target: TaskStatus) -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(7, current, target)
    message = str(info.value)
    assert "task 7" in message
    if current in TERMINAL_STATUSES:
        assert "final" in message
    else:
        for allowed in TRANSITIONS[current]:
            assert allowed.value in message


def test_terminal_statuses_go_nowhere() -> None:
    assert all(not TRANSITIONS[s] for s in TERMINAL_STATUSES)
    assert TaskStatus.COMPLETED in TRANSITIONS[TaskStatus.IN_PROGRESS]
    assert TaskStatus.COMPLETED not in TRANSITIONS[TaskStatus.PENDING]


def test_priority_rank_serves_critical_first() -> None:
    ordered = sorted(Priority, key=lambda p: p.rank)
    assert ordered == [Priority.CRITICAL, Priority.HIGH, Priority.MEDIUM, Priority.LOW]


def test_find_cycle_returns_the_cycle_in_order() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    cycle = find_cycle(graph)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    for node, nxt in itertools.pairwise(cycle):
        assert nxt in graph[node]


def test_find_cycle_none_for_a_dag_and_self_loop_detected() -> None:
    assert find_cycle({1: [2, 3], 2: [3], 3: []}) is None
    assert find_cycle({1: [1]}) == [1, 1]
    assert find_cycle({}) is None


def test_find_cycle_handles_a_deep_chain_without_recursion() -> None:
    n = 50_000
    chain = {i: [i + 1] for i in range(n)}
    assert find_cycle(chain) is None
    chain[n] = [0]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == n + 2


def test_topological_order_puts_dependencies_first_and_keeps_ties_stable() -> None:
    graph = {"tests": ["impl"], "impl": ["design"], "docs": ["impl"], "design": []}
    order = topological_order(graph)
    assert order.index("design") < order.index("impl") < order.index("tests")
    assert order.index("impl") < order.index("docs")
    assert topological_order({"x": [], "y": [], "z": []}) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"]})
