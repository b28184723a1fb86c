"""A stateful stand-in for Bitbucket Cloud's REST API 2.0, as far as taskorch uses it: one
repository, its commits and its tags (the refs API).

One :class:`FakeBitbucket` is one repository (``acme/shop`` by default). It answers through an
``httpx`` transport (:meth:`FakeBitbucket.transport`) or over HTTP on 127.0.0.1
(:meth:`FakeBitbucket.serve` yields the base URL; the API is under ``/2.0``). Its state lives in
plain attributes tests can read and edit.

Payloads follow Atlassian's official description of the API (``bitbucket-cloud.swagger.v3.json``)
and https://developer.atlassian.com/cloud/bitbucket/rest/ ; with a validator (the test suite's,
built from that description) every exchange is checked against it. Pages are Bitbucket's:
``values``, ``pagelen``, ``page``, ``size`` and a ``next`` link while more follow.

What it models:

* ``GET /2.0/repositories/{workspace}/{repo_slug}``; an unknown repository answers 404;
* ``GET`` / ``POST .../refs/tags`` (``sort=name`` or ``-target.date``, ``pagelen``) and
  ``GET .../refs/tags/{name}``: creating needs ``name`` and ``target.hash`` (a full hash or an
  unambiguous prefix of at least 7 characters of a known commit), refuses an existing name (400)
  and makes an annotated tag whose message defaults to ``Added tag <name> for changeset <short>``;
* ``GET .../commits`` and ``.../commits/{revision}`` (newest first along first parents);
* ``GET /2.0/user`` (the token's user);
* the issue tracker Atlassian removed on 2026-08-20 (``.../issues``, ``.../milestones``,
  ``.../versions``, ``.../components`` and everything under them) answers **410 Gone**, as the real
  API now does; such exchanges are not validated (the description still lists those paths);
* authentication: ``Authorization: Bearer <token>`` or ``Basic``; none, or
  ``credentials_valid = False``, answers 401;
* rate limits: ``rate_limit`` requests (the hour's budget; ``rate_used`` counts them and
  nothing refills it, tests set it); every answer carries
  ``X-RateLimit-Limit``, ``X-RateLimit-Resource: api`` and ``X-RateLimit-NearLimit`` (true below a
  fifth of the budget), as Bitbucket sends them for access tokens; an exhausted budget answers 429
  without ``Retry-After`` (Bitbucket documents none);
* faults (:meth:`FakeBitbucket.inject`): ``500``/``502``/``503``, ``429`` (with ``Retry-After``),
  ``timeout`` and ``drop_before`` / ``drop_after`` (no answer, before or after the change).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx

from standins.serving import Outcome, answer, serve_http

__all__ = ["FAULTS", "FakeBitbucket", "Recorded"]

Json = dict[str, Any]

#: The fault kinds :meth:`FakeBitbucket.inject` accepts.
FAULTS: frozenset[str] = frozenset({"500", "502", "503", "429", "timeout", "drop_before", "drop_after"})

#: The first path segments under a repository that belonged to the removed issue tracker.
REMOVED = frozenset({"issues", "milestones", "versions", "components"})


class SpecValidator(Protocol):
    """What the fake asks of a validator: check one exchange, collect what breaks the spec."""

    def check(self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None) -> Any: ...


@dataclass(frozen=True)
class Recorded:
    """One request: ``method``, decoded ``path`` (with ``/2.0``), ``query`` (last value wins),
    ``json`` body, the ``status`` produced (``None`` when no answer was produced), the ``fault``
    that hit it and the request's header names (lower case), never their values."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None
    fault: str | None
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


class _Error(Exception):
    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        self.status = status
        self.body: Json = {"type": "error", "error": {"message": message, **({"detail": detail} if detail else {})}}
        super().__init__(message)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class FakeBitbucket:
    """Bitbucket Cloud, as far as one repository's commits and tags go (see the module docstring).

    State: ``commits`` (hash -> ``{"hash", "message", "author", "date", "parents"}``, added with
    :meth:`add_commit`), ``tags`` (name -> ``{"target", "message", "date"}``), ``main_branch``,
    ``requests`` (every request, in order), ``rate_limit`` / ``rate_used``,
    ``credentials_valid``, ``hold_seconds`` (how long a ``timeout`` holds a served connection).
    """

    def __init__(
        self,
        workspace: str = "acme",
        repo_slug: str = "shop",
        *,
        validator: SpecValidator | None = None,
        clock: Any = None,
    ) -> None:
        self.workspace = workspace
        self.repo_slug = repo_slug
        self.validator = validator
        self.clock = clock or (lambda: datetime.now(UTC))
        self.main_branch = "main"
        self.commits: dict[str, Json] = {}
        self.order: list[str] = []
        self.tags: dict[str, Json] = {}
        self.requests: list[Recorded] = []
        self.internal_errors: list[str] = []
        self.rate_limit = 1000
        self.rate_used = 0
        self.credentials_valid = True
        self.hold_seconds = 30.0
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()

    # -- public API for tests ----------------------------------------------------------------

    @property
    def full_name(self) -> str:
        return f"{self.workspace}/{self.repo_slug}"

    def add_commit(
        self, message: str, *, author: str = "Ada Lovelace <ada@example.com>", sha: str | None = None
    ) -> str:
        """Add a commit on the main branch on top of the last one (``sha``: its hash, e.g. a local
        commit pushed here; default: a made-up one); returns its full hash."""
        with self._lock:
            parent = self.order[-1] if self.order else None
            digest = hashlib.sha1(f"{parent}:{message}:{len(self.order)}".encode(), usedforsecurity=False)
            sha = sha or digest.hexdigest()
            self.commits[sha] = {
                "hash": sha,
                "message": message,
                "author": author,
                "date": self.clock(),
                "parents": [parent] if parent else [],
            }
            self.order.append(sha)
            return sha

    def inject(
        self, fault: str, *, method: str | None = None, path: str | None = None, times: int = 1, retry_after: int = 1
    ) -> None:
        """Make the next ``times`` requests matching ``method`` and ``path`` (a regex searched in the
        decoded path) fail with ``fault`` (one of :data:`FAULTS`)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        with self._lock:
            compiled = re.compile(path) if path else None
            self._faults.append(_Fault(fault, method.upper() if method else None, compiled, times, retry_after))

    def pending_faults(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults)

    def mutations(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.is_mutation]

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request. Raises ``httpx.ReadTimeout`` for a ``timeout`` fault and
        ``httpx.RemoteProtocolError`` for ``drop_before`` / ``drop_after``."""
        return answer(self._process(request), request)

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering from this fake (any host; the path decides)."""
        return httpx.MockTransport(self.handle)

    @contextmanager
    def serve(self, port: int = 0) -> Iterator[str]:
        """Serve on 127.0.0.1, on ``port`` (0: a free one), from a background thread; yields the
        API root, e.g. ``http://127.0.0.1:54321/2.0``."""

        def failed(where: str, exc: Exception) -> httpx.Response:
            self.internal_errors.append(f"{where}: {exc!r}")
            return httpx.Response(500, json={"type": "error"})

        with serve_http(self._process, port=port, hold_seconds=lambda: self.hold_seconds, failed=failed) as url:
            yield f"{url}/2.0"

    # -- request processing -----------------------------------------------------------------

    def _process(self, request: httpx.Request) -> Outcome:
        with self._lock:
            return self._process_locked(request)

    def _process_locked(self, request: httpx.Request) -> Outcome:
        method = request.method.upper()
        split = urlsplit(str(request.url))
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        body: Any = None
        body_ok = True
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                body_ok = False
        fault = self._take_fault(method, path)

        def record(status: int | None) -> None:
            names = frozenset(k.lower() for k in request.headers)
            self.requests.append(Recorded(method, path, query, body, status, fault.kind if fault else None, names))

        if fault is not None and fault.kind in {"timeout", "drop_before"}:
            record(None)
            return Outcome("timeout" if fault.kind == "timeout" else "drop")
        if fault is not None and fault.kind != "drop_after":
            headers = self._rate_headers()
            if fault.kind == "429":
                headers["Retry-After"] = str(fault.retry_after)
            response = self._reply(int(fault.kind), {"type": "error", "error": {"message": "Injected fault"}}, headers)
            record(response.status_code)
            self._validate(request, response, path)
            return Outcome("respond", response)
        response, removed = self._serve(method, path, query, body, body_ok, request)
        record(response.status_code)
        if not removed:
            self._validate(request, response, path)
        if fault is not None:
            return Outcome("drop")
        return Outcome("respond", response)

    def _validate(self, request: httpx.Request, response: httpx.Response, path: str) -> None:
        if self.validator is not None:
            self.validator.check(request, response, path=path)

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
        near = self.rate_limit - self.rate_used < self.rate_limit / 5
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Resource": "api",
            "X-RateLimit-NearLimit": "true" if near else "false",
        }

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(
            status,
            content=b"" if body is None else json.dumps(body).encode(),
            headers={**(headers or self._rate_headers()), **({"Content-Type": "application/json"} if body else {})},
        )

    def _serve(
        self, method: str, path: str, query: dict[str, str], body: Any, body_ok: bool, request: httpx.Request
    ) -> tuple[httpx.Response, bool]:
        scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() not in {"bearer", "basic"} or not credential.strip() or not self.credentials_valid:
            return self._reply(401, {"type": "error", "error": {"message": "Unauthorized"}}), False
        if self.rate_used >= self.rate_limit:
            return self._reply(
                429, {"type": "error", "error": {"message": "Rate limit for this resource has been exceeded"}}
            ), False
        self.rate_used += 1
        if not body_ok:
            return self._reply(400, {"type": "error", "error": {"message": "Malformed JSON body"}}), False
        base = f"{request.url.scheme}://{request.url.netloc.decode()}/2.0"
        # Split before decoding, as Bitbucket routes: an encoded "/" stays inside its segment.
        segments = [unquote(s) for s in urlsplit(str(request.url)).path.split("/") if s]
        removed = len(segments) >= 5 and segments[:2] == ["2.0", "repositories"] and segments[4] in REMOVED
        try:
            if removed:
                raise _Error(
                    410,
                    "Resource removed",
                    "Bitbucket Cloud's issue tracker was removed on 2026-08-20; use Jira Cloud.",
                )
            status, payload = self._dispatch(method, segments, query, body, base)
        except _Error as error:
            return self._reply(error.status, error.body), removed
        return self._reply(status, payload), False

    # -- routes -----------------------------------------------------------------------------

    def _dispatch(
        self, method: str, segments: list[str], query: dict[str, str], body: Any, base: str
    ) -> tuple[int, Any]:
        if segments == ["2.0", "user"] and method == "GET":
            return 200, {"type": "user", "uuid": "{00000000-0000-4000-8000-000000000001}", "display_name": "Sync Bot"}
        if segments[:2] != ["2.0", "repositories"] or len(segments) < 4:
            raise _Error(404, "Resource not found")
        if segments[2:4] != [self.workspace, self.repo_slug]:
            raise _Error(404, "Repository not found", f"{segments[2]}/{segments[3]} does not exist.")
        rest = segments[4:]
        if not rest and method == "GET":
            return 200, self._repository_json(base)
        if rest == ["refs", "tags"] and method == "GET":
            return 200, self._page(self._sorted_tags(query.get("sort")), query, base, "/refs/tags")
        if rest == ["refs", "tags"] and method == "POST":
            return 201, self._create_tag(body, base)
        if len(rest) == 3 and rest[:2] == ["refs", "tags"] and method == "GET":
            tag = self.tags.get(rest[2])
            if tag is None:
                raise _Error(404, f'Tag "{rest[2]}" not found')
            return 200, self._tag_json(rest[2], tag, base)
        if rest and rest[0] == "commits" and len(rest) <= 2 and method == "GET":
            start = self._resolve(rest[1]) if len(rest) == 2 else (self.order[-1] if self.order else None)
            return 200, self._page(self._history(start), query, base, "/" + "/".join(rest))
        raise _Error(404, "Resource not found")

    def _resolve(self, revision: str) -> str:
        if revision in self.tags:
            return str(self.tags[revision]["target"])
        if revision == self.main_branch and self.order:
            return self.order[-1]
        found = [sha for sha in self.commits if len(revision) >= 7 and sha.startswith(revision.lower())]
        if len(found) != 1:
            raise _Error(404, f"Commit not found: {revision}")
        return found[0]

    def _history(self, start: str | None) -> list[Json]:
        out: list[Json] = []
        sha = start
        while sha is not None:
            out.append({"sha": sha})
            parents = self.commits[sha]["parents"]
            sha = parents[0] if parents else None
        return out

    def _sorted_tags(self, sort: str | None) -> list[Json]:
        names = list(self.tags)
        if sort == "-target.date":
            names.sort(key=lambda n: self.commits[self.tags[n]["target"]]["date"], reverse=True)
        elif sort == "name":
            names.sort()
        return [{"tag": name} for name in names]

    def _create_tag(self, body: Any, base: str) -> Json:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
            raise _Error(400, "name: This field is required.")
        target = body.get("target")
        if not isinstance(target, dict) or not isinstance(target.get("hash"), str):
            raise _Error(400, "target: This field is required.")
        name = body["name"]
        if name in self.tags:
            raise _Error(400, f'tag "{name}" already exists')
        found = [sha for sha in self.commits if len(target["hash"]) >= 7 and sha.startswith(target["hash"].lower())]
        if len(found) != 1:
            raise _Error(400, "target.hash: the hash is missing, ambiguous or unknown.")
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        self.tags[name] = {
            "target": found[0],
            "message": message or f"Added tag {name} for changeset {found[0][:12]}",
            "date": self.clock(),
        }
        return self._tag_json(name, self.tags[name], base)

    # -- rendering --------------------------------------------------------------------------

    def _links(self, base: str, rest: str, html: str) -> Json:
        return {
            "self": {"href": f"{base}/repositories/{self.full_name}{rest}"},
            "html": {"href": f"https://bitbucket.org/{self.full_name}{html}"},
        }

    def _repository_json(self, base: str) -> Json:
        return {
            "type": "repository",
            "uuid": "{7b4a1f0e-2c3d-4e5f-8a9b-0c1d2e3f4a5b}",
            "full_name": self.full_name,
            "name": self.repo_slug,
            "slug": self.repo_slug,
            "is_private": True,
            "scm": "git",
            "mainbranch": {"type": "branch", "name": self.main_branch},
            "links": self._links(base, "", ""),
            "created_on": "2026-01-05T09:00:00+00:00",
            "updated_on": _iso(self.clock()),
        }

    def _commit_json(self, sha: str, base: str) -> Json:
        commit = self.commits[sha]
        return {
            "type": "commit",
            "hash": sha,
            "date": _iso(commit["date"]),
            "message": commit["message"],
            "author": {"type": "author", "raw": commit["author"]},
            "parents": [{"type": "commit", "hash": p} for p in commit["parents"]],
            "links": self._links(base, f"/commit/{sha}", f"/commits/{sha}"),
        }

    def _tag_json(self, name: str, tag: Json, base: str) -> Json:
        return {
            "type": "tag",
            "name": name,
            "target": self._commit_json(tag["target"], base),
            "message": tag["message"],
            "date": _iso(tag["date"]),
            "tagger": {"type": "author", "raw": "Sync Bot <sync@example.com>"},
            "links": {
                **self._links(base, f"/refs/tags/{name}", f"/commits/tag/{name}"),
                "commits": {"href": f"{base}/repositories/{self.full_name}/commits/{name}"},
            },
        }

    def _page(self, items: list[Json], query: dict[str, str], base: str, rest: str) -> Json:
        try:
            pagelen = max(1, min(100, int(query.get("pagelen", "10"))))
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            raise _Error(400, "page and pagelen must be integers") from None
        chunk = items[(page - 1) * pagelen : page * pagelen]
        values = [
            self._tag_json(item["tag"], self.tags[item["tag"]], base)
            if "tag" in item
            else self._commit_json(item["sha"], base)
            for item in chunk
        ]
        out: Json = {"pagelen": pagelen, "page": page, "size": len(items), "values": values}
        if page * pagelen < len(items):
            following = {**query, "page": str(page + 1), "pagelen": str(pagelen)}
            out["next"] = f"{base}/repositories/{self.full_name}{rest}?{urlencode(following)}"
        return out
