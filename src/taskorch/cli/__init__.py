"""The CLI face of taskorch (Typer and Rich).

:func:`main` is the console script. ``taskorch serve`` on its own goes straight to the MCP server,
without importing Typer and Rich: an assistant pays the start-up of every session.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    if sys.argv[1:] == ["serve"]:
        from taskorch.mcp.stdio import serve

        sys.exit(serve())
    from taskorch.cli.app import main as cli_main

    cli_main()
