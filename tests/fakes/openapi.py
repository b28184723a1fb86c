"""Checks HTTP exchanges against an OpenAPI 3.0 description (GitHub's official one, trimmed).

:class:`SpecValidator` matches a request to its operation (path template and method), checks the
query parameters (declared, required, typed, within their enums), the JSON request body against
the operation's ``requestBody`` schema, and the response: its status must be declared by the
operation and its JSON body must match the declared schema. Problems are collected as
:class:`Violation` objects in :attr:`SpecValidator.violations`; nothing is raised.

Schemas are OpenAPI 3.0 dialect; they are translated once to JSON Schema draft 4 (``nullable``
becomes a ``"null"`` type, a ``oneOf`` with a ``discriminator`` dispatches on the discriminator's
value) and validated with :mod:`jsonschema`. Compiled validators are cached per schema, so a
check costs well under a millisecond for a single issue.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import referencing
import referencing.jsonschema

__all__ = ["GENERIC_STATUSES", "Operation", "SpecValidator", "Violation", "apply_breaking_changes", "translate_schema"]

_SPEC_URI = "urn:openapi-spec"

#: Statuses any REST operation may answer although most operations do not declare them: GitHub
#: documents them once for the whole API (conditional requests answer 304 on any GET; a missing or
#: bad token 401; rate limits 403 or 429; outages 500, 502, 503). Their bodies, when JSON, are
#: checked against the spec's ``basic-error`` schema.
GENERIC_STATUSES: frozenset[int] = frozenset({304, 401, 403, 429, 500, 502, 503})

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_SINGLES = ("items", "not")
_OPENAPI_ONLY = ("nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example", "deprecated")


@dataclass(frozen=True)
class Violation:
    """One way an exchange breaks the description.

    ``where`` is one of ``route``, ``request.headers``, ``request.path``, ``request.query``, ``request.body``,
    ``response.status``, ``response.body``; ``what`` says what is wrong, with the JSON path of the
    offending value for body problems.
    """

    method: str
    path: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.where}] {self.what}"


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter of an operation: its name, location, whether it is required and
    its (translated) JSON schema."""

    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]


@dataclass
class Operation:
    """One method on one path template, with everything needed to check an exchange."""

    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    parameters: dict[tuple[str, str], Parameter]
    body_required: bool
    body_schema: Mapping[str, Any] | None
    has_body: bool
    responses: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)
    """status (``"200"``, ``"4XX"``, ``"default"``) -> translated JSON schema of the JSON body, or
    ``None`` when the response declares no JSON content."""


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value.upper()


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in {"mailto", "urn"})


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(_date_time)
_FORMATS.checks("uri")(_uri)


def translate_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as a JSON Schema draft 4 schema.

    ``$ref`` values are rewritten to point into the registered spec document; ``nullable: true``
    admits ``null``; ``oneOf`` with a ``discriminator`` mapping becomes an ``anyOf`` whose branches
    each require the discriminator value (so a branch that is a superset of another cannot make
    ``oneOf`` fail); keywords JSON Schema does not know are dropped.
    """
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        return {"$ref": _SPEC_URI + ref if isinstance(ref, str) and ref.startswith("#") else ref}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: translate_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [translate_schema(sub) for sub in value]
        elif key in _SCHEMA_SINGLES or (key == "additionalProperties" and isinstance(value, Mapping)):
            out[key] = translate_schema(value)
        else:
            out[key] = value
    discriminator = node.get("discriminator")
    if isinstance(discriminator, Mapping) and discriminator.get("mapping") and "oneOf" in out:
        prop = discriminator["propertyName"]
        out.pop("oneOf")
        out["anyOf"] = [
            {
                "allOf": [
                    {"type": "object", "required": [prop], "properties": {prop: {"enum": [value]}}},
                    translate_schema({"$ref": target}),
                ]
            }
            for value, target in discriminator["mapping"].items()
        ]
    if node.get("nullable") is True:
        if "type" in out:
            kind = out["type"]
            out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    regex = "".join(
        f"(?P<{part[1:-1].replace('-', '_')}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{regex}$")


def _specificity(template: str) -> tuple[int, int]:
    literal = re.sub(r"\{[^}]+\}", "", template)
    return (-len(literal.replace("/", "")), template.count("{"))


def apply_breaking_changes(document: Any, version: str) -> Any:
    """A copy of ``document`` as it stands for API ``version``: every node carrying GitHub's
    ``x-github-breaking-changes`` has the patches of the changesets dated on or before ``version``
    applied (JSON merge patches; JSON Patch lists only occur in examples and are skipped)."""
    if isinstance(document, list):
        return [apply_breaking_changes(item, version) for item in document]
    if not isinstance(document, Mapping):
        return document
    node = {key: apply_breaking_changes(value, version) for key, value in document.items()}
    changes = node.pop("x-github-breaking-changes", None)
    for change in changes or []:
        if isinstance(change, Mapping) and str(change.get("version", "")) <= version:
            patch = change.get("patch")
            if isinstance(patch, Mapping):
                node = _merge_patch(node, patch)
    return node


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _versions_in(document: Any, found: set[str]) -> set[str]:
    if isinstance(document, Mapping):
        for change in document.get("x-github-breaking-changes") or []:
            if isinstance(change, Mapping) and change.get("version"):
                found.add(str(change["version"]))
        for value in document.values():
            _versions_in(value, found)
    elif isinstance(document, list):
        for value in document:
            _versions_in(value, found)
    return found


class _View:
    """The description as it stands for one API version: its operations, translated schemas and
    the validators compiled from them."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        components = spec.get("components", {})
        schemas = {name: translate_schema(schema) for name, schema in components.get("schemas", {}).items()}
        resource = referencing.Resource.from_contents(
            {"components": {"schemas": schemas}}, default_specification=referencing.jsonschema.DRAFT4
        )
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(_SPEC_URI, resource)
        self.compiled: dict[int, jsonschema.protocols.Validator] = {}
        self.keepalive: list[Mapping[str, Any]] = []
        self.basic_error: Mapping[str, Any] = (
            {"$ref": f"{_SPEC_URI}#/components/schemas/basic-error"} if "basic-error" in schemas else {"type": "object"}
        )
        self.operations: list[Operation] = []
        for template, item in spec.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method in item:
                    self.operations.append(self._operation(template, method, shared, item[method]))
        self.operations.sort(key=lambda op: _specificity(op.template))

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            target: Any = self.spec
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _operation(self, template: str, method: str, shared: Sequence[Any], op: Mapping[str, Any]) -> Operation:
        parameters: dict[tuple[str, str], Parameter] = {}
        for raw in [*shared, *op.get("parameters", [])]:
            param = self._resolve(raw)
            location = param.get("in", "")
            if location not in {"path", "query"}:
                continue
            parameters[(location, param["name"])] = Parameter(
                name=param["name"],
                location=location,
                required=bool(param.get("required")) or location == "path",
                schema=translate_schema(param.get("schema", {})),
            )
        body = self._resolve(op.get("requestBody")) if op.get("requestBody") else None
        body_schema = None
        if body is not None:
            json_content = body.get("content", {}).get("application/json")
            if json_content is not None and "schema" in json_content:
                body_schema = translate_schema(json_content["schema"])
        responses: dict[str, Mapping[str, Any] | None] = {}
        for status, raw in op.get("responses", {}).items():
            response = self._resolve(raw)
            content = response.get("content", {}) if isinstance(response, Mapping) else {}
            json_content = content.get("application/json")
            responses[str(status)] = (
                translate_schema(json_content["schema"]) if json_content and "schema" in json_content else None
            )
        return Operation(
            method=method.upper(),
            template=template,
            operation_id=str(op.get("operationId", f"{method} {template}")),
            pattern=_template_regex(template),
            parameters=parameters,
            body_required=bool(body and body.get("required")),
            body_schema=body_schema,
            has_body=body is not None,
            responses=responses,
        )

    def validator(self, schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
        key = id(schema)
        compiled = self.compiled.get(key)
        if compiled is None:
            compiled = jsonschema.Draft4Validator(schema, registry=self.registry, format_checker=_FORMATS)
            self.compiled[key] = compiled
            self.keepalive.append(schema)
        return compiled

    def find(self, method: str, path: str) -> tuple[Operation | None, dict[str, str], bool]:
        path_known = False
        for op in self.operations:
            match = op.pattern.match(path)
            if match is None:
                continue
            path_known = True
            if op.method == method.upper():
                return op, match.groupdict(), True
        return None, {}, path_known


class SpecValidator:
    """Validates exchanges against one OpenAPI 3.0 document (see the module docstring).

    ``violations`` accumulates every problem found; ``checked`` and ``seconds`` count the exchanges
    checked and the time spent checking them. ``skip_paths`` are paths not described by the document
    on purpose (GitHub's ``/graphql`` has no useful schema there); exchanges on them are not checked.

    GitHub's description is of API version ``base_version`` and marks what later versions change
    with ``x-github-breaking-changes``; an exchange whose request names a later version in
    ``X-GitHub-Api-Version`` is checked against the description with those changes applied (built
    once per version). An unknown version is itself a violation. Thread-safe.
    """

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        skip_paths: Iterable[str] = ("/graphql",),
        base_version: str = "2022-11-28",
        version_header: str = "X-GitHub-Api-Version",
    ) -> None:
        self.spec = spec
        self.skip_paths = frozenset(skip_paths)
        self.base_version = base_version
        self.version_header = version_header
        self.violations: list[Violation] = []
        self.checked = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        self.versions = frozenset({base_version, *_versions_in(spec, set())})
        self._views: dict[str, _View] = {base_version: _View(spec)}
        self._views_lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> SpecValidator:
        """Load a JSON description from ``path``."""
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle))

    def fork(self) -> SpecValidator:
        """A validator with no violations yet that shares this one's parsed description and
        compiled schemas (cheap: one per test)."""
        clone = copy.copy(self)
        clone.violations = []
        clone.checked = 0
        clone.seconds = 0.0
        clone._lock = threading.Lock()
        return clone

    @property
    def ms_per_check(self) -> float:
        """The mean time spent per checked exchange, in milliseconds."""
        return 1000 * self.seconds / self.checked if self.checked else 0.0

    @property
    def operations(self) -> list[Operation]:
        """The operations of the base version."""
        return self._views[self.base_version].operations

    def view(self, version: str | None = None) -> _View:
        """The description as it stands for API ``version`` (the base version by default)."""
        version = version or self.base_version
        with self._views_lock:
            view = self._views.get(version)
            if view is None:
                view = _View(apply_breaking_changes(self.spec, version))
                self._views[version] = view
            return view

    def find(self, method: str, path: str, version: str | None = None) -> tuple[Operation | None, dict[str, str], bool]:
        """The operation for ``method`` on ``path``, its path parameters, and whether the path
        matched some template at all (so ``(None, {}, True)`` means "wrong method")."""
        return self.view(version).find(method, path)

    # -- checking ---------------------------------------------------------------------------

    def check(
        self, request: httpx.Request, response: httpx.Response | None, *, path: str | None = None
    ) -> list[Violation]:
        """Check one exchange (``response`` is ``None`` when none was produced) and return the new
        violations, which are also appended to :attr:`violations`. ``path`` overrides the request
        URL's path (for a server mounted under a prefix)."""
        started = time.perf_counter()
        method = request.method.upper()
        path = path if path is not None else request.url.path
        if path in self.skip_paths:
            return []
        found: list[Violation] = []

        def add(where: str, what: str) -> None:
            found.append(Violation(method, path, where, what))

        version = request.headers.get(self.version_header) or self.base_version
        if version not in self.versions:
            add("request.headers", f"{self.version_header} {version!r} is not one of {sorted(self.versions)}")
            version = self.base_version
        view = self.view(version)
        op, path_params, path_known = view.find(method, path)
        if op is None:
            add("route", "the path matches no operation" if not path_known else f"{method} is not an operation here")
        else:
            self._check_request(view, op, path_params, request, add)
            if response is not None:
                self._check_response(view, op, method, response, add)
        with self._lock:
            self.violations.extend(found)
            self.checked += 1
            self.seconds += time.perf_counter() - started
        return found

    @staticmethod
    def _check_value(
        view: _View, schema: Mapping[str, Any], value: Any, where: str, add: Any, prefix: str = ""
    ) -> None:
        for error in view.validator(schema).iter_errors(value):
            location = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
            add(where, f"{prefix}{location}: {error.message}")

    @staticmethod
    def _coerce(raw: str, schema: Mapping[str, Any]) -> tuple[Any, str | None]:
        kinds = schema.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "integer" in kinds:
            try:
                return int(raw), None
            except ValueError:
                return raw, f"{raw!r} is not an integer"
        if "number" in kinds:
            try:
                return float(raw), None
            except ValueError:
                return raw, f"{raw!r} is not a number"
        if "boolean" in kinds:
            if raw in {"true", "false"}:
                return raw == "true", None
            return raw, f"{raw!r} is not true or false"
        if "array" in kinds:
            return raw.split(","), None
        return raw, None

    def _check_request(
        self, view: _View, op: Operation, path_params: Mapping[str, str], request: httpx.Request, add: Any
    ) -> None:
        for (location, name), path_param in op.parameters.items():
            if location != "path":
                continue
            raw = path_params.get(name.replace("-", "_"))
            if raw is None:
                continue
            value, problem = self._coerce(raw, path_param.schema)
            if problem:
                add("request.path", f"{name}: {problem}")
            else:
                self._check_value(view, path_param.schema, value, "request.path", add, f"{name} ")
        seen: set[str] = set()
        for name, raw in request.url.params.multi_items():
            param = op.parameters.get(("query", name))
            if param is None:
                add("request.query", f"{name!r} is not a parameter of {op.operation_id}")
                continue
            if name in seen:
                add("request.query", f"{name!r} is repeated")
            seen.add(name)
            value, problem = self._coerce(raw, param.schema)
            if problem:
                add("request.query", f"{name}: {problem}")
            else:
                self._check_value(view, param.schema, value, "request.query", add, f"{name} ")
        for (location, name), param in op.parameters.items():
            if location == "query" and param.required and name not in seen:
                add("request.query", f"required parameter {name!r} is missing")
        content = request.content
        if not content:
            if op.body_required:
                add("request.body", "a JSON body is required")
            return
        if not op.has_body:
            add("request.body", f"{op.operation_id} takes no request body")
            return
        ctype = request.headers.get("content-type", "")
        if "json" not in ctype:
            add("request.body", f"content type {ctype!r} is not application/json")
            return
        try:
            body = json.loads(content)
        except ValueError as exc:
            add("request.body", f"not JSON: {exc}")
            return
        if op.body_schema is not None:
            self._check_value(view, op.body_schema, body, "request.body", add)

    def _check_response(self, view: _View, op: Operation, method: str, response: httpx.Response, add: Any) -> None:
        status = response.status_code
        key = str(status)
        if key in op.responses:
            schema = op.responses[key]
        elif f"{key[0]}XX" in op.responses:
            schema = op.responses[f"{key[0]}XX"]
        elif "default" in op.responses:
            schema = op.responses["default"]
        elif status in GENERIC_STATUSES and not (status == 304 and method not in {"GET", "HEAD"}):
            schema = None if status == 304 else view.basic_error
        else:
            add("response.status", f"{status} is not a declared response of {op.operation_id}")
            return
        content = response.content
        if status in {204, 304}:
            if content:
                add("response.body", f"a {status} response must have no body")
            return
        if schema is None:
            return
        if not content:
            if schema:  # an empty schema (``{}``, "any") also admits no body, as Atlassian's 201s send
                add("response.body", "a JSON body is declared but the response has none")
            return
            return
        try:
            body = json.loads(content)
        except ValueError as exc:
            add("response.body", f"not JSON: {exc}")
            return
        self._check_value(view, schema, body, "response.body", add)
