"""The read-only web view: server-rendered pages over :mod:`taskorch.services.dashboard`.

:func:`build_web_app` returns a Starlette application (mounted at ``/web`` by the HTTP server,
served alone by ``taskorch web``) with these pages, one project (session) at a time:

* ``/`` the project picker (straight to the project when there is one);
* ``/p/{project}/graph`` the task graph, ``/p/{project}/task/{number}`` one task (details,
  artifacts, audit trail), ``/p/{project}/board``, ``/p/{project}/release``,
  ``/p/{project}/sync``, ``/p/{project}/activity?actor=&task=&tool=``;
* ``/p/{project}/stamp`` a JSON ``{"stamp": ...}`` the pages poll (``static/live.js``) to
  redraw themselves when it changes.

Templates are Jinja2 with autoescape on: every text from a person or a platform is escaped; the
one piece of markup built in Python, the graph's SVG, escapes its text itself
(:func:`taskorch.domain.taskgraph.svg`). Every answer carries a Content-Security-Policy allowing
only this server's own scripts and styles (no inline script or style), ``nosniff``, no framing
and no referrer. Authentication: with ``verify_token`` set, a page needs a bearer token (the
``Authorization`` header, or the cookie set by ``/login``); without it (``taskorch web``, or the
HTTP server's ``--no-auth`` on loopback) none. The ``Host`` header must be one of
``allowed_hosts`` (DNS rebinding). Errors show their message; never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskorch.errors import NotFound, TaskorchError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from taskorch.services.app import Orchestrator

__all__ = ["CSP", "build_web_app"]

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
COOKIE = "taskorch_web_token"
HERE = Path(__file__).parent
PAGES: tuple[tuple[str, str], ...] = (
    ("graph", "Task graph"),
    ("board", "Board"),
    ("release", "Release"),
    ("sync", "Sync health"),
    ("activity", "Activity"),
)

TokenCheck = Callable[[str], Awaitable[bool]]


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from taskorch.domain.taskgraph import STATUS_MARKS

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["STATUS_MARKS"] = STATUS_MARKS
    env.globals["PAGES"] = PAGES
    env.filters["when"] = _when
    return env


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Security:
    """ASGI middleware: the security headers on every answer, and the Host check."""

    def __init__(self, app: Any, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.allowed and name.strip("[]") not in self.allowed and name not in self.allowed:
            body = b"Invalid Host header"
            await send(
                {
                    "type": "http.response.start",
                    "status": 421,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def build_web_app(
    orchestrator: Callable[[], Orchestrator],
    *,
    verify_token: TokenCheck | None = None,
    allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost", "::1"),
    poll_seconds: float = 3.0,
    secure_cookie: bool = False,
) -> Starlette:
    """The web view's ASGI application.

    ``orchestrator`` gives the services (called on first use); ``verify_token`` checks a bearer
    token (``None``: no token needed); ``allowed_hosts`` are the names the ``Host`` header may
    carry; ``poll_seconds`` is how often a page asks whether it changed.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from taskorch.services import dashboard

    env = _environment()

    async def authorised(request: Request) -> bool:
        if verify_token is None:
            return True
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        return bool(token) and await verify_token(token)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "")
        html = env.get_template(template).render(base=base, poll_ms=int(poll_seconds * 1000), **context)
        return HTMLResponse(html, status_code=status)

    def page(
        template: str, build: Callable[[Orchestrator, int, Request], dict[str, Any]], name: str
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not await authorised(request):
                return RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)
            session_id = int(request.path_params["project"])
            try:
                context = await run_in_threadpool(_context, orchestrator(), session_id, request, build)
            except TaskorchError as exc:
                status = 404 if isinstance(exc, NotFound) else 400
                return render(request, "error.html", status=status, message=str(exc), project=None, page=name)
            except Exception:
                log.exception("web page %s failed", name)
                return render(
                    request, "error.html", status=500, message="internal error (see the server log)", project=None
                )
            return render(request, template, page=name, **context)

        return endpoint

    async def index(request: Request) -> Response:
        if not await authorised(request):
            return RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)
        found = await run_in_threadpool(dashboard.projects, orchestrator())
        if len(found) == 1:
            return RedirectResponse(f"{request.scope.get('root_path', '')}/p/{found[0].session_id}/graph", 303)
        return render(request, "projects.html", projects=found, project=None, page=None)

    async def stamp(request: Request) -> Response:
        if not await authorised(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            value = await run_in_threadpool(dashboard.stamp, orchestrator(), int(request.path_params["project"]))
        except TaskorchError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404 if isinstance(exc, NotFound) else 400)
        return JSONResponse({"stamp": value})

    async def login(request: Request) -> Response:
        base = request.scope.get("root_path", "")
        if verify_token is None:
            return RedirectResponse(f"{base}/", status_code=303)
        if request.method == "POST":
            form = await request.form()
            token = str(form.get("token") or "").strip()
            if token and await verify_token(token):
                response = RedirectResponse(f"{base}/", status_code=303)
                response.set_cookie(
                    COOKIE, token, httponly=True, samesite="strict", secure=secure_cookie, path=base or "/"
                )
                return response
            return render(request, "login.html", status=401, failed=True, project=None, page=None)
        return render(request, "login.html", failed=False, project=None, page=None)

    routes = [
        Route("/", index),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/p/{project:int}/stamp", stamp),
        Route("/p/{project:int}/graph", page("graph.html", _graph, "graph")),
        Route("/p/{project:int}/task/{number:int}", page("task.html", _task, "graph")),
        Route("/p/{project:int}/board", page("board.html", _board, "board")),
        Route("/p/{project:int}/release", page("release.html", _release, "release")),
        Route("/p/{project:int}/sync", page("sync.html", _sync, "sync")),
        Route("/p/{project:int}/activity", page("activity.html", _activity, "activity")),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(_Security, allowed_hosts=list(allowed_hosts))])


def _context(
    o: Orchestrator, session_id: int, request: Request, build: Callable[[Orchestrator, int, Request], dict[str, Any]]
) -> dict[str, Any]:
    from taskorch.services import dashboard

    context = build(o, session_id, request)
    project = next((p for p in dashboard.projects(o) if p.session_id == session_id), None)
    context.update(project=project, stamp=dashboard.stamp(o, session_id))
    return context


def _graph(o: Orchestrator, session_id: int, request: Request) -> dict[str, Any]:
    from markupsafe import Markup

    from taskorch.domain.taskgraph import svg
    from taskorch.services import dashboard

    drawing = dashboard.graph(o, session_id)
    base = request.scope.get("root_path", "")
    picture = svg(drawing, link=lambda n: f"{base}/p/{session_id}/task/{n}", standalone=False)
    nodes = {p.node.number: p.node for p in drawing.nodes}
    return {
        "svg": Markup(picture),
        "critical": [nodes[n] for n in drawing.critical],
        "ready": [p.node for p in drawing.nodes if p.node.ready],
        "claimed": [p.node for p in drawing.nodes if p.node.claimed_by],
        "total": len(drawing.nodes),
    }


def _task(o: Orchestrator, session_id: int, request: Request) -> dict[str, Any]:
    shown = o.show_task(int(request.path_params["number"]), session_id=session_id)
    return {"shown": shown}


def _board(o: Orchestrator, session_id: int, request: Request) -> dict[str, Any]:
    from taskorch.services import dashboard

    return {"board": dashboard.board(o, session_id)}


def _release(o: Orchestrator, session_id: int, request: Request) -> dict[str, Any]:
    from taskorch.services import dashboard
    from taskorch.web.charts import burndown_svg

    panels = dashboard.releases(o, session_id)
    return {"panels": [(p, burndown_svg(p.burndown.points)) for p in panels]}


def _sync(o: Orchestrator, session_id: int, request: Request) -> dict[str, Any]:
    from taskorch.services import dashboard

    return {"health": dashboard.sync_health(o, session_id)}


def _activity(o: Orchestrator, session_id: int, request: Request) -> dict[str, Any]:
    from taskorch.services import dashboard

    params = request.query_params
    task_text = params.get("task", "").strip()
    task_id = int(task_text) if task_text.isdigit() and len(task_text) < 10 else None
    actor = params.get("actor", "").strip()[:100] or None
    tool = params.get("tool", "").strip()[:100] or None
    entries, choices = dashboard.activity(o, session_id, actor=actor, task_id=task_id, tool=tool)
    return {
        "entries": entries,
        "choices": choices,
        "filters": {"actor": actor or "", "task": task_text[:10], "tool": tool or ""},
    }
