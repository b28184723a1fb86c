"""What the stand-ins share to answer requests: in process through an ``httpx`` transport, or over
HTTP on 127.0.0.1 from a background thread, with injected faults (``timeout``, ``drop_*``) acted
out as a real server would (no answer, a closed connection).

A stand-in turns a request into an :class:`Outcome`; :func:`answer` gives that outcome to an
``httpx`` client, :func:`serve_http` to a socket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx

__all__ = ["Outcome", "answer", "serve_http"]

#: Response headers the server writes itself (or that do not survive re-sending).
_OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "server"})


@dataclass(frozen=True)
class Outcome:
    """What a stand-in does with a request: ``respond`` with ``response``, hold the connection
    without an answer (``timeout``), or close it without one (``drop``)."""

    action: Literal["respond", "timeout", "drop"]
    response: httpx.Response | None = None


def answer(outcome: Outcome, request: httpx.Request) -> httpx.Response:
    """The response an ``httpx`` client gets for ``outcome``. Raises ``httpx.ReadTimeout`` for a
    ``timeout`` and ``httpx.RemoteProtocolError`` for a ``drop``."""
    if outcome.action == "timeout":
        raise httpx.ReadTimeout("timed out (injected)", request=request)
    if outcome.action == "drop" or outcome.response is None:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    return outcome.response


@contextmanager
def serve_http(
    process: Callable[[httpx.Request], Outcome],
    *,
    port: int = 0,
    hold_seconds: Callable[[], float],
    failed: Callable[[str, Exception], httpx.Response],
    web_page: Callable[[str], tuple[int, str] | None] | None = None,
) -> Iterator[str]:
    """Serve ``process`` over HTTP on 127.0.0.1, on ``port`` (0: a free one), from a background
    thread; yields ``http://127.0.0.1:PORT``.

    A ``timeout`` outcome holds the connection for ``hold_seconds()`` (or until the server stops)
    and then closes it; a ``drop`` closes it at once. An exception in ``process`` is a bug of the
    stand-in: it is answered with ``failed("METHOD PATH", exc)`` (which should also record it for
    the test). ``web_page(path)``, when given, answers GET requests for pages (HTML) before the API.
    """
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
        # delayed ACK stall every answer by ~40 ms on loopback.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _write(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in _OWN_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            content = self.rfile.read(length) if length else b""
            page = web_page(self.path) if web_page is not None and self.command == "GET" else None
            if page is not None:
                status, text = page
                self._write(status, [("Content-Type", "text/html; charset=utf-8")], text.encode())
                return
            request = httpx.Request(
                self.command,
                f"http://{self.headers.get('Host') or host_and_port}{self.path}",
                headers=[(k, v) for k, v in self.headers.items() if k.lower() != "content-length"],
                content=content,
            )
            try:
                outcome = process(request)
            except Exception as exc:
                outcome = Outcome("respond", failed(f"{self.command} {self.path}", exc))
            if outcome.action != "respond" or outcome.response is None:
                if outcome.action == "timeout":
                    stopping.wait(hold_seconds())
                self.close_connection = True
                return
            response = outcome.response
            self._write(response.status_code, list(response.headers.multi_items()), response.content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _answer

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    host_and_port = f"127.0.0.1:{server.server_port}"
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host_and_port}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
