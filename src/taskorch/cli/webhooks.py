"""``taskorch webhook secret PLATFORM``: a new webhook secret and the settings to paste.

The secret is printed once and never stored by taskorch: put it in the environment variable (or
keyring entry, service ``taskorch``) it names, ``TASKORCH_WEBHOOK_SECRET_<PLATFORM>``, of the
server, and in the platform's webhook settings.
"""

from __future__ import annotations

import os
import secrets
from typing import Annotated

import typer
from rich.console import Console

from taskorch.webhooks import PLATFORMS, SECRET_NAMES

__all__ = ["webhook_app"]

webhook_app = typer.Typer(help="Webhooks from GitHub, GitLab and Jira to `taskorch serve --transport http`.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

_SETTINGS = {
    "github": (
        "GitHub: Settings > Webhooks > Add webhook\n"
        "  Payload URL:   {url}\n"
        "  Content type:  application/json\n"
        "  Secret:        the secret above\n"
        "  Events:        Let me select individual events > Issues, Issue comments"
    ),
    "gitlab": (
        "GitLab: Settings > Webhooks > Add new webhook\n"
        "  URL:           {url}\n"
        "  Secret token:  the secret above\n"
        "  Trigger:       Issues events, Comments"
    ),
    "jira": (
        "Jira: Settings > System > WebHooks > Create a WebHook\n"
        "  URL:           {url}\n"
        "  Secret:        the secret above\n"
        "  Events:        Issue: created, updated"
    ),
}


@webhook_app.command("secret")
def webhook_secret(
    platform: Annotated[str, typer.Argument(help="github, gitlab or jira.")],
    url: Annotated[
        str | None,
        typer.Option(help="The server's public URL (default TASKORCH_PUBLIC_URL, else http://127.0.0.1:8765)."),
    ] = None,
) -> None:
    """Create a webhook secret: print it once, where to keep it, and what to paste into the platform."""
    platform = platform.strip().lower()
    if platform not in PLATFORMS:
        err.print(f"error: platform: {platform!r} is not one of {', '.join(PLATFORMS)}. Fix: e.g. github.")
        raise typer.Exit(2)
    base = (url or os.environ.get("TASKORCH_PUBLIC_URL", "").strip() or "http://127.0.0.1:8765").rstrip("/")
    value = secrets.token_hex(32)
    name = SECRET_NAMES[platform]
    out.print(f"secret (shown once): {value}")
    out.print(
        f"Keep it where the server finds it, under the name {name}: an environment variable "
        f"(export {name}=...), or the keyring (keyring set taskorch {name}). taskorch never stores it."
    )
    out.print(_SETTINGS[platform].format(url=f"{base}/webhooks/{platform}"))
