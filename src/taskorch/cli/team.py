"""``taskorch token ...``: the API tokens of the HTTP server (``serve --transport http``).

``token create NAME [--scope read|write|admin]`` prints the new token once (only its hash is
stored), ``token list`` shows names, scopes and dates (never a token), ``token revoke NAME``
refuses the token's next request. Errors print ``error: <message>`` and exit with the error's code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from taskorch.cli.terminal import cells, print_json, safe
from taskorch.errors import TaskorchError

__all__ = ["token_app"]

token_app = typer.Typer(
    help="API tokens of `taskorch serve --transport http` (stored as hashes only).", no_args_is_help=True
)

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _with_tokens(fn: Callable[..., T]) -> T:
    from taskorch.config import Settings
    from taskorch.services.tokens import TokenService
    from taskorch.store.db import Database

    try:
        db = Database(Settings.from_env().database_url)
        try:
            return fn(TokenService(db))
        finally:
            db.dispose()
    except TaskorchError as exc:
        err.print(Text.assemble(("error", "bold red"), ": ", safe(exc)), soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who uses it (the actor named in the audit trail), e.g. alice.")],
    scope: Annotated[
        str, typer.Option("--scope", help="read (read-only tools), write (task tools), admin (everything).")
    ] = "write",
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print it once: copy it now, it cannot be shown again."""
    issued = _with_tokens(lambda service: service.create(name, scope))
    if as_json:
        print_json(out, issued.model_dump_json())
        return
    out.print(safe(f"Token {issued.name} ({issued.scope}); shown once, only its hash is stored:"))
    out.print(issued.token, markup=False, highlight=False, soft_wrap=True)
    out.print(safe('Clients send it as the header "Authorization: Bearer <token>".'))


@token_app.command("list")
def token_list(as_json: JsonOpt = False) -> None:
    """The tokens: name, scope, created, revoked (never the tokens themselves)."""
    infos = _with_tokens(lambda service: service.list())
    if as_json:
        print_json(out, "[" + ",".join(i.model_dump_json() for i in infos) + "]")
        return
    table = Table(title="API tokens", title_justify="left")
    for col in ("name", "scope", "created", "revoked"):
        table.add_column(col)
    for info in infos:
        table.add_row(
            *cells(info.name, info.scope, info.created_at.isoformat(timespec="seconds"), info.revoked_at or "")
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(name: str, as_json: JsonOpt = False) -> None:
    """Revoke a token: its next request is refused (401)."""
    info = _with_tokens(lambda service: service.revoke(name))
    if as_json:
        print_json(out, info.model_dump_json())
        return
    out.print(safe(f"Token {info.name} revoked at {info.revoked_at}."))


def serve_transport(
    transport: str, toolsets: str | None, host: str, port: int, no_auth: bool, *, sync: bool | None = None
) -> int:
    """Serve MCP on ``transport`` (``stdio`` or ``http``); the process exit code.

    ``sync``: background sync (:mod:`taskorch.services.background`); None means the default: on
    over http, on stdio only when ``TASKORCH_BACKGROUND_SYNC`` is set."""
    if transport == "stdio":
        if no_auth or host != "127.0.0.1" or port != 8765:
            err.print("error: --host, --port and --no-auth go with --transport http.", markup=False)
            return 2
        from taskorch.mcp.stdio import serve as serve_stdio
        from taskorch.services.background import enabled_by_environment

        return serve_stdio(toolsets, background_sync=enabled_by_environment() if sync is None else sync)
    if transport == "http":
        from taskorch.mcp.http import serve_http

        return serve_http(host, port, no_auth=no_auth, toolsets=toolsets, background_sync=sync is not False)
    err.print(f"error: --transport: {transport!r} is not a transport. Fix: use stdio or http.", markup=False)
    return 2
