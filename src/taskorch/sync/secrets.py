"""Tokens, looked up by name: an environment variable, else the system keyring.

The name (``api_token_name``) is what taskorch stores; the token itself never enters the
database, a log line, a tool result or an error message. :func:`check_token_name` refuses a value
that looks like a token rather than a name without repeating it, and :func:`token_name_allowed`
is the allow-list a caller other than the user (an assistant over MCP) is held to, so it cannot
make taskorch send an arbitrary secret of the user's environment as a bearer token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from taskorch.config import ALWAYS_ALLOWED_TOKEN_NAMES, DEFAULT_ALLOWED_TOKEN_NAMES, TOKEN_NAME_PATTERN
from taskorch.errors import AuthenticationFailed, InvalidInput

__all__ = [
    "ALWAYS_ALLOWED",
    "DEFAULT_ALLOWED_TOKEN_NAMES",
    "KEYRING_SERVICE",
    "TOKEN_NAME_PATTERN",
    "check_token_name",
    "looks_like_token",
    "resolve_token",
    "token_name_allowed",
]

KEYRING_SERVICE = "taskorch"

_NAME = re.compile(TOKEN_NAME_PATTERN)

ALWAYS_ALLOWED = ALWAYS_ALLOWED_TOKEN_NAMES

_TOKEN_SHAPES = re.compile(
    r"""^(?:
        (?:ghp|gho|ghu|ghs|ghr)_              # GitHub: classic, OAuth, user-to-server, server, refresh
      | github_pat_                           # GitHub fine-grained personal access token
      | [0-9a-f]{40}$                         # GitHub classic token before 2021 (40 hex digits)
      | glpat-                                # GitLab personal access token
      | (?:gldt|glptt|glrt|gloas)-            # other GitLab tokens
      | ATATT                                 # Atlassian API token
      | xox[abposr]-                          # Slack
      | AKIA[0-9A-Z]{16}$                     # AWS access key id
      | sk-                                   # OpenAI-style secret keys
      | (?:bearer|token|basic)\s              # an Authorization header value
    )""",
    re.IGNORECASE | re.VERBOSE,
)
#: A long run of letters and digits mixing upper case, lower case and digits: random, not a name.
_RANDOM_RUN = re.compile(r"(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{24,}")


def looks_like_token(value: str) -> bool:
    """Whether ``value`` (surrounding white space ignored, any case) has the shape of a known
    token or secret: GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``, 40
    hex digits), GitLab (``glpat-`` ...), Atlassian (``ATATT``), Slack, AWS key ids, ``sk-`` keys,
    ``Bearer ...`` / ``token ...`` header values, or a long random-looking run of characters."""
    text = value.strip()
    return bool(_TOKEN_SHAPES.match(text)) or any(
        _RANDOM_RUN.fullmatch(run) for run in re.findall(r"[A-Za-z0-9]{24,}", text)
    )


def check_token_name(value: str, field: str = "api_token_name") -> str:
    """``value`` without surrounding white space, if it is a token name (:data:`TOKEN_NAME_PATTERN`).

    Raises :class:`InvalidInput` naming ``field``; the message never repeats the value, which
    may be a secret pasted by mistake.
    """
    if looks_like_token(value):
        raise InvalidInput(
            field,
            "looks like a token itself; pass the NAME of the variable that holds it, e.g. GITHUB_TOKEN.",
            "put the token in an environment variable (or `keyring set taskorch GITHUB_TOKEN`) and pass that "
            "name; if the token was shared somewhere, revoke it and make a new one.",
        )
    name = value.strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            field,
            "is not the name of an environment variable or keyring entry.",
            "use 1 to 128 letters, digits and _ (and . or - after the first character), starting with a "
            "letter or _, e.g. GITHUB_TOKEN. Pass the name, never the token itself.",
        )
    return name


def token_name_allowed(name: str, allowed: Sequence[str]) -> bool:
    """Whether ``name`` is in ``allowed`` (exact names, or ``fnmatch`` patterns such as
    ``MYORG_*``; case-sensitive, as environment variables are) or matches :data:`ALWAYS_ALLOWED`."""
    return fnmatchcase(name, ALWAYS_ALLOWED) or any(fnmatchcase(name, pattern) for pattern in allowed)


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
