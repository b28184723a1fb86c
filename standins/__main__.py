"""``python -m standins demo [--keep]``: the demo (a real MCP client driving ``taskorch serve``
against the GitHub stand-in)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standins", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="drive `taskorch serve` with the official MCP client in a throwaway repository"
    )
    demo.add_argument("--keep", action="store_true", help="keep the throwaway repository and database afterwards")
    args = parser.parse_args(argv)
    from standins.demo import run_demo

    return run_demo(keep=args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
