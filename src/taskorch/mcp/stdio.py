"""Running the MCP server on stdio, the way an assistant launches ``taskorch serve``."""

from __future__ import annotations

import logging
import os
import sys

from taskorch.config import Settings
from taskorch.errors import TaskorchError

__all__ = ["serve"]


def serve(toolsets: str | None = None, *, background_sync: bool = False) -> int:
    """Serve until the client closes stdin; return the process exit code.

    ``background_sync`` runs the background worker (:mod:`taskorch.services.background`) in this
    process. Logs go to stderr (stdout carries the protocol). A bad setting is reported on stderr with its
    exit code, before anything is served.
    """
    if toolsets is not None:
        os.environ["TASKORCH_TOOLSETS"] = toolsets
    try:
        settings = Settings.from_env()
    except TaskorchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from taskorch.mcp.server import build_server

    if not background_sync:
        build_server(settings, own_process=True).run()
        return 0
    from taskorch.services.background import serving

    with serving(settings, enabled=True):
        build_server(settings, own_process=True).run()
    return 0
