"""Run a stand-in or the demo from the repository's root:

python -m standins github [--port N] [--repository OWNER/REPO]
    serve the GitHub stand-in on 127.0.0.1 until Ctrl-C, printing its URL and the settings
    that point `taskorch sync` at it;
python -m standins demo [--keep]
    the demo: a real MCP client driving `taskorch serve` against the GitHub stand-in.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

#: The environment variable the printed instructions name for the stand-in's (any) token.
TOKEN_NAME = "STANDIN_GITHUB_TOKEN"


def instructions(url: str, repository: str) -> str:
    """How to point ``taskorch sync`` at a stand-in serving ``repository`` at ``url``."""
    return f"""\
Try taskorch against it from another shell, in a throwaway Git repository and database:
  cd "$(mktemp -d)" && git init -q
  export TASKORCH_DATABASE_URL="sqlite:///$PWD/taskorch.db"
  export TASKORCH_GITHUB_API_URL={url}
  export TASKORCH_MUTATION_SPACING=0
  export {TOKEN_NAME}=any-value   # the stand-in accepts any token
  taskorch git connect {repository} --token-name {TOKEN_NAME} --auto-sync
  taskorch plan-task "Try the stand-in"
  taskorch sync
Ctrl-C stops it; its state lives in memory only."""


def serve_github(repository: str, port: int, out: TextIO) -> int:
    """Serve the GitHub stand-in until interrupted; the first line printed is its URL."""
    from standins.github import FakeGitHub

    owner, _, repo = repository.partition("/")
    github = FakeGitHub(owner, repo)
    with github.serve(port) as url:
        print(f"GitHub stand-in for {repository} at {url}", file=out)
        print(instructions(url, repository), file=out, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", file=out, flush=True)
    return 0


def _repository(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+", value):
        raise argparse.ArgumentTypeError(f"expected OWNER/REPO, got {value!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m standins", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    github = commands.add_parser("github", help="serve the GitHub stand-in on 127.0.0.1 until Ctrl-C")
    github.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    github.add_argument(
        "--repository", type=_repository, default="octo-org/shop", help="the one repository it holds (OWNER/REPO)"
    )
    demo = commands.add_parser("demo", help="drive `taskorch serve` with the MCP client in a throwaway repository")
    demo.add_argument("--keep", action="store_true", help="keep the throwaway repository and database afterwards")
    args = parser.parse_args(argv)
    if args.command == "github":
        return serve_github(args.repository, args.port, sys.stdout)
    from standins.demo import run_demo

    return run_demo(keep=args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
