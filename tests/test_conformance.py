"""The MCP conformance suite's server scenarios and the MCP Inspector against ``taskorch serve --transport http``.

The suite (npm ``@modelcontextprotocol/conformance``) needs Node.js 22, which
``../shared/tools/node22.sh`` puts on PATH; without ``../shared`` the module is skipped. The suite
sends no credentials, so the server runs with ``--no-auth`` on loopback, as the README allows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskorch.services.tokens import TokenService
from taskorch.store.db import Database
from test_team_http import start, stop

pytestmark = pytest.mark.slow

NODE22 = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "node22.sh"
PACKAGE = "@modelcontextprotocol/conformance"
#: The generic scenarios for a real server (the others exercise features a test server defines).
SCENARIOS = ("server-initialize", "ping", "tools-list", "resources-list", "dns-rebinding-protection")


@pytest.fixture(scope="module")
def mcp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not NODE22.is_file():
        pytest.skip(f"Node.js 22 for the conformance suite comes from {NODE22}, which is missing (../shared).")
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to put Node.js 22 on PATH.")
    database_url = f"sqlite:///{tmp_path_factory.mktemp('conformance') / 'c.db'}"
    process, port = start(["--no-auth"], database_url)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_server_passes_the_conformance_scenario(mcp_url: str, scenario: str) -> None:
    command = f'source "{NODE22}" >/dev/null && npx -y {PACKAGE} server --url "{mcp_url}" --scenario {scenario}'
    try:
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=600, env=dict(os.environ), check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the conformance suite did not finish {scenario} within 600 s")
    output = done.stdout + done.stderr
    if done.returncode != 0 and ("ENOTFOUND" in output or "EAI_AGAIN" in output):
        pytest.skip(f"the npm registry could not be reached to fetch {PACKAGE}")
    assert done.returncode == 0, output[-3000:]
    # The suite's summary line, e.g. "Passed: 1/1, 0 failed, 0 warnings": every check passed.
    summary = re.search(r"Passed: (\d+)/(\d+), (\d+) failed", output)
    assert summary is not None, output[-3000:]
    passed, total, failed = (int(n) for n in summary.groups())
    assert passed == total > 0 and failed == 0, output[-3000:]


def test_the_inspector_lists_the_tools_over_http_with_a_token(tmp_path: Path) -> None:
    """The MCP Inspector's CLI, as a person would point it at a team server with their token."""
    if not NODE22.is_file():
        pytest.skip(f"Node.js 22 for the MCP Inspector comes from {NODE22}, which is missing (../shared).")
    database_url = f"sqlite:///{tmp_path / 'inspector.db'}"
    token = TokenService(Database(database_url)).create("inspector", "read").token
    process, port = start([], database_url)
    try:
        command = (
            f'source "{NODE22}" >/dev/null && npx -y @modelcontextprotocol/inspector --cli '
            f'"http://127.0.0.1:{port}/mcp" --transport http --method tools/list '
            '--header "Authorization: Bearer $INSPECTOR_TOKEN"'
        )
        done = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "INSPECTOR_TOKEN": token},
            check=False,
        )
    finally:
        stop(process)
    if done.returncode != 0 and ("ENOTFOUND" in done.stderr or "EAI_AGAIN" in done.stderr):
        pytest.skip("the npm registry could not be reached to fetch the MCP Inspector")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    names = {tool["name"] for tool in json.loads(done.stdout)["tools"]}
    assert {"orchestrator_initialize_session", "orchestrator_execute_task", "orchestrator_get_status"} <= names
    assert token not in done.stdout + done.stderr
