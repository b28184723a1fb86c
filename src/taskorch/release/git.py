"""The project's own Git repository, through the ``git`` command.

Only what release coordination needs: is the work tree clean, which tags exist, which commits came
since a tag, create and push an annotated tag. Every call runs ``git -C <root>`` with a fixed
argument list (never a shell) and a timeout; failures become :class:`~taskorch.errors.Conflict`
or :class:`~taskorch.errors.InvalidInput` with git's own first line of error.

Arguments that come from a caller (revisions, tag names, remotes) are passed after
``--end-of-options`` (git 2.24 or newer), so none is ever read as an option such as
``--upload-pack=<command>``; revisions and remote names starting with ``-`` are refused before
git runs, and remote names must look like git's (:func:`check_remote_name`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from taskorch.errors import Conflict, InvalidInput, PlatformUnavailable

__all__ = ["Commit", "GitRepo", "check_remote_name"]

#: Seconds a local git command may take; pushing gets longer.
LOCAL_TIMEOUT = 30.0
PUSH_TIMEOUT = 120.0
_FIELD, _RECORD = "\x1f", "\x1e"
#: A remote's name as ``git remote add`` accepts it, minus the rare oddities: letters, digits,
#: ``.``, ``_``, ``-`` and ``/``, not starting with ``-`` or ``.``, at most 100 characters.
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}$")


def check_remote_name(remote: str) -> str:
    """``remote`` if it is a plausible remote name; raises :class:`InvalidInput` (``remote``)."""
    if not _REMOTE_NAME.fullmatch(remote) or ".." in remote or "//" in remote or remote.endswith((".lock", "/", ".")):
        raise InvalidInput(
            "remote",
            "is not a remote name: use the name of one of the project's remotes (letters, digits, . _ - /, "
            "not starting with - or .), e.g. origin.",
            "list them with `git remote` in the project.",
        )
    return remote


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    body: str
    author: str
    date: str  # ISO 8601


class GitRepo:
    """The repository at ``root`` (the session's project root)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if shutil.which("git") is None:
            raise Conflict("git is not installed on this machine; release coordination needs it.")
        if self._run("rev-parse", "--is-inside-work-tree", check=False).strip() != "true":
            raise Conflict(f"the project at {self.root} is not a Git repository; run `git init` there first.")

    def _run(self, *args: str, check: bool = True, timeout: float = LOCAL_TIMEOUT) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(self.root), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env={"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **_passthrough_env()},
            )
        except subprocess.TimeoutExpired:
            raise PlatformUnavailable(f"git {args[0]} took longer than {timeout:.0f} s") from None
        if check and done.returncode != 0:
            first = (done.stderr or done.stdout).strip().splitlines()
            raise Conflict(f"git {args[0]} failed: {first[0] if first else 'exit ' + str(done.returncode)}")
        return done.stdout

    def dirty_paths(self) -> list[str]:
        """Tracked files changed or staged, and untracked files not ignored."""
        out = self._run("status", "--porcelain=v1", "--untracked-files=normal")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def resolve(self, revision: str) -> str:
        """The full commit sha of ``revision``; raises :class:`InvalidInput` when it names none."""
        if not revision or revision.startswith("-"):
            raise InvalidInput("commit", f"{revision!r} is not a revision.", "pass a commit sha, branch or HEAD.")
        out = self._run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}", check=False
        ).strip()
        if not out:
            raise InvalidInput("commit", f"{revision!r} names no commit in the project.", "pass a sha, branch or HEAD.")
        return out

    def tags(self) -> list[str]:
        return [t for t in self._run("tag", "--list").splitlines() if t]

    def tag_target(self, name: str) -> str | None:
        """The commit a tag points at, or ``None`` when the tag does not exist."""
        out = self._run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/tags/{name}^{{commit}}", check=False
        ).strip()
        return out or None

    def commits(self, since_tag: str | None, until: str) -> list[Commit]:
        """Commits reachable from ``until`` and not from ``since_tag``, oldest first."""
        spec = f"{since_tag}..{until}" if since_tag else until
        if spec.startswith("-"):
            raise InvalidInput("commit", "a revision cannot start with '-'.", "pass a commit sha, branch or HEAD.")
        fmt = _FIELD.join(["%H", "%s", "%b", "%an", "%aI"]) + _RECORD
        out = self._run("log", "--reverse", f"--format={fmt}", "--end-of-options", spec, "--")
        commits = []
        for record in out.split(_RECORD):
            parts = record.strip("\n").split(_FIELD)
            if len(parts) == 5:
                commits.append(
                    Commit(sha=parts[0], subject=parts[1], body=parts[2].strip(), author=parts[3], date=parts[4])
                )
        return commits

    def create_tag(self, name: str, sha: str, message: str) -> None:
        """An annotated tag ``name`` on ``sha`` (``git tag -a``)."""
        _not_an_option("tag", name)
        _not_an_option("commit", sha)
        self._run("tag", "-a", "-m", message, "--end-of-options", name, sha)

    def push_tag(self, remote: str, name: str) -> None:
        """Push ``refs/tags/<name>`` to ``remote``; raises :class:`InvalidInput` for a bad remote name."""
        check_remote_name(remote)
        self._run("push", "--end-of-options", remote, f"refs/tags/{name}", timeout=PUSH_TIMEOUT)

    def remote_has_tag(self, remote: str, name: str) -> bool:
        """Whether ``remote`` has the tag; raises :class:`InvalidInput` for a bad remote name."""
        check_remote_name(remote)
        out = self._run("ls-remote", "--tags", "--end-of-options", remote, f"refs/tags/{name}", timeout=PUSH_TIMEOUT)
        return bool(out.strip())

    def remotes(self) -> list[str]:
        return [r for r in self._run("remote").splitlines() if r]


def _not_an_option(field: str, value: str) -> None:
    if not value or value.startswith("-"):
        raise InvalidInput(field, "cannot be empty or start with '-'.", "pass a tag name or commit sha.")


def _passthrough_env() -> dict[str, str]:
    """The environment git needs (home for its config, path), nothing else of ours."""
    import os

    keep = (
        "PATH",
        "HOME",
        "USER",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "SSH_AUTH_SOCK",
        "GIT_SSH_COMMAND",
        "XDG_CONFIG_HOME",
    )
    return {k: v for k, v in os.environ.items() if k in keep}
