"""Atlassian's official Bitbucket Cloud description as a :class:`SpecValidator`, for the stand-in.

The description comes from ``../shared/tools/contract/prism.sh spec bitbucket`` (the trimmed,
fixed copy Prism serves: paths under ``/2.0``, ``object.type`` not required in requests), or from
the file named by ``BITBUCKET_OPENAPI_SPEC``. :func:`load_bitbucket_spec` returns ``None`` and the
reason when it cannot be had, so tests skip saying why.

Bitbucket documents ``page`` and ``pagelen`` once for every paginated collection
(https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination) and the description does
not repeat them per operation: :class:`BitbucketSpec` does not count them as unknown parameters.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import httpx

from .openapi import SpecValidator, Violation

__all__ = ["PAGINATION", "BitbucketSpec", "load_bitbucket_spec"]

_PRISM = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "contract" / "prism.sh"
#: Query parameters Bitbucket documents for every paginated collection.
PAGINATION = ("page", "pagelen")


class BitbucketSpec(SpecValidator):
    """A :class:`SpecValidator` that accepts Bitbucket's API-wide pagination parameters."""

    def check(
        self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None
    ) -> list[Violation]:
        found = super().check(request, response, path=path)
        kept = [v for v in found if not _pagination(v)]
        if len(kept) != len(found):
            with self._lock:
                self.violations = [v for v in self.violations if not _pagination(v)]
        return kept


def _from_file(path: str | Path) -> BitbucketSpec:
    with open(path, encoding="utf-8") as handle:
        return BitbucketSpec(json.load(handle), skip_paths=())


def _pagination(violation: Violation) -> bool:
    return violation.where == "request.query" and any(
        f"{name!r} is not a parameter" in violation.what for name in PAGINATION
    )


@functools.cache
def load_bitbucket_spec() -> tuple[BitbucketSpec | None, str]:
    """The validator over Bitbucket's description, or ``None`` and why it is unavailable."""
    explicit = os.environ.get("BITBUCKET_OPENAPI_SPEC")
    if explicit:
        if not Path(explicit).is_file():
            return None, f"BITBUCKET_OPENAPI_SPEC={explicit} is not a file"
        return _from_file(explicit), explicit
    if not _PRISM.is_file():
        return None, f"Bitbucket's OpenAPI description is unavailable: {_PRISM} does not exist"
    try:
        done = subprocess.run(
            ["bash", str(_PRISM), "spec", "bitbucket"], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"Bitbucket's OpenAPI description is unavailable: {_PRISM} spec bitbucket failed: {exc}"
    lines = done.stdout.strip().splitlines()
    path = Path(lines[-1]) if lines else None
    if done.returncode != 0 or path is None or not path.is_file():
        tail = (done.stderr or done.stdout).strip()[-500:]
        return None, f"Bitbucket's OpenAPI description is unavailable ({_PRISM} exited {done.returncode}): {tail}"
    return _from_file(path), str(path)
