"""Stoplight Prism serving a platform's official API description, for the contract tests.

``../shared/tools/contract/prism.sh`` starts Prism on 127.0.0.1 with the description of
``github``, ``bitbucket``, ``jira`` or ``jira-agile``; Prism answers 422, or adds an
``sl-violations`` header, when a request breaks the description. :func:`served` starts one and
skips the test with the reason when ``../shared`` is absent or Prism cannot be installed;
:class:`Recorder` is a transport that keeps every exchange with the violations found in it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = ["PRISM", "Exchange", "Recorder", "private_cache", "request_violations", "served"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PRISM = SHARED / "tools" / "contract" / "prism.sh"
#: Seconds for installing Prism with npm (the first run) and starting it.
START_TIMEOUT = 180


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


def private_cache(root: Path, *, shared_files: Sequence[str] = ()) -> dict[str, str]:
    """The environment for prism.sh with a work directory of this run's own.

    prism.sh rebuilds its trimmed description in its cache on every start, and a running Prism
    reloads (refusing connections meanwhile) when that file changes: two test runs sharing the
    cache would disturb each other. The npm install, and the downloaded descriptions named in
    ``shared_files``, are shared through links, so a private cache costs nothing after the first run.
    """
    shared = Path(os.environ.get("CONTRACT_CACHE") or Path.home() / ".cache" / "contract-mocks")
    (shared / "node").mkdir(parents=True, exist_ok=True)
    (root / "node").symlink_to(shared / "node", target_is_directory=True)
    for name in shared_files:
        if (shared / name).is_file():
            (root / name).symlink_to(shared / name)
    return {**os.environ, "CONTRACT_CACHE": str(root)}


@contextmanager
def served(which: str, env: dict[str, str], *, title: str) -> Iterator[str]:
    """Prism serving the description ``which`` (prism.sh's names) on a free port; yields its base
    URL and stops it afterwards. Skips the calling test, naming ``title`` and the reason, when
    ``../shared`` is absent or Prism cannot be installed or started."""
    if not PRISM.is_file():
        pytest.skip(f"{title} contract mock not available: {PRISM} is missing (../shared is not beside the project).")
    port = str(_free_port())

    def stop() -> None:
        subprocess.run(["bash", str(PRISM), "stop", which, port], capture_output=True, check=False, env=env)

    try:
        started = subprocess.run(
            ["bash", str(PRISM), "start", which, port],
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
        pytest.skip(f"Prism could not be installed or started for the {title} description: {detail}")
    try:
        yield lines[-1]
    finally:
        stop()
