"""Serving MCP over streamable HTTP: ``taskorch serve --transport http``.

The SDK's streamable HTTP transport at ``/mcp`` (both protocol revisions its client negotiates:
2025-11-25 with ``initialize`` and an ``Mcp-Session-Id``, and the stateless 2026-07-28), with:

* authentication: ``Authorization: Bearer <token>`` on every request, tokens from
  ``taskorch token create`` (:mod:`taskorch.services.tokens`); 401 with ``WWW-Authenticate`` from
  the SDK without a valid one, 403 when the token's scope does not allow the tool
  (:mod:`taskorch.mcp.auth`), and the protected-resource metadata of the MCP authorization spec at
  ``/.well-known/oauth-protected-resource/mcp``. ``no_auth`` is refused unless the address is a
  loopback one;
* DNS-rebinding protection: the ``Host`` and ``Origin`` headers must name this server (loopback
  names, the address it binds, the host of ``TASKORCH_PUBLIC_URL`` and the names in
  ``TASKORCH_ALLOWED_HOSTS``); others get 421 (Host) or 403 (Origin) from the SDK;
* the caller of each request (its token's name and MCP session) set per request, so two clients
  never share a current session, and the audit trail names who did what;
* the read-only web view at ``/web/`` (:mod:`taskorch.web`), with the same tokens (any scope).
* ``POST /webhooks/{github,gitlab,jira}``: signed platform deliveries (:mod:`taskorch.mcp.webhooks`).

Plain HTTP is meant for loopback or behind a TLS-terminating proxy: binding another address warns.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from taskorch.config import Settings
from taskorch.errors import InvalidInput, TaskorchError

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["HttpOptions", "build_http_app", "is_loopback", "serve_http"]

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HttpOptions:
    """How to serve: ``host`` and ``port`` to bind, ``no_auth`` (loopback only), ``public_url`` (the
    URL clients use, e.g. behind a TLS proxy; default ``http://host:port``) and ``allowed_hosts``
    (more names clients may use in ``Host``)."""

    host: str = "127.0.0.1"
    port: int = 8765
    no_auth: bool = False
    public_url: str | None = None
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, host: str, port: int, no_auth: bool, environ: dict[str, str] | None = None) -> HttpOptions:
        """Options from the command line plus ``TASKORCH_PUBLIC_URL`` and ``TASKORCH_ALLOWED_HOSTS``."""
        env = os.environ if environ is None else environ
        public = env.get("TASKORCH_PUBLIC_URL", "").strip() or None
        hosts = tuple(h.strip() for h in env.get("TASKORCH_ALLOWED_HOSTS", "").split(",") if h.strip())
        return cls(host=host, port=port, no_auth=no_auth, public_url=public, allowed_hosts=hosts)

    def check(self) -> None:
        """Raise :class:`InvalidInput` for options that must not be served."""
        if not 0 < self.port < 65536:
            raise InvalidInput("--port", f"{self.port} is not a TCP port.", "use 1 to 65535, e.g. 8765.")
        if self.no_auth and not is_loopback(self.host):
            raise InvalidInput(
                "--no-auth",
                f"is accepted only on a loopback address, and {self.host} is reachable from other machines.",
                "drop --no-auth and give each client a token (taskorch token create NAME), or bind 127.0.0.1.",
            )
        if self.public_url is not None:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput(
                    "TASKORCH_PUBLIC_URL",
                    f"{self.public_url!r} is not an http(s) URL.",
                    "set it to the URL clients use, e.g. https://tasks.example.com.",
                )

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def transport_security(self) -> Any:
        """The SDK's DNS-rebinding protection, allowing this server's own names only."""
        from mcp.server.transport_security import TransportSecuritySettings

        names = [*LOOPBACK_NAMES, *self.allowed_hosts]
        if self.host not in ("0.0.0.0", "::"):
            names.append(self.host)
        if self.public_url:
            names.append(urlsplit(self.public_url).netloc)
            names.append(urlsplit(self.public_url).hostname or "")
        hosts: list[str] = []
        origins: list[str] = []
        for name in dict.fromkeys(n for n in names if n):
            bare = f"[{name}]" if ":" in name and not name.startswith("[") and name.count(":") > 1 else name
            hosts += [bare, f"{bare}:*"]
            origins += [f"http://{bare}", f"http://{bare}:*", f"https://{bare}", f"https://{bare}:*"]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )


def build_http_app(settings: Settings, options: HttpOptions, *, own_process: bool = False) -> Starlette:
    """The ASGI application serving taskorch at ``/mcp`` with ``options`` (checked first).

    ``own_process``: the application is what this process serves (``taskorch serve --transport
    http``), see :func:`~taskorch.mcp.server.build_server`; not for an application built inside
    another program (tests)."""
    options.check()
    from mcp.server.auth.routes import build_resource_metadata_url
    from mcp.server.auth.settings import AuthSettings
    from pydantic import AnyHttpUrl
    from starlette.middleware import Middleware

    from taskorch.mcp.auth import ScopeGate, StoreTokenVerifier, caller_middleware
    from taskorch.mcp.server import build_server

    server_options: dict[str, Any] = {"middleware": [caller_middleware]}
    resource = AnyHttpUrl(options.base_url + "/mcp")
    if not options.no_auth:
        from taskorch.services.tokens import TokenService
        from taskorch.store.db import Database

        server_options["token_verifier"] = StoreTokenVerifier(TokenService(Database(settings.database_url)))
        # No OAuth authorization server: tokens come from `taskorch token create`. The metadata
        # names this server as its own issuer, as the resource-server parts of the spec need one.
        server_options["auth"] = AuthSettings(
            issuer_url=AnyHttpUrl(options.base_url),
            resource_server_url=resource,
            validate_token_resource=False,
            required_scopes=None,
        )
    server = build_server(settings, own_process=own_process, **server_options)
    app = server.streamable_http_app(
        transport_security=options.transport_security(), host=options.host, streamable_http_path="/mcp"
    )
    from taskorch.mcp.webhooks import webhook_routes

    # Platforms sign their deliveries instead of sending a bearer token (mcp/webhooks.py).
    app.router.routes.extend(webhook_routes(settings))
    if not options.no_auth:
        # After the SDK's authentication middleware (innermost), so the token is known.
        app.user_middleware.append(
            Middleware(ScopeGate, resource_metadata_url=str(build_resource_metadata_url(resource)))
        )
    from taskorch.web.serve import mount_web

    mount_web(app, settings, options, server_options.get("token_verifier"))
    return app


def serve_http(
    host: str, port: int, *, no_auth: bool = False, toolsets: str | None = None, background_sync: bool = True
) -> int:
    """Serve until interrupted; return the process exit code. ``background_sync`` runs the
    background worker (:mod:`taskorch.services.background`) beside the server.

    A bad option or setting is reported on stderr with its exit code before anything is served.
    """
    if toolsets is not None:
        os.environ["TASKORCH_TOOLSETS"] = toolsets
    try:
        settings = Settings.from_env()
        options = HttpOptions.from_env(host, port, no_auth)
        options.check()
    except TaskorchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not is_loopback(host) and not (options.public_url or "").startswith("https://"):
        print(
            f"warning: serving plain HTTP on {host}: tokens and task data cross the network unencrypted. "
            "Put a TLS-terminating proxy in front (see the README's team mode) and set TASKORCH_PUBLIC_URL "
            "to its https:// URL.",
            file=sys.stderr,
        )
    if options.no_auth:
        print("warning: --no-auth: every local process may call every tool as 'local'.", file=sys.stderr)
    import uvicorn

    app = build_http_app(settings, options, own_process=True)
    print(f"taskorch serving MCP at {options.base_url}/mcp", file=sys.stderr, flush=True)
    from taskorch.services.background import serving

    with serving(settings, enabled=background_sync):
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    return 0
