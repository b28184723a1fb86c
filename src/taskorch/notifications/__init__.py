"""Message shapes of the incoming webhooks notifications go to (pure; no I/O).

* Slack (https://api.slack.com/messaging/webhooks): ``{"text": ..., "blocks": [section mrkdwn]}``.
* Microsoft Teams (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using):
  a legacy actionable message card, ``{"@type": "MessageCard", "@context": "https://schema.org/extensions",
  "summary", "title", "text"}``, which Teams incoming webhooks and Workflows both accept.
* Discord (https://discord.com/developers/docs/resources/webhook#execute-webhook):
  ``{"content": ...}``, at most 2000 characters.
* generic: ``{"event": kind, "project": ..., "text": ..., "data": {...}}`` as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["EVENTS", "SERVICES", "render"]

#: The event kinds a rule may name.
EVENTS = ("task_completed", "task_blocked", "conflict_opened", "release_published", "sync_failing", "digest")
SERVICES = ("slack", "teams", "discord", "generic")
DISCORD_LIMIT = 2000


def render(service: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body to post to ``service`` for ``event`` (``kind``, ``title``, ``text``, ``project``)."""
    title = str(event.get("title") or event.get("kind") or "taskorch")
    text = str(event.get("text") or "")
    if service == "slack":
        return {
            "text": f"{title}: {text}" if text else title,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}".strip()}}],
        }
    if service == "teams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title[:200],
            "title": title,
            "text": text or title,
        }
    if service == "discord":
        content = f"**{title}**\n{text}".strip()
        return {"content": content[: DISCORD_LIMIT - 1] + "…" if len(content) > DISCORD_LIMIT else content}
    return {"event": event.get("kind"), "project": event.get("project"), "title": title, "text": text}
