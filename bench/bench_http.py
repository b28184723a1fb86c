"""Team mode under load: ``taskorch serve --transport http`` driven by concurrent MCP clients.

    .venv/bin/python bench/bench_http.py [--quick] [--rounds N] [--pg-clients N] [--sqlite-clients N]

For each database (PostgreSQL with 20 clients, SQLite with 4), this starts the server as a
subprocess on 127.0.0.1 (a free port, ready when it accepts connections), creates one write token
per client with ``taskorch token create`` (each client is its own actor, so claims tell them
apart; the tokens are throwaway and never shown), then runs the clients concurrently (asyncio
tasks, the official MCP client over streamable HTTP). Each client loops for a bounded number of
rounds: plan a task, query the pending tasks, execute one of them (a random one, often another
client's, else its own) and complete it. When the rounds are done the clients drain what is
still pending the same way, so every planned task should end completed exactly once.

It prints, per database: requests (tool calls), requests per second, p50/p95/p99 latency of a
call, lost updates and double executions, both counted from the database afterwards:

* lost updates: planned tasks missing from the tasks table, completions acknowledged to a client
  but not completed in the table or without their ``complete_task`` audit row, and planned tasks
  left unfinished after the drain;
* double executions: tasks whose ``execute_task`` succeeded for more than one client, or with
  more than one ``execute_task`` start row in the audit trail. Both should be 0.

PostgreSQL is the server at ``TASKORCH_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in a fresh schema dropped afterwards; it
is skipped with a note when unreachable. SQLite is a file in a temporary directory. All traffic
goes to 127.0.0.1. Nothing here is a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL, make_url

from taskorch.store.tables import task_events, tasks

TASKORCH = Path(sys.executable).parent / "taskorch"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MODE = "legacy"
CALL_TIMEOUT_SECONDS = 120.0
READY_SECONDS = 60.0

out = Console(width=140, highlight=False)
started_at = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - started_at:7.1f}s] {message}", file=sys.stderr, flush=True)


# -- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(database_url: str) -> dict[str, str]:
    env = {**os.environ, "TASKORCH_DATABASE_URL": database_url}
    env.pop("TASKORCH_TOOLSETS", None)
    return env


def create_token(database_url: str, name: str) -> str:
    """A new write token from ``taskorch token create`` (read from its JSON, never printed)."""
    done = subprocess.run(
        [str(TASKORCH), "token", "create", name, "--scope", "write", "--json"],
        env=environment(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"taskorch token create failed ({done.returncode}): {done.stderr.strip()[:500]}")
    return str(json.loads(done.stdout)["token"])


@contextmanager
def server(database_url: str) -> Iterator[str]:
    """``taskorch serve --transport http`` on a free loopback port; yields the /mcp URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(TASKORCH), "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port)],
        env=environment(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                error = process.stderr.read() if process.stderr else ""
                raise SystemExit(f"the server exited with {process.returncode}: {error.strip()[-1000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > end:
                    raise SystemExit("the server did not start listening") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the clients -----------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    planned: set[int] = field(default_factory=set)
    executed: Counter[int] = field(default_factory=Counter)
    completed: set[int] = field(default_factory=set)
    refused: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(self, client: Client, tally: Tally, session_id: int, rng: random.Random) -> None:
        self.client = client
        self.tally = tally
        self.session_id = session_id
        self.rng = rng

    async def call(self, name: str, **arguments: Any) -> dict[str, Any] | None:
        """One tool call, timed; its structured answer, or ``None`` when the tool refused."""
        start = time.perf_counter()
        with anyio.fail_after(CALL_TIMEOUT_SECONDS):
            result = await self.client.call_tool("orchestrator_" + name, arguments)
        self.tally.latencies.append(time.perf_counter() - start)
        if result.is_error or not isinstance(result.structured_content, dict):
            return None
        return result.structured_content

    async def pending(self) -> list[int]:
        found = await self.call(
            "query_tasks", status=["pending"], sort="id", order="asc", limit=50, session_id=self.session_id
        )
        if found is None:
            self.tally.errors.append("query_tasks refused")
            return []
        return [int(t["id"]) for t in found["tasks"]]

    async def work(self, candidates: list[int]) -> bool:
        """Execute the first candidate a claim allows, then complete it; whether one was done."""
        for number in candidates:
            if await self.call("execute_task", task_id=number, session_id=self.session_id) is None:
                self.tally.refused += 1  # claimed by another client, or already finished
                continue
            self.tally.executed[number] += 1
            done = await self.call("complete_task", task_id=number, summary="bench", session_id=self.session_id)
            if done is None:
                self.tally.errors.append(f"complete_task {number} refused after a successful execute")
            else:
                self.tally.completed.add(number)
            return True
        return False

    async def round(self, label: str) -> None:
        plan = await self.call("plan_task", title=f"Bench task {label}", session_id=self.session_id)
        if plan is None:
            self.tally.errors.append("plan_task refused")
            return
        own = int(plan["task"]["id"])
        self.tally.planned.add(own)
        others = await self.pending()
        first = [self.rng.choice(others)] if others else []
        await self.work([*first, own])

    async def drain(self, bound: int) -> None:
        for _ in range(bound):
            left = await self.pending()
            if not left:
                return
            self.rng.shuffle(left)
            await self.work(left[:3])


async def run_client(url: str, token: str, project: Path, index: int, rounds: int, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=MODE) as client,
    ):
        session = await client.call_tool("orchestrator_initialize_session", {"working_directory": str(project)})
        if session.is_error or not isinstance(session.structured_content, dict):
            tally.errors.append("initialize_session refused")
            return
        worker = Worker(client, tally, int(session.structured_content["session_id"]), random.Random(index))
        for n in range(rounds):
            await worker.round(f"{index}.{n}")
        await worker.drain(bound=4 * rounds + 10)


async def run_clients(url: str, tokens: list[str], project: Path, rounds: int, tally: Tally) -> float:
    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for index, token in enumerate(tokens):
            group.start_soon(run_client, url, token, project, index, rounds, tally)
    return time.perf_counter() - start


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Result:
    database: str
    clients: int
    requests: int
    seconds: float
    latencies: list[float]
    lost: int
    doubles: int
    planned: int
    completed: int
    refused: int
    errors: list[str]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def audit(database_url: str | URL, tally: Tally) -> tuple[int, int]:
    """Lost updates and double executions, counted from the database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            statuses = {int(n): str(s) for n, s in conn.execute(select(tasks.c.number, tasks.c.status))}
            complete_rows = Counter(
                n
                for (n,) in conn.execute(
                    select(task_events.c.task_number).where(
                        task_events.c.tool == "complete_task", task_events.c.action == "status"
                    )
                )
            )
            starts = conn.execute(
                select(task_events.c.task_number, func.count())
                .where(task_events.c.tool == "execute_task", task_events.c.action == "status")
                .group_by(task_events.c.task_number)
                .having(func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    missing = sum(1 for n in tally.planned if n not in statuses)
    not_completed = sum(1 for n in tally.completed if statuses.get(n) != "completed")
    unaudited = sum(1 for n in tally.completed if complete_rows[n] != 1)
    unfinished = sum(1 for n in tally.planned if n not in tally.completed)
    doubles = {n for n, count in tally.executed.items() if count > 1} | {int(n) for n, _count in starts}
    return missing + not_completed + unaudited + unfinished, len(doubles)


def run(database: str, database_url: str | URL, clients: int, rounds: int, work: Path) -> Result:
    url_text = database_url if isinstance(database_url, str) else database_url.render_as_string(hide_password=False)
    progress(f"{database}: creating {clients} tokens")
    tokens = [create_token(url_text, "bench-1")]  # alone: the first command creates the schema
    with ThreadPoolExecutor(max_workers=4) as pool:  # then one CLI process per token, a few at a time
        tokens += pool.map(lambda i: create_token(url_text, f"bench-{i + 1}"), range(1, clients))
    project = work / f"project-{database.lower()}"
    (project / ".git").mkdir(parents=True)
    tally = Tally()
    with server(url_text) as url:
        progress(f"{database}: {clients} clients x {rounds} rounds against the server")
        seconds = anyio.run(run_clients, url, tokens, project, rounds, tally)
    tokens.clear()
    lost, doubles = audit(database_url, tally)
    return Result(
        database,
        clients,
        len(tally.latencies),
        seconds,
        tally.latencies,
        lost,
        doubles,
        len(tally.planned),
        len(tally.completed),
        tally.refused,
        tally.errors,
    )


@contextmanager
def postgres_schema() -> Iterator[URL | None]:
    """A fresh schema on the PostgreSQL server (dropped afterwards), or ``None`` when unreachable."""
    base = make_url(os.environ.get("TASKORCH_TEST_POSTGRES_URL", "").strip() or DEFAULT_PG_URL)
    if base.host not in (None, "127.0.0.1", "localhost", "::1"):
        out.print(f"PostgreSQL skipped: {base.host} is not this machine (the bench talks to 127.0.0.1 only).")
        yield None
        return
    admin = create_engine(base, connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        out.print(f"PostgreSQL skipped: not reachable at {base.render_as_string(hide_password=True)} ({reason}).")
        yield None
        return
    name = f"taskorch_bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        given = base.query.get("options", "")
        given = given if isinstance(given, str) else " ".join(given)
        options = " ".join(filter(None, [given, f"-csearch_path={name}"]))
        yield base.update_query_dict({"options": options})
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def report(results: list[Result]) -> None:
    table = Table(title="taskorch serve --transport http: concurrent clients", title_justify="left")
    for column in ("clients", "database", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for column in ("planned", "completed", "refused", "lost updates", "double executions"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.clients),
            r.database,
            str(r.requests),
            f"{r.requests / r.seconds:.1f}" if r.seconds else "-",
            f"{percentile(r.latencies, 0.50):.1f}",
            f"{percentile(r.latencies, 0.95):.1f}",
            f"{percentile(r.latencies, 0.99):.1f}",
            str(r.planned),
            str(r.completed),
            str(r.refused),
            str(r.lost),
            str(r.doubles),
        )
    out.print(table)
    out.print(
        "refused: execute_task calls a claim or a finished task turned away (expected under contention); "
        "lost updates and double executions should be 0."
    )
    for r in results:
        for error in sorted(set(r.errors))[:5]:
            out.print(f"{r.database}: unexpected: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few rounds (a short run)")
    parser.add_argument("--rounds", type=int, help="rounds per client (default 10, or 3 with --quick)")
    parser.add_argument("--pg-clients", type=int, default=20)
    parser.add_argument("--sqlite-clients", type=int, default=4)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 10)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="taskorch-bench-http-") as tmp:
        work = Path(tmp)
        with postgres_schema() as pg_url:
            if pg_url is not None:
                results.append(run("PostgreSQL", pg_url, args.pg_clients, rounds, work))
        results.append(run("SQLite", f"sqlite:///{work / 'bench.db'}", args.sqlite_clients, rounds, work))
    report(results)
    return 1 if any(r.lost or r.doubles for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
