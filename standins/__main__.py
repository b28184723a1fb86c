"""Run a stand-in or the demo from the repository's root:

python -m standins github [--port N] [--repository OWNER/REPO]
    serve the GitHub stand-in on 127.0.0.1 until Ctrl-C, printing its URL and the settings
    that point `taskorch sync` at it;
python -m standins gitlab [--port N] [--repository GROUP/SUB/PROJECT]
    the same for the GitLab stand-in;
python -m standins bitbucket [--port N] [--repository WORKSPACE/REPO]
    the Bitbucket Cloud stand-in (the repository and its tags; its issue tracker answers 410);
python -m standins jira [--port N] [--project KEY]
    the same for the Jira Cloud stand-in (the site root; APIs under /rest/api/3 and /rest/agile/1.0);
python -m standins demo [--keep] [--platform github|gitlab|bitbucket]
    the demo: a real MCP client driving `taskorch serve` against a stand-in.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TextIO

#: The environment variable the printed instructions name for the stand-in's (any) token.
TOKEN_NAME = "STANDIN_GITHUB_TOKEN"
GITLAB_TOKEN_NAME = "STANDIN_GITLAB_TOKEN"
BITBUCKET_TOKEN_NAME = "STANDIN_BITBUCKET_TOKEN"
JIRA_TOKEN_NAME = "JIRA_API_TOKEN"


def instructions(url: str, repository: str, *, platform: str = "github") -> str:
    """How to point ``taskorch sync`` at a stand-in of ``platform`` serving ``repository`` at ``url``."""
    variable, token, reference = (
        ("TASKORCH_GITHUB_API_URL", TOKEN_NAME, repository)
        if platform == "github"
        else ("TASKORCH_GITLAB_URL", GITLAB_TOKEN_NAME, f"gitlab:{repository}")
    )
    return f"""\
Try taskorch against it from another shell, in a throwaway Git repository and database:
  cd "$(mktemp -d)" && git init -q
  export TASKORCH_DATABASE_URL="sqlite:///$PWD/taskorch.db"
  export {variable}={url}
  export TASKORCH_MUTATION_SPACING=0
  export {token}=any-value   # the stand-in accepts any token
  taskorch git connect {reference} --token-name {token} --auto-sync
  taskorch plan-task "Try the stand-in"
  taskorch sync
Ctrl-C stops it; its state lives in memory only."""


def jira_instructions(url: str, project_key: str) -> str:
    """How to point taskorch at the Jira stand-in serving project ``project_key`` at ``url``."""
    return f"""\
Try taskorch against it from another shell, in a throwaway Git repository and database:
  cd "$(mktemp -d)" && git init -q
  export TASKORCH_DATABASE_URL="sqlite:///$PWD/taskorch.db"
  export TASKORCH_JIRA_URL={url}
  export TASKORCH_MUTATION_SPACING=0
  export {JIRA_TOKEN_NAME}=any-value   # the stand-in accepts any token (and any account e-mail)
  taskorch git connect jira:{project_key} --jira {url} --token-name {JIRA_TOKEN_NAME} --auto-sync
  taskorch plan-task "Try the stand-in"
  taskorch sync
Ctrl-C stops it; its state lives in memory only."""


def _serve_until_interrupted(serving: AbstractContextManager[str], say: Callable[[str], str], out: TextIO) -> int:
    """Serve until Ctrl-C, printing ``say(url)`` first (its first line names the URL). A Ctrl-C
    arriving at any moment after the server started, even while that is printed, stops it cleanly,
    also when this process was started with SIGINT ignored (as a shell does for a background job)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with serving as url:
        try:
            print(say(url), file=out, flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", file=out, flush=True)
    return 0


def serve_jira(project_key: str, port: int, out: TextIO) -> int:
    """Serve the Jira Cloud stand-in until interrupted; the first line printed is its URL."""
    from standins.jira import FakeJira

    jira = FakeJira(project_key)
    jira.rate_limit = jira.rate_remaining = 1_000_000
    return _serve_until_interrupted(
        jira.serve(port),
        lambda url: f"Jira Cloud stand-in for project {project_key} at {url}\n{jira_instructions(url, project_key)}",
        out,
    )


def serve_github(repository: str, port: int, out: TextIO) -> int:
    """Serve the GitHub stand-in until interrupted; the first line printed is its URL."""
    from standins.github import FakeGitHub

    owner, _, repo = repository.partition("/")
    return _serve_until_interrupted(
        FakeGitHub(owner, repo).serve(port),
        lambda url: f"GitHub stand-in for {repository} at {url}\n{instructions(url, repository)}",
        out,
    )


def serve_gitlab(repository: str, port: int, out: TextIO) -> int:
    """Serve the GitLab stand-in until interrupted; the first line printed is its URL."""
    from standins.gitlab import FakeGitLab

    gitlab = FakeGitLab(repository)
    gitlab.rate_limit = gitlab.rate_remaining = 1_000_000
    return _serve_until_interrupted(
        gitlab.serve(port),
        lambda url: f"GitLab stand-in for {repository} at {url}\n{instructions(url, repository, platform='gitlab')}",
        out,
    )


def serve_bitbucket(repository: str, port: int, out: TextIO) -> int:
    """Serve the Bitbucket Cloud stand-in until interrupted; the first line printed is its URL."""
    from standins.bitbucket import FakeBitbucket

    workspace, _, slug = repository.partition("/")
    bitbucket = FakeBitbucket(workspace, slug)
    bitbucket.rate_limit = 1_000_000
    bitbucket.add_commit("chore: initial commit")
    return _serve_until_interrupted(
        bitbucket.serve(port),
        lambda url: (
            f"""\
Bitbucket Cloud stand-in for {repository} at {url}
Point taskorch at it with TASKORCH_BITBUCKET_API_URL={url} and any token in {BITBUCKET_TOKEN_NAME};
issues live in Jira:
  taskorch git connect bitbucket:{repository} --jira https://SITE.atlassian.net --jira-project KEY \\
    --code-token-name {BITBUCKET_TOKEN_NAME}
Ctrl-C stops it; its state lives in memory only."""
        ),
        out,
    )


def _project(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)+", value):
        raise argparse.ArgumentTypeError(f"expected GROUP/PROJECT or GROUP/SUB/PROJECT, got {value!r}")
    return value


def _project_key(value: str) -> str:
    if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,9}", value):
        raise argparse.ArgumentTypeError(f"expected a Jira project key such as SHOP, got {value!r}")
    return value


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
    gitlab = commands.add_parser("gitlab", help="serve the GitLab stand-in on 127.0.0.1 until Ctrl-C")
    gitlab.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    gitlab.add_argument(
        "--repository", type=_project, default="group/sub/project", help="the one project it holds (GROUP/.../PROJECT)"
    )
    bitbucket = commands.add_parser("bitbucket", help="serve the Bitbucket Cloud stand-in on 127.0.0.1 until Ctrl-C")
    bitbucket.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    bitbucket.add_argument(
        "--repository", type=_repository, default="acme/shop", help="the one repository it holds (WORKSPACE/REPO)"
    )
    jira = commands.add_parser("jira", help="serve the Jira Cloud stand-in on 127.0.0.1 until Ctrl-C")
    jira.add_argument("--port", type=int, default=0, help="the port to listen on (default: a free one)")
    jira.add_argument("--project", type=_project_key, default="SHOP", help="the one project it holds (its KEY)")
    demo = commands.add_parser("demo", help="drive `taskorch serve` with the MCP client in a throwaway repository")
    demo.add_argument("--keep", action="store_true", help="keep the throwaway repository and database afterwards")
    demo.add_argument(
        "--platform", choices=("github", "gitlab", "bitbucket"), default="github", help="the stand-in to run against"
    )
    args = parser.parse_args(argv)
    if args.command == "github":
        return serve_github(args.repository, args.port, sys.stdout)
    if args.command == "gitlab":
        return serve_gitlab(args.repository, args.port, sys.stdout)
    if args.command == "bitbucket":
        return serve_bitbucket(args.repository, args.port, sys.stdout)
    if args.command == "jira":
        return serve_jira(args.project, args.port, sys.stdout)
    from standins.demo import run_demo

    return run_demo(keep=args.keep, platform=args.platform)


if __name__ == "__main__":
    raise SystemExit(main())
