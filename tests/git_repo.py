"""Git repositories for the release tests: a committer identity and a ``git`` runner."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["IDENTITY", "commit", "git", "init_repository"]

#: An author and committer for commits and annotated tags (a fresh machine's git may have none).
IDENTITY = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(repo: Path, *args: str) -> str:
    """Run ``git -C repo ARGS`` with :data:`IDENTITY`; its stripped stdout. Raises on failure."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **IDENTITY}, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str, name: str) -> None:
    """Write ``message`` to the file ``name`` and commit it with that message."""
    (repo / name).write_text(message + "\n")
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)


def init_repository(root: Path, *, remote: Path) -> Path:
    """``git init`` at ``root`` (branch main), with a bare repository at ``remote`` as origin."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(root, "remote", "add", "origin", str(remote))
    return root
