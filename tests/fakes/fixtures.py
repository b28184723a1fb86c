"""pytest fixtures for the platform fakes.

* ``github_spec`` (session): a :class:`SpecValidator` over GitHub's official OpenAPI description,
  built once per session by ``../shared/tools/contract/prism.sh spec github`` (or read from the
  file named by ``GITHUB_OPENAPI_SPEC``). Skips the test, with the reason, when it cannot be had.
* ``fake_github``: a fresh :class:`FakeGitHub` whose exchanges are validated against that
  description when it is available (and not validated otherwise, so tests of other code still run
  on a fresh clone); at teardown it fails the test if any exchange broke the description.
* ``github_validator``: a fresh validator (skips when the description is unavailable), for tests
  that must prove validation happened.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from standins.github import FakeGitHub

from .openapi import SpecValidator

__all__ = ["fake_github", "github_spec", "github_validator", "load_github_spec"]

_PRISM = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "contract" / "prism.sh"


@functools.cache
def load_github_spec() -> tuple[SpecValidator | None, str]:
    """The session's validator over GitHub's description, or ``None`` and why it is unavailable.
    Built at most once per process."""
    return _load()


def _load() -> tuple[SpecValidator | None, str]:
    explicit = os.environ.get("GITHUB_OPENAPI_SPEC")
    if explicit:
        if not Path(explicit).is_file():
            return None, f"GITHUB_OPENAPI_SPEC={explicit} is not a file"
        return SpecValidator.from_file(explicit), explicit
    if not _PRISM.is_file():
        return None, f"GitHub's OpenAPI description is unavailable: {_PRISM} does not exist"
    try:
        done = subprocess.run(
            ["bash", str(_PRISM), "spec", "github"], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"GitHub's OpenAPI description is unavailable: {_PRISM} spec github failed: {exc}"
    lines = done.stdout.strip().splitlines()
    path = Path(lines[-1]) if lines else None
    if done.returncode != 0 or path is None or not path.is_file():
        tail = (done.stderr or done.stdout).strip()[-500:]
        return None, f"GitHub's OpenAPI description is unavailable ({_PRISM} exited {done.returncode}): {tail}"
    return SpecValidator.from_file(path), str(path)


@pytest.fixture(scope="session")
def github_spec() -> SpecValidator:
    """GitHub's official OpenAPI description (trimmed to the paths taskorch uses), loaded once."""
    validator, reason = load_github_spec()
    if validator is None:
        pytest.skip(reason)
    return validator


@pytest.fixture
def github_validator(github_spec: SpecValidator) -> SpecValidator:
    """A validator with no violations yet, sharing the session's compiled schemas."""
    return github_spec.fork()


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub (``octo-org/shop``), validated against the official description when
    it is available; the test fails at teardown if any exchange broke it."""
    master, _reason = load_github_spec()
    validator = master.fork() if master is not None else None
    fake = FakeGitHub(validator=validator)
    yield fake
    problems = [str(v) for v in validator.violations] if validator is not None else []
    problems += fake.internal_errors
    if problems:
        pytest.fail("the fake GitHub saw exchanges that break GitHub's API description:\n" + "\n".join(problems))
