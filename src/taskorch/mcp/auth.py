"""Who may call what over HTTP: bearer tokens, scopes per tool, and the caller of each request.

* :class:`StoreTokenVerifier` is the SDK's ``TokenVerifier`` over taskorch's ``api_tokens``: the
  SDK answers a request without a valid token with 401 and ``WWW-Authenticate`` on its own.
* :func:`required_scope` says which scope a JSON-RPC request needs: ``read`` for the read-only
  tools (and ``initialize_session``, which selects a project), ``admin`` for maintenance,
  lifecycle, releases and connecting a Git platform, ``write`` for every other tool.
* :class:`ScopeGate` (ASGI, after the SDK's authentication) answers 403 with
  ``WWW-Authenticate: Bearer error="insufficient_scope"`` before a request the token's scope does
  not allow reaches the server, so nothing of it runs.
* :func:`caller_middleware` (MCP middleware) serves each request as its caller
  (:mod:`taskorch.domain.caller`): the token's name as actor, its scope, and the MCP session id
  when the protocol revision has one. It refuses a tool call the scope does not allow as well.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskorch.domain.caller import SCOPES, Caller, acting_as
from taskorch.domain.caller import Scope as TokenScope

__all__ = [
    "ADMIN_TOOLS",
    "READ_TOOLS",
    "ScopeGate",
    "StoreTokenVerifier",
    "caller_middleware",
    "required_scope",
]

log = logging.getLogger(__name__)

PREFIX = "orchestrator_"
#: Tools a ``read`` token may call (names without the prefix).
READ_TOOLS = frozenset({"initialize_session", "get_status", "query_tasks", "health_check", "restart_status"})
#: Tools only an ``admin`` token may call; ``git_integration`` with ``action=connect`` too.
ADMIN_TOOLS = frozenset(
    {"maintenance_coordinator", "restart_server", "shutdown_prepare", "reconnect_test", "release_coordinator"}
)
#: Read-only actions of git_integration.
_GIT_READ_ACTIONS = frozenset({"status", "list_conflicts"})
#: Largest request body the gate reads to find the tool (the SDK's own limit is 4 MiB).
MAX_BODY_BYTES = 4 * 1024 * 1024


def required_scope(method: str, params: Mapping[str, Any] | None) -> TokenScope:
    """The scope a JSON-RPC request needs; only ``tools/call`` needs more than ``read``."""
    if method != "tools/call":
        return "read"
    params = params or {}
    name = str(params.get("name", "")).removeprefix(PREFIX)
    arguments = params.get("arguments")
    action = arguments.get("action") if isinstance(arguments, Mapping) else None
    if name in READ_TOOLS:
        return "read"
    if name in ADMIN_TOOLS or (name == "git_integration" and action == "connect"):
        return "admin"
    if name == "git_integration" and action in _GIT_READ_ACTIONS:
        return "read"
    return "write"


def _scope_of(token: AccessToken) -> TokenScope:
    granted = [s for s in SCOPES if s in token.scopes]
    return granted[-1] if granted else "read"


def _refusal(token: AccessToken, method: str, params: Mapping[str, Any] | None, needed: TokenScope) -> str:
    name = str((params or {}).get("name", method))
    return (
        f"forbidden: token {token.client_id!r} has scope {_scope_of(token)}, and {name} needs {needed}. "
        f"Fix: call it with a token of scope {needed} (taskorch token create NAME --scope {needed}), "
        "or ask the server's administrator for one."
    )


class StoreTokenVerifier:
    """The SDK's ``TokenVerifier`` over :class:`~taskorch.services.tokens.TokenService`.

    A valid token becomes an ``AccessToken`` whose ``client_id`` is the token's name and whose
    ``scopes`` are every scope its own includes (``admin`` -> read, write, admin).
    """

    def __init__(self, tokens: Any) -> None:
        self._tokens = tokens

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            info = await anyio.to_thread.run_sync(self._tokens.verify, token)
        except Exception as exc:  # the store failed: refuse, and say why in the log (never the token)
            log.warning("could not check an API token: %s", type(exc).__name__)
            return None
        if info is None:
            return None
        granted: list[str] = list(SCOPES[: SCOPES.index(info.scope) + 1])
        return AccessToken(token=token, client_id=info.name, scopes=granted)


class ScopeGate:
    """ASGI middleware: 403 for a ``tools/call`` the authenticated token's scope does not allow.

    Runs after the SDK's authentication middleware (an unauthenticated request passes on to get
    its 401). The body is read once and replayed to the application unchanged.
    """

    def __init__(self, app: ASGIApp, resource_metadata_url: str | None = None) -> None:
        self.app = app
        self.resource_metadata_url = resource_metadata_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] != "http" or scope.get("method") != "POST" or not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body") or size > MAX_BODY_BYTES:
                break
        if size <= MAX_BODY_BYTES and messages and not messages[-1].get("more_body"):
            body = b"".join(m.get("body", b"") for m in messages)
            refusal = self._refusal(user.access_token, body)
            if refusal is not None:
                await self._forbid(send, *refusal)
                return
        pending = list(messages)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _refusal(token: AccessToken, body: bytes) -> tuple[TokenScope, str] | None:
        try:
            payload = json.loads(body)
        except ValueError:
            return None  # the SDK answers a parse error itself
        for request in payload if isinstance(payload, list) else [payload]:
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                continue
            params = request.get("params")
            params = params if isinstance(params, Mapping) else None
            needed = required_scope(request["method"], params)
            if needed not in token.scopes:
                return needed, _refusal(token, request["method"], params, needed)
        return None

    async def _forbid(self, send: Send, needed: TokenScope, description: str) -> None:
        challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
        if self.resource_metadata_url:
            challenge += f', resource_metadata="{self.resource_metadata_url}"'
        body = json.dumps({"error": "insufficient_scope", "error_description": description}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def request_caller(request: Any) -> Caller | None:
    """The caller of an HTTP request (``None`` for stdio and the in-memory transport).

    An authenticated request's actor is its token's name; without authentication (``--no-auth``,
    loopback only) the actor is ``local`` with every scope. Either way the current session is
    keyed by the MCP session id too, when the protocol revision has one.
    """
    scope = getattr(request, "scope", None)
    if not isinstance(scope, Mapping):
        return None
    headers = getattr(request, "headers", None)
    connection = headers.get("mcp-session-id") if headers is not None else None
    user = scope.get("user")
    if isinstance(user, AuthenticatedUser):
        token = user.access_token
        return Caller(actor=token.client_id, scope=_scope_of(token), connection=connection, remote=True)
    return Caller(actor="local", connection=connection, remote=True)


async def caller_middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Serve one MCP request as its caller; refuse a tool call its token's scope does not allow."""
    caller = request_caller(ctx.request)
    if caller is None:
        return await call_next(ctx)
    user = getattr(ctx.request, "scope", {}).get("user")
    needed = required_scope(ctx.method, ctx.params)
    if isinstance(user, AuthenticatedUser) and not caller.allows(needed):
        raise MCPError(code=-32001, message=_refusal(user.access_token, ctx.method, ctx.params, needed))
    with acting_as(caller):
        return await call_next(ctx)
