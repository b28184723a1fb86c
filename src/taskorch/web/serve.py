"""Serving the web view: mounted at ``/web`` on the HTTP server (:func:`mount_web`), or alone on
127.0.0.1 for the person at this machine (:func:`serve_local`, ``taskorch web``)."""

from __future__ import annotations

import socket
import sys
import threading
import webbrowser
from typing import TYPE_CHECKING, Any

from taskorch.config import Settings
from taskorch.errors import TaskorchError

if TYPE_CHECKING:
    from taskorch.mcp.http import HttpOptions
    from taskorch.services.app import Orchestrator

__all__ = ["mount_web", "serve_local"]


def mount_web(app: Any, settings: Settings, options: HttpOptions, token_verifier: Any | None) -> None:
    """Mount the web view at ``/web`` of the HTTP server's Starlette ``app``: the same tokens as
    ``/mcp`` (``token_verifier``, any scope reads; ``None`` with ``--no-auth``), the names the
    server accepts in ``Host``, a secure cookie behind an https public URL, and an orchestrator of
    its own created on the first page."""
    from urllib.parse import urlsplit

    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route

    from taskorch.mcp.http import LOOPBACK_NAMES
    from taskorch.web.app import build_web_app

    lock = threading.Lock()
    made: list[Orchestrator] = []

    def orchestrator() -> Orchestrator:
        from taskorch.services.app import Orchestrator

        with lock:
            if not made:
                made.append(Orchestrator(settings))
            return made[0]

    async def verify(token: str) -> bool:
        return token_verifier is not None and await token_verifier.verify_token(token) is not None

    hosts = [*LOOPBACK_NAMES, *options.allowed_hosts]
    if options.host not in ("0.0.0.0", "::"):
        hosts.append(options.host)
    if options.public_url:
        hosts.append(urlsplit(options.public_url).hostname or "")
    web = build_web_app(
        orchestrator,
        verify_token=None if token_verifier is None else verify,
        allowed_hosts=[h for h in hosts if h],
        secure_cookie=(options.public_url or "").startswith("https://"),
    )

    async def to_web(request: Any) -> Any:
        return RedirectResponse("/web/", status_code=307)

    app.router.routes.append(Route("/web", to_web))
    app.router.routes.append(Mount("/web", app=web))


def serve_local(*, port: int, open_browser: bool, project: str | None = None, host: str = "127.0.0.1") -> int:
    """Serve the web view on loopback until interrupted; return the exit code.

    No token: only processes of this machine reach 127.0.0.1, and the pages change nothing.
    ``project`` (a directory) selects the project the browser opens on. ``port`` 0 takes any
    free port; the URL is printed on stderr either way.
    """
    import uvicorn

    from taskorch.services.app import Orchestrator
    from taskorch.web.app import build_web_app

    if not 0 <= port < 65536:
        print(f"error: --port: {port} is not a TCP port; use 1 to 65535, or 0 for any free port.", file=sys.stderr)
        return 2
    try:
        orchestrator = Orchestrator(Settings.from_env())
        path = "/"
        if project is not None:
            session = orchestrator.initialize_session(project)
            path = f"/p/{session.session_id}/graph"
    except TaskorchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port} ({exc.strerror}); try another --port.", file=sys.stderr)
        return 1
    url = f"http://{host}:{sock.getsockname()[1]}{path}"
    app = build_web_app(lambda: orchestrator)
    print(f"taskorch web view at {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        orchestrator.close()
    return 0
