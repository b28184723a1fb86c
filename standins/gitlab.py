"""A stateful stand-in for GitLab's REST API (v4), served over HTTP on 127.0.0.1.

One :class:`FakeGitLab` is one project (``group/sub/project`` by default, nested groups allowed)
on a GitLab instance that keeps its state in plain dictionaries tests can read and edit. It
serves from a thread of the test process (:meth:`FakeGitLab.serve` yields the base URL); clients
reach it as ``{base_url}/api/v4/...``, with the project id URL-encoded (``group%2Fsub%2Fproject``)
or numeric.

GitLab publishes no OpenAPI description that covers these endpoints usably, so the payloads
follow GitLab's REST documentation, field by field, and python-gitlab (the client taskorch uses)
is the validator: the test suite drives python-gitlab's own managers against this stand-in. Pages
followed:

* REST basics (authentication, status codes, pagination headers ``X-Page``, ``X-Per-Page``,
  ``X-Next-Page``, ``X-Prev-Page``, ``X-Total``, ``X-Total-Pages`` and ``Link``, encoded paths):
  https://docs.gitlab.com/api/rest/
* issues (``iid``, ``state_event``, ``labels``/``add_labels``/``remove_labels``, ``assignee_ids``,
  ``milestone_id``, ``due_date``, ``weight``, ``confidential``, ``updated_after``, ``order_by``,
  ``sort``, time tracking): https://docs.gitlab.com/api/issues/
* notes: https://docs.gitlab.com/api/notes/
* issue links (``link_type`` ``relates_to`` / ``blocks`` / ``is_blocked_by``):
  https://docs.gitlab.com/api/issue_links/
* labels (scoped labels ``scope::value``): https://docs.gitlab.com/api/labels/ and
  https://docs.gitlab.com/user/project/labels/#scoped-labels
* milestones: https://docs.gitlab.com/api/milestones/
* issue boards and board lists: https://docs.gitlab.com/api/boards/
* releases: https://docs.gitlab.com/api/releases/ ; tags: https://docs.gitlab.com/api/tags/
* users: https://docs.gitlab.com/api/users/#list-users
* rate-limit headers (``RateLimit-Name``, ``-Limit``, ``-Observed``, ``-Remaining``, ``-Reset``,
  ``-ResetTime``, and ``Retry-After`` on 429): https://docs.gitlab.com/security/rate_limits/

Tiers (``tier="free"`` or ``"premium"``) model what GitLab Free silently does differently: scoped
labels are plain labels (the other label of a scope stays), ``weight`` is ignored, only the first
of several assignees is kept, and ``link_type=blocks`` is answered 403 "Blocked issues not
available for current license". Unknown parameters are ignored, as GitLab ignores them, and so is
an unknown ``milestone_id`` or assignee id. The REST API does not answer 304 to ``If-None-Match``
(it sends a weak ``ETag``, but ignores it), unless ``honour_if_none_match`` is set.

Faults (:meth:`FakeGitLab.inject`): ``500``/``502``/``503``, ``timeout`` (the connection is held
without an answer), ``drop_before`` / ``drop_after`` (closed without an answer, before or after the
change is applied), ``429`` with ``Retry-After``. An exhausted rate budget is answered 429 too.

Authentication: ``PRIVATE-TOKEN: <token>`` or ``Authorization: Bearer <token>``; the token itself
is never kept. It never reaches the network beyond the 127.0.0.1 port it serves on.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from standins.github import ManualClock

__all__ = ["FAULTS", "FakeGitLab", "Recorded", "SteppingClock"]

Json = dict[str, Any]

#: The fault kinds :meth:`FakeGitLab.inject` accepts.
FAULTS: frozenset[str] = frozenset({"500", "502", "503", "timeout", "drop_before", "drop_after", "429"})

_DURATION_UNITS = {"mo": 4 * 5 * 8 * 3600, "w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"(\d+)\s*(mo|w|d|h|m|s)")


class SteppingClock(ManualClock):
    """The GitHub stand-in's :class:`~standins.github.ManualClock`, advancing one second per
    reading by default, so consecutive changes get distinct, ordered timestamps."""

    def __init__(self, start: datetime | None = None, *, step: timedelta = timedelta(seconds=1)) -> None:
        super().__init__(start, step=step)


def iso(moment: datetime) -> str:
    """GitLab's timestamp form: UTC with milliseconds and ``Z`` (``2025-01-06T09:00:00.000Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC). Raises ``ValueError``."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_duration(text: str) -> int:
    """GitLab's human duration (``"1w 2d 3h 30m"``; a day is 8 h, a week 5 days, a month 4 weeks)
    -> seconds. Raises ``ValueError`` for text that is not a duration."""
    compact = text.strip()
    if not compact or _DURATION_RE.sub("", compact).strip():
        raise ValueError(f"{text!r} is not a duration")
    return sum(int(amount) * _DURATION_UNITS[unit] for amount, unit in _DURATION_RE.findall(compact))


def human_duration(seconds: int) -> str | None:
    if not seconds:
        return None
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _DURATION_UNITS[unit]
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts)


def scope_of(label: str) -> str | None:
    head, separator, _ = label.rpartition("::")
    return head if separator and head else None


@dataclass(frozen=True)
class Recorded:
    """One request the stand-in received.

    ``path`` is decoded and relative to ``/api/v4`` with the project written as ``/projects/:id``
    as it was sent; ``query`` the query string (last value wins); ``json`` the decoded body (or
    ``None``); ``status`` the status produced — also when ``drop_after`` kept it from the client —
    or ``None`` (``timeout``, ``drop_before``); ``fault`` the injected fault that hit it; ``applied``
    whether the request changed or read state (a 4xx is not applied); ``headers`` the request's
    header names (lower case), never their values.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None
    fault: str | None
    applied: bool
    headers: frozenset[str]

    @property
    def is_mutation(self) -> bool:
        return self.method in {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class _Fault:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    times: int
    retry_after: int


@dataclass
class _Req:
    method: str
    path: str
    segments: list[str]
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    headers: Mapping[str, str]
    body: Any
    base_url: str


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by a route to answer with an error status and GitLab's error body."""

    def __init__(self, status: int, body: Json) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{status}: {body}")


def _not_found(what: str = "Not Found") -> ApiError:
    return ApiError(404, {"message": f"404 {what}"})


def _bad_request(message: Any) -> ApiError:
    return ApiError(400, {"message": message} if not isinstance(message, str) else {"error": message})


class FakeGitLab:
    """GitLab, as far as one project's issues, notes, links, labels, milestones, boards, releases,
    tags and time tracking go (see the module docstring).

    State, all public and editable:

    * ``issues: dict[int, dict]`` — iid -> the stored issue (rendered fresh when served);
    * ``notes: dict[int, list[dict]]`` — iid -> its notes, oldest first;
    * ``links: list[dict]`` — ``{"id", "source", "target", "link_type", "created_at"}`` (iids);
    * ``labels: dict[str, dict]`` — name -> label; ``milestones: dict[int, dict]`` — id -> milestone;
    * ``boards: dict[int, dict]`` — id -> board (``lists`` inside);
    * ``releases: dict[str, dict]`` — tag -> release; ``tags: dict[str, str]`` — tag -> commit sha;
    * ``users: dict[str, dict]`` — username -> user; :meth:`add_user` adds one;
    * ``requests: list[Recorded]`` — every request received, in order;
    * ``rate_limit`` / ``rate_remaining`` / ``rate_reset`` — the authenticated API budget;
    * ``credentials_valid`` (false: every request is 401), ``forbidden`` (true: every request is
      403), ``hold_seconds`` (how long a ``timeout`` fault holds the connection at most),
      ``send_link_header`` (false: pages carry only the ``X-*`` headers, as behind some proxies).
    """

    def __init__(
        self,
        path: str = "group/sub/project",
        *,
        tier: Literal["free", "premium"] = "free",
        clock: Callable[[], datetime] | None = None,
        project_id: int = 4242,
        viewer: str = "sync-bot",
        honour_if_none_match: bool = False,
    ) -> None:
        self.path = path
        self.tier = tier
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.project_id = project_id
        self.viewer = viewer
        self.honour_if_none_match = honour_if_none_match
        self.credentials_valid = True
        self.forbidden = False
        self.hold_seconds = 30.0
        self.send_link_header = True

        self.issues: dict[int, Json] = {}
        self.notes: dict[int, list[Json]] = {}
        self.links: list[Json] = []
        self.labels: dict[str, Json] = {}
        self.milestones: dict[int, Json] = {}
        self.boards: dict[int, Json] = {}
        self.releases: dict[str, Json] = {}
        self.tags: dict[str, str] = {}
        self.users: dict[str, Json] = {}
        self.requests: list[Recorded] = []
        self.internal_errors: list[str] = []

        self.rate_limit = 2000
        self.rate_remaining = 2000
        self.rate_reset = int(self._now().timestamp()) + 60

        self._lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._ids: dict[str, int] = {}
        self.add_user(viewer)

    # -- public API for tests ----------------------------------------------------------------

    @property
    def web_url(self) -> str:
        return f"https://gitlab.example.com/{self.path}"

    def add_user(self, username: str, name: str | None = None) -> Json:
        """Add (or return) the user ``username``; returns the user object."""
        with self._lock:
            if username not in self.users:
                uid = self._next("user", 100)
                self.users[username] = {
                    "id": uid,
                    "username": username,
                    "name": name or username.replace(".", " ").title(),
                    "state": "active",
                    "locked": False,
                    "avatar_url": f"https://gitlab.example.com/uploads/user/avatar/{uid}/avatar.png",
                    "web_url": f"https://gitlab.example.com/{username}",
                }
            return self.users[username]

    def inject(
        self, fault: str, *, method: str | None = None, path: str | None = None, times: int = 1, retry_after: int = 1
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and ``path`` (a regex searched in the
        decoded path, e.g. ``r"/issues$"``) fail with ``fault`` (one of :data:`FAULTS`)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        with self._lock:
            compiled = re.compile(path) if path else None
            self._faults.append(_Fault(fault, method.upper() if method else None, compiled, times, retry_after))

    def clear_faults(self) -> int:
        """Drop the faults not triggered yet; returns how many requests they would have hit."""
        with self._lock:
            left = sum(f.times for f in self._faults)
            self._faults = []
            return left

    def pending_faults(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults)

    def mutations(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.is_mutation]

    def add_issue(self, title: str, **params: Any) -> Json:
        """Create an issue as a person would (not recorded as a request); ``params`` are the API's
        create parameters. Returns the issue as the API renders it."""
        with self._lock:
            req = _Req("POST", "", [], {}, {}, {}, {"title": title, **params}, "")
            return dict(self._create_issue(req).body)

    def edit_issue(self, iid: int, *, actor: str = "alice", **changes: Any) -> Json:
        """Change an issue as a person in GitLab's web UI would; ``changes`` are the API's edit
        parameters (``title``, ``description``, ``state_event``, ``labels``, ...)."""
        with self._lock:
            issue = self._issue(iid)
            self._apply(issue, changes, self.add_user(actor))
            return self._render(issue)

    def status_labels(self, iid: int) -> list[str]:
        """The ``status::`` labels the issue carries, sorted."""
        with self._lock:
            return sorted(name for name in self.issues[iid]["labels"] if scope_of(name) == "status")

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Serve on 127.0.0.1, on ``port`` (0: a free one), from a background thread; yields the
        base URL (``http://127.0.0.1:PORT``; the API is under ``/api/v4``)."""
        fake = self
        stopping = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                content = self.rfile.read(length) if length else b""
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    action, status, reply_headers, body = fake._process(self.command, self.path, headers, content)
                except Exception as exc:
                    fake.internal_errors.append(f"{self.command} {self.path}: {exc!r}")
                    action, status, reply_headers, body = "respond", 500, {}, b'{"message":"500 Internal Server Error"}'
                if action != "respond":
                    if action == "timeout":
                        stopping.wait(fake.hold_seconds)
                    self.close_connection = True
                    return
                self.send_response(status)
                for key, value in reply_headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            stopping.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    # -- request processing ---------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def _next(self, kind: str, start: int = 1) -> int:
        self._ids[kind] = self._ids.get(kind, start - 1) + 1
        return self._ids[kind]

    def _process(
        self, method: str, raw_path: str, headers: Mapping[str, str], content: bytes
    ) -> tuple[str, int, dict[str, str], bytes]:
        with self._lock:
            return self._process_locked(method.upper(), raw_path, headers, content)

    def _process_locked(
        self, method: str, raw_path: str, headers: Mapping[str, str], content: bytes
    ) -> tuple[str, int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        raw_segments = [segment for segment in split.path.split("/") if segment]
        if raw_segments[:2] == ["api", "v4"]:
            raw_segments = raw_segments[2:]
        segments = [unquote(segment) for segment in raw_segments]
        path = "/" + "/".join(segments)
        query_lists = parse_qs(split.query, keep_blank_values=True)
        query = {key: values[-1] for key, values in query_lists.items()}
        body: Any = None
        body_ok = True
        if content:
            try:
                body = json.loads(content)
            except ValueError:
                body_ok = False
        fault = self._take_fault(method, path)

        def record(status: int | None, applied: bool) -> None:
            self.requests.append(
                Recorded(method, path, query, body, status, fault.kind if fault else None, applied, frozenset(headers))
            )

        if fault is not None and fault.kind in {"timeout", "drop_before"}:
            record(None, False)
            return ("timeout" if fault.kind == "timeout" else "drop"), 0, {}, b""
        if fault is not None and fault.kind != "drop_after":
            status, reply_headers = int(fault.kind), self._rate_headers()
            message = {
                "429": "Retry later",
                "500": "500 Internal Server Error",
                "502": "GitLab is not responding",
                "503": "503 Service Unavailable",
            }
            if fault.kind == "429":
                reply_headers["Retry-After"] = str(fault.retry_after)
            record(status, False)
            return (
                "respond",
                status,
                {**reply_headers, "Content-Type": "application/json"},
                _dump({"message": message[fault.kind]}),
            )
        host = headers.get("host", "127.0.0.1")
        req = _Req(method, path, segments, query, query_lists, headers, body, f"http://{host}/api/v4")
        status, reply_headers, payload = self._serve(req, body_ok)
        record(status, status < 400)
        if fault is not None:
            return "drop", 0, {}, b""
        return "respond", status, reply_headers, payload

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method and fault.method != method:
                continue
            if fault.path and not fault.path.search(path):
                continue
            fault.times -= 1
            self._faults = [f for f in self._faults if f.times > 0]
            return fault
        return None

    def _rate_headers(self) -> dict[str, str]:
        now = int(self._now().timestamp())
        if now >= self.rate_reset:
            self.rate_remaining = self.rate_limit
            self.rate_reset = now + 60
        reset_time = email.utils.formatdate(self.rate_reset, usegmt=True)
        return {
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": str(self.rate_limit),
            "RateLimit-Observed": str(self.rate_limit - self.rate_remaining),
            "RateLimit-Remaining": str(self.rate_remaining),
            "RateLimit-Reset": str(self.rate_reset),
            "RateLimit-ResetTime": reset_time,
        }

    def _serve(self, req: _Req, body_ok: bool) -> tuple[int, dict[str, str], bytes]:
        token = req.headers.get("private-token", "").strip()
        scheme, _, bearer = req.headers.get("authorization", "").strip().partition(" ")
        authenticated = bool(token) or (scheme.lower() == "bearer" and bool(bearer.strip()))
        json_type = {"Content-Type": "application/json"}
        if not authenticated or not self.credentials_valid:
            return 401, {**self._rate_headers(), **json_type}, _dump({"message": "401 Unauthorized"})
        if self.forbidden:
            return 403, {**self._rate_headers(), **json_type}, _dump({"message": "403 Forbidden"})
        self._rate_headers()
        if self.rate_remaining <= 0:
            headers = self._rate_headers()
            headers["Retry-After"] = str(max(1, self.rate_reset - int(self._now().timestamp())))
            return 429, {**headers, **json_type}, _dump({"message": "Retry later"})
        self.rate_remaining -= 1
        if not body_ok:
            return 400, {**self._rate_headers(), **json_type}, _dump({"error": "400 Bad request - invalid JSON"})
        try:
            reply = self._dispatch(req)
        except ApiError as error:
            reply = _Reply(error.status, error.body)
        content = b"" if reply.body is None else _dump(reply.body)
        headers = {**self._rate_headers(), **json_type, **reply.headers}
        if req.method == "GET" and reply.status == 200:
            etag = 'W/"' + hashlib.md5(content, usedforsecurity=False).hexdigest() + '"'
            headers["ETag"] = etag
            if self.honour_if_none_match and req.headers.get("if-none-match") == etag:
                return 304, {key: value for key, value in headers.items() if key != "Content-Type"}, b""
        return reply.status, headers, content

    def _dispatch(self, req: _Req) -> _Reply:
        s = req.segments
        m = req.method
        if s == ["users"] and m == "GET":
            return self._paginate(
                req, [u for u in self.users.values() if u["username"] == req.query.get("username", u["username"])]
            )
        if len(s) < 2 or s[0] != "projects":
            raise ApiError(404, {"error": "404 Not Found"})
        if s[1] not in (self.path, str(self.project_id)):
            raise _not_found("Project Not Found")
        rest = s[2:]
        routes: list[tuple[str, tuple[str, ...], Callable[..., _Reply]]] = [
            ("GET", (), self._get_project),
            ("GET", ("issues",), self._list_issues),
            ("POST", ("issues",), self._create_issue),
            ("GET", ("issues", "*"), self._get_issue),
            ("PUT", ("issues", "*"), self._update_issue),
            ("GET", ("issues", "*", "notes"), self._list_notes),
            ("POST", ("issues", "*", "notes"), self._create_note),
            ("GET", ("issues", "*", "links"), self._list_links),
            ("POST", ("issues", "*", "links"), self._create_link),
            ("DELETE", ("issues", "*", "links", "*"), self._delete_link),
            ("POST", ("issues", "*", "time_estimate"), self._time_estimate),
            ("POST", ("issues", "*", "add_spent_time"), self._add_spent_time),
            ("GET", ("issues", "*", "time_stats"), self._time_stats),
            ("GET", ("labels",), self._list_labels),
            ("POST", ("labels",), self._create_label),
            ("GET", ("labels", "*"), self._get_label),
            ("GET", ("milestones",), self._list_milestones),
            ("POST", ("milestones",), self._create_milestone),
            ("GET", ("milestones", "*"), self._get_milestone),
            ("PUT", ("milestones", "*"), self._update_milestone),
            ("GET", ("boards",), self._list_boards),
            ("POST", ("boards",), self._create_board),
            ("GET", ("boards", "*"), self._get_board),
            ("GET", ("boards", "*", "lists"), self._list_board_lists),
            ("POST", ("boards", "*", "lists"), self._create_board_list),
            ("GET", ("releases",), self._list_releases),
            ("POST", ("releases",), self._create_release),
            ("GET", ("releases", "*"), self._get_release),
            ("PUT", ("releases", "*"), self._update_release),
            ("GET", ("repository", "tags"), self._list_tags),
            ("POST", ("repository", "tags"), self._create_tag),
            ("GET", ("repository", "tags", "*"), self._get_tag),
        ]
        for method, pattern, handler in routes:
            if (
                method == m
                and len(pattern) == len(rest)
                and all(p in ("*", r) for p, r in zip(pattern, rest, strict=True))
            ):
                args = [r for p, r in zip(pattern, rest, strict=True) if p == "*"]
                return handler(req, *args)
        raise ApiError(404, {"error": "404 Not Found"})

    # -- parameters -----------------------------------------------------------------------------

    @staticmethod
    def _params(req: _Req) -> Json:
        """Parameters from the JSON body, else from the query string (GitLab takes either)."""
        merged: Json = dict(req.query)
        if isinstance(req.body, dict):
            merged.update(req.body)
        return merged

    @staticmethod
    def _label_list(value: Any) -> list[str]:
        if value is None:
            return []
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    @staticmethod
    def _int(value: Any, name: str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"{name} is invalid") from None

    def _paginate(self, req: _Req, items: Sequence[Any]) -> _Reply:
        per_page = max(1, min(100, self._int(req.query.get("per_page", 20), "per_page")))
        page = max(1, self._int(req.query.get("page", 1), "page"))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = list(items[(page - 1) * per_page : page * per_page])

        def url(number: int) -> str:
            params = {**req.query, "page": str(number), "per_page": str(per_page)}
            encoded = "/".join(quote(segment, safe="") for segment in req.segments)
            return f"{req.base_url}/{encoded}?{urlencode(params)}"

        links = []
        if page < total_pages:
            links.append(f'<{url(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        links.append(f'<{url(1)}>; rel="first"')
        links.append(f'<{url(total_pages)}>; rel="last"')
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
        }
        if self.send_link_header:
            headers["Link"] = ", ".join(links)
        return _Reply(200, chunk, headers)

    # -- JSON builders --------------------------------------------------------------------------

    def _project_json(self) -> Json:
        namespace, _, name = self.path.rpartition("/")
        return {
            "id": self.project_id,
            "name": name,
            "path": name,
            "path_with_namespace": self.path,
            "name_with_namespace": " / ".join(self.path.split("/")),
            "namespace": {"id": 77, "name": namespace.rsplit("/", 1)[-1], "full_path": namespace, "kind": "group"},
            "default_branch": "main",
            "web_url": self.web_url,
        }

    def _user_ref(self, user: Json) -> Json:
        return {key: user[key] for key in ("id", "username", "name", "state", "locked", "avatar_url", "web_url")}

    def _milestone_json(self, milestone: Json) -> Json:
        due = milestone.get("due_date")
        expired = due is not None and date.fromisoformat(str(due)) < self._now().date()
        return {**milestone, "expired": expired}

    def _render(self, issue: Json) -> Json:
        iid = issue["iid"]
        description = issue["description"] or ""
        tasks = re.findall(r"^\s*[-*] \[([ xX])\]", description, re.M)
        milestone = self.milestones.get(issue["milestone_id"]) if issue["milestone_id"] else None
        assignees = [self._user_ref(u) for u in self.users.values() if u["id"] in issue["assignee_ids"]]
        assignees.sort(key=lambda u: issue["assignee_ids"].index(u["id"]))
        api = f"https://gitlab.example.com/api/v4/projects/{self.project_id}"
        rendered = {
            "id": issue["id"],
            "iid": iid,
            "project_id": self.project_id,
            "title": issue["title"],
            "description": issue["description"],
            "state": issue["state"],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "closed_at": issue["closed_at"],
            "closed_by": issue["closed_by"],
            "labels": list(issue["labels"]),
            "milestone": self._milestone_json(milestone) if milestone else None,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": issue["author"],
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": len([n for n in self.notes.get(iid, []) if not n["system"]]),
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": issue["due_date"],
            "confidential": issue["confidential"],
            "discussion_locked": None,
            "web_url": f"{self.web_url}/-/issues/{iid}",
            "time_stats": self._time_stats_json(issue),
            "task_completion_status": {
                "count": len(tasks),
                "completed_count": len([t for t in tasks if t.lower() == "x"]),
            },
            "has_tasks": bool(tasks),
            "weight": issue["weight"] if self.tier == "premium" else None,
            "_links": {
                "self": f"{api}/issues/{iid}",
                "notes": f"{api}/issues/{iid}/notes",
                "award_emoji": f"{api}/issues/{iid}/award_emoji",
                "project": api,
                "closed_as_duplicate_of": None,
            },
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{self.path}#{iid}"},
            "severity": "UNKNOWN",
            "moved_to_id": None,
            "service_desk_reply_to": None,
            "subscribed": True,
        }
        if self.tier == "premium":
            rendered["blocking_issues_count"] = len(
                [link for link in self.links if link["link_type"] == "blocks" and link["target"] == iid]
            )
        return rendered

    @staticmethod
    def _time_stats_json(issue: Json) -> Json:
        return {
            "time_estimate": issue["time_estimate"],
            "total_time_spent": issue["total_time_spent"],
            "human_time_estimate": human_duration(issue["time_estimate"]),
            "human_total_time_spent": human_duration(issue["total_time_spent"]),
        }

    # -- issues ---------------------------------------------------------------------------------

    def _issue(self, iid: Any) -> Json:
        try:
            number = int(iid)
        except (TypeError, ValueError):
            raise _not_found() from None
        if number not in self.issues:
            raise _not_found()
        return self.issues[number]

    def _get_project(self, req: _Req) -> _Reply:
        return _Reply(200, self._project_json())

    def _list_issues(self, req: _Req) -> _Reply:
        items = list(self.issues.values())
        state = req.query.get("state")
        if state in ("opened", "closed"):
            items = [i for i in items if i["state"] == state]
        for name, compare in (("updated_after", 1), ("updated_before", -1)):
            if name in req.query:
                try:
                    bound = parse_time(req.query[name])
                except ValueError:
                    raise _bad_request(f"{name} is invalid") from None
                items = [
                    i
                    for i in items
                    if (parse_time(i["updated_at"]) >= bound if compare > 0 else parse_time(i["updated_at"]) <= bound)
                ]
        order = req.query.get("order_by", "created_at")
        if order not in ("created_at", "updated_at"):
            raise _bad_request("order_by does not have a valid value")
        items.sort(key=lambda i: (i[order], i["id"]), reverse=req.query.get("sort", "desc") != "asc")
        return self._paginate(req, [self._render(i) for i in items])

    def _create_issue(self, req: _Req) -> _Reply:
        params = self._params(req)
        title = str(params.get("title") or "").strip()
        if not title:
            raise _bad_request("title is missing")
        iid = self._next("iid")
        stamp = iso(self._now())
        viewer = self.add_user(self.viewer)
        issue: Json = {
            "id": 90_000 + iid,
            "iid": iid,
            "title": title,
            "description": None,
            "state": "opened",
            "created_at": stamp,
            "updated_at": stamp,
            "closed_at": None,
            "closed_by": None,
            "labels": [],
            "milestone_id": None,
            "assignee_ids": [],
            "author": self._user_ref(viewer),
            "due_date": None,
            "confidential": False,
            "weight": None,
            "time_estimate": 0,
            "total_time_spent": 0,
        }
        params.pop("state_event", None)
        self.issues[iid] = issue
        try:
            self._apply(issue, params, viewer, stamp=stamp)
        except ApiError:
            del self.issues[iid]
            raise
        return _Reply(201, self._render(issue))

    def _get_issue(self, req: _Req, iid: str) -> _Reply:
        return _Reply(200, self._render(self._issue(iid)))

    def _update_issue(self, req: _Req, iid: str) -> _Reply:
        issue = self._issue(iid)
        self._apply(issue, self._params(req), self.add_user(self.viewer))
        return _Reply(200, self._render(issue))

    def _apply(self, issue: Json, params: Mapping[str, Any], actor: Json, *, stamp: str | None = None) -> None:
        """Apply the edit parameters GitLab knows; ignore the rest (as GitLab does)."""
        before = json.dumps(issue, sort_keys=True)
        changes: Json = {}
        if "title" in params:
            title = str(params["title"] or "").strip()
            if not title:
                raise _bad_request("title is empty")
            changes["title"] = title
        if "description" in params:
            changes["description"] = params["description"]
        if "due_date" in params:
            due = params["due_date"]
            if due:
                try:
                    changes["due_date"] = date.fromisoformat(str(due)).isoformat()
                except ValueError:
                    raise _bad_request("due_date is invalid") from None
            else:
                changes["due_date"] = None
        if "confidential" in params:
            changes["confidential"] = str(params["confidential"]).lower() in ("true", "1")
        if "weight" in params and self.tier == "premium":
            weight = params["weight"]
            if weight is not None and (not str(weight).isdigit()):
                raise _bad_request("weight does not have a valid value")
            changes["weight"] = int(weight) if weight is not None else None
        if "milestone_id" in params:
            raw = params["milestone_id"]
            mid = int(raw) if str(raw or "0").isdigit() else 0
            changes["milestone_id"] = mid if mid in self.milestones else None  # an unknown one is ignored
        if "assignee_ids" in params or "assignee_id" in params:
            raw = params.get("assignee_ids", params.get("assignee_id"))
            values = raw if isinstance(raw, list) else [v for v in str(raw or "").split(",") if v]
            known = {u["id"] for u in self.users.values()}
            ids = [int(v) for v in values if str(v).isdigit() and int(v) in known]  # unknown ids are ignored
            changes["assignee_ids"] = ids[:1] if self.tier == "free" else list(dict.fromkeys(ids))
        labels = list(issue["labels"])
        if "labels" in params:
            labels = self._label_list(params["labels"])
        for name in self._label_list(params.get("add_labels")):
            labels.append(name)
        removed = {name.casefold() for name in self._label_list(params.get("remove_labels"))}
        labels = [name for name in labels if name.casefold() not in removed]
        if "labels" in params or "add_labels" in params or "remove_labels" in params:
            changes["labels"] = self._resolve_labels(labels)
        event = params.get("state_event")
        if event not in (None, "close", "reopen"):
            raise _bad_request("state_event does not have a valid value")
        issue.update(changes)
        if event == "close" and issue["state"] != "closed":
            issue.update(state="closed", closed_at=stamp or iso(self._now()), closed_by=self._user_ref(actor))
        elif event == "reopen" and issue["state"] == "closed":
            issue.update(state="opened", closed_at=None, closed_by=None)
        if json.dumps(issue, sort_keys=True) != before and stamp is None:
            issue["updated_at"] = iso(self._now())

    def _resolve_labels(self, names: Sequence[str]) -> list[str]:
        """Existing labels by name, missing ones created; on premium one label per scope (the last
        one given wins); the result sorted the way GitLab lists them (by title)."""
        chosen: dict[str, str] = {}
        for name in names:
            label = self._label_named(name) or self._new_label(name)
            scope = scope_of(label["name"])
            key = f"scope:{scope.casefold()}" if scope and self.tier == "premium" else f"label:{label['name']}"
            chosen.pop(key, None)
            chosen[key] = label["name"]
        return sorted(chosen.values(), key=str.casefold)

    # -- notes, links, time ---------------------------------------------------------------------

    def _list_notes(self, req: _Req, iid: str) -> _Reply:
        issue = self._issue(iid)
        return self._paginate(req, list(self.notes.get(issue["iid"], [])))

    def _create_note(self, req: _Req, iid: str) -> _Reply:
        issue = self._issue(iid)
        body = str(self._params(req).get("body") or "")
        if not body.strip():
            raise _bad_request("body is missing")
        stamp = iso(self._now())
        note = {
            "id": self._next("note", 500),
            "type": None,
            "body": body,
            "attachment": None,
            "author": self._user_ref(self.add_user(self.viewer)),
            "created_at": stamp,
            "updated_at": stamp,
            "system": False,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "project_id": self.project_id,
            "noteable_iid": issue["iid"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        self.notes.setdefault(issue["iid"], []).append(note)
        issue["updated_at"] = stamp
        return _Reply(201, note)

    def _list_links(self, req: _Req, iid: str) -> _Reply:
        issue = self._issue(iid)
        out = []
        for link in self.links:
            if issue["iid"] not in (link["source"], link["target"]):
                continue
            outgoing = link["source"] == issue["iid"]
            other = self.issues[link["target"] if outgoing else link["source"]]
            kind = link["link_type"]
            if not outgoing and kind == "blocks":
                kind = "is_blocked_by"
            out.append(
                {
                    **self._render(other),
                    "issue_link_id": link["id"],
                    "link_type": kind,
                    "link_created_at": link["created_at"],
                    "link_updated_at": link["created_at"],
                }
            )
        return _Reply(200, out)

    def _create_link(self, req: _Req, iid: str) -> _Reply:
        source = self._issue(iid)
        params = self._params(req)
        if str(params.get("target_project_id")) not in (self.path, str(self.project_id)):
            raise _not_found("Project Not Found")
        target = self._issue(params.get("target_issue_iid"))
        link_type = str(params.get("link_type") or "relates_to")
        if link_type not in ("relates_to", "blocks", "is_blocked_by"):
            raise _bad_request("link_type does not have a valid value")
        if link_type != "relates_to" and self.tier == "free":
            raise ApiError(403, {"message": "Blocked issues not available for current license"})
        if source["iid"] == target["iid"]:
            raise ApiError(400, {"message": "Cannot link an issue to itself"})
        if any({link["source"], link["target"]} == {source["iid"], target["iid"]} for link in self.links):
            raise ApiError(409, {"message": "Issue(s) already assigned"})
        src, dst = (target, source) if link_type == "is_blocked_by" else (source, target)
        stamp = iso(self._now())
        stored = "relates_to" if link_type == "relates_to" else "blocks"
        self.links.append(
            {
                "id": self._next("link"),
                "source": src["iid"],
                "target": dst["iid"],
                "link_type": stored,
                "created_at": stamp,
            }
        )
        return _Reply(
            201, {"source_issue": self._render(source), "target_issue": self._render(target), "link_type": link_type}
        )

    def _delete_link(self, req: _Req, iid: str, link_id: str) -> _Reply:
        issue = self._issue(iid)
        link = next(
            (
                link
                for link in self.links
                if str(link["id"]) == link_id and issue["iid"] in (link["source"], link["target"])
            ),
            None,
        )
        if link is None:
            raise _not_found("Not found")
        self.links.remove(link)
        return _Reply(
            200,
            {
                "source_issue": self._render(self.issues[link["source"]]),
                "target_issue": self._render(self.issues[link["target"]]),
                "link_type": link["link_type"],
            },
        )

    def _duration(self, req: _Req) -> int:
        raw = self._params(req).get("duration")
        try:
            return parse_duration(str(raw or ""))
        except ValueError:
            raise _bad_request("duration is invalid") from None

    def _time_estimate(self, req: _Req, iid: str) -> _Reply:
        issue = self._issue(iid)
        issue["time_estimate"] = self._duration(req)
        issue["updated_at"] = iso(self._now())
        return _Reply(200, self._time_stats_json(issue))

    def _add_spent_time(self, req: _Req, iid: str) -> _Reply:
        issue = self._issue(iid)
        issue["total_time_spent"] += self._duration(req)
        issue["updated_at"] = iso(self._now())
        return _Reply(201, self._time_stats_json(issue))

    def _time_stats(self, req: _Req, iid: str) -> _Reply:
        return _Reply(200, self._time_stats_json(self._issue(iid)))

    # -- labels ---------------------------------------------------------------------------------

    def _label_named(self, name: str) -> Json | None:
        return self.labels.get(name)

    def _new_label(self, name: str, color: str = "#6699cc", description: str | None = None) -> Json:
        label = {
            "id": self._next("label", 10),
            "name": name,
            "color": color,
            "text_color": "#FFFFFF",
            "description": description,
            "description_html": description or "",
            "open_issues_count": 0,
            "closed_issues_count": 0,
            "open_merge_requests_count": 0,
            "subscribed": False,
            "priority": None,
            "is_project_label": True,
        }
        self.labels[name] = label
        return label

    def _list_labels(self, req: _Req) -> _Reply:
        return self._paginate(req, sorted(self.labels.values(), key=lambda lab: str(lab["name"]).casefold()))

    def _create_label(self, req: _Req) -> _Reply:
        params = self._params(req)
        name = str(params.get("name") or "").strip()
        color = str(params.get("color") or "")
        if not name or not color:
            raise _bad_request("name is missing" if not name else "color is missing")
        if name in self.labels:
            raise ApiError(409, {"message": "Label already exists"})
        return _Reply(201, self._new_label(name, color, params.get("description")))

    def _get_label(self, req: _Req, key: str) -> _Reply:
        label = self.labels.get(key) or next((lab for lab in self.labels.values() if str(lab["id"]) == key), None)
        if label is None:
            raise _not_found("Label Not Found")
        return _Reply(200, label)

    # -- milestones -----------------------------------------------------------------------------

    def _milestone(self, key: str) -> Json:
        try:
            return self.milestones[int(key)]
        except (ValueError, KeyError):
            raise _not_found() from None

    def _list_milestones(self, req: _Req) -> _Reply:
        items = sorted(self.milestones.values(), key=lambda m: m["id"], reverse=True)
        state = req.query.get("state")
        if state in ("active", "closed"):
            items = [m for m in items if m["state"] == state]
        if "title" in req.query:
            items = [m for m in items if m["title"] == req.query["title"]]
        return self._paginate(req, [self._milestone_json(m) for m in items])

    def _milestone_fields(self, milestone: Json, params: Mapping[str, Any]) -> None:
        if "title" in params:
            title = str(params["title"] or "").strip()
            if not title:
                raise _bad_request("title is empty")
            if any(m["title"] == title and m["id"] != milestone.get("id") for m in self.milestones.values()):
                raise ApiError(400, {"message": {"title": ["has already been taken"]}})
            milestone["title"] = title
        if "description" in params:
            milestone["description"] = params["description"]
        for name in ("due_date", "start_date"):
            if name in params:
                value = params[name]
                try:
                    milestone[name] = date.fromisoformat(str(value)).isoformat() if value else None
                except ValueError:
                    raise _bad_request(f"{name} is invalid") from None

    def _create_milestone(self, req: _Req) -> _Reply:
        params = self._params(req)
        if not str(params.get("title") or "").strip():
            raise _bad_request("title is missing")
        mid = self._next("milestone", 300)
        stamp = iso(self._now())
        milestone: Json = {
            "id": mid,
            "iid": len(self.milestones) + 1,
            "project_id": self.project_id,
            "title": "",
            "description": None,
            "state": "active",
            "created_at": stamp,
            "updated_at": stamp,
            "due_date": None,
            "start_date": None,
            "web_url": "",
        }
        self._milestone_fields(milestone, params)
        milestone["web_url"] = f"{self.web_url}/-/milestones/{milestone['iid']}"
        self.milestones[mid] = milestone
        return _Reply(201, self._milestone_json(milestone))

    def _get_milestone(self, req: _Req, key: str) -> _Reply:
        return _Reply(200, self._milestone_json(self._milestone(key)))

    def _update_milestone(self, req: _Req, key: str) -> _Reply:
        milestone = self._milestone(key)
        params = self._params(req)
        self._milestone_fields(milestone, params)
        event = params.get("state_event")
        if event == "close":
            milestone["state"] = "closed"
        elif event == "activate":
            milestone["state"] = "active"
        elif event is not None:
            raise _bad_request("state_event does not have a valid value")
        milestone["updated_at"] = iso(self._now())
        return _Reply(200, self._milestone_json(milestone))

    # -- boards ---------------------------------------------------------------------------------

    def _board(self, key: str) -> Json:
        try:
            return self.boards[int(key)]
        except (ValueError, KeyError):
            raise _not_found() from None

    def _board_json(self, board: Json) -> Json:
        return {**board, "project": self._project_json(), "lists": [dict(item) for item in board["lists"]]}

    def _list_boards(self, req: _Req) -> _Reply:
        return self._paginate(req, [self._board_json(b) for b in self.boards.values()])

    def _create_board(self, req: _Req) -> _Reply:
        name = str(self._params(req).get("name") or "").strip()
        if not name:
            raise _bad_request("name is missing")
        bid = self._next("board", 70)
        board = {
            "id": bid,
            "name": name,
            "milestone": None,
            "labels": [],
            "hide_backlog_list": False,
            "hide_closed_list": False,
            "lists": [],
        }
        self.boards[bid] = board
        return _Reply(201, self._board_json(board))

    def _get_board(self, req: _Req, key: str) -> _Reply:
        return _Reply(200, self._board_json(self._board(key)))

    def _list_board_lists(self, req: _Req, key: str) -> _Reply:
        return _Reply(200, list(self._board(key)["lists"]))

    def _create_board_list(self, req: _Req, key: str) -> _Reply:
        board = self._board(key)
        raw = self._params(req).get("label_id")
        label = next((lab for lab in self.labels.values() if str(lab["id"]) == str(raw)), None)
        if label is None:
            raise _not_found("Label Not Found")
        if any(item["label"]["id"] == label["id"] for item in board["lists"]):
            raise _bad_request({"label": ["already exists"]})
        item = {
            "id": self._next("list", 900),
            "label": {k: label[k] for k in ("id", "name", "color", "text_color", "description")},
            "position": len(board["lists"]),
            "max_issue_count": 0,
            "max_issue_weight": 0,
            "limit_metric": None,
        }
        board["lists"].append(item)
        return _Reply(201, item)

    def issues_in_list(self, board_id: int, column: str) -> list[int]:
        """The iids a person sees in a board column: ``"Open"`` (open, no list label), ``"Closed"``,
        or a list's label name (open issues carrying it)."""
        with self._lock:
            list_labels = {item["label"]["name"] for item in self.boards[board_id]["lists"]}
            found = []
            for iid, issue in sorted(self.issues.items()):
                if column == "Closed":
                    hit = issue["state"] == "closed"
                elif column == "Open":
                    hit = issue["state"] == "opened" and not list_labels & set(issue["labels"])
                else:
                    hit = issue["state"] == "opened" and column in issue["labels"]
                if hit:
                    found.append(iid)
            return found

    # -- releases and tags ----------------------------------------------------------------------

    def _tag_json(self, name: str) -> Json:
        sha = self.tags[name]
        release = self.releases.get(name)
        return {
            "name": name,
            "message": "",
            "target": sha,
            "commit": {"id": sha, "short_id": sha[:8], "title": f"Release {name}"},
            "release": {"tag_name": name, "description": release["description"]} if release else None,
            "protected": False,
            "created_at": None,
        }

    def _release_json(self, release: Json) -> Json:
        tag = release["tag_name"]
        sha = self.tags.get(tag, "0" * 40)
        encoded = quote(tag, safe="")
        return {
            **{k: v for k, v in release.items() if k != "milestone_ids"},
            "commit": {"id": sha, "short_id": sha[:8], "title": f"Release {tag}"},
            "milestones": [self._milestone_json(self.milestones[mid]) for mid in release["milestone_ids"]],
            "commit_path": f"/{self.path}/-/commit/{sha}",
            "tag_path": f"/{self.path}/-/tags/{encoded}",
            "assets": {"count": 0, "sources": [], "links": []},
            "evidences": [],
            "_links": {
                "self": f"{self.web_url}/-/releases/{encoded}",
                "edit_url": f"{self.web_url}/-/releases/{encoded}/edit",
            },
        }

    def _milestone_ids(self, titles: Any) -> list[int]:
        names = titles if isinstance(titles, list) else [titles]
        found = []
        missing = []
        for title in names:
            match = next((m for m in self.milestones.values() if m["title"] == str(title)), None)
            if match is None:
                missing.append(str(title))
            else:
                found.append(match["id"])
        if missing:
            raise ApiError(400, {"message": f"Milestone(s) not found: {', '.join(missing)}"})
        return found

    def _list_releases(self, req: _Req) -> _Reply:
        items = sorted(self.releases.values(), key=lambda r: r["released_at"], reverse=True)
        return self._paginate(req, [self._release_json(r) for r in items])

    def _create_release(self, req: _Req) -> _Reply:
        params = self._params(req)
        tag = str(params.get("tag_name") or "").strip()
        if not tag:
            raise _bad_request("tag_name is missing")
        if tag in self.releases:
            raise ApiError(409, {"message": "Release already exists"})
        milestone_ids = self._milestone_ids(params["milestones"]) if params.get("milestones") else []
        if tag not in self.tags:
            ref = params.get("ref")
            if not ref:
                raise ApiError(422, {"message": "Ref is not specified"})
            self.tags[tag] = hashlib.sha1(f"{ref}:{tag}".encode(), usedforsecurity=False).hexdigest()
        stamp = iso(self._now())
        release = {
            "tag_name": tag,
            "name": params.get("name") or tag,
            "description": params.get("description") or "",
            "created_at": stamp,
            "released_at": params.get("released_at") or stamp,
            "upcoming_release": False,
            "author": self._user_ref(self.add_user(self.viewer)),
            "milestone_ids": milestone_ids,
        }
        self.releases[tag] = release
        return _Reply(201, self._release_json(release))

    def _get_release(self, req: _Req, tag: str) -> _Reply:
        if tag not in self.releases:
            raise _not_found()
        return _Reply(200, self._release_json(self.releases[tag]))

    def _update_release(self, req: _Req, tag: str) -> _Reply:
        if tag not in self.releases:
            raise _not_found()
        release = self.releases[tag]
        params = self._params(req)
        if "milestones" in params:
            release["milestone_ids"] = self._milestone_ids(params["milestones"]) if params["milestones"] else []
        for name in ("name", "description", "released_at"):
            if name in params:
                release[name] = params[name]
        return _Reply(200, self._release_json(release))

    def _list_tags(self, req: _Req) -> _Reply:
        return self._paginate(req, [self._tag_json(name) for name in sorted(self.tags, reverse=True)])

    def _create_tag(self, req: _Req) -> _Reply:
        params = self._params(req)
        name = str(params.get("tag_name") or "").strip()
        ref = str(params.get("ref") or "").strip()
        if not name or not ref:
            raise _bad_request("tag_name is missing" if not name else "ref is missing")
        if name in self.tags:
            raise ApiError(400, {"message": f"Tag {name} already exists"})
        self.tags[name] = (
            ref if re.fullmatch(r"[0-9a-f]{40}", ref) else hashlib.sha1(ref.encode(), usedforsecurity=False).hexdigest()
        )
        return _Reply(201, self._tag_json(name))

    def _get_tag(self, req: _Req, name: str) -> _Reply:
        if name not in self.tags:
            raise _not_found("Tag Not Found")
        return _Reply(200, self._tag_json(name))


def _dump(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
