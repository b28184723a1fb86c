"""API tokens of the HTTP server: created once, stored as a hash, listed, revoked, verified.

A token is ``tko_`` followed by 43 URL-safe characters (256 random bits), so it is recognisable in
a leaked file and cannot be guessed. Only its SHA-256 (hex) is stored; verifying a token hashes it,
looks the hash up, and compares it once more in constant time. The token itself is returned once,
by :meth:`TokenService.create`, and never written to the database, a log or an error message.

Scopes: ``read`` (read-only tools), ``write`` (the task tools too), ``admin`` (everything:
maintenance, lifecycle, connecting a Git platform, releases).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from taskorch.domain.caller import SCOPES, Scope
from taskorch.errors import Conflict, InvalidInput, NotFound
from taskorch.store import repository as repo
from taskorch.store.db import Database
from taskorch.store.tables import api_tokens

__all__ = ["TOKEN_PREFIX", "IssuedToken", "TokenInfo", "TokenService", "hash_token"]

#: What every taskorch API token starts with.
TOKEN_PREFIX = "tko_"
#: A token name: it is the actor of the audit trail, so a short identifier.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
#: The actor of stdio and the CLI; no token may take its name.
RESERVED_NAMES = ("local",)


class TokenInfo(BaseModel):
    """A token as ``token list`` shows it (never the token itself)."""

    name: str
    scope: Scope
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class IssuedToken(BaseModel):
    """A new token: ``token`` is shown once and cannot be read again."""

    name: str
    scope: Scope
    token: str = Field(description="The bearer token. Stored only as a hash: copy it now.")


def hash_token(token: str) -> str:
    """The SHA-256 of ``token`` as 64 hex digits (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    """Tokens in one database. ``clock`` returns the current UTC time."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = repo.utcnow) -> None:
        self.db = db
        self.clock = clock

    def create(self, name: str, scope: str = "write") -> IssuedToken:
        """A new token named ``name`` with ``scope``.

        Raises :class:`InvalidInput` (a bad name or scope) and :class:`Conflict` (the name is taken,
        also by a revoked token: the audit trail names actors by token name, so a name is never
        given to a second token).
        """
        name = name.strip()
        if not NAME_PATTERN.fullmatch(name):
            raise InvalidInput(
                "name",
                "must be 1 to 100 letters, digits, '_', '.', '@' or '-', starting with a letter or digit.",
                "name the person or assistant using it, e.g. alice or ci-bot.",
            )
        if name.lower() in RESERVED_NAMES:
            raise InvalidInput("name", f"{name!r} is the actor of stdio and the CLI.", "choose another name.")
        if scope not in SCOPES:
            raise InvalidInput("scope", f"{scope!r} is not a scope.", f"use one of: {', '.join(SCOPES)}.")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    insert(api_tokens).values(
                        name=name, scope=scope, token_hash=hash_token(token), created_at=self.clock()
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"a token named {name!r} exists already (or existed: names of revoked tokens are not reused, "
                "since the audit trail names actors by them). Choose another name; `taskorch token list` shows them."
            ) from None
        return IssuedToken(name=name, scope=scope, token=token)

    def list(self) -> list[TokenInfo]:
        """Every token, active and revoked, by name."""
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.name)).mappings()
            return [TokenInfo.model_validate(dict(row)) for row in rows]

    def revoke(self, name: str) -> TokenInfo:
        """Revoke the token named ``name`` at once (its next request is refused); raises
        :class:`NotFound`. Revoking a revoked token changes nothing."""
        at = self.clock()
        with self.db.transaction() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.name == name.strip())).mappings().first()
            if row is None:
                raise NotFound(f"no token is named {name!r}. `taskorch token list` shows the names.")
            if row["revoked_at"] is None:
                conn.execute(update(api_tokens).where(api_tokens.c.id == row["id"]).values(revoked_at=at))
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == row["id"])).mappings().one()
            return TokenInfo.model_validate(dict(row))

    def verify(self, token: str) -> TokenInfo | None:
        """The active token ``token`` is, or ``None`` (unknown, revoked, or not a taskorch token)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        with self.db.transaction(write=False) as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == digest)).mappings().first()
        if row is None or row["revoked_at"] is not None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        return TokenInfo.model_validate(dict(row))
