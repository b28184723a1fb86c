"""The webhook endpoints of the HTTP server: ``POST /webhooks/{github,gitlab,jira}``.

Thin: the raw body and headers go to :class:`taskorch.services.webhooks.WebhookService`, which
verifies and queues the delivery; the answer comes at once (202) and the background worker is
woken to pull the issues named. No bearer token (platforms sign instead); answers:

======  ==============================================================================
202     queued (``{"status": "pending"}``) or nothing to do (``"ignored"``, e.g. a ping)
400     malformed or stale delivery
401     missing or wrong signature / token
409     a delivery id received before (a replay)
503     no secret configured for the platform (the message names the variable to set)
======  ==============================================================================

Error texts are the services' own (they never hold a secret, a body or a stack trace).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from taskorch.config import Settings
from taskorch.errors import Conflict, InvalidInput, PlatformError, TaskorchError, Unauthorized
from taskorch.webhooks import MAX_BODY_BYTES, PLATFORMS

if TYPE_CHECKING:
    from taskorch.services.webhooks import WebhookService

__all__ = ["webhook_routes"]

log = logging.getLogger(__name__)


class _Service:
    """The service, built on first use (so a server without webhooks never loads it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._service: WebhookService | None = None
        self._lock = threading.Lock()

    def get(self) -> WebhookService:
        with self._lock:
            if self._service is None:
                from taskorch.services.app import Orchestrator
                from taskorch.services.webhooks import WebhookService

                self._service = WebhookService(Orchestrator(self.settings), max_age=self.settings.webhook_max_age)
            return self._service


def _status(exc: TaskorchError) -> int:
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidInput):
        return 400
    if isinstance(exc, PlatformError):  # the secret is not set (resolve_token's error)
        return 503
    return 503


def webhook_routes(settings: Settings) -> list[Route]:
    """The three routes, sharing one service over ``settings``' database."""
    service = _Service(settings)

    async def receive(request: Request) -> JSONResponse:
        platform = request.path_params["platform"]
        if platform not in PLATFORMS:
            return JSONResponse({"error": f"unknown platform; use one of {', '.join(PLATFORMS)}"}, status_code=404)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        headers = dict(request.headers)

        def work() -> Any:
            return service.get().receive(platform, headers, body)

        try:
            received = await anyio.to_thread.run_sync(work)
        except TaskorchError as exc:
            status = _status(exc)
            log.info("webhook %s refused (%d): %s", platform, status, type(exc).__name__)
            return JSONResponse({"error": str(exc)}, status_code=status)
        except Exception as exc:  # never a stack trace to the sender
            log.warning("webhook %s failed: %s", platform, type(exc).__name__)
            return JSONResponse({"error": "internal error"}, status_code=500)
        if received.status == "pending":
            from taskorch.services import background

            background.wake()
        return JSONResponse({"status": received.status, "delivery": received.id}, status_code=202)

    return [Route("/webhooks/{platform}", receive, methods=["POST"])]
