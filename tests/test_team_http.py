"""Team mode over HTTP: ``taskorch serve --transport http`` as a subprocess, driven by the official
MCP client (both protocol revisions) with bearer tokens; refusals by raw HTTP requests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from sqlalchemy import create_engine, text

from taskorch.services.tokens import TokenService
from taskorch.store.db import Database

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).parent / "taskorch"
MODES = ("legacy", "auto")
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str], deadline: float = 60.0) -> None:
    """Poll until the server accepts connections (or fail with its output if it exits)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start listening")


class Server:
    def __init__(self, url: str, database_url: str, tokens: dict[str, str], project: Path) -> None:
        self.url = url
        self.database_url = database_url
        self.tokens = tokens
        self.project = project


def start(args: list[str], database_url: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "TASKORCH_DATABASE_URL": database_url}
    env.pop("TASKORCH_TOOLSETS", None)
    process = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "serve", "--transport", "http", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_port(port, process)
    return process, port


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("team")
    database_url = f"sqlite:///{base / 'team.db'}"
    service = TokenService(Database(database_url))
    tokens = {
        name: service.create(name, scope).token
        for name, scope in (
            ("alice", "write"),
            ("bob", "write"),
            ("reader", "read"),
            ("root", "admin"),
            ("gone", "write"),
        )
    }
    service.revoke("gone")
    service.db.dispose()
    project = base / "project"
    (project / ".git").mkdir(parents=True)
    process, port = start([], database_url)
    try:
        yield Server(f"http://127.0.0.1:{port}/mcp", database_url, tokens, project)
    finally:
        stop(process)


async def _session(server: Server, token: str, mode: str, script: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(server.url, http_client=http), mode=mode) as client,
    ):
        return await script(client)


async def ok(client: Client, name: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("orchestrator_" + name, arguments)
    text_ = " ".join(getattr(b, "text", "") for b in result.content)
    assert not result.is_error, f"{name}: {text_}"
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def events(database_url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT tool, action, actor FROM task_events ORDER BY id"))]
    finally:
        engine.dispose()


def post(server: Server, payload: Any, token: str | None = None, **headers: str) -> httpx2.Response:
    sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return httpx2.post(server.url, content=json.dumps(payload), headers=sent, timeout=30)


@pytest.mark.parametrize("mode", MODES)
def test_a_token_holder_works_a_task_and_the_audit_names_them(server: Server, mode: str) -> None:
    async def script(client: Client) -> dict[str, Any]:
        seen: dict[str, Any] = {"tools": [t.name for t in (await client.list_tools()).tools]}
        session = await ok(client, "initialize_session", working_directory=str(server.project))
        sid = session["session_id"]
        plan = await ok(client, "plan_task", title=f"Work over HTTP ({mode})", session_id=sid)
        number = plan["task"]["id"]
        seen["execute"] = await ok(client, "execute_task", task_id=number, session_id=sid)
        seen["status"] = await ok(client, "get_status", session_id=sid)
        seen["complete"] = await ok(client, "complete_task", task_id=number, summary="done", session_id=sid)
        return seen

    seen = anyio.run(_session, server, server.tokens["alice"], mode, script)
    assert "orchestrator_plan_task" in seen["tools"]
    claimed = [t for t in seen["status"]["in_progress"] if t["id"] == seen["execute"]["task"]["id"]]
    assert claimed and claimed[0]["claimed_by"] == "alice"
    rows = events(server.database_url)
    assert ("plan_task", "created", "alice") in rows
    assert ("complete_task", "status", "alice") in rows
    assert all(actor == "alice" for tool, _action, actor in rows if tool != "initialize_session")


def test_two_clients_never_share_a_current_session(server: Server, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)

    async def first(client: Client) -> Any:
        await ok(client, "initialize_session", working_directory=str(server.project))

        async def second(client2: Client) -> Any:
            await ok(client2, "initialize_session", working_directory=str(other))
            return await ok(client2, "get_status")

        status_b = await _session(server, server.tokens["bob"], "legacy", second)
        status_a = await ok(client, "get_status")
        return status_a, status_b

    status_a, status_b = anyio.run(_session, server, server.tokens["alice"], "legacy", first)
    assert status_a["project_root"] == str(server.project.resolve())
    assert status_b["project_root"] == str(other.resolve())


def test_without_a_valid_token_every_request_gets_401_and_nothing_changes(server: Server) -> None:
    before = events(server.database_url)
    for token in (None, "tko_not-a-token", "wrong", server.tokens["gone"]):
        response = post(server, INITIALIZE, token)
        assert response.status_code == 401, (token is None, response.text)
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer")
        assert "resource_metadata=" in challenge
        for secret in server.tokens.values():
            assert secret not in response.text
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "orchestrator_plan_task", "arguments": {"title": "sneak in"}},
    }
    assert post(server, call, server.tokens["gone"]).status_code == 401
    assert events(server.database_url) == before
    metadata = httpx2.get(server.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp"), timeout=30)
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == server.url


@pytest.mark.parametrize("mode", MODES)
def test_a_read_token_reads_and_gets_403_for_a_write_tool(server: Server, mode: str) -> None:
    async def setup(client: Client) -> int:
        session = await ok(client, "initialize_session", working_directory=str(server.project))
        return int(session["session_id"])

    sid = anyio.run(_session, server, server.tokens["alice"], "legacy", setup)
    before = events(server.database_url)

    async def script(client: Client) -> Any:
        return await ok(client, "get_status", session_id=sid)

    status = anyio.run(_session, server, server.tokens["reader"], mode, script)
    assert status["session_id"] == sid
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "orchestrator_plan_task", "arguments": {"title": "not allowed", "session_id": sid}},
    }
    headers = {"MCP-Protocol-Version": "2025-11-25"}
    response = post(server, call, server.tokens["reader"], **headers)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert "write" in response.json()["error_description"]
    # A write token may not reach admin tools either.
    admin_call = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "orchestrator_maintenance_coordinator", "arguments": {"action": "scan_cleanup"}},
    }
    assert post(server, admin_call, server.tokens["alice"], **headers).status_code == 403
    assert events(server.database_url) == before


def test_host_and_origin_are_checked(server: Server) -> None:
    token = server.tokens["alice"]
    assert post(server, INITIALIZE, token, Host="evil.example:80").status_code == 421
    assert post(server, INITIALIZE, token, Origin="http://evil.example").status_code == 403


def test_no_auth_is_refused_off_loopback(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), "serve", "--transport", "http", "--host", "0.0.0.0", "--no-auth", "--port", "1"],
        env={**os.environ, "TASKORCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--no-auth" in done.stderr and "loopback" in done.stderr
