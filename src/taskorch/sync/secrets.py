"""Tokens, looked up by name: an environment variable, else the system keyring.

The name (``api_token_name``) is what taskorch stores; the token itself never enters the
database, a log line, a tool result or an error message.
"""

from __future__ import annotations

import os

from taskorch.errors import AuthenticationFailed

__all__ = ["KEYRING_SERVICE", "resolve_token"]

KEYRING_SERVICE = "taskorch"


def resolve_token(name: str) -> str:
    """The token stored under ``name``; raises :class:`AuthenticationFailed` naming where to put it."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    try:
        import keyring
        from keyring.errors import KeyringError

        try:
            stored = keyring.get_password(KEYRING_SERVICE, name)
        except KeyringError:
            stored = None
    except ImportError:  # keyring is a dependency, but a broken install should still explain itself
        stored = None
    if stored:
        return stored.strip()
    raise AuthenticationFailed(
        f"no token found under the name {name!r}. Set the environment variable {name}, or store it in the "
        f"system keyring with: keyring set {KEYRING_SERVICE} {name}"
    )
