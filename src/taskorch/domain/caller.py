"""Who is calling: the actor an audit row names, and the connection a current session belongs to.

One value per request, held in a :class:`contextvars.ContextVar`: the HTTP face sets it for each
request from the bearer token (and the MCP session, when the protocol revision has one); stdio and
the CLI leave the default, :data:`LOCAL`. The store reads it when it writes an audit row, so the
services' signatures need not carry the caller. Worker threads started with ``anyio.to_thread``
run in a copy of the caller's context, so they see the same value.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

__all__ = ["LOCAL", "SCOPES", "Caller", "Scope", "acting_as", "current_caller"]

Scope = Literal["read", "write", "admin"]
#: Token scopes, each allowing everything the ones before it allow.
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


@dataclass(frozen=True)
class Caller:
    """The caller of one request.

    ``actor``: the name recorded in the audit trail and on claims (an API token's name, or
    ``local``). ``scope``: what the caller may do. ``connection``: the MCP session id over HTTP
    when the protocol revision has sessions, else ``None``. ``remote``: the caller came over HTTP.
    """

    actor: str
    scope: Scope = "admin"
    connection: str | None = None
    remote: bool = False

    @property
    def session_key(self) -> tuple[str, str | None]:
        """What the "current session" of a caller is keyed by: its actor and its MCP session."""
        return (self.actor, self.connection)

    def allows(self, needed: Scope) -> bool:
        """Whether this caller's scope includes ``needed``."""
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


#: The caller of stdio and the CLI: the person at the machine, allowed everything.
LOCAL = Caller(actor="local")

_caller: ContextVar[Caller] = ContextVar("taskorch_caller", default=LOCAL)


def current_caller() -> Caller:
    """The caller of the request being served (:data:`LOCAL` outside any)."""
    return _caller.get()


@contextmanager
def acting_as(caller: Caller) -> Iterator[Caller]:
    """Serve the block as ``caller``; the previous caller is restored afterwards."""
    token = _caller.set(caller)
    try:
        yield caller
    finally:
        _caller.reset(token)
