"""What a project is: the repository, identified by its normalised remote URL, not a folder.

Two clones of one repository (on one machine or on two) reach one session and one task graph:
a project's key is ``git:<host>/<path>`` from the URL of its ``origin`` remote, normalised so
that every spelling of one repository gives one key, and ``path:<root>`` when it has no remote.

Normalising: the scheme, user, password and port are dropped, the host lowercased, the path's
trailing ``/`` and ``.git`` removed; ``git@host:owner/repo.git`` (scp-like syntax),
``ssh://git@host/owner/repo`` and ``https://host/owner/repo`` are one repository. A local path
used as a remote (``/srv/git/repo.git``, ``file:///srv/git/repo.git``) becomes ``file:/srv/git/repo``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from taskorch.errors import InvalidInput
from taskorch.services.sessions import ProjectLocation, locate_project

__all__ = ["ProjectIdentity", "identify_project", "normalise_remote", "origin_url"]

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")
#: Seconds ``git config`` may take to answer.
GIT_TIMEOUT_SECONDS = 10.0


class ProjectIdentity(NamedTuple):
    """The project a working directory belongs to: its ``root`` on this machine (or as given),
    its ``key`` and the ``reason`` in words; ``location`` when the directory exists here."""

    root: Path
    key: str
    reason: str
    location: ProjectLocation | None


def normalise_remote(url: str) -> str:
    """``host/path`` of a remote URL, or ``file:<absolute path>`` for a local one (``.git`` dropped).

    Raises :class:`InvalidInput` for an empty URL or one without a host and path.
    """
    raw = url.strip()
    if not raw or any(ord(c) < 32 for c in raw):
        raise InvalidInput("repository", "is empty or holds control characters.", "pass the origin remote's URL.")
    if "://" not in raw:
        scp = _SCP_LIKE.match(raw)
        if scp is not None and not raw.startswith(("/", ".")):
            host, path = scp.group("host"), scp.group("path")
        else:
            return _local(raw)
    else:
        parts = urlsplit(raw)
        if parts.scheme == "file":
            return _local(parts.path)
        host, path = parts.hostname or "", parts.path
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    path = path.rstrip("/")
    if not host or not path:
        raise InvalidInput(
            "repository",
            f"{raw!r} names no host and repository path.",
            "pass the URL `git remote get-url origin` prints, e.g. https://github.com/owner/repo.",
        )
    return f"{host.lower()}/{path}"


def _local(path: str) -> str:
    text = str(Path(path).expanduser()).rstrip("/")
    return "file:" + (text[: -len(".git")] if text.endswith(".git") else text)


def origin_url(root: Path) -> str | None:
    """The URL of the ``origin`` remote of the repository at ``root``, or ``None`` (no remote, no
    repository, git missing or slow)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    url = done.stdout.strip()
    return url if done.returncode == 0 and url else None


def _key(normalised: str) -> str:
    return "git:" + normalised


def identify_project(working_directory: str, repository: str | None = None) -> ProjectIdentity:
    """The project of ``working_directory`` (see :func:`locate_project`), keyed by ``repository``
    when given, else by its origin remote, else by its root.

    With ``repository``, ``working_directory`` may lie on another machine (a client of a team
    server): it must then be absolute, and is kept as given. Raises :class:`InvalidInput`.
    """
    if repository is not None:
        key = _key(normalise_remote(repository))
        given = Path(working_directory.strip())
        try:
            location: ProjectLocation | None = locate_project(working_directory)
        except InvalidInput:
            if not given.is_absolute():
                raise
            location = None
        root = location.root if location is not None else given
        where = "" if location is not None else " (the working directory is not on this server's machine)"
        return ProjectIdentity(
            root, key, f"identified by the repository URL given, {key.removeprefix('git:')}{where}", location
        )
    location = locate_project(working_directory)
    url = origin_url(location.root)
    if url is not None:
        try:
            key = _key(normalise_remote(url))
        except InvalidInput:
            key = ""
        if key:
            reason = f"identified by its origin remote, {key.removeprefix('git:')}: every clone of it is this project"
            return ProjectIdentity(location.root, key, reason, location)
    return ProjectIdentity(
        location.root,
        "path:" + str(location.root),
        "identified by its path: it has no origin remote (add one, or pass repository, so clones share it)",
        location,
    )
