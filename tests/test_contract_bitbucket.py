"""Every request the Bitbucket Cloud adapter sends is valid for Atlassian's official description.

A Prism mock serves the description (from ``../shared``, trimmed by ``prism.sh``) on 127.0.0.1 at
``/2.0`` and validates each request: an invalid one gets 422 or an ``sl-violations`` header entry
located in the request. Its answers are generated from the description, so these tests check
requests, never answers' content.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskorch.errors import PlatformError
from taskorch.platforms.bitbucket import BitbucketPlatform

pytestmark = pytest.mark.slow

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PRISM = SHARED / "tools" / "contract" / "prism.sh"
START_TIMEOUT = 180
SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def request_violations(response: httpx.Response) -> list[dict[str, Any]]:
    """The ``sl-violations`` entries whose location starts with "request"."""
    raw = response.headers.get("sl-violations")
    if not raw:
        return []
    return [entry for entry in json.loads(raw) if (entry.get("location") or [None])[0] == "request"]


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    violations: list[dict[str, Any]]


@dataclass
class Recorder(httpx.BaseTransport):
    """A transport that forwards to the local mock and keeps every exchange."""

    inner: httpx.HTTPTransport = field(default_factory=httpx.HTTPTransport)
    exchanges: list[Exchange] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append(
            Exchange(request.method, request.url.path, response.status_code, request_violations(response))
        )
        return response

    def close(self) -> None:
        self.inner.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _private_cache(root: Path) -> dict[str, str]:
    """The environment for prism.sh with a work directory of this run's own (a running Prism
    reloads when its trimmed description is rebuilt, so runs must not share one); the npm
    install is shared through a link."""
    shared = Path(os.environ.get("CONTRACT_CACHE") or Path.home() / ".cache" / "contract-mocks")
    (shared / "node").mkdir(parents=True, exist_ok=True)
    (root / "node").symlink_to(shared / "node", target_is_directory=True)
    return {**os.environ, "CONTRACT_CACHE": str(root)}


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PRISM.is_file():
        pytest.skip(f"Bitbucket contract mock not available: {PRISM} is missing (../shared is not beside the project).")
    env = _private_cache(tmp_path_factory.mktemp("contract-cache"))
    port = str(_free_port())

    def stop() -> None:
        subprocess.run(["bash", str(PRISM), "stop", "bitbucket", port], capture_output=True, check=False, env=env)

    try:
        started = subprocess.run(
            ["bash", str(PRISM), "start", "bitbucket", port],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        stop()
        pytest.skip(f"Prism did not install or start within {START_TIMEOUT} s.")
    lines = started.stdout.strip().splitlines()
    if started.returncode != 0 or not lines or not lines[-1].startswith("http://127.0.0.1:"):
        stop()
        detail = (started.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"Prism could not be installed or started for the Bitbucket description: {detail}")
    try:
        yield lines[-1]
    finally:
        stop()


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module", params=["bearer", "basic"])
def bitbucket(prism_url: str, recorder: Recorder, request: pytest.FixtureRequest) -> Iterator[BitbucketPlatform]:
    username = "ada@example.com" if request.param == "basic" else None
    platform = BitbucketPlatform.connect(
        "test-token", "acme/shop", base_url=prism_url, username=username, transport=recorder
    )
    yield platform
    platform.close()


Operation = Callable[[BitbucketPlatform], object]

# (name, the call, the (method, path pattern) it must send)
OPERATIONS: list[tuple[str, Operation, tuple[str, str]]] = [
    ("get_repository", lambda bb: bb.get_repository(), ("GET", r"/2\.0/repositories/acme/shop")),
    ("list_tags", lambda bb: bb.list_tags(), ("GET", r"/2\.0/repositories/acme/shop/refs/tags")),
    ("get_tag", lambda bb: bb.get_tag("v1.0.0"), ("GET", r"/2\.0/repositories/acme/shop/refs/tags/v1\.0\.0")),
    (
        "create_tag",
        lambda bb: bb.create_tag("v1.0.0", SHA, "Release v1.0.0\n\n## Added\n\n- Cart"),
        ("POST", r"/2\.0/repositories/acme/shop/refs/tags"),
    ),
]


@pytest.mark.parametrize(("name", "operation", "expected"), OPERATIONS, ids=[op[0] for op in OPERATIONS])
def test_request_is_valid_for_bitbuckets_description(
    bitbucket: BitbucketPlatform, recorder: Recorder, name: str, operation: Operation, expected: tuple[str, str]
) -> None:
    recorder.exchanges.clear()
    # The answers are generated from the description, so a failure to interpret them is not what
    # is tested here; every request is.
    with suppress(PlatformError):
        operation(bitbucket)
    assert recorder.exchanges, f"{name} sent no request"
    method, pattern = expected
    assert any(x.method == method and re.fullmatch(pattern, x.path) for x in recorder.exchanges), recorder.exchanges
    for exchange in recorder.exchanges:
        assert exchange.status != 422, f"{exchange.method} {exchange.path} rejected: {exchange.violations}"
        assert not exchange.violations, f"{exchange.method} {exchange.path}: {exchange.violations}"
        assert exchange.status < 400, f"{exchange.method} {exchange.path} answered {exchange.status}"


def test_the_mock_does_flag_an_invalid_request(prism_url: str) -> None:
    """The check above can fail: a tag whose name is not a string is flagged."""
    response = httpx.post(
        f"{prism_url}/repositories/acme/shop/refs/tags",
        json={"name": 7, "target": {"hash": SHA}},
        headers={"Authorization": "Bearer t"},
    )
    assert response.status_code == 422 or request_violations(response)
