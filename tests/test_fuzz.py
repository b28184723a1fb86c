"""Fuzzing the MCP tools through the in-memory client.

One server and one client serve the whole run; a blocking portal drives the client from the
synchronous hypothesis examples. Each example is a program of calls drawn up front: hostile
arguments for any tool, generated from the tool's own inputSchema (wrong types, huge and negative
numbers, control characters, injection-looking and full-text-operator text, traversal paths,
unknown keys), mixed with valid calls (plan, execute, complete, update, cancel, delete,
synthesize) so the data evolves. Task ids are drawn as references into the ids seen so far and
resolved when the call runs, so drawing never depends on the state of the database.

Every answer must be a success with structured content, or a tool error whose text is written
for the client: no stack trace, no source path, not the SDK's masked message for an exception
that escaped. Afterwards SQLite's integrity check passes and validate_structure finds nothing.

Hostile text has tests of its own at the end: a control character in any text field, over MCP
and through the CLI, is refused naming the dotted field and the character, and changes nothing;
resource URIs and CLI ids of any text give a not-found or a validation error, never a crash.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mcp import Client

import taskorch
from taskorch.config import Settings
from taskorch.domain.model import ArtifactType, Complexity, Priority, TaskType
from taskorch.mcp.server import PREFIX, build_server
from taskorch.services.app import Orchestrator

pytestmark = pytest.mark.slow

#: Examples, and random operations per example after a valid prefix (an operation is one to five calls):
#: about 500 calls in all.
EXAMPLES = 25
STEPS = (8, 12)

SOURCE_ROOTS = (
    str(Path(taskorch.__file__).resolve().parent.parent),
    str(Path(anyio.__file__).resolve().parent.parent),  # site-packages, where the SDK's frames live
)
MASKED = re.compile(r"Error executing tool \S*")
REFUSAL_KIND = re.compile(r"^(?:(\w+): |\d+ (validation) errors? for)")

HOSTILE_STRINGS = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\r\n\r\nHTTP/1.1 200 OK",
    "'; DROP TABLE tasks; --",
    "1 OR 1=1",
    '" OR ""="',
    "Robert'); DELETE FROM status_counts;--",
    "%' UNION SELECT sql FROM sqlite_master --",
    '"NEAR( * OR title:',
    "NEAR(a b, 2)",
    "title:secret*",
    "a AND b OR NOT c",
    '"unterminated',
    "*",
    "^start",
    "-minus +plus",
    "((((",
    "{{ template }}",
    "${HOME}",
    "../../etc/passwd",
    "/etc/passwd",
    "~root/.ssh/id_rsa",
    "~nosuchuser-xyz/project",
    "C:\\Windows\\System32",
    "𝕌𝕟𝕚𝕔𝕠𝕕𝕖 🚀 ｔａｓｋ",
    "İstanbul ǅ ß ﬁ",
    "\u202eevil\u202c",
    "zero\u200bwidth\ufeff",
    "e\u0301\u0301\u0301",
    "null",
    "None",
    "NaN",
    "-1",
    "9" * 40,
    "2026-02-30",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00+05:30",
    "0001-01-01T00:00:00Z",
    "9999-12-31",
]
HOSTILE_INTS = [0, -1, -(2**31), 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(10**30)]
BIG_STRING_SIZES = [64, 65, 201, 301, 501, 2001, 5001, 20001, 50001, 100001]


def weighted(*pairs: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, chosen with the given integer weights."""
    table = [strategy for weight, strategy in pairs for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def prose(max_size: int) -> st.SearchStrategy[str]:
    """Any text a multi-line field accepts: no control character but line feed and tab."""
    return st.text(
        alphabet=st.one_of(st.characters(exclude_categories=["Cc", "Cs"]), st.sampled_from("\n\t")),
        max_size=max_size,
    )


control_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), min_size=1, max_size=8)
big_text = st.builds(
    lambda ch, n: ch * n, st.sampled_from(["x", "é", "🚀", "'", "\x00"]), st.sampled_from(BIG_STRING_SIZES)
)
hostile_text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30), control_text, big_text)
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(HOSTILE_INTS),
    hostile_text,
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
)
extra_keys = st.dictionaries(
    st.one_of(
        st.sampled_from(["__proto__", "constructor", "task_id ", "TITLE", "$where", "_meta"]), st.text(max_size=12)
    ),
    junk,
    min_size=1,
    max_size=3,
)
label_text = st.one_of(
    st.sampled_from(["backend", "api", "ui", "db", "urgent", "tech-debt", "ünïcode", "🚀"]),
    st.sampled_from(["", " ", ",lead", "a,b", "x" * 51]),
    st.text(max_size=12),
)
title_text = weighted(
    (3, st.sampled_from(["Add login rate limiting", "Write migration tests", "Fix flaky search", "Document the API"])),
    (1, st.text(min_size=1, max_size=40)),
    (1, hostile_text),
)


# -- symbolic values, resolved when a call runs ----------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """The ``index``-th task id seen so far (modulo their number)."""

    index: int


@dataclass(frozen=True)
class ReadyRef:
    """The ``index``-th task of the session's ready queue when the call runs (a known id if none)."""

    index: int


@dataclass(frozen=True)
class VersionOf:
    """The version last seen of the call's task_id: ``current``, ``stale`` or ``future``."""

    which: str


@dataclass(frozen=True)
class Place:
    """A path relative to the test's directories, made absolute when the call runs."""

    base: str  # "project", "other" or "outside"
    rest: str = ""


refs = st.builds(Ref, st.integers(0, 10_000))
task_ids = weighted((7, refs), (2, st.sampled_from(HOSTILE_INTS)), (1, st.integers(1, 10_000)))

INSIDE_PATHS = [
    "src/app.py",
    "src/new_module.py",
    "./README.md",
    "docs/../src/app.py",
    "tests/test_ünïcode 🚀.py",
    "~/notes.md",
    "C:\\Windows\\not-special-here.txt",
    Place("project", "src/app.py"),
]
HOSTILE_PATHS = [
    "../../etc/passwd",
    "../" * 12 + "etc/shadow",
    "/etc/passwd",
    "/",
    "..",
    "src/../../outside/secret.txt",
    "escape/secret.txt",
    "escape/../../outside/secret.txt",
    "loop/anything",
    Place("outside", "secret.txt"),
    Place("project", ".."),
    "",
    "   ",
    "\x00",
    "src/app.py\x00.txt",
    "//etc/passwd",
    "src/" + "a" * 300 + "/b.py",
    "a/" * 200 + "deep.py",
]
DIRECTORIES = [
    Place("project"),
    Place("project"),
    Place("project"),
    Place("project", "src"),
    Place("other"),
    Place("outside", "secret.txt"),
    Place("project", "loop"),
    Place("project", "escape"),
    "relative/dir",
    "/nonexistent-dir-xyz",
    "/dev/null",
]


# -- strategies from the tools' input schemas --------------------------------------------------------


def schema_strategy(schema: dict[str, Any], defs: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values for ``schema``: usually of the right shape, one in ten of any type at all."""
    return weighted((9, _shaped(schema, defs, name)), (1, junk))


def _shaped(schema: dict[str, Any], defs: dict[str, Any], name: str) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        return st.one_of(*(_shaped(option, defs, name) for option in schema["anyOf"]))
    if "enum" in schema:
        return weighted((3, st.sampled_from(schema["enum"])), (1, hostile_text))
    kind = schema.get("type")
    if kind == "integer":
        if name.endswith(("id", "ids")) or name == "depends_on":
            return task_ids
        return st.one_of(st.integers(-5, 300), st.sampled_from(HOSTILE_INTS))
    if kind == "string":
        if schema.get("format") in ("date", "date-time"):
            return st.one_of(
                st.dates().map(str),
                st.datetimes().map(lambda d: d.isoformat()),
                st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-13-45", "yesterday"]),
            )
        if name == "working_directory":
            return st.one_of(st.sampled_from(DIRECTORIES), hostile_text)
        return hostile_text
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(schema_strategy(schema.get("items", {}), defs, name), max_size=4)
    if kind == "object" or "properties" in schema:
        return object_strategy(schema, defs)
    return junk


def object_strategy(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object: the required properties (now and then one left out), some optional ones, and
    now and then keys the schema does not know."""
    props = {prop: schema_strategy(sub, defs, prop) for prop, sub in schema.get("properties", {}).items()}
    required = {k: v for k, v in props.items() if k in schema.get("required", [])}
    optional = {k: v for k, v in props.items() if k not in required}
    shaped = weighted(
        (6, st.fixed_dictionaries(required, optional=optional)),
        (1, st.fixed_dictionaries({}, optional=props)),
    )
    return weighted((4, shaped), (1, st.tuples(shaped, extra_keys).map(lambda pair: {**pair[0], **pair[1]})))


# -- operations: pure data, drawn up front ---------------------------------------------------------


@dataclass(frozen=True)
class Call:
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Work:
    """Execute a task, then complete it (also when execute was refused, if ``anyway``)."""

    task: Any
    complete: dict[str, Any]
    anyway: bool


@dataclass(frozen=True)
class Burst:
    """Calls sent at once, as an assistant running tools in parallel would."""

    calls: tuple[Call, ...]


def hostile_call(tools: dict[str, dict[str, Any]]) -> st.SearchStrategy[Call]:
    names = sorted(tools)
    return st.sampled_from(names).flatmap(
        lambda name: object_strategy(tools[name], tools[name].get("$defs", {})).map(lambda args: Call(name, args))
    )


@st.composite
def subtask_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    keys = [f"k{i}" for i in range(draw(st.integers(0, 5)))]
    specs = []
    for key in keys:
        spec: dict[str, Any] = {"key": key, "title": draw(title_text)}
        if draw(st.booleans()):
            # May name itself, close a cycle, or name a key that does not exist.
            spec["depends_on_keys"] = draw(
                st.lists(st.sampled_from([*keys, "missing", "k99"]), max_size=3, unique=True)
            )
        if draw(st.integers(0, 3)) == 0:
            spec["depends_on"] = draw(st.lists(task_ids, min_size=1, max_size=2))
        if draw(st.integers(0, 3)) == 0:
            spec["task_type"] = draw(st.sampled_from([t.value for t in TaskType]))
        if draw(st.integers(0, 5)) == 0:
            spec["specialist_type"] = draw(st.sampled_from(["tester", "reviewer", "wizard", "../architect"]))
        if draw(st.integers(0, 7)) == 0:
            spec.update(draw(extra_keys))  # subtasks forbid unknown keys
        specs.append(spec)
    if keys and draw(st.integers(0, 8)) == 0:
        specs.append(dict(specs[0]))  # a key used twice
    return specs


def maybe(draw: st.DrawFn, one_in: int) -> bool:
    return draw(st.integers(1, one_in)) == 1


@st.composite
def plan_call(draw: st.DrawFn) -> Call:
    if not maybe(draw, 3):
        return Call("plan_task", draw(clean_plan()))
    args: dict[str, Any] = {"title": draw(title_text)}
    if maybe(draw, 2):
        args["description"] = draw(st.one_of(st.text(max_size=80), hostile_text))
    if maybe(draw, 2):
        args["priority"] = draw(st.sampled_from([p.value for p in Priority]))
    if maybe(draw, 3):
        args["complexity"] = draw(st.sampled_from([c.value for c in Complexity]))
    if maybe(draw, 3):
        args["labels"] = draw(st.lists(label_text, max_size=4))
    if maybe(draw, 4):
        args["acceptance_criteria"] = draw(st.lists(st.one_of(st.text(max_size=30), hostile_text), max_size=3))
    if maybe(draw, 4):
        args["depends_on"] = draw(st.lists(task_ids, min_size=1, max_size=3))
    if maybe(draw, 4):
        args["parent_id"] = draw(task_ids)
    if maybe(draw, 5):
        args["estimated_effort"] = draw(st.sampled_from(["2h", "1d", "", "x" * 65]))
    if maybe(draw, 5):
        args["due_date"] = draw(st.sampled_from(["2026-12-31", "2026-02-30", "tomorrow", "2026-12-31T10:00:00"]))
    if maybe(draw, 6):
        args["specialist_type"] = draw(st.sampled_from(["implementer", "security", "wizard", ""]))
    if maybe(draw, 2):
        args["subtasks"] = draw(subtask_specs())
    return Call("plan_task", args)


@st.composite
def clean_plan(draw: st.DrawFn, *, linked: bool = True) -> dict[str, Any]:
    """A valid plan (subtasks depend on earlier ones only). ``linked`` adds a parent or dependencies
    among the known tasks now and then, which may be refused (finished, archived, another session)."""
    args: dict[str, Any] = {
        "title": draw(st.sampled_from(["Add login rate limiting", "Fix flaky search", "Ünïcode 🚀 work"])),
        "priority": draw(st.sampled_from([p.value for p in Priority])),
    }
    if maybe(draw, 3):
        args["labels"] = draw(st.lists(st.sampled_from(["api", "db", "ui", "ünïcode"]), max_size=3, unique=True))
    if linked and maybe(draw, 4):
        args["depends_on"] = draw(st.lists(refs, min_size=1, max_size=2))
    if linked and maybe(draw, 4):
        args["parent_id"] = draw(refs)
    keys = [f"k{i}" for i in range(draw(st.integers(0, 4)))]
    if keys:
        args["subtasks"] = [
            {
                "key": key,
                "title": f"Step {key}",
                "depends_on_keys": draw(st.lists(st.sampled_from(keys[:index]), max_size=2, unique=True))
                if index
                else [],
            }
            for index, key in enumerate(keys)
        ]
    return args


@st.composite
def work_op(draw: st.DrawFn) -> Work:
    task = draw(weighted((6, st.builds(ReadyRef, st.integers(0, 20))), (3, refs), (1, task_ids)))
    paths = draw(st.lists(st.sampled_from(INSIDE_PATHS), max_size=3))
    complete: dict[str, Any] = {"summary": draw(st.sampled_from(["Done.", "Implemented it; tests pass."]))}
    if maybe(draw, 2):
        complete["detailed_work"] = draw(prose(200))
    if maybe(draw, 2):
        complete["artifact_type"] = draw(st.sampled_from([t.value for t in ArtifactType]))
    if maybe(draw, 3):  # not a clean completion: any of these may be refused
        if maybe(draw, 2):
            paths.append(draw(st.sampled_from(HOSTILE_PATHS)))
        if maybe(draw, 2):
            complete["summary"] = draw(hostile_text)
        if maybe(draw, 2):
            complete["artifact_type"] = draw(st.sampled_from(["binary", "CODE", ""]))
        if maybe(draw, 2):
            complete["next_action"] = draw(hostile_text)
        if maybe(draw, 2):
            complete["detailed_work"] = draw(hostile_text)
    complete["file_paths"] = draw(st.permutations(paths))
    return Work(task=task, complete=complete, anyway=maybe(draw, 4))


#: update_task fields: values that are valid, and values that may not be.
UPDATE_FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "title": (st.sampled_from(["Renamed", "Ünïcode 🚀 title"]), title_text),
    "description": (prose(60), hostile_text),
    "priority": (st.sampled_from([p.value for p in Priority]), st.just("urgent")),
    "task_type": (st.sampled_from([t.value for t in TaskType]), st.just("epic")),
    "labels": (st.lists(st.sampled_from(["api", "db", "ünïcode"]), max_size=3), st.lists(label_text, max_size=4)),
    "estimated_effort": (st.sampled_from(["1h", "3d"]), st.just("x" * 70)),
    "due_date": (st.just("2027-01-01"), st.just("2027-02-29")),
    "status": (
        st.sampled_from(["pending", "blocked"]),
        st.sampled_from(["completed", "in_progress", "cancelled", "PENDING"]),
    ),
    "status_reason": (st.just("waiting for review"), hostile_text),
    "clear": (st.lists(st.sampled_from(["due_date", "estimated_effort"]), max_size=2), st.just(["title"])),
    "specialist_type": (st.sampled_from(["tester", "documenter"]), st.just("ghost")),
    # May close a cycle, name the task itself, its parent, an unknown or a huge id.
    "depends_on": (st.lists(refs, max_size=2), st.lists(task_ids, max_size=3)),
}


@st.composite
def update_call(draw: st.DrawFn) -> Call:
    args: dict[str, Any] = {"task_id": draw(weighted((9, refs), (1, task_ids)))}
    version = draw(st.sampled_from([None, VersionOf("current"), VersionOf("current"), VersionOf("stale"), 1]))
    if version is not None:
        args["expected_version"] = version
    clean = not maybe(draw, 3)
    for key, (valid, any_value) in UPDATE_FIELDS.items():
        if maybe(draw, 4):
            args[key] = draw(valid if clean else weighted((1, valid), (1, any_value)))
    if len(args) == 1 + ("expected_version" in args):
        args["description"] = draw(prose(20))
    return Call("update_task", args)


def program(tools: dict[str, dict[str, Any]]) -> st.SearchStrategy[list[Any]]:
    hostile = hostile_call(tools)
    query = st.fixed_dictionaries(
        {},
        optional={
            "text": st.one_of(hostile_text, st.sampled_from(["login", "migr", "rate limit", "ünï", "near title"])),
            "task_ids": st.lists(task_ids, min_size=1, max_size=4),
            "labels": st.lists(label_text, max_size=3),
            "sort": st.sampled_from(["priority", "due_date", "title", "id", "title; DROP TABLE tasks"]),
            "include_archived": st.booleans(),
            "include_children": st.booleans(),
            "include_artifacts": st.booleans(),
            "created_after": st.sampled_from(["2000-01-01T00:00:00Z", "2000-01-01T00:00:00", "2000-01-01"]),
        },
    )
    session = st.fixed_dictionaries(
        {"working_directory": weighted((3, st.sampled_from(DIRECTORIES)), (1, hostile_text))},
        optional={"name": hostile_text},
    )
    burst_member = st.one_of(
        st.builds(lambda t: Call("execute_task", {"task_id": t}), refs),
        st.builds(lambda t, d: Call("update_task", {"task_id": t, "description": d}), refs, prose(20)),
        st.just(Call("get_status", {})),
        plan_call(),
        hostile_call(tools),
    )
    operation = weighted(
        (8, hostile),
        (5, plan_call()),
        (5, work_op()),
        (3, update_call()),
        (
            2,
            st.builds(
                lambda t, r, c: Call("cancel_task", {"task_id": t, "reason": r, "cascade": c}),
                refs,
                weighted((6, st.just("no longer needed")), (1, hostile_text)),
                st.booleans(),
            ),
        ),
        (
            1,
            st.builds(
                lambda t, h, c: Call("delete_task", {"task_id": t, "hard": h, "cascade": c}),
                refs,
                st.booleans(),
                st.booleans(),
            ),
        ),
        (2, st.builds(lambda t: Call("synthesize_results", {"parent_task_id": t}), refs)),
        (2, query.map(lambda args: Call("query_tasks", args))),
        (1, st.just(Call("maintenance_coordinator", {"action": "validate_structure", "dry_run": True}))),
        (1, session.map(lambda args: Call("initialize_session", args))),
        (1, st.lists(burst_member, min_size=2, max_size=4).map(lambda calls: Burst(tuple(calls)))),
        (
            1,
            st.builds(
                Call,
                st.sampled_from(["drop_tables", "", "plan_task ", "../plan_task", "PLAN_TASK"]),
                st.dictionaries(st.text(max_size=5), junk, max_size=2),
            ),
        ),
    )
    # Each example starts with valid calls that change the data, then runs the random operations.
    prefix = st.tuples(
        clean_plan(linked=False).map(lambda args: Call("plan_task", args)),
        st.builds(
            lambda i, d: Call("update_task", {"task_id": ReadyRef(i), "description": d}),
            st.integers(0, 20),
            prose(60),
        ),
        st.builds(
            lambda i: Work(ReadyRef(i), {"summary": "Done.", "file_paths": ["src/app.py"]}, anyway=False),
            st.integers(0, 20),
        ),
    )
    return st.tuples(prefix, st.lists(operation, min_size=STEPS[0], max_size=STEPS[1])).map(
        lambda parts: [*parts[0], *parts[1]]
    )


# -- running a program -------------------------------------------------------------------------------


class CrashLog(logging.Handler):
    """Collects what the SDK logs when an exception escapes a tool."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self, start: int = 0) -> str:
        out = []
        for record in self.records[start:]:
            out.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                out.append("".join(traceback.format_exception(record.exc_info[1])))
        return "\n".join(out)


@dataclass
class Fuzzer:
    portal: BlockingPortal
    client: Client
    dirs: dict[str, Path]
    crashes: CrashLog
    ids: list[int] = field(default_factory=list)
    versions: dict[int, int] = field(default_factory=dict)
    stats: Counter[tuple[str, bool]] = field(default_factory=Counter)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls: int = 0

    def resolve(self, value: Any, task_id: Any = None) -> Any:
        if isinstance(value, Ref):
            return self.ids[value.index % len(self.ids)] if self.ids else value.index % 50 + 1
        if isinstance(value, ReadyRef):
            status = self.call("get_status", {})
            ready = [] if status.is_error else [t["id"] for t in status.structured_content["ready"]]
            return ready[value.index % len(ready)] if ready else self.resolve(Ref(value.index))
        if isinstance(value, Place):
            return str(self.dirs[value.base] / value.rest) if value.rest else str(self.dirs[value.base])
        if isinstance(value, VersionOf):
            seen = self.versions.get(task_id, 1) if isinstance(task_id, int) else 1
            return {"current": seen, "stale": max(seen - 1, 1), "future": seen + 1}[value.which]
        if isinstance(value, dict):
            resolved = {k: self.resolve(v) for k, v in value.items() if not isinstance(v, VersionOf)}
            for k, v in value.items():
                if isinstance(v, VersionOf):
                    resolved[k] = self.resolve(v, resolved.get("task_id"))
            return resolved
        if isinstance(value, list | tuple):
            return [self.resolve(v) for v in value]
        return value

    def run(self, operation: Any) -> None:
        if isinstance(operation, Call):
            self.call(operation.tool, self.resolve(operation.args))
        elif isinstance(operation, Work):
            task_id = self.resolve(operation.task)
            started = self.call("execute_task", {"task_id": task_id})
            if not started.is_error or operation.anyway:
                self.call("complete_task", {"task_id": task_id, **self.resolve(operation.complete)})
        else:
            calls = [(c.tool, self.resolve(c.args)) for c in operation.calls]
            before = len(self.crashes.records)
            results = self.portal.call(_concurrently, self.client, calls)
            for (name, args), result in zip(calls, results, strict=True):
                self.check(name, args, result, before)

    def call(self, name: str, args: dict[str, Any]) -> Any:
        before = len(self.crashes.records)
        result = self.portal.call(self.client.call_tool, PREFIX + name, args)
        self.check(name, args, result, before)
        return result

    def check(self, name: str, args: dict[str, Any], result: Any, crashes_before: int) -> None:
        """The contract of every answer."""
        self.calls += 1
        shown = repr(args)
        where = f"{name}({shown if len(shown) < 600 else shown[:600] + '...'})"
        if result.is_error:
            text = "".join(getattr(block, "text", "") for block in result.content).strip()
            assert text, f"{where}: an error without text"
            detail = f"{where} -> {text[:800]!r}\n{self.crashes.describe(crashes_before)}"
            assert not MASKED.fullmatch(text), f"an exception escaped the tool: {detail}"
            assert "Traceback" not in text, detail
            assert 'File "' not in text, detail
            for root in SOURCE_ROOTS:
                assert root not in text, f"a source path leaked: {detail}"
            kind = REFUSAL_KIND.search(text)
            self.refusals[name, (kind.group(1) or kind.group(2)) if kind else text.splitlines()[0][:60]] += 1
        else:
            assert isinstance(result.structured_content, dict), f"{where}: a success without structured content"
        assert len(self.crashes.records) == crashes_before, (
            f"{where}: the server logged an escaped exception:\n{self.crashes.describe(crashes_before)}"
        )
        self.stats[name, not result.is_error] += 1
        if not result.is_error:
            self.learn(name, result.structured_content)

    def report(self) -> str:
        lines = [
            f"{name}: {ok} ok, {self.stats[name, False]} refused" for (name, good), ok in self.stats.items() if good
        ]
        lines += [f"  {name} refused ({kind}): {n}" for (name, kind), n in sorted(self.refusals.items())]
        return "\n".join(lines)

    def learn(self, name: str, content: dict[str, Any]) -> None:
        """Remember the task ids and versions an answer shows; check validate_structure's answers."""
        views: list[dict[str, Any]] = []
        if name == "plan_task":
            views.append(content["task"])
            for number in content["numbers"].values():
                self.remember(number)
        elif name in ("update_task", "execute_task"):
            views.append(content["task"])
        elif name == "query_tasks":
            views.extend(content["tasks"])
        elif name == "maintenance_coordinator" and content["action"] == "validate_structure":
            assert content["findings"] == [], f"validate_structure found drift during the run: {content['findings']}"
        for view in views:
            self.remember(view["id"])
            self.versions[view["id"]] = view.get("version", 1)  # query rows leave out version 1

    def remember(self, task_id: int) -> None:
        if task_id not in self.ids:
            self.ids.append(task_id)


async def _concurrently(client: Client, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    async def one(index: int, name: str, args: dict[str, Any]) -> None:
        results[index] = await client.call_tool(PREFIX + name, args)

    async with anyio.create_task_group() as tg:
        for index, (name, args) in enumerate(calls):
            tg.start_soon(one, index, name, args)
    return results


# -- the test ------------------------------------------------------------------------------------------


def make_dirs(tmp_path: Path) -> dict[str, Path]:
    """A Git project with a source file, a symlink out of it and a symlink loop; another Git
    project; and a directory outside both."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "src").mkdir()
    (project / "src" / "app.py").write_text("print('hi')\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (project / "escape").symlink_to(outside, target_is_directory=True)
    (project / "loop").symlink_to(project / "loop")
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)
    return {"project": project, "other": other, "outside": outside}


@pytest.fixture
def crash_log() -> Iterator[CrashLog]:
    handler = CrashLog()
    logger = logging.getLogger("mcp")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def scripted_flow(fz: Fuzzer) -> None:
    """A fixed valid lifecycle first, so every run covers it at least once."""
    project = str(fz.dirs["project"])
    assert not fz.call("initialize_session", {"working_directory": project, "name": "fuzz"}).is_error
    plan = fz.call(
        "plan_task",
        {
            "title": "Ship the '; DROP TABLE tasks; -- feature",
            "labels": ["api", "ünïcode"],
            "subtasks": [
                {"key": "design", "title": 'Design "NEAR( * OR title:'},
                {"key": "build", "title": "Build it", "depends_on_keys": ["design"]},
                {"key": "test", "title": "Test it", "depends_on_keys": ["build"], "task_type": "testing"},
            ],
        },
    )
    assert not plan.is_error, plan.content
    parent = plan.structured_content["task"]["id"]
    subtasks = plan.structured_content["subtasks"]
    for key in ("design", "build", "test"):
        task_id = subtasks[key]["id"]
        assert not fz.call("execute_task", {"task_id": task_id}).is_error
        done = fz.call("complete_task", {"task_id": task_id, "summary": f"{key} done", "file_paths": ["src/app.py"]})
        assert not done.is_error, done.content
    synthesis = fz.call("synthesize_results", {"parent_task_id": parent})
    assert synthesis.structured_content["parent_status"] == "completed"
    found = fz.call("query_tasks", {"text": "near title"})
    assert [t["id"] for t in found.structured_content["tasks"]] == [subtasks["design"]["id"]]
    # Archiving a parent together with its open subtasks leaves its counters true.
    doomed = fz.call(
        "plan_task", {"title": "Dropped", "subtasks": [{"key": "a", "title": "A"}, {"key": "b", "title": "B"}]}
    )
    archived = fz.call("delete_task", {"task_id": doomed.structured_content["task"]["id"]})
    assert len(archived.structured_content["task_ids"]) == 3
    assert not fz.call("maintenance_coordinator", {"action": "validate_structure"}).is_error
    other = fz.call("plan_task", {"title": "Escape attempt"}).structured_content["task"]["id"]
    assert not fz.call("execute_task", {"task_id": other}).is_error
    for bad in ("../../etc/passwd", "/etc/passwd", "escape/secret.txt", "loop/x"):
        refused = fz.call("complete_task", {"task_id": other, "summary": "x", "file_paths": ["src/app.py", bad]})
        assert refused.is_error and "invalid_input" in refused.content[0].text, (bad, refused.content)


def test_tools_answer_hostile_calls_cleanly_and_keep_the_store_consistent(tmp_path: Path, crash_log: CrashLog) -> None:
    dirs = make_dirs(tmp_path)
    database = tmp_path / "fuzz.db"
    url = f"sqlite:///{database}"
    server = build_server(Settings(database_url=url))
    started = time.perf_counter()

    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server, mode="legacy")) as client,
    ):
        tools = {tool.name.removeprefix(PREFIX): tool.input_schema for tool in portal.call(client.list_tools).tools}
        core = {"initialize_session", "plan_task", "execute_task", "complete_task", "update_task", "query_tasks"}
        assert core <= set(tools), sorted(tools)
        fz = Fuzzer(portal=portal, client=client, dirs=dirs, crashes=crash_log)
        scripted_flow(fz)

        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(program(tools))
        def run(operations: list[Any]) -> None:
            for operation in operations:
                fz.run(operation)

        run()

    elapsed = time.perf_counter() - started
    print(f"{fz.calls} calls in {elapsed:.1f} s\n{fz.report()}")
    assert 300 <= fz.calls <= 800, fz.calls
    assert elapsed < 60, f"{fz.calls} calls took {elapsed:.1f} s"
    # The state evolved: valid calls of each kind succeeded, and hostile ones were refused.
    # Each example's valid prefix plans, updates, executes and completes one task.
    for tool in ("plan_task", "update_task", "execute_task", "complete_task"):
        at_least = EXAMPLES * 9 // 10
        assert fz.stats[tool, True] >= at_least, f"{tool}: too few successes\n{fz.report()}"
    assert sum(n for (_, ok), n in fz.stats.items() if not ok) >= 100, fz.report()
    assert not crash_log.records, crash_log.describe()

    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        sessions = dict(conn.execute("SELECT id, project_root FROM sessions ORDER BY id").fetchall())
        stored = conn.execute(
            "SELECT s.project_root, a.file_paths FROM artifacts a "
            "JOIN tasks t ON t.id = a.task_id JOIN sessions s ON s.id = t.session_id"
        ).fetchall()
    assert str(dirs["project"].resolve()) in sessions.values()

    # Recorded file paths are relative to their project and never lead out of it.
    assert stored
    for root, raw in stored:
        for path in json.loads(raw):
            assert not path.startswith("/") and "\x00" not in path and ".." not in Path(path).parts, path
            assert (Path(root) / path).resolve().is_relative_to(root), (root, path)

    orchestrator = Orchestrator(Settings(database_url=url))
    try:
        for session_id in sessions:
            result = orchestrator.maintenance_coordinator("validate_structure", dry_run=True, session_id=session_id)
            assert result.findings == [], f"session {session_id}: {result.findings}"
    finally:
        orchestrator.close()


# -- hostile text: control characters, resource URIs, CLI ids -------------------------------------

CONTROL_CHARACTERS = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]
#: Control characters a multi-line field refuses (line feed and tab are kept).
MULTI_LINE_REFUSED = [c for c in CONTROL_CHARACTERS if c not in "\n\t"]
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=60,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _set(path: str, value: str) -> dict[str, Any]:
    """Arguments holding ``value`` at the dotted ``path``, with valid siblings around it."""
    head, _, rest = path.partition(".")
    if head == "subtasks":
        index, _, field_ = rest.partition(".")
        subtasks: list[dict[str, Any]] = [{"key": f"k{i}", "title": f"Step {i}"} for i in range(int(index) + 1)]
        subtasks[int(index)].update(_set(field_, value))
        return {"subtasks": subtasks}
    if rest:
        return {head: [f"ok{i}" for i in range(int(rest))] + [value]}
    return {head: value}


#: (tool, dotted field, one_line): fields reached through MCP; task 1 is in progress when they run.
MCP_TEXT_FIELDS = [
    ("plan_task", "title", True),
    ("plan_task", "labels.2", True),
    ("plan_task", "acceptance_criteria.1", True),
    ("plan_task", "specialist_type", True),
    ("plan_task", "estimated_effort", True),
    ("plan_task", "description", False),
    ("plan_task", "context", False),
    ("plan_task", "subtasks.2.title", True),
    ("plan_task", "subtasks.0.labels.1", True),
    ("plan_task", "subtasks.1.depends_on_keys.0", True),
    ("plan_task", "subtasks.0.description", False),
    ("update_task", "title", True),
    ("update_task", "labels.0", True),
    ("update_task", "acceptance_criteria.0", True),
    ("update_task", "estimated_effort", True),
    ("update_task", "milestone", True),
    ("update_task", "description", False),
    ("update_task", "status_reason", False),
    ("complete_task", "summary", False),
    ("complete_task", "detailed_work", False),
    ("complete_task", "next_action", False),
    ("cancel_task", "reason", False),
    ("initialize_session", "name", True),
]


def _base_arguments(tool: str, project: Path) -> dict[str, Any]:
    return {
        "plan_task": {"title": "Fuzzed"},
        "update_task": {"task_id": 1},
        "complete_task": {"task_id": 1, "summary": "done"},
        "cancel_task": {"task_id": 1, "reason": "descoped"},
        "initialize_session": {"working_directory": str(project)},
    }[tool]


def _store_state(database: Path) -> tuple[Any, ...]:
    with sqlite3.connect(database) as conn:
        return tuple(
            conn.execute(query).fetchone()
            for query in (
                "SELECT count(*), coalesce(sum(version), 0) FROM tasks",
                "SELECT count(*) FROM task_events",
                "SELECT count(*) FROM artifacts",
                "SELECT count(*), max(name) FROM sessions",
            )
        )


@st.composite
def text_around(draw: st.DrawFn, chars: list[str]) -> tuple[str, str]:
    """A control character between ordinary text: (value, the character)."""
    char = draw(st.sampled_from(chars))
    before = draw(st.sampled_from(["a", "Fix ", "ünï ", "[bold]", "x" * 30]))
    after = draw(st.sampled_from(["b", " it", "[31m", "🚀", "]0;title"]))
    return before + char + after, char


def test_control_characters_in_text_fields_are_refused_over_mcp(tmp_path: Path, crash_log: CrashLog) -> None:
    from taskorch.domain.text import describe_character

    dirs = make_dirs(tmp_path)
    database = tmp_path / "hostile.db"
    server = build_server(Settings(database_url=f"sqlite:///{database}"))
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server, mode="legacy")) as client,
    ):

        def call(tool: str, arguments: dict[str, Any]) -> Any:
            return portal.call(client.call_tool, PREFIX + tool, arguments)

        assert not call("initialize_session", {"working_directory": str(dirs["project"])}).is_error
        assert not call("plan_task", {"title": "Target"}).is_error
        assert not call("execute_task", {"task_id": 1}).is_error
        seen: Counter[str] = Counter()

        def check(target: tuple[str, str, bool], value: str, char: str) -> None:
            tool, path, _one_line = target
            before = _store_state(database)
            crashes = len(crash_log.records)
            arguments = {**_base_arguments(tool, dirs["project"]), **_set(path, value)}
            result = call(tool, arguments)
            text = "".join(getattr(block, "text", "") for block in result.content)
            assert result.is_error, (tool, path, repr(value))
            expected = f"invalid_input: {path}: contains the control character {describe_character(char)} at character"
            assert expected in text, (tool, path, repr(value), text)
            assert "Fix: remove it" in text and "Traceback" not in text and "input_value" not in text
            assert _store_state(database) == before, (tool, path, repr(value))
            assert len(crash_log.records) == crashes, crash_log.describe(crashes)
            seen[path if tool == "plan_task" else tool] += 1

        # Every field once, deterministically; then random characters around random text.
        for target in MCP_TEXT_FIELDS:
            check(target, "a\x1bb", "\x1b")

        @FUZZ_SETTINGS
        @given(st.sampled_from(MCP_TEXT_FIELDS), st.data())
        def run(target: tuple[str, str, bool], data: st.DataObject) -> None:
            value, char = data.draw(text_around(CONTROL_CHARACTERS if target[2] else MULTI_LINE_REFUSED))
            check(target, value, char)

        run()
    assert sum(seen.values()) > len(MCP_TEXT_FIELDS), seen
    assert {tool for tool, _path, _one_line in MCP_TEXT_FIELDS} - {"plan_task"} <= set(seen), seen


#: (CLI arguments with {value} where the hostile text goes, field, one_line)
CLI_TEXT_FIELDS = [
    (["plan-task", "{value}", "--project", "{project}"], "title", True),
    (["plan-task", "ok", "--label", "a", "--label", "{value}", "--project", "{project}"], "labels.1", True),
    (["plan-task", "ok", "--acceptance", "{value}", "--project", "{project}"], "acceptance_criteria.0", True),
    (["plan-task", "ok", "--estimated-effort", "{value}", "--project", "{project}"], "estimated_effort", True),
    (["plan-task", "ok", "--description", "{value}", "--project", "{project}"], "description", False),
    (["update-task", "1", "--title", "{value}"], "title", True),
    (["update-task", "1", "--label", "{value}"], "labels.0", True),
    (["update-task", "1", "--milestone", "{value}"], "milestone", True),
    (["update-task", "1", "--status", "blocked", "--status-reason", "{value}"], "status_reason", False),
    (["complete-task", "1", "--summary", "{value}"], "summary", False),
    (["complete-task", "1", "--summary", "ok", "--detailed-work", "{value}"], "detailed_work", False),
    (["cancel-task", "1", "--reason", "{value}"], "reason", False),
    (["initialize-session", "{project}", "--name", "{value}"], "name", True),
    (["git", "create-milestone", "{value}", "--project", "{project}"], "title", True),
]


def _cli(database: Path) -> Any:
    from typer.testing import CliRunner

    from taskorch.cli.app import app

    runner = CliRunner(env={"TASKORCH_DATABASE_URL": f"sqlite:///{database}"})
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_control_characters_in_text_fields_are_refused_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskorch.domain.text import describe_character

    project = make_dirs(tmp_path)["project"]
    monkeypatch.chdir(project)  # task commands work on the current directory's project
    database = tmp_path / "cli.db"
    invoke = _cli(database)
    assert invoke("plan-task", "Target", "--project", project).exit_code == 0
    assert invoke("execute-task", "1").exit_code == 0

    @hypothesis_settings(FUZZ_SETTINGS, max_examples=40)
    @given(st.sampled_from(CLI_TEXT_FIELDS), st.data())
    def run(target: tuple[list[str], str, bool], data: st.DataObject) -> None:
        template, path, one_line = target
        value, char = data.draw(text_around(CONTROL_CHARACTERS if one_line else MULTI_LINE_REFUSED))
        before = _store_state(database)
        result = invoke(*(part.format(value=value, project=project) for part in template))
        shown = f"{template} {value!r}\n{result.output}"
        assert result.exit_code == 2, shown
        assert result.stderr.startswith(f"error: {path}: contains the control character {describe_character(char)}"), (
            shown
        )
        assert "\x1b" not in result.output and "Traceback" not in result.output, shown
        assert _store_state(database) == before, shown

    run()


ID_TEXT = st.one_of(
    st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=6),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["0", "00", "1", "0001", "2147483647", "2147483648", "9223372036854775808", "9" * 5000]),
    st.sampled_from(["+1", " 1", "1 ", "1.0", "1e3", "0x1F", "1_000", "١٢", "²", "٣", "１", "Ⅻ", "", "%31"]),
    st.text(max_size=12),
)


def _is_id(text: str) -> bool:
    """What the id parser should accept: ASCII digits, 1 to 2**31 - 1 (leading zeros allowed)."""
    return text.isascii() and text.isdigit() and len(text.lstrip("0")) <= 10 and 1 <= int(text) <= 2**31 - 1


def test_hostile_resource_uris_are_refused_cleanly(tmp_path: Path, crash_log: CrashLog) -> None:
    from urllib.parse import quote

    from mcp.shared.exceptions import MCPError

    dirs = make_dirs(tmp_path)
    database = tmp_path / "uris.db"
    server = build_server(Settings(database_url=f"sqlite:///{database}"))
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server, mode="legacy")) as client,
    ):
        assert not portal.call(
            client.call_tool, PREFIX + "initialize_session", {"working_directory": str(dirs["project"])}
        ).is_error
        assert not portal.call(client.call_tool, PREFIX + "plan_task", {"title": "One"}).is_error
        before = _store_state(database)

        @FUZZ_SETTINGS
        @given(ID_TEXT, st.sampled_from(["taskorch://tasks/{}", "taskorch://tasks/{}/audit"]))
        def run(text: str, template: str) -> None:
            uri = template.format(quote(text, safe=""))
            crashes = len(crash_log.records)
            valid = _is_id(text)
            try:
                result = portal.call(client.read_resource, uri)
            except MCPError as exc:
                message = str(exc)
                assert "Traceback" not in message and "Error reading resource" not in message, (uri, message)
                expected = ("not found in project",) if valid else ("is not an id", "out of range", "Unknown resource")
                assert any(e in message for e in expected), (uri[:80], message[:300])
            else:
                assert (valid and int(text) == 1) or template.endswith("/audit"), (uri, result)
            assert len(crash_log.records) == crashes, crash_log.describe(crashes)

        run()
        assert _store_state(database) == before


CLI_ID_COMMANDS = [
    ["execute-task", "--", "{id}"],
    ["synthesize-results", "--", "{id}"],
    ["delete-task", "--", "{id}"],
    ["cancel-task", "--reason", "x", "--", "{id}"],
    ["update-task", "--title", "x", "--", "{id}"],
    ["update-task", "1", "--depends-on", "{id}"],
    ["plan-task", "x", "--parent-id", "{id}", "--project", "{project}"],
    ["query-tasks", "--parent-id", "{id}", "--project", "{project}"],
    ["audit", "--task-id", "{id}", "--project", "{project}"],
    ["git", "link-task", "--", "1", "{id}"],
    ["git", "resolve", "--use", "local", "--project", "{project}", "--", "{id}"],
]


def test_cli_ids_are_parsed_within_bounds(tmp_path: Path) -> None:
    project = make_dirs(tmp_path)["project"]
    database = tmp_path / "ids.db"
    invoke = _cli(database)
    assert invoke("plan-task", "One", "--project", project).exit_code == 0

    @hypothesis_settings(FUZZ_SETTINGS, max_examples=40)
    @given(st.sampled_from(CLI_ID_COMMANDS), ID_TEXT)
    def run(template: list[str], text: str) -> None:
        before = _store_state(database)
        result = invoke(*(part.format(id=text, project=project) for part in template))
        shown = f"{template} {text[:40]!r} -> {result.exit_code}\n{result.output[:800]}"
        assert "Traceback" not in result.output, shown
        assert result.exception is None or isinstance(result.exception, SystemExit), (shown, result.exception)
        valid = _is_id(text)
        if not valid:
            assert result.exit_code == 2, shown
            if "{id}" in template[-1] and text:
                flat = " ".join(result.stderr.replace("│", " ").split())  # the usage error's panel wraps
                assert "is not an id" in flat or "out of range" in flat, shown
            assert _store_state(database) == before, shown
        else:
            assert result.exit_code in (0, 2, 3, 4), shown

    run()
