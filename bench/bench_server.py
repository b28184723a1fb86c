"""Benchmark of ``taskorch serve`` over stdio, next to a bare MCP SDK server as the floor.

Measures, on this machine:

1. start-up: process spawn to initialized-and-tools-listed, taskorch and the bare SDK server;
2. latency of get_status, query_tasks, an execute_task + complete_task pair and plan_task (one
   task) in one long-lived session, with 1,000, 10,000 and 100,000 tasks in the database, and a
   no-op round trip of the bare server; each also as a ratio to that no-op call in the same run;
3. one plan_task call creating 1,000 subtasks;
4. the server's peak memory (VmHWM);
5. the size of the tools/list answer, and the part of it a model reads;
6. the size of each tool's typical answer (bytes, and tokens estimated as bytes / 4) and what
   the official client's check of its structuredContent against the outputSchema costs.

Usage: ``.venv/bin/python bench/bench_server.py [--quick]`` (``--quick``: fewer runs, only 1,000
and 10,000 tasks). Everything lives in a temporary directory that is removed at the end; the
client talks to the servers over their stdin/stdout pipes only.

The databases are seeded in this process through the real services before each server starts
(1,000-subtask plans, written set-based).
One database grows from one size to the next (1,000, then topped up to 10,000, then to 100,000),
so the tasks a measurement creates stay part of the next, larger data set.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp import Client, StdioServerParameters
from rich import box
from rich.console import Console
from rich.table import Table

from taskorch.specialists import BUILTIN_ROLE_NAMES

if TYPE_CHECKING:
    from mcp_types import CallToolResult, ListToolsResult

    from taskorch.services.app import Orchestrator

HERE = Path(__file__).resolve().parent
BARE_SERVER = HERE / "bare_server.py"
TASKORCH = Path(sys.executable).parent / "taskorch"
MODE = "legacy"
CALL_TIMEOUT_SECONDS = 120.0
MIB = 1024 * 1024

# Aims: start-up over the floor (milliseconds); calls as ratios to the bare server's no-op call in
# the same run; peak memory over the bare server's (MiB); sizes in bytes.
AIM_START_OVER_FLOOR_MS = 100.0
AIM_RATIO = {"get_status": 2.0, "query_tasks": 2.5, "pair": 4.0, "big_plan": 60.0}
AIM_PEAK_OVER_FLOOR_MIB = 15.0
AIM_TOOLS_SEEN_BYTES = 12_000
AIM_ANSWER_BYTES = 4_000
#: The figures measured when the aims were set (issue "A CLI people like and an MCP face that
#: costs little"), printed beside today's: same machine, same kind of run.
WHEN_SET = {
    "start-up": "",
    "get_status": "x7-8",
    "query_tasks": "x10",
    "pair": "32 SQL statements",
    "big_plan": "12.8 s, 10.5 statements per subtask",
    "memory": "91-108 MiB (+23 to +40)",
    "tools/list": "about 46 KB with output schemas",
    "answers": "",
}
#: "Flat": the median at the largest size is at most this many times the median at the smallest.
FLAT_FACTOR = 1.25

out = Console(width=140, highlight=False)
started_at = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - started_at:7.1f}s] {message}", file=sys.stderr, flush=True)


# -- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    quick: bool
    startup_runs: int
    sizes: tuple[int, ...]
    calls: int
    warmup: int
    inproc_calls: int
    big_runs: int
    big_subtasks: int
    budget_seconds: float


FULL = Config(
    quick=False,
    startup_runs=7,
    sizes=(1_000, 10_000, 100_000),
    calls=200,
    warmup=10,
    inproc_calls=50,
    big_runs=3,
    big_subtasks=1_000,
    budget_seconds=600,
)
QUICK = Config(
    quick=True,
    startup_runs=3,
    sizes=(1_000, 10_000),
    calls=60,
    warmup=5,
    inproc_calls=20,
    big_runs=3,
    big_subtasks=1_000,
    budget_seconds=300,
)


# -- statistics ------------------------------------------------------------------------------


@dataclass
class Samples:
    """Durations in seconds."""

    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.values.append(seconds)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.values) * 1000 if self.values else math.nan

    @property
    def p95_ms(self) -> float:
        if not self.values:
            return math.nan
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000

    @property
    def min_ms(self) -> float:
        return min(self.values) * 1000 if self.values else math.nan

    @property
    def max_ms(self) -> float:
        return max(self.values) * 1000 if self.values else math.nan


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def ms(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"


# -- realistic plans -------------------------------------------------------------------------

VERBS = ("Add", "Fix", "Refactor", "Test", "Document", "Migrate", "Review", "Profile", "Harden", "Design")
NOUNS = (
    "login rate limiting",
    "task export",
    "search index",
    "retry policy",
    "config loader",
    "audit log",
    "CLI help",
    "cache layer",
    "schema migration",
    "error messages",
    "webhook handler",
    "pagination",
)
LABELS = ("api", "db", "ui", "perf", "docs", "security", "tests", "infra", "cli", "bug")
ROLES = tuple(name for name in BUILTIN_ROLE_NAMES if name != "coordinator")
TASK_TYPES = ("feature", "bugfix", "refactor", "testing", "documentation", "research", "review", "chore")
COMPLEXITIES = ("trivial", "simple", "moderate", "complex", "very_complex")
PRIORITIES = ("low", "medium", "medium", "high", "high", "critical")


def subtask_specs(rnd: random.Random, count: int, *, independent: bool = False) -> list[dict[str, Any]]:
    """``count`` subtasks as an assistant would send them: about a third wait for 1-3 earlier
    siblings, most carry labels, a fifth leave the specialist to the router."""
    specs: list[dict[str, Any]] = []
    for index in range(count):
        verb, noun = rnd.choice(VERBS), rnd.choice(NOUNS)
        spec: dict[str, Any] = {
            "key": f"s{index}",
            "title": f"{verb} {noun} ({index})",
            "description": f"{verb} the {noun} of module {rnd.randint(1, 60)}; keep the public behaviour "
            f"and cover the change with tests.",
            "task_type": rnd.choice(TASK_TYPES),
            "complexity": rnd.choice(COMPLEXITIES),
            "priority": rnd.choice(PRIORITIES),
            "labels": rnd.sample(LABELS, k=rnd.choice((0, 1, 1, 2, 2, 3))),
        }
        if rnd.random() < 0.8:
            spec["specialist_type"] = rnd.choice(ROLES)
        if rnd.random() < 0.5:
            spec["acceptance_criteria"] = [f"the {noun} behaves as described", "tests pass"]
        if not independent and index and rnd.random() < 0.35:
            window = range(max(0, index - 30), index)
            spec["depends_on_keys"] = [f"s{i}" for i in rnd.sample(window, k=min(len(window), rnd.randint(1, 3)))]
        specs.append(spec)
    return specs


# -- seeding through the services ------------------------------------------------------------


@dataclass
class SeedStage:
    target: int
    tasks_after: int = 0
    seconds: float = 0.0
    big_plans: int = 0
    plan_seconds: Samples = field(default_factory=Samples)
    completed: int = 0


@dataclass
class InProcess:
    """Service-level times (no transport) measured in this process, seconds."""

    by_tool: dict[str, Samples] = field(default_factory=dict)


class Seeder:
    """Grows one database through :class:`Orchestrator`, as the tools would."""

    def __init__(self, database_url: str, project: Path) -> None:
        from taskorch.config import Settings
        from taskorch.services.app import Orchestrator

        self.orchestrator: Orchestrator = Orchestrator(Settings(database_url=database_url))
        self.session_id = self.orchestrator.initialize_session(str(project)).session_id
        self.rnd = random.Random(20240601)

    def total(self) -> int:
        return self.orchestrator.get_status(self.session_id).total

    def breakdown(self, count: int, stage: SeedStage) -> None:
        """One parent with ``count`` subtasks; then some are completed, started, blocked or cancelled."""
        from taskorch.services.models import SubtaskSpec, TaskFields

        o, rnd = self.orchestrator, self.rnd
        specs = [SubtaskSpec.model_validate(s) for s in subtask_specs(rnd, count)]
        parent = TaskFields(title=f"{rnd.choice(VERBS)} {rnd.choice(NOUNS)}: breakdown", labels=["epic"])
        t0 = time.perf_counter()
        plan = o.plan_task(parent, specs, session_id=self.session_id)
        stage.plan_seconds.add(time.perf_counter() - t0)
        stage.big_plans += 1

        ready = list(plan.ready)
        rnd.shuffle(ready)
        n_done, n_started = round(count * 0.06), round(count * 0.015)
        for task_id in ready[:n_done]:
            o.execute_task(task_id)
            o.complete_task(task_id, "Done as described.", "Changed the module and its tests.", [f"src/m{task_id}.py"])
        stage.completed += min(n_done, len(ready))
        for task_id in ready[n_done : n_done + n_started]:
            o.execute_task(task_id)
        started = set(ready[: n_done + n_started])
        untouched = [n for n in plan.numbers.values() if n not in started]
        rnd.shuffle(untouched)
        n_odd = round(count * 0.01)
        for task_id in untouched[:n_odd]:
            o.update_task(task_id, {"status": "blocked", "status_reason": "waiting for a design review"})
        for task_id in untouched[n_odd : 2 * n_odd]:
            o.cancel_task(task_id, "no longer needed")

    def ready_pool(self, count: int) -> list[int]:
        """A parent with ``count`` independent subtasks: ready to execute, one per call."""
        from taskorch.services.models import SubtaskSpec, TaskFields

        specs = [SubtaskSpec.model_validate(s) for s in subtask_specs(self.rnd, count, independent=True)]
        plan = self.orchestrator.plan_task(TaskFields(title="Ready pool"), specs, session_id=self.session_id)
        return sorted(plan.numbers.values())

    def grow_to(self, stage: SeedStage, reserve: int) -> None:
        """Top the session up to ``stage.target`` tasks, leaving ``reserve`` for what follows."""
        t0 = time.perf_counter()
        remaining = stage.target - reserve - self.total()
        while remaining > 1:
            count = min(1000, remaining - 1)
            self.breakdown(count, stage)
            remaining -= count + 1
        stage.seconds += time.perf_counter() - t0

    def measure(self, calls: int, pool: Sequence[int]) -> tuple[dict[str, Samples], dict[str, float]]:
        """The four measured tools as service calls, without any transport: their times, and the
        SQL statements each sends per call (BEGIN included, COMMIT not: what the driver executes)."""
        from sqlalchemy import event

        o = self.orchestrator
        times: dict[str, Samples] = {name: Samples() for name in ("get_status", "query_tasks", "pair", "plan")}
        counted = dict.fromkeys(times, 0)
        current = [""]

        def count(*_: object) -> None:
            counted[current[0]] += 1

        engine = o.db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            self._measure(calls, pool, times, current)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return times, {name: n / calls for name, n in counted.items()}

    def _measure(self, calls: int, pool: Sequence[int], times: dict[str, Samples], current: list[str]) -> None:
        from taskorch.services.models import TaskFields

        o, sid = self.orchestrator, self.session_id
        for i in range(calls):
            for name, samples in times.items():
                current[0] = name
                t0 = time.perf_counter()
                if name == "get_status":
                    o.get_status(sid)
                elif name == "query_tasks":
                    o.query_tasks(sid, limit=20)
                elif name == "pair":
                    o.execute_task(pool[i])
                    o.complete_task(pool[i], "Done as described.", "Changed the module.", [f"src/p{i}.py"])
                else:
                    o.plan_task(TaskFields(title=f"Single task {i}"), session_id=sid)
                samples.add(time.perf_counter() - t0)

    def close(self) -> None:
        self.orchestrator.close()


# -- processes -------------------------------------------------------------------------------


def child_pid(marker: str) -> int | None:
    """The pid of this process's child whose command line contains ``marker``."""
    me = os.getpid()
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if any(marker.encode() in arg for arg in argv):
            found.append(int(entry.name))
    return max(found) if found else None


def memory_of(pid: int | None) -> dict[str, float]:
    """VmHWM and VmRSS of ``pid`` in MiB (empty if it cannot be read)."""
    if pid is None:
        return {}
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0]) * 1024 / MIB
    except OSError:
        return {}
    return values


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of ``pid`` (all its threads) so far, in seconds."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def taskorch_params(database_url: str, cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(TASKORCH), args=["serve"], env={"TASKORCH_DATABASE_URL": database_url}, cwd=str(cwd)
    )


def bare_params(cwd: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(BARE_SERVER)], cwd=str(cwd))


def client(params: StdioServerParameters) -> Client:
    return Client(params, mode=MODE, read_timeout_seconds=CALL_TIMEOUT_SECONDS)


async def call(c: Client, name: str, arguments: dict[str, Any]) -> CallToolResult:
    result = await c.call_tool(name, arguments)
    if result.is_error:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise RuntimeError(f"{name} failed: {text}")
    return result


@dataclass
class CallTimes:
    """Per call: the round trip, the client's output-schema check of the answer, and the difference."""

    rtt: Samples = field(default_factory=Samples)
    check: Samples = field(default_factory=Samples)
    net: Samples = field(default_factory=Samples)


async def timed_call(c: Client, name: str, arguments: dict[str, Any], times: CallTimes) -> CallToolResult:
    """One call, timed end to end; then the client's own output-schema check of it, timed alone."""
    t0 = time.perf_counter()
    result = await call(c, name, arguments)
    rtt = time.perf_counter() - t0
    t0 = time.perf_counter()
    await c.session.validate_tool_result(name, result)
    check = time.perf_counter() - t0
    times.rtt.add(rtt)
    times.check.add(check)
    times.net.add(max(rtt - check, 0.0))
    return result


# -- 1. start-up -----------------------------------------------------------------------------


async def startup_once(params: StdioServerParameters) -> float:
    t0 = time.perf_counter()
    async with client(params) as c:
        await c.list_tools()
        return time.perf_counter() - t0


async def bench_startup(cfg: Config, tmp: Path) -> dict[str, Samples]:
    params = {
        "bare": bare_params(tmp),
        "taskorch": taskorch_params(f"sqlite:///{tmp / 'startup.db'}", tmp),
    }
    for p in params.values():  # warm the file cache and bytecode, untimed
        await startup_once(p)
    times = {name: Samples() for name in params}
    for run in range(cfg.startup_runs):
        order = list(params) if run % 2 == 0 else list(reversed(params))
        for name in order:
            times[name].add(await startup_once(params[name]))
    return times


# -- 2-4. sessions ---------------------------------------------------------------------------


@dataclass
class ToolList:
    tools: int
    full_bytes: int
    seen_bytes: int


def tool_list_size(result: ListToolsResult) -> ToolList:
    full = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    seen = [{key: tool[key] for key in ("name", "description", "inputSchema") if key in tool} for tool in full["tools"]]

    def size(value: Any) -> int:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())

    return ToolList(tools=len(full["tools"]), full_bytes=size(full), seen_bytes=size(seen))


@dataclass
class FloorResult:
    times: CallTimes
    server_cpu: float
    tools: ToolList
    memory: dict[str, float]


async def bench_floor(cfg: Config, tmp: Path) -> FloorResult:
    times, scratch = CallTimes(), CallTimes()
    async with client(bare_params(tmp)) as c:
        pid = child_pid(str(BARE_SERVER))
        tools = tool_list_size(await c.list_tools())
        for _ in range(cfg.warmup):
            await timed_call(c, "echo", {"text": "x"}, scratch)
        cpu_before = cpu_seconds(pid)
        for _ in range(cfg.calls):
            await timed_call(c, "echo", {"text": "x"}, times)
        server_cpu = (cpu_seconds(pid) - cpu_before) / cfg.calls * 1000
        memory = memory_of(pid)
    return FloorResult(times=times, server_cpu=server_cpu, tools=tools, memory=memory)


TOOLS = {
    "get_status": "orchestrator_get_status",
    "query_tasks": "orchestrator_query_tasks",
    "pair": "orchestrator_execute_task",  # then orchestrator_complete_task, timed as one
    "plan": "orchestrator_plan_task",
}
LABEL = {
    "get_status": "get_status",
    "query_tasks": "query_tasks (limit 20)",
    "pair": "execute_task + complete_task",
    "plan": "plan_task (one task)",
}


async def timed_step(c: Client, name: str, arguments: dict[str, Any], times: CallTimes) -> None:
    """One measured step: a call, or for "pair" an execute_task then a complete_task, summed."""
    if name != "pair":
        await timed_call(c, TOOLS[name], arguments, times)
        return
    parts = CallTimes()
    await timed_call(c, TOOLS[name], arguments, parts)
    done = {"task_id": arguments["task_id"], "summary": "Done as described.", "file_paths": ["src/done.py"]}
    await timed_call(c, "orchestrator_complete_task", done, parts)
    times.rtt.add(sum(parts.rtt.values))
    times.check.add(sum(parts.check.values))
    times.net.add(sum(parts.net.values))


@dataclass
class SizeResult:
    size: int
    tasks_at_start: int
    times: dict[str, CallTimes]
    server_cpu: dict[str, float]
    inproc: dict[str, Samples]
    #: SQL statements per call of each tool, counted in process.
    statements: dict[str, float]
    big_plan: Samples
    #: The official client's check of each 1,000-subtask answer against the output schema, timed again alone.
    big_plan_check: Samples
    big_plan_bytes: int
    memory_before_big: dict[str, float]
    memory: dict[str, float]
    tools: ToolList
    #: The bare server's no-op call, timed after each measured step in the same window.
    floor: CallTimes


async def bench_size(
    cfg: Config,
    size: int,
    database_url: str,
    project: Path,
    pool: Sequence[int],
    inproc: dict[str, Samples],
    statements: dict[str, float],
) -> SizeResult:
    rnd = random.Random(size)
    times = {name: CallTimes() for name in TOOLS}
    server_cpu: dict[str, float] = {}
    scratch = CallTimes()
    big_plan = Samples()
    big_plan_check = Samples()
    big_bytes = 0
    floor = CallTimes()
    async with client(taskorch_params(database_url, project)) as c, client(bare_params(project)) as bare:
        pid = child_pid(str(TASKORCH))
        tools = tool_list_size(await c.list_tools())
        session = await call(c, "orchestrator_initialize_session", {"working_directory": str(project)})
        counts = (session.structured_content or {}).get("counts", {})
        tasks_at_start = sum(counts.values())

        def arguments(name: str, i: int) -> dict[str, Any]:
            if name == "query_tasks":
                return {"limit": 20}
            if name == "pair":
                return {"task_id": pool[i]}
            if name == "plan":
                return {"title": f"Follow-up {i}: tidy the {rnd.choice(NOUNS)}", "labels": ["follow-up"]}
            return {}

        for i in range(cfg.warmup):
            for name in TOOLS:
                await timed_step(c, name, arguments(name, i), scratch)
        for name in TOOLS:
            cpu_before = cpu_seconds(pid)
            cpu = 0.0
            for i in range(cfg.warmup, cfg.warmup + cfg.calls):
                await timed_step(c, name, arguments(name, i), times[name])
                cpu += cpu_seconds(pid) - cpu_before
                await timed_call(bare, "echo", {"text": "x"}, floor)  # the floor, in the same window
                cpu_before = cpu_seconds(pid)
            server_cpu[name] = cpu / cfg.calls * 1000
        memory_before_big = memory_of(pid)

        progress(f"{size:,} tasks: plan_task with {cfg.big_subtasks:,} subtasks x{cfg.big_runs}")
        for run in range(cfg.big_runs):
            args = {
                "title": f"Large breakdown {run}",
                "description": "A large plan sent in one call.",
                "subtasks": subtask_specs(rnd, cfg.big_subtasks),
            }
            t0 = time.perf_counter()
            result = await call(c, TOOLS["plan"], args)
            big_plan.add(time.perf_counter() - t0)
            big_bytes = len(json.dumps(result.structured_content, separators=(",", ":")).encode())
            t0 = time.perf_counter()
            await c.session.validate_tool_result(TOOLS["plan"], result)
            big_plan_check.add(time.perf_counter() - t0)
        memory = memory_of(pid)
    return SizeResult(
        size=size,
        tasks_at_start=tasks_at_start,
        times=times,
        server_cpu=server_cpu,
        inproc=inproc,
        statements=statements,
        big_plan=big_plan,
        big_plan_check=big_plan_check,
        big_plan_bytes=big_bytes,
        memory_before_big=memory_before_big,
        memory=memory,
        tools=tools,
        floor=floor,
    )


# -- 6. answer sizes -------------------------------------------------------------------------


@dataclass
class AnswerRow:
    text: int
    structured: int
    check: Samples

    @property
    def total(self) -> int:
        return self.text + self.structured


@dataclass
class AnswerSizes:
    rows: dict[str, AnswerRow] = field(default_factory=dict)
    #: tools/list: bytes of name + description + inputSchema, for all tools and the core ones.
    tools_seen: dict[str, int] = field(default_factory=dict)
    tools_full: dict[str, int] = field(default_factory=dict)
    output_schemas: dict[str, int] = field(default_factory=dict)


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def bench_answers(tmp: Path, checks: int = 30) -> AnswerSizes:
    """Every core tool's typical answer over the in-memory client, in a project of about 40 tasks:
    its bytes (text content, structuredContent as compact JSON) and the client's check of it."""
    from taskorch.config import TOOLSETS, Settings
    from taskorch.mcp.server import PREFIX, build_server

    project = tmp / "answers"
    (project / ".git").mkdir(parents=True)
    settings = Settings(database_url=f"sqlite:///{tmp / 'answers.db'}")
    sizes = AnswerSizes()
    rnd = random.Random(5)
    async with Client(build_server(settings), mode=MODE) as c:
        listed = (await c.list_tools()).tools
        core = {PREFIX + name for name in TOOLSETS["core"]}
        dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]
        for scope, chosen in (("all", dumped), ("core", [t for t in dumped if t["name"] in core])):
            seen = [{k: t[k] for k in ("name", "description", "inputSchema") if k in t} for t in chosen]
            sizes.tools_seen[scope] = json_size(seen)
            sizes.tools_full[scope] = json_size({"tools": chosen})
            sizes.output_schemas[scope] = sum(json_size(t.get("outputSchema")) for t in chosen)

        async def measure(label: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            result = await call(c, PREFIX + name, arguments)
            row = AnswerRow(
                text=sum(len(getattr(b, "text", "").encode()) for b in result.content),
                structured=json_size(result.structured_content),
                check=Samples(),
            )
            for _ in range(checks):
                t0 = time.perf_counter()
                await c.session.validate_tool_result(PREFIX + name, result)
                row.check.add(time.perf_counter() - t0)
            sizes.rows[label] = row
            return result.structured_content or {}

        await measure("initialize_session", "initialize_session", {"working_directory": str(project)})
        plans = []
        for n in range(4):
            specs = subtask_specs(rnd, 8)
            for spec in specs:
                spec.setdefault("acceptance_criteria", ["the change is covered by tests"])
            args = {"title": f"Feature {n}: {rnd.choice(NOUNS)}", "description": "Deliver it.", "subtasks": specs}
            label = "plan_task (8 subtasks)" if n == 0 else f"(plan {n})"
            plans.append(await measure(label, "plan_task", args))
        await measure("plan_task (one task)", "plan_task", {"title": "Tidy the changelog", "labels": ["docs"]})
        first = plans[0]
        ready = first["ready"]
        await measure("execute_task (no dependency)", "execute_task", {"task_id": ready[0]})
        done = {
            "task_id": ready[0],
            "summary": "Implemented the change and its tests.",
            "detailed_work": "Reworked the module; the tests cover the edge cases.\nRan the suite: all green.",
            "file_paths": ["src/module.py", "tests/test_module.py"],
        }
        completed = await measure("complete_task", "complete_task", done)
        follow = [t["id"] for t in completed["unblocked"]]
        if follow:
            await measure("execute_task (one dependency result)", "execute_task", {"task_id": follow[0]})
        for other in plans[1:]:
            for task_id in other["ready"][:2]:
                await call(c, PREFIX + "execute_task", {"task_id": task_id})
        await measure("get_status", "get_status", {})
        await measure("query_tasks (20 tasks, brief)", "query_tasks", {"limit": 20})
        await measure("query_tasks (20 tasks, full)", "query_tasks", {"limit": 20, "detail": "full"})
        await measure("update_task", "update_task", {"task_id": ready[-1], "priority": "high"})
        await measure("maintenance_coordinator", "maintenance_coordinator", {"action": "validate_structure"})
    sizes.rows = {k: v for k, v in sizes.rows.items() if not k.startswith("(")}
    return sizes


# -- report ----------------------------------------------------------------------------------


def table(title: str, *columns: str) -> Table:
    out.print()
    out.print(title, soft_wrap=True)
    t = Table(box=box.ASCII, show_edge=True, pad_edge=True)
    for index, name in enumerate(columns):
        t.add_column(name, justify="left" if index == 0 else "right", no_wrap=index < 2)
    return t


def print_startup(cfg: Config, times: dict[str, Samples]) -> float:
    t = table(
        f"1. Start-up: spawn -> initialize -> tools/list over stdio (mode={MODE}), {cfg.startup_runs} runs",
        "server",
        "median ms",
        "min ms",
        "max ms",
    )
    bare, tk = times["bare"], times["taskorch"]
    t.add_row("bare mcp SDK server, 1 tool (floor)", ms(bare.median_ms, 0), ms(bare.min_ms, 0), ms(bare.max_ms, 0))
    t.add_row("taskorch serve", ms(tk.median_ms, 0), ms(tk.min_ms, 0), ms(tk.max_ms, 0))
    diff = tk.median_ms - bare.median_ms
    t.add_row("difference (taskorch - floor)", ms(diff, 0), ms(tk.min_ms - bare.min_ms, 0), "")
    out.print(t)
    return diff


def print_latency(cfg: Config, floor: FloorResult, results: list[SizeResult]) -> None:
    protocol = f"mode={MODE} (initialize handshake, protocol 2025-11-25)"
    t = table(
        f"2. Latency over stdio: one long-lived session per database size, {protocol}; "
        f"after a warm-up, {cfg.calls} timed calls per tool in a row",
        "tasks in db",
        "tool",
        "median ms",
        "x no-op",
        "p95 ms",
        "excl. client check ms",
        "client check ms",
        "server CPU ms/call",
        "in-process service ms",
        "SQL statements/call",
    )
    t.add_row(
        "-",
        "no-op floor: bare server's echo tool",
        ms(floor.times.rtt.median_ms),
        "1.0",
        ms(floor.times.rtt.p95_ms),
        ms(floor.times.net.median_ms),
        ms(floor.times.check.median_ms),
        ms(floor.server_cpu),
        "-",
        "-",
    )
    for r in results:
        for name in TOOLS:
            t.add_row(
                f"{r.tasks_at_start:,}",
                LABEL[name],
                ms(r.times[name].rtt.median_ms),
                ms(r.times[name].rtt.median_ms / r.floor.rtt.median_ms, 1),
                ms(r.times[name].rtt.p95_ms),
                ms(r.times[name].net.median_ms),
                ms(r.times[name].check.median_ms),
                ms(r.server_cpu[name]),
                ms(r.inproc[name].median_ms),
                ms(r.statements[name], 1),
            )
        t.add_row(
            f"{r.tasks_at_start:,}",
            "no-op floor, interleaved with the calls above",
            ms(r.floor.rtt.median_ms),
            "1.0",
            ms(r.floor.rtt.p95_ms),
            ms(r.floor.net.median_ms),
            ms(r.floor.check.median_ms),
            "-",
            "-",
            "-",
        )
        t.add_section()
    out.print(t)
    out.print(
        "'x no-op': the median as a ratio to the bare server's no-op call timed after each call in the same "
        "window (the interleaved floor row of each size), so a change of load moves both. "
        "median and p95: whole call_tool round trip as the SDK client sees it. The SDK client re-checks every "
        "structuredContent against the tool's outputSchema (jsonschema); 'client check' times that check alone "
        "(repeated once after each call) and 'excl. client check' is the round trip minus it, call by call. "
        "'server CPU': user+system CPU time of the server process (all threads) during the timed calls, per call; "
        "unlike wall time it barely moves when other processes compete for the 2 CPUs. "
        f"'in-process service': the same service method called directly, no transport, median of {cfg.inproc_calls}; "
        "'SQL statements': what those calls sent to the driver, per call (BEGIN counted, COMMIT not).",
        soft_wrap=True,
    )


def print_big_plan(cfg: Config, results: list[SizeResult], stages: list[SeedStage]) -> None:
    t = table(
        f"3. One plan_task call creating {cfg.big_subtasks:,} subtasks over stdio (wall time)",
        "tasks in db",
        f"median of {cfg.big_runs} ms",
        "runs ms",
        "answer KiB",
        "client check ms",
        "in-process plan_task median ms (seeding)",
    )
    for r, stage in zip(results, stages, strict=True):
        t.add_row(
            f"{r.tasks_at_start:,}",
            ms(r.big_plan.median_ms, 0),
            ", ".join(ms(v * 1000, 0) for v in r.big_plan.values),
            ms(r.big_plan_bytes / 1024, 1),
            ms(r.big_plan_check.median_ms, 0),
            ms(stage.plan_seconds.median_ms, 0),
        )
    out.print(t)
    out.print(
        "'client check': the official client's check of the answer against the tool's outputSchema "
        "(part of the round trip), timed again alone after each call.",
        soft_wrap=True,
    )


def print_memory(floor: FloorResult, results: list[SizeResult]) -> None:
    t = table(
        "4. Server memory from /proc/<pid>/status (VmHWM = peak resident set so far)",
        "server",
        "VmHWM after the timed calls MiB",
        "VmHWM at end of session MiB",
        "VmRSS at end MiB",
    )
    t.add_row(
        "bare mcp SDK server (floor)",
        "-",
        ms(floor.memory.get("VmHWM", math.nan), 1),
        ms(floor.memory.get("VmRSS", math.nan), 1),
    )
    for r in results:
        t.add_row(
            f"taskorch serve, {r.tasks_at_start:,} tasks",
            ms(r.memory_before_big.get("VmHWM", math.nan), 1),
            ms(r.memory.get("VmHWM", math.nan), 1),
            ms(r.memory.get("VmRSS", math.nan), 1),
        )
    out.print(t)
    out.print("The end of a session comes after the 1,000-subtask plans of table 3.", soft_wrap=True)


def print_tools(floor: FloorResult, results: list[SizeResult]) -> None:
    t = table(
        "5. tools/list answer as JSON (compact UTF-8; full = by_alias, exclude_none)",
        "server",
        "tools",
        "full bytes",
        "name+description+inputSchema bytes",
    )
    t.add_row(
        "bare mcp SDK server", str(floor.tools.tools), f"{floor.tools.full_bytes:,}", f"{floor.tools.seen_bytes:,}"
    )
    if results:
        tk = results[0].tools
        t.add_row("taskorch serve", str(tk.tools), f"{tk.full_bytes:,}", f"{tk.seen_bytes:,}")
    out.print(t)


def print_answers(answers: AnswerSizes) -> None:
    t = table(
        "6. Typical answers, in a project of about 40 tasks (in-memory client); tokens estimated as bytes / 4; "
        "'client check': the official client's validation of structuredContent against the outputSchema",
        "tool",
        "text bytes",
        "structured bytes",
        "total bytes",
        "~tokens",
        "client check ms",
    )
    for label, row in answers.rows.items():
        t.add_row(
            label,
            f"{row.text:,}",
            f"{row.structured:,}",
            f"{row.total:,}",
            f"{row.total // 4:,}",
            ms(row.check.median_ms, 3),
        )
    out.print(t)
    t = table(
        "tools/list by part (compact JSON bytes; ~tokens = bytes / 4)",
        "tools",
        "whole answer",
        "name+description+inputSchema",
        "~tokens read by a model",
        "outputSchemas",
    )
    for scope in ("all", "core"):
        t.add_row(
            scope,
            f"{answers.tools_full[scope]:,}",
            f"{answers.tools_seen[scope]:,}",
            f"{answers.tools_seen[scope] // 4:,}",
            f"{answers.output_schemas[scope]:,}",
        )
    out.print(t)


def print_seeding(stages: list[SeedStage]) -> None:
    t = table(
        "Seeding through the services, in process (one database grown from size to size)",
        "target",
        "tasks after",
        "1,000-subtask plans",
        "completed",
        "stage s",
        "cumulative s",
    )
    cumulative = 0.0
    for s in stages:
        cumulative += s.seconds
        t.add_row(
            f"{s.target:,}",
            f"{s.tasks_after:,}",
            str(s.big_plans),
            f"{s.completed:,}",
            ms(s.seconds, 1),
            ms(cumulative, 1),
        )
    out.print(t)


def print_aims(start_diff: float, floor: FloorResult, results: list[SizeResult], answers: AnswerSizes) -> None:
    t = table(
        "Aims (calls: median round trip as a ratio to the bare server's no-op call interleaved with them; "
        "the client's schema check excluded in brackets; then the ratio to the floor of table 2's first row, "
        "measured back to back at the start of the run)",
        "aim",
        "figure",
        "target",
        "met",
        "when the aims were set",
    )
    t.add_row(
        "start-up within 100 ms of the floor",
        f"+{ms(start_diff, 0)} ms",
        f"<= +{AIM_START_OVER_FLOOR_MS:.0f} ms",
        yes_no(start_diff <= AIM_START_OVER_FLOOR_MS),
        WHEN_SET["start-up"],
    )

    def ratio_row(label: str, then: str, median: float, net: float, noop: float, aim: float) -> None:
        ratio = median / noop
        start = median / floor.times.rtt.median_ms
        figure = f"x{ratio:.1f} (x{net / noop:.1f}); x{start:.1f} of the start-of-run floor"
        t.add_row(label, figure, f"<= x{aim:g}", yes_no(ratio <= aim), then)

    for name in ("get_status", "query_tasks", "pair"):
        for r in results:
            times = r.times[name]
            label = f"{LABEL[name]}, {r.tasks_at_start:,} tasks"
            ratio_row(
                label, WHEN_SET[name], times.rtt.median_ms, times.net.median_ms, r.floor.rtt.median_ms, AIM_RATIO[name]
            )
        if len(results) > 1:
            first, last = (r.times[name].rtt.median_ms / r.floor.rtt.median_ms for r in (results[0], results[-1]))
            t.add_row(
                f"{LABEL[name]} flat from {results[0].tasks_at_start:,} to {results[-1].tasks_at_start:,} tasks",
                f"x{last / first:.2f} (ratio of the x no-op figures)",
                f"<= x{FLAT_FACTOR}",
                yes_no(last <= first * FLAT_FACTOR),
                "flat",
            )
    for r in results:
        median, noop = r.big_plan.median_ms, r.floor.rtt.median_ms
        t.add_row(
            f"plan_task with 1,000 subtasks, {r.tasks_at_start:,} tasks",
            f"x{median / noop:.0f} ({ms(median, 0)} ms)",
            f"<= x{AIM_RATIO['big_plan']:g}",
            yes_no(median / noop <= AIM_RATIO["big_plan"]),
            WHEN_SET["big_plan"],
        )
    peak = max((r.memory.get("VmHWM", math.nan) for r in results), default=math.nan)
    floor_peak = floor.memory.get("VmHWM", math.nan)
    t.add_row(
        "server peak memory over the bare server's (largest VmHWM)",
        f"+{ms(peak - floor_peak, 1)} MiB ({ms(peak, 1)})",
        f"<= +{AIM_PEAK_OVER_FLOOR_MIB:.0f} MiB",
        yes_no(peak - floor_peak <= AIM_PEAK_OVER_FLOOR_MIB),
        WHEN_SET["memory"],
    )
    for scope in ("all", "core"):
        seen = answers.tools_seen[scope]
        t.add_row(
            f"tools/list, name+description+inputSchema, {scope} tools",
            f"{seen:,} B",
            f"<= {AIM_TOOLS_SEEN_BYTES:,} B",
            yes_no(seen <= AIM_TOOLS_SEEN_BYTES),
            WHEN_SET["tools/list"],
        )
    for label in ("get_status", "query_tasks (20 tasks, brief)"):
        size = answers.rows[label].total
        t.add_row(
            f"answer of {label}",
            f"{size:,} B",
            f"<= {AIM_ANSWER_BYTES:,} B",
            yes_no(size <= AIM_ANSWER_BYTES),
            WHEN_SET["answers"],
        )
    out.print(t)


# -- main ------------------------------------------------------------------------------------


async def run(cfg: Config) -> None:
    with tempfile.TemporaryDirectory(prefix="taskorch-bench-") as raw:
        tmp = Path(raw)
        project = tmp / "project"
        (project / ".git").mkdir(parents=True)
        database_url = f"sqlite:///{tmp / 'bench.db'}"

        progress(f"start-up: {cfg.startup_runs} runs each (+1 warm-up)")
        startup = await bench_startup(cfg, tmp)
        out.print(
            f"taskorch {'--quick ' if cfg.quick else ''}server benchmark: {os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}, SQLite database in a temporary directory; "
            f"load average at start {load_average()}",
            soft_wrap=True,
        )
        start_diff = print_startup(cfg, startup)

        progress(f"no-op floor: {cfg.calls} calls")
        floor = await bench_floor(cfg, tmp)
        progress("answer sizes and the client's schema check, in process")
        answers = await bench_answers(tmp)

        seeder = Seeder(database_url, project)
        stages: list[SeedStage] = []
        results: list[SizeResult] = []
        try:
            for size in cfg.sizes:
                stage = SeedStage(target=size)
                stages.append(stage)
                pool_size = cfg.warmup + cfg.calls
                reserve = (pool_size + 1) + (cfg.inproc_calls + 1) + cfg.inproc_calls
                progress(f"seeding to {size:,} tasks")
                seeder.grow_to(stage, reserve)
                t0 = time.perf_counter()
                inproc_pool = seeder.ready_pool(cfg.inproc_calls)
                pool = seeder.ready_pool(pool_size)
                stage.seconds += time.perf_counter() - t0
                progress(f"seeded in {stage.seconds:.1f}s; in-process service times")
                inproc, statements = seeder.measure(cfg.inproc_calls, inproc_pool)
                stage.tasks_after = seeder.total()
                seeder.close()  # the server is the only user of the database while measured
                progress(f"{size:,} tasks: {cfg.calls} timed calls per tool over stdio")
                results.append(await bench_size(cfg, size, database_url, project, pool, inproc, statements))
                progress(f"{size:,} tasks: done")
        finally:
            seeder.close()

        print_latency(cfg, floor, results)
        print_big_plan(cfg, results, stages)
        print_memory(floor, results)
        print_tools(floor, results)
        print_seeding(stages)
        print_answers(answers)
        print_aims(start_diff, floor, results, answers)
        elapsed = time.perf_counter() - started_at
        out.print()
        out.print(
            f"total run time {elapsed:.0f} s (bound {cfg.budget_seconds:.0f} s); load average at end {load_average()}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer runs, only 1,000 and 10,000 tasks")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if not TASKORCH.exists():
        print(f"error: {TASKORCH} not found; install taskorch into this interpreter's environment", file=sys.stderr)
        return 2

    async def bounded() -> None:
        # A hard stop well past the expected run time, so a hung server cannot hold the run forever.
        with anyio.fail_after(cfg.budget_seconds * 2):
            await run(cfg)

    anyio.run(bounded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
