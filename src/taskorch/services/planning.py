"""Planning: one task, or a parent with a breakdown of subtasks, created in one transaction.

Everything is checked before anything is written, so an invalid plan changes nothing: unknown
or foreign ids, a dependency on an ancestor, duplicate or unknown local keys, a cycle, an unknown
specialist role. Where no specialist is given, the router picks one and the result says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from taskorch.domain.graph import find_cycle, topological_order
from taskorch.domain.model import TERMINAL_STATUSES, TaskStatus
from taskorch.errors import Conflict, DependencyCycle, InvalidInput
from taskorch.hints import Hint, Message, attach, render
from taskorch.services import views
from taskorch.services.models import PlanResult, RoutingDecision, SubtaskSpec, TaskFields
from taskorch.specialists import RoleLibrary, route
from taskorch.store import repository as repo
from taskorch.store.tables import tasks

__all__ = ["PLAN_LISTED", "ancestors", "check_dependencies", "plan_task"]

#: A plan with more subtasks than this lists the briefs (and routing decisions) of this many of
#: them only, its first ready ones by priority; ``PlanResult.numbers`` maps every key to a number.
PLAN_LISTED = 50


def ancestors(conn: Connection, task_id: int | None) -> list[RowMapping]:
    """The chain of parents of ``task_id`` (itself first when given), up to the root."""
    chain: list[RowMapping] = []
    seen: set[int] = set()
    while task_id is not None and task_id not in seen:
        seen.add(task_id)
        row = repo.get_task(conn, task_id)
        chain.append(row)
        task_id = row["parent_id"]
    return chain


def check_dependencies(
    conn: Connection, session_id: int, numbers: Sequence[int], *, field: str, forbidden: Sequence[int]
) -> list[int]:
    """Resolve dependency task ``numbers`` of the session to internal ids, in order.

    Each must be a live task of the session, and none of ``forbidden`` (internal ids: the task
    itself, its ancestors). Raises :class:`InvalidInput` naming the number.
    """
    if not numbers:
        return []
    found = {
        row["number"]: row
        for row in conn.execute(
            select(tasks).where(tasks.c.session_id == session_id, tasks.c.number.in_(list(dict.fromkeys(numbers))))
        ).mappings()
    }
    for dep in numbers:
        row = found.get(dep)
        if row is None:
            raise InvalidInput(
                field,
                f"task {dep} does not exist in this project.",
                ("use task numbers of this project (", Hint("query_tasks"), ")."),
            )
        if row["archived"]:
            raise InvalidInput(field, f"task {dep} is archived.", "depend on a live task.")
        if row["id"] in forbidden:
            raise InvalidInput(
                field,
                f"task {dep} is the task itself or one of its parents; it cannot finish before its subtasks.",
                "remove it from the dependencies.",
            )
    return [found[dep]["id"] for dep in numbers]


def _resolve_specialist(roles: RoleLibrary, spec: TaskFields, field: str) -> tuple[str, str, bool]:
    if spec.specialist_type:
        if spec.specialist_type not in roles:
            raise InvalidInput(
                field, f"unknown role {spec.specialist_type!r}.", f"use one of: {', '.join(roles.names())}."
            )
        return spec.specialist_type, "given by the caller", False
    name, reason = route(
        roles,
        title=spec.title,
        description=spec.description,
        task_type=spec.task_type.value,
        complexity=spec.complexity.value,
    )
    return name, reason, True


def _columns(spec: TaskFields, specialist: str, reason: str) -> dict[str, Any]:
    return {
        "title": spec.title,
        "description": spec.description,
        "task_type": spec.task_type.value,
        "complexity": spec.complexity.value,
        "priority": spec.priority.value,
        "specialist_type": specialist,
        "routing_reason": reason,
        "estimated_effort": spec.estimated_effort,
        "due_date": spec.due_date,
        "acceptance_criteria": list(spec.acceptance_criteria),
        "context": spec.context,
        "labels": list(spec.labels),
    }


def plan_task(
    conn: Connection,
    *,
    session_id: int,
    task: TaskFields,
    subtasks: Sequence[SubtaskSpec],
    parent_id: int | None,
    roles: RoleLibrary,
    at: datetime,
    tool: str = "plan_task",
) -> PlanResult:
    """Create ``task`` (under ``parent_id`` if given) and its ``subtasks``; all or nothing.

    Raises :class:`InvalidInput` (naming the offending field, e.g. ``subtasks[2].depends_on_keys``),
    :class:`DependencyCycle`, :class:`Conflict` (parent finished or archived).
    """
    chain: list[RowMapping] = []
    if parent_id is not None:
        chain = ancestors(conn, parent_id)
        parent = chain[0]
        if parent["session_id"] != session_id:
            raise InvalidInput(
                "parent_id", "names a task of another project.", "plan under a task of this project, or omit parent_id."
            )
        if parent["archived"] or TaskStatus(parent["status"]) in TERMINAL_STATUSES:
            state = "archived" if parent["archived"] else parent["status"]
            raise Conflict(f"task {parent['number']} is {state}; new subtasks cannot be added to it. Plan a new task.")
    ancestor_ids = [row["id"] for row in chain]
    root_deps = check_dependencies(conn, session_id, task.depends_on, field="depends_on", forbidden=ancestor_ids)

    sub_deps: list[list[int]] = []
    keys: dict[str, int] = {}
    for index, sub in enumerate(subtasks):
        if sub.key in keys:
            raise InvalidInput(f"subtasks[{index}].key", f"key {sub.key!r} is used twice.", "give each a unique key.")
        keys[sub.key] = index
    for index, sub in enumerate(subtasks):
        for dep_key in sub.depends_on_keys:
            if dep_key not in keys:
                raise InvalidInput(
                    f"subtasks[{index}].depends_on_keys",
                    f"no subtask has key {dep_key!r}.",
                    f"use keys of this plan: {', '.join(keys) or '(none)'}.",
                )
        # A subtask may not wait for the new parent or its ancestors: they finish after it.
        sub_deps.append(
            check_dependencies(
                conn, session_id, sub.depends_on, field=f"subtasks[{index}].depends_on", forbidden=ancestor_ids
            )
        )
    graph = {sub.key: list(sub.depends_on_keys) for sub in subtasks}
    cycle = find_cycle(graph)
    if cycle is not None:
        raise DependencyCycle("subtasks.depends_on_keys", cycle)

    if subtasks and task.specialist_type is None and "coordinator" in roles:
        # The parent of a breakdown is coordination work: its subtasks carry the specialist work.
        root_specialist, root_reason, root_routed = (
            "coordinator",
            f"parent of {len(subtasks)} subtask(s): coordination goes to coordinator",
            True,
        )
    else:
        root_specialist, root_reason, root_routed = _resolve_specialist(roles, task, "specialist_type")
    resolved = [
        _resolve_specialist(roles, sub, f"subtasks[{index}].specialist_type") for index, sub in enumerate(subtasks)
    ]

    # Everything is valid: write.
    root_id = repo.insert_task(
        conn,
        session_id=session_id,
        parent_id=parent_id,
        fields=_columns(task, root_specialist, root_reason),
        depends_on=root_deps,
        tool=tool,
        at=at,
    )
    routing = [(root_id, root_specialist, root_reason)] if root_routed else []
    # The subtasks in a few set-based statements, numbered in dependency order.
    order = topological_order(graph)
    position = {key: pos for pos, key in enumerate(order)}
    inserted = repo.insert_tasks(
        conn,
        session_id=session_id,
        parent_id=root_id,
        new=[
            repo.NewTask(
                fields=_columns(subtasks[keys[key]], resolved[keys[key]][0], resolved[keys[key]][1]),
                depends_on=sub_deps[keys[key]],
                after=[position[k] for k in subtasks[keys[key]].depends_on_keys],
            )
            for key in order
        ],
        tool=tool,
        at=at,
    )
    ids: dict[str, int] = dict(zip(order, inserted, strict=True))
    routing += [(ids[key], resolved[keys[key]][0], resolved[keys[key]][1]) for key in order if resolved[keys[key]][2]]

    created = [root_id, *ids.values()]
    rows = repo.summary_rows(conn, created)
    ready = [i for i in created if rows[i]["unmet_dependencies"] == 0 and rows[i]["open_subtasks"] == 0]
    ready.sort(key=lambda i: (rows[i]["priority_rank"], i))
    by_id = {row_id: key for key, row_id in ids.items()}
    # A large plan lists the briefs (and routing) of its first ready subtasks only: everything
    # else is one query_tasks away, and a 1,000-brief answer costs its reader more than its writer.
    listed = list(ids.values()) if len(ids) <= PLAN_LISTED else [i for i in ready if i in by_id][:PLAN_LISTED]
    subtask_briefs = {by_id[i]: views.brief(rows[i]) for i in sorted(listed, key=lambda i: rows[i]["number"])}
    if len(ids) > PLAN_LISTED:
        shown = {root_id, *listed}
        routing_shown = [decision for decision in routing if decision[0] in shown]
    else:
        routing_shown = routing
    # The subtasks are listed in ``subtasks``: the parent's view does not repeat them.
    root_view = views.task_views(conn, [repo.get_task(conn, root_id)])[0]
    next_step: Message
    if ready:
        first = rows[ready[0]]
        next_step = (
            "Call ",
            Hint("execute_task", {"task_id": first["number"]}),
            f" ('{first['title']}') to start; {len(ready)} planned task(s) are ready.",
        )
    else:
        next_step = ("Nothing planned is ready yet: its dependencies are unfinished. See ", Hint("get_status"), ".")
    if len(ids) > PLAN_LISTED:
        next_step += (
            f" This answer lists {len(listed)} of the {len(ids)} subtasks (the first ready ones); ",
            Hint("query_tasks", {"parent_id": rows[root_id]["number"]}),
            " lists them all.",
        )
    result = PlanResult(
        session_id=session_id,
        task=root_view,
        numbers=dict(sorted(((key, rows[row_id]["number"]) for key, row_id in ids.items()), key=lambda kv: kv[1])),
        subtasks=subtask_briefs,
        routing=[
            RoutingDecision(task_id=rows[i]["number"], specialist_type=name, reason=why)
            for i, name, why in routing_shown
        ],
        routed_count=len(routing),
        ready=sorted(rows[i]["number"] for i in ready),
        next_step=render(next_step),
    )
    return attach(result, next_step)
