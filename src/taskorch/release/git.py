"""The project's own Git repository, through the ``git`` command.

Only what release coordination needs: is the work tree clean, which tags exist, which commits came
since a tag, create and push an annotated tag. Every call runs ``git -C <root>`` with a fixed
argument list (never a shell) and a timeout; failures become :class:`~taskorch.errors.Conflict`
or :class:`~taskorch.errors.InvalidInput` with git's own first line of error.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from taskorch.errors import Conflict, InvalidInput, PlatformUnavailable

__all__ = ["Commit", "GitRepo"]

#: Seconds a local git command may take; pushing gets longer.
LOCAL_TIMEOUT = 30.0
PUSH_TIMEOUT = 120.0
_FIELD, _RECORD = "\x1f", "\x1e"


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
        out = self._run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False).strip()
        if not out:
            raise InvalidInput("commit", f"{revision!r} names no commit in the project.", "pass a sha, branch or HEAD.")
        return out

    def tags(self) -> list[str]:
        return [t for t in self._run("tag", "--list").splitlines() if t]

    def tag_target(self, name: str) -> str | None:
        """The commit a tag points at, or ``None`` when the tag does not exist."""
        out = self._run("rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}", check=False).strip()
        return out or None

    def commits(self, since_tag: str | None, until: str) -> list[Commit]:
        """Commits reachable from ``until`` and not from ``since_tag``, oldest first."""
        spec = f"{since_tag}..{until}" if since_tag else until
        fmt = _FIELD.join(["%H", "%s", "%b", "%an", "%aI"]) + _RECORD
        out = self._run("log", "--reverse", f"--format={fmt}", spec)
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
        self._run("tag", "-a", name, sha, "-m", message)

    def push_tag(self, remote: str, name: str) -> None:
        self._run("push", remote, f"refs/tags/{name}", timeout=PUSH_TIMEOUT)

    def remote_has_tag(self, remote: str, name: str) -> bool:
        out = self._run("ls-remote", "--tags", remote, f"refs/tags/{name}", timeout=PUSH_TIMEOUT)
        return bool(out.strip())

    def remotes(self) -> list[str]:
        return [r for r in self._run("remote").splitlines() if r]


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
