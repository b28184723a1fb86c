"""Webhook deliveries from the platforms: signatures checked, the issues they name extracted.

Pure functions over the raw request (headers and body bytes); no I/O but the secret lookup the
caller passes in. Each platform is verified as it documents:

* **GitHub** (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
  ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the raw body with the secret, compared in
  constant time; ``X-GitHub-Delivery`` (a GUID, kept on redeliveries) is the delivery id;
  ``X-GitHub-Event`` the event (``issues``, ``issue_comment``, ``ping``).
* **GitLab** (https://docs.gitlab.com/user/project/integrations/webhooks/): the secret token is
  sent as is in ``X-Gitlab-Token``, compared in constant time; the delivery id is
  ``Idempotency-Key`` (kept on retries), else ``X-Gitlab-Event-UUID``; ``X-Gitlab-Event`` the
  event (``Issue Hook``, ``Note Hook``).
* **Jira Cloud** (https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks):
  ``X-Hub-Signature: sha256=<hex>`` (WebSub ``method=signature``), HMAC-SHA256 of the raw body;
  ``X-Atlassian-Webhook-Identifier`` (kept on retries) plus the body's ``timestamp`` is the
  delivery id.

Staleness: a delivery whose own time (GitHub's ``issue.updated_at``, GitLab's
``object_attributes.updated_at``, Jira's ``timestamp`` in milliseconds) is more than ``max_age``
seconds old, or more than :data:`CLOCK_SKEW_SECONDS` in the future, is refused. Replays are
refused by delivery id (the store keeps every id). Nothing of the body is trusted beyond the
issue numbers: the work is a pull of those issues from the platform's API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from taskorch.errors import InvalidInput, Unauthorized

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "PLATFORMS",
    "SECRET_NAMES",
    "Delivery",
    "parse_delivery",
    "sign",
]

PLATFORMS = ("github", "gitlab", "jira")
#: Where each platform's secret is looked up (environment variable or keyring entry).
SECRET_NAMES = {p: f"TASKORCH_WEBHOOK_SECRET_{p.upper()}" for p in PLATFORMS}
#: How far in the future a delivery's time may be (clocks differ).
CLOCK_SKEW_SECONDS = 300.0
#: Largest body accepted, in bytes (GitHub caps payloads at 25 MB; issue events are far smaller).
MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Delivery:
    """One verified delivery: ``platform``, ``delivery_id`` (unique per platform), ``event``,
    ``repository`` (``owner/name``, GitLab's ``group/project`` path or Jira's project key; None
    for a ping) and ``issues`` (issue numbers as text: ``"12"``, or Jira keys ``"SHOP-12"``)."""

    platform: str
    delivery_id: str
    event: str
    repository: str | None
    issues: tuple[str, ...] = field(default_factory=tuple)


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 signature GitHub and Jira send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value.strip()
    return ""


def _refuse(platform: str, problem: str, fix: str) -> Unauthorized:
    return Unauthorized(f"{platform} webhook refused: {problem} Fix: {fix}")


def _check_signature(platform: str, header: str, signature: str, secret: str, body: bytes) -> None:
    if not signature:
        raise _refuse(platform, f"it carries no {header} header.", "set the webhook's secret on the platform.")
    if not hmac.compare_digest(signature.encode(), sign(secret, body).encode()):
        raise _refuse(
            platform,
            f"its {header} does not match the body.",
            f"set the same secret on the platform and in {SECRET_NAMES[platform]}.",
        )


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)  # Jira: milliseconds since the epoch
    if isinstance(value, str) and value:
        text = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _check_age(platform: str, moment: datetime | None, now: datetime, max_age: float) -> None:
    if moment is None:
        return
    age = (now - moment).total_seconds()
    if age > max_age or age < -CLOCK_SKEW_SECONDS:
        raise InvalidInput(
            "delivery",
            f"this {platform} delivery is stale ({age:.0f} s old; at most {max_age:.0f} s accepted).",
            "nothing to do: the next background pull brings the change; raise TASKORCH_WEBHOOK_MAX_AGE "
            "to accept older redeliveries.",
        )


def _number(value: Any) -> str | None:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def parse_delivery(
    platform: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret_of: Callable[[str], str],
    now: datetime,
    max_age: float,
) -> Delivery:
    """Verify one raw delivery and say what it names.

    ``secret_of(name)`` returns the secret stored under ``name`` (:data:`SECRET_NAMES`), raising
    :class:`~taskorch.errors.TaskorchError` when there is none. Raises :class:`Unauthorized` for a
    missing or wrong signature or token (checked before the body is parsed), :class:`InvalidInput`
    for a malformed, unidentified or stale delivery."""
    if platform not in PLATFORMS:
        raise InvalidInput("platform", f"{platform!r} sends no webhooks here.", f"use one of: {', '.join(PLATFORMS)}.")
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"is larger than {MAX_BODY_BYTES} bytes.", "send issue events only.")
    secret = secret_of(SECRET_NAMES[platform])
    if platform == "github":
        _check_signature(platform, "X-Hub-Signature-256", _header(headers, "X-Hub-Signature-256"), secret, body)
        delivery_id = _header(headers, "X-GitHub-Delivery")
        event = _header(headers, "X-GitHub-Event")
    elif platform == "gitlab":
        token = _header(headers, "X-Gitlab-Token")
        if not token:
            raise _refuse(platform, "it carries no X-Gitlab-Token header.", "set the webhook's secret token.")
        if not hmac.compare_digest(token.encode(), secret.encode()):
            raise _refuse(
                platform,
                "its X-Gitlab-Token is wrong.",
                f"set the same token on GitLab and in {SECRET_NAMES[platform]}.",
            )
        delivery_id = _header(headers, "Idempotency-Key") or _header(headers, "X-Gitlab-Event-UUID")
        event = _header(headers, "X-Gitlab-Event")
    else:
        _check_signature(platform, "X-Hub-Signature", _header(headers, "X-Hub-Signature"), secret, body)
        delivery_id = _header(headers, "X-Atlassian-Webhook-Identifier")
        event = "jira"
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("body", "is not JSON.", "send the platform's JSON payload.") from None
    if not isinstance(payload, dict):
        raise InvalidInput("body", "is not a JSON object.", "send the platform's JSON payload.")
    if platform == "jira":
        stamp = payload.get("timestamp")
        event = str(payload.get("webhookEvent") or "jira")[:100]
        delivery_id = f"{delivery_id}:{stamp}" if delivery_id else ""
    if not delivery_id or len(delivery_id) > 200:
        raise InvalidInput("delivery id", "is missing or too long.", "deliver through the platform's webhooks.")
    repository, issues, moment = _names(platform, payload)
    _check_age(platform, moment, now, max_age)
    return Delivery(platform, delivery_id, (event or "unknown")[:100], repository, issues)


def _names(platform: str, payload: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...], datetime | None]:
    """(repository, issues, the delivery's own time) from a parsed payload."""
    if platform == "github":
        repo = payload.get("repository")
        issue = payload.get("issue")
        name = repo.get("full_name") if isinstance(repo, dict) else None
        if isinstance(issue, dict):
            number = _number(issue.get("number"))
            return name, (number,) if number else (), _time(issue.get("updated_at"))
        return name, (), None
    if platform == "gitlab":
        project = payload.get("project")
        name = project.get("path_with_namespace") if isinstance(project, dict) else None
        attrs = payload.get("object_attributes")
        attrs = attrs if isinstance(attrs, dict) else {}
        moment = _time(attrs.get("updated_at"))
        if payload.get("object_kind") == "issue" or payload.get("event_type") in ("issue", "confidential_issue"):
            number = _number(attrs.get("iid"))
            return name, (number,) if number else (), moment
        issue = payload.get("issue")
        if isinstance(issue, dict):  # a note on an issue
            number = _number(issue.get("iid"))
            return name, (number,) if number else (), moment
        return name, (), moment
    issue = payload.get("issue")
    moment = _time(payload.get("timestamp"))
    if isinstance(issue, dict) and isinstance(issue.get("key"), str):
        key = str(issue["key"])[:100]
        return key.rsplit("-", 1)[0], (key,), moment
    return None, (), moment
